//! The domain of `fleet rollout`: the options (canaries, steps, the failure budget), the
//! plan of waves, the state kept in a fleet tag, and how one device of a wave is judged.
//! Pure: no I/O.
//!
//! - **Waves.** First one wave per `--canary`, then the `--steps` of the remaining devices
//!   that follow the fleet, in device id order (the order they were registered). A step
//!   wave is an id range: the devices of the rollout whose id is above the previous
//!   wave's last id and at most its own.
//! - **Members.** The devices of the rollout are the fleet's devices with an id up to the
//!   largest one at the start ([`State::max_id`]) that followed the fleet then. Devices
//!   pinned to the release before the start are recorded ([`State::pre`]), since they look
//!   like the devices the rollout pinned; devices pinned to anything else are left alone.
//! - **State.** One fleet tag, [`STATE_TAG`], holds [`State`] in a compact, versioned text
//!   form of at most [`MAX_STATE_LEN`] characters ([`State::encode`], [`State::decode`]),
//!   so any machine can show, continue or abort the rollout.
//! - **Health.** [`judge`] tells, for one device of a wave, whether it runs the release,
//!   is pending, is not counted (offline before it was targeted), has failed (and why), or
//!   was re-pinned by someone else.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use balena_api::models::{Nav, Release};
use serde::Deserialize;

use crate::error::{usage, Error};

/// The fleet tag that holds a rollout's state.
pub const STATE_TAG: &str = "balena-rs.rollout";
/// The most characters the state may take (the API's tag values hold up to 1,000).
pub const MAX_STATE_LEN: usize = 1000;
/// The state's format version, its first token.
const VERSION: &str = "brs-rollout/1";
/// `--steps`' default.
pub const DEFAULT_STEPS: &str = "10%,50%,100%";

/// A step of `--steps`: the cumulative share (or count) of the step devices rolled out by
/// the end of that wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Percent(u32),
    Count(u64),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Percent(p) => write!(f, "{p}%"),
            Step::Count(n) => write!(f, "{n}"),
        }
    }
}

/// Parses `--steps`: comma-separated, increasing, each `N%` (1 to 100) or a device count;
/// the last must be `100%`, so every device is rolled out.
pub fn parse_steps(s: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in s.split(',').map(str::trim) {
        let step = if let Some(p) = part.strip_suffix('%') {
            match p.trim().parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => Step::Percent(n),
                _ => {
                    return Err(format!(
                        "invalid step {part:?}: use a percentage from 1% to 100%"
                    ))
                }
            }
        } else {
            match part.parse::<u64>() {
                Ok(n) if n > 0 => Step::Count(n),
                _ => {
                    return Err(format!(
                        "invalid step {part:?}: use a percentage (10%) or a device count (5)"
                    ))
                }
            }
        };
        steps.push(step);
    }
    if steps.last() != Some(&Step::Percent(100)) {
        return Err(format!(
            "invalid steps {s:?}: the last step must be 100% (every device is rolled out)"
        ));
    }
    let pct: Vec<u32> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Percent(p) => Some(*p),
            Step::Count(_) => None,
        })
        .collect();
    if pct.windows(2).any(|w| w[0] >= w[1]) {
        return Err(format!(
            "invalid steps {s:?}: the percentages must increase"
        ));
    }
    Ok(steps)
}

/// `--max-failures`: how many failed devices a wave may have and still pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Count(u64),
    Percent(u32),
}

impl Budget {
    /// How many of a wave's `counted` devices may fail.
    pub fn allowed(self, counted: usize) -> usize {
        match self {
            Budget::Count(n) => n as usize,
            Budget::Percent(p) => counted * p as usize / 100,
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Count(n) => write!(f, "{n}"),
            Budget::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Parses `--max-failures`: `N` devices or `N%` of a wave.
pub fn parse_budget(s: &str) -> Result<Budget, String> {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        return match p.trim().parse::<u32>() {
            Ok(n) if n <= 100 => Ok(Budget::Percent(n)),
            _ => Err(format!("invalid budget {s:?}: use N or N% (0% to 100%)")),
        };
    }
    t.parse::<u64>()
        .map(Budget::Count)
        .map_err(|_| format!("invalid budget {s:?}: use a number of devices (2) or a share (5%)"))
}

/// One `--canary`: devices with a tag (`KEY` or `KEY=VALUE`), or a list of uuids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canary {
    Tag { key: String, value: Option<String> },
    Uuids(Vec<String>),
}

impl Canary {
    /// A list is uuids when every comma-separated item is 7 to 62 hex digits (a full uuid
    /// or a prefix); anything else is a tag, `KEY` or `KEY=VALUE`.
    pub fn parse(s: &str) -> Result<Canary, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("an empty --canary: use a tag (KEY or KEY=VALUE) or uuids".into());
        }
        if let Some((k, v)) = t.split_once('=') {
            if k.trim().is_empty() {
                return Err(format!("invalid canary {s:?}: the tag key is empty"));
            }
            return Ok(Canary::Tag {
                key: k.trim().to_owned(),
                value: Some(v.to_owned()),
            });
        }
        let items: Vec<&str> = t.split(',').map(str::trim).collect();
        let is_uuid =
            |u: &&str| (7..=62).contains(&u.len()) && u.bytes().all(|b| b.is_ascii_hexdigit());
        if items.iter().all(is_uuid) {
            return Ok(Canary::Uuids(
                items.iter().map(|u| u.to_ascii_lowercase()).collect(),
            ));
        }
        if items.len() > 1 {
            return Err(format!(
                "invalid canary {s:?}: a list must be device uuids (7 to 62 hex digits each)"
            ));
        }
        Ok(Canary::Tag {
            key: t.to_owned(),
            value: None,
        })
    }

    /// How the wave is named in the output (after "canary "), and in the state.
    pub fn label(&self) -> String {
        match self {
            Canary::Tag { key, value: None } => key.clone(),
            Canary::Tag {
                key,
                value: Some(v),
            } => format!("{key}={v}"),
            Canary::Uuids(u) if u.len() == 1 => u[0].chars().take(7).collect(),
            Canary::Uuids(u) => format!("{} devices", u.len()),
        }
    }
}

/// What a fleet was before the rollout froze it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetBefore {
    /// It tracked its latest release; its target then.
    TrackedLatest(Option<i64>),
    /// It was pinned (to its target then).
    Pinned(Option<i64>),
}

impl FleetBefore {
    pub fn target(self) -> Option<i64> {
        match self {
            FleetBefore::TrackedLatest(t) | FleetBefore::Pinned(t) => t,
        }
    }
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waves are being rolled out ([`State::wave`], [`State::stage`]).
    Running,
    /// Every wave passed: the fleet is being moved to the release, then the pins removed.
    Finishing,
    /// Finished: the fleet targets the release.
    Done,
    /// Being rolled back.
    Aborting,
    /// Rolled back.
    RolledBack,
}

impl Phase {
    /// Whether the rollout still has work to do (and holds the fleet).
    pub fn in_progress(self) -> bool {
        matches!(self, Phase::Running | Phase::Finishing | Phase::Aborting)
    }

    fn code(self) -> &'static str {
        match self {
            Phase::Running => "run",
            Phase::Finishing => "fin",
            Phase::Done => "done",
            Phase::Aborting => "abt",
            Phase::RolledBack => "rb",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Phase::Running => "in progress",
            Phase::Finishing => "finishing",
            Phase::Done => "completed",
            Phase::Aborting => "rolling back",
            Phase::RolledBack => "aborted and rolled back",
        }
    }
}

/// Where the current wave is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Its pins are being written.
    Pinning,
    /// Pinned: waiting for its devices, then the soak.
    Gating,
    /// Passed its health gate.
    Healthy,
}

impl Stage {
    fn code(self) -> &'static str {
        match self {
            Stage::Pinning => "p",
            Stage::Gating => "g",
            Stage::Healthy => "h",
        }
    }
}

/// Why a rollout was rolled back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortReason {
    /// A wave had more failed devices than `--max-failures`.
    Budget,
    /// `balena fleet rollout abort`.
    Requested,
}

impl AbortReason {
    fn code(self) -> &'static str {
        match self {
            AbortReason::Budget => "budget",
            AbortReason::Requested => "abort",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            AbortReason::Budget => "a wave exceeded its failure budget",
            AbortReason::Requested => "aborted with `balena fleet rollout abort`",
        }
    }
}

/// A rollout's state, as kept in the fleet tag [`STATE_TAG`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The release rolled out.
    pub release: i64,
    pub fleet_before: FleetBefore,
    /// The largest device id of the fleet at the start: devices registered later are not
    /// in the rollout (they follow the fleet).
    pub max_id: i64,
    /// Devices pinned to the release before the start (left alone), sorted.
    pub pre: Vec<i64>,
    /// The canary waves' devices, sorted, one list per wave.
    pub canaries: Vec<Vec<i64>>,
    /// The canary waves' labels' source (`--canary` as given), for the output.
    pub canary_labels: Vec<String>,
    /// The step waves: the last device id of each (inclusive); an empty wave repeats the
    /// previous one's.
    pub cuts: Vec<i64>,
    pub steps: Vec<Step>,
    pub budget: Budget,
    /// A digest of the options that shape the plan (canaries, steps, budget): a re-run
    /// continues only with the same ones.
    pub options: u64,
    pub phase: Phase,
    /// The current wave (0-based, canaries first).
    pub wave: usize,
    pub stage: Stage,
    /// When the current wave's pins were sent (seconds since the epoch).
    pub wave_at: u64,
    /// When the rollout started (seconds since the epoch).
    pub started_at: u64,
    pub reason: Option<AbortReason>,
}

impl State {
    /// How many waves the rollout has.
    pub fn wave_count(&self) -> usize {
        self.canaries.len() + self.cuts.len()
    }

    /// The wave at `i`.
    pub fn wave_spec(&self, i: usize) -> WaveSpec<'_> {
        if i < self.canaries.len() {
            return WaveSpec::Ids(&self.canaries[i]);
        }
        let k = i - self.canaries.len();
        let lo = if k == 0 { 0 } else { self.cuts[k - 1] };
        WaveSpec::Range {
            after: lo,
            upto: self.cuts[k],
        }
    }

    /// The label of wave `i`: its canary, or its step.
    pub fn wave_label(&self, i: usize) -> String {
        if i < self.canaries.len() {
            return self
                .canary_labels
                .get(i)
                .map(|l| format!("canary {l}"))
                .unwrap_or_else(|| "canary".into());
        }
        let k = i - self.canaries.len();
        match self.steps.get(k) {
            Some(s) => format!("step {s}"),
            None => format!("step {}", k + 1),
        }
    }

    /// Whether device `id` is in the rollout and in no canary wave: a step device.
    pub fn is_step_device(&self, id: i64) -> bool {
        id <= self.max_id
            && self.pre.binary_search(&id).is_err()
            && !self.canaries.iter().any(|c| c.binary_search(&id).is_ok())
    }

    /// The wave `id` belongs to, if any (given it followed the fleet at the start).
    pub fn wave_of(&self, id: i64) -> Option<usize> {
        if let Some(i) = self
            .canaries
            .iter()
            .position(|c| c.binary_search(&id).is_ok())
        {
            return Some(i);
        }
        if !self.is_step_device(id) {
            return None;
        }
        let k = self.cuts.iter().position(|&c| id <= c)?;
        Some(self.canaries.len() + k)
    }

    /// The compact text form (see the module's doc).
    pub fn encode(&self) -> String {
        let mut s = String::from(VERSION);
        let mut kv = |k: &str, v: &str| {
            s.push(';');
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        };
        kv("r", &self.release.to_string());
        kv(
            "f",
            &match self.fleet_before {
                FleetBefore::TrackedLatest(t) => format!("L{}", t.unwrap_or(0)),
                FleetBefore::Pinned(t) => format!("P{}", t.unwrap_or(0)),
            },
        );
        kv("m", &self.max_id.to_string());
        kv("ph", self.phase.code());
        kv("w", &self.wave.to_string());
        kv("st", self.stage.code());
        kv("t", &self.wave_at.to_string());
        kv("t0", &self.started_at.to_string());
        let steps: Vec<String> = self.steps.iter().map(Step::to_string).collect();
        kv("s", &steps.join(","));
        kv("b", &self.budget.to_string());
        kv("o", &format!("{:016x}", self.options));
        kv("k", &ids_text(&self.cuts, true));
        if !self.pre.is_empty() {
            kv("p", &ids_text(&self.pre, false));
        }
        if !self.canaries.is_empty() {
            let c: Vec<String> = self.canaries.iter().map(|c| ids_text(c, false)).collect();
            kv("c", &c.join("/"));
            let l: Vec<String> = self.canary_labels.iter().map(|l| label_text(l)).collect();
            kv("cl", &l.join("/"));
        }
        if let Some(r) = self.reason {
            kv("x", r.code());
        }
        s
    }

    /// Reads the text form back; an error names what is wrong (a newer format, a damaged
    /// tag).
    pub fn decode(s: &str) -> Result<State, String> {
        let mut parts = s.trim().split(';');
        let head = parts.next().unwrap_or_default();
        if head != VERSION {
            return Err(if head.starts_with("brs-rollout/") {
                format!("the state's format {head:?} is newer than this balena ({VERSION})")
            } else {
                "not a rollout state".into()
            });
        }
        let mut get = std::collections::HashMap::new();
        for p in parts {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| format!("damaged token {p:?}"))?;
            get.insert(k, v);
        }
        let need = |k: &str| get.get(k).copied().ok_or_else(|| format!("missing {k:?}"));
        let num = |k: &str| -> Result<i64, String> {
            need(k)?.parse().map_err(|_| format!("damaged {k:?}"))
        };
        let f = need("f")?;
        let target = |t: &str| -> Result<Option<i64>, String> {
            let n: i64 = t.parse().map_err(|_| "damaged \"f\"".to_string())?;
            Ok((n != 0).then_some(n))
        };
        let fleet_before = if let Some(t) = f.strip_prefix('L') {
            FleetBefore::TrackedLatest(target(t)?)
        } else if let Some(t) = f.strip_prefix('P') {
            FleetBefore::Pinned(target(t)?)
        } else {
            return Err("damaged \"f\"".into());
        };
        let phase = match need("ph")? {
            "run" => Phase::Running,
            "fin" => Phase::Finishing,
            "done" => Phase::Done,
            "abt" => Phase::Aborting,
            "rb" => Phase::RolledBack,
            other => return Err(format!("unknown phase {other:?}")),
        };
        let stage = match need("st")? {
            "p" => Stage::Pinning,
            "g" => Stage::Gating,
            "h" => Stage::Healthy,
            other => return Err(format!("unknown stage {other:?}")),
        };
        let steps = parse_steps(need("s")?)?;
        let budget = parse_budget(need("b")?)?;
        let options = u64::from_str_radix(need("o")?, 16).map_err(|_| "damaged \"o\"")?;
        let cuts = parse_ids(need("k")?, true)?;
        let pre = get
            .get("p")
            .map(|p| parse_ids(p, false))
            .transpose()?
            .unwrap_or_default();
        let canaries = match get.get("c") {
            Some(c) => c
                .split('/')
                .map(|w| parse_ids(w, false))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let canary_labels = match get.get("cl") {
            Some(l) => l.split('/').map(label_from_text).collect(),
            None => Vec::new(),
        };
        let reason = match get.get("x").copied() {
            None => None,
            Some("budget") => Some(AbortReason::Budget),
            Some("abort") => Some(AbortReason::Requested),
            Some(other) => return Err(format!("unknown reason {other:?}")),
        };
        let state = State {
            release: num("r")?,
            fleet_before,
            max_id: num("m")?,
            pre,
            canaries,
            canary_labels,
            cuts,
            steps,
            budget,
            options,
            phase,
            wave: num("w")? as usize,
            stage,
            wave_at: num("t")? as u64,
            started_at: num("t0")? as u64,
            reason,
        };
        if state.wave > state.wave_count() {
            return Err("damaged \"w\"".into());
        }
        Ok(state)
    }
}

/// The devices of one wave, as a query selects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaveSpec<'a> {
    /// These devices (a canary).
    Ids(&'a [i64]),
    /// The step devices with `after < id <= upto`.
    Range { after: i64, upto: i64 },
}

/// Sorted ids as text: base-36 differences joined by `.`. With `repeats`, a difference of
/// 0 is allowed (an empty step wave repeats the previous cut).
fn ids_text(ids: &[i64], repeats: bool) -> String {
    let mut out = String::new();
    let mut prev = 0;
    for (i, &id) in ids.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        let d = id - prev;
        debug_assert!(d > 0 || (repeats && d == 0), "ids must increase");
        out.push_str(&base36(d.max(0) as u64));
        prev = id;
    }
    out
}

fn parse_ids(s: &str, repeats: bool) -> Result<Vec<i64>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut prev = 0i64;
    let mut ids = Vec::new();
    for d in s.split('.') {
        let d = i64::from_str_radix(d, 36).map_err(|_| format!("damaged id list {s:?}"))?;
        if d < 0 || (d == 0 && !repeats) {
            return Err(format!("damaged id list {s:?}"));
        }
        prev += d;
        ids.push(prev);
    }
    Ok(ids)
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

/// A canary label in the state: the characters the format uses are percent-escaped.
fn label_text(l: &str) -> String {
    let mut out = String::new();
    for c in l.chars() {
        match c {
            ';' | '/' | '%' | '=' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn label_from_text(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let h: String = chars.by_ref().take(2).collect();
            match u8::from_str_radix(&h, 16) {
                Ok(b) => out.push(b as char),
                Err(_) => {
                    out.push('%');
                    out.push_str(&h);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A digest of the options that shape a rollout (FNV-1a, 64 bits): stable across builds
/// and machines.
pub fn options_digest(release: i64, canaries: &[String], steps: &[Step], budget: Budget) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |s: &str| {
        for b in s.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&release.to_string());
    for c in canaries {
        eat(c);
    }
    eat("|");
    for s in steps {
        eat(&s.to_string());
    }
    eat(&budget.to_string());
    h
}

/// Plans the step waves over the step devices (`ids`, sorted): the last id of each wave.
/// Each step's count is its share of all step devices, rounded up; an empty wave repeats
/// the previous cut.
pub fn plan_cuts(ids: &[i64], steps: &[Step], max_id: i64) -> Vec<i64> {
    let n = ids.len() as u64;
    let mut cuts = Vec::new();
    let mut prev_count = 0u64;
    let mut prev_cut = 0i64;
    for (i, s) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        let want = match *s {
            Step::Percent(p) => (n * u64::from(p)).div_ceil(100),
            Step::Count(c) => prev_count.saturating_add(c).min(n),
        };
        let count = want.max(prev_count).min(n);
        let cut = if last {
            // The last wave takes every step device, up to the largest id of the start.
            max_id.max(prev_cut)
        } else if count == 0 {
            prev_cut
        } else {
            ids[count as usize - 1]
        };
        cuts.push(cut);
        prev_count = count;
        prev_cut = cut;
    }
    cuts
}

/// The fields of a device a rollout reads.
pub const DEVICE_FIELDS: &[&str] = &[
    "id",
    "uuid",
    "device_name",
    "is_online",
    "changed_api_heartbeat_state_on__date",
    "update_status",
    "last_update_status_event",
    "is_pinned_on__release",
    "is_running__release",
];

/// One device as a rollout reads it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct RolloutDevice {
    pub id: i64,
    #[serde(default)]
    pub uuid: String,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default)]
    pub is_online: Option<bool>,
    #[serde(default, rename = "changed_api_heartbeat_state_on__date")]
    pub heartbeat_changed: Option<String>,
    #[serde(default)]
    pub update_status: Option<String>,
    #[serde(default)]
    pub last_update_status_event: Option<String>,
    #[serde(default, rename = "is_pinned_on__release")]
    pub pinned: Nav<Release>,
    #[serde(default, rename = "is_running__release")]
    pub running: Nav<Release>,
}

impl RolloutDevice {
    /// How the device is named in the output.
    pub fn who(&self) -> Named {
        Named {
            uuid: self.uuid.clone(),
            name: self.device_name.clone(),
        }
    }
}

/// A device as the output names it: `name (short uuid)` in text, `{"uuid","device_name"}`
/// in JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Named {
    pub uuid: String,
    pub name: Option<String>,
}

impl Named {
    /// `uuid name`, as the error lists name devices.
    pub fn long(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() => format!("{} {n}", self.uuid),
            _ => self.uuid.clone(),
        }
    }
}

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short: String = self.uuid.chars().take(7).collect();
        match &self.name {
            Some(n) if !n.is_empty() => write!(f, "{n} ({short})"),
            _ => f.write_str(&short),
        }
    }
}

impl serde::Serialize for Named {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("uuid", &self.uuid)?;
        m.serialize_entry("device_name", &self.name)?;
        m.end()
    }
}

/// Why a device of a wave failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Rejected,
    Aborted,
    WentOffline,
    TimedOut,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::Rejected => "update rejected",
            Failure::Aborted => "update aborted",
            Failure::WentOffline => "went offline after it was targeted",
            Failure::TimedOut => "did not reach the release within --step-timeout",
        })
    }
}

impl Failure {
    /// The JSON key.
    pub fn code(self) -> &'static str {
        match self {
            Failure::Rejected => "rejected",
            Failure::Aborted => "aborted",
            Failure::WentOffline => "offline",
            Failure::TimedOut => "timeout",
        }
    }
}

/// A device of a wave, judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// It runs the release.
    OnRelease,
    /// Online and on its way.
    Pending,
    /// Offline since before its wave was targeted: not counted.
    OfflineAtStart,
    Failed(Failure),
    /// Someone else pinned it to something other than the release (or unpinned it).
    Conflict,
}

/// Seconds since the epoch of an API timestamp (`2024-01-01T00:00:00.000Z`).
pub fn epoch_secs(ts: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(ts.trim_end_matches('Z')).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// Now, in seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Judges one device of a wave pinned at `wave_at` (seconds) to `release`, at `now`.
/// `pinned_by_us`: the wave's pins were written (a device that follows the fleet then is a
/// conflict).
pub fn judge(
    d: &RolloutDevice,
    release: i64,
    wave_at: u64,
    now: u64,
    step_timeout: Duration,
) -> Health {
    if d.pinned.id() != Some(release) {
        return Health::Conflict;
    }
    if d.running.id() == Some(release) {
        return Health::OnRelease;
    }
    let since_wave = |ts: &Option<String>| {
        ts.as_deref()
            .and_then(epoch_secs)
            .is_some_and(|t| t >= wave_at)
    };
    if d.is_online != Some(true) {
        return if since_wave(&d.heartbeat_changed) {
            Health::Failed(Failure::WentOffline)
        } else {
            Health::OfflineAtStart
        };
    }
    match d.update_status.as_deref() {
        Some("rejected") if since_wave(&d.last_update_status_event) => {
            return Health::Failed(Failure::Rejected)
        }
        Some("aborted") if since_wave(&d.last_update_status_event) => {
            return Health::Failed(Failure::Aborted)
        }
        _ => {}
    }
    if now >= wave_at + step_timeout.as_secs() {
        return Health::Failed(Failure::TimedOut);
    }
    Health::Pending
}

/// The counts of one wave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaveCounts {
    pub on_release: usize,
    pub pending: usize,
    pub offline: usize,
    pub failed: usize,
    pub conflicts: usize,
}

impl WaveCounts {
    pub fn add(&mut self, h: Health) {
        match h {
            Health::OnRelease => self.on_release += 1,
            Health::Pending => self.pending += 1,
            Health::OfflineAtStart => self.offline += 1,
            Health::Failed(_) => self.failed += 1,
            Health::Conflict => self.conflicts += 1,
        }
    }

    /// The devices the gate counts: those online at the start.
    pub fn counted(&self) -> usize {
        self.on_release + self.pending + self.failed
    }

    pub fn total(&self) -> usize {
        self.counted() + self.offline + self.conflicts
    }
}

/// Checks the options that shape a plan before anything is read.
pub fn check_canaries(specs: &[String]) -> Result<Vec<Canary>, Error> {
    specs
        .iter()
        .map(|s| {
            Canary::parse(s).map_err(|m| {
                usage(
                    &m,
                    "balena fleet rollout <fleet> <release> --canary region=eu --canary <uuid,uuid>",
                )
            })
        })
        .collect()
}

/// `1 device`, `12 devices`.
pub fn devices_word(n: usize) -> String {
    if n == 1 {
        "1 device".into()
    } else {
        format!("{n} devices")
    }
}

/// What happened to one wave, for the output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WaveReport {
    /// `canary region=eu`, `step 50%`.
    pub label: String,
    /// The wave's devices (those the rollout pinned), in id order: `name (short uuid)`.
    pub devices: Vec<Named>,
    pub counts: WaveCounts,
    /// Each failed device and why.
    pub failed: Vec<(Named, Failure)>,
    /// Offline since before the wave was targeted: not counted.
    pub offline: Vec<Named>,
    /// Changed by someone else during the rollout, and left alone: who, and what it holds.
    pub conflicts: Vec<(Named, String)>,
    /// Pinned to another release when the wave started: left alone.
    pub left_alone: Vec<Named>,
    /// Passed its health gate.
    pub healthy: bool,
}

/// How a run of `fleet rollout` ended (before any error it returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `--dry-run`: the plan only.
    Planned,
    /// The fleet already targets the release, and no rollout is in progress.
    NoOp,
    /// `--next`: one wave passed; more remain.
    Stepped,
    /// Every wave passed; the fleet targets the release.
    Completed,
    /// Rolled back.
    RolledBack(AbortReason),
}

/// The fleet's policy as a rollout reports it: pinned to a release, or tracking latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetTarget {
    pub tracks_latest: bool,
    /// `a1b2c3d (1.2.0)` or `none`.
    pub release: String,
}

impl fmt::Display for FleetTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tracks_latest {
            write!(f, "tracking the latest release ({})", self.release)
        } else if self.release == "none" {
            f.write_str("no target release")
        } else {
            write!(f, "pinned to {}", self.release)
        }
    }
}

/// A rollout run's report: its plan, what each wave did, and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub fleet: String,
    /// `a1b2c3d (1.2.0)`.
    pub release: String,
    pub ending: Ending,
    /// The waves, all of them (those not reached have no counts).
    pub waves: Vec<WaveReport>,
    /// The wave the rollout is at (0-based) when it stopped.
    pub wave: usize,
    /// Devices pinned to another release before their wave: left alone.
    pub left_alone: Vec<Named>,
    /// Devices pinned to the release before the rollout: left alone (they keep the pin).
    pub pinned_before: usize,
    pub fleet_before: FleetTarget,
    pub fleet_after: FleetTarget,
    /// What the rollout does, or did, to the fleet, in words.
    pub fleet_changes: Vec<String>,
}

impl Report {
    /// Every failed device, with its wave.
    pub fn failed(&self) -> Vec<String> {
        self.waves
            .iter()
            .flat_map(|w| w.failed.iter().map(|(d, f)| format!("{}: {f}", d.long())))
            .collect()
    }

    /// Every device changed by someone else, left alone.
    pub fn conflicts(&self) -> Vec<String> {
        self.waves
            .iter()
            .flat_map(|w| {
                w.conflicts
                    .iter()
                    .map(|(d, n)| format!("{}: now {n}", d.long()))
            })
            .collect()
    }
}

/// What `fleet rollout status` shows of one wave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaveStatus {
    pub label: String,
    pub devices: usize,
    pub on_target: usize,
    pub pending: usize,
    pub failed: usize,
    pub offline: usize,
}

/// What a rollout tells its observer (the progress on stderr) as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A step of the rollout, in words (`froze the fleet on …`, `pinned 12 devices …`).
    Note(String),
    /// A poll of wave `wave` (`label`): its counts, and the soak's time left once every
    /// counted device runs the release.
    Polled {
        wave: usize,
        waves: usize,
        label: String,
        counts: WaveCounts,
        soak_left: Option<Duration>,
    },
    /// Wave `wave` passed (or, with `healthy` false, failed) its gate.
    WaveDone {
        wave: usize,
        waves: usize,
        label: String,
        counts: WaveCounts,
        healthy: bool,
    },
}

/// Receives a rollout's [`Event`]s.
pub trait Observer {
    fn event(&mut self, e: Event);
}

/// An observer that ignores everything (`--json` without a terminal, tests).
pub struct Quiet;

impl Observer for Quiet {
    fn event(&mut self, _: Event) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            release: 42,
            fleet_before: FleetBefore::TrackedLatest(Some(41)),
            max_id: 100_000,
            pre: vec![5, 77],
            canaries: vec![vec![3, 9, 12], vec![200]],
            canary_labels: vec!["region=eu".into(), "a/b;c".into()],
            cuts: vec![1000, 1000, 100_000],
            steps: vec![Step::Percent(10), Step::Count(5), Step::Percent(100)],
            budget: Budget::Percent(5),
            options: 0xdead_beef,
            phase: Phase::Running,
            wave: 2,
            stage: Stage::Gating,
            wave_at: 1_700_000_000,
            started_at: 1_699_999_000,
            reason: None,
        }
    }

    #[test]
    fn state_round_trips() {
        let s = state();
        let text = s.encode();
        assert!(text.starts_with("brs-rollout/1;r=42;f=L41;"), "{text}");
        assert_eq!(State::decode(&text).unwrap(), s);
        let mut rb = s.clone();
        rb.phase = Phase::RolledBack;
        rb.reason = Some(AbortReason::Budget);
        rb.canaries.clear();
        rb.canary_labels.clear();
        rb.pre.clear();
        rb.fleet_before = FleetBefore::Pinned(None);
        assert_eq!(State::decode(&rb.encode()).unwrap(), rb);
    }

    #[test]
    fn state_is_compact() {
        let mut s = state();
        // 100 canary devices with ids about 1,000 apart take about 3 characters each.
        s.canaries = vec![(1..=100).map(|i| 500_000 + i * 997).collect()];
        let text = s.encode();
        assert!(text.len() < 500, "{} characters: {text}", text.len());
    }

    #[test]
    fn damaged_or_newer_states_are_named() {
        assert!(State::decode("brs-rollout/2;r=1")
            .unwrap_err()
            .contains("newer"));
        assert_eq!(State::decode("hello").unwrap_err(), "not a rollout state");
        let text = state().encode().replace(";ph=run", ";ph=zzz");
        assert!(State::decode(&text).unwrap_err().contains("phase"));
    }

    #[test]
    fn steps_and_budgets() {
        assert_eq!(
            parse_steps("10%, 50%,100%").unwrap(),
            vec![Step::Percent(10), Step::Percent(50), Step::Percent(100)]
        );
        assert_eq!(
            parse_steps("5,100%").unwrap(),
            vec![Step::Count(5), Step::Percent(100)]
        );
        assert!(parse_steps("10%,50%").unwrap_err().contains("100%"));
        assert!(parse_steps("50%,10%,100%")
            .unwrap_err()
            .contains("increase"));
        assert!(parse_steps("0%,100%").is_err());
        assert_eq!(parse_budget("3").unwrap(), Budget::Count(3));
        assert_eq!(parse_budget("5%").unwrap(), Budget::Percent(5));
        assert!(parse_budget("x").is_err());
        assert_eq!(Budget::Percent(10).allowed(25), 2);
        assert_eq!(Budget::Count(0).allowed(25), 0);
    }

    #[test]
    fn canary_specs() {
        assert_eq!(
            Canary::parse("region=eu").unwrap(),
            Canary::Tag {
                key: "region".into(),
                value: Some("eu".into())
            }
        );
        assert_eq!(
            Canary::parse("canary").unwrap(),
            Canary::Tag {
                key: "canary".into(),
                value: None
            }
        );
        assert_eq!(
            Canary::parse("ABCDEF1,1234567890abcdef").unwrap(),
            Canary::Uuids(vec!["abcdef1".into(), "1234567890abcdef".into()])
        );
        assert!(Canary::parse("a,b").is_err());
        assert!(Canary::parse("=x").is_err());
    }

    #[test]
    fn cuts_split_the_step_devices() {
        let ids: Vec<i64> = (1..=20).collect();
        let steps = parse_steps("10%,50%,100%").unwrap();
        assert_eq!(plan_cuts(&ids, &steps, 25), vec![2, 10, 25]);
        // Too few devices for the first step: it takes one (rounded up).
        assert_eq!(plan_cuts(&[4, 8, 9], &steps, 9), vec![4, 8, 9]);
        // No step devices: every wave is empty.
        assert_eq!(plan_cuts(&[], &steps, 9), vec![0, 0, 9]);
        let s = state();
        assert_eq!(s.wave_of(3), Some(0));
        assert_eq!(s.wave_of(200), Some(1));
        assert_eq!(s.wave_of(5), None, "pinned to the release before");
        assert_eq!(s.wave_of(999), Some(2));
        assert_eq!(s.wave_of(1000), Some(2));
        assert_eq!(s.wave_of(1001), Some(4), "the empty third wave is skipped");
        assert_eq!(s.wave_of(100_001), None, "registered after the start");
        assert_eq!(s.wave_label(0), "canary region=eu");
        assert_eq!(s.wave_label(2), "step 10%");
    }

    fn device(online: bool, pinned: Option<i64>, running: Option<i64>) -> RolloutDevice {
        RolloutDevice {
            id: 1,
            uuid: "abcdef1234".into(),
            is_online: Some(online),
            pinned: pinned.map_or(Nav::Absent, Nav::Deferred),
            running: running.map_or(Nav::Absent, Nav::Deferred),
            ..RolloutDevice::default()
        }
    }

    #[test]
    fn judging_a_device() {
        let at = 1_700_000_000;
        let to = Duration::from_secs(600);
        let ts = |secs: u64| {
            Some(
                humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_secs(secs))
                    .to_string(),
            )
        };
        assert_eq!(
            judge(&device(true, Some(7), Some(7)), 7, at, at, to),
            Health::OnRelease
        );
        assert_eq!(
            judge(&device(true, Some(7), Some(6)), 7, at, at, to),
            Health::Pending
        );
        assert_eq!(
            judge(&device(true, None, Some(6)), 7, at, at, to),
            Health::Conflict
        );
        assert_eq!(
            judge(&device(true, Some(8), Some(6)), 7, at, at, to),
            Health::Conflict
        );
        assert_eq!(
            judge(&device(true, Some(7), Some(6)), 7, at, at + 600, to),
            Health::Failed(Failure::TimedOut)
        );
        let mut off = device(false, Some(7), Some(6));
        off.heartbeat_changed = ts(at - 5);
        assert_eq!(judge(&off, 7, at, at, to), Health::OfflineAtStart);
        off.heartbeat_changed = ts(at + 5);
        assert_eq!(
            judge(&off, 7, at, at + 6, to),
            Health::Failed(Failure::WentOffline)
        );
        let mut rej = device(true, Some(7), Some(6));
        rej.update_status = Some("rejected".into());
        rej.last_update_status_event = ts(at - 100);
        assert_eq!(
            judge(&rej, 7, at, at, to),
            Health::Pending,
            "an old rejection"
        );
        rej.last_update_status_event = ts(at + 1);
        assert_eq!(
            judge(&rej, 7, at, at + 1, to),
            Health::Failed(Failure::Rejected)
        );
        rej.update_status = Some("aborted".into());
        assert_eq!(
            judge(&rej, 7, at, at + 1, to),
            Health::Failed(Failure::Aborted)
        );
    }
}
