//! Concurrent requests: reads run on a pool of read-only connections, writes on one writer
//! (issue 10). Many clients reading at once get exactly what one client reading alone gets;
//! a write that was acknowledged is seen by every later read, whichever connection serves
//! it, while other clients keep the readers busy. Both with the default pool and with every
//! request on the one writer connection (`--readers 0`), and with a larger pool.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use balena_testkit::RawClient;
use serde_json::{json, Value};

const CLIENTS: usize = 8;

/// The scale fleet of `--devices N --releases M`: its id, its releases and its devices.
fn scale_fleet(sb: &common::Sandbox) -> (i64, Vec<i64>, Vec<i64>) {
    let v = sb.get_json(
        "/v7/application?$filter=startswith(app_name,%27scale-fleet%27)&$select=id&$expand=owns__release($select=id;$orderby=id%20asc),owns__device($select=id;$orderby=id%20asc)",
    );
    let f = &v["d"][0];
    let ids = |k: &str| -> Vec<i64> {
        f[k].as_array()
            .expect(k)
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    (
        f["id"].as_i64().expect("the scale fleet"),
        ids("owns__release"),
        ids("owns__device"),
    )
}

fn start(extra: &[&str]) -> common::Sandbox {
    let mut args = vec!["--seed", "demo", "--devices", "240", "--releases", "3"];
    args.extend_from_slice(extra);
    common::Sandbox::start_with(&args)
}

fn client(sb: &common::Sandbox) -> RawClient {
    let mut c = RawClient::new(&sb.base_url);
    c.timeout = Duration::from_secs(20);
    c
}

#[test]
fn concurrent_reads_answer_what_a_single_read_answers() {
    let sb = start(&[]);
    assert!(
        sb.stderr().contains("reader connections"),
        "the sandbox should say it has readers: {}",
        sb.stderr()
    );
    let (fleet, releases, _) = scale_fleet(&sb);
    let queries: Vec<String> = vec![
        format!("/v7/device?$select=id,uuid,device_name&$filter=belongs_to__application%20eq%20{fleet}&$expand=is_pinned_on__release($select=id,commit,raw_version)&$orderby=id%20asc&$top=100"),
        format!("/v7/device?$select=id,uuid&$filter=(belongs_to__application%20eq%20{fleet})%20and%20(id%20gt%2050)&$orderby=device_name%20desc&$top=30&$expand=should_be_running__release($select=commit)"),
        format!("/v7/application({fleet})?$select=id,slug&$expand=owns__device/$count,owns__release($select=id,commit;$orderby=id%20desc)"),
        format!("/v7/device/$count?$filter=belongs_to__application%20eq%20{fleet}"),
        format!("/v7/release({})?$select=id,commit,raw_version", releases[0]),
        "/actor/v1/whoami".to_string(),
    ];
    let mut c = client(&sb);
    let expected: Vec<(u16, Vec<u8>)> = queries
        .iter()
        .map(|q| {
            let r = c.get(q, Some(&sb.api_key)).expect("GET");
            assert_eq!(r.status, 200, "GET {q}: {}", r.text());
            (r.status, r.body)
        })
        .collect();
    let queries = Arc::new(queries);
    let expected = Arc::new(expected);
    let handles: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let (queries, expected) = (queries.clone(), expected.clone());
            let mut c = client(&sb);
            let key = sb.api_key.clone();
            std::thread::spawn(move || {
                for i in 0..60 {
                    let k = (i + t) % queries.len();
                    let r = c.get(&queries[k], Some(&key)).expect("GET");
                    assert_eq!(
                        (r.status, &r.body),
                        (expected[k].0, &expected[k].1),
                        "client {t}, GET {}",
                        queries[k]
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a reading client failed");
    }
}

/// Pins each device in turn and reads it back at once, several times (the reads land on
/// different reader connections), from 4 writing clients, while 4 other clients keep
/// reading fleet pages; then a new API key is used at once.
fn acknowledged_writes_are_read_back(sb: &common::Sandbox) {
    let (fleet, releases, devices) = scale_fleet(sb);
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|t| {
            let stop = stop.clone();
            let mut c = client(sb);
            let key = sb.api_key.clone();
            std::thread::spawn(move || {
                let q = format!("/v7/device?$select=id,uuid,device_name&$filter=belongs_to__application%20eq%20{fleet}&$expand=is_pinned_on__release($select=id,commit,raw_version)&$orderby=id%20asc&$top=200");
                let mut n = 0u32;
                // Bounded: stops when the writers are done, or after 5,000 reads.
                while !stop.load(Ordering::Relaxed) && n < 5_000 {
                    let r = c.get(&q, Some(&key)).expect("GET");
                    assert_eq!(r.status, 200, "reader {t}: {}", r.text());
                    n += 1;
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..4usize)
        .map(|t| {
            let mine: Vec<i64> = devices
                .iter()
                .copied()
                .filter(|d| (*d as usize) % 4 == t)
                .take(15)
                .collect();
            let releases = releases.clone();
            let mut c = client(sb);
            let key = sb.api_key.clone();
            std::thread::spawn(move || {
                for round in 0..3usize {
                    for (i, &d) in mine.iter().enumerate() {
                        let pin = match (round + i) % (releases.len() + 1) {
                            k if k < releases.len() => json!(releases[k]),
                            _ => Value::Null,
                        };
                        let target = if i % 2 == 0 {
                            format!("/v7/device({d})")
                        } else {
                            format!("/v7/device?$filter=id%20in%20({d})")
                        };
                        let r = c
                            .send_json(
                                "PATCH",
                                &target,
                                Some(&key),
                                &json!({ "is_pinned_on__release": pin }),
                            )
                            .expect("PATCH");
                        assert_eq!(r.status, 200, "PATCH {target}: {}", r.text());
                        for _ in 0..3 {
                            let r = c
                                .get(
                                    &format!("/v7/device({d})?$select=is_pinned_on__release"),
                                    Some(&key),
                                )
                                .expect("GET");
                            assert_eq!(r.status, 200);
                            let got = r.json()["d"][0]["is_pinned_on__release"]["__id"].clone();
                            assert_eq!(
                                got, pin,
                                "device {d}: read back after an acknowledged PATCH"
                            );
                        }
                    }
                }
            })
        })
        .collect();
    let mut failed = Vec::new();
    for h in writers {
        if let Err(e) = h.join() {
            failed.push(e);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in readers {
        h.join().expect("a reading client failed");
    }
    if let Some(e) = failed.pop() {
        std::panic::resume_unwind(e);
    }

    // The fleet's target, changed and read back through a device's target.
    let mut c = client(sb);
    let d0 = devices[0];
    let r = c
        .send_json(
            "PATCH",
            &format!("/v7/device({d0})"),
            Some(&sb.api_key),
            &json!({"is_pinned_on__release": null}),
        )
        .unwrap();
    assert_eq!(r.status, 200);
    for &rel in &releases {
        let r = c
            .send_json(
                "PATCH",
                &format!("/v7/application({fleet})"),
                Some(&sb.api_key),
                &json!({"should_be_running__release": rel}),
            )
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let v = sb.get_json(&format!(
            "/v7/device({d0})?$select=id&$expand=should_be_running__release($select=id)"
        ));
        assert_eq!(v["d"][0]["should_be_running__release"][0]["id"], rel);
    }

    // A key created by a POST works on the very next request.
    for _ in 0..5 {
        let r = c
            .send_json(
                "POST",
                "/api-key/user/full",
                Some(&sb.api_key),
                &json!({"name": "concurrency"}),
            )
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let key = r.json().as_str().expect("a key").to_string();
        let r = c.get("/actor/v1/whoami", Some(&key)).unwrap();
        assert_eq!(r.status, 200, "a new key, used at once: {}", r.text());
    }
}

#[test]
fn an_acknowledged_write_is_seen_by_every_later_read_with_the_default_pool() {
    acknowledged_writes_are_read_back(&start(&[]));
}

#[test]
fn an_acknowledged_write_is_seen_by_every_later_read_with_4_readers() {
    let sb = start(&["--readers", "4"]);
    assert!(
        sb.stderr().contains("4 reader connections"),
        "{}",
        sb.stderr()
    );
    acknowledged_writes_are_read_back(&sb);
}

#[test]
fn an_acknowledged_write_is_seen_by_every_later_read_on_one_connection() {
    let sb = start(&["--readers", "0"]);
    assert!(sb.stderr().contains("one connection"), "{}", sb.stderr());
    acknowledged_writes_are_read_back(&sb);
}
