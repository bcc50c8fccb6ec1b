//! `device pin` and `device track-fleet` over several devices: a comma-separated list, `-`
//! (uuids on stdin) or `--fleet F [--tag K[=V]]...`.
//!
//! On the wire:
//! - a list is resolved with filtered GETs: full uuids in one `uuid in (…)`, prefixes as an
//!   `or` of `startswith`, chunked so each URL stays within [`MAX_PATH`]; then the fleets of
//!   those devices in ONE `application?$filter=id in (…)` GET that also expands the release
//!   the argument names in each fleet;
//! - a `--fleet` selection is one fleet GET (with the release expanded) and one device GET
//!   per page of [`PAGE`] devices;
//! - the writes are `PATCH device?$filter=…`, one per target release, planned-from pin and
//!   chunk of at most [`WRITE_IDS`] ids, the ids named as ranges of consecutive ids and a
//!   list of the others (see [`balena_api::chunk::set_chunks`]).
//!
//! Devices already in the requested state get no write. Unknown, ambiguous or inaccessible
//! devices, and fleets where the release does not resolve, are reported and left alone;
//! the rest proceed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use balena_api::chunk::{id_chunks, set_chunks, MAX_PATH};
use balena_api::lookup::{is_full_uuid, DEVICE_TOP};
use balena_api::models::{Application, Device, Release};
use balena_api::odata::{self, Filter, Lit, Query};
use balena_api::patch::DevicePatch;
use balena_api::Client;

use super::{find, interrupt};
use crate::error::Error;
use crate::policy::plan::{self, BulkDevice, BulkItem, DeviceAction, SharedReleases};
use crate::policy::release::{self as rel_rules, Caveat, SUMMARY_FIELDS};
use crate::policy::select::{tag_filter, Selection};
use crate::policy::ReleaseSelector;

/// At most this many `startswith` terms in one `or` (servers bound the filter's depth).
pub const MAX_PREFIXES: usize = 40;
/// Devices per page of a `--fleet` selection.
pub const PAGE: u32 = 1_000;

const FLEET_FIELDS: &[&str] = &["id", "app_name", "slug", "should_track_latest_release"];

/// What to do to every selected device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkOp {
    Pin(ReleaseSelector),
    TrackFleet,
}

/// What a bulk run did (or, with `dry_run`, would do).
#[derive(Debug, Clone)]
pub struct BulkOutcome {
    pub items: Vec<BulkItem>,
    /// The caveats of the releases pinned.
    pub caveats: Vec<Caveat>,
    /// `--fleet F` (without `--tag`) named a fleet without devices: the slug. Nothing to
    /// do, and not an error (every device of the fleet is, vacuously, as asked).
    pub empty_fleet: Option<String>,
    /// The fleet of a `--fleet` selection.
    pub fleet_id: Option<i64>,
}

impl BulkOutcome {
    /// The devices that did not fail, each with the pin it has now (`None`: it follows
    /// its fleet).
    pub fn ok_pins(&self) -> Vec<(i64, Option<i64>)> {
        self.items
            .iter()
            .filter(|i| i.error.is_none())
            .filter_map(|i| {
                let d = i.device.as_ref()?;
                let pin = match &i.plan.as_ref()?.change.after {
                    crate::policy::DevicePolicy::Pinned(r) => Some(r.id),
                    crate::policy::DevicePolicy::TracksFleet(_) => None,
                };
                Some((d.id, pin))
            })
            .collect()
    }
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

/// The fleet query of a bulk run: its target, and the release `op` names.
fn fleet_query(op: &BulkOp) -> Query {
    let q = Query::new().select(FLEET_FIELDS).expand(
        "should_be_running__release",
        Query::new().select(SUMMARY_FIELDS),
    );
    match op {
        BulkOp::Pin(sel) => q.expand("owns__release", rel_rules::expansion(sel)),
        BulkOp::TrackFleet => q,
    }
}

/// The release `op` pins to in `app`, if it pins.
async fn release_of(
    api: &Client,
    op: &BulkOp,
    app: &Application,
    caveats: &mut Vec<Caveat>,
) -> Result<Option<Release>, Error> {
    match op {
        BulkOp::Pin(sel) => {
            let (r, c) = find::release_in_fleet(api, sel, app).await?;
            caveats.extend(c);
            Ok(Some(r))
        }
        BulkOp::TrackFleet => Ok(None),
    }
}

fn action_of(release: Option<Release>) -> DeviceAction {
    match release {
        Some(r) => DeviceAction::Pin(Arc::new(r)),
        None => DeviceAction::TrackFleet,
    }
}

/// The item of `dev`, a device of `app` (whose slug is `slug`), planned: only what the
/// report needs is kept, its releases shared.
fn planned(
    input: Option<String>,
    dev: &Device,
    app: &Application,
    slug: &Arc<str>,
    action: &DeviceAction,
    releases: &mut SharedReleases,
) -> BulkItem {
    let plan = releases.share(plan::device(dev, Some(app), action));
    BulkItem {
        input,
        fleet: Some(slug.clone()),
        device: Some(BulkDevice::of(dev)),
        plan: Some(plan),
        error: None,
    }
}

/// Runs `op` over the devices `selection` names (not [`Selection::One`]); with `dry_run`,
/// only plans.
pub async fn run(
    api: &Client,
    selection: &Selection,
    op: &BulkOp,
    dry_run: bool,
) -> Result<BulkOutcome, Error> {
    api.require_token()?;
    let mut caveats = Vec::new();
    let mut items: Vec<BulkItem> = Vec::new();
    let mut releases = SharedReleases::default();
    let mut fleet_id = None;
    match selection {
        Selection::One(_) => {
            return Err(Error::Incomplete {
                detail: "a single device goes through the single-device commands".into(),
            })
        }
        Selection::Fleet { fleet, tags } => {
            let app: Application = find::fleet(api, fleet, fleet_query(op)).await?;
            let action = action_of(release_of(api, op, &app, &mut caveats).await?);
            let slug: Arc<str> = app.slug.as_str().into();
            fleet_run(api, app.id, tags, !dry_run, &slug, &mut items, |d| {
                planned(None, d, &app, &slug, &action, &mut releases)
            })
            .await?;
            if items.is_empty() && tags.is_empty() {
                return Ok(BulkOutcome {
                    items,
                    caveats,
                    empty_fleet: Some(app.slug),
                    fleet_id: Some(app.id),
                });
            }
            if items.is_empty() {
                return Err(Error::NoDevicesSelected {
                    what: describe_selection(&app.slug, tags),
                });
            }
            fleet_id = Some(app.id);
        }
        Selection::List(args) => {
            let resolved = resolve_list(api, args).await?;
            let mut fleet_ids: Vec<i64> = resolved
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok().and_then(|d| d.fleet.id()))
                .collect();
            fleet_ids.sort_unstable();
            fleet_ids.dedup();
            let fleets: HashMap<i64, (Application, Arc<str>)> = fetch_fleets(api, &fleet_ids, op)
                .await?
                .into_iter()
                .map(|a| {
                    let slug: Arc<str> = a.slug.as_str().into();
                    (a.id, (a, slug))
                })
                .collect();
            let mut actions: HashMap<i64, Result<DeviceAction, Error>> = HashMap::new();
            for id in &fleet_ids {
                if let Some((app, _)) = fleets.get(id) {
                    let a = release_of(api, op, app, &mut caveats).await.map(action_of);
                    actions.insert(*id, a);
                }
            }
            for (arg, r) in resolved {
                let dev = match r {
                    Ok(d) => d,
                    Err(e) => {
                        items.push(BulkItem::failed(Some(arg), None, None, e));
                        continue;
                    }
                };
                let Some((app, slug)) = dev.fleet.id().and_then(|f| fleets.get(&f)) else {
                    items.push(BulkItem::failed(
                        Some(arg),
                        Some(BulkDevice::of(&dev)),
                        None,
                        Error::FleetNotAccessible,
                    ));
                    continue;
                };
                match &actions[&app.id] {
                    Ok(action) => {
                        items.push(planned(Some(arg), &dev, app, slug, action, &mut releases))
                    }
                    Err(e) => items.push(BulkItem::failed(
                        Some(arg),
                        Some(BulkDevice::of(&dev)),
                        Some(slug.clone()),
                        e.clone(),
                    )),
                }
            }
            plan::merge_duplicates(&mut items);
        }
    }
    if !dry_run && fleet_id.is_none() {
        // A --fleet selection was written while it was read (see fleet_run).
        write(api, &mut items).await;
    }
    Ok(BulkOutcome {
        items,
        caveats,
        empty_fleet: None,
        fleet_id,
    })
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

/// Bulk writes in flight at once.
pub const IN_FLIGHT: usize = 3;
/// The most devices one bulk write names (fewer when their ids do not fit in a URL).
pub const WRITE_IDS: usize = 4_000;

/// Devices of one write: `(id, uuid)`.
type Targets = Vec<(i64, Box<str>)>;
/// What a write sets, and the pin its devices had when planned.
type WriteKey = (DevicePatch, Option<i64>);

/// The writes not sent yet, cut into chunks as the planned devices come: one chunk per
/// target, planned-from pin and up to [`WRITE_IDS`] ids (fewer when they do not fit in a
/// URL), each sorted by id.
#[derive(Default)]
struct Chunker {
    pending: BTreeMap<WriteKey, Targets>,
    ready: VecDeque<(WriteKey, Targets)>,
}

impl Chunker {
    /// Queues the write `item` plans, if any; a group of [`WRITE_IDS`] devices or more is
    /// cut into chunks at once (all but a last partial one).
    fn add(&mut self, item: &BulkItem) {
        if let (Some(patch), Some(d)) = (item.plan.as_ref().and_then(|p| p.patch), &item.device) {
            let key = (patch, d.pinned);
            let group = self.pending.entry(key).or_default();
            group.push((d.id, d.uuid.clone()));
            if group.len() >= WRITE_IDS {
                self.cut(key, true);
            }
        }
    }

    /// Cuts every group into chunks.
    fn finish(&mut self) {
        let keys: Vec<WriteKey> = self.pending.keys().copied().collect();
        for k in keys {
            self.cut(k, false);
        }
    }

    /// The group `key` into ready chunks; with `keep_partial`, a last chunk shorter than
    /// [`WRITE_IDS`] stays pending (more devices may join it).
    fn cut(&mut self, key: WriteKey, keep_partial: bool) {
        let Some(mut devices) = self.pending.remove(&key) else {
            return;
        };
        devices.sort_unstable_by_key(|(id, _)| *id);
        devices.dedup_by_key(|(id, _)| *id);
        let ids: Vec<i64> = devices.iter().map(|(id, _)| *id).collect();
        let path_of = |set: &Filter| {
            odata::path(
                "device",
                &Query::new().filter(super::outcome::conditional_on(set.clone(), key.1)),
            )
        };
        let chunks = set_chunks(&ids, WRITE_IDS, path_of);
        let n = chunks.len();
        // Each device moves into its chunk (no copy of the uuids).
        let mut rest = devices.into_iter();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let these: Targets = rest.by_ref().take(chunk.len()).collect();
            if keep_partial && i + 1 == n && chunk.len() < WRITE_IDS {
                self.pending.insert(key, these);
            } else {
                self.ready.push_back((key, these));
            }
        }
    }

    /// Every device not written yet, with `e`.
    fn fail_all(&mut self, e: &Error) -> Vec<(i64, Error)> {
        self.finish();
        self.ready
            .drain(..)
            .flat_map(|(_, devices)| devices.into_iter().map(|(id, _)| (id, e.clone())))
            .collect()
    }
}

/// One chunk's PATCH to its ids (named compactly: [`balena_api::chunk::id_set`]),
/// conditional on the pin it was planned from ([`super::outcome::conditional_on`]), then
/// settled ([`super::outcome::settle_in`]): checked with one `$count`, read back only when
/// needed, so a device someone else changed meanwhile is a conflict and a lost answer is
/// never taken for a failure. Returns the devices that do not hold the change.
async fn write_chunk(
    api: &Client,
    ((patch, before), devices): (WriteKey, Targets),
) -> Vec<(i64, Error)> {
    let ids: Vec<i64> = devices.iter().map(|(id, _)| *id).collect();
    let set = balena_api::chunk::id_set("id", &ids);
    let path = odata::path(
        "device",
        &Query::new().filter(super::outcome::conditional_on(set.clone(), before)),
    );
    let written = api.patch(&path, &patch).await;
    super::outcome::settle_in(api, &devices, set, &patch, before, written).await
}

fn not_sent() -> Error {
    Error::Interrupted {
        done: "not changed".into(),
    }
}

/// Marks the items of the devices in `failed` as not written.
fn apply_failures(items: &mut [BulkItem], mut failed: HashMap<i64, Error>) {
    if failed.is_empty() {
        return;
    }
    for i in items.iter_mut() {
        let Some(id) = i.device.as_ref().map(|d| d.id) else {
            continue;
        };
        if let Some(e) = failed.remove(&id) {
            i.write_failed(e);
        }
    }
}

/// The PATCHes of a list's devices ([`Chunker`], [`write_chunk`]), [`IN_FLIGHT`] at a time.
/// After a SIGINT ([`interrupt`]) the requests in flight are finished and no other is sent:
/// the devices not written are marked [`Error::Interrupted`].
async fn write(api: &Client, items: &mut [BulkItem]) {
    use futures_util::stream::{self, StreamExt};

    interrupt::arm();
    let mut chunker = Chunker::default();
    for i in items.iter() {
        chunker.add(i);
    }
    chunker.finish();
    let failed: HashMap<i64, Error> = stream::iter(chunker.ready)
        .map(|chunk| async move {
            if interrupt::requested() {
                let e = not_sent();
                return chunk.1.iter().map(|(id, _)| (*id, e.clone())).collect();
            }
            write_chunk(api, chunk).await
        })
        .buffer_unordered(IN_FLIGHT)
        .flat_map(stream::iter)
        .collect()
        .await;
    apply_failures(items, failed);
}

/// The filter of fleet `id`'s devices with `tags`.
fn fleet_filter(id: i64, tags: &[String]) -> Vec<Filter> {
    let mut parts = vec![Filter::eq("belongs_to__application", id)];
    parts.extend(tags.iter().filter_map(|t| tag_filter(t)));
    parts
}

/// The page of [`PAGE`] devices of `parts` after id `last`, by id (keyset: `id gt <the
/// last id>`), so no page costs more than the first.
async fn fleet_page(
    api: &Client,
    parts: &[Filter],
    last: Option<i64>,
) -> Result<Vec<Device>, balena_api::ApiError> {
    let mut page_parts = parts.to_vec();
    if let Some(last) = last {
        page_parts.push(Filter::Gt("id".into(), Lit::Int(last)));
    }
    let q = device_query(false)
        .filter(Filter::And(page_parts))
        .orderby("id asc")
        .top(PAGE);
    api.get(&odata::path("device", &q)).await
}

/// The devices of fleet `id` (with `tags`), a page at a time ([`fleet_page`]), each planned
/// by `plan` into `items` as its page is read (only one page of rows is held at a time).
/// With `write`, the planned writes go out while the next pages are read: a chunk as soon
/// as it is full ([`Chunker`]), [`IN_FLIGHT`] at a time.
///
/// A page that fails before any write was sent is the run's error, as when nothing was
/// written. After a write was sent, it is not: the writes in flight are finished, no other
/// is sent, the devices read but not written fail with it, and one item without a device
/// (in fleet `slug`) stands for the devices not read. After a SIGINT ([`interrupt`]) the
/// writes in flight are finished and no other is sent; the pages are still read, so every
/// device is reported, those not written as [`Error::Interrupted`].
async fn fleet_run(
    api: &Client,
    id: i64,
    tags: &[String],
    write: bool,
    slug: &Arc<str>,
    items: &mut Vec<BulkItem>,
    mut plan: impl FnMut(&Device) -> BulkItem,
) -> Result<(), Error> {
    use futures_util::stream::{FuturesUnordered, StreamExt};

    if write {
        interrupt::arm();
    }
    let parts = fleet_filter(id, tags);
    let mut chunker = Chunker::default();
    let mut in_flight = FuturesUnordered::new();
    let mut failed: HashMap<i64, Error> = HashMap::new();
    let mut sent = false;
    let mut read_error: Option<Error> = None;
    let mut reading = Some(Box::pin(fleet_page(api, &parts, None)));
    loop {
        if write && read_error.is_none() && !interrupt::requested() {
            while in_flight.len() < IN_FLIGHT {
                let Some(chunk) = chunker.ready.pop_front() else {
                    break;
                };
                sent = true;
                in_flight.push(write_chunk(api, chunk));
            }
        }
        if reading.is_none() && in_flight.is_empty() {
            break;
        }
        tokio::select! {
            page = async {
                match reading.as_mut() {
                    Some(f) => f.await,
                    None => std::future::pending().await,
                }
            }, if reading.is_some() => {
                reading = None;
                match page {
                    Err(e) if !sent => return Err(e.into()),
                    Err(e) => read_error = Some(e.into()),
                    Ok(page) => {
                        for d in &page {
                            let item = plan(d);
                            if write {
                                chunker.add(&item);
                            }
                            items.push(item);
                        }
                        if page.len() >= PAGE as usize {
                            let last = page.last().map(|d| d.id);
                            reading = Some(Box::pin(fleet_page(api, &parts, last)));
                        } else {
                            chunker.finish();
                        }
                    }
                }
            }
            Some(f) = in_flight.next(), if !in_flight.is_empty() => failed.extend(f),
        }
    }
    if write {
        let e = read_error.clone().unwrap_or_else(not_sent);
        failed.extend(chunker.fail_all(&e));
    }
    apply_failures(items, failed);
    if let Some(e) = read_error {
        items.push(BulkItem::failed(None, None, Some(slug.clone()), e));
    }
    Ok(())
}

/// The fleets `ids`, with their target and (to pin) the release the argument names.
async fn fetch_fleets(api: &Client, ids: &[i64], op: &BulkOp) -> Result<Vec<Application>, Error> {
    let q = fleet_query(op);
    let path_of = |c: &[i64]| odata::path("application", &q.clone().filter(Filter::id_in("id", c)));
    let mut out = Vec::new();
    for chunk in id_chunks(ids, path_of) {
        out.extend(api.get::<Application>(&path_of(&chunk)).await?);
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

/// Splits the arguments into chunks whose GET path stays within [`MAX_PATH`], with at most
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
async fn resolve_list(
    api: &Client,
    args: &[String],
) -> Result<Vec<(String, Result<Device, Error>)>, Error> {
    let modes: Vec<(String, Mode)> = args
        .iter()
        .map(|a| {
            let mode = if is_full_uuid(a) {
                Mode::Exact
            } else {
                Mode::Prefix
            };
            (a.clone(), mode)
        })
        .collect();
    let mut queue = list_chunks(&modes);
    queue.reverse();
    let mut found: HashMap<String, Result<Device, Error>> = HashMap::new();
    let mut retry: Vec<(String, Mode)> = Vec::new();
    let mut any_row = false;
    while let Some(chunk) = queue.pop() {
        let q = list_query(&chunk);
        let top = q.top.unwrap_or(0) as usize;
        let rows: Vec<Device> = api.get(&odata::path("device", &q)).await?;
        any_row |= !rows.is_empty();
        if rows.len() >= top && chunk.len() > 1 {
            // Truncated: some prefix matched many devices. Look each one up alone.
            for a in chunk.into_iter().rev() {
                queue.push(vec![a]);
            }
            continue;
        }
        for (arg, mode) in chunk {
            let exact: Vec<&Device> = rows.iter().filter(|d| d.uuid == arg).collect();
            let matches: Vec<&Device> = match mode {
                Mode::Exact => exact,
                Mode::Prefix if exact.len() == 1 => exact,
                Mode::Prefix => rows.iter().filter(|d| d.uuid.starts_with(&arg)).collect(),
            };
            let r = match matches.len() {
                1 => Ok(matches[0].clone()),
                0 if mode == Mode::Exact && arg.len() == 32 => {
                    // Could be the prefix of a 62-character uuid.
                    retry.push((arg, Mode::Prefix));
                    continue;
                }
                0 => Err(Error::DeviceNotFound(arg.clone())),
                _ => Err(Error::DeviceAmbiguous {
                    arg: arg.clone(),
                    candidates: matches
                        .iter()
                        .map(|d| {
                            format!("{} {}", d.uuid, d.device_name.as_deref().unwrap_or("N/a"))
                        })
                        .collect(),
                }),
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
        api.confirm_session().await?;
    }
    Ok(args
        .iter()
        .map(|a| {
            let r = found
                .remove(a)
                .unwrap_or_else(|| Err(Error::DeviceNotFound(a.clone())));
            (a.clone(), r)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
