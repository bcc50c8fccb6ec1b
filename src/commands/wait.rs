//! `--wait`: after a mutation, poll the affected devices until every online one runs its
//! target release (`is_running__release` = `should_be_running__release`), or time out.
//!
//! - One GET per poll (per chunk of at most [`MAX_PATH_LEN`] characters for a device list),
//!   selecting only the fields compared here. Navigation fields come back as `{"__id":N}`
//!   (not expanded), and only the ids are compared.
//! - Polls back off from [`FIRST_DELAY`] to [`MAX_DELAY`] ([`next_delay`]), are never closer
//!   together than the first interval, and the last one lands on the deadline.
//! - Offline devices are reported as skipped and are never waited for: they update when they
//!   come back. A device without a target release has nothing to wait for.
//! - The timeout is not an error here: the outcome says `complete:false`, and the caller
//!   turns it into [`CliError::WaitTimeout`] (exit 8) with [`WaitOutcome::timeout_error`]
//!   after printing the report if it wants to.
//!
//! All terminal output (bar or plain lines) is in `crate::output::progress`.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Value};

use crate::api::odata::{self, Filter, Lit, Query};
use crate::commands::Context;
use crate::error::CliError;
use crate::output::progress::WaitProgress;

/// What the wait covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitScope {
    /// The fleet's devices that follow the fleet's target (not pinned): those a fleet target
    /// change affects.
    Fleet { id: i64, slug: String },
    /// These device ids.
    Devices(Vec<i64>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct WaitOutcome {
    /// Every online affected device runs its target release.
    pub complete: bool,
    /// `{"complete","elapsed_ms","polls","devices":[…],"behind":[uuid…],"offline":[uuid…]}`
    pub report: Value,
}

impl WaitOutcome {
    /// The uuids of the online devices still behind their target (empty when complete).
    pub fn behind(&self) -> Vec<String> {
        uuids(&self.report["behind"])
    }

    /// The uuids of the offline (skipped) devices.
    pub fn offline(&self) -> Vec<String> {
        uuids(&self.report["offline"])
    }

    /// The exit-8 error for an incomplete outcome: the devices behind, as `uuid (name)`.
    pub fn timeout_error(&self) -> CliError {
        let names: std::collections::HashMap<&str, &str> = self.report["devices"]
            .as_array()
            .map(|ds| {
                ds.iter()
                    .filter_map(|d| Some((d["uuid"].as_str()?, d["device_name"].as_str()?)))
                    .collect()
            })
            .unwrap_or_default();
        CliError::WaitTimeout {
            behind: self
                .behind()
                .into_iter()
                .map(|u| match names.get(u.as_str()) {
                    Some(n) if !n.is_empty() => format!("{u} ({n})"),
                    _ => u,
                })
                .collect(),
        }
    }
}

fn uuids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The fields one poll reads.
pub const POLL_FIELDS: &[&str] = &[
    "id",
    "uuid",
    "device_name",
    "is_online",
    "overall_status",
    "is_running__release",
    "should_be_running__release",
];

/// The first pause between polls, and the shortest one.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest pause between polls.
pub const MAX_DELAY: Duration = Duration::from_secs(5);
/// The longest `/v7/…` path (with its query) of one poll request, so URLs stay < ~6 KB.
pub const MAX_PATH_LEN: usize = 5_500;

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

/// The GET paths (relative to `/v7/`) of one poll.
pub fn poll_paths(scope: &WaitScope) -> Vec<String> {
    let select = Query::new().select(POLL_FIELDS);
    match scope {
        WaitScope::Fleet { id, .. } => {
            let q = select.filter(Filter::And(vec![
                Filter::eq("belongs_to__application", *id),
                Filter::Eq("is_pinned_on__release".into(), Lit::Null),
            ]));
            vec![odata::path("device", &q)]
        }
        WaitScope::Devices(ids) => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            id_chunks(&ids, MAX_PATH_LEN)
                .into_iter()
                .map(|chunk| {
                    let f = Filter::In("id".into(), chunk.iter().map(|i| Lit::Int(*i)).collect());
                    odata::path("device", &select.clone().filter(f))
                })
                .collect()
        }
    }
}

/// Splits `ids` so that each `device?$select=…&$filter=id in (…)` path is at most `max_len`
/// characters (a chunk always holds at least one id).
pub fn id_chunks(ids: &[i64], max_len: usize) -> Vec<Vec<i64>> {
    let base = odata::path(
        "device",
        &Query::new()
            .select(POLL_FIELDS)
            .filter(Filter::In("id".into(), Vec::new())),
    )
    .len();
    let mut chunks: Vec<Vec<i64>> = Vec::new();
    let mut cur: Vec<i64> = Vec::new();
    let mut len = base;
    for &id in ids {
        let add = id.to_string().len() + usize::from(!cur.is_empty());
        if !cur.is_empty() && len + add > max_len {
            chunks.push(std::mem::take(&mut cur));
            len = base;
        }
        len += id.to_string().len() + usize::from(!cur.is_empty());
        cur.push(id);
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    chunks
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
}

/// One device as one poll saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    pub id: i64,
    pub uuid: String,
    pub device_name: Option<String>,
    pub is_online: bool,
    pub status: Option<String>,
    pub running: Option<i64>,
    pub target: Option<i64>,
}

impl DeviceState {
    /// Runs its target, or has none (nothing to wait for).
    pub fn on_target(&self) -> bool {
        self.target.is_none() || self.running == self.target
    }

    /// Online and not on target: what the wait is waiting for.
    pub fn behind(&self) -> bool {
        self.is_online && !self.on_target()
    }
}

/// The id of a navigation field: `{"__id":N}` (not expanded), `{"id":N}` or `[{"id":N}]`.
fn nav_id(v: &Value) -> Option<i64> {
    match v {
        Value::Object(m) => m
            .get("__id")
            .or_else(|| m.get("id"))
            .and_then(Value::as_i64),
        Value::Array(a) => a.first().and_then(nav_id),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The device rows of one poll, sorted by id (rows without an id are dropped).
pub fn parse_rows(rows: &[Value]) -> Vec<DeviceState> {
    let mut out: Vec<DeviceState> = rows
        .iter()
        .filter_map(|r| {
            Some(DeviceState {
                id: r.get("id")?.as_i64()?,
                uuid: r
                    .get("uuid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                device_name: r
                    .get("device_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                is_online: r.get("is_online").and_then(Value::as_bool) == Some(true),
                status: r
                    .get("overall_status")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                running: r.get("is_running__release").and_then(nav_id),
                target: r.get("should_be_running__release").and_then(nav_id),
            })
        })
        .collect();
    out.sort_by_key(|d| d.id);
    out.dedup_by_key(|d| d.id);
    out
}

pub fn counts(devices: &[DeviceState]) -> Counts {
    let mut c = Counts::default();
    for d in devices {
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

/// The `--json` report of the last poll.
pub fn report(devices: &[DeviceState], complete: bool, elapsed: Duration, polls: u32) -> Value {
    let id_obj = |id: Option<i64>| id.map_or(Value::Null, |i| json!({ "id": i }));
    json!({
        "complete": complete,
        "elapsed_ms": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        "polls": polls,
        "devices": devices.iter().map(|d| json!({
            "uuid": d.uuid,
            "device_name": d.device_name,
            "is_online": d.is_online,
            "status": d.status,
            "running": id_obj(d.running),
            "target": id_obj(d.target),
            "on_target": d.on_target(),
        })).collect::<Vec<_>>(),
        "behind": devices.iter().filter(|d| d.behind()).map(|d| d.uuid.clone()).collect::<Vec<_>>(),
        "offline": devices.iter().filter(|d| !d.is_online).map(|d| d.uuid.clone()).collect::<Vec<_>>(),
    })
}

/// Polls until every online device of `scope` runs its target release, or `timeout` passes.
/// A timeout is `Ok` with `complete:false`; request failures (after the client's retries)
/// are errors.
pub async fn wait_for_rollout(
    ctx: &Context,
    scope: WaitScope,
    timeout: Duration,
) -> Result<WaitOutcome> {
    ctx.api.require_token()?;
    let paths = poll_paths(&scope);
    if paths.is_empty() {
        // No devices: nothing to wait for, nothing to send.
        return Ok(WaitOutcome {
            complete: true,
            report: report(&[], true, Duration::ZERO, 0),
        });
    }
    let label = match &scope {
        WaitScope::Fleet { slug, .. } => slug.clone(),
        WaitScope::Devices(_) => String::new(),
    };
    let started = Instant::now();
    let mut progress = WaitProgress::start(&label, ctx.debug);
    let mut polls: u32 = 0;
    loop {
        let mut rows = Vec::new();
        for p in &paths {
            rows.extend(ctx.api.get_rows(p).await?);
        }
        polls += 1;
        let devices = parse_rows(&rows);
        let c = counts(&devices);
        progress.update(&c);
        let elapsed = started.elapsed();
        let complete = is_complete(&devices);
        let next = if complete {
            None
        } else {
            next_delay(polls, elapsed, timeout)
        };
        match next {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                progress.finish(&c, complete, elapsed);
                return Ok(WaitOutcome {
                    complete,
                    report: report(&devices, complete, elapsed, polls),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn row(
        id: i64,
        online: bool,
        status: &str,
        running: Option<i64>,
        target: Option<i64>,
    ) -> Value {
        let nav = |v: Option<i64>| v.map_or(Value::Null, |i| json!({ "__id": i }));
        json!({
            "id": id,
            "uuid": format!("uuid{id}"),
            "device_name": format!("dev-{id}"),
            "is_online": online,
            "overall_status": status,
            "is_running__release": nav(running),
            "should_be_running__release": nav(target),
        })
    }

    #[test]
    fn outcome_counts_and_report() {
        let rows = vec![
            row(3, true, "updating", Some(1), Some(2)),
            row(1, true, "idle", Some(2), Some(2)),
            row(2, false, "offline", Some(1), Some(2)),
            row(4, true, "idle", Some(1), Some(2)),
            row(5, true, "idle", None, None),
        ];
        let ds = parse_rows(&rows);
        assert_eq!(ds.iter().map(|d| d.id).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert_eq!(
            counts(&ds),
            Counts {
                on_target: 2,
                online: 4,
                updating: 1,
                offline: 1
            }
        );
        assert!(!is_complete(&ds));
        let r = report(&ds, false, ms(1234), 3);
        assert_eq!(r["complete"], false);
        assert_eq!(r["elapsed_ms"], 1234);
        assert_eq!(r["polls"], 3);
        assert_eq!(r["behind"], json!(["uuid3", "uuid4"]));
        assert_eq!(r["offline"], json!(["uuid2"]));
        assert_eq!(
            r["devices"][2],
            json!({"uuid":"uuid3","device_name":"dev-3","is_online":true,"status":"updating",
                   "running":{"id":1},"target":{"id":2},"on_target":false})
        );
        assert_eq!(r["devices"][4]["running"], Value::Null);
        assert_eq!(r["devices"][4]["on_target"], true);
        // Offline devices never hold the wait up.
        let done = parse_rows(&[
            row(1, true, "idle", Some(2), Some(2)),
            row(2, false, "offline", Some(1), Some(2)),
        ]);
        assert!(is_complete(&done));
        assert!(is_complete(&[]));
        let o = WaitOutcome {
            complete: false,
            report: r,
        };
        assert_eq!(o.behind(), ["uuid3", "uuid4"]);
        assert_eq!(o.offline(), ["uuid2"]);
        match o.timeout_error() {
            CliError::WaitTimeout { behind } => {
                assert_eq!(behind, ["uuid3 (dev-3)", "uuid4 (dev-4)"])
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn navigation_ids_in_every_shape() {
        assert_eq!(nav_id(&json!({"__id": 7})), Some(7));
        assert_eq!(nav_id(&json!([{"id": 7, "commit": "x"}])), Some(7));
        assert_eq!(nav_id(&json!({"id": 7})), Some(7));
        assert_eq!(nav_id(&json!([])), None);
        assert_eq!(nav_id(&Value::Null), None);
    }

    #[test]
    fn poll_paths_and_chunks() {
        let sel = "$select=id,uuid,device_name,is_online,overall_status,is_running__release,should_be_running__release";
        assert_eq!(
            poll_paths(&WaitScope::Fleet {
                id: 5,
                slug: "o/f".into()
            }),
            [format!("device?{sel}&$filter=(belongs_to__application%20eq%205)%20and%20(is_pinned_on__release%20eq%20null)")]
        );
        assert_eq!(
            poll_paths(&WaitScope::Devices(vec![3, 1, 3])),
            [format!("device?{sel}&$filter=id%20in%20(1,3)")]
        );
        assert!(poll_paths(&WaitScope::Devices(vec![])).is_empty());

        let ids: Vec<i64> = (1_000_000..1_002_000).collect();
        let paths = poll_paths(&WaitScope::Devices(ids.clone()));
        assert!(paths.len() > 1);
        assert!(paths.iter().all(|p| p.len() <= MAX_PATH_LEN), "{paths:?}");
        let chunks = id_chunks(&ids, MAX_PATH_LEN);
        assert_eq!(chunks.concat(), ids);
        // Tight limits still make progress, one id per chunk.
        assert_eq!(id_chunks(&[1, 22, 333], 0), [vec![1], vec![22], vec![333]]);
        let base = odata::path(
            "device",
            &Query::new()
                .select(POLL_FIELDS)
                .filter(Filter::In("id".into(), vec![])),
        )
        .len();
        // "1,22" fits in base + 4, "333" does not.
        assert_eq!(id_chunks(&[1, 22, 333], base + 4), [vec![1, 22], vec![333]]);
    }
}
