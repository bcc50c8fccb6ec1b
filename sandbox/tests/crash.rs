//! Crash safety: the sandbox runs on a database file; four client threads fire a burst of
//! pin/unpin PATCHes at many devices; the process is killed with SIGKILL in the middle of
//! the burst; it is restarted on the same file (no re-seeding) and every acknowledged write
//! must be there: for each device, the value of its last PATCH that got a 200 — or, when a
//! PATCH to it was still in flight at the kill, possibly that one's value. Three rounds
//! of burst/kill/restart run on the same file.

mod common;
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::RawClient;

const THREADS: usize = 4;
const DEVICES: u64 = 60;

/// What a device's pin may be after the crash.
#[derive(Debug, Clone, Default)]
struct Expect {
    /// The last acknowledged value (None: no acknowledged write this round).
    acked: Option<Option<i64>>,
    /// A write sent but not answered when the process died.
    in_flight: Option<Option<i64>>,
}

/// Pins of the scale fleet's devices: id → pin.
fn pins(sb: &common::Sandbox, fleet: i64) -> HashMap<i64, Option<i64>> {
    let v = sb.get_json(&format!(
        "/v7/device?$filter=belongs_to__application%20eq%20{fleet}&$select=id,is_pinned_on__release&$orderby=id%20asc"
    ));
    v["d"]
        .as_array()
        .expect("d")
        .iter()
        .map(|d| {
            (
                d["id"].as_i64().unwrap(),
                d["is_pinned_on__release"]["__id"].as_i64(),
            )
        })
        .collect()
}

#[test]
fn acknowledged_pins_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("crash.sqlite");
    let n = DEVICES.to_string();
    let mut sb =
        common::Sandbox::start_on(&db, &["--seed", "demo", "--devices", &n, "--releases", "4"]);

    // The scale fleet, its releases and devices.
    let fleet = sb.get_json(
        "/v7/application?$filter=startswith(app_name,%27scale-fleet%27)&$select=id&$expand=owns__release($select=id;$orderby=id%20asc),owns__device($select=id;$orderby=id%20asc)",
    );
    let fleet = &fleet["d"][0];
    let fleet_id = fleet["id"].as_i64().expect("scale fleet");
    let releases: Vec<Option<i64>> = fleet["owns__release"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64())
        .chain([None]) // unpinning is a write too
        .collect();
    let devices: Vec<i64> = fleet["owns__device"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(devices.len() as u64, DEVICES);
    assert_eq!(releases.len(), 5);

    let mut current = pins(&sb, fleet_id);
    let mut total_acked = 0u64;
    for round in 0..3u64 {
        let expect: Arc<Mutex<HashMap<i64, Expect>>> = Arc::new(Mutex::new(HashMap::new()));
        let acked = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for t in 0..THREADS {
            // Each device belongs to exactly one thread, so its writes are ordered.
            let mine: Vec<i64> = devices
                .iter()
                .copied()
                .filter(|d| (*d as usize) % THREADS == t)
                .collect();
            let (expect, acked, stop, releases) = (
                expect.clone(),
                acked.clone(),
                stop.clone(),
                releases.clone(),
            );
            let base = sb.base_url.clone();
            let key = sb.api_key.clone();
            handles.push(std::thread::spawn(move || {
                let mut c = RawClient::new(&base);
                c.timeout = Duration::from_secs(10);
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut k = round as usize * 7 + t;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    for &d in &mine {
                        k += 1;
                        let pin = releases[(k + d as usize) % releases.len()];
                        expect.lock().unwrap().entry(d).or_default().in_flight = Some(pin);
                        let body = json!({ "is_pinned_on__release": pin });
                        // Alternate the two forms the SDK and the CLI use.
                        let target = if k.is_multiple_of(2) {
                            format!("/v7/device({d})")
                        } else {
                            format!("/v7/device?$filter=id%20in%20({d})")
                        };
                        match c.send_json("PATCH", &target, Some(&key), &body) {
                            Ok(r) => {
                                assert_eq!(r.status, 200, "PATCH {target} {body}: {}", r.text());
                                let mut e = expect.lock().unwrap();
                                let e = e.get_mut(&d).unwrap();
                                e.acked = Some(pin);
                                e.in_flight = None;
                                acked.fetch_add(1, Ordering::Relaxed);
                            }
                            // The server is gone: the in-flight write may or may not be in.
                            Err(_) => return,
                        }
                    }
                }
            }));
        }
        // Let the burst run, then kill -9 in the middle of it.
        // (a different point of the burst each round)
        let kill_after = 300 + round * 450;
        let start = Instant::now();
        while acked.load(Ordering::Relaxed) < kill_after
            && start.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        sb.kill();
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().expect("burst thread panicked");
        }
        let n_acked = acked.load(Ordering::Relaxed);
        assert!(
            n_acked >= kill_after,
            "round {round}: only {n_acked} writes before the kill"
        );
        total_acked += n_acked;

        // Restart on the same file, without seeding.
        sb = common::Sandbox::start_on(&db, &[]);
        let after = pins(&sb, fleet_id);
        assert_eq!(after.len() as u64, DEVICES, "devices lost");
        let expect = expect.lock().unwrap();
        let mut in_flight = 0;
        let mut lost = Vec::new();
        for &d in &devices {
            let e = expect.get(&d).cloned().unwrap_or_default();
            let got = after[&d];
            let base = e.acked.unwrap_or(current[&d]);
            if e.in_flight.is_some() {
                in_flight += 1;
            }
            if got != base && Some(got) != e.in_flight {
                lost.push(format!(
                    "device {d}: last acknowledged pin {base:?} (in flight: {:?}), read back {got:?}",
                    e.in_flight
                ));
            }
        }
        eprintln!(
            "crash: round {round}: {n_acked} acknowledged PATCHes, {in_flight} in flight at kill -9, {} devices checked",
            devices.len()
        );
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged writes lost after kill -9:\n{}",
            lost.join("\n")
        );
        current = after;
    }

    // The restarted server is fully usable: reads, a pin and its effect.
    let d0 = devices[0];
    let (s, body) = sb.send(
        "PATCH",
        &format!("/v7/device({d0})"),
        Some(&sb.api_key),
        Some(&json!({"is_pinned_on__release": releases[0]})),
    );
    assert_eq!((s, body.as_str()), (200, ""));
    let v: Value = sb.get_json(&format!(
        "/v7/device({d0})?$select=id&$expand=should_be_running__release($select=id)"
    ));
    assert_eq!(
        v["d"][0]["should_be_running__release"][0]["id"].as_i64(),
        releases[0]
    );
    eprintln!("crash: {total_acked} acknowledged PATCHes over 3 kill -9 rounds, none lost");
}
