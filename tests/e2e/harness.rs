//! The end-to-end harness: starts a real `balena-sandbox` process (seeded with
//! `tests/fixtures/e2e-seed.json`, on a free port, with a temporary SQLite file and request
//! log), runs the real `balena` binary against it with a temporary HOME and data directory
//! and a cleared environment, and reads the server's state back over plain HTTP.
//!
//! Every test starts its own sandbox, so tests can mutate freely and run in parallel.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// alice's key (the sandbox's default user), registered with `--token`.
pub const TOKEN: &str = "e2e-alice-secret-5f1c9a7b3d2e4f60";
/// bob's key, from the fixture (another organisation).
pub const BOB_TOKEN: &str = "bob-fixture-key-00000000000000000002";

/// How long one `balena` run may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

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

/// The `balena` binary under test.
pub fn balena_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_balena"))
}

/// `balena-sandbox`, built into the same target directory as `balena`.
pub fn sandbox_bin() -> PathBuf {
    let bin = balena_bin()
        .parent()
        .expect("the balena binary has a parent directory")
        .join(format!("balena-sandbox{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace --bins` before `cargo test --test e2e`",
        bin.display()
    );
    bin
}

/// One entry of the sandbox's `--log` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
}

impl Logged {
    /// `path?query`, or `path` without a query.
    pub fn target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// `METHOD path?query -> status`.
    pub fn line(&self) -> String {
        format!("{} {} -> {}", self.method, self.target(), self.status)
    }
}

/// A running sandbox. Dropping it kills the process and removes its directory.
pub struct Sandbox {
    child: Child,
    /// e.g. `http://127.0.0.1:39421`
    pub url: String,
    addr: String,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// A fresh sandbox seeded with the e2e fixture.
    pub fn start() -> Sandbox {
        Sandbox::start_with("e2e-seed.json", &[])
    }

    /// A fresh sandbox seeded with `tests/fixtures/<fixture>`, with alice's key [`TOKEN`]
    /// registered for the fixture's default user, and `extra_args` after the usual ones
    /// (e.g. `["--simulate-updates", "1s"]`).
    pub fn start_with(fixture_name: &str, extra_args: &[&str]) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("requests.jsonl");
        let stderr = std::fs::File::create(dir.path().join("stderr.txt")).expect("stderr file");
        let mut child = Command::new(sandbox_bin())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--db")
            .arg(dir.path().join("db.sqlite"))
            .arg("--seed")
            .arg(fixture(fixture_name))
            .arg("--token")
            .arg(TOKEN)
            .arg("--log")
            .arg(&log)
            .args(extra_args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start balena-sandbox");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let url = match lines.next() {
            Some(Ok(l)) if l.starts_with("http://") => l.trim().to_owned(),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let err =
                    std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap_or_default();
                panic!("balena-sandbox did not print its URL: {other:?}\nstderr: {err}");
            }
        };
        // Keep draining stdout so the sandbox never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let addr = url.trim_start_matches("http://").to_owned();
        Sandbox {
            child,
            url,
            addr,
            log,
            dir,
        }
    }

    /// Every request the sandbox has logged so far.
    pub fn requests(&self) -> Vec<Logged> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("log line is JSON");
                Logged {
                    method: v["method"].as_str().unwrap_or("").to_owned(),
                    path: v["path"].as_str().unwrap_or("").to_owned(),
                    query: v["query"].as_str().map(str::to_owned),
                    status: v["status"].as_u64().unwrap_or(0) as u16,
                }
            })
            .collect()
    }

    /// A mark in the request log (see [`Sandbox::since`]).
    pub fn mark(&self) -> usize {
        self.requests().len()
    }

    /// The requests logged after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Logged> {
        self.requests().into_iter().skip(mark).collect()
    }

    /// A std-only HTTP/1.1 GET with `token`: (status, body).
    pub fn raw_get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).expect("connect to the sandbox");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Accept: application/json\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("send request");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read response");
        parse_response(&raw)
    }

    /// GET as `token`, parsed as JSON; panics unless 200.
    pub fn get_as(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.raw_get(path, Some(token));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// GET as alice.
    pub fn get(&self, path: &str) -> Value {
        self.get_as(path, TOKEN)
    }

    /// The one row of an OData GET as alice.
    pub fn row(&self, path: &str) -> Value {
        let v = self.get(path);
        let rows = v["d"].as_array().expect("d array");
        assert_eq!(rows.len(), 1, "GET {path}: {v}");
        rows[0].clone()
    }

    /// A fleet's release policy as stored: `(should_track_latest_release, target id)`.
    pub fn fleet_policy(&self, id: i64) -> (bool, Option<i64>) {
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

    /// A device's pin as stored (`is_pinned_on__release`).
    pub fn device_pin(&self, uuid: &str) -> Option<i64> {
        let v = self.get(&format!(
            "/v7/device?$select=id,is_pinned_on__release&$filter=uuid%20eq%20%27{uuid}%27"
        ));
        let rows = v["d"].as_array().expect("d array");
        assert_eq!(rows.len(), 1, "device {uuid}: {v}");
        rows[0]["is_pinned_on__release"]["__id"].as_i64()
    }

    /// What the device is told to run: the release commits in `GET /device/v3/<uuid>/state`.
    pub fn device_target_commits(&self, uuid: &str) -> Vec<String> {
        let v = self.get(&format!("/device/v3/{uuid}/state"));
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

    /// The whole release-policy state, as alice and as bob see it: every fleet's policy,
    /// every device's pin and every release's status. Compared before and after a rejected
    /// operation.
    pub fn snapshot(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (who, token) in [("alice", TOKEN), ("bob", BOB_TOKEN)] {
            let apps = self.get_as(
                "/v7/application?$select=id,slug,should_track_latest_release,should_be_running__release&$orderby=id%20asc",
                token,
            );
            let devices = self.get_as(
                "/v7/device?$select=id,uuid,is_pinned_on__release,belongs_to__application&$orderby=id%20asc",
                token,
            );
            let releases = self.get_as(
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

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.dir;
    }
}

/// Parses a raw HTTP/1.1 response (content-length, chunked or read-to-close).
fn parse_response(raw: &[u8]) -> (u16, String) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of the response headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = &raw[split + 4..];
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else if let Some(n) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body[..n.min(body.len())].to_vec()
    } else {
        body.to_vec()
    };
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size_line = String::from_utf8_lossy(&b[..eol]).to_string();
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        b = &b[eol + 2..];
        if size == 0 || size > b.len() {
            break;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[(size + 2).min(b.len())..];
    }
    out
}

/// The result of one `balena` run.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// stderr parsed as JSON (errors with `--json`).
    pub fn err_json(&self) -> Value {
        serde_json::from_str(&self.stderr)
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {self:?}"))
    }

    /// Asserts the exit code, showing the output on failure.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code; output: {self:#?}");
        self
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr should contain {needle:?}: {self:#?}"
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout should contain {needle:?}: {self:#?}"
        );
        self
    }
}

/// A user's machine: a temporary HOME (also the working directory, so no `balenarc.yml`
/// of the checkout is read), a data directory, and the API URL.
pub struct TestEnv {
    pub home: tempfile::TempDir,
    pub data: PathBuf,
    pub api_url: String,
    pub extra: Vec<(String, String)>,
}

impl TestEnv {
    /// Not logged in.
    pub fn new(api_url: &str) -> TestEnv {
        let home = tempfile::tempdir().expect("temp HOME");
        let data = home.path().join("balena-data");
        TestEnv {
            home,
            data,
            api_url: api_url.to_owned(),
            extra: Vec::new(),
        }
    }

    /// Logged in as alice: the token file holds [`TOKEN`].
    pub fn logged_in(sb: &Sandbox) -> TestEnv {
        let e = TestEnv::new(&sb.url);
        e.write_token(TOKEN);
        e
    }

    pub fn token_path(&self) -> PathBuf {
        self.data.join("token")
    }

    pub fn write_token(&self, token: &str) {
        std::fs::create_dir_all(&self.data).expect("data dir");
        std::fs::write(self.token_path(), token).expect("token file");
    }

    pub fn env(mut self, k: &str, v: &str) -> TestEnv {
        self.extra.push((k.to_owned(), v.to_owned()));
        self
    }

    /// Runs `balena args…` with a cleared environment, bounded by a timeout.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, None)
    }

    /// [`TestEnv::run`] with `stdin` as the standard input.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        self.run_with(args, Some(stdin))
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut cmd = Command::new(balena_bin());
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("BALENARC_API_URL", &self.api_url)
            .env("BALENARC_DATA_DIRECTORY", &self.data)
            .current_dir(self.home.path())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start balena");
        if let Some(input) = stdin {
            // Written from a thread (closing the pipe when done) so a large input never
            // blocks on a child that is writing its output.
            let mut si = child.stdin.take().expect("stdin");
            let input = input.to_owned();
            std::thread::spawn(move || {
                let _ = si.write_all(input.as_bytes());
            });
        }
        let mut so = child.stdout.take().expect("stdout");
        let mut se = child.stderr.take().expect("stderr");
        let t_out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = so.read_to_string(&mut s);
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = se.read_to_string(&mut s);
            s
        });
        let started = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait for balena") {
                break st;
            }
            if started.elapsed() > RUN_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("balena {args:?} did not finish within {RUN_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Out {
            code: status.code().unwrap_or(-1),
            stdout: t_out.join().unwrap_or_default(),
            stderr: t_err.join().unwrap_or_default(),
        }
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
