//! balena-sandbox: a local, stateful stand-in for the release-policy part of the balena API
//! v7, on SQLite.
//!
//! The library holds everything; the `balena-sandbox` binary only calls [`main`]. The OData
//! parser ([`odata`]) is public so that tests can property-test it in-process.

mod cli;
mod db;
mod http;
mod log;
pub mod odata;
mod query;
mod rules;
mod schema;
mod seed;
mod simulate;
mod store;

pub use cli::{main, parse_duration, parse_fraction, run, Args};
pub use simulate::rejects_by_rate;
