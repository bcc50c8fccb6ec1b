//! Proxies (issue 9, item 4), end to end with a logging proxy on loopback: a loopback API is
//! never reached through a proxy, whatever the settings; for another API the balenarc
//! `proxy` setting (both forms), `BALENARC_PROXY` and `HTTPS_PROXY` are used, in that
//! order, and `NO_PROXY` bypasses them; the proxy only ever sees a `CONNECT`, never the
//! `Authorization` header; a malformed setting is an error naming where it came from, and a
//! dead proxy is named as the proxy.
//!
//! Nothing here leaves 127.0.0.1. The non-loopback API is `https://api.example.test`, which
//! only the proxy is asked to reach (it refuses, without resolving it), or
//! `https://0.0.0.0:<port>`: not loopback by the CLI's rules (a literal 127.0.0.0/8, ::1 or
//! `localhost` only), and on Linux a connection to it lands on 127.0.0.1, in a listener
//! that counts the direct connections.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use balena_testkit::proxy::LoggingProxy;

use crate::harness::*;

const API: &str = "https://api.example.test";
const PROXY_PASSWORD: &str = "pr0xy-s3cret";

/// Every proxy variable the CLI might be tempted by, pointing at `url`.
const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "BALENARC_PROXY",
];

fn with_all_proxy_vars(mut env: TestEnv, url: &str) -> TestEnv {
    for v in PROXY_VARS {
        env = env.env(v, url);
    }
    env
}

/// Logged in (the token file holds [`TOKEN`]) to `api`.
fn user_of(api: &str) -> TestEnv {
    let env = TestEnv::new(api);
    env.write_token(TOKEN);
    env
}

fn write_balenarc(env: &TestEnv, yaml: &str) -> String {
    let path = env.home.path().join(".balenarc.yml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

/// The proxy's log: every request a `CONNECT` to `target`, none with an `Authorization`
/// header or the token; at least one.
#[track_caller]
fn assert_only_connects(proxy: &LoggingProxy, target: &str) {
    let log = proxy.requests();
    assert!(!log.is_empty(), "the proxy saw nothing");
    for r in &log {
        assert!(r.connect, "not a CONNECT: {r:?}");
        assert_eq!(r.target, target, "{r:?}");
        assert!(
            !r.has_authorization(),
            "Authorization sent to the proxy: {r:?}"
        );
        assert!(!r.contains(TOKEN), "the token reached the proxy: {r:?}");
    }
}

/// The output of a run that went through `proxy` to [`API`], which the proxy refused.
#[track_caller]
fn assert_tunnel_refused(out: &Out, proxy: &LoggingProxy) {
    out.code(7).stderr_has(&format!(
        "BalenaNetworkError: network error: the proxy {} refused to open a tunnel to \
         api.example.test:443",
        proxy.url
    ));
    assert!(
        !out.stderr.contains(PROXY_PASSWORD) && !out.stdout.contains(PROXY_PASSWORD),
        "{out:#?}"
    );
}

/// A listener on 127.0.0.1 that accepts and closes connections, counting them: the API
/// `https://0.0.0.0:<port>` reached directly.
struct DirectSink {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl DirectSink {
    fn start() -> DirectSink {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = accepted.clone();
        // Ends with the test process; each connection is closed at once.
        std::thread::spawn(move || {
            for c in l.incoming() {
                if c.is_ok() {
                    a.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        DirectSink { port, accepted }
    }

    fn api(&self) -> String {
        format!("https://0.0.0.0:{}", self.port)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

#[test]
fn a_loopback_api_is_never_reached_through_a_proxy() {
    let sb = sandbox();
    let proxy = LoggingProxy::start();
    let localhost = sb.base_url.replace("127.0.0.1", "localhost");
    let object = format!(
        "proxy:\n  protocol: http\n  host: 127.0.0.1\n  port: {}\n  proxyAuth: 'u:{PROXY_PASSWORD}'\n",
        proxy.port
    );
    let string = format!(
        "proxy: 'http://u:{PROXY_PASSWORD}@127.0.0.1:{}'\n",
        proxy.port
    );
    for api in [sb.base_url.as_str(), localhost.as_str()] {
        for (rc, no_proxy) in [
            ("", None),
            ("", Some("*")),
            (string.as_str(), None),
            (object.as_str(), Some("")),
        ] {
            let mut env = with_all_proxy_vars(TestEnv::new(api), &proxy.url);
            env.write_token(TOKEN);
            write_balenarc(&env, rc);
            if let Some(n) = no_proxy {
                env = env.env("NO_PROXY", n).env("no_proxy", n);
            }
            let (out, reqs) = counted(&sb, &env, &["fleet", "list"]);
            out.ok().stdout_has("acme/frontdoor");
            assert!(!reqs.is_empty(), "the sandbox got the requests");
            assert!(
                proxy.requests().is_empty(),
                "{api} with {rc:?}: the proxy saw {:?}",
                proxy.lines()
            );
        }
    }
    // `--debug` says why the proxy is not used.
    let env = user_of(&sb.base_url).env("BALENARC_PROXY", &proxy.url);
    let out = env.run(&["fleet", "list", "--debug"]);
    out.ok().stderr_has(&format!(
        "proxy {} (from BALENARC_PROXY) not used: the API is on loopback",
        proxy.url
    ));
    assert!(proxy.requests().is_empty(), "{:?}", proxy.lines());
}

#[test]
fn the_balenarc_proxy_is_used_for_another_api_in_both_forms() {
    let proxy = LoggingProxy::start();
    // The URL form, with credentials; HTTPS_PROXY is set too and loses.
    let other = LoggingProxy::start();
    let env = user_of(API).env("HTTPS_PROXY", &other.url);
    write_balenarc(
        &env,
        &format!(
            "proxy: 'http://alice:{PROXY_PASSWORD}@127.0.0.1:{}'\n",
            proxy.port
        ),
    );
    let out = env.run(&["fleet", "list"]);
    assert_tunnel_refused(&out, &proxy);
    assert_only_connects(&proxy, "api.example.test:443");
    // The proxy's own credentials are for the proxy: Proxy-Authorization, Basic.
    let basic = format!("Basic {}", base64(&format!("alice:{PROXY_PASSWORD}")));
    for r in proxy.requests() {
        assert_eq!(
            r.header("proxy-authorization"),
            Some(basic.as_str()),
            "{r:?}"
        );
    }
    assert!(other.requests().is_empty(), "{:?}", other.lines());

    // The object form of the official CLI (global-tunnel-ng's), `protocol` with its colon.
    let proxy = LoggingProxy::start();
    let env = user_of(API);
    write_balenarc(
        &env,
        &format!(
            "proxy:\n  protocol: 'http:'\n  host: 127.0.0.1\n  port: {}\n  proxyAuth: 'bob:{PROXY_PASSWORD}'\n",
            proxy.port
        ),
    );
    let out = env.run(&["fleet", "list"]);
    assert_tunnel_refused(&out, &proxy);
    assert_only_connects(&proxy, "api.example.test:443");
    let basic = format!("Basic {}", base64(&format!("bob:{PROXY_PASSWORD}")));
    assert_eq!(
        proxy.requests()[0].header("proxy-authorization"),
        Some(basic.as_str())
    );
}

#[test]
fn balenarc_proxy_wins_over_the_file_and_the_environment() {
    let winner = LoggingProxy::start();
    let in_file = LoggingProxy::start();
    let in_env = LoggingProxy::start();
    let env = user_of(API)
        .env("BALENARC_PROXY", &winner.url)
        .env("HTTPS_PROXY", &in_env.url)
        .env("https_proxy", &in_env.url);
    write_balenarc(&env, &format!("proxy: '{}'\n", in_file.url));
    let out = env.run(&["whoami"]);
    assert_tunnel_refused(&out, &winner);
    out.stderr_has("(from BALENARC_PROXY)");
    assert_only_connects(&winner, "api.example.test:443");
    assert!(winner.requests()[0].header("proxy-authorization").is_none());
    assert!(in_file.requests().is_empty(), "{:?}", in_file.lines());
    assert!(in_env.requests().is_empty(), "{:?}", in_env.lines());
}

#[test]
fn https_proxy_is_used_without_a_proxy_setting_and_no_proxy_bypasses_it() {
    // HTTPS_PROXY, and https_proxy before it.
    let upper = LoggingProxy::start();
    let lower = LoggingProxy::start();
    let out = user_of(API)
        .env("HTTPS_PROXY", &upper.url)
        .run(&["fleet", "list"]);
    assert_tunnel_refused(&out, &upper);
    assert_only_connects(&upper, "api.example.test:443");
    let upper = LoggingProxy::start();
    let out = user_of(API)
        .env("HTTPS_PROXY", &upper.url)
        .env("https_proxy", &lower.url)
        .run(&["fleet", "list"]);
    assert_tunnel_refused(&out, &lower);
    assert!(upper.requests().is_empty(), "{:?}", upper.lines());

    // A direct API, to see where the connections go.
    let sink = DirectSink::start();
    let api = sink.api();
    let proxy = LoggingProxy::start();
    let out = user_of(&api)
        .env("HTTPS_PROXY", &proxy.url)
        .run(&["fleet", "list"]);
    out.code(7);
    assert_only_connects(&proxy, &format!("0.0.0.0:{}", sink.port));
    assert_eq!(sink.accepted(), 0, "went direct despite HTTPS_PROXY");

    // On the no-proxy list (in every form): straight to the API, the proxy sees nothing.
    let proxy = LoggingProxy::start();
    for (var, value) in [
        ("NO_PROXY", "0.0.0.0".to_owned()),
        ("no_proxy", format!("example.test, 0.0.0.0:{}", sink.port)),
        ("NO_PROXY", "*".to_owned()),
        ("BALENARC_NO_PROXY", "0.0.0.0/8".to_owned()),
    ] {
        let before = sink.accepted();
        let out = user_of(&api)
            .env("HTTPS_PROXY", &proxy.url)
            .env(var, &value)
            .run(&["fleet", "list"]);
        out.code(7).stderr_has(&format!("cannot connect to {api}"));
        assert!(sink.accepted() > before, "{var}={value}: not direct");
        assert!(
            proxy.requests().is_empty(),
            "{var}={value}: the proxy saw {:?}",
            proxy.lines()
        );
    }
    // NO_PROXY for another host, or a port that is not the API's: proxied.
    let out = user_of(&api)
        .env("HTTPS_PROXY", &proxy.url)
        .env("NO_PROXY", "api.example.test,0.0.0.0:1")
        .run(&["fleet", "list"]);
    out.code(7);
    assert_only_connects(&proxy, &format!("0.0.0.0:{}", sink.port));

    // HTTP_PROXY is for plain-http APIs: not used for an https one.
    let proxy = LoggingProxy::start();
    let before = sink.accepted();
    let out = user_of(&api)
        .env("HTTP_PROXY", &proxy.url)
        .run(&["fleet", "list"]);
    out.code(7);
    assert!(sink.accepted() > before);
    assert!(proxy.requests().is_empty(), "{:?}", proxy.lines());
}

#[test]
fn a_malformed_proxy_setting_is_an_error_naming_its_source() {
    let sb = sandbox();
    let proxy = LoggingProxy::start();
    let p = proxy.port;
    let rc_cases = [
        (
            format!("proxy: 'socks5://127.0.0.1:{p}'\n"),
            "the scheme socks5 is not supported",
        ),
        (format!("proxy:\n  port: {p}\n"), "proxy.host is missing"),
        (
            "proxy:\n  host: 127.0.0.1\n  port: 99999\n".to_owned(),
            "proxy.port 99999 is not a port number",
        ),
        (
            format!("proxy: 'http://u:{PROXY_PASSWORD}@127.0.0.1:port'\n"),
            "is not a URL",
        ),
    ];
    for (rc, why) in &rc_cases {
        let env = TestEnv::logged_in(&sb).env("HTTPS_PROXY", &proxy.url);
        let path = write_balenarc(&env, rc);
        let (out, reqs) = counted(&sb, &env, &["fleet", "list"]);
        out.code(1);
        assert!(
            out.stderr.starts_with(&format!(
                "BalenaSettingsError: invalid proxy setting in {path}: "
            )),
            "{rc:?}: {out:#?}"
        );
        out.stderr_has(why)
            .stderr_has(&format!("hint: Fix or remove the proxy setting in {path}"));
        assert!(!out.stderr.contains(PROXY_PASSWORD), "{out:#?}");
        assert!(reqs.is_empty(), "{rc:?}: {reqs:?}");
    }
    // Environment variables, the one that applies to the API's scheme (http here).
    for (var, value, why) in [
        (
            "BALENARC_PROXY",
            format!("ftp://127.0.0.1:{p}"),
            "the scheme ftp is not supported",
        ),
        (
            "HTTP_PROXY",
            "http://127.0.0.1:notaport".to_owned(),
            "is not a URL",
        ),
        ("http_proxy", "http://".to_owned(), "is not a URL"),
    ] {
        let env = TestEnv::logged_in(&sb).env(var, &value);
        let (out, reqs) = counted(&sb, &env, &["fleet", "list", "--json"]);
        out.code(1);
        let e = out.err_json();
        assert_eq!(e["error"]["name"], "BalenaSettingsError", "{e}");
        assert_eq!(e["error"]["exitCode"], 1, "{e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("invalid proxy setting in {var}: ")) && msg.contains(why),
            "{var}: {msg}"
        );
        assert!(
            e["error"]["hint"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Fix or unset {var}:")),
            "{e}"
        );
        assert!(reqs.is_empty(), "{var}: {reqs:?}");
    }
    assert!(proxy.requests().is_empty(), "{:?}", proxy.lines());
}

#[test]
fn a_dead_proxy_is_named_as_the_proxy() {
    // A port with nothing listening.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = user_of(API)
        .env(
            "BALENARC_PROXY",
            &format!("http://carol:{PROXY_PASSWORD}@127.0.0.1:{dead}"),
        )
        .run(&["fleet", "list"]);
    out.code(7);
    assert!(
        out.stderr.starts_with(&format!(
            "BalenaNetworkError: network error: cannot connect to the proxy http://127.0.0.1:{dead}: "
        )),
        "{out:#?}"
    );
    out.stderr_has(&format!(
        "hint: Check that the proxy http://127.0.0.1:{dead} (from BALENARC_PROXY) is running"
    ));
    assert!(
        !out.stderr
            .contains("cannot connect to https://api.example.test"),
        "{out:#?}"
    );
    assert!(!out.stderr.contains(PROXY_PASSWORD), "{out:#?}");
}

#[test]
fn a_plain_http_api_is_not_sent_through_a_proxy() {
    let proxy = LoggingProxy::start();
    let out = user_of("http://api.example.test")
        .env("BALENARC_PROXY", &proxy.url)
        .env("HTTP_PROXY", &proxy.url)
        .run(&["fleet", "list"]);
    out.code(1).stderr_has(
        "BalenaInsecureUrl: refusing to send the balena token over plain http to api.example.test",
    );
    assert!(proxy.requests().is_empty(), "{:?}", proxy.lines());
}

#[test]
fn debug_output_shows_the_proxy_without_its_password() {
    let proxy = LoggingProxy::start();
    let out = user_of(API)
        .env(
            "BALENARC_PROXY",
            &format!("http://dave:{PROXY_PASSWORD}@127.0.0.1:{}", proxy.port),
        )
        .run(&["fleet", "list", "--debug"]);
    assert_tunnel_refused(&out, &proxy);
    out.stderr_has(&format!(
        "proxy: http://dave:<redacted>@127.0.0.1:{} (from BALENARC_PROXY)",
        proxy.port
    ));
    assert!(!out.stderr.contains(PROXY_PASSWORD), "{out:#?}");
    assert_only_connects(&proxy, "api.example.test:443");
}

/// Standard base64 with padding (the `Proxy-Authorization: Basic` value).
fn base64(s: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &c| n << 8 | u32::from(c)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_is_right() {
    assert_eq!(base64("u:pw"), "dTpwdw==");
    assert_eq!(
        base64("Aladdin:open sesame"),
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
    assert_eq!(base64("abc"), "YWJj");
}
