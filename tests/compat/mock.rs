//! `official-cli-transcript.md`: runs recorded against a mock server with per-run
//! scenarios. Each run gets a fresh sandbox seeded with
//! `sandbox/tests/fixtures/official-cli-seed.json` (the mock's data: fleet 1001
//! `myorg/myfleet` pinned to draft 5001, release 5002, device 3001 pinned to 5002, the
//! header's API key), then its scenario is set up through the sandbox's API
//! ([`setup`]; the same mapping as `sandbox/tests/official_cli_requests.rs`).

use std::path::Path;

use balena_testkit::Sandbox;
use serde_json::{json, Value};

use crate::normalise::Normaliser;
use crate::transcript::{self, Run};
use crate::{compare, Replay, Replayed};

const TRANSCRIPT: &str = include_str!("../fixtures/compat/official-cli-transcript.md");
const NAME: &str = "official-cli-transcript.md";
/// The mock server the runs were recorded against.
const RECORDED_ORIGIN: &str = "http://127.0.0.1:48080";
/// A token the sandbox does not know (scenario `unauth`).
const UNKNOWN_TOKEN: &str = "compat-unknown-token-0000000000";

enum Match {
    Scenario(&'static str),
    Run(&'static str),
}

/// Runs the sandbox cannot reproduce, with the reason.
const NOT_REPLAYABLE: &[(Match, &str)] = &[
    (Match::Scenario("device-actor"), "the actor is a device API key: a fixture cannot hold one"),
    (Match::Scenario("app-actor"), "the actor is an application API key: a fixture cannot hold one"),
    (Match::Scenario("twoapps"), "two fleets with the same slug cannot exist on a consistent server"),
    (Match::Scenario("http500"), "the mock answered 500"),
    (Match::Scenario("whoami500"), "the mock answered 500 to whoami"),
    (Match::Scenario("http403"), "the mock answered 403"),
    (Match::Scenario("http429"), "the mock answered 429"),
    (Match::Scenario("http429noretry"), "the mock answered 429"),
    (Match::Scenario("http429once"), "the mock answered 429 once (a retry path)"),
    (Match::Scenario("http400-rule"), "the mock answered a 400 rule violation to a valid pin"),
    (Match::Scenario("pine401"), "the mock answered 401 to a pine request after whoami succeeded"),
    (Match::Scenario("pine404json"), "the mock answered a 404 JSON body to a pine request"),
    (Match::Scenario("pine400msg"), "the mock answered a 400 with a message to a valid request"),
    (Match::Run("fleet-show-name"), "the mock matched `app_name eq 'MyFleet'` case-insensitively; the real server (and sandbox) do not"),
    (Match::Run("rel-list-name"), "the mock matched `app_name eq 'MyFleet'` case-insensitively; the real server (and sandbox) do not"),
    (Match::Run("rel-show-json"), "the mock wrote the release's keys in its own order; the real server (S-rel-json) and the sandbox put release_tag first"),
    (Match::Run("rel-show-5001-json"), "the mock wrote the release's keys in its own order; the real server (S-rel-json) and the sandbox put release_tag first"),
    (Match::Run("rel-list-json"), "the mock wrote the releases' keys in its own order; the real server (S-rel-json) and the sandbox put release_tag first"),
    (Match::Run("dev-show-json"), "the mock's should_be_running__release (5001) contradicts its own pin (5002); a real server answers 5002"),
    (Match::Run("dev-show-full-json"), "the mock's should_be_running__release (5001) contradicts its own pin (5002); a real server answers 5002"),
];

fn skip_reason(run: &Run) -> Option<&'static str> {
    NOT_REPLAYABLE.iter().find_map(|(m, why)| {
        let hit = match m {
            Match::Scenario(s) => run.scenario.as_deref() == Some(*s),
            Match::Run(n) => run.name == *n,
        };
        hit.then_some(*why)
    })
}

/// The header's token: ``Token: API-key style `KEY` unless noted.``
fn header_token() -> &'static str {
    TRANSCRIPT
        .lines()
        .find(|l| l.starts_with("Token:"))
        .and_then(|l| l.split('`').nth(1))
        .expect("the transcript header names the token")
}

fn seed() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sandbox/tests/fixtures/official-cli-seed.json")
}

fn call(sb: &Sandbox, key: &str, method: &str, path: &str, body: Option<Value>) {
    let (status, text) = sb.send(method, path, Some(key), body.as_ref());
    assert!(
        (200..300).contains(&status),
        "scenario setup {method} {path} {body:?}: {status} {text}"
    );
}

/// Puts the sandbox in the state of a mock scenario.
fn setup(sb: &Sandbox, key: &str, scenario: &str) {
    match scenario {
        // The seed is the mock's data; `noapp` runs name fleets that do not exist;
        // `unauth` and `nologin-401` are about the token (see `replay`).
        "default" | "noapp" | "unauth" | "nologin-401" => {}
        "unpinned" => call(
            sb,
            key,
            "PATCH",
            "/v7/application(1001)",
            Some(json!({"should_be_running__release": null, "should_track_latest_release": false})),
        ),
        "nopin" => call(
            sb,
            key,
            "PATCH",
            "/v7/device(3001)",
            Some(json!({"is_pinned_on__release": null})),
        ),
        "nodevice" => call(sb, key, "DELETE", "/v7/device(3001)", None),
        "twodevices" => call(
            sb,
            key,
            "POST",
            "/v7/device",
            Some(
                json!({"uuid": "abc00000000000000000000000000000", "belongs_to__application": 1001,
                        "is_of__device_type": 11, "device_name": "second"}),
            ),
        ),
        "tworeleases" => call(
            sb,
            key,
            "POST",
            "/v7/release",
            Some(
                json!({"belongs_to__application": 1001, "commit": "aaab0000000000000000000000000000",
                        "composition": {}, "status": "success", "source": "cloud",
                        "start_timestamp": "2024-01-05T00:00:00.000Z", "is_final": true,
                        "semver": "0.0.3"}),
            ),
        ),
        "norelease" | "emptyreleases" => {
            call(
                sb,
                key,
                "PATCH",
                "/v7/application(1001)",
                Some(
                    json!({"should_be_running__release": null, "should_track_latest_release": false}),
                ),
            );
            call(
                sb,
                key,
                "PATCH",
                "/v7/device(3001)",
                Some(json!({"is_pinned_on__release": null})),
            );
            call(
                sb,
                key,
                "DELETE",
                "/v7/release?$filter=belongs_to__application%20eq%201001",
                None,
            );
        }
        other => panic!("mock scenario {other:?} has no setup and is not listed as not replayable"),
    }
}

/// (runs in the transcript, replayed outcomes, skipped (transcript, run, reason)).
pub fn replay_all() -> Replayed {
    let runs = transcript::parse(TRANSCRIPT);
    let key = header_token();
    let mut outcomes = Vec::new();
    let mut skipped = Vec::new();
    for run in &runs {
        if let Some(why) = skip_reason(run) {
            skipped.push((NAME, run.name.clone(), why));
            continue;
        }
        let sb = Sandbox::builder().seed(seed()).start();
        setup(&sb, key, run.scenario.as_deref().unwrap_or("default"));
        let replay = replay(run, &sb, key);
        let out = replay.run();
        let n = Normaliser::new(&[RECORDED_ORIGIN, &sb.base_url], &[key, &sb.api_key], false);
        outcomes.push(compare(NAME, run, replay.args, out, &n));
    }
    (runs.len(), outcomes, skipped)
}

/// Our CLI's environment for a run. The recording's environment words mean:
/// `NO_TOKEN=1` not logged in, `TOKEN=T` the token file holds `T`, `API_URL=U` the API is at
/// `U`; any other word is passed on as an environment variable. Scenario `unauth`: the
/// token is one the server does not know. `login --token T` against a mock that accepted
/// any token logs in with the sandbox's key (except in `unauth`, where `T` was refused).
fn replay(run: &Run, sb: &Sandbox, key: &str) -> Replay {
    let unauth = run.scenario.as_deref() == Some("unauth");
    let mut r = Replay {
        api_url: sb.base_url.clone(),
        token: Some(if unauth { UNKNOWN_TOKEN } else { key }.to_owned()),
        env: Vec::new(),
        args: run.args.clone(),
    };
    for (k, v) in &run.env {
        match k.as_str() {
            "NO_TOKEN" => r.token = None,
            "TOKEN" => r.token = Some(v.clone()),
            "API_URL" => r.api_url = v.clone(),
            _ => r.env.push((k.clone(), v.clone())),
        }
    }
    if !unauth && r.args.first().map(String::as_str) == Some("login") {
        if let Some(at) = r.args.iter().position(|a| a == "--token") {
            if let Some(t) = r.args.get_mut(at + 1) {
                *t = key.to_owned();
            }
        }
    }
    r
}
