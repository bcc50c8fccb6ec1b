//! `fleet <fleet>`, `fleet list`, `fleet pin`, `fleet track-latest`, `fleet rollback`.

use balena_api::models::Application;
use balena_api::odata::{self, Filter, Query};
use serde_json::Value;

use super::{finish_wait, selector, wait_if_asked, Context};
use crate::cli::MutationArgs;
use crate::error::Error;
use crate::ops::{self, find, wait::WaitScope};
use crate::policy::plan::{self, FleetPlan};
use crate::policy::release::{self, SUMMARY_FIELDS};
use crate::policy::{behind_filter, pinned_filter, DeviceCounts};
use crate::view::{self, fleet::ListItem};

const APP_FIELDS: &[&str] = &["id", "app_name", "slug", "should_track_latest_release"];

/// The fleet with its policy and target: what every fleet mutation reads.
fn policy_query() -> Query {
    Query::new().select(APP_FIELDS).expand(
        "should_be_running__release",
        Query::new().select(SUMMARY_FIELDS),
    )
}

/// The fleet's devices, read along with the fleet for a `--dry-run` plan (no extra request).
fn with_devices(q: Query, m: &MutationArgs) -> Query {
    if !m.dry_run {
        return q;
    }
    q.expand(
        "owns__device",
        Query::new()
            .select(&["id", "uuid", "device_name"])
            .expand("is_pinned_on__release", Query::new().select(SUMMARY_FIELDS))
            .orderby("id asc"),
    )
}

/// `balena fleet <fleet>`: the fleet with its target and its device count (1 request, the
/// official view's filter), then the counts of pinned and of behind devices (2 `$count`
/// requests, sent together). The bytes transferred do not grow with the fleet.
pub async fn show(ctx: &Context<'_>, arg: &str) -> Result<(), Error> {
    let q = Query::new()
        .expand("is_for__device_type", Query::new().select(&["slug"]))
        .expand(
            "should_be_running__release",
            Query::new().select(SUMMARY_FIELDS),
        )
        .expand("owns__device/$count", Query::new());
    let row: Value = find::visible_fleet(&ctx.api, arg, q).await?;
    let id = super::row_field(&row, "id", "fleet", Value::as_i64)?;
    let total = row.get("owns__device").and_then(Value::as_u64).unwrap_or(0);
    let of_fleet = |f: Filter| Filter::And(vec![Filter::eq("belongs_to__application", id), f]);
    let (pinned, behind) = tokio::try_join!(
        ctx.api.count("device", of_fleet(pinned_filter())),
        ctx.api.count("device", of_fleet(behind_filter())),
    )?;
    let counts = DeviceCounts {
        total: total as usize,
        pinned: pinned as usize,
        behind: behind as usize,
    };
    let mut row = row;
    if let Value::Object(o) = &mut row {
        o.shift_remove("owns__device");
    }
    view::fleet::show(ctx.printer, &row, counts);
    Ok(())
}

/// `balena fleet list`: 1 request (2 when there is no fleet: the session is confirmed).
pub async fn list(ctx: &Context<'_>) -> Result<(), Error> {
    ctx.api.require_token()?;
    let q = Query::new()
        .select(&["id", "app_name", "slug"])
        .filter(Filter::directly_accessible())
        .expand("is_for__device_type", Query::new().select(&["slug"]))
        .expand("owns__device", Query::new().select(&["is_online"]))
        .orderby("app_name asc");
    let rows: Vec<Value> = ctx.api.get(&odata::path("application", &q)).await?;
    if rows.is_empty() {
        // The guest trap: a rejected token reads as a guest with no fleets.
        ctx.api.confirm_session().await?;
    }
    let field = |r: &Value, k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    let items: Vec<ListItem> = rows
        .iter()
        .map(|r| {
            let devices = r
                .get("owns__device")
                .and_then(|d| d.as_array())
                .map(Vec::as_slice)
                .unwrap_or_default();
            ListItem {
                id: field(r, "id"),
                app_name: field(r, "app_name"),
                slug: field(r, "slug"),
                device_type: r
                    .pointer("/is_for__device_type/0/slug")
                    .cloned()
                    .unwrap_or(Value::Null),
                device_count: devices.len(),
                online_devices: devices
                    .iter()
                    .filter(|d| d.get("is_online").and_then(|o| o.as_bool()) == Some(true))
                    .count(),
            }
        })
        .collect();
    view::fleet::list(ctx.printer, &items);
    Ok(())
}

/// `balena fleet pin <fleet> [release]`: GET (+ PATCH); without a release, the policy.
pub async fn pin(
    ctx: &Context<'_>,
    arg: &str,
    release: Option<&str>,
    m: &MutationArgs,
) -> Result<(), Error> {
    let Some(rel_arg) = release else {
        let app: Application = find::fleet(&ctx.api, arg, policy_query()).await?;
        view::fleet::policy(ctx.printer, &app, arg.trim());
        return Ok(());
    };
    let sel = selector(rel_arg)?;
    let q = with_devices(
        policy_query().expand("owns__release", release::expansion(&sel)),
        m,
    );
    let app: Application = find::fleet(&ctx.api, arg, q).await?;
    let (rel, caveats) = find::release_in_fleet(&ctx.api, &sel, &app).await?;
    view::mutation::caveats(ctx.printer, &caveats);
    apply(ctx, m, &app, plan::pin_fleet(&app, &rel)).await
}

/// `balena fleet track-latest <fleet>`: GET (+ PATCH).
pub async fn track_latest(ctx: &Context<'_>, arg: &str, m: &MutationArgs) -> Result<(), Error> {
    // Ordered by start_timestamp like the server's own auto-advance (the SDK uses
    // created_at): the release we point at is the one the server would pick next.
    let q = with_devices(policy_query().expand("owns__release", release::latest()), m);
    let app: Application = find::fleet(&ctx.api, arg, q).await?;
    let plan = plan::track_latest(&app, app.releases.first());
    apply(ctx, m, &app, plan).await
}

/// `balena fleet rollback <fleet>`: GET (the fleet, its target and its trackable releases)
/// + PATCH.
pub async fn rollback(ctx: &Context<'_>, arg: &str, m: &MutationArgs) -> Result<(), Error> {
    let mut target_fields: Vec<&str> = SUMMARY_FIELDS.to_vec();
    target_fields.extend(["start_timestamp", "created_at"]);
    let q = Query::new()
        .select(APP_FIELDS)
        .expand(
            "should_be_running__release",
            Query::new().select(&target_fields),
        )
        .expand("owns__release", release::rollback_candidates());
    let app: Application = find::fleet(&ctx.api, arg, with_devices(q, m)).await?;
    let plan = plan::rollback(&app, app.releases.rows())?;
    apply(ctx, m, &app, plan).await
}

/// `--dry-run`: the plan; otherwise the PATCH (when something changes), the confirmation,
/// the optional wait and the JSON result.
async fn apply(
    ctx: &Context<'_>,
    m: &MutationArgs,
    app: &Application,
    plan: FleetPlan,
) -> Result<(), Error> {
    let p = ctx.printer;
    if m.dry_run {
        let effects = plan::fleet_device_effects(app.devices.rows(), &plan);
        view::mutation::fleet_plan(p, app, &plan, &effects);
        return Ok(());
    }
    ops::write_fleet(&ctx.api, app, &plan).await?;
    view::mutation::fleet_done(p, app, &plan);
    let scope = WaitScope::fleet(app.id, &app.slug, plan.change.after.target().map(|r| r.id));
    let (waited, failed) = wait_if_asked(ctx, m, scope).await;
    view::mutation::fleet_result(p, app, &plan, waited.as_ref());
    finish_wait(waited, failed)
}
