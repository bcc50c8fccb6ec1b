//! Release-policy views against the sandbox: `device list`'s release columns and filters,
//! and the rows after the official ones of `fleet <x>` and `release <x>`. The fixture's
//! frontdoor fleet is pinned
//! to release 100; door-1 is pinned to 101 and runs 100, door-2 tracks and runs 100, door-3
//! tracks and runs nothing. Tags and extra devices are added over the API.

use serde_json::{json, Value};

use crate::harness::*;

/// A write as alice: the status code.
fn send(sb: &Sandbox, method: &str, path: &str, body: &Value) -> u16 {
    sb.send(method, path, Some(TOKEN), Some(body)).0
}

fn tag(sb: &Sandbox, device: i64, key: &str, value: &str) {
    let st = send(
        sb,
        "POST",
        "/v7/device_tag",
        &json!({"device": device, "tag_key": key, "value": value}),
    );
    assert_eq!(st, 201, "tag {device} {key}={value}");
}

/// The uuids `device list --json` answers for `args`, in one request.
fn listed(sb: &Sandbox, env: &TestEnv, args: &[&str]) -> Vec<String> {
    let mut argv = vec!["device", "list"];
    argv.extend_from_slice(args);
    argv.push("--json");
    let (out, reqs) = counted(sb, env, &argv);
    out.ok();
    let v7: Vec<String> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/v7/"))
        .map(Logged::line)
        .collect();
    // The fleet (with --fleet), then one page of devices.
    let pages = 1 + usize::from(args.contains(&"--fleet"));
    assert_eq!(v7.len(), pages, "requests for {argv:?}: {v7:?}");
    out.json()
        .as_array()
        .expect("array")
        .iter()
        .map(|d| d["uuid"].as_str().expect("uuid").to_owned())
        .collect()
}

/// A vertical table with multi-line values: label → lines.
fn rows(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for l in text.lines().filter(|l| !l.starts_with("== ")) {
        if l.starts_with(' ') {
            if let Some(last) = out.last_mut() {
                last.1.push(l.trim().to_owned());
            }
        } else if let Some((k, v)) = l.split_once(':') {
            let v = v.trim();
            let first = if v.is_empty() {
                vec![]
            } else {
                vec![v.to_owned()]
            };
            out.push((k.to_owned(), first));
        }
    }
    out
}

fn row<'a>(rows: &'a [(String, Vec<String>)], label: &str) -> &'a [String] {
    &rows
        .iter()
        .find(|(k, _)| k == label)
        .unwrap_or_else(|| panic!("no {label} row in {rows:?}"))
        .1
}

#[test]
fn device_list_shows_the_release_columns() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let (out, reqs) = counted(&sb, &env, &["device", "list", "--fleet", "acme/frontdoor"]);
    out.ok();
    // The fleet, then its devices: one page.
    assert_eq!(
        reqs.iter().filter(|r| r.path.starts_with("/v7/")).count(),
        2,
        "{reqs:?}"
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(
        lines[0].starts_with("ID   UUID ")
            && lines[0].ends_with(" RUNNING RELEASE TARGET RELEASE           RELEASE POLICY"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains(DOOR1), "{}", lines[1]);
    assert!(
        lines[1].ends_with(" c0ffee0 (1.0.0) abcd123 (1.1.0) (pinned) Pinned"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains(DOOR2), "{}", lines[2]);
    assert!(
        lines[2].ends_with(" c0ffee0 (1.0.0) c0ffee0 (1.0.0)          Tracking fleet"),
        "{}",
        lines[2]
    );
    assert!(lines[3].contains(DOOR3), "{}", lines[3]);
    assert!(
        lines[3].ends_with(" N/a             c0ffee0 (1.0.0)          Tracking fleet"),
        "{}",
        lines[3]
    );

    let out = env.run(&["device", "list", "--fleet", "acme/frontdoor", "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(v[0]["uuid"], json!(DOOR1));
    assert_eq!(v[0]["release_policy"], json!("pinned"));
    assert_eq!(v[0]["behind"], json!(true));
    assert_eq!(
        v[0]["is_running__release"],
        json!([{"id": 100, "commit": C100, "raw_version": "1.0.0"}])
    );
    assert_eq!(
        v[0]["should_be_running__release"],
        json!([{"id": 101, "commit": C101, "raw_version": "1.1.0"}])
    );
    assert_eq!(v[0]["is_pinned_on__release"], json!([{"id": 101}]));
    assert_eq!(v[1]["release_policy"], json!("tracking_fleet"));
    assert_eq!(v[1]["behind"], json!(false));
    assert_eq!(v[1]["is_pinned_on__release"], json!([]));
    assert_eq!(v[2]["is_running__release"], json!([]));
    assert_eq!(v[2]["behind"], json!(true));
}

#[test]
fn device_list_pages_through_a_large_fleet_in_the_server_order() {
    // 2,500 devices: 3 pages of up to 1,000, by (device_name, id). Names such as
    // scale-device-10 and scale-device-100 make the name order differ from the id order.
    let sb = Sandbox::builder()
        .token(TOKEN)
        .request_log()
        .args(&["--devices", "2500", "--releases", "3"])
        .start();
    let env = TestEnv::logged_in(&sb);
    let fleet = sb.get_json("/v7/application?$select=id&$filter=slug%20eq%20'admin/scale-fleet'");
    let fleet_id = fleet["d"][0]["id"].as_i64().unwrap();
    // The order of one unpaged query on the server.
    let all = sb.get_json(&format!(
        "/v7/device?$select=uuid&$filter=belongs_to__application%20eq%20{fleet_id}&$orderby=device_name%20asc,id%20asc"
    ));
    let want: Vec<&str> = all["d"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(want.len(), 2500);

    let (out, reqs) = counted(
        &sb,
        &env,
        &["device", "list", "--fleet", "admin/scale-fleet", "--json"],
    );
    out.ok();
    let v7: Vec<&Logged> = reqs.iter().filter(|r| r.path.starts_with("/v7/")).collect();
    assert_eq!(v7.len(), 4, "the fleet and 3 pages: {v7:?}");
    assert!(v7[1..].iter().all(|r| r.path == "/v7/device"), "{v7:?}");
    let got: Vec<String> = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["uuid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, want);

    let out = env.run(&["device", "list", "--fleet", "admin/scale-fleet"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2501);
    let short: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    let want_short: Vec<&str> = want.iter().map(|u| &u[..7]).collect();
    assert_eq!(short, want_short);
    // One table: the header's columns hold for every page.
    let at = lines[0].find("DEVICE TYPE").unwrap();
    assert!(lines[1..]
        .iter()
        .all(|l| l.find(" raspberrypi4-64 ").map(|i| i + 1) == Some(at)));
}

#[test]
fn device_list_filters_run_on_the_server() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let f = ["--fleet", "acme/frontdoor"];
    let with = |extra: &[&str]| -> Vec<String> {
        let mut a = f.to_vec();
        a.extend_from_slice(extra);
        listed(&sb, &env, &a)
    };
    assert_eq!(with(&[]), [DOOR1, DOOR2, DOOR3]);
    assert_eq!(with(&["--pinned"]), [DOOR1]);
    assert_eq!(with(&["--tracking"]), [DOOR2, DOOR3]);
    assert_eq!(with(&["--behind"]), [DOOR1, DOOR3]);
    assert_eq!(with(&["--tracking", "--behind"]), [DOOR3]);

    tag(&sb, 1001, "canary", "");
    tag(&sb, 1002, "canary", "yes");
    tag(&sb, 1002, "region", "eu west");
    assert_eq!(with(&["--tag", "canary"]), [DOOR2, DOOR3]);
    assert_eq!(
        with(&["--tag", "canary", "--tag", "region=eu west"]),
        [DOOR3]
    );
    assert_eq!(with(&["--tag", "canary="]), [DOOR2]);
    assert!(with(&["--tag", "region=us"]).is_empty());
    assert_eq!(with(&["--tag", "canary", "--behind"]), [DOOR3]);

    // door-3 reaches its target: no longer behind.
    let st = send(
        &sb,
        "PATCH",
        "/v7/device(1002)",
        &json!({"is_running__release": 100}),
    );
    assert_eq!(st, 200);
    assert_eq!(with(&["--behind"]), [DOOR1]);

    // Without --fleet: every fleet alice can see, never bob's devices.
    let all = listed(&sb, &env, &["--tracking"]);
    assert_eq!(all, [DOOR2, DOOR3, YARD1]);
    let behind = listed(&sb, &env, &["--behind"]);
    assert_eq!(behind, [DOOR1, YARD1]);

    // A bad tag is a usage error before any request.
    let out = rejected(&sb, &env, &["device", "list", "--tag", "=x"], 2);
    assert!(out.stderr.contains("--tag"), "{}", out.stderr);
}

#[test]
fn fleet_shows_policy_target_and_counts() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let (out, reqs) = counted(&sb, &env, &["fleet", "acme/frontdoor"]);
    out.ok();
    // The fleet with its device count, then two counts: no device row is read.
    let v7: Vec<_> = reqs.iter().filter(|r| r.path.starts_with("/v7/")).collect();
    assert_eq!(v7.len(), 3, "{reqs:?}");
    assert!(v7[0]
        .query
        .as_deref()
        .unwrap()
        .contains("owns__device/$count"));
    assert!(
        v7[1..].iter().all(|r| r.path == "/v7/device/$count"),
        "{reqs:?}"
    );
    assert_eq!(
        out.stdout,
        format!(
            "== frontdoor
ID:          10
DEVICE TYPE: raspberrypi4-64
SLUG:        acme/frontdoor
COMMIT:      {C100}

RELEASE POLICY:   Pinned
TARGET RELEASE:   c0ffee0 (1.0.0)
DEVICES:          3
PINNED DEVICES:   1
TRACKING DEVICES: 2
BEHIND DEVICES:   2
"
        )
    );
    let out = env.run(&["fleet", "Acme/Backyard", "--json"]);
    out.ok();
    assert_eq!(
        out.json(),
        json!({"id": 11, "app_name": "backyard", "slug": "acme/backyard",
               "device_type": "intel-nuc", "commit": C111,
               "release_policy": "tracking_latest",
               "target_release": {"id": 111, "commit": C111, "raw_version": "0.2.0"},
               "device_counts": {"total": 1, "pinned": 0, "tracking": 1, "behind": 1}})
    );
    // A fleet of another organisation stays invisible.
    rejected(&sb, &env, &["fleet", "other/secret"], 4);
    // There is no opt-in flag any more.
    rejected(&sb, &env, &["fleet", "acme/backyard", "--policy"], 2);
}

#[test]
fn release_lists_fleets_and_devices() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let (out, reqs) = counted(&sb, &env, &["release", "c0ffee0"]);
    out.ok();
    let v7: Vec<&Logged> = reqs.iter().filter(|r| r.path.starts_with("/v7/")).collect();
    assert_eq!(v7.len(), 2, "{v7:?}");
    let r = rows(&out.stdout);
    let labels: Vec<&str> = r.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        labels,
        [
            "ID",
            "COMMIT",
            "CREATED AT",
            "STATUS",
            "VERSION",
            "IS FINAL",
            "BUILD LOG",
            "START TIMESTAMP",
            "END TIMESTAMP",
            "TAGS",
            "TARGETED BY FLEETS",
            "PINNED DEVICES",
            "RUNNING DEVICES"
        ]
    );
    assert_eq!(row(&r, "COMMIT"), [C100]);
    assert_eq!(row(&r, "TARGETED BY FLEETS"), ["1", "acme/frontdoor"]);
    assert_eq!(row(&r, "PINNED DEVICES"), ["0"]);
    assert_eq!(
        row(&r, "RUNNING DEVICES"),
        [
            "2".to_owned(),
            format!("{DOOR1} door-1"),
            format!("{DOOR2} door-2")
        ]
    );

    let out = env.run(&["release", C101, "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(v["id"], json!(101));
    assert_eq!(v["raw_version"], json!("1.1.0"));
    assert_eq!(v["targeted_by_fleets"], json!({"count": 0, "items": []}));
    assert_eq!(
        v["pinned_devices"],
        json!({"count": 1, "items": [{"id": 1000, "uuid": DOOR1, "device_name": "door-1"}]})
    );
    assert_eq!(v["running_devices"], json!({"count": 0, "items": []}));
    assert!(v.get("is_pinned_to__device").is_none(), "{v}");

    // 22 devices of backyard run release 111: 20 are listed, then "… and 2 more".
    for i in 0..22 {
        let st = send(
            &sb,
            "POST",
            "/v7/device",
            &json!({"uuid": format!("fee1{i:028}"), "device_name": format!("yard-run-{i:02}"),
                    "belongs_to__application": BACKYARD, "is_of__device_type": 3,
                    "is_running__release": 111}),
        );
        assert_eq!(st, 201, "device {i}");
    }
    let out = env.run(&["release", "bacc110"]);
    out.ok();
    let r = rows(&out.stdout);
    let running = row(&r, "RUNNING DEVICES");
    assert_eq!(running.len(), 1 + 20 + 1, "{running:?}");
    assert_eq!(running[0], "22");
    assert_eq!(running[1], format!("fee1{:028} yard-run-00", 0));
    assert_eq!(running[21], "… and 2 more");
    assert_eq!(row(&r, "TARGETED BY FLEETS"), ["1", "acme/backyard"]);

    let out = env.run(&["fleet", "acme/backyard", "--json"]);
    out.ok();
    assert_eq!(
        out.json()["device_counts"],
        json!({"total": 23, "pinned": 0, "tracking": 23, "behind": 1})
    );
}
