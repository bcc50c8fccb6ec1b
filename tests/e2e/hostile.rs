//! Hostile data and the small lies (issue 9, items 7, 8 and 12), end to end: control
//! characters in a device name set over the sandbox's API never reach the terminal raw and
//! never break a row; a failed write to stdout is an error; a device named three ways counts
//! as one; a failed `--dry-run` says that nothing was changed; an ambiguous device inside a
//! list shows its candidates; `--fleet` on a fleet without devices is a no-op; `--wait` on
//! offline devices names them.

use std::process::Stdio;

use serde_json::json;

use crate::harness::*;

/// ESC ] 0 ; … BEL (a terminal title), a newline, a tab, a CR, DEL and a C1 control.
const HOSTILE: &str = "evil\u{1b}]0;pwned\u{7}\nline2\tcol\rcr\u{7f}\u{9b}end";
/// How the human output shows it.
const SHOWN: &str = "evil\\e]0;pwned\\a\\nline2\\tcol\\rcr\\x7f\\u{9b}end";

/// Names door-2 [`HOSTILE`] over the API.
fn hostile_name(sb: &Sandbox) {
    let (st, body) = sb.send(
        "PATCH",
        "/v7/device(1001)",
        Some(TOKEN),
        Some(&json!({ "device_name": HOSTILE })),
    );
    assert!(st == 200 || st == 204, "rename: {st} {body}");
}

fn assert_clean(what: &str, text: &str) {
    for c in text.chars() {
        assert!(
            !c.is_control() || c == '\n',
            "{what}: control {c:?} in {text:?}"
        );
    }
}

#[test]
fn control_characters_from_the_server_are_escaped_in_human_output() {
    let sb = sandbox();
    hostile_name(&sb);
    let env = TestEnv::logged_in(&sb);

    // A table: one line per device, the name escaped.
    let out = env.run(&["device", "list", "--fleet", "acme/frontdoor"]);
    out.ok();
    assert_clean("device list", &out.stdout);
    assert_eq!(out.stdout.lines().count(), 4, "{}", out.stdout);
    assert!(out.stdout.contains(SHOWN), "{}", out.stdout);

    // A vertical view and its title (upper-cased, its whitespace collapsed, as the
    // official CLI shows titles).
    let out = env.run(&["device", DOOR2]);
    out.ok();
    assert_clean("device", &out.stdout);
    assert!(
        out.stdout
            .starts_with("== EVIL\\e]0;PWNED\\a LINE2 COL CR\\x7f\\u{9b}END\n"),
        "{}",
        out.stdout
    );

    // A dry-run plan (a table on stdout).
    let out = env.run(&[
        "device",
        "pin",
        &format!("{DOOR2},{DOOR3}"),
        C102,
        "--dry-run",
    ]);
    out.ok();
    assert_clean("plan", &out.stdout);
    assert_clean("plan stderr", &out.stderr);
    assert!(out.stdout.contains(SHOWN), "{}", out.stdout);

    // Candidate lists: an ambiguous prefix, alone (the error) and inside a list.
    let out = env.run(&["device", "pin", "d0c0ffee", C102]);
    out.code(5);
    assert_clean("candidates", &out.stderr);
    let out = env.run(&[
        "device",
        "pin",
        &format!("d0c0ffee,{DOOR3}"),
        C102,
        "--dry-run",
    ]);
    assert_clean("candidates in a list", &out.stderr);
    assert!(out.stderr.contains(SHOWN), "{}", out.stderr);

    // The release view lists the devices that run it.
    let out = env.run(&["release", C100]);
    out.ok();
    assert_clean("release", &out.stdout);

    // JSON is unchanged: the name as the server has it.
    let out = env.run(&["device", DOOR2, "--json"]);
    out.ok();
    assert_eq!(out.json()["device_name"], HOSTILE);
}

#[test]
fn a_full_disk_on_stdout_is_an_error_and_a_closed_pipe_is_not() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    for args in [
        &["fleet", "list", "--json"][..],
        &["fleet", "list"][..],
        &["release", "list", "acme/frontdoor"][..],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = env
            .command(args)
            .stdin(Stdio::null())
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("BalenaOutputError: cannot write to stdout: "),
            "{args:?}: {stderr}"
        );
    }
    // A pipe closed early (`| head -c0`): quiet, as before.
    let mut child = env
        .command(&["release", "list", "acme/frontdoor"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_device_named_three_ways_counts_once() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let three = format!("{DOOR3},d0aa,{}", DOOR3.to_uppercase());
    let out = env.run(&["device", "pin", &three, C102, "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(
        v["counts"],
        json!({"changed": 1, "unchanged": 0, "failed": 0})
    );
    assert_eq!(v["results"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(sb.device_pin(DOOR3), Some(102));
    let out = env.run(&["device", "track-fleet", &three]);
    out.ok().stderr_has("1 device now tracks the fleet");
}

#[test]
fn a_failed_dry_run_does_not_say_the_others_were_processed() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let before = sb.snapshot();
    let out = env.run(&[
        "device",
        "pin",
        &format!("{DOOR3},ffff0000"),
        C102,
        "--dry-run",
    ]);
    out.code(9)
        .stderr_has("1 of 2 devices failed; nothing was changed (dry run)");
    assert!(!out.stderr.contains("processed"), "{}", out.stderr);
    assert_eq!(sb.snapshot(), before);
}

#[test]
fn an_ambiguous_device_in_a_list_shows_its_candidates() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let out = env.run(&["device", "pin", &format!("d0c0ffee,{DOOR3}"), C102]);
    out.code(9);
    out.stderr_has("error: device d0c0ffee: Device is ambiguous: d0c0ffee\n  candidates:\n")
        .stderr_has(&format!("    {DOOR1} door-1\n"))
        .stderr_has(&format!("    {DOOR2} door-2\n"));
    let out = env.run(&[
        "device",
        "pin",
        &format!("d0c0ffee,{DOOR3}"),
        C102,
        "--json",
    ]);
    out.code(9);
    let v = out.json();
    let err = &v["results"][0]["error"];
    assert_eq!(err["name"], "BalenaAmbiguousDevice", "{v}");
    assert_eq!(err["candidates"].as_array().map(Vec::len), Some(2), "{v}");
}

#[test]
fn fleet_selections_of_a_fleet_without_devices_are_a_no_op() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let before = sb.snapshot();
    let out = env.run(&["device", "track-fleet", "--fleet", "acme/shared"]);
    out.ok()
        .stderr_has("Fleet acme/shared: no device, nothing to do.");
    let out = env.run(&["device", "track-fleet", "--fleet", "acme/shared", "--json"]);
    out.ok();
    assert_eq!(
        out.json()["counts"],
        json!({"changed": 0, "unchanged": 0, "failed": 0})
    );
    // A tag filter that selects nothing is still an error (a typo is likelier).
    env.run(&[
        "device",
        "track-fleet",
        "--fleet",
        "acme/shared",
        "--tag",
        "x",
    ])
    .code(4);
    assert_eq!(sb.snapshot(), before);
}

#[test]
fn wait_on_offline_devices_names_them() {
    // Without --simulate-updates the fixture's devices are offline.
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let out = env.run(&["device", "pin", &format!("{DOOR2},{DOOR3}"), C102, "--wait"]);
    out.ok()
        .stderr_has("offline, skipped:\n")
        .stderr_has(&format!("  {DOOR2} (door-2)\n"))
        .stderr_has(&format!("  {DOOR3} (door-3)\n"));
    let out = env.run(&[
        "device",
        "pin",
        &format!("{DOOR2},{DOOR3}"),
        C102,
        "--wait",
        "--json",
    ]);
    out.ok();
    assert!(
        !out.stderr.contains("offline, skipped:\n"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.json()["rollout"]["offline"].as_array().map(Vec::len),
        Some(2)
    );
}
