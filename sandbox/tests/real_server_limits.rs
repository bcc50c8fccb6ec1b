//! Points where the sandbox matches the real open-balena-api at the edges of the protocol:
//! the URL length limit, percent-encoded structure in `$filter`, and start-up details
//! (database file mode, `--db` in a missing folder, `--listen 0.0.0.0`, a closed stdout).

mod common;
mod support;

use support::RawClient;

/// A target of exactly `len` bytes: a `$filter` on a long uuid literal.
fn target_of_len(len: usize) -> String {
    let head = "/v7/device?$filter=uuid%20eq%20%27";
    let tail = "%27";
    let t = format!("{head}{}{tail}", "a".repeat(len - head.len() - tail.len()));
    assert_eq!(t.len(), len);
    t
}

#[test]
fn urls_over_16_kib_are_answered_431() {
    let sb = common::Sandbox::start(&common::fixture("transcript-seed.json"));
    let mut c = RawClient::new(&sb.base_url);
    let key = sb.api_key.clone();
    let at_limit = c.get(&target_of_len(16_384), Some(&key)).expect("request");
    assert_eq!(
        (at_limit.status, at_limit.text()),
        (200, r#"{"d":[]}"#.into())
    );
    for len in [16_385, 20_000, 70_000] {
        let r = c.get(&target_of_len(len), Some(&key)).expect("request");
        assert_eq!(r.status, 431, "{len} bytes");
        assert!(r.body.is_empty(), "{len} bytes: {:?}", r.text());
    }
    // Without a token too, and the server goes on answering.
    let r = c.get(&target_of_len(16_385), None).expect("request");
    assert_eq!(r.status, 431);
    let ping = c.get("/ping", None).expect("ping");
    assert_eq!(ping.status, 200);
}

#[test]
fn percent_encoded_structure_in_filter_is_malformed() {
    let sb = common::Sandbox::start(&common::fixture("transcript-seed.json"));
    let mut c = RawClient::new(&sb.base_url);
    let key = sb.api_key.clone();
    for t in [
        "/v7/release?$filter=id%20in%20%281%2C2%29",
        "/v7/release?$filter=id%20in%20(1%2c2)",
        "/v7/application?$filter=startswith%28slug,%27a%27)",
        "/v7/application?$filter=startswith(slug%2C%27a%27)",
        "/v7/device?$filter=(id%20eq%201%29",
    ] {
        let r = c.get(t, Some(&key)).expect("request");
        // The real server's shape for a malformed query: 400 and the URL as received.
        assert_eq!(
            (r.status, r.json()),
            (400, serde_json::json!(format!("Malformed url: '{t}'"))),
            "{t}"
        );
    }
    // Inside string literals they are characters: the same queries, well-formed.
    for t in [
        "/v7/application?$filter=slug%20eq%20%27a%28b%2Cc%29%27",
        "/v7/application?$filter=startswith(slug,%27%28%27)",
        "/v7/release?$filter=id%20in%20(1,2)",
    ] {
        let r = c.get(t, Some(&key)).expect("request");
        assert_eq!(r.status, 200, "{t}: {}", r.text());
    }
}
