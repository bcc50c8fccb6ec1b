//! `release <release>`, `release list <fleet>` (and the `releases` aliases).

use balena_api::models::Release;
use serde_json::{json, Map, Value};

use super::{table, Printer};

/// The columns of `release list`, as API fields.
pub const LIST_FIELDS: &[&str] = &[
    "id",
    "commit",
    "created_at",
    "status",
    "raw_version",
    "is_final",
];

/// `balena release list <fleet> --json`: the releases as the server sent them, newest first,
/// on one line like the official CLI, each written as it is handed over.
pub struct JsonList<'p> {
    out: super::JsonStream<'p>,
    rows: usize,
}

impl<'p> JsonList<'p> {
    pub fn new(p: &'p Printer) -> JsonList<'p> {
        JsonList {
            out: p.json_stream(),
            rows: 0,
        }
    }

    pub fn push(&mut self, release: &Map<String, Value>) {
        self.out.push(if self.rows == 0 { b"[" } else { b"," });
        // A map of JSON values always serialises.
        let _ = serde_json::to_writer(self.out.buffer(), release);
        self.out.written();
        self.rows += 1;
    }

    pub fn finish(mut self) {
        self.out.push(if self.rows == 0 { b"[]" } else { b"]" });
        self.out.finish();
    }
}

/// `balena release list <fleet>` as the official table; each row is dropped once it is a
/// table row.
pub fn table(p: &Printer, releases: Vec<Release>) {
    let mut t = table::Horizontal::new(&[
        "ID",
        "COMMIT",
        "CREATED AT",
        "STATUS",
        "VERSION",
        "IS FINAL",
    ]);
    let or_na = |v: Option<String>| v.unwrap_or_else(|| "N/a".to_owned());
    for r in releases {
        t.row([
            r.id.to_string(),
            r.commit,
            or_na(r.created_at),
            or_na(r.status),
            or_na(r.raw_version),
            or_na(r.is_final.map(|b| b.to_string())),
        ]);
    }
    p.out_lines(|out| t.write_to(out));
}

/// Where a release is used: a count and the first items (rows of fleets or devices).
#[derive(Debug, Clone, PartialEq)]
pub struct Use {
    /// The JSON key.
    pub key: &'static str,
    /// The row label.
    pub label: &'static str,
    pub count: usize,
    pub items: Vec<Value>,
}

/// One item of a use, as a line: a fleet's slug, or a device's `uuid name`.
fn use_line(item: &Value) -> String {
    let s = |k: &str| item.get(k).and_then(|v| v.as_str());
    match (s("slug"), s("uuid")) {
        (Some(slug), _) => slug.to_owned(),
        (None, Some(uuid)) => match s("device_name") {
            Some(n) => format!("{uuid} {n}"),
            None => uuid.to_owned(),
        },
        _ => table::cell(item.get("id")),
    }
}

/// The `key=value` lines of a tag list (`release_tag` rows).
fn tag_lines(tags: Option<&Value>) -> Vec<String> {
    tags.and_then(|t| t.as_array())
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    format!(
                        "{}={}",
                        super::safe(t.get("tag_key").and_then(|v| v.as_str()).unwrap_or("")),
                        super::safe(t.get("value").and_then(|v| v.as_str()).unwrap_or(""))
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `balena release <release>`: the official rows (byte-identical to the official CLI), then,
/// after a blank line, the uses. `--json`: the official keys, then one `{count, items}` per
/// use. `row` is the release as the server sent it (with its explicit-read fields merged).
pub fn show(p: &Printer, row: Map<String, Value>, uses: &[Use]) {
    if p.json {
        let mut o = row;
        for u in uses {
            o.insert(u.key.into(), json!({"count": u.count, "items": u.items}));
        }
        p.json_pretty(&Value::Object(o));
        return;
    }
    let na = |k: &str| Some(table::cell(row.get(k)));
    let official = [
        ("ID", na("id")),
        ("COMMIT", na("commit")),
        ("CREATED AT", na("created_at")),
        ("STATUS", na("status")),
        ("VERSION", na("raw_version")),
        ("IS FINAL", na("is_final")),
        ("BUILD LOG", na("build_log")),
        ("START TIMESTAMP", na("start_timestamp")),
        ("END TIMESTAMP", na("end_timestamp")),
        ("TAGS", Some(tag_lines(row.get("release_tag")).join("\n"))),
    ];
    let extra: Vec<(&str, Option<String>)> = uses
        .iter()
        .map(|u| {
            let lines: Vec<String> = u.items.iter().map(use_line).collect();
            (u.label, Some(table::counted_list(u.count, &lines)))
        })
        .collect();
    // Two blocks, each aligned on its own: the official rows keep the official alignment.
    p.out(&format!(
        "{}\n{}",
        table::vertical(None, &official),
        table::vertical(None, &extra)
    ));
}

/// `balena release <release> --composition`: the composition as the official CLI dumps it
/// (js-yaml, then `console.log`'s newline); with `--json`, as JSON.
pub fn composition(p: &Printer, composition: &Value) {
    if p.json {
        p.json_pretty(composition);
        return;
    }
    p.out(&format!("{}\n", super::yaml::dump(composition)));
}
