//! balena-rs: a fast, scriptable drop-in for the balena CLI's release-policy commands.
//!
//! The layers, from the bottom up (each imports only those below it):
//! - `balena_api` (its own crate): the typed API client; it never prints;
//! - [`config`] (settings and credentials) and [`error`] (the one typed error);
//! - [`policy`]: the release policy as pure types and rules;
//! - [`ops`]: operations over several requests, which print nothing;
//! - [`view`]: every rendering, through an injected [`view::Printer`];
//! - [`commands`]: one short function per verb; [`cli`]: the clap types.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod ops;
pub mod policy;
pub mod view;

use std::process::ExitCode;

use clap::Parser;

use crate::error::Error;
use crate::view::Printer;

/// The version of this CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The binary's entry point. Nothing (runtime, HTTP client, settings) is set up before clap
/// has parsed the arguments, so `--version` and `--help` return immediately.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help, --version: clap's own output on stdout.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `balena fleet`: the help, as a usage error.
            let _ = e.print();
            return error::ExitCode::Usage.into();
        }
        Err(e) => {
            let json = std::env::args().any(|a| a == "--json");
            let printer = Printer::stdio(json, false);
            let e = cli::usage_error(&e);
            view::error::print(&printer, &e);
            return e.exit_code().into();
        }
    };
    let printer = Printer::stdio(cli.global.json, cli.global.debug);
    let code = match run(cli, &printer) {
        Ok(()) => error::ExitCode::Ok,
        Err(e) => {
            view::error::print(&printer, &e);
            e.exit_code()
        }
    };
    exit(&printer, code).into()
}

/// The exit path: a failed write to stdout (not a closed pipe) is told on stderr, and
/// turns a success into exit 1 (`BalenaOutputError`); an earlier error keeps its code.
fn exit(printer: &Printer, code: error::ExitCode) -> error::ExitCode {
    let Some(detail) = printer.output_error() else {
        return code;
    };
    let e = Error::Output { detail };
    printer.err(&view::error::human(&e));
    if code == error::ExitCode::Ok {
        e.exit_code()
    } else {
        code
    }
}

/// `balena help [command…]`: the `--help` of the root or of the named (sub)command; an
/// unknown command is a usage error.
fn help(printer: &Printer, path: &[String]) -> Result<(), Error> {
    let mut cmd = cli::command();
    for (i, name) in path.iter().enumerate() {
        let Some(sub) = cmd
            .get_subcommands()
            .find(|s| s.get_name() == name || s.get_all_aliases().any(|a| a == name))
        else {
            let known = path[..i].join(" ");
            return Err(error::usage(
                &format!("unknown command: {}", path[..=i].join(" ")),
                &format!(
                    "balena help {}",
                    if known.is_empty() {
                        "<command>".to_owned()
                    } else {
                        format!("{known} <command>")
                    }
                ),
            ));
        };
        cmd = sub.clone();
    }
    // The help exactly as `balena <path…> --help` renders it.
    let mut argv: Vec<String> = vec!["balena".into()];
    argv.extend(path.iter().cloned());
    argv.push("--help".into());
    let text = match cli::command().try_get_matches_from(argv) {
        Err(e) => e.render().to_string(),
        Ok(_) => cmd.render_long_help().to_string(),
    };
    view::about::help(printer, &text);
    Ok(())
}

/// Sets up the settings, credentials, client and runtime, and runs the command.
fn run(cli: cli::Cli, printer: &Printer) -> Result<(), Error> {
    if let cli::Command::Completion(c) = &cli.command {
        let mut out = Vec::new();
        clap_complete::generate(c.shell, &mut cli::command(), "balena", &mut out);
        printer.out_raw(&String::from_utf8_lossy(&out));
        return Ok(());
    }
    match &cli.command {
        cli::Command::Help(h) => return help(printer, &h.command),
        cli::Command::Version(v) => {
            let json = cli.global.json || v.json_short;
            view::about::version(printer, "balena-rs", VERSION, v.all, json);
            return Ok(());
        }
        _ => {}
    }
    let settings = config::Settings::load()?;
    // `login` and `logout` replace or remove the token file, so one that can't be read must
    // not lock the user out: they go on as if there were none.
    let token = match settings.load_token() {
        Err(_) if matches!(cli.command, cli::Command::Login(_) | cli::Command::Logout) => None,
        t => t?,
    };
    if cli.global.debug {
        view::debug::install(token.as_ref().map(|(t, _)| t.clone()));
        tracing::debug!(
            "balena-rs {VERSION}; API {}; data directory {}; credentials: {}",
            settings
                .api_origin()
                .unwrap_or_else(|e| format!("<invalid: {e}>")),
            settings.data_directory.display(),
            match &token {
                None => "none".to_owned(),
                Some((_, config::TokenSource::Env(name))) => format!("${name}"),
                Some((_, config::TokenSource::File(p))) => p.display().to_string(),
            }
        );
    }
    let api = commands::build_client(&settings, token.map(|(t, _)| t))?;
    let ctx = commands::Context {
        settings,
        api,
        printer,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime {
            detail: e.to_string(),
        })?;
    rt.block_on(commands::run(&ctx, cli.command))
}
