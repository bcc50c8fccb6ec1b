//! Tenancy, rollout simulation and the request log, against the real binary.

mod common;

use std::time::{Duration, Instant};

use common::Sandbox;
use serde_json::json;

fn tenancy_fixture(dir: &std::path::Path) -> String {
    let fixture = json!({
        "users": [
            {"username": "alice", "api_keys": ["alice-key"]},
            {"username": "bob", "api_keys": ["bob-key"]}
        ],
        "applications": [
            {"id": 1, "app_name": "alicefleet", "organization": "alice", "is_for__device_type": "raspberrypi5"},
            {"id": 2, "app_name": "bobfleet", "organization": "bob", "is_for__device_type": "intel-nuc"}
        ],
        "releases": [
            {"id": 1, "belongs_to__application": 1, "commit": "aaaa0000000000000000000000000001", "status": "success", "tags": {"k": "v"}},
            {"id": 2, "belongs_to__application": 2, "commit": "bbbb0000000000000000000000000002", "status": "success"}
        ],
        "devices": [
            {"id": 1, "uuid": "aaaa0000000000000000000000000001", "belongs_to__application": 1, "is_of__device_type": 12, "tags": {"t": "1"}},
            {"id": 2, "uuid": "bbbb0000000000000000000000000002", "belongs_to__application": 2, "is_of__device_type": 3}
        ]
    });
    let path = dir.join("tenancy.json");
    std::fs::write(&path, fixture.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_user_cannot_read_or_change_another_users_data() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(&tenancy_fixture(dir.path()));
    let bob = Some("bob-key");
    for path in [
        "/v7/application(1)",
        "/v7/application?$filter=id%20eq%201",
        "/v7/release(1)",
        "/v7/release_tag",
        "/v7/device(1)",
        "/v7/device(uuid='aaaa0000000000000000000000000001')",
        "/v7/device_tag",
        "/v7/organization(1)",
    ] {
        let (s, body) = sb.send("GET", path, bob, None);
        assert_eq!((s, body.as_str()), (200, r#"{"d":[]}"#), "GET {path}");
    }
    // Navigations do not leak either.
    let (_, body) = sb.send(
        "GET",
        "/v7/application?$expand=owns__device,owns__release&$filter=owns__release/any(r:r/id%20eq%201)",
        bob,
        None,
    );
    assert_eq!(body, r#"{"d":[]}"#);
    let (s, _) = sb.send(
        "GET",
        "/device/v3/aaaa0000000000000000000000000001/state",
        bob,
        None,
    );
    assert_eq!(s, 404);

    // Writes to alice's rows change nothing.
    sb.send(
        "PATCH",
        "/v7/application(1)",
        bob,
        Some(&json!({"should_track_latest_release": false})),
    );
    sb.send(
        "PATCH",
        "/v7/device(1)",
        bob,
        Some(&json!({"device_name": "pwned"})),
    );
    sb.send(
        "DELETE",
        "/v7/release_tag?$filter=tag_key%20eq%20%27k%27",
        bob,
        None,
    );
    sb.send("DELETE", "/v7/device(1)", bob, None);
    // Pointing bob's rows at alice's: the referenced row does not exist for bob.
    let (s, body) = sb.send(
        "PATCH",
        "/v7/device(2)",
        bob,
        Some(&json!({"belongs_to__application": 1})),
    );
    assert_eq!(
        (s, body.as_str()),
        (409, r#""Data is referenced by belongs_to__application.""#)
    );
    let (s, _) = sb.send("POST", "/v7/release", bob, Some(&json!({
        "belongs_to__application": 1, "commit": "cccc", "status": "success", "start_timestamp": "2026-01-01T00:00:00Z"
    })));
    assert_eq!(s, 409);

    let alice = Some("alice-key");
    let (_, body) = sb.send(
        "GET",
        "/v7/application(1)?$select=should_track_latest_release",
        alice,
        None,
    );
    assert_eq!(body, r#"{"d":[{"should_track_latest_release":true}]}"#);
    let (_, body) = sb.send(
        "GET",
        "/v7/device(1)?$select=device_name&$expand=device_tag($select=value)",
        alice,
        None,
    );
    assert_eq!(
        body,
        r#"{"d":[{"device_tag":[{"value":"1"}],"device_name":"aaaa000"}]}"#
    );
    let (_, body) = sb.send("GET", "/v7/release_tag/$count", alice, None);
    assert_eq!(body, r#"{"d":1}"#);
    let (_, body) = sb.send("GET", "/v7/application/$count", alice, None);
    assert_eq!(body, r#"{"d":1}"#);
}

#[test]
fn simulated_devices_reach_their_target_and_requests_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let sb = Sandbox::start_with(&[
        "--seed",
        &common::fixture("transcript-seed.json"),
        "--simulate-updates",
        "300ms",
        "--log",
        log.to_str().unwrap(),
    ]);
    let path = "/v7/device(1)?$select=overall_status&$expand=is_running__release($select=id)";
    let wait_for = |want: serde_json::Value| {
        let start = Instant::now();
        loop {
            let got = sb.get_json(path)["d"][0].clone();
            if got == want {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "still {got}, want {want}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(json!({"is_running__release": [{"id": 2}], "overall_status": "idle"}));
    let (s, _) = sb.send(
        "PATCH",
        "/v7/device(1)",
        Some(&sb.api_key),
        Some(&json!({"is_pinned_on__release": 1})),
    );
    assert_eq!(s, 200);
    wait_for(json!({"is_running__release": [{"id": 2}], "overall_status": "updating"}));
    wait_for(json!({"is_running__release": [{"id": 1}], "overall_status": "idle"}));

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 3);
    let patch = lines
        .iter()
        .find(|l| l["method"] == "PATCH")
        .expect("the PATCH is logged");
    assert_eq!(patch["path"], "/v7/device(1)");
    assert_eq!(patch["status"], 200);
    assert!(patch["duration_ms"].is_number());
    assert!(lines[0]["query"]
        .as_str()
        .unwrap()
        .contains("$select=overall_status"));
}
