//! Request-level tests: the real binary against a recording HTTP mock. Each test asserts
//! the exact method, path, query and body of every request, and so the request counts.

use balena_testkit::mock::{Api, TOKEN};
use balena_testkit::TestEnv;

const APP_SLUG_FILTER: &str = "$filter=slug%20eq%20%27myorg%2Fmyfleet%27";
const REL_FIELDS: &str = "id,commit,status,raw_version,semver,is_final,is_invalidated,created_at";
const C1: &str = "aaaaaaa1111111111111111111111111";
const C2: &str = "bbbbbbb2222222222222222222222222";
const DEV: &str = "abcdef0123456789abcdef0123456789";

fn fleet_pin_get(release_arg: &str) -> String {
    format!(
        "/v7/application?$select=id,app_name,slug,should_track_latest_release&{APP_SLUG_FILTER}&$expand=should_be_running__release($select=id,commit,raw_version),owns__release($select={REL_FIELDS};$filter=startswith(commit,%27{release_arg}%27);$orderby=created_at%20desc;$top=25)"
    )
}

fn rel(id: i64, commit: &str, version: &str, status: &str) -> String {
    format!(
        r#"{{"id":{id},"commit":"{commit}","status":"{status}","raw_version":"{version}","semver":"{version}","is_final":true,"is_invalidated":false,"created_at":"2024-02-02T00:00:00.000Z"}}"#
    )
}

fn fleet_row(tracking: bool, target: &str, releases: &[String]) -> String {
    format!(
        r#"{{"d":[{{"id":1001,"app_name":"myfleet","slug":"myorg/myfleet","should_track_latest_release":{tracking},"should_be_running__release":[{target}],"owns__release":[{}]}}]}}"#,
        releases.join(",")
    )
}

fn target1() -> String {
    format!(r#"{{"id":5001,"commit":"{C1}","raw_version":"0.0.1"}}"#)
}

// ---------------------------------------------------------------- fleet pin

#[test]
fn fleet_pin_is_one_get_and_one_patch() {
    let api = Api::start();
    let get = fleet_pin_get(C2);
    api.on(
        "GET",
        &get,
        200,
        &fleet_row(false, &target1(), &[rel(5002, C2, "0.0.2", "success")]),
    );
    api.on("PATCH", "/v7/application(1001)", 200, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/MyFleet", C2]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "Pinned fleet myorg/myfleet to release bbbbbbb (0.0.2).\n"
    );
    assert_eq!(
        api.lines(),
        vec![
            format!("GET {get}"),
            "PATCH /v7/application(1001) {\"should_be_running__release\":5002,\"should_track_latest_release\":false}".to_owned(),
        ]
    );
    let r = &api.requests()[0];
    assert_eq!(
        r.authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
    let ua = format!("balena-rs/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(r.user_agent.as_deref(), Some(ua.as_str()));
    assert_eq!(r.client.as_deref(), Some(ua.as_str()));
}

#[test]
fn fleet_pin_json_result_and_noop_repin() {
    let api = Api::start();
    let get = fleet_pin_get("bbbbbbb");
    let target2 = format!(r#"{{"id":5002,"commit":"{C2}","raw_version":"0.0.2"}}"#);
    api.on(
        "GET",
        &get,
        200,
        &fleet_row(false, &target2, &[rel(5002, C2, "0.0.2", "success")]),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/myfleet", "bbbbbbb", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["changed"], false);
    assert_eq!(v["before"], v["after"]);
    assert_eq!(v["after"]["tracking_latest"], false);
    assert_eq!(v["after"]["release"]["id"], 5002);
    assert_eq!(v["after"]["release"]["raw_version"], "0.0.2");
    assert!(out.stderr.contains("nothing changed"), "{}", out.stderr);
    assert_eq!(
        api.lines().len(),
        1,
        "no PATCH for a no-op: {:?}",
        api.lines()
    );
}

#[test]
fn fleet_pin_from_tracking_to_same_release_still_patches() {
    let api = Api::start();
    let get = fleet_pin_get(C1);
    api.on(
        "GET",
        &get,
        200,
        &fleet_row(true, &target1(), &[rel(5001, C1, "0.0.1", "success")]),
    );
    api.on("PATCH", "/v7/application(1001)", 200, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["--json", "fleet", "pin", "myorg/myfleet", C1]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["changed"], true);
    assert_eq!(v["before"]["tracking_latest"], true);
    assert_eq!(v["after"]["tracking_latest"], false);
    assert_eq!(api.lines().len(), 2);
}

#[test]
fn fleet_pin_without_release_shows_the_policy() {
    let api = Api::start();
    let get = format!("/v7/application?$select=id,app_name,slug,should_track_latest_release&{APP_SLUG_FILTER}&$expand=should_be_running__release($select=id,commit,raw_version)");
    api.on("GET", &get, 200, &fleet_row(true, &target1(), &[]));
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/myfleet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("This fleet is currently pinned to {C1}. \n\nTo see a list of all releases this fleet can be pinned to, run `balena release list myorg/myfleet`.\n")
    );
    assert_eq!(
        out.stderr,
        "This fleet tracks the latest release (currently aaaaaaa (0.0.1)): it is not pinned.\n"
    );
    assert_eq!(api.lines(), vec![format!("GET {get}")]);
}

#[test]
fn fleet_pin_failed_release_is_refused_without_patch() {
    let api = Api::start();
    let get = fleet_pin_get("ccc");
    api.on(
        "GET",
        &get,
        200,
        &fleet_row(false, &target1(), &[rel(5003, "ccc333", "0.0.3", "failed")]),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/myfleet", "ccc"]);
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "BalenaReleaseNotFound: Release not found: ccc\nhint: The release has status failed; only successful releases can be pinned."
        ),
        "{}",
        out.stderr
    );
    assert_eq!(api.lines().len(), 1);
}

#[test]
fn fleet_pin_ambiguous_release_lists_candidates() {
    let api = Api::start();
    // No release has id 500: the digits are a commit prefix of two releases.
    let get = fleet_pin_get("500").replace(
        "$filter=startswith(commit,%27500%27)",
        "$filter=(startswith(commit,%27500%27))%20or%20(id%20eq%20500)",
    );
    api.on(
        "GET",
        &get,
        200,
        &fleet_row(
            false,
            &target1(),
            &[
                rel(5002, "500aaaa", "0.0.2", "success"),
                rel(7, "500abcd", "0.0.7", "success"),
            ],
        ),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/myfleet", "500"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("BalenaAmbiguousRelease: Release is ambiguous: There are multiple releases matching the release hash '500'\ncandidates:\n"),
        "{}",
        out.stderr
    );
    assert!(out
        .stderr
        .contains("id 7, commit 500abcd, version 0.0.7, status success"));
    assert_eq!(api.lines().len(), 1);
}

#[test]
fn an_all_digit_release_argument_is_the_id_when_one_exists() {
    let api = Api::start();
    let get = fleet_pin_get("5002").replace(
        "$filter=startswith(commit,%275002%27)",
        "$filter=(startswith(commit,%275002%27))%20or%20(id%20eq%205002)",
    );
    api.on(
        "GET",
        &get,
        200,
        &fleet_row(
            false,
            &target1(),
            &[
                rel(5002, C2, "0.0.2", "success"),
                rel(7, "5002abcd", "0.0.7", "success"),
            ],
        ),
    );
    api.on("PATCH", "/v7/application(1001)", 200, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/myfleet", "5002"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        api.lines(),
        vec![
            format!("GET {get}"),
            "PATCH /v7/application(1001) {\"should_be_running__release\":5002,\"should_track_latest_release\":false}".to_owned()
        ]
    );
}

#[test]
fn fleet_pin_foreign_release_names_the_other_fleet() {
    let api = Api::start();
    let get = fleet_pin_get("b9");
    api.on("GET", &get, 200, &fleet_row(false, &target1(), &[]));
    let foreign = format!("/v7/release?$select={REL_FIELDS}&$filter=startswith(commit,%27b9%27)&$expand=belongs_to__application($select=id,slug)&$top=25");
    api.on(
        "GET",
        &foreign,
        200,
        r#"{"d":[{"id":9,"commit":"b9000","status":"success","raw_version":"1.0.0","belongs_to__application":[{"id":2,"slug":"myorg/other"}]}]}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["--json", "fleet", "pin", "myorg/myfleet", "b9"]);
    assert_eq!(out.code, 6, "{}", out.stderr);
    // The official name, message and place (stdout); the other fleet is named in the hint.
    assert_eq!(out.stderr, "");
    let v = out.err_json();
    assert_eq!(v["error"]["name"], "BalenaReleaseNotFound");
    assert_eq!(v["error"]["release"], "b9");
    assert_eq!(v["error"]["exitCode"], 6);
    assert_eq!(v["error"]["message"], "Release not found: b9");
    assert!(v["error"]["hint"]
        .as_str()
        .unwrap()
        .starts_with("It is a release of myorg/other;"));
    assert_eq!(
        api.lines(),
        vec![format!("GET {get}"), format!("GET {foreign}")]
    );
}

#[test]
fn fleet_pin_unknown_release_is_not_found() {
    let api = Api::start();
    let get = fleet_pin_get("dead");
    api.on("GET", &get, 200, &fleet_row(false, &target1(), &[]));
    let foreign = format!("/v7/release?$select={REL_FIELDS}&$filter=startswith(commit,%27dead%27)&$expand=belongs_to__application($select=id,slug)&$top=25");
    api.on("GET", &foreign, 200, r#"{"d":[]}"#);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/myfleet", "dead"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "BalenaReleaseNotFound: Release not found: dead\nhint: Run `balena release list myorg/myfleet` to see the releases of the fleet.\n\n"
    );
}

#[test]
fn server_rule_violation_is_exit_6() {
    let api = Api::start();
    let get = fleet_pin_get(C2);
    api.on(
        "GET",
        &get,
        200,
        &fleet_row(false, &target1(), &[rel(5002, C2, "0.0.2", "success")]),
    );
    api.on(
        "PATCH",
        "/v7/application(1001)",
        400,
        r#""It is necessary that each release that should be running on an application, has a status that is equal to \"success\" and belongs to the application.""#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/myfleet", C2]);
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(out.stderr.starts_with("BalenaRequestError: Request error: It is necessary that each release that should be running on an application, has a status that is equal to \"success\" and belongs to the application.\nhint: "), "{}", out.stderr);
    assert_eq!(api.lines().len(), 2, "a 400 is not retried");
}

// ---------------------------------------------------------------- fleet lookup

#[test]
fn fleet_identifier_forms_use_one_filter() {
    let api = Api::start();
    let base = "/v7/application?$filter=";
    let exp =
        "&$expand=is_for__device_type($select=slug),should_be_running__release($select=id,commit,raw_version),owns__device/$count";
    let by_name = format!("{base}(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20((app_name%20eq%20%27MyFleet%27)%20and%20(is_directly_accessible_by__user/any(dau:1%20eq%201))){exp}");
    let by_id = format!("{base}(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(((app_name%20eq%20%271001%27)%20and%20(is_directly_accessible_by__user/any(dau:1%20eq%201)))%20or%20(id%20eq%201001)){exp}");
    let row = r#"{"d":[{"id":1001,"app_name":"myfleet","slug":"myorg/myfleet","should_track_latest_release":true,"is_for__device_type":[{"slug":"raspberrypi4-64"}],"should_be_running__release":[],"owns__device":0}]}"#;
    api.on("GET", &by_name, 200, row);
    api.on("GET", &by_id, 200, row);
    fleet_counts(&api);
    let env = TestEnv::logged_in(&api);
    // The official rows, then the release-policy rows.
    let want = "== myfleet\nID:          1001\nDEVICE TYPE: raspberrypi4-64\nSLUG:        myorg/myfleet\n\nRELEASE POLICY:   Tracking latest\nTARGET RELEASE:   N/a\nDEVICES:          0\nPINNED DEVICES:   0\nTRACKING DEVICES: 0\nBEHIND DEVICES:   0\n";
    let out = env.run(&["fleet", "MyFleet"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, want), "{}", out.stderr);
    let out = env.run(&["fleet", "1001"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, want), "{}", out.stderr);
    let lines = api.lines();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(lines[0], format!("GET {by_name}"));
    assert_eq!(lines[3], format!("GET {by_id}"));
}

/// The two `$count`s of `fleet <fleet>` (fleet 1001): none pinned, none behind.
fn fleet_counts(api: &Api) {
    api.on("GET", "/v7/device/$count?$filter=(belongs_to__application%20eq%201001)%20and%20(is_pinned_on__release%20ne%20null)", 200, r#"{"d":0}"#);
    api.on("GET", "/v7/device/$count?$filter=(belongs_to__application%20eq%201001)%20and%20((should_be_running__release%20ne%20null)%20and%20(is_running__release%20ne%20should_be_running__release))", 200, r#"{"d":0}"#);
}

#[test]
fn ambiguous_fleet_lists_candidates() {
    let api = Api::start();
    let get = "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20((app_name%20eq%20%27MyFleet%27)%20and%20(is_directly_accessible_by__user/any(dau:1%20eq%201)))&$expand=is_for__device_type($select=slug),should_be_running__release($select=id,commit,raw_version),owns__device/$count";
    api.on(
        "GET",
        get,
        200,
        r#"{"d":[{"id":1,"slug":"a/myfleet"},{"id":2,"slug":"b/myfleet"}]}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "MyFleet"]);
    assert_eq!(out.code, 5);
    assert_eq!(
        out.stderr,
        "BalenaAmbiguousApplication: Application is ambiguous: MyFleet\ncandidates:\n  a/myfleet (id 1)\n  b/myfleet (id 2)\nhint: Name the fleet by its slug (org/name) or numeric id.\n\n"
    );
}

#[test]
fn fleet_not_found_confirms_the_session_first() {
    let api = Api::start();
    let get = "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(slug%20eq%20%27nope%2Fnope%27)&$expand=is_for__device_type($select=slug),should_be_running__release($select=id,commit,raw_version),owns__device/$count";
    api.on("GET", get, 200, r#"{"d":[]}"#);
    api.on(
        "GET",
        "/actor/v1/whoami",
        200,
        r#"{"id":1,"actorType":"user","username":"u"}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "nope/nope"]);
    assert_eq!(out.code, 4);
    assert!(
        out.stderr
            .starts_with("BalenaApplicationNotFound: Application not found: nope/nope\nhint: "),
        "{}",
        out.stderr
    );
    assert_eq!(
        api.lines(),
        vec![format!("GET {get}"), "GET /actor/v1/whoami".to_owned()]
    );
}

#[test]
fn guest_trap_unknown_token_is_login_required() {
    let api = Api::start();
    let get = "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(slug%20eq%20%27myorg%2Fmyfleet%27)&$expand=is_for__device_type($select=slug),should_be_running__release($select=id,commit,raw_version),owns__device/$count";
    api.on("GET", get, 200, r#"{"d":[]}"#);
    api.on("GET", "/actor/v1/whoami", 401, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "myorg/myfleet"]);
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        "Login required: use the \u{201c}balena login\u{201d} command to log in.\n\n"
    );
    assert_eq!(api.lines().len(), 2);
}

// ---------------------------------------------------------------- auth

#[test]
fn no_credentials_means_zero_requests() {
    let api = Api::start();
    let env = TestEnv::new(&api.url());
    for args in [
        &["fleet", "pin", "myorg/myfleet", C2][..],
        &["fleet", "track-latest", "myorg/myfleet"],
        &["device", "pin", "abcdef0", C2],
        &["device", "track-fleet", "abcdef0"],
        &["release", "list", "myorg/myfleet"],
        &["whoami"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 3, "{args:?}");
        assert_eq!(
            out.stderr,
            "Login required: use the \u{201c}balena login\u{201d} command to log in.\n\n"
        );
    }
    // With --json too, as the official CLI prints it: the sentence on stderr.
    let out = env.run(&["--json", "whoami"]);
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        "Login required: use the \u{201c}balena login\u{201d} command to log in.\n\n"
    );
    assert_eq!(out.stdout, "");
    assert!(api.lines().is_empty(), "{:?}", api.lines());
}

#[test]
fn unauthorized_is_login_required() {
    let api = Api::start();
    api.on("GET", &fleet_pin_get(C2), 401, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/myfleet", C2]);
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        "Login required: use the \u{201c}balena login\u{201d} command to log in.\n\n"
    );
    assert_eq!(api.lines().len(), 1);
}

#[test]
fn env_api_key_takes_precedence_over_the_file() {
    let api = Api::start();
    api.on("GET", "/actor/v1/whoami", 200, r#"{"id":1,"actorType":"user","actorTypeId":2,"username":"gh_user","email":"testuser@test.com"}"#);
    let env = TestEnv::logged_in(&api).env("BALENA_API_KEY", "envkey");
    let out = env.run(&["whoami"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        api.requests()[0].authorization.as_deref(),
        Some("Bearer envkey")
    );
}

// ---------------------------------------------------------------- track-latest

const TRACK_GET: &str = "/v7/application?$select=id,app_name,slug,should_track_latest_release&$filter=slug%20eq%20%27myorg%2Fmyfleet%27&$expand=should_be_running__release($select=id,commit,raw_version),owns__release($select=id,commit,status,raw_version,semver,is_final,is_invalidated,created_at;$filter=(is_final%20eq%20true)%20and%20(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success%27);$orderby=start_timestamp%20desc;$top=1)";

#[test]
fn track_latest_is_one_get_and_one_patch() {
    let api = Api::start();
    api.on(
        "GET",
        TRACK_GET,
        200,
        &fleet_row(false, &target1(), &[rel(5002, C2, "0.0.2", "success")]),
    );
    api.on("PATCH", "/v7/application(1001)", 200, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "track-latest", "myorg/myfleet", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        api.lines(),
        vec![
            format!("GET {TRACK_GET}"),
            "PATCH /v7/application(1001) {\"should_track_latest_release\":true,\"should_be_running__release\":5002}".to_owned(),
        ]
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["changed"], true);
    assert_eq!(v["after"]["tracking_latest"], true);
    assert_eq!(v["after"]["release"]["id"], 5002);
    assert_eq!(
        out.stderr,
        "Fleet myorg/myfleet now tracks the latest release (currently bbbbbbb (0.0.2)).\n"
    );
}

#[test]
fn track_latest_without_trackable_release_sends_only_the_flag() {
    let api = Api::start();
    api.on("GET", TRACK_GET, 200, &fleet_row(false, &target1(), &[]));
    api.on("PATCH", "/v7/application(1001)", 200, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "track-latest", "myorg/myfleet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        api.lines()[1],
        "PATCH /v7/application(1001) {\"should_track_latest_release\":true}"
    );
}

#[test]
fn track_latest_when_already_tracking_is_a_noop() {
    let api = Api::start();
    let t2 = format!(r#"{{"id":5002,"commit":"{C2}","raw_version":"0.0.2"}}"#);
    api.on(
        "GET",
        TRACK_GET,
        200,
        &fleet_row(true, &t2, &[rel(5002, C2, "0.0.2", "success")]),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "track-latest", "myorg/myfleet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(api.lines().len(), 1);
}

// ---------------------------------------------------------------- device pin / track-fleet

fn device_get(release_arg: Option<&str>) -> String {
    let owns = match release_arg {
        Some(r) => format!(",owns__release($select={REL_FIELDS};$filter=startswith(commit,%27{r}%27);$orderby=created_at%20desc;$top=25)"),
        None => String::new(),
    };
    format!("/v7/device?$select=id,uuid,device_name&$filter=startswith(uuid,%27abcdef0%27)&$expand=belongs_to__application($select=id,app_name,slug,should_track_latest_release;$expand=should_be_running__release($select=id,commit,raw_version){owns}),is_pinned_on__release($select=id,commit,raw_version),should_be_running__release($select=id,commit,raw_version)&$top=10")
}

fn device_row(pinned: &str, releases: &[String]) -> String {
    format!(
        r#"{{"d":[{{"id":3001,"uuid":"{DEV}","device_name":"my-device_1","belongs_to__application":[{{"id":1001,"app_name":"myfleet","slug":"myorg/myfleet","should_track_latest_release":true,"should_be_running__release":[{}],"owns__release":[{}]}}],"is_pinned_on__release":[{pinned}],"should_be_running__release":[{}]}}]}}"#,
        target1(),
        releases.join(","),
        target1()
    )
}

#[test]
fn device_pin_is_one_get_and_one_patch() {
    let api = Api::start();
    let get = device_get(Some("bbbbbbb"));
    api.on(
        "GET",
        &get,
        200,
        &device_row("", &[rel(5002, C2, "0.0.2", "success")]),
    );
    api.on("PATCH", "/v7/device(3001)", 200, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "pin", "ABCDEF0", "bbbbbbb", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        api.lines(),
        vec![
            format!("GET {get}"),
            "PATCH /v7/device(3001) {\"is_pinned_on__release\":5002}".to_owned()
        ]
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["changed"], true);
    assert_eq!(v["before"]["tracking_fleet"], true);
    assert_eq!(v["before"]["release"]["id"], 5001);
    assert_eq!(v["after"]["tracking_fleet"], false);
    assert_eq!(v["after"]["release"]["id"], 5002);
    assert_eq!(v["device"]["uuid"], DEV);
    assert_eq!(
        out.stderr,
        format!("Pinned device {DEV} to release bbbbbbb (0.0.2).\n")
    );
}

#[test]
fn device_repin_is_a_noop() {
    let api = Api::start();
    let get = device_get(Some("bbbbbbb"));
    let pinned = format!(r#"{{"id":5002,"commit":"{C2}","raw_version":"0.0.2"}}"#);
    api.on(
        "GET",
        &get,
        200,
        &device_row(&pinned, &[rel(5002, C2, "0.0.2", "success")]),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "pin", "abcdef0", "bbbbbbb"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(api.lines().len(), 1);
}

#[test]
fn device_pin_without_release_shows_the_policy() {
    let api = Api::start();
    let get = device_get(None);
    api.on("GET", &get, 200, &device_row("", &[]));
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "pin", "abcdef0"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "This device is not currently pinned to any release. \n\nTo see a list of all releases this device can be pinned to, run `balena release list myorg/myfleet`.\n"
    );
    assert_eq!(
        out.stderr,
        "This device tracks its fleet (currently aaaaaaa (0.0.1)).\n"
    );
}

#[test]
fn device_track_fleet_is_one_get_and_one_patch() {
    let api = Api::start();
    let get = device_get(None);
    let pinned = format!(r#"{{"id":5002,"commit":"{C2}","raw_version":"0.0.2"}}"#);
    api.on("GET", &get, 200, &device_row(&pinned, &[]));
    api.on("PATCH", "/v7/device(3001)", 200, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "track-fleet", "abcdef0"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        api.lines(),
        vec![
            format!("GET {get}"),
            "PATCH /v7/device(3001) {\"is_pinned_on__release\":null}".to_owned()
        ]
    );
    assert_eq!(
        out.stderr,
        format!("Device {DEV} now tracks its fleet myorg/myfleet (currently aaaaaaa (0.0.1)).\n")
    );
}

#[test]
fn device_track_fleet_when_not_pinned_is_a_noop() {
    let api = Api::start();
    let get = device_get(None);
    api.on("GET", &get, 200, &device_row("", &[]));
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["--json", "device", "track-fleet", "abcdef0"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["changed"], false);
    assert_eq!(api.lines().len(), 1);
}

#[test]
fn ambiguous_device_prefix_lists_candidates() {
    let api = Api::start();
    let get = device_get(None).replace("%27abcdef0%27", "%27abc%27");
    api.on(
        "GET",
        &get,
        200,
        r#"{"d":[{"id":1,"uuid":"abc1","device_name":"one","belongs_to__application":[{"id":1,"slug":"o/f"}]},{"id":2,"uuid":"abc2","device_name":"two","belongs_to__application":[{"id":1,"slug":"o/f"}]}]}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "track-fleet", "abc"]);
    assert_eq!(out.code, 5);
    assert_eq!(
        out.stderr,
        "BalenaAmbiguousDevice: Device is ambiguous: abc\ncandidates:\n  abc1 one (o/f)\n  abc2 two (o/f)\nhint: Give more characters of the uuid.\n\n"
    );
}

#[test]
fn empty_device_is_a_usage_error_without_requests() {
    let api = Api::start();
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "pin", ""]);
    assert_eq!(out.code, 2);
    assert!(api.lines().is_empty());
}

// ---------------------------------------------------------------- release list

const LIST_GET: &str = "/v7/application?$select=id,slug&$filter=slug%20eq%20%27myorg%2Fmyfleet%27&$expand=owns__release($select=id,commit,created_at,status,raw_version,is_final;$orderby=created_at%20desc)";

#[test]
fn release_list_is_one_request_and_matches_the_official_table() {
    let api = Api::start();
    api.on(
        "GET",
        LIST_GET,
        200,
        r#"{"d":[{"id":1001,"slug":"myorg/myfleet","owns__release":[{"id":5002,"commit":"bbbbbbb2222222222222222222222222","created_at":"2024-02-02T00:00:00.000Z","status":"success","raw_version":"0.0.2","is_final":true},{"id":5001,"commit":"aaaaaaa1111111111111111111111111","created_at":"2024-01-01T00:00:00.000Z","status":"success","raw_version":null,"is_final":false}]}]}"#,
    );
    let env = TestEnv::logged_in(&api);
    for args in [
        &["release", "list", "myorg/MyFleet"][..],
        &["releases", "myorg/myfleet"],
        &["releases", "list", "myorg/myfleet"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            out.stdout,
            "ID   COMMIT                           CREATED AT               STATUS  VERSION IS FINAL\n\
             5002 bbbbbbb2222222222222222222222222 2024-02-02T00:00:00.000Z success 0.0.2   true\n\
             5001 aaaaaaa1111111111111111111111111 2024-01-01T00:00:00.000Z success N/a     false\n"
        );
    }
    assert_eq!(api.lines(), vec![format!("GET {LIST_GET}"); 3]);
}

const RELEASES_JSON_FLEET: &str = "/v7/application?$select=id,slug&$filter=slug%20eq%20%27myorg%2Fmyfleet%27&$expand=owns__release($select=id,raw_version)";
const RELEASES_JSON_ROWS: &str = "/v7/release?$filter=belongs_to__application%20eq%201001&$expand=release_tag($select=tag_key,value)&$orderby=created_at%20desc";

#[test]
fn release_list_json_is_two_requests_compact_and_merged() {
    let api = Api::start();
    // The fleet, with each release's raw_version (explicit-read on balenaCloud)…
    api.on(
        "GET",
        RELEASES_JSON_FLEET,
        200,
        r#"{"d":[{"id":1001,"slug":"myorg/myfleet","owns__release":[{"id":5002,"raw_version":"0.0.2"},{"id":5001,"raw_version":"0.0.1"}]}]}"#,
    );
    // …then every field of its releases, newest first, read row by row. 5000 appeared
    // between the two requests: it is shown as it came.
    api.on(
        "GET",
        RELEASES_JSON_ROWS,
        200,
        "{\"d\":[{\"id\":5002,\"commit\":\"b\",\"status\":\"success\",\"release_tag\":[{\"tag_key\":\"k1\",\"value\":\"v1\"}],\"belongs_to__application\":{\"__id\":1001}},\n {\"id\":5001,\"raw_version\":\"0.0.1\",\"note\":\"a } and a \\\" in a string\"},{\"id\":5000}]}",
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["release", "list", "myorg/myfleet", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // raw_version is added after the other keys, or keeps its place; one compact line.
    assert_eq!(
        out.stdout,
        "[{\"id\":5002,\"commit\":\"b\",\"status\":\"success\",\"release_tag\":[{\"tag_key\":\"k1\",\"value\":\"v1\"}],\"belongs_to__application\":{\"__id\":1001},\"raw_version\":\"0.0.2\"},{\"id\":5001,\"raw_version\":\"0.0.1\",\"note\":\"a } and a \\\" in a string\"},{\"id\":5000}]\n"
    );
    assert_eq!(
        api.lines(),
        vec![
            format!("GET {RELEASES_JSON_FLEET}"),
            format!("GET {RELEASES_JSON_ROWS}")
        ]
    );

    // No releases: an empty array.
    let api = Api::start();
    api.on(
        "GET",
        RELEASES_JSON_FLEET,
        200,
        r#"{"d":[{"id":1001,"slug":"myorg/myfleet","owns__release":[]}]}"#,
    );
    api.on("GET", RELEASES_JSON_ROWS, 200, r#"{"d":[]}"#);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["release", "list", "myorg/myfleet", "--json"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "[]\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn release_list_json_that_breaks_off_fails() {
    for body in [
        r#"{"d":[{"id":5002},{"id":5001,"#,
        "<html>502</html>",
        r#"{"d":[{"id":1}]}trailing"#,
    ] {
        let api = Api::start();
        api.on(
            "GET",
            RELEASES_JSON_FLEET,
            200,
            r#"{"d":[{"id":1001,"slug":"myorg/myfleet","owns__release":[]}]}"#,
        );
        api.on("GET", RELEASES_JSON_ROWS, 200, body);
        let env = TestEnv::logged_in(&api);
        let out = env.run(&["release", "list", "myorg/myfleet", "--json"]);
        // The run fails; as nothing of the list was out yet, the error is the one document on
        // stdout.
        assert_eq!(out.code, 1, "{body}: {}", out.stdout);
        let err: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(err["error"]["name"], "BalenaInvalidResponse", "{body}");
        assert_eq!(api.lines().len(), 2, "{body}");
    }
}

// ---------------------------------------------------------------- network

#[test]
fn server_errors_are_retried_then_exit_7() {
    let api = Api::start();
    api.on("GET", LIST_GET, 503, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["release", "list", "myorg/myfleet"]);
    assert_eq!(out.code, 7, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("BalenaRequestError: Request error: The request was unsuccessful\n"),
        "{}",
        out.stderr
    );
    assert_eq!(api.lines().len(), 4, "1 attempt + 3 retries");
}

#[test]
fn a_500_is_not_retried_and_is_exit_7() {
    let api = Api::start();
    api.on("GET", LIST_GET, 500, "Internal Server Error");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["release", "list", "myorg/myfleet"]);
    assert_eq!(out.code, 7);
    assert!(out
        .stderr
        .starts_with("BalenaRequestError: Request error: Internal Server Error\n"));
    assert_eq!(api.lines().len(), 1);
}

#[test]
fn rate_limit_honours_retry_after() {
    let api = Api::start();
    api.on_sequence(
        "GET",
        LIST_GET,
        (429, "Too Many Requests", &[("retry-after", "1")]),
        (
            200,
            r#"{"d":[{"id":1001,"slug":"myorg/myfleet","owns__release":[]}]}"#,
        ),
    );
    let env = TestEnv::logged_in(&api);
    let started = std::time::Instant::now();
    let out = env.run(&["release", "list", "myorg/myfleet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(started.elapsed() >= std::time::Duration::from_millis(950));
    assert_eq!(out.stdout, "ID COMMIT CREATED AT STATUS VERSION IS FINAL\n");
    assert_eq!(api.lines().len(), 2);
}

#[test]
fn rate_limit_beyond_the_bound_is_exit_7() {
    let api = Api::start();
    api.on_with("GET", LIST_GET, 429, "", &[("retry-after", "3600")]);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["release", "list", "myorg/myfleet"]);
    assert_eq!(out.code, 7);
    assert!(
        out.stderr.contains("Please retry after 3600 seconds"),
        "{}",
        out.stderr
    );
    assert_eq!(api.lines().len(), 1);
}

#[test]
fn garbage_body_is_a_clear_error() {
    let api = Api::start();
    api.on("GET", LIST_GET, 200, "<html>hello</html>");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["release", "list", "myorg/myfleet"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with(
            "BalenaInvalidResponse: invalid response from the API (GET /v7/application?"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the body is not JSON"),
        "{}",
        out.stderr
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_sending() {
    let env = TestEnv::new("http://example.invalid:9").env("BALENA_TOKEN", "secret-token-xyz");
    let out = env.run(&["fleet", "pin", "myorg/myfleet", C2]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with(
            "BalenaInsecureUrl: refusing to send the balena token over plain http to example.invalid\n"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("secret-token-xyz"));
}

// ---------------------------------------------------------------- security

#[test]
fn token_never_appears_in_output_or_debug_log() {
    let api = Api::start();
    api.on(
        "GET",
        &fleet_pin_get(C2),
        200,
        &fleet_row(false, &target1(), &[rel(5002, C2, "0.0.2", "success")]),
    );
    api.on("PATCH", "/v7/application(1001)", 200, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["--debug", "fleet", "pin", "myorg/myfleet", C2, "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("[debug] GET "), "{}", out.stderr);
    assert!(out.stderr.contains("[debug] PATCH "), "{}", out.stderr);
    assert!(out.stderr.contains("Bearer <redacted>"));
    assert!(!out.stderr.contains(TOKEN));
    assert!(!out.stdout.contains(TOKEN));
}

#[test]
fn login_checks_the_token_before_saving_it_with_mode_0600() {
    let api = Api::start();
    api.on("GET", "/actor/v1/whoami", 200, r#"{"id":1,"actorType":"user","actorTypeId":2,"username":"gh_user","email":"testuser@test.com"}"#);
    let env = TestEnv::new(&api.url());
    let out = env.run(&["login", "-t", "mynewtoken123"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The official banner, then the official lines.
    assert!(
        out.stdout.starts_with(" _            _\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("\n\n\nLogging in to balena-cloud.com\nSuccessfully logged in as: gh_user\n"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("mynewtoken123"));
    let path = env.data.join("token");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mynewtoken123");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(
        api.requests()[0].authorization.as_deref(),
        Some("Bearer mynewtoken123")
    );
    // The official form: the token positional, -t a flag.
    let out = env.run(&["login", "othertoken", "-t"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "othertoken");
    // logout removes it
    let out = env.run(&["logout"]);
    assert_eq!(out.code, 0);
    assert!(!path.exists());
}

#[test]
fn login_with_a_bad_token_leaves_the_file_untouched() {
    let api = Api::start();
    api.on("GET", "/actor/v1/whoami", 401, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["login", "--token", "badtoken"]);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr
            .starts_with("Token authentication failed\nhint: "),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(env.data.join("token")).unwrap(),
        TOKEN
    );
}
