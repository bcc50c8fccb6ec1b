//! The end-to-end harness, on the workspace's test kit: starts a real `balena-sandbox`
//! process (seeded with `tests/fixtures/e2e-seed.json`, on a free port, with a temporary
//! SQLite file and request log), runs the real `balena` binary against it with a temporary
//! HOME and data directory and a cleared environment, and reads the server's state back over
//! plain HTTP. This module adds the fixture's facts and the reads and checks the tests share.
//!
//! Every test starts its own sandbox, so tests can mutate freely and run in parallel.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use balena_testkit::{Logged, Out, Sandbox, TestEnv};

/// alice's key (the sandbox's default user), registered with `--token`.
pub const TOKEN: &str = "e2e-alice-secret-5f1c9a7b3d2e4f60";
/// bob's key, from the fixture (another organisation).
pub const BOB_TOKEN: &str = "bob-fixture-key-00000000000000000002";

// Fixture facts, shared by the test modules.
pub const FRONTDOOR: i64 = 10;
pub const BACKYARD: i64 = 11;
pub const FRONTDOOR_UUID: &str = "f00d0000000000000000000000000010";
pub const C100: &str = "c0ffee00000000000000000000000100";
pub const C101: &str = "abcd1230000000000000000000000101";
pub const C102: &str = "abcd1240000000000000000000000102";
pub const C103_FAILED: &str = "fa11ed00000000000000000000000103";
pub const C104_RUNNING: &str = "0a110000000000000000000000000104";
pub const C105_DRAFT: &str = "d4af7000000000000000000000000105";
pub const RAW105_DRAFT: &str = "1.4.0-1770336000000";
pub const C106_INVALIDATED: &str = "1a7a1d00000000000000000000000106";
pub const C107: &str = "5550000000000000000000000000a107";
pub const C555: &str = "eeee5550000000000000000000000555";
pub const C110: &str = "bacc0000000000000000000000000110";
pub const C111: &str = "bacc1100000000000000000000000111";
pub const C200_BOB: &str = "5ec2e700000000000000000000000200";
/// door-1, pinned to release 101.
pub const DOOR1: &str = "d0c0ffee000000000000000000001000";
/// door-2, tracks its fleet; shares the prefix `d0c0ffee` with door-1.
pub const DOOR2: &str = "d0c0ffee000000000000000000001001";
/// door-3, tracks its fleet; unique prefix `d0aa`.
pub const DOOR3: &str = "d0aa0000000000000000000000001002";
pub const YARD1: &str = "ba5e0000000000000000000000001100";
pub const BOB_DEVICE: &str = "0bb00000000000000000000000002000";

/// A fixture file under `tests/fixtures/`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
/// A fresh sandbox seeded with the e2e fixture.
pub fn sandbox() -> Sandbox {
    sandbox_with("e2e-seed.json", &[])
}

/// A fresh sandbox seeded with `tests/fixtures/<fixture>`, with alice's key [`TOKEN`]
/// registered for the fixture's default user, a request log, and `extra_args` after the
/// usual ones (e.g. `["--simulate-updates", "1s"]`).
pub fn sandbox_with(fixture_name: &str, extra_args: &[&str]) -> Sandbox {
    Sandbox::builder()
        .seed(fixture(fixture_name))
        .token(TOKEN)
        .request_log()
        .args(extra_args)
        .start()
}

/// Reads of the fixture's release-policy state, as alice (the sandbox's default user) unless
/// said otherwise.
pub trait Reads {
    /// The one row of an OData GET as alice.
    fn row(&self, path: &str) -> Value;
    /// A fleet's release policy as stored: `(should_track_latest_release, target id)`.
    fn fleet_policy(&self, id: i64) -> (bool, Option<i64>);
    /// A device's pin as stored (`is_pinned_on__release`).
    fn device_pin(&self, uuid: &str) -> Option<i64>;
    /// What the device is told to run: the release commits in `GET /device/v3/<uuid>/state`.
    fn device_target_commits(&self, uuid: &str) -> Vec<String>;
    /// The whole release-policy state, as alice and as bob see it: every fleet's policy,
    /// every device's pin and every release's status. Compared before and after a rejected
    /// operation.
    fn snapshot(&self) -> Value;
}

impl Reads for Sandbox {
    fn row(&self, path: &str) -> Value {
        let v = self.get_json(path);
        let rows = v["d"].as_array().expect("d array");
        assert_eq!(rows.len(), 1, "GET {path}: {v}");
        rows[0].clone()
    }

    fn fleet_policy(&self, id: i64) -> (bool, Option<i64>) {
        let r = self.row(&format!(
            "/v7/application({id})?$select=id,should_track_latest_release,should_be_running__release"
        ));
        (
            r["should_track_latest_release"]
                .as_bool()
                .expect("should_track_latest_release"),
            r["should_be_running__release"]["__id"].as_i64(),
        )
    }

    fn device_pin(&self, uuid: &str) -> Option<i64> {
        let v = self.get_json(&format!(
            "/v7/device?$select=id,is_pinned_on__release&$filter=uuid%20eq%20%27{uuid}%27"
        ));
        let rows = v["d"].as_array().expect("d array");
        assert_eq!(rows.len(), 1, "device {uuid}: {v}");
        rows[0]["is_pinned_on__release"]["__id"].as_i64()
    }

    fn device_target_commits(&self, uuid: &str) -> Vec<String> {
        let v = self.get_json(&format!("/device/v3/{uuid}/state"));
        let apps = v[uuid]["apps"]
            .as_object()
            .unwrap_or_else(|| panic!("state of {uuid}: {v}"));
        let mut commits: Vec<String> = apps
            .values()
            .flat_map(|a| {
                a["releases"]
                    .as_object()
                    .map(|r| r.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .collect();
        commits.sort();
        commits
    }

    fn snapshot(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (who, token) in [("alice", TOKEN), ("bob", BOB_TOKEN)] {
            let apps = self.get_json_as(
                "/v7/application?$select=id,slug,should_track_latest_release,should_be_running__release&$orderby=id%20asc",
                token,
            );
            let devices = self.get_json_as(
                "/v7/device?$select=id,uuid,is_pinned_on__release,belongs_to__application&$orderby=id%20asc",
                token,
            );
            let releases = self.get_json_as(
                "/v7/release?$select=id,commit,status,is_invalidated,belongs_to__application&$orderby=id%20asc",
                token,
            );
            out.insert(
                who.to_owned(),
                serde_json::json!({"apps": apps["d"], "devices": devices["d"], "releases": releases["d"]}),
            );
        }
        Value::Object(out)
    }
}

/// Runs `args` and asserts the rejection: exit `code`, the server state unchanged, and no
/// write in the sandbox log. Returns the output for further checks.
#[track_caller]
pub fn rejected(sb: &Sandbox, env: &TestEnv, args: &[&str], code: i32) -> Out {
    rejected_sending(sb, env, args, code).0
}

/// [`rejected`], also answering the requests `balena` sent.
#[track_caller]
pub fn rejected_sending(
    sb: &Sandbox,
    env: &TestEnv,
    args: &[&str],
    code: i32,
) -> (Out, Vec<Logged>) {
    let before = sb.snapshot();
    let mark = sb.mark();
    let out = env.run(args);
    let sent = sb.since(mark);
    out.code(code);
    let writes: Vec<String> = sent
        .iter()
        .filter(|r| r.method != "GET")
        .map(Logged::line)
        .collect();
    assert!(writes.is_empty(), "balena {args:?} wrote: {writes:?}");
    assert_eq!(
        sb.snapshot(),
        before,
        "balena {args:?} changed the server state"
    );
    (out, sent)
}

/// Runs `args` and answers the output and the requests it sent.
pub fn counted(sb: &Sandbox, env: &TestEnv, args: &[&str]) -> (Out, Vec<Logged>) {
    let mark = sb.mark();
    let out = env.run(args);
    (out, sb.since(mark))
}

/// The PATCHes among `reqs`.
pub fn patches(reqs: &[Logged]) -> Vec<&Logged> {
    reqs.iter().filter(|r| r.method == "PATCH").collect()
}

/// A vertical table (`KEY:   value` lines) as a map.
pub fn vertical(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The `(stdout, stderr, exit code)` of a child, bounded.
pub fn finish(mut child: std::process::Child) -> (String, String, Option<i32>) {
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut so, &mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut se, &mut s);
        s
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("balena did not finish");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    (
        t_out.join().unwrap_or_default(),
        t_err.join().unwrap_or_default(),
        status.code(),
    )
}

/// The `(id, commit)` of the scale fleet's releases (`--devices N` seeds), newest first.
pub fn scale_releases(env: &TestEnv) -> Vec<(i64, String)> {
    let out = env.run(&["release", "list", "admin/scale-fleet", "--json"]);
    out.ok();
    out.json()
        .as_array()
        .expect("releases")
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().expect("id"),
                r["commit"].as_str().expect("commit").to_owned(),
            )
        })
        .collect()
}

/// `balena args…` started in the background, its output piped (see [`finish`]).
pub fn spawn(env: &TestEnv, args: &[&str]) -> std::process::Child {
    env.command(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start balena")
}
