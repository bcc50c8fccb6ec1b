//! Property test of the OData parser, in-process through the library: the cases of the
//! shared generator (`odata_cases/`, the same the HTTP fuzzer sends) are handed to
//! `parse_resource_path` and `parse_query` exactly as the server hands them over.
//!
//! Asserted: no input makes the parser panic; every case that is valid by construction
//! parses (resource path, query, and the bare `$filter` through `parse_filter`), with the
//! `$top`/`$skip` it was built with.
//!
//! Environment: `FUZZ_SEED` (default: time-based; printed), `PROPS_CASES` (default 100000),
//! `PROPS_SECONDS` (default 20: a safety net, the run takes a few seconds).

mod odata_cases;
mod support;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use balena_sandbox::odata::{
    parse_filter, parse_query, parse_resource_path, parse_resource_path_with_query,
};
use odata_cases::{corpus, make_case, Case, Kind, EXTRA_SEEDS, FIELDS, OPS, REAL_FIELDS};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::Mutated => "mutated",
        Kind::Grammar => "grammar",
        Kind::Valid { .. } => "valid",
        Kind::Deep => "deep",
        Kind::Injection => "injection",
        Kind::PercentJunk => "percent-junk",
        Kind::TokenSoup => "token-soup",
        Kind::RandomText => "random-text",
    }
}

/// Runs every parser entry point on the case; answers a problem, if any. A panic is caught
/// and reported with the case.
fn check(case: &Case) -> Option<String> {
    let (path, query) = case.parts();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let parsed_path = path.map(parse_resource_path);
        let parsed_query = parse_query(query);
        // Probes beyond what the server calls: other entry points on the same text.
        let decoded = percent_encoding::percent_decode_str(query).decode_utf8_lossy();
        let _ = parse_filter(&decoded);
        let _ = parse_resource_path(query);
        let _ = parse_resource_path_with_query(path.unwrap_or(query), query);
        (parsed_path, parsed_query)
    }));
    let (parsed_path, parsed_query) = match outcome {
        Ok(r) => r,
        Err(_) => return Some("the parser panicked".to_string()),
    };
    let Kind::Valid { filter, top, skip } = &case.kind else {
        return None;
    };
    match parsed_path {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Some(format!("valid resource path refused: {e}")),
        None => return Some("valid case without /v7/".to_string()),
    }
    let opts = match parsed_query {
        Ok(o) => o,
        Err(e) => return Some(format!("valid query refused: {e}")),
    };
    if let Some(f) = filter {
        if let Err(e) = parse_filter(f) {
            return Some(format!("valid $filter refused by parse_filter: {e}: {f:?}"));
        }
        if opts.filter.is_none() {
            return Some("the $filter got lost".to_string());
        }
    }
    if opts.top != *top || opts.skip != *skip {
        return Some(format!(
            "$top/$skip: built {top:?}/{skip:?}, parsed {:?}/{:?}",
            opts.top, opts.skip
        ));
    }
    None
}

#[test]
fn generated_cases_never_panic_and_valid_ones_parse() {
    let seed = env_u64(
        "FUZZ_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    );
    let want = env_u64("PROPS_CASES", 100_000);
    let budget = Duration::from_secs(env_u64("PROPS_SECONDS", 20));
    eprintln!("odata_parser_props: seed {seed} (rerun with FUZZ_SEED={seed}), {want} cases");
    // The default panic hook would print every caught panic; the failures list says enough.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let corpus = corpus();
    let started = Instant::now();
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut ran = 0;
    for i in 0..want {
        if started.elapsed() >= budget {
            break;
        }
        let case = make_case(seed, i, &corpus);
        *kinds.entry(kind_name(&case.kind)).or_default() += 1;
        if let Some(p) = check(&case) {
            if failures.len() < 30 {
                failures.push(format!(
                    "case {i} ({}): {} -> {p}",
                    kind_name(&case.kind),
                    case.target
                ));
            }
        }
        ran += 1;
    }
    std::panic::set_hook(hook);
    let elapsed = started.elapsed();
    eprintln!(
        "odata_parser_props: seed {seed}: {ran} cases in {:.1}s, kinds {kinds:?}",
        elapsed.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "seed {seed}: {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        ran >= want,
        "only {ran} of {want} cases ran within {budget:?} (seed {seed})"
    );
    // The generator keeps its mix: a good share of valid cases, every kind present.
    let valid = kinds.get("valid").copied().unwrap_or(0);
    assert!(valid * 20 > ran, "only {valid} valid cases of {ran}");
    assert_eq!(kinds.len(), 8, "a kind of case is missing: {kinds:?}");
}

#[test]
fn extra_seeds_parse() {
    for t in EXTRA_SEEDS {
        let case = Case {
            method: "GET",
            target: t.to_string(),
            auth: true,
            kind: Kind::Mutated,
        };
        let (path, query) = case.parts();
        let path = path.expect("a /v7/ target");
        assert!(parse_resource_path(path).is_ok(), "{t}");
        assert!(parse_query(query).is_ok(), "{t}: {:?}", parse_query(query));
    }
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
        assert_eq!(a.kind, b.kind);
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
