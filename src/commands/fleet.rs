//! `fleet <fleet>`, `fleet list`, `fleet pin`, `fleet track-latest`.

use anyhow::Result;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::mutate::{
    device_state, finish_wait, latest_expand, plural, resolve_release, short_or_none,
    wait_if_asked, with_rollout, ReleaseSel, PLAN_HEADER,
};
use super::wait::WaitScope;
use super::{decode, find_fleet, short, summary, Context, RELEASE_FIELDS, SUMMARY_FIELDS};
use crate::api::models::{Application, Release};
use crate::api::odata::{self, Filter, Query};
use crate::cli::MutationArgs;
use crate::error::CliError;
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

/// `{total, pinned, tracking, behind}` of a fleet's device rows (see
/// [`super::device::policy_of`]).
fn device_counts(devices: &[Value]) -> Value {
    let (mut pinned, mut behind) = (0usize, 0usize);
    for d in devices {
        let (p, b) = super::device::policy_of(d);
        pinned += usize::from(p);
        behind += usize::from(b);
    }
    json!({
        "total": devices.len(),
        "pinned": pinned,
        "tracking": devices.len() - pinned,
        "behind": behind,
    })
}

/// `balena fleet <fleet>`: 1 request. The official rows (byte-identical to the official
/// CLI), then, after a blank line, the release policy, the target release and the device
/// counts: the same request also expands the target's version and the devices' release
/// fields (ids only). `--json`: the official keys, then `release_policy`, `target_release`
/// and `device_counts`.
pub async fn show(ctx: &Context, arg: &str) -> Result<()> {
    let q = Query::new()
        .expand("is_for__device_type", Query::new().select(&["slug"]))
        .expand(
            "should_be_running__release",
            Query::new().select(SUMMARY_FIELDS),
        )
        .expand(
            "owns__device",
            Query::new().select(&[
                "id",
                "is_pinned_on__release",
                "is_running__release",
                "should_be_running__release",
            ]),
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
    let tracking = v
        .get("should_track_latest_release")
        .and_then(|t| t.as_bool());
    let counts = device_counts(
        v.get("owns__device")
            .and_then(|d| d.as_array())
            .map(Vec::as_slice)
            .unwrap_or_default(),
    );
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
        o.insert(
            "release_policy".into(),
            match tracking {
                Some(true) => "tracking_latest".into(),
                Some(false) => "pinned".into(),
                None => Value::Null,
            },
        );
        o.insert(
            "target_release".into(),
            v.pointer("/should_be_running__release/0")
                .cloned()
                .unwrap_or(Value::Null),
        );
        o.insert("device_counts".into(), counts);
        output::json_pretty(&Value::Object(o));
        return Ok(());
    }
    let name = v.get("app_name").and_then(|s| s.as_str()).unwrap_or("");
    let official = [
        ("ID", table::value(v.get("id"))),
        ("DEVICE TYPE", device_type),
        ("SLUG", table::value(v.get("slug"))),
        ("COMMIT", commit),
    ];
    let policy = tracking.map(|t| if t { "Tracking latest" } else { "Pinned" }.to_owned());
    let extra = [
        ("RELEASE POLICY", policy),
        (
            "TARGET RELEASE",
            Some(
                table::release(v.get("should_be_running__release")).unwrap_or_else(|| "N/a".into()),
            ),
        ),
        ("DEVICES", table::value(counts.get("total"))),
        ("PINNED DEVICES", table::value(counts.get("pinned"))),
        ("TRACKING DEVICES", table::value(counts.get("tracking"))),
        ("BEHIND DEVICES", table::value(counts.get("behind"))),
    ];
    // Two blocks, each aligned on its own: the official rows keep the official alignment.
    output::stdout(&format!(
        "{}\n{}",
        table::vertical(Some(name), &official),
        table::vertical(None, &extra)
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
pub async fn pin(ctx: &Context, arg: &str, release: Option<&str>, m: &MutationArgs) -> Result<()> {
    let Some(rel_arg) = release else {
        return show_policy(ctx, arg).await;
    };
    let sel = ReleaseSel::parse(rel_arg)?;
    let q = with_devices(
        Query::new()
            .select(APP_FIELDS)
            .expand("should_be_running__release", target_expand())
            .expand("owns__release", sel.expand()),
        m,
    );
    let (app, devices) = fleet_and_devices(find_fleet(ctx, arg, q).await?)?;
    let rel = resolve_release(ctx, sel, &app).await?;

    let tracking = app.should_track_latest_release.unwrap_or(false);
    let current = app.target();
    let changed = tracking || current.map(|c| c.id) != Some(rel.id);
    let change = FleetChange {
        app: &app,
        before: (tracking, current),
        after: (false, Some(&rel)),
        changed,
        body: json!({"should_be_running__release": rel.id, "should_track_latest_release": false}),
        done: format!("Pinned fleet {} to release {}.", app.slug, short(&rel)),
        noop: format!(
            "Fleet {} is already pinned to release {}; nothing changed.",
            app.slug,
            short(&rel)
        ),
    };
    apply(ctx, m, change, devices).await
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

#[derive(Debug, Deserialize)]
struct PlanDevice {
    id: i64,
    #[serde(default)]
    uuid: String,
    #[serde(default)]
    device_name: Option<String>,
    #[serde(default, rename = "is_pinned_on__release")]
    pinned: Vec<Release>,
}

fn fleet_and_devices(mut v: Value) -> Result<(Application, Vec<PlanDevice>)> {
    let devices = match v.as_object_mut().and_then(|o| o.remove("owns__device")) {
        Some(d) => decode(d, "/v7/application (owns__device)")?,
        None => Vec::new(),
    };
    Ok((decode(v, "/v7/application")?, devices))
}

/// A change of a fleet's release policy, applied by [`apply`].
struct FleetChange<'a> {
    app: &'a Application,
    /// `(tracking latest, target)`
    before: (bool, Option<&'a Release>),
    after: (bool, Option<&'a Release>),
    changed: bool,
    /// The `PATCH application(id)` body.
    body: Value,
    /// The confirmation when something changed, and when nothing did.
    done: String,
    noop: String,
}

/// `pinned to a1b2c3d (1.2.0)`, `tracking the latest release (a1b2c3d (1.2.0))`
fn describe(tracking: bool, target: Option<&Release>) -> String {
    match (tracking, target) {
        (true, t) => format!("tracking the latest release ({})", short_or_none(t)),
        (false, Some(t)) => format!("pinned to {}", short(t)),
        (false, None) => "no target release".to_owned(),
    }
}

/// `--dry-run`: the plan; otherwise the PATCH (when something changes), the confirmation,
/// the optional wait and the JSON result.
async fn apply(
    ctx: &Context,
    m: &MutationArgs,
    c: FleetChange<'_>,
    devices: Vec<PlanDevice>,
) -> Result<()> {
    let before = policy(c.before.0, c.before.1);
    let after = policy(c.after.0, c.after.1);
    if m.dry_run {
        return print_plan(ctx, &c, before, after, &devices);
    }
    if c.changed {
        ctx.api
            .patch(&format!("application({})", c.app.id), &c.body)
            .await?;
        output::note(&c.done);
    } else {
        output::note(&c.noop);
    }
    let waited = wait_if_asked(
        ctx,
        m,
        WaitScope::Fleet {
            id: c.app.id,
            slug: c.app.slug.clone(),
        },
    )
    .await?;
    if ctx.json {
        output::json_pretty(&with_rollout(
            json!({
                "fleet": fleet_ref(c.app),
                "before": before,
                "after": after,
                "changed": c.changed,
            }),
            waited.as_ref(),
        ));
    }
    finish_wait(waited)
}

fn print_plan(
    ctx: &Context,
    c: &FleetChange<'_>,
    before: Value,
    after: Value,
    devices: &[PlanDevice],
) -> Result<()> {
    let old = c.before.1;
    let new = c.after.1;
    let target_moves = old.map(|r| r.id) != new.map(|r| r.id);
    let mut items = Vec::new();
    let mut rows = Vec::new();
    let (mut n_changed, mut n_unchanged, mut n_pinned) = (0, 0, 0);
    for d in devices {
        let (b, a, changed) = match d.pinned.first() {
            Some(p) => {
                n_pinned += 1;
                (
                    super::device::policy(false, Some(p)),
                    super::device::policy(false, Some(p)),
                    false,
                )
            }
            None => {
                if target_moves {
                    n_changed += 1;
                } else {
                    n_unchanged += 1;
                }
                (
                    super::device::policy(true, old),
                    super::device::policy(true, new),
                    target_moves,
                )
            }
        };
        let pin = d.pinned.first();
        rows.push(vec![
            d.uuid.clone(),
            d.device_name.clone().unwrap_or_else(|| "N/a".into()),
            device_state(pin, old),
            device_state(pin, new),
            if changed { "yes" } else { "no" }.to_owned(),
        ]);
        items.push(json!({
            "id": d.id,
            "uuid": d.uuid,
            "device_name": d.device_name,
            "before": b,
            "after": a,
            "changed": changed,
        }));
    }
    if ctx.json {
        output::json_pretty(&json!({
            "dry_run": true,
            "fleet": fleet_ref(c.app),
            "before": before,
            "after": after,
            "changed": c.changed,
            "devices": items,
            "counts": {"changed": n_changed, "unchanged": n_unchanged, "pinned": n_pinned},
        }));
    } else {
        let mut s = format!("{PLAN_HEADER}\n");
        s.push_str(&format!(
            "Fleet {}: {} -> {}{}\n",
            c.app.slug,
            describe(c.before.0, c.before.1),
            describe(c.after.0, c.after.1),
            if c.changed { "" } else { " (no change)" }
        ));
        if !rows.is_empty() {
            s.push('\n');
            s.push_str(&table::horizontal(
                &["UUID", "DEVICE NAME", "BEFORE", "AFTER", "CHANGED"],
                &rows,
            ));
            s.push('\n');
        }
        s.push_str(&format!(
            "{} would change, {} unchanged, {} unaffected.\n",
            plural(n_changed, "device", "devices"),
            n_unchanged,
            plural(n_pinned, "pinned device", "pinned devices"),
        ));
        output::stdout(&s);
    }
    output::note("Dry run: no change was sent.");
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
pub async fn track_latest(ctx: &Context, arg: &str, m: &MutationArgs) -> Result<()> {
    // Ordered by start_timestamp like the server's own auto-advance (the SDK uses
    // created_at): the release we point at is the one the server would pick next.
    let q = with_devices(
        Query::new()
            .select(APP_FIELDS)
            .expand("should_be_running__release", target_expand())
            .expand("owns__release", latest_expand()),
        m,
    );
    let (app, devices) = fleet_and_devices(find_fleet(ctx, arg, q).await?)?;
    let tracking = app.should_track_latest_release.unwrap_or(false);
    let current = app.target();
    let latest = app.releases.first();
    let new_target = latest.or(current);
    let changed = !tracking || latest.is_some_and(|l| current.map(|c| c.id) != Some(l.id));
    let now = match new_target {
        Some(r) => format!("currently {}", short(r)),
        None => "no release yet".to_owned(),
    };
    let body = match latest {
        Some(l) => {
            json!({"should_track_latest_release": true, "should_be_running__release": l.id})
        }
        None => json!({"should_track_latest_release": true}),
    };
    let change = FleetChange {
        app: &app,
        before: (tracking, current),
        after: (true, new_target),
        changed,
        body,
        done: format!("Fleet {} now tracks the latest release ({now}).", app.slug),
        noop: format!(
            "Fleet {} already tracks the latest release ({now}); nothing changed.",
            app.slug
        ),
    };
    apply(ctx, m, change, devices).await
}

/// The pinnable releases a rollback chooses from, newest first.
fn rollback_expand() -> Query {
    let mut fields: Vec<&str> = RELEASE_FIELDS.to_vec();
    fields.push("start_timestamp");
    Query::new()
        .select(&fields)
        .filter(trackable_filter())
        .orderby("start_timestamp desc,created_at desc,id desc")
}

/// `(start_timestamp, created_at, id)` of a release row: the rollback order.
fn order_key(v: &Value) -> (String, String, i64) {
    let s = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    (
        s("start_timestamp"),
        s("created_at"),
        v.get("id").and_then(|i| i.as_i64()).unwrap_or_default(),
    )
}

/// The release just before `target` among the pinnable `rows`, by [`order_key`].
fn release_before<'a>(target: &Value, rows: &'a [Value]) -> Option<&'a Value> {
    let t = order_key(target);
    rows.iter()
        .filter(|r| order_key(r) < t)
        .max_by(|a, b| order_key(a).cmp(&order_key(b)))
}

/// `balena fleet rollback <fleet>`: GET (fleet, its target and its pinnable releases) +
/// PATCH.
pub async fn rollback(ctx: &Context, arg: &str, m: &MutationArgs) -> Result<()> {
    let mut target_fields: Vec<&str> = SUMMARY_FIELDS.to_vec();
    target_fields.extend(["start_timestamp", "created_at"]);
    let q = with_devices(
        Query::new()
            .select(APP_FIELDS)
            .expand(
                "should_be_running__release",
                Query::new().select(&target_fields),
            )
            .expand("owns__release", rollback_expand()),
        m,
    );
    let v = find_fleet(ctx, arg, q).await?;
    let target_row = v.pointer("/should_be_running__release/0").cloned();
    let rows: Vec<Value> = v
        .get("owns__release")
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    let (app, devices) = fleet_and_devices(v)?;
    let (Some(target_row), Some(current)) = (target_row, app.target()) else {
        return Err(CliError::NoTarget {
            fleet: app.slug.clone(),
        }
        .into());
    };
    let Some(prev_row) = release_before(&target_row, &rows) else {
        return Err(CliError::NoEarlierRelease {
            current: short(current),
            fleet: app.slug.clone(),
        }
        .into());
    };
    let prev: Release = decode(prev_row.clone(), "/v7/application (owns__release)")?;
    let tracking = app.should_track_latest_release.unwrap_or(false);
    let change = FleetChange {
        app: &app,
        before: (tracking, Some(current)),
        after: (false, Some(&prev)),
        changed: true,
        body: json!({"should_be_running__release": prev.id, "should_track_latest_release": false}),
        done: format!(
            "Rolled back fleet {} from {} to {}.",
            app.slug,
            short(current),
            short(&prev)
        ),
        noop: String::new(),
    };
    apply(ctx, m, change, devices).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_picks_the_release_just_before() {
        let r = |id: i64, st: &str, ca: &str| json!({"id": id, "start_timestamp": st, "created_at": ca});
        let rows = vec![
            r(5, "2024-01-05T00:00:00.000Z", "2024-01-05T00:00:00.000Z"),
            r(4, "2024-01-04T00:00:00.000Z", "2024-01-04T00:00:00.000Z"),
            r(3, "2024-01-04T00:00:00.000Z", "2024-01-03T00:00:00.000Z"),
            r(2, "2024-01-04T00:00:00.000Z", "2024-01-03T00:00:00.000Z"),
            r(1, "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"),
        ];
        let id = |v: Option<&Value>| v.and_then(|v| v["id"].as_i64());
        assert_eq!(id(release_before(&rows[0], &rows)), Some(4));
        assert_eq!(id(release_before(&rows[1], &rows)), Some(3));
        assert_eq!(id(release_before(&rows[2], &rows)), Some(2));
        assert_eq!(id(release_before(&rows[3], &rows)), Some(1));
        assert_eq!(id(release_before(&rows[4], &rows)), None);
        // A target that is not pinnable (not among the rows) still has a predecessor.
        let t = r(9, "2024-01-04T12:00:00.000Z", "2024-01-04T12:00:00.000Z");
        assert_eq!(id(release_before(&t, &rows)), Some(4));
    }
}
