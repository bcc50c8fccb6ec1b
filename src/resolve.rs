//! Identifier resolution: pure functions, no I/O.
//!
//! - **Fleet**: slug (contains `/`, compared lower-cased), name (case-sensitive `app_name`,
//!   restricted to fleets directly accessible by the user, like the official CLI), 32-hex
//!   uuid, or numeric id. Every rule that can apply to the argument's shape goes into ONE
//!   `$filter`; two different fleets matched is ambiguous.
//! - **Device**: full uuid (32 or 62 hex) or a unique prefix, lower-cased. An exact full
//!   match beats longer uuids that share the prefix.
//! - **Release** (the documented order, see [`RELEASE_ORDER_HELP`]): the `latest`
//!   selector (the newest pinnable release; never a commit, as it is not hex), full commit, unique
//!   commit prefix, numeric id, version (`raw_version`, else `semver`, optional leading
//!   `v`). All rules are queried at once; an exact full commit wins; otherwise an argument
//!   that resolves to more than one distinct release is ambiguous.

use crate::api::models::Release;
use crate::api::odata::Filter;

/// Shown in the `--help` of every command that takes a release.
pub const RELEASE_ORDER_HELP: &str = "\
A release is given by, in this order:
  0. latest                 the newest pinnable release: successful, final, not
                            invalidated, passing its tests, by start_timestamp (the release
                            `fleet track-latest` picks)
  1. full commit            a1b2c3d4e5f60718293a4b5c6d7e8f90
  2. unique commit prefix   a1b2c3d
  3. numeric release id     123456
  4. version                1.2.0, v1.2.0 or 1.2.0+rev1 (raw_version, else semver)
Rules 1-4 are matched at once. An exact full commit always wins. Otherwise an
argument that matches different releases (for example an all-digit string that is both a
release id and a commit prefix) is ambiguous: the candidates are listed, pick one by full
commit or id.";

/// Whether a release argument is the `latest` selector (case-insensitive). No commit can
/// be named `latest` (it is not hex) and no version either (not `N.N.N`).
pub fn is_latest(arg: &str) -> bool {
    arg.trim().eq_ignore_ascii_case("latest")
}

/// The device arguments of a comma-separated list (`abc,def`): trimmed, lower-cased,
/// empty items dropped, duplicates dropped (first occurrence kept).
pub fn device_list(arg: &str) -> Vec<String> {
    dedup(arg.split(',').filter_map(device_prefix))
}

/// The device arguments read from stdin (`-`): one per line; blank lines and `#` comments
/// (whole-line or trailing) ignored; a line may also hold a comma-separated list.
pub fn device_lines(text: &str) -> Vec<String> {
    dedup(
        text.lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.split(','))
            .filter_map(device_prefix),
    )
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

/// `--tag KEY[=VALUE]` as a device filter:
/// `device_tag/any(dt:(dt/tag_key eq 'k') and (dt/value eq 'v'))`, or only the key.
/// `None` for an empty key.
pub fn tag_filter(arg: &str) -> Option<Filter> {
    let (key, value) = match arg.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (arg, None),
    };
    if key.is_empty() {
        return None;
    }
    let key_eq = Filter::eq("dt/tag_key", key);
    let body = match value {
        Some(v) => Filter::And(vec![key_eq, Filter::eq("dt/value", v)]),
        None => key_eq,
    };
    Some(Filter::any("device_tag", "dt", body))
}

/// Shown in the `--help` of every command that takes a fleet.
pub const FLEET_ID_HELP: &str = "\
A fleet is given by slug (org/name, case-insensitive), name (case-sensitive), uuid or
numeric id. An argument that matches two different fleets is ambiguous.";

/// The result of picking one item among the rows a query returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick<T> {
    One(T),
    None,
    Many(Vec<T>),
}

/// `0` or `[1-9][0-9]*` that fits an i64 (the official CLI's `tryAsInteger` shape).
pub fn parse_id(arg: &str) -> Option<i64> {
    let ok = arg == "0"
        || (!arg.is_empty() && !arg.starts_with('0') && arg.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        arg.parse().ok()
    } else {
        None
    }
}

fn is_hex(arg: &str) -> bool {
    !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The `$filter` for a fleet argument. `None` for an empty argument.
pub fn fleet_filter(arg: &str) -> Option<Filter> {
    if arg.is_empty() {
        return None;
    }
    let mut rules = Vec::new();
    if arg.contains('/') {
        rules.push(Filter::eq("slug", arg.to_lowercase()));
    } else {
        if arg.len() == 32 && is_hex(arg) {
            rules.push(Filter::eq("uuid", arg.to_lowercase()));
        }
        rules.push(Filter::And(vec![
            Filter::eq("app_name", arg),
            Filter::directly_accessible(),
        ]));
        if let Some(id) = parse_id(arg) {
            rules.push(Filter::eq("id", id));
        }
    }
    Some(Filter::Or(rules))
}

/// Picks the fleet among rows (by distinct `id`).
pub fn pick_by_id(rows: Vec<serde_json::Value>) -> Pick<serde_json::Value> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for r in rows {
        let id = r.get("id").and_then(|v| v.as_i64());
        if let Some(id) = id {
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
        }
        out.push(r);
    }
    match out.len() {
        0 => Pick::None,
        1 => Pick::One(out.pop().expect("one row")),
        _ => Pick::Many(out),
    }
}

/// The normalised device prefix (lower-cased). `None` for an empty argument.
pub fn device_prefix(arg: &str) -> Option<String> {
    let p = arg.trim().to_ascii_lowercase();
    if p.is_empty() {
        None
    } else {
        Some(p)
    }
}

/// Whether `uuid` is a full device uuid (32 or 62 lower-case hex).
pub fn is_full_uuid(uuid: &str) -> bool {
    (uuid.len() == 32 || uuid.len() == 62)
        && uuid
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Picks the device among the rows of `startswith(uuid, prefix)`: an exact full match wins.
pub fn pick_device(prefix: &str, rows: Vec<serde_json::Value>) -> Pick<serde_json::Value> {
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| {
            r.get("uuid")
                .and_then(|u| u.as_str())
                .is_none_or(|u| u.starts_with(prefix))
        })
        .collect();
    if let Some(exact) = rows
        .iter()
        .find(|r| r.get("uuid").and_then(|u| u.as_str()) == Some(prefix))
    {
        return Pick::One(exact.clone());
    }
    pick_by_id(rows)
}

/// The version an argument names, if it looks like one: `1.2.0`, `v1.2.0`, `1.2.0+rev1`, ...
pub fn version_arg(arg: &str) -> Option<&str> {
    let v = match arg.strip_prefix('v').or_else(|| arg.strip_prefix('V')) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => arg,
    };
    // semver core at the start: N.N.N
    let core: Vec<&str> = v
        .split(['-', '+'])
        .next()
        .unwrap_or("")
        .split('.')
        .collect();
    let ok = core.len() == 3
        && core
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Some(v)
    } else {
        None
    }
}

/// The `$filter` matching every release rule that can apply to `arg`. `None` if empty.
pub fn release_filter(arg: &str) -> Option<Filter> {
    if arg.is_empty() {
        return None;
    }
    // `startswith(commit, arg)` also covers the exact full commit.
    let mut rules = vec![Filter::starts_with("commit", arg)];
    if let Some(id) = parse_id(arg) {
        rules.push(Filter::eq("id", id));
    }
    if let Some(v) = version_arg(arg) {
        rules.push(Filter::eq("raw_version", v));
        rules.push(Filter::eq("semver", v));
    }
    Some(Filter::Or(rules))
}

/// Picks the release `arg` names among the rows the [`release_filter`] query returned.
pub fn pick_release(arg: &str, all: &[Release]) -> Pick<Release> {
    let rows: Vec<&Release> = rows_dedup(all);
    // 1. An exact full commit wins. Only one *successful* release per commit can exist in
    //    a fleet; non-successful duplicates may exist.
    let exact: Vec<&Release> = rows.iter().copied().filter(|r| r.commit == arg).collect();
    if exact.len() == 1 {
        return Pick::One(exact[0].clone());
    }
    if exact.len() > 1 {
        let ok: Vec<&Release> = exact
            .iter()
            .copied()
            .filter(|r| r.status.as_deref() == Some("success"))
            .collect();
        if ok.len() == 1 {
            return Pick::One(ok[0].clone());
        }
        return Pick::Many(exact.into_iter().cloned().collect());
    }
    // 2-4. Every other rule; the union of their matches must be a single release.
    let id = parse_id(arg);
    let ver = version_arg(arg);
    let raw_hit = |r: &Release| ver.is_some() && r.raw_version.as_deref() == ver;
    let any_raw = rows.iter().any(|r| raw_hit(r));
    let matched: Vec<Release> = rows
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
        0 => Pick::None,
        1 => Pick::One(matched.into_iter().next().expect("one")),
        _ => Pick::Many(matched),
    }
}

fn rows_dedup(rows: &[Release]) -> Vec<&Release> {
    let mut out: Vec<&Release> = Vec::new();
    for r in rows {
        if !out.iter().any(|o| o.id == r.id) {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn fleet_filter_by_shape() {
        assert_eq!(
            fleet_filter("MyOrg/MyFleet").unwrap().render(),
            "slug%20eq%20%27myorg%2Fmyfleet%27"
        );
        assert_eq!(
            fleet_filter("MyFleet").unwrap().render(),
            "(app_name%20eq%20%27MyFleet%27)%20and%20(is_directly_accessible_by__user/any(dau:1%20eq%201))"
        );
        assert_eq!(
            fleet_filter("1001").unwrap().render(),
            "((app_name%20eq%20%271001%27)%20and%20(is_directly_accessible_by__user/any(dau:1%20eq%201)))%20or%20(id%20eq%201001)"
        );
        assert_eq!(
            fleet_filter("F3350161D3E541818E9D415EC3AD41A0").unwrap().render(),
            "(uuid%20eq%20%27f3350161d3e541818e9d415ec3ad41a0%27)%20or%20((app_name%20eq%20%27F3350161D3E541818E9D415EC3AD41A0%27)%20and%20(is_directly_accessible_by__user/any(dau:1%20eq%201)))"
        );
        assert!(fleet_filter("").is_none());
    }

    #[test]
    fn pick_fleet_distinct_ids() {
        assert_eq!(pick_by_id(vec![]), Pick::None);
        let a = json!({"id": 1, "slug": "o/a"});
        let b = json!({"id": 2, "slug": "o/b"});
        assert_eq!(pick_by_id(vec![a.clone(), a.clone()]), Pick::One(a.clone()));
        assert!(matches!(pick_by_id(vec![a, b]), Pick::Many(v) if v.len() == 2));
    }

    #[test]
    fn ids_and_versions() {
        assert_eq!(parse_id("5002"), Some(5002));
        assert_eq!(parse_id("0"), Some(0));
        assert_eq!(parse_id("0123"), None);
        assert_eq!(parse_id("12a"), None);
        assert_eq!(parse_id(""), None);
        assert_eq!(parse_id("99999999999999999999"), None);
        assert_eq!(version_arg("1.2.0"), Some("1.2.0"));
        assert_eq!(version_arg("v1.2.0"), Some("1.2.0"));
        assert_eq!(version_arg("1.2.0+rev1"), Some("1.2.0+rev1"));
        assert_eq!(version_arg("1.2"), None);
        assert_eq!(version_arg("abc"), None);
        assert_eq!(version_arg("vx.1.2"), None);
    }

    #[test]
    fn release_filter_strings() {
        assert_eq!(
            release_filter("bbbbbbb").unwrap().render(),
            "startswith(commit,%27bbbbbbb%27)"
        );
        assert_eq!(
            release_filter("5002").unwrap().render(),
            "(startswith(commit,%275002%27))%20or%20(id%20eq%205002)"
        );
        assert_eq!(
            release_filter("v1.2.0").unwrap().render(),
            "(startswith(commit,%27v1.2.0%27))%20or%20(raw_version%20eq%20%271.2.0%27)%20or%20(semver%20eq%20%271.2.0%27)"
        );
        assert!(release_filter("").is_none());
    }

    #[test]
    fn exact_commit_beats_prefix() {
        let rows = vec![
            rel(1, "abc", "1.0.0", "1.0.0", "success"),
            rel(2, "abcdef", "1.1.0", "1.1.0", "success"),
        ];
        assert_eq!(pick_release("abc", &rows), Pick::One(rows[0].clone()));
        assert!(matches!(pick_release("ab", &rows), Pick::Many(v) if v.len() == 2));
        assert_eq!(pick_release("abcd", &rows), Pick::One(rows[1].clone()));
    }

    #[test]
    fn duplicate_exact_commits_prefer_successful() {
        let rows = vec![
            rel(1, "abc", "1.0.0", "1.0.0", "failed"),
            rel(2, "abc", "1.0.1", "1.0.1", "success"),
        ];
        assert_eq!(pick_release("abc", &rows), Pick::One(rows[1].clone()));
        let rows = vec![
            rel(1, "abc", "1.0.0", "1.0.0", "failed"),
            rel(2, "abc", "1.0.1", "1.0.1", "failed"),
        ];
        assert!(matches!(pick_release("abc", &rows), Pick::Many(v) if v.len() == 2));
    }

    #[test]
    fn id_and_commit_prefix_is_ambiguous() {
        let rows = vec![
            rel(5002, "bbbb", "1.0.0", "1.0.0", "success"),
            rel(7, "5002ffff", "1.1.0", "1.1.0", "success"),
        ];
        assert!(matches!(pick_release("5002", &rows), Pick::Many(v) if v.len() == 2));
        // The same release through two rules is not ambiguous.
        let rows = vec![rel(5002, "5002ffff", "1.0.0", "1.0.0", "success")];
        assert_eq!(pick_release("5002", &rows), Pick::One(rows[0].clone()));
    }

    #[test]
    fn versions_prefer_raw_version_over_semver() {
        let rows = vec![
            rel(1, "aaa", "1.2.0", "1.2.0", "success"),
            rel(2, "bbb", "1.2.0-1706000000000", "1.2.0", "success"),
        ];
        assert_eq!(pick_release("1.2.0", &rows), Pick::One(rows[0].clone()));
        assert_eq!(pick_release("v1.2.0", &rows), Pick::One(rows[0].clone()));
        // semver only: two drafts of the same version are ambiguous
        let rows = vec![
            rel(1, "aaa", "1.3.0-1", "1.3.0", "success"),
            rel(2, "bbb", "1.3.0-2", "1.3.0", "success"),
        ];
        assert!(matches!(pick_release("1.3.0", &rows), Pick::Many(v) if v.len() == 2));
        assert_eq!(pick_release("1.3.0-2", &rows), Pick::One(rows[1].clone()));
        assert_eq!(pick_release("9.9.9", &rows), Pick::None);
    }

    #[test]
    fn latest_selector() {
        assert!(is_latest("latest"));
        assert!(is_latest("LATEST"));
        assert!(!is_latest("latest1"));
        assert!(!is_latest("a1b2c3"));
    }

    #[test]
    fn device_lists() {
        assert_eq!(device_list("ABC, def,,abc"), vec!["abc", "def"]);
        assert_eq!(device_list("abc"), vec!["abc"]);
        assert_eq!(
            device_lines("# header\nabc\n\n  DEF  # lab\nghi,jkl\nabc\n"),
            vec!["abc", "def", "ghi", "jkl"]
        );
        assert!(device_lines("\n# only comments\n").is_empty());
    }

    #[test]
    fn tag_filters() {
        assert_eq!(
            tag_filter("canary").unwrap().render(),
            "device_tag/any(dt:dt/tag_key%20eq%20%27canary%27)"
        );
        assert_eq!(
            tag_filter("region=eu west").unwrap().render(),
            "device_tag/any(dt:(dt/tag_key%20eq%20%27region%27)%20and%20(dt/value%20eq%20%27eu%20west%27))"
        );
        assert_eq!(
            tag_filter("k=").unwrap().render(),
            "device_tag/any(dt:(dt/tag_key%20eq%20%27k%27)%20and%20(dt/value%20eq%20%27%27))"
        );
        assert!(tag_filter("=v").is_none());
    }

    #[test]
    fn device_prefix_and_pick() {
        assert_eq!(device_prefix("ABCdef0"), Some("abcdef0".into()));
        assert_eq!(device_prefix(""), None);
        let full = "abcdef0123456789abcdef0123456789";
        let long = format!("{full}000000000000000000000000000000");
        let a = json!({"id": 1, "uuid": full});
        let b = json!({"id": 2, "uuid": long});
        assert_eq!(
            pick_device(full, vec![a.clone(), b.clone()]),
            Pick::One(a.clone())
        );
        assert!(matches!(
            pick_device("abc", vec![a.clone(), b]),
            Pick::Many(_)
        ));
        assert_eq!(pick_device("abc", vec![a.clone()]), Pick::One(a));
        assert_eq!(pick_device("abc", vec![]), Pick::None);
        assert!(is_full_uuid(full));
        assert!(!is_full_uuid("abc"));
    }
}
