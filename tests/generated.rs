//! `completions/` and `man/` are generated from the clap tree and committed. This test fails
//! when they are stale. Refresh with:
//!
//!     UPDATE_GENERATED=1 cargo test --test generated

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use balena_testkit::TestEnv;
use clap_complete::Shell;

const REFRESH: &str = "UPDATE_GENERATED=1 cargo test --test generated";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn updating() -> bool {
    std::env::var("UPDATE_GENERATED").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Compares (or, when updating, writes) every expected file of `dir`, and fails on stray
/// files there.
fn check_dir(dir: &Path, expected: BTreeMap<String, Vec<u8>>) {
    if updating() {
        std::fs::create_dir_all(dir).unwrap();
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if !expected.contains_key(&name) {
                std::fs::remove_file(&p).unwrap();
            }
        }
        for (name, bytes) in &expected {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        return;
    }
    let mut problems = Vec::new();
    for (name, bytes) in &expected {
        match std::fs::read(dir.join(name)) {
            Ok(actual) if normalize(&actual) == normalize(bytes) => {}
            Ok(_) => problems.push(format!("{} is stale", dir.join(name).display())),
            Err(_) => problems.push(format!("{} is missing", dir.join(name).display())),
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if !expected.contains_key(&name) {
                problems.push(format!(
                    "{} is not generated any more",
                    dir.join(&name).display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "generated files are out of date:\n  {}\nRefresh them with: {REFRESH}",
        problems.join("\n  ")
    );
}

fn normalize(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace("\r\n", "\n")
}

#[test]
fn completions_are_up_to_date() {
    let mut expected = BTreeMap::new();
    for (shell, file) in [
        (Shell::Bash, "balena.bash"),
        (Shell::Zsh, "_balena"),
        (Shell::Fish, "balena.fish"),
        (Shell::PowerShell, "_balena.ps1"),
        (Shell::Elvish, "balena.elv"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut balena_rs::cli::command(), "balena", &mut buf);
        expected.insert(file.to_owned(), buf);
    }
    check_dir(&root().join("completions"), expected);
}

#[test]
fn man_pages_are_up_to_date() {
    let tmp = tempfile::tempdir().unwrap();
    // A fresh command: one that went through clap_complete carries the help subcommand.
    clap_mangen::generate_to(balena_rs::cli::command(), tmp.path()).unwrap();
    let mut expected = BTreeMap::new();
    for entry in std::fs::read_dir(tmp.path()).unwrap() {
        let p = entry.unwrap().path();
        expected.insert(
            p.file_name().unwrap().to_string_lossy().into_owned(),
            std::fs::read(&p).unwrap(),
        );
    }
    assert!(
        expected.contains_key("balena-fleet-pin.1"),
        "{:?}",
        expected.keys()
    );
    check_dir(&root().join("man"), expected);
}

#[test]
fn completion_command_prints_the_same_script() {
    if updating() {
        return; // the file may be being rewritten by the test above
    }
    let out = TestEnv::new("http://127.0.0.1:9")
        .command(&["completion", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let file = std::fs::read(root().join("completions/balena.bash")).unwrap_or_default();
    assert_eq!(
        normalize(&out.stdout),
        normalize(&file),
        "Refresh with: {REFRESH}"
    );
}
