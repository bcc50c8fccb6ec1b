//! The HTTP surface: routing, authentication, tenancy, and the JSON answers.
//!
//! Every request goes through one handler that runs the (synchronous) database work on
//! tokio's blocking pool: a GET or HEAD on one of the read-only connections of the
//! [`Store`], so reads run in parallel; anything else on its one writer connection, so
//! writes are serialised, and every write is committed before its answer is sent.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Value as Json};

use crate::db;
use crate::log::RequestLog;
use crate::odata::{self, ParseError};
use crate::query::{self, Access};
use crate::rules::{self, ApiError, WriteMode};
use crate::schema::{self, Guest};
use crate::store::Store;

pub struct AppState {
    pub store: Store,
    pub log: Option<RequestLog>,
}

/// An answer before it becomes an HTTP response.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Option<(&'static str, Vec<u8>)>,
}

const JSON_TYPE: &str = "application/json; charset=utf-8";

/// The longest request URL (path and query) answered; a longer one gets 431, as the real
/// server (Node's 16 KB header limit) answers it.
pub const MAX_URL_BYTES: usize = 16 * 1024;

impl Answer {
    pub fn json(status: u16, v: &Json) -> Self {
        Answer {
            status,
            // `to_vec` writes straight into the buffer (`to_string` goes through `fmt`).
            body: Some((
                JSON_TYPE,
                serde_json::to_vec(v).expect("a JSON value always serialises"),
            )),
        }
    }
    /// An answer whose body is JSON text already.
    pub fn json_text(status: u16, body: Vec<u8>) -> Self {
        Answer {
            status,
            body: Some((JSON_TYPE, body)),
        }
    }
    pub fn empty(status: u16) -> Self {
        Answer { status, body: None }
    }
    fn text(status: u16, s: &str) -> Self {
        Answer {
            status,
            body: Some(("text/plain; charset=utf-8", s.as_bytes().to_vec())),
        }
    }
}

impl From<ApiError> for Answer {
    fn from(e: ApiError) -> Self {
        match e.message {
            Some(m) => Answer::json(e.status, &Json::String(m)),
            None => Answer::empty(e.status),
        }
    }
}

pub fn router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

/// The largest request head (request line and headers) read. A larger one is answered 431
/// by hyper; below it, URLs over [`MAX_URL_BYTES`] get 431 from [`handle`]. Without this
/// limit hyper would answer URLs over 64 KiB with 414.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves `router` over HTTP/1.1 on `listener` until `shutdown` completes, then gives the
/// open connections up to a second to finish their requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.max_header_size(MAX_HEAD_BYTES);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    eprintln!("balena-sandbox: accepting a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that goes away mid-request is not an error of the server.
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), graceful.shutdown()).await;
}

async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024).await {
        Ok(b) => b.to_vec(),
        Err(_) => Vec::new(),
    };
    let url_len = uri.path_and_query().map_or(0, |p| p.as_str().len());
    let answer = if url_len > MAX_URL_BYTES {
        Answer::empty(431)
    } else {
        let st = state.clone();
        let m2 = method.clone();
        let u2 = uri.clone();
        tokio::task::spawn_blocking(move || {
            // Only GET and HEAD are pure reads (a login creates a session, a key request
            // creates a key): everything else takes the writer.
            if m2 == Method::GET || m2 == Method::HEAD {
                st.store
                    .read(|conn| dispatch(conn, &m2, &u2, &headers, &body))
            } else {
                st.store
                    .write(|conn| dispatch(conn, &m2, &u2, &headers, &body))
            }
        })
        .await
        .unwrap_or_else(|_| Answer::empty(500))
    };
    if let Some(log) = &state.log {
        log.write(
            method.as_str(),
            uri.path(),
            uri.query(),
            answer.status,
            started.elapsed(),
        );
    }
    let (content_type, body) = match answer.body {
        Some((ct, b)) => (Some(ct), Body::from(b)),
        None => (None, Body::empty()),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    if let Some(ct) = content_type {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    resp
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(token.trim())
    } else {
        None
    }
}

/// Resolves the caller: a user with a valid key, or the anonymous guest.
fn access_of(conn: &Connection, headers: &HeaderMap) -> Access {
    match bearer(headers).map(|t| db::user_of_key(conn, t)) {
        Some(Ok(Some(user))) => Access::User(user),
        _ => Access::Guest,
    }
}

pub fn dispatch(
    conn: &mut Connection,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let path = uri.path();
    let access = access_of(conn, headers);
    let result = if let Some(rest) = path.strip_prefix("/v7/") {
        v7(conn, access, method, uri, rest, body)
    } else if path == "/ping" && (method == Method::GET || method == Method::HEAD) {
        Ok(Answer::text(200, "OK"))
    } else if path == "/actor/v1/whoami" && method == Method::GET {
        whoami(conn, access, true)
    } else if path == "/user/v1/whoami" && method == Method::GET {
        whoami(conn, access, false)
    } else if path == "/login_" && method == Method::POST {
        login(conn, headers, body)
    } else if path == "/api-key/user/full" && method == Method::POST {
        new_user_key(conn, access, body)
    } else if let (Some(uuid), true) = (
        path.strip_prefix("/device/v3/")
            .and_then(|p| p.strip_suffix("/state")),
        method == Method::GET,
    ) {
        device_state(conn, access, uuid)
    } else {
        Ok(Answer::empty(404))
    };
    result.unwrap_or_else(Answer::from)
}

fn user_row(
    conn: &Connection,
    user: i64,
) -> Result<Option<(i64, String, Option<String>)>, ApiError> {
    Ok(conn
        .query_row(
            "SELECT \"actor\", \"username\", \"email\" FROM t_user WHERE \"id\" = ?1",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

fn whoami(conn: &Connection, access: Access, actor: bool) -> Result<Answer, ApiError> {
    let Access::User(user) = access else {
        return Ok(Answer::empty(401));
    };
    let Some((actor_id, username, email)) = user_row(conn, user)? else {
        return Ok(Answer::empty(401));
    };
    Ok(Answer::json(
        200,
        &if actor {
            json!({"id": actor_id, "actorType": "user", "actorTypeId": user, "username": username, "email": email})
        } else {
            json!({"id": user, "username": username, "email": email})
        },
    ))
}

/// `POST /login_` (open-balena-api `features/auth/login.ts`): `username` (a username or
/// an email) and `password`, as JSON or as a form. A session token as text/plain; a bare
/// 401 ("Unauthorized", as Express's `sendStatus`) for missing fields, an unknown user or
/// a wrong password.
fn login(conn: &Connection, headers: &HeaderMap, body: &[u8]) -> Result<Answer, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let field = |name: &str| -> Option<String> {
        if form {
            let text = String::from_utf8_lossy(body);
            text.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(&s.replace('+', " "))
                        .decode_utf8_lossy()
                        .into_owned()
                };
                (decode(k) == name).then(|| decode(v))
            })
        } else {
            let v: Json = serde_json::from_slice(body).ok()?;
            match v.get(name)? {
                Json::String(s) => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            }
        }
    };
    let unauthorized = || Answer::text(401, "Unauthorized");
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        return Ok(unauthorized());
    };
    if username.is_empty() || password.is_empty() {
        return Ok(unauthorized());
    }
    let Some(user) = db::user_of_password(conn, &username, &password)? else {
        return Ok(unauthorized());
    };
    let Some((_, name, email)) = user_row(conn, user)? else {
        return Ok(unauthorized());
    };
    let token = db::new_session(conn, user, &name, email.as_deref())?;
    // Express answers `res.header('content-type', 'text/plain').send(token)` with a
    // charset.
    Ok(Answer::text(200, &token))
}

fn new_user_key(conn: &Connection, access: Access, body: &[u8]) -> Result<Answer, ApiError> {
    let Access::User(user) = access else {
        return Ok(Answer::empty(401));
    };
    let parsed: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
    let name = parsed.get("name").and_then(Json::as_str);
    let key = db::random_key();
    db::add_api_key(conn, user, &key, name)?;
    Ok(Answer::json(200, &Json::String(key)))
}

fn device_state(conn: &Connection, access: Access, uuid: &str) -> Result<Answer, ApiError> {
    if access == Access::Guest {
        return Ok(Answer::empty(401));
    }
    let key = odata::Key::Alternate {
        field: "uuid".into(),
        value: odata::Literal::String(uuid.to_string()),
    };
    let ids = query::matching_ids(conn, access, &schema::DEVICE, Some(&key), None)?;
    let Some(&id) = ids.first() else {
        return Ok(Answer::empty(404));
    };
    let target_sql = schema::DEVICE_TARGET_SQL.replace("{t}", "d");
    let sql = format!(
        "SELECT d.\"device_name\", a.\"uuid\", a.\"id\", a.\"app_name\", a.\"is_host\", a.\"is_of__class\", r.\"commit\", r.\"id\" \
         FROM t_device d JOIN t_application a ON a.\"id\" = d.\"belongs_to__application\" \
         LEFT JOIN t_release r ON r.\"id\" = {target_sql} WHERE d.\"id\" = ?1"
    );
    let row = conn
        .query_row(&sql, [id], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<bool>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<i64>>(7)?,
            ))
        })
        .optional()?;
    let Some((name, app_uuid, app_id, app_name, is_host, class, commit, release)) = row else {
        return Ok(Answer::empty(404));
    };
    let mut releases = serde_json::Map::new();
    if let (Some(c), Some(r)) = (commit, release) {
        releases.insert(c, json!({ "id": r }));
    }
    let mut apps = serde_json::Map::new();
    apps.insert(
        app_uuid.unwrap_or_default(),
        json!({
            "id": app_id,
            "name": app_name,
            "is_host": is_host.unwrap_or(false),
            "class": class.unwrap_or_else(|| "fleet".into()),
            "releases": releases,
        }),
    );
    let mut out = serde_json::Map::new();
    out.insert(
        uuid.to_string(),
        json!({
            "name": name,
            "apps": apps,
            "config": {"RESIN_SUPERVISOR_POLL_INTERVAL": "600000"},
        }),
    );
    Ok(Answer::json(200, &Json::Object(out)))
}

fn v7(
    conn: &mut Connection,
    access: Access,
    method: &Method,
    uri: &axum::http::Uri,
    rest: &str,
    body: &[u8],
) -> Result<Answer, ApiError> {
    let received = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(uri.path());
    let malformed = |_: ParseError| ApiError::bad(format!("Malformed url: '{received}'"));
    let rp = odata::parse_resource_path(rest).map_err(malformed)?;
    let opts = odata::parse_query(uri.query().unwrap_or("")).map_err(malformed)?;
    let Some(res) = schema::resource(&rp.resource) else {
        // The real server answers an unknown resource with a bare 401 (transcript part 2
        // §24), whoever asks; the sandbox does the same.
        return Ok(Answer::empty(401));
    };
    let is_read = method == Method::GET || method == Method::HEAD;
    if access == Access::Guest && (!is_read || res.guest == Guest::Unauthorized) {
        return Ok(Answer::empty(401));
    }
    let key = rp.key.as_ref();
    if is_read {
        if rp.count {
            let n = query::count(conn, access, res, key, &opts)?;
            return Ok(Answer::json(200, &json!({ "d": n })));
        }
        let body = query::read_body(conn, access, res, key, &opts)?;
        return Ok(Answer::json_text(200, body));
    }
    if rp.count {
        return Err(ApiError::bad(format!("Malformed url: '{received}'")));
    }
    let parse_body = || -> Result<Json, ApiError> {
        serde_json::from_slice(body)
            .map_err(|_| ApiError::bad("The request body must be a JSON object"))
    };
    let tx = conn.transaction()?;
    let answer = match *method {
        Method::POST => {
            if key.is_some() {
                return Err(ApiError::bad(format!(
                    "POST is not allowed on a single {}",
                    res.name
                )));
            }
            let body = parse_body()?;
            let id = rules::create(&tx, access, res, &body, WriteMode::default())?;
            let row = query::read_first(
                &tx,
                Access::Root,
                res,
                Some(&odata::Key::Id(id)),
                &Default::default(),
            )?;
            Answer::json_text(201, row)
        }
        Method::PATCH | Method::PUT => {
            let body = parse_body()?;
            let ids = query::matching_ids(&tx, access, res, key, opts.filter.as_ref())?;
            rules::update(&tx, access, res, &ids, &body, WriteMode::default())?;
            Answer::empty(200)
        }
        Method::DELETE => {
            let ids = query::matching_ids(&tx, access, res, key, opts.filter.as_ref())?;
            rules::delete(&tx, res, &ids)?;
            Answer::empty(200)
        }
        _ => return Ok(Answer::empty(405)),
    };
    tx.commit()?;
    Ok(answer)
}
