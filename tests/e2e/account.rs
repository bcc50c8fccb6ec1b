//! `login --token`, `logout`, `whoami`, and credentials from the environment.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::harness::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn login_with_a_good_token_writes_the_token_file() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    let (out, reqs) = counted(&sb, &env, &["login", "--token", TOKEN]);
    out.ok();
    out.stdout_has("Successfully logged in as: alice");
    assert_eq!(
        reqs.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/actor/v1/whoami"],
        "the token is checked once"
    );
    assert_eq!(
        std::fs::read_to_string(env.token_path()).expect("token file"),
        TOKEN
    );
    assert_eq!(mode(&env.token_path()), 0o600);
    // The saved token works.
    let out = env.run(&["whoami", "--json"]);
    out.ok();
    assert_eq!(out.json()["username"], json!("alice"));
}

#[test]
fn login_short_flag_and_overwrite() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    env.write_token("an-old-token");
    std::fs::set_permissions(env.token_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    env.run(&["login", "-t", BOB_TOKEN]).ok();
    assert_eq!(
        std::fs::read_to_string(env.token_path()).unwrap(),
        BOB_TOKEN
    );
    assert_eq!(mode(&env.token_path()), 0o600);
    let out = env.run(&["whoami"]);
    out.ok();
    let f = vertical(&out.stdout);
    assert_eq!(f["USERNAME"], "bob");
    assert_eq!(f["EMAIL"], "bob@other.example");
}

#[test]
fn login_with_a_bad_token_exits_3_and_writes_nothing() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    let out = env.run(&["login", "--token", "not-a-valid-token"]);
    out.code(3).stderr_has("Token authentication failed");
    assert!(!env.token_path().exists(), "no token file");

    // An existing login is left as it was.
    env.write_token(TOKEN);
    env.run(&["login", "--token", "still-not-valid"])
        .code(3)
        .stderr_has("Token authentication failed");
    assert_eq!(std::fs::read_to_string(env.token_path()).unwrap(), TOKEN);
    let out = env.run(&["login", "--token", "nope", "--json"]);
    out.code(3);
    let e = out.err_json();
    assert_eq!(e["error"]["name"], json!("BalenaTokenAuthenticationFailed"));
    assert_eq!(e["error"]["exitCode"], json!(3));
}

#[test]
fn login_without_a_token_is_a_usage_error() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    let (out, reqs) = counted(&sb, &env, &["login"]);
    out.code(2);
    assert!(reqs.is_empty(), "{reqs:?}");
    assert!(!env.token_path().exists());
}

#[test]
fn logout_removes_the_token() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    env.run(&["whoami"]).ok();
    let (out, reqs) = counted(&sb, &env, &["logout"]);
    out.ok();
    assert!(reqs.is_empty(), "logout is local: {reqs:?}");
    assert!(!env.token_path().exists());
    let (out, reqs) = counted(&sb, &env, &["whoami"]);
    out.code(3).stderr_has("Login required");
    assert!(reqs.is_empty(), "{reqs:?}");
    // Logging out twice is fine.
    env.run(&["logout"]).ok();
}

#[test]
fn whoami_table_and_json() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let (out, reqs) = counted(&sb, &env, &["whoami"]);
    out.ok();
    assert_eq!(reqs.len(), 1);
    assert!(
        out.stdout.starts_with("== ACCOUNT INFORMATION\n"),
        "{}",
        out.stdout
    );
    let f = vertical(&out.stdout);
    assert_eq!(f["USERNAME"], "alice");
    assert_eq!(f["EMAIL"], "alice@acme.example");
    let out = env.run(&["whoami", "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(v["username"], json!("alice"));
    assert_eq!(v["email"], json!("alice@acme.example"));
    assert_eq!(v["actorType"], json!("user"));
}

#[test]
fn api_key_from_the_environment_needs_no_token_file() {
    let sb = sandbox();
    for var in ["BALENA_API_KEY", "BALENA_TOKEN"] {
        let env = TestEnv::new(&sb.base_url).env(var, BOB_TOKEN);
        let out = env.run(&["whoami", "--json"]);
        out.ok();
        assert_eq!(out.json()["username"], json!("bob"), "{var}");
        let out = env.run(&["fleet", "list", "--json"]);
        out.ok();
        assert_eq!(
            out.json(),
            json!([{"id": 20, "app_name": "secret", "slug": "other/secret",
                    "device_type": "raspberrypi4-64", "device_count": 1, "online_devices": 0}])
        );
        assert!(!env.token_path().exists());
    }
    // The environment wins over the token file.
    let env = TestEnv::logged_in(&sb).env("BALENA_API_KEY", BOB_TOKEN);
    assert_eq!(
        env.run(&["whoami", "--json"]).json()["username"],
        json!("bob")
    );
}

#[test]
fn settings_from_balenarc_and_the_default_data_directory() {
    // No BALENARC_* variables (empty ones are ignored): the API URL comes from
    // ~/.balenarc.yml and the token goes to ~/.balena/token.
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url)
        .env("BALENARC_API_URL", "")
        .env("BALENARC_DATA_DIRECTORY", "");
    std::fs::write(
        env.home.path().join(".balenarc.yml"),
        format!("apiUrl: {}\n", sb.base_url),
    )
    .unwrap();
    env.run(&["login", "--token", TOKEN]).ok();
    let token = env.home.path().join(".balena").join("token");
    assert_eq!(std::fs::read_to_string(&token).unwrap(), TOKEN);
    assert_eq!(mode(&token), 0o600);
    assert!(!env.token_path().exists());
    let out = env.run(&["fleet", "pin", "acme/backyard", "bacc000"]);
    out.ok();
    assert_eq!(sb.fleet_policy(BACKYARD), (false, Some(110)));
}

/// alice's password in the e2e fixture.
const ALICE_PASSWORD: &str = "alice-password-1";

#[test]
fn login_with_credentials_saves_the_session_token() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    let mark = sb.mark();
    let out = env.run(&[
        "login",
        "--credentials",
        "--email",
        "alice@acme.example",
        "--password",
        ALICE_PASSWORD,
    ]);
    out.ok().stdout_has("Successfully logged in as: alice");
    let paths: Vec<String> = sb.since(mark).iter().map(|r| r.line()).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths[0].starts_with("POST /login_"), "{paths:?}");
    assert!(paths[1].starts_with("GET /actor/v1/whoami"), "{paths:?}");
    // The session token (a JWT), saved as the token login saves it.
    let token = std::fs::read_to_string(env.token_path()).expect("token file");
    assert_eq!(token.split('.').count(), 3, "{token}");
    assert_eq!(mode(&env.token_path()), 0o600);
    let out = env.run(&["whoami", "--json"]);
    out.ok();
    assert_eq!(out.json()["username"], json!("alice"));
    env.run(&["fleet", "acme/frontdoor", "--json"]).ok();
    // -e/-p alone (and the username) work too.
    let env2 = TestEnv::new(&sb.base_url);
    env2.run(&["login", "-e", "alice", "-p", ALICE_PASSWORD])
        .ok();
    assert!(env2.token_path().exists());
}

#[test]
fn login_with_a_wrong_password_exits_3_and_saves_nothing() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    let out = env.run(&["login", "-c", "-e", "alice@acme.example", "-p", "wrong"]);
    out.code(3).stderr_has("Invalid login credentials");
    assert!(!env.token_path().exists());
    let out = env.run(&["login", "-c", "-e", "nobody@x", "-p", "x", "--json"]);
    out.code(3);
    assert_eq!(
        out.err_json()["error"]["name"],
        json!("BalenaInvalidLoginCredentials")
    );
    assert!(!env.token_path().exists());
}

#[test]
fn login_without_a_terminal_and_without_a_token_is_a_usage_error() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    let mark = sb.mark();
    for args in [
        &["login"][..],
        &["login", "-t"],
        &["login", "--credentials"],
        &["login", "-c", "-e", "alice@acme.example"],
    ] {
        let out = env.run(args);
        out.code(2)
            .stderr_has("--token <token>")
            .stderr_has("--email <email> --password <password>");
        assert!(!env.token_path().exists(), "{args:?}");
    }
    assert!(sb.since(mark).is_empty(), "nothing is sent");
}
