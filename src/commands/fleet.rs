//! `fleet <fleet>`, `fleet list`, `fleet pin`, `fleet track-latest`.

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::{
    decode, find_fleet, pinnable_release, release_expand, release_filter, short, summary, Context,
    SUMMARY_FIELDS,
};
use crate::api::models::{Application, Release};
use crate::api::odata::{self, Filter, Query};
use crate::output::{self, table};

const APP_FIELDS: &[&str] = &["id", "app_name", "slug", "should_track_latest_release"];

fn target_expand() -> Query {
    Query::new().select(SUMMARY_FIELDS)
}

/// The policy object used in `--json` results: `{"tracking_latest":…,"release":…}`.
pub(crate) fn policy(tracking: bool, release: Option<&Release>) -> Value {
    json!({"tracking_latest": tracking, "release": summary(release)})
}

fn fleet_ref(app: &Application) -> Value {
    json!({"id": app.id, "slug": app.slug})
}

/// `balena fleet <fleet>`: 1 request.
pub async fn show(ctx: &Context, arg: &str) -> Result<()> {
    let q = Query::new()
        .expand("is_for__device_type", Query::new().select(&["slug"]))
        .expand(
            "should_be_running__release",
            Query::new().select(&["commit"]),
        );
    let v = find_fleet(ctx, arg, q).await?;
    let device_type = v
        .pointer("/is_for__device_type/0/slug")
        .and_then(|s| s.as_str())
        .map(str::to_owned);
    let commit = v
        .pointer("/should_be_running__release/0/commit")
        .and_then(|s| s.as_str())
        .map(str::to_owned);
    if ctx.json {
        let mut o = Map::new();
        o.insert("id".into(), v.get("id").cloned().unwrap_or(Value::Null));
        o.insert(
            "app_name".into(),
            v.get("app_name").cloned().unwrap_or(Value::Null),
        );
        o.insert("slug".into(), v.get("slug").cloned().unwrap_or(Value::Null));
        o.insert(
            "device_type".into(),
            device_type.map(Value::String).unwrap_or(Value::Null),
        );
        if let Some(c) = commit {
            o.insert("commit".into(), Value::String(c));
        }
        output::json_pretty(&Value::Object(o));
        return Ok(());
    }
    let name = v.get("app_name").and_then(|s| s.as_str()).unwrap_or("");
    output::stdout(&table::vertical(
        Some(name),
        &[
            ("ID", table::value(v.get("id"))),
            ("DEVICE TYPE", device_type),
            ("SLUG", table::value(v.get("slug"))),
            ("COMMIT", commit),
        ],
    ));
    Ok(())
}

/// `balena fleet list`: 1 request.
pub async fn list(ctx: &Context) -> Result<()> {
    ctx.api.require_token()?;
    let q = Query::new()
        .select(&["id", "app_name", "slug"])
        .filter(Filter::directly_accessible())
        .expand("is_for__device_type", Query::new().select(&["slug"]))
        .expand("owns__device", Query::new().select(&["is_online"]))
        .orderby("app_name asc");
    let rows = ctx.api.get_rows(&odata::path("application", &q)).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let devices = r
                .get("owns__device")
                .and_then(|d| d.as_array())
                .cloned()
                .unwrap_or_default();
            let online = devices
                .iter()
                .filter(|d| d.get("is_online").and_then(|o| o.as_bool()) == Some(true))
                .count();
            json!({
                "id": r.get("id"),
                "app_name": r.get("app_name"),
                "slug": r.get("slug"),
                "device_type": r.pointer("/is_for__device_type/0/slug"),
                "device_count": devices.len(),
                "online_devices": online,
            })
        })
        .collect();
    if ctx.json {
        output::json_pretty(&items);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            [
                "id",
                "app_name",
                "slug",
                "device_type",
                "device_count",
                "online_devices",
            ]
            .iter()
            .map(|k| table::cell(i.get(*k)))
            .collect()
        })
        .collect();
    output::stdout(&table::horizontal(
        &[
            "ID",
            "NAME",
            "SLUG",
            "DEVICE TYPE",
            "DEVICE COUNT",
            "ONLINE DEVICES",
        ],
        &rows,
    ));
    Ok(())
}

/// `balena fleet pin <fleet> [release]`: GET (+ PATCH).
pub async fn pin(ctx: &Context, arg: &str, release: Option<&str>) -> Result<()> {
    let Some(rel_arg) = release else {
        return show_policy(ctx, arg).await;
    };
    let filter = release_filter(rel_arg)?;
    let q = Query::new()
        .select(APP_FIELDS)
        .expand("should_be_running__release", target_expand())
        .expand("owns__release", release_expand(filter));
    let app: Application = decode(find_fleet(ctx, arg, q).await?, "/v7/application")?;
    let rel = pinnable_release(ctx, rel_arg, &app).await?;

    let tracking = app.should_track_latest_release.unwrap_or(false);
    let current = app.target();
    let before = policy(tracking, current);
    let after = policy(false, Some(&rel));
    let changed = tracking || current.map(|c| c.id) != Some(rel.id);
    if changed {
        ctx.api
            .patch(
                &format!("application({})", app.id),
                &json!({"should_be_running__release": rel.id, "should_track_latest_release": false}),
            )
            .await?;
        output::note(&format!(
            "Pinned fleet {} to release {}.",
            app.slug,
            short(&rel)
        ));
    } else {
        output::note(&format!(
            "Fleet {} is already pinned to release {}; nothing changed.",
            app.slug,
            short(&rel)
        ));
    }
    if ctx.json {
        output::json_pretty(&json!({
            "fleet": fleet_ref(&app),
            "before": before,
            "after": after,
            "changed": changed,
        }));
    }
    Ok(())
}

/// `fleet pin <fleet>` without a release: the current policy (1 request).
async fn show_policy(ctx: &Context, arg: &str) -> Result<()> {
    let q = Query::new()
        .select(APP_FIELDS)
        .expand("should_be_running__release", target_expand());
    let app: Application = decode(find_fleet(ctx, arg, q).await?, "/v7/application")?;
    let tracking = app.should_track_latest_release.unwrap_or(false);
    let target = app.target();
    if ctx.json {
        let mut o = fleet_ref(&app);
        if let (Value::Object(o), Value::Object(p)) = (&mut o, policy(tracking, target)) {
            o.extend(p);
        }
        output::json_pretty(&o);
        return Ok(());
    }
    let first = match (tracking, target) {
        (true, Some(r)) => format!(
            "This fleet is tracking the latest release (currently {}).",
            r.commit
        ),
        (false, Some(r)) => format!("This fleet is pinned to {}.", r.commit),
        (_, None) => "This fleet is not currently pinned to any release.".to_owned(),
    };
    output::stdout(&format!(
        "{first}\n\nTo see a list of all releases this fleet can be pinned to, run `balena release list {}`.\n",
        app.slug
    ));
    Ok(())
}

/// The server's notion of "trackable" (track-latest-release hook).
pub(crate) fn trackable_filter() -> Filter {
    Filter::And(vec![
        Filter::eq("is_final", true),
        Filter::eq("is_passing_tests", true),
        Filter::eq("is_invalidated", false),
        Filter::eq("status", "success"),
    ])
}

/// `balena fleet track-latest <fleet>`: GET (+ PATCH).
pub async fn track_latest(ctx: &Context, arg: &str) -> Result<()> {
    // Ordered by start_timestamp like the server's own auto-advance (the SDK uses
    // created_at): the release we point at is the one the server would pick next.
    let q = Query::new()
        .select(APP_FIELDS)
        .expand("should_be_running__release", target_expand())
        .expand(
            "owns__release",
            Query::new()
                .select(super::RELEASE_FIELDS)
                .filter(trackable_filter())
                .orderby("start_timestamp desc")
                .top(1),
        );
    let app: Application = decode(find_fleet(ctx, arg, q).await?, "/v7/application")?;
    let tracking = app.should_track_latest_release.unwrap_or(false);
    let current = app.target();
    let latest = app.releases.first();
    let before = policy(tracking, current);
    let new_target = latest.or(current);
    let after = policy(true, new_target);
    let changed = !tracking || latest.is_some_and(|l| current.map(|c| c.id) != Some(l.id));
    let now = match new_target {
        Some(r) => format!("currently {}", short(r)),
        None => "no release yet".to_owned(),
    };
    if changed {
        let body = match latest {
            Some(l) => {
                json!({"should_track_latest_release": true, "should_be_running__release": l.id})
            }
            None => json!({"should_track_latest_release": true}),
        };
        ctx.api
            .patch(&format!("application({})", app.id), &body)
            .await?;
        output::note(&format!(
            "Fleet {} now tracks the latest release ({now}).",
            app.slug
        ));
    } else {
        output::note(&format!(
            "Fleet {} already tracks the latest release ({now}); nothing changed.",
            app.slug
        ));
    }
    if ctx.json {
        output::json_pretty(&json!({
            "fleet": fleet_ref(&app),
            "before": before,
            "after": after,
            "changed": changed,
        }));
    }
    Ok(())
}
