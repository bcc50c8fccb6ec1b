//! Request-level tests of bulk device selection, release selectors (`latest`, `fleet
//! rollback`) and `--dry-run`: the real binary against a recording HTTP mock, asserting the
//! exact GET filters, the chunked `PATCH device?$filter=…` URLs (ids listed, or as ranges) and bodies, the
//! request counts, and that a dry run sends no write.

use balena_testkit::mock::Api;
use balena_testkit::TestEnv;
use serde_json::{json, Value};

const REL_FIELDS: &str = "id,commit,status,raw_version,semver,is_final,is_invalidated,created_at";
const APP_SELECT: &str = "$select=id,app_name,slug,should_track_latest_release";
const TARGET_EXPAND: &str = "should_be_running__release($select=id,commit,raw_version)";
const TRACKABLE: &str = "(is_final%20eq%20true)%20and%20(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success%27)";
const SLUG_FILTER: &str = "$filter=slug%20eq%20%27myorg%2Fmyfleet%27";
const C1: &str = "aaaaaaa1111111111111111111111111";
const C2: &str = "bbbbbbb2222222222222222222222222";
const C3: &str = "ccccccc3333333333333333333333333";
const U1: &str = "0123456789abcdef0123456789abcdef";
const U2: &str = "11112222333344445555666677778888";
const DEV_SELECT: &str = "$select=id,uuid,device_name,belongs_to__application&$filter=";
const PIN_EXPAND: &str = "$expand=is_pinned_on__release($select=id,commit,raw_version)";

fn rel(id: i64, commit: &str, version: &str) -> Value {
    json!({"id": id, "commit": commit, "status": "success", "raw_version": version,
           "semver": version, "is_final": true, "is_invalidated": false,
           "created_at": "2024-02-02T00:00:00.000Z"})
}

fn summary(id: i64, commit: &str, version: &str) -> Value {
    json!({"id": id, "commit": commit, "raw_version": version})
}

fn d(rows: Vec<Value>) -> String {
    json!({ "d": rows }).to_string()
}

fn writes(api: &Api) -> Vec<String> {
    api.requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| r.line())
        .collect()
}

// ------------------------------------------------------------- bulk by list

/// The device GET of a list: full uuids in one `in`, prefixes as `startswith`.
fn list_get(full: &[&str], prefixes: &[&str]) -> String {
    let mut parts = Vec::new();
    if !full.is_empty() {
        let quoted: Vec<String> = full.iter().map(|u| format!("%27{u}%27")).collect();
        parts.push(format!("uuid%20in%20({})", quoted.join(",")));
    }
    for p in prefixes {
        parts.push(format!("startswith(uuid,%27{p}%27)"));
    }
    let filter = if parts.len() == 1 {
        parts.remove(0)
    } else {
        parts
            .iter()
            .map(|p| format!("({p})"))
            .collect::<Vec<_>>()
            .join("%20or%20")
    };
    let top = full.len() + 10 * prefixes.len() + 1;
    format!("/v7/device?{DEV_SELECT}{filter}&{PIN_EXPAND}&$top={top}")
}

fn fleets_get(ids: &str, release_filter: &str) -> String {
    format!(
        "/v7/application?{APP_SELECT}&$filter=id%20in%20({ids})&$expand={TARGET_EXPAND},owns__release($select={REL_FIELDS};$filter={release_filter};$orderby=created_at%20desc;$top=25)"
    )
}

/// The conditional filter of a bulk write: these ids, still pinned as planned.
fn cond(ids: &str, before: &str) -> String {
    format!("(id%20in%20({ids}))%20and%20(is_pinned_on__release%20eq%20{before})")
}

fn device_row(id: i64, uuid: &str, name: &str, fleet: i64, pinned: Option<Value>) -> Value {
    json!({"id": id, "uuid": uuid, "device_name": name,
           "belongs_to__application": {"__id": fleet},
           "is_pinned_on__release": pinned.map(|p| vec![p]).unwrap_or_default()})
}

fn fleet_json(id: i64, slug: &str, target: Value, releases: Vec<Value>) -> Value {
    json!({"id": id, "app_name": slug.split('/').nth(1).unwrap(), "slug": slug,
           "should_track_latest_release": false,
           "should_be_running__release": [target], "owns__release": releases})
}

#[test]
fn bulk_list_pin_is_three_requests_with_one_filtered_patch() {
    let api = Api::start();
    let get = list_get(&[U1], &["abcd", "9999"]);
    api.on(
        "GET",
        &get,
        200,
        &d(vec![
            device_row(11, U1, "one", 1001, None),
            device_row(
                12,
                "abcd0000000000000000000000000012",
                "two",
                1001,
                Some(summary(5002, C2, "0.0.2")),
            ),
            device_row(13, "abcd0000000000000000000000000013", "three", 1001, None),
        ]),
    );
    let fg = fleets_get("1001", "startswith(commit,%27bbbbbbb%27)");
    api.on(
        "GET",
        &fg,
        200,
        &d(vec![fleet_json(
            1001,
            "myorg/myfleet",
            summary(5001, C1, "0.0.1"),
            vec![rel(5002, C2, "0.0.2")],
        )]),
    );
    api.on(
        "PATCH",
        &format!("/v7/device?$filter={}", cond("11", "null")),
        200,
        "",
    );
    let count = format!("/v7/device/$count?$filter={}", cond("11", "5002"));
    api.on("GET", &count, 200, r#"{"d":1}"#);
    let env = TestEnv::logged_in(&api);
    // "abcd" is ambiguous (two devices), "9999" unknown: exit 9, device one pinned.
    let out = env.run(&[
        "device",
        "pin",
        &format!("{U1},ABCD,9999"),
        "bbbbbbb",
        "--json",
    ]);
    assert_eq!(out.code, 9, "{} {:?}", out.stderr, api.lines());
    assert_eq!(
        api.lines(),
        vec![
            format!("GET {get}"),
            format!("GET {fg}"),
            // Conditional on the pin it was planned from; then one $count checks it.
            format!(
                "PATCH /v7/device?$filter={} {{\"is_pinned_on__release\":5002}}",
                cond("11", "null")
            ),
            format!("GET {count}"),
        ]
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["counts"],
        json!({"changed": 1, "unchanged": 0, "failed": 2})
    );
    let r = &v["results"];
    assert_eq!(r[0]["device"]["uuid"], U1);
    assert_eq!(r[0]["fleet"], "myorg/myfleet");
    assert_eq!(r[0]["changed"], true);
    assert_eq!(
        r[0]["before"],
        json!({"tracking_fleet": true, "release": summary(5001, C1, "0.0.1")})
    );
    assert_eq!(
        r[0]["after"],
        json!({"tracking_fleet": false, "release": summary(5002, C2, "0.0.2")})
    );
    assert_eq!(r[1]["input"], "abcd");
    assert_eq!(r[1]["error"]["name"], "BalenaAmbiguousDevice");
    assert_eq!(r[2]["error"]["name"], "BalenaDeviceNotFound");
    // stderr holds one JSON error object.
    let e: Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(e["error"]["exitCode"], 9);
}

#[test]
fn bulk_devices_already_pinned_get_no_write_and_exit_0() {
    let api = Api::start();
    let get = list_get(&[U1, U2], &[]);
    let pinned = Some(summary(5002, C2, "0.0.2"));
    api.on(
        "GET",
        &get,
        200,
        &d(vec![
            device_row(11, U1, "one", 1001, pinned.clone()),
            device_row(12, U2, "two", 1001, pinned),
        ]),
    );
    let fg = fleets_get("1001", "startswith(commit,%27bbbbbbb%27)");
    api.on(
        "GET",
        &fg,
        200,
        &d(vec![fleet_json(
            1001,
            "myorg/myfleet",
            summary(5001, C1, "0.0.1"),
            vec![rel(5002, C2, "0.0.2")],
        )]),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "pin", &format!("{U1},{U2}"), "bbbbbbb"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(api.lines().len(), 2);
    assert!(writes(&api).is_empty());
    assert_eq!(
        out.stderr,
        "Fleet myorg/myfleet: pinned 0 devices to release bbbbbbb (0.0.2); 2 already pinned to it.\n"
    );
}

#[test]
fn bulk_all_failed_is_the_single_device_exit_code() {
    let api = Api::start();
    let get = list_get(&[], &["dead", "beef"]);
    api.on("GET", &get, 200, r#"{"d":[]}"#);
    api.on(
        "GET",
        "/actor/v1/whoami",
        200,
        r#"{"id":1,"actorType":"user","actorTypeId":1,"username":"u","email":"u@example.com"}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "track-fleet", "dead,beef"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("Device not found: dead"),
        "{}",
        out.stderr
    );
    assert!(writes(&api).is_empty());
    // No rows at all: the session is confirmed once (the guest trap).
    assert_eq!(
        api.lines(),
        vec![format!("GET {get}"), "GET /actor/v1/whoami".to_owned()]
    );
}

#[test]
fn bulk_release_failing_in_one_fleet_leaves_its_devices_alone() {
    let api = Api::start();
    let get = list_get(&[U1, U2], &[]);
    api.on(
        "GET",
        &get,
        200,
        &d(vec![
            device_row(11, U1, "one", 1001, None),
            device_row(21, U2, "two", 2002, None),
        ]),
    );
    let fg = fleets_get("1001,2002", "startswith(commit,%27bbbbbbb%27)");
    api.on(
        "GET",
        &fg,
        200,
        &d(vec![
            fleet_json(
                1001,
                "myorg/myfleet",
                summary(5001, C1, "0.0.1"),
                vec![rel(5002, C2, "0.0.2")],
            ),
            fleet_json(2002, "myorg/other", summary(6001, C3, "9.0.0"), vec![]),
        ]),
    );
    // The one extra request that tells a foreign release from an unknown one.
    let foreign = format!("/v7/release?$select={REL_FIELDS}&$filter=startswith(commit,%27bbbbbbb%27)&$expand=belongs_to__application($select=id,slug)&$top=25");
    api.on(
        "GET",
        &foreign,
        200,
        &d(vec![{
            let mut r = rel(5002, C2, "0.0.2");
            r["belongs_to__application"] = json!([{"id": 1001, "slug": "myorg/myfleet"}]);
            r
        }]),
    );
    api.on(
        "PATCH",
        &format!("/v7/device?$filter={}", cond("11", "null")),
        200,
        "",
    );
    api.on(
        "GET",
        &format!("/v7/device/$count?$filter={}", cond("11", "5002")),
        200,
        r#"{"d":1}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["device", "pin", &format!("{U1},{U2}"), "bbbbbbb"]);
    assert_eq!(out.code, 9, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "error: device {U2}: Release not found: bbbbbbb\n  It is a release of myorg/myfleet; only releases of myorg/other can be pinned there"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        writes(&api),
        vec![format!(
            "PATCH /v7/device?$filter={} {{\"is_pinned_on__release\":5002}}",
            cond("11", "null")
        )]
    );
}

#[test]
fn stdin_dash_reads_uuids_ignoring_blanks_and_comments() {
    let api = Api::start();
    let get = list_get(&[U1, U2], &[]);
    let pinned = Some(summary(5002, C2, "0.0.2"));
    api.on(
        "GET",
        &get,
        200,
        &d(vec![
            device_row(11, U1, "one", 1001, pinned.clone()),
            device_row(12, U2, "two", 1001, pinned),
        ]),
    );
    let fg =
        format!("/v7/application?{APP_SELECT}&$filter=id%20in%20(1001)&$expand={TARGET_EXPAND}");
    api.on(
        "GET",
        &fg,
        200,
        &d(vec![fleet_json(
            1001,
            "myorg/myfleet",
            summary(5001, C1, "0.0.1"),
            vec![],
        )]),
    );
    api.on(
        "PATCH",
        &format!("/v7/device?$filter={}", cond("11,12", "5002")),
        200,
        "",
    );
    api.on(
        "GET",
        &format!("/v7/device/$count?$filter={}", cond("11,12", "null")),
        200,
        r#"{"d":2}"#,
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run_stdin(
        &["device", "track-fleet", "-"],
        &format!("# canaries\n{U1}\n\n  {}  # lab\n", U2.to_uppercase()),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        writes(&api),
        vec![format!(
            "PATCH /v7/device?$filter={} {{\"is_pinned_on__release\":null}}",
            cond("11,12", "5002")
        )]
    );
    assert_eq!(
        out.stderr,
        "Fleet myorg/myfleet: 2 devices now track the fleet (currently aaaaaaa (0.0.1)).\n"
    );
}

// ------------------------------------------------------- bulk by --fleet

fn fleet_get_with(release_expand: &str) -> String {
    format!("/v7/application?{APP_SELECT}&{SLUG_FILTER}&$expand={TARGET_EXPAND}{release_expand}")
}

/// A page of a `--fleet` selection: the devices after id `after` (keyset paging).
fn page(filter: &str, after: Option<i64>) -> String {
    let filter = match after {
        None => filter.to_owned(),
        Some(id) => format!("{filter}%20and%20(id%20gt%20{id})"),
    };
    format!("/v7/device?$select=id,uuid,device_name&$filter={filter}&{PIN_EXPAND}&$orderby=id%20asc&$top=1000")
}

/// The page after `after` of fleet 1001's devices (its one term goes in parentheses once the
/// keyset term joins it).
fn fleet_page(after: Option<i64>) -> String {
    match after {
        None => page("belongs_to__application%20eq%201001", None),
        a => page("(belongs_to__application%20eq%201001)", a),
    }
}

/// The conditional PATCH of a pin to release 5003 of the devices `set` names (devices that
/// followed their fleet), and the `$count` that checks it.
fn pin_write(set: &str) -> (String, String) {
    (
        format!("/v7/device?$filter=({set})%20and%20(is_pinned_on__release%20eq%20null)"),
        format!("/v7/device/$count?$filter=({set})%20and%20(is_pinned_on__release%20eq%205003)"),
    )
}

/// Runs `balena device pin --fleet myorg/myfleet latest --json`: its output, and every
/// request it sent as `METHOD uri`.
fn pin_fleet_latest(api: &Api) -> (balena_testkit::Out, Vec<String>) {
    let out = TestEnv::logged_in(api).run(&[
        "device",
        "pin",
        "--fleet",
        "myorg/myfleet",
        "latest",
        "--json",
    ]);
    let lines = api
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect();
    (out, lines)
}

/// Mounts the fleet GET that `latest` sends (the fleet of 1001 targeting 5001), answering with
/// `latest` as its newest pinnable release (or none). Returns the GET's path and query.
fn on_fleet_get_latest(api: &Api, latest: Vec<Value>) -> String {
    let fg = fleet_get_with(&format!(
        ",owns__release($select={REL_FIELDS};$filter={TRACKABLE};$orderby=start_timestamp%20desc;$top=1)"
    ));
    api.on(
        "GET",
        &fg,
        200,
        &d(vec![fleet_json(
            1001,
            "myorg/myfleet",
            summary(5001, C1, "0.0.1"),
            latest,
        )]),
    );
    fg
}

#[test]
fn fleet_selection_pages_and_chunks_the_patches() {
    let api = Api::start();
    let fg = on_fleet_get_latest(&api, vec![rel(5003, C3, "0.0.3")]);
    let filter = "(belongs_to__application%20eq%201001)%20and%20(device_tag/any(dt:(dt/tag_key%20eq%20%27group%27)%20and%20(dt/value%20eq%20%27canary%27)))%20and%20(device_tag/any(dt:dt/tag_key%20eq%20%27lab%27))";
    // 2,500 devices: ids 100000.. ; every 10th is already pinned to the release.
    let rows: Vec<Value> = (0..2500)
        .map(|i| {
            let id = 100_000 + i as i64;
            json!({"id": id, "uuid": format!("{id:032x}"), "device_name": format!("dev{i}"),
                   "is_pinned_on__release": if i % 10 == 0 { vec![summary(5003, C3, "0.0.3")] } else { vec![] }})
        })
        .collect();
    for (n, after) in [(0usize, None), (1, Some(100_999)), (2, Some(101_999))] {
        let chunk: Vec<Value> = rows.iter().skip(n * 1000).take(1000).cloned().collect();
        api.on("GET", &page(filter, after), 200, &d(chunk));
    }
    // Each chunk written is checked with a $count: every device of it holds the pin.
    api.server.mock(|when, then| {
        when.is_true(|req: &httpmock::HttpMockRequest| {
            req.method() == "GET" && req.uri().path() == "/v7/device/$count"
        });
        then.respond_with(|req: &httpmock::HttpMockRequest| {
            let q = req.uri().query().unwrap_or_default().to_owned();
            let ids = q
                .split_once("in%20(")
                .and_then(|(_, rest)| rest.split_once(')'))
                .map_or(0, |(list, _)| list.split(',').count());
            httpmock::HttpMockResponse::builder()
                .status(200)
                .body(format!("{{\"d\":{ids}}}"))
                .build()
        });
    });
    let patched = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    {
        let p = patched.clone();
        api.server.mock(move |when, then| {
            when.is_true(move |req: &httpmock::HttpMockRequest| {
                if req.method() == "PATCH" {
                    p.lock().unwrap().push(
                        req.uri()
                            .path_and_query()
                            .map(|x| x.as_str().to_owned())
                            .unwrap_or_default(),
                    );
                    true
                } else {
                    false
                }
            });
            then.status(200);
        });
    }
    let env = TestEnv::logged_in(&api);
    let out = env.run(&[
        "device",
        "pin",
        "--fleet",
        "myorg/myfleet",
        "--tag",
        "group=canary",
        "--tag",
        "lab",
        "latest",
        "--json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reqs = api.requests();
    let gets: Vec<&str> = reqs
        .iter()
        .filter(|r| r.method == "GET" && !r.uri.starts_with("/v7/device/$count"))
        .map(|r| r.uri.as_str())
        .collect();
    let counts: Vec<String> = reqs
        .iter()
        .filter(|r| r.uri.starts_with("/v7/device/$count"))
        .map(|r| r.uri.replace("/v7/device/$count?", "/v7/device?"))
        .collect();
    assert_eq!(
        gets,
        vec![
            fg.as_str(),
            &page(filter, None),
            &page(filter, Some(100_999)),
            &page(filter, Some(101_999)),
        ]
    );
    let patches: Vec<_> = reqs.iter().filter(|r| r.method == "PATCH").collect();
    // 2,250 ids of 6 digits, under ~6 KB each: 3 chunks.
    assert_eq!(patches.len(), 3, "{:?}", patches.len());
    let mut ids: Vec<i64> = Vec::new();
    for p in &patches {
        assert!(p.uri.len() <= 6_000, "{}", p.uri.len());
        assert_eq!(p.body, "{\"is_pinned_on__release\":5003}");
        let list = p
            .uri
            .strip_prefix("/v7/device?$filter=(id%20in%20(")
            .and_then(|s| s.strip_suffix("))%20and%20(is_pinned_on__release%20eq%20null)"))
            .unwrap_or_else(|| panic!("{}", p.uri));
        ids.extend(list.split(',').map(|s| s.parse::<i64>().unwrap()));
    }
    // Each PATCH is checked by one $count of the same ids holding the pin.
    let checked: Vec<String> = patches
        .iter()
        .map(|p| {
            p.uri.replace(
                "is_pinned_on__release%20eq%20null",
                "is_pinned_on__release%20eq%205003",
            )
        })
        .collect();
    let mut counts = counts;
    counts.sort();
    let mut checked = checked;
    checked.sort();
    assert!(
        counts == checked,
        "the $count checks differ from the PATCHes"
    );
    let want: Vec<i64> = (0..2500)
        .filter(|i| i % 10 != 0)
        .map(|i| 100_000 + i as i64)
        .collect();
    // The PATCHes run 3 at a time: they may arrive in any order.
    ids.sort_unstable();
    assert_eq!(ids, want);
    // ≤ 1 request per 100 devices.
    assert!(reqs.len() * 100 <= 2500, "{} requests", reqs.len());
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["counts"],
        json!({"changed": 2250, "unchanged": 250, "failed": 0})
    );
    assert_eq!(v["results"].as_array().unwrap().len(), 2500);
}

/// A fleet whose devices have runs of consecutive ids: each write names its ids as ranges
/// (only the ids read and planned: a gap, a device already pinned and the ids after a chunk
/// of [`WRITE_IDS`] stay out), the short runs as ids, and is checked by one `$count` naming
/// them the same way.
#[test]
fn fleet_selection_writes_runs_of_ids_as_ranges() {
    let api = Api::start();
    let fg = on_fleet_get_latest(&api, vec![rel(5003, C3, "0.0.3")]);
    // Ids 1..=4200 and 5000..=5004 except 2000 (another fleet's); 3000 is already pinned.
    let ids: Vec<i64> = (1..=4200)
        .chain(5000..=5004)
        .filter(|&i| i != 2000)
        .collect();
    let rows: Vec<Value> = ids
        .iter()
        .map(|&id| {
            json!({"id": id, "uuid": format!("{id:032x}"), "device_name": format!("dev{id}"),
                   "is_pinned_on__release": if id == 3000 { vec![summary(5003, C3, "0.0.3")] } else { vec![] }})
        })
        .collect();
    let mut after = None;
    for chunk in rows.chunks(1000) {
        api.on("GET", &fleet_page(after), 200, &d(chunk.to_vec()));
        after = chunk.last().map(|r| r["id"].as_i64().unwrap());
    }
    let range = |a: i64, b: i64| format!("(id%20ge%20{a})%20and%20(id%20le%20{b})");
    // The first write: 4,000 devices, 1..=4002 without 2000 and 3000.
    let first = format!(
        "({})%20or%20({})%20or%20({})",
        range(1, 1999),
        range(2001, 2999),
        range(3001, 4002)
    );
    // The second: 4003..=4200 and the short run 5000..=5004, listed.
    let second = format!(
        "({})%20or%20(id%20in%20(5000,5001,5002,5003,5004))",
        range(4003, 4200)
    );
    for (set, n) in [(&first, 4000), (&second, 203)] {
        let (patch, count) = pin_write(set);
        api.on("PATCH", &patch, 200, "");
        api.on("GET", &count, 200, &format!("{{\"d\":{n}}}"));
    }
    let (out, mut lines) = pin_fleet_latest(&api);
    assert_eq!(out.code, 0, "{}{}", out.stderr, out.stdout);
    // The writes and their checks run 3 at a time: compare them in a fixed order.
    lines[6..].sort();
    let mut want = vec![format!("GET {fg}")];
    let mut after = None;
    for chunk in rows.chunks(1000) {
        want.push(format!("GET {}", fleet_page(after)));
        after = chunk.last().map(|r| r["id"].as_i64().unwrap());
    }
    let mut writes = Vec::new();
    for set in [&first, &second] {
        let (patch, count) = pin_write(set);
        writes.push(format!("PATCH {patch}"));
        writes.push(format!("GET {count}"));
    }
    writes.sort();
    want.extend(writes);
    assert_eq!(lines, want);
    for r in api.requests().iter().filter(|r| r.method == "PATCH") {
        assert_eq!(r.body, "{\"is_pinned_on__release\":5003}");
    }
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["counts"],
        json!({"changed": 4203, "unchanged": 1, "failed": 0})
    );
}

/// The writes of a `--fleet` selection go out while its pages are read. When a page then
/// fails, the write already sent is finished and reported as done, and the failure is
/// reported for the devices not read: nothing is claimed about them.
#[test]
fn a_page_failing_after_a_write_was_sent_reports_both() {
    let api = Api::start();
    let fg = on_fleet_get_latest(&api, vec![rel(5003, C3, "0.0.3")]);
    let mut after = None;
    for n in 0..4 {
        let rows: Vec<Value> = (1 + n * 1000..=(n + 1) * 1000)
            .map(|id| json!({"id": id, "uuid": format!("{id:032x}"), "device_name": format!("dev{id}"), "is_pinned_on__release": []}))
            .collect();
        api.on("GET", &fleet_page(after), 200, &d(rows));
        after = Some((n + 1) * 1000);
    }
    api.on("GET", &fleet_page(Some(4000)), 400, "\"Bad page\"");
    let (patch, count) = pin_write("(id%20ge%201)%20and%20(id%20le%204000)");
    api.on("PATCH", &patch, 200, "");
    api.on("GET", &count, 200, "{\"d\":4000}");
    let (out, mut lines) = pin_fleet_latest(&api);
    assert_ne!(out.code, 0, "{}", out.stdout);
    // The fifth page and the write run at once.
    lines[5..].sort();
    let mut want = vec![format!("GET {fg}")];
    want.extend(
        [None, Some(1000), Some(2000), Some(3000)].map(|a| format!("GET {}", fleet_page(a))),
    );
    let mut rest = vec![
        format!("GET {}", fleet_page(Some(4000))),
        format!("PATCH {patch}"),
        format!("GET {count}"),
    ];
    rest.sort();
    want.extend(rest);
    assert_eq!(lines, want);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["counts"],
        json!({"changed": 4000, "unchanged": 0, "failed": 1})
    );
    let failed = &v["results"][4000];
    assert_eq!(failed["device"], Value::Null);
    assert_eq!(failed["fleet"], "myorg/myfleet");
    assert!(failed["error"].to_string().contains("Bad page"), "{failed}");
}

#[test]
fn fleet_selection_without_any_device_is_not_found() {
    let api = Api::start();
    let fg = fleet_get_with("");
    api.on(
        "GET",
        &fg,
        200,
        &d(vec![fleet_json(
            1001,
            "myorg/myfleet",
            summary(5001, C1, "0.0.1"),
            vec![],
        )]),
    );
    let filter = "(belongs_to__application%20eq%201001)%20and%20(device_tag/any(dt:dt/tag_key%20eq%20%27nope%27))";
    api.on("GET", &page(filter, None), 200, r#"{"d":[]}"#);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&[
        "device",
        "track-fleet",
        "--fleet",
        "myorg/myfleet",
        "--tag",
        "nope",
    ]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("No device selected"), "{}", out.stderr);
    assert_eq!(api.lines().len(), 2);
}

#[test]
fn usage_errors_for_bulk_forms() {
    let api = Api::start();
    let env = TestEnv::logged_in(&api);
    // Several devices need a release.
    assert_eq!(env.run(&["device", "pin", "a,b"]).code, 2);
    // --tag needs --fleet; --fleet takes no device besides the release.
    assert_eq!(env.run(&["device", "pin", "a", "b", "--tag", "k"]).code, 2);
    assert_eq!(
        env.run(&["device", "pin", "a", "b", "--fleet", "myorg/myfleet"])
            .code,
        2
    );
    assert_eq!(
        env.run(&["device", "track-fleet", "a", "--fleet", "myorg/myfleet"])
            .code,
        2
    );
    // --wait and --dry-run exclude each other; --timeout needs --wait.
    assert_eq!(
        env.run(&["fleet", "rollback", "myorg/myfleet", "--wait", "--dry-run"])
            .code,
        2
    );
    assert_eq!(
        env.run(&["fleet", "rollback", "myorg/myfleet", "--timeout", "5m"])
            .code,
        2
    );
    assert_eq!(
        env.run(&[
            "fleet",
            "rollback",
            "myorg/myfleet",
            "--wait",
            "--timeout",
            "soon"
        ])
        .code,
        2
    );
    let out = env.run_stdin(&["device", "pin", "-", "latest"], "# nothing\n\n");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(api.requests().is_empty(), "{:?}", api.lines());
}

// ------------------------------------------------------- selectors, rollback

#[test]
fn fleet_pin_latest_uses_the_track_latest_rule() {
    let api = Api::start();
    let fg = on_fleet_get_latest(&api, vec![rel(5003, C3, "0.0.3")]);
    api.on("PATCH", "/v7/application(1001)", 200, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/myfleet", "latest"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "Pinned fleet myorg/myfleet to release ccccccc (0.0.3).\n"
    );
    assert_eq!(
        api.lines(),
        vec![
            format!("GET {fg}"),
            "PATCH /v7/application(1001) {\"should_be_running__release\":5003,\"should_track_latest_release\":false}".to_owned()
        ]
    );
}

#[test]
fn latest_in_a_fleet_without_pinnable_release_is_not_found() {
    let api = Api::start();
    let _ = on_fleet_get_latest(&api, vec![]);
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "pin", "myorg/myfleet", "LATEST"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("has no pinnable release"),
        "{}",
        out.stderr
    );
    assert_eq!(api.lines().len(), 1);
}

fn rollback_get(devices: bool) -> String {
    let dev = if devices {
        ",owns__device($select=id,uuid,device_name;$expand=is_pinned_on__release($select=id,commit,raw_version);$orderby=id%20asc)"
    } else {
        ""
    };
    format!("/v7/application?{APP_SELECT}&{SLUG_FILTER}&$expand=should_be_running__release($select=id,commit,raw_version,start_timestamp,created_at),owns__release($select={REL_FIELDS},start_timestamp;$filter={TRACKABLE};$orderby=start_timestamp%20desc,created_at%20desc,id%20desc){dev}")
}

fn ts_rel(id: i64, commit: &str, version: &str, ts: &str) -> Value {
    let mut r = rel(id, commit, version);
    r["start_timestamp"] = json!(ts);
    r["created_at"] = json!(ts);
    r
}

fn rollback_fleet(target: Value, devices: Option<Value>) -> String {
    let mut f = fleet_json(
        1001,
        "myorg/myfleet",
        target,
        vec![
            ts_rel(5003, C3, "0.0.3", "2024-03-03T00:00:00.000Z"),
            ts_rel(5002, C2, "0.0.2", "2024-03-02T00:00:00.000Z"),
            ts_rel(5001, C1, "0.0.1", "2024-03-01T00:00:00.000Z"),
        ],
    );
    f["should_track_latest_release"] = json!(true);
    if let Some(ds) = devices {
        f["owns__device"] = ds;
    }
    d(vec![f])
}

#[test]
fn rollback_is_one_get_and_one_patch() {
    let api = Api::start();
    let get = rollback_get(false);
    api.on(
        "GET",
        &get,
        200,
        &rollback_fleet(ts_rel(5003, C3, "0.0.3", "2024-03-03T00:00:00.000Z"), None),
    );
    api.on("PATCH", "/v7/application(1001)", 200, "");
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "rollback", "myorg/myfleet", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "Rolled back fleet myorg/myfleet from ccccccc (0.0.3) to bbbbbbb (0.0.2).\n"
    );
    assert_eq!(
        api.lines(),
        vec![
            format!("GET {get}"),
            "PATCH /v7/application(1001) {\"should_be_running__release\":5002,\"should_track_latest_release\":false}".to_owned()
        ]
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["changed"], true);
    assert_eq!(v["before"]["tracking_latest"], true);
    assert_eq!(v["before"]["release"]["id"], 5003);
    assert_eq!(
        v["after"],
        json!({"tracking_latest": false, "release": summary(5002, C2, "0.0.2")})
    );
}

#[test]
fn rollback_without_earlier_release_changes_nothing() {
    let api = Api::start();
    let get = rollback_get(false);
    api.on(
        "GET",
        &get,
        200,
        &rollback_fleet(ts_rel(5001, C1, "0.0.1", "2024-03-01T00:00:00.000Z"), None),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "rollback", "myorg/myfleet"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "BalenaNoEarlierRelease: no earlier pinnable release than aaaaaaa (0.0.1) in fleet myorg/myfleet\nhint: "
        ),
        "{}",
        out.stderr
    );
    assert_eq!(api.lines(), vec![format!("GET {get}")]);
}

// ------------------------------------------------------------------ dry run

fn plan_devices() -> Value {
    json!([
        {"id": 11, "uuid": U1, "device_name": "one", "is_pinned_on__release": []},
        {"id": 12, "uuid": U2, "device_name": "two", "is_pinned_on__release": [summary(5001, C1, "0.0.1")]},
    ])
}

#[test]
fn dry_run_rollback_reads_everything_in_one_get_and_writes_nothing() {
    let api = Api::start();
    let get = rollback_get(true);
    api.on(
        "GET",
        &get,
        200,
        &rollback_fleet(
            ts_rel(5003, C3, "0.0.3", "2024-03-03T00:00:00.000Z"),
            Some(plan_devices()),
        ),
    );
    let env = TestEnv::logged_in(&api);
    let out = env.run(&["fleet", "rollback", "myorg/myfleet", "--dry-run", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(api.lines(), vec![format!("GET {get}")]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["changed"], true);
    assert_eq!(v["after"]["release"]["id"], 5002);
    assert_eq!(
        v["counts"],
        json!({"changed": 1, "unchanged": 0, "pinned": 1})
    );
    assert_eq!(v["devices"][0]["uuid"], U1);
    assert_eq!(v["devices"][0]["changed"], true);
    assert_eq!(v["devices"][0]["before"]["release"]["id"], 5003);
    assert_eq!(v["devices"][0]["after"]["release"]["id"], 5002);
    assert_eq!(v["devices"][1]["changed"], false);

    let out = env.run(&["fleet", "rollback", "myorg/myfleet", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "Dry run: nothing was changed.\n\
             Fleet myorg/myfleet: tracking the latest release (ccccccc (0.0.3)) -> pinned to bbbbbbb (0.0.2)\n\
             \n\
             UUID                             DEVICE NAME BEFORE                 AFTER                  CHANGED\n\
             {U1} one         fleet ccccccc (0.0.3)  fleet bbbbbbb (0.0.2)  yes\n\
             {U2} two         pinned aaaaaaa (0.0.1) pinned aaaaaaa (0.0.1) no\n\
             \n\
             1 device would change, 0 unchanged, 1 pinned device unaffected.\n"
        )
    );
    assert_eq!(out.stderr, "Dry run: no change was sent.\n");
    assert!(writes(&api).is_empty(), "{:?}", writes(&api));
}

#[test]
fn dry_run_sends_no_write_for_any_mutation() {
    let api = Api::start();
    // fleet pin / track-latest / rollback, with the fleet's devices expanded.
    let devs = ",owns__device($select=id,uuid,device_name;$expand=is_pinned_on__release($select=id,commit,raw_version);$orderby=id%20asc)";
    let fleet_body = |releases: Vec<Value>| {
        let mut f = fleet_json(1001, "myorg/myfleet", summary(5001, C1, "0.0.1"), releases);
        f["owns__device"] = plan_devices();
        d(vec![f])
    };
    api.on(
        "GET",
        &fleet_get_with(&format!(",owns__release($select={REL_FIELDS};$filter=startswith(commit,%27bbbbbbb%27);$orderby=created_at%20desc;$top=25){devs}")),
        200,
        &fleet_body(vec![rel(5002, C2, "0.0.2")]),
    );
    api.on(
        "GET",
        &fleet_get_with(&format!(",owns__release($select={REL_FIELDS};$filter={TRACKABLE};$orderby=start_timestamp%20desc;$top=1){devs}")),
        200,
        &fleet_body(vec![rel(5003, C3, "0.0.3")]),
    );
    api.on(
        "GET",
        &rollback_get(true),
        200,
        &rollback_fleet(
            ts_rel(5003, C3, "0.0.3", "2024-03-03T00:00:00.000Z"),
            Some(plan_devices()),
        ),
    );
    // single device pin / track-fleet
    let single = |owns: &str| {
        format!("/v7/device?$select=id,uuid,device_name&$filter=startswith(uuid,%27{U1}%27)&$expand=belongs_to__application($select=id,app_name,slug,should_track_latest_release;$expand=should_be_running__release($select=id,commit,raw_version){owns}),is_pinned_on__release($select=id,commit,raw_version),should_be_running__release($select=id,commit,raw_version)&$top=10")
    };
    let single_row = |releases: Vec<Value>| {
        d(vec![json!({"id": 11, "uuid": U1, "device_name": "one",
            "belongs_to__application": [fleet_json(1001, "myorg/myfleet", summary(5001, C1, "0.0.1"), releases)],
            "is_pinned_on__release": [summary(5001, C1, "0.0.1")],
            "should_be_running__release": [summary(5001, C1, "0.0.1")]})])
    };
    api.on(
        "GET",
        &single(&format!(",owns__release($select={REL_FIELDS};$filter=startswith(commit,%27bbbbbbb%27);$orderby=created_at%20desc;$top=25)")),
        200,
        &single_row(vec![rel(5002, C2, "0.0.2")]),
    );
    api.on("GET", &single(""), 200, &single_row(vec![]));
    // bulk
    let list = list_get(&[U1, U2], &[]);
    api.on(
        "GET",
        &list,
        200,
        &d(vec![
            device_row(11, U1, "one", 1001, None),
            device_row(12, U2, "two", 1001, Some(summary(5001, C1, "0.0.1"))),
        ]),
    );
    api.on(
        "GET",
        &fleets_get("1001", "startswith(commit,%27bbbbbbb%27)"),
        200,
        &d(vec![fleet_json(
            1001,
            "myorg/myfleet",
            summary(5001, C1, "0.0.1"),
            vec![rel(5002, C2, "0.0.2")],
        )]),
    );
    api.on(
        "GET",
        &format!("/v7/application?{APP_SELECT}&$filter=id%20in%20(1001)&$expand={TARGET_EXPAND}"),
        200,
        &d(vec![fleet_json(
            1001,
            "myorg/myfleet",
            summary(5001, C1, "0.0.1"),
            vec![],
        )]),
    );
    let env = TestEnv::logged_in(&api);
    let pair = format!("{U1},{U2}");
    let cases: Vec<Vec<&str>> = vec![
        vec!["fleet", "pin", "myorg/myfleet", "bbbbbbb"],
        vec!["fleet", "track-latest", "myorg/myfleet"],
        vec!["fleet", "rollback", "myorg/myfleet"],
        vec!["device", "pin", U1, "bbbbbbb"],
        vec!["device", "track-fleet", U1],
        vec!["device", "pin", &pair, "bbbbbbb"],
        vec!["device", "track-fleet", &pair],
    ];
    for args in &cases {
        for json_flag in [false, true] {
            let mut a = args.clone();
            a.push("--dry-run");
            if json_flag {
                a.push("--json");
            }
            let before = api.requests().len();
            let out = env.run(&a);
            assert_eq!(out.code, 0, "{a:?}: {} {:?}", out.stderr, api.lines());
            if json_flag {
                let v: Value = serde_json::from_str(&out.stdout).unwrap();
                assert_eq!(v["dry_run"], true, "{a:?}");
            } else {
                assert!(
                    out.stdout.starts_with("Dry run: nothing was changed.\n"),
                    "{a:?}: {}",
                    out.stdout
                );
            }
            let sent = &api.requests()[before..];
            assert!(
                sent.iter().all(|r| r.method == "GET"),
                "{a:?} wrote: {:?}",
                sent.iter().map(|r| r.line()).collect::<Vec<_>>()
            );
            assert!(
                !sent.is_empty() && sent.len() <= 2,
                "{a:?}: {} requests",
                sent.len()
            );
        }
    }
    assert!(writes(&api).is_empty());
    // The first case's plan: door one changes, door two is pinned.
    let out = env.run(&["fleet", "pin", "myorg/myfleet", "bbbbbbb", "--dry-run"]);
    assert!(
        out.stdout
            .contains("1 device would change, 0 unchanged, 1 pinned device unaffected."),
        "{}",
        out.stdout
    );
}
