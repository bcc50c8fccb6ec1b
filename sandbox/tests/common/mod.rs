//! The sandbox's integration tests start the real `balena-sandbox` binary with the
//! workspace's test kit ([`balena_testkit::Sandbox`]); this module adds the fixture paths
//! of this package.
//!
//! Each test binary only uses part of this module.
#![allow(dead_code)]

pub use balena_testkit::Sandbox;

/// The path of a fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}
