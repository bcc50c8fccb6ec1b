//! The one generator of OData cases, shared by the in-process property test of the parser
//! (`tests/odata_parser_props.rs`) and the HTTP fuzzer (`tests/fuzz_odata.rs`), so both
//! explore the same space.
//!
//! A case is a request target (`/v7/resource...?query`, percent-encoded as a client sends
//! it) plus a method and whether it carries the API key. [`make_case`] is deterministic in
//! (seed, case number). The kinds of case ([`Kind`]):
//! - the real queries of both reference transcripts (and a few exotic extra seeds), mutated:
//!   deleted/inserted/duplicated characters, swapped tokens, random and unicode field names,
//!   unknown functions, deep nesting, huge numbers, quote games;
//! - queries of a small OData grammar that mixes real and made-up names, operators and
//!   literals (mostly invalid somewhere);
//! - queries that are valid by construction (the grammar the parser accepts: every one must
//!   parse), with string literals full of injection payloads and reserved characters;
//! - deep nesting of every kind the grammar has (over the parser's limits, too);
//! - SQL-injection payloads in every position a request has;
//! - percent-encoding junk spliced into real encoded queries;
//! - token soup (random sequences of OData tokens) and random unicode strings.
//!
//! Include it with `mod odata_cases;` next to `mod support;` (it uses the encoders there).
//! Each test binary only uses part of this module.
#![allow(dead_code)]

use crate::support::{encode_component, encode_query};

const SERVER_TRANSCRIPT: &str = include_str!("../fixtures/open-balena-server-transcript.md");
const CLI_TRANSCRIPT: &str = include_str!("../fixtures/official-cli-transcript.md");

// ---------------------------------------------------------------------------------------
// PRNG: xorshift64* seeded through splitmix64, so case `i` of seed `s` is reproducible.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    pub fn word(&mut self, xs: &[&'static str]) -> &'static str {
        xs[self.below(xs.len())]
    }
}

// ---------------------------------------------------------------------------------------
// Material.

pub const RESOURCES: &[&str] = &[
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

pub const FIELDS: &[&str] = &[
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

pub const FUNCTIONS: &[&str] = &[
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

pub const OPS: &[&str] = &[
    "eq", "ne", "gt", "ge", "lt", "le", "has", "add", "sub", "mul", "div", "mod", "eqq", "==", "=",
    "<>", "LIKE", "GLOB", "IS", "||",
];

pub const LITERALS: &[&str] = &[
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
pub const INJECTIONS: &[&str] = &[
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

pub const PERCENT_JUNK: &[&str] = &[
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

pub const UNICODE: &[&str] = &[
    "é", "ß", "İ", "名前", "💥", "\u{202e}", "\u{feff}", "\u{fffd}", "ﬃ", "Å", "\u{0301}", "𝔘",
];

/// Valid queries as full, encoded targets, some beyond the transcripts' (exotic syntax, an
/// injection inside a literal, an alias). Every one parses.
pub const EXTRA_SEEDS: &[&str] = &[
    "/v7/application?$filter=(slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27)&$select=id",
    "/v7/application?$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20((slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27))&$expand=is_for__device_type($select=slug),should_be_running__release($select=commit)",
    "/v7/application?$filter=(slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27)&$select=id&$expand=owns__release($select=id;$top=1;$filter=(is_final%20eq%20true)%20and%20(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success%27);$orderby=created_at%20desc)",
    "/v7/release?$filter=(commit%20eq%20%27c1%27)%20and%20((commit%20eq%20%27c1%27)%20and%20(status%20eq%20%27success%27)%20and%20(belongs_to__application%20eq%201001))&$select=id&$top=1&$orderby=created_at%20desc",
    "/v7/device?$filter=startswith(uuid,%27abcdef0%27)&$select=uuid&$expand=is_pinned_on__release($select=commit),belongs_to__application($select=slug)",
    "/v7/device?$orderby=device_name%20asc&$select=id,belongs_to__application&$filter=uuid%20eq%20%27abc%27",
    "/v7/release?$filter=id%20in%20(3001)",
    "/v7/application?$select=id,slug,should_track_latest_release&$expand=should_be_running__release($select=id,commit,semver,status)",
    "/v7/device?$filter=belongs_to__application%20eq%201&$select=id,device_name&$expand=is_pinned_on__release($select=id,commit),should_be_running__release($select=id,commit)&$orderby=id%20asc",
    "/v7/device?$filter=uuid%20eq%20%27x%27%27;DROP%20TABLE%20device;--%27",
    "/v7/application?$filter=(slug%20eq%20%27a%27%20or%20uuid%20eq%20%27a%27)%20and%20owns__device/any(d:d/actor%20eq%201235)",
    "/v7/release?$filter=not(a%20eq%201)%20and%20x/all(v:%20v/b%20ne%20datetime%272024-01-01T00:00:00.000Z%27)%20or%20substringof(%27b%27,a)%20eq%20true&$skip=3",
    "/v7/application?$expand=owns__device/$count($filter=tolower(a)%20in%20(%27x%27,%20-1.5e3,%20null))",
    "/v7/device?$filter=uuid%20eq%20@u&@u=%27a%27%27b%27",
];

/// Every `GET`/`PATCH` target under `/v7/` in both transcripts (the real queries), plus
/// [`EXTRA_SEEDS`].
pub fn corpus() -> Vec<String> {
    let mut out: Vec<String> = EXTRA_SEEDS.iter().map(|s| s.to_string()).collect();
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
pub struct Case {
    pub method: &'static str,
    pub target: String,
    pub auth: bool,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Mutated,
    Grammar,
    /// Valid by construction: the resource path and the query parse. `filter` is the
    /// decoded `$filter` when it uses no parameter alias (so `parse_filter` takes it too).
    Valid {
        filter: Option<String>,
        top: Option<u64>,
        skip: Option<u64>,
    },
    Deep,
    Injection,
    PercentJunk,
    TokenSoup,
    RandomText,
}

impl Case {
    /// The raw (still encoded) resource path after `/v7/`, if the target has that prefix,
    /// and the raw query: what the server hands the parser.
    pub fn parts(&self) -> (Option<&str>, &str) {
        let (path, query) = self
            .target
            .split_once('?')
            .unwrap_or((self.target.as_str(), ""));
        (path.strip_prefix("/v7/"), query)
    }
}

pub fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Splits into tokens, keeping the delimiters as tokens.
pub fn tokens(s: &str) -> Vec<String> {
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

pub fn char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub fn mutate(rng: &mut Rng, s: &mut String) {
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
pub const REAL_FIELDS: usize = 41;

/// Mostly real field names (so that many generated queries are valid and reach SQL), the
/// rest made up.
pub fn field(rng: &mut Rng) -> &'static str {
    if rng.chance(75) {
        FIELDS[rng.below(REAL_FIELDS)]
    } else {
        rng.word(FIELDS)
    }
}

pub fn op(rng: &mut Rng) -> &'static str {
    if rng.chance(80) {
        OPS[rng.below(6)]
    } else {
        rng.word(OPS)
    }
}

pub fn gen_path(rng: &mut Rng) -> String {
    if rng.chance(60) {
        return field(rng).to_string();
    }
    match rng.below(5) {
        0 => format!("{}/{}", field(rng), field(rng)),
        1 => format!("{}/{}/{}", field(rng), field(rng), field(rng)),
        _ => field(rng).to_string(),
    }
}

pub fn gen_filter(rng: &mut Rng, depth: usize) -> String {
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

pub fn gen_expand(rng: &mut Rng, depth: usize) -> String {
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

pub fn gen_select(rng: &mut Rng) -> String {
    let n = 1 + rng.below(4);
    (0..n).map(|_| field(rng)).collect::<Vec<_>>().join(",")
}

pub fn gen_orderby(rng: &mut Rng) -> String {
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

pub fn gen_query(rng: &mut Rng) -> String {
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

pub fn gen_resource_path(rng: &mut Rng) -> String {
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
pub fn gen_deep(rng: &mut Rng) -> String {
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

// ---------------------------------------------------------------------------------------
// Valid by construction: only what the parser's grammar accepts.

/// Contents of string literals in valid queries: plain words, reserved characters of the
/// URL and of OData, unicode and injection payloads. They are escaped (`''`) and encoded.
const STRING_CONTENT: &[&str] = &[
    "",
    "x",
    "myorg/myfleet",
    "success",
    "abcdef0",
    "a&b=c",
    "100%",
    "%27",
    "%28a%2Cb%29",
    "#frag",
    "a+b",
    "(a,b)",
    ";$filter=id eq 1",
    "it's",
    "''",
    "' or ''='",
    " spaced  out ",
];

/// State of one valid query: whether a parameter alias `@v` is defined and used.
struct Valid<'a> {
    rng: &'a mut Rng,
    alias: bool,
    alias_used: bool,
}

impl Valid<'_> {
    /// A name the parser takes as an identifier: the first segment of a real field.
    fn name(&mut self) -> &'static str {
        let f = FIELDS[self.rng.below(REAL_FIELDS)];
        f.split('/').next().unwrap_or(f)
    }

    fn path(&mut self) -> String {
        let n = 1 + self.rng.below(3);
        (0..n).map(|_| self.name()).collect::<Vec<_>>().join("/")
    }

    /// Whitespace between tokens: mostly one space.
    fn ws(&mut self) -> &'static str {
        match self.rng.below(20) {
            0 => "  ",
            1 => "\t",
            _ => " ",
        }
    }

    fn string(&mut self) -> String {
        let content = match self.rng.below(4) {
            0 => self.rng.word(INJECTIONS),
            1 => self.rng.word(UNICODE),
            _ => self.rng.word(STRING_CONTENT),
        };
        format!("'{}'", encode_component(&content.replace('\'', "''")))
    }

    fn literal(&mut self) -> String {
        if self.alias && self.rng.chance(20) {
            self.alias_used = true;
            return "@v".to_string();
        }
        match self.rng.below(12) {
            0 => "null".into(),
            1 => "true".into(),
            2 => "false".into(),
            3 => (self.rng.next() as i64).to_string(),
            4 => (self.rng.below(2000) as i64 - 1000).to_string(),
            5 => ["1.5", "-2.25e3", "1e308", "0.000001", "-0", "1E-5"][self.rng.below(6)].into(),
            6 => "datetime'2024-01-01T00:00:00.000Z'".into(),
            _ => self.string(),
        }
    }

    /// An operand: a literal or a path, sometimes through tolower/toupper.
    fn operand(&mut self) -> String {
        match self.rng.below(6) {
            0 | 1 => self.literal(),
            2 => format!("tolower({})", self.path()),
            3 => format!("toupper({})", self.path()),
            _ => self.path(),
        }
    }

    fn op(&mut self) -> &'static str {
        OPS[self.rng.below(6)]
    }

    fn filter(&mut self, depth: usize) -> String {
        if depth == 0 || self.rng.chance(35) {
            return match self.rng.below(8) {
                0 => {
                    let n = 1 + self.rng.below(5);
                    let items: Vec<String> = (0..n).map(|_| self.literal()).collect();
                    let sep = format!(",{}", self.ws());
                    format!("{} in ({})", self.path(), items.join(&sep))
                }
                1 => {
                    let f =
                        ["startswith", "endswith", "contains", "substringof"][self.rng.below(4)];
                    let call = format!("{f}({},{})", self.operand(), self.string());
                    if self.rng.chance(50) {
                        format!("{call} eq true")
                    } else {
                        call
                    }
                }
                2 => self.path(),
                _ => {
                    let (l, r) = (self.operand(), self.operand());
                    let (w1, w2) = (self.ws(), self.ws());
                    format!("{l}{w1}{}{w2}{r}", self.op())
                }
            };
        }
        match self.rng.below(7) {
            0 => format!("not {}", self.filter(depth - 1)),
            1 => format!("not({})", self.filter(depth - 1)),
            2 => format!("({})", self.filter(depth - 1)),
            3 => {
                let v = ["a", "x", "d", "r", "it"][self.rng.below(5)];
                let kind = if self.rng.chance(50) { "any" } else { "all" };
                let body = if self.rng.chance(50) {
                    format!("{v}/{} {} {}", self.name(), self.op(), self.literal())
                } else {
                    self.filter(depth - 1)
                };
                format!("{}/{kind}({v}:{}{body})", self.path(), self.ws())
            }
            _ => {
                let joiner = if self.rng.chance(50) { "and" } else { "or" };
                let (l, r) = (self.filter(depth - 1), self.filter(depth - 1));
                let (w1, w2) = (self.ws(), self.ws());
                format!("{l}{w1}{joiner}{w2}{r}")
            }
        }
    }

    fn select(&mut self) -> String {
        if self.rng.chance(10) {
            return "*".into();
        }
        let n = 1 + self.rng.below(4);
        (0..n).map(|_| self.name()).collect::<Vec<_>>().join(",")
    }

    fn orderby(&mut self) -> String {
        let n = 1 + self.rng.below(3);
        (0..n)
            .map(|_| {
                let dir = ["", " asc", " desc"][self.rng.below(3)];
                format!("{}{dir}", self.path())
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn count_value(&mut self) -> u64 {
        match self.rng.below(8) {
            0 => i64::MAX as u64,
            1 => 0,
            _ => self.rng.below(100) as u64,
        }
    }

    /// `$option=value` pieces of one level, each option at most once, in random order.
    fn options(&mut self, depth: usize, count_only: bool) -> Vec<String> {
        if count_only {
            return vec![format!("$filter={}", self.filter(2))];
        }
        let mut opts = Vec::new();
        if self.rng.chance(50) {
            opts.push(format!("$filter={}", self.filter(2)));
        }
        if self.rng.chance(50) {
            opts.push(format!("$select={}", self.select()));
        }
        if self.rng.chance(30) {
            opts.push(format!("$orderby={}", self.orderby()));
        }
        if self.rng.chance(20) {
            opts.push(format!("$top={}", self.count_value()));
        }
        if self.rng.chance(10) {
            opts.push(format!("$skip={}", self.count_value()));
        }
        if depth > 0 && self.rng.chance(40) {
            opts.push(format!("$expand={}", self.expand(depth - 1)));
        }
        if opts.is_empty() {
            opts.push(format!("$select={}", self.select()));
        }
        shuffle(self.rng, &mut opts);
        opts
    }

    fn expand(&mut self, depth: usize) -> String {
        let n = 1 + self.rng.below(3);
        (0..n)
            .map(|_| {
                let mut item = self.name().to_string();
                let count = self.rng.chance(15);
                if count {
                    item.push_str("/$count");
                }
                if self.rng.chance(60) {
                    item.push_str(&format!("({})", self.options(depth, count).join(";")));
                }
                item
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn resource_path(&mut self) -> String {
        let r = *self.rng.pick(RESOURCES);
        let key = match self.rng.below(6) {
            0 => format!("({})", self.rng.next() as i64),
            1 => format!("({})", self.rng.below(10_000)),
            2 => {
                // Keys do not take aliases over HTTP (`parse_resource_path` has no query).
                let alias = std::mem::replace(&mut self.alias, false);
                let k = format!("({}={})", self.name(), self.literal());
                self.alias = alias;
                k
            }
            _ => String::new(),
        };
        let count = if self.rng.chance(15) { "/$count" } else { "" };
        format!("/v7/{r}{key}{count}")
    }
}

fn shuffle<T>(rng: &mut Rng, xs: &mut [T]) {
    for i in (1..xs.len()).rev() {
        let j = rng.below(i + 1);
        xs.swap(i, j);
    }
}

/// A valid case: resource path, query (decoded, with encoded string contents) and its kind.
fn gen_valid(rng: &mut Rng) -> (String, String, Kind) {
    let mut v = Valid {
        rng,
        alias: false,
        alias_used: false,
    };
    v.alias = v.rng.chance(10);
    let path = v.resource_path();
    let mut opts: Vec<String> = Vec::new();
    let mut filter = None;
    let (mut top, mut skip) = (None, None);
    if v.rng.chance(75) {
        let depth = 1 + v.rng.below(4);
        let f = v.filter(depth);
        opts.push(format!("$filter={f}"));
        filter = Some(f);
    }
    if v.rng.chance(40) {
        opts.push(format!("$select={}", v.select()));
    }
    if v.rng.chance(40) {
        let depth = 1 + v.rng.below(3);
        opts.push(format!("$expand={}", v.expand(depth)));
    }
    if v.rng.chance(30) {
        opts.push(format!("$orderby={}", v.orderby()));
    }
    if v.rng.chance(20) {
        let n = v.count_value();
        top = Some(n);
        opts.push(format!("$top={n}"));
    }
    if v.rng.chance(10) {
        let n = v.count_value();
        skip = Some(n);
        opts.push(format!("$skip={n}"));
    }
    if v.rng.chance(5) {
        // Parameters without `$` are ignored, whatever their value.
        opts.push("foo=(bar".to_string());
    }
    if v.alias {
        let alias = std::mem::replace(&mut v.alias, false);
        let value = v.literal();
        v.alias = alias;
        opts.push(format!("@v={value}"));
    }
    shuffle(v.rng, &mut opts);
    let filter = if v.alias_used { None } else { filter };
    // The filter as `parse_filter` sees it: percent-decoded once.
    let filter = filter.map(|f| decode(&encode_query(&f)));
    (path, opts.join("&"), Kind::Valid { filter, top, skip })
}

// ---------------------------------------------------------------------------------------
// Token soup and random text.

const SOUP: &[&str] = &[
    "(",
    ")",
    "$filter=",
    "$expand=",
    "$select=",
    "$top=",
    "$orderby=",
    "&",
    ";",
    ",",
    "/",
    ":",
    "a",
    "any",
    "eq",
    " ",
    "and",
    "or",
    "not",
    "in",
    "'x'",
    "''",
    "'",
    "1",
    "-",
    "%27",
    "%2",
    "%20",
    "%28",
    "%2C",
    "%29",
    "$count",
    "@a",
    "@a=",
    "tolower",
    "startswith",
    "*",
    "=",
    "datetime",
    "id",
    "desc",
];

fn gen_soup(rng: &mut Rng) -> String {
    let n = rng.below(60);
    (0..n).map(|_| rng.word(SOUP)).collect()
}

/// Up to 200 random non-control characters, mostly ASCII.
fn gen_text(rng: &mut Rng) -> String {
    let n = rng.below(201);
    (0..n)
        .filter_map(|_| {
            let c = match rng.below(10) {
                0..=5 => char::from_u32(0x20 + rng.below(0x5f) as u32),
                6 => rng.word(UNICODE).chars().next(),
                _ => char::from_u32(rng.next() as u32 % 0x11_0000),
            }?;
            (!c.is_control()).then_some(c)
        })
        .collect()
}

/// Case `i` of seed `seed`: deterministic.
pub fn make_case(seed: u64, i: u64, corpus: &[String]) -> Case {
    let mut rng = Rng::new(seed, i);
    let auth = !rng.chance(8);
    let roll = rng.below(100);
    let (path, query, kind) = if roll < 35 {
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
        (p, q, Kind::Mutated)
    } else if roll < 58 {
        (
            gen_resource_path(&mut rng),
            gen_query(&mut rng),
            Kind::Grammar,
        )
    } else if roll < 70 {
        gen_valid(&mut rng)
    } else if roll < 78 {
        (
            format!("/v7/{}", rng.pick(RESOURCES)),
            gen_deep(&mut rng),
            Kind::Deep,
        )
    } else if roll < 89 {
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
        (p, q, Kind::Injection)
    } else if roll < 96 {
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
            kind: Kind::PercentJunk,
        };
    } else if roll < 98 {
        let r = *rng.pick(RESOURCES);
        (format!("/v7/{r}"), gen_soup(&mut rng), Kind::TokenSoup)
    } else {
        let r = *rng.pick(RESOURCES);
        (format!("/v7/{r}"), gen_text(&mut rng), Kind::RandomText)
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
        kind,
    }
}
