//! Fuzzes the sandbox's OData surface over HTTP: random and mutated `$filter`, `$expand`,
//! `$orderby`, `$select` (and `$top`/`$skip`, keys, resource names) plus SQL-injection
//! attempts, at least 100,000 cases per run, bounded in time.
//!
//! The cases come from the generator in `odata_cases/` (mutated transcript queries, grammar
//! and valid-by-construction queries, deep nesting, injections, percent-encoding junk, token
//! soup), the same one `odata_parser_props.rs` runs against the parser in-process.
//!
//! Asserted: zero 5xx; every answer is 200, 400, 401 or 404 (and a 200 is `{"d":…}` JSON,
//! a 400 a JSON message), except that a URL over 16,384 bytes is answered 431; the process is alive at the end and `/ping` answers; after the
//! injection attempts every table still exists, the row counts are unchanged and SQLite's
//! integrity check passes; a quoted injection payload is just a value (matches nothing).
//!
//! Environment: `FUZZ_SEED` (default: time-based; printed), `FUZZ_CASES` (default 100000),
//! `FUZZ_SECONDS` (default 240), `FUZZ_THREADS` (default 6).

mod common;
mod odata_cases;
mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use odata_cases::{corpus, make_case, INJECTIONS, RESOURCES};
use serde_json::{json, Value};
use support::{encode_component, RawClient};

/// Longer URLs (path and query) are answered 431, as the real server does.
const MAX_URL_BYTES: usize = 16 * 1024;

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
                    Ok(r) if case.target.len() > MAX_URL_BYTES => {
                        *local.entry(r.status).or_default() += 1;
                        (r.status != 431).then(|| {
                            format!(
                                "{} byte URL answered {}, not 431",
                                case.target.len(),
                                r.status
                            )
                        })
                    }
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
