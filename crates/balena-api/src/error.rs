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
    },

    /// The connection failed (after retries).
    #[error("network error: {detail}")]
    Network { detail: String },

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

    /// The API URL from the settings cannot be used.
    #[error("invalid API URL {url:?}: {detail}")]
    BadUrl { url: String, detail: String },
}

/// The message balena-request extracts from an error response body.
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
    }
}
