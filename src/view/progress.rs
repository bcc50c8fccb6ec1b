//! `--wait` progress on stderr: an indicatif bar on a terminal, otherwise one plain line per
//! change in the counts (not one per poll), so CI logs stay short.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Printer;
use crate::policy::rollout::{Counts, RolloutObserver, WaitOutcome};

/// `12/40 devices on target · 3 updating · 1 offline`
pub fn counts_line(c: &Counts) -> String {
    format!(
        "{}/{} devices on target \u{b7} {} updating \u{b7} {} offline",
        c.on_target, c.online, c.updating, c.offline
    )
}

/// The line printed when the counts change (no terminal).
pub fn progress_line(label: &str, c: &Counts) -> String {
    if label.is_empty() {
        format!("Waiting: {}", counts_line(c))
    } else {
        format!("Waiting for {label}: {}", counts_line(c))
    }
}

/// The closing line.
pub fn final_line(c: &Counts, complete: bool, elapsed: Duration) -> String {
    let secs = format!("{:.1}s", elapsed.as_secs_f64());
    let skipped = if c.offline > 0 {
        format!(" ({} offline, skipped)", c.offline)
    } else {
        String::new()
    };
    if complete {
        format!(
            "Done: {}/{} devices on target{skipped} after {secs}",
            c.on_target, c.online
        )
    } else {
        format!("Timed out after {secs}: {}", counts_line(c))
    }
}

/// The offline devices a wait skipped, under its closing line (stderr, human output only):
/// `offline, skipped:` then `  uuid (name)` lines, at most [`super::table::LIST_LIMIT`].
pub fn offline(p: &Printer, w: &WaitOutcome) {
    if p.json {
        return;
    }
    let all: Vec<_> = w.offline().collect();
    if all.is_empty() {
        return;
    }
    let mut s = String::from("offline, skipped:\n");
    for d in all.iter().take(super::table::LIST_LIMIT) {
        let name = match d.device_name.as_deref() {
            Some(n) if !n.is_empty() => format!(" ({})", super::safe(n)),
            _ => String::new(),
        };
        s.push_str(&format!("  {}{name}\n", super::safe(&d.uuid)));
    }
    if all.len() > super::table::LIST_LIMIT {
        s.push_str(&format!(
            "  \u{2026} and {} more\n",
            all.len() - super::table::LIST_LIMIT
        ));
    }
    p.err(&s);
}

/// Whether `--wait` draws a bar: stderr is a terminal, no `--debug` lines interleave, and the
/// terminal can move the cursor. With `TERM` unset or `dumb` indicatif draws nothing at all,
/// so the plain progress lines are printed instead.
pub fn use_bar(stderr_is_terminal: bool, debug: bool, term: Option<&str>) -> bool {
    stderr_is_terminal && !debug && term.is_some_and(|t| !t.is_empty() && t != "dumb")
}

/// The bar's template: only the spinner and the elapsed time are fixed (7 columns); the rest
/// is [`bar_message`], which `wide_msg` cuts to the terminal's width, so the line never
/// wraps. The counts come first in the message, so they stay visible on a narrow terminal
/// (50 columns), where the drawn bar and the label are what is cut.
pub const BAR_TEMPLATE: &str = "{spinner} {elapsed:>4} {wide_msg}";

/// Width of the drawn bar in [`bar_message`].
const BAR_WIDTH: usize = 20;

/// `12/40 devices on target · 3 updating · 1 offline [=====>     ] label`
pub fn bar_message(label: &str, c: &Counts) -> String {
    let filled = (c.on_target.min(c.online) * BAR_WIDTH)
        .checked_div(c.online)
        .unwrap_or(BAR_WIDTH);
    let mut bar = "=".repeat(filled);
    if filled < BAR_WIDTH {
        bar.push('>');
        bar.push_str(&" ".repeat(BAR_WIDTH - filled - 1));
    }
    let mut s = format!("{} [{bar}]", counts_line(c));
    if !label.is_empty() {
        s.push(' ');
        s.push_str(&super::safe(label));
    }
    s
}

enum Mode {
    Bar(ProgressBar),
    Lines,
}

/// The progress display of one wait.
pub struct WaitProgress<'a> {
    printer: &'a Printer,
    mode: Mode,
    label: String,
    last: Option<Counts>,
}

impl<'a> WaitProgress<'a> {
    /// A bar when the printer draws one (stderr is a terminal and `--debug` lines are not
    /// interleaved), else lines.
    pub fn start(printer: &'a Printer, label: &str) -> WaitProgress<'a> {
        WaitProgress::with_mode(printer, label, printer.progress_bar)
    }

    fn with_mode(printer: &'a Printer, label: &str, tty: bool) -> WaitProgress<'a> {
        let target = if tty {
            Some(ProgressDrawTarget::stderr())
        } else {
            None
        };
        WaitProgress::with_target(printer, label, target)
    }

    /// A bar on `target`, or lines without one.
    fn with_target(
        printer: &'a Printer,
        label: &str,
        target: Option<ProgressDrawTarget>,
    ) -> WaitProgress<'a> {
        let mode = if let Some(target) = target {
            let bar = ProgressBar::with_draw_target(Some(0), target);
            let style = ProgressStyle::with_template(BAR_TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(if label.is_empty() {
                "waiting for the first answer".to_owned()
            } else {
                format!("waiting for the first answer {}", super::safe(label))
            });
            bar.enable_steady_tick(Duration::from_millis(120));
            Mode::Bar(bar)
        } else {
            Mode::Lines
        };
        WaitProgress {
            printer,
            mode,
            label: label.to_owned(),
            last: None,
        }
    }
}

impl RolloutObserver for WaitProgress<'_> {
    fn polled(&mut self, c: &Counts) {
        if self.last.as_ref() == Some(c) {
            return;
        }
        self.last = Some(*c);
        match &self.mode {
            Mode::Bar(bar) => {
                bar.set_length(c.online as u64);
                bar.set_position(c.on_target as u64);
                bar.set_message(bar_message(&self.label, c));
            }
            Mode::Lines => self.printer.note(&progress_line(&self.label, c)),
        }
    }

    /// Clears the bar and prints the closing line.
    fn finished(&mut self, c: &Counts, complete: bool, elapsed: Duration) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
        self.printer.note(&final_line(c, complete, elapsed));
    }
}

impl Drop for WaitProgress<'_> {
    fn drop(&mut self) {
        // An error mid-wait: leave no half-drawn bar behind the error message.
        if let Mode::Bar(bar) = &self.mode {
            if !bar.is_finished() {
                bar.finish_and_clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(on_target: usize, online: usize, updating: usize, offline: usize) -> Counts {
        Counts {
            on_target,
            online,
            updating,
            offline,
            changed: 0,
        }
    }

    #[test]
    fn lines() {
        assert_eq!(
            counts_line(&c(12, 40, 3, 1)),
            "12/40 devices on target \u{b7} 3 updating \u{b7} 1 offline"
        );
        assert_eq!(
            progress_line("myorg/myfleet", &c(0, 2, 0, 0)),
            "Waiting for myorg/myfleet: 0/2 devices on target \u{b7} 0 updating \u{b7} 0 offline"
        );
        assert_eq!(
            progress_line("", &c(1, 2, 1, 0)),
            "Waiting: 1/2 devices on target \u{b7} 1 updating \u{b7} 0 offline"
        );
        assert_eq!(
            final_line(&c(2, 2, 0, 1), true, Duration::from_millis(3300)),
            "Done: 2/2 devices on target (1 offline, skipped) after 3.3s"
        );
        assert_eq!(
            final_line(&c(1, 2, 1, 0), false, Duration::from_secs(10)),
            "Timed out after 10.0s: 1/2 devices on target \u{b7} 1 updating \u{b7} 0 offline"
        );
    }

    #[test]
    fn lines_mode_prints_each_change_once() {
        let (printer, out, err) = Printer::buffered(false);
        let mut p = WaitProgress::start(&printer, "o/f");
        p.polled(&c(0, 2, 1, 0));
        p.polled(&c(0, 2, 1, 0));
        p.polled(&c(2, 2, 0, 0));
        p.finished(&c(2, 2, 0, 0), true, Duration::from_millis(1500));
        assert_eq!(out.text(), "");
        assert_eq!(
            err.text(),
            "Waiting for o/f: 0/2 devices on target \u{b7} 1 updating \u{b7} 0 offline\n\
             Waiting for o/f: 2/2 devices on target \u{b7} 0 updating \u{b7} 0 offline\n\
             Done: 2/2 devices on target after 1.5s\n"
        );
    }

    #[test]
    fn the_bar_is_drawn_only_on_a_capable_terminal() {
        assert!(use_bar(true, false, Some("xterm-256color")));
        assert!(!use_bar(true, false, Some("dumb")));
        assert!(!use_bar(true, false, None));
        assert!(!use_bar(true, false, Some("")));
        assert!(!use_bar(true, true, Some("xterm")));
        assert!(!use_bar(false, false, Some("xterm")));
    }

    #[test]
    fn the_bar_message_leads_with_the_counts() {
        assert_eq!(
            bar_message("o/f", &c(10, 20, 3, 1)),
            "10/20 devices on target \u{b7} 3 updating \u{b7} 1 offline \
             [==========>         ] o/f"
        );
        assert_eq!(
            bar_message("", &c(2, 2, 0, 0)),
            "2/2 devices on target \u{b7} 0 updating \u{b7} 0 offline [====================]"
        );
        assert!(bar_message("a\u{1b}b", &c(0, 1, 0, 0)).ends_with("a\\eb"));
    }

    /// A 50-column terminal that keeps what is written to it.
    #[derive(Debug, Clone, Default)]
    struct Narrow(std::sync::Arc<std::sync::Mutex<String>>);

    impl indicatif::TermLike for Narrow {
        fn width(&self) -> u16 {
            50
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            let mut t = self.0.lock().unwrap();
            t.push_str(s);
            t.push('\n');
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.0.lock().unwrap().push('\n');
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn at_50_columns_the_bar_does_not_wrap_and_keeps_its_counts() {
        let term = Narrow::default();
        let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
        let (printer, _, _) = Printer::buffered(false);
        let label = "a-long-organisation/a-long-fleet-name";
        let mut p = WaitProgress::with_target(&printer, label, Some(target));
        p.polled(&c(1234, 20000, 321, 45));
        if let Mode::Bar(bar) = &p.mode {
            bar.tick();
        }
        drop(p);
        let screen = term.0.lock().unwrap().clone();
        let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty(), "{screen:?}");
        for l in &lines {
            assert!(unicode_width::UnicodeWidthStr::width(*l) <= 50, "{l:?}");
        }
        assert!(
            lines
                .iter()
                .any(|l| l.contains("1234/20000 devices on target")),
            "{screen:?}"
        );
    }

    #[test]
    fn bar_mode_does_not_panic_without_a_terminal() {
        let (printer, _, _) = Printer::buffered(false);
        let mut p = WaitProgress::with_mode(&printer, "o/f", true);
        p.polled(&c(0, 2, 1, 0));
        p.polled(&c(2, 2, 0, 0));
        if let Mode::Bar(bar) = &p.mode {
            assert_eq!(bar.position(), 2);
            assert_eq!(bar.length(), Some(2));
        }
        drop(p);
    }
}
