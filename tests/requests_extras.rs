//! Request-level tests of `release --composition`, `fleet --view`, `device --view` and
//! `login --credentials`: the real binary against a recording mock, pinning every request.

use balena_testkit::mock::{Api, TOKEN};
use balena_testkit::TestEnv;

const C2: &str = "bbbbbbb2222222222222222222222222";

#[test]
fn release_composition_is_one_get() {
    let api = Api::start();
    let get = "/v7/release?$select=id,commit,status,raw_version,semver,composition&$filter=startswith(commit,%27bbbbbbb%27)&$top=25";
    api.on(
        "GET",
        get,
        200,
        &format!(
            r#"{{"d":[{{"id":5002,"commit":"{C2}","status":"success","raw_version":"0.0.2","semver":"0.0.2","composition":{{"version":"2.1","services":{{"main":{{}}}}}}}}]}}"#
        ),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["release", "bbbbbbb", "--composition"]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    // official-cli-transcript.md `rel-show-comp`, byte for byte.
    assert_eq!(out.stdout, "version: '2.1'\nservices:\n  main: {}\n\n");
    assert_eq!(api.lines(), vec![format!("GET {get}")]);
    assert_eq!(
        api.requests()[0].authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
}

#[test]
fn fleet_view_is_one_lookup() {
    let api = Api::start();
    let get = "/v7/application?$select=id,slug&$filter=slug%20eq%20%27myorg%2Fmyfleet%27";
    api.on(
        "GET",
        get,
        200,
        r#"{"d":[{"id":1001,"slug":"myorg/myfleet"}]}"#,
    );
    let env = TestEnv::logged_in(&api).env("BROWSER", "none");
    let out = env.run(&["fleet", "myorg/MyFleet", "--view"]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    assert_eq!(out.stdout, format!("{}/apps/1001\n", api.url()));
    assert_eq!(api.lines(), vec![format!("GET {get}")]);
}

#[test]
fn device_view_is_one_lookup() {
    let api = Api::start();
    let uuid = "abcdef0123456789abcdef0123456789";
    let get = "/v7/device?$select=id,uuid,device_name&$filter=startswith(uuid,%27abcdef0%27)&$expand=belongs_to__application($select=slug)&$top=10";
    api.on(
        "GET",
        get,
        200,
        &format!(r#"{{"d":[{{"id":3001,"uuid":"{uuid}","device_name":"d","belongs_to__application":[{{"slug":"myorg/myfleet"}}]}}]}}"#),
    );
    let env = TestEnv::logged_in(&api).env("BROWSER", "none");
    let out = env.run(&["device", "abcdef0", "--view"]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    assert_eq!(
        out.stdout,
        format!("{}/devices/{uuid}/summary\n", api.url())
    );
    assert_eq!(api.lines(), vec![format!("GET {get}")]);
}

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6Mn0.c2lnbmF0dXJl";

#[test]
fn login_with_credentials_posts_login_then_checks_the_session() {
    let api = Api::start();
    api.on("POST", "/login_", 200, JWT);
    api.on(
        "GET",
        "/actor/v1/whoami",
        200,
        r#"{"id":1,"actorType":"user","actorTypeId":2,"username":"gh_user","email":"testuser@test.com"}"#,
    );
    let env = TestEnv::new(&api.url());
    let out = env.run(&[
        "login",
        "--credentials",
        "--email",
        "testuser@test.com",
        "--password",
        "s3cr\"et",
    ]);
    assert_eq!(out.code, 0, "{} {:?}", out.stderr, api.lines());
    assert!(out.stdout.contains("Successfully logged in as: gh_user"));
    // The SDK's auth.authenticate body, as JSON, without credentials; then whoami with
    // the session token.
    assert_eq!(
        api.lines(),
        vec![
            r#"POST /login_ {"username":"testuser@test.com","password":"s3cr\"et"}"#.to_owned(),
            "GET /actor/v1/whoami".to_owned(),
        ]
    );
    let reqs = api.requests();
    assert_eq!(reqs[0].authorization, None);
    assert_eq!(reqs[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(
        reqs[1].authorization.as_deref(),
        Some(&*format!("Bearer {JWT}"))
    );
    assert_eq!(std::fs::read_to_string(env.token_path()).unwrap(), JWT);
}

#[test]
fn a_refused_login_is_sent_once_and_saves_nothing() {
    let api = Api::start();
    api.on("POST", "/login_", 401, "");
    let env = TestEnv::new(&api.url());
    let out = env.run(&["login", "-e", "a@b.c", "-p", "nope"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("Invalid login credentials"),
        "{}",
        out.stderr
    );
    assert_eq!(
        api.lines(),
        vec![r#"POST /login_ {"username":"a@b.c","password":"nope"}"#.to_owned()]
    );
    assert!(!env.token_path().exists());
}
