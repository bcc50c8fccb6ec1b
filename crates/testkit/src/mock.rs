//! A recording httpmock server: every request is logged (method, path and query as sent,
//! body and a few headers), and answers are registered per exact `METHOD path?query`.

use std::sync::{Arc, Mutex};

use httpmock::{HttpMockRequest, MockServer};

use crate::run::ApiServer;

/// The API key the request-level tests log in with.
pub const TOKEN: &str = "testapikey0123456789";

/// One recorded request.
#[derive(Debug, Clone, PartialEq)]
pub struct Req {
    pub method: String,
    /// Path and query, exactly as sent.
    pub uri: String,
    pub body: String,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub client: Option<String>,
    pub content_type: Option<String>,
}

impl Req {
    /// `METHOD uri` (+ ` body` when there is one).
    pub fn line(&self) -> String {
        if self.body.is_empty() {
            format!("{} {}", self.method, self.uri)
        } else {
            format!("{} {} {}", self.method, self.uri, self.body)
        }
    }
}

/// A mock API server that records every request it receives.
pub struct Api {
    pub server: MockServer,
    log: Arc<Mutex<Vec<Req>>>,
}

/// Path and query as sent (httpmock's `uri_str` is the absolute URL).
pub fn path_and_query(req: &HttpMockRequest) -> String {
    req.uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default()
}

fn header(req: &HttpMockRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl Api {
    /// A mock server whose first mock records every request (and never matches).
    pub fn start() -> Api {
        let server = MockServer::start();
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let l = log.clone();
        server.mock(move |when, then| {
            when.is_true(move |req: &HttpMockRequest| {
                l.lock().unwrap().push(Req {
                    method: req.method().to_string(),
                    uri: path_and_query(req),
                    body: req.body_string(),
                    authorization: header(req, "authorization"),
                    user_agent: header(req, "user-agent"),
                    client: header(req, "x-balena-client"),
                    content_type: header(req, "content-type"),
                });
                false
            });
            then.status(599);
        });
        Api { server, log }
    }

    /// Answers `method uri` (exact path and query) with `status` and a JSON body.
    pub fn on(&self, method: &str, uri: &str, status: u16, body: &str) {
        self.on_with(method, uri, status, body, &[]);
    }

    /// [`Api::on`] with extra response headers.
    pub fn on_with(
        &self,
        method: &str,
        uri: &str,
        status: u16,
        body: &str,
        headers: &[(&str, &str)],
    ) {
        let m = method.to_owned();
        let u = uri.to_owned();
        let body = body.to_owned();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.server.mock(move |when, then| {
            when.is_true(move |req: &HttpMockRequest| {
                req.method().to_string() == m && path_and_query(req) == u
            });
            let mut then = then.status(status);
            if !body.is_empty() {
                then = then.header("content-type", "application/json; charset=utf-8");
            }
            for (k, v) in &headers {
                then = then.header(k.as_str(), v.as_str());
            }
            then.body(body.clone());
        });
    }

    /// Answers `method uri` once with `first`, then always with `second`.
    pub fn on_sequence(
        &self,
        method: &str,
        uri: &str,
        first: (u16, &str, &[(&str, &str)]),
        second: (u16, &str),
    ) {
        let m = method.to_owned();
        let u = uri.to_owned();
        let seen = Arc::new(Mutex::new(0usize));
        let s = seen.clone();
        let (m1, u1) = (m.clone(), u.clone());
        let b1 = first.1.to_owned();
        let h1: Vec<(String, String)> = first
            .2
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let st1 = first.0;
        self.server.mock(move |when, then| {
            when.is_true(move |req: &HttpMockRequest| {
                if req.method().to_string() == m1 && path_and_query(req) == u1 {
                    let mut n = s.lock().unwrap();
                    *n += 1;
                    *n == 1
                } else {
                    false
                }
            });
            let mut then = then.status(st1);
            for (k, v) in &h1 {
                then = then.header(k.as_str(), v.as_str());
            }
            then.body(b1.clone());
        });
        self.on(&m, &u, second.0, second.1);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }

    /// [`Req::line`] of every request received so far.
    pub fn lines(&self) -> Vec<String> {
        self.requests().iter().map(Req::line).collect()
    }

    /// e.g. `http://127.0.0.1:39421`
    pub fn url(&self) -> String {
        self.server.base_url()
    }
}

impl ApiServer for Api {
    fn api_url(&self) -> String {
        self.url()
    }

    /// [`TOKEN`].
    fn token(&self) -> String {
        TOKEN.to_owned()
    }
}
