//! Drop-in forms (issue 8): a script written against the official output, release ids,
//! identifiers with upper case and CR, and `release latest`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use balena_testkit::{target_bin, TestEnv};

use crate::harness::*;

/// Runs `tests/fixtures/scripts/official-output.sh` with our `balena` first on PATH.
fn run_script(env: &TestEnv, args: &[&str]) -> String {
    let bin_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(target_bin("balena"), bin_dir.path().join("balena")).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scripts/official-output.sh");
    let mut child = Command::new("bash")
        .arg(script)
        .args(args)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", bin_dir.path().display()),
        )
        .env("HOME", env.home.path())
        .env("BALENARC_API_URL", &env.api_url)
        .env("BALENARC_DATA_DIRECTORY", &env.data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the script hangs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_script_written_against_the_official_output_works() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    let out = run_script(&env, &["acme/frontdoor", DOOR1, DOOR3, "0000ffff"]);
    // What the same script prints with the official CLI for this data (its sentences,
    // columns, JSON errors and names, as the transcripts record them).
    assert_eq!(
        out,
        format!(
            "fleet-commit={C100}
pinned({DOOR1})=yes
pinned({DOOR3})=no
list:door-1:d0c0ffe
list:door-2:d0c0ffe
list:door-3:d0aa000
json-error=BalenaDeviceNotFound 0000ffff
stderr-name=BalenaDeviceNotFound
handled=not-found
bad-pin=failed
"
        )
    );
}

#[test]
fn an_all_digit_release_is_the_id_when_one_exists() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    // 555 is release 555's id and the start of release 107's commit: the id wins.
    let out = env.run(&["release", "555"]);
    out.ok();
    assert!(
        out.stdout
            .starts_with("ID:              555\nCOMMIT:          eeee555"),
        "{}",
        out.stdout
    );
    let before = sb.fleet_policy(FRONTDOOR);
    env.run(&["fleet", "pin", "acme/frontdoor", "555"]).ok();
    assert_eq!(
        sb.fleet_policy(FRONTDOOR),
        (false, Some(555)),
        "before: {before:?}"
    );
    // Digits that are no release's id are a commit prefix.
    let out = env.run(&["release", "5550"]);
    out.ok();
    assert!(
        out.stdout.starts_with("ID:              107\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn identifiers_with_upper_case_and_a_cr_are_found() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    // As read from a CRLF file: the release in upper case, the fleet with a CR.
    env.run(&["fleet", "pin", "acme/frontdoor\r", "ABCD123\r"])
        .ok();
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(101)));
    env.run(&[
        "device",
        "pin",
        &format!("{}\r", DOOR2.to_uppercase()),
        " ABCD124 ",
    ])
    .ok();
    assert_eq!(sb.device_pin(DOOR2), Some(102));
    let out = env.run(&["release", "EEEE555\r"]);
    out.ok();
    assert!(
        out.stdout.starts_with("ID:              555\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn release_latest_names_the_newest_trackable_release() {
    let sb = sandbox();
    // bob sees one fleet: its newest trackable release.
    let bob = TestEnv::new(&sb.base_url);
    bob.write_token(BOB_TOKEN);
    let out = bob.run(&["release", "latest"]);
    out.ok();
    assert!(
        out.stdout
            .contains(&format!("COMMIT:          {C200_BOB}\n")),
        "{}",
        out.stdout
    );
    // alice sees several: ambiguous, one candidate per fleet, nothing guessed.
    let alice = TestEnv::logged_in(&sb);
    let out = rejected(&sb, &alice, &["release", "latest"], 5);
    out.stderr_has("acme/frontdoor: id 555,")
        .stderr_has("acme/backyard: id 111,");
    // Where a fleet is named, `latest` pins its newest trackable release.
    alice
        .run(&["fleet", "pin", "acme/frontdoor", "latest"])
        .ok();
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(555)));
}
