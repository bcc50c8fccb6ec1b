//! Locating the workspace's binaries.

use std::path::PathBuf;

/// A binary of the workspace, e.g. `target_bin("balena-sandbox")`: it sits in the target
/// directory next to the `deps/` directory that holds the running test executable
/// (`target/debug/deps/<test>` → `target/debug/<name>`), which is where Cargo puts the
/// binaries of every package of the workspace. Panics when it has not been built.
///
/// Cargo builds a package's own binaries before its integration tests, but not those of
/// other packages: `scripts/test` runs `cargo build --workspace --bins` first.
pub fn target_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let mut dir = exe
        .parent()
        .expect("the test executable has a parent directory")
        .to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace --bins` (or `scripts/test`) first",
        bin.display()
    );
    bin
}
