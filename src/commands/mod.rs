//! Behaviour: one function per verb. Commands return `anyhow::Result`; typed errors
//! (`CliError`, `ApiError`) are classified once, in `crate::error`.

pub mod account;
pub mod bulk;
pub mod device;
pub mod fleet;
pub mod mutate;
pub mod release;
pub mod wait;

use anyhow::Result;
use serde_json::{json, Value};

use crate::api::models::{Application, Release};
use crate::api::odata::{self, Filter, Query};
use crate::api::ApiClient;
use crate::cli::{Command, DeviceCommand, FleetCommand, ReleaseCommand};
use crate::config::Settings;
use crate::error::CliError;
use crate::resolve::{self, Pick};

pub struct Context {
    pub settings: Settings,
    pub api: ApiClient,
    pub json: bool,
    pub debug: bool,
}

/// Builds the (lazy) API client for `settings`. Nothing is sent or set up here.
pub fn build_client(settings: &Settings, token: Option<String>, debug: bool) -> Result<ApiClient> {
    let sink: Option<crate::api::DebugSink> = if debug {
        Some(Box::new(crate::output::debug))
    } else {
        None
    };
    Ok(ApiClient::new(
        crate::api::ClientConfig {
            api_origin: settings.api_origin()?,
            token,
            connect_timeout: settings.connect_timeout,
            request_timeout: settings.request_timeout,
            retry: crate::api::RetryPolicy::default(),
        },
        sink,
    ))
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Login(a) => account::login(ctx, a.token, a.token_arg).await,
        Command::Logout => account::logout(ctx),
        Command::Whoami => account::whoami(ctx).await,
        Command::Fleet(a) => match (a.command, a.fleet) {
            (Some(FleetCommand::List), _) => fleet::list(ctx).await,
            (Some(FleetCommand::Pin(p)), _) => {
                fleet::pin(ctx, &p.fleet, p.release.as_deref(), &p.mutation).await
            }
            (Some(FleetCommand::TrackLatest(t)), _) => {
                fleet::track_latest(ctx, &t.fleet, &t.mutation).await
            }
            (Some(FleetCommand::Rollback(r)), _) => {
                fleet::rollback(ctx, &r.fleet, &r.mutation).await
            }
            (None, Some(f)) => fleet::show(ctx, &f).await,
            (None, None) => Err(usage("a fleet is required", "balena fleet <fleet>")),
        },
        Command::Device(a) => match (a.command, a.uuid) {
            (Some(DeviceCommand::List(l)), _) => device::list(ctx, &l).await,
            (Some(DeviceCommand::Pin(p)), _) => device::pin(ctx, &p).await,
            (Some(DeviceCommand::TrackFleet(t)), _) => device::track_fleet(ctx, &t).await,
            (None, Some(u)) => device::show(ctx, &u).await,
            (None, None) => Err(usage("a device is required", "balena device <uuid>")),
        },
        Command::Release(a) => match (a.command, a.release) {
            (Some(ReleaseCommand::List(l)), _) => release::list(ctx, &l.fleet).await,
            (None, Some(r)) => release::show(ctx, &r).await,
            (None, None) => Err(usage("a release is required", "balena release <commit|id>")),
        },
        Command::Releases(a) => match (a.command, a.fleet) {
            (Some(ReleaseCommand::List(l)), _) => release::list(ctx, &l.fleet).await,
            (None, Some(f)) => release::list(ctx, &f).await,
            (None, None) => Err(usage("a fleet is required", "balena releases <fleet>")),
        },
        // Handled before the context is built.
        Command::Completion(_) => Ok(()),
    }
}

pub(crate) fn usage(message: &str, example: &str) -> anyhow::Error {
    CliError::Usage {
        message: message.to_owned(),
        hint: format!("Usage: {example} (see --help)"),
    }
    .into()
}

/// The release fields every resolution reads.
pub(crate) const RELEASE_FIELDS: &[&str] = &[
    "id",
    "commit",
    "status",
    "raw_version",
    "semver",
    "is_final",
    "is_invalidated",
    "created_at",
];

/// The fields of a release in before/after objects.
pub(crate) const SUMMARY_FIELDS: &[&str] = &["id", "commit", "raw_version"];

/// How many rows a release lookup may return (enough to show the ambiguity).
pub(crate) const RELEASE_TOP: u32 = 25;
/// How many rows a device prefix lookup may return.
pub(crate) const DEVICE_TOP: u32 = 10;

pub(crate) fn summary(rel: Option<&Release>) -> Value {
    match rel {
        Some(r) => json!({"id": r.id, "commit": r.commit, "raw_version": r.raw_version}),
        None => Value::Null,
    }
}

/// `a1b2c3d (1.2.0)`
pub(crate) fn short(rel: &Release) -> String {
    let c: String = rel.commit.chars().take(7).collect();
    match &rel.raw_version {
        Some(v) if !v.is_empty() => format!("{c} ({v})"),
        _ => c,
    }
}

pub(crate) fn candidate_line(r: &Release) -> String {
    format!(
        "id {}, commit {}, version {}, status {}",
        r.id,
        r.commit,
        r.raw_version.as_deref().unwrap_or("N/a"),
        r.status.as_deref().unwrap_or("N/a")
    )
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(|s| s.as_str()).unwrap_or("")
}

/// One request: the fleet `arg` names, with the options of `q` (its `$filter` is set here).
/// Not found → confirm the session first (guest trap), then `FleetNotFound`.
pub(crate) async fn find_fleet(ctx: &Context, arg: &str, q: Query) -> Result<Value> {
    let Some(filter) = resolve::fleet_filter(arg) else {
        return Err(usage("the fleet must not be empty", "balena fleet <fleet>"));
    };
    ctx.api.require_token()?;
    let path = odata::path("application", &q.filter(filter));
    let rows = ctx.api.get_rows(&path).await?;
    match resolve::pick_by_id(rows) {
        Pick::One(v) => Ok(v),
        Pick::None => {
            ctx.api.confirm_session().await?;
            Err(CliError::FleetNotFound(arg.to_owned()).into())
        }
        Pick::Many(rows) => Err(CliError::FleetAmbiguous {
            arg: arg.to_owned(),
            candidates: rows
                .iter()
                .map(|r| {
                    format!(
                        "{} (id {})",
                        str_field(r, "slug"),
                        r.get("id").cloned().unwrap_or(Value::Null)
                    )
                })
                .collect(),
        }
        .into()),
    }
}

/// One request: the device `arg` names (uuid prefix), with the options of `q`.
pub(crate) async fn find_device(ctx: &Context, arg: &str, q: Query) -> Result<Value> {
    let Some(prefix) = resolve::device_prefix(arg) else {
        return Err(usage(
            "the device uuid must not be empty",
            "balena device <uuid>",
        ));
    };
    ctx.api.require_token()?;
    let q = q
        .filter(Filter::starts_with("uuid", &prefix))
        .top(DEVICE_TOP);
    let path = odata::path("device", &q);
    let rows = ctx.api.get_rows(&path).await?;
    match resolve::pick_device(&prefix, rows) {
        Pick::One(v) => Ok(v),
        Pick::None => {
            ctx.api.confirm_session().await?;
            Err(CliError::DeviceNotFound(arg.to_owned()).into())
        }
        Pick::Many(rows) => Err(CliError::DeviceAmbiguous {
            arg: arg.to_owned(),
            candidates: rows
                .iter()
                .map(|r| {
                    let fleet = r
                        .pointer("/belongs_to__application/0/slug")
                        .and_then(|s| s.as_str())
                        .unwrap_or("N/a");
                    let name = r
                        .get("device_name")
                        .and_then(|s| s.as_str())
                        .unwrap_or("N/a");
                    format!("{} {name} ({fleet})", str_field(r, "uuid"))
                })
                .collect(),
        }
        .into()),
    }
}

/// The `owns__release` expansion that matches a release argument.
pub(crate) fn release_expand(filter: Filter) -> Query {
    Query::new()
        .select(RELEASE_FIELDS)
        .filter(filter)
        .orderby("created_at desc")
        .top(RELEASE_TOP)
}

pub(crate) fn release_filter(arg: &str) -> Result<Filter> {
    resolve::release_filter(arg).ok_or_else(|| {
        usage(
            "the release must not be empty",
            "balena fleet pin <fleet> <release>",
        )
    })
}

/// Picks the pinnable release of `app` that `arg` names, from the rows expanded with
/// [`release_expand`]. Not found in the fleet → ONE extra request to tell a foreign release
/// (exit 6) from an unknown one (exit 4).
pub(crate) async fn pinnable_release(
    ctx: &Context,
    arg: &str,
    app: &Application,
) -> Result<Release> {
    let rel = match resolve::pick_release(arg, &app.releases) {
        Pick::One(r) => r,
        Pick::Many(rs) => {
            return Err(CliError::ReleaseAmbiguous {
                arg: arg.to_owned(),
                candidates: rs.iter().map(candidate_line).collect(),
            }
            .into())
        }
        Pick::None => return Err(foreign_or_unknown(ctx, arg, app).await),
    };
    let status = rel.status.clone().unwrap_or_default();
    if status != "success" {
        return Err(CliError::ReleaseNotPinnable {
            arg: arg.to_owned(),
            status: if status.is_empty() {
                "unknown".into()
            } else {
                status
            },
            fleet: app.slug.clone(),
        }
        .into());
    }
    if rel.is_final == Some(false) {
        crate::output::warn(&format!(
            "release {} is a draft (not final); pinning it anyway",
            short(&rel)
        ));
    }
    if rel.is_invalidated == Some(true) {
        crate::output::warn(&format!(
            "release {} is invalidated; pinning it anyway",
            short(&rel)
        ));
    }
    Ok(rel)
}

async fn foreign_or_unknown(ctx: &Context, arg: &str, app: &Application) -> anyhow::Error {
    let not_found = || -> anyhow::Error {
        CliError::ReleaseNotFound {
            arg: arg.to_owned(),
            fleet: Some(app.slug.clone()),
        }
        .into()
    };
    let Some(filter) = resolve::release_filter(arg) else {
        return not_found();
    };
    let q = Query::new()
        .select(RELEASE_FIELDS)
        .filter(filter)
        .expand(
            "belongs_to__application",
            Query::new().select(&["id", "slug"]),
        )
        .top(RELEASE_TOP);
    let rows: Vec<Release> = match ctx.api.get_typed(&odata::path("release", &q)).await {
        Ok(r) => r,
        Err(e) => return e.into(),
    };
    let others: Vec<Release> = rows
        .into_iter()
        .filter(|r| {
            r.belongs_to_application
                .as_ref()
                .and_then(|a| a.first())
                .and_then(|a| a.id)
                != Some(app.id)
        })
        .collect();
    let fleets_of = |rs: &[Release]| -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for r in rs {
            let slug = r
                .belongs_to_application
                .as_ref()
                .and_then(|a| a.first())
                .and_then(|a| a.slug.clone())
                .unwrap_or_else(|| "another fleet".into());
            if !v.contains(&slug) {
                v.push(slug);
            }
        }
        v
    };
    match resolve::pick_release(arg, &others) {
        Pick::One(r) => CliError::ForeignRelease {
            arg: arg.to_owned(),
            other: fleets_of(std::slice::from_ref(&r)).join(", "),
            fleet: app.slug.clone(),
        }
        .into(),
        Pick::Many(rs) => CliError::ForeignRelease {
            arg: arg.to_owned(),
            other: fleets_of(&rs).join(", "),
            fleet: app.slug.clone(),
        }
        .into(),
        Pick::None => not_found(),
    }
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T> {
    serde_json::from_value(v).map_err(|e| {
        crate::api::ApiError::Decode {
            method: "GET",
            path: what.to_owned(),
            detail: e.to_string(),
        }
        .into()
    })
}
