//! `POST /login_`: users with a fixture password get a session token that then works as a
//! Bearer token; everything else gets the real server's bare 401 "Unauthorized".

mod common;

use common::{fixture, Sandbox};
use serde_json::json;

fn login(sb: &Sandbox, content_type: &str, body: &str) -> (u16, Option<String>, String) {
    let r = sb
        .client()
        .send(
            "POST",
            "/login_",
            &[("Content-Type", content_type)],
            Some(body.as_bytes()),
        )
        .expect("POST /login_");
    (
        r.status,
        r.header("content-type").map(str::to_owned),
        r.text(),
    )
}

#[test]
fn a_password_login_answers_a_session_token_that_works() {
    let sb = Sandbox::start(&fixture("login-seed.json"));
    let body = json!({"username": "alice", "password": "correct horse battery"}).to_string();
    let (status, ct, token) = login(&sb, "application/json", &body);
    assert_eq!(status, 200, "{token}");
    assert_eq!(ct.as_deref(), Some("text/plain; charset=utf-8"));
    // A JWT: three base64url parts, the claims naming the user.
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
    let me = sb.get_json_as("/actor/v1/whoami", &token);
    assert_eq!(me["username"], "alice");
    assert_eq!(me["actorType"], "user");
    let apps = sb.get_json_as("/v7/application?$select=id", &token);
    assert_eq!(apps, json!({"d": [{"id": 10}]}));

    // By email, case-insensitively, and as a form.
    let body = json!({"username": "ALICE@acme.example", "password": "correct horse battery"});
    assert_eq!(login(&sb, "application/json", &body.to_string()).0, 200);
    let (status, _, token2) = login(
        &sb,
        "application/x-www-form-urlencoded",
        "username=alice&password=correct+horse+battery",
    );
    assert_eq!(status, 200);
    assert_ne!(token2, token, "a new session each time");
    assert_eq!(
        sb.get_json_as("/actor/v1/whoami", &token2)["username"],
        "alice"
    );
}

#[test]
fn wrong_unknown_or_missing_credentials_get_401_unauthorized() {
    let sb = Sandbox::start(&fixture("login-seed.json"));
    for body in [
        json!({"username": "alice", "password": "wrong"}),
        json!({"username": "nobody", "password": "correct horse battery"}),
        json!({"username": "nopass", "password": "anything"}),
        json!({"username": "alice"}),
        json!({"password": "correct horse battery"}),
        json!({"username": "", "password": ""}),
    ] {
        let (status, ct, text) = login(&sb, "application/json", &body.to_string());
        assert_eq!((status, text.as_str()), (401, "Unauthorized"), "{body}");
        assert_eq!(ct.as_deref(), Some("text/plain; charset=utf-8"));
    }
    assert_eq!(login(&sb, "application/json", "not json").0, 401);
    // A made-up JWT is no session.
    let (s, _) = sb.send(
        "GET",
        "/actor/v1/whoami",
        Some("eyJhbGciOiJIUzI1NiJ9.eyJpZCI6MX0.c2ln"),
        None,
    );
    assert_eq!(s, 401);
}
