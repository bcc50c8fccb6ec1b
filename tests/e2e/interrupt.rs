//! Ctrl-C (SIGINT) end to end (issue 9, item 11): during a bulk pin of a large seeded fleet,
//! the request in flight is finished, no other is sent, what was changed is printed (human
//! and `--json`) and the exit code is 130; and what the command reports is what the server
//! holds. During `--wait`, the change stands, its result document is printed, and the
//! message says the wait was interrupted.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

const DEVICES: usize = 20_000;

fn scale_sandbox(extra: &[&str]) -> Sandbox {
    let mut args = vec!["--devices", "20000", "--releases", "3"];
    args.extend_from_slice(extra);
    Sandbox::builder()
        .token(TOKEN)
        .request_log()
        .args(&args)
        .start()
}

fn sigint(child: &Child) {
    let st = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(st.success());
}

/// How many devices are pinned to release `id`, on the server.
fn pinned_to(sb: &Sandbox, id: i64) -> usize {
    let v = sb.get_json(&format!(
        "/v7/device/$count?$filter=is_pinned_on__release%20eq%20{id}"
    ));
    v.as_u64()
        .or_else(|| v["d"].as_u64())
        .unwrap_or_else(|| panic!("count: {v}")) as usize
}

/// Starts a bulk pin of the whole fleet, sends SIGINT as soon as the first PATCH reaches the
/// server, and returns its output. `None` when every write was done before the signal
/// arrived (the run is then a plain success).
fn interrupted_pin(
    sb: &Sandbox,
    env: &TestEnv,
    (id, commit): &(i64, String),
    json: bool,
) -> Option<(String, String)> {
    let mark = sb.mark();
    let mut args = vec!["device", "pin", "--fleet", "admin/scale-fleet", commit];
    if json {
        args.push("--json");
    }
    let child = env
        .command(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start balena");
    let started = Instant::now();
    while !sb.since(mark).iter().any(|r| r.method == "PATCH") {
        assert!(started.elapsed() < Duration::from_secs(60), "no PATCH");
        std::thread::sleep(Duration::from_millis(2));
    }
    sigint(&child);
    let (stdout, stderr, code) = finish(child);
    let patches = sb
        .since(mark)
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    match code {
        Some(0) => {
            assert_eq!(pinned_to(sb, *id), DEVICES, "{stderr}");
            None
        }
        Some(130) => {
            assert!(patches >= 1, "{stderr}");
            Some((stdout, stderr))
        }
        other => panic!("exit {other:?}: {stderr}"),
    }
}

#[test]
fn sigint_during_a_bulk_pin_prints_what_was_changed_and_exits_130() {
    let sb = scale_sandbox(&[]);
    let env = TestEnv::logged_in(&sb);
    let releases = scale_releases(&env);

    // Human output: the fleet line counts what the server holds; the rest is named as
    // not done. (A run fast enough to finish before the signal is retried.)
    let mut human = None;
    for c in releases.iter().cycle().take(4) {
        if let Some(out) = interrupted_pin(&sb, &env, c, false) {
            human = Some((c.clone(), out));
            break;
        }
    }
    let ((id, commit), (stdout, stderr)) = human.expect("every run finished before SIGINT");
    assert!(stdout.is_empty(), "{stdout}");
    let on_server = pinned_to(&sb, id);
    assert!(on_server < DEVICES, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Fleet admin/scale-fleet: pinned {on_server} devices to release {}",
            &commit[..7]
        )) || on_server == 0,
        "{on_server} on the server: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "Interrupted: {} devices not changed",
            DEVICES - on_server
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("BalenaInterrupted: interrupted: "),
        "{stderr}"
    );

    // --json: the result document, the devices not done marked.
    let mut doc = None;
    for c in releases.iter().rev().cycle().take(4) {
        if let Some((stdout, stderr)) = interrupted_pin(&sb, &env, c, true) {
            doc = Some((c.clone(), stdout, stderr));
            break;
        }
    }
    let ((id, _), stdout, stderr) = doc.expect("every run finished before SIGINT");
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["interrupted"], true);
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), DEVICES);
    let not_done = results
        .iter()
        .filter(|r| r["error"]["name"] == "BalenaInterrupted")
        .count();
    let changed = results.iter().filter(|r| r["changed"] == true).count();
    assert_eq!(v["counts"]["interrupted"], not_done as u64);
    assert_eq!(v["counts"]["changed"], changed as u64);
    assert!(not_done > 0, "{}", v["counts"]);
    // Each device reported changed is pinned on the server, each not done is not.
    let on_server = pinned_to(&sb, id);
    let already = v["counts"]["unchanged"].as_u64().unwrap_or(0) as usize;
    assert_eq!(on_server, changed + already, "{}", v["counts"]);
    assert!(stderr.contains("\"BalenaInterrupted\""), "{stderr}");
}

#[test]
fn sigint_during_wait_keeps_the_result_document_and_exits_130() {
    // Updates take a minute: the wait is still polling when the signal arrives.
    let sb = sandbox_with("e2e-seed.json", &["--simulate-updates", "60s"]);
    let env = TestEnv::logged_in(&sb);
    let child = env
        .command(&["device", "pin", DOOR2, C102, "--wait", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start balena");
    let started = Instant::now();
    let mark = 0;
    while !sb.since(mark).iter().any(|r| {
        r.method == "GET"
            && r.path == "/v7/device"
            && r.query
                .as_deref()
                .is_some_and(|q| q.contains("overall_status"))
    }) {
        assert!(started.elapsed() < Duration::from_secs(30), "no poll");
        std::thread::sleep(Duration::from_millis(5));
    }
    sigint(&child);
    let (stdout, stderr, code) = finish(child);
    assert_eq!(code, Some(130), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["changed"], true, "{v}");
    assert!(
        stderr.contains("the change was applied; the wait was interrupted"),
        "{stderr}"
    );
    assert_eq!(sb.device_pin(DOOR2), Some(102));
}
