//! `device <uuid>`, `device list`, `device pin`, `device track-fleet`, against the sandbox.

use serde_json::json;

use crate::harness::*;

#[test]
fn device_show_every_identifier_form() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    for arg in [DOOR3, &DOOR3.to_uppercase(), "d0aa", "D0AA", "d0aa000"] {
        let out = env.run(&["device", arg, "--json"]);
        out.ok();
        let v = out.json();
        assert_eq!(v["uuid"], json!(DOOR3), "device {arg}");
        assert_eq!(v["id"], json!(1002), "device {arg}");
        assert_eq!(v["device_name"], json!("door-3"), "device {arg}");
        assert_eq!(v["fleet"], json!("acme/frontdoor"), "device {arg}");
        assert_eq!(v["device_type"], json!("raspberrypi4-64"), "device {arg}");
    }
    // door-1 by its full uuid (its 31-character prefix is shared with door-2).
    let out = env.run(&["device", DOOR1, "--json"]);
    out.ok();
    assert_eq!(out.json()["commit"], json!(C100), "is_running__release");
    let out = env.run(&["device", &DOOR1.to_uppercase()]);
    out.ok();
    assert!(out.stdout.starts_with("== DOOR 1\n"), "{}", out.stdout);
    let fields = vertical(&out.stdout);
    for (k, v) in [
        ("ID", "1000"),
        ("DEVICE TYPE", "raspberrypi4-64"),
        ("FLEET", "acme/frontdoor"),
        ("UUID", DOOR1),
        ("COMMIT", C100),
    ] {
        assert_eq!(
            fields.get(k).map(String::as_str),
            Some(v),
            "{k}: {}",
            out.stdout
        );
    }
}

#[test]
fn device_list_of_a_fleet() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    for fleet in ["acme/frontdoor", "frontdoor", "10", FRONTDOOR_UUID] {
        let out = env.run(&["device", "list", "--fleet", fleet, "--json"]);
        out.ok();
        let v = out.json();
        let uuids: Vec<&str> = v
            .as_array()
            .expect("array")
            .iter()
            .map(|d| d["uuid"].as_str().expect("uuid"))
            .collect();
        assert_eq!(uuids, [DOOR1, DOOR2, DOOR3], "--fleet {fleet}");
        assert_eq!(v[0]["fleet"], json!("acme/frontdoor"));
        assert_eq!(v[0]["device_name"], json!("door-1"));
    }
    let out = env.run(&["device", "list", "-f", "acme/backyard"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[0].starts_with("ID") && lines[0].contains("DEVICE NAME"));
    assert!(lines[1].contains(YARD1) && lines[1].contains("yard-1"));
    // Without --fleet: every device alice can see, none of bob's.
    let out = env.run(&["device", "list", "--json"]);
    out.ok();
    assert_eq!(out.json().as_array().expect("array").len(), 4);
    assert!(!out.stdout.contains(BOB_DEVICE));
}

#[test]
fn device_pin_without_release_shows_the_policy() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let out = env.run(&["device", "pin", DOOR1]);
    out.ok();
    assert_eq!(
        out.stdout,
        format!("This device is currently pinned to {C101}. \n\nTo see a list of all releases this device can be pinned to, run `balena release list acme/frontdoor`.\n")
    );
    // The official sentence on stdout; that it follows its fleet, on stderr.
    let out = env.run(&["device", "pin", "D0AA"]);
    out.ok();
    assert!(out
        .stdout
        .starts_with("This device is not currently pinned to any release. \n\n"));
    assert_eq!(
        out.stderr,
        "This device tracks its fleet (currently c0ffee0 (1.0.0)).\n"
    );
    let (out, reqs) = counted(&sb, &env, &["device", "pin", DOOR2, "--json"]);
    out.ok();
    assert_eq!(
        out.json(),
        json!({"id": 1001, "uuid": DOOR2, "device_name": "door-2", "fleet": "acme/frontdoor",
               "tracking_fleet": true,
               "release": {"id": 100, "commit": C100, "raw_version": "1.0.0"}})
    );
    assert_eq!(reqs.len(), 1, "{reqs:?}");
}

#[test]
fn device_pin_changes_the_server_and_the_device_state() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    assert_eq!(sb.device_target_commits(DOOR2), [C100]);
    let (out, reqs) = counted(&sb, &env, &["device", "pin", DOOR2, "1.1.1"]);
    out.ok();
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!("Pinned device {DOOR2} to release abcd124 (1.1.1).\n")
    );
    assert!(reqs.len() <= 2, "{reqs:?}");
    assert_eq!(patches(&reqs).len(), 1, "{reqs:?}");
    assert_eq!(patches(&reqs)[0].path, "/v7/device(1001)");
    assert_eq!(sb.device_pin(DOOR2), Some(102));
    assert_eq!(sb.device_target_commits(DOOR2), [C102]);
    // The fleet and the other devices are untouched.
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(100)));
    assert_eq!(sb.device_target_commits(DOOR3), [C100]);
}

#[test]
fn device_pin_every_release_form() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    // (device argument, release argument, release id, commit, raw_version)
    let cases = [
        ("d0aa", C102, 102, C102, "1.1.1"),
        ("D0AA", "abcd123", 101, C101, "1.1.0"),
        (DOOR3, "107", 107, C107, "2.0.0"),
        (
            "d0aa0000000000000000000000001002",
            "1.0.0",
            100,
            C100,
            "1.0.0",
        ),
        ("d0aa0", "v2.1.0", 555, C555, "2.1.0"),
        ("d0aa00", RAW105_DRAFT, 105, C105_DRAFT, RAW105_DRAFT),
    ];
    let mut before = json!({"tracking_fleet": true, "release": {"id": 100, "commit": C100, "raw_version": "1.0.0"}});
    for (dev, arg, id, commit, raw) in cases {
        let (out, reqs) = counted(&sb, &env, &["device", "pin", dev, arg, "--json"]);
        out.ok();
        let after = json!({"tracking_fleet": false, "release": {"id": id, "commit": commit, "raw_version": raw}});
        assert_eq!(
            out.json(),
            json!({"device": {"id": 1002, "uuid": DOOR3, "device_name": "door-3", "fleet": "acme/frontdoor"},
                   "before": before, "after": after, "changed": true}),
            "device pin {dev} {arg}"
        );
        assert!(reqs.len() <= 2, "{reqs:?}");
        assert_eq!(patches(&reqs).len(), 1, "{reqs:?}");
        assert_eq!(sb.device_pin(DOOR3), Some(id));
        assert_eq!(sb.device_target_commits(DOOR3), [commit]);
        before = after;
    }
}

#[test]
fn device_repin_to_the_current_release_is_a_noop() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let before = sb.snapshot();
    let (out, reqs) = counted(&sb, &env, &["device", "pin", DOOR1, "101", "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(v["changed"], json!(false));
    assert_eq!(v["before"], v["after"]);
    assert_eq!(
        v["after"],
        json!({"tracking_fleet": false, "release": {"id": 101, "commit": C101, "raw_version": "1.1.0"}})
    );
    out.stderr_has("already pinned");
    assert!(patches(&reqs).is_empty(), "{reqs:?}");
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(sb.snapshot(), before);
}

#[test]
fn device_track_fleet_removes_the_pin() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    assert_eq!(sb.device_target_commits(DOOR1), [C101]);
    let (out, reqs) = counted(
        &sb,
        &env,
        &["device", "track-fleet", "D0C0FFEE000000000000000000001000"],
    );
    out.ok();
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "Device {DOOR1} now tracks its fleet acme/frontdoor (currently c0ffee0 (1.0.0)).\n"
        )
    );
    assert!(reqs.len() <= 2, "{reqs:?}");
    assert_eq!(patches(&reqs).len(), 1, "{reqs:?}");
    assert_eq!(patches(&reqs)[0].path, "/v7/device(1000)");
    assert_eq!(sb.device_pin(DOOR1), None);
    assert_eq!(sb.device_target_commits(DOOR1), [C100]);

    // Again: nothing to do, no write.
    let (out, reqs) = counted(&sb, &env, &["device", "track-fleet", DOOR1, "--json"]);
    out.ok();
    let release = json!({"id": 100, "commit": C100, "raw_version": "1.0.0"});
    assert_eq!(
        out.json(),
        json!({"device": {"id": 1000, "uuid": DOOR1, "device_name": "door-1", "fleet": "acme/frontdoor"},
               "before": {"tracking_fleet": true, "release": release},
               "after": {"tracking_fleet": true, "release": release},
               "changed": false})
    );
    assert!(patches(&reqs).is_empty(), "{reqs:?}");
    assert_eq!(reqs.len(), 1, "{reqs:?}");
}

#[test]
fn device_follows_its_fleet_after_track_fleet_and_fleet_pin() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    env.run(&["device", "track-fleet", DOOR1]).ok();
    env.run(&["fleet", "pin", "acme/frontdoor", "abcd124"]).ok();
    assert_eq!(sb.device_target_commits(DOOR1), [C102]);
    env.run(&["device", "pin", DOOR1, "c0ffee"]).ok();
    env.run(&["fleet", "track-latest", "acme/frontdoor"]).ok();
    assert_eq!(sb.device_target_commits(DOOR1), [C100], "pinned");
    assert_eq!(sb.device_target_commits(DOOR2), [C555], "tracking");
}
