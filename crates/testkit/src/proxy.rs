//! A logging HTTP proxy on loopback: what a CLI sends to the proxy it is given.
//!
//! [`LoggingProxy::start`] listens on `127.0.0.1:0` (threads of the test process, stopped
//! when the proxy is dropped) and records every request it gets as a [`ProxyRequest`]: the
//! method and target, whether it was a `CONNECT`, and its headers (so a test can check that
//! no `Authorization` header, and no token, reached the proxy in clear text).
//!
//! It proxies to loopback only, so a test never touches another host:
//! - `CONNECT host:port` to a literal 127.0.0.0/8 address or `localhost`: connects, answers
//!   `200`, and tunnels the bytes both ways;
//! - `GET http://127.0.0.1:port/path` (an absolute URI): forwards the request (origin form,
//!   `Connection: close`) and relays the answer;
//! - anything else (another host, which it never resolves; an origin-form request) is
//!   answered `502` and closed.
//!
//! ```ignore
//! let proxy = LoggingProxy::start();
//! let env = TestEnv::logged_in(&sandbox).env("HTTPS_PROXY", &proxy.url);
//! env.run(&["fleet", "list"]).ok();
//! assert!(proxy.requests().is_empty());
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::fault::{answer, lock, read_request, Request};

/// One request the proxy got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    pub method: String,
    /// `host:port` for a `CONNECT`, else the request target as sent (an absolute URI).
    pub target: String,
    pub connect: bool,
    /// The header lines, in order (names as sent).
    pub headers: Vec<(String, String)>,
    /// What the proxy did: `"tunnelled"`, `"forwarded"`, or `"refused"` (answered 502).
    pub outcome: &'static str,
}

impl ProxyRequest {
    /// `METHOD target`, e.g. `CONNECT api.example.test:443`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.target)
    }

    /// The value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether an `Authorization` header was sent to the proxy.
    pub fn has_authorization(&self) -> bool {
        self.header("authorization").is_some()
    }

    /// Whether `text` appears in the request line or any header.
    pub fn contains(&self, text: &str) -> bool {
        self.target.contains(text)
            || self
                .headers
                .iter()
                .any(|(k, v)| k.contains(text) || v.contains(text))
    }
}

struct Shared {
    log: Mutex<Vec<ProxyRequest>>,
    stop: AtomicBool,
    open: AtomicUsize,
}

/// The proxy. Dropping it stops it (open tunnels end within [`POLL`]).
pub struct LoggingProxy {
    /// `http://127.0.0.1:<port>`: give this to the CLI as its proxy.
    pub url: String,
    pub port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

/// How long a connection may stay idle (no byte either way) before the proxy closes it.
const IDLE: Duration = Duration::from_secs(20);
/// How often blocked reads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// Connections served at once, at most; more are closed at once.
const MAX_OPEN: usize = 64;

impl LoggingProxy {
    pub fn start() -> LoggingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the logging proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            open: AtomicUsize::new(0),
        });
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        if s.open.fetch_add(1, Ordering::SeqCst) >= MAX_OPEN {
                            s.open.fetch_sub(1, Ordering::SeqCst);
                            continue;
                        }
                        let s = s.clone();
                        std::thread::spawn(move || {
                            serve(&s, conn);
                            s.open.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        LoggingProxy {
            url: format!("http://127.0.0.1:{port}"),
            port,
            shared,
            accept: Some(accept),
        }
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        lock(&self.shared.log).clone()
    }

    /// [`ProxyRequest::line`] of every request so far.
    pub fn lines(&self) -> Vec<String> {
        self.requests().iter().map(ProxyRequest::line).collect()
    }
}

impl Drop for LoggingProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// `host:port` when `host` is a literal 127.0.0.0/8 address or `localhost`; the only
/// places this proxy connects to.
fn loopback_target(authority: &str) -> Option<String> {
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let ok = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback());
    ok.then(|| format!("{host}:{port}"))
}

fn refuse(mut conn: TcpStream) {
    let _ = conn.write_all(&answer(
        502,
        "text/plain",
        "the test proxy connects to loopback only",
        None,
    ));
    let _ = conn.shutdown(Shutdown::Both);
}

fn serve(s: &Shared, mut conn: TcpStream) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(IDLE));
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    let connect = req.method.eq_ignore_ascii_case("CONNECT");
    let mut entry = ProxyRequest {
        method: req.method.clone(),
        target: req.target.clone(),
        connect,
        headers: req.headers.clone(),
        outcome: "refused",
    };
    if connect {
        let Some(up) = loopback_target(&req.target).and_then(|t| TcpStream::connect(t).ok()) else {
            lock(&s.log).push(entry);
            return refuse(conn);
        };
        entry.outcome = "tunnelled";
        lock(&s.log).push(entry);
        if conn
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .is_err()
        {
            return;
        }
        return tunnel(s, conn, up);
    }
    // An absolute URI: `http://host:port/path?query`.
    let forward_to = req
        .target
        .strip_prefix("http://")
        .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
        .and_then(|(authority, path)| Some((loopback_target(authority)?, format!("/{path}"))));
    let Some((authority, path)) = forward_to else {
        lock(&s.log).push(entry);
        return refuse(conn);
    };
    let resp = forward(&authority, &path, &req);
    entry.outcome = if resp.is_some() {
        "forwarded"
    } else {
        "refused"
    };
    lock(&s.log).push(entry);
    match resp {
        Some(r) => {
            let _ = conn.write_all(&r);
            let _ = conn.shutdown(Shutdown::Both);
        }
        None => refuse(conn),
    }
}

/// `req` to `authority` in origin form, without the proxy's own headers; the whole answer.
fn forward(authority: &str, path: &str, req: &Request) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(authority).ok()?;
    up.set_read_timeout(Some(IDLE)).ok()?;
    let mut out = format!("{} {path} HTTP/1.1\r\n", req.method).into_bytes();
    for (k, v) in &req.headers {
        let k_l = k.to_ascii_lowercase();
        if matches!(
            k_l.as_str(),
            "connection" | "keep-alive" | "proxy-connection" | "proxy-authorization"
        ) {
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

/// Copies bytes both ways, each way until its end, until the proxy stops, or until
/// [`IDLE`] passes without a byte.
fn tunnel(s: &Shared, client: TcpStream, upstream: TcpStream) {
    let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let last = Arc::new(Mutex::new(Instant::now()));
    let pump = |mut from: TcpStream, mut to: TcpStream| {
        let _ = from.set_read_timeout(Some(POLL));
        let mut buf = [0u8; 16 * 1024];
        loop {
            if s.stop.load(Ordering::Relaxed) || lock(&last).elapsed() > IDLE {
                break;
            }
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    *lock(&last) = Instant::now();
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
        // A half close: the other way goes on until its own end.
        let _ = to.shutdown(Shutdown::Write);
    };
    std::thread::scope(|sc| {
        sc.spawn(|| pump(client, u2));
        sc.spawn(|| pump(upstream, c2));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream on loopback answering `200 <method> <target>` to each request (one per
    /// connection).
    fn upstream() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { continue };
                std::thread::spawn(move || {
                    if let Some(r) = read_request(&mut c) {
                        let body = format!("{} {}", r.method, r.target);
                        let _ = c.write_all(&answer(200, "text/plain", &body, None));
                    }
                });
            }
        });
        port
    }

    fn exchange(port: u16, request: &str) -> String {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn tunnels_to_loopback_and_logs() {
        let up = upstream();
        let p = LoggingProxy::start();
        let mut c = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            c,
            "CONNECT 127.0.0.1:{up} HTTP/1.1\r\nHost: 127.0.0.1:{up}\r\nProxy-Authorization: Basic dTpw\r\n\r\n"
        )
        .unwrap();
        let mut head = [0u8; 39];
        c.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 200 Connection established\r\n\r\n");
        // Through the tunnel: a request to the upstream itself.
        write!(
            c,
            "GET /inside HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n\r\n"
        )
        .unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        let out = String::from_utf8_lossy(&out);
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.ends_with("GET /inside"), "{out}");
        let log = p.requests();
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].line(), format!("CONNECT 127.0.0.1:{up}"));
        assert!(log[0].connect);
        assert_eq!(log[0].outcome, "tunnelled");
        assert_eq!(log[0].header("proxy-authorization"), Some("Basic dTpw"));
        // What went inside the tunnel is not the proxy's to see.
        assert!(!log[0].has_authorization());
        assert!(!log[0].contains("tok"));
    }

    #[test]
    fn forwards_absolute_uris_to_loopback() {
        let up = upstream();
        let p = LoggingProxy::start();
        let out = exchange(
            p.port,
            &format!(
                "GET http://127.0.0.1:{up}/v7/device?$top=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok\r\n\r\n"
            ),
        );
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.ends_with("GET /v7/device?$top=1"), "{out}");
        let log = p.requests();
        assert_eq!(log[0].outcome, "forwarded");
        assert!(!log[0].connect);
        // In clear text: the proxy saw it.
        assert!(log[0].has_authorization() && log[0].contains("tok"));
    }

    #[test]
    fn refuses_other_hosts_without_resolving_them() {
        let p = LoggingProxy::start();
        let out = exchange(
            p.port,
            "CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 502"), "{out}");
        let out = exchange(
            p.port,
            "GET http://10.0.0.1/x HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 502"), "{out}");
        let out = exchange(p.port, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 502"), "{out}");
        assert_eq!(
            p.lines(),
            [
                "CONNECT api.example.test:443",
                "GET http://10.0.0.1/x",
                "GET /x"
            ]
        );
        assert!(p.requests().iter().all(|r| r.outcome == "refused"));
    }
}
