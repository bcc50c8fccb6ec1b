//! `release <x>`, `release list`, `releases <fleet>`, `releases list <fleet>`, `completion`.

use serde_json::json;

use crate::harness::*;

const FRONTDOOR_IDS: [i64; 9] = [555, 107, 106, 105, 104, 103, 102, 101, 100];

#[test]
fn release_show_every_identifier_form() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    // (argument, id)
    let cases = [
        (C101, 101),
        ("abcd123", 101),
        ("abcd124", 102),
        ("101", 101),
        ("1.1.0", 101),
        ("v1.1.0", 101),
        ("1.1.1", 102),
        (RAW105_DRAFT, 105),
        ("1.4.0", 105),
        ("bacc11", 111),
        ("0.1.0", 110),
        (C103_FAILED, 103),
    ];
    for (arg, id) in cases {
        let out = env.run(&["release", arg, "--json"]);
        out.ok();
        let v = out.json();
        assert_eq!(v["id"], json!(id), "release {arg}: {v}");
    }
    let out = env.run(&["release", "abcd123", "--json"]);
    let v = out.json();
    assert_eq!(v["commit"], json!(C101));
    assert_eq!(v["raw_version"], json!("1.1.0"));
    assert_eq!(v["status"], json!("success"));
    let mut tags: Vec<(String, String)> = v["release_tag"]
        .as_array()
        .expect("release_tag")
        .iter()
        .map(|t| {
            (
                t["tag_key"].as_str().unwrap().to_owned(),
                t["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            ("channel".to_owned(), "beta".to_owned()),
            ("owner".to_owned(), "alice".to_owned())
        ]
    );

    // The uses come after the official keys.
    assert_eq!(
        v["pinned_devices"],
        json!({"count": 1, "items": [{"id": 1000, "uuid": DOOR1, "device_name": "door-1"}]})
    );
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(
        keys[keys.len() - 3..],
        ["targeted_by_fleets", "pinned_devices", "running_devices"]
    );

    let (out, reqs) = counted(&sb, &env, &["release", "v1.1.0"]);
    out.ok();
    assert_eq!(
        reqs.iter().filter(|r| r.path.starts_with("/v7/")).count(),
        2,
        "{reqs:?}"
    );
    // The official rows (their own alignment), a blank line, then the uses.
    let (official, uses) = out.stdout.split_once("\n\n").expect("two blocks");
    assert!(official.starts_with("ID:              101\n"), "{official}");
    assert!(official.contains("\nTAGS:            "), "{official}");
    assert_eq!(
        uses,
        format!("TARGETED BY FLEETS: 0\nPINNED DEVICES:     1\n                    {DOOR1} door-1\nRUNNING DEVICES:    0\n")
    );
    let f = vertical(&out.stdout);
    assert_eq!(f["ID"], "101");
    assert_eq!(f["COMMIT"], C101);
    assert_eq!(f["STATUS"], "success");
    assert_eq!(f["VERSION"], "1.1.0");
    assert_eq!(f["IS FINAL"], "true");
    out.stdout_has("channel=beta").stdout_has("owner=alice");

    let out = env.run(&["release", C105_DRAFT]);
    out.ok();
    let f = vertical(&out.stdout);
    assert_eq!(f["VERSION"], RAW105_DRAFT);
    assert_eq!(f["IS FINAL"], "false");
}

fn list_ids(out: &Out) -> Vec<i64> {
    out.json()
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect()
}

#[test]
fn release_list_and_its_aliases() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let (table, reqs) = counted(&sb, &env, &["release", "list", "acme/frontdoor"]);
    table.ok();
    assert!(reqs.len() <= 2, "{reqs:?}");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{}", table.stdout);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "COMMIT", "CREATED", "AT", "STATUS", "VERSION", "IS", "FINAL"]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row,
        [
            "555",
            C555,
            "2026-02-09T00:00:00.000Z",
            "success",
            "2.1.0",
            "true"
        ]
    );
    let draft: Vec<&str> = lines[4].split_whitespace().collect();
    assert_eq!(draft[0], "105");
    assert_eq!(draft[4], RAW105_DRAFT);
    assert_eq!(draft[5], "false");
    assert!(lines[6].contains("failed") && lines[5].contains("running"));

    for args in [
        &["releases", "acme/frontdoor"][..],
        &["releases", "list", "acme/frontdoor"],
        &["release", "list", "FRONTDOOR_UUID"],
    ] {
        let args: Vec<&str> = args
            .iter()
            .map(|a| {
                if *a == "FRONTDOOR_UUID" {
                    FRONTDOOR_UUID
                } else {
                    a
                }
            })
            .collect();
        let out = env.run(&args);
        out.ok();
        assert_eq!(out.stdout, table.stdout, "{args:?}");
    }

    for fleet in ["acme/frontdoor", "Acme/FrontDoor", "frontdoor", "10"] {
        let (out, reqs) = counted(&sb, &env, &["release", "list", fleet, "--json"]);
        out.ok();
        assert!(reqs.len() <= 2, "{reqs:?}");
        assert_eq!(list_ids(&out), FRONTDOOR_IDS, "{fleet}");
    }
    let out = env.run(&["releases", "list", "acme/frontdoor", "--json"]);
    out.ok();
    let v = out.json();
    let r101 = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(101))
        .expect("101");
    assert_eq!(r101["commit"], json!(C101));
    assert_eq!(r101["raw_version"], json!("1.1.0"));
    assert_eq!(r101["semver"], json!("1.1.0"));
    assert_eq!(r101["release_tag"].as_array().map(Vec::len), Some(2));
    let out = env.run(&["releases", "acme/backyard", "--json"]);
    out.ok();
    assert_eq!(list_ids(&out), [111, 110]);
}

#[test]
fn completion_bash() {
    // No server needed, and none contacted.
    let env = TestEnv::new("http://127.0.0.1:9");
    let out = env.run(&["completion", "bash"]);
    out.ok();
    assert_eq!(out.stderr, "");
    out.stdout_has("_balena()").stdout_has("complete -F");
    for word in ["track-latest", "track-fleet", "releases"] {
        out.stdout_has(word);
    }
    // That the committed completions/ match is tests/generated.rs's job.
}
