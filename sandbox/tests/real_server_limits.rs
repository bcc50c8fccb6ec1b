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
