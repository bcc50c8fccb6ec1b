//! `release <commit|id>`, `release list <fleet>` (and the `releases` aliases).

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::{candidate_line, find_fleet, release_filter, Context, RELEASE_TOP};
use crate::api::models::Release;
use crate::api::odata::{self, Filter, Query};
use crate::error::CliError;
use crate::output::{self, table};
use crate::resolve::{self, Pick};

const LIST_FIELDS: &[&str] = &[
    "id",
    "commit",
    "created_at",
    "status",
    "raw_version",
    "is_final",
];

/// `balena release list <fleet>`: 1 request (2 with `--json`).
pub async fn list(ctx: &Context, arg: &str) -> Result<()> {
    if ctx.json {
        return list_json(ctx, arg).await;
    }
    let q = Query::new().select(&["id", "slug"]).expand(
        "owns__release",
        Query::new().select(LIST_FIELDS).orderby("created_at desc"),
    );
    let mut app = find_fleet(ctx, arg, q).await?;
    let releases = take_releases(&mut app);
    let rows: Vec<Vec<String>> = releases
        .iter()
        .map(|r| LIST_FIELDS.iter().map(|k| table::cell(r.get(*k))).collect())
        .collect();
    output::stdout(&table::horizontal(
        &[
            "ID",
            "COMMIT",
            "CREATED AT",
            "STATUS",
            "VERSION",
            "IS FINAL",
        ],
        &rows,
    ));
    Ok(())
}

/// `--json`: the releases with all their fields and tags, then `raw_version` (an
/// explicit-read field on balenaCloud) merged in from a second request, printed compact on
/// one line like the official CLI.
async fn list_json(ctx: &Context, arg: &str) -> Result<()> {
    let q = Query::new().select(&["id", "slug"]).expand(
        "owns__release",
        Query::new()
            .expand("release_tag", Query::new().select(&["tag_key", "value"]))
            .orderby("created_at desc"),
    );
    let mut app = find_fleet(ctx, arg, q).await?;
    let id = app
        .get("id")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| anyhow::anyhow!("the fleet row has no id"))?;
    let mut releases = take_releases(&mut app);
    let extra_q = Query::new()
        .select(&["id", "raw_version"])
        .filter(Filter::eq("belongs_to__application", id));
    let extra = ctx.api.get_rows(&odata::path("release", &extra_q)).await?;
    let mut extra_by_id: std::collections::HashMap<i64, serde_json::Map<String, Value>> = extra
        .into_iter()
        .filter_map(|e| match e {
            Value::Object(m) => Some((m.get("id")?.as_i64()?, m)),
            _ => None,
        })
        .collect();
    for r in releases.iter_mut() {
        let rid = r.get("id").and_then(|v| v.as_i64());
        if let (Some(rid), Value::Object(obj)) = (rid, r) {
            // Existing keys keep their place (Object.assign, as the official CLI merges).
            for (k, v) in extra_by_id.remove(&rid).unwrap_or_default() {
                obj.insert(k, v);
            }
        }
    }
    output::json_compact(&releases);
    Ok(())
}

/// Moves the expanded `owns__release` rows out of a fleet row (no copy).
fn take_releases(app: &mut Value) -> Vec<Value> {
    match app.get_mut("owns__release").map(Value::take) {
        Some(Value::Array(rows)) => rows,
        _ => Vec::new(),
    }
}

const SHOW_FIELDS: &[&str] = &[
    "id",
    "commit",
    "created_at",
    "status",
    "raw_version",
    "semver",
    "is_final",
    "build_log",
    "start_timestamp",
    "end_timestamp",
];

/// The reverse navigations of a release that `release <x>` shows after the official rows:
/// (navigation, JSON key, row label).
const USES: [(&str, &str, &str); 3] = [
    (
        "should_be_running_on__application",
        "targeted_by_fleets",
        "TARGETED BY FLEETS",
    ),
    ("is_pinned_to__device", "pinned_devices", "PINNED DEVICES"),
    (
        "is_running_on__device",
        "running_devices",
        "RUNNING DEVICES",
    ),
];

/// `$expand` of the three uses, as counts (added to the lookup request).
fn use_counts(mut q: Query) -> Query {
    for (nav, _, _) in USES {
        q = q.expand(&format!("{nav}/$count"), Query::new());
    }
    q
}

/// `$expand` of the three uses, as the first [`table::LIST_LIMIT`] rows each.
fn use_rows(mut q: Query) -> Query {
    for (nav, _, _) in USES {
        let rows = if nav.ends_with("application") {
            Query::new().select(&["id", "slug"]).orderby("slug asc")
        } else {
            Query::new()
                .select(&["id", "uuid", "device_name"])
                .orderby("device_name asc")
        };
        q = q.expand(nav, rows.top(table::LIST_LIMIT as u32));
    }
    q
}

/// (count, items) of one use: the count from the lookup row, the items from the rows.
fn use_of(row: &Value, rows: &Value, nav: &str) -> (usize, Vec<Value>) {
    let items = rows
        .get(nav)
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    let count = row
        .get(nav)
        .and_then(|c| c.as_u64())
        .map(|c| c as usize)
        .unwrap_or(items.len())
        .max(items.len());
    (count, items)
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

/// `balena release <commit|id|version>`: 2 requests. The lookup also counts the release's
/// uses, and the second request (which also reads `--json`'s explicit-read fields) reads the
/// first items of each. The official rows (byte-identical to the official CLI), then, after
/// a blank line, the uses. `--json`: the official keys, then `targeted_by_fleets`,
/// `pinned_devices` and `running_devices`.
pub async fn show(ctx: &Context, arg: &str) -> Result<()> {
    let filter = release_filter(arg)?;
    ctx.api.require_token()?;
    let mut q = Query::new();
    if !ctx.json {
        q = q.select(SHOW_FIELDS);
    }
    let q = q
        .filter(filter)
        .expand("release_tag", Query::new().select(&["tag_key", "value"]));
    let q = use_counts(q).top(RELEASE_TOP);
    let rows = ctx.api.get_rows(&odata::path("release", &q)).await?;
    let typed: Vec<Release> = rows
        .iter()
        .filter_map(|r| serde_json::from_value(r.clone()).ok())
        .collect();
    let chosen = match resolve::pick_release(arg, &typed) {
        Pick::One(r) => r,
        Pick::None => {
            ctx.api.confirm_session().await?;
            return Err(CliError::ReleaseNotFound {
                arg: arg.to_owned(),
                fleet: None,
            }
            .into());
        }
        Pick::Many(rs) => {
            return Err(CliError::ReleaseAmbiguous {
                arg: arg.to_owned(),
                candidates: rs.iter().map(candidate_line).collect(),
            }
            .into())
        }
    };
    let mut row = rows
        .into_iter()
        .find(|r| r.get("id").and_then(|v| v.as_i64()) == Some(chosen.id))
        .unwrap_or(Value::Null);
    // The second request: the uses' items, and `--json`'s explicit-read fields.
    let extra_q = use_rows(Query::new().select(if ctx.json {
        &["id", "raw_version", "build_log"][..]
    } else {
        &["id"][..]
    }));
    let mut extra = ctx
        .api
        .get_rows(&odata::path(&format!("release({})", chosen.id), &extra_q))
        .await?
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    let uses: Vec<(&str, &str, usize, Vec<Value>)> = USES
        .iter()
        .map(|(nav, key, label)| {
            let (count, items) = use_of(&row, &extra, nav);
            (*key, *label, count, items)
        })
        .collect();
    // The counts and items are not official keys: out, keeping the others' order.
    for v in [&mut row, &mut extra] {
        if let Value::Object(o) = v {
            for (nav, _, _) in USES {
                o.shift_remove(nav);
            }
        }
    }
    if ctx.json {
        let mut o: Map<String, Value> = match row {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Value::Object(e) = extra {
            for (k, v) in e {
                o.insert(k, v);
            }
        }
        for (key, _, count, items) in uses {
            o.insert(key.into(), json!({"count": count, "items": items}));
        }
        output::json_pretty(&Value::Object(o));
        return Ok(());
    }
    let na = |k: &str| Some(table::cell(row.get(k)));
    let tags: Vec<String> = row
        .get("release_tag")
        .and_then(|t| t.as_array())
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    format!(
                        "{}={}",
                        t.get("tag_key").and_then(|v| v.as_str()).unwrap_or(""),
                        t.get("value").and_then(|v| v.as_str()).unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
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
        ("TAGS", Some(tags.join("\n"))),
    ];
    let extra_rows: Vec<(&str, Option<String>)> = uses
        .into_iter()
        .map(|(_, label, count, items)| {
            let lines: Vec<String> = items.iter().map(use_line).collect();
            (label, Some(table::counted_list(count, &lines)))
        })
        .collect();
    // Two blocks, each aligned on its own: the official rows keep the official alignment.
    output::stdout(&format!(
        "{}\n{}",
        table::vertical(None, &official),
        table::vertical(None, &extra_rows)
    ));
    Ok(())
}
