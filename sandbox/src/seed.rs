//! Seeding an empty database: the default user, `--seed demo`, `--seed FILE.json` fixtures
//! (format: `sandbox/FIXTURES.md`), and `--devices N --releases M` scale seeding.

use anyhow::{anyhow, bail, Context};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Map, Value as Json};

use crate::db;
use crate::query::Access;
use crate::rules::{self, WriteMode};
use crate::schema;

const SEED: WriteMode = WriteMode { seed: true };

/// True when the database has never been seeded (no user at all).
pub fn is_empty(conn: &Connection) -> anyhow::Result<bool> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM t_user", [], |r| r.get(0))?;
    Ok(n == 0)
}

/// The user `--token` and the generated key belong to.
pub fn default_user(conn: &Connection) -> anyhow::Result<i64> {
    if let Some(v) = db::meta_get(conn, "default_user")? {
        if let Ok(id) = v.parse() {
            return Ok(id);
        }
    }
    let id: Option<i64> = conn
        .query_row("SELECT MIN(\"id\") FROM t_user", [], |r| r.get(0))
        .optional()?
        .flatten();
    id.ok_or_else(|| anyhow!("the database has no user"))
}

fn api_err(e: rules::ApiError) -> anyhow::Error {
    anyhow!(
        "{} {}",
        e.status,
        e.message.unwrap_or_else(|| "(no message)".into())
    )
}

fn obj(v: &Json) -> anyhow::Result<Map<String, Json>> {
    match v {
        Json::Object(o) => Ok(o.clone()),
        _ => bail!("expected a JSON object, got {v}"),
    }
}

fn list<'a>(root: &'a Map<String, Json>, key: &str) -> anyhow::Result<&'a [Json]> {
    match root.get(key) {
        None | Some(Json::Null) => Ok(&[]),
        Some(Json::Array(a)) => Ok(a),
        Some(_) => bail!("'{key}' must be an array"),
    }
}

/// Resolves a device type given as a slug to its id.
fn device_type_id(conn: &Connection, v: &Json) -> anyhow::Result<Json> {
    if let Json::String(slug) = v {
        let id: Option<i64> = conn
            .query_row(
                "SELECT \"id\" FROM t_device_type WHERE \"slug\" = ?1",
                [slug],
                |r| r.get(0),
            )
            .optional()?;
        return Ok(Json::from(
            id.ok_or_else(|| anyhow!("unknown device type '{slug}'"))?,
        ));
    }
    Ok(v.clone())
}

fn create(
    conn: &Connection,
    res: &'static schema::Resource,
    body: Map<String, Json>,
) -> anyhow::Result<i64> {
    rules::create(conn, Access::Root, res, &Json::Object(body), SEED).map_err(api_err)
}

fn add_tags(
    conn: &Connection,
    res: &'static schema::Resource,
    parent_field: &str,
    parent: i64,
    tags: Option<&Json>,
) -> anyhow::Result<()> {
    let Some(tags) = tags else { return Ok(()) };
    let tags = obj(tags).context("'tags' must be an object of key → value")?;
    for (k, v) in tags {
        let mut m = Map::new();
        m.insert(parent_field.into(), Json::from(parent));
        m.insert("tag_key".into(), Json::String(k));
        m.insert(
            "value".into(),
            match v {
                Json::String(s) => Json::String(s),
                other => Json::String(other.to_string()),
            },
        );
        create(conn, res, m)?;
    }
    Ok(())
}

/// Loads a fixture (see FIXTURES.md). Runs inside the caller's transaction.
pub fn load_fixture(conn: &Connection, fixture: &Json) -> anyhow::Result<()> {
    let root = obj(fixture).context("a fixture is a JSON object")?;
    for o in list(&root, "organizations")? {
        let mut o = obj(o)?;
        if !o.contains_key("handle") {
            bail!("an organization needs a 'handle'");
        }
        let handle = o["handle"].clone();
        o.entry("name").or_insert(handle);
        create(conn, &schema::ORGANIZATION, o).context("organization")?;
    }
    let users = list(&root, "users")?;
    if users.is_empty() {
        create_default_user(conn, "admin")?;
    }
    for (i, u) in users.iter().enumerate() {
        let mut u = obj(u)?;
        let orgs = u.remove("organizations");
        let keys = u.remove("api_keys");
        let password = u.remove("password");
        let username = u
            .get("username")
            .and_then(Json::as_str)
            .ok_or_else(|| anyhow!("a user needs a 'username'"))?
            .to_string();
        u.entry("email")
            .or_insert_with(|| Json::String(format!("{username}@example.com")));
        let id = create(conn, &schema::USER, u).context("user")?;
        if i == 0 {
            db::meta_set(conn, "default_user", &id.to_string())?;
        }
        let org_ids: Vec<i64> = match orgs {
            Some(Json::Array(a)) => a
                .iter()
                .map(|o| org_id(conn, o))
                .collect::<anyhow::Result<_>>()?,
            Some(_) => bail!("'organizations' of a user must be an array"),
            None => vec![own_org(conn, &username)?],
        };
        for o in org_ids {
            conn.execute(
                "INSERT OR IGNORE INTO org_member (\"user_id\", \"organization_id\") VALUES (?1, ?2)",
                [id, o],
            )?;
        }
        match password {
            Some(Json::String(p)) if !p.is_empty() => db::set_password(conn, id, &p)?,
            None | Some(Json::Null) => {}
            Some(_) => bail!("a user's 'password' must be a non-empty string"),
        }
        if let Some(Json::Array(keys)) = keys {
            for k in keys {
                let k = k.as_str().ok_or_else(|| anyhow!("api keys are strings"))?;
                db::add_api_key(conn, id, k, Some("fixture"))?;
            }
        }
    }
    let mut targets = Vec::new();
    for a in list(&root, "applications")? {
        let mut a = obj(a)?;
        if let Some(v) = a.get("organization").cloned() {
            a.insert("organization".into(), Json::from(org_id(conn, &v)?));
        }
        if let Some(v) = a.get("is_for__device_type").cloned() {
            a.insert("is_for__device_type".into(), device_type_id(conn, &v)?);
        }
        let target = a.remove("should_be_running__release");
        let tags = a.remove("tags");
        let id = create(conn, &schema::APPLICATION, a).context("application")?;
        add_tags(
            conn,
            &schema::APPLICATION_TAG,
            "application",
            id,
            tags.as_ref(),
        )
        .context("application tag")?;
        if let Some(t) = target {
            targets.push((id, t));
        }
    }
    for r in list(&root, "releases")? {
        let mut r = obj(r)?;
        let tags = r.remove("tags");
        if !r.contains_key("start_timestamp") {
            let start = r
                .get("created_at")
                .cloned()
                .unwrap_or_else(|| Json::String(db::now()));
            r.insert("start_timestamp".into(), start);
        }
        let id = create(conn, &schema::RELEASE, r).context("release")?;
        add_tags(conn, &schema::RELEASE_TAG, "release", id, tags.as_ref())?;
    }
    for (app, target) in targets {
        rules::update(
            conn,
            Access::Root,
            &schema::APPLICATION,
            &[app],
            &json!({ "should_be_running__release": target }),
            SEED,
        )
        .map_err(api_err)
        .context("application target")?;
    }
    for d in list(&root, "devices")? {
        let mut d = obj(d)?;
        let tags = d.remove("tags");
        if let Some(v) = d.get("is_of__device_type").cloned() {
            d.insert("is_of__device_type".into(), device_type_id(conn, &v)?);
        }
        let id = create(conn, &schema::DEVICE, d).context("device")?;
        add_tags(conn, &schema::DEVICE_TAG, "device", id, tags.as_ref())?;
    }
    Ok(())
}

/// An organisation given by id or handle.
fn org_id(conn: &Connection, v: &Json) -> anyhow::Result<i64> {
    match v {
        Json::Number(n) => n.as_i64().ok_or_else(|| anyhow!("bad organization id {n}")),
        Json::String(h) => conn
            .query_row(
                "SELECT \"id\" FROM t_organization WHERE \"handle\" = ?1",
                [h],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| anyhow!("unknown organization '{h}'")),
        _ => bail!("an organization is an id or a handle, got {v}"),
    }
}

/// The organisation whose handle is the username, created if needed.
fn own_org(conn: &Connection, username: &str) -> anyhow::Result<i64> {
    if let Ok(id) = org_id(conn, &Json::String(username.into())) {
        return Ok(id);
    }
    create(
        conn,
        &schema::ORGANIZATION,
        obj(&json!({"handle": username, "name": username}))?,
    )
}

/// Creates a user with an organisation of its own, and makes it the default user.
pub fn create_default_user(conn: &Connection, username: &str) -> anyhow::Result<i64> {
    let org = own_org(conn, username)?;
    let id = create(
        conn,
        &schema::USER,
        obj(&json!({"username": username, "email": format!("{username}@example.com")}))?,
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO org_member (\"user_id\", \"organization_id\") VALUES (?1, ?2)",
        [id, org],
    )?;
    db::meta_set(conn, "default_user", &id.to_string())?;
    Ok(id)
}

fn commit_hex(seed: u64) -> String {
    // A deterministic, random-looking 32-hex commit.
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut s = String::with_capacity(32);
    for _ in 0..2 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        s.push_str(&format!("{x:016x}"));
    }
    s
}

/// The `demo` seed as a fixture: two fleets, six releases each, ten devices.
pub fn demo_fixture() -> Json {
    let fleets = [
        (
            "admin/greenhouse-sensors",
            "greenhouse-sensors",
            "raspberrypi4-64",
            1u64,
        ),
        ("admin/lobby-displays", "lobby-displays", "intel-nuc", 2u64),
    ];
    let mut applications = Vec::new();
    let mut releases = Vec::new();
    let mut devices = Vec::new();
    let mut release_id = 0;
    for (fi, (_slug, name, dt, app_id)) in fleets.iter().enumerate() {
        applications.push(json!({
            "id": app_id, "app_name": name, "organization": "admin", "is_for__device_type": dt,
        }));
        // (semver, status, is_final, is_invalidated, day, notes)
        let rels = [
            (
                "1.0.0",
                "success",
                true,
                false,
                1,
                "first production release",
            ),
            ("1.1.0", "success", true, false, 8, "faster sensor polling"),
            (
                "1.2.0",
                "failed",
                true,
                false,
                15,
                "build failed: missing dependency",
            ),
            (
                "1.2.1",
                "success",
                true,
                true,
                16,
                "invalidated: memory leak",
            ),
            ("1.3.0", "success", true, false, 22, "current stable"),
            (
                "1.4.0",
                "success",
                false,
                false,
                29,
                "draft for canary devices",
            ),
        ];
        let mut first_success = 0;
        for (ri, (semver, status, is_final, invalidated, day, note)) in rels.iter().enumerate() {
            release_id += 1;
            if ri == 1 {
                first_success = release_id;
            }
            let ts = format!("2026-0{}-{:02}T10:{:02}:00.000Z", 3 + fi, day, ri * 7);
            releases.push(json!({
                "id": release_id,
                "belongs_to__application": app_id,
                "commit": commit_hex(release_id as u64),
                "composition": {"services": {"main": {"build": "."}}},
                "status": status,
                "source": "cloud",
                "start_timestamp": ts,
                "end_timestamp": ts,
                "created_at": ts,
                "is_final": is_final,
                "is_invalidated": invalidated,
                "semver": semver,
                "note": note,
                "tags": {"channel": if *is_final { "stable" } else { "beta" }, "built-by": "ci"},
            }));
        }
        let names: &[&str] = if fi == 0 {
            &[
                "tomato-row-1",
                "tomato-row-2",
                "herb-bench",
                "seedling-rack",
                "vent-controller",
                "water-pump",
            ]
        } else {
            &["front-desk", "elevator-a", "elevator-b", "cafe-menu"]
        };
        for (di, n) in names.iter().enumerate() {
            let id = devices.len() as u64 + 1;
            let mut d = json!({
                "id": id,
                "uuid": commit_hex(500 + id),
                "device_name": n,
                "belongs_to__application": app_id,
                "is_of__device_type": dt,
                "os_version": "balenaOS 6.0.13",
                "supervisor_version": "16.7.1",
                "ip_address": format!("192.168.{}.{}", 10 + fi, 20 + di),
                "tags": {"location": if fi == 0 { "greenhouse" } else { "lobby" }, "floor": format!("{}", di % 3)},
            });
            if fi == 0 && di == 1 {
                d["is_pinned_on__release"] = json!(first_success);
            }
            devices.push(d);
        }
    }
    json!({
        "applications": applications,
        "releases": releases,
        "devices": devices,
    })
}

/// `--devices N --releases M`: one more fleet, with M successful final releases and N devices.
pub fn scale(conn: &Connection, user: i64, devices: u64, releases: u64) -> anyhow::Result<()> {
    let org: i64 = conn
        .query_row(
            "SELECT \"organization_id\" FROM org_member WHERE \"user_id\" = ?1 ORDER BY \"organization_id\" LIMIT 1",
            [user],
            |r| r.get(0),
        )
        .context("the default user has no organization")?;
    let mut name = "scale-fleet".to_string();
    let mut n = 1;
    while conn
        .query_row(
            "SELECT 1 FROM t_application WHERE \"app_name\" = ?1 AND \"organization\" = ?2",
            rusqlite::params![name, org],
            |_| Ok(()),
        )
        .optional()?
        .is_some()
    {
        n += 1;
        name = format!("scale-fleet-{n}");
    }
    let app = create(
        conn,
        &schema::APPLICATION,
        obj(&json!({"app_name": name, "organization": org, "is_for__device_type": 11}))?,
    )?;
    let base = chrono::Utc::now() - chrono::Duration::days(releases as i64 + 1);
    let mut last = None;
    {
        let mut ins = conn.prepare(
            "INSERT INTO t_release (\"created_at\", \"modified_at\", \"belongs_to__application\", \"commit\", \"composition\", \"status\", \"source\", \
             \"is_invalidated\", \"start_timestamp\", \"end_timestamp\", \"update_timestamp\", \"is_passing_tests\", \"is_finalized_at__date\", \
             \"semver\", \"semver_major\", \"semver_minor\", \"semver_patch\", \"semver_prerelease\", \"semver_build\", \"variant\", \"revision\", \"raw_version\", \"version\") \
             VALUES (?1, ?1, ?2, ?3, '{}', 'success', 'cloud', 0, ?1, ?1, ?1, 1, ?1, ?4, 1, ?5, 0, '', '', '', 0, ?4, ?6)",
        )?;
        for i in 0..releases {
            let ts = db::format_date(base + chrono::Duration::hours(i as i64 * 24));
            let semver = format!("1.{i}.0");
            let sv = rules::parse_semver(&semver).ok_or_else(|| anyhow!("semver"))?;
            let (_, version) = rules::versions(&sv, "", Some(0), 0);
            ins.execute(rusqlite::params![
                ts,
                app,
                commit_hex(1_000_000 + app as u64 * 100_000 + i),
                semver,
                i as i64,
                version.to_string()
            ])?;
            last = Some(conn.last_insert_rowid());
        }
    }
    if let Some(last) = last {
        conn.execute(
            "UPDATE t_application SET \"should_be_running__release\" = ?1 WHERE \"id\" = ?2",
            [last, app],
        )?;
    }
    let now = db::now();
    let mut actor = conn.prepare("INSERT INTO actor (\"kind\") VALUES ('device')")?;
    let mut ins = conn.prepare(
        "INSERT INTO t_device (\"created_at\", \"modified_at\", \"actor\", \"api_heartbeat_state\", \"uuid\", \"device_name\", \
         \"is_of__device_type\", \"belongs_to__application\", \"is_online\", \"is_connected_to_vpn\", \"is_web_accessible\", \"is_undervolted\") \
         VALUES (?1, ?1, ?2, 'unknown', ?3, ?4, 11, ?5, 0, 0, 0, 0)",
    )?;
    for i in 0..devices {
        actor.execute([])?;
        let actor_id = conn.last_insert_rowid();
        ins.execute(rusqlite::params![
            now,
            actor_id,
            commit_hex(((app as u64) << 40) + i),
            format!("scale-device-{i}"),
            app
        ])?;
    }
    Ok(())
}
