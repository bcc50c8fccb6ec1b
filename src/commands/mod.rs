//! One short function per verb: from its arguments, through [`crate::ops`] and
//! [`crate::policy`], to a [`crate::view`]. Every command returns the one typed
//! [`Error`].

pub mod account;
pub mod dashboard;
pub mod device;
pub mod fleet;
pub mod release;
pub mod rollout;

use std::time::Duration;

use balena_api::{Client, ClientConfig, RetryPolicy};

use crate::cli::{Command, DeviceCommand, FleetCommand, MutationArgs, ReleaseCommand};
use crate::config::Settings;
use crate::error::{usage, Error};
use crate::ops::wait::{wait_for_rollout, WaitScope};
use crate::policy::rollout::WaitOutcome;
use crate::policy::ReleaseSelector;
use crate::view::progress::WaitProgress;
use crate::view::Printer;

/// What every command works with.
pub struct Context<'a> {
    pub settings: Settings,
    pub api: Client,
    pub printer: &'a Printer,
}

/// The (lazy) API client for `settings`. Nothing is sent or set up here; the API URL and
/// the proxy settings are checked.
pub fn build_client(settings: &Settings, token: Option<String>) -> Result<Client, Error> {
    let api_origin = settings.api_origin()?;
    let (proxy, no_proxy) = settings.proxy.resolve(&api_origin)?;
    Ok(Client::new(ClientConfig {
        api_origin,
        token,
        connect_timeout: settings.connect_timeout,
        request_timeout: settings.request_timeout,
        retry: RetryPolicy::default(),
        proxy,
        no_proxy,
    }))
}

pub async fn run(ctx: &Context<'_>, cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::Login(a) => account::login(ctx, &a).await,
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
            (Some(FleetCommand::Rollout(r)), _) => rollout::run(ctx, r).await,
            (None, Some(f)) if a.view => dashboard::fleet(ctx, &f).await,
            (None, Some(f)) => fleet::show(ctx, &f).await,
            (None, None) => Err(usage("a fleet is required", "balena fleet <fleet>")),
        },
        Command::Device(a) => match (a.command, a.uuid) {
            (Some(DeviceCommand::List(l)), _) => device::list(ctx, &l).await,
            (Some(DeviceCommand::Pin(p)), _) => device::pin(ctx, &p).await,
            (Some(DeviceCommand::TrackFleet(t)), _) => device::track_fleet(ctx, &t).await,
            (None, Some(u)) if a.view => dashboard::device(ctx, &u).await,
            (None, Some(u)) => device::show(ctx, &u).await,
            (None, None) => Err(usage("a device is required", "balena device <uuid>")),
        },
        Command::Release(a) => match (a.command, a.release) {
            (Some(ReleaseCommand::List(l)), _) => release::list(ctx, &l.fleet).await,
            (None, Some(r)) => {
                let r = release::argument(ctx, &r).await?;
                if a.composition {
                    release::composition(ctx, &r).await
                } else {
                    release::show(ctx, &r).await
                }
            }
            (None, None) => Err(usage("a release is required", "balena release <commit|id>")),
        },
        Command::Releases(a) => match (a.command, a.fleet) {
            (Some(ReleaseCommand::List(l)), _) => release::list(ctx, &l.fleet).await,
            (None, Some(f)) => release::list(ctx, &f).await,
            (None, None) => Err(usage("a fleet is required", "balena releases <fleet>")),
        },
        // Handled before the context is built.
        Command::Completion(_) | Command::Help(_) | Command::Version(_) => Ok(()),
    }
}

/// A field the server's row must have (`what` names the row in the error).
fn row_field<'a, T>(
    row: &'a serde_json::Value,
    key: &str,
    what: &str,
    as_t: impl FnOnce(&'a serde_json::Value) -> Option<T>,
) -> Result<T, Error> {
    row.get(key)
        .and_then(as_t)
        .ok_or_else(|| Error::Incomplete {
            detail: format!("the {what} row has no {key}"),
        })
}

/// A release argument, or the usage error for an empty one.
fn selector(arg: &str) -> Result<ReleaseSelector, Error> {
    ReleaseSelector::parse(arg).ok_or_else(|| {
        usage(
            "the release must not be empty",
            "balena fleet pin <fleet> <release>",
        )
    })
}

/// Runs the wait when `--wait` was given (never with `--dry-run`: clap refuses it), with
/// its progress on stderr. The change was made before: a wait that fails does not hide it.
/// The outcome to print with the result, and the error to return after printing it.
async fn wait_if_asked(
    ctx: &Context<'_>,
    m: &MutationArgs,
    scope: WaitScope,
) -> (Option<WaitOutcome>, Option<Error>) {
    if !m.wait || m.dry_run {
        return (None, None);
    }
    match wait_for(ctx, &scope, m.timeout).await {
        Ok(w) => (Some(w), None),
        // An interrupt stands for itself (exit 130): the change was made, the wait stopped.
        Err(e @ (Error::WaitFailed { .. } | Error::Interrupted { .. })) => (None, Some(e)),
        Err(e) => (
            None,
            Some(Error::WaitFailed {
                cause: Box::new(e),
                failures: 1,
                transient: false,
            }),
        ),
    }
}

async fn wait_for(
    ctx: &Context<'_>,
    scope: &WaitScope,
    timeout: Duration,
) -> Result<WaitOutcome, Error> {
    crate::ops::interrupt::arm();
    let mut progress = WaitProgress::start(ctx.printer, scope.label());
    let w = tokio::select! {
        w = wait_for_rollout(&ctx.api, scope, timeout, &mut progress) => w?,
        () = crate::ops::interrupt::interrupted() => {
            return Err(Error::Interrupted {
                done: "the change was applied; the wait was interrupted".into(),
            });
        }
    };
    crate::view::progress::offline(ctx.printer, &w);
    Ok(w)
}

/// After the result is printed: the wait's failure, or the wait-timeout error (exit 8) if
/// the wait did not complete.
fn finish_wait(waited: Option<WaitOutcome>, failed: Option<Error>) -> Result<(), Error> {
    if let Some(e) = failed {
        return Err(e);
    }
    waited.map_or(Ok(()), WaitOutcome::into_result)
}
