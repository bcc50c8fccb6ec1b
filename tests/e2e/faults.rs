//! Faults end to end: the real `balena` through the test kit's fault proxy to a real
//! sandbox. Each test checks the exit code, what a script reads (stdout, the first stderr
//! line) and the server's state afterwards: nothing reported may be false about it.

use std::time::Duration;

use balena_testkit::fault::{Fault, FaultProxy, Rule};
use serde_json::Value;

use crate::harness::*;

/// A logged-in user whose API URL is the proxy's.
fn through(proxy: &FaultProxy) -> TestEnv {
    let e = TestEnv::new(&proxy.base_url).env("BALENARC_REQUEST_TIMEOUT", "2");
    e.write_token(TOKEN);
    e
}

fn first_line(out: &Out) -> &str {
    out.stderr.lines().next().unwrap_or("")
}

#[test]
fn fleet_pin_whose_answer_is_lost_is_read_back_and_reported_done() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    // Every PATCH reaches the server, and every answer is lost.
    proxy.rule(Rule::new("PATCH", "/v7/application", Fault::ResetAfter));
    let env = through(&proxy);
    let out = env.run(&["fleet", "pin", "acme/frontdoor", C102, "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(v["fleet"]["slug"], "acme/frontdoor", "{v}");
    assert_eq!(v["changed"], true, "{v}");
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(102)));
    assert!(!proxy.seen_of("PATCH", "/v7/application").is_empty());
    assert!(!proxy.seen_of("GET", "/v7/application(10)").is_empty());
}

#[test]
fn fleet_track_latest_whose_answer_stalls_past_the_timeout_is_reported_done() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new(
        "PATCH",
        "/v7/application",
        Fault::Stall(Duration::from_secs(10)),
    ));
    let env = through(&proxy);
    let out = env.run(&["fleet", "track-latest", "acme/frontdoor"]);
    out.ok();
    assert!(out.stderr.contains("acme/frontdoor"), "{out:?}");
    let (tracks, _) = sb.fleet_policy(FRONTDOOR);
    assert!(tracks);
    // A timeout is not retried: one PATCH.
    assert_eq!(proxy.seen_of("PATCH", "/v7/application").len(), 1);
}

#[test]
fn fleet_rollback_that_never_reached_the_server_says_it_was_not_made() {
    let sb = sandbox();
    let env0 = TestEnv::logged_in(&sb);
    env0.run(&["fleet", "pin", "acme/frontdoor", C102]).ok();
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new("PATCH", "/v7/application", Fault::ResetBefore));
    let env = through(&proxy);
    let out = env.run(&["fleet", "rollback", "acme/frontdoor"]);
    out.code(7);
    assert!(
        first_line(&out).starts_with(
            "BalenaWriteNotApplied: the change to fleet acme/frontdoor was not made: "
        ),
        "{out:?}"
    );
    assert!(out.stderr.contains("Nothing was changed"), "{out:?}");
    assert!(!out.stderr.contains("later"), "{out:?}");
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(102)));
    assert!(proxy.seen_of("PATCH", "/").iter().all(|s| !s.forwarded));
}

#[test]
fn fleet_pin_whose_answer_and_read_back_are_lost_is_outcome_unknown_exit_10() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new("PATCH", "/v7/application", Fault::ResetAfter));
    // The read back (by id); the lookup goes by slug, under `/v7/application?`.
    proxy.rule(Rule::new("GET", "/v7/application(", Fault::ResetBefore));
    let env = through(&proxy);
    let out = env.run(&["fleet", "pin", "acme/frontdoor", C102, "--json"]);
    out.code(10);
    let e = out.err_json();
    assert_eq!(e["error"]["name"], "BalenaOutcomeUnknown", "{e}");
    assert_eq!(e["error"]["exitCode"], 10, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "outcome unknown: the change to fleet acme/frontdoor was sent and no answer came back"
        ),
        "{msg}"
    );
    let hint = e["error"]["hint"].as_str().unwrap();
    assert!(
        hint.contains("should_be_running__release = 102 and should_track_latest_release = false"),
        "{hint}"
    );
    assert!(hint.contains("`balena fleet pin acme/frontdoor`"), "{hint}");
    // What the hint says to check is indeed how to tell: here the change was made.
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(102)));
    let reads = proxy.seen_of("GET", "/v7/application(10)");
    assert!(
        (3..=12).contains(&reads.len()),
        "bounded read back: {reads:?}"
    );
}

#[test]
fn device_pin_and_track_fleet_whose_answers_are_lost_are_read_back() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new("PATCH", "/v7/device", Fault::ResetAfter));
    let env = through(&proxy);
    let out = env.run(&["device", "pin", DOOR2, C102, "--json"]);
    out.ok();
    assert_eq!(out.json()["changed"], true, "{out:?}");
    assert_eq!(sb.device_pin(DOOR2), Some(102));
    let out = env.run(&["device", "track-fleet", DOOR1]);
    out.ok();
    assert_eq!(sb.device_pin(DOOR1), None);
    // Not applied: the PATCH never reaches the server.
    proxy.clear();
    proxy.rule(Rule::new("PATCH", "/v7/device", Fault::ResetBefore));
    let out = env.run(&["device", "track-fleet", DOOR2]);
    out.code(7);
    assert!(
        first_line(&out).starts_with(&format!(
            "BalenaWriteNotApplied: the change to device {DOOR2} was not made"
        )),
        "{out:?}"
    );
    assert_eq!(sb.device_pin(DOOR2), Some(102));
}

#[test]
fn a_refused_write_is_not_read_back() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new("PATCH", "/v7/application", Fault::status(400)));
    let env = through(&proxy);
    let out = env.run(&["fleet", "pin", "acme/frontdoor", C102]);
    out.code(6);
    assert!(proxy.seen_of("GET", "/v7/application(").is_empty());
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(100)));
}

/// A sandbox where devices reach their target 1 s after it changes, settled.
fn simulating() -> Sandbox {
    let sb = sandbox_with("e2e-seed.json", &["--simulate-updates", "1s"]);
    let start = std::time::Instant::now();
    loop {
        let v = sb.get_json("/v7/device?$select=id,is_running__release,should_be_running__release&$filter=belongs_to__application%20eq%2010");
        if v["d"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["is_running__release"] == r["should_be_running__release"])
        {
            return sb;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never settled");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn wait_rides_out_failed_polls() {
    let sb = simulating();
    let proxy = FaultProxy::start(&sb.base_url);
    // The first polls fail: a 500 (not retried by the client), a reset, a stall.
    proxy.rule(
        Rule::new("GET", "/v7/device", Fault::status(500))
            .containing("overall_status,is_running__release")
            .nth(1),
    );
    proxy.rule(
        Rule::new("GET", "/v7/device", Fault::ResetBefore)
            .containing("overall_status,is_running__release")
            .nth(2),
    );
    proxy.rule(
        Rule::new("GET", "/v7/device", Fault::status(503))
            .containing("overall_status,is_running__release")
            .nth(3),
    );
    // And a poll that stalls past the request timeout (2 s here).
    proxy.rule(
        Rule::new("GET", "/v7/device", Fault::Stall(Duration::from_secs(10)))
            .containing("overall_status,is_running__release")
            .nth(4),
    );
    let env = through(&proxy);
    let out = env.run(&[
        "fleet",
        "pin",
        "acme/frontdoor",
        C102,
        "--wait",
        "--timeout",
        "60s",
        "--json",
    ]);
    out.ok();
    let v: Value = out.json();
    assert_eq!(v["rollout"]["complete"], true, "{v}");
    assert_eq!(v["rollout"]["behind"], serde_json::json!([]));
    assert!(proxy.seen_of("GET", "/v7/device").len() >= 5);
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(102)));
}

#[test]
fn a_wait_whose_polls_all_fail_still_prints_the_result_document() {
    let sb = simulating();
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(
        Rule::new("GET", "/v7/device", Fault::status(500))
            .containing("overall_status,is_running__release"),
    );
    let env = through(&proxy);
    let out = env.run(&[
        "fleet",
        "pin",
        "acme/frontdoor",
        C102,
        "--wait",
        "--timeout",
        "3s",
        "--json",
    ]);
    out.code(8);
    // stdout is the mutation's result document, as a script reads it.
    let v: Value = out.json();
    assert_eq!(v["fleet"]["slug"], "acme/frontdoor", "{v}");
    assert_eq!(v["changed"], true, "{v}");
    // The confirmation on stderr, then the error object on its last line.
    let last = out.stderr.lines().last().unwrap_or("");
    let e: Value = serde_json::from_str(last).expect("a JSON error");
    assert_eq!(e["error"]["name"], "BalenaWaitFailed", "{e}");
    assert_eq!(e["error"]["exitCode"], 8, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the change was made, but its rollout could not be observed"),
        "{e}"
    );
    // It kept polling until the deadline.
    assert!(proxy.seen_of("GET", "/v7/device").len() >= 2);
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(102)));
    // Human output: the confirmation, then the wait's failure.
    let out = env.run(&["device", "pin", DOOR2, C101, "--wait", "--timeout", "2s"]);
    out.code(8);
    assert!(
        out.stderr.contains("BalenaWaitFailed: the change was made"),
        "{out:?}"
    );
    assert_eq!(sb.device_pin(DOOR2), Some(101));
}

#[test]
fn a_malformed_token_is_a_credentials_error_before_any_request() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    let env = through(&proxy);
    for (token, what) in [
        (
            format!("{TOKEN}\n{TOKEN}"),
            "a line break (more than one line)",
        ),
        (format!("{TOKEN}\u{7}x"), "the control character U+0007"),
    ] {
        env.write_token(&token);
        let out = env.run(&["fleet", "list"]);
        out.code(3);
        assert_eq!(
            first_line(&out),
            format!("BalenaMalformedToken: the balena token is malformed: it contains {what}")
        );
        assert!(out.stderr.contains("balena login --token"), "{out:?}");
    }
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
}

#[test]
fn a_70_kb_argument_is_a_usage_error_before_any_request() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    let env = through(&proxy);
    let long = "a".repeat(70 * 1024);
    let out = env.run(&["fleet", "pin", &long, C102]);
    out.code(2);
    assert!(
        first_line(&out).starts_with(
            "BalenaInvalidParameterError: an argument is too long: the request URL would be "
        ),
        "{}",
        first_line(&out)
    );
    assert!(proxy.seen().is_empty());
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(100)));
}

#[test]
fn a_read_cut_in_the_middle_of_its_answer_is_retried() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new("GET", "/v7/application", Fault::Truncate).nth(1));
    let env = through(&proxy);
    let out = env.run(&["fleet", "acme/frontdoor", "--json"]);
    out.ok();
    assert_eq!(out.json()["slug"], "acme/frontdoor");
    let reads = proxy.seen_of("GET", "/v7/application");
    assert_eq!(reads[0].fault.as_deref(), Some("truncate"));
    assert_eq!(reads[1].target, reads[0].target, "the same read again");
}

#[test]
fn http_errors_name_the_status_the_host_and_the_attempts() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new("GET", "/v7/application", Fault::status(503)));
    let env = through(&proxy);
    let out = env.run(&["fleet", "acme/frontdoor"]);
    out.code(7);
    assert_eq!(
        first_line(&out),
        "BalenaRequestError: Request error: injected 503"
    );
    let host = proxy.base_url.trim_start_matches("http://");
    assert!(
        out.stderr
            .contains(&format!("HTTP 503 from {host}, after 4 attempts.")),
        "{out:?}"
    );
    assert_eq!(proxy.seen_of("GET", "/v7/application").len(), 4);
    // Not retried: one attempt.
    proxy.clear();
    proxy.rule(Rule::new("GET", "/v7/application", Fault::status(500)));
    let out = env.run(&["fleet", "acme/frontdoor"]);
    out.code(7);
    assert!(
        out.stderr
            .contains(&format!("HTTP 500 from {host}, after 1 attempt.")),
        "{out:?}"
    );
}

#[test]
fn an_html_error_page_gives_only_its_title() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    let page = format!(
        "<!DOCTYPE html>\n<html><head><title>Upstream trouble</title><style>{}</style></head><body><h1>Oops</h1></body></html>",
        "b{color:red}".repeat(250)
    );
    assert!(page.len() > 3000);
    proxy.rule(Rule::new("GET", "/v7/application", Fault::html(500, &page)));
    let env = through(&proxy);
    let out = env.run(&["fleet", "acme/frontdoor", "--json"]);
    out.code(7);
    let e = out.err_json();
    assert_eq!(
        e["error"]["message"], "Request error: Upstream trouble",
        "{e}"
    );
    assert!(out.stdout.len() + out.stderr.len() < 1500, "{out:?}");
}

#[test]
fn an_https_url_on_a_plain_http_port_is_a_tls_mismatch_not_retried() {
    let sb = sandbox();
    let https = sb.base_url.replacen("http://", "https://", 1);
    let env = TestEnv::new(&https);
    env.write_token(TOKEN);
    let started = std::time::Instant::now();
    let out = env.run(&["fleet", "acme/frontdoor"]);
    out.code(1);
    let host = sb.base_url.trim_start_matches("http://");
    assert_eq!(
        first_line(&out),
        format!(
            "BalenaTlsMismatch: TLS mismatch: {host} answered plain HTTP to an https:// request"
        )
    );
    assert!(out.stderr.contains("Not retried"), "{out:?}");
    // 3 retries would sleep 1.75 s at least.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn bulk_pins_whose_answers_are_lost_are_read_back_per_device() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new("PATCH", "/v7/device", Fault::ResetAfter));
    let env = through(&proxy);
    let out = env.run(&["device", "pin", "--fleet", "acme/frontdoor", C102, "--json"]);
    out.ok();
    let v = out.json();
    assert_eq!(v["counts"]["failed"], 0, "{v}");
    for uuid in [DOOR1, DOOR2, DOOR3] {
        assert_eq!(sb.device_pin(uuid), Some(102), "{uuid}");
    }
    // Not applied: every device's failure says so, by name, and nothing changed.
    proxy.clear();
    proxy.rule(Rule::new("PATCH", "/v7/device", Fault::ResetBefore));
    let out = env.run(&[
        "device",
        "track-fleet",
        &format!("{DOOR1},{DOOR2}"),
        "--json",
    ]);
    out.code(7);
    let v = out.json();
    assert_eq!(v["counts"]["failed"], 2, "{v}");
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["error"]["name"], "BalenaWriteNotApplied", "{r}");
    }
    assert_eq!(sb.device_pin(DOOR1), Some(102));
    assert_eq!(sb.device_pin(DOOR2), Some(102));
    // Applied, and the read back lost too: outcome unknown, exit 10.
    proxy.clear();
    proxy.rule(Rule::new("PATCH", "/v7/device", Fault::ResetAfter));
    proxy.rule(
        Rule::new("GET", "/v7/device", Fault::ResetBefore)
            .containing("$select=id,is_pinned_on__release&"),
    );
    let out = env.run(&[
        "device",
        "track-fleet",
        &format!("{DOOR1},{DOOR2}"),
        "--json",
    ]);
    out.code(10);
    let v = out.json();
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["error"]["name"], "BalenaOutcomeUnknown", "{r}");
    }
    assert_eq!(sb.device_pin(DOOR1), None);
    assert_eq!(sb.device_pin(DOOR2), None);
}

#[test]
fn a_non_json_answer_to_a_read_is_an_invalid_response() {
    let sb = sandbox();
    let proxy = FaultProxy::start(&sb.base_url);
    proxy.rule(Rule::new(
        "GET",
        "/v7/application",
        Fault::NonJson("<html><title>Captive portal</title></html>".into()),
    ));
    let env = through(&proxy);
    let out = env.run(&["fleet", "pin", "acme/frontdoor", C102]);
    out.code(1);
    assert!(
        first_line(&out).starts_with(
            "BalenaInvalidResponse: invalid response from the API (GET /v7/application"
        ),
        "{out:?}"
    );
    assert!(out.stderr.contains("the body is not JSON"), "{out:?}");
    // Nothing was written.
    assert!(proxy.seen_of("PATCH", "/").is_empty());
    assert_eq!(sb.fleet_policy(FRONTDOOR), (false, Some(100)));
}
