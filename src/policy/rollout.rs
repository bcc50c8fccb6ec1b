//! The domain of `--wait`: a device as one poll sees it, the counts, when the rollout is
//! complete, the poll schedule, and the observer the wait engine reports progress to (which
//! the view implements). Pure: no I/O.
//!
//! - Offline devices are skipped and never waited for: they update when they come back. A
//!   device without a target release has nothing to wait for.
//! - Each device is checked against what this command set ([`Expect`]): a device whose
//!   target or pin someone else changed during the wait is not waited for, and is reported
//!   ([`WaitOutcome::changed_by_others`], [`Error::ChangedDuringWait`]).
//! - Polls back off from [`FIRST_DELAY`] to [`MAX_DELAY`] ([`next_delay`]), are never closer
//!   together than the first interval, and the last one lands on the deadline.

use std::sync::Arc;
use std::time::Duration;

use balena_api::models::Device;

use crate::error::Error;

/// One device as one poll saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    pub id: i64,
    // Boxed, not `String`: a wait holds one state per device (24 bytes fewer each).
    pub uuid: Box<str>,
    pub device_name: Option<Box<str>>,
    pub is_online: bool,
    /// Shared: the devices of one poll's page with the same status hold one copy of it.
    pub status: Option<Arc<str>>,
    pub running: Option<i64>,
    pub target: Option<i64>,
    /// Someone else changed its target (or pin) away from what this command set.
    pub changed_by_other: bool,
}

impl DeviceState {
    pub fn of(d: &Device) -> DeviceState {
        DeviceState::with(d, d.overall_status.as_deref().map(Into::into), false)
    }

    fn with(d: &Device, status: Option<Arc<str>>, changed_by_other: bool) -> DeviceState {
        DeviceState {
            id: d.id,
            uuid: d.uuid.as_str().into(),
            device_name: d.device_name.as_deref().map(Into::into),
            is_online: d.is_online == Some(true),
            status,
            running: d.running.id(),
            target: d.target.id(),
            changed_by_other,
        }
    }

    /// Runs its target, or has none (nothing to wait for).
    pub fn on_target(&self) -> bool {
        self.target.is_none() || self.running == self.target
    }

    /// Online, not on target, and still as this command set it: what the wait is waiting
    /// for.
    pub fn behind(&self) -> bool {
        self.is_online && !self.on_target() && !self.changed_by_other
    }
}

/// What each device of a wait should end up on, as this command set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The target this command gave the fleet (`None`: none, or whatever it is): a device
    /// with another target was given it by someone else (the fleet re-pinned meanwhile).
    Target(Option<i64>),
    /// The pin this command left each device with, by device id (sorted; `None`: it
    /// follows its fleet). A device pinned otherwise was re-pinned by someone else; a
    /// device not listed is not part of the wait.
    Pins(Vec<(i64, Option<i64>)>),
}

impl Expect {
    /// How many devices it lists (`None`: a fleet's, not known ahead).
    pub fn count(&self) -> Option<usize> {
        match self {
            Expect::Target(_) => None,
            Expect::Pins(p) => Some(p.len()),
        }
    }

    /// `(id, pin)` pairs, sorted by id, each once.
    pub fn pins(mut pins: Vec<(i64, Option<i64>)>) -> Expect {
        pins.sort_unstable();
        pins.dedup_by_key(|(id, _)| *id);
        Expect::Pins(pins)
    }

    fn pin_of(&self, id: i64) -> Option<Option<i64>> {
        match self {
            Expect::Target(_) => None,
            Expect::Pins(p) => p
                .binary_search_by_key(&id, |(i, _)| *i)
                .ok()
                .map(|k| p[k].1),
        }
    }

    /// Whether device `id` is part of the wait.
    pub fn covers(&self, id: i64) -> bool {
        matches!(self, Expect::Target(_)) || self.pin_of(id).is_some()
    }

    /// The pin every device should have, when it is the same for all.
    pub fn common_pin(&self) -> Option<Option<i64>> {
        match self {
            Expect::Target(_) => None,
            Expect::Pins(p) => {
                let first = p.first()?.1;
                p.iter().all(|(_, pin)| *pin == first).then_some(first)
            }
        }
    }

    /// Whether `d`, pinned to `pin`, is no longer as this command set it.
    pub fn changed_by_other(&self, d: &Device) -> bool {
        match self {
            Expect::Target(None) => false,
            Expect::Target(Some(t)) => d.target.id().is_some_and(|have| have != *t),
            Expect::Pins(_) => self.pin_of(d.id).is_some_and(|want| d.pinned.id() != want),
        }
    }
}

/// The device rows of one poll that `expect` covers, sorted by id, each once.
pub fn states(rows: &[Device], expect: &Expect) -> Vec<DeviceState> {
    // The few distinct statuses of the page, each allocated once.
    let mut statuses: Vec<Arc<str>> = Vec::new();
    let mut out: Vec<DeviceState> = rows
        .iter()
        .filter(|d| expect.covers(d.id))
        .map(|d| {
            let status = d
                .overall_status
                .as_deref()
                .map(|s| intern(&mut statuses, s));
            DeviceState::with(d, status, expect.changed_by_other(d))
        })
        .collect();
    out.sort_by_key(|d| d.id);
    out.dedup_by_key(|d| d.id);
    out
}

/// `s`, shared with an earlier copy in `seen` when there is one. At most 16 are kept, should
/// a server send a different status for every device.
fn intern(seen: &mut Vec<Arc<str>>, s: &str) -> Arc<str> {
    if let Some(t) = seen.iter().find(|t| &***t == s) {
        return Arc::clone(t);
    }
    let t: Arc<str> = s.into();
    if seen.len() < 16 {
        seen.push(Arc::clone(&t));
    }
    t
}

/// The counts shown while waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Online devices on their target.
    pub on_target: usize,
    /// Online devices (the ones waited for).
    pub online: usize,
    /// Online devices behind whose status is `updating`.
    pub updating: usize,
    /// Offline devices (skipped).
    pub offline: usize,
    /// Devices someone else changed during the wait (not waited for).
    pub changed: usize,
}

pub fn counts(devices: &[DeviceState]) -> Counts {
    let mut c = Counts::default();
    for d in devices {
        if d.changed_by_other {
            c.changed += 1;
            continue;
        }
        if !d.is_online {
            c.offline += 1;
            continue;
        }
        c.online += 1;
        if d.on_target() {
            c.on_target += 1;
        } else if d.status.as_deref() == Some("updating") {
            c.updating += 1;
        }
    }
    c
}

/// Every online device is on target.
pub fn is_complete(devices: &[DeviceState]) -> bool {
    devices.iter().all(|d| !d.behind())
}

/// The first pause between polls, and the shortest one.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest pause between polls.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// The backoff step after `polls` polls (`polls >= 1`): 1 s, 1.5 s, 2.25 s, 3.375 s, then 5 s.
pub fn backoff(polls: u32) -> Duration {
    let n = polls.saturating_sub(1).min(16);
    FIRST_DELAY.mul_f64(1.5f64.powi(n as i32)).min(MAX_DELAY)
}

/// How long to sleep after `polls` polls, `elapsed` into a wait of `timeout`; `None` when the
/// time is up. The last pause is stretched to the deadline rather than leaving a stub shorter
/// than [`FIRST_DELAY`], so polls are never closer together than that (unless the whole
/// timeout is shorter).
pub fn next_delay(polls: u32, elapsed: Duration, timeout: Duration) -> Option<Duration> {
    if elapsed >= timeout {
        return None;
    }
    let remaining = timeout - elapsed;
    let step = backoff(polls);
    if remaining < step + FIRST_DELAY {
        Some(remaining.max(FIRST_DELAY.min(timeout)))
    } else {
        Some(step)
    }
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitOutcome {
    /// Every online affected device runs its target release.
    pub complete: bool,
    pub elapsed: Duration,
    pub polls: u32,
    /// The devices of the last poll.
    pub devices: Vec<DeviceState>,
}

impl WaitOutcome {
    /// Nothing to wait for (no devices).
    pub fn empty() -> WaitOutcome {
        WaitOutcome {
            complete: true,
            elapsed: Duration::ZERO,
            polls: 0,
            devices: Vec::new(),
        }
    }

    /// The online devices still behind their target (empty when complete).
    pub fn behind(&self) -> impl Iterator<Item = &DeviceState> {
        self.devices.iter().filter(|d| d.behind())
    }

    /// The offline (skipped) devices.
    pub fn offline(&self) -> impl Iterator<Item = &DeviceState> {
        self.devices
            .iter()
            .filter(|d| !d.is_online && !d.changed_by_other)
    }

    /// The devices someone else changed during the wait.
    pub fn changed_by_others(&self) -> impl Iterator<Item = &DeviceState> {
        self.devices.iter().filter(|d| d.changed_by_other)
    }

    /// The exit-8 error of an incomplete wait: the devices behind, as `uuid (name)`.
    pub fn timeout_error(&self) -> Error {
        Error::WaitTimeout {
            behind: self.behind().map(named).collect(),
        }
    }

    /// `Err` with [`WaitOutcome::timeout_error`] when incomplete; else
    /// [`Error::ChangedDuringWait`] when someone else changed some devices.
    ///
    /// The states are consumed as the names are made, so a wait over many devices does not
    /// hold both at once.
    pub fn into_result(self) -> Result<(), Error> {
        let complete = self.complete;
        let names = self
            .devices
            .into_iter()
            .filter(|d| {
                if complete {
                    d.changed_by_other
                } else {
                    d.behind()
                }
            })
            .map(|d| named(&d));
        if !complete {
            return Err(Error::WaitTimeout {
                behind: names.collect(),
            });
        }
        let changed: Vec<String> = names.collect();
        if changed.is_empty() {
            Ok(())
        } else {
            Err(Error::ChangedDuringWait { devices: changed })
        }
    }
}

/// `uuid (name)`, or the uuid alone.
fn named(d: &DeviceState) -> String {
    match d.device_name.as_deref() {
        Some(n) if !n.is_empty() => format!("{} ({n})", d.uuid),
        _ => d.uuid.to_string(),
    }
}

/// What the wait engine reports while it polls (the view draws it).
pub trait RolloutObserver {
    /// After each poll.
    fn polled(&mut self, counts: &Counts);
    /// Once, at the end.
    fn finished(&mut self, counts: &Counts, complete: bool, elapsed: Duration);
}

#[cfg(test)]
mod tests {
    use super::*;
    use balena_api::models::Nav;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn backoff_grows_from_one_to_five_seconds() {
        let steps: Vec<u128> = (1..=8).map(|p| backoff(p).as_millis()).collect();
        assert_eq!(steps, [1000, 1500, 2250, 3375, 5000, 5000, 5000, 5000]);
        assert_eq!(backoff(0), FIRST_DELAY);
        assert_eq!(backoff(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn schedule_is_bounded_by_the_timeout() {
        // Simulate a wait that never completes, with instant requests.
        let run = |timeout: Duration| {
            let mut t = Duration::ZERO;
            let mut polls = 1; // the first poll is at t = 0
            let mut times = vec![0u128];
            while let Some(d) = next_delay(polls, t, timeout) {
                assert!(d >= FIRST_DELAY.min(timeout), "{d:?} too short");
                assert!(d <= MAX_DELAY + FIRST_DELAY, "{d:?} too long");
                t += d;
                polls += 1;
                times.push(t.as_millis());
            }
            times
        };
        assert_eq!(
            run(Duration::from_secs(10)),
            // At 8125 only 1875 ms are left (< 5000 + 1000): the last pause ends on the deadline.
            [0, 1000, 2500, 4750, 8125, 10000]
        );
        assert_eq!(
            run(Duration::from_secs(30)),
            [0, 1000, 2500, 4750, 8125, 13125, 18125, 23125, 28125, 30000]
        );
        // Short timeouts: one more poll, at the deadline.
        assert_eq!(run(Duration::from_secs(1)), [0, 1000]);
        assert_eq!(run(ms(1500)), [0, 1500]);
        assert_eq!(run(ms(300)), [0, 300]);
        assert_eq!(run(Duration::ZERO), [0]);
        // A slow request leaving less than the first interval never makes a short pause.
        assert_eq!(
            next_delay(3, ms(9_700), Duration::from_secs(10)),
            Some(FIRST_DELAY)
        );
        assert_eq!(next_delay(3, ms(10_000), Duration::from_secs(10)), None);
    }

    fn dev(
        id: i64,
        online: bool,
        status: &str,
        running: Option<i64>,
        target: Option<i64>,
    ) -> Device {
        let nav = |v: Option<i64>| v.map_or(Nav::Absent, Nav::Deferred);
        Device {
            id,
            uuid: format!("uuid{id}"),
            device_name: Some(format!("dev-{id}")),
            is_online: Some(online),
            overall_status: Some(status.into()),
            running: nav(running),
            target: nav(target),
            ..Device::default()
        }
    }

    #[test]
    fn outcome_counts() {
        let rows = vec![
            dev(3, true, "updating", Some(1), Some(2)),
            dev(1, true, "idle", Some(2), Some(2)),
            dev(2, false, "offline", Some(1), Some(2)),
            dev(4, true, "idle", Some(1), Some(2)),
            dev(5, true, "idle", None, None),
        ];
        let ds = states(&rows, &Expect::Target(None));
        assert_eq!(ds.iter().map(|d| d.id).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert_eq!(
            counts(&ds),
            Counts {
                on_target: 2,
                online: 4,
                updating: 1,
                offline: 1,
                changed: 0,
            }
        );
        assert!(!is_complete(&ds));
        let o = WaitOutcome {
            complete: false,
            elapsed: ms(1234),
            polls: 3,
            devices: ds,
        };
        assert_eq!(
            o.behind().map(|d| &*d.uuid).collect::<Vec<_>>(),
            ["uuid3", "uuid4"]
        );
        assert_eq!(o.offline().map(|d| &*d.uuid).collect::<Vec<_>>(), ["uuid2"]);
        match o.timeout_error() {
            Error::WaitTimeout { behind } => {
                assert_eq!(behind, ["uuid3 (dev-3)", "uuid4 (dev-4)"])
            }
            e => panic!("{e:?}"),
        }
        // Offline devices never hold the wait up.
        let done = states(
            &[
                dev(1, true, "idle", Some(2), Some(2)),
                dev(2, false, "offline", Some(1), Some(2)),
            ],
            &Expect::Target(Some(2)),
        );
        assert!(is_complete(&done));
        assert!(is_complete(&[]));
    }

    #[test]
    fn devices_changed_by_someone_else_are_not_waited_for() {
        // The fleet was given release 2; device 4 now targets 3 (the fleet re-pinned).
        let rows = vec![
            dev(1, true, "idle", Some(2), Some(2)),
            dev(4, true, "idle", Some(1), Some(3)),
        ];
        let ds = states(&rows, &Expect::Target(Some(2)));
        assert!(is_complete(&ds));
        assert_eq!(counts(&ds).changed, 1);
        let o = WaitOutcome {
            complete: true,
            elapsed: ms(1),
            polls: 1,
            devices: ds,
        };
        match o.into_result() {
            Err(Error::ChangedDuringWait { devices }) => assert_eq!(devices, ["uuid4 (dev-4)"]),
            r => panic!("{r:?}"),
        }
        // Pins: 5 should stay pinned to 2, 6 should follow its fleet; 7 is not in the wait.
        let mut pinned = dev(5, true, "idle", Some(2), Some(2));
        pinned.pinned = Nav::Deferred(2);
        let mut repinned = dev(6, true, "idle", Some(1), Some(9));
        repinned.pinned = Nav::Deferred(9);
        let other = dev(7, true, "idle", Some(1), Some(2));
        let e = Expect::pins(vec![(6, None), (5, Some(2)), (5, Some(2))]);
        assert_eq!(e.common_pin(), None);
        let ds = states(&[pinned, repinned, other], &e);
        assert_eq!(ds.iter().map(|d| d.id).collect::<Vec<_>>(), [5, 6]);
        assert!(!ds[0].changed_by_other);
        assert!(ds[1].changed_by_other);
        assert!(is_complete(&ds));
        assert_eq!(
            Expect::pins(vec![(1, Some(3)), (2, Some(3))]).common_pin(),
            Some(Some(3))
        );
    }
}
