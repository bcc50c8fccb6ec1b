//! `--debug`: the API client's `tracing` events as `[debug] …` lines on stderr. The client
//! never puts the token in an event; as a second guard, any occurrence of it is replaced
//! with `<redacted>` before the line is written.

use std::io::Write;

/// Installs the stderr writer for debug events (once per process).
pub fn install(token: Option<String>) {
    let make = move || Line {
        buf: Vec::new(),
        token: token.clone(),
    };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(make)
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// One event: collected, then written as `[debug] ` lines when dropped.
struct Line {
    buf: Vec<u8>,
    token: Option<String>,
}

impl Write for Line {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = render(&String::from_utf8_lossy(&self.buf), self.token.as_deref());
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// `[debug] ` before each line of `event`, with `token` redacted.
fn render(event: &str, token: Option<&str>) -> String {
    let text = match token {
        Some(t) if !t.is_empty() => event.replace(t, "<redacted>"),
        _ => event.to_owned(),
    };
    text.lines().map(|l| format!("[debug] {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_prefixed_and_the_token_redacted() {
        assert_eq!(
            render("GET http://x/v7/a?k=s3cr3t\n  -> 200\n", Some("s3cr3t")),
            "[debug] GET http://x/v7/a?k=<redacted>\n[debug]   -> 200\n"
        );
        assert_eq!(render("a\n", None), "[debug] a\n");
    }
}
