//! `fleet rollout <fleet> <release>`, `fleet rollout status`, `fleet rollout abort`.

use balena_api::models::Application;

use super::{selector, Context};
use crate::cli::{FleetRolloutArgs, RolloutCommand};
use crate::error::{usage, Error};
use crate::ops::waves::{self as rollout, Fleet, Options, Run};
use crate::ops::{find, interrupt};
use crate::policy::release;
use crate::policy::waves::{check_canaries, parse_budget, parse_steps};
use crate::policy::{short, short_or_none};
use crate::view::{self, waves::Progress};

pub async fn run(ctx: &Context<'_>, a: FleetRolloutArgs) -> Result<(), Error> {
    match &a.command {
        Some(RolloutCommand::Status(f)) => status(ctx, &f.fleet).await,
        Some(RolloutCommand::Abort(f)) => abort(ctx, &f.fleet).await,
        None => start_or_continue(ctx, &a).await,
    }
}

const EXAMPLE: &str =
    "balena fleet rollout <fleet> <release> [--canary TAG] [--steps 10%,50%,100%]";

fn options(a: &FleetRolloutArgs) -> Result<Options, Error> {
    let canaries = check_canaries(&a.canary)?;
    let steps = parse_steps(&a.steps).map_err(|m| usage(&m, EXAMPLE))?;
    let budget = parse_budget(&a.max_failures).map_err(|m| usage(&m, EXAMPLE))?;
    Ok(Options {
        canary_specs: canaries.iter().map(|c| c.label()).collect(),
        canaries,
        steps,
        budget,
        soak: a.soak,
        step_timeout: a.step_timeout,
        pause: a.pause,
        next: a.next,
        dry_run: a.dry_run,
    })
}

/// `balena fleet rollout <fleet> <release>`: starts a rollout, or continues the one in
/// progress (the same release and options).
async fn start_or_continue(ctx: &Context<'_>, a: &FleetRolloutArgs) -> Result<(), Error> {
    let (Some(fleet_arg), Some(rel_arg)) = (a.fleet.as_deref(), a.release.as_deref()) else {
        return Err(usage("a fleet and a release are required", EXAMPLE));
    };
    let opts = options(a)?;
    let sel = selector(rel_arg)?;
    let q = rollout::fleet_query().expand("owns__release", release::expansion(&sel));
    let app: Application = find::fleet(&ctx.api, fleet_arg, q).await?;
    let (rel, caveats) = find::release_in_fleet(&ctx.api, &sel, &app).await?;
    view::mutation::caveats(ctx.printer, &caveats);
    let latest = rollout::latest_trackable(&ctx.api, app.id).await?;
    let fleet = Fleet { app, latest };
    let run = Run {
        api: &ctx.api,
        fleet: &fleet,
        release: &rel,
        options: &opts,
    };
    interrupt::arm();
    let mut progress = Progress::start(ctx.printer);
    let result = tokio::select! {
        r = run.go(&mut progress) => r,
        () = interrupt::interrupted() => {
            return Err(Error::Interrupted {
                done: format!(
                    "the rollout of {} stopped where it was; run the same command again to \
                     continue it, or `balena fleet rollout abort {}` to roll it back",
                    short(&rel),
                    fleet.app.slug
                ),
            });
        }
    };
    drop(progress);
    match result {
        Ok(report) => {
            view::waves::report(ctx.printer, &report);
            Ok(())
        }
        Err((Some(report), e)) => {
            view::waves::report(ctx.printer, &report);
            Err(e)
        }
        Err((None, e)) => Err(e),
    }
}

fn fleet_only() -> balena_api::odata::Query {
    rollout::fleet_query()
}

/// `balena fleet rollout status <fleet>`.
async fn status(ctx: &Context<'_>, arg: &str) -> Result<(), Error> {
    let app: Application = find::fleet(&ctx.api, arg, fleet_only()).await?;
    let (st, rel, waves) = rollout::status(&ctx.api, &app).await?;
    let name = rel
        .as_ref()
        .map(short)
        .unwrap_or_else(|| format!("release {}", st.release));
    view::waves::status(ctx.printer, &app.slug, &st, &name, &waves);
    Ok(())
}

/// `balena fleet rollout abort <fleet>`.
async fn abort(ctx: &Context<'_>, arg: &str) -> Result<(), Error> {
    let app: Application = find::fleet(&ctx.api, arg, fleet_only()).await?;
    let mut progress = Progress::start(ctx.printer);
    let st = rollout::abort(&ctx.api, &app, &mut progress).await?;
    drop(progress);
    let rel = rollout::release_by_id(&ctx.api, st.release).await?;
    view::waves::aborted(ctx.printer, &app.slug, &short_or_none(rel.as_ref()), &st);
    Ok(())
}
