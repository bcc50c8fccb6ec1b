//! Helpers shared by the sandbox's acceptance tests (on top of `tests/common`):
//! a raw HTTP/1.1 keep-alive client that sends request targets byte-for-byte, and a
//! structural JSON comparison that reports the first difference with its path.
//!
//! Each test binary only uses part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;

/// A response read off the wire.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    /// Header names lower-cased, in wire order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {:?}", self.text()))
    }
}

/// Turns a base URL such as `http://127.0.0.1:41234` (with or without a trailing slash)
/// into a socket address.
pub fn addr_of(base_url: &str) -> SocketAddr {
    let rest = base_url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http:// URL: {base_url}"));
    let host_port = rest.split('/').next().unwrap_or(rest);
    host_port
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("bad address {host_port}: {e}"))
        .next()
        .expect("no address")
}

/// A raw HTTP/1.1 client over one keep-alive TCP connection, reconnecting when the server
/// closes it. The request target is written exactly as given (no normalisation), which is
/// what the transcript replays and the fuzzer need.
pub struct RawClient {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    pub timeout: Duration,
}

impl RawClient {
    pub fn new(base_url: &str) -> Self {
        RawClient {
            addr: addr_of(base_url),
            conn: None,
            timeout: Duration::from_secs(30),
        }
    }

    fn connect(&mut self) -> std::io::Result<&mut BufReader<TcpStream>> {
        if self.conn.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, self.timeout)?;
            s.set_read_timeout(Some(self.timeout))?;
            s.set_write_timeout(Some(self.timeout))?;
            s.set_nodelay(true)?;
            self.conn = Some(BufReader::new(s));
        }
        Ok(self.conn.as_mut().expect("connected"))
    }

    /// Sends one request. `headers` are sent as given; `Host`, `Content-Length` and
    /// `Connection: keep-alive` are added. Retries once on a fresh connection if the
    /// kept-alive one turns out to be closed before any response byte arrives.
    pub fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> std::io::Result<Resp> {
        let mut req = Vec::with_capacity(256 + body.map_or(0, |b| b.len()));
        write!(req, "{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.addr)?;
        req.extend_from_slice(b"Connection: keep-alive\r\n");
        for (k, v) in headers {
            req.extend_from_slice(k.as_bytes());
            req.extend_from_slice(b": ");
            req.extend_from_slice(v.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        if let Some(b) = body {
            write!(req, "Content-Length: {}\r\n", b.len())?;
        } else if method != "GET" && method != "HEAD" {
            req.extend_from_slice(b"Content-Length: 0\r\n");
        }
        req.extend_from_slice(b"\r\n");
        if let Some(b) = body {
            req.extend_from_slice(b);
        }
        let reused = self.conn.is_some();
        match self.try_send(&req, method) {
            Ok(r) => Ok(r),
            Err(e) if reused && is_closed_conn(&e) => {
                self.conn = None;
                self.try_send(&req, method)
            }
            Err(e) => Err(e),
        }
    }

    fn try_send(&mut self, req: &[u8], method: &str) -> std::io::Result<Resp> {
        let result = (|| {
            let conn = self.connect()?;
            conn.get_mut().write_all(req)?;
            read_response(conn, method)
        })();
        match result {
            Ok((resp, keep)) => {
                if !keep {
                    self.conn = None;
                }
                Ok(resp)
            }
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }

    /// GET with an optional bearer token.
    pub fn get(&mut self, target: &str, token: Option<&str>) -> std::io::Result<Resp> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut h: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = &auth {
            h.push(("Authorization", a));
        }
        self.send("GET", target, &h, None)
    }

    /// A request with a JSON body and an optional bearer token.
    pub fn send_json(
        &mut self,
        method: &str,
        target: &str,
        token: Option<&str>,
        body: &Value,
    ) -> std::io::Result<Resp> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut h: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            h.push(("Authorization", a));
        }
        let b = serde_json::to_vec(body).expect("serialise");
        self.send(method, target, &h, Some(&b))
    }

    /// A request without a body (DELETE, or a PATCH we want empty).
    pub fn send_empty(
        &mut self,
        method: &str,
        target: &str,
        token: Option<&str>,
    ) -> std::io::Result<Resp> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut h: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = &auth {
            h.push(("Authorization", a));
        }
        self.send(method, target, &h, None)
    }
}

fn is_closed_conn(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}

/// Reads one response; returns it and whether the connection may be reused.
fn read_response(r: &mut BufReader<TcpStream>, method: &str) -> std::io::Result<(Resp, bool)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before the status line",
        ));
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad status line {line:?}"),
        )
    })?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed in the headers",
            ));
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let mut keep = version == "HTTP/1.1" && get("connection").as_deref() != Some("close");
    let mut body = Vec::new();
    let no_body =
        method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
    if no_body {
        // nothing
    } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size_line = String::new();
            r.read_line(&mut size_line)?;
            let size_hex = size_line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("bad chunk size {size_line:?}"),
                )
            })?;
            if size == 0 {
                // trailers
                loop {
                    let mut t = String::new();
                    r.read_line(&mut t)?;
                    if t.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
    } else if let Some(len) = get("content-length") {
        let len: usize = len.parse().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "bad content-length")
        })?;
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
        keep = false;
    }
    Ok((
        Resp {
            status,
            headers,
            body,
        },
        keep,
    ))
}

/// How a JSON comparison treats fields whose values legitimately differ between the
/// reference server and the sandbox.
#[derive(Debug, Clone, Copy, Default)]
pub struct Masks {
    /// `created_at`, `modified_at`, `update_timestamp`: any timestamp string is accepted
    /// (use only for rows created during the run).
    pub creation_timestamps: bool,
}

/// True for the API's timestamp format `2024-02-02T00:00:00.000Z`.
pub fn is_api_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && s.ends_with('Z')
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19, 23].contains(&i) || c.is_ascii_digit())
}

fn millis_of(ts: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Splits a draft release's raw version `1.7.0-1795797705401` into (`1.7.0`, ms).
fn draft_raw_version(s: &str) -> Option<(&str, &str)> {
    let (core, ms) = s.rsplit_once('-')?;
    (ms.len() >= 12 && ms.bytes().all(|c| c.is_ascii_digit())).then_some((core, ms))
}

/// Compares `actual` to `expected` structurally: same keys in the same order, same
/// values, with the masks described in `Masks`. Returns the first difference.
pub fn json_diff(expected: &Value, actual: &Value, masks: Masks) -> Result<(), String> {
    diff_at("$", expected, actual, masks, None)
}

fn diff_at(
    path: &str,
    e: &Value,
    a: &Value,
    m: Masks,
    created_ms: Option<i64>,
) -> Result<(), String> {
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => {
            let ek: Vec<&String> = eo.keys().collect();
            let ak: Vec<&String> = ao.keys().collect();
            if ek != ak {
                return Err(format!(
                    "{path}: keys differ\n  expected {ek:?}\n  got      {ak:?}"
                ));
            }
            // The millisecond timestamp a draft's raw_version carries is its created_at.
            let own_ms = if m.creation_timestamps {
                ao.get("created_at")
                    .and_then(Value::as_str)
                    .and_then(millis_of)
                    .or(created_ms)
            } else {
                created_ms
            };
            for (k, ev) in eo {
                let av = &ao[k];
                let p = format!("{path}.{k}");
                if m.creation_timestamps
                    && matches!(
                        k.as_str(),
                        "created_at" | "modified_at" | "update_timestamp"
                    )
                {
                    match (ev, av) {
                        (Value::String(_), Value::String(s)) if is_api_timestamp(s) => continue,
                        _ => return Err(format!("{p}: expected a timestamp like {ev}, got {av}")),
                    }
                }
                if m.creation_timestamps && k == "is_finalized_at__date" {
                    match (ev, av) {
                        (Value::Null, Value::Null) => continue,
                        (Value::String(_), Value::String(s)) if is_api_timestamp(s) => continue,
                        _ => return Err(format!("{p}: expected {ev}, got {av}")),
                    }
                }
                diff_at(&p, ev, av, m, own_ms)?;
            }
            Ok(())
        }
        (Value::Array(ea), Value::Array(aa)) => {
            if ea.len() != aa.len() {
                return Err(format!(
                    "{path}: expected {} elements, got {}\n  expected {e}\n  got      {a}",
                    ea.len(),
                    aa.len()
                ));
            }
            for (i, (ev, av)) in ea.iter().zip(aa).enumerate() {
                diff_at(&format!("{path}[{i}]"), ev, av, m, created_ms)?;
            }
            Ok(())
        }
        (Value::String(es), Value::String(as_))
            if m.creation_timestamps && draft_raw_version(es).is_some() =>
        {
            // A draft's raw version ends in its creation time in ms, which differs run to
            // run: it must be the row's own created_at.
            match (draft_raw_version(es), draft_raw_version(as_)) {
                (Some((ecore, _)), Some((acore, ams)))
                    if ecore == acore && created_ms.is_none_or(|ms| ms.to_string() == ams) =>
                {
                    Ok(())
                }
                _ => Err(format!(
                    "{path}: expected {e} (a draft version ending in the row's created_at in ms), got {a}"
                )),
            }
        }
        (Value::Number(en), Value::Number(an))
            if m.creation_timestamps
                && path.ends_with(".prerelease[0]")
                && en.as_i64().is_some_and(|x| x > 1_000_000_000_000) =>
        {
            // version.prerelease of a draft: [created_at ms]
            match (en.as_i64(), an.as_i64(), created_ms) {
                (Some(x), Some(y), Some(ms)) if x > 1_000_000_000_000 && y == ms => Ok(()),
                (Some(x), Some(y), None) if x > 1_000_000_000_000 && y > 1_000_000_000_000 => {
                    Ok(())
                }
                _ => Err(format!("{path}: expected {e}, got {a}")),
            }
        }
        _ if e == a => Ok(()),
        _ => Err(format!("{path}: expected {e}, got {a}")),
    }
}

/// Percent-encodes a string the way WHATWG `new URL()` encodes a query (what the SDK
/// sends): space, `"`, `'`, `<`, `>`, `#`, controls and non-ASCII bytes; plus the few
/// characters RFC 3986 forbids anywhere in a URI (`` ` `` `{` `}` `|` `\` `^`), which the
/// HTTP layer would reject before the sandbox sees the request.
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        if b <= 0x20
            || b >= 0x7f
            || matches!(
                b,
                b'"' | b'\'' | b'<' | b'>' | b'#' | b'`' | b'{' | b'}' | b'|' | b'\\' | b'^'
            )
        {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Percent-encodes everything that is not unreserved (for values inside string literals).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
