//! Test scaffolding shared by every test of the workspace:
//!
//! - [`Sandbox`]: a real `balena-sandbox` process on an ephemeral 127.0.0.1 port with a
//!   SQLite file in a temporary directory, stopped by pid when dropped;
//! - [`TestEnv`]: runs the real `balena` binary with a temporary HOME and data directory
//!   and a cleared environment, answering an [`Out`];
//! - [`RawClient`]: a std-only HTTP/1.1 keep-alive client that sends request targets
//!   byte for byte;
//! - [`fault::FaultProxy`]: a fault-injecting HTTP/1.1 proxy on loopback, between the CLI
//!   and a real sandbox;
//! - [`proxy::LoggingProxy`]: a logging HTTP proxy on loopback (`CONNECT` tunnels and
//!   absolute-URI forwarding, to loopback only), recording what reaches it;
//! - `mock::Api` (feature `mock`): a recording httpmock server.
//!
//! Binaries are run by path ([`target_bin`]), so this crate depends on neither the CLI nor
//! the sandbox.

mod bin;
pub mod fault;
mod http;
#[cfg(feature = "mock")]
pub mod mock;
pub mod proxy;
mod run;
mod sandbox;

pub use bin::target_bin;
pub use http::{addr_of, RawClient, Resp};
pub use run::{ApiServer, Out, TestEnv};
pub use sandbox::{Logged, Sandbox, SandboxBuilder};
