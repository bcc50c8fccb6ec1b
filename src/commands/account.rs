//! `login`, `logout`, `whoami`.

use anyhow::Result;
use serde_json::Value;

use super::{build_client, usage, Context};
use crate::api::ApiError;
use crate::error::CliError;
use crate::output::{self, table};

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

/// `balena login --token <token>`: checks the token (GET /actor/v1/whoami) BEFORE saving it.
pub async fn login(ctx: &Context, flag: Option<String>, positional: Option<String>) -> Result<()> {
    let token = flag
        .filter(|t| !t.trim().is_empty())
        .or(positional)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(usage("a token is required", "balena login --token <token>"));
    };
    let client = build_client(&ctx.settings, Some(token.clone()), ctx.debug)?;
    if !ctx.json {
        output::stdout(&format!("Logging in to {}\n", ctx.settings.balena_url));
    }
    let who = match client.whoami().await {
        Ok(w) => w,
        Err(ApiError::NotLoggedIn) => return Err(CliError::TokenRejected.into()),
        Err(e) => return Err(e.into()),
    };
    ctx.settings.save_token(&token)?;
    if ctx.json {
        output::json_pretty(&who);
        return Ok(());
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
        actor_name(&who)
    ));
    output::stdout(&s);
    Ok(())
}

/// `balena logout`: removes the token file (silent, like the official CLI).
pub fn logout(ctx: &Context) -> Result<()> {
    ctx.settings.remove_token()?;
    Ok(())
}

/// `balena whoami`: 1 request.
pub async fn whoami(ctx: &Context) -> Result<()> {
    let w = ctx.api.whoami().await?;
    if ctx.json {
        output::json_pretty(&w);
        return Ok(());
    }
    let url = Some(ctx.settings.balena_url.clone());
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
    output::stdout(&table::vertical(Some("ACCOUNT INFORMATION"), &rows));
    Ok(())
}
