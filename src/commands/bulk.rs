//! `device pin` and `device track-fleet` over several devices: a comma-separated list, `-`
//! (uuids on stdin) or `--fleet F [--tag K[=V]]...`.
//!
//! On the wire:
//! - a list is resolved with filtered GETs: full uuids in one `uuid in (…)`, prefixes as an
//!   `or` of `startswith`, chunked so each URL stays under [`MAX_PATH`]; then the fleets of
//!   those devices in ONE `application?$filter=id in (…)` GET that also expands the release
//!   the argument names in each fleet;
//! - a `--fleet` selection is one fleet GET (with the release expanded) and one device GET
//!   per page of [`PAGE`] devices;
//! - the writes are `PATCH device?$filter=id in (…)` with `{"is_pinned_on__release":…}`,
//!   one per target release and chunk of ids (URL under [`MAX_PATH`]).
//!
//! Devices already in the requested state get no write. Unknown, ambiguous or inaccessible
//! devices, and fleets where the release does not resolve, are reported and left alone;
//! the rest proceed. Some failed and some succeeded: exit 9 ([`CliError::PartialFailure`]).

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;

use anyhow::Result;
use serde_json::{json, Value};

use super::device::policy;
use super::mutate::{
    device_state, error_json, finish_wait, plural, resolve_release, short_or_none, wait_if_asked,
    with_rollout, ReleaseSel, PLAN_HEADER,
};
use super::wait::WaitScope;
use super::{decode, find_fleet, usage, Context, DEVICE_TOP, SUMMARY_FIELDS};
use crate::api::models::{Application, Release};
use crate::api::odata::{self, Filter, Lit, Query};
use crate::cli::{DeviceSelection, MutationArgs};
use crate::error::CliError;
use crate::output::{self, table};
use crate::resolve;

/// The longest `/v7/…` path (with its query) of one request, so URLs stay under ~6 KB.
pub const MAX_PATH: usize = 5_800;
/// At most this many `startswith` terms in one `or` (servers bound the filter's depth).
pub const MAX_PREFIXES: usize = 40;
/// Devices per page of a `--fleet` selection.
pub const PAGE: u32 = 1_000;

const FLEET_FIELDS: &[&str] = &["id", "app_name", "slug", "should_track_latest_release"];

/// How the command line names the devices.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selection {
    /// One uuid or prefix: the single-device commands, unchanged.
    One(String),
    /// Several uuids or prefixes (a comma-separated list, or stdin).
    List(Vec<String>),
    /// `--fleet F [--tag K[=V]]...`
    Fleet { fleet: String, tags: Vec<String> },
}

impl Selection {
    /// From the positional device argument and the selection flags. `-` reads stdin.
    pub(crate) fn from_args(device: Option<&str>, sel: &DeviceSelection) -> Result<Selection> {
        if let Some(f) = &sel.fleet {
            for t in &sel.tags {
                if resolve::tag_filter(t).is_none() {
                    return Err(usage(
                        &format!("invalid --tag {t:?}: the key must not be empty"),
                        "--tag KEY or --tag KEY=VALUE",
                    ));
                }
            }
            return Ok(Selection::Fleet {
                fleet: f.clone(),
                tags: sel.tags.clone(),
            });
        }
        let Some(d) = device else {
            return Err(usage(
                "a device is required (a uuid, a comma-separated list, `-`, or --fleet)",
                "balena device pin <uuid>[,<uuid>...] <release>",
            ));
        };
        if d.trim() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| anyhow::anyhow!("cannot read the device uuids from stdin: {e}"))?;
            let list = resolve::device_lines(&text);
            if list.is_empty() {
                return Err(usage(
                    "no device uuid on stdin (one per line; blank lines and # comments are ignored)",
                    "balena device pin - <release> < uuids.txt",
                ));
            }
            return Ok(Selection::List(list));
        }
        if d.contains(',') {
            let list = resolve::device_list(d);
            if list.is_empty() {
                return Err(usage(
                    "the device list is empty",
                    "balena device pin <uuid>,<uuid> <release>",
                ));
            }
            return Ok(Selection::List(list));
        }
        Ok(Selection::One(d.to_owned()))
    }
}

/// What to do to every selected device.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op<'a> {
    Pin(ReleaseSel<'a>),
    TrackFleet,
}

/// A device as the bulk GETs read it.
#[derive(Debug, Clone)]
struct Dev {
    id: i64,
    uuid: String,
    device_name: Option<String>,
    fleet_id: Option<i64>,
    pinned: Option<Release>,
}

fn nav_id(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::Object(o) => o
            .get("__id")
            .or_else(|| o.get("id"))
            .and_then(|i| i.as_i64()),
        Value::Array(a) => a.first().and_then(|x| x.get("id")).and_then(|i| i.as_i64()),
        _ => None,
    }
}

fn dev_from(v: &Value) -> Option<Dev> {
    let pinned = match v.get("is_pinned_on__release") {
        Some(Value::Array(a)) => match a.first() {
            Some(r) => Some(decode::<Release>(r.clone(), "/v7/device").ok()?),
            None => None,
        },
        _ => None,
    };
    Some(Dev {
        id: v.get("id")?.as_i64()?,
        uuid: v.get("uuid")?.as_str()?.to_owned(),
        device_name: v
            .get("device_name")
            .and_then(|n| n.as_str())
            .map(str::to_owned),
        fleet_id: nav_id(v.get("belongs_to__application")),
        pinned,
    })
}

/// `$select`/`$expand` of every device GET here.
fn device_query(with_fleet: bool) -> Query {
    let fields: &[&str] = if with_fleet {
        &["id", "uuid", "device_name", "belongs_to__application"]
    } else {
        &["id", "uuid", "device_name"]
    };
    Query::new()
        .select(fields)
        .expand("is_pinned_on__release", Query::new().select(SUMMARY_FIELDS))
}

/// One line of the result.
struct Item {
    /// The argument that named the device (list input only).
    input: Option<String>,
    dev: Option<Dev>,
    fleet: Option<String>,
    before: Value,
    after: Value,
    changed: bool,
    /// What the device's pin becomes (for the PATCH grouping): `Some(None)` = unpinned.
    write: Option<Option<i64>>,
    error: Option<Value>,
    /// Human line for a failure.
    failure: Option<String>,
}

impl Item {
    fn failed(
        input: Option<String>,
        dev: Option<Dev>,
        fleet: Option<String>,
        e: &anyhow::Error,
    ) -> Item {
        let who = dev
            .as_ref()
            .map(|d| d.uuid.clone())
            .or_else(|| input.clone())
            .unwrap_or_default();
        Item {
            input,
            dev,
            fleet,
            before: Value::Null,
            after: Value::Null,
            changed: false,
            write: None,
            error: Some(error_json(e)),
            failure: Some(format!(
                "device {who}: {}",
                crate::error::classify(e).message
            )),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "input": self.input,
            "device": self.dev.as_ref().map(|d| json!({
                "id": d.id, "uuid": d.uuid, "device_name": d.device_name, "fleet": self.fleet,
            })),
            "fleet": self.fleet,
            "before": self.before,
            "after": self.after,
            "changed": self.changed,
            "error": self.error,
        })
    }
}

/// Runs `op` over the devices `selection` names (not [`Selection::One`]).
pub(crate) async fn run(
    ctx: &Context,
    selection: Selection,
    op: Op<'_>,
    m: &MutationArgs,
) -> Result<()> {
    ctx.api.require_token()?;
    let mut first_error: Option<anyhow::Error> = None;
    // The first failure came from a fleet's release: its error is in `fleet_errors`.
    let mut first_fleet_error: Option<i64> = None;
    let mut fleet_errors: HashMap<i64, anyhow::Error> = HashMap::new();
    let mut items: Vec<Item> = Vec::new();
    let mut fleets: HashMap<i64, Application> = HashMap::new();
    let mut releases: HashMap<i64, Release> = HashMap::new();
    match &selection {
        Selection::One(_) => unreachable!("single devices use the single-device commands"),
        Selection::Fleet { fleet, tags } => {
            let mut q = Query::new().select(FLEET_FIELDS).expand(
                "should_be_running__release",
                Query::new().select(SUMMARY_FIELDS),
            );
            if let Op::Pin(sel) = op {
                q = q.expand("owns__release", sel.expand());
            }
            let app: Application = decode(find_fleet(ctx, fleet, q).await?, "/v7/application")?;
            if let Op::Pin(sel) = op {
                let rel = resolve_release(ctx, sel, &app).await?;
                releases.insert(app.id, rel);
            }
            let devs = fleet_devices(ctx, app.id, tags).await?;
            if devs.is_empty() {
                return Err(CliError::NoDevicesSelected {
                    what: describe_selection(&app.slug, tags),
                }
                .into());
            }
            for d in devs {
                items.push(plan_item(None, d, &app, releases.get(&app.id), op));
            }
            fleets.insert(app.id, app);
        }
        Selection::List(args) => {
            let resolved = resolve_list(ctx, args).await?;
            let fleet_ids: Vec<i64> = {
                let mut v: Vec<i64> = resolved
                    .iter()
                    .filter_map(|(_, r)| r.as_ref().ok().and_then(|d| d.fleet_id))
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            for app in fetch_fleets(ctx, &fleet_ids, op).await? {
                fleets.insert(app.id, app);
            }
            if let Op::Pin(sel) = op {
                for id in &fleet_ids {
                    if let Some(app) = fleets.get(id) {
                        match resolve_release(ctx, sel, app).await {
                            Ok(r) => {
                                releases.insert(*id, r);
                            }
                            Err(e) => {
                                fleet_errors.insert(*id, e);
                            }
                        }
                    }
                }
            }
            for (arg, r) in resolved {
                let dev = match r {
                    Ok(d) => d,
                    Err(e) => {
                        items.push(Item::failed(Some(arg), None, None, &e));
                        if first_fleet_error.is_none() {
                            first_error.get_or_insert(e);
                        }
                        continue;
                    }
                };
                let Some(app) = dev.fleet_id.and_then(|f| fleets.get(&f)) else {
                    let e = anyhow::anyhow!("the device's fleet is not accessible");
                    items.push(Item::failed(Some(arg), Some(dev), None, &e));
                    if first_fleet_error.is_none() {
                        first_error.get_or_insert(e);
                    }
                    continue;
                };
                if let Some(e) = fleet_errors.get(&app.id) {
                    items.push(Item::failed(
                        Some(arg),
                        Some(dev),
                        Some(app.slug.clone()),
                        e,
                    ));
                    if first_error.is_none() && first_fleet_error.is_none() {
                        first_fleet_error = Some(app.id);
                    }
                    continue;
                }
                items.push(plan_item(Some(arg), dev, app, releases.get(&app.id), op));
            }
        }
    }

    if !m.dry_run {
        write(ctx, &mut items, &mut first_error).await;
    }
    let ok_ids: Vec<i64> = items
        .iter()
        .filter(|i| i.error.is_none())
        .filter_map(|i| i.dev.as_ref().map(|d| d.id))
        .collect();
    let counts = Counts::of(&items);
    report(ctx, &items, &fleets, &releases, op, m, counts);

    let waited = if counts.ok() > 0 {
        wait_if_asked(ctx, m, WaitScope::Devices(ok_ids)).await?
    } else {
        None
    };
    if ctx.json {
        let mut doc = json!({
            "results": items.iter().map(Item::to_json).collect::<Vec<_>>(),
            "counts": {"changed": counts.changed, "unchanged": counts.unchanged, "failed": counts.failed},
        });
        if m.dry_run {
            doc["dry_run"] = Value::Bool(true);
        }
        output::json_pretty(&with_rollout(doc, waited.as_ref()));
    }
    if counts.failed > 0 {
        if counts.ok() == 0 {
            let fleet_error = first_fleet_error.and_then(|id| fleet_errors.remove(&id));
            return Err(first_error
                .or(fleet_error)
                .unwrap_or_else(|| anyhow::anyhow!("every device failed")));
        }
        return Err(CliError::PartialFailure {
            failed: counts.failed,
            total: items.len(),
            what: "devices".into(),
        }
        .into());
    }
    finish_wait(waited)
}

fn describe_selection(slug: &str, tags: &[String]) -> String {
    if tags.is_empty() {
        format!("fleet {slug} has no device")
    } else {
        format!(
            "no device of fleet {slug} has the tag(s) {}",
            tags.join(", ")
        )
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    changed: usize,
    unchanged: usize,
    failed: usize,
}

impl Counts {
    fn of(items: &[Item]) -> Counts {
        let mut c = Counts::default();
        for i in items {
            if i.error.is_some() {
                c.failed += 1;
            } else if i.changed {
                c.changed += 1;
            } else {
                c.unchanged += 1;
            }
        }
        c
    }
    fn ok(&self) -> usize {
        self.changed + self.unchanged
    }
}

/// The before/after of one device.
fn plan_item(
    input: Option<String>,
    dev: Dev,
    app: &Application,
    rel: Option<&Release>,
    op: Op<'_>,
) -> Item {
    let pinned = dev.pinned.as_ref();
    let before = match pinned {
        Some(p) => policy(false, Some(p)),
        None => policy(true, app.target()),
    };
    let (after, changed, write) = match op {
        Op::Pin(_) => {
            let rel = rel.expect("resolved for every fleet that did not fail");
            (
                policy(false, Some(rel)),
                pinned.map(|p| p.id) != Some(rel.id),
                Some(rel.id),
            )
        }
        Op::TrackFleet => (policy(true, app.target()), pinned.is_some(), None),
    };
    Item {
        input,
        dev: Some(dev),
        fleet: Some(app.slug.clone()),
        before,
        after,
        changed,
        write: if changed { Some(write) } else { None },
        error: None,
        failure: None,
    }
}

/// The `id in (…)` filters of `ids`, each path (`resource?…$filter=…` + `extra`) at most
/// [`MAX_PATH`] long.
pub fn id_chunks(resource: &str, base: &Query, ids: &[i64], extra: usize) -> Vec<Vec<i64>> {
    let empty = odata::path(
        resource,
        &base.clone().filter(Filter::In("id".into(), vec![])),
    );
    let fixed = empty.len() + extra;
    let mut out: Vec<Vec<i64>> = Vec::new();
    let mut cur: Vec<i64> = Vec::new();
    let mut len = fixed;
    for &id in ids {
        let add = id.to_string().len() + usize::from(!cur.is_empty());
        if !cur.is_empty() && len + add > MAX_PATH {
            out.push(std::mem::take(&mut cur));
            len = fixed;
        }
        len += id.to_string().len() + usize::from(!cur.is_empty());
        cur.push(id);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn id_filter(ids: &[i64]) -> Filter {
    Filter::In("id".into(), ids.iter().map(|i| Lit::Int(*i)).collect())
}

/// The PATCHes: one per target and chunk of ids. A failed chunk fails its devices.
async fn write(ctx: &Context, items: &mut [Item], first_error: &mut Option<anyhow::Error>) {
    let mut groups: BTreeMap<Option<i64>, Vec<i64>> = BTreeMap::new();
    for i in items.iter() {
        if let (Some(w), Some(d)) = (i.write, &i.dev) {
            groups.entry(w).or_default().push(d.id);
        }
    }
    let mut failed: HashMap<i64, Value> = HashMap::new();
    let mut messages: HashMap<i64, String> = HashMap::new();
    for (target, mut ids) in groups {
        ids.sort_unstable();
        ids.dedup();
        for chunk in id_chunks("device", &Query::new(), &ids, 0) {
            let path = odata::path("device", &Query::new().filter(id_filter(&chunk)));
            let body = json!({"is_pinned_on__release": target});
            if let Err(e) = ctx.api.patch(&path, &body).await {
                let e: anyhow::Error = e.into();
                let j = error_json(&e);
                let msg = crate::error::classify(&e).message;
                for id in &chunk {
                    failed.insert(*id, j.clone());
                    messages.insert(*id, msg.clone());
                }
                first_error.get_or_insert(e);
            }
        }
    }
    if failed.is_empty() {
        return;
    }
    for i in items.iter_mut() {
        let Some(d) = &i.dev else { continue };
        if let Some(j) = failed.remove(&d.id) {
            i.failure = Some(format!(
                "device {}: {}",
                d.uuid,
                messages.remove(&d.id).unwrap_or_default()
            ));
            i.error = Some(j);
            i.changed = false;
            i.after = i.before.clone();
        }
    }
}

/// The devices of fleet `id` (with `tags`), a page of [`PAGE`] per GET.
async fn fleet_devices(ctx: &Context, id: i64, tags: &[String]) -> Result<Vec<Dev>> {
    let mut parts = vec![Filter::eq("belongs_to__application", id)];
    parts.extend(tags.iter().filter_map(|t| resolve::tag_filter(t)));
    let q = device_query(false)
        .filter(Filter::And(parts))
        .orderby("id asc")
        .top(PAGE);
    let base = odata::path("device", &q);
    let mut out = Vec::new();
    let mut skip: u64 = 0;
    loop {
        let path = if skip == 0 {
            base.clone()
        } else {
            format!("{base}&$skip={skip}")
        };
        let rows = ctx.api.get_rows(&path).await?;
        let n = rows.len();
        out.extend(rows.iter().filter_map(dev_from).map(|mut d| {
            d.fleet_id = Some(id);
            d
        }));
        if n < PAGE as usize {
            break;
        }
        skip += n as u64;
    }
    Ok(out)
}

/// The fleets `ids`, with their target and (to pin) the release the argument names.
async fn fetch_fleets(ctx: &Context, ids: &[i64], op: Op<'_>) -> Result<Vec<Application>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::new().select(FLEET_FIELDS).expand(
        "should_be_running__release",
        Query::new().select(SUMMARY_FIELDS),
    );
    if let Op::Pin(sel) = op {
        q = q.expand("owns__release", sel.expand());
    }
    let mut out = Vec::new();
    for chunk in id_chunks("application", &q, ids, 0) {
        let path = odata::path("application", &q.clone().filter(id_filter(&chunk)));
        out.extend(ctx.api.get_typed::<Application>(&path).await?);
    }
    Ok(out)
}

/// How an argument of the list is looked up.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// A full uuid: `uuid in (…)`.
    Exact,
    /// `startswith(uuid, …)`
    Prefix,
}

/// The filter and `$top` of a chunk of arguments.
fn list_query(chunk: &[(String, Mode)]) -> Query {
    let exact: Vec<Lit> = chunk
        .iter()
        .filter(|(_, m)| *m == Mode::Exact)
        .map(|(a, _)| Lit::Str(a.clone()))
        .collect();
    let n_exact = exact.len();
    let mut parts = Vec::new();
    if !exact.is_empty() {
        parts.push(Filter::In("uuid".into(), exact));
    }
    let mut n_prefix = 0;
    for (a, m) in chunk {
        if *m == Mode::Prefix {
            parts.push(Filter::starts_with("uuid", a));
            n_prefix += 1;
        }
    }
    device_query(true)
        .filter(Filter::Or(parts))
        // One more row than the chunk can legitimately match: a full page means truncated.
        .top((n_exact + n_prefix * DEVICE_TOP as usize + 1) as u32)
}

/// Splits the arguments into chunks whose GET path stays under [`MAX_PATH`], with at most
/// [`MAX_PREFIXES`] prefixes each.
fn list_chunks(args: &[(String, Mode)]) -> Vec<Vec<(String, Mode)>> {
    let mut out: Vec<Vec<(String, Mode)>> = Vec::new();
    let mut cur: Vec<(String, Mode)> = Vec::new();
    for a in args {
        cur.push(a.clone());
        let prefixes = cur.iter().filter(|(_, m)| *m == Mode::Prefix).count();
        let too_long = odata::path("device", &list_query(&cur)).len() > MAX_PATH;
        if cur.len() > 1 && (too_long || prefixes > MAX_PREFIXES) {
            let last = cur.pop().expect("just pushed");
            out.push(std::mem::take(&mut cur));
            cur.push(last);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Resolves every argument of the list to a device (or the reason it does not resolve), in
/// the order given.
async fn resolve_list(ctx: &Context, args: &[String]) -> Result<Vec<(String, Result<Dev>)>> {
    let mut queue: Vec<Vec<(String, Mode)>> = list_chunks(
        &args
            .iter()
            .map(|a| {
                let mode = if resolve::is_full_uuid(a) {
                    Mode::Exact
                } else {
                    Mode::Prefix
                };
                (a.clone(), mode)
            })
            .collect::<Vec<_>>(),
    );
    queue.reverse();
    let mut found: HashMap<String, Result<Dev>> = HashMap::new();
    let mut retry: Vec<(String, Mode)> = Vec::new();
    let mut any_row = false;
    while let Some(chunk) = queue.pop() {
        let q = list_query(&chunk);
        let top = q.top.unwrap_or(0) as usize;
        let rows = ctx.api.get_rows(&odata::path("device", &q)).await?;
        any_row |= !rows.is_empty();
        if rows.len() >= top && chunk.len() > 1 {
            // Truncated: some prefix matched many devices. Look each one up alone.
            for a in chunk.into_iter().rev() {
                queue.push(vec![a]);
            }
            continue;
        }
        let devs: Vec<Dev> = rows.iter().filter_map(dev_from).collect();
        for (arg, mode) in chunk {
            let matches: Vec<&Dev> = match mode {
                Mode::Exact => devs.iter().filter(|d| d.uuid == arg).collect(),
                Mode::Prefix => {
                    let exact: Vec<&Dev> = devs.iter().filter(|d| d.uuid == arg).collect();
                    if exact.len() == 1 {
                        exact
                    } else {
                        devs.iter().filter(|d| d.uuid.starts_with(&arg)).collect()
                    }
                }
            };
            let r: Result<Dev> = match matches.len() {
                1 => Ok(matches[0].clone()),
                0 if mode == Mode::Exact && arg.len() == 32 => {
                    // Could be the prefix of a 62-character uuid.
                    retry.push((arg, Mode::Prefix));
                    continue;
                }
                0 => Err(CliError::DeviceNotFound(arg.clone()).into()),
                _ => Err(CliError::DeviceAmbiguous {
                    arg: arg.clone(),
                    candidates: matches
                        .iter()
                        .map(|d| {
                            format!("{} {}", d.uuid, d.device_name.as_deref().unwrap_or("N/a"))
                        })
                        .collect(),
                }
                .into()),
            };
            found.insert(arg, r);
        }
        if queue.is_empty() && !retry.is_empty() {
            queue = list_chunks(&std::mem::take(&mut retry));
            queue.reverse();
        }
    }
    if !any_row {
        // The guest trap: an unknown token reads as a guest with no devices.
        ctx.api.confirm_session().await?;
    }
    Ok(args
        .iter()
        .map(|a| {
            let r = found
                .remove(a)
                .unwrap_or_else(|| Err(CliError::DeviceNotFound(a.clone()).into()));
            (a.clone(), r)
        })
        .collect())
}

/// Human output: the plan on stdout (`--dry-run`), or the confirmations on stderr.
fn report(
    ctx: &Context,
    items: &[Item],
    fleets: &HashMap<i64, Application>,
    releases: &HashMap<i64, Release>,
    op: Op<'_>,
    m: &MutationArgs,
    counts: Counts,
) {
    if ctx.json {
        // The failures are in the results; stderr keeps its one JSON error object.
        return;
    }
    for i in items {
        if let Some(f) = &i.failure {
            output::note(&format!("error: {f}"));
        }
    }
    if m.dry_run {
        let rows: Vec<Vec<String>> = items
            .iter()
            .filter(|i| i.error.is_none())
            .filter_map(|i| {
                let d = i.dev.as_ref()?;
                let app = d.fleet_id.and_then(|f| fleets.get(&f));
                let target = app.and_then(|a| a.target());
                let after = match op {
                    Op::Pin(_) => device_state(d.fleet_id.and_then(|f| releases.get(&f)), None),
                    Op::TrackFleet => device_state(None, target),
                };
                Some(vec![
                    d.uuid.clone(),
                    d.device_name.clone().unwrap_or_else(|| "N/a".into()),
                    i.fleet.clone().unwrap_or_else(|| "N/a".into()),
                    device_state(d.pinned.as_ref(), target),
                    after,
                    if i.changed { "yes" } else { "no" }.to_owned(),
                ])
            })
            .collect();
        let mut s = format!("{PLAN_HEADER}\n");
        if !rows.is_empty() {
            s.push('\n');
            s.push_str(&table::horizontal(
                &["UUID", "DEVICE NAME", "FLEET", "BEFORE", "AFTER", "CHANGED"],
                &rows,
            ));
            s.push('\n');
        }
        s.push_str(&format!(
            "{} would change, {} unchanged, {} failed.\n",
            plural(counts.changed, "device", "devices"),
            counts.unchanged,
            counts.failed
        ));
        output::stdout(&s);
        output::note("Dry run: no change was sent.");
        return;
    }
    // One line per fleet.
    let mut per_fleet: BTreeMap<String, (usize, usize, Option<i64>)> = BTreeMap::new();
    for i in items.iter().filter(|i| i.error.is_none()) {
        let Some(d) = &i.dev else { continue };
        let e = per_fleet
            .entry(i.fleet.clone().unwrap_or_default())
            .or_insert((0, 0, d.fleet_id));
        if i.changed {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for (slug, (changed, unchanged, fid)) in &per_fleet {
        let app = fid.and_then(|f| fleets.get(&f));
        let line = match op {
            Op::Pin(_) => {
                let rel = fid.and_then(|f| releases.get(&f));
                format!(
                    "Fleet {slug}: pinned {} to release {}{}.",
                    plural(*changed, "device", "devices"),
                    short_or_none(rel),
                    if *unchanged > 0 {
                        format!("; {unchanged} already pinned to it")
                    } else {
                        String::new()
                    }
                )
            }
            Op::TrackFleet => format!(
                "Fleet {slug}: {} now {} the fleet (currently {}){}.",
                plural(*changed, "device", "devices"),
                if *changed == 1 { "tracks" } else { "track" },
                short_or_none(app.and_then(|a| a.target())),
                if *unchanged > 0 {
                    format!("; {unchanged} already did")
                } else {
                    String::new()
                }
            ),
        };
        output::note(&line);
    }
    if counts.failed > 0 || per_fleet.len() > 1 {
        output::note(&format!(
            "{} changed, {} unchanged, {} failed.",
            counts.changed, counts.unchanged, counts.failed
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_chunks_keep_urls_short() {
        let ids: Vec<i64> = (100_000..110_000).collect();
        let chunks = id_chunks("device", &Query::new(), &ids, 0);
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), ids.len());
        for c in &chunks {
            let p = odata::path("device", &Query::new().filter(id_filter(c)));
            assert!(p.len() <= MAX_PATH, "{}", p.len());
        }
        // ~6 KB of 6-digit ids: ~800 per chunk.
        assert!(chunks.len() <= 13, "{}", chunks.len());
        assert_eq!(
            odata::path("device", &Query::new().filter(id_filter(&[1, 2, 3]))),
            "device?$filter=id%20in%20(1,2,3)"
        );
    }

    #[test]
    fn list_queries_mix_exact_and_prefixes() {
        let full = "abcdef0123456789abcdef0123456789".to_owned();
        let chunk = vec![
            (full.clone(), Mode::Exact),
            ("d0c0".to_owned(), Mode::Prefix),
            ("1234".to_owned(), Mode::Prefix),
        ];
        assert_eq!(
            odata::path("device", &list_query(&chunk)),
            format!("device?$select=id,uuid,device_name,belongs_to__application&$filter=(uuid%20in%20(%27{full}%27))%20or%20(startswith(uuid,%27d0c0%27))%20or%20(startswith(uuid,%271234%27))&$expand=is_pinned_on__release($select=id,commit,raw_version)&$top=22")
        );
        let many: Vec<(String, Mode)> = (0..500)
            .map(|i| (format!("{i:032x}"), Mode::Exact))
            .chain((0..100).map(|i| (format!("{i:04x}"), Mode::Prefix)))
            .collect();
        let chunks = list_chunks(&many);
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 600);
        for c in &chunks {
            assert!(odata::path("device", &list_query(c)).len() <= MAX_PATH);
            assert!(c.iter().filter(|(_, m)| *m == Mode::Prefix).count() <= MAX_PREFIXES);
        }
    }

    #[test]
    fn selection_forms() {
        let none = DeviceSelection::default();
        assert_eq!(
            Selection::from_args(Some("abc"), &none).unwrap(),
            Selection::One("abc".into())
        );
        assert_eq!(
            Selection::from_args(Some("abc,DEF"), &none).unwrap(),
            Selection::List(vec!["abc".into(), "def".into()])
        );
        let f = DeviceSelection {
            fleet: Some("o/f".into()),
            tags: vec!["k=v".into()],
        };
        assert_eq!(
            Selection::from_args(None, &f).unwrap(),
            Selection::Fleet {
                fleet: "o/f".into(),
                tags: vec!["k=v".into()]
            }
        );
        let bad = DeviceSelection {
            fleet: Some("o/f".into()),
            tags: vec!["=v".into()],
        };
        assert!(Selection::from_args(None, &bad).is_err());
    }
}
