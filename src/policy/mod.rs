//! The release policy as pure types and rules: no I/O.
//!
//! - A fleet either is pinned to a release or tracks its latest trackable release
//!   ([`FleetPolicy`]); a device is either pinned to a release or follows its fleet
//!   ([`DevicePolicy`]).
//! - Every mutation is planned here ([`plan`]): the policy before and after, whether that is
//!   a change, and the write that makes it.
//! - Which release an argument names, and which releases are trackable, pinnable or come
//!   before another, is in [`release`]; how devices are named on the command line is in
//!   [`select`].

pub mod plan;
pub mod release;
pub mod rollout;
pub mod select;
pub mod waves;

use std::fmt;
use std::sync::Arc;

use balena_api::models::{Application, Device, Release};
use balena_api::odata::{Filter, Lit};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// `a1b2c3d (1.2.0)`: the short commit, then the version when there is one.
pub fn short(rel: &Release) -> String {
    let c: String = rel.commit.chars().take(7).collect();
    match &rel.raw_version {
        Some(v) if !v.is_empty() => format!("{c} ({v})"),
        _ => c,
    }
}

/// [`short`], or `none`.
pub fn short_or_none(r: Option<&Release>) -> String {
    r.map(short).unwrap_or_else(|| "none".to_owned())
}

/// `{"id","commit","raw_version"}` of a release, or null.
pub struct Summary<'a>(pub Option<&'a Release>);

impl Serialize for Summary<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_none(),
            Some(r) => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("id", &r.id)?;
                m.serialize_entry("commit", &r.commit)?;
                m.serialize_entry("raw_version", &r.raw_version)?;
                m.end()
            }
        }
    }
}

fn same_release(a: Option<&Release>, b: Option<&Release>) -> bool {
    a.map(|r| r.id) == b.map(|r| r.id)
}

/// Whether a device is behind: it has a target release and runs another one (or none).
pub fn is_behind(d: &Device) -> bool {
    let target = d.target.id();
    target.is_some() && d.running.id() != target
}

/// The devices pinned to a release (as a `$filter`).
pub fn pinned_filter() -> Filter {
    Filter::Ne("is_pinned_on__release".into(), Lit::Null)
}

/// The devices that track their fleet (as a `$filter`).
pub fn tracking_filter() -> Filter {
    Filter::Eq("is_pinned_on__release".into(), Lit::Null)
}

/// The devices behind their target, [`is_behind`] as a `$filter` (null-safe on the server).
pub fn behind_filter() -> Filter {
    Filter::And(vec![
        Filter::Ne("should_be_running__release".into(), Lit::Null),
        Filter::NeField(
            "is_running__release".into(),
            "should_be_running__release".into(),
        ),
    ])
}

/// How a fleet's devices follow the release policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceCounts {
    pub total: usize,
    pub pinned: usize,
    pub behind: usize,
}

impl DeviceCounts {
    pub fn of(devices: &[Device]) -> DeviceCounts {
        DeviceCounts {
            total: devices.len(),
            pinned: devices.iter().filter(|d| d.pinned.id().is_some()).count(),
            behind: devices.iter().filter(|d| is_behind(d)).count(),
        }
    }
}

/// What a device runs by policy. The release is shared (`Arc`): a bulk run's plans of
/// 100,000 devices refer to a handful of releases ([`plan::SharedReleases`]).
#[derive(Debug, Clone)]
pub enum DevicePolicy {
    /// Pinned to this release, whatever its fleet targets.
    Pinned(Arc<Release>),
    /// Follows its fleet, whose target is this release (if any).
    TracksFleet(Option<Arc<Release>>),
}

impl DevicePolicy {
    /// The one rule for a device's policy: its pin, else its fleet's target (or, when the
    /// fleet row does not say, the device's own target, which then is the fleet's).
    pub fn of(dev: &Device, fleet: Option<&Application>) -> DevicePolicy {
        match dev.pinned.first() {
            Some(p) => DevicePolicy::Pinned(Arc::new(p.clone())),
            None => DevicePolicy::TracksFleet(
                fleet
                    .and_then(Application::target)
                    .or_else(|| dev.target.first())
                    .map(|r| Arc::new(r.clone())),
            ),
        }
    }

    /// The release the device should run.
    pub fn target(&self) -> Option<&Release> {
        match self {
            DevicePolicy::Pinned(r) => Some(r),
            DevicePolicy::TracksFleet(r) => r.as_deref(),
        }
    }

    pub fn is_pinned(&self) -> bool {
        matches!(self, DevicePolicy::Pinned(_))
    }
}

impl PartialEq for DevicePolicy {
    fn eq(&self, other: &Self) -> bool {
        self.is_pinned() == other.is_pinned() && same_release(self.target(), other.target())
    }
}

/// `{"tracking_fleet":…,"release":{id,commit,raw_version}|null}`
impl Serialize for DevicePolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("tracking_fleet", &!self.is_pinned())?;
        m.serialize_entry("release", &Summary(self.target()))?;
        m.end()
    }
}

/// `pinned a1b2c3d (1.2.0)` or `fleet a1b2c3d (1.2.0)`
impl fmt::Display for DevicePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevicePolicy::Pinned(r) => write!(f, "pinned {}", short(r)),
            DevicePolicy::TracksFleet(t) => write!(f, "fleet {}", short_or_none(t.as_deref())),
        }
    }
}

/// What a fleet's devices (those that follow it) run by policy.
#[derive(Debug, Clone)]
pub enum FleetPolicy {
    /// Pinned to this release (or to none yet).
    Pinned(Option<Release>),
    /// Tracks the latest trackable release, currently this one.
    TracksLatest(Option<Release>),
}

impl FleetPolicy {
    pub fn of(app: &Application) -> FleetPolicy {
        let target = app.target().cloned();
        if app.tracks_latest() {
            FleetPolicy::TracksLatest(target)
        } else {
            FleetPolicy::Pinned(target)
        }
    }

    pub fn target(&self) -> Option<&Release> {
        match self {
            FleetPolicy::Pinned(r) | FleetPolicy::TracksLatest(r) => r.as_ref(),
        }
    }

    pub fn tracks_latest(&self) -> bool {
        matches!(self, FleetPolicy::TracksLatest(_))
    }
}

impl PartialEq for FleetPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.tracks_latest() == other.tracks_latest() && same_release(self.target(), other.target())
    }
}

/// `{"tracking_latest":…,"release":{id,commit,raw_version}|null}`
impl Serialize for FleetPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("tracking_latest", &self.tracks_latest())?;
        m.serialize_entry("release", &Summary(self.target()))?;
        m.end()
    }
}

/// `pinned to a1b2c3d (1.2.0)`, `tracking the latest release (a1b2c3d (1.2.0))`
impl fmt::Display for FleetPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetPolicy::TracksLatest(t) => write!(
                f,
                "tracking the latest release ({})",
                short_or_none(t.as_ref())
            ),
            FleetPolicy::Pinned(Some(t)) => write!(f, "pinned to {}", short(t)),
            FleetPolicy::Pinned(None) => f.write_str("no target release"),
        }
    }
}

/// A policy before and after a mutation, and whether they differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Change<T> {
    pub before: T,
    pub after: T,
    pub changed: bool,
}

impl<T: PartialEq> Change<T> {
    pub fn new(before: T, after: T) -> Change<T> {
        let changed = before != after;
        Change {
            before,
            after,
            changed,
        }
    }

    /// No change: the same policy before and after (a failed or skipped item).
    pub fn none(before: T) -> Change<T>
    where
        T: Clone,
    {
        Change {
            after: before.clone(),
            before,
            changed: false,
        }
    }
}

/// `"before":…,"after":…,"changed":…` (the keys of every mutation result).
impl<T: Serialize> Serialize for Change<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("before", &self.before)?;
        m.serialize_entry("after", &self.after)?;
        m.serialize_entry("changed", &self.changed)?;
        m.end()
    }
}

/// A release argument: the `latest` selector, or an identifier (commit, prefix, id,
/// version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseSelector {
    Latest,
    Ident(String),
}

impl ReleaseSelector {
    /// `None` for an empty argument. The argument is trimmed (a CRLF file, stray spaces), and
    /// an all-hex one is lower-cased (commits are lower-case hex). `latest` is
    /// case-insensitive: no commit can be named `latest` (it is not hex), and no version
    /// either.
    pub fn parse(arg: &str) -> Option<ReleaseSelector> {
        let arg = arg.trim();
        if arg.eq_ignore_ascii_case("latest") {
            return Some(ReleaseSelector::Latest);
        }
        if arg.is_empty() {
            return None;
        }
        let ident = if arg.bytes().all(|b| b.is_ascii_hexdigit()) {
            arg.to_ascii_lowercase()
        } else {
            arg.to_owned()
        };
        Some(ReleaseSelector::Ident(ident))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use balena_api::models::Nav;
    use serde_json::json;

    fn rel(id: i64, commit: &str, ver: Option<&str>) -> Release {
        Release {
            id,
            commit: commit.into(),
            raw_version: ver.map(str::to_owned),
            ..Release::default()
        }
    }

    #[test]
    fn device_policy_json_and_text() {
        let r = rel(5, "a1b2c3d4e5", Some("1.2.0"));
        let p = DevicePolicy::Pinned(Arc::new(r.clone()));
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"tracking_fleet": false, "release": {"id": 5, "commit": "a1b2c3d4e5", "raw_version": "1.2.0"}})
        );
        assert_eq!(p.to_string(), "pinned a1b2c3d (1.2.0)");
        let t = DevicePolicy::TracksFleet(None);
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"tracking_fleet": true, "release": null})
        );
        assert_eq!(t.to_string(), "fleet none");
    }

    #[test]
    fn one_rule_for_a_devices_policy() {
        let fleet = Application {
            id: 1,
            target: Nav::Expanded(vec![rel(9, "f", None)]),
            ..Application::default()
        };
        let mut dev = Device {
            id: 2,
            target: Nav::Expanded(vec![rel(8, "d", None)]),
            ..Device::default()
        };
        assert_eq!(
            DevicePolicy::of(&dev, Some(&fleet)).target().map(|r| r.id),
            Some(9)
        );
        assert_eq!(DevicePolicy::of(&dev, None).target().map(|r| r.id), Some(8));
        dev.pinned = Nav::Expanded(vec![rel(7, "p", None)]);
        assert!(DevicePolicy::of(&dev, Some(&fleet)).is_pinned());
    }

    #[test]
    fn changes_compare_policies_by_release_id() {
        let a = rel(1, "a", None);
        let mut a2 = rel(1, "a", Some("x"));
        a2.status = Some("success".into());
        assert!(
            !Change::new(
                DevicePolicy::Pinned(Arc::new(a.clone())),
                DevicePolicy::Pinned(Arc::new(a2))
            )
            .changed
        );
        assert!(
            Change::new(
                DevicePolicy::TracksFleet(Some(Arc::new(a.clone()))),
                DevicePolicy::Pinned(Arc::new(a.clone()))
            )
            .changed
        );
        assert!(
            Change::new(
                FleetPolicy::Pinned(Some(a.clone())),
                FleetPolicy::TracksLatest(Some(a.clone()))
            )
            .changed
        );
        let c = Change::new(FleetPolicy::Pinned(None), FleetPolicy::Pinned(Some(a)));
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"before":{"tracking_latest":false,"release":null},"after":{"tracking_latest":false,"release":{"id":1,"commit":"a","raw_version":null}},"changed":true}"#
        );
        assert_eq!(c.before.to_string(), "no target release");
        assert_eq!(c.after.to_string(), "pinned to a");
    }

    #[test]
    fn selectors() {
        assert_eq!(
            ReleaseSelector::parse("LATEST"),
            Some(ReleaseSelector::Latest)
        );
        assert_eq!(
            ReleaseSelector::parse("abc"),
            Some(ReleaseSelector::Ident("abc".into()))
        );
        assert_eq!(ReleaseSelector::parse(""), None);
        assert_eq!(ReleaseSelector::parse(" \r"), None);
        assert_eq!(
            ReleaseSelector::parse("A1B2C3\r\n"),
            Some(ReleaseSelector::Ident("a1b2c3".into()))
        );
        assert_eq!(
            ReleaseSelector::parse(" V1.2.0 "),
            Some(ReleaseSelector::Ident("V1.2.0".into()))
        );
        assert_eq!(
            ReleaseSelector::parse("latest\r"),
            Some(ReleaseSelector::Latest)
        );
    }
}
