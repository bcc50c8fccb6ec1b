//! The HTTP client. It never prints: each request and its outcome are `tracing` debug
//! events (target `balena_api`; the token never appears in them), failures are typed
//! [`ApiError`]s.
//!
//! - The reqwest client is built lazily, on the first request, so commands that send nothing
//!   (and `--version`/`--help`, which never get here) pay nothing for TLS setup; and the TLS
//!   roots are loaded only for an https API.
//! - Retries: 429 (honouring an integer `Retry-After`, bounded), 502/503/504 and connection
//!   failures, for GET and PATCH (both idempotent here: PATCH is always by id). The one
//!   POST, `login`, is sent once. Exponential backoff with a total sleep budget.
//! - The token is never sent over plain http to a host that is not loopback.
//! - Proxies: only the one given in [`ClientConfig::proxy`] (the environment's proxy
//!   variables are not read here), never for a loopback API, nor for a host on
//!   [`ClientConfig::no_proxy`]. An https API is reached through a `CONNECT` tunnel, so
//!   the proxy never sees the `Authorization` header; a plain-http API off loopback is
//!   refused before anything is sent, proxy or not.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{self, ApiError};
use crate::proxy::{NoProxy, Proxy};

/// The longest request URL sent. Real servers refuse longer ones (431 or 414) and the
/// HTTP stack cannot even represent some: an argument that long is a usage error.
pub const MAX_URL: usize = 8 * 1024;

/// The crate's version, sent in the `User-Agent` and `X-Balena-Client` headers.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total number of attempts, including the first.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled each time.
    pub base_delay: Duration,
    /// Upper bound for one backoff sleep.
    pub max_delay: Duration,
    /// The longest `Retry-After` we are willing to wait for.
    pub max_retry_after: Duration,
    /// Total time spent sleeping between attempts, at most.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(20),
            budget: Duration::from_secs(30),
        }
    }
}

/// Where and how the client connects.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Scheme + host (+ port), without path and trailing slash, e.g. `https://api.balena-cloud.com`.
    pub api_origin: String,
    pub token: Option<String>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// The proxy for the API's requests, if any; not used for a loopback API or a host
    /// on [`ClientConfig::no_proxy`].
    pub proxy: Option<Proxy>,
    /// The hosts reached directly even when a proxy is set.
    pub no_proxy: NoProxy,
}

impl ClientConfig {
    /// `api_origin` with `token`, 10 s to connect, 60 s per request, the default retries.
    pub fn new(api_origin: impl Into<String>, token: Option<String>) -> ClientConfig {
        ClientConfig {
            api_origin: api_origin.into(),
            token,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            proxy: None,
            no_proxy: NoProxy::default(),
        }
    }
}

/// How the client reaches its API.
#[derive(Debug, Clone)]
enum Route {
    Direct,
    Proxy(Proxy),
    /// A proxy is set, and not used: `why`.
    Bypass {
        proxy: Proxy,
        why: &'static str,
    },
}

impl Route {
    fn of(cfg: &ClientConfig) -> Route {
        let Some(proxy) = cfg.proxy.clone() else {
            return Route::Direct;
        };
        match reqwest::Url::parse(&cfg.api_origin) {
            // The request fails on its URL before anything is sent.
            Err(_) => Route::Direct,
            Ok(u) if is_loopback(&u) => Route::Bypass {
                proxy,
                why: "the API is on loopback",
            },
            Ok(u) if cfg.no_proxy.matches(&u) => Route::Bypass {
                proxy,
                why: "the API's host is on the no-proxy list",
            },
            Ok(_) => Route::Proxy(proxy),
        }
    }

    fn proxy(&self) -> Option<&Proxy> {
        match self {
            Route::Proxy(p) => Some(p),
            _ => None,
        }
    }
}

/// A client of one API origin with one set of credentials. `Send + Sync`: share it by
/// reference between tasks.
pub struct Client {
    cfg: ClientConfig,
    route: Route,
    http: OnceLock<reqwest::Client>,
    sent: AtomicU32,
}

/// The `{"d":[…]}` envelope of every OData read.
#[derive(Deserialize)]
struct Rows<T> {
    d: Vec<T>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Get,
    Patch,
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Patch => "PATCH",
            Method::Post => "POST",
        }
    }
}

impl Client {
    /// A lazy client: nothing is set up or sent until the first request.
    pub fn new(cfg: ClientConfig) -> Client {
        Client {
            route: Route::of(&cfg),
            cfg,
            http: OnceLock::new(),
            sent: AtomicU32::new(0),
        }
    }

    pub fn api_origin(&self) -> &str {
        &self.cfg.api_origin
    }

    /// The proxy the requests go through: `None` when there is none, or when it is not
    /// used (a loopback API, a host on the no-proxy list).
    pub fn proxy(&self) -> Option<&Proxy> {
        self.route.proxy()
    }

    pub fn has_token(&self) -> bool {
        self.cfg.token.is_some()
    }

    /// Number of HTTP requests sent so far (retries included).
    pub fn requests_sent(&self) -> u32 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Fails with "Login required" without any request when there are no credentials.
    pub fn require_token(&self) -> Result<(), ApiError> {
        if self.cfg.token.is_none() {
            Err(ApiError::NotLoggedIn)
        } else {
            Ok(())
        }
    }

    fn client(&self) -> Result<&reqwest::Client, ApiError> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let ua = format!("balena-rs/{VERSION}");
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "X-Balena-Client",
            reqwest::header::HeaderValue::from_str(&ua).expect("ascii header"),
        );
        // The TLS roots only for an https API: loading the system's store costs milliseconds
        // that a plain-http (loopback) API never needs.
        let tls = self.cfg.api_origin.starts_with("https:");
        let setup_failed = |e: reqwest::Error| ApiError::Network {
            detail: format!("cannot set up the HTTP client: {e}"),
        };
        // `no_proxy()`: reqwest would read HTTP_PROXY, ALL_PROXY, NO_PROXY… by itself (and
        // use them for loopback too); the one proxy used is the route's.
        let mut b = reqwest::Client::builder()
            .no_proxy()
            .tls_built_in_root_certs(tls)
            .user_agent(ua)
            .default_headers(headers)
            .connect_timeout(self.cfg.connect_timeout)
            .timeout(self.cfg.request_timeout);
        match &self.route {
            Route::Direct => {}
            Route::Proxy(p) => {
                tracing::debug!("proxy: {} (from {})", p.redacted(), p.source());
                b = b.proxy(p.to_reqwest().map_err(setup_failed)?);
            }
            Route::Bypass { proxy, why } => tracing::debug!(
                "proxy {} (from {}) not used: {why}",
                proxy.redacted(),
                proxy.source()
            ),
        }
        let c = b.build().map_err(setup_failed)?;
        Ok(self.http.get_or_init(|| c))
    }

    fn check_secure(&self, url: &reqwest::Url) -> Result<(), ApiError> {
        if self.cfg.token.is_none() || url.scheme() != "http" {
            return Ok(());
        }
        // Through a proxy the token would reach the proxy in clear text. (A loopback API is
        // never proxied, see `Route::of`: this is the belt to those braces.)
        if is_loopback(url) && self.route.proxy().is_none() {
            return Ok(());
        }
        Err(ApiError::InsecureUrl {
            host: url.host_str().unwrap_or("").to_owned(),
        })
    }

    /// GET `/v7/<path>` (path and query, e.g. from [`crate::odata::path`]) and decode the
    /// rows of `{"d":[…]}` straight from the body. `T` may be a model of
    /// [`crate::models`], or `serde_json::Value` to keep the server's JSON as it is.
    pub async fn get<T: DeserializeOwned>(&self, v7path: &str) -> Result<Vec<T>, ApiError> {
        let path = format!("/v7/{v7path}");
        let body = self.request(Method::Get, &path, None).await?;
        serde_json::from_slice::<Rows<T>>(&body)
            .map(|r| r.d)
            .map_err(|e| decode_error("GET", path, &body, &e))
    }

    /// GET `/v7/<path>` and hand each row of `{"d":[…]}` to `row` as the server wrote it
    /// (its raw JSON text), while the body is still arriving: memory holds one row and one
    /// chunk, never the whole body. The request is retried as any GET until its answer
    /// starts; a body that breaks off, or is not `{"d":[…]}` of objects, is an error after
    /// the rows before the fault were handed over.
    pub async fn get_rows_raw(
        &self,
        v7path: &str,
        mut row: impl FnMut(&[u8]),
    ) -> Result<(), ApiError> {
        let path = format!("/v7/{v7path}");
        let mut resp = match self.request_reply(Method::Get, &path, None, true).await? {
            Reply::Open(r) => r,
            Reply::Body(b) => {
                let mut rows = crate::rows::Rows::new();
                return rows
                    .feed(&b, &mut row)
                    .and_then(|()| rows.finish())
                    .map_err(|e| stream_error("GET", &path, &e));
            }
        };
        let mut rows = crate::rows::Rows::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => rows
                    .feed(&chunk, &mut row)
                    .map_err(|e| stream_error("GET", &path, &e))?,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!("  the answer broke off: {}", describe_reqwest_error(&e));
                    return Err(transport_error(&e, self.route.proxy()));
                }
            }
        }
        rows.finish().map_err(|e| stream_error("GET", &path, &e))
    }

    /// `GET /v7/<resource>/$count?$filter=…`: how many rows of `resource` match `filter`.
    pub async fn count(
        &self,
        resource: &str,
        filter: crate::odata::Filter,
    ) -> Result<u64, ApiError> {
        #[derive(Deserialize)]
        struct Count {
            d: u64,
        }
        let q = crate::odata::Query::new().filter(filter);
        let path = format!(
            "/v7/{}",
            crate::odata::path(&format!("{resource}/$count"), &q)
        );
        let body = self.request(Method::Get, &path, None).await?;
        serde_json::from_slice::<Count>(&body)
            .map(|c| c.d)
            .map_err(|e| decode_error("GET", path, &body, &e))
    }

    /// GET `/v7/<path>` and the first row, if any.
    pub async fn get_one<T: DeserializeOwned>(&self, v7path: &str) -> Result<Option<T>, ApiError> {
        Ok(self.get(v7path).await?.into_iter().next())
    }

    /// PATCH `/v7/<path>` with a JSON body (one of [`crate::patch`]). The response body is
    /// ignored.
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        v7path: &str,
        body: &B,
    ) -> Result<(), ApiError> {
        let path = format!("/v7/{v7path}");
        let body = serde_json::to_string(body).map_err(|e| ApiError::Decode {
            method: "PATCH",
            path: path.clone(),
            detail: format!("cannot encode the body: {e}"),
        })?;
        self.request(Method::Patch, &path, Some(&body)).await?;
        Ok(())
    }

    /// POST `/v7/<resource>` with a JSON body: creates a row, and returns it as the server
    /// wrote it.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        resource: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let path = format!("/v7/{resource}");
        let body = serde_json::to_string(body).map_err(|e| ApiError::Decode {
            method: "POST",
            path: path.clone(),
            detail: format!("cannot encode the body: {e}"),
        })?;
        let answer = self.request(Method::Post, &path, Some(&body)).await?;
        serde_json::from_slice::<T>(&answer).map_err(|e| decode_error("POST", path, &answer, &e))
    }

    /// `GET /actor/v1/whoami`: who the credentials belong to, as the server says it (the
    /// keys vary with the kind of actor). A 401 is [`ApiError::NotLoggedIn`].
    pub async fn whoami(&self) -> Result<serde_json::Value, ApiError> {
        self.require_token()?;
        let path = "/actor/v1/whoami";
        let body = self.request(Method::Get, path, None).await?;
        serde_json::from_slice(&body).map_err(|e| decode_error("GET", path.to_owned(), &body, &e))
    }

    /// `POST /login_` with `{"username": email, "password": password}` (the SDK's
    /// `auth.authenticate`), without credentials: the session token the server answers
    /// (a JWT, as text). A 401 (wrong or unknown credentials) is [`ApiError::NotLoggedIn`].
    /// Sent once: a login is not retried.
    pub async fn login(&self, email: &str, password: &str) -> Result<String, ApiError> {
        let path = "/login_";
        let body = serde_json::json!({"username": email, "password": password}).to_string();
        let url_str = format!("{}{path}", self.cfg.api_origin);
        let url = reqwest::Url::parse(&url_str).map_err(|e| ApiError::BadUrl {
            url: url_str.clone(),
            detail: e.to_string(),
        })?;
        // A password is a credential too: never over plain http to another host.
        if url.scheme() == "http" && !is_loopback(&url) {
            return Err(ApiError::InsecureUrl {
                host: url.host_str().unwrap_or("").to_owned(),
            });
        }
        let client = self.client()?;
        let bytes = match self
            .attempt(client, Method::Post, &url, path, Some(&body), Mode::LOGIN)
            .await
            .map_err(|f| f.error)?
        {
            Reply::Body(b) => b,
            Reply::Open(r) => r
                .bytes()
                .await
                .map_err(|e| transport_error(&e, self.route.proxy()))?,
        };
        let token = String::from_utf8_lossy(&bytes).trim().to_owned();
        if token.is_empty() {
            return Err(ApiError::Decode {
                method: "POST",
                path: path.to_owned(),
                detail: "the server answered no session token".into(),
            });
        }
        Ok(token)
    }

    /// The guest trap: the server treats an unknown or expired token as an anonymous guest
    /// and answers lookups with no rows. Before reporting "not found", confirm the session.
    pub async fn confirm_session(&self) -> Result<(), ApiError> {
        self.whoami().await.map(|_| ())
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> Result<bytes::Bytes, ApiError> {
        match self.request_reply(method, path, body, false).await? {
            Reply::Body(b) => Ok(b),
            Reply::Open(r) => r
                .bytes()
                .await
                .map_err(|e| transport_error(&e, self.route.proxy())),
        }
    }

    /// A request, retried as [`Client::request`] says; with `open`, a 2xx answer comes back
    /// before its body is read ([`Reply::Open`]).
    async fn request_reply(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        open: bool,
    ) -> Result<Reply, ApiError> {
        // Every API call here needs credentials: without any, say so without a request.
        self.require_token()?;
        if let Some(t) = &self.cfg.token {
            check_token(t)?;
        }
        let url_str = format!("{}{}", self.cfg.api_origin, path);
        if url_str.len() > MAX_URL {
            return Err(ApiError::UrlTooLong {
                len: url_str.len(),
                max: MAX_URL,
            });
        }
        let url = reqwest::Url::parse(&url_str).map_err(|e| ApiError::BadUrl {
            url: url_str.clone(),
            detail: e.to_string(),
        })?;
        self.check_secure(&url)?;
        let client = self.client()?;
        let policy = self.cfg.retry;
        let slept = Mutex::new(Duration::ZERO);
        let attempts = AtomicU32::new(0);
        let attempt = || {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(
                client,
                method,
                &url,
                path,
                body,
                Mode {
                    send_token: true,
                    open,
                },
            )
        };
        let backoff = ExponentialBuilder::new()
            .with_min_delay(policy.base_delay)
            .with_max_delay(policy.max_delay)
            .with_factor(2.0)
            .with_max_times(policy.max_attempts.saturating_sub(1) as usize);
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|f: &Failure| f.retry.is_some())
            .adjust(|f, proposed| {
                let mut total = slept.lock().unwrap_or_else(|p| p.into_inner());
                let wait = next_wait(&policy, f.retry?, proposed?, *total)?;
                *total += wait;
                Some(wait)
            })
            .notify(|f, wait| {
                tracing::debug!(
                    "  {}retrying in {} ms",
                    if f.rate_limited { "rate limited; " } else { "" },
                    wait.as_millis()
                )
            })
            .await
            .map_err(|f| {
                let mut e = f.error;
                if let ApiError::Http { attempts: a, .. } = &mut e {
                    *a = attempts.load(Ordering::Relaxed);
                }
                e
            })
    }

    /// One request: the parsed body of a 2xx, or the error with whether (and how) it may be
    /// retried.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        method: Method,
        url: &reqwest::Url,
        path: &str,
        body: Option<&str>,
        mode: Mode,
    ) -> Result<Reply, Failure> {
        let Mode { send_token, open } = mode;
        let started = Instant::now();
        tracing::debug!("{} {}", method.as_str(), url);
        let token = self.cfg.token.as_ref().filter(|_| send_token);
        if token.is_some() {
            tracing::debug!("  Authorization: Bearer <redacted>");
        }
        match body {
            // The login body holds a password: never in the debug output.
            Some(_) if method == Method::Post => tracing::debug!("  body: <redacted>"),
            Some(b) => tracing::debug!("  body: {b}"),
            None => {}
        }
        let mut rb = match method {
            Method::Get => client.get(url.clone()),
            Method::Patch => client.patch(url.clone()),
            Method::Post => client.post(url.clone()),
        };
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_owned());
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                let failure = self.send_failure(&e, url);
                tracing::debug!(
                    "  failed after {} ms: {}",
                    started.elapsed().as_millis(),
                    match &failure.error {
                        ApiError::Network { detail }
                        | ApiError::Timeout { detail }
                        | ApiError::Proxy { detail, .. } => detail.clone(),
                        other => format!("{other} ({})", describe_reqwest_error(&e)),
                    }
                );
                return Err(failure);
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok());
        let is_json = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("application/json"));
        if open && (200..300).contains(&status) {
            tracing::debug!(
                "  -> {status} ({} ms, body follows)",
                started.elapsed().as_millis()
            );
            return Ok(Reply::Open(resp));
        }
        // The raw bytes: a success body is parsed from them without a UTF-8 copy.
        // A connection that dies in the middle of the answer is retried like a reset (GET
        // and PATCH are idempotent here; a timeout is not retried).
        let bytes = resp.bytes().await.map_err(|e| {
            tracing::debug!(
                "  the answer broke off after {} ms: {}",
                started.elapsed().as_millis(),
                describe_reqwest_error(&e)
            );
            Failure {
                error: transport_error(&e, self.route.proxy()),
                retry: (!e.is_timeout()).then_some(RetryHint::Backoff),
                rate_limited: false,
            }
        })?;
        tracing::debug!(
            "  -> {status} ({} ms, {} bytes)",
            started.elapsed().as_millis(),
            bytes.len()
        );

        if (200..300).contains(&status) {
            return Ok(Reply::Body(bytes));
        }
        if status == 401 {
            return Err(Failure::final_(ApiError::NotLoggedIn));
        }
        let retry = match status {
            502..=504 => Some(RetryHint::Backoff),
            429 => Some(match retry_after {
                Some(s) => RetryHint::After(Duration::from_secs(s)),
                None => RetryHint::Backoff,
            }),
            _ => None,
        };
        Err(Failure {
            error: ApiError::Http {
                status,
                message: error::error_message_from_body(&String::from_utf8_lossy(&bytes), is_json),
                method: method.as_str(),
                path: path.to_owned(),
                retry_after,
                host: host_port(url),
                attempts: 1,
            },
            retry,
            rate_limited: status == 429,
        })
    }
}

impl Client {
    /// What a request that got no answer at all failed of, and whether it may be retried.
    fn send_failure(&self, e: &reqwest::Error, url: &reqwest::Url) -> Failure {
        if let Some(host) = tls_mismatch(e, url) {
            // Configuration, not the network: another try answers the same.
            return Failure::final_(ApiError::TlsMismatch { host });
        }
        if let Some(f) = self.route.proxy().and_then(|p| proxy_failure(e, p, url)) {
            return f;
        }
        // A refused or reset connection may be retried; a timeout is not.
        let retriable = e.is_connect() || (e.is_request() && !e.is_timeout());
        Failure {
            error: transport_error(e, self.route.proxy()),
            retry: retriable.then_some(RetryHint::Backoff),
            rate_limited: false,
        }
    }
}

/// A failed attempt, as the retry loop sees it.
struct Failure {
    error: ApiError,
    /// `None`: final. Otherwise how long to wait before the next attempt.
    retry: Option<RetryHint>,
    rate_limited: bool,
}

impl Failure {
    fn final_(error: ApiError) -> Failure {
        Failure {
            error,
            retry: None,
            rate_limited: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryHint {
    /// The exponential backoff's next delay.
    Backoff,
    /// The server's `Retry-After`.
    After(Duration),
}

/// The wait before the next attempt, or `None` to give up: a `Retry-After` longer than the
/// policy allows, or a wait that would take the total past the budget.
fn next_wait(
    policy: &RetryPolicy,
    hint: RetryHint,
    proposed: Duration,
    slept: Duration,
) -> Option<Duration> {
    let wait = match hint {
        RetryHint::Backoff => proposed,
        RetryHint::After(d) if d <= policy.max_retry_after => d,
        RetryHint::After(_) => return None,
    };
    (slept + wait <= policy.budget).then_some(wait)
}

fn transport_error(e: &reqwest::Error, proxy: Option<&Proxy>) -> ApiError {
    let mut detail = describe_reqwest_error(e);
    if let Some(p) = proxy {
        detail.push_str(&format!(" (through the proxy {p}, from {})", p.source()));
    }
    if e.is_timeout() {
        ApiError::Timeout { detail }
    } else {
        ApiError::Network { detail }
    }
}

/// A 2xx body that is not what the API returns: not JSON at all (with its first
/// characters), or JSON of another shape.
/// How one attempt is made: with the token or not, and whether a 2xx answer comes back
/// before its body is read.
#[derive(Debug, Clone, Copy)]
struct Mode {
    send_token: bool,
    open: bool,
}

impl Mode {
    /// The login request: credentials in the body, never a token.
    const LOGIN: Mode = Mode {
        send_token: false,
        open: false,
    };
}

/// A success answer: its body, or the response whose body is still to be read.
enum Reply {
    Body(bytes::Bytes),
    Open(reqwest::Response),
}

fn stream_error(method: &'static str, path: &str, e: &crate::rows::RowsError) -> ApiError {
    ApiError::Decode {
        method,
        path: path.to_owned(),
        detail: e.to_string(),
    }
}

fn decode_error(
    method: &'static str,
    path: String,
    body: &[u8],
    e: &serde_json::Error,
) -> ApiError {
    let detail = if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() {
        format!(
            "the body is not JSON ({e}); it starts with {:?}",
            excerpt(&String::from_utf8_lossy(body))
        )
    } else {
        format!("expected {{\"d\":[…]}} of the resource's rows: {e}")
    };
    ApiError::Decode {
        method,
        path,
        detail,
    }
}

fn excerpt(s: &str) -> String {
    let t: String = s.chars().take(60).collect();
    t
}

fn describe_reqwest_error(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    // The innermost cause is the useful part ("Connection refused (os error 111)").
    let mut root: Option<String> = None;
    let mut src = e.source();
    while let Some(s) = src {
        root = Some(s.to_string());
        src = s.source();
    }
    let host = e
        .url()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let what = if e.is_connect() {
        format!("cannot connect to {host}")
    } else if e.is_timeout() {
        format!("no answer from {host} in time")
    } else {
        format!("request to {host} failed")
    };
    match root {
        Some(r) => format!("{what}: {r}"),
        None => what,
    }
}

/// A failure of the way to the API through `proxy`, named as the proxy's: the proxy can't
/// be reached, or it would not open a tunnel. `None` for the failures past the proxy.
fn proxy_failure(e: &reqwest::Error, proxy: &Proxy, url: &reqwest::Url) -> Option<Failure> {
    use std::error::Error as _;
    let mut chain = Vec::new();
    let mut src = e.source();
    while let Some(s) = src {
        chain.push(s.to_string());
        src = s.source();
    }
    let root = chain.last().cloned().unwrap_or_else(|| e.to_string());
    // hyper-util's tunnel (an https API): "tunnel error: <what>".
    let tunnel = chain
        .iter()
        .find_map(|s| s.strip_prefix("tunnel error: "))
        .map(str::to_owned);
    let target = format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    );
    let (detail, retry, auth_required) = match tunnel.as_deref() {
        Some("failed to create underlying connection") => (
            format!("cannot connect to the proxy {proxy}: {root}"),
            true,
            false,
        ),
        Some("proxy authorization required") => (
            format!(
                "the proxy {proxy} asks for credentials (407 Proxy Authentication Required) \
                 to open a tunnel to {target}"
            ),
            false,
            true,
        ),
        Some("unsuccessful") => (
            format!("the proxy {proxy} refused to open a tunnel to {target}"),
            true,
            false,
        ),
        Some(other) => (
            format!("the proxy {proxy} failed while opening a tunnel to {target}: {other}: {root}"),
            true,
            false,
        ),
        // A plain-http request goes to the proxy itself: a connection failure is the
        // proxy's. (Not reached in practice: plain http is only for loopback, never proxied.)
        None if url.scheme() == "http" && e.is_connect() && !e.is_timeout() => (
            format!("cannot connect to the proxy {proxy}: {root}"),
            true,
            false,
        ),
        None => return None,
    };
    Some(Failure {
        error: ApiError::Proxy {
            detail,
            proxy: proxy.address(),
            setting: proxy.source().to_owned(),
            auth_required,
        },
        retry: retry.then_some(RetryHint::Backoff),
        rate_limited: false,
    })
}

/// A token that cannot be a header value: a line break, another control character, or
/// characters outside visible ASCII.
fn check_token(token: &str) -> Result<(), ApiError> {
    let bad = |what: &str| {
        Err(ApiError::MalformedToken {
            detail: format!("it contains {what}"),
        })
    };
    if token.contains('\n') || token.contains('\r') {
        return bad("a line break (more than one line)");
    }
    if let Some(c) = token.chars().find(|c| c.is_control()) {
        return bad(&format!("the control character U+{:04X}", c as u32));
    }
    if token.chars().any(|c| !c.is_ascii_graphic() && c != ' ') {
        return bad("characters outside visible ASCII");
    }
    Ok(())
}

/// `host[:port]` of `url`.
fn host_port(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

/// The host of an `https://` request whose server answered plain HTTP (rustls reads the
/// HTTP answer as a corrupt TLS record).
fn tls_mismatch(e: &reqwest::Error, url: &reqwest::Url) -> Option<String> {
    use std::error::Error as _;
    if url.scheme() != "https" {
        return None;
    }
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if t.contains("InvalidContentType") || t.contains("corrupt message") {
            return Some(host_port(url));
        }
        src = s.source();
    }
    None
}

/// 127.0.0.0/8, ::1 and `localhost` (with or without a final dot). Not `*.localhost`: a
/// name is trusted only when it needs no resolver's goodwill.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let d = host.trim_end_matches('.').to_ascii_lowercase();
    d == "localhost"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens() {
        assert!(check_token("abc.DEF-123_x").is_ok());
        for t in ["a\nb", "a\rb", "a\u{1b}b", "a\tb", "a\u{e9}b"] {
            assert!(
                matches!(check_token(t), Err(ApiError::MalformedToken { .. })),
                "{t:?}"
            );
        }
    }

    #[test]
    fn loopback_detection() {
        for (u, want) in [
            ("http://127.0.0.1:48080", true),
            ("http://127.8.9.1", true),
            ("http://[::1]:80", true),
            ("http://localhost:1234", true),
            ("http://example.com", false),
            ("http://10.0.0.1", false),
            ("http://localhost.:1234", true),
            ("http://foo.localhost", false),
            ("http://localhost.example.com", false),
        ] {
            assert_eq!(is_loopback(&reqwest::Url::parse(u).unwrap()), want, "{u}");
        }
    }

    fn via(api: &str, no_proxy: &str) -> Client {
        let mut cfg = ClientConfig::new(api, Some("t0ken".into()));
        cfg.proxy = Some(Proxy::parse("http://u:pw@127.0.0.1:9", "HTTPS_PROXY").unwrap());
        cfg.no_proxy = NoProxy::parse(no_proxy);
        cfg.retry.max_attempts = 1;
        cfg.connect_timeout = Duration::from_secs(5);
        cfg.request_timeout = Duration::from_secs(5);
        Client::new(cfg)
    }

    #[test]
    fn a_loopback_api_is_never_proxied() {
        for api in [
            "http://127.0.0.1:48080",
            "http://127.3.4.5",
            "http://localhost:1",
            "https://LOCALHOST.",
            "http://[::1]:80",
        ] {
            // Not even when nothing is excluded.
            assert!(via(api, "").proxy().is_none(), "{api}");
            assert!(matches!(via(api, "").route, Route::Bypass { .. }), "{api}");
        }
        for api in [
            "https://api.example.test",
            "http://foo.localhost",
            "https://10.0.0.1",
        ] {
            assert_eq!(
                via(api, "").proxy().map(Proxy::address).as_deref(),
                Some("http://127.0.0.1:9"),
                "{api}"
            );
        }
        assert!(via("https://api.example.test", "*").proxy().is_none());
        assert!(via("https://api.example.test", ".example.test")
            .proxy()
            .is_none());
        assert!(via("https://api.example.test", "other.test")
            .proxy()
            .is_some());
        assert!(Client::new(ClientConfig::new("https://a.test", None))
            .proxy()
            .is_none());
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn plain_http_through_a_proxy_is_refused_before_sending() {
        let c = via("http://api.example.test", "");
        let e = block_on(c.get::<serde_json::Value>("device")).unwrap_err();
        assert!(
            matches!(&e, ApiError::InsecureUrl { host } if host == "api.example.test"),
            "{e:?}"
        );
        let e = block_on(c.login("me@example.test", "pw")).unwrap_err();
        assert!(matches!(e, ApiError::InsecureUrl { .. }), "{e:?}");
        assert_eq!(c.requests_sent(), 0);
    }

    /// A one-shot proxy on loopback: reads the CONNECT head and answers `answer` (or
    /// nothing, closing, when empty). Its address and the head it read.
    fn answering_proxy(answer: &'static str) -> (u16, std::thread::JoinHandle<String>) {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&b[..n]),
                }
            }
            let _ = c.write_all(answer.as_bytes());
            String::from_utf8_lossy(&head).into_owned()
        });
        (port, h)
    }

    fn through(port: u16) -> Client {
        let mut cfg = ClientConfig::new("https://api.example.test", Some("t0ken".into()));
        cfg.proxy = Some(Proxy::parse(&format!("http://u:pw@127.0.0.1:{port}"), "rc").unwrap());
        cfg.retry.max_attempts = 1;
        cfg.connect_timeout = Duration::from_secs(5);
        cfg.request_timeout = Duration::from_secs(5);
        Client::new(cfg)
    }

    #[test]
    fn proxy_failures_name_the_proxy() {
        // Nothing listening.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = block_on(through(port).get::<serde_json::Value>("device")).unwrap_err();
        let want = format!("network error: cannot connect to the proxy http://127.0.0.1:{port}: ");
        assert!(e.to_string().starts_with(&want), "{e}");
        assert!(
            matches!(&e, ApiError::Proxy { setting, auth_required: false, .. } if setting == "rc"),
            "{e:?}"
        );
        assert!(!format!("{e:?}").contains("pw"), "{e:?}");

        // A tunnel refused; the CONNECT carries the proxy's credentials, never the token.
        let (port, head) = answering_proxy("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
        let e = block_on(through(port).get::<serde_json::Value>("device")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "network error: the proxy http://127.0.0.1:{port} refused to open a tunnel to \
                 api.example.test:443"
            )
        );
        let head = head.join().unwrap();
        assert!(
            head.starts_with("CONNECT api.example.test:443 HTTP/1.1\r\n"),
            "{head}"
        );
        // base64("u:pw")
        assert!(head.contains("Basic dTpwdw=="), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("\nauthorization:"),
            "{head}"
        );
        assert!(!head.contains("t0ken"), "{head}");

        let (port, head) = answering_proxy("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
        let e = block_on(through(port).get::<serde_json::Value>("device")).unwrap_err();
        assert!(
            matches!(
                e,
                ApiError::Proxy {
                    auth_required: true,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("asks for credentials (407"), "{e}");
        head.join().unwrap();
    }

    #[test]
    fn retry_waits_follow_the_policy() {
        let p = RetryPolicy::default();
        let ms = Duration::from_millis;
        // The backoff's own delay, while the budget lasts.
        assert_eq!(
            next_wait(&p, RetryHint::Backoff, ms(500), ms(0)),
            Some(ms(500))
        );
        assert_eq!(next_wait(&p, RetryHint::Backoff, ms(500), p.budget), None);
        // Retry-After wins over the backoff, up to the bound.
        let after = RetryHint::After(Duration::from_secs(3));
        assert_eq!(
            next_wait(&p, after, ms(250), ms(0)),
            Some(Duration::from_secs(3))
        );
        let too_long = RetryHint::After(p.max_retry_after + ms(1));
        assert_eq!(next_wait(&p, too_long, ms(250), ms(0)), None);
    }
}
