//! Typed errors of the API client. The client never prints; `crate::error` maps these to
//! messages, hints and exit codes.

/// The byte-compatible message of the official CLI (U+201C/U+201D quotes).
pub const LOGIN_REQUIRED: &str =
    "Login required: use the \u{201c}balena login\u{201d} command to log in.";

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// No credentials at all, or the server answered 401.
    #[error("{LOGIN_REQUIRED}")]
    NotLoggedIn,

    /// A non-2xx answer (after any retries). `message` is extracted from the body the way
    /// balena-request does it (`error.text`, `message`, `error`, the text, or a default).
    #[error("Request error: {message}")]
    Http {
        status: u16,
        message: String,
        method: &'static str,
        /// The request path and query (no host, never the token).
        path: String,
        /// `Retry-After` in seconds, when the server sent one (429).
        retry_after: Option<u64>,
        /// The host (and port) that answered.
        host: String,
        /// How many times the request was sent.
        attempts: u32,
    },

    /// The connection failed (after retries).
    #[error("network error: {detail}")]
    Network { detail: String },

    /// The proxy in the way failed: it can't be reached, or it would not open a tunnel to
    /// the API. Nothing reached the API.
    #[error("network error: {detail}")]
    Proxy {
        detail: String,
        /// `scheme://host:port`, without credentials.
        proxy: String,
        /// Where the proxy setting came from (a file's path, a variable's name).
        setting: String,
        /// The proxy answered 407: it wants (other) credentials.
        auth_required: bool,
    },

    /// The request or connection timed out.
    #[error("network timeout: {detail}")]
    Timeout { detail: String },

    /// The server answered 2xx with a body that is not what the API returns.
    #[error("invalid response from the API ({method} {path}): {detail}")]
    Decode {
        method: &'static str,
        path: String,
        detail: String,
    },

    /// The token would go over plain http to a host that is not loopback.
    #[error("refusing to send the balena token over plain http to {host}")]
    InsecureUrl { host: String },

    /// The token cannot be sent as a header: a line break or another control character.
    #[error("the balena token is malformed: {detail}")]
    MalformedToken { detail: String },

    /// The request's URL would be longer than servers accept (an argument too long).
    #[error("an argument is too long: the request URL would be {len} bytes (at most {max})")]
    UrlTooLong { len: usize, max: usize },

    /// An `https://` URL whose port answers plain HTTP.
    #[error("TLS mismatch: {host} answered plain HTTP to an https:// request")]
    TlsMismatch { host: String },

    /// The API URL from the settings cannot be used.
    #[error("invalid API URL {url:?}: {detail}")]
    BadUrl { url: String, detail: String },
}

/// An HTML page's `<title>`, or its first line with text (tags removed), at most 200
/// characters; `None` when `body` is not HTML.
pub fn html_summary(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let head = lower.trim_start();
    if !(head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || lower.contains("<title"))
    {
        return None;
    }
    let clip = |t: &str| -> String {
        let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
        t.chars().take(200).collect()
    };
    if let Some(start) = lower.find("<title") {
        if let Some(gt) = lower[start..].find('>') {
            let from = start + gt + 1;
            if let Some(end) = lower[from..].find("</title") {
                let t = clip(&body[from..from + end]);
                if !t.is_empty() {
                    return Some(t);
                }
            }
        }
    }
    // No title: the first line with text once the tags are removed.
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(clip)
        .or_else(|| Some("an HTML page".into()))
}

/// The message balena-request extracts from an error response body; an HTML page gives
/// only its title or first line ([`html_summary`]).
pub fn error_message_from_body(body: &str, is_json: bool) -> String {
    if is_json {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
            if let Some(t) = v.pointer("/error/text").and_then(|t| t.as_str()) {
                return t.to_owned();
            }
            if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
                return m.to_owned();
            }
            if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                return e.to_owned();
            }
            if let Some(s) = v.as_str() {
                // open-balena answers rule violations with a JSON string.
                return s.to_owned();
            }
        }
    }
    if let Some(summary) = html_summary(body) {
        return summary;
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        "The request was unsuccessful".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_message_extraction() {
        assert_eq!(
            error_message_from_body(r#"{"error":{"text":"t"}}"#, true),
            "t"
        );
        assert_eq!(error_message_from_body(r#"{"message":"m"}"#, true), "m");
        assert_eq!(error_message_from_body(r#"{"error":"e"}"#, true), "e");
        assert_eq!(
            error_message_from_body(r#""It is necessary that ...""#, true),
            "It is necessary that ..."
        );
        assert_eq!(
            error_message_from_body("Not found text", false),
            "Not found text"
        );
        assert_eq!(
            error_message_from_body("", false),
            "The request was unsuccessful"
        );
        let page = format!(
            "<!DOCTYPE html>\n<html><head><title>502 Bad\n Gateway</title></head><body>{}</body></html>",
            "x".repeat(3000)
        );
        assert_eq!(error_message_from_body(&page, false), "502 Bad Gateway");
        assert_eq!(
            error_message_from_body(
                "<html>\n<body>\n<h1>Service down</h1>\n<p>later</p></body></html>",
                false
            ),
            "Service down"
        );
    }
}
