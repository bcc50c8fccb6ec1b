//! End-to-end tests: the real `balena` binary against a real `balena-sandbox` process
//! (seeded with `tests/fixtures/e2e-seed.json`), with a temporary HOME and data directory.
//! Each test starts its own sandbox. Build both binaries first:
//! `cargo build --workspace --bins && cargo test --test e2e`.

mod account;
mod bulk;
mod commands;
mod concurrency;
mod config_errors;
mod device;
mod dropin;
mod errors;
mod faults;
mod fleet;
mod harness;
mod hostile;
mod interrupt;
mod proxy;
mod release;
mod rollout;
mod security;
mod views;
mod wait;
