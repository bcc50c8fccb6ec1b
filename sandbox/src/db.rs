//! SQLite: opening, pragmas, the schema migration, and small helpers.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::schema::{Ty, RESOURCES};

/// The current schema version (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 3;

/// Built-in device types: (id, slug, name). raspberrypi4-64 has id 11 as on the reference
/// server.
pub const DEVICE_TYPES: &[(i64, &str, &str)] = &[
    (1, "generic-aarch64", "Generic AARCH64"),
    (2, "generic-amd64", "Generic x86_64 (GPT)"),
    (3, "intel-nuc", "Intel NUC"),
    (10, "raspberrypi3", "Raspberry Pi 3"),
    (11, "raspberrypi4-64", "Raspberry Pi 4 (using 64bit OS)"),
    (12, "raspberrypi5", "Raspberry Pi 5"),
];

pub fn open(path: Option<&Path>) -> anyhow::Result<Connection> {
    let conn = match path {
        Some(p) => {
            create_private(p)?;
            Connection::open(p)?
        }
        None => Connection::open_in_memory()?,
    };
    // WAL + synchronous=NORMAL: a committed transaction is in the WAL file before the
    // answer is sent, so it survives the process being killed (not a power cut).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(256);
    migrate(&conn)?;
    ensure_indexes(&conn)?;
    Ok(conn)
}

/// Indexes added after a schema version, created at every open when missing (so that
/// databases made by an older sandbox get them too; a no-op once they exist).
fn ensure_indexes(conn: &Connection) -> rusqlite::Result<()> {
    // The devices of a fleet in name order (and, the rowid being the last column of every
    // index, in id order among equal names): the CLI's keyset paging on (device_name, id)
    // walks it and stops after a page.
    conn.execute_batch(
        r#"CREATE INDEX IF NOT EXISTS device_app_name ON t_device ("belongs_to__application", "device_name");"#,
    )
}

/// A read-only connection to the database file `path`, which [`open`] has created and
/// migrated: `PRAGMA query_only`, so a write through it fails instead of happening. It is
/// opened read-write rather than `SQLITE_OPEN_READ_ONLY`, which a WAL database only
/// supports with restrictions on its `-shm` file.
pub fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "query_only", true)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(256);
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "the database is not in WAL mode (journal_mode {mode})"
    );
    Ok(conn)
}

/// Creates the database file readable and writable by its owner only (it holds API keys),
/// unless it exists; SQLite gives its `-wal` and `-shm` files the same mode. The folder
/// must exist.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn sql_type(ty: Ty) -> &'static str {
    match ty {
        Ty::Int | Ty::Bool | Ty::Fk => "INTEGER",
        Ty::Text | Ty::Date | Ty::Json => "TEXT",
    }
}

fn migrate(conn: &Connection) -> anyhow::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    if version < 1 {
        migrate_v1(conn)?;
    }
    // v2: users' password hashes (bcrypt) and the session tokens `POST /login_` issues.
    // v3: application tags (a database of v1 or v2 lacks their table), and device tags by
    // key (the update simulation looks up `sandbox.*` tags).
    conn.execute_batch(&format!(
        r#"BEGIN;
CREATE TABLE IF NOT EXISTS user_password ("user_id" INTEGER PRIMARY KEY, "hash" TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS session ("token" TEXT PRIMARY KEY, "user_id" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL);
{}
CREATE UNIQUE INDEX IF NOT EXISTS application_tag_key ON t_application_tag ("application", "tag_key");
CREATE INDEX IF NOT EXISTS device_tag_by_key ON t_device_tag ("tag_key", "device");
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;"#,
        table_ddl(&crate::schema::APPLICATION_TAG, true)
    ))?;
    Ok(())
}

/// `CREATE TABLE` of a resource's table: `id`, its stored fields and hidden columns.
fn table_ddl(res: &crate::schema::Resource, if_not_exists: bool) -> String {
    let mut cols = vec!["\"id\" INTEGER PRIMARY KEY".to_string()];
    for f in res.fields {
        if f.stored() && f.name != "id" {
            cols.push(format!("\"{}\" {}", f.name, sql_type(f.ty)));
        }
    }
    for (name, ty) in res.hidden_columns {
        cols.push(format!("\"{name}\" {}", sql_type(*ty)));
    }
    format!(
        "CREATE TABLE {}{} ({});",
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        res.table,
        cols.join(", ")
    )
}

fn migrate_v1(conn: &Connection) -> anyhow::Result<()> {
    let mut ddl = String::from("BEGIN;\n");
    for res in RESOURCES {
        ddl.push_str(&table_ddl(res, false));
        ddl.push('\n');
    }
    ddl.push_str(
        r#"
CREATE TABLE org_member ("user_id" INTEGER NOT NULL, "organization_id" INTEGER NOT NULL, PRIMARY KEY ("user_id", "organization_id"));
CREATE INDEX org_member_org ON org_member ("organization_id");
CREATE TABLE api_key ("key" TEXT PRIMARY KEY, "user_id" INTEGER NOT NULL, "name" TEXT, "description" TEXT, "created_at" TEXT);
CREATE TABLE actor ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "kind" TEXT);
CREATE TABLE meta ("key" TEXT PRIMARY KEY, "value" TEXT);
CREATE UNIQUE INDEX organization_handle ON t_organization ("handle");
CREATE UNIQUE INDEX user_username ON t_user ("username");
CREATE UNIQUE INDEX device_type_slug ON t_device_type ("slug");
CREATE UNIQUE INDEX application_slug ON t_application ("slug");
CREATE UNIQUE INDEX application_uuid ON t_application ("uuid");
CREATE INDEX application_org ON t_application ("organization");
CREATE INDEX application_target ON t_application ("should_be_running__release");
CREATE INDEX release_app_commit ON t_release ("belongs_to__application", "commit");
CREATE INDEX release_app_start ON t_release ("belongs_to__application", "start_timestamp");
CREATE INDEX release_app_created ON t_release ("belongs_to__application", "created_at");
CREATE INDEX release_commit ON t_release ("commit");
CREATE UNIQUE INDEX device_uuid ON t_device ("uuid");
CREATE INDEX device_app ON t_device ("belongs_to__application");
CREATE INDEX device_pin ON t_device ("is_pinned_on__release");
CREATE INDEX device_running ON t_device ("is_running__release");
CREATE INDEX device_name ON t_device ("device_name");
CREATE UNIQUE INDEX release_tag_key ON t_release_tag ("release", "tag_key");
CREATE UNIQUE INDEX device_tag_key ON t_device_tag ("device", "tag_key");
INSERT INTO t_application_type ("id", "name", "slug") VALUES (1, 'Starter', 'microservices-starter');
"#,
    );
    let now = now();
    for (id, slug, name) in DEVICE_TYPES {
        ddl.push_str(&format!(
            "INSERT INTO t_device_type (\"id\", \"created_at\", \"modified_at\", \"slug\", \"name\", \"is_private\") VALUES ({id}, '{now}', '{now}', '{slug}', '{name}', 0);\n"
        ));
    }
    ddl.push_str("PRAGMA user_version = 1;\nCOMMIT;");
    conn.execute_batch(&ddl)?;
    Ok(())
}

/// Now, in the API's timestamp format.
pub fn now() -> String {
    format_date(chrono::Utc::now())
}

pub fn format_date(d: chrono::DateTime<chrono::Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses an ISO-8601 / RFC 3339 timestamp (or a bare date) into the stored format.
pub fn normalize_date(s: &str) -> Option<String> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(format_date(d.with_timezone(&chrono::Utc)));
    }
    if let Ok(d) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(format_date(d.and_utc()));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(format_date(d.and_hms_opt(0, 0, 0)?.and_utc()));
    }
    None
}

/// Milliseconds since the epoch of a stored timestamp.
pub fn date_millis(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

pub fn new_actor(conn: &Connection, kind: &str) -> rusqlite::Result<i64> {
    conn.execute("INSERT INTO actor (\"kind\") VALUES (?1)", [kind])?;
    Ok(conn.last_insert_rowid())
}

pub fn meta_get(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT \"value\" FROM meta WHERE \"key\" = ?1",
        [key],
        |r| r.get(0),
    )
    .optional()
}

pub fn meta_set(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (\"key\", \"value\") VALUES (?1, ?2) ON CONFLICT(\"key\") DO UPDATE SET \"value\" = excluded.\"value\"",
        [key, value],
    )?;
    Ok(())
}

/// Random lower-case hex of `n` characters.
pub fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// A random API key: 32 characters of `[A-Za-z0-9]`.
pub fn random_key() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// The user an API key, or an unexpired session token, belongs to.
pub fn user_of_key(conn: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT \"user_id\" FROM api_key WHERE \"key\" = ?1 \
         UNION ALL SELECT \"user_id\" FROM session WHERE \"token\" = ?1 AND \"expires_at\" > ?2 \
         LIMIT 1",
        rusqlite::params![key, chrono::Utc::now().timestamp()],
        |r| r.get(0),
    )
    .optional()
}

/// The bcrypt cost of stored passwords (open-balena-api's).
const BCRYPT_COST: u32 = 10;

/// Stores `password` for `user`, salted and hashed with bcrypt.
pub fn set_password(conn: &Connection, user: i64, password: &str) -> anyhow::Result<()> {
    let hash = bcrypt::hash(password, BCRYPT_COST)?;
    conn.execute(
        "INSERT INTO user_password (\"user_id\", \"hash\") VALUES (?1, ?2) \
         ON CONFLICT(\"user_id\") DO UPDATE SET \"hash\" = excluded.\"hash\"",
        rusqlite::params![user, hash],
    )?;
    Ok(())
}

/// The user whose username or email is `login` (case-insensitively) and whose password
/// is `password`; `None` for an unknown user, a user without a password, or a wrong one.
pub fn user_of_password(
    conn: &Connection,
    login: &str,
    password: &str,
) -> rusqlite::Result<Option<i64>> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT u.\"id\", p.\"hash\" FROM t_user u JOIN user_password p ON p.\"user_id\" = u.\"id\" \
             WHERE lower(u.\"username\") = lower(?1) OR lower(u.\"email\") = lower(?1) \
             ORDER BY u.\"id\" LIMIT 1",
            [login],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.and_then(|(id, hash)| bcrypt::verify(password, &hash).ok()?.then_some(id)))
}

/// How long a session token is valid (balenaCloud's JWTs: 7 days).
pub const SESSION_SECONDS: i64 = 7 * 24 * 3600;

/// A new session token for `user`: JWT-shaped (header, claims, 32 random bytes as its
/// signature), so clients treat it as a session token; the server only looks it up.
pub fn new_session(
    conn: &Connection,
    user: i64,
    username: &str,
    email: Option<&str>,
) -> rusqlite::Result<String> {
    use rand::RngCore;
    let now = chrono::Utc::now();
    let iat = now.timestamp();
    let exp = iat + SESSION_SECONDS;
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT"});
    let claims = serde_json::json!({
        "id": user,
        "username": username,
        "email": email,
        "authTime": now.timestamp_millis(),
        "iat": iat,
        "exp": exp,
    });
    let mut sig = [0u8; 32];
    rand::rng().fill_bytes(&mut sig);
    let token = format!(
        "{}.{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes()),
        base64url(&sig)
    );
    conn.execute(
        "INSERT INTO session (\"token\", \"user_id\", \"expires_at\") VALUES (?1, ?2, ?3)",
        rusqlite::params![token, user, exp],
    )?;
    Ok(token)
}

/// Base64url without padding (RFC 4648 §5), as JWTs are written.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn add_api_key(
    conn: &Connection,
    user: i64,
    key: &str,
    name: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO api_key (\"key\", \"user_id\", \"name\", \"created_at\") VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![key, user, name, now()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written before application tags existed (schema v2) gets their table and
    /// indexes when it is opened again, and keeps its data.
    #[test]
    fn a_v2_database_gains_application_tags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let conn = open(Some(&path)).unwrap();
            conn.execute_batch(
                "DROP TABLE t_application_tag; DROP INDEX device_tag_by_key; \
                 INSERT INTO meta (\"key\", \"value\") VALUES ('kept', 'yes'); PRAGMA user_version = 2;",
            )
            .unwrap();
        }
        let conn = open(Some(&path)).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let indexes: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND name IN ('application_tag_key', 'device_tag_by_key') ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["application_tag_key", "device_tag_by_key"]);
        conn.execute(
            "INSERT INTO t_application_tag (\"application\", \"tag_key\", \"value\") VALUES (1, 'k', 'v')",
            [],
        )
        .unwrap();
        assert!(conn
            .execute(
                "INSERT INTO t_application_tag (\"application\", \"tag_key\", \"value\") VALUES (1, 'k', 'w')",
                [],
            )
            .is_err());
        assert_eq!(meta_get(&conn, "kept").unwrap().as_deref(), Some("yes"));
    }
}
