//! `official-cli-real-server-transcript.md`: runs recorded against the real open-balena-api.
//! Each run gets a fresh sandbox in the run's starting state ([`State`]):
//!
//! - `S-*` and `obbt-*`: the header's state: `official-cli-real-server-fixture.json` (every
//!   fleet tracks its latest release, `dd000002…` pinned to `a1a1b2b2…`), plus the empty
//!   fleet `admin/cmp-empty`, created through the API; `obbt-*` ("bad token") run with a
//!   token the server does not know (every one of them answers the 401 of whoami);
//! - the runs without a prefix were recorded on the server before the fixture was loaded
//!   (`rel-none` finds no `a1a1a1a1`, `dev-list-empty` lists one `probe` device):
//!   `real-server-probe-seed.json` holds what they show, fleet `admin/probe1` with device
//!   `probe`;
//! - `ob-*` were recorded later, with more fleets on the server and `admin/cmp-alpha`
//!   pinned to `a1a1a1a1…`: `real-server-ob-seed.json` is the fixture plus the fleets and
//!   devices `ob-fl` and `ob-dl` list (device ids follow `ob-dl`'s order of equal names:
//!   the sandbox breaks ties by id, the recording's PostgreSQL arbitrarily).
//!
//! The CLI is configured like the recording's: `balenaUrl` `balena.test` (what `whoami`
//! and `login` print), the API at the sandbox.

use std::path::{Path, PathBuf};

use balena_testkit::Sandbox;
use serde_json::json;

use crate::normalise::Normaliser;
use crate::transcript::{self, Run};
use crate::{compare, Replay, Replayed};

const TRANSCRIPT: &str = include_str!("../fixtures/compat/official-cli-real-server-transcript.md");
const NAME: &str = "official-cli-real-server-transcript.md";
/// The real server the runs were recorded against (its dashboard URLs too).
const RECORDED_ORIGIN: &str = "http://127.0.0.1:41802";
/// The recording's `balenaUrl`.
const RECORDED_BALENA_URL: &str = "balena.test";
/// The default user's key in the sandbox.
const KEY: &str = "compat-sandbox-key-0123456789abcdef";
/// A token the sandbox does not know (`obbt-*`).
const UNKNOWN_TOKEN: &str = "compat-unknown-token-0000000000";

/// Runs the sandbox cannot reproduce, with the reason (none so far).
const NOT_REPLAYABLE: &[(&str, &str)] = &[];

/// Runs whose argument at this index (after `balena`) is a release id of the recording: it
/// is replaced by the sandbox's id of the release with the same commit (the recording's
/// ids are read from the `S-rl` table).
const RELEASE_ID_ARGS: &[(&str, usize)] = &[("S-rel-id", 1)];

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    Header,
    Probe,
    Ob,
}

fn state_of(run: &Run) -> State {
    if run.name.starts_with("S-") || run.name.starts_with("obbt-") {
        State::Header
    } else if run.name.starts_with("ob-") {
        State::Ob
    } else {
        State::Probe
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compat")
        .join(name)
}

fn start(state: State) -> Sandbox {
    let seed = match state {
        State::Header => "official-cli-real-server-fixture.json",
        State::Probe => "real-server-probe-seed.json",
        State::Ob => "real-server-ob-seed.json",
    };
    let sb = Sandbox::builder().seed(fixture(seed)).token(KEY).start();
    if state == State::Header {
        let org = sb.get_json("/v7/organization?$select=id&$filter=handle%20eq%20%27admin%27");
        let org = org["d"][0]["id"].clone();
        let (status, body) = sb.send(
            "POST",
            "/v7/application",
            Some(KEY),
            Some(&json!({"app_name": "cmp-empty", "organization": org,
                         "is_for__device_type": 11})),
        );
        assert_eq!(status, 201, "create admin/cmp-empty: {body}");
    }
    sb
}

/// What the header says each run starts from, read back from the sandbox: differences are
/// sandbox behaviour, reported (not fatal).
pub fn check_header_state(sb: &Sandbox) -> Vec<String> {
    let mut notes = Vec::new();
    for (slug, want) in [
        ("admin/cmp-alpha", "e5e5e5e5000000000000000000000005"),
        ("admin/cmp-beta", "b1b1b1b1000000000000000000000011"),
    ] {
        let v = sb.get_json(&format!(
            "/v7/application?$filter=slug%20eq%20%27{}%27&$select=should_track_latest_release&$expand=should_be_running__release($select=commit)",
            slug.replace('/', "%2F")
        ));
        let row = &v["d"][0];
        let got = row["should_be_running__release"][0]["commit"].as_str();
        if row["should_track_latest_release"] != true || got != Some(want) {
            notes.push(format!(
                "{slug} should track latest and target {want}: {row}"
            ));
        }
    }
    let v = sb.get_json("/v7/device?$filter=uuid%20eq%20%27dd000002bbbb0000000000000000000b%27&$select=uuid&$expand=is_pinned_on__release($select=commit)");
    if v["d"][0]["is_pinned_on__release"][0]["commit"] != "a1a1b2b2000000000000000000000002" {
        notes.push(format!(
            "dd000002 should be pinned to a1a1b2b2: {}",
            v["d"][0]
        ));
    }
    notes
}

/// The recording's release ids, from the `S-rl` table: id → commit.
fn recorded_release_ids(runs: &[Run]) -> Vec<(String, String)> {
    let rl = runs
        .iter()
        .find(|r| r.name == "S-rl")
        .expect("the transcript has S-rl");
    rl.stdout
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_owned(), w.next()?.to_owned()))
        })
        .collect()
}

fn replay(run: &Run, sb: &Sandbox, ids: &[(String, String)]) -> Replay {
    let mut r = Replay {
        api_url: sb.base_url.clone(),
        token: Some(
            if run.name.starts_with("obbt-") {
                UNKNOWN_TOKEN
            } else {
                KEY
            }
            .to_owned(),
        ),
        env: vec![("BALENARC_BALENA_URL".into(), RECORDED_BALENA_URL.into())],
        args: run.args.clone(),
    };
    assert!(
        run.env.is_empty(),
        "run {}: unexpected environment",
        run.name
    );
    // `login --token T`: T was the recording server's key; log in with the sandbox's.
    if r.args.first().map(String::as_str) == Some("login") {
        if let Some(at) = r.args.iter().position(|a| a == "--token") {
            if let Some(t) = r.args.get_mut(at + 1) {
                *t = KEY.to_owned();
            }
        }
    }
    for (name, at) in RELEASE_ID_ARGS {
        if run.name == *name {
            let recorded = &r.args[*at];
            let commit = &ids
                .iter()
                .find(|(id, _)| id == recorded)
                .unwrap_or_else(|| panic!("{name}: release id {recorded} not in S-rl"))
                .1;
            let v = sb.get_json(&format!(
                "/v7/release?$filter=commit%20eq%20%27{commit}%27&$select=id"
            ));
            r.args[*at] = v["d"][0]["id"].to_string();
        }
    }
    r
}

/// The recording's tokens: every `login --token T`.
fn recorded_tokens(runs: &[Run]) -> Vec<String> {
    runs.iter()
        .filter(|r| r.args.first().map(String::as_str) == Some("login"))
        .filter_map(|r| {
            let at = r.args.iter().position(|a| a == "--token")?;
            r.args.get(at + 1).cloned()
        })
        .collect()
}

/// (runs in the transcript, replayed outcomes, skipped (transcript, run, reason)).
pub fn replay_all() -> Replayed {
    let runs = transcript::parse(TRANSCRIPT);
    let ids = recorded_release_ids(&runs);
    let tokens = recorded_tokens(&runs);
    let mut outcomes = Vec::new();
    let mut skipped = Vec::new();
    let mut checked = false;
    for run in &runs {
        if let Some((_, why)) = NOT_REPLAYABLE.iter().find(|(n, _)| *n == run.name) {
            skipped.push((NAME, run.name.clone(), *why));
            continue;
        }
        let state = state_of(run);
        let sb = start(state);
        if state == State::Header && !checked {
            checked = true;
            for note in check_header_state(&sb) {
                eprintln!("compat: SANDBOX DIFFERS from the header's state: {note}");
            }
        }
        let replay = replay(run, &sb, &ids);
        let out = replay.run();
        let mut hide: Vec<&str> = tokens.iter().map(String::as_str).collect();
        hide.push(KEY);
        hide.push(UNKNOWN_TOKEN);
        let n = Normaliser::new(&[RECORDED_ORIGIN, &sb.base_url], &hide, true);
        outcomes.push(compare(NAME, run, replay.args, out, &n));
    }
    (runs.len(), outcomes, skipped)
}
