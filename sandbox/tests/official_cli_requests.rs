//! Every request the official balena CLI (25.2.6) sends for `whoami`, `fleet`, `fleet pin`,
//! `fleet track-latest`, `device`, `device pin`, `device track-fleet`, `release`,
//! `release list` and `release list --json`, as recorded in
//! `fixtures/official-cli-transcript.md`, sent byte-for-byte (path, query and body) to a
//! sandbox seeded with `fixtures/official-cli-seed.json` — the transcript's mock data:
//! fleet 1001 `myorg/myfleet`, releases 5001 (draft) and 5002, device 3001 pinned to 5002.
//! Each answer must hold exactly what the CLI reads from it, and writes must take effect.
//!
//! Every request line below is copied from the transcript; the case name is in a comment.
//! `check_verbatim` asserts that each one really occurs in the transcript.
//!
//! Where the transcript's mock server was not consistent with the real API, the real
//! API's behaviour is asserted (each is commented where it matters):
//! - the mock answered `app_name eq 'MyFleet'` with the fleet named `myfleet`; names are
//!   matched case-sensitively by the real server, so that answer is empty here (the same
//!   request with `myfleet` is checked too);
//! - the mock said device 3001 `should_be_running__release` = 5001 while pinned to 5002;
//!   the real server computes the pin first: 5002;
//! - the mock showed draft 5001's `raw_version` as `0.0.1`; the real server appends the
//!   creation time in ms to a draft's version: `0.0.1-1704067200000`.
//!
//! Not covered: the device-actor and app-actor whoami scenarios (a fixture cannot hold a
//! device or application API key), `e-fleetpin-ambig` (two fleets with the same slug
//! cannot exist on a consistent server), and the scenarios where the mock simulated a
//! server failure (`e-pine401`, `e-500`, `e-403`, `e-429*`, `e-400rule`, …): there the
//! request is the same as in a case covered here and the correct answer is the normal one.

mod common;
mod support;

use serde_json::{json, Value};
use support::RawClient;

const CLI_TRANSCRIPT: &str = include_str!("fixtures/official-cli-transcript.md");
const KEY: &str = "testapikey0123456789";
const UUID: &str = "abcdef0123456789abcdef0123456789";
const AAA: &str = "aaaaaaa1111111111111111111111111";
const BBB: &str = "bbbbbbb2222222222222222222222222";

/// Every request line the transcript records for the commands under test.
fn transcript_requests() -> Vec<String> {
    CLI_TRANSCRIPT
        .lines()
        .filter(|l| l.starts_with("GET /") || l.starts_with("PATCH /"))
        .map(str::to_string)
        .collect()
}

struct Cli {
    c: RawClient,
    sent: Vec<String>,
}

impl Cli {
    fn new(sb: &common::Sandbox) -> Cli {
        Cli {
            c: RawClient::new(&sb.base_url),
            sent: Vec::new(),
        }
    }

    /// Sends a transcript GET verbatim; answers (status, body).
    fn raw_get(&mut self, target: &str, token: Option<&str>) -> support::Resp {
        self.sent.push(format!("GET {target}"));
        self.c
            .get(target, token)
            .unwrap_or_else(|e| panic!("GET {target}: {e}"))
    }

    /// A transcript GET that must answer 200 JSON: the parsed body.
    fn get(&mut self, target: &str) -> Value {
        let r = self.raw_get(target, Some(KEY));
        assert_eq!(r.status, 200, "GET {target}: {}", r.text());
        assert_eq!(
            r.header("content-type"),
            Some("application/json; charset=utf-8"),
            "GET {target}"
        );
        r.json()
    }

    /// The `d` array of a transcript GET.
    fn d(&mut self, target: &str) -> Vec<Value> {
        match self.get(target)["d"].take() {
            Value::Array(a) => a,
            other => panic!("GET {target}: d is {other}"),
        }
    }

    /// A transcript PATCH, body bytes exactly as the CLI sent them: must answer 200 with an
    /// empty body (the CLI accepts any 2xx and ignores the body).
    fn patch(&mut self, target: &str, body: &str) {
        self.sent.push(format!("PATCH {target}"));
        let auth = format!("Bearer {KEY}");
        let r = self
            .c
            .send(
                "PATCH",
                target,
                &[
                    ("Authorization", &auth),
                    ("X-Balena-Client", "balena-cli/25.2.6"),
                    ("Content-Type", "application/json"),
                ],
                Some(body.as_bytes()),
            )
            .unwrap_or_else(|e| panic!("PATCH {target}: {e}"));
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, ""),
            "PATCH {target} {body}"
        );
    }

    /// A setup write that is not itself under test (reaching another mock scenario).
    fn setup(&mut self, method: &str, target: &str, body: Option<Value>) {
        let r = match &body {
            Some(b) => self.c.send_json(method, target, Some(KEY), b),
            None => self.c.send_empty(method, target, Some(KEY)),
        }
        .unwrap_or_else(|e| panic!("{method} {target}: {e}"));
        assert!(
            r.status == 200 || r.status == 201,
            "setup {method} {target} {body:?}: {} {}",
            r.status,
            r.text()
        );
    }

    /// Every request sent must be one the transcript records.
    fn check_verbatim(&self, label: &str) {
        eprintln!(
            "official_cli_requests: {label}: {} transcript requests sent and checked",
            self.sent.len()
        );
        let known = transcript_requests();
        for s in &self.sent {
            assert!(
                known.contains(s),
                "not a request of the CLI transcript: {s}"
            );
        }
    }
}

// Request lines, copied from the transcript.
const W: &str = "/actor/v1/whoami";
const FLEETPIN_SHOW: &str = "/v7/application?$filter=(slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27)&$expand=should_be_running__release($select=commit)";
const APP_ID: &str = "/v7/application?$filter=(slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27)&$select=id";
const PIN_RELEASE: &str = "/v7/release?$filter=(commit%20eq%20%27bbbbbbb2222222222222222222222222%27)%20and%20((belongs_to__application%20eq%201001)%20and%20(status%20eq%20%27success%27))&$select=id&$top=1";
const TRACK_LATEST: &str = "/v7/application?$filter=(slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27)&$select=id&$expand=owns__release($select=id;$top=1;$filter=(is_final%20eq%20true)%20and%20(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success%27);$orderby=created_at%20desc)";
const DEVPIN_SHOW: &str = "/v7/device?$filter=startswith(uuid,%27abcdef0%27)&$select=uuid&$expand=is_pinned_on__release($select=commit),belongs_to__application($select=slug)";
const DEVPIN_SHOW_FULL: &str = "/v7/device(uuid='abcdef0123456789abcdef0123456789')?$select=uuid&$expand=is_pinned_on__release($select=commit),belongs_to__application($select=slug)";
const DEV_BY_UUID_APP: &str = "/v7/device?$orderby=device_name%20asc&$select=id,belongs_to__application&$filter=uuid%20eq%20%27abcdef0123456789abcdef0123456789%27";
const DEVPIN_RELEASE: &str = "/v7/release?$filter=(commit%20eq%20%27bbbbbbb2222222222222222222222222%27)%20and%20((commit%20eq%20%27bbbbbbb2222222222222222222222222%27)%20and%20(status%20eq%20%27success%27)%20and%20(belongs_to__application%20eq%201001))&$select=id&$top=1&$orderby=created_at%20desc";
const DEV_PATCH: &str = "/v7/device?$filter=id%20in%20(3001)";
const DEVTRACK_SHORT: &str = "/v7/device?$filter=startswith(uuid,%27abcdef0%27)&$select=uuid";
const DEV_BY_UUID: &str = "/v7/device?$orderby=device_name%20asc&$select=id&$filter=uuid%20eq%20%27abcdef0123456789abcdef0123456789%27";
const FLEET_SHOW_SLUG: &str = "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20((slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27))&$expand=is_for__device_type($select=slug),should_be_running__release($select=commit)";
const FLEET_SHOW_NAME: &str = "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(app_name%20eq%20%27MyFleet%27)&$expand=is_for__device_type($select=slug),should_be_running__release($select=commit)";
const FLEET_SHOW_DEVACTOR: &str = "/v7/application?$filter=((slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27))%20and%20(owns__device/any(d:d/actor%20eq%201235))&$expand=is_for__device_type($select=slug),should_be_running__release($select=commit)";
const DEV_SHOW_SELECT: &str = "$select=device_name,id,overall_status,is_online,ip_address,mac_address,last_connectivity_event,uuid,supervisor_version,is_web_accessible,note,os_version,memory_usage,memory_total,public_address,storage_block_device,storage_usage,storage_total,cpu_usage,cpu_temp,cpu_id,is_undervolted&$expand=belongs_to__application($select=app_name,slug),is_of__device_type($select=slug),is_running__release($select=commit)";
const DEV_JSON_1: &str = "/v7/device?$filter=startswith(uuid,%27abcdef0%27)&$expand=device_tag($select=tag_key,value),belongs_to__application($select=app_name,slug),is_of__device_type($select=slug),is_running__release($select=commit)";
const DEV_JSON_2: &str = "/v7/device?$filter=startswith(uuid,%27abcdef0%27)&$select=overall_status,overall_progress,should_be_running__release";
const DEV_FULL_JSON_1: &str = "/v7/device(uuid='abcdef0123456789abcdef0123456789')?$expand=device_tag($select=tag_key,value),belongs_to__application($select=app_name,slug),is_of__device_type($select=slug),is_running__release($select=commit)";
const DEV_FULL_JSON_2: &str = "/v7/device(uuid='abcdef0123456789abcdef0123456789')?$select=overall_status,overall_progress,should_be_running__release";
const REL_SELECT: &str = "$select=id,commit,created_at,status,raw_version,is_final,build_log,start_timestamp,end_timestamp&$expand=release_tag($select=tag_key,value)";
const REL_LIST: &str = "/v7/release?$filter=belongs_to__application%20eq%201001&$orderby=created_at%20desc&$select=id,commit,created_at,status,raw_version,is_final";
const REL_LIST_JSON_1: &str = "/v7/release?$filter=belongs_to__application%20eq%201001&$orderby=created_at%20desc&$expand=release_tag($select=tag_key,value)";
const REL_LIST_JSON_2: &str = "/v7/release?$filter=belongs_to__application%20eq%201001&$orderby=created_at%20desc&$select=id,raw_version";
const REL_LIST_NAME: &str = "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(app_name%20eq%20%27MyFleet%27)&$select=slug";
const REL_LIST_NAME_DEVACTOR: &str = "/v7/application?$filter=(app_name%20eq%20%27MyFleet%27)%20and%20(owns__device/any(d:d/actor%20eq%201235))&$select=slug";

fn dev_show(full: bool) -> String {
    if full {
        format!("/v7/device(uuid='{UUID}')?{DEV_SHOW_SELECT}")
    } else {
        format!("/v7/device?$filter=startswith(uuid,%27abcdef0%27)&{DEV_SHOW_SELECT}")
    }
}

fn rel_show(sel: &str) -> String {
    match sel {
        "bbbbbbb" => format!("/v7/release?$filter=startswith(commit,%27bbbbbbb%27)&{REL_SELECT}"),
        "aaa" => format!("/v7/release?$filter=startswith(commit,%27aaa%27)&{REL_SELECT}"),
        id => format!("/v7/release({id})?{REL_SELECT}"),
    }
}

fn release_5002_show() -> Value {
    json!({"id": 5002, "commit": BBB, "created_at": "2024-02-02T00:00:00.000Z", "status": "success",
           "raw_version": "0.0.2", "is_final": true, "build_log": "log b",
           "start_timestamp": "2024-02-02T00:00:00.000Z", "end_timestamp": "2024-02-02T00:05:00.000Z",
           "release_tag": [{"tag_key": "k1", "value": "v1"}]})
}

fn release_5001_show() -> Value {
    // A draft: the real server's raw_version carries created_at in ms.
    json!({"id": 5001, "commit": AAA, "created_at": "2024-01-01T00:00:00.000Z", "status": "success",
           "raw_version": "0.0.1-1704067200000", "is_final": false, "build_log": null,
           "start_timestamp": "2024-01-01T00:00:00.000Z", "end_timestamp": null,
           "release_tag": []})
}

/// The fields of device 3001 that `balena device` shows (table mode), as the API returns them.
fn device_show() -> Value {
    json!({
        "belongs_to__application": [{"app_name": "myfleet", "slug": "myorg/myfleet"}],
        "is_of__device_type": [{"slug": "raspberrypi4-64"}],
        "is_running__release": [{"commit": AAA}],
        "device_name": "my-device_1", "id": 3001, "overall_status": "idle", "is_online": true,
        "ip_address": "192.168.1.2", "mac_address": "aa:bb:cc:dd:ee:ff",
        "last_connectivity_event": "2024-03-03T00:00:00.000Z", "uuid": UUID,
        "supervisor_version": "16.0.0", "is_web_accessible": false, "note": null,
        "os_version": "balenaOS 5.0.0", "memory_usage": 512, "memory_total": 1024,
        "public_address": "1.2.3.4", "storage_block_device": "/dev/mmcblk0", "storage_usage": 100,
        "storage_total": 1000, "cpu_usage": 10, "cpu_temp": 50, "cpu_id": "cpu1",
        "is_undervolted": false,
    })
}

/// The fleet's target commit, through the request `fleet pin <slug>` sends.
fn fleet_target(cli: &mut Cli) -> Vec<Value> {
    let d = cli.d(FLEETPIN_SHOW);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["id"], 1001);
    d[0]["should_be_running__release"]
        .as_array()
        .expect("expanded")
        .clone()
}

fn fleet_tracking(cli: &mut Cli) -> bool {
    cli.d(FLEETPIN_SHOW)[0]["should_track_latest_release"]
        .as_bool()
        .expect("should_track_latest_release")
}

/// The device's pin, through the request `device pin <uuid>` sends.
fn device_pin(cli: &mut Cli) -> Vec<Value> {
    let d = cli.d(DEVPIN_SHOW_FULL);
    assert_eq!(d.len(), 1);
    d[0]["is_pinned_on__release"].as_array().unwrap().clone()
}

#[test]
fn reads_whoami_fleet_device_release() {
    let sb = common::Sandbox::start(&common::fixture("official-cli-seed.json"));
    let mut cli = Cli::new(&sb);

    // whoami, login-token (the prerun W of every case)
    let me = cli.get(W);
    let keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["id", "actorType", "actorTypeId", "username", "email"]
    );
    assert!(me["id"].is_i64() && me["actorTypeId"] == 1234, "{me}");
    assert_eq!(me["actorType"], "user");
    assert_eq!(me["username"], "gh_user");
    assert_eq!(me["email"], "testuser@test.com");
    // e-notoken, e-unauth, login-token-bad: whoami without a (valid) token is a 401.
    assert_eq!(cli.raw_get(W, None).status, 401);
    assert_eq!(cli.raw_get(W, Some("badtoken")).status, 401);

    // fleetpin-show, r-429once (request #2)
    assert_eq!(fleet_target(&mut cli), [json!({"commit": AAA})]);
    assert!(!fleet_tracking(&mut cli));

    // fleet-show-slug, fleet-show-json, e-500-json: the full row plus two expansions.
    let d = cli.d(FLEET_SHOW_SLUG);
    assert_eq!(d.len(), 1, "{d:?}");
    let app = &d[0];
    assert_eq!(app["id"], 1001);
    assert_eq!(app["app_name"], "myfleet");
    assert_eq!(app["slug"], "myorg/myfleet");
    assert_eq!(
        app["is_for__device_type"],
        json!([{"slug": "raspberrypi4-64"}])
    );
    assert_eq!(app["should_be_running__release"], json!([{"commit": AAA}]));
    for k in [
        "uuid",
        "should_track_latest_release",
        "organization",
        "is_of__class",
    ] {
        assert!(app.get(k).is_some(), "the full fleet row lacks {k}: {app}");
    }
    // fleet-show-name, e-fleet-name-ambig: names are case-sensitive on the real server.
    assert_eq!(cli.d(FLEET_SHOW_NAME), Vec::<Value>::new());
    let by_name = FLEET_SHOW_NAME.replace("%27MyFleet%27", "%27myfleet%27");
    let d = cli.d(&by_name);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["id"], 1001);
    cli.sent.pop(); // not a transcript request
                    // fleet-show-devactor: the mock's actor 1235 is no device here; the query is valid.
    assert_eq!(cli.d(FLEET_SHOW_DEVACTOR), Vec::<Value>::new());
    let actor = sb.get_json("/v7/device(3001)?$select=actor")["d"][0]["actor"]["__id"]
        .as_i64()
        .expect("device actor");
    let d = cli.d(&FLEET_SHOW_DEVACTOR.replace("1235", &actor.to_string()));
    cli.sent.pop();
    assert_eq!(d.len(), 1, "owns__device/any(d:d/actor eq {actor})");
    assert_eq!(d[0]["should_be_running__release"], json!([{"commit": AAA}]));

    // e-fleet-noapp, e-fleet-noapp-json, ct-json-err, e-fleetpin-noapp, e-fleetpin-name,
    // fleet-name-special, fleetpin-slug-special, e-rellist-noapp, e-rellist-name-none
    for t in [
        "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20((slug%20eq%20%27nope%2Fnope%27)%20or%20(uuid%20eq%20%27nope%2Fnope%27))&$expand=is_for__device_type($select=slug),should_be_running__release($select=commit)",
        "/v7/application?$filter=(slug%20eq%20%27nope%2Fnope%27)%20or%20(uuid%20eq%20%27nope%2Fnope%27)&$expand=should_be_running__release($select=commit)",
        "/v7/application?$filter=(slug%20eq%20%27nope%27)%20or%20(uuid%20eq%20%27nope%27)&$expand=should_be_running__release($select=commit)",
        "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(app_name%20eq%20%27My_O%27%27Fl%26et-%C3%A9%2B%23%27)&$expand=is_for__device_type($select=slug),should_be_running__release($select=commit)",
        "/v7/application?$filter=(slug%20eq%20%27org%2Fmy%2Bfl%27%27eet%27)%20or%20(uuid%20eq%20%27org%2Fmy%2Bfl%27%27eet%27)&$expand=should_be_running__release($select=commit)",
        "/v7/application?$filter=(slug%20eq%20%27nope%2Fnope%27)%20or%20(uuid%20eq%20%27nope%2Fnope%27)&$select=id",
        "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(app_name%20eq%20%27nope%27)&$select=slug",
    ] {
        assert_eq!(cli.d(t), Vec::<Value>::new(), "GET {t}");
    }

    // devpin-show: pinned to 5002.
    assert_eq!(
        cli.d(DEVPIN_SHOW),
        [
            json!({"is_pinned_on__release": [{"commit": BBB}], "belongs_to__application": [{"slug": "myorg/myfleet"}], "uuid": UUID})
        ]
    );

    // dev-show, dev-show-full
    for full in [false, true] {
        assert_eq!(cli.d(&dev_show(full)), [device_show()], "full uuid: {full}");
    }
    // dev-show-json, dev-show-full-json: all fields + expansions, then the status fields.
    for (first, second) in [(DEV_JSON_1, DEV_JSON_2), (DEV_FULL_JSON_1, DEV_FULL_JSON_2)] {
        let d = cli.d(first);
        assert_eq!(d.len(), 1);
        let dev = d[0].as_object().unwrap();
        let mut want = device_show();
        want["device_tag"] = json!([{"tag_key": "dt", "value": "dv"}]);
        want["is_pinned_on__release"] = json!({"__id": 5002});
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(dev.get(k), Some(v), "GET {first}: field {k}");
        }
        assert_eq!(dev["overall_progress"], Value::Null);
        // The target is the pin (the mock's 5001 contradicted its own pin).
        assert_eq!(dev["should_be_running__release"], json!({"__id": 5002}));
        assert_eq!(
            cli.d(second),
            [
                json!({"overall_status": "idle", "overall_progress": null, "should_be_running__release": {"__id": 5002}})
            ]
        );
    }

    // rel-show, rel-show-id, rel-show-5001; e-rel-none / e-rel-ambig send the "aaa" form.
    assert_eq!(cli.d(&rel_show("bbbbbbb")), [release_5002_show()]);
    assert_eq!(cli.d(&rel_show("5002")), [release_5002_show()]);
    assert_eq!(cli.d(&rel_show("5001")), [release_5001_show()]);
    assert_eq!(cli.d(&rel_show("aaa")), [release_5001_show()]);
    // e-rel-id-none: a missing id is an empty d with 200 (the SDK maps it to NotFound).
    assert_eq!(cli.d(&rel_show("9999")), Vec::<Value>::new());

    // rel-show-json, rel-show-5001-json: every field, then the explicit-read fields.
    let composition = json!({"version": "2.1", "services": {"main": {}}});
    for (first, id, raw, log) in [
        (
            "/v7/release?$filter=startswith(commit,%27bbbbbbb%27)&$expand=release_tag($select=tag_key,value)",
            5002,
            "0.0.2",
            json!("log b"),
        ),
        (
            "/v7/release(5001)?$expand=release_tag($select=tag_key,value)",
            5001,
            "0.0.1-1704067200000",
            Value::Null,
        ),
    ] {
        let d = cli.d(first);
        assert_eq!(d.len(), 1);
        let want = if id == 5002 {
            release_5002_show()
        } else {
            release_5001_show()
        };
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(d[0].get(k), Some(v), "GET {first}: {k}");
        }
        assert_eq!(d[0]["composition"], composition);
        assert_eq!(d[0]["belongs_to__application"], json!({"__id": 1001}));
        assert_eq!(
            cli.d(&format!("/v7/release({id})?$select=id,raw_version,build_log")),
            [json!({"id": id, "raw_version": raw, "build_log": log})]
        );
    }
    // rel-show-comp
    assert_eq!(
        cli.d("/v7/release(5002)?$select=composition"),
        [json!({"composition": composition})]
    );

    // rel-list, rel-list-name (#3, #4), rellist-name-devactor (#3, #4)
    assert_eq!(cli.d(APP_ID), [json!({"id": 1001})]);
    let rows = [
        json!({"id": 5002, "commit": BBB, "created_at": "2024-02-02T00:00:00.000Z", "status": "success", "raw_version": "0.0.2", "is_final": true}),
        json!({"id": 5001, "commit": AAA, "created_at": "2024-01-01T00:00:00.000Z", "status": "success", "raw_version": "0.0.1-1704067200000", "is_final": false}),
    ];
    assert_eq!(cli.d(REL_LIST), rows);
    // rel-list-name #2 and rellist-name-devactor #2: case-sensitive names (see above).
    assert_eq!(cli.d(REL_LIST_NAME), Vec::<Value>::new());
    assert_eq!(cli.d(REL_LIST_NAME_DEVACTOR), Vec::<Value>::new());
    // rel-list-json: #2, #3 (all fields + tags, newest first), #4 = #2, #5.
    assert_eq!(cli.d(APP_ID), [json!({"id": 1001})]);
    let d = cli.d(REL_LIST_JSON_1);
    let ids: Vec<&Value> = d.iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, [5002, 5001]);
    for (row, want) in d.iter().zip([release_5002_show(), release_5001_show()]) {
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(row.get(k), Some(v), "{k}");
        }
        assert_eq!(row["composition"], composition);
        assert_eq!(row["belongs_to__application"], json!({"__id": 1001}));
    }
    assert_eq!(cli.d(APP_ID), [json!({"id": 1001})]);
    assert_eq!(
        cli.d(REL_LIST_JSON_2),
        [
            json!({"id": 5002, "raw_version": "0.0.2"}),
            json!({"id": 5001, "raw_version": "0.0.1-1704067200000"})
        ]
    );

    cli.check_verbatim("reads");
}

#[test]
fn fleet_pin_and_track_latest() {
    let sb = common::Sandbox::start(&common::fixture("official-cli-seed.json"));
    let mut cli = Cli::new(&sb);

    // fleetpin: W, #2 (ignored), #3 id, #4 release, #5 PATCH.
    assert_eq!(cli.get(W)["username"], "gh_user");
    assert_eq!(fleet_target(&mut cli), [json!({"commit": AAA})]);
    assert_eq!(cli.d(APP_ID), [json!({"id": 1001})]);
    assert_eq!(cli.d(PIN_RELEASE), [json!({"id": 5002})]);
    cli.patch(
        "/v7/application(1001)",
        r#"{"should_be_running__release":5002,"should_track_latest_release":false}"#,
    );
    // It took effect: fleetpin-show reports the new target.
    assert_eq!(fleet_target(&mut cli), [json!({"commit": BBB})]);
    assert!(!fleet_tracking(&mut cli));

    // tracklatest: first back to 5001 (setup), then the CLI's two requests.
    cli.setup(
        "PATCH",
        "/v7/application(1001)",
        Some(json!({"should_be_running__release": 5001, "should_track_latest_release": false})),
    );
    assert_eq!(fleet_target(&mut cli), [json!({"commit": AAA})]);
    // Draft 5001 is not final, so the newest qualifying release is 5002.
    assert_eq!(
        cli.d(TRACK_LATEST),
        [json!({"owns__release": [{"id": 5002}], "id": 1001})]
    );
    cli.patch(
        "/v7/application(1001)",
        r#"{"should_track_latest_release":true,"should_be_running__release":5002}"#,
    );
    assert_eq!(fleet_target(&mut cli), [json!({"commit": BBB})]);
    assert!(fleet_tracking(&mut cli));

    // fleetpin-show-unpinned, fleet-unpinned, fleet-json-unpinned: a fleet without a target.
    cli.setup(
        "PATCH",
        "/v7/application(1001)",
        Some(json!({"should_be_running__release": null, "should_track_latest_release": false})),
    );
    assert_eq!(fleet_target(&mut cli), Vec::<Value>::new());
    let d = cli.d(FLEET_SHOW_SLUG);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["id"], 1001);
    assert_eq!(d[0]["should_be_running__release"], json!([]));
    assert_eq!(
        d[0]["is_for__device_type"],
        json!([{"slug": "raspberrypi4-64"}])
    );

    // tracklatest-norel: no release qualifies (5002 invalidated, 5001 a draft): the CLI
    // sends the flag alone, which does not move the target.
    cli.setup(
        "PATCH",
        "/v7/release(5002)",
        Some(json!({"is_invalidated": true})),
    );
    assert_eq!(
        cli.d(TRACK_LATEST),
        [json!({"owns__release": [], "id": 1001})]
    );
    cli.patch(
        "/v7/application(1001)",
        r#"{"should_track_latest_release":true}"#,
    );
    assert_eq!(fleet_target(&mut cli), Vec::<Value>::new());
    assert!(fleet_tracking(&mut cli));

    cli.check_verbatim("fleet pin / track-latest");
}

#[test]
fn device_pin_and_track_fleet() {
    let sb = common::Sandbox::start(&common::fixture("official-cli-seed.json"));
    let mut cli = Cli::new(&sb);
    let state_commit = |sb: &common::Sandbox| -> Vec<String> {
        let v = sb.get_json(&format!("/device/v3/{UUID}/state"));
        let apps = v[UUID]["apps"].as_object().expect("apps").clone();
        apps.values()
            .flat_map(|a| a["releases"].as_object().unwrap().keys().cloned())
            .collect()
    };
    assert_eq!(state_commit(&sb), [BBB]);

    // devtrack: W, short uuid → full uuid, → id, PATCH.
    assert_eq!(cli.d(DEVTRACK_SHORT), [json!({"uuid": UUID})]);
    assert_eq!(cli.d(DEV_BY_UUID), [json!({"id": 3001})]);
    cli.patch(DEV_PATCH, r#"{"is_pinned_on__release":null}"#);
    // devpin-show-full (scenario nopin): not pinned any more; it follows the fleet (5001).
    assert_eq!(device_pin(&mut cli), Vec::<Value>::new());
    assert_eq!(
        cli.d(DEV_JSON_2)[0]["should_be_running__release"],
        json!({"__id": 5001})
    );
    assert_eq!(state_commit(&sb), [AAA]);

    // devpin: W, #2, #3, #4, #5.
    assert_eq!(
        cli.d(DEVPIN_SHOW),
        [
            json!({"is_pinned_on__release": [], "belongs_to__application": [{"slug": "myorg/myfleet"}], "uuid": UUID})
        ]
    );
    assert_eq!(
        cli.d(DEV_BY_UUID_APP),
        [json!({"id": 3001, "belongs_to__application": {"__id": 1001}})]
    );
    assert_eq!(cli.d(DEVPIN_RELEASE), [json!({"id": 5002})]);
    cli.patch(DEV_PATCH, r#"{"is_pinned_on__release":5002}"#);
    assert_eq!(device_pin(&mut cli), [json!({"commit": BBB})]);
    assert_eq!(state_commit(&sb), [BBB]);

    // devtrack-full: W, → id, PATCH.
    assert_eq!(cli.d(DEV_BY_UUID), [json!({"id": 3001})]);
    cli.patch(DEV_PATCH, r#"{"is_pinned_on__release":null}"#);
    assert_eq!(device_pin(&mut cli), Vec::<Value>::new());

    // devpin-full: W, #2 (full uuid form), #3, #4, #5.
    assert_eq!(
        cli.d(DEVPIN_SHOW_FULL),
        [
            json!({"is_pinned_on__release": [], "belongs_to__application": [{"slug": "myorg/myfleet"}], "uuid": UUID})
        ]
    );
    assert_eq!(
        cli.d(DEV_BY_UUID_APP),
        [json!({"id": 3001, "belongs_to__application": {"__id": 1001}})]
    );
    assert_eq!(cli.d(DEVPIN_RELEASE), [json!({"id": 5002})]);
    cli.patch(DEV_PATCH, r#"{"is_pinned_on__release":5002}"#);
    assert_eq!(device_pin(&mut cli), [json!({"commit": BBB})]);
    assert_eq!(
        cli.d(DEV_FULL_JSON_2),
        [
            json!({"overall_status": "idle", "overall_progress": null, "should_be_running__release": {"__id": 5002}})
        ]
    );

    cli.check_verbatim("device pin / track-fleet");
}

/// The e-* cases whose mock scenario can be reached through the API: two devices / two
/// releases matching a prefix, no device, no releases.
#[test]
fn error_scenarios() {
    let sb = common::Sandbox::start(&common::fixture("official-cli-seed.json"));
    let mut cli = Cli::new(&sb);

    // e-devpin-ambig (twodevices): two devices whose uuid starts with "abc".
    cli.setup(
        "POST",
        "/v7/device",
        Some(json!({"uuid": "abc00000000000000000000000000000", "belongs_to__application": 1001, "is_of__device_type": 11, "device_name": "second"})),
    );
    let d = cli.d("/v7/device?$filter=startswith(uuid,%27abc%27)&$select=uuid&$expand=is_pinned_on__release($select=commit),belongs_to__application($select=slug)");
    assert_eq!(d.len(), 2, "{d:?}");

    // e-rel-ambig (tworeleases): two releases whose commit starts with "aaa".
    cli.setup(
        "POST",
        "/v7/release",
        Some(json!({"belongs_to__application": 1001, "commit": "aaab0000000000000000000000000000", "composition": {}, "status": "success", "source": "cloud", "start_timestamp": "2024-01-05T00:00:00.000Z", "is_final": true, "semver": "0.0.3"})),
    );
    assert_eq!(cli.d(&rel_show("aaa")).len(), 2);

    // nodevice: e-devpin-nodev, e-devpin-nodev-full, e-devtrack-nodev, dev-show-json-nodev.
    cli.setup("DELETE", "/v7/device(3001)", None);
    cli.setup(
        "DELETE",
        "/v7/device(uuid='abc00000000000000000000000000000')",
        None,
    );
    for t in [
        DEVPIN_SHOW,
        DEVPIN_SHOW_FULL,
        DEV_BY_UUID,
        DEV_JSON_1,
        DEV_JSON_2,
    ] {
        assert_eq!(cli.d(t), Vec::<Value>::new(), "GET {t}");
    }

    // norelease / emptyreleases: e-fleetpin-norel, e-devpin-norel, e-rel-none,
    // rel-list-empty, rel-list-empty-json.
    cli.setup(
        "PATCH",
        "/v7/application(1001)",
        Some(json!({"should_be_running__release": null, "should_track_latest_release": false})),
    );
    cli.setup(
        "DELETE",
        "/v7/release?$filter=belongs_to__application%20eq%201001",
        None,
    );
    assert_eq!(cli.d(APP_ID), [json!({"id": 1001})]);
    for t in [
        PIN_RELEASE,
        DEVPIN_RELEASE,
        &rel_show("aaa"),
        REL_LIST,
        REL_LIST_JSON_1,
        REL_LIST_JSON_2,
    ] {
        assert_eq!(cli.d(t), Vec::<Value>::new(), "GET {t}");
    }

    cli.check_verbatim("error scenarios");
}

#[test]
fn the_requests_above_are_the_transcripts() {
    let known = transcript_requests();
    for t in [
        FLEETPIN_SHOW,
        APP_ID,
        PIN_RELEASE,
        TRACK_LATEST,
        DEVPIN_SHOW,
        DEVPIN_SHOW_FULL,
        DEV_BY_UUID_APP,
        DEVPIN_RELEASE,
        DEVTRACK_SHORT,
        DEV_BY_UUID,
        FLEET_SHOW_SLUG,
        FLEET_SHOW_NAME,
        FLEET_SHOW_DEVACTOR,
        DEV_JSON_1,
        DEV_JSON_2,
        DEV_FULL_JSON_1,
        DEV_FULL_JSON_2,
        REL_LIST,
        REL_LIST_JSON_1,
        REL_LIST_JSON_2,
        REL_LIST_NAME,
        REL_LIST_NAME_DEVACTOR,
        &dev_show(false),
        &dev_show(true),
        &rel_show("bbbbbbb"),
        &rel_show("aaa"),
        &rel_show("5002"),
        &rel_show("5001"),
        &rel_show("9999"),
    ] {
        assert!(
            known.contains(&format!("GET {t}")),
            "not in the transcript: {t}"
        );
    }
    for t in ["/v7/application(1001)", DEV_PATCH] {
        assert!(known.contains(&format!("PATCH {t}")), "{t}");
    }
}
