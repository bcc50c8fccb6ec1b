//! Helpers shared by the sandbox's acceptance tests (on top of `tests/common`): the test
//! kit's raw HTTP/1.1 keep-alive client ([`balena_testkit::RawClient`], which sends request
//! targets byte for byte), a structural JSON comparison that reports the first difference
//! with its path, and percent-encoding as the SDK does it.
//!
//! Each test binary only uses part of this module.
#![allow(dead_code)]

use serde_json::Value;

#[allow(unused_imports)]
pub use balena_testkit::{addr_of, RawClient, Resp};

/// How a JSON comparison treats fields whose values legitimately differ between the
/// reference server and the sandbox.
#[derive(Debug, Clone, Copy, Default)]
pub struct Masks {
    /// `created_at`, `modified_at`, `update_timestamp`: any timestamp string is accepted
    /// (use only for rows created during the run).
    pub creation_timestamps: bool,
}

/// True for the API's timestamp format `2024-02-02T00:00:00.000Z`.
pub fn is_api_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && s.ends_with('Z')
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19, 23].contains(&i) || c.is_ascii_digit())
}

fn millis_of(ts: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Splits a draft release's raw version `1.7.0-1795797705401` into (`1.7.0`, ms).
fn draft_raw_version(s: &str) -> Option<(&str, &str)> {
    let (core, ms) = s.rsplit_once('-')?;
    (ms.len() >= 12 && ms.bytes().all(|c| c.is_ascii_digit())).then_some((core, ms))
}

/// Compares `actual` to `expected` structurally: same keys in the same order, same
/// values, with the masks described in `Masks`. Returns the first difference.
pub fn json_diff(expected: &Value, actual: &Value, masks: Masks) -> Result<(), String> {
    diff_at("$", expected, actual, masks, None)
}

fn diff_at(
    path: &str,
    e: &Value,
    a: &Value,
    m: Masks,
    created_ms: Option<i64>,
) -> Result<(), String> {
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => {
            let ek: Vec<&String> = eo.keys().collect();
            let ak: Vec<&String> = ao.keys().collect();
            if ek != ak {
                return Err(format!(
                    "{path}: keys differ\n  expected {ek:?}\n  got      {ak:?}"
                ));
            }
            // The millisecond timestamp a draft's raw_version carries is its created_at.
            let own_ms = if m.creation_timestamps {
                ao.get("created_at")
                    .and_then(Value::as_str)
                    .and_then(millis_of)
                    .or(created_ms)
            } else {
                created_ms
            };
            for (k, ev) in eo {
                let av = &ao[k];
                let p = format!("{path}.{k}");
                if m.creation_timestamps
                    && matches!(
                        k.as_str(),
                        "created_at" | "modified_at" | "update_timestamp"
                    )
                {
                    match (ev, av) {
                        (Value::String(_), Value::String(s)) if is_api_timestamp(s) => continue,
                        _ => return Err(format!("{p}: expected a timestamp like {ev}, got {av}")),
                    }
                }
                if m.creation_timestamps && k == "is_finalized_at__date" {
                    match (ev, av) {
                        (Value::Null, Value::Null) => continue,
                        (Value::String(_), Value::String(s)) if is_api_timestamp(s) => continue,
                        _ => return Err(format!("{p}: expected {ev}, got {av}")),
                    }
                }
                diff_at(&p, ev, av, m, own_ms)?;
            }
            Ok(())
        }
        (Value::Array(ea), Value::Array(aa)) => {
            if ea.len() != aa.len() {
                return Err(format!(
                    "{path}: expected {} elements, got {}\n  expected {e}\n  got      {a}",
                    ea.len(),
                    aa.len()
                ));
            }
            for (i, (ev, av)) in ea.iter().zip(aa).enumerate() {
                diff_at(&format!("{path}[{i}]"), ev, av, m, created_ms)?;
            }
            Ok(())
        }
        (Value::String(es), Value::String(as_))
            if m.creation_timestamps && draft_raw_version(es).is_some() =>
        {
            // A draft's raw version ends in its creation time in ms, which differs run to
            // run: it must be the row's own created_at.
            match (draft_raw_version(es), draft_raw_version(as_)) {
                (Some((ecore, _)), Some((acore, ams)))
                    if ecore == acore && created_ms.is_none_or(|ms| ms.to_string() == ams) =>
                {
                    Ok(())
                }
                _ => Err(format!(
                    "{path}: expected {e} (a draft version ending in the row's created_at in ms), got {a}"
                )),
            }
        }
        (Value::Number(en), Value::Number(an))
            if m.creation_timestamps
                && path.ends_with(".prerelease[0]")
                && en.as_i64().is_some_and(|x| x > 1_000_000_000_000) =>
        {
            // version.prerelease of a draft: [created_at ms]
            match (en.as_i64(), an.as_i64(), created_ms) {
                (Some(x), Some(y), Some(ms)) if x > 1_000_000_000_000 && y == ms => Ok(()),
                (Some(x), Some(y), None) if x > 1_000_000_000_000 && y > 1_000_000_000_000 => {
                    Ok(())
                }
                _ => Err(format!("{path}: expected {e}, got {a}")),
            }
        }
        _ if e == a => Ok(()),
        _ => Err(format!("{path}: expected {e}, got {a}")),
    }
}

/// Percent-encodes a string the way WHATWG `new URL()` encodes a query (what the SDK
/// sends): space, `"`, `'`, `<`, `>`, `#`, controls and non-ASCII bytes; plus the few
/// characters RFC 3986 forbids anywhere in a URI (`` ` `` `{` `}` `|` `\` `^`), which the
/// HTTP layer would reject before the sandbox sees the request.
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        if b <= 0x20
            || b >= 0x7f
            || matches!(
                b,
                b'"' | b'\'' | b'<' | b'>' | b'#' | b'`' | b'{' | b'}' | b'|' | b'\\' | b'^'
            )
        {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Percent-encodes everything that is not unreserved (for values inside string literals).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
