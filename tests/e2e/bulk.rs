//! Bulk device selection, `latest`, `fleet rollback` and `--dry-run`, against a sandbox
//! seeded with `tests/fixtures/e2e-bulk-seed.json`.
//!
//! Fixture: fleet acme/canary (30) pinned to 302 (1.2.0), releases 300 (1.0.0), 301 (1.1.0),
//! 303 (failed), 302; devices canary-1 (tags group=canary, lab), canary-2 (group=canary),
//! prod-1 (group=prod, pinned to 300), prod-2 (group=prod). Fleet acme/solo (31) with one
//! release 310 and device solo-1. bob's fleet (40) and device bob-1 are foreign to alice.

use serde_json::{json, Value};

use crate::harness::{counted, sandbox_with, Logged, Reads, Sandbox, TestEnv};

const CANARY1: &str = "ca000000000000000000000000003000";
const CANARY2: &str = "ca000000000000000000000000003001";
const PROD1: &str = "cb000000000000000000000000003002";
const PROD2: &str = "cc000000000000000000000000003003";
const SOLO1: &str = "5010000000000000000000000000310a";
const BOB1: &str = "b0b00000000000000000000000004000";

/// A sandbox seeded with the bulk fixture, and alice logged in to it.
fn start() -> (Sandbox, TestEnv) {
    let sb = sandbox_with("e2e-bulk-seed.json", &[]);
    let env = TestEnv::logged_in(&sb);
    (sb, env)
}

/// Every device's pin, as alice sees them: uuid → pinned release id.
fn pins(sb: &Sandbox) -> Vec<(String, Option<i64>)> {
    let v = sb.get_json("/v7/device?$select=uuid,is_pinned_on__release&$orderby=id%20asc");
    v["d"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["uuid"].as_str().unwrap().to_owned(),
                d["is_pinned_on__release"]["__id"].as_i64(),
            )
        })
        .collect()
}

/// `METHOD path?query` of the requests that are not GETs.
fn writes(reqs: &[Logged]) -> Vec<String> {
    reqs.iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.target()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[test]
fn bulk_pin_with_a_foreign_device_is_exit_9_and_pins_the_others() {
    let (sb, env) = start();
    let list = format!("{CANARY1},{BOB1},cb00,cc000000");
    let (out, reqs) = counted(&sb, &env, &["device", "pin", &list, "1.1.0", "--json"]);
    out.code(9);
    let v = out.json();
    assert_eq!(
        v["counts"],
        json!({"changed": 3, "unchanged": 0, "failed": 1})
    );
    assert_eq!(v["results"][1]["input"], BOB1);
    assert_eq!(v["results"][1]["error"]["name"], "BalenaDeviceNotFound");
    assert_eq!(out.err_json()["error"]["exitCode"], 9);
    // On the server: the three of alice pinned to 301, bob's untouched (checked as bob can't
    // be read by alice: the request log shows one filtered PATCH of alice's ids only).
    for u in [CANARY1, PROD1, PROD2] {
        assert_eq!(sb.device_pin(u), Some(301), "{u}");
    }
    assert_eq!(sb.device_pin(CANARY2), None);
    assert_eq!(
        writes(&reqs),
        vec![
            // One conditional write per pin the devices had when planned.
            "PATCH /v7/device?$filter=(id%20in%20(3000,3003))%20and%20(is_pinned_on__release%20eq%20null)",
            "PATCH /v7/device?$filter=(id%20in%20(3002))%20and%20(is_pinned_on__release%20eq%20300)",
        ]
    );
    // GET devices, GET fleets, 2 PATCHes, the $count that checks each; plus, on this error path
    // only, one GET that checks the unknown 32-digit uuid is not the prefix of a 62-digit
    // one.
    assert_eq!(reqs.len(), 7, "{reqs:?}");
}

#[test]
fn dry_run_sends_no_write_request() {
    let (sb, env) = start();
    let before = pins(&sb);
    let fleet_before = sb.fleet_policy(30);
    let cases: Vec<Vec<&str>> = vec![
        vec!["fleet", "pin", "acme/canary", "1.0.0"],
        vec!["fleet", "track-latest", "acme/canary"],
        vec!["fleet", "rollback", "acme/canary"],
        vec!["device", "pin", CANARY1, "latest"],
        vec!["device", "track-fleet", PROD1],
        vec!["device", "pin", "--fleet", "acme/canary", "1.0.0"],
        vec!["device", "track-fleet", "--fleet", "acme/canary"],
        vec!["device", "pin", "cb00,cc00", "1.1.0"],
    ];
    for c in cases {
        for json_flag in [false, true] {
            let mut args = c.clone();
            args.push("--dry-run");
            if json_flag {
                args.push("--json");
            }
            let (out, reqs) = counted(&sb, &env, &args);
            out.ok();
            assert!(
                writes(&reqs).is_empty(),
                "{args:?} wrote: {:?}",
                writes(&reqs)
            );
            if json_flag {
                assert_eq!(out.json()["dry_run"], true, "{args:?}");
            } else {
                out.stdout_has("Dry run: nothing was changed.");
            }
        }
    }
    assert_eq!(pins(&sb), before);
    assert_eq!(sb.fleet_policy(30), fleet_before);
    // The fleet plan names each device's before and after.
    let out = TestEnv::logged_in(&sb).run(&["fleet", "pin", "acme/canary", "1.0.0", "--dry-run"]);
    out.ok()
        .stdout_has("Fleet acme/canary: pinned to cc00000 (1.2.0) -> pinned to aa00000 (1.0.0)")
        .stdout_has(&format!(
            "{CANARY1} canary-1    fleet cc00000 (1.2.0)  fleet aa00000 (1.0.0)  yes"
        ))
        .stdout_has("3 devices would change, 0 unchanged, 1 pinned device unaffected.");
}

#[test]
fn rollback_without_earlier_release_changes_nothing() {
    let (sb, env) = start();
    let before = sb.fleet_policy(31);
    let (out, reqs) = counted(&sb, &env, &["fleet", "rollback", "acme/solo"]);
    out.code(4).stderr_has(
        "BalenaNoEarlierRelease: no earlier pinnable release than ee00000 (0.1.0) in fleet acme/solo\nhint: ",
    );
    assert!(writes(&reqs).is_empty());
    assert_eq!(reqs.len(), 1);
    assert_eq!(sb.fleet_policy(31), before);
}

#[test]
fn rollback_skips_failed_releases_and_says_which() {
    let (sb, env) = start();
    let (out, reqs) = counted(&sb, &env, &["fleet", "rollback", "acme/canary"]);
    out.ok();
    assert_eq!(
        out.stderr,
        "Rolled back fleet acme/canary from cc00000 (1.2.0) to bb00000 (1.1.0).\n"
    );
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(sb.fleet_policy(30), (false, Some(301)));
    let (out, _) = counted(&sb, &env, &["fleet", "rollback", "acme/canary", "--json"]);
    out.ok();
    assert_eq!(out.json()["after"]["release"]["id"], 300);
    assert_eq!(sb.fleet_policy(30), (false, Some(300)));
    counted(&sb, &env, &["fleet", "rollback", "acme/canary"])
        .0
        .code(4);
    assert_eq!(sb.fleet_policy(30), (false, Some(300)));
}

#[test]
fn latest_selects_the_newest_pinnable_release() {
    let (sb, env) = start();
    counted(&sb, &env, &["fleet", "pin", "acme/canary", "1.0.0"])
        .0
        .ok();
    let (out, reqs) = counted(&sb, &env, &["fleet", "pin", "acme/canary", "latest"]);
    out.ok()
        .stderr_has("Pinned fleet acme/canary to release cc00000 (1.2.0).");
    assert_eq!(reqs.len(), 2);
    assert_eq!(sb.fleet_policy(30), (false, Some(302)));
    let (out, _) = counted(&sb, &env, &["device", "pin", CANARY2, "latest", "--json"]);
    out.ok();
    assert_eq!(out.json()["after"]["release"]["id"], 302);
    assert_eq!(sb.device_pin(CANARY2), Some(302));
}

#[test]
fn fleet_and_tag_selection() {
    let (sb, env) = start();
    let (out, reqs) = counted(
        &sb,
        &env,
        &[
            "device",
            "pin",
            "--fleet",
            "acme/canary",
            "--tag",
            "group=canary",
            "1.1.0",
        ],
    );
    out.ok()
        .stderr_has("Fleet acme/canary: pinned 2 devices to release bb00000 (1.1.0).");
    assert_eq!(
        writes(&reqs),
        vec!["PATCH /v7/device?$filter=(id%20in%20(3000,3001))%20and%20(is_pinned_on__release%20eq%20null)"]
    );
    assert_eq!(sb.device_pin(CANARY1), Some(301));
    assert_eq!(sb.device_pin(CANARY2), Some(301));
    assert_eq!(sb.device_pin(PROD1), Some(300));
    assert_eq!(sb.device_pin(PROD2), None);
    // Two tags are ANDed; a key alone matches any value.
    let (out, reqs) = counted(
        &sb,
        &env,
        &[
            "device",
            "track-fleet",
            "--fleet",
            "acme/canary",
            "--tag",
            "group=canary",
            "--tag",
            "lab",
            "--json",
        ],
    );
    out.ok();
    assert_eq!(
        out.json()["counts"],
        json!({"changed": 1, "unchanged": 0, "failed": 0})
    );
    assert_eq!(
        writes(&reqs),
        vec!["PATCH /v7/device?$filter=(id%20in%20(3000))%20and%20(is_pinned_on__release%20eq%20301)"]
    );
    assert_eq!(sb.device_pin(CANARY1), None);
    assert_eq!(sb.device_pin(CANARY2), Some(301));
    // No match: exit 4, nothing written.
    let (out, reqs) = counted(
        &sb,
        &env,
        &[
            "device",
            "track-fleet",
            "--fleet",
            "acme/canary",
            "--tag",
            "group=nope",
        ],
    );
    out.code(4).stderr_has("No device selected");
    assert!(writes(&reqs).is_empty());
}

#[test]
fn stdin_dash_reads_the_uuids() {
    let (sb, env) = start();
    let out = env.run_stdin(
        &["device", "pin", "-", "1.2.0"],
        &format!(
            "# the canaries\n{CANARY1}\n\n{}   # upper case\n{SOLO1}\n",
            CANARY2.to_uppercase()
        ),
    );
    // solo-1's fleet has no 1.2.0: partial failure, the canaries pinned.
    assert_eq!(out.code, 9, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "error: device {SOLO1}: Release not found: 1.2.0\n  It is a release of acme/canary; only releases of acme/solo can be pinned there"
        )),
        "{out:?}"
    );
    assert_eq!(sb.device_pin(CANARY1), Some(302));
    assert_eq!(sb.device_pin(CANARY2), Some(302));
    assert_eq!(sb.device_pin(SOLO1), None);
    // And back: every device of the list tracks its fleet; the unpinned one is unchanged.
    let out = env.run_stdin(
        &["device", "track-fleet", "-", "--json"],
        &format!("{CANARY1}\n{CANARY2}\n{PROD2}\n"),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["counts"],
        json!({"changed": 2, "unchanged": 1, "failed": 0})
    );
    assert_eq!(sb.device_pin(CANARY1), None);
}
