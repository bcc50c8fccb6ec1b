//! `application_tag`, as open-balena-api v7 serves it (`src/translations/v7/v7.sbvr`:
//! "application has tag key", term form "application tag"; "tag key" a Short Text whose
//! length must be greater than 0, "value" a Text): fields, tenancy, writes, the unique
//! (application, tag_key) pair, the length rules, fixtures, and the reverse navigation
//! `application_tag` of `application`.

mod common;

use common::Sandbox;
use serde_json::{json, Value};

const ALICE: &str = "alice-key";
const BOB: &str = "bob-key";

fn fixture(dir: &std::path::Path) -> String {
    let fixture = json!({
        "users": [
            {"username": "alice", "api_keys": [ALICE]},
            {"username": "bob", "api_keys": [BOB]}
        ],
        "applications": [
            {"id": 1, "app_name": "alicefleet", "organization": "alice", "is_for__device_type": "raspberrypi5",
             "tags": {"rollout.wave": "1", "owner": "ops"}},
            {"id": 2, "app_name": "alicefleet2", "organization": "alice", "is_for__device_type": "raspberrypi5"},
            {"id": 3, "app_name": "bobfleet", "organization": "bob", "is_for__device_type": "intel-nuc",
             "tags": {"secret": "bob's"}}
        ]
    });
    let path = dir.join("app-tags.json");
    std::fs::write(&path, fixture.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

fn start() -> (tempfile::TempDir, Sandbox) {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(&fixture(dir.path()));
    (dir, sb)
}

/// The request target as sent: spaces percent-encoded (the client sends targets byte for
/// byte).
fn target(path: &str) -> String {
    path.replace(' ', "%20")
}

fn send(
    sb: &Sandbox,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, String) {
    sb.send(method, &target(path), token, body)
}

fn get_json(sb: &Sandbox, path: &str, token: &str) -> Value {
    sb.get_json_as(&target(path), token)
}

fn rows(sb: &Sandbox, token: &str, path: &str) -> Vec<Value> {
    get_json(sb, path, token)["d"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn post(sb: &Sandbox, token: &str, body: Value) -> (u16, String) {
    send(sb, "POST", "/v7/application_tag", Some(token), Some(&body))
}

#[test]
fn fixture_tags_are_served_with_the_real_fields_in_order() {
    let (_dir, sb) = start();
    let tags = rows(&sb, ALICE, "/v7/application_tag?$orderby=id asc");
    assert_eq!(tags.len(), 2, "{tags:?}");
    let first = tags[0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "created_at",
            "modified_at",
            "id",
            "application",
            "tag_key",
            "value"
        ]
    );
    assert_eq!(first["application"], json!({"__id": 1}));
    assert_eq!(first["tag_key"], "rollout.wave");
    assert_eq!(first["value"], "1");
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn create_read_patch_and_delete_by_id_and_by_filter() {
    let (_dir, sb) = start();
    let (s, body) = post(
        &sb,
        ALICE,
        json!({"application": 2, "tag_key": "rollout.percent", "value": "10"}),
    );
    assert_eq!(s, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["application"], json!({"__id": 2}));
    assert_eq!(created["tag_key"], "rollout.percent");
    assert_eq!(created["value"], "10");

    // The SDK's `{"application": {"__id": N}}` shape is accepted too.
    let (s, body) = post(
        &sb,
        ALICE,
        json!({"application": {"__id": 2}, "tag_key": "rollout.wave", "value": "2"}),
    );
    assert_eq!(s, 201, "{body}");

    let (s, body) = send(
        &sb,
        "PATCH",
        &format!("/v7/application_tag({id})"),
        Some(ALICE),
        Some(&json!({"value": "25"})),
    );
    assert_eq!((s, body.as_str()), (200, ""));
    let got = rows(
        &sb,
        ALICE,
        &format!("/v7/application_tag({id})?$select=tag_key,value"),
    );
    assert_eq!(
        got,
        vec![json!({"tag_key": "rollout.percent", "value": "25"})]
    );

    // PATCH by $filter, as the SDK's tags.set does for an existing key.
    let (s, _) = send(
        &sb,
        "PATCH",
        "/v7/application_tag?$filter=application eq 2 and tag_key eq 'rollout.wave'",
        Some(ALICE),
        Some(&json!({"value": "3"})),
    );
    assert_eq!(s, 200);
    let got = rows(
        &sb,
        ALICE,
        "/v7/application_tag?$filter=application eq 2&$orderby=tag_key asc&$select=tag_key,value",
    );
    assert_eq!(
        got,
        vec![
            json!({"tag_key": "rollout.percent", "value": "25"}),
            json!({"tag_key": "rollout.wave", "value": "3"})
        ]
    );
    // The parent is set on creation only.
    let (s, _) = send(
        &sb,
        "PATCH",
        &format!("/v7/application_tag({id})"),
        Some(ALICE),
        Some(&json!({"application": 1})),
    );
    assert_eq!(s, 400);

    let (s, _) = send(
        &sb,
        "DELETE",
        &format!("/v7/application_tag({id})"),
        Some(ALICE),
        None,
    );
    assert_eq!(s, 200);
    let (s, _) = send(&sb,
        "DELETE",
        "/v7/application_tag?$filter=application/any(a:a/app_name eq 'alicefleet2') and tag_key eq 'rollout.wave'",
        Some(ALICE),
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(
        rows(&sb, ALICE, "/v7/application_tag?$filter=application eq 2"),
        Vec::<Value>::new()
    );
    // The fixture's tags of fleet 1 are untouched.
    let (_, count) = send(&sb, "GET", "/v7/application_tag/$count", Some(ALICE), None);
    assert_eq!(count, r#"{"d":2}"#);
}

#[test]
fn a_duplicate_key_on_the_same_fleet_is_the_real_servers_409() {
    let (_dir, sb) = start();
    let (s, body) = post(
        &sb,
        ALICE,
        json!({"application": 1, "tag_key": "owner", "value": "someone else"}),
    );
    assert_eq!(
        (s, body.as_str()),
        (409, r#""Unique key constraint violated""#)
    );
    // Renaming a key onto an existing one is the same conflict.
    let (s, body) = post(
        &sb,
        ALICE,
        json!({"application": 1, "tag_key": "other", "value": "x"}),
    );
    assert_eq!(s, 201, "{body}");
    let (s, body) = send(
        &sb,
        "PATCH",
        "/v7/application_tag?$filter=application eq 1 and tag_key eq 'other'",
        Some(ALICE),
        Some(&json!({"tag_key": "owner"})),
    );
    assert_eq!(
        (s, body.as_str()),
        (409, r#""Unique key constraint violated""#)
    );
    // The same key on another fleet is fine, and keys are case-sensitive.
    for (app, key) in [(2, "owner"), (1, "Owner")] {
        let (s, body) = post(
            &sb,
            ALICE,
            json!({"application": app, "tag_key": key, "value": "v"}),
        );
        assert_eq!(s, 201, "{app} {key}: {body}");
    }
}

#[test]
fn tag_key_and_value_lengths_follow_the_real_model() {
    let (_dir, sb) = start();
    // tag_key: Short Text, 1 to 255 characters.
    let (s, body) = post(
        &sb,
        ALICE,
        json!({"application": 1, "tag_key": "", "value": "v"}),
    );
    assert_eq!((s, body.as_str()), (400, r#""Check constraint violated""#));
    let (s, body) = post(
        &sb,
        ALICE,
        json!({"application": 1, "tag_key": "k".repeat(255), "value": "v"}),
    );
    assert_eq!(s, 201, "{body}");
    let (s, body) = post(
        &sb,
        ALICE,
        json!({"application": 1, "tag_key": "k".repeat(256), "value": "v"}),
    );
    assert_eq!(
        (s, body.as_str()),
        (400, r#""\"tag_key\" longer than 255 characters (256)""#)
    );
    // Characters are counted as JavaScript counts them (UTF-16 code units).
    let (s, body) = post(
        &sb,
        ALICE,
        json!({"application": 1, "tag_key": "😀".repeat(128), "value": "v"}),
    );
    assert_eq!(
        (s, body.as_str()),
        (400, r#""\"tag_key\" longer than 255 characters (256)""#)
    );
    let (s, body) = send(
        &sb,
        "PATCH",
        "/v7/application_tag?$filter=tag_key eq 'owner'",
        Some(ALICE),
        Some(&json!({"tag_key": "x".repeat(300)})),
    );
    assert_eq!(
        (s, body.as_str()),
        (400, r#""\"tag_key\" longer than 255 characters (300)""#)
    );
    // value: Text, no length limit in the model (1,000 characters and far beyond).
    for len in [1_000, 1_001, 20_000] {
        let (s, body) = post(
            &sb,
            ALICE,
            json!({"application": 2, "tag_key": format!("long{len}"), "value": "v".repeat(len)}),
        );
        assert_eq!(s, 201, "{len}: {body}");
    }
    let got = rows(
        &sb,
        ALICE,
        "/v7/application_tag?$filter=tag_key eq 'long20000'&$select=value",
    );
    assert_eq!(got[0]["value"].as_str().unwrap().len(), 20_000);
    // Both fields are required; a missing parent too.
    for body in [
        json!({"application": 1, "tag_key": "k"}),
        json!({"application": 1, "value": "v"}),
        json!({"tag_key": "k", "value": "v"}),
    ] {
        let (s, text) = post(&sb, ALICE, body.clone());
        assert_eq!(s, 400, "{body}: {text}");
    }
}

#[test]
fn tags_are_seen_and_written_by_whoever_sees_the_fleet() {
    let (_dir, sb) = start();
    // Bob sees his own fleet's tag only; Alice hers.
    let bob_tags = rows(&sb, BOB, "/v7/application_tag?$select=tag_key");
    assert_eq!(bob_tags, vec![json!({"tag_key": "secret"})]);
    let alice_keys: Vec<Value> = rows(
        &sb,
        ALICE,
        "/v7/application_tag?$select=tag_key&$orderby=tag_key asc",
    );
    assert_eq!(
        alice_keys,
        vec![
            json!({"tag_key": "owner"}),
            json!({"tag_key": "rollout.wave"})
        ]
    );
    // Bob cannot tag Alice's fleet, nor change or delete her tags.
    let (s, body) = post(
        &sb,
        BOB,
        json!({"application": 1, "tag_key": "k", "value": "v"}),
    );
    assert_eq!(
        (s, body.as_str()),
        (409, r#""Data is referenced by application.""#)
    );
    send(
        &sb,
        "PATCH",
        "/v7/application_tag?$filter=tag_key eq 'owner'",
        Some(BOB),
        Some(&json!({"value": "pwned"})),
    );
    send(&sb, "DELETE", "/v7/application_tag(1)", Some(BOB), None);
    send(
        &sb,
        "DELETE",
        "/v7/application_tag?$filter=application eq 1",
        Some(BOB),
        None,
    );
    let got = rows(
        &sb,
        ALICE,
        "/v7/application_tag?$filter=tag_key eq 'owner'&$select=value",
    );
    assert_eq!(got, vec![json!({"value": "ops"})]);
    assert_eq!(rows(&sb, ALICE, "/v7/application_tag?$select=id").len(), 2);
    // Guests read an empty list (the real server lets them read public fleets' tags only)
    // and cannot write.
    let (s, body) = send(&sb, "GET", "/v7/application_tag", None, None);
    assert_eq!((s, body.as_str()), (200, r#"{"d":[]}"#));
    let (s, _) = send(
        &sb,
        "POST",
        "/v7/application_tag",
        None,
        Some(&json!({"application": 1, "tag_key": "k", "value": "v"})),
    );
    assert_eq!(s, 401);
}

#[test]
fn expand_and_filter_through_the_application() {
    let (_dir, sb) = start();
    let got = get_json(&sb,
        "/v7/application?$select=id&$orderby=id asc&$expand=application_tag($select=tag_key,value;$orderby=tag_key asc)",
        ALICE,
    );
    // The default user is alice (the fixture's first user).
    assert_eq!(
        got,
        json!({"d": [
            {"application_tag": [{"tag_key": "owner", "value": "ops"}, {"tag_key": "rollout.wave", "value": "1"}], "id": 1},
            {"application_tag": [], "id": 2}
        ]})
    );
    let got = get_json(&sb,
        "/v7/application?$select=app_name&$filter=application_tag/any(t:t/tag_key eq 'rollout.wave' and t/value eq '1')",
        ALICE,
    );
    assert_eq!(got, json!({"d": [{"app_name": "alicefleet"}]}));
    let got = get_json(&sb,
        "/v7/application?$select=app_name&$filter=not application_tag/any(t:t/tag_key eq 'rollout.wave')",
        ALICE,
    );
    assert_eq!(got, json!({"d": [{"app_name": "alicefleet2"}]}));
    // From the tag to its fleet.
    let got = get_json(&sb,
        "/v7/application_tag?$select=tag_key&$filter=application/app_name eq 'alicefleet' and tag_key eq 'owner'&$expand=application($select=slug)",
        ALICE,
    );
    assert_eq!(
        got,
        json!({"d": [{"application": [{"slug": "alice/alicefleet"}], "tag_key": "owner"}]})
    );
    // Bob's tag does not show through Alice's expansion, nor does Alice's through Bob's.
    let got = get_json(
        &sb,
        "/v7/application?$select=id&$expand=application_tag($select=value)",
        BOB,
    );
    assert_eq!(
        got,
        json!({"d": [{"application_tag": [{"value": "bob's"}], "id": 3}]})
    );
}

#[test]
fn deleting_a_fleet_deletes_its_tags() {
    let (_dir, sb) = start();
    let (s, body) = send(&sb, "DELETE", "/v7/application(1)", Some(ALICE), None);
    assert_eq!(s, 200, "{body}");
    let conn = rusqlite::Connection::open(&sb.db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM t_application_tag WHERE \"application\" = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}
