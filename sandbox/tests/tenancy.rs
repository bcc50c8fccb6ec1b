//! Tenancy: two users in two organisations (`fixtures/tenancy-seed.json`). Bob's token can
//! neither read nor change anything of Alice's fleets, releases, devices or tags: not
//! through collections, ids, alternate keys, `$count`, navigation paths in `$filter`,
//! lambdas, `$expand`, bulk writes, or references written into his own rows. Afterwards,
//! Alice's view of her data and the row counts in the database are unchanged.
//! Anonymous callers and unknown tokens behave as in part 2 §23 of the server transcript.

mod common;
mod support;

use serde_json::{json, Value};
use support::{encode_query, RawClient, Resp};

const ALICE: &str = "alice-key-00000000000000000000001";
const BOB: &str = "bob-key-000000000000000000000002";

const A_APPS: [i64; 2] = [10, 11];
const A_RELEASES: [i64; 4] = [100, 101, 102, 110];
const A_DEVICES: [i64; 3] = [1000, 1001, 1100];
const A_DEVICE_UUID: &str = "a0000000000000000000000000001000";
const A_COMMIT: &str = "a1000000000000000000000000000100";
const A_SLUG: &str = "orga/fleeta";
const B_DEVICE: i64 = 2000;

/// `path?query` with the query percent-encoded as a client would send it.
fn target(path_and_query: &str) -> String {
    match path_and_query.split_once('?') {
        Some((p, q)) => format!("{p}?{}", encode_query(q)),
        None => path_and_query.to_string(),
    }
}

struct T {
    c: RawClient,
}

impl T {
    fn get(&mut self, token: Option<&str>, pq: &str) -> Resp {
        let t = target(pq);
        let r = self
            .c
            .get(&t, token)
            .unwrap_or_else(|e| panic!("GET {t}: {e}"));
        assert!(r.status < 500, "GET {t}: {} {}", r.status, r.text());
        r
    }

    fn send(&mut self, token: Option<&str>, method: &str, pq: &str, body: Option<&Value>) -> Resp {
        let t = target(pq);
        let r = match body {
            Some(b) => self.c.send_json(method, &t, token, b),
            None => self.c.send_empty(method, &t, token),
        }
        .unwrap_or_else(|e| panic!("{method} {t}: {e}"));
        assert!(r.status < 500, "{method} {t}: {} {}", r.status, r.text());
        r
    }

    /// The `d` array of a 200 answer.
    fn rows(&mut self, token: Option<&str>, pq: &str) -> Vec<Value> {
        let r = self.get(token, pq);
        assert_eq!(r.status, 200, "GET {pq}: {}", r.text());
        match r.json()["d"].take() {
            Value::Array(a) => a,
            other => panic!("GET {pq}: d is not an array: {other}"),
        }
    }

    fn ids(&mut self, token: Option<&str>, pq: &str) -> Vec<i64> {
        self.rows(token, pq)
            .iter()
            .map(|r| {
                r["id"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("GET {pq}: no id in {r}"))
            })
            .collect()
    }

    /// A single-entity read of something the caller must not see: 200 with an empty `d`,
    /// or 404, as the issue allows.
    fn invisible(&mut self, token: Option<&str>, pq: &str) {
        let r = self.get(token, pq);
        match r.status {
            200 => assert_eq!(r.json(), json!({"d": []}), "GET {pq} leaks"),
            404 => {}
            s => panic!("GET {pq}: expected an empty d or 404, got {s} {}", r.text()),
        }
    }

    /// Alice's complete view of her data, every field of every row.
    fn alice_snapshot(&mut self) -> Value {
        let apps = self.get(
            Some(ALICE),
            "/v7/application?$orderby=id asc&$expand=owns__release($orderby=id asc;$expand=release_tag($orderby=id asc)),owns__device($orderby=id asc;$expand=device_tag($orderby=id asc))",
        );
        assert_eq!(apps.status, 200, "{}", apps.text());
        let orgs = self.get(Some(ALICE), "/v7/organization?$orderby=id asc");
        assert_eq!(orgs.status, 200, "{}", orgs.text());
        json!({"apps": apps.json(), "orgs": orgs.json()})
    }
}

/// Row counts of every table, read straight from the SQLite file.
fn table_counts(db: &std::path::Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the sandbox database read-only");
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
        .into_iter()
        .map(|n| {
            let c: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM \"{n}\""), [], |r| r.get(0))
                .unwrap();
            (n, c)
        })
        .collect()
}

fn start() -> (common::Sandbox, T) {
    let sb = common::Sandbox::start(&common::fixture("tenancy-seed.json"));
    let c = RawClient::new(&sb.base_url);
    (sb, T { c })
}

#[test]
fn bob_cannot_read_alices_data() {
    let (_sb, mut t) = start();
    let bob = Some(BOB);

    // Sanity: Alice sees her own data, so the "not visible" checks below mean something.
    assert_eq!(
        t.ids(Some(ALICE), "/v7/application?$orderby=id asc"),
        A_APPS
    );
    assert_eq!(
        t.ids(Some(ALICE), "/v7/release?$orderby=id asc"),
        A_RELEASES
    );
    assert_eq!(t.ids(Some(ALICE), "/v7/device?$orderby=id asc"), A_DEVICES);
    assert_eq!(t.ids(Some(ALICE), "/v7/application(10)"), [10]);

    let me = t.get(bob, "/actor/v1/whoami");
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["username"], "bob");

    // Collections list only Bob's rows.
    assert_eq!(t.ids(bob, "/v7/application?$orderby=id asc"), [20]);
    assert_eq!(t.ids(bob, "/v7/release?$orderby=id asc"), [200, 201]);
    assert_eq!(t.ids(bob, "/v7/device?$orderby=id asc"), [B_DEVICE]);
    let tags = t.rows(bob, "/v7/release_tag?$select=tag_key,value,release");
    assert!(
        tags.iter().all(|r| r["release"]["__id"] == 200),
        "release_tag leaks: {tags:?}"
    );
    let tags = t.rows(bob, "/v7/device_tag?$select=tag_key,value,device");
    assert!(
        tags.iter().all(|r| r["device"]["__id"] == B_DEVICE),
        "device_tag leaks: {tags:?}"
    );
    let orgs = t.rows(bob, "/v7/organization?$select=handle");
    assert_eq!(orgs, vec![json!({"handle": "orgb"})]);
    let users = t.get(bob, "/v7/user?$select=username");
    if users.status == 200 {
        assert!(
            !users.text().contains("alice"),
            "user leaks: {}",
            users.text()
        );
    }

    // By id and by alternate key.
    for id in A_APPS {
        t.invisible(bob, &format!("/v7/application({id})"));
    }
    t.invisible(bob, &format!("/v7/application(slug='{A_SLUG}')"));
    t.invisible(
        bob,
        "/v7/application(uuid='aaaa0000000000000000000000000010')",
    );
    for id in A_RELEASES {
        t.invisible(bob, &format!("/v7/release({id})"));
    }
    for id in A_DEVICES {
        t.invisible(bob, &format!("/v7/device({id})"));
    }
    t.invisible(bob, &format!("/v7/device(uuid='{A_DEVICE_UUID}')"));
    t.invisible(bob, "/v7/organization(1)");
    t.invisible(bob, "/v7/organization(handle='orga')");

    // $count.
    for (pq, n) in [
        ("/v7/application/$count", 1),
        ("/v7/release/$count", 2),
        ("/v7/device/$count", 1),
        (
            "/v7/release/$count?$filter=belongs_to__application eq 10",
            0,
        ),
        (
            "/v7/device/$count?$filter=belongs_to__application/slug eq 'orga/fleeta'",
            0,
        ),
    ] {
        let r = t.get(bob, pq);
        assert_eq!(r.status, 200, "{pq}: {}", r.text());
        assert_eq!(r.json(), json!({"d": n}), "{pq}");
    }

    // Filters through navigation paths and lambdas find nothing of Alice's.
    let mut leaks = Vec::new();
    for pq in [
        format!("/v7/device?$filter=belongs_to__application/slug eq '{A_SLUG}'"),
        "/v7/device?$filter=belongs_to__application eq 10".to_string(),
        "/v7/device?$filter=id in (1000, 1001, 1100)".to_string(),
        format!("/v7/device?$filter=uuid eq '{A_DEVICE_UUID}'"),
        "/v7/device?$filter=startswith(uuid,'a0')".to_string(),
        format!("/v7/device?$filter=belongs_to__application/any(a:a/slug eq '{A_SLUG}')"),
        format!("/v7/release?$filter=belongs_to__application/any(a:a/slug eq '{A_SLUG}')"),
        format!("/v7/release?$filter=commit eq '{A_COMMIT}'"),
        "/v7/release?$filter=belongs_to__application/organization/handle eq 'orga'".to_string(),
        format!("/v7/application?$filter=owns__device/any(d:d/uuid eq '{A_DEVICE_UUID}')"),
        format!("/v7/application?$filter=owns__release/any(r:r/commit eq '{A_COMMIT}')"),
        "/v7/application?$filter=organization/handle eq 'orga'".to_string(),
        "/v7/application?$filter=slug eq 'orga/fleeta' or id eq 10 or id eq 11".to_string(),
        format!("/v7/release_tag?$filter=release/commit eq '{A_COMMIT}'"),
        format!("/v7/device_tag?$filter=device/uuid eq '{A_DEVICE_UUID}'"),
        "/v7/organization?$filter=handle eq 'orga'".to_string(),
    ] {
        let rows = t.rows(bob, &pq);
        if !rows.is_empty() {
            leaks.push(format!("GET {pq} -> ids {:?}", ids_of(&rows)));
        }
    }

    // Existence oracles: Bob's own device references Alice's release 100 as the release it
    // runs. (The fixture sets it; in real life it happens when someone who belongs to both
    // organisations moves a device from Alice's fleet to Bob's: the device keeps running
    // its old release until it updates.) Filtering or expanding through that reference
    // must not reveal anything about release 100.
    for pq in [
        format!("/v7/device?$filter=is_running__release/commit eq '{A_COMMIT}'"),
        "/v7/device?$filter=is_running__release/belongs_to__application eq 10".to_string(),
        "/v7/device?$filter=is_running__release/semver eq '1.0.0'".to_string(),
        format!(
            "/v7/device?$filter=is_running__release/belongs_to__application/slug eq '{A_SLUG}'"
        ),
    ] {
        let rows = t.rows(bob, &pq);
        if !rows.is_empty() {
            leaks.push(format!("GET {pq} -> ids {:?}", ids_of(&rows)));
        }
    }

    // $expand from Bob's rows reaches only Bob's rows.
    let dev = t.rows(
        bob,
        &format!(
            "/v7/device({B_DEVICE})?$select=id&$expand=is_running__release($select=id,commit),belongs_to__application($select=id;$expand=owns__release($select=id),owns__device($select=id))"
        ),
    );
    assert_eq!(
        dev,
        vec![json!({
            "is_running__release": [],
            "belongs_to__application": [{"owns__release": [{"id": 200}, {"id": 201}], "owns__device": [{"id": B_DEVICE}], "id": 20}],
            "id": B_DEVICE,
        })],
        "expand from Bob's device"
    );
    let orgs = t.rows(
        bob,
        "/v7/organization?$select=handle&$expand=application($select=id;$expand=owns__device($select=id))",
    );
    assert_eq!(
        orgs,
        vec![
            json!({"application": [{"owns__device": [{"id": B_DEVICE}], "id": 20}], "handle": "orgb"})
        ]
    );
    let rels = t.rows(
        bob,
        "/v7/release?$select=id&$expand=is_running_on__device($select=id),is_pinned_to__device($select=id),should_be_running_on__application($select=id)&$orderby=id asc",
    );
    let s = serde_json::to_string(&rels).unwrap();
    for id in A_DEVICES.iter().chain(&A_APPS) {
        assert!(
            !s.contains(&format!("\"id\":{id}}}")),
            "expand leaks {id}: {s}"
        );
    }

    // The device state endpoint.
    let r = t.get(bob, &format!("/device/v3/{A_DEVICE_UUID}/state"));
    assert!(
        matches!(r.status, 401 | 403 | 404),
        "GET /device/v3/{A_DEVICE_UUID}/state as Bob: {} {}",
        r.status,
        r.text()
    );
    assert!(leaks.is_empty(), "filters leak:\n{}", leaks.join("\n"));
}

fn ids_of(rows: &[Value]) -> Vec<Value> {
    rows.iter().map(|r| r["id"].clone()).collect()
}

#[test]
fn bob_cannot_change_alices_data() {
    let (sb, mut t) = start();
    let bob = Some(BOB);
    let before = t.alice_snapshot();
    let counts_before = table_counts(&sb.db);

    // Writes aimed at Alice's rows directly.
    let direct: Vec<(&str, String, Option<Value>)> = vec![
        (
            "PATCH",
            "/v7/application(10)".into(),
            Some(json!({"should_be_running__release": 101, "should_track_latest_release": false})),
        ),
        (
            "PATCH",
            "/v7/application(10)".into(),
            Some(json!({"should_track_latest_release": true})),
        ),
        (
            "PATCH",
            format!("/v7/application(slug='{A_SLUG}')"),
            Some(json!({"should_be_running__release": 101})),
        ),
        (
            "PATCH",
            "/v7/application?$filter=id in (10, 11, 20)".into(),
            Some(json!({"is_archived": true})),
        ),
        (
            "PATCH",
            "/v7/device(1000)".into(),
            Some(json!({"is_pinned_on__release": null})),
        ),
        (
            "PATCH",
            "/v7/device(1001)".into(),
            Some(json!({"is_pinned_on__release": 101})),
        ),
        (
            "PATCH",
            format!("/v7/device(uuid='{A_DEVICE_UUID}')"),
            Some(json!({"device_name": "pwned"})),
        ),
        (
            "PATCH",
            "/v7/device?$filter=belongs_to__application eq 10".into(),
            Some(json!({"is_pinned_on__release": null})),
        ),
        (
            "PATCH",
            format!("/v7/device?$filter=belongs_to__application/slug eq '{A_SLUG}'"),
            Some(json!({"note": "pwned"})),
        ),
        (
            "PATCH",
            "/v7/device?$filter=id in (1000, 1001, 1100, 2000)".into(),
            Some(json!({"note": "bulk"})),
        ),
        (
            "PATCH",
            "/v7/release(100)".into(),
            Some(json!({"is_invalidated": true})),
        ),
        (
            "PATCH",
            "/v7/release(101)".into(),
            Some(json!({"status": "failed"})),
        ),
        (
            "PATCH",
            "/v7/release?$filter=belongs_to__application eq 10".into(),
            Some(json!({"note": "pwned"})),
        ),
        ("DELETE", "/v7/release(102)".into(), None),
        ("DELETE", "/v7/release(110)".into(), None),
        (
            "DELETE",
            "/v7/release?$filter=belongs_to__application eq 10".into(),
            None,
        ),
        ("DELETE", "/v7/device(1001)".into(), None),
        (
            "DELETE",
            format!("/v7/device(uuid='{A_DEVICE_UUID}')"),
            None,
        ),
        (
            "DELETE",
            "/v7/device?$filter=belongs_to__application eq 11".into(),
            None,
        ),
        ("DELETE", "/v7/application(11)".into(), None),
        (
            "DELETE",
            "/v7/release_tag?$filter=release eq 100".into(),
            None,
        ),
        (
            "DELETE",
            "/v7/device_tag?$filter=device eq 1000".into(),
            None,
        ),
    ];
    // A 409 "Data is referenced by …" (the release does not exist for Bob) reveals nothing;
    // a 400 rule text would (it can only come from looking at Alice's rows).
    let mut problems = Vec::new();
    for (method, pq, body) in &direct {
        let r = t.send(bob, method, pq, body.as_ref());
        if !matches!(r.status, 200 | 204 | 401 | 403 | 404 | 409) {
            problems.push(format!(
                "{method} {pq} {} as Bob: {} {}",
                body.as_ref().map(Value::to_string).unwrap_or_default(),
                r.status,
                r.text()
            ));
        }
    }

    // Creating rows inside Alice's fleets / organisation.
    let creates = [
        (
            "/v7/release",
            json!({"belongs_to__application": 10, "commit": "ffff0000000000000000000000000001", "composition": {}, "status": "success", "source": "cloud", "start_timestamp": "2026-05-01T00:00:00.000Z", "is_final": true, "semver": "9.9.9"}),
        ),
        (
            "/v7/device",
            json!({"uuid": "ffff0000000000000000000000000002", "belongs_to__application": 10, "is_of__device_type": 11, "device_name": "intruder"}),
        ),
        (
            "/v7/application",
            json!({"app_name": "intruder", "organization": 1, "is_for__device_type": 11}),
        ),
        (
            "/v7/release_tag",
            json!({"release": 100, "tag_key": "pwned", "value": "yes"}),
        ),
        (
            "/v7/device_tag",
            json!({"device": 1000, "tag_key": "pwned", "value": "yes"}),
        ),
    ];
    for (path, body) in &creates {
        let r = t.send(bob, "POST", path, Some(body));
        if !matches!(r.status, 400 | 401 | 403 | 404 | 409) {
            problems.push(format!(
                "POST {path} {body} as Bob: {} {}",
                r.status,
                r.text()
            ));
        }
    }

    // References from Bob's own rows to Alice's.
    let refs = [
        (
            format!("/v7/device({B_DEVICE})"),
            json!({"belongs_to__application": 10}),
        ),
        (
            format!("/v7/device({B_DEVICE})"),
            json!({"is_pinned_on__release": 100}),
        ),
        (
            "/v7/application(20)".to_string(),
            json!({"should_be_running__release": 100, "should_track_latest_release": false}),
        ),
    ];
    for (pq, body) in &refs {
        let r = t.send(bob, "PATCH", pq, Some(body));
        if !matches!(r.status, 400 | 401 | 403 | 404 | 409) {
            problems.push(format!(
                "PATCH {pq} {body} as Bob must be refused: {} {}",
                r.status,
                r.text()
            ));
        }
    }
    let mine = t.rows(
        bob,
        &format!("/v7/device({B_DEVICE})?$select=belongs_to__application,is_pinned_on__release"),
    );
    if mine != vec![json!({"belongs_to__application": {"__id": 20}, "is_pinned_on__release": null})]
    {
        problems.push(format!("Bob's device {B_DEVICE} now reads {mine:?}"));
    }
    let app = t.rows(
        bob,
        "/v7/application(20)?$select=should_be_running__release",
    );
    if app != vec![json!({"should_be_running__release": {"__id": 200}})] {
        problems.push(format!("Bob's fleet 20 now reads {app:?}"));
    }

    // Alice's data is exactly as before, and no row appeared or vanished anywhere.
    let after = t.alice_snapshot();
    if let Err(d) = support::json_diff(&before, &after, Default::default()) {
        problems.push(format!("Bob changed Alice's data: {d}"));
    }
    let counts_after = table_counts(&sb.db);
    if counts_before != counts_after {
        problems.push(format!(
            "row counts changed: {counts_before:?} -> {counts_after:?}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Anonymous callers and unknown tokens behave as in part 2 §23 of the server transcript
/// (and like each other).
#[test]
fn anonymous_and_unknown_tokens_are_guests() {
    let (sb, mut t) = start();
    let counts_before = table_counts(&sb.db);
    let garbage = "garbage0123456789abcdefGARBAGE";
    for token in [None, Some(garbage), Some("")] {
        let who = format!("token {token:?}");
        let r = t.get(token, "/v7/application(10)?$select=id");
        assert_eq!((r.status, r.text().as_str()), (200, r#"{"d":[]}"#), "{who}");
        let r = t.get(token, "/v7/application?$select=id");
        assert_eq!((r.status, r.text().as_str()), (200, r#"{"d":[]}"#), "{who}");
        let r = t.get(token, "/v7/device?$select=id");
        assert_eq!((r.status, r.text().as_str()), (401, ""), "{who}");
        let r = t.get(token, "/v7/device(1000)?$select=id");
        assert_eq!((r.status, r.text().as_str()), (401, ""), "{who}");
        let r = t.send(
            token,
            "PATCH",
            "/v7/application(10)",
            Some(&json!({"should_be_running__release": 101})),
        );
        assert_eq!((r.status, r.text().as_str()), (401, ""), "{who}");
        let r = t.send(
            token,
            "PATCH",
            "/v7/device(1000)",
            Some(&json!({"is_pinned_on__release": null})),
        );
        assert_eq!((r.status, r.text().as_str()), (401, ""), "{who}");
        let r = t.send(token, "DELETE", "/v7/release(102)", None);
        assert_eq!((r.status, r.text().as_str()), (401, ""), "{who}");
        let r = t.send(
            token,
            "POST",
            "/v7/release",
            Some(&json!({"belongs_to__application": 10, "commit": "ffff0000000000000000000000000001", "status": "success", "start_timestamp": "2026-05-01T00:00:00.000Z"})),
        );
        assert_eq!((r.status, r.text().as_str()), (401, ""), "{who}");
        let r = t.get(token, "/actor/v1/whoami");
        assert_eq!(r.status, 401, "{who}");
        // Nothing of either tenant through other resources either.
        for pq in [
            "/v7/release?$select=id",
            "/v7/release_tag",
            "/v7/device_tag",
            "/v7/organization",
        ] {
            let r = t.get(token, pq);
            assert!(
                r.status == 401 || (r.status == 200 && r.json() == json!({"d": []})),
                "{who} GET {pq}: {} {}",
                r.status,
                r.text()
            );
        }
    }
    // Anonymous and unknown tokens answer identically, request for request.
    for pq in [
        "/v7/application(10)?$select=id",
        "/v7/device?$select=id",
        "/v7/release(100)",
        "/v7/application?$filter=slug eq 'orga/fleeta'",
        "/v7/device_type?$select=slug&$orderby=id asc",
        "/actor/v1/whoami",
        "/user/v1/whoami",
    ] {
        let a = t.get(None, pq);
        let g = t.get(Some(garbage), pq);
        assert_eq!((a.status, &a.body), (g.status, &g.body), "GET {pq}");
    }
    assert_eq!(counts_before, table_counts(&sb.db));
}

/// The official CLI's `fleet list` query (official-cli-real-server-transcript.md, S-fl).
const FLEET_LIST: &str = "/v7/application?$filter=is_directly_accessible_by__user/any(dau:1 eq 1)&$orderby=app_name asc&$select=id,app_name,slug&$expand=is_for__device_type($select=slug),owns__device($select=is_online)";

/// A guest query that reaches a resource guests may not read at all (`user`, `device`,
/// `device_tag`), even only through a navigation in `$filter`, `$orderby` or `$expand`,
/// gets the real server's bare 401 (pinejs compiles the permissions of every resource the
/// query touches and refuses it when one grants a guest nothing), whether or not a row
/// would match. A guest query that stays within what guests may read (an application by id
/// or slug, its releases) still gets `200 {"d":[]}` as in part 2 §23 of the server
/// transcript.
#[test]
fn guest_queries_through_unreadable_resources_get_401() {
    let (sb, mut t) = start();
    // A session token that has expired is a rejected token like any other.
    let expired = "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6MX0.expired-session-token";
    {
        let conn = rusqlite::Connection::open(&sb.db).expect("open the sandbox database");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        let user: i64 = conn
            .query_row(
                "SELECT \"user_id\" FROM api_key WHERE \"key\" = ?1",
                [ALICE],
                |r| r.get(0),
            )
            .expect("Alice's user");
        conn.execute(
            "INSERT INTO session (\"token\", \"user_id\", \"expires_at\") VALUES (?1, ?2, 1000)",
            rusqlite::params![expired, user],
        )
        .expect("an expired session");
    }
    // Alice's own fleet list works, so the 401s below are about the caller.
    let mine = t.ids(Some(ALICE), FLEET_LIST);
    assert_eq!(mine, A_APPS.to_vec());

    let garbage = "garbage0123456789abcdefGARBAGE";
    let unauthorized = [
        FLEET_LIST,
        "/v7/application?$filter=is_directly_accessible_by__user/any(dau:1 eq 1)&$select=id",
        // `fleet <slug>` and the fleet lookups of the official CLI and of balena-rs.
        "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1 eq 1)) and ((slug eq 'orga/fleeta') or (uuid eq 'orga/fleeta'))&$expand=is_for__device_type($select=slug),should_be_running__release($select=commit)",
        "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1 eq 1)) and (slug eq 'nope/nope')&$expand=is_for__device_type($select=slug),should_be_running__release($select=id,commit,raw_version),owns__device/$count",
        "/v7/application/$count?$filter=is_directly_accessible_by__user/any(dau:1 eq 1)",
        // Through an expansion, with no row to expand: decided from the query alone.
        "/v7/application?$select=id&$expand=owns__device($select=id)",
        "/v7/application(10)?$select=id&$expand=owns__device/$count",
        "/v7/application?$filter=slug eq 'nope/nope'&$expand=owns__release($select=id;$expand=release_tag($select=id),is_running_on__device($select=id))",
        // Deeper in a lambda, in a nested `$filter`, in `$orderby`.
        "/v7/release?$filter=belongs_to__application/any(a:a/is_directly_accessible_by__user/any(u:1 eq 1))&$select=id",
        "/v7/application?$select=id&$expand=owns__release($select=id;$filter=belongs_to__application/is_directly_accessible_by__user/any(u:1 eq 1))",
        "/v7/application?$filter=owns__device/any(d:d/is_online eq true)&$select=id",
    ];
    let readable = [
        "/v7/application(10)?$select=id",
        "/v7/application?$select=id",
        "/v7/application?$filter=slug eq 'orga/fleeta'",
        "/v7/application?$filter=(slug eq 'orga/fleeta') or (uuid eq 'orga/fleeta')&$select=id&$expand=owns__release($select=id),is_for__device_type($select=slug)",
        "/v7/application?$filter=owns__release/any(r:r/commit eq 'a1000000000000000000000000000100')&$orderby=organization/name asc",
        "/v7/release?$filter=belongs_to__application/any(a:a/slug eq 'orga/fleeta')&$select=id",
    ];
    for token in [None, Some(garbage), Some(""), Some(expired)] {
        let who = format!("token {token:?}");
        for pq in unauthorized {
            let r = t.get(token, pq);
            assert_eq!((r.status, r.text().as_str()), (401, ""), "{who} GET {pq}");
            assert_eq!(r.header("content-type"), None, "{who} GET {pq}");
        }
        for pq in readable {
            let r = t.get(token, pq);
            assert_eq!(
                (r.status, r.text().as_str()),
                (200, r#"{"d":[]}"#),
                "{who} GET {pq}"
            );
        }
        // Public data stays public.
        let r = t.get(
            token,
            "/v7/device_type?$select=slug&$filter=slug eq 'raspberrypi4-64'",
        );
        assert_eq!(r.status, 200, "{who}");
        assert_eq!(
            r.json(),
            json!({"d": [{"slug": "raspberrypi4-64"}]}),
            "{who}"
        );
    }
    // The same queries still answer a user as before.
    for pq in unauthorized.iter().chain(readable.iter()) {
        assert_eq!(t.get(Some(ALICE), pq).status, 200, "Alice GET {pq}");
    }
}
