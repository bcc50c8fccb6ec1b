//! `release <release>`, `release list <fleet>` (and the `releases` aliases).

use std::collections::HashMap;

use balena_api::lookup::Found;
use balena_api::models::{Application, Release};
use balena_api::odata::{self, Filter, Query};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Context;
use crate::error::{usage, Error};
use crate::ops::find;
use crate::policy::release;
use crate::policy::ReleaseSelector;
use crate::view::{self, release::Use, table::LIST_LIMIT};

/// `balena release list <fleet>`: 1 request (2 with `--json`).
pub async fn list(ctx: &Context<'_>, arg: &str) -> Result<(), Error> {
    let json = ctx.printer.json;
    if !json {
        // The table: typed rows of the listed fields only.
        let q = Query::new().select(&["id", "slug"]).expand(
            "owns__release",
            Query::new()
                .select(view::release::LIST_FIELDS)
                .orderby("created_at desc"),
        );
        let app: Application = find::fleet(&ctx.api, arg, q).await?;
        view::release::table(ctx.printer, app.releases.into_rows());
        return Ok(());
    }
    // `--json`: every field of every release, and `raw_version` (an explicit-read field on
    // balenaCloud) merged in as the official CLI merges it: existing keys keep their place.
    // The fleet comes with each release's `raw_version`, a small answer; then the releases
    // are read row by row as they arrive, and each is written before the next is read.
    let q = Query::new()
        .select(&["id", "slug"])
        .expand("owns__release", Query::new().select(&["id", "raw_version"]));
    let fleet: Application = find::fleet(&ctx.api, arg, q).await?;
    let id = fleet.id;
    let mut raw_versions: HashMap<i64, Value> = fleet
        .releases
        .into_rows()
        .into_iter()
        .map(|r| (r.id, r.raw_version.map_or(Value::Null, Value::String)))
        .collect();
    let releases_q = Query::new()
        .filter(Filter::eq("belongs_to__application", id))
        .expand("release_tag", Query::new().select(&["tag_key", "value"]))
        .orderby("created_at desc");
    let mut out = view::release::JsonList::new(ctx.printer);
    let mut bad_row = None;
    ctx.api
        .get_rows_raw(&odata::path("release", &releases_q), |text| {
            if bad_row.is_some() {
                return;
            }
            match serde_json::from_slice::<Map<String, Value>>(text) {
                Ok(mut row) => {
                    let rid = row.get("id").and_then(Value::as_i64);
                    if let Some(v) = rid.and_then(|rid| raw_versions.remove(&rid)) {
                        row.insert("raw_version".to_owned(), v);
                    }
                    out.push(&row);
                }
                Err(e) => bad_row = Some(e.to_string()),
            }
        })
        .await?;
    if let Some(e) = bad_row {
        return Err(Error::Incomplete {
            detail: format!("a release row: {e}"),
        });
    }
    out.finish();
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

/// The release `arg` names, typed and as the server sent it: one request with `q`.
async fn find_one(
    ctx: &Context<'_>,
    arg: &str,
    q: Query,
) -> Result<(Release, Map<String, Value>), Error> {
    let rows: Vec<Value> = ctx.api.find_releases(arg, q.top(release::TOP)).await?;
    let typed: Vec<Release> = rows
        .iter()
        .filter_map(|r| Release::deserialize(r).ok())
        .collect();
    let chosen = match release::pick(arg, &typed) {
        Found::One(r) => r,
        Found::None => {
            return Err(Error::ReleaseNotFound {
                arg: arg.to_owned(),
                fleet: None,
            })
        }
        Found::Many(rs) => {
            return Err(Error::ReleaseAmbiguous {
                arg: arg.to_owned(),
                candidates: rs.iter().map(release::candidate).collect(),
            })
        }
    };
    let row = rows
        .into_iter()
        .find_map(|r| match r {
            Value::Object(m) if m.get("id").and_then(Value::as_i64) == Some(chosen.id) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    Ok((chosen, row))
}

/// The release argument of `release <release>`: trimmed and hex lower-cased; `latest` is
/// the newest trackable release the user can see (one request), given by its id. When the
/// newest trackable releases of several fleets are candidates, that is ambiguous: the
/// candidates are listed, one per fleet.
pub async fn argument(ctx: &Context<'_>, arg: &str) -> Result<String, Error> {
    let sel = ReleaseSelector::parse(arg).ok_or_else(|| {
        usage(
            "the release must not be empty",
            "balena release <commit|id>",
        )
    })?;
    if let ReleaseSelector::Ident(a) = sel {
        return Ok(a);
    }
    ctx.api.require_token()?;
    let q = release::latest().top(release::TOP).expand(
        "belongs_to__application",
        Query::new().select(&["id", "slug"]),
    );
    let rows: Vec<Release> = ctx.api.get(&odata::path("release", &q)).await?;
    // The newest trackable release of each fleet, newest first.
    let mut newest: Vec<&Release> = Vec::new();
    for r in &rows {
        if !newest.iter().any(|n| n.fleet.id() == r.fleet.id()) {
            newest.push(r);
        }
    }
    match newest.as_slice() {
        [] => {
            ctx.api.confirm_session().await?;
            Err(Error::ReleaseNotFound {
                arg: arg.trim().to_owned(),
                fleet: None,
            })
        }
        [one] => Ok(one.id.to_string()),
        many => Err(Error::ReleaseAmbiguous {
            arg: arg.trim().to_owned(),
            candidates: many
                .iter()
                .map(|r| {
                    let slug = r.fleet.first().map(|f| f.slug.as_str()).unwrap_or("N/a");
                    format!("{slug}: {}", release::candidate(r))
                })
                .collect(),
        }),
    }
}

/// `balena release <release> --composition`: 1 request (the release's identifying fields,
/// for the choice among the candidates, and its composition).
pub async fn composition(ctx: &Context<'_>, arg: &str) -> Result<(), Error> {
    if arg.is_empty() {
        return Err(usage(
            "the release must not be empty",
            "balena release <commit|id> --composition",
        ));
    }
    let q = Query::new().select(&[
        "id",
        "commit",
        "status",
        "raw_version",
        "semver",
        "composition",
    ]);
    let (_, mut row) = find_one(ctx, arg, q).await?;
    let composition = row.shift_remove("composition").unwrap_or(Value::Null);
    view::release::composition(ctx.printer, &composition);
    Ok(())
}

/// `balena release <commit|id|version>`: 2 requests. The lookup also counts the release's
/// uses, and the second request (which also reads `--json`'s explicit-read fields) reads the
/// first items of each.
pub async fn show(ctx: &Context<'_>, arg: &str) -> Result<(), Error> {
    if arg.is_empty() {
        return Err(usage(
            "the release must not be empty",
            "balena fleet pin <fleet> <release>",
        ));
    }
    let json = ctx.printer.json;
    let mut q = Query::new();
    if !json {
        q = q.select(SHOW_FIELDS);
    }
    q = q.expand("release_tag", Query::new().select(&["tag_key", "value"]));
    for (nav, _, _) in USES {
        q = q.expand(&format!("{nav}/$count"), Query::new());
    }
    let (chosen, mut row) = find_one(ctx, arg, q).await?;
    // The second request: the uses' items, and `--json`'s explicit-read fields.
    let mut extra_q = Query::new().select(if json {
        &["id", "raw_version", "build_log"][..]
    } else {
        &["id"][..]
    });
    for (nav, _, _) in USES {
        let items = if nav.ends_with("application") {
            Query::new().select(&["id", "slug"]).orderby("slug asc")
        } else {
            Query::new()
                .select(&["id", "uuid", "device_name"])
                .orderby("device_name asc")
        };
        extra_q = extra_q.expand(nav, items.top(LIST_LIMIT as u32));
    }
    let mut extra: Map<String, Value> = ctx
        .api
        .get_one(&odata::entity_path("release", chosen.id, &extra_q))
        .await?
        .unwrap_or_default();
    let uses: Vec<Use> = USES
        .iter()
        .map(|(nav, key, label)| {
            let items = match extra.shift_remove(*nav) {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            let count = row
                .shift_remove(*nav)
                .and_then(|c| c.as_u64())
                .map(|c| c as usize)
                .unwrap_or(items.len())
                .max(items.len());
            Use {
                key,
                label,
                count,
                items,
            }
        })
        .collect();
    if json {
        row.extend(extra);
    }
    view::release::show(ctx.printer, row, &uses);
    Ok(())
}
