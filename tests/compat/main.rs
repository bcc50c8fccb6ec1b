//! The compatibility suite: every run of the official CLI 25.2.6 recorded in
//! `tests/fixtures/compat/official-cli-transcript.md` (a recording mock server, per-run
//! scenarios) and `official-cli-real-server-transcript.md` (the real open-balena-api,
//! seeded with `official-cli-real-server-fixture.json`) is replayed with our `balena`
//! against a fresh `balena-sandbox` in the run's starting state, and compared:
//!
//! - stdout byte for byte, after the masks of [`normalise`] (servers, tokens, and on the real
//!   server ids and creation times);
//! - the exit code: zero vs non-zero (ours are deliberately distinct non-zero values);
//! - the first line of stderr, exactly (after the same masks), where the official run
//!   failed (on success ours confirms on stderr, where the official prints nothing).
//!
//! The documented differences ([`differences`]) are accepted only in their documented form.
//!
//! Every mismatch is collected and the test fails once at the end with all of them. Set
//! `COMPAT_REPORT=<file>` to also get a markdown report with both outputs of each mismatch.
//! Runs the sandbox cannot reproduce are listed in [`mock::NOT_REPLAYABLE`] and
//! [`real::NOT_REPLAYABLE`] with their reason; the test prints how many runs it replayed
//! and skipped.
//!
//! Build both binaries first: `cargo build --workspace --bins && cargo test --test compat`.

mod differences;
mod mock;
mod normalise;
mod real;
mod transcript;

use std::fmt::Write as _;

use balena_testkit::{Out, TestEnv};

use normalise::Normaliser;
use transcript::Run;

/// How one run should be executed: the environment of our CLI.
pub struct Replay {
    /// `BALENARC_API_URL`.
    pub api_url: String,
    /// The token file's content, or none (not logged in).
    pub token: Option<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// The arguments after `balena`.
    pub args: Vec<String>,
}

impl Replay {
    pub fn run(&self) -> Out {
        let mut env = TestEnv::new(&self.api_url);
        for (k, v) in &self.env {
            env = env.env(k, v);
        }
        if let Some(t) = &self.token {
            env.write_token(t);
        }
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        env.run(&args)
    }
}

/// A run left out: (transcript, run name, reason).
pub type Skipped = (&'static str, String, &'static str);

/// A transcript's replay: (runs in it, outcomes of the replayed runs, runs left out).
pub type Replayed = (usize, Vec<Outcome>, Vec<Skipped>);

/// The result of one replayed run.
pub struct Outcome {
    pub transcript: &'static str,
    pub run: Run,
    pub args: Vec<String>,
    pub out: Out,
    /// What differs (empty: the run matches).
    pub diffs: Vec<String>,
    pub expected_stdout: String,
    pub actual_stdout: String,
}

/// Compares a run's recording with our output, both normalised by `n`.
pub fn compare(
    transcript: &'static str,
    run: &Run,
    args: Vec<String>,
    out: Out,
    n: &Normaliser,
) -> Outcome {
    let mut diffs = Vec::new();
    let expected_stdout = n.apply(&run.stdout);
    let actual_stdout = n.apply(&out.stdout);
    let first = |s: &str| n.apply(s.lines().next().unwrap_or(""));
    let (e1, a1) = (first(&run.stderr), first(&out.stderr));
    if let Some((ours, why)) = differences::documented(&run.name) {
        // A documented difference: ours must behave as documented.
        let ok = match ours {
            differences::Ours::Succeeds => out.code == 0,
            differences::Ours::FailsWith(line) => out.code != 0 && a1.starts_with(line),
        };
        if !ok {
            diffs.push(format!(
                "documented difference ({why}) not shown: expected {ours:?}, got exit {} and {a1:?}",
                out.code
            ));
        }
    } else {
        if (run.exit == 0) != (out.code == 0) {
            diffs.push(format!(
                "exit code: expected {} ({}), got {} ({})",
                run.exit,
                zero(run.exit),
                out.code,
                zero(out.code)
            ));
        }
        let added = differences::addition(&args, &expected_stdout);
        let same = expected_stdout == actual_stdout
            || added.is_some_and(|a| a.accepts(&expected_stdout, &actual_stdout));
        if !same {
            diffs.push(first_difference(&expected_stdout, &actual_stdout));
        }
        // On success ours confirms on stderr (documented); a failure's first line must match.
        if run.exit != 0 && e1 != a1 {
            diffs.push(format!(
                "stderr first line:\n    expected: {e1:?}\n    actual:   {a1:?}"
            ));
        }
    }
    Outcome {
        transcript,
        run: run.clone(),
        args,
        out,
        diffs,
        expected_stdout,
        actual_stdout,
    }
}

fn zero(code: i32) -> &'static str {
    if code == 0 {
        "zero"
    } else {
        "non-zero"
    }
}

/// The first differing line of two stdouts, with its number.
fn first_difference(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.split_inclusive('\n').collect();
    let a: Vec<&str> = actual.split_inclusive('\n').collect();
    let k = (0..e.len().max(a.len()))
        .find(|&k| e.get(k) != a.get(k))
        .unwrap_or(0);
    format!(
        "stdout line {} (of {} expected, {} actual):\n    expected: {:?}\n    actual:   {:?}",
        k + 1,
        e.len(),
        a.len(),
        e.get(k).copied().unwrap_or("<end of output>"),
        a.get(k).copied().unwrap_or("<end of output>")
    )
}

/// A markdown report of every mismatch, with both outputs in full.
fn markdown(outcomes: &[&Outcome]) -> String {
    let mut s = String::new();
    for o in outcomes {
        let _ = writeln!(s, "### {} / {}\n", o.transcript, o.run.name);
        let _ = writeln!(s, "Recorded: `{}`", o.run.command);
        let _ = writeln!(s, "Replayed: `balena {}`\n", o.args.join(" "));
        for d in &o.diffs {
            let _ = writeln!(s, "- {}", d.replace('\n', "\n  "));
        }
        let _ = writeln!(
            s,
            "\nExpected (exit {}), stdout after masks:\n```\n{}```\nstderr:\n```\n{}```",
            o.run.exit, o.expected_stdout, o.run.stderr
        );
        let _ = writeln!(
            s,
            "Actual (exit {}), stdout after masks:\n```\n{}```\nstderr:\n```\n{}```\n",
            o.out.code, o.actual_stdout, o.out.stderr
        );
    }
    s
}

#[test]
fn official_cli_transcripts_replay() {
    let mut outcomes = Vec::new();
    let mut skipped = Vec::new();
    let mut total = 0;

    let (runs, o, s) = mock::replay_all();
    total += runs;
    outcomes.extend(o);
    skipped.extend(s);
    let (runs, o, s) = real::replay_all();
    total += runs;
    outcomes.extend(o);
    skipped.extend(s);

    let failing: Vec<&Outcome> = outcomes.iter().filter(|o| !o.diffs.is_empty()).collect();
    eprintln!(
        "compat: {total} runs: {} replayed ({} match, {} differ), {} skipped as not replayable",
        outcomes.len(),
        outcomes.len() - failing.len(),
        failing.len(),
        skipped.len()
    );
    for (t, name, why) in &skipped {
        eprintln!("compat: skipped {t} / {name}: {why}");
    }
    if let Ok(path) = std::env::var("COMPAT_REPORT") {
        std::fs::write(&path, markdown(&failing)).expect("write COMPAT_REPORT");
        eprintln!("compat: mismatch report written to {path}");
    }
    if !failing.is_empty() {
        let mut msg = format!(
            "{} of {} replayed runs differ from the official CLI:\n",
            failing.len(),
            outcomes.len()
        );
        for o in &failing {
            let _ = writeln!(
                msg,
                "\n== {} / {}: `{}`",
                o.transcript, o.run.name, o.run.command
            );
            for d in &o.diffs {
                let _ = writeln!(msg, "  - {d}");
            }
        }
        panic!("{msg}");
    }
}
