//! `login`, `whoami`.

use serde_json::Value;

use super::{table, Printer};

const SUPPORT: &str = "\
Find out about the available commands by running:

  $ balena help

For further help or support, visit:
https://docs.balena.io/reference/balena-cli/latest#support-faq-and-troubleshooting
";

fn actor_name(w: &Value) -> String {
    let s = |k: &str| w.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    match w.get("actorType").and_then(|v| v.as_str()) {
        Some("device") => format!("device {}", s("uuid")),
        Some("application") => format!("application {}", s("slug")),
        _ => s("username"),
    }
}

/// The first line of `login`, before the token is checked.
pub fn logging_in(p: &Printer, balena_url: &str) {
    if !p.json {
        p.out(&format!("{BANNER}\n\nLogging in to {balena_url}\n"));
    }
}

/// The word "balena" in ASCII letters, which the official `login` prints first (its stdout
/// bytes, which scripts may compare).
const BANNER: &str = concat!(
    " _            _\n",
    "| |__   __ _ | |  ____  _ __    __ _\n",
    "| '_ \\ / _` || | / __ \\| '_ \\  / _` |\n",
    "| |_) | (_) || ||  ___/| | | || (_) |\n",
    "|_.__/ \\__,_||_| \\____/|_| |_| \\__,_|\n",
);

/// `login` succeeded as `who` (the whoami answer).
pub fn logged_in(p: &Printer, who: &Value) {
    if p.json {
        p.json_pretty(who);
        return;
    }
    let mut s = String::new();
    let actor_type = who
        .get("actorType")
        .and_then(|v| v.as_str())
        .unwrap_or("user");
    if actor_type != "user" {
        let bar = "-".repeat(88);
        s.push_str(&format!(
            "{bar}\nYou are logging in with a {actor_type} key.\nThis is an experimental feature and many features of the CLI might not work as expected.\nWe sure hope you know what you are doing.\n{bar}\n"
        ));
    }
    s.push_str(&format!(
        "Successfully logged in as: {}\n\n{SUPPORT}\n",
        actor_name(who)
    ));
    p.out(&s);
}

/// `balena whoami`.
pub fn whoami(p: &Printer, w: &Value, balena_url: &str) {
    if p.json {
        p.json_pretty(w);
        return;
    }
    let url = Some(balena_url.to_owned());
    let v = |k: &str| table::value(w.get(k));
    let rows = match w.get("actorType").and_then(|v| v.as_str()) {
        Some("device") => vec![("DEVICE", v("uuid")), ("URL", url)],
        Some("application") => vec![("APPLICATION", v("slug")), ("URL", url)],
        _ => vec![
            ("USERNAME", v("username")),
            ("EMAIL", v("email")),
            ("URL", url),
        ],
    };
    p.out(&table::vertical(Some("ACCOUNT INFORMATION"), &rows));
}
