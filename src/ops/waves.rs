//! `fleet rollout`: the reads and writes of a progressive rollout (see
//! [`crate::policy::waves`] for the plan, the state and the health rules). Prints nothing:
//! progress goes to an [`Observer`], the result is a [`Report`].
//!
//! On the wire:
//! - the state is the fleet tag [`STATE_TAG`]: read with one filtered GET, created with a
//!   POST, and changed with a PATCH conditional on its previous value (then read back), so
//!   two runs, or a run and an `abort`, never overwrite each other;
//! - the fleet's devices are read in keyset pages of [`PAGE`] (by id);
//! - a wave's pins, and the final un-pinning, are conditional bulk PATCHes
//!   ([`outcome::conditional`], settled by [`outcome::settle_devices`]): a device someone
//!   else changed meanwhile is a conflict, named and left alone;
//! - a wave's health is one keyset page per [`PAGE`] of its devices per poll, plus the
//!   state tag (to see an `abort` from elsewhere).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use balena_api::chunk::id_chunks;
use balena_api::error::ApiError;
use balena_api::models::{Application, Release};
use balena_api::odata::{self, Filter, Lit, Query};
use balena_api::patch::{DevicePatch, FleetPatch};
use balena_api::Client;
use serde::{Deserialize, Serialize};

use super::outcome::{self, may_have_been_applied};
use crate::error::Error;
use crate::policy::release::{self as rel_rules, SUMMARY_FIELDS};
use crate::policy::select::tag_filter;
use crate::policy::waves::{
    judge, now_secs, plan_cuts, AbortReason, Budget, Canary, Ending, Event, FleetBefore,
    FleetTarget, Health, Named, Observer, Phase, Report, RolloutDevice, Stage, State, Step,
    WaveReport, WaveSpec, WaveStatus, DEVICE_FIELDS, MAX_STATE_LEN, STATE_TAG,
};
use crate::policy::{short, short_or_none};

/// Devices per page.
pub const PAGE: u32 = 1_000;
/// The first and the longest pause between two polls of a wave.
const POLL_FIRST: Duration = Duration::from_millis(250);
const POLL_MAX: Duration = Duration::from_secs(3);

/// The options of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--canary` as given (their order is the waves' order).
    pub canary_specs: Vec<String>,
    pub canaries: Vec<Canary>,
    pub steps: Vec<Step>,
    pub budget: Budget,
    pub soak: Duration,
    pub step_timeout: Duration,
    pub pause: Duration,
    pub next: bool,
    pub dry_run: bool,
}

/// The fleet a rollout works on, as read at the start.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub app: Application,
    /// Its latest trackable release now.
    pub latest: Option<Release>,
}

/// The fleet's policy and target (the fields every rollout read needs).
pub fn fleet_query() -> Query {
    Query::new()
        .select(&["id", "app_name", "slug", "should_track_latest_release"])
        .expand(
            "should_be_running__release",
            Query::new().select(SUMMARY_FIELDS),
        )
}

/// The fleet's latest trackable release (one GET).
pub async fn latest_trackable(api: &Client, fleet_id: i64) -> Result<Option<Release>, Error> {
    let q = rel_rules::latest().filter(Filter::And(vec![
        Filter::eq("belongs_to__application", fleet_id),
        rel_rules::trackable_filter(),
    ]));
    Ok(api.get_one(&odata::path("release", &q)).await?)
}

/// A release by id, for the output (one GET), or `None` when it is gone.
pub async fn release_by_id(api: &Client, id: i64) -> Result<Option<Release>, Error> {
    let q = Query::new().select(SUMMARY_FIELDS);
    Ok(api.get_one(&odata::entity_path("release", id, &q)).await?)
}

#[derive(Debug, Clone, Deserialize)]
struct TagRow {
    value: String,
}

#[derive(Serialize)]
struct NewTag<'a> {
    application: i64,
    tag_key: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct TagValue<'a> {
    value: &'a str,
}

fn tag_filter_of(fleet_id: i64) -> Filter {
    Filter::And(vec![
        Filter::eq("application", fleet_id),
        Filter::eq("tag_key", STATE_TAG),
    ])
}

/// The fleet's rollout state tag, as text (one GET).
pub async fn read_tag(api: &Client, fleet_id: i64) -> Result<Option<String>, Error> {
    let q = Query::new()
        .select(&["id", "value"])
        .filter(tag_filter_of(fleet_id));
    let row: Option<TagRow> = api.get_one(&odata::path("application_tag", &q)).await?;
    Ok(row.map(|r| r.value))
}

/// The fleet's rollout state, decoded (one GET).
pub async fn read_state(api: &Client, app: &Application) -> Result<Option<State>, Error> {
    match read_tag(api, app.id).await? {
        None => Ok(None),
        Some(text) => State::decode(&text)
            .map(Some)
            .map_err(|why| damaged(app, &why)),
    }
}

fn damaged(app: &Application, why: &str) -> Error {
    Error::RolloutStateDamaged {
        fleet: app.slug.clone(),
        detail: why.to_owned(),
    }
}

/// The state as the server holds it, and this run's writes of it.
struct Store<'a> {
    api: &'a Client,
    app: &'a Application,
    /// The tag's value now (`None`: there is no tag).
    text: Option<String>,
}

/// What a conditional write of the state found.
enum Saved {
    Done,
    /// Someone else changed the state first: it holds this now.
    Changed(Option<String>),
}

impl Store<'_> {
    /// Writes `state` in place of the current value, if it still holds it.
    async fn save(&mut self, state: &State) -> Result<Saved, Error> {
        let new = state.encode();
        if new.len() > MAX_STATE_LEN {
            return Err(Error::RolloutTooLarge {
                fleet: self.app.slug.clone(),
                chars: new.len(),
            });
        }
        if self.text.as_deref() == Some(new.as_str()) {
            return Ok(Saved::Done);
        }
        let sent = match &self.text {
            None => {
                let body = NewTag {
                    application: self.app.id,
                    tag_key: STATE_TAG,
                    value: &new,
                };
                self.api
                    .post::<_, serde_json::Value>("application_tag", &body)
                    .await
                    .map(|_| ())
            }
            Some(old) => {
                let f = Filter::And(vec![
                    tag_filter_of(self.app.id),
                    Filter::eq("value", old.as_str()),
                ]);
                let q = Query::new().filter(f);
                self.api
                    .patch(
                        &odata::path("application_tag", &q),
                        &TagValue { value: &new },
                    )
                    .await
            }
        };
        match sent {
            Ok(()) => {}
            // Created meanwhile by someone else (or by a retry of this POST): read it.
            Err(ApiError::Http { status: 409, .. }) => {}
            Err(e) if may_have_been_applied(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let now = read_tag(self.api, self.app.id).await?;
        if now.as_deref() == Some(new.as_str()) {
            self.text = Some(new);
            Ok(Saved::Done)
        } else {
            Ok(Saved::Changed(now))
        }
    }

    /// [`Store::save`], where a change by someone else stops this run: an abort is
    /// [`Interrupt::Aborted`], anything else is another run's.
    async fn advance(&mut self, state: &State) -> Result<(), Interrupt> {
        match self.save(state).await? {
            Saved::Done => Ok(()),
            Saved::Changed(now) => Err(self.changed(now)),
        }
    }

    fn changed(&mut self, now: Option<String>) -> Interrupt {
        let decoded = now.as_deref().map(State::decode);
        self.text = now;
        match decoded {
            Some(Ok(s)) if s.phase == Phase::Aborting || s.phase == Phase::RolledBack => {
                Interrupt::Aborted(s)
            }
            _ => Interrupt::Err(Error::RolloutBusy {
                fleet: self.app.slug.clone(),
                detail: "its state was changed by another run while this one ran".into(),
            }),
        }
    }
}

/// Why a wave loop stopped early.
enum Interrupt {
    /// Someone aborted the rollout: this is the state they wrote.
    Aborted(State),
    /// The budget was exceeded.
    Failed,
    Err(Error),
}

impl From<Error> for Interrupt {
    fn from(e: Error) -> Self {
        Interrupt::Err(e)
    }
}

impl From<ApiError> for Interrupt {
    fn from(e: ApiError) -> Self {
        Interrupt::Err(e.into())
    }
}

/// A device as listed at the start: id, uuid, name, pin.
#[derive(Debug, Clone, Deserialize)]
struct Listed {
    id: i64,
    #[serde(default)]
    uuid: String,
    #[serde(default)]
    device_name: Option<String>,
    #[serde(default, rename = "is_pinned_on__release")]
    pinned: balena_api::models::Nav<Release>,
}

fn who(uuid: &str, name: Option<&str>) -> Named {
    Named {
        uuid: uuid.to_owned(),
        name: name.map(str::to_owned),
    }
}

/// Every row of `resource` matching `filter`, in keyset pages by id.
async fn pages<T: serde::de::DeserializeOwned>(
    api: &Client,
    fields: &[&str],
    filter: Filter,
    id_of: impl Fn(&T) -> i64,
) -> Result<Vec<T>, Error> {
    let mut out = Vec::new();
    let mut after = 0i64;
    loop {
        let q = Query::new()
            .select(fields)
            .filter(Filter::And(vec![
                filter.clone(),
                Filter::Gt("id".into(), Lit::Int(after)),
            ]))
            .orderby("id asc")
            .top(PAGE);
        let rows: Vec<T> = api.get(&odata::path("device", &q)).await?;
        let n = rows.len();
        if let Some(last) = rows.last() {
            after = id_of(last);
        }
        out.extend(rows);
        if n < PAGE as usize {
            return Ok(out);
        }
    }
}

fn of_fleet(fleet_id: i64) -> Filter {
    Filter::eq("belongs_to__application", fleet_id)
}

/// The devices of wave `spec`, as a filter.
fn wave_filters(fleet_id: i64, spec: WaveSpec<'_>) -> Vec<Filter> {
    match spec {
        WaveSpec::Ids(ids) => {
            let base =
                |chunk: &[i64]| Filter::And(vec![of_fleet(fleet_id), Filter::id_in("id", chunk)]);
            id_chunks(ids, |c| {
                odata::path("device", &Query::new().filter(base(c)))
            })
            .iter()
            .map(|c| base(c))
            .collect()
        }
        WaveSpec::Range { after, upto } => vec![Filter::And(vec![
            of_fleet(fleet_id),
            Filter::Gt("id".into(), Lit::Int(after)),
            Filter::Le("id".into(), Lit::Int(upto)),
        ])],
    }
}

/// The devices of wave `i` as they are now (every device its filter selects).
async fn read_wave(
    api: &Client,
    fleet_id: i64,
    st: &State,
    i: usize,
) -> Result<Vec<RolloutDevice>, Error> {
    let mut out = Vec::new();
    for f in wave_filters(fleet_id, st.wave_spec(i)) {
        out.extend(pages(api, DEVICE_FIELDS, f, |d: &RolloutDevice| d.id).await?);
    }
    if matches!(st.wave_spec(i), WaveSpec::Range { .. }) {
        out.retain(|d| st.is_step_device(d.id));
    }
    Ok(out)
}

/// A run of `fleet rollout <fleet> <release>`.
pub struct Run<'a> {
    pub api: &'a Client,
    pub fleet: &'a Fleet,
    pub release: &'a Release,
    pub options: &'a Options,
}

/// The plan of a new rollout: the state it would start with, and the report of its waves.
struct Planned {
    state: State,
    report: Report,
}

fn target_of(tracks: bool, rel: Option<&Release>) -> FleetTarget {
    FleetTarget {
        tracks_latest: tracks,
        release: short_or_none(rel),
    }
}

impl Run<'_> {
    fn app(&self) -> &Application {
        &self.fleet.app
    }

    fn digest(&self) -> u64 {
        crate::policy::waves::options_digest(
            self.release.id,
            &self.options.canary_specs,
            &self.options.steps,
            self.options.budget,
        )
    }

    /// Runs (or continues) the rollout. `Ok` with the report of a run that did not roll
    /// back; a rollback is `Err(RolloutRolledBack)` after `on_report` got its report.
    pub async fn go(&self, obs: &mut dyn Observer) -> Result<Report, (Option<Report>, Error)> {
        let app = self.app();
        let tag = read_tag(self.api, app.id).await.map_err(|e| (None, e))?;
        let existing = match &tag {
            None => None,
            Some(t) => Some(State::decode(t).map_err(|why| (None, damaged(app, &why)))?),
        };
        let mut store = Store {
            api: self.api,
            app,
            text: tag,
        };
        let state = match existing {
            Some(s) if s.phase.in_progress() => {
                if s.release != self.release.id || s.options != self.digest() {
                    return Err((None, self.busy(&s).await));
                }
                if !self.options.dry_run {
                    obs.event(Event::Note(format!(
                        "continuing the rollout at wave {} of {} ({})",
                        s.wave + 1,
                        s.wave_count(),
                        s.wave_label(s.wave)
                    )));
                }
                s
            }
            _ => {
                let policy_target = app.target().map(|r| r.id);
                if policy_target == Some(self.release.id) {
                    let mut report = self.empty_report(Ending::NoOp);
                    report.fleet_changes.push(format!(
                        "the fleet already targets {}: nothing to roll out",
                        short(self.release)
                    ));
                    return Ok(report);
                }
                let planned = self.plan().await.map_err(|e| (None, e))?;
                if self.options.dry_run {
                    return Ok(planned.report);
                }
                self.start(&mut store, planned.state, obs)
                    .await
                    .map_err(|e| (None, e))?
            }
        };
        if self.options.dry_run {
            let mut report = self.report_of(&state).await.map_err(|e| (None, e))?;
            report.ending = Ending::Planned;
            return Ok(report);
        }
        self.drive(&mut store, state, obs).await
    }

    async fn busy(&self, s: &State) -> Error {
        let rel = release_by_id(self.api, s.release)
            .await
            .ok()
            .flatten()
            .map(|r| short(&r))
            .unwrap_or_else(|| format!("release {}", s.release));
        let detail = if s.release == self.release.id {
            format!(
                "a rollout of {rel} is in progress with other options (--canary, --steps, \
                 --max-failures): run it with the same ones to continue"
            )
        } else {
            format!(
                "a rollout of {rel} is in progress (wave {} of {}, {})",
                s.wave + 1,
                s.wave_count(),
                s.wave_label(s.wave)
            )
        };
        Error::RolloutBusy {
            fleet: self.app().slug.clone(),
            detail,
        }
    }

    fn empty_report(&self, ending: Ending) -> Report {
        let app = self.app();
        let now = target_of(app.tracks_latest(), app.target());
        Report {
            fleet: app.slug.clone(),
            release: short(self.release),
            ending,
            waves: Vec::new(),
            wave: 0,
            left_alone: Vec::new(),
            pinned_before: 0,
            fleet_before: now.clone(),
            fleet_after: now,
            fleet_changes: Vec::new(),
        }
    }

    /// What the fleet ends as, if every wave passes: pinned to the release, or tracking
    /// latest again when it did before and the release is its latest trackable one.
    fn final_patch(&self, before: FleetBefore, latest: Option<&Release>) -> FleetPatch {
        let is_latest = latest.map(|r| r.id) == Some(self.release.id);
        match before {
            FleetBefore::TrackedLatest(_) if is_latest => {
                FleetPatch::TrackLatest(Some(self.release.id))
            }
            _ => FleetPatch::PinTo(self.release.id),
        }
    }

    fn final_words(&self, before: FleetBefore, latest: Option<&Release>) -> String {
        let r = short(self.release);
        match (before, self.final_patch(before, latest)) {
            (_, FleetPatch::TrackLatest(_)) => {
                format!("at the end, the fleet tracks the latest release again: {r} is its latest")
            }
            (FleetBefore::TrackedLatest(_), _) => format!(
                "at the end, the fleet is pinned to {r} (it tracked the latest release, and \
                 {r} is not its latest trackable release: run `balena fleet track-latest {}` \
                 to track it again)",
                self.app().slug
            ),
            _ => format!("at the end, the fleet is pinned to {r}"),
        }
    }

    /// Reads the fleet's devices and plans the waves.
    async fn plan(&self) -> Result<Planned, Error> {
        let app = self.app();
        let rid = self.release.id;
        let listed: Vec<Listed> = pages(
            self.api,
            &["id", "uuid", "device_name", "is_pinned_on__release"],
            of_fleet(app.id),
            |d: &Listed| d.id,
        )
        .await?;
        let max_id = listed.last().map_or(0, |d| d.id);
        let pre: Vec<i64> = listed
            .iter()
            .filter(|d| d.pinned.id() == Some(rid))
            .map(|d| d.id)
            .collect();
        let left_alone: Vec<Named> = listed
            .iter()
            .filter(|d| d.pinned.id().is_some_and(|p| p != rid))
            .map(|d| who(&d.uuid, d.device_name.as_deref()))
            .collect();
        let follows: Vec<&Listed> = listed.iter().filter(|d| d.pinned.id().is_none()).collect();
        let mut taken = BTreeSet::new();
        let mut canaries = Vec::new();
        let mut labels = Vec::new();
        for (c, spec) in self.options.canaries.iter().zip(&self.options.canary_specs) {
            let ids = self.canary_ids(c, spec, &follows).await?;
            let ids: Vec<i64> = ids.into_iter().filter(|id| taken.insert(*id)).collect();
            if ids.is_empty() {
                return Err(Error::NoDevicesSelected {
                    what: format!(
                        "--canary {spec} matches no device of fleet {} that follows the fleet \
                         (and is in no earlier canary)",
                        app.slug
                    ),
                });
            }
            canaries.push(ids);
            labels.push(c.label());
        }
        let step_ids: Vec<i64> = follows
            .iter()
            .map(|d| d.id)
            .filter(|id| !taken.contains(id))
            .collect();
        let cuts = plan_cuts(&step_ids, &self.options.steps, max_id);
        let before = if app.tracks_latest() {
            FleetBefore::TrackedLatest(app.target().map(|r| r.id))
        } else {
            FleetBefore::Pinned(app.target().map(|r| r.id))
        };
        let now = now_secs();
        let state = State {
            release: rid,
            fleet_before: before,
            max_id,
            pre,
            canaries,
            canary_labels: labels,
            cuts,
            steps: self.options.steps.clone(),
            budget: self.options.budget,
            options: self.digest(),
            phase: Phase::Running,
            wave: 0,
            stage: Stage::Pinning,
            wave_at: now,
            started_at: now,
            reason: None,
        };
        let encoded = state.encode().len();
        if encoded > MAX_STATE_LEN {
            return Err(Error::RolloutTooLarge {
                fleet: app.slug.clone(),
                chars: encoded,
            });
        }
        let names: BTreeMap<i64, Named> = follows
            .iter()
            .map(|d| (d.id, who(&d.uuid, d.device_name.as_deref())))
            .collect();
        let mut report = self.empty_report(Ending::Planned);
        report.left_alone = left_alone;
        report.pinned_before = state.pre.len();
        for i in 0..state.wave_count() {
            let devices: Vec<Named> = names
                .iter()
                .filter(|(id, _)| wave_has(&state, i, **id))
                .map(|(_, n)| n.clone())
                .collect();
            report.waves.push(WaveReport {
                label: state.wave_label(i),
                devices,
                ..WaveReport::default()
            });
        }
        report.fleet_changes = self.plan_words(&state);
        report.fleet_after = match self.final_patch(before, self.fleet.latest.as_ref()) {
            FleetPatch::TrackLatest(_) => target_of(true, Some(self.release)),
            FleetPatch::PinTo(_) => target_of(false, Some(self.release)),
        };
        Ok(Planned { state, report })
    }

    fn plan_words(&self, st: &State) -> Vec<String> {
        let app = self.app();
        let mut out = Vec::new();
        if let FleetBefore::TrackedLatest(Some(_)) = st.fleet_before {
            out.push(format!(
                "the fleet tracks the latest release: it is frozen on {} for the rollout",
                short_or_none(app.target())
            ));
        }
        out.push(self.final_words(st.fleet_before, self.fleet.latest.as_ref()));
        out.push(
            "then the wave devices' pins are removed: they follow the fleet, which targets the \
             release"
                .into(),
        );
        out
    }

    async fn canary_ids(
        &self,
        c: &Canary,
        spec: &str,
        follows: &[&Listed],
    ) -> Result<Vec<i64>, Error> {
        match c {
            Canary::Uuids(us) => {
                let mut ids = Vec::new();
                for u in us {
                    let hits: Vec<&&Listed> = follows
                        .iter()
                        .filter(|d| d.uuid.starts_with(u.as_str()))
                        .collect();
                    match hits.as_slice() {
                        [d] => ids.push(d.id),
                        [] => {
                            return Err(Error::NoDevicesSelected {
                                what: format!(
                                    "--canary {spec}: no device {u} of fleet {} follows the fleet",
                                    self.app().slug
                                ),
                            })
                        }
                        many => {
                            return Err(Error::DeviceAmbiguous {
                                arg: u.clone(),
                                candidates: many.iter().map(|d| d.uuid.clone()).collect(),
                            })
                        }
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                Ok(ids)
            }
            Canary::Tag { .. } => {
                let tag = tag_filter(spec.trim()).ok_or_else(|| {
                    crate::error::usage(
                        &format!("invalid --canary {spec:?}"),
                        "--canary KEY[=VALUE]",
                    )
                })?;
                #[derive(Deserialize)]
                struct Id {
                    id: i64,
                }
                let rows: Vec<Id> = pages(
                    self.api,
                    &["id"],
                    Filter::And(vec![of_fleet(self.app().id), tag]),
                    |d: &Id| d.id,
                )
                .await?;
                let follow: BTreeSet<i64> = follows.iter().map(|d| d.id).collect();
                Ok(rows
                    .into_iter()
                    .map(|r| r.id)
                    .filter(|id| follow.contains(id))
                    .collect())
            }
        }
    }

    /// Writes the state, then freezes a fleet that tracks latest on its target.
    async fn start(
        &self,
        store: &mut Store<'_>,
        state: State,
        obs: &mut dyn Observer,
    ) -> Result<State, Error> {
        match store.save(&state).await? {
            Saved::Done => {}
            Saved::Changed(now) => {
                return Err(match now.as_deref().map(State::decode) {
                    Some(Ok(s)) if s.phase.in_progress() => self.busy(&s).await,
                    _ => Error::RolloutBusy {
                        fleet: self.app().slug.clone(),
                        detail: "another run started a rollout at the same time".into(),
                    },
                })
            }
        }
        obs.event(Event::Note(format!(
            "started the rollout of {} to fleet {}: {} waves",
            short(self.release),
            self.app().slug,
            state.wave_count()
        )));
        if let FleetBefore::TrackedLatest(Some(t)) = state.fleet_before {
            self.freeze(t, obs).await?;
        }
        Ok(state)
    }

    async fn freeze(&self, target: i64, obs: &mut dyn Observer) -> Result<(), Error> {
        let app = self.app();
        outcome::patch_fleet(self.api, app.id, &app.slug, &FleetPatch::PinTo(target)).await?;
        obs.event(Event::Note(format!(
            "froze fleet {} on {} (it tracked the latest release)",
            app.slug,
            short_or_none(app.target())
        )));
        Ok(())
    }

    /// From `state` on: the waves, then the end (or the rollback).
    async fn drive(
        &self,
        store: &mut Store<'_>,
        mut state: State,
        obs: &mut dyn Observer,
    ) -> Result<Report, (Option<Report>, Error)> {
        let mut waves: BTreeMap<usize, WaveReport> = BTreeMap::new();
        let result = self.waves(store, &mut state, &mut waves, obs).await;
        let mut report = match self.report_of(&state).await {
            Ok(r) => r,
            Err(e) => return Err((None, e)),
        };
        for (i, w) in waves {
            for d in &w.left_alone {
                if !report.left_alone.contains(d) {
                    report.left_alone.push(d.clone());
                }
            }
            if let Some(slot) = report.waves.get_mut(i) {
                *slot = w;
            }
        }
        let abort = match result {
            Ok(ending) => {
                report.ending = ending;
                return match conflicts_error(&report) {
                    Some(e) => Err((Some(report), e)),
                    None => Ok(report),
                };
            }
            Err(Interrupt::Err(e)) => return Err((Some(report), e)),
            Err(Interrupt::Failed) => AbortReason::Budget,
            Err(Interrupt::Aborted(s)) => {
                state = s;
                state.reason.unwrap_or(AbortReason::Requested)
            }
        };
        match self.roll_back(store, &mut state, abort, obs).await {
            Ok(notes) => report.fleet_changes = notes,
            Err(e) => return Err((Some(report), e)),
        }
        report.ending = Ending::RolledBack(abort);
        report.fleet_after = self
            .fleet_now()
            .await
            .unwrap_or(report.fleet_before.clone());
        report.wave = state.wave;
        let e = Error::RolloutRolledBack {
            fleet: self.app().slug.clone(),
            release: short(self.release),
            reason: abort.describe().into(),
            failed: report.failed(),
        };
        Err((Some(report), e))
    }

    async fn fleet_now(&self) -> Result<FleetTarget, Error> {
        let app: Application = self
            .api
            .get_one(&odata::entity_path(
                "application",
                self.app().id,
                &fleet_query(),
            ))
            .await?
            .ok_or_else(|| Error::FleetNotFound(self.app().slug.clone()))?;
        Ok(target_of(app.tracks_latest(), app.target()))
    }

    /// The report of `state`'s plan (the waves' devices are not listed).
    async fn report_of(&self, st: &State) -> Result<Report, Error> {
        let mut report = self.empty_report(Ending::Planned);
        report.wave = st.wave;
        report.pinned_before = st.pre.len();
        let before_rel = match st.fleet_before.target() {
            Some(id) if Some(id) == self.app().target().map(|r| r.id) => {
                self.app().target().cloned()
            }
            Some(id) => release_by_id(self.api, id).await?,
            None => None,
        };
        report.fleet_before = target_of(
            matches!(st.fleet_before, FleetBefore::TrackedLatest(_)),
            before_rel.as_ref(),
        );
        report.fleet_after = match self.final_patch(st.fleet_before, self.fleet.latest.as_ref()) {
            FleetPatch::TrackLatest(_) => target_of(true, Some(self.release)),
            FleetPatch::PinTo(_) => target_of(false, Some(self.release)),
        };
        report.fleet_changes = self.plan_words(st);
        for i in 0..st.wave_count() {
            report.waves.push(WaveReport {
                label: st.wave_label(i),
                ..WaveReport::default()
            });
        }
        Ok(report)
    }

    async fn waves(
        &self,
        store: &mut Store<'_>,
        st: &mut State,
        out: &mut BTreeMap<usize, WaveReport>,
        obs: &mut dyn Observer,
    ) -> Result<Ending, Interrupt> {
        if st.phase == Phase::Aborting {
            return Err(Interrupt::Aborted(st.clone()));
        }
        let mut stepped = false;
        while st.phase == Phase::Running {
            let i = st.wave;
            if st.stage == Stage::Healthy {
                if i + 1 == st.wave_count() {
                    st.phase = Phase::Finishing;
                    store.advance(st).await?;
                    break;
                }
                if stepped && self.options.next {
                    return Ok(Ending::Stepped);
                }
                if stepped && !self.options.pause.is_zero() {
                    obs.event(Event::Note(format!(
                        "pausing {} before the next wave",
                        humantime::format_duration(self.options.pause)
                    )));
                    tokio::time::sleep(self.options.pause).await;
                }
                st.wave = i + 1;
                st.stage = Stage::Pinning;
                continue;
            }
            let mut report = WaveReport {
                label: st.wave_label(i),
                ..WaveReport::default()
            };
            let mut members = if st.stage == Stage::Pinning {
                st.wave_at = now_secs();
                store.advance(st).await?;
                let m = self.pin_wave(st, i, &mut report).await?;
                st.stage = Stage::Gating;
                store.advance(st).await?;
                obs.event(Event::Note(format!(
                    "wave {} of {} ({}): pinned {} to {}",
                    i + 1,
                    st.wave_count(),
                    report.label,
                    crate::policy::waves::devices_word(m.len()),
                    short(self.release)
                )));
                Some(m)
            } else {
                None
            };
            let healthy = self
                .gate(store, st, i, &mut members, &mut report, obs)
                .await;
            out.insert(i, report);
            healthy?;
            st.stage = Stage::Healthy;
            store.advance(st).await?;
            stepped = true;
        }
        if st.phase == Phase::Finishing {
            self.finish(st, obs).await?;
            st.phase = Phase::Done;
            store.advance(st).await?;
            obs.event(Event::Note(format!(
                "the rollout of {} is complete",
                short(self.release)
            )));
        }
        Ok(match st.phase {
            Phase::Done => Ending::Completed,
            _ => Ending::Stepped,
        })
    }

    /// Pins wave `i`'s devices that follow the fleet (conditional on that). Returns the
    /// wave's members: the devices pinned to the release now.
    async fn pin_wave(
        &self,
        st: &State,
        i: usize,
        report: &mut WaveReport,
    ) -> Result<BTreeMap<i64, Named>, Interrupt> {
        let rid = self.release.id;
        let devices = read_wave(self.api, self.app().id, st, i).await?;
        let mut members = BTreeMap::new();
        let mut todo: Vec<(i64, Box<str>)> = Vec::new();
        let mut names = BTreeMap::new();
        for d in &devices {
            names.insert(d.id, d.who());
            match d.pinned.id() {
                Some(p) if p == rid => {
                    members.insert(d.id, d.who());
                }
                Some(_) => report.left_alone.push(d.who()),
                None => todo.push((d.id, d.uuid.clone().into_boxed_str())),
            }
        }
        let patch = DevicePatch::PinTo(rid);
        let ids: Vec<i64> = todo.iter().map(|(id, _)| *id).collect();
        let path_of = |c: &[i64]| {
            odata::path(
                "device",
                &Query::new().filter(outcome::conditional(c, None)),
            )
        };
        let mut at = 0;
        for chunk in id_chunks(&ids, path_of) {
            let part = &todo[at..at + chunk.len()];
            at += chunk.len();
            let written = self.api.patch(&path_of(&chunk), &patch).await;
            let failed = outcome::settle_devices(self.api, part, &patch, None, written).await;
            let mut bad: BTreeSet<i64> = BTreeSet::new();
            for (id, e) in failed {
                match e {
                    Error::Conflict { now, .. } => {
                        report
                            .conflicts
                            .push((names.get(&id).cloned().unwrap_or_default(), now));
                        bad.insert(id);
                    }
                    e => return Err(Interrupt::Err(e)),
                }
            }
            for (id, _) in part {
                if !bad.contains(id) {
                    members.insert(*id, names.get(id).cloned().unwrap_or_default());
                }
            }
        }
        report.devices = members.values().cloned().collect();
        Ok(members)
    }

    /// Waits for wave `i`'s devices, then soaks. `members`: the devices this run pinned,
    /// when it did (on a resume, the devices of the wave pinned to the release).
    #[allow(clippy::too_many_arguments)]
    async fn gate(
        &self,
        store: &mut Store<'_>,
        st: &State,
        i: usize,
        members: &mut Option<BTreeMap<i64, Named>>,
        report: &mut WaveReport,
        obs: &mut dyn Observer,
    ) -> Result<(), Interrupt> {
        let rid = self.release.id;
        let waves = st.wave_count();
        let mut pause = POLL_FIRST;
        let mut soak_from: Option<Instant> = None;
        let mut conflicted: BTreeMap<i64, (Named, String)> = BTreeMap::new();
        loop {
            let devices = read_wave(self.api, self.app().id, st, i).await?;
            let now = now_secs();
            let mut counts = crate::policy::waves::WaveCounts::default();
            let mut failed = Vec::new();
            let mut offline = Vec::new();
            let mut seen = Vec::new();
            for d in &devices {
                let member = match members {
                    Some(m) => m.contains_key(&d.id),
                    None => d.pinned.id() == Some(rid),
                };
                if !member {
                    continue;
                }
                seen.push(d.who());
                let h = judge(d, rid, st.wave_at, now, self.options.step_timeout);
                match h {
                    Health::Conflict => {
                        let holds = match d.pinned.id() {
                            Some(p) => format!("pinned to release {p}"),
                            None => "following its fleet".into(),
                        };
                        conflicted.insert(d.id, (d.who(), holds));
                        continue;
                    }
                    Health::Failed(f) => failed.push((d.who(), f)),
                    Health::OfflineAtStart => offline.push(d.who()),
                    _ => {}
                }
                counts.add(h);
            }
            if let Some(m) = members {
                for id in conflicted.keys() {
                    m.remove(id);
                }
            } else {
                // A resume: the wave is what is pinned to the release now.
                *members = Some(
                    devices
                        .iter()
                        .filter(|d| d.pinned.id() == Some(rid))
                        .map(|d| (d.id, d.who()))
                        .collect(),
                );
            }
            counts.conflicts = conflicted.len();
            report.counts = counts;
            report.failed = failed;
            report.offline = offline;
            report.devices = seen;
            for c in conflicted.values() {
                if !report.conflicts.contains(c) {
                    report.conflicts.push(c.clone());
                }
            }
            let over = counts.failed > st.budget.allowed(counts.counted());
            if over {
                obs.event(Event::WaveDone {
                    wave: i,
                    waves,
                    label: report.label.clone(),
                    counts,
                    healthy: false,
                });
                return Err(Interrupt::Failed);
            }
            // Everything counted has settled: on the release, or failed within the budget.
            if counts.pending == 0 {
                let from = *soak_from.get_or_insert_with(Instant::now);
                let left = self.options.soak.saturating_sub(from.elapsed());
                obs.event(Event::Polled {
                    wave: i,
                    waves,
                    label: report.label.clone(),
                    counts,
                    soak_left: Some(left),
                });
                if left.is_zero() {
                    report.healthy = true;
                    obs.event(Event::WaveDone {
                        wave: i,
                        waves,
                        label: report.label.clone(),
                        counts,
                        healthy: true,
                    });
                    return Ok(());
                }
            } else {
                soak_from = None;
                obs.event(Event::Polled {
                    wave: i,
                    waves,
                    label: report.label.clone(),
                    counts,
                    soak_left: None,
                });
            }
            // An abort from elsewhere?
            let tag = read_tag(self.api, self.app().id).await?;
            if tag != store.text {
                return Err(store.changed(tag));
            }
            let mut wait = pause;
            if let Some(from) = soak_from {
                wait = wait.min(
                    self.options
                        .soak
                        .saturating_sub(from.elapsed())
                        .max(Duration::from_millis(50)),
                );
            }
            tokio::time::sleep(wait).await;
            pause = (pause * 3 / 2).min(POLL_MAX);
        }
    }

    async fn finish(&self, st: &State, obs: &mut dyn Observer) -> Result<(), Interrupt> {
        let app = self.app();
        let latest = latest_trackable(self.api, app.id).await?;
        let patch = self.final_patch(st.fleet_before, latest.as_ref());
        outcome::patch_fleet(self.api, app.id, &app.slug, &patch).await?;
        obs.event(Event::Note(match patch {
            FleetPatch::TrackLatest(_) => format!(
                "fleet {} tracks the latest release again ({})",
                app.slug,
                short(self.release)
            ),
            FleetPatch::PinTo(_) => format!("pinned fleet {} to {}", app.slug, short(self.release)),
        }));
        let n = unpin_all(self.api, app.id, st).await?;
        obs.event(Event::Note(format!(
            "removed the rollout's pins from {}: they follow the fleet",
            crate::policy::waves::devices_word(n)
        )));
        Ok(())
    }

    async fn roll_back(
        &self,
        store: &mut Store<'_>,
        st: &mut State,
        reason: AbortReason,
        obs: &mut dyn Observer,
    ) -> Result<Vec<String>, Error> {
        if st.phase != Phase::Aborting && st.phase != Phase::RolledBack {
            st.phase = Phase::Aborting;
            st.reason = Some(reason);
            match store.save(st).await? {
                Saved::Done => {}
                Saved::Changed(now) => match now.as_deref().map(State::decode) {
                    Some(Ok(s)) if !s.phase.in_progress() || s.phase == Phase::Aborting => *st = s,
                    _ => {
                        return Err(Error::RolloutBusy {
                            fleet: self.app().slug.clone(),
                            detail:
                                "its state was changed by another run while this one rolled it back"
                                    .into(),
                        })
                    }
                },
            }
        }
        obs.event(Event::Note(format!("rolling back: {}", reason.describe())));
        let notes = undo(self.api, self.app(), st, obs).await?;
        if st.phase != Phase::RolledBack {
            st.phase = Phase::RolledBack;
            if let Saved::Changed(now) = store.save(st).await? {
                // Someone else finished the rollback first: theirs stands.
                store.text = now;
            }
        }
        Ok(notes)
    }
}

/// The members of the rollout pinned to the release now (not those pinned before it).
async fn pinned_members(
    api: &Client,
    fleet_id: i64,
    st: &State,
) -> Result<Vec<(i64, Box<str>)>, Error> {
    #[derive(Deserialize)]
    struct Row {
        id: i64,
        #[serde(default)]
        uuid: String,
    }
    let rows: Vec<Row> = pages(
        api,
        &["id", "uuid"],
        Filter::And(vec![
            of_fleet(fleet_id),
            Filter::eq("is_pinned_on__release", st.release),
            Filter::Le("id".into(), Lit::Int(st.max_id)),
        ]),
        |r: &Row| r.id,
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter(|r| st.pre.binary_search(&r.id).is_err())
        .map(|r| (r.id, r.uuid.into_boxed_str()))
        .collect())
}

/// Removes the rollout's pins, conditional on their still being the release's.
async fn unpin_all(api: &Client, fleet_id: i64, st: &State) -> Result<usize, Error> {
    let todo = pinned_members(api, fleet_id, st).await?;
    let patch = DevicePatch::Unpin;
    let before = Some(st.release);
    let ids: Vec<i64> = todo.iter().map(|(id, _)| *id).collect();
    let path_of = |c: &[i64]| {
        odata::path(
            "device",
            &Query::new().filter(outcome::conditional(c, before)),
        )
    };
    let mut at = 0;
    let mut done = 0;
    for chunk in id_chunks(&ids, path_of) {
        let part = &todo[at..at + chunk.len()];
        at += chunk.len();
        let written = api.patch(&path_of(&chunk), &patch).await;
        let failed = outcome::settle_devices(api, part, &patch, before, written).await;
        for (_, e) in &failed {
            if !matches!(e, Error::Conflict { .. }) {
                return Err(e.clone());
            }
        }
        done += part.len() - failed.len();
    }
    Ok(done)
}

/// The error for a report with conflicts (exit 9), if any.
fn conflicts_error(report: &Report) -> Option<Error> {
    let devices = report.conflicts();
    (!devices.is_empty()).then(|| Error::RolloutConflicts {
        fleet: report.fleet.clone(),
        devices,
    })
}

fn wave_has(st: &State, i: usize, id: i64) -> bool {
    st.wave_of(id) == Some(i)
}

/// Rolls back a rollout whose state says `Aborting`: the devices it pinned follow the
/// fleet again, then the fleet goes back to what it was (see the module's doc).
async fn undo(
    api: &Client,
    app: &Application,
    st: &State,
    obs: &mut dyn Observer,
) -> Result<Vec<String>, Error> {
    let mut notes = Vec::new();
    let n = unpin_all(api, app.id, st).await?;
    let mut note = |obs: &mut dyn Observer, line: String| {
        obs.event(Event::Note(line.clone()));
        notes.push(line);
    };
    note(
        obs,
        format!(
            "removed the rollout's pins from {}: they follow the fleet again",
            crate::policy::waves::devices_word(n)
        ),
    );
    if let FleetBefore::TrackedLatest(Some(old)) = st.fleet_before {
        let latest = latest_trackable(api, app.id).await?;
        if latest.as_ref().map(|r| r.id) == Some(old) {
            outcome::patch_fleet(api, app.id, &app.slug, &FleetPatch::TrackLatest(Some(old)))
                .await?;
            note(
                obs,
                format!("fleet {} tracks the latest release again", app.slug),
            );
        } else {
            note(
                obs,
                format!(
                    "fleet {} stays frozen on its release from before the rollout: a newer \
                 trackable release exists, which tracking latest would deploy to every device \
                 (run `balena fleet track-latest {}` to track it)",
                    app.slug, app.slug
                ),
            );
        }
    } else {
        note(obs, format!("fleet {} was not changed", app.slug));
    }
    Ok(notes)
}

/// `fleet rollout abort <fleet>`: marks the rollout as aborting (so a run in progress stops),
/// then rolls it back. Returns the state after.
pub async fn abort(
    api: &Client,
    app: &Application,
    obs: &mut dyn Observer,
) -> Result<State, Error> {
    let text = read_tag(api, app.id).await?;
    let Some(mut st) = text
        .as_deref()
        .map(|t| State::decode(t).map_err(|why| damaged(app, &why)))
        .transpose()?
    else {
        return Err(Error::NoRollout {
            fleet: app.slug.clone(),
        });
    };
    if !st.phase.in_progress() {
        return Err(Error::NoRollout {
            fleet: app.slug.clone(),
        });
    }
    let mut store = Store { api, app, text };
    if st.phase != Phase::Aborting {
        st.phase = Phase::Aborting;
        st.reason = Some(AbortReason::Requested);
        if let Saved::Changed(now) = store.save(&st).await? {
            return Err(match now.as_deref().map(State::decode) {
                Some(Ok(s)) if s.phase == Phase::Done => Error::NoRollout {
                    fleet: app.slug.clone(),
                },
                _ => Error::RolloutBusy {
                    fleet: app.slug.clone(),
                    detail: "its state changed while aborting: run the abort again".into(),
                },
            });
        }
    }
    obs.event(Event::Note(format!(
        "aborting the rollout of fleet {}",
        app.slug
    )));
    undo(api, app, &st, obs).await?;
    st.phase = Phase::RolledBack;
    if let Saved::Changed(now) = store.save(&st).await? {
        store.text = now;
    }
    Ok(st)
}

/// `fleet rollout status <fleet>`: the state, the release, and each wave's devices now.
pub async fn status(
    api: &Client,
    app: &Application,
) -> Result<(State, Option<Release>, Vec<WaveStatus>), Error> {
    let Some(st) = read_state(api, app).await? else {
        return Err(Error::NoRollout {
            fleet: app.slug.clone(),
        });
    };
    let release = release_by_id(api, st.release).await?;
    let mut waves = Vec::new();
    for i in 0..st.wave_count() {
        let mut w = WaveStatus {
            label: st.wave_label(i),
            ..WaveStatus::default()
        };
        let reached = i < st.wave || (i == st.wave && st.stage != Stage::Pinning);
        let devices = read_wave(api, app.id, &st, i).await?;
        let now = now_secs();
        for d in &devices {
            let pinned_here = d.pinned.id() == Some(st.release);
            let running = d.running.id() == Some(st.release);
            match (st.phase, reached) {
                // Finished: the devices that followed the fleet run the release, or not yet.
                (Phase::Done, _) => {
                    if d.pinned.id().is_some() && !pinned_here {
                        continue;
                    }
                    w.devices += 1;
                    if running {
                        w.on_target += 1;
                    } else {
                        w.pending += 1;
                    }
                }
                (_, true) => {
                    if !pinned_here {
                        continue;
                    }
                    w.devices += 1;
                    let at = if i == st.wave {
                        st.wave_at
                    } else {
                        st.started_at
                    };
                    match judge(d, st.release, at, now, Duration::from_secs(u64::MAX / 4)) {
                        Health::OnRelease => w.on_target += 1,
                        Health::Failed(_) => w.failed += 1,
                        Health::OfflineAtStart => w.offline += 1,
                        _ => w.pending += 1,
                    }
                }
                (Phase::RolledBack, _) => {
                    if d.pinned.id().is_none() {
                        w.devices += 1;
                    }
                }
                (_, false) => {
                    if d.pinned.id().is_some() {
                        continue;
                    }
                    w.devices += 1;
                    w.pending += 1;
                }
            }
        }
        waves.push(w);
    }
    Ok((st, release, waves))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wave_filters_are_ranges_or_id_chunks() {
        let r = wave_filters(
            7,
            WaveSpec::Range {
                after: 10,
                upto: 20,
            },
        );
        assert_eq!(
            r[0].render(),
            "(belongs_to__application%20eq%207)%20and%20(id%20gt%2010)%20and%20(id%20le%2020)"
        );
        let ids: Vec<i64> = (1..=3000).map(|i| i * 1000).collect();
        let c = wave_filters(7, WaveSpec::Ids(&ids));
        assert!(c.len() > 1);
        for f in &c {
            assert!(
                odata::path("device", &Query::new().filter(f.clone())).len()
                    <= balena_api::chunk::MAX_PATH
            );
        }
    }
}
