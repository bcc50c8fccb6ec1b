//! Format tests: stdout compared byte for byte with the official CLI's transcript
//! (reference/official-cli-transcript.md), for the same API answers.

use balena_testkit::mock::Api;
use balena_testkit::TestEnv;

const DEVICE_ROW: &str = r#"{"d":[{"device_name":"my-device_1","id":3001,"overall_status":"idle","is_online":true,"ip_address":"192.168.1.2","mac_address":"aa:bb:cc:dd:ee:ff","last_connectivity_event":"2024-03-03T00:00:00.000Z","uuid":"abcdef0123456789abcdef0123456789","supervisor_version":"16.0.0","is_web_accessible":false,"note":null,"os_version":"balenaOS 5.0.0","memory_usage":512,"memory_total":1024,"public_address":"1.2.3.4","storage_block_device":"/dev/mmcblk0","storage_usage":100,"storage_total":1000,"cpu_usage":10,"cpu_temp":50,"cpu_id":"cpu1","is_undervolted":false,"belongs_to__application":[{"app_name":"myfleet","slug":"myorg/myfleet"}],"is_of__device_type":[{"slug":"raspberrypi4-64"}],"is_running__release":[{"commit":"aaaaaaa1111111111111111111111111"}]}]}"#;

#[test]
fn device_show_matches_transcript() {
    let api = Api::start();
    let get = "/v7/device?$select=device_name,id,overall_status,is_online,ip_address,mac_address,last_connectivity_event,uuid,supervisor_version,is_web_accessible,note,os_version,memory_usage,memory_total,public_address,storage_block_device,storage_usage,storage_total,cpu_usage,cpu_temp,cpu_id,is_undervolted&$filter=startswith(uuid,%27abcdef0%27)&$expand=belongs_to__application($select=app_name,slug),is_of__device_type($select=slug),is_running__release($select=commit)&$top=10";
    api.on("GET", get, 200, DEVICE_ROW);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "abcdef0"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let url = api.url();
    assert_eq!(
        out.stdout,
        format!(
            "== MY DEVICE 1
ID:                    3001
DEVICE TYPE:           raspberrypi4-64
STATUS:                idle
IS ONLINE:             true
IP ADDRESS:            192.168.1.2
PUBLIC ADDRESS:        1.2.3.4
MAC ADDRESS:           aa:bb:cc:dd:ee:ff
FLEET:                 myorg/myfleet
LAST SEEN:             2024-03-03T00:00:00.000Z
UUID:                  abcdef0123456789abcdef0123456789
COMMIT:                aaaaaaa1111111111111111111111111
SUPERVISOR VERSION:    16.0.0
IS WEB ACCESSIBLE:     false
OS VERSION:            balenaOS 5.0.0
DASHBOARD URL:         {url}/devices/abcdef0123456789abcdef0123456789/summary
CPU USAGE PERCENT:     10
CPU TEMP C:            50
CPU ID:                cpu1
MEMORY USAGE MB:       512
MEMORY TOTAL MB:       1024
MEMORY USAGE PERCENT:  50
STORAGE BLOCK DEVICE:  /dev/mmcblk0
STORAGE USAGE MB:      100
STORAGE TOTAL MB:      1000
STORAGE USAGE PERCENT: 10
"
        )
    );
    assert_eq!(api.lines().len(), 1);
}

#[test]
fn whoami_matches_transcript() {
    let api = Api::start();
    api.on(
        "GET",
        "/actor/v1/whoami",
        200,
        r#"{"id":1234,"actorType":"user","actorTypeId":1,"username":"gh_user","email":"testuser@test.com"}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["whoami"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "== ACCOUNT INFORMATION\nUSERNAME: gh_user\nEMAIL:    testuser@test.com\nURL:      balena-cloud.com\n"
    );
}

#[test]
fn whoami_device_and_app_actors_match_transcript() {
    let api = Api::start();
    api.on(
        "GET",
        "/actor/v1/whoami",
        200,
        r#"{"id":1235,"actorType":"device","actorTypeId":3001,"uuid":"abcdef0123456789abcdef0123456789"}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["whoami"]);
    assert_eq!(
        out.stdout,
        "== ACCOUNT INFORMATION\nDEVICE: abcdef0123456789abcdef0123456789\nURL:    balena-cloud.com\n"
    );
    let api = Api::start();
    api.on(
        "GET",
        "/actor/v1/whoami",
        200,
        r#"{"id":1236,"actorType":"application","actorTypeId":1001,"slug":"myorg/myfleet"}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["whoami"]);
    assert_eq!(
        out.stdout,
        "== ACCOUNT INFORMATION\nAPPLICATION: myorg/myfleet\nURL:         balena-cloud.com\n"
    );
}

const FLEET_GET: &str = "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(slug%20eq%20%27myorg%2Fmyfleet%27)&$expand=is_for__device_type($select=slug),should_be_running__release($select=id,commit,raw_version),owns__device/$count";
const FLEET_ROW: &str = r#"{"d":[{"id":1001,"app_name":"myfleet","slug":"myorg/myfleet","should_track_latest_release":false,"is_for__device_type":[{"slug":"raspberrypi4-64"}],"should_be_running__release":[{"id":5001,"commit":"aaaaaaa1111111111111111111111111","raw_version":"0.0.1"}],"owns__device":1}]}"#;
const PINNED_COUNT: &str = "/v7/device/$count?$filter=(belongs_to__application%20eq%201001)%20and%20(is_pinned_on__release%20ne%20null)";
const BEHIND_COUNT: &str = "/v7/device/$count?$filter=(belongs_to__application%20eq%201001)%20and%20((should_be_running__release%20ne%20null)%20and%20(is_running__release%20ne%20should_be_running__release))";

/// The two device counts of `fleet <fleet>`: none pinned, none behind.
fn counts(api: &Api) {
    api.on("GET", PINNED_COUNT, 200, r#"{"d":0}"#);
    api.on("GET", BEHIND_COUNT, 200, r#"{"d":0}"#);
}

/// `out` starts with the official CLI's bytes, exactly; the rest of `out`.
fn after_official<'a>(out: &'a str, official: &str) -> &'a str {
    assert!(
        out.starts_with(official),
        "the official part differs:\n--- want (prefix)\n{official}--- got\n{out}"
    );
    &out[official.len()..]
}

#[test]
fn fleet_show_matches_transcript() {
    let api = Api::start();
    api.on("GET", FLEET_GET, 200, FLEET_ROW);
    counts(&api);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "myorg/MyFleet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Transcript fleet-show-slug, byte for byte, then the release-policy rows.
    let rest = after_official(
        &out.stdout,
        "== myfleet\nID:          1001\nDEVICE TYPE: raspberrypi4-64\nSLUG:        myorg/myfleet\nCOMMIT:      aaaaaaa1111111111111111111111111\n",
    );
    assert_eq!(
        rest,
        "\nRELEASE POLICY:   Pinned\nTARGET RELEASE:   aaaaaaa (0.0.1)\nDEVICES:          1\nPINNED DEVICES:   0\nTRACKING DEVICES: 1\nBEHIND DEVICES:   0\n"
    );
    let out = env.run(&["fleet", "myorg/myfleet", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Transcript fleet-show-json without its closing `\n}`: the official keys in order,
    // then the extra keys.
    let rest = after_official(
        &out.stdout,
        "{\n  \"id\": 1001,\n  \"app_name\": \"myfleet\",\n  \"slug\": \"myorg/myfleet\",\n  \"device_type\": \"raspberrypi4-64\",\n  \"commit\": \"aaaaaaa1111111111111111111111111\"",
    );
    assert_eq!(
        rest,
        ",\n  \"release_policy\": \"pinned\",\n  \"target_release\": {\n    \"id\": 5001,\n    \"commit\": \"aaaaaaa1111111111111111111111111\",\n    \"raw_version\": \"0.0.1\"\n  },\n  \"device_counts\": {\n    \"total\": 1,\n    \"pinned\": 0,\n    \"tracking\": 1,\n    \"behind\": 0\n  }\n}\n"
    );
    let lines = api.lines();
    assert_eq!(lines.len(), 6, "{lines:?}");
    for run in lines.chunks(3) {
        assert_eq!(run[0], format!("GET {FLEET_GET}"));
        let mut counted = [run[1].clone(), run[2].clone()];
        counted.sort();
        assert_eq!(
            counted,
            [format!("GET {BEHIND_COUNT}"), format!("GET {PINNED_COUNT}")]
        );
    }
}

#[test]
fn fleet_unpinned_matches_transcript() {
    let api = Api::start();
    api.on(
        "GET",
        FLEET_GET,
        200,
        r#"{"d":[{"id":1001,"app_name":"myfleet","slug":"myorg/myfleet","should_track_latest_release":true,"is_for__device_type":[{"slug":"raspberrypi4-64"}],"should_be_running__release":[],"owns__device":0}]}"#,
    );
    counts(&api);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "myorg/myfleet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Transcript fleet-unpinned, byte for byte, then the release-policy rows.
    let rest = after_official(
        &out.stdout,
        "== myfleet\nID:          1001\nDEVICE TYPE: raspberrypi4-64\nSLUG:        myorg/myfleet\n",
    );
    assert_eq!(
        rest,
        "\nRELEASE POLICY:   Tracking latest\nTARGET RELEASE:   N/a\nDEVICES:          0\nPINNED DEVICES:   0\nTRACKING DEVICES: 0\nBEHIND DEVICES:   0\n"
    );
    let out = env.run(&["fleet", "myorg/myfleet", "--json"]);
    // Transcript fleet-json-unpinned without its closing `\n}`.
    let rest = after_official(
        &out.stdout,
        "{\n  \"id\": 1001,\n  \"app_name\": \"myfleet\",\n  \"slug\": \"myorg/myfleet\",\n  \"device_type\": \"raspberrypi4-64\"",
    );
    assert!(
        rest.starts_with(
            ",\n  \"release_policy\": \"tracking_latest\",\n  \"target_release\": null,\n"
        ),
        "{rest}"
    );
}

#[test]
fn release_show_matches_transcript() {
    let api = Api::start();
    let get = "/v7/release?$select=id,commit,created_at,status,raw_version,semver,is_final,build_log,start_timestamp,end_timestamp&$filter=(startswith(commit,%275001%27))%20or%20(id%20eq%205001)&$expand=release_tag($select=tag_key,value),should_be_running_on__application/$count,is_pinned_to__device/$count,is_running_on__device/$count&$top=25";
    let uses = "/v7/release(5001)?$select=id&$expand=should_be_running_on__application($select=id,slug;$orderby=slug%20asc;$top=20),is_pinned_to__device($select=id,uuid,device_name;$orderby=device_name%20asc;$top=20),is_running_on__device($select=id,uuid,device_name;$orderby=device_name%20asc;$top=20)";
    api.on(
        "GET",
        get,
        200,
        r#"{"d":[{"id":5001,"commit":"aaaaaaa1111111111111111111111111","created_at":"2024-01-01T00:00:00.000Z","status":"success","raw_version":"0.0.1","semver":"0.0.1","is_final":false,"build_log":null,"start_timestamp":"2024-01-01T00:00:00.000Z","end_timestamp":null,"release_tag":[],"should_be_running_on__application":1,"is_pinned_to__device":0,"is_running_on__device":1}]}"#,
    );
    api.on(
        "GET",
        uses,
        200,
        r#"{"d":[{"id":5001,"should_be_running_on__application":[{"id":1001,"slug":"myorg/myfleet"}],"is_pinned_to__device":[],"is_running_on__device":[{"id":3001,"uuid":"abcdef0123456789abcdef0123456789","device_name":"my-device_1"}]}]}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["release", "5001"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        api.lines(),
        vec![format!("GET {get}"), format!("GET {uses}")]
    );
    // Transcript rel-show-5001, byte for byte, then the rows of the release's uses.
    let rest = after_official(
        &out.stdout,
        "ID:              5001
COMMIT:          aaaaaaa1111111111111111111111111
CREATED AT:      2024-01-01T00:00:00.000Z
STATUS:          success
VERSION:         0.0.1
IS FINAL:        false
BUILD LOG:       N/a
START TIMESTAMP: 2024-01-01T00:00:00.000Z
END TIMESTAMP:   N/a
TAGS:
",
    );
    assert_eq!(
        rest,
        "
TARGETED BY FLEETS: 1
                    myorg/myfleet
PINNED DEVICES:     0
RUNNING DEVICES:    1
                    abcdef0123456789abcdef0123456789 my-device_1
"
    );
}

#[test]
fn closed_stdout_is_not_an_error() {
    let api = Api::start();
    api.on("GET", FLEET_GET, 200, FLEET_ROW);
    counts(&api);
    let env = TestEnv::logged_in(&api);
    let mut c = env.command(&["fleet", "myorg/myfleet"]);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    // Close our end of stdout at once.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
