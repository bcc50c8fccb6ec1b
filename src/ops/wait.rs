//! `--wait`: after a mutation, poll the affected devices until every online one runs the
//! release this command set (`is_running__release` = `should_be_running__release`, and the
//! target or pin still as set: see [`Expect`]), or time out.
//!
//! A poll costs one small request while nothing changes: a `$count` of the devices still
//! pending (online, with a target they don't run) on the server. The devices themselves
//! (only the fields compared, navigation fields deferred) are fetched on the first poll,
//! when that count changes, when it reaches 0, and on the last poll before the deadline:
//! a fleet's devices in pages of [`PAGE`] by id, a list of devices in chunks of ids (see
//! [`balena_api::chunk`]), each page replacing the states of its ids in place (one copy of
//! the devices is held, never a second one while fetching). A short list (at most [`SMALL`] devices, one request) is simply
//! fetched each poll. The timeout is not an error here: the outcome says
//! `complete: false`, and the caller turns it into exit 8 with
//! [`WaitOutcome::timeout_error`] after printing the report. The rules (counts,
//! completeness, schedule) are in [`crate::policy::rollout`].

use std::time::{Duration, Instant};

use balena_api::chunk::id_chunks;
use balena_api::models::Device;
use balena_api::odata::{self, Filter, Lit, Query};
use balena_api::{ApiError, Client};

use crate::error::Error;
use crate::policy::rollout::{self, Counts, DeviceState, Expect, RolloutObserver, WaitOutcome};
use crate::policy::select::tag_filter;

/// Devices per page when a fleet's devices are fetched.
pub const PAGE: u32 = 1_000;
/// A list of at most this many devices is fetched whole each poll (no `$count`).
pub const SMALL: usize = 100;

/// Which devices the wait covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Members {
    /// The fleet's devices that follow the fleet's target (not pinned): those a fleet target
    /// change affects.
    Following { fleet: i64 },
    /// The devices of a `--fleet F [--tag K[=V]]...` selection: the fleet's devices with
    /// these tags, those [`Expect::Pins`] lists.
    Selected { fleet: i64, tags: Vec<String> },
    /// The devices [`Expect::Pins`] lists, by id.
    Listed,
}

/// What the wait covers, and what each device should end up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitScope {
    /// What progress lines name (the fleet's slug, or nothing for devices).
    pub label: String,
    pub members: Members,
    pub expect: Expect,
}

impl WaitScope {
    /// The devices following fleet `id` after this command gave it `target`.
    pub fn fleet(id: i64, slug: &str, target: Option<i64>) -> WaitScope {
        WaitScope {
            label: slug.to_owned(),
            members: Members::Following { fleet: id },
            expect: Expect::Target(target),
        }
    }

    /// Devices by id, each with the pin this command left it with (`None`: follows its
    /// fleet).
    pub fn devices(pins: Vec<(i64, Option<i64>)>) -> WaitScope {
        WaitScope {
            label: String::new(),
            members: Members::Listed,
            expect: Expect::pins(pins),
        }
    }

    /// The devices of a `--fleet` selection, each with the pin this command left it with.
    pub fn selected(fleet: i64, tags: &[String], pins: Vec<(i64, Option<i64>)>) -> WaitScope {
        WaitScope {
            label: String::new(),
            members: Members::Selected {
                fleet,
                tags: tags.to_vec(),
            },
            expect: Expect::pins(pins),
        }
    }

    /// What progress lines name (the fleet's slug, or nothing for a device list).
    pub fn label(&self) -> &str {
        &self.label
    }

    fn listed_ids(&self) -> Vec<i64> {
        match &self.expect {
            Expect::Pins(p) => p.iter().map(|(id, _)| *id).collect(),
            Expect::Target(_) => Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(&self.expect, Expect::Pins(p) if p.is_empty())
    }

    /// Whether a poll is a `$count` first (not for a short list).
    fn counts_first(&self) -> bool {
        match (&self.members, &self.expect) {
            (Members::Listed, Expect::Pins(p)) => p.len() > SMALL,
            _ => true,
        }
    }

    /// The `$filter` of the members on the server, without the poll's own conditions
    /// (`None` for a list: by id chunks).
    fn members_filter(&self) -> Option<Vec<Filter>> {
        match &self.members {
            Members::Following { fleet } => Some(vec![
                Filter::eq("belongs_to__application", *fleet),
                Filter::Eq("is_pinned_on__release".into(), Lit::Null),
            ]),
            Members::Selected { fleet, tags } => {
                let mut parts = vec![Filter::eq("belongs_to__application", *fleet)];
                parts.extend(tags.iter().filter_map(|t| tag_filter(t)));
                Some(parts)
            }
            Members::Listed => None,
        }
    }

    /// The `$filter`s (one per chunk of ids for a list) whose `$count` is the devices still
    /// pending.
    pub fn count_filters(&self) -> Vec<Filter> {
        let pending = || {
            vec![
                Filter::Eq("is_online".into(), Lit::Bool(true)),
                Filter::Ne("should_be_running__release".into(), Lit::Null),
                Filter::NeField(
                    "is_running__release".into(),
                    "should_be_running__release".into(),
                ),
            ]
        };
        match self.members_filter() {
            Some(mut parts) => {
                if let Some(pin) = self.expect.common_pin() {
                    // Only the devices still pinned as set (the others are reported apart).
                    parts.push(Filter::Eq(
                        "is_pinned_on__release".into(),
                        pin.map_or(Lit::Null, Lit::Int),
                    ));
                }
                parts.extend(pending());
                vec![Filter::And(parts)]
            }
            None => {
                let ids = self.listed_ids();
                let with = |c: &[i64]| {
                    let mut parts = vec![Filter::id_in("id", c)];
                    parts.extend(pending());
                    Filter::And(parts)
                };
                let path_of =
                    |c: &[i64]| odata::path("device/$count", &Query::new().filter(with(c)));
                id_chunks(&ids, path_of).iter().map(|c| with(c)).collect()
            }
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
    "is_pinned_on__release",
];

/// The GET paths (relative to `/v7/`) that fetch a list's devices, one per chunk of ids
/// (empty for a fleet's devices, which are paged: see [`page_path`]).
pub fn poll_paths(scope: &WaitScope) -> Vec<String> {
    listed_chunks(scope).into_iter().map(|(p, _)| p).collect()
}

/// [`poll_paths`], each with the last (highest) id of its chunk.
fn listed_chunks(scope: &WaitScope) -> Vec<(String, i64)> {
    if scope.members_filter().is_some() {
        return Vec::new();
    }
    let select = Query::new().select(POLL_FIELDS);
    let ids = scope.listed_ids();
    let path_of = |c: &[i64]| odata::path("device", &select.clone().filter(Filter::id_in("id", c)));
    id_chunks(&ids, path_of)
        .iter()
        .map(|c| (path_of(c), c.last().copied().unwrap_or_default()))
        .collect()
}

/// The GET path of the page of a fleet's members after device id `after`.
pub fn page_path(scope: &WaitScope, after: Option<i64>) -> Option<String> {
    let mut parts = scope.members_filter()?;
    if let Some(id) = after {
        parts.push(Filter::Gt("id".into(), Lit::Int(id)));
    }
    let q = Query::new()
        .select(POLL_FIELDS)
        .filter(Filter::And(parts))
        .orderby("id asc")
        .top(PAGE);
    Some(odata::path("device", &q))
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

/// Every member device, as the server has them now, into `states` (sorted by id), as the
/// wait compares them. Each page (or chunk of ids) replaces the states of its span of ids
/// as it arrives, so neither two copies of the states nor more than one page of decoded
/// rows are held at once. When the fetch fails midway, `states` holds each device as the
/// last poll that read it saw it.
async fn fetch_into(
    api: &Client,
    scope: &WaitScope,
    states: &mut Vec<DeviceState>,
) -> Result<(), Error> {
    // The span after `lo` (exclusive) up to `hi` (inclusive; `None`: to the end).
    let mut lo: Option<i64> = None;
    if scope.members_filter().is_none() {
        let chunks = listed_chunks(scope);
        let n = chunks.len();
        for (i, (p, last)) in chunks.into_iter().enumerate() {
            let rows: Vec<Device> = api.get(&p).await?;
            let hi = (i + 1 < n).then_some(last);
            replace_span(states, lo, hi, rollout::states(&rows, &scope.expect));
            lo = Some(last);
        }
        if n == 0 {
            states.clear();
        }
        return Ok(());
    }
    while let Some(p) = page_path(scope, lo) {
        let page: Vec<Device> = api.get(&p).await?;
        let full = page.len() >= PAGE as usize;
        let last = page.last().map(|d| d.id);
        let hi = if full { last } else { None };
        // Only those the wait covers are kept.
        replace_span(states, lo, hi, rollout::states(&page, &scope.expect));
        if !full {
            break;
        }
        lo = last;
    }
    Ok(())
}

/// Replaces the states whose id is after `lo` and up to `hi` (both open when `None`) by
/// `new` (sorted by id, within that span).
fn replace_span(
    states: &mut Vec<DeviceState>,
    lo: Option<i64>,
    hi: Option<i64>,
    new: Vec<DeviceState>,
) {
    let start = lo.map_or(0, |lo| states.partition_point(|s| s.id <= lo));
    let end = hi.map_or(states.len(), |hi| states.partition_point(|s| s.id <= hi));
    states.splice(start..end.max(start), new);
}

/// How many member devices are pending on the server (one `$count` per filter).
async fn pending(api: &Client, scope: &WaitScope) -> Result<u64, Error> {
    let mut n = 0;
    for f in scope.count_filters() {
        n += api.count("device", f).await?;
    }
    Ok(n)
}

/// What one poll saw: whether it fetched the devices (into the caller's states), and the
/// pending count it was compared by.
struct Seen {
    fetched: bool,
    pending: Option<u64>,
}

/// One poll: a `$count` (when the scope counts first), then the devices when needed.
async fn poll(
    api: &Client,
    scope: &WaitScope,
    last_pending: Option<u64>,
    must_fetch: bool,
    states: &mut Vec<DeviceState>,
) -> Result<Seen, Error> {
    let count = if scope.counts_first() {
        Some(pending(api, scope).await?)
    } else {
        None
    };
    let unchanged = matches!((count, last_pending), (Some(n), Some(l)) if n == l && n > 0);
    if unchanged && !must_fetch {
        return Ok(Seen {
            fetched: false,
            pending: count,
        });
    }
    fetch_into(api, scope, states).await?;
    Ok(Seen {
        fetched: true,
        pending: count,
    })
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
    if scope.is_empty() {
        // No devices: nothing to wait for, nothing to send.
        return Ok(WaitOutcome::empty());
    }
    let started = Instant::now();
    // Polls sent (the backoff's count), polls answered, the devices as last fetched and
    // their counts (`None` until a fetch succeeded).
    let mut attempts: u32 = 0;
    let mut polls: u32 = 0;
    // Sized once when the devices are known ahead, not doubled page by page.
    let mut states: Vec<DeviceState> = Vec::with_capacity(scope.expect.count().unwrap_or(0));
    let mut last: Option<Counts> = None;
    let mut last_pending: Option<u64> = None;
    let mut failures: u32 = 0;
    loop {
        attempts += 1;
        // The last poll before the deadline reads the devices, so the report is current.
        let final_poll = started.elapsed() + rollout::FIRST_DELAY >= timeout;
        // A poll never runs past the deadline (its retries included), by more than a
        // second.
        let remaining = timeout.saturating_sub(started.elapsed()) + Duration::from_secs(1);
        let must_fetch = last.is_none() || final_poll;
        let answer = match tokio::time::timeout(
            remaining,
            poll(api, scope, last_pending, must_fetch, &mut states),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(Error::Api(ApiError::Timeout {
                detail: "the poll ran past the --wait deadline".into(),
            })),
        };
        let complete = match answer {
            Ok(seen) => {
                polls += 1;
                last_pending = seen.pending;
                // Completeness is judged on devices fetched by this poll only.
                let fresh = seen.fetched;
                if fresh {
                    last = Some(rollout::counts(&states));
                }
                let c = last.as_ref().expect("the first poll fetches");
                observer.polled(c);
                fresh && rollout::is_complete(&states)
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
            (None, Some(_)) => {
                // The counts of the devices reported (the same as the last fetch's, unless a
                // later fetch failed midway).
                let c = rollout::counts(&states);
                observer.finished(&c, complete, elapsed);
                return Ok(WaitOutcome {
                    complete,
                    elapsed,
                    polls,
                    devices: std::mem::take(&mut states),
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

    fn st(id: i64, running: i64) -> DeviceState {
        DeviceState {
            id,
            uuid: format!("{id:032x}").into(),
            device_name: None,
            is_online: true,
            status: None,
            running: Some(running),
            target: Some(2),
            changed_by_other: false,
        }
    }

    #[test]
    fn a_fetch_replaces_each_span_of_ids_in_place() {
        let ids = |v: &[DeviceState]| v.iter().map(|d| (d.id, d.running)).collect::<Vec<_>>();
        let mut states = vec![st(1, 1), st(2, 1), st(5, 1), st(9, 1)];
        // A first page up to id 5: device 2 is gone, 3 is new.
        replace_span(
            &mut states,
            None,
            Some(5),
            vec![st(1, 2), st(3, 2), st(5, 2)],
        );
        assert_eq!(
            ids(&states),
            [(1, Some(2)), (3, Some(2)), (5, Some(2)), (9, Some(1))]
        );
        // The last page: everything after 5.
        replace_span(&mut states, Some(5), None, vec![st(7, 2)]);
        assert_eq!(
            ids(&states),
            [(1, Some(2)), (3, Some(2)), (5, Some(2)), (7, Some(2))]
        );
        // Into nothing (a first fetch).
        let mut empty = Vec::new();
        replace_span(&mut empty, None, Some(3), vec![st(1, 1), st(3, 1)]);
        replace_span(&mut empty, Some(3), None, vec![]);
        assert_eq!(ids(&empty), [(1, Some(1)), (3, Some(1))]);
    }
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
        let sel = "$select=id,uuid,device_name,is_online,overall_status,is_running__release,should_be_running__release,is_pinned_on__release";
        let fleet = WaitScope::fleet(5, "o/f", Some(9));
        assert!(poll_paths(&fleet).is_empty());
        assert_eq!(
            page_path(&fleet, None).unwrap(),
            format!("device?{sel}&$filter=(belongs_to__application%20eq%205)%20and%20(is_pinned_on__release%20eq%20null)&$orderby=id%20asc&$top=1000")
        );
        assert_eq!(
            page_path(&fleet, Some(77)).unwrap(),
            format!("device?{sel}&$filter=(belongs_to__application%20eq%205)%20and%20(is_pinned_on__release%20eq%20null)%20and%20(id%20gt%2077)&$orderby=id%20asc&$top=1000")
        );
        let pending = "(is_online%20eq%20true)%20and%20(should_be_running__release%20ne%20null)%20and%20(is_running__release%20ne%20should_be_running__release)";
        assert_eq!(
            fleet.count_filters().iter().map(Filter::render).collect::<Vec<_>>(),
            [format!("(belongs_to__application%20eq%205)%20and%20(is_pinned_on__release%20eq%20null)%20and%20{pending}")]
        );
        let list = WaitScope::devices(vec![(3, Some(1)), (1, Some(1)), (3, Some(1))]);
        assert_eq!(
            poll_paths(&list),
            [format!("device?{sel}&$filter=id%20in%20(1,3)")]
        );
        assert!(!list.counts_first());
        assert!(poll_paths(&WaitScope::devices(vec![])).is_empty());
        let selected = WaitScope::selected(5, &["lab".into()], vec![(1, Some(7)), (2, Some(7))]);
        assert!(selected.counts_first());
        assert_eq!(
            selected.count_filters().iter().map(Filter::render).collect::<Vec<_>>(),
            [format!("(belongs_to__application%20eq%205)%20and%20(device_tag/any(dt:dt/tag_key%20eq%20%27lab%27))%20and%20(is_pinned_on__release%20eq%207)%20and%20{pending}")]
        );

        let ids: Vec<(i64, Option<i64>)> = (1_000_000..1_002_000).map(|i| (i, None)).collect();
        let big = WaitScope::devices(ids);
        let paths = poll_paths(&big);
        assert!(paths.len() > 1);
        assert!(paths.iter().all(|p| p.len() <= MAX_PATH), "{paths:?}");
        assert!(big.counts_first());
        assert_eq!(big.count_filters().len(), paths.len());
    }
}
