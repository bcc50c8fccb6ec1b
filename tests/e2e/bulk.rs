//! Bulk device selection, `latest`, `fleet rollback` and `--dry-run`, against a sandbox
//! seeded with `tests/fixtures/e2e-bulk-seed.json` (its own launcher: the shared harness
//! seeds the other fixture).
//!
//! Fixture: fleet acme/canary (30) pinned to 302 (1.2.0), releases 300 (1.0.0), 301 (1.1.0),
//! 303 (failed), 302; devices canary-1 (tags group=canary, lab), canary-2 (group=canary),
//! prod-1 (group=prod, pinned to 300), prod-2 (group=prod). Fleet acme/solo (31) with one
//! release 310 and device solo-1. bob's fleet (40) and device bob-1 are foreign to alice.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{balena_bin, sandbox_bin, Out, TestEnv};

const TOKEN: &str = "e2e-bulk-alice-0123456789abcdef";
const CANARY1: &str = "ca000000000000000000000000003000";
const CANARY2: &str = "ca000000000000000000000000003001";
const PROD1: &str = "cb000000000000000000000000003002";
const PROD2: &str = "cc000000000000000000000000003003";
const SOLO1: &str = "5010000000000000000000000000310a";
const BOB1: &str = "b0b00000000000000000000000004000";

struct Bulk {
    child: Child,
    url: String,
    addr: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Bulk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bulk {
    fn start() -> Bulk {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e2e-bulk-seed.json");
        let mut child = Command::new(sandbox_bin())
            .args(["--listen", "127.0.0.1:0", "--db"])
            .arg(dir.path().join("db.sqlite"))
            .arg("--seed")
            .arg(fixture)
            .args(["--token", TOKEN, "--log"])
            .arg(&log)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start balena-sandbox");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines
            .next()
            .and_then(Result::ok)
            .filter(|l| l.starts_with("http://"))
            .expect("the sandbox prints its URL")
            .trim()
            .to_owned();
        std::thread::spawn(move || for _ in lines {});
        let addr = url.trim_start_matches("http://").to_owned();
        Bulk {
            child,
            url,
            addr,
            log,
            _dir: dir,
        }
    }

    fn env(&self) -> TestEnv {
        let e = TestEnv::new(&self.url);
        e.write_token(TOKEN);
        e
    }

    /// `(method, path?query)` of every logged request.
    fn requests(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let q = v["query"]
                    .as_str()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                (
                    v["method"].as_str().unwrap_or("").to_owned(),
                    format!("{}{q}", v["path"].as_str().unwrap_or("")),
                )
            })
            .collect()
    }

    /// Runs `args` and answers the output and the requests it caused.
    fn run(&self, env: &TestEnv, args: &[&str]) -> (Out, Vec<(String, String)>) {
        let mark = self.requests().len();
        let out = env.run(args);
        (out, self.requests().split_off(mark))
    }

    fn get(&self, path: &str) -> Value {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("headers");
        assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {text}");
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            let mut out = String::new();
            let mut rest = body;
            while let Some((size, tail)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 {
                    break;
                }
                out.push_str(&tail[..n]);
                rest = &tail[n + 2..];
            }
            out
        } else {
            body.to_owned()
        };
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Every device's pin, as alice sees them: uuid → pinned release id.
    fn pins(&self) -> Vec<(String, Option<i64>)> {
        let v = self.get("/v7/device?$select=uuid,is_pinned_on__release&$orderby=id%20asc");
        v["d"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["uuid"].as_str().unwrap().to_owned(),
                    d["is_pinned_on__release"]["__id"].as_i64(),
                )
            })
            .collect()
    }

    fn pin_of(&self, uuid: &str) -> Option<i64> {
        self.pins()
            .into_iter()
            .find(|(u, _)| u == uuid)
            .unwrap_or_else(|| panic!("no device {uuid}"))
            .1
    }

    /// `(should_track_latest_release, target id)` of a fleet.
    fn fleet(&self, id: i64) -> (bool, Option<i64>) {
        let v = self.get(&format!(
            "/v7/application({id})?$select=should_track_latest_release,should_be_running__release"
        ));
        let r = &v["d"][0];
        (
            r["should_track_latest_release"].as_bool().unwrap(),
            r["should_be_running__release"]["__id"].as_i64(),
        )
    }
}

fn writes(reqs: &[(String, String)]) -> Vec<String> {
    reqs.iter()
        .filter(|(m, _)| m != "GET")
        .map(|(m, p)| format!("{m} {p}"))
        .collect()
}

/// `balena args…` with `stdin`.
fn run_stdin(env: &TestEnv, args: &[&str], stdin: &str) -> Out {
    let mut c = Command::new(balena_bin());
    c.args(args)
        .env_clear()
        .env("HOME", env.home.path())
        .env("BALENARC_API_URL", &env.api_url)
        .env("BALENARC_DATA_DIRECTORY", &env.data)
        .current_dir(env.home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn bulk_pin_with_a_foreign_device_is_exit_9_and_pins_the_others() {
    let sb = Bulk::start();
    let env = sb.env();
    let list = format!("{CANARY1},{BOB1},cb00,cc000000");
    let (out, reqs) = sb.run(&env, &["device", "pin", &list, "1.1.0", "--json"]);
    out.code(9);
    let v = out.json();
    assert_eq!(
        v["counts"],
        json!({"changed": 3, "unchanged": 0, "failed": 1})
    );
    assert_eq!(v["results"][1]["input"], BOB1);
    assert_eq!(v["results"][1]["error"]["name"], "BalenaDeviceNotFound");
    assert_eq!(out.err_json()["error"]["exitCode"], 9);
    // On the server: the three of alice pinned to 301, bob's untouched (checked as bob can't
    // be read by alice: the request log shows one filtered PATCH of alice's ids only).
    for u in [CANARY1, PROD1, PROD2] {
        assert_eq!(sb.pin_of(u), Some(301), "{u}");
    }
    assert_eq!(sb.pin_of(CANARY2), None);
    assert_eq!(
        writes(&reqs),
        vec!["PATCH /v7/device?$filter=id%20in%20(3000,3002,3003)"]
    );
    // GET devices, GET fleets, PATCH; plus, on this error path only, one GET that checks
    // the unknown 32-digit uuid is not the prefix of a 62-digit one.
    assert_eq!(reqs.len(), 4, "{reqs:?}");
}

#[test]
fn dry_run_sends_no_write_request() {
    let sb = Bulk::start();
    let env = sb.env();
    let before = sb.pins();
    let fleet_before = sb.fleet(30);
    let cases: Vec<Vec<&str>> = vec![
        vec!["fleet", "pin", "acme/canary", "1.0.0"],
        vec!["fleet", "track-latest", "acme/canary"],
        vec!["fleet", "rollback", "acme/canary"],
        vec!["device", "pin", CANARY1, "latest"],
        vec!["device", "track-fleet", PROD1],
        vec!["device", "pin", "--fleet", "acme/canary", "1.0.0"],
        vec!["device", "track-fleet", "--fleet", "acme/canary"],
        vec!["device", "pin", "cb00,cc00", "1.1.0"],
    ];
    for c in cases {
        for json_flag in [false, true] {
            let mut args = c.clone();
            args.push("--dry-run");
            if json_flag {
                args.push("--json");
            }
            let (out, reqs) = sb.run(&env, &args);
            out.ok();
            assert!(
                writes(&reqs).is_empty(),
                "{args:?} wrote: {:?}",
                writes(&reqs)
            );
            if json_flag {
                assert_eq!(out.json()["dry_run"], true, "{args:?}");
            } else {
                out.stdout_has("Dry run: nothing was changed.");
            }
        }
    }
    assert_eq!(sb.pins(), before);
    assert_eq!(sb.fleet(30), fleet_before);
    // The fleet plan names each device's before and after.
    let out = sb
        .env()
        .run(&["fleet", "pin", "acme/canary", "1.0.0", "--dry-run"]);
    out.ok()
        .stdout_has("Fleet acme/canary: pinned to cc00000 (1.2.0) -> pinned to aa00000 (1.0.0)")
        .stdout_has(&format!(
            "{CANARY1} canary-1    fleet cc00000 (1.2.0)  fleet aa00000 (1.0.0)  yes"
        ))
        .stdout_has("3 devices would change, 0 unchanged, 1 pinned device unaffected.");
}

#[test]
fn rollback_without_earlier_release_changes_nothing() {
    let sb = Bulk::start();
    let env = sb.env();
    let before = sb.fleet(31);
    let (out, reqs) = sb.run(&env, &["fleet", "rollback", "acme/solo"]);
    out.code(4).stderr_has(
        "error: no earlier pinnable release than ee00000 (0.1.0) in fleet acme/solo\nhint: ",
    );
    assert!(writes(&reqs).is_empty());
    assert_eq!(reqs.len(), 1);
    assert_eq!(sb.fleet(31), before);
}

#[test]
fn rollback_skips_failed_releases_and_says_which() {
    let sb = Bulk::start();
    let env = sb.env();
    let (out, reqs) = sb.run(&env, &["fleet", "rollback", "acme/canary"]);
    out.ok();
    assert_eq!(
        out.stderr,
        "Rolled back fleet acme/canary from cc00000 (1.2.0) to bb00000 (1.1.0).\n"
    );
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(sb.fleet(30), (false, Some(301)));
    let (out, _) = sb.run(&env, &["fleet", "rollback", "acme/canary", "--json"]);
    out.ok();
    assert_eq!(out.json()["after"]["release"]["id"], 300);
    assert_eq!(sb.fleet(30), (false, Some(300)));
    sb.run(&env, &["fleet", "rollback", "acme/canary"])
        .0
        .code(4);
    assert_eq!(sb.fleet(30), (false, Some(300)));
}

#[test]
fn latest_selects_the_newest_pinnable_release() {
    let sb = Bulk::start();
    let env = sb.env();
    sb.run(&env, &["fleet", "pin", "acme/canary", "1.0.0"])
        .0
        .ok();
    let (out, reqs) = sb.run(&env, &["fleet", "pin", "acme/canary", "latest"]);
    out.ok()
        .stderr_has("Pinned fleet acme/canary to release cc00000 (1.2.0).");
    assert_eq!(reqs.len(), 2);
    assert_eq!(sb.fleet(30), (false, Some(302)));
    let (out, _) = sb.run(&env, &["device", "pin", CANARY2, "latest", "--json"]);
    out.ok();
    assert_eq!(out.json()["after"]["release"]["id"], 302);
    assert_eq!(sb.pin_of(CANARY2), Some(302));
}

#[test]
fn fleet_and_tag_selection() {
    let sb = Bulk::start();
    let env = sb.env();
    let (out, reqs) = sb.run(
        &env,
        &[
            "device",
            "pin",
            "--fleet",
            "acme/canary",
            "--tag",
            "group=canary",
            "1.1.0",
        ],
    );
    out.ok()
        .stderr_has("Fleet acme/canary: pinned 2 devices to release bb00000 (1.1.0).");
    assert_eq!(
        writes(&reqs),
        vec!["PATCH /v7/device?$filter=id%20in%20(3000,3001)"]
    );
    assert_eq!(sb.pin_of(CANARY1), Some(301));
    assert_eq!(sb.pin_of(CANARY2), Some(301));
    assert_eq!(sb.pin_of(PROD1), Some(300));
    assert_eq!(sb.pin_of(PROD2), None);
    // Two tags are ANDed; a key alone matches any value.
    let (out, reqs) = sb.run(
        &env,
        &[
            "device",
            "track-fleet",
            "--fleet",
            "acme/canary",
            "--tag",
            "group=canary",
            "--tag",
            "lab",
            "--json",
        ],
    );
    out.ok();
    assert_eq!(
        out.json()["counts"],
        json!({"changed": 1, "unchanged": 0, "failed": 0})
    );
    assert_eq!(
        writes(&reqs),
        vec!["PATCH /v7/device?$filter=id%20in%20(3000)"]
    );
    assert_eq!(sb.pin_of(CANARY1), None);
    assert_eq!(sb.pin_of(CANARY2), Some(301));
    // No match: exit 4, nothing written.
    let (out, reqs) = sb.run(
        &env,
        &[
            "device",
            "track-fleet",
            "--fleet",
            "acme/canary",
            "--tag",
            "group=nope",
        ],
    );
    out.code(4).stderr_has("No device selected");
    assert!(writes(&reqs).is_empty());
}

#[test]
fn stdin_dash_reads_the_uuids() {
    let sb = Bulk::start();
    let env = sb.env();
    let out = run_stdin(
        &env,
        &["device", "pin", "-", "1.2.0"],
        &format!(
            "# the canaries\n{CANARY1}\n\n{}   # upper case\n{SOLO1}\n",
            CANARY2.to_uppercase()
        ),
    );
    // solo-1's fleet has no 1.2.0: partial failure, the canaries pinned.
    assert_eq!(out.code, 9, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "error: device {SOLO1}: Release 1.2.0 belongs to fleet acme/canary, not to acme/solo"
        )),
        "{out:?}"
    );
    assert_eq!(sb.pin_of(CANARY1), Some(302));
    assert_eq!(sb.pin_of(CANARY2), Some(302));
    assert_eq!(sb.pin_of(SOLO1), None);
    // And back: every device of the list tracks its fleet; the unpinned one is unchanged.
    let out = run_stdin(
        &env,
        &["device", "track-fleet", "-", "--json"],
        &format!("{CANARY1}\n{CANARY2}\n{PROD2}\n"),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["counts"],
        json!({"changed": 2, "unchanged": 1, "failed": 0})
    );
    assert_eq!(sb.pin_of(CANARY1), None);
}
