//! Release-policy views (issue 4, item 5): `device list`'s release columns and filters,
//! and the rows that `fleet <x>` and `release <x>` print after the official ones. The real
//! binary against a recording mock: every test asserts the exact requests and the exact
//! output.

use balena_testkit::mock::Api;
use balena_testkit::TestEnv;
use serde_json::json;

const C1: &str = "aaaaaaa1111111111111111111111111";
const C2: &str = "bbbbbbb2222222222222222222222222";

const DEV_SELECT: &str =
    "$select=id,uuid,device_name,status,is_online,supervisor_version,os_version";
const DEV_EXPAND: &str = "$expand=is_of__device_type($select=slug),is_running__release($select=id,commit,raw_version),should_be_running__release($select=id,commit,raw_version),is_pinned_on__release($select=id)";

/// The fleet lookup of `device list --fleet myorg/myfleet`.
const FLEET_GET: &str = "/v7/application?$select=id,slug&$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(slug%20eq%20%27myorg%2Fmyfleet%27)";
const FLEET_BODY: &str = r#"{"d":[{"id":1001,"slug":"myorg/myfleet"}]}"#;

/// A page of `device list --fleet myorg/myfleet`: the fleet's devices with `filter` (the
/// flags' parts, already encoded and parenthesised, or empty), in pages of 1,000 by
/// `(device_name, id)`.
fn fleet_list_get(filter: &str) -> String {
    let f = if filter.is_empty() {
        "belongs_to__application%20eq%201001".to_owned()
    } else {
        format!("(belongs_to__application%20eq%201001)%20and%20{filter}")
    };
    format!("/v7/device?{DEV_SELECT}&$filter={f}&{DEV_EXPAND}&$orderby=device_name%20asc,id%20asc&$top=1000")
}

fn rel(id: i64, commit: &str, version: &str) -> String {
    format!(r#"[{{"id":{id},"commit":"{commit}","raw_version":"{version}"}}]"#)
}

/// A device row with the release expansions: running, target, pin (release ids or none).
fn dev(id: i64, name: &str, running: Option<i64>, target: Option<i64>, pin: Option<i64>) -> String {
    let r = |id: Option<i64>| match id {
        Some(5001) => rel(5001, C1, "0.0.1"),
        Some(5002) => rel(5002, C2, "0.0.2"),
        Some(other) => panic!("no release {other}"),
        None => "[]".to_owned(),
    };
    let pin = match pin {
        Some(p) => format!(r#"[{{"id":{p}}}]"#),
        None => "[]".to_owned(),
    };
    format!(
        r#"{{"id":{id},"uuid":"{id}aaaaaaaaaaaaaaaaaaaaaaaaaaaa","device_name":"{name}","status":"idle","is_online":true,"supervisor_version":"16.0.0","os_version":"balenaOS 5.0.0","is_of__device_type":[{{"slug":"raspberrypi4-64"}}],"is_running__release":{},"should_be_running__release":{},"is_pinned_on__release":{pin}}}"#,
        r(running),
        r(target)
    )
}

fn fleet_with_devices(devices: &[String]) -> String {
    format!(r#"{{"d":[{}]}}"#, devices.join(","))
}

fn three_devices() -> Vec<String> {
    vec![
        // pinned to 5002, still running 5001: behind
        dev(3001, "canary-1", Some(5001), Some(5002), Some(5002)),
        // tracking the fleet (5001), on target
        dev(3002, "prod-1", Some(5001), Some(5001), None),
        // tracking, never ran anything: behind
        dev(3003, "prod-2", None, Some(5001), None),
    ]
}

#[test]
fn device_list_of_a_fleet_adds_the_release_columns() {
    let api = Api::start();
    let get = fleet_list_get("");
    api.on("GET", FLEET_GET, 200, FLEET_BODY);
    api.on("GET", &get, 200, &fleet_with_devices(&three_devices()));
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "list", "--fleet", "myorg/MyFleet"]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    assert_eq!(
        api.lines(),
        vec![format!("GET {FLEET_GET}"), format!("GET {get}")]
    );
    let url = api.url();
    let dash = |id: i64| format!("{url}/devices/{id}aaaaaaaaaaaaaaaaaaaaaaaaaaaa/summary");
    let pad = " ".repeat(dash(3001).len() - "DASHBOARD URL".len());
    assert_eq!(
        out.stdout,
        format!(
            "ID   UUID    DEVICE NAME DEVICE TYPE     FLEET         STATUS IS ONLINE SUPERVISOR VERSION OS VERSION     DASHBOARD URL{pad} RUNNING RELEASE TARGET RELEASE           RELEASE POLICY
3001 3001aaa canary-1    raspberrypi4-64 myorg/myfleet idle   true      16.0.0             balenaOS 5.0.0 {} aaaaaaa (0.0.1) bbbbbbb (0.0.2) (pinned) Pinned
3002 3002aaa prod-1      raspberrypi4-64 myorg/myfleet idle   true      16.0.0             balenaOS 5.0.0 {} aaaaaaa (0.0.1) aaaaaaa (0.0.1)          Tracking fleet
3003 3003aaa prod-2      raspberrypi4-64 myorg/myfleet idle   true      16.0.0             balenaOS 5.0.0 {} N/a             aaaaaaa (0.0.1)          Tracking fleet
",
            dash(3001),
            dash(3002),
            dash(3003)
        )
    );
}

#[test]
fn device_list_filters_are_one_server_side_filter() {
    let api = Api::start();
    let filter = "(is_pinned_on__release%20ne%20null)%20and%20(should_be_running__release%20ne%20null)%20and%20(is_running__release%20ne%20should_be_running__release)%20and%20(device_tag/any(dt:dt/tag_key%20eq%20%27canary%27))%20and%20(device_tag/any(dt:(dt/tag_key%20eq%20%27region%27)%20and%20(dt/value%20eq%20%27eu%20west%27)))";
    let get = fleet_list_get(filter);
    api.on("GET", FLEET_GET, 200, FLEET_BODY);
    api.on("GET", &get, 200, &fleet_with_devices(&three_devices()[..1]));
    let env = TestEnv::logged_in(&api);
    let out = env.run(&[
        "device",
        "list",
        "-f",
        "myorg/myfleet",
        "--pinned",
        "--behind",
        "--tag",
        "canary",
        "--tag",
        "region=eu west",
    ]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    assert_eq!(
        api.lines(),
        vec![format!("GET {FLEET_GET}"), format!("GET {get}")]
    );
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    assert!(out
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .ends_with("aaaaaaa (0.0.1) bbbbbbb (0.0.2) (pinned) Pinned"));

    // --tracking alone, and without --fleet: the device resource itself.
    let api = Api::start();
    let get = format!(
        "/v7/device?{DEV_SELECT}&$filter=is_pinned_on__release%20eq%20null&{DEV_EXPAND},belongs_to__application($select=slug)&$orderby=device_name%20asc,id%20asc&$top=1000"
    );
    api.on("GET", &get, 200, r#"{"d":[]}"#);
    api.on(
        "GET",
        "/actor/v1/whoami",
        200,
        r#"{"id":1,"actorType":"user","username":"u"}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "list", "--tracking"]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    // No device: the session is confirmed (a rejected token reads as a guest).
    assert_eq!(
        api.lines(),
        vec![format!("GET {get}"), "GET /actor/v1/whoami".to_owned()]
    );
    assert_eq!(
        out.stdout,
        "ID UUID DEVICE NAME DEVICE TYPE FLEET STATUS IS ONLINE SUPERVISOR VERSION OS VERSION DASHBOARD URL RUNNING RELEASE TARGET RELEASE RELEASE POLICY\n"
    );
}

/// A fleet of 1,002 devices: a full first page whose last name has a quote, then a page
/// of 2, one with a longer name than any on the first page.
fn two_pages(api: &Api) -> [String; 2] {
    api.on("GET", FLEET_GET, 200, FLEET_BODY);
    let first: Vec<String> = (1..=1000)
        .map(|i| {
            let name = if i == 1000 {
                "o'neil".to_owned()
            } else {
                format!("dev-{i:04}")
            };
            dev(10_000 + i, &name, Some(5001), Some(5001), None)
        })
        .collect();
    let second = [
        dev(10_001, "o'neil", Some(5001), Some(5002), Some(5002)),
        dev(
            9_000,
            "zz-a-much-longer-device-name",
            None,
            Some(5001),
            None,
        ),
    ];
    let page1 = fleet_list_get("");
    let page2 = fleet_list_get(
        "(device_name%20ge%20%27o%27%27neil%27)%20and%20((device_name%20gt%20%27o%27%27neil%27)%20or%20(id%20gt%2011000))",
    );
    api.on("GET", &page1, 200, &fleet_with_devices(&first));
    api.on("GET", &page2, 200, &fleet_with_devices(&second));
    [page1, page2]
}

#[test]
fn device_list_pages_by_name_then_id_into_one_table() {
    let api = Api::start();
    let pages = two_pages(&api);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "list", "--fleet", "myorg/myfleet"]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    // A full page asks for the next one after its last (name, id); a short one ends the list.
    assert_eq!(
        api.lines(),
        vec![
            format!("GET {FLEET_GET}"),
            format!("GET {}", pages[0]),
            format!("GET {}", pages[1])
        ]
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 1002);
    assert!(
        lines[1].starts_with("10001 10001aa dev-0001 "),
        "{}",
        lines[1]
    );
    assert!(lines[1002].starts_with("9000  9000aaa zz-a-much-longer-device-name raspberrypi4-64"));
    // One table: every row's columns line up with the header's, the widths of the last
    // page's cells included.
    let at = lines[0].find("DEVICE TYPE").unwrap();
    assert_eq!(at, "ID    UUID    zz-a-much-longer-device-name ".len());
    for l in &lines[1..] {
        assert_eq!(l.find("raspberrypi4-64"), Some(at), "{l}");
    }
}

#[test]
fn device_list_json_pages_into_one_array() {
    let api = Api::start();
    two_pages(&api);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "list", "--fleet", "myorg/myfleet", "--json"]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    assert_eq!(api.lines().len(), 3);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1002);
    assert_eq!(v[1001]["device_name"], "zz-a-much-longer-device-name");
    assert_eq!(v[1000]["release_policy"], "pinned");
    // Written row by row, laid out as one pretty-printed array.
    assert_eq!(out.stdout, serde_json::to_string_pretty(&v).unwrap() + "\n");
}

#[test]
fn device_list_that_fails_on_a_later_page_prints_no_table() {
    let api = Api::start();
    // The second page fails (a 500 is not retried; the first answer registered wins): the
    // table, which needs every row for its widths, is not printed at all.
    api.on(
        "GET",
        &fleet_list_get(
            "(device_name%20ge%20%27o%27%27neil%27)%20and%20((device_name%20gt%20%27o%27%27neil%27)%20or%20(id%20gt%2011000))",
        ),
        500,
        "Internal Server Error",
    );
    two_pages(&api);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "list", "--fleet", "myorg/myfleet"]);
    assert_eq!(out.code, 7, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(api.lines().len(), 3);
}

#[test]
fn device_list_flag_errors_send_nothing() {
    let api = Api::start();
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "list", "--pinned", "--tracking"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = env.run(&["device", "list", "--tag", "=v"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--tag"), "{}", out.stderr);
    assert!(api.lines().is_empty(), "{:?}", api.lines());
}

#[test]
fn device_list_json_has_the_api_fields_and_the_policy() {
    let api = Api::start();
    let get = fleet_list_get("");
    api.on("GET", FLEET_GET, 200, FLEET_BODY);
    api.on("GET", &get, 200, &fleet_with_devices(&three_devices()));
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "list", "--fleet", "myorg/myfleet", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let d = &v[0];
    assert_eq!(d["uuid"], "3001aaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(d["fleet"], "myorg/myfleet");
    assert_eq!(
        d["is_running__release"],
        json!([{"id": 5001, "commit": C1, "raw_version": "0.0.1"}])
    );
    assert_eq!(
        d["should_be_running__release"],
        json!([{"id": 5002, "commit": C2, "raw_version": "0.0.2"}])
    );
    assert_eq!(d["is_pinned_on__release"], json!([{"id": 5002}]));
    assert_eq!(d["release_policy"], "pinned");
    assert_eq!(d["behind"], true);
    assert_eq!(v[1]["release_policy"], "tracking_fleet");
    assert_eq!(v[1]["behind"], false);
    assert_eq!(v[1]["is_pinned_on__release"], json!([]));
    assert_eq!(v[2]["is_running__release"], json!([]));
    assert_eq!(v[2]["behind"], true);
    // The official keys in the official order, then ours.
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "uuid",
            "device_name",
            "status",
            "is_online",
            "supervisor_version",
            "os_version",
            "dashboard_url",
            "fleet",
            "device_type",
            "is_running__release",
            "should_be_running__release",
            "is_pinned_on__release",
            "release_policy",
            "behind"
        ]
    );
    assert_eq!(
        api.lines(),
        vec![format!("GET {FLEET_GET}"), format!("GET {get}")]
    );
}

const FLEET_POLICY_GET: &str = "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(slug%20eq%20%27myorg%2Fmyfleet%27)&$expand=is_for__device_type($select=slug),should_be_running__release($select=id,commit,raw_version),owns__device/$count";
const PINNED_COUNT: &str = "/v7/device/$count?$filter=(belongs_to__application%20eq%201001)%20and%20(is_pinned_on__release%20ne%20null)";
const BEHIND_COUNT: &str = "/v7/device/$count?$filter=(belongs_to__application%20eq%201001)%20and%20((should_be_running__release%20ne%20null)%20and%20(is_running__release%20ne%20should_be_running__release))";

/// The fleet with its device count (4, or 0 without a target), and the two counts.
fn fleet_policy(api: &Api, tracking: bool, with_target: bool) {
    let (target, total, pinned, behind) = if with_target {
        (rel(5001, C1, "0.0.1"), 4, 2, 2)
    } else {
        ("[]".to_owned(), 0, 0, 0)
    };
    api.on(
        "GET",
        FLEET_POLICY_GET,
        200,
        &format!(
            r#"{{"d":[{{"id":1001,"app_name":"myfleet","slug":"myorg/myfleet","should_track_latest_release":{tracking},"is_for__device_type":[{{"slug":"raspberrypi4-64"}}],"should_be_running__release":{target},"owns__device":{total}}}]}}"#
        ),
    );
    api.on("GET", PINNED_COUNT, 200, &format!(r#"{{"d":{pinned}}}"#));
    api.on("GET", BEHIND_COUNT, 200, &format!(r#"{{"d":{behind}}}"#));
}

/// The requests of one `fleet <fleet>`: the fleet, then the two counts (in either order).
fn fleet_policy_requests(lines: &[String]) {
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], format!("GET {FLEET_POLICY_GET}"));
    let mut counts = [lines[1].clone(), lines[2].clone()];
    counts.sort();
    assert_eq!(
        counts,
        [format!("GET {BEHIND_COUNT}"), format!("GET {PINNED_COUNT}")]
    );
}

#[test]
fn fleet_show_policy_rows_follow_the_official_ones_counted_on_the_server() {
    let api = Api::start();
    fleet_policy(&api, false, true);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "myorg/MyFleet"]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    fleet_policy_requests(&api.lines());
    assert_eq!(
        out.stdout,
        format!(
            "== myfleet
ID:          1001
DEVICE TYPE: raspberrypi4-64
SLUG:        myorg/myfleet
COMMIT:      {C1}

RELEASE POLICY:   Pinned
TARGET RELEASE:   aaaaaaa (0.0.1)
DEVICES:          4
PINNED DEVICES:   2
TRACKING DEVICES: 2
BEHIND DEVICES:   2
"
        )
    );

    let api = Api::start();
    fleet_policy(&api, true, true);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "myorg/myfleet", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({
            "id": 1001, "app_name": "myfleet", "slug": "myorg/myfleet",
            "device_type": "raspberrypi4-64", "commit": C1,
            "release_policy": "tracking_latest",
            "target_release": {"id": 5001, "commit": C1, "raw_version": "0.0.1"},
            "device_counts": {"total": 4, "pinned": 2, "tracking": 2, "behind": 2},
        })
    );
    // The official keys come first, in the official order.
    assert!(out
        .stdout
        .starts_with("{\n  \"id\": 1001,\n  \"app_name\": \"myfleet\",\n  \"slug\""));
    fleet_policy_requests(&api.lines());
}

#[test]
fn fleet_show_without_target_or_devices() {
    let api = Api::start();
    fleet_policy(&api, true, false);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "myorg/myfleet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "== myfleet
ID:          1001
DEVICE TYPE: raspberrypi4-64
SLUG:        myorg/myfleet

RELEASE POLICY:   Tracking latest
TARGET RELEASE:   N/a
DEVICES:          0
PINNED DEVICES:   0
TRACKING DEVICES: 0
BEHIND DEVICES:   0
"
    );
}

const REL_LOOKUP: &str = "/v7/release?$select=id,commit,created_at,status,raw_version,semver,is_final,build_log,start_timestamp,end_timestamp&$filter=startswith(commit,%27bbbbbbb%27)&$expand=release_tag($select=tag_key,value),should_be_running_on__application/$count,is_pinned_to__device/$count,is_running_on__device/$count&$top=25";
const REL_USES: &str = "/v7/release(5002)?$select=id&$expand=should_be_running_on__application($select=id,slug;$orderby=slug%20asc;$top=20),is_pinned_to__device($select=id,uuid,device_name;$orderby=device_name%20asc;$top=20),is_running_on__device($select=id,uuid,device_name;$orderby=device_name%20asc;$top=20)";

fn release_uses_row(running: usize) -> String {
    let devs: Vec<String> = (0..running.min(20))
        .map(|i| {
            format!(
                r#"{{"id":{},"uuid":"u{i:02}","device_name":"dev-{i:02}"}}"#,
                4000 + i
            )
        })
        .collect();
    format!(
        r#"{{"d":[{{"id":5002,"should_be_running_on__application":[{{"id":1001,"slug":"myorg/myfleet"}},{{"id":1002,"slug":"myorg/other"}}],"is_pinned_to__device":[{{"id":3001,"uuid":"abcdef0123456789abcdef0123456789","device_name":"canary-1"}}],"is_running_on__device":[{}]}}]}}"#,
        devs.join(",")
    )
}

#[test]
fn release_show_use_rows_follow_the_official_ones_with_one_more_request() {
    let api = Api::start();
    api.on(
        "GET",
        REL_LOOKUP,
        200,
        &format!(
            r#"{{"d":[{{"id":5002,"commit":"{C2}","created_at":"2024-02-02T00:00:00.000Z","status":"success","raw_version":"0.0.2","semver":"0.0.2","is_final":true,"build_log":"log b","start_timestamp":"2024-02-02T00:00:00.000Z","end_timestamp":"2024-02-02T00:05:00.000Z","release_tag":[{{"tag_key":"k1","value":"v1"}}],"should_be_running_on__application":2,"is_pinned_to__device":1,"is_running_on__device":23}}]}}"#
        ),
    );
    api.on("GET", REL_USES, 200, &release_uses_row(23));
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["release", "bbbbbbb"]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    assert_eq!(
        api.lines(),
        vec![format!("GET {REL_LOOKUP}"), format!("GET {REL_USES}")]
    );
    let running: String = (0..20)
        .map(|i| format!("                    u{i:02} dev-{i:02}\n"))
        .collect();
    assert_eq!(
        out.stdout,
        format!(
            "ID:              5002
COMMIT:          {C2}
CREATED AT:      2024-02-02T00:00:00.000Z
STATUS:          success
VERSION:         0.0.2
IS FINAL:        true
BUILD LOG:       log b
START TIMESTAMP: 2024-02-02T00:00:00.000Z
END TIMESTAMP:   2024-02-02T00:05:00.000Z
TAGS:            k1=v1

TARGETED BY FLEETS: 2
                    myorg/myfleet
                    myorg/other
PINNED DEVICES:     1
                    abcdef0123456789abcdef0123456789 canary-1
RUNNING DEVICES:    23
{running}                    … and 3 more
"
        )
    );
}

#[test]
fn release_show_json_merges_the_uses_into_the_json_request() {
    let api = Api::start();
    let lookup = "/v7/release?$filter=startswith(commit,%27bbbbbbb%27)&$expand=release_tag($select=tag_key,value),should_be_running_on__application/$count,is_pinned_to__device/$count,is_running_on__device/$count&$top=25";
    let uses = REL_USES.replace("$select=id&", "$select=id,raw_version,build_log&");
    api.on(
        "GET",
        lookup,
        200,
        &format!(
            // The counts amid the fields: taking them out must keep the others' order.
            r#"{{"d":[{{"id":5002,"commit":"{C2}","should_be_running_on__application":2,"is_pinned_to__device":1,"status":"success","is_running_on__device":0,"belongs_to__application":{{"__id":1001}},"release_tag":[]}}]}}"#
        ),
    );
    api.on(
        "GET",
        &uses,
        200,
        &release_uses_row(0).replace(
            r#""id":5002,"#,
            r#""id":5002,"raw_version":"0.0.2","build_log":"log b","#,
        ),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["release", "bbbbbbb", "--json"]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    assert_eq!(
        api.lines(),
        vec![format!("GET {lookup}"), format!("GET {uses}")]
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({
            "id": 5002, "commit": C2, "status": "success",
            "belongs_to__application": {"__id": 1001}, "release_tag": [],
            "raw_version": "0.0.2", "build_log": "log b",
            "targeted_by_fleets": {"count": 2, "items": [
                {"id": 1001, "slug": "myorg/myfleet"}, {"id": 1002, "slug": "myorg/other"}]},
            "pinned_devices": {"count": 1, "items": [
                {"id": 3001, "uuid": "abcdef0123456789abcdef0123456789", "device_name": "canary-1"}]},
            "running_devices": {"count": 0, "items": []},
        })
    );
    // The lookup's keys in their order, then the explicit-read ones, then the uses.
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "commit",
            "status",
            "belongs_to__application",
            "release_tag",
            "raw_version",
            "build_log",
            "targeted_by_fleets",
            "pinned_devices",
            "running_devices"
        ]
    );
}

#[test]
fn the_policy_flag_is_gone() {
    // The rows are the default: `--policy` is an unknown argument, and no request is made.
    let api = Api::start();
    let env = TestEnv::logged_in(&api);
    for args in [
        &["fleet", "myorg/myfleet", "--policy"][..],
        &["release", "bbbbbbb", "--policy"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("--policy"), "{}", out.stderr);
    }
    assert!(api.lines().is_empty(), "{:?}", api.lines());
}
