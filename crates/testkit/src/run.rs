//! The runner of the real `balena` binary.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bin::target_bin;
use crate::sandbox::Sandbox;

/// How long one `balena` run may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A server `balena` can log in to: its base URL and a valid API key.
pub trait ApiServer {
    fn api_url(&self) -> String;
    fn token(&self) -> String;
}

impl ApiServer for Sandbox {
    fn api_url(&self) -> String {
        self.base_url.clone()
    }

    fn token(&self) -> String {
        self.api_key.clone()
    }
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
    /// The `--json` error object: on stdout (where the official CLI prints it), or on
    /// stderr when stdout already holds the command's result document.
    pub fn err_json(&self) -> Value {
        let is_error = |v: &Value| v.get("error").is_some();
        match serde_json::from_str::<Value>(&self.stdout) {
            Ok(v) if is_error(&v) => v,
            _ => serde_json::from_str(&self.stderr).unwrap_or_else(|e| {
                panic!("no JSON error on stdout, stderr is not JSON ({e}): {self:?}")
            }),
        }
    }

    /// Asserts the exit code, showing the output on failure.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code; output: {self:#?}");
        self
    }

    /// Asserts exit code 0.
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
/// of the checkout is read), a data directory inside it, and the API URL. Every run has a
/// cleared environment with only `HOME`, `BALENARC_API_URL`, `BALENARC_DATA_DIRECTORY`
/// and the variables added with [`TestEnv::env`].
pub struct TestEnv {
    pub home: tempfile::TempDir,
    pub data: PathBuf,
    pub api_url: String,
    pub extra: Vec<(String, String)>,
    bin: PathBuf,
    timeout: Duration,
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
            bin: target_bin("balena"),
            timeout: RUN_TIMEOUT,
        }
    }

    /// Logged in to `server`: the token file holds its key.
    pub fn logged_in(server: &impl ApiServer) -> TestEnv {
        let e = TestEnv::new(&server.api_url());
        e.write_token(&server.token());
        e
    }

    /// The binary to run (default: [`target_bin`]`("balena")`).
    pub fn bin(mut self, path: impl Into<PathBuf>) -> TestEnv {
        self.bin = path.into();
        self
    }

    /// How long one run may take (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> TestEnv {
        self.timeout = timeout;
        self
    }

    /// An environment variable for every run.
    pub fn env(mut self, k: &str, v: &str) -> TestEnv {
        self.extra.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn token_path(&self) -> PathBuf {
        self.data.join("token")
    }

    /// Writes the token file (as `balena login` would).
    pub fn write_token(&self, token: &str) {
        std::fs::create_dir_all(&self.data).expect("data dir");
        std::fs::write(self.token_path(), token).expect("token file");
    }

    /// `balena args…` set up like [`TestEnv::run`] (environment, working directory), for a
    /// test that handles the process itself; stdio is left to the caller.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("BALENARC_API_URL", &self.api_url)
            .env("BALENARC_DATA_DIRECTORY", &self.data)
            .current_dir(self.home.path());
        for (k, v) in &self.extra {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `balena args…` with no standard input, bounded by the timeout.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, None)
    }

    /// [`TestEnv::run`] with `stdin` as the standard input.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        self.run_with(args, Some(stdin))
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut cmd = self.command(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
            let mut b = Vec::new();
            let _ = so.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        });
        let t_err = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = se.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        });
        let started = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait for balena") {
                break st;
            }
            if started.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!("balena {args:?} did not finish within {:?}", self.timeout);
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
