//! `login`, `logout`, `whoami`.

use std::io::IsTerminal;

use balena_api::ApiError;

use super::{build_client, Context};
use crate::cli::LoginArgs;
use crate::error::{usage, Error};
use crate::view;
use crate::view::prompt::Prompt;

/// How `login` got its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginWith {
    Token(String),
    Credentials { email: String, password: String },
}

const LOGIN_FORMS: &str =
    "balena login --token <token>, or balena login --email <email> --password <password>";

/// The credentials from the arguments, prompting on a terminal (`tty`) for what is
/// missing: the token (hidden) without any flag, the email and the password (hidden) with
/// `--credentials`. Without a terminal nothing is prompted for: a usage error.
pub fn credentials(a: &LoginArgs, tty: bool, prompt: &mut dyn Prompt) -> Result<LoginWith, Error> {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    if let Some(t) = given(&a.token).or_else(|| given(&a.token_arg)) {
        return Ok(LoginWith::Token(t));
    }
    let ask = |prompt: &mut dyn Prompt, q: &str, hidden: bool| -> Result<String, Error> {
        if !tty {
            return Err(usage(
                "stdin is not a terminal: pass the token or the credentials on the command line",
                LOGIN_FORMS,
            ));
        }
        let answer = if hidden {
            prompt.hidden(q)
        } else {
            prompt.line(q)
        }
        .map_err(|e| Error::Stdin {
            detail: e.to_string(),
        })?;
        let answer = answer.trim().to_owned();
        if answer.is_empty() {
            return Err(usage("no answer given", LOGIN_FORMS));
        }
        Ok(answer)
    };
    if a.credentials || a.email.is_some() || a.password.is_some() {
        let email = match given(&a.email) {
            Some(e) => e,
            None => ask(prompt, "Email:", false)?,
        };
        let password = match a.password.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => p.to_owned(),
            None => ask(prompt, "Password:", true)?,
        };
        return Ok(LoginWith::Credentials { email, password });
    }
    ask(
        prompt,
        "Session token or API key from the preferences page:",
        true,
    )
    .map(LoginWith::Token)
}

/// `balena login`: with a token, checks it (GET /actor/v1/whoami) BEFORE saving it; with
/// credentials, first exchanges them for a session token (POST /login_), then the same.
pub async fn login(ctx: &Context<'_>, a: &LoginArgs) -> Result<(), Error> {
    let tty = std::io::stdin().is_terminal();
    let with = credentials(a, tty, &mut view::prompt::Terminal)?;
    view::account::logging_in(ctx.printer, &ctx.settings.balena_url);
    let token = match with {
        LoginWith::Token(t) => t,
        LoginWith::Credentials { email, password } => {
            let anonymous = build_client(&ctx.settings, None)?;
            match anonymous.login(&email, &password).await {
                Ok(t) => t,
                Err(ApiError::NotLoggedIn) => return Err(Error::InvalidCredentials),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let client = build_client(&ctx.settings, Some(token.clone()))?;
    let who = match client.whoami().await {
        Ok(w) => w,
        Err(ApiError::NotLoggedIn) => return Err(Error::TokenRejected),
        Err(e) => return Err(e.into()),
    };
    ctx.settings.save_token(&token)?;
    view::account::logged_in(ctx.printer, &who);
    Ok(())
}

/// `balena logout`: removes the token file (silent, like the official CLI).
pub fn logout(ctx: &Context<'_>) -> Result<(), Error> {
    ctx.settings.remove_token()?;
    Ok(())
}

/// `balena whoami`: 1 request.
pub async fn whoami(ctx: &Context<'_>) -> Result<(), Error> {
    let w = ctx.api.whoami().await?;
    view::account::whoami(ctx.printer, &w, &ctx.settings.balena_url);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::prompt::Scripted;

    fn args(token: Option<&str>, creds: bool, email: Option<&str>, pw: Option<&str>) -> LoginArgs {
        LoginArgs {
            token: token.map(str::to_owned),
            token_arg: None,
            credentials: creds,
            email: email.map(str::to_owned),
            password: pw.map(str::to_owned),
        }
    }

    fn scripted(answers: &[&str]) -> Scripted {
        Scripted {
            answers: answers.iter().map(|s| s.to_string()).collect(),
            asked: Vec::new(),
        }
    }

    #[test]
    fn a_given_token_or_given_credentials_prompt_for_nothing() {
        for tty in [false, true] {
            let mut p = scripted(&[]);
            assert_eq!(
                credentials(&args(Some(" tok "), false, None, None), tty, &mut p).unwrap(),
                LoginWith::Token("tok".into())
            );
            let got = credentials(&args(None, false, Some("a@b.c"), Some("pw")), tty, &mut p);
            assert_eq!(
                got.unwrap(),
                LoginWith::Credentials {
                    email: "a@b.c".into(),
                    password: "pw".into()
                }
            );
            assert!(p.asked.is_empty());
        }
    }

    #[test]
    fn on_a_terminal_what_is_missing_is_prompted_for() {
        let mut p = scripted(&["secret-token"]);
        assert_eq!(
            credentials(&args(None, false, None, None), true, &mut p).unwrap(),
            LoginWith::Token("secret-token".into())
        );
        // `-t` alone (an empty value) prompts too.
        let mut p2 = scripted(&["t2"]);
        assert_eq!(
            credentials(&args(Some(""), false, None, None), true, &mut p2).unwrap(),
            LoginWith::Token("t2".into())
        );
        assert_eq!(
            p.asked,
            [(
                "Session token or API key from the preferences page:".to_owned(),
                true
            )]
        );
        let mut p = scripted(&["me@example.com", "hunter2"]);
        assert_eq!(
            credentials(&args(None, true, None, None), true, &mut p).unwrap(),
            LoginWith::Credentials {
                email: "me@example.com".into(),
                password: "hunter2".into()
            }
        );
        assert_eq!(
            p.asked,
            [("Email:".to_owned(), false), ("Password:".to_owned(), true)]
        );
        let mut p = scripted(&["pw"]);
        let got = credentials(&args(None, true, Some("me"), None), true, &mut p).unwrap();
        assert_eq!(
            got,
            LoginWith::Credentials {
                email: "me".into(),
                password: "pw".into()
            }
        );
        assert_eq!(p.asked, [("Password:".to_owned(), true)]);
        // An empty answer is a usage error.
        let mut p = scripted(&[""]);
        let e = credentials(&args(None, false, None, None), true, &mut p).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::ExitCode::Usage);
    }

    #[test]
    fn without_a_terminal_nothing_is_prompted_for() {
        for a in [
            args(None, false, None, None),
            args(None, true, None, None),
            args(None, true, Some("me"), None),
            args(None, false, None, Some("pw")),
        ] {
            let mut p = scripted(&["never"]);
            let e = credentials(&a, false, &mut p).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::ExitCode::Usage, "{a:?}");
            let hint = e.hint().unwrap_or_default();
            assert!(hint.contains("--token"), "{hint}");
            assert!(
                hint.contains("--email <email> --password <password>"),
                "{hint}"
            );
            assert!(p.asked.is_empty());
        }
    }
}
