//! The plan of every mutation: the policy before and after, whether that is a change, and
//! the write that makes it (none when nothing changes).

use std::collections::HashMap;
use std::sync::Arc;

use balena_api::models::{Application, Device, Release};
use balena_api::patch::{DevicePatch, FleetPatch};

use super::release::release_before;
use super::{short, Change, DevicePolicy, FleetPolicy};
use crate::error::Error;

/// What a fleet mutation does.
#[derive(Debug, Clone, PartialEq)]
pub enum FleetAction {
    Pin,
    TrackLatest,
    /// Back to the release before `from` (the fleet's target).
    Rollback {
        from: Release,
    },
}

#[derive(Debug, Clone)]
pub struct FleetPlan {
    pub action: FleetAction,
    pub change: Change<FleetPolicy>,
    /// `None` when nothing changes.
    pub patch: Option<FleetPatch>,
}

/// Pin the fleet to `rel` (it stops tracking latest).
pub fn pin_fleet(app: &Application, rel: &Release) -> FleetPlan {
    let change = Change::new(FleetPolicy::of(app), FleetPolicy::Pinned(Some(rel.clone())));
    let patch = change.changed.then_some(FleetPatch::PinTo(rel.id));
    FleetPlan {
        action: FleetAction::Pin,
        change,
        patch,
    }
}

/// Track the latest trackable release, `latest` (the fleet keeps its target when there is
/// none yet).
pub fn track_latest(app: &Application, latest: Option<&Release>) -> FleetPlan {
    let before = FleetPolicy::of(app);
    let target = latest.or(before.target()).cloned();
    let change = Change::new(before, FleetPolicy::TracksLatest(target));
    let patch = change
        .changed
        .then_some(FleetPatch::TrackLatest(latest.map(|r| r.id)));
    FleetPlan {
        action: FleetAction::TrackLatest,
        change,
        patch,
    }
}

/// Pin the fleet to the trackable release just before its target, among `candidates`.
pub fn rollback(app: &Application, candidates: &[Release]) -> Result<FleetPlan, Error> {
    let Some(current) = app.target() else {
        return Err(Error::NoTarget {
            fleet: app.slug.clone(),
        });
    };
    let Some(prev) = release_before(current, candidates) else {
        return Err(Error::NoEarlierRelease {
            current: short(current),
            fleet: app.slug.clone(),
        });
    };
    let change = Change::new(
        FleetPolicy::of(app),
        FleetPolicy::Pinned(Some(prev.clone())),
    );
    Ok(FleetPlan {
        action: FleetAction::Rollback {
            from: current.clone(),
        },
        patch: Some(FleetPatch::PinTo(prev.id)),
        change,
    })
}

/// What a fleet plan does to one of the fleet's devices.
#[derive(Debug, Clone)]
pub struct DeviceEffect<'a> {
    pub device: &'a Device,
    pub change: Change<DevicePolicy>,
}

/// The devices' side of a fleet plan: a pinned device is unaffected; the others follow
/// the fleet's target from before to after.
pub fn fleet_device_effects<'a>(devices: &'a [Device], plan: &FleetPlan) -> Vec<DeviceEffect<'a>> {
    devices
        .iter()
        .map(|d| {
            let change = match d.pinned.first() {
                Some(p) => Change::none(DevicePolicy::Pinned(Arc::new(p.clone()))),
                None => Change::new(
                    DevicePolicy::TracksFleet(plan.change.before.target().cloned().map(Arc::new)),
                    DevicePolicy::TracksFleet(plan.change.after.target().cloned().map(Arc::new)),
                ),
            };
            DeviceEffect { device: d, change }
        })
        .collect()
}

/// What a device mutation does.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceAction {
    Pin(Arc<Release>),
    TrackFleet,
}

#[derive(Debug, Clone)]
pub struct DevicePlan {
    pub change: Change<DevicePolicy>,
    /// `None` when nothing changes.
    pub patch: Option<DevicePatch>,
}

/// The plan of `action` for `dev`, a device of `fleet`.
pub fn device(dev: &Device, fleet: Option<&Application>, action: &DeviceAction) -> DevicePlan {
    let before = DevicePolicy::of(dev, fleet);
    let (after, patch) = match action {
        DeviceAction::Pin(rel) => (
            DevicePolicy::Pinned(rel.clone()),
            DevicePatch::PinTo(rel.id),
        ),
        DeviceAction::TrackFleet => {
            let after = match &before {
                DevicePolicy::TracksFleet(_) => before.clone(),
                DevicePolicy::Pinned(_) => DevicePolicy::TracksFleet(
                    fleet
                        .and_then(Application::target)
                        .map(|r| Arc::new(r.clone())),
                ),
            };
            (after, DevicePatch::Unpin)
        }
    };
    let change = Change::new(before, after);
    let patch = change.changed.then_some(patch);
    DevicePlan { change, patch }
}

#[cfg(test)]
mod tests {
    use super::*;
    use balena_api::models::Nav;

    fn rel(id: i64) -> Release {
        Release {
            id,
            commit: format!("c{id}"),
            start_timestamp: Some(format!("2024-01-0{id}T00:00:00.000Z")),
            ..Release::default()
        }
    }

    fn fleet(tracking: bool, target: Option<i64>) -> Application {
        Application {
            id: 1,
            slug: "o/f".into(),
            should_track_latest_release: Some(tracking),
            target: Nav::Expanded(target.map(rel).into_iter().collect()),
            ..Application::default()
        }
    }

    #[test]
    fn fleet_pin_and_track_latest() {
        let p = pin_fleet(&fleet(false, Some(1)), &rel(1));
        assert!(!p.change.changed);
        assert_eq!(p.patch, None);
        let p = pin_fleet(&fleet(true, Some(1)), &rel(1));
        assert!(p.change.changed);
        assert_eq!(p.patch, Some(FleetPatch::PinTo(1)));
        let t = track_latest(&fleet(true, Some(2)), Some(&rel(2)));
        assert!(!t.change.changed);
        let t = track_latest(&fleet(true, Some(1)), Some(&rel(2)));
        assert_eq!(t.patch, Some(FleetPatch::TrackLatest(Some(2))));
        let t = track_latest(&fleet(false, None), None);
        assert_eq!(t.patch, Some(FleetPatch::TrackLatest(None)));
        assert_eq!(t.change.after.target(), None);
    }

    #[test]
    fn rollback_needs_a_target_and_an_earlier_release() {
        assert!(matches!(
            rollback(&fleet(false, None), &[]),
            Err(Error::NoTarget { .. })
        ));
        assert!(matches!(
            rollback(&fleet(false, Some(1)), &[rel(1)]),
            Err(Error::NoEarlierRelease { .. })
        ));
        let p = rollback(&fleet(true, Some(3)), &[rel(3), rel(2), rel(1)]).unwrap();
        assert_eq!(p.patch, Some(FleetPatch::PinTo(2)));
        assert!(p.change.changed);
    }

    #[test]
    fn device_plans() {
        let f = fleet(false, Some(1));
        let mut d = Device {
            id: 5,
            ..Device::default()
        };
        let p = device(&d, Some(&f), &DeviceAction::TrackFleet);
        assert!(!p.change.changed);
        assert_eq!(p.patch, None);
        let p = device(&d, Some(&f), &DeviceAction::Pin(Arc::new(rel(2))));
        assert_eq!(p.patch, Some(DevicePatch::PinTo(2)));
        d.pinned = Nav::Expanded(vec![rel(2)]);
        let p = device(&d, Some(&f), &DeviceAction::Pin(Arc::new(rel(2))));
        assert!(!p.change.changed);
        let p = device(&d, Some(&f), &DeviceAction::TrackFleet);
        assert_eq!(p.patch, Some(DevicePatch::Unpin));
        assert_eq!(p.change.after.target().map(|r| r.id), Some(1));
        let plan = pin_fleet(&f, &rel(2));
        let devices = vec![
            d.clone(),
            Device {
                id: 6,
                ..Device::default()
            },
        ];
        let e = fleet_device_effects(&devices, &plan);
        assert!(!e[0].change.changed);
        assert!(e[1].change.changed);
    }
}

/// A device of a bulk mutation: what its report and its write need, and no more (a run
/// may hold 100,000 of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkDevice {
    pub id: i64,
    /// Boxed, not `String`: no spare capacity, 8 bytes less per device.
    pub uuid: Box<str>,
    pub device_name: Option<Box<str>>,
    /// The release it was pinned to when read (`None`: it followed its fleet).
    pub pinned: Option<i64>,
}

impl BulkDevice {
    pub fn of(d: &Device) -> BulkDevice {
        BulkDevice {
            id: d.id,
            uuid: d.uuid.as_str().into(),
            device_name: d.device_name.as_deref().map(Into::into),
            pinned: d.pinned.id(),
        }
    }
}

/// One copy of each release the plans of a bulk run refer to: each plan's releases are
/// swapped for the shared copy ([`SharedReleases::share`]).
#[derive(Debug, Default)]
pub struct SharedReleases(HashMap<i64, Arc<Release>>);

impl SharedReleases {
    fn one(&mut self, r: Arc<Release>) -> Arc<Release> {
        self.0.entry(r.id).or_insert(r).clone()
    }

    fn policy(&mut self, p: DevicePolicy) -> DevicePolicy {
        match p {
            DevicePolicy::Pinned(r) => DevicePolicy::Pinned(self.one(r)),
            DevicePolicy::TracksFleet(r) => DevicePolicy::TracksFleet(r.map(|r| self.one(r))),
        }
    }

    /// `plan`, its releases shared.
    pub fn share(&mut self, plan: DevicePlan) -> DevicePlan {
        DevicePlan {
            change: Change {
                before: self.policy(plan.change.before),
                after: self.policy(plan.change.after),
                changed: plan.change.changed,
            },
            patch: plan.patch,
        }
    }
}

/// One device of a bulk mutation: how the command line named it, what it is, and its plan
/// or why it failed.
#[derive(Debug, Clone)]
pub struct BulkItem {
    /// The argument that named the device (list input only).
    pub input: Option<String>,
    pub device: Option<BulkDevice>,
    /// The slug of the device's fleet (one copy per fleet).
    pub fleet: Option<Arc<str>>,
    /// The plan (a failed write keeps the policy as it was: no change).
    pub plan: Option<DevicePlan>,
    pub error: Option<Box<Error>>,
}

impl BulkItem {
    pub fn failed(
        input: Option<String>,
        device: Option<BulkDevice>,
        fleet: Option<Arc<str>>,
        e: Error,
    ) -> BulkItem {
        BulkItem {
            input,
            device,
            fleet,
            plan: None,
            error: Some(Box::new(e)),
        }
    }

    /// Who the item is, for messages: the device's uuid, else the argument.
    pub fn who(&self) -> &str {
        self.device
            .as_ref()
            .map(|d| &*d.uuid)
            .or(self.input.as_deref())
            .unwrap_or_default()
    }

    /// Left undone by an interrupt (SIGINT).
    pub fn interrupted(&self) -> bool {
        matches!(self.error.as_deref(), Some(Error::Interrupted { .. }))
    }

    pub fn changed(&self) -> bool {
        self.error.is_none() && self.plan.as_ref().is_some_and(|p| p.change.changed)
    }

    /// The write failed: the device keeps its policy, and the item fails with `e`.
    pub fn write_failed(&mut self, e: Error) {
        if let Some(p) = &mut self.plan {
            p.change = Change::none(p.change.before.clone());
            p.patch = None;
        }
        self.error = Some(Box::new(e));
    }
}

/// How many items changed, did not need to, or failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkCounts {
    pub changed: usize,
    pub unchanged: usize,
    /// Failed, not counting those left undone by an interrupt.
    pub failed: usize,
    /// Not written because the run was interrupted (SIGINT).
    pub interrupted: usize,
}

impl BulkCounts {
    pub fn of(items: &[BulkItem]) -> BulkCounts {
        let mut c = BulkCounts::default();
        for i in items {
            if i.interrupted() {
                c.interrupted += 1;
            } else if i.error.is_some() {
                c.failed += 1;
            } else if i.changed() {
                c.changed += 1;
            } else {
                c.unchanged += 1;
            }
        }
        c
    }

    pub fn ok(&self) -> usize {
        self.changed + self.unchanged
    }
}

/// One item per device: a device named several times in a list (its full uuid, a prefix,
/// in upper case) is one device, counted, written and reported once, under the first
/// argument that named it. Items without a device (not found, ambiguous) are kept as they
/// are: each is its own failure.
pub fn merge_duplicates(items: &mut Vec<BulkItem>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|i| i.device.as_ref().is_none_or(|d| seen.insert(d.id)));
}

/// The outcome of a bulk mutation as an error: none when every item succeeded; the first
/// failed item's error when all failed (the single-device command's error and exit code);
/// otherwise a partial failure (exit 9), which says so when nothing was changed (`dry_run`).
pub fn bulk_error(items: &[BulkItem], dry_run: bool) -> Option<Error> {
    let c = BulkCounts::of(items);
    if c.interrupted > 0 {
        return Some(Error::Interrupted {
            done: format!(
                "{} of {} devices changed, {} unchanged, {} failed, {} not done",
                c.changed,
                items.len(),
                c.unchanged,
                c.failed,
                c.interrupted
            ),
        });
    }
    if c.failed == 0 {
        return None;
    }
    if c.ok() == 0 {
        return items.iter().find_map(|i| i.error.as_deref().cloned());
    }
    Some(Error::PartialFailure {
        failed: c.failed,
        total: items.len(),
        what: "devices".into(),
        dry_run,
    })
}
