//! Which release an argument names, and the rules for trackable, pinnable and earlier
//! releases.
//!
//! Release identifiers, in the documented order ([`ORDER_HELP`]): the `latest` selector (the
//! newest pinnable release; never a commit, as it is not hex), full commit, numeric id (an
//! all-digit argument is the id when such a release exists), unique commit prefix, version
//! (`raw_version`, else `semver`, optional leading `v`). Rules 1–4 are queried at once; an
//! exact full commit wins, then an id; otherwise an argument that resolves to more than one
//! distinct release is ambiguous.

use std::fmt;

use balena_api::lookup::{parse_id, release_filter, version_arg, Found};
use balena_api::models::Release;
use balena_api::odata::{Filter, Query};

use super::{short, ReleaseSelector};
use crate::error::Error;

/// The release-order rules, shown in the `--help` of every command that takes a release.
#[macro_export]
macro_rules! release_order_help {
    () => {
        "\
A release is given by, in this order:
  0. latest                 the newest pinnable release: successful, final, not
                            invalidated, passing its tests, by start_timestamp (the release
                            `fleet track-latest` picks)
  1. full commit            a1b2c3d4e5f60718293a4b5c6d7e8f90
  2. numeric release id     123456 (an all-digit argument is the id when such a
                            release exists, as in the official CLI)
  3. unique commit prefix   a1b2c3d
  4. version                1.2.0, v1.2.0 or 1.2.0+rev1 (raw_version, else semver)
Upper-case hex and surrounding spaces are accepted. Otherwise an argument that matches
different releases by rules 3 and 4 is ambiguous: the candidates are listed, pick one by
full commit or id."
    };
}

/// See [`release_order_help`].
pub const ORDER_HELP: &str = release_order_help!();

/// The release fields every resolution reads.
pub const FIELDS: &[&str] = &[
    "id",
    "commit",
    "status",
    "raw_version",
    "semver",
    "is_final",
    "is_invalidated",
    "created_at",
];

/// The fields of a release in before/after objects.
pub const SUMMARY_FIELDS: &[&str] = &["id", "commit", "raw_version"];

/// How many rows a release lookup may return (enough to show the ambiguity).
pub const TOP: u32 = 25;

/// The server's notion of "trackable" (its track-latest-release rule): the releases a fleet
/// that tracks latest may move to, and the ones `latest` and rollbacks choose from.
pub fn trackable_filter() -> Filter {
    Filter::And(vec![
        Filter::eq("is_final", true),
        Filter::eq("is_passing_tests", true),
        Filter::eq("is_invalidated", false),
        Filter::eq("status", "success"),
    ])
}

/// The `owns__release` expansion that finds a release argument's candidates in a fleet.
pub fn matching(filter: Filter) -> Query {
    Query::new()
        .select(FIELDS)
        .filter(filter)
        .orderby("created_at desc")
        .top(TOP)
}

/// The newest trackable release, as `fleet track-latest` and the server's auto-advance pick
/// it (by `start_timestamp`).
pub fn latest() -> Query {
    Query::new()
        .select(FIELDS)
        .filter(trackable_filter())
        .orderby("start_timestamp desc")
        .top(1)
}

/// The `owns__release` expansion that finds what `sel` names in a fleet.
pub fn expansion(sel: &ReleaseSelector) -> Query {
    match sel {
        ReleaseSelector::Latest => latest(),
        ReleaseSelector::Ident(a) => matching(release_filter(a).unwrap_or(Filter::True)),
    }
}

/// The trackable releases a rollback chooses from, newest first.
pub fn rollback_candidates() -> Query {
    let mut fields: Vec<&str> = FIELDS.to_vec();
    fields.push("start_timestamp");
    Query::new()
        .select(&fields)
        .filter(trackable_filter())
        .orderby("start_timestamp desc,created_at desc,id desc")
}

/// `(start_timestamp, created_at, id)`: the order releases were made in.
fn order_key(r: &Release) -> (&str, &str, i64) {
    (
        r.start_timestamp.as_deref().unwrap_or_default(),
        r.created_at.as_deref().unwrap_or_default(),
        r.id,
    )
}

/// The release just before `target` among `candidates`, by start time, creation time, id.
pub fn release_before<'a>(target: &Release, candidates: &'a [Release]) -> Option<&'a Release> {
    let t = order_key(target);
    candidates
        .iter()
        .filter(|r| order_key(r) < t)
        .max_by(|a, b| order_key(a).cmp(&order_key(b)))
}

/// Picks the release `arg` names among the rows the matching query returned.
pub fn pick(arg: &str, all: &[Release]) -> Found<Release> {
    let mut rows: Vec<&Release> = Vec::new();
    for r in all {
        if !rows.iter().any(|o| o.id == r.id) {
            rows.push(r);
        }
    }
    // 1. An exact full commit wins. Only one *successful* release per commit can exist in
    //    a fleet; non-successful duplicates may exist.
    let exact: Vec<&Release> = rows.iter().copied().filter(|r| r.commit == arg).collect();
    if exact.len() == 1 {
        return Found::One(exact[0].clone());
    }
    if exact.len() > 1 {
        let ok: Vec<&Release> = exact
            .iter()
            .copied()
            .filter(|r| r.status.as_deref() == Some("success"))
            .collect();
        if ok.len() == 1 {
            return Found::One(ok[0].clone());
        }
        return Found::Many(exact.into_iter().cloned().collect());
    }
    // 2. An all-digit argument is the id of a release when there is one.
    let id = parse_id(arg);
    if let Some(r) = rows.iter().find(|r| Some(r.id) == id) {
        return Found::One((*r).clone());
    }
    // 3-4. Every other rule; the union of their matches must be a single release.
    let ver = version_arg(arg);
    let raw_hit = |r: &Release| ver.is_some() && r.raw_version.as_deref() == ver;
    let any_raw = rows.iter().any(|r| raw_hit(r));
    let mut matched: Vec<Release> = rows
        .iter()
        .filter(|r| {
            r.commit.starts_with(arg)
                || Some(r.id) == id
                || raw_hit(r)
                || (!any_raw && ver.is_some() && r.semver.as_deref() == ver)
        })
        .map(|r| (*r).clone())
        .collect();
    match matched.len() {
        0 => Found::None,
        1 => Found::One(matched.remove(0)),
        _ => Found::Many(matched),
    }
}

/// One candidate of an ambiguous release, as the error lists it.
pub fn candidate(r: &Release) -> String {
    format!(
        "id {}, commit {}, version {}, status {}",
        r.id,
        r.commit,
        r.raw_version.as_deref().unwrap_or("N/a"),
        r.status.as_deref().unwrap_or("N/a")
    )
}

/// Something to know about a release that is pinned anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caveat {
    /// `is_final` false.
    Draft(String),
    Invalidated(String),
}

impl fmt::Display for Caveat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caveat::Draft(r) => write!(f, "release {r} is a draft (not final); pinning it anyway"),
            Caveat::Invalidated(r) => write!(f, "release {r} is invalidated; pinning it anyway"),
        }
    }
}

/// The pinning rule: only a successful release can be pinned; a draft or invalidated one
/// can, with a caveat.
pub fn check_pinnable(arg: &str, rel: &Release, fleet: &str) -> Result<Vec<Caveat>, Error> {
    let status = rel.status.clone().unwrap_or_default();
    if status != "success" {
        return Err(Error::ReleaseNotPinnable {
            arg: arg.to_owned(),
            status: if status.is_empty() {
                "unknown".into()
            } else {
                status
            },
            fleet: fleet.to_owned(),
        });
    }
    let mut caveats = Vec::new();
    if rel.is_final == Some(false) {
        caveats.push(Caveat::Draft(short(rel)));
    }
    if rel.is_invalidated == Some(true) {
        caveats.push(Caveat::Invalidated(short(rel)));
    }
    Ok(caveats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(id: i64, commit: &str, raw: &str, semver: &str, status: &str) -> Release {
        Release {
            id,
            commit: commit.into(),
            status: Some(status.into()),
            raw_version: Some(raw.into()),
            semver: Some(semver.into()),
            ..Release::default()
        }
    }

    #[test]
    fn exact_commit_beats_prefix() {
        let rows = vec![
            rel(1, "abc", "1.0.0", "1.0.0", "success"),
            rel(2, "abcdef", "1.1.0", "1.1.0", "success"),
        ];
        assert_eq!(pick("abc", &rows), Found::One(rows[0].clone()));
        assert!(matches!(pick("ab", &rows), Found::Many(v) if v.len() == 2));
        assert_eq!(pick("abcd", &rows), Found::One(rows[1].clone()));
    }

    #[test]
    fn duplicate_exact_commits_prefer_successful() {
        let rows = vec![
            rel(1, "abc", "1.0.0", "1.0.0", "failed"),
            rel(2, "abc", "1.0.1", "1.0.1", "success"),
        ];
        assert_eq!(pick("abc", &rows), Found::One(rows[1].clone()));
        let rows = vec![
            rel(1, "abc", "1.0.0", "1.0.0", "failed"),
            rel(2, "abc", "1.0.1", "1.0.1", "failed"),
        ];
        assert!(matches!(pick("abc", &rows), Found::Many(v) if v.len() == 2));
    }

    #[test]
    fn an_id_beats_a_commit_prefix() {
        let rows = vec![
            rel(5002, "bbbb", "1.0.0", "1.0.0", "success"),
            rel(7, "5002ffff", "1.1.0", "1.1.0", "success"),
            rel(8, "5002eeee", "1.1.1", "1.1.1", "success"),
        ];
        assert_eq!(pick("5002", &rows), Found::One(rows[0].clone()));
        // No release with that id: the digits are a commit prefix, here an ambiguous one.
        assert!(matches!(pick("500", &rows), Found::Many(v) if v.len() == 2));
        // The same release through two rules is not ambiguous.
        let rows = vec![rel(5002, "5002ffff", "1.0.0", "1.0.0", "success")];
        assert_eq!(pick("5002", &rows), Found::One(rows[0].clone()));
    }

    #[test]
    fn versions_prefer_raw_version_over_semver() {
        let rows = vec![
            rel(1, "aaa", "1.2.0", "1.2.0", "success"),
            rel(2, "bbb", "1.2.0-1706000000000", "1.2.0", "success"),
        ];
        assert_eq!(pick("1.2.0", &rows), Found::One(rows[0].clone()));
        assert_eq!(pick("v1.2.0", &rows), Found::One(rows[0].clone()));
        // semver only: two drafts of the same version are ambiguous
        let rows = vec![
            rel(1, "aaa", "1.3.0-1", "1.3.0", "success"),
            rel(2, "bbb", "1.3.0-2", "1.3.0", "success"),
        ];
        assert!(matches!(pick("1.3.0", &rows), Found::Many(v) if v.len() == 2));
        assert_eq!(pick("1.3.0-2", &rows), Found::One(rows[1].clone()));
        assert_eq!(pick("9.9.9", &rows), Found::None);
    }

    #[test]
    fn rollback_picks_the_release_just_before() {
        let r = |id: i64, st: &str, ca: &str| Release {
            id,
            start_timestamp: Some(st.into()),
            created_at: Some(ca.into()),
            ..Release::default()
        };
        let rows = vec![
            r(5, "2024-01-05T00:00:00.000Z", "2024-01-05T00:00:00.000Z"),
            r(4, "2024-01-04T00:00:00.000Z", "2024-01-04T00:00:00.000Z"),
            r(3, "2024-01-04T00:00:00.000Z", "2024-01-03T00:00:00.000Z"),
            r(2, "2024-01-04T00:00:00.000Z", "2024-01-03T00:00:00.000Z"),
            r(1, "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"),
        ];
        let id = |v: Option<&Release>| v.map(|v| v.id);
        assert_eq!(id(release_before(&rows[0], &rows)), Some(4));
        assert_eq!(id(release_before(&rows[1], &rows)), Some(3));
        assert_eq!(id(release_before(&rows[2], &rows)), Some(2));
        assert_eq!(id(release_before(&rows[3], &rows)), Some(1));
        assert_eq!(id(release_before(&rows[4], &rows)), None);
        // A target that is not pinnable (not among the rows) still has a predecessor.
        let t = r(9, "2024-01-04T12:00:00.000Z", "2024-01-04T12:00:00.000Z");
        assert_eq!(id(release_before(&t, &rows)), Some(4));
    }

    #[test]
    fn pinnable_rule() {
        let mut r = rel(1, "a1b2c3d4", "1.0.0", "1.0.0", "failed");
        assert!(matches!(
            check_pinnable("a1", &r, "o/f"),
            Err(Error::ReleaseNotPinnable { status, .. }) if status == "failed"
        ));
        r.status = Some("success".into());
        assert_eq!(check_pinnable("a1", &r, "o/f").unwrap(), vec![]);
        r.is_final = Some(false);
        r.is_invalidated = Some(true);
        let c = check_pinnable("a1", &r, "o/f").unwrap();
        assert_eq!(
            c.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "release a1b2c3d (1.0.0) is a draft (not final); pinning it anyway",
                "release a1b2c3d (1.0.0) is invalidated; pinning it anyway"
            ]
        );
    }

    #[test]
    fn latest_query() {
        assert_eq!(
            balena_api::odata::path("x", &Query::new().expand("owns__release", latest())),
            "x?$expand=owns__release($select=id,commit,status,raw_version,semver,is_final,is_invalidated,created_at;$filter=(is_final%20eq%20true)%20and%20(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success%27);$orderby=start_timestamp%20desc;$top=1)"
        );
    }
}
