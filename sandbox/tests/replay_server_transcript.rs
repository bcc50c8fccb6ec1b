//! Replays every exchange of part 2 of the open-balena-api transcript
//! (`fixtures/open-balena-server-transcript.md`, a verbatim copy of
//! `reference/open-balena-server-transcript.md`) against the sandbox started with the
//! transcript-equivalent seed (`fixtures/transcript-seed.json`).
//!
//! For each exchange:
//! - the status code must be the same;
//! - error bodies must be identical, byte for byte;
//! - JSON answers must be structurally identical (same keys in the same order, same
//!   values). The only values not compared are the creation/modification timestamps of
//!   rows created during the run (`created_at`, `modified_at`, `update_timestamp`,
//!   `is_finalized_at__date` when not null) and the creation-time suffix of a draft's
//!   `raw_version`/`version` (which must then equal the sandbox's own `created_at` in ms).
//!
//! Ids are *not* masked: the seed gives the seeded rows the transcript's ids, and the
//! sandbox, like PostgreSQL's sequences in the transcript, numbers new rows max+1 (no
//! failed insert in part 2 precedes a successful one, so the sequences never skip). The
//! ids of created rows are therefore asserted equal, and later steps use them as-is.
//!
//! The one deliberate difference (transcript §24 note): where the real server answers 500
//! (unknown fields in §24, a missing required field on POST in §21e) the sandbox answers
//! 400 with a JSON string naming the field.

mod common;
mod support;

use serde_json::Value;
use support::{json_diff, Masks, RawClient};

const TRANSCRIPT: &str = include_str!("fixtures/open-balena-server-transcript.md");

/// How the transcript authenticates a request.
#[derive(Debug, Clone, PartialEq)]
enum Auth {
    /// No Authorization header.
    None,
    /// The seeded user's token (mapped to the sandbox's API key).
    User,
    /// Some other literal header value (e.g. `Bearer garbage…`).
    Other(String),
}

#[derive(Debug, Clone)]
struct Exchange {
    section: String,
    method: String,
    target: String,
    auth: Auth,
    content_type: Option<String>,
    body: Option<String>,
    status: u16,
    /// The declared response content type, e.g. `application/json; charset=utf-8`.
    response_type: Option<String>,
    /// `None` for "(empty body)" / "empty".
    response: Option<String>,
}

/// The transcript's token, cut short; every request carrying it is the seeded user's.
const TRANSCRIPT_TOKEN_PREFIX: &str = "Bearer eyJ";

fn parse_part2(text: &str) -> Vec<Exchange> {
    let start = text
        .find("\n# Part 2")
        .expect("the transcript has a part 2");
    let lines: Vec<&str> = text[start..].lines().collect();
    let mut out = Vec::new();
    let mut section = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(h) = line.strip_prefix("## ") {
            section = h.split_whitespace().next().unwrap_or("").to_string();
            i += 1;
            continue;
        }
        if line == "```http" {
            i += 1;
            let request_line = lines[i];
            let (method, target) = request_line
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad request line {request_line:?}"));
            i += 1;
            let mut auth = Auth::None;
            let mut content_type = None;
            while i < lines.len() && !lines[i].is_empty() && lines[i] != "```" {
                let (k, v) = lines[i]
                    .split_once(": ")
                    .unwrap_or_else(|| panic!("bad header line {:?}", lines[i]));
                match k {
                    "Authorization" if v.starts_with(TRANSCRIPT_TOKEN_PREFIX) => auth = Auth::User,
                    // The transcript shortens tokens with "…"; send an ASCII garbage token.
                    "Authorization" => {
                        auth = Auth::Other(v.replace('…', "0123456789abcdefGARBAGE"))
                    }
                    "Content-Type" => content_type = Some(v.to_string()),
                    _ => panic!("unexpected header {k}"),
                }
                i += 1;
            }
            let mut body_lines = Vec::new();
            if i < lines.len() && lines[i].is_empty() {
                i += 1;
                while lines[i] != "```" {
                    body_lines.push(lines[i]);
                    i += 1;
                }
            }
            assert_eq!(lines[i], "```");
            i += 1;
            // → **200** (Content-Type: application/json; charset=utf-8)
            while lines[i].is_empty() {
                i += 1;
            }
            let status_line = lines[i];
            let status = status_line
                .strip_prefix("→ **")
                .and_then(|s| s.get(..3))
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
            let response_type = status_line
                .split_once("(Content-Type: ")
                .map(|(_, t)| t.trim_end_matches(')').to_string());
            i += 1;
            assert_eq!(lines[i], "```json", "response block after {status_line:?}");
            i += 1;
            let mut resp = Vec::new();
            while lines[i] != "```" {
                resp.push(lines[i]);
                i += 1;
            }
            i += 1;
            let resp = resp.join("\n");
            out.push(Exchange {
                section: section.clone(),
                method: method.to_string(),
                target: target.to_string(),
                auth,
                content_type,
                body: (!body_lines.is_empty()).then(|| body_lines.join("\n")),
                status,
                response_type,
                response: (resp != "(empty body)").then_some(resp),
            });
            continue;
        }
        // §24 table: | `GET /v7/…` | 400 | `"Malformed url: …"` |
        if let Some(row) = line.strip_prefix("| `") {
            let cells: Vec<&str> = row.split(" | ").collect();
            assert_eq!(cells.len(), 3, "table row {line:?}");
            let req = cells[0].trim_end_matches('`');
            let (method, target) = req.split_once(' ').expect("request cell");
            let status: u16 = cells[1].trim().parse().expect("status cell");
            let body_cell = cells[2].trim_end_matches('|').trim();
            let response = if body_cell == "empty" {
                None
            } else {
                let inner = body_cell
                    .strip_prefix('`')
                    .and_then(|s| s.split_once('`'))
                    .map(|(b, _)| b)
                    .unwrap_or_else(|| panic!("body cell {body_cell:?}"));
                Some(inner.to_string())
            };
            out.push(Exchange {
                section: section.clone(),
                method: method.to_string(),
                target: target.to_string(),
                auth: Auth::User,
                content_type: None,
                body: None,
                status,
                // The table does not show headers; the server's JSON answers all carry this.
                response_type: response
                    .is_some()
                    .then(|| "application/json; charset=utf-8".to_string()),
                response,
            });
        }
        i += 1;
    }
    out
}

/// For an exchange where the real server answered 500, the field the sandbox's 400 must
/// name.
fn field_named_by_500(x: &Exchange) -> String {
    let query = x.target.split_once('?').map(|(_, q)| q).unwrap_or("");
    for opt in ["$select=", "$orderby=", "$expand="] {
        if let Some(v) = query.strip_prefix(opt) {
            let v = v.split(['&', '%', ' ', ',', '(']).next().unwrap_or(v);
            return v.to_string();
        }
    }
    if x.method == "POST" {
        // §21e: a required release field is missing from the body.
        let body: Value = serde_json::from_str(x.body.as_deref().unwrap_or("{}")).expect("body");
        for required in ["belongs_to__application", "commit", "start_timestamp"] {
            if body.get(required).is_none() {
                return required.to_string();
            }
        }
    }
    panic!("no field to name for {} {}", x.method, x.target)
}

#[test]
fn replay_part2_of_the_server_transcript() {
    let exchanges = parse_part2(TRANSCRIPT);
    // Guard the parser: every ```http block of part 2 and every §24 table row.
    let part2 = &TRANSCRIPT[TRANSCRIPT.find("\n# Part 2").unwrap()..];
    let blocks = part2.matches("\n```http\n").count();
    let rows = part2.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(exchanges.len(), blocks + rows);
    assert_eq!((blocks, rows), (88, 8), "the transcript copy changed?");
    let sections: std::collections::BTreeSet<&str> =
        exchanges.iter().map(|x| x.section.as_str()).collect();
    for s in 0..=24 {
        assert!(
            sections.iter().any(|n| n
                .trim_end_matches('.')
                .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                == s.to_string()),
            "section {s} has no exchange"
        );
    }

    let sb = common::Sandbox::start(
        &std::env::var("REPLAY_SEED").unwrap_or_else(|_| common::fixture("transcript-seed.json")),
    );
    let key = sb.api_key.clone();
    let mut client = RawClient::new(&sb.base_url);

    let mut failures = Vec::new();
    for (n, x) in exchanges.iter().enumerate() {
        let auth_value = match &x.auth {
            Auth::None => None,
            Auth::User => Some(format!("Bearer {key}")),
            Auth::Other(v) => Some(v.clone()),
        };
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = &auth_value {
            headers.push(("Authorization", a));
        }
        if let Some(ct) = &x.content_type {
            headers.push(("Content-Type", ct));
        }
        let resp = client
            .send(
                &x.method,
                &x.target,
                &headers,
                x.body.as_deref().map(str::as_bytes),
            )
            .unwrap_or_else(|e| panic!("#{n} {} {}: transport error {e}", x.method, x.target));
        if let Err(why) = check(x, &resp) {
            failures.push(format!(
                "#{n} §{} {} {}{}\n  expected {} {}\n  got      {} {}\n  => {why}",
                x.section,
                x.method,
                x.target,
                x.body
                    .as_deref()
                    .map(|b| format!("\n  body {b}"))
                    .unwrap_or_default(),
                x.status,
                x.response.as_deref().unwrap_or("(empty body)"),
                resp.status,
                if resp.body.is_empty() {
                    "(empty body)".to_string()
                } else {
                    resp.text()
                },
            ));
        }
    }
    eprintln!(
        "replay_server_transcript: replayed {} exchanges of part 2 (sections 0-24), {} failed",
        exchanges.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} exchanges differ from the reference server:\n\n{}",
        failures.len(),
        exchanges.len(),
        failures.join("\n\n")
    );
}

fn check(x: &Exchange, resp: &support::Resp) -> Result<(), String> {
    if x.status == 500 {
        // The deliberate difference: 400 with a JSON string naming the field.
        if resp.status != 400 {
            return Err(format!(
                "the real server's 500 must become a 400, got {}",
                resp.status
            ));
        }
        let field = field_named_by_500(x);
        let msg: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| format!("400 body is not JSON ({e})"))?;
        let msg = msg
            .as_str()
            .ok_or("the 400 body is not a JSON string like the server's other errors")?;
        if !msg.contains(&field) {
            return Err(format!("the message does not name the field `{field}`"));
        }
        return Ok(());
    }
    if resp.status != x.status {
        return Err(format!("status {} != {}", resp.status, x.status));
    }
    let Some(expected) = &x.response else {
        if !resp.body.is_empty() {
            return Err("the body must be empty".into());
        }
        return Ok(());
    };
    if let Some(want) = &x.response_type {
        let ct = resp.header("content-type").unwrap_or("");
        if ct != want {
            return Err(format!("content-type {ct:?}, expected {want:?}"));
        }
    }
    if x.status >= 400 {
        // Error bodies: byte for byte.
        if resp.body != expected.as_bytes() {
            return Err("the error body differs".into());
        }
        return Ok(());
    }
    let want: Value =
        serde_json::from_str(expected).map_err(|e| format!("transcript body is not JSON: {e}"))?;
    let got: Value =
        serde_json::from_slice(&resp.body).map_err(|e| format!("body is not JSON: {e}"))?;
    let masks = Masks {
        // Only rows created by this very request carry fresh timestamps.
        creation_timestamps: x.method == "POST" && x.status == 201,
    };
    json_diff(&want, &got, masks)
}

#[test]
fn the_transcript_parser_reads_requests_and_answers() {
    let xs = parse_part2(TRANSCRIPT);
    let first = &xs[0];
    assert_eq!(first.section, "0.");
    assert_eq!(first.method, "GET");
    assert!(first
        .target
        .starts_with("/v7/application(1)?$select=id,slug"));
    assert_eq!(first.auth, Auth::User);
    assert_eq!(first.status, 200);
    assert!(first.response.as_deref().unwrap().starts_with("{\"d\":[{"));
    let pin = xs.iter().find(|x| x.method == "PATCH").unwrap();
    assert_eq!(
        pin.body.as_deref(),
        Some("{\"should_be_running__release\":1,\"should_track_latest_release\":false}")
    );
    assert_eq!(pin.content_type.as_deref(), Some("application/json"));
    assert!(pin.response.is_none());
    let anon: Vec<_> = xs.iter().filter(|x| x.auth == Auth::None).collect();
    assert_eq!(anon.len(), 3);
    assert!(xs
        .iter()
        .any(|x| matches!(&x.auth, Auth::Other(v) if v.starts_with("Bearer garbage"))));
    let table: Vec<_> = xs.iter().filter(|x| x.section == "24.").collect();
    assert_eq!(table.len(), 8);
    assert_eq!(
        table[0].response.as_deref(),
        Some("\"Malformed url: '/v7/application?$filter=slug%20eqq%20%27x%27'\"")
    );
    assert_eq!(table[3].status, 500);
    assert_eq!(field_named_by_500(table[3]), "nonexistent");
    assert_eq!(field_named_by_500(table[4]), "bogus");
    assert_eq!(table[7].response.as_deref(), Some("{\"d\":[]}"));
    let e21: Vec<_> = xs
        .iter()
        .filter(|x| x.status == 500 && x.method == "POST")
        .collect();
    assert_eq!(field_named_by_500(e21[0]), "start_timestamp");
    assert_eq!(field_named_by_500(e21[1]), "commit");
}

/// The checker must catch what it is meant to catch: a different key order, an extra or
/// missing key, a different value, a changed error text, a body where none is expected.
#[test]
fn the_checker_is_strict() {
    let xs = parse_part2(TRANSCRIPT);
    let resp = |status: u16, body: &str| support::Resp {
        status,
        headers: vec![(
            "content-type".to_string(),
            "application/json; charset=utf-8".to_string(),
        )],
        body: body.as_bytes().to_vec(),
    };
    let read = &xs[0];
    let good = read.response.clone().unwrap();
    assert_eq!(check(read, &resp(200, &good)), Ok(()));
    // key order
    let reordered = good.replace(
        "\"id\":1,\"slug\":\"admin/myfleet\"",
        "\"slug\":\"admin/myfleet\",\"id\":1",
    );
    assert_ne!(reordered, good);
    assert!(check(read, &resp(200, &reordered)).is_err());
    // value, extra key, status, content type
    assert!(check(read, &resp(200, &good.replace("1.1.0", "1.1.1"))).is_err());
    assert!(check(
        read,
        &resp(200, &good.replace("\"id\":1,", "\"id\":1,\"x\":0,"))
    )
    .is_err());
    assert!(check(read, &resp(201, &good)).is_err());
    let mut plain = resp(200, &good);
    plain.headers[0].1 = "application/json".into();
    assert!(check(read, &plain).is_err());
    // error text, byte for byte
    let rule = xs
        .iter()
        .find(|x| x.status == 400 && x.method == "PATCH")
        .unwrap();
    let text = rule.response.clone().unwrap();
    assert_eq!(check(rule, &resp(400, &text)), Ok(()));
    assert!(check(rule, &resp(400, &format!("{text} "))).is_err());
    assert!(check(rule, &resp(400, &text.replace("\\\"", "'"))).is_err());
    // an empty body is required
    let patch = xs
        .iter()
        .find(|x| x.method == "PATCH" && x.status == 200)
        .unwrap();
    assert_eq!(check(patch, &resp(200, "")), Ok(()));
    assert!(check(patch, &resp(200, "{}")).is_err());
    // POST 201: creation timestamps are masked, the id is not; a draft's raw_version must
    // carry the sandbox's own created_at in ms
    let draft = xs
        .iter()
        .find(|x| x.status == 201 && x.response.as_deref().unwrap().contains("1795797705401"))
        .unwrap();
    let mut v: Value = serde_json::from_str(draft.response.as_deref().unwrap()).unwrap();
    v["created_at"] = "2030-01-01T00:00:00.000Z".into();
    v["modified_at"] = "2030-01-01T00:00:00.000Z".into();
    v["update_timestamp"] = "2030-01-01T00:00:00.000Z".into();
    let ms = 1_893_456_000_000i64; // 2030-01-01T00:00:00Z
    v["raw_version"] = format!("1.7.0-{ms}").into();
    v["version"]["raw"] = format!("1.7.0-{ms}").into();
    v["version"]["version"] = format!("1.7.0-{ms}").into();
    v["version"]["prerelease"] = serde_json::json!([ms]);
    assert_eq!(check(draft, &resp(201, &v.to_string())), Ok(()));
    let mut wrong_ms = v.clone();
    wrong_ms["raw_version"] = "1.7.0-1795797705401".into();
    assert!(check(draft, &resp(201, &wrong_ms.to_string())).is_err());
    let mut wrong_id = v.clone();
    wrong_id["id"] = 19.into();
    assert!(check(draft, &resp(201, &wrong_id.to_string())).is_err());
    let mut finalized = v;
    finalized["is_finalized_at__date"] = "2030-01-01T00:00:00.000Z".into();
    assert!(check(draft, &resp(201, &finalized.to_string())).is_err());
    // a 500 of the real server: 400 naming the field
    let unknown = xs
        .iter()
        .find(|x| x.status == 500 && x.method == "GET")
        .unwrap();
    assert_eq!(
        check(unknown, &resp(400, "\"Unknown field 'nonexistent'\"")),
        Ok(())
    );
    assert!(check(unknown, &resp(400, "\"Unknown field\"")).is_err());
    assert!(check(unknown, &resp(500, "")).is_err());
}
