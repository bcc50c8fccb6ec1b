//! Writes: validation, defaults, the server's rules and hooks (pin rules, tracking latest,
//! moving a device clears its pin, deletion guard, uniqueness, release versioning).
//!
//! Every function here runs inside the request's transaction; an error rolls it back.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value as Json};

use crate::db;
use crate::odata::Key;
use crate::query::{self, Access, QueryError};
use crate::schema::{self, Resource, Ty, Write};

pub const RULE_DEVICE_PIN: &str = "It is necessary that each release that is pinned to a device, has a status that is equal to \"success\" and belongs to an application1 that the device belongs to.";
pub const RULE_APP_TARGET: &str = "It is necessary that each release that should be running on an application, has a status that is equal to \"success\" and belongs to the application.";
pub const RULE_SUCCESS_COMMIT: &str = "It is necessary that each application that owns a release1 that has a status that is equal to \"success\" and has a commit1, owns at most one release2 that has a status that is equal to \"success\" and has a commit2 that is equal to the commit1.";
pub const DELETE_PINNED: &str = "Unable to delete a release because device(s) are pinned to it.";
pub const CHECK_CONSTRAINT: &str = "Check constraint violated";
pub const UNIQUE_CONSTRAINT: &str = "Unique key constraint violated";

const RELEASE_STATUSES: &[&str] = &[
    "running",
    "success",
    "failed",
    "error",
    "cancelled",
    "interrupted",
];
const RELEASE_SOURCES: &[&str] = &["cloud", "local"];
const RELEASE_PHASES: &[&str] = &["next", "current", "sunset", "end-of-life"];

/// An HTTP error answer: a status and an optional JSON-string body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: Some(message.into()),
        }
    }
    pub fn empty(status: u16) -> Self {
        ApiError {
            status,
            message: None,
        }
    }
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Bad(m) => ApiError::bad(m),
            QueryError::Unauthorized => ApiError::empty(401),
            // A statement SQLite refuses to run (too many terms or variables, too deep) comes
            // from an oversized query, not from a fault of the server.
            QueryError::Db(rusqlite::Error::SqliteFailure(f, msg))
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::Unknown | rusqlite::ErrorCode::TooBig
                ) =>
            {
                ApiError::bad(format!(
                    "The query is too large or too complex ({})",
                    msg.unwrap_or_else(|| f.to_string())
                ))
            }
            QueryError::Db(e) => e.into(),
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            {
                return ApiError::new(409, UNIQUE_CONSTRAINT);
            }
        }
        eprintln!("balena-sandbox: database error: {e}");
        ApiError::empty(500)
    }
}

type R<T> = Result<T, ApiError>;

fn referenced(field: &str) -> ApiError {
    ApiError::new(409, format!("Data is referenced by {field}."))
}

/// Options of a write that only seeding uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteMode {
    /// Fixtures may set `id`, `created_at` and fields the API keeps read-only.
    pub seed: bool,
}

/// Converts one JSON body value to the stored value of a field.
fn convert(res: &Resource, name: &str, ty: Ty, v: &Json) -> R<Value> {
    let invalid = || {
        ApiError::bad(format!(
            "Invalid value for field '{name}' of resource '{}'",
            res.name
        ))
    };
    Ok(match (ty, v) {
        (_, Json::Null) => Value::Null,
        (Ty::Int, Json::Number(n)) => Value::Integer(n.as_i64().ok_or_else(invalid)?),
        (Ty::Fk, Json::Number(n)) => Value::Integer(n.as_i64().ok_or_else(invalid)?),
        (Ty::Fk, Json::Object(o)) => match o.get("__id") {
            Some(Json::Number(n)) => Value::Integer(n.as_i64().ok_or_else(invalid)?),
            _ => return Err(invalid()),
        },
        (Ty::Bool, Json::Bool(b)) => Value::Integer(*b as i64),
        (Ty::Bool, Json::Number(n)) => match n.as_i64() {
            Some(0) => Value::Integer(0),
            Some(1) => Value::Integer(1),
            _ => return Err(invalid()),
        },
        (Ty::Text, Json::String(s)) => Value::Text(s.clone()),
        (Ty::Date, Json::String(s)) => Value::Text(db::normalize_date(s).ok_or_else(invalid)?),
        (Ty::Json, v) => Value::Text(v.to_string()),
        _ => return Err(invalid()),
    })
}

/// A checked write body: stored field name → value, plus the boolean inputs of writable
/// computed fields (a release's `is_final`), which the resource's hooks interpret.
#[derive(Debug)]
pub struct Body {
    values: Vec<(String, Value)>,
    flags: Vec<(String, bool)>,
}

impl Body {
    fn flag(&self, name: &str) -> Option<bool> {
        self.flags.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
    fn set_flag(&mut self, name: &str, v: bool) {
        match self.flags.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = v,
            None => self.flags.push((name.to_string(), v)),
        }
    }
    fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    fn set(&mut self, name: &str, v: Value) {
        if let Some(slot) = self.values.iter_mut().find(|(n, _)| n == name) {
            slot.1 = v;
        } else {
            self.values.push((name.to_string(), v));
        }
    }
    fn int(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            Some(Value::Integer(i)) => Some(*i),
            _ => None,
        }
    }
    fn text(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }
}

fn read_only(res: &Resource, name: &str) -> ApiError {
    ApiError::bad(format!(
        "Field '{name}' of resource '{}' is read-only",
        res.name
    ))
}

fn check_body(res: &'static Resource, body: &Json, creating: bool, mode: WriteMode) -> R<Body> {
    let obj = match body {
        Json::Object(o) => o,
        _ => return Err(ApiError::bad("The request body must be a JSON object")),
    };
    let mut out = Body {
        values: Vec::new(),
        flags: Vec::new(),
    };
    for (k, v) in obj {
        let field = match res.field(k) {
            Some(f) => f,
            None => {
                if mode.seed {
                    if let Some(&(name, ty)) = res.hidden_columns.iter().find(|(n, _)| n == k) {
                        out.values.push((k.clone(), convert(res, name, ty, v)?));
                        continue;
                    }
                }
                return Err(query::unknown_field(res, k).into());
            }
        };
        let allowed = mode.seed
            || match field.write {
                Write::Yes => true,
                Write::Create => creating,
                Write::No => false,
            };
        if !allowed {
            return Err(read_only(res, k));
        }
        if !field.stored() {
            if field.write != Write::No {
                res.hooks.computed_input(res, &mut out, k, v)?;
                continue;
            }
            if mode.seed {
                continue;
            }
            return Err(read_only(res, k));
        }
        out.values.push((k.clone(), convert(res, k, field.ty, v)?));
    }
    Ok(out)
}

/// Whether the row `id` of `res` exists and is visible to `access`.
fn visible(conn: &Connection, access: Access, res: &'static Resource, id: i64) -> R<bool> {
    Ok(!query::matching_ids(conn, access, res, Some(&Key::Id(id)), None)?.is_empty())
}

/// Checks every non-null foreign key of the body: the row must exist and be visible.
fn check_fks(conn: &Connection, access: Access, res: &'static Resource, body: &Body) -> R<()> {
    for (name, v) in &body.values {
        if let (Some(f), Value::Integer(id)) = (res.field(name), v) {
            if f.ty == Ty::Fk && !f.target.is_empty() {
                let target = schema::resource(f.target).ok_or_else(|| ApiError::empty(500))?;
                if !visible(conn, access, target, *id)? {
                    return Err(referenced(name));
                }
            }
        }
    }
    Ok(())
}

fn insert(conn: &Connection, table: &str, values: &[(String, Value)]) -> R<i64> {
    let cols: Vec<String> = values.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let ps: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        cols.join(", "),
        ps.join(", ")
    );
    conn.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(values.iter().map(|(_, v)| v)))?;
    Ok(conn.last_insert_rowid())
}

fn update_row(conn: &Connection, table: &str, id: i64, values: &[(String, Value)]) -> R<()> {
    update_where(
        conn,
        table,
        values,
        |k| format!("\"id\" = ?{k}"),
        Value::Integer(id),
    )
}

/// [`update_row`] of every row whose id is in `ids_json` (a JSON array), in one statement.
fn update_rows(
    conn: &Connection,
    table: &str,
    ids_json: &Value,
    values: &[(String, Value)],
) -> R<()> {
    let cond = |k| format!("\"id\" IN (SELECT \"value\" FROM json_each(?{k}))");
    update_where(conn, table, values, cond, ids_json.clone())
}

/// `UPDATE table SET values WHERE cond(k)`, where `?k` (after the values' parameters) is
/// bound to `key`. Nothing to set: no statement.
fn update_where(
    conn: &Connection,
    table: &str,
    values: &[(String, Value)],
    cond: impl FnOnce(usize) -> String,
    key: Value,
) -> R<()> {
    if values.is_empty() {
        return Ok(());
    }
    let sets: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, (n, _))| format!("\"{n}\" = ?{}", i + 1))
        .collect();
    let sql = format!(
        "UPDATE {table} SET {} WHERE {}",
        sets.join(", "),
        cond(values.len() + 1)
    );
    let mut params: Vec<Value> = values.iter().map(|(_, v)| v.clone()).collect();
    params.push(key);
    conn.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(params.iter()))?;
    Ok(())
}

fn one_i64(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> R<Option<i64>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params, |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten())
}

fn default(body: &mut Body, name: &str, v: Value) {
    if !body.has(name) {
        body.set(name, v);
    }
}

fn require_not_null(body: &Body, name: &str, res: &Resource) -> R<()> {
    match body.get(name) {
        None | Some(Value::Null) => Err(ApiError::bad(format!(
            "Field '{name}' of resource '{}' is required",
            res.name
        ))),
        _ => Ok(()),
    }
}

fn check_in(body: &Body, name: &str, allowed: &[&str]) -> R<()> {
    if let Some(v) = body.text(name) {
        if !allowed.contains(&v) {
            return Err(ApiError::bad(CHECK_CONSTRAINT));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Release versioning

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semver {
    pub major: i64,
    pub minor: i64,
    pub patch: i64,
    pub prerelease: String,
    pub build: String,
}

pub fn parse_semver(s: &str) -> Option<Semver> {
    let (rest, build) = match s.split_once('+') {
        Some((a, b)) => (a, b.to_string()),
        None => (s, String::new()),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((a, b)) => (a, b.to_string()),
        None => (rest, String::new()),
    };
    let mut parts = core.split('.');
    let mut num = || -> Option<i64> {
        let p = parts.next()?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 15 {
            return None;
        }
        p.parse().ok()
    };
    let (major, minor, patch) = (num()?, num()?, num()?);
    if parts.next().is_some() {
        return None;
    }
    let ident_ok = |x: &str| {
        x.is_empty()
            || x.split('.')
                .all(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    if !ident_ok(&pre) || !ident_ok(&build) || s.ends_with(['-', '+']) || s.contains("-+") {
        return None;
    }
    Some(Semver {
        major,
        minor,
        patch,
        prerelease: pre,
        build,
    })
}

fn ident_json(x: &str) -> Json {
    if !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()) && x.len() < 16 {
        if let Ok(n) = x.parse::<i64>() {
            return Json::from(n);
        }
    }
    Json::String(x.to_string())
}

/// `raw_version` and the `version` object of a release.
pub fn versions(
    sv: &Semver,
    variant: &str,
    revision: Option<i64>,
    created_ms: i64,
) -> (String, Json) {
    let core = format!("{}.{}.{}", sv.major, sv.minor, sv.patch);
    let pre = if !sv.prerelease.is_empty() {
        sv.prerelease.clone()
    } else if revision.is_none() {
        created_ms.to_string()
    } else {
        String::new()
    };
    let mut build = Vec::new();
    if !sv.build.is_empty() {
        build.push(sv.build.clone());
    }
    if let Some(r) = revision {
        if r > 0 {
            build.push(format!("rev{r}"));
        }
    }
    if !variant.is_empty() {
        build.push(variant.to_string());
    }
    let version = if pre.is_empty() {
        core
    } else {
        format!("{core}-{pre}")
    };
    let raw = if build.is_empty() {
        version.clone()
    } else {
        format!("{version}+{}", build.join("."))
    };
    let build_parts: Vec<Json> = build
        .iter()
        .flat_map(|b| b.split('.').map(ident_json).collect::<Vec<_>>())
        .collect();
    let pre_parts: Vec<Json> = if pre.is_empty() {
        Vec::new()
    } else {
        pre.split('.').map(ident_json).collect()
    };
    let mut m = Map::new();
    m.insert("raw".into(), Json::String(raw.clone()));
    m.insert("build".into(), Json::Array(build_parts));
    m.insert("major".into(), Json::from(sv.major));
    m.insert("minor".into(), Json::from(sv.minor));
    m.insert("patch".into(), Json::from(sv.patch));
    m.insert("version".into(), Json::String(version));
    m.insert("prerelease".into(), Json::Array(pre_parts));
    (raw, Json::Object(m))
}

/// The revision a release gets when it is finalised: one more than the highest revision of
/// the fleet's final releases with the same version, or 0.
fn next_revision(conn: &Connection, release: i64) -> R<i64> {
    let max = one_i64(
        conn,
        "SELECT MAX(o.\"revision\") FROM t_release o JOIN t_release r ON r.\"id\" = ?1 \
         WHERE o.\"belongs_to__application\" = r.\"belongs_to__application\" AND o.\"id\" != r.\"id\" \
         AND o.\"revision\" IS NOT NULL AND o.\"semver_major\" = r.\"semver_major\" \
         AND o.\"semver_minor\" = r.\"semver_minor\" AND o.\"semver_patch\" = r.\"semver_patch\" \
         AND o.\"semver_prerelease\" = r.\"semver_prerelease\" AND o.\"variant\" = r.\"variant\"",
        [release],
    )?;
    Ok(max.map(|m| m + 1).unwrap_or(0))
}

/// Recomputes the stored derived version columns of a release from its stored fields.
fn refresh_versions(conn: &Connection, release: i64) -> R<()> {
    let row = conn
        .prepare_cached(
            "SELECT \"semver\", \"variant\", \"revision\", \"created_at\" FROM t_release WHERE \"id\" = ?1",
        )?
        .query_row([release], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .optional()?;
    let Some((semver, variant, revision, created)) = row else {
        return Ok(());
    };
    let sv = parse_semver(semver.as_deref().unwrap_or("0.0.0")).unwrap_or(Semver {
        major: 0,
        minor: 0,
        patch: 0,
        prerelease: String::new(),
        build: String::new(),
    });
    let created_ms = created.as_deref().and_then(db::date_millis).unwrap_or(0);
    let (raw, version) = versions(&sv, variant.as_deref().unwrap_or(""), revision, created_ms);
    conn.prepare_cached(
        "UPDATE t_release SET \"semver_major\" = ?1, \"semver_minor\" = ?2, \"semver_patch\" = ?3, \
         \"semver_prerelease\" = ?4, \"semver_build\" = ?5, \"raw_version\" = ?6, \"version\" = ?7 WHERE \"id\" = ?8",
    )?
    .execute(rusqlite::params![
        sv.major,
        sv.minor,
        sv.patch,
        sv.prerelease,
        sv.build,
        raw,
        version.to_string(),
        release
    ])?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Rules

/// Fails with `rule` when `sql` (one row, one column, `?1` = `id`) answers 0.
fn require(conn: &Connection, sql: &str, id: i64, rule: &str) -> R<()> {
    if one_i64(conn, sql, [id])? == Some(0) {
        return Err(ApiError::bad(rule));
    }
    Ok(())
}

/// A fleet's target must be a successful release of that fleet.
fn check_app_target(conn: &Connection, app: i64) -> R<()> {
    require(
        conn,
        "SELECT CASE WHEN a.\"should_be_running__release\" IS NULL THEN 1 \
         WHEN r.\"status\" = 'success' AND r.\"belongs_to__application\" = a.\"id\" THEN 1 ELSE 0 END \
         FROM t_application a LEFT JOIN t_release r ON r.\"id\" = a.\"should_be_running__release\" WHERE a.\"id\" = ?1",
        app,
        RULE_APP_TARGET,
    )
}

/// A device pin must be a successful release of the device's fleet.
fn check_device_pin(conn: &Connection, device: i64) -> R<()> {
    require(
        conn,
        "SELECT CASE WHEN d.\"is_pinned_on__release\" IS NULL THEN 1 \
         WHEN r.\"status\" = 'success' AND r.\"belongs_to__application\" = d.\"belongs_to__application\" THEN 1 ELSE 0 END \
         FROM t_device d LEFT JOIN t_release r ON r.\"id\" = d.\"is_pinned_on__release\" WHERE d.\"id\" = ?1",
        device,
        RULE_DEVICE_PIN,
    )
}

/// The rules a release change can break: fleets targeting it, devices pinned to it, and one
/// successful release per commit in a fleet.
fn check_release_rules(conn: &Connection, release: i64) -> R<()> {
    let apps: Vec<i64> = conn
        .prepare_cached(
            "SELECT \"id\" FROM t_application WHERE \"should_be_running__release\" = ?1",
        )?
        .query_map([release], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for a in apps {
        check_app_target(conn, a)?;
    }
    let devices: Vec<i64> = conn
        .prepare_cached("SELECT \"id\" FROM t_device WHERE \"is_pinned_on__release\" = ?1")?
        .query_map([release], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for d in devices {
        check_device_pin(conn, d)?;
    }
    let dupes = one_i64(
        conn,
        "SELECT COUNT(*) FROM t_release o JOIN t_release r ON r.\"id\" = ?1 \
         WHERE r.\"status\" = 'success' AND o.\"status\" = 'success' \
         AND o.\"belongs_to__application\" = r.\"belongs_to__application\" AND o.\"commit\" = r.\"commit\"",
        [release],
    )?;
    if dupes.unwrap_or(0) > 1 {
        return Err(ApiError::bad(RULE_SUCCESS_COMMIT));
    }
    Ok(())
}

/// The newest trackable release of a fleet, by `start_timestamp`.
pub fn latest_trackable(conn: &Connection, app: i64) -> R<Option<i64>> {
    one_i64(
        conn,
        "SELECT \"id\" FROM t_release WHERE \"belongs_to__application\" = ?1 AND \"revision\" IS NOT NULL \
         AND \"is_passing_tests\" = 1 AND \"is_invalidated\" = 0 AND \"status\" = 'success' \
         ORDER BY \"start_timestamp\" DESC, \"id\" DESC LIMIT 1",
        [app],
    )
}

/// The track-latest hook: the fleet owning `release`, if it tracks latest, moves to its
/// newest trackable release.
fn track_latest(conn: &Connection, release: i64) -> R<()> {
    let app = one_i64(
        conn,
        "SELECT a.\"id\" FROM t_application a JOIN t_release r ON r.\"belongs_to__application\" = a.\"id\" \
         WHERE r.\"id\" = ?1 AND a.\"should_track_latest_release\" = 1",
        [release],
    )?;
    if let Some(app) = app {
        if let Some(latest) = latest_trackable(conn, app)? {
            conn.prepare_cached(
                "UPDATE t_application SET \"should_be_running__release\" = ?1, \"modified_at\" = ?2 \
                 WHERE \"id\" = ?3 AND \"should_be_running__release\" IS NOT ?1",
            )?
            .execute(rusqlite::params![latest, db::now(), app])?;
        }
    }
    Ok(())
}

fn is_trackable(conn: &Connection, release: i64) -> R<bool> {
    Ok(one_i64(
        conn,
        "SELECT 1 FROM t_release WHERE \"id\" = ?1 AND \"revision\" IS NOT NULL AND \"is_passing_tests\" = 1 \
         AND \"is_invalidated\" = 0 AND \"status\" = 'success'",
        [release],
    )?
    .is_some())
}

// ---------------------------------------------------------------------------------------
// The generic write path: POST, PATCH, DELETE

/// Creates a row; answers its id.
pub fn create(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    body: &Json,
    mode: WriteMode,
) -> R<i64> {
    if !res.writable && !mode.seed {
        return Err(ApiError::bad(format!(
            "Resource '{}' cannot be created through the sandbox API",
            res.name
        )));
    }
    let mut b = check_body(res, body, true, mode)?;
    check_fks(conn, access, res, &b)?;
    default(&mut b, "created_at", Value::Text(db::now()));
    // A fixture's explicit creation time also stands for the other creation timestamps.
    let now = b.text("created_at").unwrap_or_default().to_string();
    default(&mut b, "modified_at", Value::Text(now.clone()));
    res.hooks.before_create(conn, res, &mut b, &now)?;
    let id = insert(conn, res.table, &b.values)?;
    res.hooks.after_create(conn, id, &b, &now)?;
    Ok(id)
}

/// Applies one PATCH body to every addressed row.
pub fn update(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    ids: &[i64],
    body: &Json,
    mode: WriteMode,
) -> R<()> {
    if !res.writable && !mode.seed {
        return Err(ApiError::bad(format!(
            "Resource '{}' cannot be changed through the sandbox API",
            res.name
        )));
    }
    let b = check_body(res, body, false, mode)?;
    check_fks(conn, access, res, &b)?;
    res.hooks.check_update(&b)?;
    for r in res.fields.iter().filter(|f| f.required && f.stored()) {
        if let Some(Value::Null) = b.get(r.name) {
            return Err(ApiError::bad(format!(
                "Field '{}' of resource '{}' is required",
                r.name, res.name
            )));
        }
    }
    let now = db::now();
    let mut values = b.values.clone();
    values.push(("modified_at".into(), Value::Text(now.clone())));
    res.hooks.update_many(conn, res, ids, &b, values, &now)
}

pub fn delete(conn: &Connection, res: &'static Resource, ids: &[i64]) -> R<()> {
    if !res.writable {
        return Err(ApiError::bad(format!(
            "Resource '{}' cannot be deleted through the sandbox API",
            res.name
        )));
    }
    for &id in ids {
        res.hooks.delete_one(conn, res, id)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Per-resource hooks

/// The server's rules for one resource, called by the generic write path ([`create`],
/// [`update`], [`delete`]) at fixed points, inside the request's transaction. Each resource
/// of the schema names its hooks ([`Resource::hooks`]); every method defaults to "nothing
/// special".
pub trait Hooks: Sync + std::fmt::Debug {
    /// A body value for a field that is writable but not a stored column (a release's
    /// `is_final`). The default refuses it as read-only.
    fn computed_input(&self, res: &Resource, _body: &mut Body, name: &str, _v: &Json) -> R<()> {
        Err(read_only(res, name))
    }

    /// POST, before the insert: required fields, defaults and checks. `now` is the row's
    /// creation time.
    fn before_create(
        &self,
        _conn: &Connection,
        _res: &Resource,
        _body: &mut Body,
        _now: &str,
    ) -> R<()> {
        Ok(())
    }

    /// POST, after the insert of row `id` (rules across rows, derived columns).
    fn after_create(&self, _conn: &Connection, _id: i64, _body: &Body, _now: &str) -> R<()> {
        Ok(())
    }

    /// PATCH: checks of the body, before any row is changed.
    fn check_update(&self, _body: &Body) -> R<()> {
        Ok(())
    }

    /// PATCH of one row; `values` is the checked body plus `modified_at`. The default
    /// writes them.
    fn update_one(
        &self,
        conn: &Connection,
        res: &Resource,
        id: i64,
        _body: &Body,
        values: Vec<(String, Value)>,
        _now: &str,
    ) -> R<()> {
        update_row(conn, res.table, id, &values)
    }

    /// PATCH of every row of `ids` with the same `values`, as [`Hooks::update_one`] of each
    /// in turn would. The default does exactly that; a resource may do it in one statement
    /// when the outcome is the same.
    fn update_many(
        &self,
        conn: &Connection,
        res: &Resource,
        ids: &[i64],
        body: &Body,
        values: Vec<(String, Value)>,
        now: &str,
    ) -> R<()> {
        for &id in ids {
            self.update_one(conn, res, id, body, values.clone(), now)?;
        }
        Ok(())
    }

    /// DELETE of one row and whatever goes with it. The default deletes the row alone.
    fn delete_one(&self, conn: &Connection, res: &Resource, id: i64) -> R<()> {
        conn.prepare_cached(&format!("DELETE FROM {} WHERE \"id\" = ?1", res.table))?
            .execute([id])?;
        Ok(())
    }
}

/// Resources without rules of their own (read-only ones, device types).
#[derive(Debug)]
pub struct NoHooks;
impl Hooks for NoHooks {}

/// An organisation's `handle` is required and also its default `name`.
#[derive(Debug)]
pub struct OrganizationHooks;
impl Hooks for OrganizationHooks {
    fn before_create(&self, _: &Connection, res: &Resource, b: &mut Body, _: &str) -> R<()> {
        require_not_null(b, "handle", res)?;
        let handle = b.text("handle").unwrap_or_default().to_string();
        default(b, "name", Value::Text(handle));
        Ok(())
    }
}

/// A user needs a username and gets an actor.
#[derive(Debug)]
pub struct UserHooks;
impl Hooks for UserHooks {
    fn before_create(&self, conn: &Connection, res: &Resource, b: &mut Body, _: &str) -> R<()> {
        require_not_null(b, "username", res)?;
        let actor = db::new_actor(conn, "user")?;
        default(b, "actor", Value::Integer(actor));
        Ok(())
    }
}

/// Fleets: name rules, slug, defaults, and the target-release rule.
#[derive(Debug)]
pub struct ApplicationHooks;
impl Hooks for ApplicationHooks {
    fn before_create(&self, conn: &Connection, _: &Resource, b: &mut Body, _: &str) -> R<()> {
        create_application(conn, b)
    }

    fn after_create(&self, conn: &Connection, id: i64, _: &Body, _: &str) -> R<()> {
        check_app_target(conn, id)
    }

    /// A new `app_name` also renames the slug; the target must stay valid.
    fn update_one(
        &self,
        conn: &Connection,
        res: &Resource,
        id: i64,
        b: &Body,
        mut values: Vec<(String, Value)>,
        _: &str,
    ) -> R<()> {
        if let Some(name) = b.text("app_name") {
            let handle: Option<String> = conn
                .prepare_cached(
                    "SELECT o.\"handle\" FROM t_organization o JOIN t_application a ON a.\"organization\" = o.\"id\" WHERE a.\"id\" = ?1",
                )?
                .query_row([id], |r| r.get(0))
                .optional()?;
            if let Some(h) = handle {
                values.push((
                    "slug".into(),
                    Value::Text(format!("{h}/{name}").to_lowercase()),
                ));
            }
        }
        update_row(conn, res.table, id, &values)?;
        check_app_target(conn, id)
    }

    /// Deleting a fleet deletes its tags, devices and releases.
    fn delete_one(&self, conn: &Connection, _: &Resource, id: i64) -> R<()> {
        conn.prepare_cached(
            "UPDATE t_application SET \"should_be_running__release\" = NULL WHERE \"id\" = ?1",
        )?
        .execute([id])?;
        conn.prepare_cached("DELETE FROM t_application_tag WHERE \"application\" = ?1")?
            .execute([id])?;
        let devices: Vec<i64> = conn
            .prepare_cached("SELECT \"id\" FROM t_device WHERE \"belongs_to__application\" = ?1")?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for d in devices {
            delete_device(conn, d)?;
        }
        let releases: Vec<i64> = conn
            .prepare_cached("SELECT \"id\" FROM t_release WHERE \"belongs_to__application\" = ?1")?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for r in releases {
            delete_release(conn, r)?;
        }
        conn.prepare_cached("DELETE FROM t_application WHERE \"id\" = ?1")?
            .execute([id])?;
        Ok(())
    }
}

/// Releases: the computed `is_final` input, checked enumerations and semver, finalising
/// (revision), derived version columns, the release rules, tracking latest, and the
/// deletion guard.
#[derive(Debug)]
pub struct ReleaseHooks;
impl Hooks for ReleaseHooks {
    fn computed_input(&self, res: &Resource, b: &mut Body, name: &str, v: &Json) -> R<()> {
        match v {
            Json::Bool(x) => b.set_flag(name, *x),
            Json::Null => {}
            _ => {
                return Err(ApiError::bad(format!(
                    "Invalid value for field '{name}' of resource '{}'",
                    res.name
                )))
            }
        }
        Ok(())
    }

    fn before_create(&self, conn: &Connection, _: &Resource, b: &mut Body, now: &str) -> R<()> {
        create_release(conn, b, now)
    }

    fn after_create(&self, conn: &Connection, id: i64, b: &Body, now: &str) -> R<()> {
        if b.flag("is_final").unwrap_or(true) {
            let rev = next_revision(conn, id)?;
            conn.prepare_cached(
                "UPDATE t_release SET \"revision\" = ?1, \"is_finalized_at__date\" = ?2 WHERE \"id\" = ?3",
            )?
            .execute(rusqlite::params![rev, now, id])?;
        }
        refresh_versions(conn, id)?;
        check_release_rules(conn, id)?;
        if is_trackable(conn, id)? {
            track_latest(conn, id)?;
        }
        Ok(())
    }

    fn check_update(&self, b: &Body) -> R<()> {
        check_in(b, "status", RELEASE_STATUSES)?;
        check_in(b, "source", RELEASE_SOURCES)?;
        check_in(b, "phase", RELEASE_PHASES)?;
        if let Some(s) = b.text("semver") {
            if parse_semver(s).is_none() {
                return Err(ApiError::bad("Invalid semver format"));
            }
        }
        Ok(())
    }

    fn update_one(
        &self,
        conn: &Connection,
        res: &Resource,
        id: i64,
        b: &Body,
        mut values: Vec<(String, Value)>,
        now: &str,
    ) -> R<()> {
        let is_final = b.flag("is_final");
        if b.has("semver") || b.has("variant") || is_final.is_some() {
            values.push(("update_timestamp".into(), Value::Text(now.to_string())));
        }
        let revision = one_i64(
            conn,
            "SELECT \"revision\" FROM t_release WHERE \"id\" = ?1",
            [id],
        )?;
        let finalise = match is_final {
            Some(false) if revision.is_some() => {
                return Err(ApiError::bad(
                    "Finalized releases cannot be converted to draft.",
                ))
            }
            Some(true) => revision.is_none(),
            _ => false,
        };
        if !values.iter().any(|(n, _)| n == "update_timestamp") {
            values.push(("update_timestamp".into(), Value::Text(now.to_string())));
        }
        update_row(conn, res.table, id, &values)?;
        if finalise {
            let rev = next_revision(conn, id)?;
            conn.prepare_cached(
                "UPDATE t_release SET \"revision\" = ?1, \"is_finalized_at__date\" = ?2 WHERE \"id\" = ?3",
            )?
            .execute(rusqlite::params![rev, now, id])?;
        }
        refresh_versions(conn, id)?;
        check_release_rules(conn, id)?;
        let relevant = is_final.is_some()
            || ["revision", "is_passing_tests", "is_invalidated", "status"]
                .iter()
                .any(|f| b.has(f));
        if relevant {
            track_latest(conn, id)?;
        }
        Ok(())
    }

    /// A fleet's target and a pinned release cannot be deleted.
    fn delete_one(&self, conn: &Connection, _: &Resource, id: i64) -> R<()> {
        let target: Option<String> = conn
            .prepare_cached(
                "SELECT r.\"raw_version\" FROM t_release r WHERE r.\"id\" = ?1 AND EXISTS \
                 (SELECT 1 FROM t_application a WHERE a.\"should_be_running__release\" = r.\"id\")",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?;
        if let Some(v) = target {
            return Err(ApiError::bad(format!(
                "Unable to delete release {v} because it is the fleet's target release."
            )));
        }
        if one_i64(
            conn,
            "SELECT 1 FROM t_device WHERE \"is_pinned_on__release\" = ?1 LIMIT 1",
            [id],
        )?
        .is_some()
        {
            return Err(ApiError::bad(DELETE_PINNED));
        }
        delete_release(conn, id)
    }
}

/// Devices: uuid and defaults, the pin rule, and moving to another fleet clears the pin.
#[derive(Debug)]
pub struct DeviceHooks;
impl Hooks for DeviceHooks {
    fn before_create(&self, conn: &Connection, _: &Resource, b: &mut Body, _: &str) -> R<()> {
        create_device(conn, b)
    }

    fn after_create(&self, conn: &Connection, id: i64, _: &Body, _: &str) -> R<()> {
        check_device_pin(conn, id)
    }

    fn check_update(&self, b: &Body) -> R<()> {
        if let Some(Value::Null) = b.get("device_name") {
            return Err(ApiError::bad(
                "Field 'device_name' of resource 'device' is required",
            ));
        }
        Ok(())
    }

    fn update_one(
        &self,
        conn: &Connection,
        res: &Resource,
        id: i64,
        b: &Body,
        mut values: Vec<(String, Value)>,
        _: &str,
    ) -> R<()> {
        if let Some(app) = b.int("belongs_to__application") {
            let current = one_i64(
                conn,
                "SELECT \"belongs_to__application\" FROM t_device WHERE \"id\" = ?1",
                [id],
            )?;
            if current != Some(app) && !b.has("is_pinned_on__release") {
                values.push(("is_pinned_on__release".into(), Value::Null));
            }
        }
        update_row(conn, res.table, id, &values)?;
        check_device_pin(conn, id)
    }

    /// Without a change of fleet every row gets the same values and the same pin rule: one
    /// UPDATE of all of them, then one check of the rule over all of them (the transaction
    /// rolls back on a breach, as it does when a row-by-row write breaks it).
    fn update_many(
        &self,
        conn: &Connection,
        res: &Resource,
        ids: &[i64],
        b: &Body,
        values: Vec<(String, Value)>,
        now: &str,
    ) -> R<()> {
        if b.has("belongs_to__application") || ids.len() < 2 {
            for &id in ids {
                self.update_one(conn, res, id, b, values.clone(), now)?;
            }
            return Ok(());
        }
        let ids_json = Value::Text(serde_json::to_string(ids).map_err(|_| ApiError::empty(500))?);
        update_rows(conn, res.table, &ids_json, &values)?;
        let breaches = one_i64(
            conn,
            "SELECT COUNT(*) FROM t_device d LEFT JOIN t_release r ON r.\"id\" = d.\"is_pinned_on__release\" \
             WHERE d.\"id\" IN (SELECT \"value\" FROM json_each(?1)) AND d.\"is_pinned_on__release\" IS NOT NULL \
             AND NOT COALESCE(r.\"status\" = 'success' AND r.\"belongs_to__application\" = d.\"belongs_to__application\", 0)",
            [&ids_json],
        )?;
        if breaches.unwrap_or(0) > 0 {
            return Err(ApiError::bad(RULE_DEVICE_PIN));
        }
        Ok(())
    }

    fn delete_one(&self, conn: &Connection, _: &Resource, id: i64) -> R<()> {
        delete_device(conn, id)
    }
}

/// The longest `tag_key`: the model declares it a Short Text, which the real server stores as
/// `VARCHAR(255)` and checks before writing.
pub const TAG_KEY_MAX: usize = 255;

/// The real server's check of a Short Text field: at most 255 characters, counted as
/// JavaScript counts a string's length (UTF-16 code units). Its refusal is a 400 with the
/// field name quoted and the length found.
fn check_short_text(b: &Body, name: &str) -> R<()> {
    if let Some(s) = b.text(name) {
        let len = s.encode_utf16().count();
        if len > TAG_KEY_MAX {
            return Err(ApiError::bad(format!(
                "\"{name}\" longer than {TAG_KEY_MAX} characters ({len})"
            )));
        }
    }
    Ok(())
}

/// Application, release and device tags: key and value required, the key neither empty
/// ("each … tag has a tag key that has a Length (Type) that is greater than 0") nor longer
/// than a Short Text, and the parent (`application`, `release` or `device`) required. The
/// value is a Text: no length limit. A second tag with the same key on the same parent is
/// refused by the unique index (409).
#[derive(Debug)]
pub struct TagHooks {
    pub parent: &'static str,
}
impl Hooks for TagHooks {
    fn before_create(&self, _: &Connection, res: &Resource, b: &mut Body, _: &str) -> R<()> {
        for f in ["tag_key", "value"] {
            require_not_null(b, f, res)?;
        }
        check_short_text(b, "tag_key")?;
        if b.text("tag_key") == Some("") {
            return Err(ApiError::bad(CHECK_CONSTRAINT));
        }
        require_not_null(b, self.parent, res)
    }

    fn check_update(&self, b: &Body) -> R<()> {
        check_short_text(b, "tag_key")?;
        if let Some(Value::Text(t)) = b.get("tag_key") {
            if t.is_empty() {
                return Err(ApiError::bad(CHECK_CONSTRAINT));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Creation helpers of the hooks

fn create_application(conn: &Connection, b: &mut Body) -> R<()> {
    let res = &schema::APPLICATION;
    for f in ["app_name", "organization", "is_for__device_type"] {
        require_not_null(b, f, res)?;
    }
    let name = b.text("app_name").unwrap_or_default().to_string();
    if name.len() < 4 || name.len() > 100 {
        return Err(ApiError::bad(
            "App name must be between 4 and 100 characters long.",
        ));
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        return Err(ApiError::bad("App name may only contain [a-zA-Z0-9_-]."));
    }
    let org = b.int("organization").unwrap_or(0);
    let handle: Option<String> = conn
        .prepare_cached("SELECT \"handle\" FROM t_organization WHERE \"id\" = ?1")?
        .query_row([org], |r| r.get(0))
        .optional()?;
    let handle = handle.ok_or_else(|| referenced("organization"))?;
    default(
        b,
        "slug",
        Value::Text(format!("{handle}/{name}").to_lowercase()),
    );
    default(b, "uuid", Value::Text(db::random_hex(32)));
    default(b, "should_track_latest_release", Value::Integer(1));
    default(b, "is_of__class", Value::Text("fleet".into()));
    default(b, "application_type", Value::Integer(1));
    default(b, "is_host", Value::Integer(0));
    default(b, "is_archived", Value::Integer(0));
    default(b, "is_public", Value::Integer(0));
    if !b.has("actor") {
        let actor = db::new_actor(conn, "application")?;
        b.set("actor", Value::Integer(actor));
    }
    Ok(())
}

fn create_release(conn: &Connection, b: &mut Body, now: &str) -> R<()> {
    let _ = conn;
    // The real server answers these with a bare 500 (a NOT NULL violation in the database,
    // transcript part 2 §21e); the sandbox answers 400 naming the field instead.
    for f in ["belongs_to__application", "commit", "start_timestamp"] {
        require_not_null(b, f, &schema::RELEASE)?;
    }
    default(b, "status", Value::Text("running".into()));
    default(b, "source", Value::Text("cloud".into()));
    check_in(b, "status", RELEASE_STATUSES)?;
    check_in(b, "source", RELEASE_SOURCES)?;
    check_in(b, "phase", RELEASE_PHASES)?;
    default(b, "is_invalidated", Value::Integer(0));
    default(b, "is_passing_tests", Value::Integer(1));
    default(b, "semver", Value::Text("0.0.0".into()));
    default(b, "variant", Value::Text(String::new()));
    if parse_semver(b.text("semver").unwrap_or("0.0.0")).is_none() {
        return Err(ApiError::bad("Invalid semver format"));
    }
    b.set("update_timestamp", Value::Text(now.to_string()));
    Ok(())
}

fn create_device(conn: &Connection, b: &mut Body) -> R<()> {
    let res = &schema::DEVICE;
    for f in ["belongs_to__application", "is_of__device_type"] {
        require_not_null(b, f, res)?;
    }
    if matches!(b.get("uuid"), None | Some(Value::Null)) {
        b.set("uuid", Value::Text(db::random_hex(32)));
    }
    let uuid = b.text("uuid").unwrap_or_default().to_string();
    if !valid_uuid(&uuid) {
        return Err(ApiError::bad(
            "Device UUID must be a 32 or 62 character long lower case hex string.",
        ));
    }
    default(b, "device_name", Value::Text(uuid[..7].to_string()));
    if !b.has("actor") {
        let actor = db::new_actor(conn, "device")?;
        b.set("actor", Value::Integer(actor));
    }
    default(b, "api_heartbeat_state", Value::Text("unknown".into()));
    for f in [
        "is_online",
        "is_connected_to_vpn",
        "is_web_accessible",
        "is_undervolted",
    ] {
        default(b, f, Value::Integer(0));
    }
    Ok(())
}

pub fn valid_uuid(u: &str) -> bool {
    (u.len() == 32 || u.len() == 62)
        && u.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

// ---------------------------------------------------------------------------------------
// Deletion helpers of the hooks

fn delete_release(conn: &Connection, id: i64) -> R<()> {
    conn.prepare_cached("DELETE FROM t_release_tag WHERE \"release\" = ?1")?
        .execute([id])?;
    for col in [
        "is_running__release",
        "should_be_operated_by__release",
        "should_be_managed_by__release",
    ] {
        conn.prepare_cached(&format!(
            "UPDATE t_device SET \"{col}\" = NULL WHERE \"{col}\" = ?1"
        ))?
        .execute([id])?;
    }
    conn.prepare_cached("DELETE FROM t_release WHERE \"id\" = ?1")?
        .execute([id])?;
    Ok(())
}

fn delete_device(conn: &Connection, id: i64) -> R<()> {
    conn.prepare_cached("DELETE FROM t_device_tag WHERE \"device\" = ?1")?
        .execute([id])?;
    conn.prepare_cached("DELETE FROM t_device WHERE \"id\" = ?1")?
        .execute([id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_the_reference_server() {
        let sv = parse_semver("1.0.0").unwrap();
        let (raw, v) = versions(&sv, "", Some(0), 0);
        assert_eq!(raw, "1.0.0");
        assert_eq!(
            v.to_string(),
            r#"{"raw":"1.0.0","build":[],"major":1,"minor":0,"patch":0,"version":"1.0.0","prerelease":[]}"#
        );
        let sv = parse_semver("1.7.0").unwrap();
        let (raw, v) = versions(&sv, "", None, 1795797705401);
        assert_eq!(raw, "1.7.0-1795797705401");
        assert_eq!(
            v.to_string(),
            r#"{"raw":"1.7.0-1795797705401","build":[],"major":1,"minor":7,"patch":0,"version":"1.7.0-1795797705401","prerelease":[1795797705401]}"#
        );
        let sv = parse_semver("2.1.0-beta.1+b5").unwrap();
        let (raw, _) = versions(&sv, "dev", Some(2), 0);
        assert_eq!(raw, "2.1.0-beta.1+b5.rev2.dev");
    }

    #[test]
    fn semver_parsing() {
        assert!(parse_semver("1.2").is_none());
        assert!(parse_semver("a.b.c").is_none());
        assert!(parse_semver("1.2.3.4").is_none());
        assert!(parse_semver("1.2.3-").is_none());
        assert_eq!(parse_semver("10.20.30").unwrap().minor, 20);
    }
}
