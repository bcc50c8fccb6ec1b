//! `--simulate-updates DURATION`: devices that come online and move to their target release,
//! reporting the phases of an update on the way, and that fail on demand.
//!
//! **Connectivity.** Every device is brought online (`is_online`, `api_heartbeat_state`
//! `online`, `last_connectivity_event`), except the devices tagged `sandbox.offline` (any
//! value), which are kept offline from the start (`api_heartbeat_state` `offline`, a
//! `last_connectivity_event`, so `overall_status` is `offline`) and are never updated.
//!
//! **An update.** When a device's target release (its pin, else its fleet's target) is not
//! the release it runs, it walks `update_status` through the values the v7 model allows
//! (open-balena-api `src/translations/v7/v7.sbvr`: `rejected`, `downloading`, `downloaded`,
//! `applying changes`, `aborted`, `done`), setting `last_update_status_event` at each change:
//!
//! | share of DURATION | `update_status` | `status` | `download_progress` |
//! |---|---|---|---|
//! | first 60 % | `downloading` | `Downloading` | 0 → 100 |
//! | next 10 % | `downloaded` | `Downloaded` | null |
//! | last 30 % | `applying changes` | `Installing` | null |
//! | then | `done` (and `is_running__release` = the target) | `Idle` | null |
//!
//! Every phase is shown for at least one tick (DURATION / 10, between 10 ms and 200 ms),
//! even with a very short DURATION.
//!
//! **Failures**, by the device tag `sandbox.fail`:
//! - `reject`: `update_status` `rejected` at once; the device stays online, on its release;
//! - `abort`: downloads, then `aborted`; it stays on its release;
//! - `offline`: the device goes offline as soon as it is targeted at another release, and
//!   does not update; it comes back online when its target is again the release it runs;
//! - `stall`: downloads up to 50 % and stays there (`downloading`) forever.
//!
//! Any other value is no failure. `--fail-rate P` makes a deterministic fraction P of the
//! other devices reject: those whose hash of (device id, `--fail-seed`) falls under P
//! ([`rejects_by_rate`]); the same devices reject every update.
//!
//! A rejection or an abort is decided once per target: the device fails again only for a
//! new target, and only if it is still tagged (or still chosen by the rate). `stall` and
//! `offline` hold while the tag does: untagged, the device resumes the update from the
//! start. A device whose target goes back to the release it runs becomes idle
//! (`download_progress` null, `status` `Idle`); its `update_status` becomes `done` if it
//! was in progress, and otherwise stays what it was (e.g. `rejected`).
//!
//! **Cost.** One tick runs one SQL query for the devices that are not on target or are
//! still in progress, with their `sandbox.*` tags joined, plus two updates for the
//! connectivity rules; the writes are grouped so that devices in the same phase are
//! updated by one statement.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::db;
use crate::http::AppState;
use crate::schema;

/// The tag that makes a device fail its updates.
pub const FAIL_TAG: &str = "sandbox.fail";
/// The tag that keeps a device offline.
pub const OFFLINE_TAG: &str = "sandbox.offline";

/// Where each phase ends, as a fraction of the update's duration.
const DOWNLOAD_END: f64 = 0.6;
const DOWNLOADED_END: f64 = 0.7;
/// The download progress a stalled device stops at.
const STALL_AT: i64 = 50;

/// What `--simulate-updates`, `--fail-rate` and `--fail-seed` ask for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub duration: Duration,
    pub fail_rate: f64,
    pub fail_seed: u64,
}

/// How a device goes through one update, decided when it starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    Reject,
    Abort,
    Stall,
    Offline,
}

/// The last phase written for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Start,
    Downloading,
    Downloaded,
    Applying,
    Done,
    Rejected,
    Aborted,
    WentOffline,
}

struct Pending {
    target: i64,
    since: Instant,
    mode: Mode,
    phase: Phase,
    progress: Option<i64>,
}

/// Splitmix64's finaliser: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Whether `--fail-rate rate --fail-seed seed` makes device `device` reject its updates:
/// a hash of the two, read as a fraction in [0, 1), is below `rate`. The same on every run
/// and every machine.
pub fn rejects_by_rate(device: i64, seed: u64, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    let h = mix(mix(seed) ^ device as u64);
    ((h >> 11) as f64 / (1u64 << 53) as f64) < rate
}

pub fn spawn(state: Arc<AppState>, opts: Options) {
    let tick = (opts.duration / 10).clamp(Duration::from_millis(10), Duration::from_millis(200));
    tokio::spawn(async move {
        let mut pending: HashMap<i64, Pending> = HashMap::new();
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let st = state.clone();
            let mut p = std::mem::take(&mut pending);
            let result = tokio::task::spawn_blocking(move || {
                // It writes: on the writer, serialised with the requests that write.
                let r = st.store.write(|conn| step(conn, &mut p, &opts));
                (p, r)
            })
            .await;
            match result {
                Ok((p, r)) => {
                    pending = p;
                    if let Err(e) = r {
                        eprintln!("balena-sandbox: update simulation: {e}");
                    }
                }
                Err(_) => return,
            }
        }
    });
}

/// One write of the update columns, shared by every device in the same state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StatusWrite {
    progress: Option<i64>,
    status: &'static str,
    update_status: Option<String>,
    /// The new `is_running__release` (a completed update).
    running: Option<i64>,
}

impl StatusWrite {
    fn phase(progress: Option<i64>, status: &'static str, update_status: &str) -> Self {
        StatusWrite {
            progress,
            status,
            update_status: Some(update_status.to_string()),
            running: None,
        }
    }
}

/// The writes of one tick, grouped.
#[derive(Default)]
struct Writes {
    status: HashMap<StatusWrite, Vec<i64>>,
    offline: Vec<i64>,
}

impl Writes {
    fn set(&mut self, id: i64, w: StatusWrite) {
        self.status.entry(w).or_default().push(id);
    }

    fn apply(self, conn: &Connection, now: &str) -> rusqlite::Result<()> {
        for (w, ids) in self.status {
            let ids = serde_json::Value::from(ids).to_string();
            // SQLite evaluates every SET expression on the row as it was.
            conn.prepare_cached(
                "UPDATE t_device SET \"download_progress\" = ?3, \"status\" = ?4, \
                 \"last_update_status_event\" = CASE WHEN \"update_status\" IS ?5 THEN \"last_update_status_event\" ELSE ?2 END, \
                 \"update_status\" = ?5, \"is_running__release\" = COALESCE(?6, \"is_running__release\"), \"modified_at\" = ?2 \
                 WHERE \"id\" IN (SELECT \"value\" FROM json_each(?1))",
            )?
            .execute(rusqlite::params![
                ids,
                now,
                w.progress,
                w.status,
                w.update_status,
                w.running
            ])?;
        }
        if !self.offline.is_empty() {
            let ids = serde_json::Value::from(self.offline).to_string();
            conn.prepare_cached(&format!(
                "UPDATE t_device SET {GO_OFFLINE} WHERE \"id\" IN (SELECT \"value\" FROM json_each(?1))"
            ))?
            .execute(rusqlite::params![ids, now])?;
        }
        Ok(())
    }
}

/// The SET clause that takes a device offline at `?2`.
const GO_OFFLINE: &str = "\"last_connectivity_event\" = CASE WHEN \"is_online\" = 1 THEN ?2 ELSE COALESCE(\"last_connectivity_event\", ?2) END, \
     \"is_online\" = 0, \"api_heartbeat_state\" = 'offline', \"changed_api_heartbeat_state_on__date\" = ?2, \"modified_at\" = ?2";

const IN_PROGRESS: [&str; 3] = ["downloading", "downloaded", "applying changes"];

fn mode_of(fail_tag: Option<&str>, id: i64, opts: &Options) -> Mode {
    match fail_tag {
        Some("reject") => Mode::Reject,
        Some("abort") => Mode::Abort,
        Some("stall") => Mode::Stall,
        Some("offline") => Mode::Offline,
        _ if rejects_by_rate(id, opts.fail_seed, opts.fail_rate) => Mode::Reject,
        _ => Mode::Normal,
    }
}

struct Row {
    id: i64,
    target: Option<i64>,
    running: Option<i64>,
    update_status: Option<String>,
    fail: Option<String>,
    kept_offline: bool,
}

fn step(
    conn: &mut Connection,
    pending: &mut HashMap<i64, Pending>,
    opts: &Options,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let now = db::now();
    // Devices tagged sandbox.offline: offline, whatever they were.
    tx.prepare_cached(&format!(
        "UPDATE t_device SET {GO_OFFLINE} WHERE \"id\" IN \
         (SELECT \"device\" FROM t_device_tag WHERE \"tag_key\" = '{OFFLINE_TAG}') \
         AND (\"is_online\" IS NOT 0 OR \"api_heartbeat_state\" IS NOT 'offline')"
    ))?
    .execute(rusqlite::params![rusqlite::types::Null, now])?;
    // Every other offline device comes online, except a sandbox.fail=offline device that is
    // not on target.
    let target_of_row = schema::DEVICE_TARGET_SQL.replace("{t}", "t_device");
    tx.prepare_cached(&format!(
        "UPDATE t_device SET \"is_online\" = 1, \"api_heartbeat_state\" = 'online', \
         \"changed_api_heartbeat_state_on__date\" = ?1, \"last_connectivity_event\" = ?1, \
         \"status\" = COALESCE(\"status\", 'Idle'), \"modified_at\" = ?1 \
         WHERE (\"is_online\" = 0 OR \"is_online\" IS NULL) AND NOT EXISTS (SELECT 1 FROM t_device_tag _g \
         WHERE _g.\"device\" = t_device.\"id\" AND (_g.\"tag_key\" = '{OFFLINE_TAG}' OR (_g.\"tag_key\" = '{FAIL_TAG}' \
         AND _g.\"value\" = 'offline' AND {target_of_row} IS NOT t_device.\"is_running__release\")))"
    ))?
    .execute([&now])?;

    let target = schema::DEVICE_TARGET_SQL.replace("{t}", "d");
    let sql = format!(
        "SELECT d.\"id\", {target}, d.\"is_running__release\", d.\"update_status\", \
         f.\"value\", o.\"device\" IS NOT NULL \
         FROM t_device d \
         LEFT JOIN t_device_tag f ON f.\"device\" = d.\"id\" AND f.\"tag_key\" = '{FAIL_TAG}' \
         LEFT JOIN t_device_tag o ON o.\"device\" = d.\"id\" AND o.\"tag_key\" = '{OFFLINE_TAG}' \
         WHERE ({target} IS NOT NULL AND {target} IS NOT d.\"is_running__release\") \
         OR d.\"download_progress\" IS NOT NULL OR d.\"update_status\" IN ('downloading', 'downloaded', 'applying changes')"
    );
    let rows: Vec<Row> = {
        let mut stmt = tx.prepare_cached(&sql)?;
        let it = stmt.query_map([], |r| {
            Ok(Row {
                id: r.get(0)?,
                target: r.get(1)?,
                running: r.get(2)?,
                update_status: r.get(3)?,
                fail: r.get(4)?,
                kept_offline: r.get(5)?,
            })
        })?;
        it.collect::<Result<_, _>>()?
    };
    let instant = Instant::now();
    let mut writes = Writes::default();
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    for row in rows {
        seen.insert(row.id);
        if row.kept_offline {
            // Frozen where it is until the tag goes.
            continue;
        }
        let Some(target) = row.target.filter(|t| Some(*t) != row.running) else {
            // Back on target: idle again.
            pending.remove(&row.id);
            let update_status = if row
                .update_status
                .as_deref()
                .is_some_and(|s| IN_PROGRESS.contains(&s))
            {
                Some("done".to_string())
            } else {
                row.update_status
            };
            writes.set(
                row.id,
                StatusWrite {
                    progress: None,
                    status: "Idle",
                    update_status,
                    running: None,
                },
            );
            continue;
        };
        let mode = mode_of(row.fail.as_deref(), row.id, opts);
        let restart = match pending.get(&row.id) {
            None => true,
            Some(e) => {
                e.target != target
                    || (matches!(e.mode, Mode::Stall | Mode::Offline) && e.mode != mode)
            }
        };
        if restart {
            pending.insert(
                row.id,
                Pending {
                    target,
                    since: instant,
                    mode,
                    phase: Phase::Start,
                    progress: None,
                },
            );
        }
        let Some(entry) = pending.get_mut(&row.id) else {
            continue;
        };
        if matches!(
            entry.phase,
            Phase::Rejected | Phase::Aborted | Phase::WentOffline
        ) {
            continue;
        }
        match entry.mode {
            Mode::Reject => {
                entry.phase = Phase::Rejected;
                writes.set(row.id, StatusWrite::phase(None, "Idle", "rejected"));
                continue;
            }
            Mode::Offline => {
                entry.phase = Phase::WentOffline;
                writes.offline.push(row.id);
                continue;
            }
            Mode::Normal | Mode::Abort | Mode::Stall => {}
        }
        let frac = instant.duration_since(entry.since).as_secs_f64()
            / opts.duration.as_secs_f64().max(1e-9);
        let mut wanted = if frac < DOWNLOAD_END {
            Phase::Downloading
        } else if frac < DOWNLOADED_END {
            Phase::Downloaded
        } else if frac < 1.0 {
            Phase::Applying
        } else {
            Phase::Done
        };
        // One phase a tick at most, so that every phase is seen.
        let next = match entry.phase {
            Phase::Start => Phase::Downloading,
            Phase::Downloading => Phase::Downloaded,
            Phase::Downloaded => Phase::Applying,
            _ => Phase::Done,
        };
        wanted = wanted.min(next);
        if entry.mode == Mode::Stall {
            wanted = Phase::Downloading;
        }
        if entry.mode == Mode::Abort && wanted > Phase::Downloading {
            entry.phase = Phase::Aborted;
            writes.set(row.id, StatusWrite::phase(None, "Idle", "aborted"));
            continue;
        }
        match wanted {
            Phase::Downloading => {
                let mut pct = ((frac / DOWNLOAD_END) * 100.0) as i64;
                pct = pct.clamp(0, 100);
                if entry.mode == Mode::Stall {
                    pct = pct.min(STALL_AT);
                }
                if entry.phase != Phase::Downloading || entry.progress != Some(pct) {
                    entry.phase = Phase::Downloading;
                    entry.progress = Some(pct);
                    writes.set(
                        row.id,
                        StatusWrite::phase(Some(pct), "Downloading", "downloading"),
                    );
                }
            }
            Phase::Downloaded if entry.phase != Phase::Downloaded => {
                entry.phase = Phase::Downloaded;
                writes.set(row.id, StatusWrite::phase(None, "Downloaded", "downloaded"));
            }
            Phase::Applying if entry.phase != Phase::Applying => {
                entry.phase = Phase::Applying;
                writes.set(
                    row.id,
                    StatusWrite::phase(None, "Installing", "applying changes"),
                );
            }
            Phase::Done => {
                pending.remove(&row.id);
                writes.set(
                    row.id,
                    StatusWrite {
                        progress: None,
                        status: "Idle",
                        update_status: Some("done".into()),
                        running: Some(target),
                    },
                );
            }
            _ => {}
        }
    }
    pending.retain(|id, _| seen.contains(id));
    writes.apply(&tx, &now)?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_picks_a_stable_fraction() {
        let picked = |seed, rate| {
            (1..=10_000)
                .filter(|&id| rejects_by_rate(id, seed, rate))
                .count()
        };
        assert_eq!(picked(0, 0.0), 0);
        assert_eq!(picked(0, 1.0), 10_000);
        for (seed, rate) in [(0, 0.1), (7, 0.25), (42, 0.5)] {
            let n = picked(seed, rate) as f64 / 10_000.0;
            assert!((n - rate).abs() < 0.03, "seed {seed} rate {rate}: {n}");
        }
        // Another seed, other devices.
        let a: Vec<i64> = (1..=200).filter(|&i| rejects_by_rate(i, 1, 0.5)).collect();
        let b: Vec<i64> = (1..=200).filter(|&i| rejects_by_rate(i, 2, 0.5)).collect();
        assert_ne!(a, b);
        // Fixed values: the choice must not change between versions without notice.
        let first: Vec<i64> = (1..=20).filter(|&i| rejects_by_rate(i, 0, 0.3)).collect();
        assert_eq!(first, [1, 4, 5, 13, 18]);
    }
}
