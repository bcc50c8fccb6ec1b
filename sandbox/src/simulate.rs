//! `--simulate-updates DURATION`: every device is online, and moves its
//! `is_running__release` to its target DURATION after the target changes, reporting
//! `updating` (with a download progress) in between and `idle` afterwards.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::db;
use crate::http::AppState;
use crate::schema;

struct Pending {
    target: i64,
    since: Instant,
    progress: i64,
}

pub fn spawn(state: Arc<AppState>, delay: Duration) {
    let tick = (delay / 10).clamp(Duration::from_millis(10), Duration::from_millis(200));
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
                let r = st.store.write(|conn| step(conn, &mut p, delay));
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

fn step(
    conn: &mut Connection,
    pending: &mut HashMap<i64, Pending>,
    delay: Duration,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let now = db::now();
    tx.execute(
        "UPDATE t_device SET \"is_online\" = 1, \"api_heartbeat_state\" = 'online', \
         \"last_connectivity_event\" = COALESCE(\"last_connectivity_event\", ?1), \"status\" = COALESCE(\"status\", 'Idle') \
         WHERE \"is_online\" = 0 OR \"is_online\" IS NULL",
        [&now],
    )?;
    let target = schema::DEVICE_TARGET_SQL.replace("{t}", "d");
    let sql = format!(
        "SELECT d.\"id\", {target}, d.\"is_running__release\", d.\"download_progress\" FROM t_device d \
         WHERE {target} IS NOT d.\"is_running__release\" OR d.\"download_progress\" IS NOT NULL"
    );
    let rows: Vec<(i64, Option<i64>, Option<i64>)> = {
        let mut stmt = tx.prepare_cached(&sql)?;
        let it = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        it.collect::<Result<_, _>>()?
    };
    let instant = Instant::now();
    let mut seen = std::collections::HashSet::new();
    for (id, target, running) in rows {
        seen.insert(id);
        let Some(target) = target.filter(|t| Some(*t) != running) else {
            // Back on target (or no target): idle again.
            pending.remove(&id);
            tx.execute(
                "UPDATE t_device SET \"download_progress\" = NULL, \"status\" = 'Idle' WHERE \"id\" = ?1",
                [id],
            )?;
            continue;
        };
        let entry = pending.entry(id).or_insert(Pending {
            target,
            since: instant,
            progress: -1,
        });
        if entry.target != target {
            entry.target = target;
            entry.since = instant;
            entry.progress = -1;
        }
        let elapsed = instant.duration_since(entry.since);
        if elapsed >= delay {
            pending.remove(&id);
            tx.execute(
                "UPDATE t_device SET \"is_running__release\" = ?1, \"download_progress\" = NULL, \"status\" = 'Idle', \
                 \"update_status\" = 'done', \"last_update_status_event\" = ?2 WHERE \"id\" = ?3",
                rusqlite::params![target, now, id],
            )?;
        } else {
            let pct = ((elapsed.as_secs_f64() / delay.as_secs_f64().max(1e-9)) * 100.0) as i64;
            let pct = pct.clamp(0, 99);
            if pct != entry.progress {
                entry.progress = pct;
                tx.execute(
                    "UPDATE t_device SET \"download_progress\" = ?1, \"status\" = 'Downloading', \
                     \"update_status\" = 'downloading', \"last_update_status_event\" = COALESCE(\"last_update_status_event\", ?2) WHERE \"id\" = ?3",
                    rusqlite::params![pct, now, id],
                )?;
            }
        }
    }
    pending.retain(|id, _| seen.contains(id));
    tx.commit()
}
