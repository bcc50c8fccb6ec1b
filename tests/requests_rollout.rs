//! Request-level tests of `fleet rollout` against a recording HTTP mock: the exact reads of
//! a `--dry-run` plan (and that it sends no write), and the exact writes of an `abort`: the
//! state tag changed conditionally on its previous value, then read back, and the rollout's
//! pins removed conditionally on their still being the release's.

use balena_testkit::mock::Api;
use balena_testkit::TestEnv;

const TAG_GET: &str = "/v7/application_tag?$select=id,value&$filter=(application%20eq%207)%20and%20(tag_key%20eq%20%27balena-rs.rollout%27)";
const FLEET_SELECT: &str = "$select=id,app_name,slug,should_track_latest_release&$filter=slug%20eq%20%27myorg%2Fmyfleet%27&$expand=should_be_running__release($select=id,commit,raw_version)";
const C1: &str = "aaaa0000000000000000000000000001";
const C2: &str = "bbbb0000000000000000000000000002";

fn fleet_row(with_release: bool) -> String {
    let releases = if with_release {
        format!(
            r#","owns__release":[{{"id":2,"commit":"{C2}","status":"success","raw_version":"1.1.0","semver":"1.1.0","is_final":true,"is_invalidated":false,"created_at":"2026-02-02T00:00:00.000Z"}}]"#
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"d":[{{"id":7,"app_name":"myfleet","slug":"myorg/myfleet","should_track_latest_release":true,"should_be_running__release":[{{"id":1,"commit":"{C1}","raw_version":"1.0.0"}}]{releases}}}]}}"#
    )
}

#[test]
fn a_dry_run_reads_the_fleet_its_latest_release_the_state_and_the_devices_by_page() {
    let api = Api::start();
    let fleet_get = format!(
        "/v7/application?{FLEET_SELECT},owns__release($select=id,commit,status,raw_version,semver,is_final,is_invalidated,created_at;$filter=(startswith(commit,%271.1.0%27))%20or%20(raw_version%20eq%20%271.1.0%27)%20or%20(semver%20eq%20%271.1.0%27);$orderby=created_at%20desc;$top=25)"
    );
    api.on("GET", &fleet_get, 200, &fleet_row(true));
    let latest = "/v7/release?$select=id,commit,status,raw_version,semver,is_final,is_invalidated,created_at&$filter=(belongs_to__application%20eq%207)%20and%20((is_final%20eq%20true)%20and%20(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success%27))&$orderby=start_timestamp%20desc&$top=1";
    api.on(
        "GET",
        latest,
        200,
        &format!(
            r#"{{"d":[{{"id":2,"commit":"{C2}","status":"success","raw_version":"1.1.0"}}]}}"#
        ),
    );
    api.on("GET", TAG_GET, 200, r#"{"d":[]}"#);
    let devices = "/v7/device?$select=id,uuid,device_name,is_pinned_on__release&$filter=(belongs_to__application%20eq%207)%20and%20(id%20gt%200)&$orderby=id%20asc&$top=1000";
    api.on(
        "GET",
        devices,
        200,
        r#"{"d":[
            {"id":70,"uuid":"c0000000000000000000000000000070","device_name":"can","is_pinned_on__release":null},
            {"id":71,"uuid":"d0000000000000000000000000000071","device_name":"one","is_pinned_on__release":null},
            {"id":72,"uuid":"e0000000000000000000000000000072","device_name":"old","is_pinned_on__release":{"__id":9}},
            {"id":73,"uuid":"f0000000000000000000000000000073","device_name":"two","is_pinned_on__release":null}]}"#,
    );
    let canary = "/v7/device?$select=id&$filter=((belongs_to__application%20eq%207)%20and%20(device_tag/any(dt:dt/tag_key%20eq%20%27canary%27)))%20and%20(id%20gt%200)&$orderby=id%20asc&$top=1000";
    api.on("GET", canary, 200, r#"{"d":[{"id":70}]}"#);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&[
        "fleet",
        "rollout",
        "myorg/myfleet",
        "1.1.0",
        "--canary",
        "canary",
        "--steps",
        "50%,100%",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(out.code, 0, "{}\n{:?}", out.stderr, api.lines());
    assert_eq!(
        api.lines(),
        [
            format!("GET {fleet_get}"),
            format!("GET {latest}"),
            format!("GET {TAG_GET}"),
            format!("GET {devices}"),
            format!("GET {canary}"),
        ]
    );
    let v = out.json();
    assert_eq!(v["result"], "planned");
    let wave = |i: usize| -> Vec<String> {
        v["waves"][i]["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["device_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(wave(0), ["can"]);
    assert_eq!(wave(1), ["one"]);
    assert_eq!(wave(2), ["two"]);
    assert_eq!(
        v["left_alone"][0]["uuid"],
        "e0000000000000000000000000000072"
    );
    // It tracked latest, and 1.1.0 is its latest trackable release: it will again.
    assert_eq!(
        v["fleet_after"],
        serde_json::json!({"tracking_latest": true, "release": "bbbb000 (1.1.0)"})
    );
}

#[test]
fn abort_writes_the_state_conditionally_then_unpins_conditionally() {
    let api = Api::start();
    let fleet_get = format!("/v7/application?{FLEET_SELECT}");
    api.on("GET", &fleet_get, 200, &fleet_row(false));
    // A rollout of release 2 at its first wave (canary device 70), the fleet frozen on 1.
    let running = "brs-rollout/1;r=2;f=L1;m=73;ph=run;w=0;st=g;t=1796000000;t0=1796000000;s=50%,100%;b=0;o=0000000000000001;k=1z.2;c=1y;cl=canary";
    let aborting = running.replace("ph=run", "ph=abt") + ";x=abort";
    let tag_row = |v: &str| format!(r#"{{"d":[{{"id":3,"value":"{v}"}}]}}"#);
    api.on_sequence(
        "GET",
        TAG_GET,
        (200, &tag_row(running), &[]),
        (200, &tag_row(&aborting)),
    );
    let enc = |v: &str| {
        v.replace('%', "%25")
            .replace('/', "%2F")
            .replace(';', "%3B")
            .replace('=', "%3D")
            .replace(',', "%2C")
    };
    let cond = |v: &str| {
        format!(
            "/v7/application_tag?$filter=((application%20eq%207)%20and%20(tag_key%20eq%20%27balena-rs.rollout%27))%20and%20(value%20eq%20%27{}%27)",
            enc(v)
        )
    };
    api.on("PATCH", &cond(running), 200, "");
    api.on("PATCH", &cond(&aborting), 200, "");
    let pinned = "/v7/device?$select=id,uuid&$filter=((belongs_to__application%20eq%207)%20and%20(is_pinned_on__release%20eq%202)%20and%20(id%20le%2073))%20and%20(id%20gt%200)&$orderby=id%20asc&$top=1000";
    api.on(
        "GET",
        pinned,
        200,
        r#"{"d":[{"id":70,"uuid":"c0000000000000000000000000000070"}]}"#,
    );
    let unpin = "/v7/device?$filter=(id%20in%20(70))%20and%20(is_pinned_on__release%20eq%202)";
    api.on("PATCH", unpin, 200, "");
    let counted =
        "/v7/device/$count?$filter=(id%20in%20(70))%20and%20(is_pinned_on__release%20eq%20null)";
    api.on("GET", counted, 200, r#"{"d":1}"#);
    let track = "/v7/release?$select=id,commit,status,raw_version,semver,is_final,is_invalidated,created_at&$filter=(belongs_to__application%20eq%207)%20and%20((is_final%20eq%20true)%20and%20(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success%27))&$orderby=start_timestamp%20desc&$top=1";
    api.on(
        "GET",
        track,
        200,
        &format!(
            r#"{{"d":[{{"id":1,"commit":"{C1}","status":"success","raw_version":"1.0.0"}}]}}"#
        ),
    );
    api.on("PATCH", "/v7/application(7)", 200, "");
    api.on(
        "GET",
        "/v7/release(2)?$select=id,commit,raw_version",
        200,
        &format!(r#"{{"d":[{{"id":2,"commit":"{C2}","raw_version":"1.1.0"}}]}}"#),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "rollout", "abort", "myorg/myfleet"]);
    let lines = api.lines();
    assert_eq!(out.code, 0, "{}\n{lines:#?}", out.stderr);
    let methods: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            let (m, rest) = l.split_once(' ').unwrap();
            (m, rest.split(['?', ' ']).next().unwrap())
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("GET", "/v7/application"),
            ("GET", "/v7/application_tag"),
            ("PATCH", "/v7/application_tag"),
            ("GET", "/v7/application_tag"),
            ("GET", "/v7/device"),
            ("PATCH", "/v7/device"),
            ("GET", "/v7/device/$count"),
            ("GET", "/v7/release"),
            ("PATCH", "/v7/application(7)"),
            ("PATCH", "/v7/application_tag"),
            ("GET", "/v7/application_tag"),
            ("GET", "/v7/release(2)"),
        ],
        "{lines:#?}"
    );
    // The first state write: only if the tag still holds the running state.
    assert_eq!(
        lines[2],
        format!(r#"PATCH {} {{"value":"{aborting}"}}"#, cond(running))
    );
    // The pins: removed only where they still are the release's.
    assert_eq!(
        lines[5],
        format!("PATCH {unpin} {{\"is_pinned_on__release\":null}}")
    );
    // The fleet tracks latest again (its release before is still the latest trackable).
    assert_eq!(
        lines[8],
        "PATCH /v7/application(7) {\"should_track_latest_release\":true,\"should_be_running__release\":1}"
    );
    // The last state write: rolled back, conditional on the aborting state.
    assert_eq!(
        lines[9],
        format!(
            r#"PATCH {} {{"value":"{}"}}"#,
            cond(&aborting),
            aborting.replace("ph=abt", "ph=rb")
        )
    );
    assert!(
        out.stdout
            .contains("aborted and rolled back at wave 1 of 3"),
        "{}",
        out.stdout
    );
}
