//! clap types only: no I/O, no API calls.

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::resolve::{FLEET_ID_HELP, RELEASE_ORDER_HELP};

/// The clap command tree (for completions, man pages and tests).
pub fn command() -> clap::Command {
    Cli::command()
}

const ROOT_AFTER_HELP: &str = "\
Examples:
  balena login --token <token>
  balena release list myorg/myfleet
  balena fleet pin myorg/myfleet a1b2c3d
  balena device pin 7cf02a6 1.2.0
  balena fleet track-latest myorg/myfleet
  balena device track-fleet 7cf02a6

Settings: ~/.balenarc.yml, ./balenarc.yml, BALENARC_* variables (balenaUrl, apiUrl,
dataDirectory, connectTimeout, requestTimeout). Credentials: BALENA_API_KEY or
BALENA_TOKEN, else <dataDirectory>/token (default ~/.balena/token).

Exit codes:
  0  success
  1  other error
  2  usage error
  3  not logged in, or unauthorised (401/403)
  4  not found (fleet, device or release)
  5  ambiguous identifier (the candidates are listed)
  6  refused by the server's rules, or release not pinnable
  7  network, timeout or server failure, after retries
  8  (reserved) wait timeout
  9  (reserved) partial failure";

#[derive(Debug, Parser)]
#[command(
    name = "balena",
    version,
    about = "A fast, scriptable drop-in for the balena CLI's release-policy commands",
    after_help = ROOT_AFTER_HELP,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Print each HTTP request and response status on stderr (the token is redacted)
    #[arg(long, global = true)]
    pub debug: bool,
    /// Print data as JSON on stdout, and errors as one JSON object on stderr
    #[arg(long, global = true)]
    pub json: bool,
    /// Accepted and ignored, for compatibility with the official CLI
    #[arg(long, global = true, hide = true)]
    pub unsupported: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in with a session token or API key (checked with the server before it is saved)
    #[command(after_help = "\
Examples:
  balena login --token <token>
  balena login -t <token>

The token is checked with GET /actor/v1/whoami before it is saved to
<dataDirectory>/token (mode 0600). A rejected token exits 3 and leaves the file as it was.")]
    Login(LoginArgs),

    /// Log out: remove the saved token
    #[command(after_help = "Examples:\n  balena logout")]
    Logout,

    /// Show who you are logged in as
    #[command(after_help = "Examples:\n  balena whoami\n  balena whoami --json")]
    Whoami,

    /// Show a fleet, list fleets, or manage a fleet's release policy
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        arg_required_else_help = true,
        after_help = "\
Examples:
  balena fleet myorg/myfleet
  balena fleet MyFleet --json
  balena fleet list
  balena fleet pin myorg/myfleet a1b2c3d
  balena fleet track-latest myorg/myfleet"
    )]
    Fleet(FleetArgs),

    /// Show a device, list devices, or manage a device's release policy
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        arg_required_else_help = true,
        after_help = "\
Examples:
  balena device 7cf02a6
  balena device list --fleet myorg/myfleet
  balena device pin 7cf02a6 a1b2c3d
  balena device track-fleet 7cf02a6"
    )]
    Device(DeviceArgs),

    /// Show a release, or list the releases of a fleet
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        arg_required_else_help = true,
        after_help = "\
Examples:
  balena release a1b2c3d
  balena release 123456 --json
  balena release list myorg/myfleet"
    )]
    Release(ReleaseArgs),

    /// List the releases of a fleet (same as `release list`)
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        arg_required_else_help = true,
        after_help = "\
Examples:
  balena releases myorg/myfleet
  balena releases list myorg/myfleet --json"
    )]
    Releases(ReleasesArgs),

    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  balena completion bash > /etc/bash_completion.d/balena
  balena completion zsh > \"${fpath[1]}/_balena\"
  balena completion fish > ~/.config/fish/completions/balena.fish")]
    Completion(CompletionArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The session token or API key (`-t TOKEN`, or `-t` followed by the token)
    #[arg(short = 't', long = "token", value_name = "TOKEN", num_args = 0..=1, default_missing_value = "")]
    pub token: Option<String>,
    /// The token, as the official CLI takes it (`balena login TOKEN -t`)
    #[arg(value_name = "TOKEN", hide = true)]
    pub token_arg: Option<String>,
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: Option<FleetCommand>,
    /// The fleet to show: slug, name, uuid or id
    #[arg(value_name = "FLEET", long_help = FLEET_ID_HELP)]
    pub fleet: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// List the fleets you can access
    #[command(after_help = "Examples:\n  balena fleet list\n  balena fleet list --json")]
    List,

    /// Pin a fleet to a release, or show its current release policy
    #[command(after_help = FLEET_PIN_AFTER_HELP)]
    Pin(FleetPinArgs),

    /// Make a fleet track its latest release
    #[command(after_help = "\
Examples:
  balena fleet track-latest myorg/myfleet

The latest release is the newest final, successful, non-invalidated release that passes
its tests, ordered by start_timestamp (as the server's own auto-advance does).")]
    TrackLatest(FleetTrackLatestArgs),
}

const FLEET_PIN_AFTER_HELP: &str = "\
Examples:
  balena fleet pin myorg/myfleet                 show the current policy
  balena fleet pin myorg/myfleet a1b2c3d         pin to a commit prefix
  balena fleet pin myorg/myfleet 1.2.0 --json    pin to a version, JSON result

A release is given by, in this order:
  1. full commit            a1b2c3d4e5f60718293a4b5c6d7e8f90
  2. unique commit prefix   a1b2c3d
  3. numeric release id     123456
  4. version                1.2.0, v1.2.0 or 1.2.0+rev1 (raw_version, else semver)
All four rules are matched at once. An exact full commit always wins. Otherwise an
argument that matches different releases is ambiguous. Only successful releases of the
fleet can be pinned.";

#[derive(Debug, Args)]
pub struct FleetPinArgs {
    /// The fleet: slug, name, uuid or id
    #[arg(value_name = "FLEET", long_help = FLEET_ID_HELP)]
    pub fleet: String,
    /// The release: full commit, commit prefix, id or version (omit to show the current policy)
    #[arg(value_name = "RELEASE", long_help = RELEASE_ORDER_HELP)]
    pub release: Option<String>,
}

#[derive(Debug, Args)]
pub struct FleetTrackLatestArgs {
    /// The fleet: slug, name, uuid or id
    #[arg(value_name = "FLEET", long_help = FLEET_ID_HELP)]
    pub fleet: String,
}

#[derive(Debug, Args)]
pub struct DeviceArgs {
    #[command(subcommand)]
    pub command: Option<DeviceCommand>,
    /// The device to show: full uuid or unique prefix
    #[arg(value_name = "UUID")]
    pub uuid: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List devices, optionally of one fleet
    #[command(after_help = "\
Examples:
  balena device list --fleet myorg/myfleet
  balena device list --json")]
    List(DeviceListArgs),

    /// Pin a device to a release, or show its current release policy
    #[command(after_help = "\
Examples:
  balena device pin 7cf02a6                  show the current policy
  balena device pin 7cf02a6 a1b2c3d          pin to a commit prefix
  balena device pin 7cf02a6 v1.2.0 --json    pin to a version, JSON result

A release is given by, in this order:
  1. full commit            a1b2c3d4e5f60718293a4b5c6d7e8f90
  2. unique commit prefix   a1b2c3d
  3. numeric release id     123456
  4. version                1.2.0, v1.2.0 or 1.2.0+rev1 (raw_version, else semver)
All four rules are matched at once. An exact full commit always wins. Otherwise an
argument that matches different releases is ambiguous. Only successful releases of the
device's fleet can be pinned.")]
    Pin(DevicePinArgs),

    /// Make a device track its fleet's release again (remove its pin)
    #[command(after_help = "Examples:\n  balena device track-fleet 7cf02a6")]
    TrackFleet(DeviceTrackFleetArgs),
}

#[derive(Debug, Args)]
pub struct DeviceListArgs {
    /// Only the devices of this fleet (slug, name, uuid or id)
    #[arg(short = 'f', long = "fleet", value_name = "FLEET")]
    pub fleet: Option<String>,
}

#[derive(Debug, Args)]
pub struct DevicePinArgs {
    /// The device: full uuid or unique prefix
    #[arg(value_name = "UUID")]
    pub uuid: String,
    /// The release: full commit, commit prefix, id or version (omit to show the current policy)
    #[arg(value_name = "RELEASE", long_help = RELEASE_ORDER_HELP)]
    pub release: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeviceTrackFleetArgs {
    /// The device: full uuid or unique prefix
    #[arg(value_name = "UUID")]
    pub uuid: String,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    pub command: Option<ReleaseCommand>,
    /// The release to show: full commit, commit prefix, id or version
    #[arg(value_name = "COMMIT_OR_ID", long_help = RELEASE_ORDER_HELP)]
    pub release: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// List the releases of a fleet, newest first
    #[command(after_help = "\
Examples:
  balena release list myorg/myfleet
  balena release list MyFleet --json")]
    List(ReleaseListArgs),
}

#[derive(Debug, Args)]
pub struct ReleaseListArgs {
    /// The fleet: slug, name, uuid or id
    #[arg(value_name = "FLEET", long_help = FLEET_ID_HELP)]
    pub fleet: String,
}

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    #[command(subcommand)]
    pub command: Option<ReleaseCommand>,
    /// The fleet: slug, name, uuid or id
    #[arg(value_name = "FLEET", long_help = FLEET_ID_HELP)]
    pub fleet: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_help_lists_the_exit_codes() {
        assert!(ROOT_AFTER_HELP.ends_with(crate::error::EXIT_CODES_HELP));
    }

    #[test]
    fn verify_cli() {
        command().debug_assert();
    }

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap()
    }

    #[test]
    fn login_token_forms() {
        for argv in [
            &["balena", "login", "--token", "abc"][..],
            &["balena", "login", "-t", "abc"],
            &["balena", "login", "abc", "-t"],
            &["balena", "login", "-t=abc"],
        ] {
            let Command::Login(l) = parse(argv).command else {
                panic!("not login")
            };
            let got = l
                .token
                .filter(|t| !t.is_empty())
                .or(l.token_arg)
                .unwrap_or_default();
            assert_eq!(got, "abc", "{argv:?}");
        }
    }

    #[test]
    fn noun_show_and_subcommands() {
        let Command::Fleet(f) = parse(&["balena", "fleet", "myorg/x"]).command else {
            panic!()
        };
        assert_eq!(f.fleet.as_deref(), Some("myorg/x"));
        assert!(f.command.is_none());
        let Command::Fleet(f) = parse(&["balena", "fleet", "pin", "a/b", "c", "--json"]).command
        else {
            panic!()
        };
        assert!(matches!(f.command, Some(FleetCommand::Pin(_))));
        let c = parse(&["balena", "releases", "list", "a/b"]);
        assert!(matches!(c.command, Command::Releases(_)));
        let c = parse(&["balena", "--debug", "releases", "a/b"]);
        assert!(c.global.debug);
        assert!(Cli::try_parse_from(["balena", "fleet", "pin", "a/b", "c", "d"]).is_err());
    }
}
