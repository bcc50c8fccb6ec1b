//! Finding fleets, devices and releases by the identifiers people type, in one request each.
//!
//! - **Fleet**: slug (contains `/`, compared lower-cased), name (case-sensitive `app_name`,
//!   restricted to fleets directly accessible by the user, like the official CLI), 32-hex
//!   uuid, or numeric id. Every rule that can apply to the argument's shape goes into one
//!   `$filter`; two different fleets matched is ambiguous.
//! - **Device**: full uuid (32 or 62 hex) or a unique prefix, lower-cased. An exact full
//!   match beats longer uuids that share the prefix.
//! - **Release**: one `$filter` of every rule that can apply (commit prefix, id, version);
//!   choosing among the rows is the caller's rule.
//!
//! The guest trap: the server treats an unknown or expired token as an anonymous guest and
//! answers lookups with no rows. Before a lookup reports "none", it confirms the session
//! (one `whoami`), so a rejected token is [`ApiError::NotLoggedIn`], not "not found".

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Client;
use crate::error::ApiError;
use crate::models::{Application, Device, Release};
use crate::odata::{self, Filter, Query};

/// How many rows a device prefix lookup reads (enough to show the ambiguity).
pub const DEVICE_TOP: u32 = 10;

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum Found<T> {
    One(T),
    None,
    /// Distinct rows, in the server's order.
    Many(Vec<T>),
}

/// A row a lookup can tell apart from others.
pub trait Keyed {
    fn key_id(&self) -> Option<i64>;
    fn key_uuid(&self) -> Option<&str> {
        None
    }
}

impl Keyed for Value {
    fn key_id(&self) -> Option<i64> {
        self.get("id").and_then(Value::as_i64)
    }
    fn key_uuid(&self) -> Option<&str> {
        self.get("uuid").and_then(Value::as_str)
    }
}

impl Keyed for Application {
    fn key_id(&self) -> Option<i64> {
        Some(self.id)
    }
}

impl Keyed for Release {
    fn key_id(&self) -> Option<i64> {
        Some(self.id)
    }
}

impl Keyed for Device {
    fn key_id(&self) -> Option<i64> {
        Some(self.id)
    }
    fn key_uuid(&self) -> Option<&str> {
        Some(&self.uuid)
    }
}

/// `0` or `[1-9][0-9]*` that fits an i64 (the official CLI's "is this an id" shape).
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

/// The normalised device argument (trimmed, lower-cased). `None` for an empty one.
pub fn device_prefix(arg: &str) -> Option<String> {
    let p = arg.trim().to_ascii_lowercase();
    (!p.is_empty()).then_some(p)
}

/// Whether `uuid` is a full device uuid (32 or 62 lower-case hex).
pub fn is_full_uuid(uuid: &str) -> bool {
    (uuid.len() == 32 || uuid.len() == 62)
        && uuid
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The version an argument names, if it looks like one: `1.2.0`, `v1.2.0`, `1.2.0+rev1`, …
pub fn version_arg(arg: &str) -> Option<&str> {
    let v = match arg.strip_prefix('v').or_else(|| arg.strip_prefix('V')) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => arg,
    };
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
    ok.then_some(v)
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

/// Distinct rows by id (rows without one are kept), as one, none or many.
pub fn distinct<T: Keyed>(rows: Vec<T>) -> Found<T> {
    let mut seen: Vec<i64> = Vec::new();
    let mut out = Vec::new();
    for r in rows {
        if let Some(id) = r.key_id() {
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
        }
        out.push(r);
    }
    match out.len() {
        0 => Found::None,
        1 => Found::One(out.pop().expect("one row")),
        _ => Found::Many(out),
    }
}

/// Picks the device among the rows of `startswith(uuid, prefix)`: an exact full match wins.
pub fn pick_device<T: Keyed>(prefix: &str, rows: Vec<T>) -> Found<T> {
    let mut rows: Vec<T> = rows
        .into_iter()
        .filter(|r| r.key_uuid().is_none_or(|u| u.starts_with(prefix)))
        .collect();
    if let Some(i) = rows.iter().position(|r| r.key_uuid() == Some(prefix)) {
        return Found::One(rows.swap_remove(i));
    }
    distinct(rows)
}

impl Client {
    /// A `None` outcome is only trusted once the session is confirmed (the guest trap).
    async fn confirmed<T>(&self, found: Found<T>) -> Result<Found<T>, ApiError> {
        if matches!(found, Found::None) {
            self.confirm_session().await?;
        }
        Ok(found)
    }

    /// One request: the fleet `arg` names, with the options of `q` (its `$filter` is set
    /// here). An empty argument finds nothing.
    pub async fn find_fleet<T: DeserializeOwned + Keyed>(
        &self,
        arg: &str,
        q: Query,
    ) -> Result<Found<T>, ApiError> {
        self.fleet_lookup(arg, q, false).await
    }

    /// [`Client::find_fleet`] among the fleets the user can access directly (not only
    /// through an organization): the official CLI's view of a fleet (`fleet <fleet>`,
    /// `device list --fleet`).
    pub async fn find_visible_fleet<T: DeserializeOwned + Keyed>(
        &self,
        arg: &str,
        q: Query,
    ) -> Result<Found<T>, ApiError> {
        self.fleet_lookup(arg, q, true).await
    }

    async fn fleet_lookup<T: DeserializeOwned + Keyed>(
        &self,
        arg: &str,
        q: Query,
        directly_accessible: bool,
    ) -> Result<Found<T>, ApiError> {
        self.require_token()?;
        let Some(mut filter) = fleet_filter(arg) else {
            return Ok(Found::None);
        };
        if directly_accessible {
            filter = Filter::And(vec![Filter::directly_accessible(), filter]);
        }
        let rows = self
            .get(&odata::path("application", &q.filter(filter)))
            .await?;
        self.confirmed(distinct(rows)).await
    }

    /// One request: the device whose uuid is or starts with `arg` (normalised with
    /// [`device_prefix`]), with the options of `q` (`$filter` and `$top` are set here).
    pub async fn find_device<T: DeserializeOwned + Keyed>(
        &self,
        arg: &str,
        q: Query,
    ) -> Result<Found<T>, ApiError> {
        self.require_token()?;
        let Some(prefix) = device_prefix(arg) else {
            return Ok(Found::None);
        };
        let q = q
            .filter(Filter::starts_with("uuid", &prefix))
            .top(DEVICE_TOP);
        let rows = self.get(&odata::path("device", &q)).await?;
        self.confirmed(pick_device(&prefix, rows)).await
    }

    /// One request: every release, in any fleet the credentials can see, that `arg` may
    /// name (see [`release_filter`]), with the options of `q`. Choosing among them is the
    /// caller's rule. The session is confirmed when there are none.
    pub async fn find_releases<T: DeserializeOwned>(
        &self,
        arg: &str,
        q: Query,
    ) -> Result<Vec<T>, ApiError> {
        self.require_token()?;
        let Some(filter) = release_filter(arg) else {
            return Ok(Vec::new());
        };
        let rows: Vec<T> = self.get(&odata::path("release", &q.filter(filter))).await?;
        if rows.is_empty() {
            self.confirm_session().await?;
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn distinct_ids() {
        assert_eq!(distinct(Vec::<Value>::new()), Found::None);
        let a = json!({"id": 1, "slug": "o/a"});
        let b = json!({"id": 2, "slug": "o/b"});
        assert_eq!(distinct(vec![a.clone(), a.clone()]), Found::One(a.clone()));
        assert!(matches!(distinct(vec![a, b]), Found::Many(v) if v.len() == 2));
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
    fn device_prefix_and_pick() {
        assert_eq!(device_prefix(" ABCdef0 "), Some("abcdef0".into()));
        assert_eq!(device_prefix(""), None);
        let full = "abcdef0123456789abcdef0123456789";
        let long = format!("{full}000000000000000000000000000000");
        let a = json!({"id": 1, "uuid": full});
        let b = json!({"id": 2, "uuid": long});
        assert_eq!(
            pick_device(full, vec![a.clone(), b.clone()]),
            Found::One(a.clone())
        );
        assert!(matches!(
            pick_device("abc", vec![a.clone(), b]),
            Found::Many(_)
        ));
        assert_eq!(pick_device("abc", vec![a.clone()]), Found::One(a));
        assert_eq!(pick_device("abc", Vec::<Value>::new()), Found::None);
        assert!(is_full_uuid(full));
        assert!(!is_full_uuid("abc"));
    }
}
