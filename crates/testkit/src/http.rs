//! A raw HTTP/1.1 client over std's `TcpStream`: keep-alive, content-length and chunked
//! bodies, any method and body, request targets written exactly as given.

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// Two requests on one kept-alive connection: a chunked answer, then a sized one.
    #[test]
    fn keep_alive_chunked_and_sized_bodies() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().expect("accept");
            s.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut r = BufReader::new(s);
            let mut heads = Vec::new();
            for answer in [
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
                "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Y: z\r\n\r\n{}",
            ] {
                let mut head = String::new();
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).expect("read") == 0 || l == "\r\n" {
                        break;
                    }
                    head.push_str(&l);
                }
                if head.contains("Content-Length: 4") {
                    let mut b = [0u8; 4];
                    r.read_exact(&mut b).expect("body");
                    head.push_str(&String::from_utf8_lossy(&b));
                }
                heads.push(head);
                r.get_mut().write_all(answer.as_bytes()).expect("write");
            }
            heads
        });
        let mut c = RawClient::new(&base);
        let a = c.get("/a?$x=1%20eq", Some("k")).expect("first");
        assert_eq!((a.status, a.text().as_str()), (200, "abcde"));
        let b = c
            .send("PUT", "/b", &[("X-A", "1")], Some(b"body"))
            .expect("second");
        assert_eq!((b.status, b.header("x-y")), (201, Some("z")));
        assert_eq!(b.json(), serde_json::json!({}));
        let heads = server.join().expect("server");
        assert!(
            heads[0].starts_with("GET /a?$x=1%20eq HTTP/1.1\r\n"),
            "{heads:?}"
        );
        assert!(
            heads[0].contains("Authorization: Bearer k\r\n"),
            "{heads:?}"
        );
        assert!(heads[1].starts_with("PUT /b HTTP/1.1\r\n"), "{heads:?}");
        assert!(heads[1].ends_with("\r\nbody"), "{heads:?}");
    }
}
