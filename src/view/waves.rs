//! `fleet rollout`: the progress on stderr (a bar per wave on a terminal, else one line per
//! change), the plan and the report on stdout (text or `--json`), and `status`.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use super::progress::BAR_TEMPLATE;
use super::{safe, Printer};
use crate::policy::waves::{
    devices_word, Ending, Event, FleetTarget, Named, Observer, Phase, Report, Stage, State,
    WaveCounts, WaveReport, WaveStatus,
};

/// Width of the drawn bars.
const BAR_WIDTH: usize = 24;

/// At most this many devices are named per list in the text output (`--json` has all).
const NAMES: usize = 20;

/// The progress of a rollout on stderr.
pub struct Progress<'a> {
    printer: &'a Printer,
    bar: Option<ProgressBar>,
    last: Option<(usize, WaveCounts, bool)>,
}

impl<'a> Progress<'a> {
    pub fn start(printer: &'a Printer) -> Progress<'a> {
        Progress {
            printer,
            bar: None,
            last: None,
        }
    }

    fn bar(&mut self) -> &ProgressBar {
        self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(BAR_TEMPLATE)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        })
    }

    fn clear(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// `3/5 on the release · 1 pending · 1 failed · 2 offline (not counted)`
fn counts_text(c: &WaveCounts) -> String {
    let mut s = format!("{}/{} on the release", c.on_release, c.counted());
    if c.pending > 0 {
        s.push_str(&format!(" \u{b7} {} pending", c.pending));
    }
    if c.failed > 0 {
        s.push_str(&format!(" \u{b7} {} failed", c.failed));
    }
    if c.offline > 0 {
        s.push_str(&format!(" \u{b7} {} offline (not counted)", c.offline));
    }
    if c.conflicts > 0 {
        s.push_str(&format!(" \u{b7} {} changed by someone else", c.conflicts));
    }
    s
}

fn wave_name(wave: usize, waves: usize, label: &str) -> String {
    format!("wave {}/{} ({})", wave + 1, waves, safe(label))
}

/// `[=====xx-----]`: on the release, failed, pending, of `total`.
fn bar_text(on: usize, failed: usize, pending: usize, total: usize) -> String {
    let cells = |n: usize| (n * BAR_WIDTH).checked_div(total).unwrap_or(0);
    let (a, b) = (cells(on), cells(failed));
    let c = cells(pending).min(BAR_WIDTH - a - b);
    format!(
        "[{}{}{}{}]",
        "=".repeat(a),
        "x".repeat(b),
        "-".repeat(c),
        " ".repeat(BAR_WIDTH - a - b - c)
    )
}

impl Observer for Progress<'_> {
    fn event(&mut self, e: Event) {
        match e {
            Event::Note(line) => {
                let line = safe(&line).into_owned();
                match &self.bar {
                    Some(b) => b.println(line),
                    None => self.printer.note(&line),
                }
            }
            Event::Polled {
                wave,
                waves,
                label,
                counts,
                soak_left,
            } => {
                let soaking = soak_left.is_some();
                let mut msg = format!(
                    "{}: {}",
                    wave_name(wave, waves, &label),
                    counts_text(&counts)
                );
                if let Some(left) = soak_left {
                    msg.push_str(&format!(
                        " \u{b7} soaking, {}s left",
                        left.as_secs() + u64::from(left.subsec_millis() > 0)
                    ));
                }
                if self.printer.progress_bar {
                    let bar = bar_text(
                        counts.on_release,
                        counts.failed,
                        counts.pending,
                        counts.counted(),
                    );
                    self.bar().set_message(format!("{msg} {bar}"));
                    return;
                }
                if self.last == Some((wave, counts, soaking)) {
                    return;
                }
                self.last = Some((wave, counts, soaking));
                self.printer.note(&msg);
            }
            Event::WaveDone {
                wave,
                waves,
                label,
                counts,
                healthy,
            } => {
                self.clear();
                self.last = None;
                let verdict = if healthy {
                    "healthy"
                } else {
                    "FAILED its health gate"
                };
                self.printer.note(&format!(
                    "{} {verdict}: {}",
                    wave_name(wave, waves, &label),
                    counts_text(&counts)
                ));
            }
        }
    }
}

impl Drop for Progress<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}

fn ending_word(e: Ending) -> &'static str {
    match e {
        Ending::Planned => "planned",
        Ending::NoOp => "no-op",
        Ending::Stepped => "stepped",
        Ending::Completed => "completed",
        Ending::RolledBack(_) => "rolled back",
    }
}

fn target_json(t: &FleetTarget) -> Value {
    json!({"tracking_latest": t.tracks_latest, "release": t.release})
}

/// Whether a wave of a run's report was reached: a wave after the one the run stopped at, with
/// nothing in it, has not started (its devices are chosen when it starts).
fn started(r: &Report, i: usize, w: &WaveReport) -> bool {
    i <= r.wave || w.healthy || !w.devices.is_empty() || w.counts.total() > 0
}

fn wave_json(r: &Report, i: usize, w: &WaveReport, planned: bool) -> Value {
    let mut v = json!({
        "label": w.label,
        "devices": w.devices,
    });
    if !planned {
        let c = &w.counts;
        let m = v.as_object_mut().expect("an object");
        m.insert("started".into(), json!(started(r, i, w)));
        m.insert("healthy".into(), json!(w.healthy));
        m.insert("on_release".into(), json!(c.on_release));
        m.insert("pending".into(), json!(c.pending));
        m.insert(
            "failed".into(),
            w.failed
                .iter()
                .map(|(d, f)| json!({"device": d, "reason": f.code(), "detail": f.to_string()}))
                .collect(),
        );
        m.insert("offline".into(), json!(w.offline));
        m.insert(
            "conflicts".into(),
            w.conflicts
                .iter()
                .map(|(d, n)| json!({"device": d, "now": n}))
                .collect(),
        );
    }
    v
}

/// The plan (`--dry-run`) or the report of a run, on stdout.
pub fn report(p: &Printer, r: &Report) {
    let planned = r.ending == Ending::Planned;
    if p.json {
        let mut v = json!({
            "fleet": r.fleet,
            "release": r.release,
            "result": ending_word(r.ending),
            "wave": r.wave,
            "waves": r
                .waves
                .iter()
                .enumerate()
                .map(|(i, w)| wave_json(r, i, w, planned))
                .collect::<Vec<_>>(),
            "left_alone": r.left_alone,
            "pinned_before": r.pinned_before,
            "fleet_before": target_json(&r.fleet_before),
            "fleet_after": target_json(&r.fleet_after),
            "fleet_changes": r.fleet_changes,
        });
        if let Ending::RolledBack(reason) = r.ending {
            v["reason"] = json!(reason.describe());
        }
        p.json_pretty(&v);
        return;
    }
    let mut s = String::new();
    let head = match r.ending {
        Ending::Planned => "Plan of the rollout",
        _ => "Rollout",
    };
    s.push_str(&format!(
        "{head} of {} to fleet {}: {}\n",
        safe(&r.release),
        safe(&r.fleet),
        match r.ending {
            Ending::Planned => "nothing was changed (dry run)".to_owned(),
            Ending::NoOp => "nothing to do".to_owned(),
            Ending::Stepped => format!(
                "wave {} of {} passed; run the same command again for the next one",
                r.wave + 1,
                r.waves.len()
            ),
            Ending::Completed => "completed".to_owned(),
            Ending::RolledBack(reason) =>
                format!("aborted and rolled back ({})", reason.describe()),
        }
    ));
    for c in &r.fleet_changes {
        s.push_str(&format!("  {}\n", safe(c)));
    }
    if r.ending == Ending::NoOp {
        p.out(&s);
        return;
    }
    s.push_str(&format!("Fleet before: {}\n", r.fleet_before));
    let after_label = match r.ending {
        Ending::Planned | Ending::Stepped => "Fleet at the end",
        _ => "Fleet now",
    };
    s.push_str(&format!("{after_label}: {}\n", r.fleet_after));
    for (i, w) in r.waves.iter().enumerate() {
        if !planned && !started(r, i, w) {
            // Its devices are chosen when it starts: no count to show yet.
            s.push_str(&format!(
                "Wave {}/{} ({}): not started\n",
                i + 1,
                r.waves.len(),
                safe(&w.label)
            ));
            continue;
        }
        s.push_str(&format!(
            "Wave {}/{} ({}): {}",
            i + 1,
            r.waves.len(),
            safe(&w.label),
            devices_word(w.devices.len())
        ));
        if !planned && (w.healthy || w.counts.total() > 0) {
            s.push_str(&format!(
                ", {}{}",
                if w.healthy { "healthy, " } else { "" },
                counts_text(&w.counts)
            ));
        }
        s.push('\n');
        if planned {
            names(&mut s, "  ", &w.devices);
        }
        for (d, f) in &w.failed {
            s.push_str(&format!("  failed: {}: {f}\n", safe(&d.to_string())));
        }
        if !w.offline.is_empty() {
            s.push_str("  offline when targeted (not counted):\n");
            names(&mut s, "    ", &w.offline);
        }
        for (d, n) in &w.conflicts {
            s.push_str(&format!(
                "  changed by someone else, left alone: {} (now {})\n",
                safe(&d.to_string()),
                safe(n)
            ));
        }
    }
    if !r.left_alone.is_empty() {
        s.push_str(&format!(
            "Left alone (pinned to another release): {}\n",
            devices_word(r.left_alone.len())
        ));
        names(&mut s, "  ", &r.left_alone);
    }
    if r.pinned_before > 0 {
        s.push_str(&format!(
            "Already pinned to the release (left pinned): {}\n",
            devices_word(r.pinned_before)
        ));
    }
    p.out(&s);
}

fn names(s: &mut String, indent: &str, all: &[Named]) {
    for d in all.iter().take(NAMES) {
        s.push_str(&format!("{indent}{}\n", safe(&d.to_string())));
    }
    if all.len() > NAMES {
        s.push_str(&format!(
            "{indent}\u{2026} and {} more (--json lists them all)\n",
            all.len() - NAMES
        ));
    }
}

fn stage_word(s: Stage) -> &'static str {
    match s {
        Stage::Pinning => "pinning",
        Stage::Gating => "waiting for its devices",
        Stage::Healthy => "healthy",
    }
}

/// `fleet rollout status`: the rollout's phase and, per wave, its devices on target,
/// pending and failed; as bars on a terminal.
pub fn status(p: &Printer, fleet: &str, st: &State, release: &str, waves: &[WaveStatus]) {
    let started = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_secs(st.started_at),
    )
    .to_string();
    if p.json {
        let v = json!({
            "fleet": fleet,
            "release": release,
            "phase": st.phase.describe(),
            "in_progress": st.phase.in_progress(),
            "wave": st.wave,
            "stage": stage_word(st.stage),
            "started_at": started,
            "reason": st.reason.map(|r| r.describe()),
            "waves": waves.iter().map(|w| json!({
                "label": w.label,
                "devices": w.devices,
                "on_target": w.on_target,
                "pending": w.pending,
                "failed": w.failed,
                "offline": w.offline,
            })).collect::<Vec<_>>(),
        });
        p.json_pretty(&v);
        return;
    }
    let mut s = format!(
        "Rollout of {} to fleet {}: {}",
        safe(release),
        safe(fleet),
        st.phase.describe()
    );
    if st.phase == Phase::Running {
        s.push_str(&format!(
            ", wave {} of {} ({}), {}",
            st.wave + 1,
            st.wave_count(),
            safe(&st.wave_label(st.wave)),
            stage_word(st.stage)
        ));
    }
    if let Some(r) = st.reason {
        s.push_str(&format!(" ({})", r.describe()));
    }
    s.push_str(&format!("\nStarted: {started}\n"));
    let width = waves.iter().map(|w| w.label.len()).max().unwrap_or(0);
    for (i, w) in waves.iter().enumerate() {
        let mut counts = format!("{}/{} on target", w.on_target, w.devices);
        if w.pending > 0 {
            counts.push_str(&format!(", {} pending", w.pending));
        }
        if w.failed > 0 {
            counts.push_str(&format!(", {} failed", w.failed));
        }
        if w.offline > 0 {
            counts.push_str(&format!(", {} offline", w.offline));
        }
        let bar = if p.out_is_terminal {
            format!(
                " {}",
                bar_text(w.on_target, w.failed, w.pending + w.offline, w.devices)
            )
        } else {
            String::new()
        };
        s.push_str(&format!(
            "  {:>2} {:<width$}{bar}  {counts}\n",
            i + 1,
            safe(&w.label),
        ));
    }
    p.out(&s);
}

/// `fleet rollout abort`: what was rolled back.
pub fn aborted(p: &Printer, fleet: &str, release: &str, st: &State) {
    if p.json {
        p.json_pretty(&json!({
            "fleet": fleet,
            "release": release,
            "result": "rolled back",
            "wave": st.wave,
        }));
        return;
    }
    p.out(&format!(
        "Rollout of {} to fleet {}: aborted and rolled back at wave {} of {}\n",
        safe(release),
        safe(fleet),
        st.wave + 1,
        st.wave_count()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_in_order() {
        assert_eq!(bar_text(12, 0, 12, 24), "[============------------]");
        assert_eq!(bar_text(0, 0, 0, 0), format!("[{}]", " ".repeat(24)));
        assert_eq!(bar_text(1, 1, 2, 4), "[======xxxxxx------------]");
    }
}
