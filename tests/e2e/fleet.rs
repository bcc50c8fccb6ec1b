//! `fleet <x>`, `fleet list`, `fleet pin`, `fleet track-latest`, against the sandbox.

use serde_json::json;

use crate::harness::*;

#[test]
fn fleet_show_every_identifier_form() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    for arg in [
        "acme/frontdoor",
        "ACME/FrontDoor",
        "frontdoor",
        FRONTDOOR_UUID,
        &FRONTDOOR_UUID.to_uppercase(),
        "10",
    ] {
        let out = env.run(&["fleet", arg, "--json"]);
        out.ok();
        assert_eq!(
            out.json(),
            json!({"id": 10, "app_name": "frontdoor", "slug": "acme/frontdoor",
                   "device_type": "raspberrypi4-64", "commit": C100,
                   "release_policy": "pinned",
                   "target_release": {"id": 100, "commit": C100, "raw_version": "1.0.0"},
                   "device_counts": {"total": 3, "pinned": 1, "tracking": 2, "behind": 2}}),
            "fleet {arg}"
        );
        // The official keys first, in the official order.
        assert!(
            out.stdout.starts_with(&format!(
                "{{\n  \"id\": 10,\n  \"app_name\": \"frontdoor\",\n  \"slug\": \"acme/frontdoor\",\n  \"device_type\": \"raspberrypi4-64\",\n  \"commit\": \"{C100}\",\n"
            )),
            "fleet {arg}: {}",
            out.stdout
        );
    }
    let out = env.run(&["fleet", "Acme/Backyard"]);
    out.ok();
    // The official rows exactly, then the release-policy rows.
    assert_eq!(
        out.stdout,
        format!(
            "== backyard\nID:          11\nDEVICE TYPE: intel-nuc\nSLUG:        acme/backyard\nCOMMIT:      {C111}\n\nRELEASE POLICY:   Tracking latest\nTARGET RELEASE:   bacc110 (0.2.0)\nDEVICES:          1\nPINNED DEVICES:   0\nTRACKING DEVICES: 1\nBEHIND DEVICES:   1\n"
        )
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn fleet_list_shows_only_my_fleets() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let out = env.run(&["fleet", "list", "--json"]);
    out.ok();
    let v = out.json();
    let slugs: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|f| f["slug"].as_str().expect("slug"))
        .collect();
    assert_eq!(
        slugs,
        [
            "acme/backyard",
            "acme/frontdoor",
            "acme/shared",
            "lab/shared"
        ]
    );
    assert_eq!(
        v[1],
        json!({"id": 10, "app_name": "frontdoor", "slug": "acme/frontdoor",
               "device_type": "raspberrypi4-64", "device_count": 3, "online_devices": 0})
    );
    let out = env.run(&["fleet", "list"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", out.stdout);
    assert!(lines[0].starts_with("ID"));
    for h in [
        "NAME",
        "SLUG",
        "DEVICE TYPE",
        "DEVICE COUNT",
        "ONLINE DEVICES",
    ] {
        assert!(lines[0].contains(h), "{h} in {}", lines[0]);
    }
    assert!(lines[2].contains("acme/frontdoor") && lines[2].contains("raspberrypi4-64"));
    assert!(!out.stdout.contains("secret"));
}

#[test]
fn fleet_pin_without_release_shows_the_policy() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let out = env.run(&["fleet", "pin", "acme/frontdoor"]);
    out.ok();
    assert_eq!(
        out.stdout,
        format!("This fleet is currently pinned to {C100}. \n\nTo see a list of all releases this fleet can be pinned to, run `balena release list acme/frontdoor`.\n")
    );
    let out = env.run(&["fleet", "pin", "backyard"]);
    out.ok();
    assert_eq!(
        out.stdout,
        // The fleet as the command line named it, as the official sentence repeats it.
        format!("This fleet is currently pinned to {C111}. \n\nTo see a list of all releases this fleet can be pinned to, run `balena release list backyard`.\n")
    );
    // What the official sentence leaves out, on stderr.
    assert_eq!(
        out.stderr,
        "This fleet tracks the latest release (currently bacc110 (0.2.0)): it is not pinned.\n"
    );
    let out = env.run(&["fleet", "pin", "11", "--json"]);
    out.ok();
    assert_eq!(
        out.json(),
        json!({"id": 11, "slug": "acme/backyard", "tracking_latest": true,
               "release": {"id": 111, "commit": C111, "raw_version": "0.2.0"}})
    );
    // Showing is read-only.
    let (_, reqs) = counted(&sb, &env, &["fleet", "pin", "acme/frontdoor", "--json"]);
    assert!(patches(&reqs).is_empty());
    assert_eq!(reqs.len(), 1, "{reqs:?}");
}

#[test]
fn fleet_pin_changes_the_server_and_the_devices_target() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    assert_eq!(sb.device_target_commits(DOOR2), [C100]);
    let (out, reqs) = counted(&sb, &env, &["fleet", "pin", "acme/frontdoor", "abcd123"]);
    out.ok();
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "Pinned fleet acme/frontdoor to release abcd123 (1.1.0).\n"
    );
    assert!(reqs.len() <= 2, "{reqs:?}");
    assert_eq!(patches(&reqs).len(), 1, "{reqs:?}");
    assert_eq!(patches(&reqs)[0].path, "/v7/application(10)");
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(101)));
    // The tracking devices are told the new release; the pinned one keeps its pin.
    assert_eq!(sb.device_target_commits(DOOR2), [C101]);
    assert_eq!(sb.device_target_commits(DOOR3), [C101]);
    assert_eq!(sb.device_pin(DOOR1), Some(101));
}

#[test]
fn fleet_pin_every_release_form() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    // (fleet argument, release argument, release id, commit, raw_version)
    let cases = [
        ("acme/frontdoor", C102, 102, C102, "1.1.1"),
        ("frontdoor", "abcd123", 101, C101, "1.1.0"),
        ("10", "107", 107, C107, "2.0.0"),
        (FRONTDOOR_UUID, "1.0.0", 100, C100, "1.0.0"),
        ("ACME/FRONTDOOR", "v2.1.0", 555, C555, "2.1.0"),
        (
            "acme/frontdoor",
            RAW105_DRAFT,
            105,
            C105_DRAFT,
            RAW105_DRAFT,
        ),
        ("acme/frontdoor", "1a7a1d", 106, C106_INVALIDATED, "1.5.0"),
    ];
    let mut current = json!({"id": 100, "commit": C100, "raw_version": "1.0.0"});
    for (fleet, arg, id, commit, raw) in cases {
        let (out, reqs) = counted(&sb, &env, &["fleet", "pin", fleet, arg, "--json"]);
        out.ok();
        let after = json!({"id": id, "commit": commit, "raw_version": raw});
        assert_eq!(
            out.json(),
            json!({"fleet": {"id": 10, "slug": "acme/frontdoor"},
                   "before": {"tracking_latest": false, "release": current},
                   "after": {"tracking_latest": false, "release": after},
                   "changed": true}),
            "fleet pin {fleet} {arg}"
        );
        assert!(reqs.len() <= 2, "fleet pin {fleet} {arg}: {reqs:?}");
        assert_eq!(patches(&reqs).len(), 1, "fleet pin {fleet} {arg}: {reqs:?}");
        assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(id)), "{arg}");
        assert_eq!(sb.device_target_commits(DOOR3), [commit], "{arg}");
        current = after;
    }
}

#[test]
fn fleet_pin_draft_and_invalidated_warn() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    env.run(&["fleet", "pin", "acme/frontdoor", RAW105_DRAFT])
        .ok()
        .stderr_has("draft");
    env.run(&["fleet", "pin", "acme/frontdoor", C106_INVALIDATED])
        .ok()
        .stderr_has("invalidated");
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(106)));
}

#[test]
fn fleet_repin_to_the_current_release_is_a_noop() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let before = sb.snapshot();
    let (out, reqs) = counted(
        &sb,
        &env,
        &["fleet", "pin", "acme/frontdoor", "c0ffee", "--json"],
    );
    out.ok();
    assert_eq!(out.json()["changed"], json!(false));
    assert_eq!(
        out.json()["before"],
        json!({"tracking_latest": false, "release": {"id": 100, "commit": C100, "raw_version": "1.0.0"}})
    );
    assert_eq!(out.json()["before"], out.json()["after"]);
    out.stderr_has("already pinned");
    assert!(patches(&reqs).is_empty(), "{reqs:?}");
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(sb.snapshot(), before);
}

#[test]
fn fleet_pin_a_tracking_fleet_to_its_current_target_stops_tracking() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    assert_eq!(sb.fleet_policy(BACKYARD), (true, Some(111)));
    let (out, reqs) = counted(
        &sb,
        &env,
        &["fleet", "pin", "acme/backyard", C111, "--json"],
    );
    out.ok();
    assert_eq!(out.json()["changed"], json!(true));
    assert_eq!(out.json()["before"]["tracking_latest"], json!(true));
    assert_eq!(out.json()["after"]["tracking_latest"], json!(false));
    assert_eq!(patches(&reqs).len(), 1);
    assert_eq!(sb.fleet_policy(BACKYARD), (false, Some(111)));
}

#[test]
fn fleet_track_latest_picks_the_newest_trackable_release() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    // The newest successful, final, valid release of frontdoor is 555 (2.1.0).
    let (out, reqs) = counted(&sb, &env, &["fleet", "track-latest", "ACME/frontdoor"]);
    out.ok();
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "Fleet acme/frontdoor now tracks the latest release (currently eeee555 (2.1.0)).\n"
    );
    assert!(reqs.len() <= 2, "{reqs:?}");
    assert_eq!(patches(&reqs).len(), 1, "{reqs:?}");
    assert_eq!(sb.fleet_policy(FRONTDOOR), (true, Some(555)));
    assert_eq!(sb.device_target_commits(DOOR2), [C555]);
    assert_eq!(
        sb.device_target_commits(DOOR1),
        [C101],
        "the pin still wins"
    );

    // Again: nothing to do, no write.
    let (out, reqs) = counted(&sb, &env, &["fleet", "track-latest", "10", "--json"]);
    out.ok();
    let release = json!({"id": 555, "commit": C555, "raw_version": "2.1.0"});
    assert_eq!(
        out.json(),
        json!({"fleet": {"id": 10, "slug": "acme/frontdoor"},
               "before": {"tracking_latest": true, "release": release},
               "after": {"tracking_latest": true, "release": release},
               "changed": false})
    );
    assert!(patches(&reqs).is_empty(), "{reqs:?}");
    assert_eq!(reqs.len(), 1, "{reqs:?}");

    // The show form: the official sentence on stdout, that it tracks latest on stderr.
    env.run(&["fleet", "pin", FRONTDOOR_UUID])
        .ok()
        .stdout_has(&format!("This fleet is currently pinned to {C555}. \n"))
        .stderr_has("This fleet tracks the latest release (currently eeee555 (2.1.0))");
}

#[test]
fn fleet_track_latest_json_result() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let out = env.run(&["fleet", "track-latest", "frontdoor", "--json"]);
    out.ok();
    assert_eq!(
        out.json(),
        json!({"fleet": {"id": 10, "slug": "acme/frontdoor"},
               "before": {"tracking_latest": false, "release": {"id": 100, "commit": C100, "raw_version": "1.0.0"}},
               "after": {"tracking_latest": true, "release": {"id": 555, "commit": C555, "raw_version": "2.1.0"}},
               "changed": true})
    );
}
