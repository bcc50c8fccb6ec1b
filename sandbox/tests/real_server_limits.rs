//! Points where the sandbox matches the real open-balena-api at the edges of the protocol:
//! the URL length limit, percent-encoded structure in `$filter`, and start-up details
//! (database file mode, `--db` in a missing folder, `--listen 0.0.0.0`, a closed stdout).

mod common;
mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::RawClient;

/// A target of exactly `len` bytes: a `$filter` on a long uuid literal.
fn target_of_len(len: usize) -> String {
    let head = "/v7/device?$filter=uuid%20eq%20%27";
    let tail = "%27";
    let t = format!("{head}{}{tail}", "a".repeat(len - head.len() - tail.len()));
    assert_eq!(t.len(), len);
    t
}

#[test]
fn urls_over_16_kib_are_answered_431() {
    let sb = common::Sandbox::start(&common::fixture("transcript-seed.json"));
    let mut c = RawClient::new(&sb.base_url);
    let key = sb.api_key.clone();
    let at_limit = c.get(&target_of_len(16_384), Some(&key)).expect("request");
    assert_eq!(
        (at_limit.status, at_limit.text()),
        (200, r#"{"d":[]}"#.into())
    );
    for len in [16_385, 20_000, 70_000] {
        let r = c.get(&target_of_len(len), Some(&key)).expect("request");
        assert_eq!(r.status, 431, "{len} bytes");
        assert!(r.body.is_empty(), "{len} bytes: {:?}", r.text());
    }
    // Without a token too, and the server goes on answering.
    let r = c.get(&target_of_len(16_385), None).expect("request");
    assert_eq!(r.status, 431);
    let ping = c.get("/ping", None).expect("ping");
    assert_eq!(ping.status, 200);
}

#[test]
fn percent_encoded_structure_in_filter_is_malformed() {
    let sb = common::Sandbox::start(&common::fixture("transcript-seed.json"));
    let mut c = RawClient::new(&sb.base_url);
    let key = sb.api_key.clone();
    for t in [
        "/v7/release?$filter=id%20in%20%281%2C2%29",
        "/v7/release?$filter=id%20in%20(1%2c2)",
        "/v7/application?$filter=startswith%28slug,%27a%27)",
        "/v7/application?$filter=startswith(slug%2C%27a%27)",
        "/v7/device?$filter=(id%20eq%201%29",
    ] {
        let r = c.get(t, Some(&key)).expect("request");
        // The real server's shape for a malformed query: 400 and the URL as received.
        assert_eq!(
            (r.status, r.json()),
            (400, serde_json::json!(format!("Malformed url: '{t}'"))),
            "{t}"
        );
    }
    // Inside string literals they are characters: the same queries, well-formed.
    for t in [
        "/v7/application?$filter=slug%20eq%20%27a%28b%2Cc%29%27",
        "/v7/application?$filter=startswith(slug,%27%28%27)",
        "/v7/release?$filter=id%20in%20(1,2)",
    ] {
        let r = c.get(t, Some(&key)).expect("request");
        assert_eq!(r.status, 200, "{t}: {}", r.text());
    }
}

/// Waits (bounded) for a child to exit; kills it if it does not.
fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[cfg(unix)]
#[test]
fn the_database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let sb = common::Sandbox::start(&common::fixture("transcript-seed.json"));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sb.db), 0o600, "{}", sb.db.display());
    let wal = sb.db.with_extension("sqlite-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "{}", wal.display());
    }
}

#[test]
fn db_in_a_missing_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let db = missing.join("sub").join("sandbox.sqlite");
    let mut child = Command::new(env!("CARGO_BIN_EXE_balena-sandbox"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start balena-sandbox");
    let status = wait_exit(&mut child, Duration::from_secs(20)).expect("it exits");
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("no-such-folder"), "{stderr}");
    assert_eq!(stdout, "");
    assert!(!missing.exists(), "a folder was created");
}

#[test]
fn a_closed_stdout_does_not_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // The reader of stdout is gone before the sandbox writes its two lines.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_balena-sandbox"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--token",
            "closed-stdout-key",
        ])
        .arg("--db")
        .arg(dir.path().join("sandbox.sqlite"))
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start balena-sandbox");
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    let mut answered = None;
    while start.elapsed() < Duration::from_secs(20) && answered.is_none() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the sandbox exited: {status}");
        }
        let mut c = RawClient::new(&base);
        c.timeout = Duration::from_secs(5);
        answered = c
            .get("/v7/application/$count", Some("closed-stdout-key"))
            .ok();
        if answered.is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let r = answered.expect("the sandbox answers");
    assert_eq!((r.status, r.text()), (200, r#"{"d":0}"#.to_string()));
    assert!(child.try_wait().unwrap().is_none(), "still running");
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("could not print"), "{stderr}");
    assert!(
        !stderr.contains("closed-stdout-key"),
        "the key leaked to stderr"
    );
}
