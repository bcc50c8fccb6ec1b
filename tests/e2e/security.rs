//! Security, end to end: the token file is 0600, and the token appears in no output, not
//! even in `--debug` logs, of any command (successes and failures alike).

use std::os::unix::fs::PermissionsExt;

use crate::harness::*;

/// Neither the token nor a recognisable part of it (its first or last half).
#[track_caller]
fn assert_no_secret(out: &Out, secret: &str, args: &[&str]) {
    let half = secret.len() / 2;
    for part in [&secret[..half], &secret[half..]] {
        assert!(
            !out.stdout.contains(part) && !out.stderr.contains(part),
            "part of the token ({part:?}) is in the output of {args:?}: {out:#?}"
        );
    }
    assert!(
        !out.stdout.contains(secret),
        "the token is on stdout of {args:?}: {out:#?}"
    );
    assert!(
        !out.stderr.contains(secret),
        "the token is on stderr of {args:?}: {out:#?}"
    );
}

/// Every command, with and without `--debug` and `--json`, successful or not.
fn every_command() -> Vec<Vec<&'static str>> {
    vec![
        vec!["whoami"],
        vec!["fleet", "list"],
        vec!["fleet", "acme/frontdoor"],
        vec!["fleet", "pin", "acme/frontdoor"],
        vec!["fleet", "pin", "acme/frontdoor", "abcd123"],
        vec!["fleet", "pin", "acme/frontdoor", "abcd123"],
        vec!["fleet", "pin", "acme/frontdoor", "fa11ed"],
        vec!["fleet", "pin", "acme/frontdoor", C110],
        vec!["fleet", "pin", "acme/frontdoor", "deadbeef"],
        vec!["fleet", "pin", "shared", "abcd123"],
        vec!["fleet", "track-latest", "acme/frontdoor"],
        vec!["device", DOOR1],
        vec!["device", "d0c0"],
        vec!["device", "list", "--fleet", "acme/frontdoor"],
        vec!["device", "pin", DOOR2],
        vec!["device", "pin", DOOR2, "1.1.1"],
        vec!["device", "track-fleet", DOOR2],
        vec!["release", "abcd123"],
        vec!["release", "555"],
        vec!["release", "list", "acme/frontdoor"],
        vec!["releases", "acme/nope"],
        vec!["logout"],
    ]
}

#[test]
fn the_token_appears_in_no_output_even_with_debug() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    let login = ["login", "--token", TOKEN];
    for extra in [&[][..], &["--debug"], &["--json"], &["--debug", "--json"]] {
        let mut args: Vec<&str> = login.to_vec();
        args.extend(extra);
        let out = env.run(&args);
        out.ok();
        assert_no_secret(&out, TOKEN, &args);
        for cmd in every_command() {
            let mut args = cmd.clone();
            args.extend(extra);
            let out = env.run(&args);
            assert_no_secret(&out, TOKEN, &args);
            if extra.contains(&"--debug") && cmd[0] != "logout" {
                // The debug log is really there (requests are logged, token redacted).
                assert!(
                    out.stderr.contains("GET ")
                        && out.stderr.contains("Authorization: Bearer <redacted>"),
                    "--debug logs the requests of {args:?}: {out:#?}"
                );
            }
        }
    }
}

#[test]
fn a_rejected_token_appears_in_no_output() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    let bad = "rejected-token-c3f9e1a27b";
    for args in [
        &["login", "--token", bad][..],
        &["login", "--token", bad, "--debug"],
        &["login", "--token", bad, "--debug", "--json"],
    ] {
        let out = env.run(args);
        out.code(3);
        assert_no_secret(&out, bad, args);
    }
    env.write_token(bad);
    for args in [
        &["whoami", "--debug"][..],
        &["fleet", "pin", "acme/frontdoor", "abcd123", "--debug"],
        &["release", "list", "acme/frontdoor", "--debug", "--json"],
    ] {
        let out = env.run(args);
        out.code(3);
        assert_no_secret(&out, bad, args);
    }
}

#[test]
fn the_environment_token_appears_in_no_output() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url).env("BALENA_API_KEY", TOKEN);
    for args in [
        &["whoami", "--debug"][..],
        &[
            "fleet",
            "pin",
            "acme/frontdoor",
            "abcd123",
            "--debug",
            "--json",
        ],
        &["device", "pin", DOOR2, "abcd123", "--debug"],
    ] {
        let out = env.run(args);
        out.ok();
        assert_no_secret(&out, TOKEN, args);
    }
    // Unreachable server: the error names the URL, not the token.
    let env = TestEnv::new("http://127.0.0.1:9").env("BALENA_API_KEY", TOKEN);
    let out = env.run(&["fleet", "list", "--debug"]);
    out.code(7);
    assert_no_secret(&out, TOKEN, &["fleet", "list", "--debug"]);
}

#[test]
fn the_token_file_is_private() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    env.run(&["login", "--token", TOKEN]).ok();
    let meta = std::fs::metadata(env.token_path()).expect("token file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(env.token_path()).unwrap(), TOKEN);
    // No temporary copy left behind in the data directory.
    let names: Vec<String> = std::fs::read_dir(&env.data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["token"]);
    // A world-readable token file from elsewhere is replaced by a private one on login.
    std::fs::set_permissions(env.token_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    env.run(&["login", "--token", TOKEN]).ok();
    let meta = std::fs::metadata(env.token_path()).expect("token file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}
