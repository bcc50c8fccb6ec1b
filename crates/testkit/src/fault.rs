//! A fault-injecting HTTP/1.1 proxy on loopback, between the CLI and a real sandbox.
//!
//! [`FaultProxy::start`] listens on `127.0.0.1:0` (threads of the test process, stopped
//! when the proxy is dropped). Each client connection carries one request: the proxy reads
//! it, decides by its [`Rule`]s (the first rule that matches the method and path prefix
//! and whose [`Hit`] selects this request; every matching rule counts it), and either forwards it to the upstream
//! (`Connection: close`, the answer read to its end) or injects a [`Fault`]. Every request
//! is recorded as a [`Seen`].
//!
//! ```ignore
//! let proxy = FaultProxy::start(&sandbox.base_url);
//! proxy.rule(Rule::new("PATCH", "/v7/application", Fault::ResetAfter).nth(1));
//! let env = TestEnv::logged_in_to(&proxy.base_url, &sandbox.api_key);
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What to do instead of (or around) a plain forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status and body without forwarding (`Retry-After` when given).
    Status {
        status: u16,
        body: String,
        content_type: String,
        retry_after: Option<u64>,
    },
    /// Reset the connection (RST) before forwarding: the server never sees the request.
    ResetBefore,
    /// Forward (the server applies it), then reset the client connection: the answer is
    /// lost.
    ResetAfter,
    /// Forward, then hold the connection without answering for this long (bounded), then
    /// close it: the client gives up first when its timeout is shorter.
    Stall(Duration),
    /// Forward, then send the head and only half of the body, and reset.
    Truncate,
    /// Forward, then answer the upstream's status with this body as `text/html`.
    NonJson(String),
    /// Forward after this delay, the answer unchanged.
    Delay(Duration),
}

impl Fault {
    /// A JSON error answer of `status` (`{"error":"injected <status>"}`).
    pub fn status(status: u16) -> Fault {
        Fault::Status {
            status,
            body: format!("{{\"error\":\"injected {status}\"}}"),
            content_type: "application/json".into(),
            retry_after: None,
        }
    }

    /// A `status` answer with an HTML page as its body.
    pub fn html(status: u16, page: &str) -> Fault {
        Fault::Status {
            status,
            body: page.to_owned(),
            content_type: "text/html; charset=utf-8".into(),
            retry_after: None,
        }
    }

    /// With a `Retry-After` header (a `Status` fault only).
    pub fn retry_after(mut self, seconds: u64) -> Fault {
        if let Fault::Status { retry_after, .. } = &mut self {
            *retry_after = Some(seconds);
        }
        self
    }

    fn label(&self) -> String {
        match self {
            Fault::Status { status, .. } => format!("status {status}"),
            Fault::ResetBefore => "reset before".into(),
            Fault::ResetAfter => "reset after".into(),
            Fault::Stall(_) => "stall".into(),
            Fault::Truncate => "truncate".into(),
            Fault::NonJson(_) => "non-json".into(),
            Fault::Delay(_) => "delay".into(),
        }
    }
}

/// Which of a rule's matching requests it applies to (counted from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    All,
    /// Only the Nth matching request.
    Nth(usize),
    /// The first N matching requests.
    First(usize),
}

/// A fault for the requests of one method (or any: `"*"`) under one path prefix.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: String,
    pub path_prefix: String,
    /// Text the request target (path and query) must also contain.
    pub containing: Option<String>,
    pub hit: Hit,
    pub fault: Fault,
    matched: usize,
}

impl Rule {
    /// Every matching request (see [`Rule::nth`], [`Rule::first`]).
    pub fn new(method: &str, path_prefix: &str, fault: Fault) -> Rule {
        Rule {
            method: method.to_ascii_uppercase(),
            path_prefix: path_prefix.to_owned(),
            containing: None,
            hit: Hit::All,
            fault,
            matched: 0,
        }
    }

    pub fn nth(mut self, n: usize) -> Rule {
        self.hit = Hit::Nth(n);
        self
    }

    /// Only requests whose target also contains `text` (e.g. a `$select`).
    pub fn containing(mut self, text: &str) -> Rule {
        self.containing = Some(text.to_owned());
        self
    }

    pub fn first(mut self, n: usize) -> Rule {
        self.hit = Hit::First(n);
        self
    }

    fn matches(&self, method: &str, target: &str) -> bool {
        let path = target.split('?').next().unwrap_or("");
        (self.method == "*" || self.method == method)
            && path.starts_with(&self.path_prefix)
            && self
                .containing
                .as_deref()
                .is_none_or(|t| target.contains(t))
    }

    /// Counts a matching request; whether the fault applies to it.
    fn fires(&mut self) -> bool {
        self.matched += 1;
        match self.hit {
            Hit::All => true,
            Hit::Nth(n) => self.matched == n,
            Hit::First(n) => self.matched <= n,
        }
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// The request target (path and query).
    pub target: String,
    /// Whether it reached the upstream.
    pub forwarded: bool,
    /// The fault applied, if any (`"reset after"`, `"status 503"`, …).
    pub fault: Option<String>,
    /// The status the upstream answered (forwarded requests).
    pub upstream_status: Option<u16>,
}

impl Seen {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

struct Shared {
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<Seen>>,
    stop: AtomicBool,
    upstream: String,
}

/// The proxy. Dropping it stops its threads.
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`: give this to the CLI as its API URL.
    pub base_url: String,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

/// The longest a stall holds a connection, whatever it asks.
const MAX_STALL: Duration = Duration::from_secs(30);
/// How long a connection may take to send its request, or the upstream its answer.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

impl FaultProxy {
    /// A proxy to `upstream` (`http://host:port`), without rules: everything is forwarded.
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = upstream
            .trim_end_matches('/')
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("not an http:// upstream: {upstream}"))
            .to_owned();
        let shared = Arc::new(Shared {
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            upstream,
        });
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || serve(&s, conn));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy {
            base_url,
            shared,
            accept: Some(accept),
        }
    }

    /// Adds a rule (after the existing ones: the first rule that fires wins).
    pub fn rule(&self, rule: Rule) -> &Self {
        lock(&self.shared.rules).push(rule);
        self
    }

    /// Removes every rule: from now on everything is forwarded.
    pub fn clear(&self) {
        lock(&self.shared.rules).clear();
    }

    /// Every request seen so far, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// The requests seen of `method` (`"*"`: any) under `path_prefix`.
    pub fn seen_of(&self, method: &str, path_prefix: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| (method == "*" || s.method == method) && s.path().starts_with(path_prefix))
            .collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A request as read off the client connection.
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) target: String,
    /// The head's header lines, without the request line.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

/// Sends `req` to the upstream with `Connection: close` and reads the whole answer.
fn forward(upstream: &str, req: &Request) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).ok()?;
    up.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method, req.target).into_bytes();
    for (k, v) in &req.headers {
        if k.eq_ignore_ascii_case("connection") || k.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&req.body);
    up.write_all(&out).ok()?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).ok()?;
    Some(resp)
}

pub(crate) fn status_of(resp: &[u8]) -> Option<u16> {
    let line_end = find(resp, b"\r\n")?;
    let line = String::from_utf8_lossy(&resp[..line_end]).into_owned();
    line.split(' ').nth(1)?.parse().ok()
}

/// An RST instead of a FIN: linger 0, then close.
fn reset(conn: TcpStream) {
    let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
    drop(conn);
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected",
    }
}

pub(crate) fn answer(
    status: u16,
    content_type: &str,
    body: &str,
    retry_after: Option<u64>,
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
        reason(status),
        body.len()
    );
    if let Some(s) = retry_after {
        head.push_str(&format!("retry-after: {s}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn serve(s: &Shared, mut conn: TcpStream) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    // Every matching rule counts the request; the first that fires applies.
    let fault = lock(&s.rules)
        .iter_mut()
        .filter(|r| r.matches(&req.method, &req.target))
        .map(|r| r.fires().then(|| r.fault.clone()))
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .next();
    let mut seen = Seen {
        method: req.method.clone(),
        target: req.target.clone(),
        forwarded: false,
        fault: fault.as_ref().map(Fault::label),
        upstream_status: None,
    };
    let record = |seen: Seen| lock(&s.seen).push(seen);
    match fault {
        Some(Fault::Status {
            status,
            body,
            content_type,
            retry_after,
        }) => {
            record(seen);
            let _ = conn.write_all(&answer(status, &content_type, &body, retry_after));
            let _ = conn.shutdown(Shutdown::Both);
            return;
        }
        Some(Fault::ResetBefore) => {
            record(seen);
            reset(conn);
            return;
        }
        Some(Fault::Delay(d)) => std::thread::sleep(d.min(MAX_STALL)),
        _ => {}
    }
    let resp = forward(&s.upstream, &req);
    seen.forwarded = resp.is_some();
    seen.upstream_status = resp.as_deref().and_then(status_of);
    record(seen);
    let Some(resp) = resp else {
        reset(conn);
        return;
    };
    match fault {
        Some(Fault::ResetAfter) => reset(conn),
        Some(Fault::Stall(d)) => {
            // Hold the connection (reading nothing) until the client gives up or the stall
            // ends, whichever comes first.
            let until = Instant::now() + d.min(MAX_STALL);
            let _ = conn.set_read_timeout(Some(Duration::from_millis(50)));
            let mut b = [0u8; 64];
            while Instant::now() < until {
                match conn.read(&mut b) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => break,
                }
            }
            reset(conn);
        }
        Some(Fault::Truncate) => {
            let body_at = find(&resp, b"\r\n\r\n").map_or(resp.len(), |i| i + 4);
            let keep = body_at + (resp.len() - body_at) / 2;
            let _ = conn.write_all(&resp[..keep]);
            let _ = conn.flush();
            std::thread::sleep(Duration::from_millis(20));
            reset(conn);
        }
        Some(Fault::NonJson(page)) => {
            let status = status_of(&resp).unwrap_or(200);
            let _ = conn.write_all(&answer(status, "text/html", &page, None));
            let _ = conn.shutdown(Shutdown::Both);
        }
        _ => {
            let _ = conn.write_all(&resp);
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny upstream: answers every request `200 {"n":<count>,"path":"<target>"}` and
    /// counts what it got.
    fn upstream() -> (String, Arc<Mutex<Vec<String>>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { continue };
                let g = g.clone();
                std::thread::spawn(move || {
                    if let Some(r) = read_request(&mut c) {
                        let n = {
                            let mut g = lock(&g);
                            g.push(format!("{} {}", r.method, r.target));
                            g.len()
                        };
                        let body = format!("{{\"n\":{n},\"path\":\"{}\"}}", r.target);
                        let _ = c.write_all(&answer(200, "application/json", &body, None));
                    }
                });
            }
        });
        (url, got)
    }

    fn get(base: &str, method: &str, target: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let mut c = TcpStream::connect(base.strip_prefix("http://").unwrap())?;
        c.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            c,
            "{method} {target} HTTP/1.1\r\nHost: x\r\ncontent-length: 2\r\n\r\n{{}}"
        )?;
        let mut resp = Vec::new();
        c.read_to_end(&mut resp)?;
        let status = status_of(&resp).ok_or(std::io::ErrorKind::InvalidData)?;
        let at = find(&resp, b"\r\n\r\n").unwrap() + 4;
        Ok((status, resp[at..].to_vec()))
    }

    #[test]
    fn forwards_and_records() {
        let (up, got) = upstream();
        let p = FaultProxy::start(&up);
        let (status, body) = get(&p.base_url, "GET", "/v7/device?$top=1").unwrap();
        assert_eq!(status, 200);
        assert_eq!(body, br#"{"n":1,"path":"/v7/device?$top=1"}"#);
        assert_eq!(lock(&got).as_slice(), ["GET /v7/device?$top=1"]);
        let seen = p.seen();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].forwarded);
        assert_eq!(seen[0].upstream_status, Some(200));
        assert_eq!(seen[0].fault, None);
        assert_eq!(seen[0].path(), "/v7/device");
    }

    #[test]
    fn status_rules_by_method_prefix_and_count() {
        let (up, got) = upstream();
        let p = FaultProxy::start(&up);
        p.rule(Rule::new("GET", "/v7/dev", Fault::status(503).retry_after(2)).nth(2));
        p.rule(Rule::new("GET", "/v7/dev", Fault::status(418)).containing("$top=9"));
        p.rule(
            Rule::new(
                "*",
                "/v7/application",
                Fault::html(500, "<title>Oops</title>"),
            )
            .first(1),
        );
        assert_eq!(get(&p.base_url, "GET", "/v7/device").unwrap().0, 200);
        let (s, b) = get(&p.base_url, "GET", "/v7/device").unwrap();
        assert_eq!(
            (s, b.as_slice()),
            (503, &br#"{"error":"injected 503"}"#[..])
        );
        assert_eq!(get(&p.base_url, "GET", "/v7/device").unwrap().0, 200);
        assert_eq!(get(&p.base_url, "PATCH", "/v7/device").unwrap().0, 200);
        let (s, b) = get(&p.base_url, "PATCH", "/v7/application(1)").unwrap();
        assert_eq!((s, b.as_slice()), (500, &b"<title>Oops</title>"[..]));
        assert_eq!(
            get(&p.base_url, "PATCH", "/v7/application(1)").unwrap().0,
            200
        );
        assert_eq!(get(&p.base_url, "GET", "/v7/device?$top=9").unwrap().0, 418);
        // The injected answers never reached the upstream.
        assert_eq!(lock(&got).len(), 4);
        assert_eq!(p.seen_of("GET", "/v7/device").len(), 4);
        assert_eq!(
            p.seen_of("*", "/").iter().filter(|s| !s.forwarded).count(),
            3
        );
    }

    #[test]
    fn resets_before_and_after_forwarding() {
        let (up, got) = upstream();
        let p = FaultProxy::start(&up);
        p.rule(Rule::new("PATCH", "/", Fault::ResetBefore).nth(1));
        p.rule(Rule::new("PATCH", "/", Fault::ResetAfter).nth(2));
        assert!(get(&p.base_url, "PATCH", "/a").is_err());
        assert_eq!(lock(&got).len(), 0);
        assert!(get(&p.base_url, "PATCH", "/b").is_err());
        // Applied, answer lost.
        assert_eq!(lock(&got).as_slice(), ["PATCH /b"]);
        assert_eq!(get(&p.base_url, "PATCH", "/c").unwrap().0, 200);
        let faults: Vec<_> = p
            .seen()
            .into_iter()
            .map(|s| (s.forwarded, s.fault))
            .collect();
        assert_eq!(
            faults,
            [
                (false, Some("reset before".into())),
                (true, Some("reset after".into())),
                (true, None)
            ]
        );
    }

    #[test]
    fn stall_truncate_non_json_and_delay() {
        let (up, _) = upstream();
        let p = FaultProxy::start(&up);
        p.rule(Rule::new(
            "GET",
            "/stall",
            Fault::Stall(Duration::from_millis(300)),
        ));
        p.rule(Rule::new("GET", "/cut", Fault::Truncate));
        p.rule(Rule::new(
            "GET",
            "/html",
            Fault::NonJson("<html>hi</html>".into()),
        ));
        p.rule(Rule::new(
            "GET",
            "/slow",
            Fault::Delay(Duration::from_millis(200)),
        ));
        let t = Instant::now();
        assert!(get(&p.base_url, "GET", "/stall").is_err());
        assert!(t.elapsed() >= Duration::from_millis(250));
        // A truncated answer: the head says more than the body holds.
        let mut c = TcpStream::connect(p.base_url.strip_prefix("http://").unwrap()).unwrap();
        write!(c, "GET /cut HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut resp = Vec::new();
        let _ = c.read_to_end(&mut resp);
        let at = find(&resp, b"\r\n\r\n").unwrap() + 4;
        let full = br#"{"n":2,"path":"/cut"}"#.len();
        assert_eq!(
            resp.len() - at,
            full / 2,
            "{}",
            String::from_utf8_lossy(&resp)
        );
        let (s, b) = get(&p.base_url, "GET", "/html").unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"<html>hi</html>"[..]));
        let t = Instant::now();
        assert_eq!(get(&p.base_url, "GET", "/slow").unwrap().0, 200);
        assert!(t.elapsed() >= Duration::from_millis(200));
        assert_eq!(p.seen().len(), 4);
    }
}
