//! What every mutation shares: the release selector (`latest` or an identifier), the
//! `--dry-run` plan lines, and the `--wait` wiring around the wait engine.

use anyhow::Result;
use serde_json::{json, Value};

use super::wait::{self, WaitOutcome, WaitScope};
use super::{pinnable_release, release_expand, release_filter, short, Context, RELEASE_FIELDS};
use crate::api::models::{Application, Release};
use crate::api::odata::Query;
use crate::cli::MutationArgs;
use crate::error::CliError;
use crate::resolve;

/// A release argument: the `latest` selector, or an identifier (commit, prefix, id, version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReleaseSel<'a> {
    Latest,
    Arg(&'a str),
}

impl<'a> ReleaseSel<'a> {
    /// Usage error for an empty argument.
    pub(crate) fn parse(arg: &'a str) -> Result<ReleaseSel<'a>> {
        if resolve::is_latest(arg) {
            return Ok(ReleaseSel::Latest);
        }
        release_filter(arg)?;
        Ok(ReleaseSel::Arg(arg))
    }

    /// The `owns__release` expansion that finds the release in its fleet.
    pub(crate) fn expand(&self) -> Query {
        match self {
            ReleaseSel::Latest => latest_expand(),
            ReleaseSel::Arg(a) => {
                release_expand(resolve::release_filter(a).expect("checked by parse"))
            }
        }
    }
}

/// The newest pinnable release, as `fleet track-latest` and the server's auto-advance pick it.
pub(crate) fn latest_expand() -> Query {
    Query::new()
        .select(RELEASE_FIELDS)
        .filter(super::fleet::trackable_filter())
        .orderby("start_timestamp desc")
        .top(1)
}

/// The release `sel` names among the `owns__release` rows of `app` (expanded with
/// [`ReleaseSel::expand`]).
pub(crate) async fn resolve_release(
    ctx: &Context,
    sel: ReleaseSel<'_>,
    app: &Application,
) -> Result<Release> {
    match sel {
        ReleaseSel::Latest => app.releases.first().cloned().ok_or_else(|| {
            CliError::NoPinnableRelease {
                fleet: app.slug.clone(),
            }
            .into()
        }),
        ReleaseSel::Arg(a) => pinnable_release(ctx, a, app).await,
    }
}

/// `a1b2c3d (1.2.0)`, or `none`.
pub(crate) fn short_or_none(r: Option<&Release>) -> String {
    r.map(short).unwrap_or_else(|| "none".to_owned())
}

/// A device's target in a plan: `pinned a1b2c3d (1.2.0)` or `fleet a1b2c3d (1.2.0)`.
pub(crate) fn device_state(pinned: Option<&Release>, fleet_target: Option<&Release>) -> String {
    match pinned {
        Some(p) => format!("pinned {}", short(p)),
        None => format!("fleet {}", short_or_none(fleet_target)),
    }
}

/// The first line of every human plan (stdout).
pub(crate) const PLAN_HEADER: &str = "Dry run: nothing was changed.";

/// `3 devices would change, 1 pinned device unaffected`
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Runs the wait engine when `--wait` was given (never with `--dry-run`: clap refuses it).
pub(crate) async fn wait_if_asked(
    ctx: &Context,
    m: &MutationArgs,
    scope: WaitScope,
) -> Result<Option<WaitOutcome>> {
    if !m.wait || m.dry_run {
        return Ok(None);
    }
    Ok(Some(wait::wait_for_rollout(ctx, scope, m.timeout).await?))
}

/// Adds `"rollout"` to a JSON result when the command waited.
pub(crate) fn with_rollout(mut v: Value, outcome: Option<&WaitOutcome>) -> Value {
    if let (Value::Object(o), Some(w)) = (&mut v, outcome) {
        o.insert("rollout".into(), w.report.clone());
    }
    v
}

/// After the result is printed: the wait-timeout error (exit 8) if the wait did not complete.
pub(crate) fn finish_wait(outcome: Option<WaitOutcome>) -> Result<()> {
    match outcome {
        Some(w) if !w.complete => Err(w.timeout_error().into()),
        _ => Ok(()),
    }
}

/// `{"name":…,"message":…}` of an error, for per-item results.
pub(crate) fn error_json(e: &anyhow::Error) -> Value {
    let r = crate::error::classify(e);
    json!({"name": r.name, "message": r.message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert_eq!(ReleaseSel::parse("latest").unwrap(), ReleaseSel::Latest);
        assert_eq!(ReleaseSel::parse("abc").unwrap(), ReleaseSel::Arg("abc"));
        assert!(ReleaseSel::parse("").is_err());
        assert_eq!(
            crate::api::odata::path("x", &Query::new().expand("owns__release", latest_expand())),
            "x?$expand=owns__release($select=id,commit,status,raw_version,semver,is_final,is_invalidated,created_at;$filter=(is_final%20eq%20true)%20and%20(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success%27);$orderby=start_timestamp%20desc;$top=1)"
        );
    }
}
