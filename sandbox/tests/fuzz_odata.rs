//! Fuzzes the sandbox's OData surface over HTTP: random and mutated `$filter`, `$expand`,
//! `$orderby`, `$select` (and `$top`/`$skip`, keys, resource names) plus SQL-injection
//! attempts, at least 100,000 cases per run, bounded in time.
//!
//! The starting points are the real queries of both reference transcripts
//! (`fixtures/open-balena-server-transcript.md`, `fixtures/official-cli-transcript.md`),
//! mutated (deleted/inserted/duplicated characters, swapped tokens, random and unicode field
//! names, unknown functions, deep nesting, huge numbers, percent-encoding junk), plus
//! queries generated from a small OData grammar.
//!
//! Asserted: zero 5xx; every answer is 200, 400, 401 or 404 (and a 200 is `{"d":…}` JSON,
//! a 400 a JSON message); the process is alive at the end and `/ping` answers; after the
//! injection attempts every table still exists, the row counts are unchanged and SQLite's
//! integrity check passes; a quoted injection payload is just a value (matches nothing).
//!
//! Environment: `FUZZ_SEED` (default: time-based; printed), `FUZZ_CASES` (default 100000),
//! `FUZZ_SECONDS` (default 240), `FUZZ_THREADS` (default 6).

mod common;
mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{encode_component, encode_query, RawClient};

const SERVER_TRANSCRIPT: &str = include_str!("fixtures/open-balena-server-transcript.md");
const CLI_TRANSCRIPT: &str = include_str!("fixtures/official-cli-transcript.md");

// ---------------------------------------------------------------------------------------
// PRNG: xorshift64* seeded through splitmix64, so case `i` of seed `s` is reproducible.

struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn word(&mut self, xs: &[&'static str]) -> &'static str {
        xs[self.below(xs.len())]
    }
}

// ---------------------------------------------------------------------------------------
// Material.

const RESOURCES: &[&str] = &[
    "application",
    "release",
    "device",
    "device_type",
    "organization",
    "release_tag",
    "device_tag",
    "user",
    "application_type",
];

const FIELDS: &[&str] = &[
    "id",
    "created_at",
    "modified_at",
    "slug",
    "app_name",
    "uuid",
    "commit",
    "status",
    "semver",
    "raw_version",
    "is_final",
    "is_invalidated",
    "is_passing_tests",
    "start_timestamp",
    "revision",
    "device_name",
    "is_online",
    "overall_status",
    "tag_key",
    "value",
    "handle",
    "should_track_latest_release",
    "belongs_to__application",
    "should_be_running__release",
    "is_pinned_on__release",
    "is_running__release",
    "is_of__device_type",
    "is_for__device_type",
    "organization",
    "owns__release",
    "owns__device",
    "release_tag",
    "device_tag",
    "is_directly_accessible_by__user",
    "belongs_to__application/slug",
    "is_pinned_on__release/commit",
    "should_be_running__release/belongs_to__application/organization/handle",
    "actor",
    "composition",
    "version",
    "api_secret",
    "email",
    "password",
    "nonexistent",
    "Id",
    "ID",
    "id ",
    "$it",
    "__id",
    "d",
    "t_device",
    "_m",
    "\"id\"",
    "`id`",
    "[id]",
    "id\"--",
    "slug'",
    "déjà_vu",
    "名前",
    "💥",
    "a\u{0}b",
    "\u{202e}di",
];

const FUNCTIONS: &[&str] = &[
    "startswith",
    "endswith",
    "contains",
    "substringof",
    "tolower",
    "toupper",
    "length",
    "trim",
    "concat",
    "indexof",
    "substring",
    "year",
    "now",
    "round",
    "cast",
    "isof",
    "frobnicate",
    "sqlite_version",
    "load_extension",
    "randomblob",
    "char",
    "any",
    "all",
];

const OPS: &[&str] = &[
    "eq", "ne", "gt", "ge", "lt", "le", "has", "add", "sub", "mul", "div", "mod", "eqq", "==", "=",
    "<>", "LIKE", "GLOB", "IS", "||",
];

const LITERALS: &[&str] = &[
    "1",
    "0",
    "-1",
    "1001",
    "5002",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999999999999999999",
    "1.5",
    "1e308",
    "1e999",
    "-0",
    "0x27",
    "1.",
    ".5",
    "null",
    "true",
    "false",
    "NaN",
    "INF",
    "'x'",
    "''",
    "''''",
    "'it''s'",
    "'myorg/myfleet'",
    "'admin/myfleet'",
    "'aaaaaaa1111111111111111111111111'",
    "'abcdef0'",
    "'success'",
    "'é'",
    "'💥'",
    "'\u{0}'",
    "datetime'2024-01-01T00:00:00Z'",
    "2024-01-01T00:00:00.000Z",
    "guid'00000000-0000-0000-0000-000000000000'",
    "@a",
    "$root",
    "'unterminated",
];

/// SQL-injection payloads, used raw and inside properly escaped string literals.
const INJECTIONS: &[&str] = &[
    "' OR 1=1 --",
    "' OR '1'='1",
    "'; DROP TABLE device; --",
    "'; DROP TABLE t_device; --",
    "'); DROP TABLE t_release; --",
    "x'';DROP TABLE device;--",
    ") UNION SELECT key, user_id, name FROM api_key --",
    "') UNION SELECT * FROM api_key --",
    "1 UNION SELECT 1,2,3",
    "1; DELETE FROM t_release",
    "1 OR 1=1",
    "\" OR \"\"=\"",
    "id) OR (1=1",
    "x' AND 1=(SELECT COUNT(*) FROM sqlite_master) AND 'a'='a",
    "'||(SELECT key FROM api_key LIMIT 1)||'",
    "'; ATTACH DATABASE '/tmp/pwned.db' AS pwned; --",
    "'; PRAGMA writable_schema=1; --",
    "randomblob(1000000000)",
    "zeroblob(2000000000)",
    "load_extension('/tmp/x')",
    "(SELECT 1)",
    "t_device.id",
    "\"id\" FROM t_device --",
    "id;DROP TABLE t_application",
    "char(39)||char(39)",
    "%27%20OR%201%3D1--",
    "\\' OR 1=1 --",
    "1' or sleep(5)#",
    "${jndi:ldap://x}",
];

const PERCENT_JUNK: &[&str] = &[
    "%",
    "%%",
    "%G",
    "%ZZ",
    "%2",
    "%C3",
    "%C3%28",
    "%00",
    "%FF%FE",
    "%25",
    "%2527",
    "%E2%82",
    "%F0%9F%92",
    "%0A",
    "%0D%0A",
    "%7F",
    "%u0027",
    "%27",
    "%28",
    "%29",
    "%2C",
    "%3B",
    "%26",
    "%3D",
];

const UNICODE: &[&str] = &[
    "é", "ß", "İ", "名前", "💥", "\u{202e}", "\u{feff}", "\u{fffd}", "ﬃ", "Å", "\u{0301}", "𝔘",
];

/// Every `GET`/`PATCH` target under `/v7/` in both transcripts: the real queries.
fn corpus() -> Vec<String> {
    let mut out = Vec::new();
    for text in [SERVER_TRANSCRIPT, CLI_TRANSCRIPT] {
        for line in text.lines() {
            let line = line.trim_start_matches("| `");
            for m in ["GET ", "PATCH "] {
                if let Some(rest) = line.strip_prefix(m) {
                    let t = rest.split('`').next().unwrap_or(rest).trim();
                    if t.starts_with("/v7/") {
                        out.push(t.to_string());
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

// ---------------------------------------------------------------------------------------
// Case generation.

#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    target: String,
    auth: bool,
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Splits into tokens, keeping the delimiters as tokens.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if "()',/ $=;&:".contains(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_string());
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(rng: &mut Rng, s: &mut String) {
    let n = s.len();
    let at = char_boundary(s, rng.below(n + 1));
    match rng.below(13) {
        0 if n > 0 => {
            let end = char_boundary(s, at + 1 + rng.below(3));
            if end > at {
                s.replace_range(at..end, "");
            }
        }
        1 => {
            let c = *rng.pick(&[
                "(", ")", "'", ",", "/", "$", "=", ";", "&", ":", " ", "\"", "\\", "*", "-", "@",
                "?", "#", "+", "0", "9", "a", "_",
            ]);
            s.insert_str(at, c);
        }
        2 if n > 0 => {
            let end = char_boundary(s, at + rng.below(24));
            let dup = s[at..end].to_string();
            s.insert_str(end, &dup);
        }
        3 => {
            let mut t = tokens(s);
            if t.len() > 1 {
                let a = rng.below(t.len());
                let b = rng.below(t.len());
                t.swap(a, b);
                *s = t.concat();
            }
        }
        4 => {
            // Replace an identifier-looking token with a random field name.
            let mut t = tokens(s);
            let idx: Vec<usize> = (0..t.len())
                .filter(|&i| t[i].chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .collect();
            if !idx.is_empty() {
                let i = *rng.pick(&idx);
                t[i] = rng.pick(FIELDS).to_string();
                *s = t.concat();
            }
        }
        5 => {
            let mut t = tokens(s);
            let idx: Vec<usize> = (0..t.len())
                .filter(|&i| t[i].chars().all(|c| c.is_ascii_digit()))
                .collect();
            let huge = *rng.pick(&[
                "99999999999999999999999999999999",
                "-9223372036854775809",
                "1e999",
                "18446744073709551616",
                "0.0000000000000000000000001",
            ]);
            if idx.is_empty() {
                s.insert_str(at, huge);
            } else {
                let i = *rng.pick(&idx);
                t[i] = huge.to_string();
                *s = t.concat();
            }
        }
        6 => {
            let f = rng.pick(FUNCTIONS);
            let arg = rng.pick(FIELDS);
            s.insert_str(at, &format!("{f}({arg},'x') eq true and "));
        }
        7 => {
            let d = 1 + rng.below(80);
            let open = if rng.chance(50) { "(" } else { "not(" };
            *s = format!("{}{s}{}", open.repeat(d), ")".repeat(d));
        }
        8 => s.insert_str(at, rng.word(UNICODE)),
        9 => s.insert_str(at, rng.word(INJECTIONS)),
        10 => s.truncate(at),
        11 => {
            // Quote games.
            *s = match rng.below(3) {
                0 => s.replacen('\'', "\"", 1),
                1 => s.replacen('\'', "", 1),
                _ => s.replacen('\'', "'''", 1),
            }
        }
        _ => {
            let lit = rng.pick(LITERALS);
            s.insert_str(at, lit);
        }
    }
}

/// Index in `FIELDS` where the made-up names start.
const REAL_FIELDS: usize = 41;

/// Mostly real field names (so that many generated queries are valid and reach SQL), the
/// rest made up.
fn field(rng: &mut Rng) -> &'static str {
    if rng.chance(75) {
        FIELDS[rng.below(REAL_FIELDS)]
    } else {
        rng.word(FIELDS)
    }
}

fn op(rng: &mut Rng) -> &'static str {
    if rng.chance(80) {
        OPS[rng.below(6)]
    } else {
        rng.word(OPS)
    }
}

fn gen_path(rng: &mut Rng) -> String {
    if rng.chance(60) {
        return field(rng).to_string();
    }
    match rng.below(5) {
        0 => format!("{}/{}", field(rng), field(rng)),
        1 => format!("{}/{}/{}", field(rng), field(rng), field(rng)),
        _ => field(rng).to_string(),
    }
}

fn gen_filter(rng: &mut Rng, depth: usize) -> String {
    let leaf = depth == 0 || rng.chance(30);
    if leaf {
        return match rng.below(6) {
            0 => format!(
                "{}({},{})",
                rng.pick(FUNCTIONS),
                gen_path(rng),
                rng.pick(LITERALS)
            ),
            1 => {
                let n = rng.below(5);
                let items: Vec<&str> = (0..n).map(|_| *rng.pick(LITERALS)).collect();
                format!("{} in ({})", gen_path(rng), items.join(","))
            }
            2 => format!("tolower({}) eq {}", gen_path(rng), rng.pick(LITERALS)),
            _ => format!("{} {} {}", gen_path(rng), op(rng), rng.pick(LITERALS)),
        };
    }
    match rng.below(6) {
        0 => format!("not {}", gen_filter(rng, depth - 1)),
        1 => format!("({})", gen_filter(rng, depth - 1)),
        2 => {
            let v = *rng.pick(&["a", "x", "d", "$it", "r"]);
            format!(
                "{}/{}({v}:{v}/{} {} {})",
                field(rng),
                rng.pick(&["any", "all", "some"]),
                field(rng),
                op(rng),
                if rng.chance(30) {
                    gen_filter(rng, depth - 1)
                } else {
                    rng.pick(LITERALS).to_string()
                }
            )
        }
        _ => format!(
            "{} {} {}",
            gen_filter(rng, depth - 1),
            rng.pick(&["and", "or", "AND", "xor", "&&"]),
            gen_filter(rng, depth - 1)
        ),
    }
}

fn gen_expand(rng: &mut Rng, depth: usize) -> String {
    let mut s = field(rng).to_string();
    if depth > 0 && rng.chance(60) {
        let mut opts = Vec::new();
        if rng.chance(50) {
            opts.push(format!("$select={}", gen_select(rng)));
        }
        if rng.chance(40) {
            opts.push(format!("$filter={}", gen_filter(rng, 2)));
        }
        if rng.chance(30) {
            opts.push(format!("$orderby={}", gen_orderby(rng)));
        }
        if rng.chance(30) {
            opts.push(format!("$top={}", rng.pick(LITERALS)));
        }
        if rng.chance(50) {
            opts.push(format!("$expand={}", gen_expand(rng, depth - 1)));
        }
        s.push_str(&format!("({})", opts.join(";")));
    }
    if rng.chance(25) {
        s.push(',');
        s.push_str(&gen_expand(rng, depth.saturating_sub(1)));
    }
    s
}

fn gen_select(rng: &mut Rng) -> String {
    let n = 1 + rng.below(4);
    (0..n).map(|_| field(rng)).collect::<Vec<_>>().join(",")
}

fn gen_orderby(rng: &mut Rng) -> String {
    let n = 1 + rng.below(3);
    (0..n)
        .map(|_| {
            format!(
                "{}{}",
                gen_path(rng),
                rng.pick(&["", " asc", " desc", " DESC", " sideways", " asc asc"])
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn gen_query(rng: &mut Rng) -> String {
    let mut opts = Vec::new();
    if rng.chance(70) {
        let depth = 1 + rng.below(5);
        opts.push(format!("$filter={}", gen_filter(rng, depth)));
    }
    if rng.chance(40) {
        opts.push(format!("$select={}", gen_select(rng)));
    }
    if rng.chance(40) {
        let depth = 1 + rng.below(4);
        opts.push(format!("$expand={}", gen_expand(rng, depth)));
    }
    if rng.chance(30) {
        opts.push(format!("$orderby={}", gen_orderby(rng)));
    }
    if rng.chance(15) {
        opts.push(format!("$top={}", rng.pick(LITERALS)));
    }
    if rng.chance(10) {
        opts.push(format!("$skip={}", rng.pick(LITERALS)));
    }
    if rng.chance(5) {
        opts.push(format!("${}={}", field(rng), rng.pick(LITERALS)));
    }
    if rng.chance(5) {
        opts.push(format!("@a={}", rng.pick(LITERALS)));
    }
    opts.join("&")
}

fn gen_resource_path(rng: &mut Rng) -> String {
    let r = *rng.pick(RESOURCES);
    match rng.below(12) {
        0 => format!("/v7/{r}({})", rng.pick(LITERALS).trim_matches('\'')),
        1 => format!("/v7/{r}({}={})", field(rng), rng.pick(LITERALS)),
        2 => format!("/v7/{r}/$count"),
        3 => format!("/v7/{}", field(rng)),
        4 => format!("/v7/{r}(uuid='{}')", encode_component(rng.word(INJECTIONS))),
        _ => format!("/v7/{r}"),
    }
}

/// Deep nesting of every kind the grammar has.
fn gen_deep(rng: &mut Rng) -> String {
    let kind = rng.below(6);
    let max = match kind {
        0 | 1 if rng.chance(20) => 3000,
        3 if rng.chance(20) => 1000,
        _ => 150,
    };
    let d = 1 + rng.below(max);
    match kind {
        0 => format!("$filter={}id eq 1{}", "(".repeat(d), ")".repeat(d)),
        1 => format!("$filter={}id eq 1{}", "not(".repeat(d), ")".repeat(d)),
        2 => format!(
            "$expand={}id{}",
            "owns__release($expand=".repeat(d),
            ")".repeat(d)
        ),
        3 => format!(
            "$filter={}",
            (0..d)
                .map(|i| format!("id eq {i}"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        4 => format!(
            "$filter={}x/id eq 1{}",
            "owns__release/any(x:".repeat(d),
            ")".repeat(d)
        ),
        _ => format!(
            "$filter=tolower({}slug{}) eq 'x'",
            "tolower(".repeat(d),
            ")".repeat(d)
        ),
    }
}

/// Case `i` of seed `seed`: deterministic.
fn make_case(seed: u64, i: u64, corpus: &[String]) -> Case {
    let mut rng = Rng::new(seed, i);
    let auth = !rng.chance(8);
    let kind = rng.below(100);
    let (path, query) = if kind < 40 {
        // A real query, mutated.
        let base = rng.pick(corpus);
        let (p, q) = base.split_once('?').unwrap_or((base, ""));
        let mut q = decode(q);
        let mut p = decode(p);
        let rounds = 1 + rng.below(4);
        for _ in 0..rounds {
            if rng.chance(85) {
                mutate(&mut rng, &mut q);
            } else {
                mutate(&mut rng, &mut p);
            }
        }
        (p, q)
    } else if kind < 70 {
        (gen_resource_path(&mut rng), gen_query(&mut rng))
    } else if kind < 80 {
        (format!("/v7/{}", rng.pick(RESOURCES)), gen_deep(&mut rng))
    } else if kind < 92 {
        // SQL injection in every position a request has.
        let inj = rng.word(INJECTIONS);
        let r = *rng.pick(RESOURCES);
        let escaped = inj.replace('\'', "''");
        let q = match rng.below(11) {
            0 => format!("$filter=uuid eq '{escaped}'"),
            1 => format!("$filter=uuid eq '{inj}'"),
            2 => format!("$filter={inj} eq 1"),
            3 => format!("$select={inj}"),
            4 => format!("$orderby={inj} desc"),
            5 => format!("$expand={inj}"),
            6 => format!("$filter=startswith(commit,'{escaped}')"),
            7 => format!("$top={inj}"),
            8 => format!("$filter=id in ({inj})"),
            9 => format!("$expand=owns__release($filter=commit eq '{inj}')"),
            _ => format!("$filter=belongs_to__application/slug eq '{escaped}'&$orderby={inj}"),
        };
        let p = match rng.below(5) {
            0 => format!("/v7/{}", encode_component(inj)),
            1 => format!("/v7/{r}({})", encode_component(inj)),
            _ => format!("/v7/{r}"),
        };
        (p, q)
    } else {
        // A real query with percent-encoding junk spliced into the encoded form.
        let base = rng.pick(corpus).clone();
        let mut t = base;
        for _ in 0..1 + rng.below(3) {
            let at = char_boundary(&t, 4 + rng.below(t.len().saturating_sub(4) + 1));
            t.insert_str(at, rng.word(PERCENT_JUNK));
        }
        return Case {
            method: "GET",
            target: t,
            auth,
        };
    };
    // A few bulk PATCHes compile the same filters on the write path.
    let method = if rng.chance(4) && query.contains("$filter") {
        "PATCH"
    } else {
        "GET"
    };
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let target = if query.is_empty() {
        encode_query(&path)
    } else {
        format!("{}?{}", encode_query(&path), encode_query(&query))
    };
    Case {
        method,
        target,
        auth,
    }
}

// ---------------------------------------------------------------------------------------
// The run.

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `$count` of every resource, as the seeded user sees it.
fn api_counts(c: &mut RawClient, key: &str) -> BTreeMap<&'static str, Value> {
    RESOURCES
        .iter()
        .map(|r| {
            let resp = c.get(&format!("/v7/{r}/$count"), Some(key)).expect("count");
            (*r, json!([resp.status, resp.text()]))
        })
        .collect()
}

/// Tables and their row counts, plus SQLite's integrity check, read from the file.
fn db_state(db: &std::path::Path) -> (Vec<(String, i64)>, String) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the database read-only");
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let counts = names
        .into_iter()
        .map(|n| {
            let c: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM \"{n}\""), [], |r| r.get(0))
                .unwrap();
            (n, c)
        })
        .collect();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    (counts, integrity)
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    failures: Vec<String>,
}

#[test]
fn fuzz_odata_over_http() {
    let seed = env_u64(
        "FUZZ_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    );
    let want = env_u64("FUZZ_CASES", 100_000);
    let budget = Duration::from_secs(env_u64("FUZZ_SECONDS", 240));
    let threads = env_u64("FUZZ_THREADS", 6).max(1);
    eprintln!("fuzz_odata: seed {seed} (rerun with FUZZ_SEED={seed}), target {want} cases, {threads} threads, budget {budget:?}");

    let mut sb = common::Sandbox::start(&common::fixture("transcript-seed.json"));
    let key = sb.api_key.clone();
    let corpus = Arc::new(corpus());
    assert!(corpus.len() > 50, "corpus too small: {}", corpus.len());

    let mut c = RawClient::new(&sb.base_url);
    let counts_before = api_counts(&mut c, &key);
    let (tables_before, _) = db_state(&sb.db);

    // Every injection, escaped as a string literal, is just a value: it matches nothing.
    for inj in INJECTIONS {
        for r in ["device", "application", "release"] {
            let field = if r == "release" { "commit" } else { "uuid" };
            // As the SDK builds it: '' escapes, then encodeURIComponent of the value.
            let lit = encode_component(&inj.replace('\'', "''"));
            let t = format!("/v7/{r}?$filter={field}%20eq%20%27{lit}%27");
            let resp = c.get(&t, Some(&key)).expect("request");
            assert_eq!(
                (resp.status, resp.text()),
                (200, r#"{"d":[]}"#.to_string()),
                "GET {t}"
            );
        }
    }

    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (next, done, stop, tally, corpus) = (
            next.clone(),
            done.clone(),
            stop.clone(),
            tally.clone(),
            corpus.clone(),
        );
        let base = sb.base_url.clone();
        let key = key.clone();
        handles.push(std::thread::spawn(move || {
            let mut client = RawClient::new(&base);
            client.timeout = Duration::from_secs(20);
            let auth = format!("Bearer {key}");
            let mut local: BTreeMap<u16, u64> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= want || started.elapsed() >= budget {
                    break;
                }
                let case = make_case(seed, i, &corpus);
                let mut headers: Vec<(&str, &str)> = Vec::new();
                if case.auth {
                    headers.push(("Authorization", &auth));
                }
                let body = if case.method == "PATCH" {
                    headers.push(("Content-Type", "application/json"));
                    Some(&b"{\"note\":\"fuzz\"}"[..])
                } else {
                    None
                };
                let problem = match client.send(case.method, &case.target, &headers, body) {
                    Err(e) => Some(format!("transport error {e}")),
                    Ok(r) => {
                        *local.entry(r.status).or_default() += 1;
                        match r.status {
                            200 => match serde_json::from_slice::<Value>(&r.body) {
                                Ok(v) if case.method == "PATCH" || v.get("d").is_some() => None,
                                _ if case.method == "PATCH" && r.body.is_empty() => None,
                                _ => Some(format!("200 without a JSON d: {}", r.text())),
                            },
                            400 => match serde_json::from_slice::<Value>(&r.body) {
                                Ok(_) => None,
                                Err(_) => Some(format!("400 body is not JSON: {:?}", r.text())),
                            },
                            401 | 404 => None,
                            s => Some(format!("status {s}: {}", r.text())),
                        }
                    }
                };
                done.fetch_add(1, Ordering::Relaxed);
                if let Some(p) = problem {
                    let mut t = tally.lock().unwrap();
                    if t.failures.len() < 50 {
                        t.failures.push(format!(
                            "case {i}: {} {} (auth {}) -> {p}",
                            case.method, case.target, case.auth
                        ));
                    }
                    if p.starts_with("transport error") {
                        // The server may be gone; stop early rather than time out 100k times.
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            let mut t = tally.lock().unwrap();
            for (s, n) in local {
                *t.statuses.entry(s).or_default() += n;
            }
        }));
    }
    for h in handles {
        h.join().expect("fuzz thread panicked");
    }
    let elapsed = started.elapsed();
    let ran = done.load(Ordering::Relaxed);
    let t = tally.lock().unwrap();
    eprintln!(
        "fuzz_odata: seed {seed}: {ran} cases in {:.1}s ({:.0}/s), statuses {:?}",
        elapsed.as_secs_f64(),
        ran as f64 / elapsed.as_secs_f64(),
        t.statuses
    );

    // The process is alive and answers.
    assert!(
        sb.child.try_wait().expect("try_wait").is_none(),
        "the sandbox process died during the fuzz run"
    );
    let mut c = RawClient::new(&sb.base_url);
    let ping = c.get("/ping", None).expect("ping");
    assert_eq!(ping.status, 200, "/ping after the fuzz run");

    assert!(
        t.failures.is_empty(),
        "seed {seed}: {} bad answers (first {}):\n{}",
        t.failures.len(),
        t.failures.len().min(50),
        t.failures.join("\n")
    );
    assert!(
        ran >= want,
        "only {ran} of {want} cases ran within {budget:?} (seed {seed})"
    );

    // Nothing was dropped or deleted; the database is sound.
    assert_eq!(api_counts(&mut c, &key), counts_before, "$count changed");
    let (tables_after, integrity) = db_state(&sb.db);
    assert_eq!(tables_after, tables_before, "tables or row counts changed");
    assert_eq!(integrity, "ok");
}

/// The generator is deterministic per (seed, case) and produces sendable targets.
#[test]
fn cases_are_reproducible_and_well_formed() {
    let corpus = corpus();
    assert!(corpus
        .iter()
        .any(|q| q.contains("is_directly_accessible_by__user")));
    assert!(corpus.iter().any(|q| q.contains("$filter=(((")));
    for i in 0..5000 {
        let a = make_case(42, i, &corpus);
        let b = make_case(42, i, &corpus);
        assert_eq!((a.method, &a.target), (b.method, &b.target));
        assert!(a.target.starts_with('/'), "{}", a.target);
        assert!(
            !a.target.bytes().any(|b| b <= b' ' || b == 0x7f),
            "case {i} breaks the request line: {:?}",
            a.target
        );
        assert!(
            a.target.len() < 64 * 1024,
            "case {i} is {} bytes",
            a.target.len()
        );
    }
}

#[test]
fn real_fields_come_first() {
    assert_eq!(FIELDS[REAL_FIELDS - 1], "api_secret");
    assert_eq!(FIELDS[REAL_FIELDS], "email");
    assert_eq!(&OPS[..6], ["eq", "ne", "gt", "ge", "lt", "le"]);
}
