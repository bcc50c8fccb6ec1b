//! Shared helpers for the sandbox's integration tests: start the real `balena-sandbox`
//! binary on an ephemeral port with a temporary SQLite file, read its URL and API key from
//! stdout, and kill it when the guard is dropped.
//!
//! Each test binary only uses part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The path of a fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A running sandbox process. Dropping it kills the process (and removes its temporary
/// directory unless the database lives elsewhere).
pub struct Sandbox {
    pub child: Child,
    /// e.g. `http://127.0.0.1:39421` (no trailing slash).
    pub base_url: String,
    /// The default user's API key (line 2 of stdout).
    pub api_key: String,
    /// The SQLite file.
    pub db: PathBuf,
    /// Owns the temporary directory holding `db` (when the helper created it).
    pub dir: Option<tempfile::TempDir>,
}

impl Sandbox {
    /// Starts a sandbox seeded with `seed` (`demo` or a fixture path) in a fresh temp dir.
    pub fn start(seed: &str) -> Sandbox {
        Self::start_with(&["--seed", seed])
    }

    /// Starts a fresh sandbox (temporary database) with extra arguments.
    pub fn start_with(extra: &[&str]) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("sandbox.sqlite");
        let mut s = Self::start_on(&db, extra);
        s.dir = Some(dir);
        s
    }

    /// Starts a sandbox on an existing (or new) database file, e.g. to restart after a
    /// crash. The caller keeps the file alive.
    pub fn start_on(db: &Path, extra: &[&str]) -> Sandbox {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_balena-sandbox"));
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--db")
            .arg(db)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start balena-sandbox");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base_url = match lines.next() {
            Some(Ok(l)) if l.starts_with("http://") => l,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("balena-sandbox did not print its URL: {other:?}");
            }
        };
        let api_key = match lines.next() {
            Some(Ok(l)) if !l.is_empty() => l,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("balena-sandbox did not print an API key: {other:?}");
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Sandbox {
            child,
            base_url,
            api_key,
            db: db.to_path_buf(),
            dir: None,
        }
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// A blocking reqwest client with a timeout.
    pub fn client(&self) -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    }

    /// GET with the default user's key; answers (status, body text).
    pub fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client()
            .get(self.url(path))
            .bearer_auth(&self.api_key)
            .send()
            .expect("GET");
        (r.status().as_u16(), r.text().unwrap_or_default())
    }

    /// GET with the default user's key, parsed as JSON (panics on a non-200).
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// A request with a JSON body and the given token (None: anonymous).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> (u16, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.client().request(m, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = rb.send().expect("request");
        (r.status().as_u16(), r.text().unwrap_or_default())
    }

    /// Kills the process abruptly (SIGKILL), as a crash test needs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
