//! Configuration never falls back in silence, and a bad token file never locks the user out
//! (issue 9, items 5 and 10).

use balena_testkit::TestEnv;

use crate::harness::*;

#[test]
fn an_unreadable_token_file_is_named_and_login_and_logout_still_work() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    std::fs::create_dir_all(&env.data).unwrap();
    // Not UTF-8: it can't be read as a token.
    std::fs::write(env.token_path(), b"\xff\xfe\x00bad").unwrap();
    let path = env.token_path().display().to_string();
    let out = env.run(&["whoami"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "BalenaSettingsError: cannot read the token file {path}"
        )),
        "{}",
        out.stderr
    );
    out.stderr_has(&format!("hint: Fix or remove the token file {path}"));
    // logout removes it; login replaces it.
    env.run(&["logout"]).ok();
    assert!(!env.token_path().exists());
    std::fs::write(env.token_path(), b"\xff\xfe\x00bad").unwrap();
    env.run(&["login", "--token", TOKEN]).ok();
    assert_eq!(std::fs::read_to_string(env.token_path()).unwrap(), TOKEN);
    env.run(&["whoami"]).ok();
}

#[test]
fn a_token_path_that_is_a_folder_says_what_to_fix() {
    let sb = sandbox();
    let env = TestEnv::new(&sb.base_url);
    std::fs::create_dir_all(env.token_path()).unwrap();
    let path = env.token_path().display().to_string();
    let out = env.run(&["logout"]);
    assert_eq!(out.code, 1, "{out:?}");
    out.stderr_has(&format!("cannot remove the token file {path}"))
        .stderr_has(&format!("hint: Fix or remove the token file {path}"));
    assert!(env.token_path().is_dir(), "nothing else was touched");
}

#[test]
fn an_unreadable_balenarc_is_an_error_naming_the_file() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb);
    // A folder where the settings file should be: not skipped in silence.
    let rc = env.home.path().join(".balenarc.yml");
    std::fs::create_dir_all(&rc).unwrap();
    let (out, reqs) = counted(&sb, &env, &["fleet", "list"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "BalenaSettingsError: cannot read the config file {}",
            rc.display()
        )),
        "{}",
        out.stderr
    );
    out.stderr_has(&format!("hint: Fix or remove {}.", rc.display()));
    assert!(reqs.is_empty(), "{reqs:?}");
    // Not UTF-8 either.
    std::fs::remove_dir(&rc).unwrap();
    std::fs::write(&rc, b"apiUrl: \xff\n").unwrap();
    let out = env.run(&["fleet", "list"]);
    assert_eq!(out.code, 1, "{out:?}");
    out.stderr_has("cannot read the config file");
}

#[test]
fn an_api_url_with_a_path_is_refused() {
    let sb = sandbox();
    let env = TestEnv::logged_in(&sb).env("BALENARC_API_URL", &format!("{}/prefix", sb.base_url));
    let (out, reqs) = counted(&sb, &env, &["fleet", "list"]);
    assert_eq!(out.code, 1, "{out:?}");
    out.stderr_has("invalid setting apiUrl")
        .stderr_has("has a path or query; give the origin only")
        .stderr_has("hint: Fix the apiUrl setting");
    assert!(reqs.is_empty(), "{reqs:?}");
}
