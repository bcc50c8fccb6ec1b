//! A typed client of the balena API v7, the OData API that balenaCloud and openBalena serve,
//! for the release-policy resources: fleets (`application`), releases and devices.
//!
//! - [`Client`]: lazy (nothing is set up before the first request), `Send + Sync`, with
//!   retries (429 with `Retry-After`, 502–504, refused connections) and timeouts. It never
//!   prints: requests are `tracing` debug events, failures are [`ApiError`]s.
//! - [`models`]: rows decoded straight from `{"d":[…]}`, navigation in every shape.
//! - [`odata`]: the query builder, encoded exactly as pinejs clients encode it.
//! - [`patch`]: the PATCH bodies of the release-policy writes.
//! - [`chunk`]: one splitter of id lists, so every URL stays short.
//! - [`proxy`]: the proxy of the API traffic and the hosts that bypass it.
//! - [`lookup`]: a fleet by any identifier, a device by uuid prefix, releases by commit, id
//!   or version, with the guest check that tells a rejected token from "not found".
//!
//! Pinning a fleet to a release, in two requests:
//!
//! ```no_run
//! use balena_api::lookup::Found;
//! use balena_api::models::Application;
//! use balena_api::odata::{self, Filter, Query};
//! use balena_api::patch::FleetPatch;
//! use balena_api::{ApiError, Client, ClientConfig};
//!
//! async fn pin(token: String) -> Result<(), ApiError> {
//!     let client = Client::new(ClientConfig::new("https://api.balena-cloud.com", Some(token)));
//!     // The fleet, with the releases whose commit starts with a1b2c3d.
//!     let q = Query::new().select(&["id", "slug"]).expand(
//!         "owns__release",
//!         Query::new()
//!             .select(&["id", "commit", "status"])
//!             .filter(Filter::starts_with("commit", "a1b2c3d")),
//!     );
//!     let Found::One(fleet) = client.find_fleet::<Application>("myorg/myfleet", q).await? else {
//!         return Ok(()); // not found, or ambiguous
//!     };
//!     if let [release] = fleet.releases.rows() {
//!         let path = odata::entity("application", fleet.id);
//!         client.patch(&path, &FleetPatch::PinTo(release.id)).await?;
//!     }
//!     Ok(())
//! }
//! ```

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod chunk;
mod client;
pub mod error;
pub mod lookup;
pub mod models;
pub mod odata;
pub mod patch;
pub mod proxy;
mod rows;

pub use client::{is_loopback, Client, ClientConfig, RetryPolicy, VERSION};
pub use error::ApiError;
pub use proxy::{NoProxy, Proxy};
/// The URL type of the client's settings (re-exported so callers parse URLs the same way).
pub use reqwest::Url;

#[cfg(test)]
mod tests {
    #[test]
    fn the_client_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<crate::Client>();
    }
}
