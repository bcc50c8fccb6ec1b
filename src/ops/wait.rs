//! `--wait`: after a mutation, poll the affected devices until every online one runs its
//! target release (`is_running__release` = `should_be_running__release`), or time out.
//!
//! One GET per poll (per chunk of ids, see [`balena_api::chunk`]), selecting only the
//! fields compared. Navigation fields come back deferred (`{"__id":N}`) and only the ids are
//! compared. The timeout is not an error here: the outcome says `complete: false`, and the
//! caller turns it into exit 8 with [`WaitOutcome::timeout_error`] after printing the
//! report. The rules (counts, completeness, schedule) are in [`crate::policy::rollout`].

use std::time::{Duration, Instant};

use balena_api::chunk::id_chunks;
use balena_api::models::Device;
use balena_api::odata::{self, Filter, Lit, Query};
use balena_api::{ApiError, Client};

use crate::error::Error;
use crate::policy::rollout::{self, RolloutObserver, WaitOutcome};

/// What the wait covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitScope {
    /// The fleet's devices that follow the fleet's target (not pinned): those a fleet target
    /// change affects.
    Fleet { id: i64, slug: String },
    /// These device ids.
    Devices(Vec<i64>),
}

impl WaitScope {
    /// What progress lines name (the fleet's slug, or nothing for a device list).
    pub fn label(&self) -> &str {
        match self {
            WaitScope::Fleet { slug, .. } => slug,
            WaitScope::Devices(_) => "",
        }
    }
}

/// The fields one poll reads.
pub const POLL_FIELDS: &[&str] = &[
    "id",
    "uuid",
    "device_name",
    "is_online",
    "overall_status",
    "is_running__release",
    "should_be_running__release",
];

/// The GET paths (relative to `/v7/`) of one poll.
pub fn poll_paths(scope: &WaitScope) -> Vec<String> {
    let select = Query::new().select(POLL_FIELDS);
    match scope {
        WaitScope::Fleet { id, .. } => {
            let q = select.filter(Filter::And(vec![
                Filter::eq("belongs_to__application", *id),
                Filter::Eq("is_pinned_on__release".into(), Lit::Null),
            ]));
            vec![odata::path("device", &q)]
        }
        WaitScope::Devices(ids) => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            let path_of =
                |c: &[i64]| odata::path("device", &select.clone().filter(Filter::id_in("id", c)));
            id_chunks(&ids, path_of)
                .iter()
                .map(|c| path_of(c))
                .collect()
        }
    }
}

/// Whether a failed poll is worth another one: the network, a timeout, a server or
/// gateway failure, a rate limit. A refusal (401, 403, 4xx) is final.
pub fn is_transient(e: &Error) -> bool {
    match e {
        Error::Api(
            ApiError::Network { .. } | ApiError::Timeout { .. } | ApiError::Proxy { .. },
        ) => true,
        Error::Api(ApiError::Http { status, .. }) => *status == 429 || (500..=599).contains(status),
        _ => false,
    }
}

/// One poll: every chunk of `paths`.
async fn poll(api: &Client, paths: &[String]) -> Result<Vec<Device>, Error> {
    let mut rows: Vec<Device> = Vec::new();
    for p in paths {
        rows.extend(api.get::<Device>(p).await?);
    }
    Ok(rows)
}

/// Polls until every online device of `scope` runs its target release, or `timeout` passes.
/// A timeout is `Ok` with `complete: false`. A failed poll (after the client's retries) that
/// is transient ([`is_transient`]) is ridden out with the same backoff until the deadline:
/// the outcome is then the last poll that answered. When none answered, or a poll is
/// refused, the error is [`Error::WaitFailed`] (the change itself was made).
pub async fn wait_for_rollout(
    api: &Client,
    scope: &WaitScope,
    timeout: Duration,
    observer: &mut dyn RolloutObserver,
) -> Result<WaitOutcome, Error> {
    api.require_token()?;
    let paths = poll_paths(scope);
    if paths.is_empty() {
        // No devices: nothing to wait for, nothing to send.
        return Ok(WaitOutcome::empty());
    }
    let started = Instant::now();
    // Polls sent (the backoff's count), polls answered, the last answer.
    let mut attempts: u32 = 0;
    let mut polls: u32 = 0;
    let mut last: Option<(Vec<rollout::DeviceState>, rollout::Counts)> = None;
    let mut failures: u32 = 0;
    loop {
        attempts += 1;
        // A poll never runs past the deadline (its retries included), by more than a
        // second.
        let remaining = timeout.saturating_sub(started.elapsed()) + Duration::from_secs(1);
        let answer = match tokio::time::timeout(remaining, poll(api, &paths)).await {
            Ok(r) => r,
            Err(_) => Err(Error::Api(ApiError::Timeout {
                detail: "the poll ran past the --wait deadline".into(),
            })),
        };
        let complete = match answer {
            Ok(rows) => {
                polls += 1;
                let devices = rollout::states(&rows);
                let c = rollout::counts(&devices);
                observer.polled(&c);
                let complete = rollout::is_complete(&devices);
                last = Some((devices, c));
                complete
            }
            Err(e) if is_transient(&e) => {
                failures += 1;
                tracing::debug!("  poll {attempts} failed ({e}); polling again until the deadline");
                if started.elapsed() >= timeout && last.is_none() {
                    return Err(Error::WaitFailed {
                        cause: Box::new(e),
                        failures,
                        transient: true,
                    });
                }
                false
            }
            Err(e) => {
                return Err(Error::WaitFailed {
                    cause: Box::new(e),
                    failures: failures + 1,
                    transient: false,
                })
            }
        };
        let elapsed = started.elapsed();
        let next = if complete {
            None
        } else {
            rollout::next_delay(attempts, elapsed, timeout)
        };
        match (next, last.take()) {
            (Some(d), l) => {
                last = l;
                tokio::time::sleep(d).await
            }
            (None, Some((devices, c))) => {
                observer.finished(&c, complete, elapsed);
                return Ok(WaitOutcome {
                    complete,
                    elapsed,
                    polls,
                    devices,
                });
            }
            (None, None) => {
                // The deadline, and no poll ever answered: the next failure reports it.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use balena_api::chunk::MAX_PATH;

    #[test]
    fn transient_poll_failures() {
        let http = |status| {
            Error::Api(ApiError::Http {
                status,
                message: "m".into(),
                method: "GET",
                path: "/v7/device".into(),
                retry_after: None,
                host: "h".into(),
                attempts: 1,
            })
        };
        assert!(is_transient(&http(500)));
        assert!(is_transient(&http(503)));
        assert!(is_transient(&http(429)));
        assert!(!is_transient(&http(400)));
        assert!(!is_transient(&http(403)));
        assert!(is_transient(&Error::Api(ApiError::Timeout {
            detail: "t".into()
        })));
        assert!(!is_transient(&Error::Api(ApiError::NotLoggedIn)));
    }

    #[test]
    fn poll_paths_and_chunks() {
        let sel = "$select=id,uuid,device_name,is_online,overall_status,is_running__release,should_be_running__release";
        assert_eq!(
            poll_paths(&WaitScope::Fleet {
                id: 5,
                slug: "o/f".into()
            }),
            [format!("device?{sel}&$filter=(belongs_to__application%20eq%205)%20and%20(is_pinned_on__release%20eq%20null)")]
        );
        assert_eq!(
            poll_paths(&WaitScope::Devices(vec![3, 1, 3])),
            [format!("device?{sel}&$filter=id%20in%20(1,3)")]
        );
        assert!(poll_paths(&WaitScope::Devices(vec![])).is_empty());

        let ids: Vec<i64> = (1_000_000..1_002_000).collect();
        let paths = poll_paths(&WaitScope::Devices(ids));
        assert!(paths.len() > 1);
        assert!(paths.iter().all(|p| p.len() <= MAX_PATH), "{paths:?}");
    }
}
