//! The sandbox launcher: a real `balena-sandbox` process on an ephemeral 127.0.0.1 port.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bin::target_bin;
use crate::http::RawClient;

/// How long the sandbox may take to print its URL and key (seeding a large fleet included).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

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

/// How to start a sandbox; [`SandboxBuilder::start`] starts it.
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    bin: Option<PathBuf>,
    db: Option<PathBuf>,
    seed: Option<OsString>,
    token: Option<String>,
    request_log: bool,
    args: Vec<OsString>,
    startup_timeout: Duration,
}

impl SandboxBuilder {
    /// The binary to run (default: [`target_bin`]`("balena-sandbox")`).
    pub fn bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.bin = Some(path.into());
        self
    }

    /// The SQLite file (default: a new one in the sandbox's temporary directory). The
    /// caller keeps it alive, e.g. to restart on it after a crash.
    pub fn db(mut self, path: impl Into<PathBuf>) -> Self {
        self.db = Some(path.into());
        self
    }

    /// `--seed`: `demo` or a fixture file.
    pub fn seed(mut self, seed: impl AsRef<OsStr>) -> Self {
        self.seed = Some(seed.as_ref().to_owned());
        self
    }

    /// `--token`: the default user's API key (then [`Sandbox::api_key`]).
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// `--log` to a file in the sandbox's directory, read by [`Sandbox::requests`].
    pub fn request_log(mut self) -> Self {
        self.request_log = true;
        self
    }

    /// Extra arguments, after the others.
    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Self {
        self.args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// How long to wait for the URL and key lines (default 60 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the process and waits (bounded) for its URL and API key on stdout. Panics,
    /// with the sandbox's stderr, if they do not come.
    pub fn start(self) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir for the sandbox");
        let db = self
            .db
            .clone()
            .unwrap_or_else(|| dir.path().join("sandbox.sqlite"));
        let log = self.request_log.then(|| dir.path().join("requests.jsonl"));
        let stderr_path = dir.path().join("stderr.txt");
        let stderr = std::fs::File::create(&stderr_path).expect("sandbox stderr file");
        let bin = self.bin.unwrap_or_else(|| target_bin("balena-sandbox"));
        let mut cmd = Command::new(&bin);
        cmd.arg("--listen").arg("127.0.0.1:0").arg("--db").arg(&db);
        if let Some(seed) = &self.seed {
            cmd.arg("--seed").arg(seed);
        }
        if let Some(token) = &self.token {
            cmd.arg("--token").arg(token);
        }
        if let Some(log) = &log {
            cmd.arg("--log").arg(log);
        }
        cmd.args(&self.args)
            .env_clear()
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));

        // Read stdout on a thread, so the wait is bounded; it keeps draining stdout
        // afterwards, so the sandbox never blocks on a full pipe.
        let stdout = child.stdout.take().expect("sandbox stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Once the start-up lines are read nobody listens: just drain.
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + self.startup_timeout;
        let next_line = |what: &str, child: &mut Child| -> String {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => l.trim().to_owned(),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    panic!(
                        "balena-sandbox did not print {what} within {:?} ({e:?})\nstderr: {err}",
                        self.startup_timeout
                    );
                }
            }
        };
        let base_url = next_line("its URL", &mut child);
        if !base_url.starts_with("http://") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("balena-sandbox printed {base_url:?} instead of its URL");
        }
        let api_key = next_line("an API key", &mut child);
        if api_key.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("balena-sandbox printed an empty API key");
        }
        Sandbox {
            child,
            base_url,
            api_key,
            db,
            log,
            stderr: stderr_path,
            _dir: dir,
        }
    }
}

/// A running sandbox. Dropping it kills the process (by pid) and removes its temporary
/// directory (not a database file given with [`SandboxBuilder::db`]).
pub struct Sandbox {
    pub child: Child,
    /// e.g. `http://127.0.0.1:39421` (no trailing slash).
    pub base_url: String,
    /// The default user's API key (line 2 of stdout: the `--token` value, or generated).
    pub api_key: String,
    /// The SQLite file.
    pub db: PathBuf,
    log: Option<PathBuf>,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    /// How to start one: fresh database, no seed, no log.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            bin: None,
            db: None,
            seed: None,
            token: None,
            request_log: false,
            args: Vec::new(),
            startup_timeout: STARTUP_TIMEOUT,
        }
    }

    /// A fresh sandbox seeded with `seed` (`demo` or a fixture path).
    pub fn start(seed: &str) -> Sandbox {
        Sandbox::builder().seed(seed).start()
    }

    /// A fresh sandbox (temporary database) with extra arguments.
    pub fn start_with(extra: &[&str]) -> Sandbox {
        Sandbox::builder().args(extra).start()
    }

    /// A sandbox on an existing (or new) database file, e.g. to restart after a crash. The
    /// caller keeps the file alive.
    pub fn start_on(db: &Path, extra: &[&str]) -> Sandbox {
        Sandbox::builder().db(db).args(extra).start()
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// A new raw client for this sandbox.
    pub fn client(&self) -> RawClient {
        RawClient::new(&self.base_url)
    }

    /// A request with an optional bearer token and JSON body: (status, body text).
    /// Panics on a transport error.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, String) {
        let mut c = self.client();
        let r = match body {
            Some(b) => c.send_json(method, path, token, b),
            None => c.send_empty(method, path, token),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (r.status, r.text())
    }

    /// GET with the default user's key: (status, body text).
    pub fn get(&self, path: &str) -> (u16, String) {
        self.send("GET", path, Some(&self.api_key), None)
    }

    /// GET as `token`, parsed as JSON; panics unless 200.
    pub fn get_json_as(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.send("GET", path, Some(token), None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// GET with the default user's key, parsed as JSON; panics unless 200.
    pub fn get_json(&self, path: &str) -> Value {
        self.get_json_as(path, &self.api_key)
    }

    /// Every request the sandbox has logged so far (needs [`SandboxBuilder::request_log`]).
    pub fn requests(&self) -> Vec<Logged> {
        let log = self
            .log
            .as_ref()
            .expect("the sandbox was started without request_log()");
        let text = std::fs::read_to_string(log).unwrap_or_default();
        // Only complete lines: a line the sandbox is still writing is read next time.
        text.split_inclusive('\n')
            .filter(|l| l.ends_with('\n') && !l.trim().is_empty())
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

    /// What the sandbox has written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Kills the process abruptly (SIGKILL to its pid), as a crash test needs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "balena-sandbox (pid {}) stderr:\n{}",
                self.child.id(),
                self.stderr()
            );
        }
    }
}
