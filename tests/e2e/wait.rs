//! `--wait` end to end: the real `balena` against a real `balena-sandbox` started with
//! `--simulate-updates` (every device online, each reaching its target release that long
//! after the target changes).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{sandbox_with, Reads, Sandbox, TestEnv, C102, DOOR1, DOOR2, DOOR3};

/// A sandbox seeded with the e2e fixture, simulating device updates that take `delay`.
fn start(delay: &str) -> Sandbox {
    sandbox_with("e2e-seed.json", &["--simulate-updates", delay])
}

/// `(is_running__release, should_be_running__release)` of a device, as stored.
fn running_and_target(sb: &Sandbox, uuid: &str) -> (Option<i64>, Option<i64>) {
    let d = sb.row(&format!(
        "/v7/device?$select=is_running__release,should_be_running__release&$filter=uuid%20eq%20%27{uuid}%27"
    ));
    (
        d["is_running__release"]["__id"].as_i64(),
        d["should_be_running__release"]["__id"].as_i64(),
    )
}

/// Waits until every device of the fixture's fleet runs its target (the simulation
/// settles the seed's devices first), so a test starts from a known state.
fn settle(sb: &Sandbox) {
    let start = Instant::now();
    loop {
        let v = sb.get_json("/v7/device?$select=id,is_running__release,should_be_running__release&$filter=belongs_to__application%20eq%2010");
        let rows = v["d"].as_array().expect("rows");
        if rows
            .iter()
            .all(|r| r["is_running__release"] == r["should_be_running__release"])
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never settled: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The device polls in the request log (GET /v7/device with the wait's `$select`): their
/// queries.
/// The devices fetched by the wait's polls.
fn fetches(sb: &Sandbox) -> Vec<String> {
    sb.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/v7/device")
        .filter_map(|r| r.query)
        .filter(|q| q.contains("overall_status,is_running__release,should_be_running__release"))
        .collect()
}

/// The wait's polls: one `$count` of the devices pending each (a fleet's devices), or, for
/// a short list, one fetch each.
fn polls(sb: &Sandbox) -> Vec<String> {
    let counts: Vec<String> = sb
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/v7/device/$count")
        .filter_map(|r| r.query)
        .collect();
    if counts.is_empty() {
        fetches(sb)
    } else {
        counts
    }
}

#[test]
fn fleet_pin_wait_returns_once_the_fleets_devices_run_the_release() {
    let sb = start("1s");
    settle(&sb);
    let e = TestEnv::logged_in(&sb);
    let out = e.run(&[
        "fleet",
        "pin",
        "acme/frontdoor",
        C102,
        "--wait",
        "--timeout",
        "60s",
        "--json",
    ]);
    assert_eq!(
        out.code, 0,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    let v: Value = serde_json::from_str(&out.stdout).expect("JSON result");
    let r = &v["rollout"];
    assert_eq!(r["complete"], true, "{v}");
    assert_eq!(r["behind"], serde_json::json!([]));
    // The devices that follow the fleet, not door-1 (pinned to 101).
    let uuids: Vec<&str> = r["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(uuids, [DOOR2, DOOR3]);
    for d in r["devices"].as_array().unwrap() {
        assert_eq!(d["running"], serde_json::json!({"id": 102}), "{d}");
        assert_eq!(d["target"], serde_json::json!({"id": 102}), "{d}");
        assert_eq!(d["on_target"], true);
    }
    // It took about the simulated second, and polled a few times only.
    assert!(r["elapsed_ms"].as_u64().unwrap() >= 900, "{r}");
    let polls = polls(&sb);
    assert!((2..=4).contains(&polls.len()), "{polls:?}");
    assert_eq!(r["polls"].as_u64().unwrap() as usize, polls.len());
    // The devices themselves only when the pending count changed.
    assert!((1..=polls.len()).contains(&fetches(&sb).len()));
    // The server agrees.
    assert_eq!(running_and_target(&sb, DOOR2), (Some(102), Some(102)));
    assert_eq!(running_and_target(&sb, DOOR3), (Some(102), Some(102)));
    assert_eq!(running_and_target(&sb, DOOR1), (Some(101), Some(101)));
}

#[test]
fn device_pin_wait_shows_plain_progress_lines() {
    let sb = start("500ms");
    settle(&sb);
    let e = TestEnv::logged_in(&sb);
    let out = e.run(&["device", "pin", DOOR2, C102, "--wait"]);
    assert_eq!(
        out.code, 0,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    // Not a terminal: one plain line per change in the counts, then the closing line.
    assert!(
        out.stderr.contains("0/1 devices on target"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Done: 1/1 devices on target"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains('\r'),
        "no bar redraws: {:?}",
        out.stderr
    );
    assert_eq!(running_and_target(&sb, DOOR2), (Some(102), Some(102)));
    assert!(polls(&sb).iter().all(|q| q.contains("id%20in%20(1001)")));
}

#[test]
fn wait_timeout_exits_8_and_lists_the_devices_behind() {
    let sb = start("10m");
    let e = TestEnv::logged_in(&sb);
    let started = Instant::now();
    let out = e.run(&[
        "fleet",
        "pin",
        "acme/frontdoor",
        C102,
        "--wait",
        "--timeout",
        "1s",
    ]);
    let took = started.elapsed();
    assert_eq!(
        out.code, 8,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    for uuid in [DOOR2, DOOR3] {
        assert!(
            out.stderr.contains(uuid),
            "{uuid} not listed: {}",
            out.stderr
        );
    }
    assert!(
        !out.stderr.contains(DOOR1),
        "door-1 is pinned: {}",
        out.stderr
    );
    assert!(out.stderr.contains("--timeout"), "{}", out.stderr);
    // The change itself was made; the devices are still behind.
    let fleet = sb.get_json("/v7/application(10)?$select=should_be_running__release");
    assert_eq!(fleet["d"][0]["should_be_running__release"]["__id"], 102);
    assert_ne!(running_and_target(&sb, DOOR2).0, Some(102));
    // One poll at once, one at the deadline.
    assert_eq!(polls(&sb).len(), 2, "{:?}", polls(&sb));
}

#[test]
fn wait_timeout_with_json_reports_every_device() {
    let sb = start("10m");
    let e = TestEnv::logged_in(&sb);
    let out = e.run(&[
        "fleet",
        "pin",
        "acme/frontdoor",
        C102,
        "--wait",
        "--timeout",
        "1s",
        "--json",
    ]);
    assert_eq!(
        out.code, 8,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    let v: Value = serde_json::from_str(&out.stdout).expect("JSON result on stdout");
    let r = &v["rollout"];
    assert_eq!(r["complete"], false);
    assert_eq!(r["behind"], serde_json::json!([DOOR2, DOOR3]));
    assert_eq!(r["offline"], serde_json::json!([]));
    assert_eq!(r["polls"], 2);
    let err_line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("{\"error\""))
        .unwrap_or_else(|| panic!("no JSON error: {}", out.stderr));
    let err: Value = serde_json::from_str(err_line).unwrap();
    assert_eq!(err["error"]["exitCode"], 8);
    assert_eq!(err["error"]["name"], "BalenaWaitTimeout");
}
