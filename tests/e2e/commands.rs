//! `release --composition`, `fleet --view`, `device --view`, `help`, `version`.

use serde_json::json;

use crate::harness::*;

fn composition_sandbox() -> Sandbox {
    sandbox_with("e2e-composition-seed.json", &[])
}

#[test]
fn release_composition_is_the_official_yaml() {
    let sb = composition_sandbox();
    let env = TestEnv::logged_in(&sb);
    // The real-server transcript's `S-rel-comp`, byte for byte.
    let out = env.run(&["release", "a1a1b2b2", "--composition"]);
    out.ok();
    assert_eq!(out.stdout, "services:\n  main:\n    build: .\n\n");
    assert_eq!(out.stderr, "");
    // -c, by id, an empty composition.
    let out = env.run(&["release", "3", "-c"]);
    out.ok();
    assert_eq!(out.stdout, "{}\n\n");
    // A fuller composition: sequences under their keys, js-yaml's quoting.
    let out = env.run(&["release", "1.2.0", "--composition"]);
    out.ok();
    assert_eq!(
        out.stdout,
        "\
version: '2.4'
volumes:
  data: {}
services:
  web:
    image: nginx:1.25
    ports:
      - '80:80'
      - 8080
    privileged: true
    environment:
      MODE: 'on'
      EMPTY: ''
      GREETING: 'it''s a #test'
    labels:
      io.balena.features.dbus: '1'
    command:
      - sh
      - '-c'
      - echo hi
    depends_on: []
    healthcheck:
      interval: 1.5
      retries: 3
      test: null
    devices:
      - host: /dev/i2c-1
        ro: false

"
    );
    // --json: the composition as JSON.
    let out = env.run(&["release", "a1a1b2b2", "--composition", "--json"]);
    out.ok();
    assert_eq!(out.json(), json!({"services": {"main": {"build": "."}}}));
    // Not found: the usual error, exit 4.
    env.run(&["release", "ffff0000", "--composition"])
        .code(4)
        .stderr_has("Release not found: ffff0000");
}

#[test]
fn view_prints_the_dashboard_url_without_a_browser() {
    let sb = sandbox();
    // stdout is a pipe here, so no browser is ever started; BROWSER=none says it too.
    let env = TestEnv::logged_in(&sb).env("BROWSER", "none");
    let dash = sb.base_url.replacen("api", "dashboard", 1);
    let out = env.run(&["fleet", "acme/frontdoor", "--view"]);
    out.ok();
    assert_eq!(out.stdout, format!("{dash}/apps/{FRONTDOOR}\n"));
    assert_eq!(out.stderr, "");
    let out = env.run(&["device", "d0aa", "--view"]);
    out.ok();
    assert_eq!(out.stdout, format!("{dash}/devices/{DOOR3}/summary\n"));
    let out = env.run(&["device", DOOR3, "--view", "--json"]);
    out.ok();
    assert_eq!(
        out.json(),
        json!({"url": format!("{dash}/devices/{DOOR3}/summary")})
    );
    // The lookups' errors are the usual ones.
    env.run(&["device", "d0c0ffee", "--view"]).code(5);
    env.run(&["fleet", "acme/nope", "--view"]).code(4);
}

#[test]
fn help_prints_the_help_of_a_command_and_exits_0() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    let root = env.run(&["help"]);
    root.ok();
    assert_eq!(root.stdout, env.run(&["--help"]).stdout);
    root.stdout_has("Commands:").stdout_has("fleet");
    let out = env.run(&["help", "fleet", "pin"]);
    out.ok();
    assert_eq!(out.stdout, env.run(&["fleet", "pin", "--help"]).stdout);
    out.stdout_has("Usage: balena fleet pin");
    let out = env.run(&["help", "nope"]);
    out.code(2).stderr_has("unknown command: nope");
    assert_eq!(out.stdout, "");
    env.run(&["help", "fleet", "nope"])
        .code(2)
        .stderr_has("unknown command: fleet nope");
    // Nothing was sent: help needs no server and no login.
    assert!(sb.requests().is_empty(), "{:?}", sb.requests());
}

#[test]
fn version_prints_our_version_as_the_official_does() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    let v = env!("CARGO_PKG_VERSION");
    let out = env.run(&["version"]);
    out.ok();
    assert_eq!(out.stdout, format!("{v}\n"));
    assert_eq!(
        env.run(&["version", "-a"]).stdout,
        format!("balena-rs version \"{v}\"\n")
    );
    let json4 = format!("{{\n    \"balena-rs\": \"{v}\"\n}}\n");
    assert_eq!(env.run(&["version", "--json"]).stdout, json4);
    assert_eq!(env.run(&["version", "-j"]).stdout, json4);
    assert!(sb.requests().is_empty());
}
