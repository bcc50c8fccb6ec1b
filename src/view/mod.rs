//! The only code that writes to the terminal. Every human and JSON rendering is here, from
//! typed results, through a [`Printer`] that is handed its stdout and stderr (the real ones,
//! or buffers in tests).
//!
//! A closed pipe (EPIPE) is ignored, so `balena release list x | head -1` is quiet.

pub mod about;
pub mod account;
pub mod browser;
pub mod debug;
pub mod device;
pub mod error;
pub mod fleet;
pub mod mutation;
pub mod progress;
pub mod prompt;
pub mod release;
pub mod table;
pub mod yaml;

use std::cell::{Cell, RefCell};
use std::io::{IsTerminal, Write};
use std::rc::Rc;

use serde::Serialize;

/// Where output goes, and how.
pub struct Printer {
    out: RefCell<Box<dyn Write>>,
    err: RefCell<Box<dyn Write>>,
    /// `--json`: data as JSON on stdout.
    pub json: bool,
    /// Errors as JSON on stdout: `--json`, or `BALENA_CONTENT_TYPE=json` (as the official
    /// CLI, which then still prints data as text).
    pub json_errors: bool,
    /// Draw a progress bar on stderr (a terminal, and no `--debug` lines to interleave).
    pub progress_bar: bool,
    /// A JSON document went to stdout (so an error after it goes to stderr: stdout holds one
    /// document).
    json_written: Cell<bool>,
    /// stdout is a terminal (`--view` opens a browser only then).
    pub out_is_terminal: bool,
}

/// A buffer a [`Printer`] writes into (tests read it back).
#[derive(Clone, Default)]
pub struct Buffer(Rc<RefCell<Vec<u8>>>);

impl Buffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Printer {
    /// The process's stdout and stderr.
    pub fn stdio(json: bool, debug: bool) -> Printer {
        let content_type_json = std::env::var("BALENA_CONTENT_TYPE").is_ok_and(|v| v == "json");
        Printer {
            out: RefCell::new(Box::new(std::io::stdout())),
            err: RefCell::new(Box::new(std::io::stderr())),
            json,
            json_errors: json || content_type_json,
            progress_bar: std::io::stderr().is_terminal() && !debug,
            json_written: Cell::new(false),
            out_is_terminal: std::io::stdout().is_terminal(),
        }
    }

    /// A printer into two buffers: `(printer, stdout, stderr)`.
    pub fn buffered(json: bool) -> (Printer, Buffer, Buffer) {
        let (out, err) = (Buffer::default(), Buffer::default());
        let p = Printer {
            out: RefCell::new(Box::new(out.clone())),
            err: RefCell::new(Box::new(err.clone())),
            json,
            json_errors: json,
            progress_bar: false,
            json_written: Cell::new(false),
            out_is_terminal: false,
        };
        (p, out, err)
    }

    /// Writes `s` to stdout as is.
    pub fn out(&self, s: &str) {
        write_ignoring_epipe(&mut **self.out.borrow_mut(), s.as_bytes());
    }

    /// Lines to stdout through one buffer: `write` is handed a sink for each line.
    pub fn out_lines(&self, write: impl FnOnce(&mut dyn FnMut(&str))) {
        let mut out = self.out.borrow_mut();
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut **out);
        let mut failed = false;
        write(&mut |line: &str| {
            if !failed && w.write_all(line.as_bytes()).is_err() {
                // A closed pipe: drop the rest, as `out` does.
                failed = true;
            }
        });
        let _ = w.flush();
    }

    /// Whether a JSON document already went to stdout.
    pub fn wrote_json(&self) -> bool {
        self.json_written.get()
    }

    /// Writes `s` to stderr as is.
    pub fn err(&self, s: &str) {
        write_ignoring_epipe(&mut **self.err.borrow_mut(), s.as_bytes());
    }

    /// One line on stderr (confirmations, progress).
    pub fn note(&self, line: &str) {
        self.err(&format!("{line}\n"));
    }

    /// `warning: <line>` on stderr.
    pub fn warn(&self, line: &str) {
        self.err(&format!("warning: {line}\n"));
    }

    /// JSON with 2-space indentation and a final newline (the official CLI's `--json` shape).
    pub fn json_pretty<T: Serialize + ?Sized>(&self, v: &T) {
        self.json_out(|w| serde_json::to_writer_pretty(w, v));
    }

    /// Compact one-line JSON with a final newline (`release list --json`).
    pub fn json_compact<T: Serialize + ?Sized>(&self, v: &T) {
        self.json_out(|w| serde_json::to_writer(w, v));
    }

    /// Streams JSON into buffered stdout (no intermediate string: a large list stays one
    /// copy).
    fn json_out(&self, write: impl FnOnce(&mut dyn Write) -> serde_json::Result<()>) {
        self.json_written.set(true);
        let mut out = self.out.borrow_mut();
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut **out);
        // An error here is a closed pipe (values always serialise): drop it, as `out` does.
        let _ = write(&mut w)
            .map_err(std::io::Error::from)
            .and_then(|()| w.write_all(b"\n"))
            .and_then(|()| w.flush());
    }
}

fn write_ignoring_epipe(w: &mut dyn Write, b: &[u8]) {
    // Rust ignores SIGPIPE, so a closed pipe shows up as an error here: drop it.
    let _ = w.write_all(b).and_then(|()| w.flush());
}

/// The keys of `tail` (an object when serialised) after those of `head` (an object).
pub fn merged(mut head: serde_json::Value, tail: &impl Serialize) -> serde_json::Value {
    if let (serde_json::Value::Object(o), Ok(serde_json::Value::Object(t))) =
        (&mut head, serde_json::to_value(tail))
    {
        o.extend(t);
    }
    head
}

/// `3 devices`, `1 device`
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_printer() {
        let (p, out, err) = Printer::buffered(false);
        p.out("a\n");
        p.note("b");
        p.warn("c");
        p.json_pretty(&serde_json::json!({"k": [1]}));
        p.json_compact(&[1, 2]);
        assert_eq!(out.text(), "a\n{\n  \"k\": [\n    1\n  ]\n}\n[1,2]\n");
        assert_eq!(err.text(), "b\nwarning: c\n");
        assert_eq!(plural(1, "device", "devices"), "1 device");
        assert_eq!(plural(0, "device", "devices"), "0 devices");
    }
}
