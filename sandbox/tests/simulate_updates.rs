//! `--simulate-updates`: the phases of an update, the `sandbox.fail` and `sandbox.offline`
//! tags, and `--fail-rate`, against the real binary (loopback, bounded waits).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::Sandbox;
use serde_json::{json, Value};

/// Generous: the machine running the tests may be busy.
const LIMIT: Duration = Duration::from_secs(30);

const DEVICES: &str = "/v7/device?$orderby=id%20asc&$select=id,is_online,api_heartbeat_state,last_connectivity_event,update_status,last_update_status_event,download_progress,status,overall_status,is_running__release";

/// A fleet (id 1) on release 1 of three, not tracking latest, and one device per entry of
/// `tags` (ids from 1), each running release 1 with those tags.
fn fixture(dir: &std::path::Path, tags: &[Value]) -> String {
    let releases: Vec<Value> = (1..=3)
        .map(|i| {
            json!({"id": i, "belongs_to__application": 1, "commit": format!("c{i:031}"),
                   "status": "success", "semver": format!("1.{i}.0"),
                   "start_timestamp": format!("2026-01-0{i}T00:00:00.000Z")})
        })
        .collect();
    let devices: Vec<Value> = tags
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": i + 1, "uuid": format!("{:032x}", 0xde1ce000_u64 + i as u64 + 1),
                   "belongs_to__application": 1, "is_of__device_type": "raspberrypi4-64",
                   "is_running__release": 1, "tags": t})
        })
        .collect();
    let fixture = json!({
        "applications": [{"id": 1, "app_name": "rollout", "organization": "admin",
                          "is_for__device_type": "raspberrypi4-64",
                          "should_track_latest_release": false, "should_be_running__release": 1}],
        "releases": releases,
        "devices": devices,
    });
    let path = dir.join("rollout.json");
    std::fs::write(&path, fixture.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

fn start(dir: &std::path::Path, tags: &[Value], extra: &[&str]) -> Sandbox {
    let seed = fixture(dir, tags);
    Sandbox::builder()
        .seed(&seed)
        .args(&[&["--simulate-updates"], extra].concat())
        .start()
}

/// Every device, by id.
fn devices(sb: &Sandbox) -> BTreeMap<i64, Value> {
    sb.get_json(DEVICES)["d"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["id"].as_i64().unwrap(), d.clone()))
        .collect()
}

fn running(d: &Value) -> Option<i64> {
    d["is_running__release"]["__id"].as_i64()
}

/// Polls until `done` holds for the devices (bounded), calling `watch` on every poll.
fn wait_until(
    sb: &Sandbox,
    what: &str,
    mut watch: impl FnMut(&BTreeMap<i64, Value>),
    done: impl Fn(&BTreeMap<i64, Value>) -> bool,
) -> BTreeMap<i64, Value> {
    let start = Instant::now();
    loop {
        let d = devices(sb);
        watch(&d);
        if done(&d) {
            return d;
        }
        assert!(start.elapsed() < LIMIT, "{what}: still {d:#?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn set_fleet_target(sb: &Sandbox, release: i64) {
    let (s, body) = sb.send(
        "PATCH",
        "/v7/application(1)",
        Some(&sb.api_key),
        Some(&json!({"should_be_running__release": release})),
    );
    assert_eq!(s, 200, "{body}");
}

fn untag(sb: &Sandbox, device: i64, key: &str) {
    let (s, body) = sb.send(
        "DELETE",
        &format!(
            "/v7/device_tag?$filter=device%20eq%20{device}%20and%20tag_key%20eq%20%27{key}%27"
        ),
        Some(&sb.api_key),
        None,
    );
    assert_eq!(s, 200, "{body}");
}

/// The distinct (update_status, last_update_status_event) pairs a device showed, in order.
#[derive(Default)]
struct Trail(Vec<(Value, Value)>, Vec<i64>);

impl Trail {
    fn see(&mut self, d: &Value) {
        let step = (
            d["update_status"].clone(),
            d["last_update_status_event"].clone(),
        );
        if self.0.last() != Some(&step) {
            self.0.push(step);
        }
        if let Some(p) = d["download_progress"].as_i64() {
            if self.1.last() != Some(&p) {
                self.1.push(p);
            }
        }
    }
    fn statuses(&self) -> Vec<&str> {
        self.0.iter().filter_map(|(s, _)| s.as_str()).collect()
    }
}

#[test]
fn an_update_walks_its_phases_and_ends_done() {
    let dir = tempfile::tempdir().unwrap();
    let sb = start(
        dir.path(),
        &[json!({}), json!({"sandbox.fail": "bogus"})],
        &["1s"],
    );
    wait_until(
        &sb,
        "online",
        |_| {},
        |d| d.values().all(|d| d["is_online"] == true),
    );
    let before = devices(&sb);
    assert_eq!(before[&1]["api_heartbeat_state"], "online");
    assert_eq!(before[&1]["status"], "Idle");
    assert_eq!(before[&1]["overall_status"], "idle");
    assert!(before[&1]["last_connectivity_event"].is_string());

    set_fleet_target(&sb, 2);
    let mut trails: BTreeMap<i64, Trail> = BTreeMap::new();
    let mut overall = Vec::new();
    let after = wait_until(
        &sb,
        "both devices on release 2",
        |d| {
            for (id, dev) in d {
                trails.entry(*id).or_default().see(dev);
            }
            let o = d[&1]["overall_status"].clone();
            if overall.last() != Some(&o) {
                overall.push(o);
            }
        },
        |d| d.values().all(|d| running(d) == Some(2)),
    );
    for id in [1, 2] {
        let t = &trails[&id];
        // null (never updated), then the four phases in order.
        assert_eq!(
            t.statuses(),
            ["downloading", "downloaded", "applying changes", "done"],
            "device {id}: {:?}",
            t.0
        );
        // A new last_update_status_event at each change, never going back.
        let events: Vec<&str> = t.0.iter().filter_map(|(_, e)| e.as_str()).collect();
        assert_eq!(events.len(), 4, "device {id}: {:?}", t.0);
        assert!(
            events.windows(2).all(|w| w[0] < w[1]),
            "device {id}: {events:?}"
        );
        // The download progress only grows, within 0..=100.
        assert!(!t.1.is_empty(), "device {id}");
        assert!(
            t.1.windows(2).all(|w| w[0] < w[1]),
            "device {id}: {:?}",
            t.1
        );
        assert!(t.1.iter().all(|p| (0..=100).contains(p)), "{:?}", t.1);
        let d = &after[&id];
        assert_eq!(d["update_status"], "done");
        assert_eq!(d["status"], "Idle");
        assert_eq!(d["download_progress"], Value::Null);
        assert_eq!(d["is_online"], true);
    }
    assert_eq!(overall, [json!("idle"), json!("updating"), json!("idle")]);
}

#[test]
fn sandbox_fail_and_sandbox_offline_tags() {
    let dir = tempfile::tempdir().unwrap();
    let tags = [
        json!({}),                          // 1: updates
        json!({"sandbox.fail": "reject"}),  // 2
        json!({"sandbox.fail": "abort"}),   // 3
        json!({"sandbox.fail": "offline"}), // 4
        json!({"sandbox.fail": "stall"}),   // 5
        json!({"sandbox.offline": ""}),     // 6
    ];
    let sb = start(dir.path(), &tags, &["600ms"]);
    // Everyone online but the sandbox.offline device, which is offline from the start.
    let d = wait_until(
        &sb,
        "start-up connectivity",
        |_| {},
        |d| {
            d.iter().all(|(id, d)| {
                d["is_online"] == (*id != 6)
                    && d["api_heartbeat_state"] == if *id == 6 { "offline" } else { "online" }
            })
        },
    );
    assert_eq!(d[&6]["overall_status"], "offline");
    assert!(d[&6]["last_connectivity_event"].is_string());

    set_fleet_target(&sb, 2);
    let mut trails: BTreeMap<i64, Trail> = BTreeMap::new();
    let d = wait_until(
        &sb,
        "the first update settled",
        |d| {
            for (id, dev) in d {
                trails.entry(*id).or_default().see(dev);
            }
        },
        |d| {
            running(&d[&1]) == Some(2)
                && d[&2]["update_status"] == "rejected"
                && d[&3]["update_status"] == "aborted"
                && d[&4]["is_online"] == false
                && d[&5]["download_progress"] == 50
        },
    );
    // reject: at once, online, on its old release.
    assert_eq!(trails[&2].statuses(), ["rejected"]);
    assert_eq!(
        (running(&d[&2]), &d[&2]["is_online"], &d[&2]["status"]),
        (Some(1), &json!(true), &json!("Idle"))
    );
    assert_eq!(d[&2]["overall_status"], "idle");
    // abort: after downloading.
    assert_eq!(trails[&3].statuses(), ["downloading", "aborted"]);
    assert_eq!(running(&d[&3]), Some(1));
    assert_eq!(d[&3]["download_progress"], Value::Null);
    // offline: gone offline, not updated.
    assert_eq!(d[&4]["api_heartbeat_state"], "offline");
    assert!(d[&4]["last_connectivity_event"].is_string());
    assert_eq!(d[&4]["overall_status"], "offline");
    assert_eq!(
        (running(&d[&4]), &d[&4]["update_status"]),
        (Some(1), &Value::Null)
    );
    // stall: downloading at 50 %.
    assert_eq!(d[&5]["update_status"], "downloading");
    assert_eq!(d[&5]["overall_status"], "updating");
    // sandbox.offline: never touched.
    assert_eq!(
        (running(&d[&6]), &d[&6]["update_status"]),
        (Some(1), &Value::Null)
    );
    assert_eq!(d[&6]["is_online"], false);

    // Two more update durations change nothing for the failed devices.
    std::thread::sleep(Duration::from_millis(1200));
    let later = devices(&sb);
    for id in [2, 3, 4, 5, 6] {
        for f in [
            "update_status",
            "last_update_status_event",
            "download_progress",
            "is_online",
            "is_running__release",
        ] {
            assert_eq!(later[&id][f], d[&id][f], "device {id} {f}");
        }
    }

    // Untagged: the stalled and the offline device resume and update; the rejection stands
    // for this target.
    for (id, key) in [
        (2, "sandbox.fail"),
        (4, "sandbox.fail"),
        (5, "sandbox.fail"),
    ] {
        untag(&sb, id, key);
    }
    let d = wait_until(
        &sb,
        "the untagged stall and offline devices updated",
        |_| {},
        |d| running(&d[&4]) == Some(2) && running(&d[&5]) == Some(2),
    );
    assert_eq!(d[&4]["is_online"], true);
    assert_eq!(d[&4]["update_status"], "done");
    assert_eq!(d[&2]["update_status"], "rejected");
    assert_eq!(running(&d[&2]), Some(1));

    // A new target: the untagged device updates, the still-tagged one aborts again.
    let aborted_at = d[&3]["last_update_status_event"].clone();
    set_fleet_target(&sb, 3);
    let d = wait_until(
        &sb,
        "the second update settled",
        |_| {},
        |d| {
            [1, 2, 4, 5].iter().all(|id| running(&d[id]) == Some(3))
                && d[&3]["update_status"] == "aborted"
                && d[&3]["last_update_status_event"] != aborted_at
        },
    );
    assert_eq!(running(&d[&3]), Some(1));
    assert_eq!(running(&d[&6]), Some(1));
    assert_eq!(d[&6]["is_online"], false);

    // The sandbox.offline device, untagged, comes online and updates.
    untag(&sb, 6, "sandbox.offline");
    wait_until(
        &sb,
        "the untagged offline device",
        |_| {},
        |d| running(&d[&6]) == Some(3) && d[&6]["is_online"] == true,
    );
}

#[test]
fn a_target_back_to_the_running_release_makes_the_device_idle() {
    let dir = tempfile::tempdir().unwrap();
    let tags = [
        json!({"sandbox.fail": "stall"}),   // 1
        json!({"sandbox.fail": "offline"}), // 2
        json!({"sandbox.fail": "reject"}),  // 3
    ];
    let sb = start(dir.path(), &tags, &["300ms"]);
    wait_until(
        &sb,
        "online",
        |_| {},
        |d| d.values().all(|d| d["is_online"] == true),
    );
    set_fleet_target(&sb, 2);
    wait_until(
        &sb,
        "failed",
        |_| {},
        |d| {
            d[&1]["download_progress"] == 50
                && d[&2]["is_online"] == false
                && d[&3]["update_status"] == "rejected"
        },
    );
    // Pin every device to the release it runs.
    let (s, body) = sb.send(
        "PATCH",
        "/v7/device?$filter=belongs_to__application%20eq%201",
        Some(&sb.api_key),
        Some(&json!({"is_pinned_on__release": 1})),
    );
    assert_eq!(s, 200, "{body}");
    let d = wait_until(
        &sb,
        "idle",
        |_| {},
        |d| d.values().all(|d| d["overall_status"] == "idle"),
    );
    // The stalled download ends: done, as the device runs its target.
    assert_eq!(d[&1]["update_status"], "done");
    assert_eq!(d[&1]["download_progress"], Value::Null);
    assert_eq!(d[&1]["status"], "Idle");
    // The offline device is back online, its update_status untouched.
    assert_eq!(d[&2]["is_online"], true);
    assert_eq!(d[&2]["api_heartbeat_state"], "online");
    assert_eq!(d[&2]["update_status"], Value::Null);
    // The rejection stays as it was.
    assert_eq!(d[&3]["update_status"], "rejected");
    assert!(d.values().all(|d| running(d) == Some(1)));
}

/// The devices that rejected release 2 under `--fail-rate 0.4` with `seed`.
fn rejected_with_seed(seed: &str) -> Vec<i64> {
    let dir = tempfile::tempdir().unwrap();
    let tags = vec![json!({}); 30];
    let sb = start(
        dir.path(),
        &tags,
        &["200ms", "--fail-rate", "0.4", "--fail-seed", seed],
    );
    wait_until(
        &sb,
        "online",
        |_| {},
        |d| d.values().all(|d| d["is_online"] == true),
    );
    set_fleet_target(&sb, 2);
    let d = wait_until(
        &sb,
        "every device updated or rejected",
        |_| {},
        |d| {
            d.values()
                .all(|d| running(d) == Some(2) || d["update_status"] == "rejected")
        },
    );
    d.iter()
        .filter(|(_, d)| d["update_status"] == "rejected")
        .map(|(id, d)| {
            assert_eq!(running(d), Some(1));
            *id
        })
        .collect()
}

#[test]
fn fail_rate_rejects_the_same_devices_on_every_run() {
    let expected = |seed| -> Vec<i64> {
        (1..=30)
            .filter(|&id| balena_sandbox::rejects_by_rate(id, seed, 0.4))
            .collect()
    };
    let first = rejected_with_seed("9");
    assert_eq!(first, expected(9));
    assert!(!first.is_empty() && first.len() < 30, "{first:?}");
    assert_eq!(rejected_with_seed("9"), first);
    let other = rejected_with_seed("10");
    assert_eq!(other, expected(10));
    assert_ne!(other, first);
}
