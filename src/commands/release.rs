//! `release <commit|id>`, `release list <fleet>` (and the `releases` aliases).

use anyhow::Result;
use serde_json::{Map, Value};

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
    let app = find_fleet(ctx, arg, q).await?;
    let releases = app
        .get("owns__release")
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
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
    let app = find_fleet(ctx, arg, q).await?;
    let id = app
        .get("id")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| anyhow::anyhow!("the fleet row has no id"))?;
    let mut releases: Vec<Value> = app
        .get("owns__release")
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    let extra_q = Query::new()
        .select(&["id", "raw_version"])
        .filter(Filter::eq("belongs_to__application", id));
    let extra = ctx.api.get_rows(&odata::path("release", &extra_q)).await?;
    for r in releases.iter_mut() {
        let rid = r.get("id").and_then(|v| v.as_i64());
        if let (Some(rid), Value::Object(obj)) = (rid, r) {
            if let Some(Value::Object(e)) = extra
                .iter()
                .find(|e| e.get("id").and_then(|v| v.as_i64()) == Some(rid))
            {
                for (k, v) in e {
                    obj.insert(k.clone(), v.clone());
                }
            }
        }
    }
    output::json_compact(&releases);
    Ok(())
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

/// `balena release <commit|id|version>`: 1 request (2 with `--json`).
pub async fn show(ctx: &Context, arg: &str) -> Result<()> {
    let filter = release_filter(arg)?;
    ctx.api.require_token()?;
    let mut q = Query::new();
    if !ctx.json {
        q = q.select(SHOW_FIELDS);
    }
    let q = q
        .filter(filter)
        .expand("release_tag", Query::new().select(&["tag_key", "value"]))
        .top(RELEASE_TOP);
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
    let row = rows
        .into_iter()
        .find(|r| r.get("id").and_then(|v| v.as_i64()) == Some(chosen.id))
        .unwrap_or(Value::Null);
    if ctx.json {
        let extra_q = Query::new().select(&["id", "raw_version", "build_log"]);
        let extra = ctx
            .api
            .get_rows(&odata::path(&format!("release({})", chosen.id), &extra_q))
            .await?;
        let mut o: Map<String, Value> = match row {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Some(Value::Object(e)) = extra.into_iter().next() {
            for (k, v) in e {
                o.insert(k, v);
            }
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
    output::stdout(&table::vertical(
        None,
        &[
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
        ],
    ));
    Ok(())
}
