//! Truthful outcomes of writes. When a PATCH fails in a way that leaves its result unknown
//! (it went out, and no answer came back: a reset after sending, a timeout, a gateway
//! failure), the state is read back, with a bounded number of tries, and the outcome is
//! what the server holds: done, not done, or unknown (the state could not be read).

use std::time::Duration;

use balena_api::models::{Application, Device};
use balena_api::odata::{self, Filter, Lit, Query};
use balena_api::patch::{DevicePatch, FleetPatch};
use balena_api::{ApiError, Client};

use crate::error::Error;

/// How many times the state is read back (each read with the client's own retries).
pub const READ_BACK_TRIES: u32 = 3;
/// The pause before the second read back; doubled after.
const READ_BACK_PAUSE: Duration = Duration::from_millis(300);

/// What a write's failure says about the server's state.
pub fn may_have_been_applied(e: &ApiError) -> bool {
    match e {
        ApiError::Network { .. } | ApiError::Timeout { .. } => true,
        // A gateway's failure: the API behind it may have applied the change.
        ApiError::Http { status, .. } => (500..=599).contains(status),
        _ => false,
    }
}

/// The fields a fleet's write sets, as a script can check them.
pub fn describe_fleet_patch(p: &FleetPatch) -> String {
    match p {
        FleetPatch::PinTo(id) => {
            format!("should_be_running__release = {id} and should_track_latest_release = false")
        }
        FleetPatch::TrackLatest(Some(id)) => {
            format!("should_track_latest_release = true and should_be_running__release = {id}")
        }
        FleetPatch::TrackLatest(None) => "should_track_latest_release = true".into(),
    }
}

/// The field a device's write sets.
pub fn describe_device_patch(p: &DevicePatch) -> String {
    match p.pin() {
        Some(id) => format!("is_pinned_on__release = {id}"),
        None => "is_pinned_on__release = null".into(),
    }
}

/// Whether the fleet row holds what `p` writes.
pub fn fleet_holds(app: &Application, p: &FleetPatch) -> bool {
    let track = app.should_track_latest_release;
    let target = app.target.id();
    match *p {
        FleetPatch::PinTo(id) => track == Some(false) && target == Some(id),
        FleetPatch::TrackLatest(Some(id)) => track == Some(true) && target == Some(id),
        FleetPatch::TrackLatest(None) => track == Some(true),
    }
}

/// Whether the device row holds what `p` writes.
pub fn device_holds(dev: &Device, p: &DevicePatch) -> bool {
    dev.pinned.id() == p.pin()
}

/// Reads the rows of `path` back until it answers (at most [`READ_BACK_TRIES`] times).
async fn read_rows<T: serde::de::DeserializeOwned>(
    api: &Client,
    path: &str,
) -> Result<Vec<T>, ApiError> {
    let mut pause = READ_BACK_PAUSE;
    let mut last = None;
    for i in 0..READ_BACK_TRIES {
        if i > 0 {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        match api.get::<T>(path).await {
            Ok(rows) => return Ok(rows),
            Err(e) => {
                tracing::debug!("  read back failed: {e}");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or(ApiError::Network {
        detail: "no read back".into(),
    }))
}

/// Reads one row back and tells whether it holds the change; an error when no read
/// succeeded (or the row is gone).
async fn read_back<T, F>(api: &Client, path: &str, holds: F) -> Result<bool, ApiError>
where
    T: serde::de::DeserializeOwned,
    F: Fn(&T) -> bool,
{
    match read_rows::<T>(api, path).await?.first() {
        Some(row) => Ok(holds(row)),
        None => Err(ApiError::Decode {
            method: "GET",
            path: format!("/v7/{path}"),
            detail: "the row written is no longer visible".into(),
        }),
    }
}

/// The outcome of a failed write, from the state read back.
async fn settle<T, F>(
    api: &Client,
    failure: ApiError,
    what: &str,
    change: String,
    check: String,
    path: String,
    holds: F,
) -> Result<(), Error>
where
    T: serde::de::DeserializeOwned,
    F: Fn(&T) -> bool,
{
    if !may_have_been_applied(&failure) {
        return Err(failure.into());
    }
    tracing::debug!("  the write's outcome is unknown ({failure}); reading {what} back");
    match read_back::<T, F>(api, &path, holds).await {
        Ok(true) => {
            tracing::debug!("  read back: the change was made");
            Ok(())
        }
        Ok(false) => Err(Error::WriteNotApplied {
            what: what.to_owned(),
            cause: Box::new(failure),
        }),
        Err(read) => Err(Error::OutcomeUnknown {
            what: what.to_owned(),
            change,
            check,
            cause: Box::new(failure),
            read_back: Box::new(read),
        }),
    }
}

/// PATCHes the fleet; on a failure that leaves the result unknown, reads the fleet back.
/// `slug` names it in the errors.
pub async fn patch_fleet(
    api: &Client,
    fleet_id: i64,
    slug: &str,
    patch: &FleetPatch,
) -> Result<(), Error> {
    let Err(failure) = api
        .patch(&odata::entity("application", fleet_id), patch)
        .await
    else {
        return Ok(());
    };
    let q = Query::new().select(&[
        "id",
        "should_track_latest_release",
        "should_be_running__release",
    ]);
    settle::<Application, _>(
        api,
        failure,
        &format!("fleet {slug}"),
        describe_fleet_patch(patch),
        format!("balena fleet pin {slug}"),
        odata::entity_path("application", fleet_id, &q),
        |app: &Application| fleet_holds(app, patch),
    )
    .await
}

/// PATCHes the device; on a failure that leaves the result unknown, reads the device back.
pub async fn patch_device(
    api: &Client,
    device_id: i64,
    uuid: &str,
    patch: &DevicePatch,
) -> Result<(), Error> {
    let Err(failure) = api.patch(&odata::entity("device", device_id), patch).await else {
        return Ok(());
    };
    let q = Query::new().select(&["id", "is_pinned_on__release"]);
    settle::<Device, _>(
        api,
        failure,
        &format!("device {uuid}"),
        describe_device_patch(patch),
        format!("balena device pin {uuid}"),
        odata::entity_path("device", device_id, &q),
        |d: &Device| device_holds(d, patch),
    )
    .await
}

/// The conditional filter of a bulk write: these ids, as long as each is still pinned as
/// it was when the write was planned (`before`: its pin then, `None` for none). A device
/// that someone else changed in between no longer matches, and is left alone.
pub fn conditional(ids: &[i64], before: Option<i64>) -> Filter {
    conditional_on(Filter::id_in("id", ids), before)
}

/// The conditional filter of a write to the devices `set` matches, planned from pin `before`.
pub fn conditional_on(set: Filter, before: Option<i64>) -> Filter {
    Filter::And(vec![set, pinned_on(before)])
}

fn pinned_on(release: Option<i64>) -> Filter {
    Filter::Eq(
        "is_pinned_on__release".into(),
        release.map_or(Lit::Null, Lit::Int),
    )
}

/// What a device holds now, for a conflict's message.
fn holds_now(d: &Device) -> String {
    match d.pinned.first() {
        Some(r) => format!("pinned {}", crate::policy::short(r)),
        None => match d.pinned.id() {
            Some(id) => format!("pinned to release {id}"),
            None => "following its fleet".into(),
        },
    }
}

/// The outcome of one chunk of a bulk write: `devices` (`(id, uuid)`), planned from pin
/// `before`, PATCHed with `patch` under [`conditional`]; `written` is the PATCH's answer.
/// Returns the devices that do not hold the change, each with its error (none when every
/// one is done).
///
/// - A refusal fails them all with it.
/// - An answered write is checked with one `$count` of the devices that now hold the
///   change; only when some don't is the chunk read back, to name them: each is then a
///   [`Error::Conflict`] (someone else changed it first).
/// - A write whose answer was lost is read back: a device that holds the change is done, one
///   still as planned was not changed ([`Error::WriteNotApplied`]), any other is a conflict;
///   when no read back succeeds, [`Error::OutcomeUnknown`].
pub async fn settle_devices(
    api: &Client,
    devices: &[(i64, Box<str>)],
    patch: &DevicePatch,
    before: Option<i64>,
    written: Result<(), ApiError>,
) -> Vec<(i64, Error)> {
    let ids: Vec<i64> = devices.iter().map(|(id, _)| *id).collect();
    let set = Filter::id_in("id", &ids);
    settle_in(api, devices, set, patch, before, written).await
}

/// [`settle_devices`] of a chunk written with [`conditional_on`]`(set, before)`: `set` is
/// the filter that matched exactly the ids of `devices` in the write, and its `$count` and
/// read back name them the same way.
pub async fn settle_in(
    api: &Client,
    devices: &[(i64, Box<str>)],
    set: Filter,
    patch: &DevicePatch,
    before: Option<i64>,
    written: Result<(), ApiError>,
) -> Vec<(i64, Error)> {
    let n_ids = devices.len();
    let failure = match written {
        Ok(()) => {
            let holding = Filter::And(vec![set.clone(), pinned_on(patch.pin())]);
            match api.count("device", holding).await {
                Ok(n) if n as usize == n_ids => return Vec::new(),
                Ok(n) => tracing::debug!(
                    "  {} of {} devices do not hold the change: reading them back",
                    n_ids.saturating_sub(n as usize),
                    n_ids
                ),
                Err(e) => {
                    tracing::debug!("  cannot count the devices written ({e}): reading them back")
                }
            }
            None
        }
        Err(failure) if !may_have_been_applied(&failure) => {
            let e = Error::from(failure);
            return devices.iter().map(|(id, _)| (*id, e.clone())).collect();
        }
        Err(failure) => {
            tracing::debug!("  the bulk write's outcome is unknown ({failure}); reading it back");
            Some(failure)
        }
    };
    let q = Query::new()
        .select(&["id", "is_pinned_on__release"])
        .filter(set)
        .expand(
            "is_pinned_on__release",
            Query::new().select(crate::policy::release::SUMMARY_FIELDS),
        );
    let read = read_rows::<Device>(api, &odata::path("device", &q)).await;
    devices
        .iter()
        .filter_map(|(id, uuid)| {
            let what = format!("device {uuid}");
            let rows = match &read {
                Ok(rows) => rows,
                Err(r) => {
                    let cause = failure.clone().unwrap_or_else(|| ApiError::Network {
                        detail: "the conditional write was answered, but which devices it \
                                 matched could not be checked"
                            .into(),
                    });
                    return Some((
                        *id,
                        Error::OutcomeUnknown {
                            what,
                            change: describe_device_patch(patch),
                            check: format!("balena device pin {uuid}"),
                            cause: Box::new(cause),
                            read_back: Box::new(r.clone()),
                        },
                    ));
                }
            };
            let e = match rows.iter().find(|d| d.id == *id) {
                Some(d) if device_holds(d, patch) => return None,
                Some(d) => match &failure {
                    Some(f) if d.pinned.id() == before => Error::WriteNotApplied {
                        what,
                        cause: Box::new(f.clone()),
                    },
                    _ => Error::Conflict {
                        what,
                        now: holds_now(d),
                    },
                },
                None => Error::Conflict {
                    what,
                    now: "no longer visible to this account".into(),
                },
            };
            Some((*id, e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use balena_api::models::Nav;

    fn app(track: bool, target: Option<i64>) -> Application {
        Application {
            should_track_latest_release: Some(track),
            target: target.map_or(Nav::Absent, Nav::Deferred),
            ..Application::default()
        }
    }

    #[test]
    fn what_a_read_back_compares() {
        assert!(fleet_holds(&app(false, Some(7)), &FleetPatch::PinTo(7)));
        assert!(!fleet_holds(&app(true, Some(7)), &FleetPatch::PinTo(7)));
        assert!(!fleet_holds(&app(false, Some(6)), &FleetPatch::PinTo(7)));
        assert!(fleet_holds(
            &app(true, Some(7)),
            &FleetPatch::TrackLatest(Some(7))
        ));
        assert!(fleet_holds(
            &app(true, None),
            &FleetPatch::TrackLatest(None)
        ));
        assert!(!fleet_holds(
            &app(false, None),
            &FleetPatch::TrackLatest(None)
        ));
        assert_eq!(
            describe_fleet_patch(&FleetPatch::PinTo(7)),
            "should_be_running__release = 7 and should_track_latest_release = false"
        );
        assert_eq!(
            describe_device_patch(&DevicePatch::Unpin),
            "is_pinned_on__release = null"
        );
    }

    #[test]
    fn which_failures_are_read_back() {
        let http = |status| ApiError::Http {
            status,
            message: "m".into(),
            method: "PATCH",
            path: "/v7/application(1)".into(),
            retry_after: None,
            host: "h".into(),
            attempts: 1,
        };
        assert!(may_have_been_applied(&ApiError::Timeout {
            detail: "t".into()
        }));
        assert!(may_have_been_applied(&ApiError::Network {
            detail: "r".into()
        }));
        assert!(may_have_been_applied(&http(502)));
        assert!(!may_have_been_applied(&http(400)));
        assert!(!may_have_been_applied(&ApiError::NotLoggedIn));
    }
}
