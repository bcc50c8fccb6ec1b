//! `login`, `logout`, `whoami`.

use balena_api::ApiError;

use super::{build_client, Context};
use crate::error::{usage, Error};
use crate::view;

/// `balena login --token <token>`: checks the token (GET /actor/v1/whoami) BEFORE saving it.
pub async fn login(
    ctx: &Context<'_>,
    flag: Option<String>,
    positional: Option<String>,
) -> Result<(), Error> {
    let token = flag
        .filter(|t| !t.trim().is_empty())
        .or(positional)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(usage("a token is required", "balena login --token <token>"));
    };
    let client = build_client(&ctx.settings, Some(token.clone()))?;
    view::account::logging_in(ctx.printer, &ctx.settings.balena_url);
    let who = match client.whoami().await {
        Ok(w) => w,
        Err(ApiError::NotLoggedIn) => return Err(Error::TokenRejected),
        Err(e) => return Err(e.into()),
    };
    ctx.settings.save_token(&token)?;
    view::account::logged_in(ctx.printer, &who);
    Ok(())
}

/// `balena logout`: removes the token file (silent, like the official CLI).
pub fn logout(ctx: &Context<'_>) -> Result<(), Error> {
    ctx.settings.remove_token()?;
    Ok(())
}

/// `balena whoami`: 1 request.
pub async fn whoami(ctx: &Context<'_>) -> Result<(), Error> {
    let w = ctx.api.whoami().await?;
    view::account::whoami(ctx.printer, &w, &ctx.settings.balena_url);
    Ok(())
}
