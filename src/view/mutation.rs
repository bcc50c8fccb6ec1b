//! The results of mutations: the confirmations on stderr, the `--dry-run` plans, the
//! `--json` result documents (with the `--wait` report), for fleets, single devices and
//! bulk device selections.

use std::collections::BTreeMap;

use balena_api::models::{Application, Device};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};

use super::device::device_ref;
use super::fleet::fleet_ref;
use super::{plural, table, JsonStream, Printer};
use crate::error::Error;
use crate::policy::plan::{
    BulkCounts, BulkItem, DeviceAction, DeviceEffect, DevicePlan, FleetAction, FleetPlan,
};
use crate::policy::release::Caveat;
use crate::policy::rollout::{DeviceState, WaitOutcome};
use crate::policy::{short, short_or_none, DevicePolicy};

/// The first line of every human plan (stdout).
pub const PLAN_HEADER: &str = "Dry run: nothing was changed.";
/// The last line of every plan (stderr).
const DRY_RUN_NOTE: &str = "Dry run: no change was sent.";

/// The caveats of the releases being pinned, as warnings on stderr.
pub fn caveats(p: &Printer, caveats: &[Caveat]) {
    for c in caveats {
        p.warn(&c.to_string());
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// `--wait`'s report: `{"complete","elapsed_ms","polls","devices":[…],"behind":[uuid…],
/// "offline":[uuid…],"changed_by_others":[uuid…]}`, serialised straight from the outcome
/// (no `Value` per device).
struct RolloutJson<'a>(&'a WaitOutcome);

/// [`RolloutJson`] as a `Value` (the same keys, in the same order).
pub fn rollout_json(w: &WaitOutcome) -> Value {
    serde_json::to_value(RolloutJson(w)).unwrap_or(Value::Null)
}

/// One device of [`RolloutJson`].
#[derive(serde::Serialize)]
struct StateJson<'a> {
    uuid: &'a str,
    device_name: Option<&'a str>,
    is_online: bool,
    status: Option<&'a str>,
    running: Option<IdJson>,
    target: Option<IdJson>,
    on_target: bool,
}

/// `{"id": …}`
#[derive(serde::Serialize)]
struct IdJson {
    id: i64,
}

/// A JSON array of what the iterator `F` makes, serialised as it is walked.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

impl Serialize for RolloutJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let w = self.0;
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("complete", &w.complete)?;
        m.serialize_entry(
            "elapsed_ms",
            &u64::try_from(w.elapsed.as_millis()).unwrap_or(u64::MAX),
        )?;
        m.serialize_entry("polls", &w.polls)?;
        let devices = Seq(|| {
            w.devices.iter().map(|d| StateJson {
                uuid: &d.uuid,
                device_name: d.device_name.as_deref(),
                is_online: d.is_online,
                status: d.status.as_deref(),
                running: d.running.map(|id| IdJson { id }),
                target: d.target.map(|id| IdJson { id }),
                on_target: d.on_target(),
            })
        });
        m.serialize_entry("devices", &devices)?;
        m.serialize_entry("behind", &Seq(|| w.behind().map(uuid_of)))?;
        m.serialize_entry("offline", &Seq(|| w.offline().map(uuid_of)))?;
        // Given another release by someone else during the wait (not waited for).
        m.serialize_entry(
            "changed_by_others",
            &Seq(|| w.changed_by_others().map(uuid_of)),
        )?;
        m.end()
    }
}

fn uuid_of(d: &DeviceState) -> &str {
    &d.uuid
}

/// An object's entries, then `"rollout"` when the command waited.
struct WithRollout<'a> {
    head: &'a Map<String, Value>,
    rollout: Option<RolloutJson<'a>>,
}

impl Serialize for WithRollout<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.head {
            m.serialize_entry(k, v)?;
        }
        if let Some(r) = &self.rollout {
            m.serialize_entry("rollout", r)?;
        }
        m.end()
    }
}

/// `head` (an object) + `"before","after","changed"` (+ `"rollout"` when the command
/// waited), pretty on stdout.
fn result_doc(
    p: &Printer,
    mut doc: Value,
    change: &impl serde::Serialize,
    waited: Option<&WaitOutcome>,
) {
    let (Value::Object(o), Ok(Value::Object(c))) = (&mut doc, serde_json::to_value(change)) else {
        p.json_pretty(&doc);
        return;
    };
    o.extend(c);
    p.json_pretty(&WithRollout {
        head: o,
        rollout: waited.map(RolloutJson),
    });
}

/// The confirmation of a fleet mutation (stderr).
pub fn fleet_done(p: &Printer, app: &Application, plan: &FleetPlan) {
    let slug = &app.slug;
    let after = short_or_none(plan.change.after.target());
    let line = match (&plan.action, plan.change.changed) {
        (FleetAction::Pin, true) => format!("Pinned fleet {slug} to release {after}."),
        (FleetAction::Pin, false) => {
            format!("Fleet {slug} is already pinned to release {after}; nothing changed.")
        }
        (FleetAction::TrackLatest, changed) => {
            let now = match plan.change.after.target() {
                Some(r) => format!("currently {}", short(r)),
                None => "no release yet".to_owned(),
            };
            if changed {
                format!("Fleet {slug} now tracks the latest release ({now}).")
            } else {
                format!("Fleet {slug} already tracks the latest release ({now}); nothing changed.")
            }
        }
        (FleetAction::Rollback { from }, _) => {
            format!("Rolled back fleet {slug} from {} to {after}.", short(from))
        }
    };
    p.note(&line);
}

/// The `--json` result of a fleet mutation.
pub fn fleet_result(
    p: &Printer,
    app: &Application,
    plan: &FleetPlan,
    waited: Option<&WaitOutcome>,
) {
    if p.json {
        result_doc(p, json!({"fleet": fleet_ref(app)}), &plan.change, waited);
    }
}

/// The `--dry-run` plan of a fleet mutation: the fleet's change and its devices'.
pub fn fleet_plan(p: &Printer, app: &Application, plan: &FleetPlan, effects: &[DeviceEffect<'_>]) {
    let pinned = effects
        .iter()
        .filter(|e| e.change.before.is_pinned())
        .count();
    let changed = effects.iter().filter(|e| e.change.changed).count();
    let unchanged = effects.len() - pinned - changed;
    if p.json {
        let devices: Vec<Value> = effects
            .iter()
            .map(|e| {
                json!({
                    "id": e.device.id,
                    "uuid": e.device.uuid,
                    "device_name": e.device.device_name,
                    "before": e.change.before,
                    "after": e.change.after,
                    "changed": e.change.changed,
                })
            })
            .collect();
        let c = &plan.change;
        p.json_pretty(&json!({
            "dry_run": true,
            "fleet": fleet_ref(app),
            "before": c.before,
            "after": c.after,
            "changed": c.changed,
            "devices": devices,
            "counts": {"changed": changed, "unchanged": unchanged, "pinned": pinned},
        }));
    } else {
        let c = &plan.change;
        let mut s = format!("{PLAN_HEADER}\n");
        s.push_str(&format!(
            "Fleet {}: {} -> {}{}\n",
            app.slug,
            c.before,
            c.after,
            if c.changed { "" } else { " (no change)" }
        ));
        if !effects.is_empty() {
            let rows: Vec<Vec<String>> = effects
                .iter()
                .map(|e| {
                    vec![
                        e.device.uuid.clone(),
                        name_or_na(e.device),
                        e.change.before.to_string(),
                        e.change.after.to_string(),
                        yes_no(e.change.changed),
                    ]
                })
                .collect();
            s.push('\n');
            s.push_str(&table::horizontal(
                &["UUID", "DEVICE NAME", "BEFORE", "AFTER", "CHANGED"],
                &rows,
            ));
            s.push('\n');
        }
        s.push_str(&format!(
            "{} would change, {} unchanged, {} unaffected.\n",
            plural(changed, "device", "devices"),
            unchanged,
            plural(pinned, "pinned device", "pinned devices"),
        ));
        p.out(&s);
    }
    p.note(DRY_RUN_NOTE);
}

fn name_or_na(d: &Device) -> String {
    d.device_name.clone().unwrap_or_else(|| "N/a".into())
}

/// The confirmation of a single-device mutation (stderr).
pub fn device_done(
    p: &Printer,
    dev: &Device,
    fleet: Option<&Application>,
    action: &DeviceAction,
    plan: &DevicePlan,
) {
    // The full uuid: a prefix could name another device too.
    let su = &dev.uuid;
    let changed = plan.change.changed;
    let line = match action {
        DeviceAction::Pin(rel) if changed => {
            format!("Pinned device {su} to release {}.", short(rel))
        }
        DeviceAction::Pin(rel) => format!(
            "Device {su} is already pinned to release {}; nothing changed.",
            short(rel)
        ),
        DeviceAction::TrackFleet => {
            let slug = fleet.map(|f| f.slug.as_str()).unwrap_or("N/a");
            let now = match fleet.and_then(Application::target) {
                Some(r) => format!("currently {}", short(r)),
                None => "no release yet".to_owned(),
            };
            if changed {
                format!("Device {su} now tracks its fleet {slug} ({now}).")
            } else {
                format!("Device {su} already tracks its fleet {slug} ({now}); nothing changed.")
            }
        }
    };
    p.note(&line);
}

/// The `--json` result of a single-device mutation.
pub fn device_result(
    p: &Printer,
    dev: &Device,
    fleet: Option<&Application>,
    plan: &DevicePlan,
    waited: Option<&WaitOutcome>,
) {
    if p.json {
        result_doc(
            p,
            json!({"device": device_ref(dev, fleet)}),
            &plan.change,
            waited,
        );
    }
}

/// The `--dry-run` plan of one device: a one-row table on stdout (or the JSON result with
/// `"dry_run":true`).
pub fn device_plan(p: &Printer, dev: &Device, fleet: Option<&Application>, plan: &DevicePlan) {
    let c = &plan.change;
    if p.json {
        result_doc(
            p,
            json!({"dry_run": true, "device": device_ref(dev, fleet)}),
            c,
            None,
        );
    } else {
        let row = vec![
            dev.uuid.clone(),
            name_or_na(dev),
            fleet
                .map(|f| f.slug.clone())
                .unwrap_or_else(|| "N/a".into()),
            c.before.to_string(),
            c.after.to_string(),
            yes_no(c.changed),
        ];
        p.out(&format!(
            "{PLAN_HEADER}\n\n{}\n{} would change, {} unchanged, 0 failed.\n",
            table::horizontal(
                &["UUID", "DEVICE NAME", "FLEET", "BEFORE", "AFTER", "CHANGED"],
                &[row]
            ),
            plural(usize::from(c.changed), "device", "devices"),
            usize::from(!c.changed),
        ));
    }
    p.note(DRY_RUN_NOTE);
}

/// What a bulk mutation did to every device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Pin,
    TrackFleet,
}

/// `--fleet F` on a fleet without devices: nothing to do (stderr; `--json` has its empty
/// result document).
pub fn empty_fleet(p: &Printer, slug: &str, dry_run: bool) {
    if !p.json {
        p.note(&format!(
            "Fleet {}: no device, nothing to do{}.",
            super::safe(slug),
            if dry_run { " (dry run)" } else { "" }
        ));
    }
}

/// Human output of a bulk mutation: the failures, then the plan on stdout (`--dry-run`) or
/// one confirmation per fleet on stderr. Nothing with `--json` (the result document says it
/// all).
pub fn bulk_report(p: &Printer, items: &[BulkItem], action: BulkAction, dry_run: bool) {
    if p.json {
        return;
    }
    let counts = BulkCounts::of(items);
    for i in items.iter().filter(|i| !i.interrupted()) {
        if let Some(e) = &i.error {
            let e_text = e.to_string();
            p.note(&format!(
                "error: device {}: {}",
                super::safe(i.who()),
                super::safe(&e_text)
            ));
            if let Some((key, list)) = e.list() {
                p.note(&format!("  {key}:"));
                for c in list {
                    p.note(&format!("    {}", super::safe(c)));
                }
            }
            if matches!(
                **e,
                Error::ReleaseNotPinnable { .. } | Error::ForeignRelease { .. }
            ) {
                if let Some(h) = e.hint() {
                    p.note(&format!("  {h}"));
                }
            }
        }
    }
    let ok = || {
        items
            .iter()
            .filter(|i| i.error.is_none())
            .filter_map(|i| Some((i, i.device.as_ref()?, i.plan.as_ref()?)))
    };
    if dry_run {
        let rows: Vec<Vec<String>> = ok()
            .map(|(i, d, plan)| {
                vec![
                    d.uuid.to_string(),
                    d.device_name.as_deref().unwrap_or("N/a").to_owned(),
                    i.fleet.as_deref().unwrap_or("N/a").to_owned(),
                    plan.change.before.to_string(),
                    plan.change.after.to_string(),
                    yes_no(plan.change.changed),
                ]
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
        p.out(&s);
        p.note(DRY_RUN_NOTE);
        return;
    }
    // One line per fleet: (changed, unchanged, the target after).
    let mut per_fleet: BTreeMap<String, (usize, usize, String)> = BTreeMap::new();
    for (i, _, plan) in ok() {
        let e = per_fleet
            .entry(i.fleet.as_deref().unwrap_or_default().to_owned())
            .or_insert_with(|| (0, 0, short_or_none(plan.change.after.target())));
        if plan.change.changed {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for (slug, (changed, unchanged, target)) in &per_fleet {
        let line = match action {
            BulkAction::Pin => format!(
                "Fleet {slug}: pinned {} to release {target}{}.",
                plural(*changed, "device", "devices"),
                if *unchanged > 0 {
                    format!("; {unchanged} already pinned to it")
                } else {
                    String::new()
                }
            ),
            BulkAction::TrackFleet => format!(
                "Fleet {slug}: {} now {} the fleet (currently {target}){}.",
                plural(*changed, "device", "devices"),
                if *changed == 1 { "tracks" } else { "track" },
                if *unchanged > 0 {
                    format!("; {unchanged} already did")
                } else {
                    String::new()
                }
            ),
        };
        p.note(&line);
    }
    if counts.interrupted > 0 {
        p.note(&format!(
            "Interrupted: {} not changed (no request was sent for them); {} changed, {} \
             unchanged, {} failed.",
            plural(counts.interrupted, "device", "devices"),
            counts.changed,
            counts.unchanged,
            counts.failed
        ));
    } else if counts.failed > 0 || per_fleet.len() > 1 {
        p.note(&format!(
            "{} changed, {} unchanged, {} failed.",
            counts.changed, counts.unchanged, counts.failed
        ));
    }
}

/// The `--json` document of a bulk run: `{"results":[…],"counts":{…}}`, then
/// `"dry_run"`, `"interrupted"` and `"rollout"` when they apply. It is written in two
/// parts, so that a wait need not keep the items: [`bulk_result_start`] writes all but the
/// wait's report (nothing without `--json`), and [`bulk_result_end`] adds that report and
/// closes the document. Both serialise straight from the items and device states, a result
/// at a time (no `Value` per device).
pub fn bulk_result_start<'p>(
    p: &'p Printer,
    items: &[BulkItem],
    dry_run: bool,
) -> Option<BulkJson<'p>> {
    if !p.json {
        return None;
    }
    let counts = BulkCounts::of(items);
    let interrupted = counts.interrupted > 0;
    let mut out = p.json_stream();
    out.push(b"{\n  \"results\": ");
    out.pretty(&Seq(|| items.iter().map(ItemJson::of)), 1);
    out.push(b",\n  \"counts\": ");
    out.pretty(
        &CountsJson {
            changed: counts.changed,
            unchanged: counts.unchanged,
            failed: counts.failed,
            // The devices not done have `"changed": false` and a `BalenaInterrupted` error.
            interrupted: interrupted.then_some(counts.interrupted),
        },
        1,
    );
    if dry_run {
        out.push(b",\n  \"dry_run\": true");
    }
    if interrupted {
        out.push(b",\n  \"interrupted\": true");
    }
    Some(BulkJson { out })
}

/// A bulk run's `--json` document, started by [`bulk_result_start`].
pub struct BulkJson<'p> {
    out: JsonStream<'p>,
}

/// Adds the wait's report (when the command waited) and ends the document.
pub fn bulk_result_end(doc: Option<BulkJson<'_>>, waited: Option<&WaitOutcome>) {
    let Some(BulkJson { mut out }) = doc else {
        return;
    };
    if let Some(w) = waited {
        out.push(b",\n  \"rollout\": ");
        out.pretty(&RolloutJson(w), 1);
    }
    out.push(b"\n}");
    out.finish();
}

#[derive(serde::Serialize)]
struct CountsJson {
    changed: usize,
    unchanged: usize,
    failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    interrupted: Option<usize>,
}

/// One result of [`BulkDoc`].
#[derive(serde::Serialize)]
struct ItemJson<'a> {
    input: Option<&'a str>,
    device: Option<ItemDevice<'a>>,
    fleet: Option<&'a str>,
    before: Option<&'a DevicePolicy>,
    after: Option<&'a DevicePolicy>,
    changed: bool,
    error: Option<Value>,
}

#[derive(serde::Serialize)]
struct ItemDevice<'a> {
    id: i64,
    uuid: &'a str,
    device_name: Option<&'a str>,
    fleet: Option<&'a str>,
}

impl<'a> ItemJson<'a> {
    fn of(i: &'a BulkItem) -> ItemJson<'a> {
        ItemJson {
            input: i.input.as_deref(),
            device: i.device.as_ref().map(|d| ItemDevice {
                id: d.id,
                uuid: &d.uuid,
                device_name: d.device_name.as_deref(),
                fleet: i.fleet.as_deref(),
            }),
            fleet: i.fleet.as_deref(),
            before: i.plan.as_ref().map(|p| &p.change.before),
            after: i.plan.as_ref().map(|p| &p.change.after),
            changed: i.plan.is_some() && i.changed(),
            error: i.error.as_deref().map(super::error::item_json),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::plan;
    use balena_api::models::{Nav, Release};

    fn rel(id: i64, commit: &str, ver: &str) -> Release {
        Release {
            id,
            commit: commit.into(),
            raw_version: Some(ver.into()),
            status: Some("success".into()),
            ..Release::default()
        }
    }

    fn fleet(tracking: bool, target: Release) -> Application {
        Application {
            id: 10,
            slug: "acme/door".into(),
            should_track_latest_release: Some(tracking),
            target: Nav::Expanded(vec![target]),
            ..Application::default()
        }
    }

    fn device(id: i64, uuid: &str, pinned: Option<Release>) -> Device {
        Device {
            id,
            uuid: uuid.into(),
            device_name: Some(format!("dev-{id}")),
            pinned: Nav::Expanded(pinned.into_iter().collect()),
            ..Device::default()
        }
    }

    #[test]
    fn fleet_confirmations_and_json_result() {
        let app = fleet(true, rel(1, "aaaaaaa1111", "1.0.0"));
        let plan = plan::pin_fleet(&app, &rel(2, "bbbbbbb2222", "1.1.0"));
        let (p, out, err) = Printer::buffered(false);
        fleet_done(&p, &app, &plan);
        fleet_result(&p, &app, &plan, None);
        assert_eq!(
            err.text(),
            "Pinned fleet acme/door to release bbbbbbb (1.1.0).\n"
        );
        assert_eq!(out.text(), "");
        let (p, out, _) = Printer::buffered(true);
        fleet_result(&p, &app, &plan, None);
        let v: Value = serde_json::from_str(&out.text()).unwrap();
        assert_eq!(
            v,
            json!({
                "fleet": {"id": 10, "slug": "acme/door"},
                "before": {"tracking_latest": true, "release": {"id": 1, "commit": "aaaaaaa1111", "raw_version": "1.0.0"}},
                "after": {"tracking_latest": false, "release": {"id": 2, "commit": "bbbbbbb2222", "raw_version": "1.1.0"}},
                "changed": true,
            })
        );
        let noop = plan::pin_fleet(
            &fleet(false, rel(2, "bbbbbbb2222", "1.1.0")),
            &rel(2, "bbbbbbb2222", "1.1.0"),
        );
        let (p, _, err) = Printer::buffered(false);
        fleet_done(&p, &app, &noop);
        assert_eq!(
            err.text(),
            "Fleet acme/door is already pinned to release bbbbbbb (1.1.0); nothing changed.\n"
        );
    }

    #[test]
    fn fleet_dry_run_plan() {
        let app = fleet(false, rel(1, "aaaaaaa1111", "1.0.0"));
        let plan = plan::pin_fleet(&app, &rel(2, "bbbbbbb2222", "1.1.0"));
        let devices = vec![
            device(5, "d0c0", None),
            device(6, "d1c1", Some(rel(1, "aaaaaaa1111", "1.0.0"))),
        ];
        let effects = plan::fleet_device_effects(&devices, &plan);
        let (p, out, err) = Printer::buffered(false);
        fleet_plan(&p, &app, &plan, &effects);
        assert_eq!(
            out.text(),
            "Dry run: nothing was changed.\n\
             Fleet acme/door: pinned to aaaaaaa (1.0.0) -> pinned to bbbbbbb (1.1.0)\n\
             \n\
             UUID DEVICE NAME BEFORE                 AFTER                  CHANGED\n\
             d0c0 dev-5       fleet aaaaaaa (1.0.0)  fleet bbbbbbb (1.1.0)  yes\n\
             d1c1 dev-6       pinned aaaaaaa (1.0.0) pinned aaaaaaa (1.0.0) no\n\
             \n\
             1 device would change, 0 unchanged, 1 pinned device unaffected.\n"
        );
        assert_eq!(err.text(), "Dry run: no change was sent.\n");
    }

    #[test]
    fn device_plan_and_confirmation() {
        let app = fleet(false, rel(1, "aaaaaaa1111", "1.0.0"));
        let dev = device(5, "d0c0ffee000", None);
        let action = DeviceAction::Pin(std::sync::Arc::new(rel(2, "bbbbbbb2222", "1.1.0")));
        let plan = plan::device(&dev, Some(&app), &action);
        let (p, out, err) = Printer::buffered(false);
        device_plan(&p, &dev, Some(&app), &plan);
        assert_eq!(
            out.text(),
            "Dry run: nothing was changed.\n\n\
             UUID        DEVICE NAME FLEET     BEFORE                AFTER                  CHANGED\n\
             d0c0ffee000 dev-5       acme/door fleet aaaaaaa (1.0.0) pinned bbbbbbb (1.1.0) yes\n\
             \n1 device would change, 0 unchanged, 0 failed.\n"
        );
        assert_eq!(err.text(), "Dry run: no change was sent.\n");
        let (p, _, err) = Printer::buffered(false);
        device_done(&p, &dev, Some(&app), &action, &plan);
        assert_eq!(
            err.text(),
            "Pinned device d0c0ffee000 to release bbbbbbb (1.1.0).\n"
        );
    }

    #[test]
    fn bulk_report_and_result() {
        let app = fleet(false, rel(1, "aaaaaaa1111", "1.0.0"));
        let action = DeviceAction::Pin(std::sync::Arc::new(rel(2, "bbbbbbb2222", "1.1.0")));
        let d = device(5, "d0c0", None);
        let ok = BulkItem {
            input: Some("d0c0".into()),
            fleet: Some(app.slug.as_str().into()),
            plan: Some(plan::device(&d, Some(&app), &action)),
            device: Some(plan::BulkDevice::of(&d)),
            error: None,
        };
        let bad = BulkItem::failed(
            Some("ffff".into()),
            None,
            None,
            Error::DeviceNotFound("ffff".into()),
        );
        let items = vec![ok, bad];
        let (p, out, err) = Printer::buffered(false);
        bulk_report(&p, &items, BulkAction::Pin, false);
        assert_eq!(out.text(), "");
        assert_eq!(
            err.text(),
            "error: device ffff: Device not found: ffff\n\
             Fleet acme/door: pinned 1 device to release bbbbbbb (1.1.0).\n\
             1 changed, 0 unchanged, 1 failed.\n"
        );
        let (p, out, _) = Printer::buffered(true);
        bulk_report(&p, &items, BulkAction::Pin, false);
        bulk_result_end(bulk_result_start(&p, &items, false), None);
        let v: Value = serde_json::from_str(&out.text()).unwrap();
        assert_eq!(
            v["counts"],
            json!({"changed": 1, "unchanged": 0, "failed": 1})
        );
        assert_eq!(v["results"][1]["error"]["name"], "BalenaDeviceNotFound");
        assert_eq!(v["results"][1]["before"], Value::Null);
        assert_eq!(v["results"][0]["after"]["release"]["id"], 2);
        assert!(matches!(
            plan::bulk_error(&items, false),
            Some(Error::PartialFailure {
                failed: 1,
                total: 2,
                ..
            })
        ));
    }

    #[test]
    fn bulk_json_streams_one_pretty_document_in_key_order() {
        let app = fleet(false, rel(1, "aaaaaaa1111", "1.0.0"));
        let action = DeviceAction::Pin(std::sync::Arc::new(rel(2, "bbbbbbb2222", "1.1.0")));
        let d = device(5, "d0c0", None);
        let items = vec![BulkItem {
            input: None,
            fleet: Some(app.slug.as_str().into()),
            plan: Some(plan::device(&d, Some(&app), &action)),
            device: Some(plan::BulkDevice::of(&d)),
            error: None,
        }];
        let state = |id: i64, online: bool, running: i64| DeviceState {
            id,
            uuid: format!("u{id}").into(),
            device_name: (id == 5).then(|| "dev-5".into()),
            is_online: online,
            status: Some("idle".into()),
            running: Some(running),
            target: Some(2),
            changed_by_other: false,
        };
        let w = WaitOutcome {
            complete: false,
            elapsed: std::time::Duration::from_millis(1500),
            polls: 3,
            devices: vec![state(5, true, 1), state(6, false, 1), state(7, true, 2)],
        };
        let (p, out, _) = Printer::buffered(true);
        bulk_result_end(bulk_result_start(&p, &items, true), Some(&w));
        let text = out.text();
        let v: Value = serde_json::from_str(&text).unwrap();
        // Laid out exactly as the pretty printer lays out the whole document.
        assert_eq!(
            text,
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap())
        );
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["results", "counts", "dry_run", "rollout"]);
        let r = &v["results"][0];
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["input", "device", "fleet", "before", "after", "changed", "error"]
        );
        assert_eq!(
            r["device"],
            json!({"id": 5, "uuid": "d0c0", "device_name": "dev-5", "fleet": "acme/door"})
        );
        assert_eq!(r["changed"], true);
        assert_eq!(v["rollout"], rollout_json(&w));
        assert_eq!(
            v["rollout"],
            json!({
                "complete": false, "elapsed_ms": 1500, "polls": 3,
                "devices": [
                    {"uuid": "u5", "device_name": "dev-5", "is_online": true, "status": "idle",
                     "running": {"id": 1}, "target": {"id": 2}, "on_target": false},
                    {"uuid": "u6", "device_name": null, "is_online": false, "status": "idle",
                     "running": {"id": 1}, "target": {"id": 2}, "on_target": false},
                    {"uuid": "u7", "device_name": null, "is_online": true, "status": "idle",
                     "running": {"id": 2}, "target": {"id": 2}, "on_target": true},
                ],
                "behind": ["u5"], "offline": ["u6"], "changed_by_others": [],
            })
        );
    }
}
