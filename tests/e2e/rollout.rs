//! `fleet rollout` against the sandbox with simulated updates (`--simulate-updates`): waves,
//! health gates, rollback, resume from another HOME, abort from elsewhere, stepping,
//! conflicts, dry runs. The fixture is `tests/fixtures/e2e-rollout-seed.json`:
//!
//! - `acme/greenhouse` (50) is pinned to 1.0.0 (501); 1.1.0 (502) is the release rolled
//!   out. Its devices: two tagged `ring=canary` (5000, 5001), `gh-old` pinned to 0.9.0
//!   (5002), `gh-early` pinned to 1.1.0 already (5003), `gh-flaky` tagged `ring=flaky`
//!   (5004), and five that follow the fleet (5005–5009). All run 1.0.0 (or their pin).
//! - `acme/orchard` (60) tracks the latest release but targets 2.0.0 (601); 2.1.0 (602) is a
//!   draft, 2.2.0 (603) a final release newer than the target. Its devices: one tagged
//!   `ring=canary` (6000) and three more (6001–6003).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{finish, sandbox_with, spawn, Reads, Sandbox, TestEnv};

const GREENHOUSE: i64 = 50;
const ORCHARD: i64 = 60;
const FLAKY: &str = "f1a50000000000000000000000005004";
const GH_OLD: &str = "0e500000000000000000000000005002";
const GH_EARLY: &str = "9e500000000000000000000000005003";
const GH_6: &str = "d5060000000000000000000000005006";

fn start(update: &str) -> Sandbox {
    sandbox_with("e2e-rollout-seed.json", &["--simulate-updates", update])
}

/// Every device of a fleet: uuid → (pin, running release).
fn devices(sb: &Sandbox, fleet: i64) -> BTreeMap<String, (Option<i64>, Option<i64>)> {
    let v = sb.get_json(&format!(
        "/v7/device?$select=uuid,is_pinned_on__release,is_running__release&$filter=belongs_to__application%20eq%20{fleet}"
    ));
    v["d"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|d| {
            (
                d["uuid"].as_str().expect("uuid").to_owned(),
                (
                    d["is_pinned_on__release"]["__id"].as_i64(),
                    d["is_running__release"]["__id"].as_i64(),
                ),
            )
        })
        .collect()
}

/// The pins of a fleet's devices.
fn pins(sb: &Sandbox, fleet: i64) -> BTreeMap<String, Option<i64>> {
    devices(sb, fleet)
        .into_iter()
        .map(|(u, (p, _))| (u, p))
        .collect()
}

/// The fleet's rollout tag, if any.
fn tag(sb: &Sandbox, fleet: i64) -> Option<String> {
    let v = sb.get_json(&format!(
        "/v7/application_tag?$select=value&$filter=(application%20eq%20{fleet})%20and%20(tag_key%20eq%20%27balena-rs.rollout%27)"
    ));
    v["d"]
        .as_array()
        .expect("rows")
        .first()
        .map(|r| r["value"].as_str().expect("value").to_owned())
}

/// Waits (bounded) until the fleet's rollout state contains `needle` (e.g. `;w=1;st=g`).
fn wait_for_tag(sb: &Sandbox, fleet: i64, needle: &str) {
    let t0 = Instant::now();
    loop {
        if tag(sb, fleet).is_some_and(|t| t.contains(needle)) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the rollout state never held {needle:?}: {:?}",
            tag(sb, fleet)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tag_device(sb: &Sandbox, device: i64, key: &str, value: &str) {
    let (status, body) = sb.send(
        "POST",
        "/v7/device_tag",
        Some(&sb.api_key),
        Some(&json!({"device": device, "tag_key": key, "value": value})),
    );
    assert_eq!(status, 201, "{body}");
}

fn status_json(sb: &Sandbox, fleet: &str) -> Value {
    let e = TestEnv::logged_in(sb);
    let out = e.run(&["fleet", "rollout", "status", fleet, "--json"]);
    out.ok();
    out.json()
}

/// The end state of a successful greenhouse rollout of 1.1.0.
fn assert_greenhouse_rolled_out(sb: &Sandbox) {
    assert_eq!(sb.fleet_policy(GREENHOUSE), (false, Some(502)));
    for (uuid, (pin, running)) in devices(sb, GREENHOUSE) {
        match uuid.as_str() {
            GH_OLD => assert_eq!((pin, running), (Some(509), Some(509)), "{uuid}"),
            GH_EARLY => assert_eq!((pin, running), (Some(502), Some(502)), "{uuid}"),
            _ => {
                assert_eq!(pin, None, "{uuid} keeps no pin");
                // The last wave's devices may still be finishing their update.
            }
        }
    }
}

/// Waits (bounded) until every device of the fleet that follows it runs `release`.
fn wait_running(sb: &Sandbox, fleet: i64, release: i64) {
    let t0 = Instant::now();
    loop {
        let all = devices(sb, fleet);
        if all
            .values()
            .filter(|(p, _)| p.is_none())
            .all(|(_, r)| *r == Some(release))
        {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{all:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_rollout_of_canaries_then_50_and_100_percent_succeeds() {
    let sb = start("300ms");
    let e = TestEnv::logged_in(&sb);
    let out = e.run(&[
        "fleet",
        "rollout",
        "acme/greenhouse",
        "1.1.0",
        "--canary",
        "ring=canary",
        "--steps",
        "50%,100%",
        "--soak",
        "300ms",
        "--json",
    ]);
    out.ok();
    let v = out.json();
    assert_eq!(v["result"], "completed", "{v}");
    let waves = v["waves"].as_array().expect("waves");
    let labels: Vec<&str> = waves.iter().map(|w| w["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["canary ring=canary", "step 50%", "step 100%"]);
    let uuids = |w: &Value| -> Vec<String> {
        w["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["uuid"].as_str().unwrap()[..4].to_owned())
            .collect()
    };
    assert_eq!(uuids(&waves[0]), ["ca50", "ca50"]);
    // The six other devices that follow the fleet, in id order: 3 and 3.
    assert_eq!(uuids(&waves[1]), ["f1a5", "d505", "d506"]);
    assert_eq!(uuids(&waves[2]), ["d507", "d508", "d509"]);
    assert!(waves.iter().all(|w| w["healthy"] == true), "{v}");
    assert_eq!(v["left_alone"][0]["uuid"], GH_OLD);
    assert_eq!(v["pinned_before"], 1);
    assert_eq!(
        v["fleet_after"],
        json!({"tracking_latest": false, "release": "b502000 (1.1.0)"})
    );
    // Progress went to stderr.
    assert!(out.stderr.contains("wave 2/3 (step 50%)"), "{}", out.stderr);
    assert_greenhouse_rolled_out(&sb);
    wait_running(&sb, GREENHOUSE, 502);
    // The state says done, and status shows it from anywhere.
    let s = status_json(&sb, "acme/greenhouse");
    assert_eq!(s["phase"], "completed", "{s}");
    assert_eq!(s["in_progress"], false);
    // Rolling out the release the fleet now targets is a no-op that says so.
    let again = e.run(&["fleet", "rollout", "acme/greenhouse", "1.1.0"]);
    again.ok();
    assert!(
        again
            .stdout
            .contains("the fleet already targets b502000 (1.1.0)"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_failing_canary_rolls_back_with_exit_11_and_names_the_device() {
    let sb = start("300ms");
    tag_device(&sb, 5004, "sandbox.fail", "reject");
    let pins_before = pins(&sb, GREENHOUSE);
    let e = TestEnv::logged_in(&sb);
    let out = e.run(&[
        "fleet",
        "rollout",
        "acme/greenhouse",
        "1.1.0",
        "--canary",
        "ring=flaky",
        "--soak",
        "300ms",
        "--json",
    ]);
    out.code(11);
    let v = out.json();
    assert_eq!(v["result"], "rolled back", "{v}");
    let failed = &v["waves"][0]["failed"][0];
    assert_eq!(failed["device"]["uuid"], FLAKY, "{v}");
    assert_eq!(failed["reason"], "rejected");
    assert!(
        out.stderr.contains("BalenaRolloutRolledBack"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(FLAKY), "{}", out.stderr);
    // Every pin and the fleet's target are as before.
    assert_eq!(pins(&sb, GREENHOUSE), pins_before);
    assert_eq!(sb.fleet_policy(GREENHOUSE), (false, Some(501)));
    let s = status_json(&sb, "acme/greenhouse");
    assert_eq!(s["phase"], "aborted and rolled back", "{s}");
    // The human form names it too.
    let text = e.run(&["fleet", "rollout", "status", "acme/greenhouse"]);
    text.ok();
    assert!(
        text.stdout.contains("aborted and rolled back"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_killed_rollout_resumes_from_another_home_and_status_shows_it_from_a_third() {
    let sb = start("2s");
    let args = [
        "fleet",
        "rollout",
        "acme/greenhouse",
        "1.1.0",
        "--canary",
        "ring=canary",
        "--steps",
        "50%,100%",
        "--soak",
        "200ms",
    ];
    let first = TestEnv::logged_in(&sb);
    let mut child = spawn(&first, &args);
    // In the middle of the second wave: pinned, its devices updating.
    wait_for_tag(&sb, GREENHOUSE, ";w=1;st=g");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let mid = pins(&sb, GREENHOUSE);
    assert_eq!(mid[FLAKY], Some(502), "the second wave is pinned: {mid:?}");
    assert_eq!(mid["d5090000000000000000000000005009"], None, "{mid:?}");
    // A third HOME sees the same progress.
    let s = status_json(&sb, "acme/greenhouse");
    assert_eq!(s["phase"], "in progress", "{s}");
    assert_eq!(s["wave"], 1);
    assert_eq!(s["waves"][0]["on_target"], 2, "{s}");
    assert_eq!(s["waves"][1]["devices"], 3, "{s}");
    // Another HOME continues it (the same command), to the end.
    let second = TestEnv::logged_in(&sb);
    let out = second.run(&args);
    out.ok();
    assert!(
        out.stderr.contains("continuing the rollout at wave 2 of 3"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains(": completed"), "{}", out.stdout);
    assert_greenhouse_rolled_out(&sb);
}

#[test]
fn abort_from_another_invocation_rolls_back_a_rollout_in_progress() {
    let sb = start("30s");
    let pins_before = pins(&sb, GREENHOUSE);
    let runner = TestEnv::logged_in(&sb);
    let child = spawn(
        &runner,
        &[
            "fleet",
            "rollout",
            "acme/greenhouse",
            "1.1.0",
            "--canary",
            "ring=canary",
        ],
    );
    wait_for_tag(&sb, GREENHOUSE, ";w=0;st=g");
    assert_eq!(
        pins(&sb, GREENHOUSE)["ca500000000000000000000000005000"],
        Some(502)
    );
    let other = TestEnv::logged_in(&sb);
    let out = other.run(&["fleet", "rollout", "abort", "acme/greenhouse"]);
    out.ok();
    assert!(
        out.stdout.contains("aborted and rolled back"),
        "{}",
        out.stdout
    );
    // The run in progress sees it, and stops with the rollback's exit code.
    let (stdout, stderr, code) = finish(child);
    assert_eq!(code, Some(11), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("aborted with `balena fleet rollout abort`"),
        "{stderr}"
    );
    assert_eq!(pins(&sb, GREENHOUSE), pins_before);
    assert_eq!(sb.fleet_policy(GREENHOUSE), (false, Some(501)));
    // Nothing is in progress now: a second abort says so.
    other
        .run(&["fleet", "rollout", "abort", "acme/greenhouse"])
        .code(4)
        .stderr_has("BalenaNoRollout");
}

#[test]
fn a_draft_on_a_fleet_that_tracked_latest_keeps_the_others_on_the_old_release() {
    let sb = start("300ms");
    let e = TestEnv::logged_in(&sb);
    let args = [
        "fleet",
        "rollout",
        "acme/orchard",
        "2.1.0",
        "--canary",
        "ring=canary",
        "--steps",
        "100%",
        "--soak",
        "300ms",
        "--next",
    ];
    let one = e.run(&args);
    one.ok();
    assert!(one.stderr.contains("is a draft"), "{}", one.stderr);
    // After the canary: the fleet is frozen on its target, the others stay on it.
    assert_eq!(sb.fleet_policy(ORCHARD), (false, Some(601)));
    for (uuid, (pin, running)) in devices(&sb, ORCHARD) {
        if uuid.starts_with("a600") {
            assert_eq!((pin, running), (Some(602), Some(602)), "{uuid}");
        } else {
            assert_eq!((pin, running), (None, Some(601)), "{uuid}");
        }
    }
    let two = e.run(&args);
    two.ok();
    assert!(
        two.stdout.contains("Fleet now: pinned to d602000"),
        "{}",
        two.stdout
    );
    assert_eq!(sb.fleet_policy(ORCHARD), (false, Some(602)));
    assert!(pins(&sb, ORCHARD).values().all(Option::is_none));
    wait_running(&sb, ORCHARD, 602);
}

#[test]
fn a_final_release_that_is_now_the_latest_tracks_latest_again() {
    let sb = start("300ms");
    let e = TestEnv::logged_in(&sb);
    let out = e.run(&[
        "fleet",
        "rollout",
        "acme/orchard",
        "2.2.0",
        "--steps",
        "50%,100%",
        "--soak",
        "200ms",
    ]);
    out.ok();
    assert!(
        out.stdout
            .contains("Fleet now: tracking the latest release (f603000 (2.2.0))"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("froze fleet acme/orchard on a601000"),
        "{}",
        out.stderr
    );
    assert_eq!(sb.fleet_policy(ORCHARD), (true, Some(603)));
    assert!(pins(&sb, ORCHARD).values().all(Option::is_none));
}

#[test]
fn dry_run_prints_the_waves_and_sends_no_write() {
    let sb = start("300ms");
    let e = TestEnv::logged_in(&sb);
    let before = (pins(&sb, GREENHOUSE), sb.fleet_policy(GREENHOUSE));
    let mark = sb.mark();
    let out = e.run(&[
        "fleet",
        "rollout",
        "acme/greenhouse",
        "1.1.0",
        "--canary",
        "ring=canary",
        "--canary",
        "d5090000",
        "--steps",
        "2,100%",
        "--dry-run",
    ]);
    out.ok();
    let sent = sb.since(mark);
    assert!(!sent.is_empty());
    let writes: Vec<String> = sent
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| r.line())
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!((pins(&sb, GREENHOUSE), sb.fleet_policy(GREENHOUSE)), before);
    assert_eq!(tag(&sb, GREENHOUSE), None);
    let t = &out.stdout;
    assert!(t.contains("nothing was changed (dry run)"), "{t}");
    // Waves in order, with their devices in order.
    let order = [
        "Wave 1/4 (canary ring=canary): 2 devices",
        "gh-canary-1",
        "Wave 2/4 (canary d509000): 1 device",
        "gh-9",
        "Wave 3/4 (step 2): 2 devices",
        "gh-flaky",
        "gh-5",
        "Wave 4/4 (step 100%): 3 devices",
        "gh-6",
        "gh-8",
        "Left alone (pinned to another release): 1 device",
        "gh-old",
    ];
    let mut at = 0;
    for o in order {
        let i = t[at..]
            .find(o)
            .unwrap_or_else(|| panic!("{o:?} in order in:\n{t}"));
        at += i + o.len();
    }
}

#[test]
fn next_advances_exactly_one_wave_per_call() {
    let sb = start("200ms");
    let e = TestEnv::logged_in(&sb);
    let args = [
        "fleet",
        "rollout",
        "acme/greenhouse",
        "1.1.0",
        "--canary",
        "ring=canary",
        "--steps",
        "50%,100%",
        "--soak",
        "200ms",
        "--next",
        "--json",
    ];
    let pinned_502 = |sb: &Sandbox| {
        pins(sb, GREENHOUSE)
            .into_iter()
            .filter(|(u, p)| *p == Some(502) && u != GH_EARLY)
            .count()
    };
    let one = e.run(&args);
    one.ok();
    assert_eq!(one.json()["result"], "stepped");
    assert_eq!(one.json()["waves"][0]["started"], true);
    assert_eq!(one.json()["waves"][1]["started"], false);
    assert_eq!(pinned_502(&sb), 2);
    assert_eq!(status_json(&sb, "acme/greenhouse")["wave"], 0);
    // A second rollout (another release) is refused while this one is in progress.
    let refused = e.run(&["fleet", "rollout", "acme/greenhouse", "0.9.0"]);
    refused.code(6).stderr_has("BalenaRolloutInProgress");
    assert_eq!(pinned_502(&sb), 2);
    // The text report says which waves have not started, rather than that they are empty.
    let text_args: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let two = e.run(&text_args);
    two.ok();
    two.stdout_has("Wave 2/3 (step 50%): 3 devices, healthy");
    two.stdout_has("Wave 3/3 (step 100%): not started\n");
    assert_eq!(pinned_502(&sb), 5);
    assert_eq!(sb.fleet_policy(GREENHOUSE), (false, Some(501)));
    let three = e.run(&args);
    three.ok();
    assert_eq!(three.json()["result"], "completed");
    assert_greenhouse_rolled_out(&sb);
}

#[test]
fn a_device_re_pinned_by_someone_else_is_reported_not_overwritten() {
    let sb = start("2s");
    let e = TestEnv::logged_in(&sb);
    let child = spawn(
        &e,
        &[
            "fleet",
            "rollout",
            "acme/greenhouse",
            "1.1.0",
            "--steps",
            "100%",
            "--soak",
            "200ms",
        ],
    );
    wait_for_tag(&sb, GREENHOUSE, ";w=0;st=g");
    // Someone pins gh-6 elsewhere while its wave updates.
    let (status, body) = sb.send(
        "PATCH",
        "/v7/device(5006)",
        Some(&sb.api_key),
        Some(&json!({"is_pinned_on__release": 509})),
    );
    assert_eq!(status, 200, "{body}");
    let (stdout, stderr, code) = finish(child);
    assert_eq!(code, Some(9), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("BalenaConflict"), "{stderr}");
    assert!(stderr.contains(GH_6), "{stderr}");
    assert!(
        stdout.contains("changed by someone else, left alone: gh-6"),
        "{stdout}"
    );
    // Not overwritten, and not un-pinned at the end.
    assert_eq!(pins(&sb, GREENHOUSE)[GH_6], Some(509));
    assert_eq!(sb.fleet_policy(GREENHOUSE), (false, Some(502)));
}
