//! `device <uuid>`, `device list`, `device pin`, `device track-fleet`.

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::bulk::{Op, Selection};
use super::mutate::{
    device_state, finish_wait, plural, resolve_release, wait_if_asked, with_rollout, ReleaseSel,
    PLAN_HEADER,
};
use super::wait::WaitScope;
use super::{decode, find_device, find_fleet, short, summary, usage, Context, SUMMARY_FIELDS};
use crate::api::models::{Application, Device, Release};
use crate::api::odata::{self, Query};
use crate::cli::{DevicePinArgs, DeviceTrackFleetArgs, MutationArgs};
use crate::output::{self, table};

const FLEET_FIELDS: &[&str] = &["id", "app_name", "slug", "should_track_latest_release"];

/// The policy object used in `--json` results: `{"tracking_fleet":…,"release":…}`, where
/// `release` is the device's target (its pin, or its fleet's target).
pub(crate) fn policy(tracking_fleet: bool, release: Option<&Release>) -> Value {
    json!({"tracking_fleet": tracking_fleet, "release": summary(release)})
}

fn device_ref(d: &Device, fleet: Option<&Application>) -> Value {
    json!({"id": d.id, "uuid": d.uuid, "device_name": d.device_name, "fleet": fleet.map(|f| f.slug.clone())})
}

fn short_uuid(u: &str) -> String {
    u.chars().take(7).collect()
}

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

fn fleet_of(d: &Device) -> Result<&Application> {
    d.fleet
        .first()
        .ok_or_else(|| anyhow::anyhow!("device {} belongs to no fleet that you can see", d.uuid))
}

/// The device's target when it tracks its fleet.
fn tracking_target(d: &Device) -> Option<&Release> {
    d.fleet
        .first()
        .and_then(|f| f.target())
        .or_else(|| d.target.first())
}

/// `balena device pin <device(s)> [release]`: one device is GET (+ PATCH); several go
/// through [`super::bulk`].
pub async fn pin(ctx: &Context, a: &DevicePinArgs) -> Result<()> {
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
    let selection = Selection::from_args(device, &a.select)?;
    let Selection::One(arg) = selection else {
        let Some(rel_arg) = release else {
            return Err(usage(
                "a release is required to pin several devices",
                "balena device pin <uuid>,<uuid> <release>",
            ));
        };
        let sel = ReleaseSel::parse(rel_arg)?;
        return super::bulk::run(ctx, selection, Op::Pin(sel), &a.mutation).await;
    };
    let Some(rel_arg) = release else {
        return show_policy(ctx, &arg).await;
    };
    pin_one(ctx, &arg, rel_arg, &a.mutation).await
}

/// One device: GET (device, its fleet, the release) + PATCH.
async fn pin_one(ctx: &Context, arg: &str, rel_arg: &str, m: &MutationArgs) -> Result<()> {
    let sel = ReleaseSel::parse(rel_arg)?;
    let q = policy_query(Some(sel.expand()));
    let dev: Device = decode(find_device(ctx, arg, q).await?, "/v7/device")?;
    let fleet = fleet_of(&dev)?;
    let rel = resolve_release(ctx, sel, fleet).await?;

    let pinned = dev.pinned.first();
    let before = match pinned {
        Some(p) => policy(false, Some(p)),
        None => policy(true, tracking_target(&dev)),
    };
    let after = policy(false, Some(&rel));
    let changed = pinned.map(|p| p.id) != Some(rel.id);
    if m.dry_run {
        return print_plan(
            ctx,
            &dev,
            Some(fleet),
            (before, after, changed),
            device_state(pinned, tracking_target(&dev)),
            device_state(Some(&rel), None),
        );
    }
    if changed {
        ctx.api
            .patch(
                &format!("device({})", dev.id),
                &json!({"is_pinned_on__release": rel.id}),
            )
            .await?;
        output::note(&format!(
            "Pinned device {} to release {}.",
            short_uuid(&dev.uuid),
            short(&rel)
        ));
    } else {
        output::note(&format!(
            "Device {} is already pinned to release {}; nothing changed.",
            short_uuid(&dev.uuid),
            short(&rel)
        ));
    }
    let waited = wait_if_asked(ctx, m, WaitScope::Devices(vec![dev.id])).await?;
    if ctx.json {
        output::json_pretty(&with_rollout(
            json!({
                "device": device_ref(&dev, Some(fleet)),
                "before": before,
                "after": after,
                "changed": changed,
            }),
            waited.as_ref(),
        ));
    }
    finish_wait(waited)
}

/// The `--dry-run` plan of one device: a one-row table on stdout (or the JSON result with
/// `"dry_run":true`).
fn print_plan(
    ctx: &Context,
    dev: &Device,
    fleet: Option<&Application>,
    (before, after, changed): (Value, Value, bool),
    before_text: String,
    after_text: String,
) -> Result<()> {
    if ctx.json {
        output::json_pretty(&json!({
            "dry_run": true,
            "device": device_ref(dev, fleet),
            "before": before,
            "after": after,
            "changed": changed,
        }));
    } else {
        let row = vec![
            dev.uuid.clone(),
            dev.device_name.clone().unwrap_or_else(|| "N/a".into()),
            fleet
                .map(|f| f.slug.clone())
                .unwrap_or_else(|| "N/a".into()),
            before_text,
            after_text,
            if changed { "yes" } else { "no" }.to_owned(),
        ];
        output::stdout(&format!(
            "{PLAN_HEADER}\n\n{}\n{} would change, {} unchanged, 0 failed.\n",
            table::horizontal(
                &["UUID", "DEVICE NAME", "FLEET", "BEFORE", "AFTER", "CHANGED"],
                &[row]
            ),
            plural(usize::from(changed), "device", "devices"),
            usize::from(!changed),
        ));
    }
    output::note("Dry run: no change was sent.");
    Ok(())
}

async fn show_policy(ctx: &Context, arg: &str) -> Result<()> {
    let dev: Device = decode(
        find_device(ctx, arg, policy_query(None)).await?,
        "/v7/device",
    )?;
    let fleet = dev.fleet.first();
    let pinned = dev.pinned.first();
    let state = match pinned {
        Some(p) => policy(false, Some(p)),
        None => policy(true, tracking_target(&dev)),
    };
    if ctx.json {
        let mut o = device_ref(&dev, fleet);
        if let (Value::Object(o), Value::Object(p)) = (&mut o, state) {
            o.extend(p);
        }
        output::json_pretty(&o);
        return Ok(());
    }
    let first = match (pinned, tracking_target(&dev)) {
        (Some(p), _) => format!("This device is pinned to {}.", p.commit),
        (None, Some(t)) => format!(
            "This device is tracking its fleet (currently {}).",
            t.commit
        ),
        (None, None) => "This device is not currently pinned to any release.".to_owned(),
    };
    let slug = fleet.map(|f| f.slug.as_str()).unwrap_or("<fleet>");
    output::stdout(&format!(
        "{first}\n\nTo see a list of all releases this device can be pinned to, run `balena release list {slug}`.\n"
    ));
    Ok(())
}

/// `balena device track-fleet <device(s)>`: one device is GET (+ PATCH); several go
/// through [`super::bulk`].
pub async fn track_fleet(ctx: &Context, a: &DeviceTrackFleetArgs) -> Result<()> {
    let selection = Selection::from_args(a.uuid.as_deref(), &a.select)?;
    let Selection::One(arg) = selection else {
        return super::bulk::run(ctx, selection, Op::TrackFleet, &a.mutation).await;
    };
    track_fleet_one(ctx, &arg, &a.mutation).await
}

async fn track_fleet_one(ctx: &Context, arg: &str, m: &MutationArgs) -> Result<()> {
    let dev: Device = decode(
        find_device(ctx, arg, policy_query(None)).await?,
        "/v7/device",
    )?;
    let fleet = dev.fleet.first();
    let pinned = dev.pinned.first();
    let fleet_target = fleet.and_then(|f| f.target());
    let before = match pinned {
        Some(p) => policy(false, Some(p)),
        None => policy(true, tracking_target(&dev)),
    };
    let new_target = fleet_target.or(if pinned.is_none() {
        tracking_target(&dev)
    } else {
        None
    });
    let after = policy(true, new_target);
    let changed = pinned.is_some();
    if m.dry_run {
        return print_plan(
            ctx,
            &dev,
            fleet,
            (before, after, changed),
            device_state(pinned, tracking_target(&dev)),
            device_state(None, new_target),
        );
    }
    let slug = fleet.map(|f| f.slug.as_str()).unwrap_or("N/a");
    let now = match fleet_target {
        Some(r) => format!("currently {}", short(r)),
        None => "no release yet".to_owned(),
    };
    if changed {
        ctx.api
            .patch(
                &format!("device({})", dev.id),
                &json!({"is_pinned_on__release": null}),
            )
            .await?;
        output::note(&format!(
            "Device {} now tracks its fleet {slug} ({now}).",
            short_uuid(&dev.uuid)
        ));
    } else {
        output::note(&format!(
            "Device {} already tracks its fleet {slug} ({now}); nothing changed.",
            short_uuid(&dev.uuid)
        ));
    }
    let waited = wait_if_asked(ctx, m, WaitScope::Devices(vec![dev.id])).await?;
    if ctx.json {
        output::json_pretty(&with_rollout(
            json!({
                "device": device_ref(&dev, fleet),
                "before": before,
                "after": after,
                "changed": changed,
            }),
            waited.as_ref(),
        ));
    }
    finish_wait(waited)
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

fn percent(usage: Option<&Value>, total: Option<&Value>) -> Option<i64> {
    let u = usage?.as_f64()?;
    let t = total?.as_f64()?;
    if t == 0.0 {
        return None;
    }
    // JavaScript's Math.round: half up.
    Some((u / t * 100.0 + 0.5).floor() as i64)
}

fn dashboard_url(ctx: &Context, uuid: &str) -> Option<String> {
    ctx.settings
        .dashboard_origin()
        .map(|o| format!("{o}/devices/{uuid}/summary"))
}

/// `balena device <uuid>`: 1 request (2 with `--json`, like the official CLI, for the
/// computed fields).
pub async fn show(ctx: &Context, arg: &str) -> Result<()> {
    if ctx.json {
        return show_json(ctx, arg).await;
    }
    let q = show_expands(Query::new().select(SHOW_FIELDS));
    let d = find_device(ctx, arg, q).await?;
    let s = |k: &str| table::value(d.get(k));
    let or_na = |p: &str| {
        Some(
            d.pointer(p)
                .and_then(|v| v.as_str())
                .unwrap_or("N/a")
                .to_owned(),
        )
    };
    let uuid = d.get("uuid").and_then(|u| u.as_str()).unwrap_or("");
    let undervolted = (d.get("is_undervolted").and_then(|v| v.as_bool()) == Some(true))
        .then(|| "true".to_owned());
    let rows = vec![
        ("ID", s("id")),
        (
            "DEVICE TYPE",
            d.pointer("/is_of__device_type/0/slug")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        ),
        ("STATUS", s("overall_status")),
        ("IS ONLINE", s("is_online")),
        ("IP ADDRESS", s("ip_address")),
        ("PUBLIC ADDRESS", s("public_address")),
        ("MAC ADDRESS", s("mac_address")),
        ("FLEET", or_na("/belongs_to__application/0/slug")),
        ("LAST SEEN", s("last_connectivity_event")),
        ("UUID", s("uuid")),
        ("COMMIT", or_na("/is_running__release/0/commit")),
        ("SUPERVISOR VERSION", s("supervisor_version")),
        ("IS WEB ACCESSIBLE", s("is_web_accessible")),
        ("NOTE", s("note")),
        ("OS VERSION", s("os_version")),
        ("DASHBOARD URL", dashboard_url(ctx, uuid)),
        ("CPU USAGE PERCENT", s("cpu_usage")),
        ("CPU TEMP C", s("cpu_temp")),
        ("CPU ID", s("cpu_id")),
        ("MEMORY USAGE MB", s("memory_usage")),
        ("MEMORY TOTAL MB", s("memory_total")),
        (
            "MEMORY USAGE PERCENT",
            percent(d.get("memory_usage"), d.get("memory_total")).map(|p| p.to_string()),
        ),
        ("STORAGE BLOCK DEVICE", s("storage_block_device")),
        ("STORAGE USAGE MB", s("storage_usage")),
        ("STORAGE TOTAL MB", s("storage_total")),
        (
            "STORAGE USAGE PERCENT",
            percent(d.get("storage_usage"), d.get("storage_total")).map(|p| p.to_string()),
        ),
        ("UNDERVOLTAGE DETECTED", undervolted),
    ];
    let name = d.get("device_name").and_then(|v| v.as_str()).unwrap_or("");
    let title = table::normalize_title(name);
    let title = if title.is_empty() {
        None
    } else {
        Some(title.as_str())
    };
    output::stdout(&table::vertical(title, &rows));
    Ok(())
}

async fn show_json(ctx: &Context, arg: &str) -> Result<()> {
    let q =
        show_expands(Query::new().expand("device_tag", Query::new().select(&["tag_key", "value"])));
    // The official order of $expand: device_tag first.
    let d = find_device(ctx, arg, q).await?;
    let id = d
        .get("id")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| anyhow::anyhow!("the device row has no id"))?;
    let extra_q = Query::new().select(&[
        "overall_status",
        "overall_progress",
        "should_be_running__release",
    ]);
    let extra = ctx
        .api
        .get_rows(&odata::path(&format!("device({id})"), &extra_q))
        .await?;
    let mut o: Map<String, Value> = match d {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Some(Value::Object(e)) = extra.into_iter().next() {
        for (k, v) in e {
            o.insert(k, v);
        }
    }
    let get = |o: &Map<String, Value>, k: &str| o.get(k).cloned().unwrap_or(Value::Null);
    let uuid = o
        .get("uuid")
        .and_then(|u| u.as_str())
        .unwrap_or("")
        .to_owned();
    let fleet = o
        .get("belongs_to__application")
        .and_then(|a| a.pointer("/0/slug"))
        .cloned()
        .unwrap_or(Value::String("N/a".into()));
    let device_type = o
        .get("is_of__device_type")
        .and_then(|a| a.pointer("/0/slug"))
        .cloned()
        .unwrap_or(Value::Null);
    let commit = o
        .get("is_running__release")
        .and_then(|a| a.pointer("/0/commit"))
        .cloned()
        .unwrap_or(Value::String("N/a".into()));
    let mut add = vec![
        ("status", get(&o, "overall_status")),
        (
            "dashboard_url",
            dashboard_url(ctx, &uuid)
                .map(Value::String)
                .unwrap_or(Value::Null),
        ),
        ("fleet", fleet),
        ("device_type", device_type),
        ("commit", commit),
    ];
    let last_seen = get(&o, "last_connectivity_event");
    if !last_seen.is_null() {
        add.push(("last_seen", last_seen));
    }
    add.extend([
        ("memory_usage_mb", get(&o, "memory_usage")),
        ("memory_total_mb", get(&o, "memory_total")),
        ("storage_usage_mb", get(&o, "storage_usage")),
        ("storage_total_mb", get(&o, "storage_total")),
        ("cpu_temp_c", get(&o, "cpu_temp")),
        ("cpu_usage_percent", get(&o, "cpu_usage")),
    ]);
    if o.get("is_undervolted").and_then(|v| v.as_bool()) == Some(true) {
        add.push(("undervoltage_detected", Value::Bool(true)));
    }
    if let Some(p) = percent(o.get("memory_usage"), o.get("memory_total")) {
        add.push(("memory_usage_percent", p.into()));
    }
    if let Some(p) = percent(o.get("storage_usage"), o.get("storage_total")) {
        add.push(("storage_usage_percent", p.into()));
    }
    for (k, v) in add {
        o.insert(k.to_owned(), v);
    }
    output::json_pretty(&Value::Object(o));
    Ok(())
}

const LIST_FIELDS: &[&str] = &[
    "id",
    "uuid",
    "device_name",
    "overall_status",
    "is_online",
    "supervisor_version",
    "os_version",
];

/// The `$filter` of `device list`'s flags (ANDed), or `None` without any.
fn list_filter(args: &crate::cli::DeviceListArgs) -> Result<Option<odata::Filter>> {
    use crate::api::odata::{Filter, Lit};
    let mut parts = Vec::new();
    if args.pinned {
        parts.push(Filter::Ne("is_pinned_on__release".into(), Lit::Null));
    }
    if args.tracking {
        parts.push(Filter::Eq("is_pinned_on__release".into(), Lit::Null));
    }
    if args.behind {
        parts.push(Filter::Ne("should_be_running__release".into(), Lit::Null));
        parts.push(Filter::NeField(
            "is_running__release".into(),
            "should_be_running__release".into(),
        ));
    }
    for t in &args.tags {
        parts.push(crate::resolve::tag_filter(t).ok_or_else(|| {
            super::usage(
                &format!("invalid --tag {t:?}: the key must not be empty"),
                "balena device list --fleet <fleet> --tag KEY[=VALUE]",
            )
        })?);
    }
    Ok((!parts.is_empty()).then_some(Filter::And(parts)))
}

/// The id of an expanded (or unexpanded `{"__id":N}`) navigation.
pub(crate) fn nav_id(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Array(a) => a.first().and_then(|r| r.get("id")).and_then(Value::as_i64),
        Value::Object(o) => o
            .get("id")
            .or_else(|| o.get("__id"))
            .and_then(Value::as_i64),
        _ => None,
    }
}

/// Pinned, and behind (has a target and runs another release, or none), from a device row
/// with the release-policy expansions.
pub(crate) fn policy_of(d: &Value) -> (bool, bool) {
    let pinned = nav_id(d.get("is_pinned_on__release")).is_some();
    let target = nav_id(d.get("should_be_running__release"));
    let behind = target.is_some() && nav_id(d.get("is_running__release")) != target;
    (pinned, behind)
}

/// `balena device list [--fleet F] [--pinned|--tracking] [--behind] [--tag K[=V]]...`:
/// 1 request, the filters in its `$filter` and the releases expanded.
pub async fn list(ctx: &Context, args: &crate::cli::DeviceListArgs) -> Result<()> {
    let mut dev_q = Query::new().select(LIST_FIELDS);
    if let Some(f) = list_filter(args)? {
        dev_q = dev_q.filter(f);
    }
    let dev_q = dev_q
        .expand("is_of__device_type", Query::new().select(&["slug"]))
        .expand("is_running__release", Query::new().select(SUMMARY_FIELDS))
        .expand(
            "should_be_running__release",
            Query::new().select(SUMMARY_FIELDS),
        )
        .expand("is_pinned_on__release", Query::new().select(&["id"]))
        .orderby("device_name asc");
    let devices: Vec<(Value, Option<String>)> = match args.fleet.as_deref() {
        Some(f) => {
            let q = Query::new()
                .select(&["id", "slug"])
                .expand("owns__device", dev_q);
            let app = find_fleet(ctx, f, q).await?;
            let slug = app.get("slug").and_then(|s| s.as_str()).map(str::to_owned);
            app.get("owns__device")
                .and_then(|d| d.as_array())
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|d| (d, slug.clone()))
                .collect()
        }
        None => {
            ctx.api.require_token()?;
            let q = dev_q.expand("belongs_to__application", Query::new().select(&["slug"]));
            ctx.api
                .get_rows(&odata::path("device", &q))
                .await?
                .into_iter()
                .map(|d| {
                    let slug = d
                        .pointer("/belongs_to__application/0/slug")
                        .and_then(|s| s.as_str())
                        .map(str::to_owned);
                    (d, slug)
                })
                .collect()
        }
    };
    let items: Vec<Value> = devices
        .into_iter()
        .map(|(d, slug)| {
            let uuid = d.get("uuid").and_then(|u| u.as_str()).unwrap_or("");
            let (pinned, behind) = policy_of(&d);
            let nav = |k: &str| d.get(k).cloned().unwrap_or(Value::Null);
            json!({
                "id": d.get("id"),
                "uuid": uuid,
                "device_name": d.get("device_name"),
                "device_type": d.pointer("/is_of__device_type/0/slug"),
                "fleet": slug,
                "status": d.get("overall_status"),
                "is_online": d.get("is_online"),
                "supervisor_version": d.get("supervisor_version"),
                "os_version": d.get("os_version"),
                "dashboard_url": dashboard_url(ctx, uuid),
                "is_running__release": nav("is_running__release"),
                "should_be_running__release": nav("should_be_running__release"),
                "is_pinned_on__release": nav("is_pinned_on__release"),
                "release_policy": if pinned { "pinned" } else { "tracking_fleet" },
                "behind": behind,
            })
        })
        .collect();
    if ctx.json {
        output::json_pretty(&items);
        return Ok(());
    }
    let keys = [
        "id",
        "uuid",
        "device_name",
        "device_type",
        "fleet",
        "status",
        "is_online",
        "supervisor_version",
        "os_version",
        "dashboard_url",
    ];
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let mut row: Vec<String> = keys.iter().map(|k| table::cell(i.get(*k))).collect();
            let pinned = i["release_policy"] == "pinned";
            let na = || "N/a".to_owned();
            row.push(table::release(i.get("is_running__release")).unwrap_or_else(na));
            row.push(match table::release(i.get("should_be_running__release")) {
                Some(t) if pinned => format!("{t} (pinned)"),
                Some(t) => t,
                None => na(),
            });
            row.push(if pinned { "Pinned" } else { "Tracking fleet" }.to_owned());
            row
        })
        .collect();
    output::stdout(&table::horizontal(
        &[
            "ID",
            "UUID",
            "DEVICE NAME",
            "DEVICE TYPE",
            "FLEET",
            "STATUS",
            "IS ONLINE",
            "SUPERVISOR VERSION",
            "OS VERSION",
            "DASHBOARD URL",
            "RUNNING RELEASE",
            "TARGET RELEASE",
            "RELEASE POLICY",
        ],
        &rows,
    ));
    Ok(())
}
