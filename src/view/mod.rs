//! The only code that writes to the terminal. Every human and JSON rendering is here, from
//! typed results, through a [`Printer`] that is handed its stdout and stderr (the real ones,
//! or buffers in tests).
//!
//! A closed pipe (EPIPE) is ignored, so `balena release list x | head -1` is quiet; any
//! other failed write to stdout (a full disk, a closed descriptor) is recorded, and the exit
//! path reports it ([`Printer::output_error`]).
//!
//! Terminal safety: human output never carries a control character that came from the
//! server. Everything written through [`Printer::out`] and [`Printer::err`] (so `note` and
//! `warn` too) goes through [`safe_text`], the table renderers escape every cell with
//! [`safe`], and list items (candidates, devices still behind) are escaped one by one. The
//! escapes are `\e` (ESC), `\a` (BEL), `\b`, `\f`, `\v`, `\r`, `\n`, `\t`, `\0` and `\xNN`
//! for other C0 controls and DEL, `\u{NN}` for C1 controls (U+0080–U+009F). A backslash is
//! left as is, so ordinary data keeps its bytes. JSON output is never escaped (JSON has its
//! own escapes), nor are clap's help and the completion scripts ([`Printer::out_raw`]).

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
pub mod waves;
pub mod yaml;

use std::borrow::Cow;
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
    /// The first failed write to stdout that was not a closed pipe.
    out_error: RefCell<Option<String>>,
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
            out: RefCell::new(stdout_writer()),
            err: RefCell::new(Box::new(std::io::stderr())),
            json,
            json_errors: json || content_type_json,
            progress_bar: progress::use_bar(
                std::io::stderr().is_terminal(),
                debug,
                std::env::var("TERM").ok().as_deref(),
            ),
            json_written: Cell::new(false),
            out_error: RefCell::new(None),
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
            out_error: RefCell::new(None),
            out_is_terminal: false,
        };
        (p, out, err)
    }

    /// Writes `s` to stdout, its control characters but `\n` and `\t` escapes
    /// ([`safe_text`]).
    pub fn out(&self, s: &str) {
        self.out_raw(&safe_text(s));
    }

    /// Writes `s` to stdout as is (clap's help, completion scripts, JSON text).
    pub fn out_raw(&self, s: &str) {
        let r = write_all_flush(&mut **self.out.borrow_mut(), s.as_bytes());
        self.record(r);
    }

    /// Lines to stdout through one buffer: `write` is handed a sink for each line.
    pub fn out_lines(&self, write: impl FnOnce(&mut dyn FnMut(&str))) {
        let mut out = self.out.borrow_mut();
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut **out);
        let mut result = Ok(());
        write(&mut |line: &str| {
            if result.is_ok() {
                // After a failure (a closed pipe, a full disk) the rest is dropped.
                result = w.write_all(safe_text(line).as_bytes());
            }
        });
        let result = result.and_then(|()| w.flush());
        drop(w);
        drop(out);
        self.record(result);
    }

    /// The first failed write to stdout that was not a closed pipe (EPIPE): the exit path
    /// reports it, and the command exits non-zero.
    pub fn output_error(&self) -> Option<String> {
        self.out_error.borrow().clone()
    }

    /// Keeps the first non-EPIPE write error.
    fn record(&self, r: std::io::Result<()>) {
        if let Err(e) = r {
            if e.kind() != std::io::ErrorKind::BrokenPipe && self.out_error.borrow().is_none() {
                *self.out_error.borrow_mut() = Some(e.to_string());
            }
        }
    }

    /// Whether a JSON document already went to stdout.
    pub fn wrote_json(&self) -> bool {
        self.json_written.get()
    }

    /// Writes `s` to stderr, its control characters but `\n` and `\t` escaped. A failure
    /// there has nowhere to be told, and is dropped.
    pub fn err(&self, s: &str) {
        let _ = write_all_flush(&mut **self.err.borrow_mut(), safe_text(s).as_bytes());
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
        // An error here is a failed write (values always serialise).
        let r = write(&mut w)
            .map_err(std::io::Error::from)
            .and_then(|()| w.write_all(b"\n"))
            .and_then(|()| w.flush());
        drop(w);
        drop(out);
        self.record(r);
    }
}

/// A JSON document written to stdout in pieces, across awaits (a list decoded page by
/// page): the pieces are gathered into blocks of 64 KiB, and each block is written with
/// stdout borrowed only for that write. After a failed write the rest is dropped (the error is
/// recorded as for any other output). [`JsonStream::finish`] ends the document with `\n`.
/// A command that fails before the first block is out prints its error as the one document
/// on stdout, as if nothing had been started.
pub struct JsonStream<'p> {
    printer: &'p Printer,
    buf: Vec<u8>,
    failed: bool,
}

const STREAM_BLOCK: usize = 64 * 1024;

impl Printer {
    /// Starts a JSON document on stdout (see [`JsonStream`]).
    pub fn json_stream(&self) -> JsonStream<'_> {
        JsonStream {
            printer: self,
            buf: Vec::with_capacity(STREAM_BLOCK + 4096),
            failed: false,
        }
    }
}

impl JsonStream<'_> {
    /// Appends JSON text (already valid in its place).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= STREAM_BLOCK {
            self.flush();
        }
    }

    /// The buffer to append to directly, e.g. with `serde_json::to_writer`; call
    /// [`JsonStream::written`] after.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Writes a full block out, after appending through [`JsonStream::buffer`].
    pub fn written(&mut self) {
        if self.failed {
            self.buf.clear();
        } else if self.buf.len() >= STREAM_BLOCK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        // Until the first block is out, an error can still be the one document on stdout.
        self.printer.json_written.set(true);
        let r = write_all_flush(&mut **self.printer.out.borrow_mut(), &self.buf);
        self.buf.clear();
        if r.is_err() {
            self.failed = true;
        }
        self.printer.record(r);
    }

    /// Writes `v` laid out as `serde_json::to_writer_pretty` lays it out at `depth` levels
    /// inside a document (every line after its first indented by two spaces a level), as
    /// it serialises: a large value is never held whole.
    pub fn pretty<T: serde::Serialize + ?Sized>(&mut self, v: &T, depth: usize) {
        let mut w = Indented { out: self, depth };
        // Values always serialise, and a stream's writes never fail (a failed stdout is
        // recorded and the rest dropped).
        let _ = serde_json::to_writer_pretty(&mut w, v);
    }

    /// The final `\n`, and everything still buffered, to stdout.
    pub fn finish(mut self) {
        self.push(b"\n");
        if !self.failed && !self.buf.is_empty() {
            self.flush();
        }
    }
}

/// Pretty JSON into a [`JsonStream`], each line break followed by the indentation of
/// `depth` levels. Every `\n` of serde_json's pretty output is layout (a line break in a
/// string is escaped).
struct Indented<'s, 'p> {
    out: &'s mut JsonStream<'p>,
    depth: usize,
}

impl Write for Indented<'_, '_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                self.out.push(b"\n");
                for _ in 0..self.depth {
                    self.out.push(b"  ");
                }
            }
            self.out.push(line);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's stdout. Rust's `Stdout` treats a closed descriptor (EBADF) as a sink that
/// accepts everything, so on Unix this is a duplicate of descriptor 1 as a plain file, whose
/// writes fail when it is closed; a descriptor that can't be duplicated (closed) is a writer
/// whose every write fails with that error.
fn stdout_writer() -> Box<dyn Write> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        match std::io::stdout().as_fd().try_clone_to_owned() {
            Ok(fd) => Box::new(std::fs::File::from(fd)),
            Err(e) => Box::new(Failing(e.kind(), e.to_string())),
        }
    }
    #[cfg(not(unix))]
    {
        Box::new(std::io::stdout())
    }
}

/// A writer whose every write fails (a stdout that is closed).
#[cfg(unix)]
struct Failing(std::io::ErrorKind, String);

#[cfg(unix)]
impl Write for Failing {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(self.0, self.1.clone()))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_all_flush(w: &mut dyn Write, b: &[u8]) -> std::io::Result<()> {
    // Rust ignores SIGPIPE, so a closed pipe shows up as an error here ([`Printer::record`]
    // drops it).
    w.write_all(b).and_then(|()| w.flush())
}

/// The escape of one control character (see the module's documentation).
fn escape_control(c: char, out: &mut String) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\u{b}' => out.push_str("\\v"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

fn escaped(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() && !keep(c) {
            escape_control(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Server data inside one line (a table cell, a name in a sentence, a list item): every
/// control character escaped, `\n` and `\t` included, so it can't break a row or move the
/// cursor. Text without control characters is returned as is.
pub fn safe(s: &str) -> Cow<'_, str> {
    escaped(s, |_| false)
}

/// Text of several lines: every control character escaped but `\n` and `\t`.
pub fn safe_text(s: &str) -> Cow<'_, str> {
    escaped(s, |c| c == '\n' || c == '\t')
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

#[cfg(test)]
mod safety_tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_ordinary_text_is_borrowed() {
        assert!(matches!(safe("door-1 日本 \\x"), Cow::Borrowed(_)));
        assert!(matches!(safe_text("a\n\tb"), Cow::Borrowed(_)));
        assert_eq!(
            safe("\u{1b}]0;t\u{7}\n\t\r\0\u{1}\u{7f}\u{85}\u{8}\u{c}\u{b}"),
            "\\e]0;t\\a\\n\\t\\r\\0\\x01\\x7f\\u{85}\\b\\f\\v"
        );
        assert_eq!(safe_text("a\u{1b}[2J\nb\tc\rd"), "a\\e[2J\nb\tc\\rd");
    }

    #[test]
    fn the_printer_escapes_human_output_but_not_json() {
        let (p, out, err) = Printer::buffered(false);
        p.out("x\u{1b}[31m\n");
        p.note("y\u{7}");
        p.json_compact(&["\u{1b}"]);
        p.out_raw("\u{1b}raw");
        assert_eq!(out.text(), "x\\e[31m\n[\"\\u001b\"]\n\u{1b}raw");
        assert_eq!(err.text(), "y\\a\n");
        assert_eq!(p.output_error(), None);
    }

    struct Broken(std::io::ErrorKind);
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn into(kind: std::io::ErrorKind) -> Printer {
        let (mut p, _, _) = Printer::buffered(true);
        p.out = RefCell::new(Box::new(Broken(kind)));
        p
    }

    #[test]
    fn the_first_failed_write_is_kept_but_a_closed_pipe_is_not_an_error() {
        let p = into(std::io::ErrorKind::BrokenPipe);
        p.out("a\n");
        p.json_pretty(&1);
        p.out_lines(|w| w("l\n"));
        assert_eq!(p.output_error(), None);
        let p = into(std::io::ErrorKind::StorageFull);
        p.json_pretty(&1);
        p.out("a\n");
        assert!(p.output_error().is_some());
        let p = into(std::io::ErrorKind::Other);
        p.out_lines(|w| {
            w("a\n");
            w("b\n");
        });
        assert!(p.output_error().is_some());
    }
}
