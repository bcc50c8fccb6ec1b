//! Concurrent bulk pins of one fleet (issue 9, item 3): each write is conditional on the
//! state it was planned from, so a run that lost the race says so, by device, with exit 9,
//! and two runs never both report success while the fleet is split. One run goes through
//! the fault proxy, which holds its PATCHes back while the other run plans and writes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use balena_testkit::fault::{Fault, FaultProxy, Rule};
use serde_json::Value;

use crate::harness::*;

const DEVICES: usize = 1_500;
/// How long the proxy holds the slow run's PATCHes.
const HOLD: Duration = Duration::from_secs(6);

fn scale_sandbox(extra: &[&str]) -> Sandbox {
    let n = DEVICES.to_string();
    let mut args = vec!["--devices", n.as_str(), "--releases", "3"];
    args.extend_from_slice(extra);
    Sandbox::builder()
        .token(TOKEN)
        .request_log()
        .args(&args)
        .start()
}

/// Every device's pin on the server: uuid → release id (None: follows the fleet).
fn server_pins(sb: &Sandbox) -> BTreeMap<String, Option<i64>> {
    let mut out = BTreeMap::new();
    let mut last = 0i64;
    loop {
        let v = sb.get_json(&format!(
            "/v7/device?$select=id,uuid,is_pinned_on__release&$filter=id%20gt%20{last}&$orderby=id%20asc&$top=1000"
        ));
        let rows = v["d"].as_array().expect("rows").clone();
        for r in &rows {
            last = r["id"].as_i64().unwrap();
            let pin = r["is_pinned_on__release"]["__id"].as_i64();
            out.insert(r["uuid"].as_str().unwrap().to_owned(), pin);
        }
        if rows.len() < 1000 {
            return out;
        }
    }
}

/// The uuids a bulk result document reports as failed with `error_name`.
fn failed_with(doc: &Value, error_name: &str) -> Vec<String> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["error"]["name"] == error_name)
        .map(|r| r["device"]["uuid"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn concurrent_bulk_pins_never_both_succeed_on_a_split_fleet() {
    let sb = scale_sandbox(&[]);
    let env_fast = TestEnv::logged_in(&sb);
    let rels = scale_releases(&env_fast);
    let (r_slow, r_fast) = (&rels[0], &rels[1]);
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new("PATCH", "/v7/device", Fault::Delay(HOLD)));
    let env_slow = TestEnv::new(&proxy.base_url);
    env_slow.write_token(TOKEN);

    // The slow run reads the fleet (every device follows it), plans, and its PATCHes are
    // held by the proxy.
    let mark = sb.mark();
    let slow = spawn(
        &env_slow,
        &[
            "device",
            "pin",
            "--fleet",
            "admin/scale-fleet",
            &r_slow.1,
            "--json",
        ],
    );
    let started = Instant::now();
    // Its last page of devices (a short one) has reached the server: it has planned.
    while sb
        .since(mark)
        .iter()
        .filter(|r| r.method == "GET" && r.target().starts_with("/v7/device?"))
        .count()
        < DEVICES.div_ceil(1000)
    {
        assert!(started.elapsed() < Duration::from_secs(30), "no device GET");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));

    // Meanwhile the fast run pins the whole fleet to another release.
    let fast_started = Instant::now();
    let fast = env_fast.run(&[
        "device",
        "pin",
        "--fleet",
        "admin/scale-fleet",
        &r_fast.1,
        "--json",
    ]);
    let fast_took = fast_started.elapsed();
    let (slow_out, slow_err, slow_code) = finish(slow);

    // Every device is in a state one of the commands asked for.
    let pins = server_pins(&sb);
    assert_eq!(pins.len(), DEVICES);
    assert!(
        pins.values()
            .all(|p| *p == Some(r_slow.0) || *p == Some(r_fast.0)),
        "a device in a state nobody asked for"
    );
    let on_slow: Vec<&String> = pins
        .iter()
        .filter(|(_, p)| **p == Some(r_slow.0))
        .map(|(u, _)| u)
        .collect();
    let split = !on_slow.is_empty() && on_slow.len() < DEVICES;
    assert!(
        !(fast.code == 0 && slow_code == Some(0) && split),
        "both runs reported success on a split fleet"
    );

    // A run that did not get its way says so, by device, with exit 9: each conflict it
    // reports is a device that holds the other run's release.
    let slow_doc: Value = serde_json::from_str(&slow_out).expect("the slow run's document");
    let fast_doc = fast.json();
    for (doc, mine, code) in [
        (&slow_doc, r_slow.0, slow_code),
        (&fast_doc, r_fast.0, Some(fast.code)),
    ] {
        let conflicts = failed_with(doc, "BalenaConflict");
        for u in &conflicts {
            assert_ne!(
                pins[u],
                Some(mine),
                "{u} reported as a conflict but holds the release"
            );
        }
        let lost = pins.values().filter(|p| **p != Some(mine)).count();
        if conflicts.is_empty() {
            assert_eq!(code, Some(0), "{doc}");
        } else {
            assert_eq!(code, Some(9), "{doc}");
            assert!(conflicts.len() <= lost);
        }
    }

    // The usual interleaving: the fast run was done before the held PATCHes went on, so
    // the fast run won everywhere, and the slow run reports every device as a conflict,
    // in human words too, and changed nothing.
    if fast_took + Duration::from_millis(500) < HOLD {
        assert_eq!(fast.code, 0, "{}", fast.stderr);
        assert!(on_slow.is_empty());
        assert_eq!(slow_code, Some(9), "{slow_err}");
        assert_eq!(failed_with(&slow_doc, "BalenaConflict").len(), DEVICES);
        assert_eq!(slow_doc["counts"]["changed"], 0, "{slow_doc}");
        let human = slow_err.lines().next().unwrap_or_default();
        assert!(
            human.contains("BalenaConflict") || slow_err.contains("changed by someone else"),
            "{slow_err}"
        );
    }
}

#[test]
fn a_conflict_in_human_output_names_the_device_and_what_it_holds() {
    let sb = scale_sandbox(&[]);
    let env = TestEnv::logged_in(&sb);
    let rels = scale_releases(&env);
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new("PATCH", "/v7/device", Fault::Delay(HOLD)));
    let env_slow = TestEnv::new(&proxy.base_url);
    env_slow.write_token(TOKEN);
    let pins = server_pins(&sb);
    let (first, second) = {
        let mut it = pins.keys();
        (it.next().unwrap().clone(), it.next().unwrap().clone())
    };
    let list = format!("{first},{second}");
    let mark = sb.mark();
    let slow = spawn(&env_slow, &["device", "pin", &list, &rels[0].1]);
    let started = Instant::now();
    // The slow run has read its fleets: it has planned.
    while !sb
        .since(mark)
        .iter()
        .any(|r| r.method == "GET" && r.target().starts_with("/v7/application?"))
    {
        assert!(started.elapsed() < Duration::from_secs(30), "no fleet GET");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    // Someone else pins the first device meanwhile.
    env.run(&["device", "pin", &first, &rels[1].1]).ok();
    let (_, stderr, code) = finish(slow);
    let after = server_pins(&sb);
    assert_eq!(after[&first], Some(rels[1].0), "overwritten: {stderr}");
    assert_eq!(after[&second], Some(rels[0].0), "{stderr}");
    assert_eq!(code, Some(9), "{stderr}");
    let short = &rels[1].1[..7];
    assert!(
        stderr.contains(&format!(
            "error: device {first}: changed by someone else while this command ran (it is now pinned {short}"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("1 of 2 devices failed"), "{stderr}");
}

#[test]
fn a_wait_reports_devices_someone_else_repinned_and_leaves_them_alone() {
    let sb = sandbox_with("e2e-seed.json", &["--simulate-updates", "4s"]);
    let env = TestEnv::logged_in(&sb);
    let mark = sb.mark();
    let waiting = spawn(
        &env,
        &[
            "device",
            "pin",
            "--fleet",
            "acme/frontdoor",
            C102,
            "--wait",
            "--timeout",
            "40s",
            "--json",
        ],
    );
    let started = Instant::now();
    // The pin is made and the wait has polled once.
    while !sb.since(mark).iter().any(|r| {
        r.method == "GET" && r.path == "/v7/device/$count" && r.target().contains("is_online")
    }) {
        assert!(started.elapsed() < Duration::from_secs(30), "no poll");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Someone else pins door-3 to another release meanwhile.
    env.run(&["device", "pin", DOOR3, C101]).ok();
    let (stdout, stderr, code) = finish(waiting);
    assert_eq!(code, Some(9), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("the result document");
    // The pins were made: the document says so, and the wait names door-3.
    assert_eq!(doc["counts"]["changed"], 3, "{doc}");
    let r = &doc["rollout"];
    assert_eq!(r["changed_by_others"], serde_json::json!([DOOR3]), "{doc}");
    assert_eq!(r["behind"], serde_json::json!([]), "{doc}");
    let err: Value = stderr
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON error: {stderr}"));
    assert_eq!(err["error"]["name"], "BalenaConflict", "{stderr}");
    // door-3 is as the other command left it.
    let pins = |u: &str| {
        sb.row(&format!(
            "/v7/device?$select=is_pinned_on__release&$filter=uuid%20eq%20%27{u}%27"
        ))["is_pinned_on__release"]["__id"]
            .as_i64()
    };
    assert_eq!(pins(DOOR3), Some(101));
    assert_eq!(pins(DOOR1), Some(102));
    assert_eq!(pins(DOOR2), Some(102));
}
