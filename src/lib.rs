//! balena-rs: a fast, scriptable drop-in for the balena CLI's release-policy commands.
//!
//! Layout: `cli` (clap types only), `commands` (one function per verb), `api` (typed client
//! that never prints), `output` (the only writer), `config`, `resolve` (pure identifier
//! resolution), `error` (the one mapping from errors to exit codes).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod output;
pub mod resolve;

use std::process::ExitCode;

use clap::Parser;

/// The binary's entry point. Nothing (runtime, HTTP client, settings) is set up before clap
/// has parsed the arguments, so `--version` and `--help` return immediately.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { error::EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let json = cli.global.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let report = error::classify(&e);
            output::error(&report, json);
            ExitCode::from(report.exit_code)
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<()> {
    if let cli::Command::Completion(c) = &cli.command {
        let mut out = Vec::new();
        clap_complete::generate(c.shell, &mut cli::command(), "balena", &mut out);
        output::stdout(&String::from_utf8_lossy(&out));
        return Ok(());
    }
    let debug = cli.global.debug;
    let settings = config::Settings::load()?;
    let token = settings.load_token()?;
    if debug {
        output::debug(&format!(
            "balena-rs {}; API {}; data directory {}; credentials: {}",
            api::VERSION,
            settings
                .api_origin()
                .unwrap_or_else(|e| format!("<invalid: {e}>")),
            settings.data_directory.display(),
            match &token {
                None => "none".to_owned(),
                Some((_, config::TokenSource::Env(name))) => format!("${name}"),
                Some((_, config::TokenSource::File(p))) => p.display().to_string(),
            }
        ));
    }
    let api = commands::build_client(&settings, token.map(|(t, _)| t), debug)?;
    let ctx = commands::Context {
        settings,
        api,
        json: cli.global.json,
        debug,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(commands::run(&ctx, cli.command))
}
