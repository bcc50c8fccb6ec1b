//! `device <uuid>`, `device list`, `device pin`, `device track-fleet`.

use std::io::Read as _;

use balena_api::models::{Application, Device};
use balena_api::odata::{self, Filter, Query};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{finish_wait, selector, wait_if_asked, Context};
use crate::cli::{DeviceListArgs, DevicePinArgs, DeviceTrackFleetArgs, MutationArgs};
use crate::error::{usage, Error};
use crate::ops::bulk::{self, BulkOp};
use crate::ops::{self, find, wait::WaitScope};
use crate::policy::plan::{self, DeviceAction, DevicePlan};
use crate::policy::release::{self, SUMMARY_FIELDS};
use crate::policy::select::{tag_filter, Selection};
use crate::policy::{behind_filter, is_behind, pinned_filter, tracking_filter, ReleaseSelector};
use crate::view::{self, mutation::BulkAction};

const FLEET_FIELDS: &[&str] = &["id", "app_name", "slug", "should_track_latest_release"];

/// The device with its pin, its target, and its fleet's policy (and, to pin, the release
/// the argument names in that fleet).
fn policy_query(release: Option<Query>) -> Query {
    let mut fleet = Query::new().select(FLEET_FIELDS).expand(
        "should_be_running__release",
        Query::new().select(SUMMARY_FIELDS),
    );
    if let Some(r) = release {
        fleet = fleet.expand("owns__release", r);
    }
    Query::new()
        .select(&["id", "uuid", "device_name"])
        .expand("belongs_to__application", fleet)
        .expand("is_pinned_on__release", Query::new().select(SUMMARY_FIELDS))
        .expand(
            "should_be_running__release",
            Query::new().select(SUMMARY_FIELDS),
        )
}

fn read_stdin() -> std::io::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    Ok(text)
}

/// `balena device pin <device(s)> [release]`: one device is GET (+ PATCH); several go
/// through [`bulk`].
pub async fn pin(ctx: &Context<'_>, a: &DevicePinArgs) -> Result<(), Error> {
    // With --fleet the only positional argument is the release.
    let (device, release) = match (&a.select.fleet, &a.uuid, &a.release) {
        (Some(_), Some(_), Some(_)) => {
            return Err(usage(
                "with --fleet, give only the release (the devices are the fleet's)",
                "balena device pin --fleet <fleet> [--tag K[=V]] <release>",
            ))
        }
        (Some(_), u, r) => (None, r.as_deref().or(u.as_deref())),
        (None, u, r) => (u.as_deref(), r.as_deref()),
    };
    let selection = Selection::parse(
        device,
        a.select.fleet.as_deref(),
        &a.select.tags,
        read_stdin,
    )?;
    let Selection::One(arg) = &selection else {
        let Some(rel_arg) = release else {
            return Err(usage(
                "a release is required to pin several devices",
                "balena device pin <uuid>,<uuid> <release>",
            ));
        };
        let op = BulkOp::Pin(selector(rel_arg)?);
        return run_bulk(ctx, &selection, &op, &a.mutation).await;
    };
    let Some(rel_arg) = release else {
        let dev: Device = find::device(&ctx.api, arg, policy_query(None)).await?;
        view::device::policy(ctx.printer, &dev, dev.fleet.first());
        return Ok(());
    };
    let sel = selector(rel_arg)?;
    pin_one(ctx, arg, &sel, &a.mutation).await
}

/// One device: GET (device, its fleet, the release) + PATCH.
async fn pin_one(
    ctx: &Context<'_>,
    arg: &str,
    sel: &ReleaseSelector,
    m: &MutationArgs,
) -> Result<(), Error> {
    let q = policy_query(Some(release::expansion(sel)));
    let dev: Device = find::device(&ctx.api, arg, q).await?;
    let fleet = dev.fleet.first().ok_or(Error::FleetNotAccessible)?;
    let (rel, caveats) = find::release_in_fleet(&ctx.api, sel, fleet).await?;
    view::mutation::caveats(ctx.printer, &caveats);
    let action = DeviceAction::Pin(std::sync::Arc::new(rel));
    let plan = plan::device(&dev, Some(fleet), &action);
    apply(ctx, m, &dev, Some(fleet), &action, plan).await
}

/// `balena device track-fleet <device(s)>`: one device is GET (+ PATCH); several go
/// through [`bulk`].
pub async fn track_fleet(ctx: &Context<'_>, a: &DeviceTrackFleetArgs) -> Result<(), Error> {
    let selection = Selection::parse(
        a.uuid.as_deref(),
        a.select.fleet.as_deref(),
        &a.select.tags,
        read_stdin,
    )?;
    let Selection::One(arg) = &selection else {
        return run_bulk(ctx, &selection, &BulkOp::TrackFleet, &a.mutation).await;
    };
    let dev: Device = find::device(&ctx.api, arg, policy_query(None)).await?;
    let fleet = dev.fleet.first();
    let action = DeviceAction::TrackFleet;
    let plan = plan::device(&dev, fleet, &action);
    apply(ctx, &a.mutation, &dev, fleet, &action, plan).await
}

/// `--dry-run`: the plan; otherwise the PATCH (when something changes), the confirmation,
/// the optional wait and the JSON result.
async fn apply(
    ctx: &Context<'_>,
    m: &MutationArgs,
    dev: &Device,
    fleet: Option<&Application>,
    action: &DeviceAction,
    plan: DevicePlan,
) -> Result<(), Error> {
    let p = ctx.printer;
    if m.dry_run {
        view::mutation::device_plan(p, dev, fleet, &plan);
        return Ok(());
    }
    ops::write_device(&ctx.api, dev, &plan).await?;
    view::mutation::device_done(p, dev, fleet, action, &plan);
    let pin = match action {
        DeviceAction::Pin(r) => Some(r.id),
        DeviceAction::TrackFleet => None,
    };
    let (waited, failed) = wait_if_asked(ctx, m, WaitScope::devices(vec![(dev.id, pin)])).await;
    view::mutation::device_result(p, dev, fleet, &plan, waited.as_ref());
    finish_wait(waited, failed)
}

/// Several devices: the bulk run, its report, the optional wait, the JSON result; exit 9
/// when some devices failed.
async fn run_bulk(
    ctx: &Context<'_>,
    selection: &Selection,
    op: &BulkOp,
    m: &MutationArgs,
) -> Result<(), Error> {
    let p = ctx.printer;
    let outcome = bulk::run(&ctx.api, selection, op, m.dry_run).await?;
    let action = match op {
        BulkOp::Pin(_) => BulkAction::Pin,
        BulkOp::TrackFleet => BulkAction::TrackFleet,
    };
    view::mutation::caveats(p, &outcome.caveats);
    if let Some(slug) = &outcome.empty_fleet {
        view::mutation::empty_fleet(p, slug, m.dry_run);
    }
    view::mutation::bulk_report(p, &outcome.items, action, m.dry_run);
    let pins = outcome.ok_pins();
    let interrupted = outcome.items.iter().any(plan::BulkItem::interrupted);
    let error = plan::bulk_error(&outcome.items, m.dry_run);
    // The `--json` document's results go out now, and the items are dropped, so the wait's
    // own states take their place in memory rather than adding to it.
    let doc = view::mutation::bulk_result_start(p, &outcome.items, m.dry_run);
    drop(outcome.items);
    let (waited, failed) = if pins.is_empty() || interrupted {
        (None, None)
    } else {
        let scope = match (selection, outcome.fleet_id) {
            (Selection::Fleet { tags, .. }, Some(fleet)) => WaitScope::selected(fleet, tags, pins),
            _ => WaitScope::devices(pins),
        };
        wait_if_asked(ctx, m, scope).await
    };
    view::mutation::bulk_result_end(doc, waited.as_ref());
    if let Some(e) = error {
        return Err(e);
    }
    finish_wait(waited, failed)
}

const SHOW_FIELDS: &[&str] = &[
    "device_name",
    "id",
    "overall_status",
    "is_online",
    "ip_address",
    "mac_address",
    "last_connectivity_event",
    "uuid",
    "supervisor_version",
    "is_web_accessible",
    "note",
    "os_version",
    "memory_usage",
    "memory_total",
    "public_address",
    "storage_block_device",
    "storage_usage",
    "storage_total",
    "cpu_usage",
    "cpu_temp",
    "cpu_id",
    "is_undervolted",
];

fn show_expands(q: Query) -> Query {
    q.expand(
        "belongs_to__application",
        Query::new().select(&["app_name", "slug"]),
    )
    .expand("is_of__device_type", Query::new().select(&["slug"]))
    .expand("is_running__release", Query::new().select(&["commit"]))
}

/// `balena device <uuid>`: 1 request (2 with `--json`, like the official CLI, for the
/// computed fields).
pub async fn show(ctx: &Context<'_>, arg: &str) -> Result<(), Error> {
    let dashboard = ctx.settings.dashboard_origin();
    if !ctx.printer.json {
        let q = show_expands(Query::new().select(SHOW_FIELDS));
        let d: Value = find::device(&ctx.api, arg, q).await?;
        view::device::show(ctx.printer, &d, dashboard.as_deref());
        return Ok(());
    }
    // The official order of $expand: device_tag first.
    let q =
        show_expands(Query::new().expand("device_tag", Query::new().select(&["tag_key", "value"])));
    let d: Value = find::device(&ctx.api, arg, q).await?;
    let id = super::row_field(&d, "id", "device", Value::as_i64)?;
    let extra_q = Query::new().select(&[
        "overall_status",
        "overall_progress",
        "should_be_running__release",
    ]);
    let extra: Option<Value> = ctx
        .api
        .get_one(&odata::entity_path("device", id, &extra_q))
        .await?;
    let mut o: Map<String, Value> = match d {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Some(Value::Object(e)) = extra {
        o.extend(e);
    }
    view::device::show_json(ctx.printer, o, dashboard.as_deref());
    Ok(())
}

const LIST_FIELDS: &[&str] = &[
    "id",
    "uuid",
    "device_name",
    "status",
    "is_online",
    "supervisor_version",
    "os_version",
];

/// Devices per page of `device list`.
const LIST_PAGE: u32 = 1000;

/// The `$filter` parts of `device list`'s flags (ANDed).
fn list_filter(args: &DeviceListArgs) -> Result<Vec<Filter>, Error> {
    let mut parts = Vec::new();
    if args.pinned {
        parts.push(pinned_filter());
    }
    if args.tracking {
        parts.push(tracking_filter());
    }
    if args.behind {
        match behind_filter() {
            Filter::And(both) => parts.extend(both),
            f => parts.push(f),
        }
    }
    for t in &args.tags {
        parts.push(tag_filter(t).ok_or_else(|| {
            usage(
                &format!("invalid --tag {t:?}: the key must not be empty"),
                "balena device list --fleet <fleet> --tag KEY[=VALUE]",
            )
        })?);
    }
    Ok(parts)
}

/// The devices after `(name, id)` in the list's order (`device_name asc, id asc`): a
/// keyset page bound that a database walks along its index, whatever the position.
fn after(name: &str, id: i64) -> [Filter; 2] {
    [
        Filter::Ge("device_name".into(), name.into()),
        Filter::Or(vec![
            Filter::Gt("device_name".into(), name.into()),
            Filter::Gt("id".into(), id.into()),
        ]),
    ]
}

/// `balena device list [--fleet F] [--pinned|--tracking] [--behind] [--tag K[=V]]...`: the
/// fleet (with `--fleet`), then the devices in pages of [`LIST_PAGE`] by `(device_name,
/// id)`, the filters in their `$filter` and the releases expanded. Each page is handed to
/// the view as it comes, so memory holds one page (and, for a table, the compact rows).
pub async fn list(ctx: &Context<'_>, args: &DeviceListArgs) -> Result<(), Error> {
    let mut base = list_filter(args)?;
    let mut dev_q = Query::new()
        .select(LIST_FIELDS)
        .expand("is_of__device_type", Query::new().select(&["slug"]))
        .expand("is_running__release", Query::new().select(SUMMARY_FIELDS))
        .expand(
            "should_be_running__release",
            Query::new().select(SUMMARY_FIELDS),
        )
        .expand("is_pinned_on__release", Query::new().select(&["id"]));
    let fleet_slug: Option<String> = match args.fleet.as_deref() {
        Some(f) => {
            let q = Query::new().select(&["id", "slug"]);
            let app: Value = find::visible_fleet(&ctx.api, f, q).await?;
            let id = super::row_field(&app, "id", "fleet", Value::as_i64)?;
            base.insert(0, Filter::eq("belongs_to__application", id));
            app.get("slug").and_then(|s| s.as_str()).map(str::to_owned)
        }
        None => {
            ctx.api.require_token()?;
            dev_q = dev_q.expand("belongs_to__application", Query::new().select(&["slug"]));
            None
        }
    };
    let dev_q = dev_q.orderby("device_name asc,id asc").top(LIST_PAGE);
    let page_path = |from: Option<&(String, i64)>| {
        let mut parts = base.clone();
        if let Some((name, id)) = from {
            parts.extend(after(name, *id));
        }
        let q = match parts.len() {
            0 => dev_q.clone(),
            _ => dev_q.clone().filter(Filter::And(parts)),
        };
        odata::path("device", &q)
    };
    let mut list = view::device::DeviceList::new(ctx.printer, ctx.settings.dashboard_origin());
    let mut rows: Vec<Value> = ctx.api.get(&page_path(None)).await?;
    if rows.is_empty() && fleet_slug.is_none() {
        // The guest trap: a rejected token reads as a guest with no devices.
        ctx.api.confirm_session().await?;
    }
    loop {
        // The next page is asked for before this one is shown, and comes in while it is.
        let next_from = match rows.last() {
            Some(last) if rows.len() >= LIST_PAGE as usize => Some((
                super::row_field(last, "device_name", "device", |v| {
                    v.as_str().map(str::to_owned)
                })?,
                super::row_field(last, "id", "device", Value::as_i64)?,
            )),
            _ => None,
        };
        let fetch = async {
            match &next_from {
                Some(from) => ctx.api.get::<Value>(&page_path(Some(from))).await.map(Some),
                None => Ok(None),
            }
        };
        let show = async {
            for (i, row) in rows.iter().enumerate() {
                let dev = Device::deserialize(row).map_err(|e| Error::Incomplete {
                    detail: format!("a device row: {e}"),
                })?;
                let fleet = match &fleet_slug {
                    Some(s) => Some(s.as_str()),
                    None => row
                        .pointer("/belongs_to__application/0/slug")
                        .and_then(|s| s.as_str()),
                };
                list.push(view::device::ListItem {
                    row,
                    fleet,
                    pinned: dev.pinned.id().is_some(),
                    behind: is_behind(&dev),
                });
                if i % 128 == 127 {
                    // Lets the connection read the next page meanwhile.
                    tokio::task::yield_now().await;
                }
            }
            Ok::<(), Error>(())
        };
        let (next, shown) = tokio::join!(fetch, show);
        shown?;
        match next? {
            Some(page) => rows = page,
            None => break,
        }
    }
    list.finish();
    Ok(())
}
