//! Request-level tests of the `--wait` engine (`ops::wait::wait_for_rollout`) against a
//! recording HTTP mock: the exact poll requests (a `$count` of the devices pending, the
//! devices fetched only when it changes), and that polling stops as soon as every online
//! device runs its target (or the timeout passes).

use std::future::Future;
use std::time::{Duration, Instant};

use balena_rs::commands::build_client;
use balena_rs::config::Settings;
use balena_rs::error::{Error, ExitCode};
use balena_rs::ops::wait::WaitScope;
use balena_rs::policy::rollout::WaitOutcome;
use balena_rs::view::mutation::rollout_json;
use balena_rs::view::progress::WaitProgress;
use balena_rs::view::Printer;
use balena_testkit::mock::{path_and_query, Api, TOKEN};
use httpmock::HttpMockRequest;
use serde_json::{json, Value};

const SELECT: &str = "$select=id,uuid,device_name,is_online,overall_status,is_running__release,should_be_running__release,is_pinned_on__release";
const PENDING: &str = "(is_online%20eq%20true)%20and%20(should_be_running__release%20ne%20null)%20and%20(is_running__release%20ne%20should_be_running__release)";

/// The first page of the devices that follow the fleet.
fn fleet_poll(fleet_id: i64) -> String {
    format!(
        "/v7/device?{SELECT}&$filter=(belongs_to__application%20eq%20{fleet_id})%20and%20(is_pinned_on__release%20eq%20null)&$orderby=id%20asc&$top=1000"
    )
}

/// The `$count` of the fleet's following devices still pending.
fn fleet_count(fleet_id: i64) -> String {
    format!(
        "/v7/device/$count?$filter=(belongs_to__application%20eq%20{fleet_id})%20and%20(is_pinned_on__release%20eq%20null)%20and%20{PENDING}"
    )
}

fn client(api: &Api, home: &tempfile::TempDir) -> balena_api::Client {
    let settings = Settings {
        balena_url: "balena-cloud.com".into(),
        api_url: Some(api.url()),
        data_directory: home.path().to_path_buf(),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        proxy: Default::default(),
    };
    build_client(&settings, Some(TOKEN.into())).unwrap()
}

/// The engine, with its progress lines going to a buffer.
async fn wait_for_rollout(
    c: &balena_api::Client,
    scope: WaitScope,
    timeout: Duration,
) -> Result<WaitOutcome, Error> {
    let (printer, _, _) = Printer::buffered(false);
    let mut progress = WaitProgress::start(&printer, scope.label());
    balena_rs::ops::wait::wait_for_rollout(c, &scope, timeout, &mut progress).await
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Answers `GET uri` with `body`, `times` times (`None`: always). Mocks answer in the order
/// they were registered, so a few of these make a sequence.
fn answer(api: &Api, uri: &str, body: Value, times: Option<usize>) {
    let u = uri.to_owned();
    let body = body.to_string();
    let m = api.server.mock(move |when, then| {
        when.is_true(move |req: &HttpMockRequest| {
            req.method().as_str() == "GET" && path_and_query(req) == u
        });
        then.status(200)
            .header("content-type", "application/json")
            .body(body.clone());
    });
    if let Some(n) = times {
        m.up_to_n_times(n);
    }
}

/// A device row as the poll selects it: navigation fields as `{"__id":N}`.
fn dev(id: i64, online: bool, status: &str, running: i64, target: i64) -> Value {
    json!({
        "id": id,
        "uuid": format!("{id:0>32}"),
        "device_name": format!("dev-{id}"),
        "is_online": online,
        "overall_status": status,
        "is_running__release": {"__id": running},
        "should_be_running__release": {"__id": target},
        "is_pinned_on__release": {"__id": target},
    })
}

fn uuid(id: i64) -> String {
    format!("{id:0>32}")
}

#[test]
fn fleet_wait_polls_until_every_online_device_runs_its_target() {
    let api = Api::start();
    let home = tempfile::tempdir().unwrap();
    let uri = fleet_poll(1001);
    let count = fleet_count(1001);
    // The pending count goes 2, 1, 0: each change fetches the devices.
    answer(&api, &count, json!({"d": 2}), Some(1));
    answer(&api, &count, json!({"d": 1}), Some(1));
    answer(&api, &count, json!({"d": 0}), None);
    // 1 and 2 are behind, 3 is offline (and behind: it does not count).
    answer(
        &api,
        &uri,
        json!({"d": [dev(1, true, "updating", 10, 11), dev(2, true, "idle", 10, 11), dev(3, false, "offline", 10, 11)]}),
        Some(1),
    );
    answer(
        &api,
        &uri,
        json!({"d": [dev(1, true, "idle", 11, 11), dev(2, true, "updating", 10, 11), dev(3, false, "offline", 10, 11)]}),
        Some(1),
    );
    answer(
        &api,
        &uri,
        json!({"d": [dev(1, true, "idle", 11, 11), dev(2, true, "idle", 11, 11), dev(3, false, "offline", 10, 11)]}),
        None,
    );
    let c = client(&api, &home);
    let started = Instant::now();
    let out: WaitOutcome = block_on(wait_for_rollout(
        &c,
        WaitScope::fleet(1001, "myorg/myfleet", Some(11)),
        Duration::from_secs(60),
    ))
    .unwrap();
    let took = started.elapsed();

    assert!(out.complete);
    // Exactly three polls, a $count and (as it changed each time) the devices, then it
    // stopped.
    assert_eq!(
        api.lines(),
        [format!("GET {count}"), format!("GET {uri}")]
            .iter()
            .cycle()
            .take(6)
            .cloned()
            .collect::<Vec<_>>()
    );
    assert!(api
        .requests()
        .iter()
        .all(|r| r.authorization.as_deref() == Some(&*format!("Bearer {TOKEN}"))));
    // Backoff: 1 s, then 1.5 s.
    assert!(took >= Duration::from_millis(2500), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let r = &rollout_json(&out);
    assert_eq!(r["complete"], true);
    assert_eq!(r["polls"], 3);
    assert!(r["elapsed_ms"].as_u64().unwrap() >= 2500);
    assert_eq!(r["behind"], json!([]));
    assert_eq!(r["offline"], json!([uuid(3)]));
    assert_eq!(
        r["devices"],
        json!([
            {"uuid": uuid(1), "device_name": "dev-1", "is_online": true, "status": "idle",
             "running": {"id": 11}, "target": {"id": 11}, "on_target": true},
            {"uuid": uuid(2), "device_name": "dev-2", "is_online": true, "status": "idle",
             "running": {"id": 11}, "target": {"id": 11}, "on_target": true},
            {"uuid": uuid(3), "device_name": "dev-3", "is_online": false, "status": "offline",
             "running": {"id": 10}, "target": {"id": 11}, "on_target": false},
        ])
    );
}

#[test]
fn devices_wait_times_out_and_names_the_devices_behind() {
    let api = Api::start();
    let home = tempfile::tempdir().unwrap();
    let uri = format!("/v7/device?{SELECT}&$filter=id%20in%20(3,7)");
    answer(
        &api,
        &uri,
        json!({"d": [dev(7, true, "updating", 10, 11), dev(3, true, "idle", 11, 11)]}),
        None,
    );
    let c = client(&api, &home);
    let started = Instant::now();
    // A short list is fetched whole each poll: no $count.
    let out = block_on(wait_for_rollout(
        &c,
        WaitScope::devices(vec![(7, Some(11)), (3, Some(11)), (7, Some(11))]),
        Duration::from_secs(1),
    ))
    .unwrap();
    let took = started.elapsed();

    assert!(!out.complete);
    // One poll at once, one at the deadline.
    assert_eq!(api.lines(), vec![format!("GET {uri}"); 2]);
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let report = rollout_json(&out);
    assert_eq!(report["complete"], false);
    assert_eq!(report["polls"], 2);
    assert_eq!(report["behind"], json!([uuid(7)]));
    assert_eq!(
        out.behind().map(|d| d.uuid.to_string()).collect::<Vec<_>>(),
        vec![uuid(7)]
    );
    let err = out.timeout_error();
    match &err {
        Error::WaitTimeout { behind } => assert_eq!(behind, &[format!("{} (dev-7)", uuid(7))]),
        e => panic!("{e:?}"),
    }
    assert_eq!(err.exit_code(), ExitCode::WaitTimeout);
    assert_eq!(
        err.list(),
        Some(("behind", &[format!("{} (dev-7)", uuid(7))][..]))
    );
    assert!(err.hint().unwrap().contains("--timeout"));
}

#[test]
fn many_devices_are_polled_in_chunks_of_short_urls() {
    let api = Api::start();
    let home = tempfile::tempdir().unwrap();
    // Every chunk answers "no such devices": nothing to wait for.
    api.server.mock(|when, then| {
        when.method("GET").path("/v7/device");
        then.status(200)
            .header("content-type", "application/json")
            .body(r#"{"d":[]}"#);
    });
    api.server.mock(|when, then| {
        when.method("GET").path("/v7/device/$count");
        then.status(200)
            .header("content-type", "application/json")
            .body(r#"{"d":0}"#);
    });
    let ids: Vec<i64> = (10_000_000..10_002_000).collect();
    let c = client(&api, &home);
    let out = block_on(wait_for_rollout(
        &c,
        WaitScope::devices(ids.iter().map(|i| (*i, None)).collect()),
        Duration::from_secs(60),
    ))
    .unwrap();
    assert!(out.complete);
    assert_eq!(out.polls, 1);
    let reqs = api.requests();
    let (counts, fetches): (Vec<_>, Vec<_>) = reqs
        .iter()
        .partition(|r| r.uri.starts_with("/v7/device/$count?"));
    assert!(fetches.len() >= 3, "{} requests", fetches.len());
    assert!(fetches.len() <= 5, "{} requests", fetches.len());
    // A $count per chunk, of the same ids.
    assert_eq!(counts.len(), fetches.len());
    for r in &counts {
        assert!(r.uri.len() < 6000, "{} bytes", r.uri.len());
        assert!(
            r.uri.ends_with(&format!("))%20and%20{PENDING}")),
            "{}",
            r.uri
        );
    }
    let prefix = format!("/v7/device?{SELECT}&$filter=id%20in%20(");
    let mut seen: Vec<i64> = Vec::new();
    for r in &fetches {
        assert_eq!(r.method, "GET");
        assert!(r.uri.len() < 6000, "{} bytes", r.uri.len());
        let list = r
            .uri
            .strip_prefix(&prefix)
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or_else(|| panic!("unexpected request {}", r.uri));
        seen.extend(list.split(',').map(|s| s.parse::<i64>().unwrap()));
    }
    assert_eq!(seen, ids);
}

#[test]
fn an_empty_device_list_sends_nothing() {
    let api = Api::start();
    let home = tempfile::tempdir().unwrap();
    let c = client(&api, &home);
    let out = block_on(wait_for_rollout(
        &c,
        WaitScope::devices(vec![]),
        Duration::from_secs(5),
    ))
    .unwrap();
    assert!(out.complete);
    assert!(api.requests().is_empty());
}

#[test]
fn a_rejected_poll_is_an_error_not_a_timeout() {
    let api = Api::start();
    let home = tempfile::tempdir().unwrap();
    api.on(
        "GET",
        &fleet_count(1001),
        401,
        r#"{"message":"Unauthorized"}"#,
    );
    let c = client(&api, &home);
    let err = block_on(wait_for_rollout(
        &c,
        WaitScope::fleet(1001, "myorg/myfleet", Some(11)),
        Duration::from_secs(30),
    ))
    .unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::Auth);
    assert_eq!(api.requests().len(), 1);
}

#[test]
fn while_nothing_changes_a_poll_is_one_count() {
    let api = Api::start();
    let home = tempfile::tempdir().unwrap();
    let uri = fleet_poll(1001);
    let count = fleet_count(1001);
    answer(&api, &count, json!({"d": 1}), None);
    answer(
        &api,
        &uri,
        json!({"d": [dev(1, true, "updating", 10, 11), dev(2, true, "idle", 11, 11)]}),
        None,
    );
    let c = client(&api, &home);
    let out = block_on(wait_for_rollout(
        &c,
        WaitScope::fleet(1001, "myorg/myfleet", Some(11)),
        Duration::from_millis(3500),
    ))
    .unwrap();
    assert!(!out.complete);
    // Polls at 0, 1 s and 3.5 s (the deadline): the devices on the first and the last only.
    let lines = api.lines();
    assert_eq!(
        lines,
        vec![
            format!("GET {count}"),
            format!("GET {uri}"),
            format!("GET {count}"),
            format!("GET {count}"),
            format!("GET {uri}"),
        ]
    );
    assert_eq!(out.polls, 3);
    assert_eq!(
        out.behind().map(|d| d.uuid.to_string()).collect::<Vec<_>>(),
        vec![uuid(1)]
    );
}

#[test]
fn a_device_given_another_release_meanwhile_is_reported_not_waited_for() {
    let api = Api::start();
    let home = tempfile::tempdir().unwrap();
    // Device 3 was pinned to 11 by this command, then someone pinned it to 12.
    let mut repinned = dev(3, true, "idle", 10, 12);
    repinned["is_pinned_on__release"] = json!({"__id": 12});
    let uri = format!("/v7/device?{SELECT}&$filter=id%20in%20(3,7)");
    answer(
        &api,
        &uri,
        json!({"d": [dev(7, true, "idle", 11, 11), repinned]}),
        None,
    );
    let c = client(&api, &home);
    let out = block_on(wait_for_rollout(
        &c,
        WaitScope::devices(vec![(7, Some(11)), (3, Some(11))]),
        Duration::from_secs(30),
    ))
    .unwrap();
    assert!(out.complete);
    assert_eq!(api.lines().len(), 1);
    let r = rollout_json(&out);
    assert_eq!(r["changed_by_others"], json!([uuid(3)]));
    assert_eq!(r["behind"], json!([]));
    let err = out.into_result().unwrap_err();
    assert_eq!(err.name(), "BalenaConflict");
    assert_eq!(err.exit_code(), ExitCode::Partial);
    assert_eq!(
        err.list(),
        Some(("changed", &[format!("{} (dev-3)", uuid(3))][..]))
    );
}
