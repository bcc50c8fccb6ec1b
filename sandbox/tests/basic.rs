//! Starts the real binary with the transcript seed and checks the basics: start-up lines,
//! ping, whoami, reads with $filter/$select/$expand, a pin PATCH with its rules, auth.

mod common;

use common::{fixture, Sandbox};
use serde_json::json;

#[test]
fn starts_and_answers_the_basics() {
    let sb = Sandbox::start(&fixture("transcript-seed.json"));
    assert!(sb.base_url.starts_with("http://127.0.0.1:"));

    let (s, body) = sb.send("GET", "/ping", None, None);
    assert_eq!((s, body.as_str()), (200, "OK"));

    let me = sb.get_json("/actor/v1/whoami");
    assert_eq!(me["actorType"], "user");
    assert_eq!(me["actorTypeId"], 2);
    assert_eq!(me["username"], "admin");
    let me = sb.get_json("/user/v1/whoami");
    assert_eq!(
        me,
        json!({"id": 2, "username": "admin", "email": "admin@example.com"})
    );
    assert_eq!(sb.send("GET", "/actor/v1/whoami", None, None).0, 401);

    let apps = sb.get_json(
        "/v7/application?$filter=slug%20eq%20%27admin/myfleet%27&$select=id,slug&$expand=should_be_running__release($select=commit)",
    );
    assert_eq!(
        apps,
        json!({"d": [{"should_be_running__release": [{"commit": "a2000000000000000000000000000002"}], "id": 1, "slug": "admin/myfleet"}]})
    );

    // A pin to another fleet's release is refused; a valid pin works.
    let (s, body) = sb.send(
        "PATCH",
        "/v7/device(1)",
        Some(&sb.api_key),
        Some(&json!({"is_pinned_on__release": 4})),
    );
    assert_eq!(s, 400, "{body}");
    let (s, body) = sb.send(
        "PATCH",
        "/v7/device?$filter=id%20in%20(1)",
        Some(&sb.api_key),
        Some(&json!({"is_pinned_on__release": 1})),
    );
    assert_eq!((s, body.as_str()), (200, ""));
    let dev =
        sb.get_json("/v7/device(1)?$select=id&$expand=should_be_running__release($select=id)");
    assert_eq!(dev["d"][0]["should_be_running__release"][0]["id"], 1);

    // Anonymous callers.
    assert_eq!(sb.send("GET", "/v7/device", None, None).0, 401);
    let (s, body) = sb.send("GET", "/v7/application", None, None);
    assert_eq!((s, body.as_str()), (200, r#"{"d":[]}"#));

    // Unknown fields are a 400 naming them; $count works.
    let (s, body) = sb.get("/v7/device?$select=nope");
    assert_eq!(s, 400);
    assert!(body.contains("nope"), "{body}");
    assert_eq!(sb.get_json("/v7/release/$count"), json!({"d": 4}));
}

#[test]
fn demo_seed_and_generated_key() {
    let sb = Sandbox::start("demo");
    assert_eq!(sb.api_key.len(), 32);
    let apps = sb.get_json("/v7/application?$select=slug&$orderby=slug%20asc");
    assert_eq!(
        apps,
        json!({"d": [{"slug": "admin/greenhouse-sensors"}, {"slug": "admin/lobby-displays"}]})
    );
    let n = sb.get_json("/v7/device/$count");
    assert_eq!(n, json!({"d": 10}));
    let pinned = sb.get_json("/v7/device/$count?$filter=is_pinned_on__release%20ne%20null");
    assert_eq!(pinned, json!({"d": 1}));
}

/// An ordering comparison with `null` binds its other side's parameters; they must reach the
/// SQL even though the comparison is always unknown. When such a parameter was the last one
/// bound (`$count`, `$count` expansions, filtered PATCH), SQLite refused the query and the
/// sandbox answered 500 (found by the fuzz test).
#[test]
fn comparisons_with_null_never_fail_the_query() {
    let sb = Sandbox::start(&fixture("transcript-seed.json"));
    let key = sb.api_key.clone();
    for filter in ["1%20gt%20null", "null%20le%20%27a%27", "id%20lt%20null"] {
        for path in [
            format!("/v7/application/$count?$filter={filter}"),
            format!("/v7/application?$expand=owns__release/$count($filter={filter})"),
            format!("/v7/application?$select=id&$filter={filter}"),
        ] {
            let (s, body) = sb.send("GET", &path, Some(&key), None);
            assert_eq!(s, 200, "GET {path}: {body}");
        }
        let path = format!("/v7/device?$filter={filter}");
        let (s, body) = sb.send("PATCH", &path, Some(&key), Some(&json!({"note": "x"})));
        assert_eq!(s, 200, "PATCH {path}: {body}");
    }
    // Nothing matched, so nothing changed.
    let notes = sb.get_json("/v7/device?$select=note&$orderby=id%20asc");
    assert!(notes["d"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["note"] != "x"));
}

/// A PATCH that matches several devices applies to all of them or, when one of them would
/// break the pin rule, to none (the whole request is refused with the rule, as for one).
#[test]
fn a_filtered_pin_of_several_devices_is_all_or_nothing() {
    let sb = Sandbox::start(&fixture("transcript-seed.json"));
    let key = sb.api_key.clone();
    let pins = || {
        sb.get_json("/v7/device?$select=id,is_pinned_on__release&$orderby=id%20asc")["d"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["is_pinned_on__release"]["__id"].as_i64())
            .collect::<Vec<_>>()
    };
    let all = "/v7/device?$filter=id%20in%20(1,2)";
    for (release, why) in [(4, "another fleet's"), (3, "a failed")] {
        let (s, body) = sb.send(
            "PATCH",
            all,
            Some(&key),
            Some(&json!({ "is_pinned_on__release": release })),
        );
        assert_eq!(s, 400, "{why} release: {body}");
        assert!(body.contains("It is necessary that each release that is pinned to a device"));
        assert_eq!(pins(), [None, None], "{why} release");
    }
    let (s, body) = sb.send(
        "PATCH",
        all,
        Some(&key),
        Some(&json!({"is_pinned_on__release": 2})),
    );
    assert_eq!((s, body.as_str()), (200, ""));
    assert_eq!(pins(), [Some(2), Some(2)]);
    // Only the rows still matching the whole filter are written.
    let (s, _) = sb.send(
        "PATCH",
        "/v7/device?$filter=(id%20in%20(1,2))%20and%20(id%20eq%201)",
        Some(&key),
        Some(&json!({"is_pinned_on__release": null})),
    );
    assert_eq!(s, 200);
    assert_eq!(pins(), [None, Some(2)]);
    // Moving several devices to another fleet clears their pins.
    let (s, body) = sb.send(
        "PATCH",
        all,
        Some(&key),
        Some(&json!({"belongs_to__application": 2})),
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(pins(), [None, None]);
}
