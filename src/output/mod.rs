//! The only code that writes to the terminal. Everything goes through `io::Write` on locked
//! handles; a closed pipe (EPIPE) is ignored, so `balena release list x | head -1` is quiet.

pub mod progress;
pub mod table;

use std::io::Write;

use serde::Serialize;

use crate::error::Report;

fn write_ignoring_epipe(mut w: impl Write, s: &str) {
    // Rust ignores SIGPIPE, so a closed pipe shows up as an error here: drop it.
    let _ = w.write_all(s.as_bytes()).and_then(|()| w.flush());
}

/// Writes `s` to stdout as is.
pub fn stdout(s: &str) {
    write_ignoring_epipe(std::io::stdout().lock(), s);
}

/// Writes `s` to stderr as is.
pub fn stderr(s: &str) {
    write_ignoring_epipe(std::io::stderr().lock(), s);
}

/// One line on stderr (confirmations, warnings).
pub fn note(line: &str) {
    stderr(&format!("{line}\n"));
}

/// `warning: <line>` on stderr.
pub fn warn(line: &str) {
    stderr(&format!("warning: {line}\n"));
}

/// A `--debug` line on stderr. The API client never passes the token here.
pub fn debug(line: &str) {
    stderr(&format!("[debug] {line}\n"));
}

/// JSON with 2-space indentation and a final newline (the official CLI's `--json` shape).
pub fn json_pretty<T: Serialize + ?Sized>(v: &T) {
    json_to_stdout(|w| serde_json::to_writer_pretty(w, v));
}

/// Compact one-line JSON with a final newline (`release list --json`).
pub fn json_compact<T: Serialize + ?Sized>(v: &T) {
    json_to_stdout(|w| serde_json::to_writer(w, v));
}

/// Streams JSON into buffered stdout (no intermediate string: a large list stays one copy).
fn json_to_stdout(
    write: impl FnOnce(&mut std::io::BufWriter<std::io::StdoutLock<'static>>) -> serde_json::Result<()>,
) {
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    // An error here is a closed pipe (values always serialise): drop it, as `stdout` does.
    let _ = write(&mut w)
        .map_err(std::io::Error::from)
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush());
}

/// The human form of an error (see `render_error_json` for `--json`).
pub fn render_error_human(r: &Report) -> String {
    if r.is_login_required() {
        // Byte-compatible with the official CLI.
        return format!("{}\n\n", r.message);
    }
    let mut s = format!("error: {}\n", r.message);
    if !r.candidates.is_empty() {
        s.push_str(match r.list_key {
            "behind" => "still behind:\n",
            _ => "candidates:\n",
        });
        for c in &r.candidates {
            s.push_str(&format!("  {c}\n"));
        }
    }
    if let Some(h) = &r.hint {
        s.push_str(&format!("hint: {h}\n"));
    }
    s
}

/// `{"error":{"name":…,"message":…,"exitCode":…,"hint":…,"candidates":[…]}}` on one line
/// (`"behind":[…]` instead of `"candidates"` for a wait timeout).
pub fn render_error_json(r: &Report) -> String {
    let mut e = serde_json::Map::new();
    e.insert("name".into(), r.name.clone().into());
    e.insert("message".into(), r.message.clone().into());
    e.insert("exitCode".into(), r.exit_code.into());
    if let Some(h) = &r.hint {
        e.insert("hint".into(), h.clone().into());
    }
    if !r.candidates.is_empty() {
        e.insert(r.list_key.into(), r.candidates.clone().into());
    }
    let mut o = serde_json::Map::new();
    o.insert("error".into(), serde_json::Value::Object(e));
    format!("{}\n", serde_json::Value::Object(o))
}

/// Prints an error on stderr, as one JSON object with `--json`.
pub fn error(r: &Report, json: bool) {
    if json {
        stderr(&render_error_json(r));
    } else {
        stderr(&render_error_human(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            name: "BalenaAmbiguousApplication".into(),
            message: "Application is ambiguous: MyFleet".into(),
            exit_code: 5,
            hint: Some("Use the slug.".into()),
            candidates: vec!["a/myfleet (id 1)".into(), "b/myfleet (id 2)".into()],
            list_key: "candidates",
        }
    }

    #[test]
    fn wait_timeout_lists_the_devices_still_behind() {
        let r = Report {
            name: "BalenaWaitTimeout".into(),
            message: "timed out".into(),
            exit_code: 8,
            hint: None,
            candidates: vec!["abc (dev-1)".into()],
            list_key: "behind",
        };
        assert_eq!(
            render_error_human(&r),
            "error: timed out\nstill behind:\n  abc (dev-1)\n"
        );
        assert!(render_error_json(&r).contains(r#""behind":["abc (dev-1)"]"#));
    }

    #[test]
    fn human_error() {
        assert_eq!(
            render_error_human(&report()),
            "error: Application is ambiguous: MyFleet\ncandidates:\n  a/myfleet (id 1)\n  b/myfleet (id 2)\nhint: Use the slug.\n"
        );
    }

    #[test]
    fn json_error() {
        assert_eq!(
            render_error_json(&report()),
            "{\"error\":{\"name\":\"BalenaAmbiguousApplication\",\"message\":\"Application is ambiguous: MyFleet\",\"exitCode\":5,\"hint\":\"Use the slug.\",\"candidates\":[\"a/myfleet (id 1)\",\"b/myfleet (id 2)\"]}}\n"
        );
    }
}
