//! `fleet <fleet> --view`, `device <uuid> --view`: the dashboard page of the fleet or
//! device, opened in the browser (or its URL printed). One lookup each, for the fleet's
//! id or the device's full uuid.

use balena_api::odata::Query;
use serde_json::Value;

use super::Context;
use crate::error::Error;
use crate::ops::find;
use crate::view;

fn dashboard(ctx: &Context<'_>) -> Result<String, Error> {
    // Fails like the client (an invalid apiUrl) if the origin cannot be derived.
    ctx.settings.api_origin()?;
    Ok(ctx.settings.dashboard_origin().unwrap_or_default())
}

/// `balena fleet <fleet> --view`: 1 request.
pub async fn fleet(ctx: &Context<'_>, arg: &str) -> Result<(), Error> {
    let row: Value = find::fleet(&ctx.api, arg, Query::new().select(&["id", "slug"])).await?;
    let id = super::row_field(&row, "id", "fleet", Value::as_i64)?;
    let url = view::browser::fleet_url(&dashboard(ctx)?, id);
    view::browser::open_page(ctx.printer, &url);
    Ok(())
}

/// `balena device <uuid> --view`: 1 request.
pub async fn device(ctx: &Context<'_>, arg: &str) -> Result<(), Error> {
    let q = Query::new()
        .select(&["id", "uuid", "device_name"])
        .expand("belongs_to__application", Query::new().select(&["slug"]));
    let row: Value = find::device(&ctx.api, arg, q).await?;
    let uuid = super::row_field(&row, "uuid", "device", Value::as_str)?;
    let url = view::device::dashboard_url(Some(&dashboard(ctx)?), uuid).unwrap_or_default();
    view::browser::open_page(ctx.printer, &url);
    Ok(())
}
