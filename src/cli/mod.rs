//! clap types only: no I/O, no API calls.

use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::policy::release::ORDER_HELP as RELEASE_ORDER_HELP;
use crate::policy::select::FLEET_ID_HELP;

/// A command line clap refused, as the one typed error, in the official CLI's words where it
/// has them: `Nonexistent flag: --foo`, `Unexpected argument: d`, `Missing 1 required
/// argument:` (with the arguments on the following lines).
pub fn usage_error(e: &clap::Error) -> crate::error::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let strings = |kind: ContextKind| -> Vec<String> {
        match e.get(kind) {
            Some(ContextValue::String(s)) => vec![s.clone()],
            Some(ContextValue::Strings(v)) => v.clone(),
            _ => Vec::new(),
        }
    };
    let hint = "See more help with --help".to_owned();
    let message = match e.kind() {
        ErrorKind::UnknownArgument => {
            let arg = strings(ContextKind::InvalidArg).join(" ");
            if arg.starts_with('-') {
                format!("Nonexistent flag: {arg}")
            } else {
                format!("Unexpected argument: {arg}")
            }
        }
        ErrorKind::MissingRequiredArgument => {
            let args = strings(ContextKind::InvalidArg);
            let n = args.len();
            let mut m = format!(
                "Missing {n} required argument{}:",
                if n == 1 { "" } else { "s" }
            );
            for a in args {
                m.push('\n');
                m.push_str(&a);
            }
            m
        }
        _ => {
            // clap's own sentence, without its `error: ` and usage lines.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid command line");
            first.strip_prefix("error: ").unwrap_or(first).to_owned()
        }
    };
    crate::error::Error::CommandLine { message, hint }
}

/// The clap command tree (for completions, man pages and tests).
pub fn command() -> clap::Command {
    Cli::command()
}

const ROOT_AFTER_HELP: &str = concat!(
    "\
Examples:
  balena login --token <token>
  balena release list myorg/myfleet
  balena fleet pin myorg/myfleet a1b2c3d
  balena device pin 7cf02a6 1.2.0
  balena fleet track-latest myorg/myfleet
  balena device track-fleet 7cf02a6
  balena device pin --fleet myorg/myfleet --tag canary latest --wait
  balena fleet rollback myorg/myfleet --dry-run

Settings: ~/.balenarc.yml, ./balenarc.yml, BALENARC_* variables (balenaUrl, apiUrl,
dataDirectory, connectTimeout, requestTimeout, proxy, noProxy). Credentials:
BALENA_API_KEY or BALENA_TOKEN, else <dataDirectory>/token (default ~/.balena/token).
Proxy: the proxy setting, else HTTPS_PROXY (HTTP_PROXY for an http API), except for
NO_PROXY hosts; a loopback API is never proxied.

",
    crate::exit_codes_help!()
);

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
    /// Log in with a session token or API key, or with your email and password (checked
    /// with the server before anything is saved)
    #[command(after_help = "\
Examples:
  balena login --token <token>
  balena login -t <token>
  balena login                                   prompt for the token (hidden input)
  balena login --credentials                     prompt for email and password
  balena login --credentials --email johndoe@example.com --password secret

The token is checked with GET /actor/v1/whoami before it is saved to
<dataDirectory>/token (mode 0600). Credentials are sent to POST /login_, which answers a
session token; it is checked and saved the same way. A rejected token or password exits 3
and leaves the file as it was. Without a terminal on stdin nothing is prompted for: pass
--token, or --email and --password (exit 2 otherwise).")]
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
        after_help = FLEET_AFTER_HELP
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
  balena device 7cf02a6 --view                  open the dashboard page (or print its URL)
  balena device list --fleet myorg/myfleet
  balena device list --fleet myorg/myfleet --behind
  balena device pin 7cf02a6 a1b2c3d
  balena device pin 7cf02a6,9d1e2f3 latest
  balena device pin --fleet myorg/myfleet --tag canary a1b2c3d --wait
  balena device track-fleet 7cf02a6"
    )]
    Device(DeviceArgs),

    /// Show a release, or list the releases of a fleet
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        arg_required_else_help = true,
        after_help = RELEASE_AFTER_HELP
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

    /// Show the help of balena, or of a command
    #[command(after_help = "\
Examples:
  balena help
  balena help fleet
  balena help device pin")]
    Help(HelpArgs),

    /// Print the version of this CLI
    #[command(after_help = "\
Examples:
  balena version
  balena version --all
  balena version --json")]
    Version(VersionArgs),

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
    /// Log in with email and password (prompted for unless given with --email and
    /// --password)
    #[arg(short = 'c', long, conflicts_with = "token")]
    pub credentials: bool,
    /// The email (or username) for --credentials
    #[arg(
        short = 'e',
        long,
        visible_alias = "user",
        short_alias = 'u',
        value_name = "EMAIL",
        conflicts_with = "token"
    )]
    pub email: Option<String>,
    /// The password for --credentials (prefer the prompt: a command line is visible to
    /// other users of the machine)
    #[arg(short = 'p', long, value_name = "PASSWORD", conflicts_with = "token")]
    pub password: Option<String>,
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: Option<FleetCommand>,
    /// The fleet to show: slug, name, uuid or id
    #[arg(value_name = "FLEET", long_help = FLEET_ID_HELP)]
    pub fleet: Option<String>,
    /// Open the fleet's dashboard page in the browser (print its URL when there is no
    /// browser to open)
    #[arg(long)]
    pub view: bool,
}

const FLEET_AFTER_HELP: &str = "\
`balena fleet <fleet>` prints the official CLI's rows, then, after a blank line, the
fleet's release policy, its target release and its device counts (one request):
  RELEASE POLICY    `Tracking latest` or `Pinned`
  TARGET RELEASE    short commit (version) of should_be_running__release, or N/a
  DEVICES           all the fleet's devices
  PINNED DEVICES    devices pinned to a release of their own
  TRACKING DEVICES  devices that track the fleet's release
  BEHIND DEVICES    devices that have a target release and run another one (or none)
With --json: the official keys, then `release_policy` (`tracking_latest` or `pinned`),
`target_release` ({id, commit, raw_version} or null) and `device_counts` ({total,
pinned, tracking, behind}).

Examples:
  balena fleet myorg/myfleet                   official rows, then policy and counts
  balena fleet MyFleet --json
  balena fleet myorg/myfleet --view            open the dashboard page (or print its URL)
  balena fleet list
  balena fleet pin myorg/myfleet a1b2c3d
  balena fleet pin myorg/myfleet latest --dry-run
  balena fleet track-latest myorg/myfleet
  balena fleet rollback myorg/myfleet --wait";

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
  balena fleet track-latest myorg/myfleet --dry-run         show the plan, change nothing
  balena fleet track-latest myorg/myfleet --wait --timeout 15m

The latest release is the newest final, successful, non-invalidated release that passes
its tests, ordered by start_timestamp (as the server's own auto-advance does).")]
    TrackLatest(FleetTrackLatestArgs),

    /// Pin a fleet to the pinnable release just before its current target
    #[command(after_help = "\
Examples:
  balena fleet rollback myorg/myfleet
  balena fleet rollback myorg/myfleet --dry-run             show the plan, change nothing
  balena fleet rollback myorg/myfleet --wait --json         wait for the devices, JSON result

The release before the current target is the newest pinnable release (successful, final,
not invalidated, passing its tests) that started before it: ordered by start_timestamp,
then created_at, then id. The fleet is then pinned to it (it stops tracking the latest
release). With no earlier pinnable release, nothing changes and the command exits 4.")]
    Rollback(FleetRollbackArgs),

    /// Roll a release out in waves (canaries, then steps), each gated on the devices' health,
    /// with automatic rollback; `status` and `abort` work from any machine
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        arg_required_else_help = true,
        after_help = FLEET_ROLLOUT_AFTER_HELP
    )]
    Rollout(FleetRolloutArgs),
}

const FLEET_ROLLOUT_AFTER_HELP: &str = "\
Examples:
  balena fleet rollout myorg/myfleet a1b2c3d --dry-run            the waves, change nothing
  balena fleet rollout myorg/myfleet a1b2c3d --canary canary --steps 25%,100%
  balena fleet rollout myorg/myfleet 1.2.0 --canary 7cf02a6,9d1e2f3 --max-failures 5%
  balena fleet rollout myorg/myfleet a1b2c3d --next               one wave per call (CI)
  balena fleet rollout status myorg/myfleet
  balena fleet rollout abort myorg/myfleet

Waves: one per --canary (devices with the tag KEY or KEY=VALUE, or a list of uuids), then
the --steps of the other devices that follow the fleet, in device id order. Devices
pinned to another release are left alone and listed. A fleet that tracks the latest
release is frozen on its current target for the rollout.

Each wave's devices are pinned to the release; the wave passes once its online devices
run it and stay healthy for --soak. A device fails when its update is rejected or
aborted, when it goes offline after it was targeted, or when it has not reached the
release within --step-timeout. More failures than --max-failures (per wave) roll the
rollout back: the wave devices follow the fleet again, the fleet stays as it was, and the
command exits 11, naming each failed device.

At the end the fleet is pinned to the release (or tracks the latest release again, if it
did before and the release is its latest), and the wave devices' pins are removed.

The state is kept on the server, in the fleet tag balena-rs.rollout: running the same
command again, from any machine, continues an interrupted rollout.";

#[derive(Debug, Args)]
pub struct FleetRolloutArgs {
    #[command(subcommand)]
    pub command: Option<RolloutCommand>,
    /// The fleet: slug, name, uuid or id
    #[arg(value_name = "FLEET", required = true, long_help = FLEET_ID_HELP)]
    pub fleet: Option<String>,
    /// The release: `latest`, full commit, commit prefix, id or version (drafts included)
    #[arg(value_name = "RELEASE", required = true, long_help = RELEASE_ORDER_HELP)]
    pub release: Option<String>,
    /// A canary wave: devices with the tag KEY (or KEY=VALUE), or a comma-separated list
    /// of uuids; repeat for more canary waves, rolled out first, in order
    #[arg(long = "canary", value_name = "TAG|UUIDS")]
    pub canary: Vec<String>,
    /// The step waves over the other devices: cumulative percentages or device counts,
    /// the last one 100%
    #[arg(long, value_name = "STEPS", default_value = crate::policy::waves::DEFAULT_STEPS)]
    pub steps: String,
    /// How long a wave's devices must stay healthy on the release before the next wave
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub soak: Duration,
    /// How long a device of a wave may take to reach the release before it counts as
    /// failed
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub step_timeout: Duration,
    /// How many devices of a wave may fail (N, or N% of its online devices) before the
    /// rollout is rolled back
    #[arg(long, value_name = "N|N%", default_value = "0")]
    pub max_failures: String,
    /// Run only the next wave, and exit 0 once it is healthy (for an approval between
    /// stages of a pipeline)
    #[arg(long)]
    pub next: bool,
    /// How long to wait between waves (not with --next)
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration, conflicts_with = "next")]
    pub pause: Duration,
    /// Do all the reads and print the waves and the fleet's changes, without changing
    /// anything (no write request is sent)
    #[arg(long, conflicts_with = "next")]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Show a fleet's rollout: its phase, and each wave's devices on target, pending and
    /// failed
    #[command(
        after_help = "Examples:\n  balena fleet rollout status myorg/myfleet\n  balena fleet rollout status myorg/myfleet --json"
    )]
    Status(RolloutFleetArgs),
    /// Abort a fleet's rollout and roll it back (a run in progress stops)
    #[command(after_help = "Examples:\n  balena fleet rollout abort myorg/myfleet")]
    Abort(RolloutFleetArgs),
}

#[derive(Debug, Args)]
pub struct RolloutFleetArgs {
    /// The fleet: slug, name, uuid or id
    #[arg(value_name = "FLEET", long_help = FLEET_ID_HELP)]
    pub fleet: String,
}

/// The flags every mutation takes.
#[derive(Debug, Clone, Args)]
pub struct MutationArgs {
    /// Do all the reads and print what would change, without changing anything (no write
    /// request is sent)
    #[arg(long)]
    pub dry_run: bool,
    /// After the change, wait until every affected online device runs its target release
    /// (exit 8 on timeout, listing the devices still behind)
    #[arg(long, conflicts_with = "dry_run")]
    pub wait: bool,
    /// How long --wait waits: e.g. 90s, 5m, 1h
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10m",
        value_parser = parse_duration,
        requires = "wait"
    )]
    pub timeout: Duration,
}

impl Default for MutationArgs {
    fn default() -> Self {
        MutationArgs {
            dry_run: false,
            wait: false,
            timeout: DEFAULT_WAIT_TIMEOUT,
        }
    }
}

/// `--timeout`'s default.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(600);

/// `--timeout`'s grammar (the sandbox takes the same): the input is trimmed; all digits are a
/// number of seconds (`90`); anything else is a humantime duration (`500ms`, `30s`, `10m`,
/// `1h30m`, `1h 30m`, `2d`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad = |why: &dyn std::fmt::Display| {
        format!("invalid duration {s:?} ({why}): use e.g. 90, 30s, 10m or 1h30m")
    };
    if t.is_empty() {
        return Err(bad(&"empty"));
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| bad(&"number is too large"));
    }
    humantime::parse_duration(t).map_err(|e| bad(&e))
}

const FLEET_PIN_AFTER_HELP: &str = concat!(
    "\
Examples:
  balena fleet pin myorg/myfleet                 show the current policy
  balena fleet pin myorg/myfleet a1b2c3d         pin to a commit prefix
  balena fleet pin myorg/myfleet 1.2.0 --json    pin to a version, JSON result
  balena fleet pin myorg/myfleet latest          pin to the newest pinnable release
  balena fleet pin myorg/myfleet 1.2.0 --dry-run show the plan (fleet and devices), change nothing
  balena fleet pin myorg/myfleet 1.2.0 --wait --timeout 5m
                                                 wait until the fleet's devices run it

",
    crate::release_order_help!(),
    "
Only successful releases of the fleet can be pinned."
);

#[derive(Debug, Args)]
pub struct FleetPinArgs {
    /// The fleet: slug, name, uuid or id
    #[arg(value_name = "FLEET", long_help = FLEET_ID_HELP)]
    pub fleet: String,
    /// The release: `latest`, full commit, commit prefix, id or version (omit to show the
    /// current policy)
    #[arg(value_name = "RELEASE", long_help = RELEASE_ORDER_HELP)]
    pub release: Option<String>,
    #[command(flatten)]
    pub mutation: MutationArgs,
}

#[derive(Debug, Args)]
pub struct FleetTrackLatestArgs {
    /// The fleet: slug, name, uuid or id
    #[arg(value_name = "FLEET", long_help = FLEET_ID_HELP)]
    pub fleet: String,
    #[command(flatten)]
    pub mutation: MutationArgs,
}

#[derive(Debug, Args)]
pub struct FleetRollbackArgs {
    /// The fleet: slug, name, uuid or id
    #[arg(value_name = "FLEET", long_help = FLEET_ID_HELP)]
    pub fleet: String,
    #[command(flatten)]
    pub mutation: MutationArgs,
}

#[derive(Debug, Args)]
pub struct DeviceArgs {
    #[command(subcommand)]
    pub command: Option<DeviceCommand>,
    /// The device to show: full uuid or unique prefix
    #[arg(value_name = "UUID")]
    pub uuid: Option<String>,
    /// Open the device's dashboard page in the browser (print its URL when there is no
    /// browser to open)
    #[arg(long)]
    pub view: bool,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List devices, optionally of one fleet, with their release policy
    #[command(after_help = DEVICE_LIST_AFTER_HELP)]
    List(DeviceListArgs),

    /// Pin devices to a release, or show a device's current release policy
    #[command(after_help = concat!(
        "\
Examples:
  balena device pin 7cf02a6                       show the current policy
  balena device pin 7cf02a6 a1b2c3d               pin to a commit prefix
  balena device pin 7cf02a6 v1.2.0 --json         pin to a version, JSON result
  balena device pin 7cf02a6 latest                the newest pinnable release
  balena device pin 7cf02a6,9d1e2f3,0b4c 1.2.0    several devices (uuids or prefixes)
  balena device pin - 1.2.0 < uuids.txt           uuids from stdin, one per line
  balena device pin --fleet myorg/myfleet 1.2.0   every device of the fleet
  balena device pin --fleet myorg/myfleet --tag canary --tag region=eu latest
                                                  the fleet's devices with these tags
  balena device pin 7cf02a6,9d1e2f3 1.2.0 --dry-run
                                                  show the plan, change nothing
  balena device pin --fleet myorg/myfleet --tag canary 1.2.0 --wait --timeout 5m
                                                  wait until the devices run it

Several devices: they are grouped by fleet and the release is resolved in each fleet.
Unknown, ambiguous or inaccessible devices, and fleets where the release does not
resolve, are reported and left untouched; the others are pinned. Exit 9 when some
failed and others succeeded. Devices already pinned to the release are left as they are.
With --fleet, the only positional argument is the release.

",
        crate::release_order_help!(),
        "
Only successful releases of the device's fleet can be pinned."
    ))]
    Pin(DevicePinArgs),

    /// Make devices track their fleet's release again (remove their pins)
    #[command(after_help = "\
Examples:
  balena device track-fleet 7cf02a6
  balena device track-fleet 7cf02a6,9d1e2f3              several devices
  balena device track-fleet - < uuids.txt                uuids from stdin, one per line
  balena device track-fleet --fleet myorg/myfleet        every pinned device of the fleet
  balena device track-fleet --fleet myorg/myfleet --tag canary --dry-run
  balena device track-fleet 7cf02a6 --wait --timeout 90s

Devices that already track their fleet are left as they are. Exit 9 when some devices
failed and others succeeded.")]
    TrackFleet(DeviceTrackFleetArgs),
}

/// How several devices are selected: `--fleet F [--tag KEY[=VALUE]]...`.
#[derive(Debug, Clone, Default, Args)]
pub struct DeviceSelection {
    /// Select every device of this fleet (slug, name, uuid or id) instead of naming devices
    #[arg(short = 'f', long = "fleet", value_name = "FLEET")]
    pub fleet: Option<String>,
    /// With --fleet: only the devices with this tag (KEY, any value) or tag value
    /// (KEY=VALUE); repeat to require several
    #[arg(long = "tag", value_name = "KEY[=VALUE]", requires = "fleet")]
    pub tags: Vec<String>,
}

const DEVICE_LIST_AFTER_HELP: &str = "\
Examples:
  balena device list --fleet myorg/myfleet
  balena device list --fleet myorg/myfleet --pinned          devices pinned to a release
  balena device list --fleet myorg/myfleet --tracking        devices tracking the fleet
  balena device list --fleet myorg/myfleet --behind          not yet on their target
  balena device list --fleet myorg/myfleet --tag canary --tag region=eu
  balena device list --fleet myorg/myfleet --behind --json

After the official columns come the release-policy columns of the dashboard:
  RUNNING RELEASE   the release the device runs: short commit (version)
  TARGET RELEASE    the release it should run; ` (pinned)` follows a device's own pin
  RELEASE POLICY    `Pinned` or `Tracking fleet`
The filters are ANDed and applied by the server, in the same single request. --behind
means: the device has a target release and runs another one (or none). --json prints the
API field names with the expanded release objects, plus `release_policy` (`pinned` or
`tracking_fleet`) and `behind`.";

#[derive(Debug, Args)]
pub struct DeviceListArgs {
    /// Only the devices of this fleet (slug, name, uuid or id)
    #[arg(short = 'f', long = "fleet", value_name = "FLEET")]
    pub fleet: Option<String>,
    /// Only the devices pinned to a release
    #[arg(long, conflicts_with = "tracking")]
    pub pinned: bool,
    /// Only the devices that track their fleet's release (not pinned)
    #[arg(long)]
    pub tracking: bool,
    /// Only the devices whose running release differs from their target release
    #[arg(long)]
    pub behind: bool,
    /// Only the devices with this tag (KEY, any value) or tag value (KEY=VALUE); repeat to
    /// require several
    #[arg(long = "tag", value_name = "KEY[=VALUE]")]
    pub tags: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DevicePinArgs {
    /// The device: full uuid or unique prefix; several comma-separated; `-` reads uuids
    /// from stdin, one per line (omit with --fleet)
    #[arg(value_name = "UUID", required_unless_present = "fleet")]
    pub uuid: Option<String>,
    /// The release: `latest`, full commit, commit prefix, id or version (omit to show the
    /// current policy of one device)
    #[arg(value_name = "RELEASE", long_help = RELEASE_ORDER_HELP)]
    pub release: Option<String>,
    #[command(flatten)]
    pub select: DeviceSelection,
    #[command(flatten)]
    pub mutation: MutationArgs,
}

#[derive(Debug, Args)]
pub struct DeviceTrackFleetArgs {
    /// The device: full uuid or unique prefix; several comma-separated; `-` reads uuids
    /// from stdin, one per line (omit with --fleet)
    #[arg(
        value_name = "UUID",
        required_unless_present = "fleet",
        conflicts_with = "fleet"
    )]
    pub uuid: Option<String>,
    #[command(flatten)]
    pub select: DeviceSelection,
    #[command(flatten)]
    pub mutation: MutationArgs,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    pub command: Option<ReleaseCommand>,
    /// The release to show: full commit, commit prefix, id or version
    #[arg(value_name = "COMMIT_OR_ID", long_help = RELEASE_ORDER_HELP)]
    pub release: Option<String>,
    /// Print the release's composition (its docker-compose content) as YAML, as the
    /// official CLI does
    #[arg(short = 'c', long)]
    pub composition: bool,
}

const RELEASE_AFTER_HELP: &str = "\
`balena release <release>` prints the official CLI's rows, then, after a blank line,
where the release is used (two requests):
  TARGETED BY FLEETS  the fleets whose target release it is (slug)
  PINNED DEVICES      the devices pinned to it (uuid and name)
  RUNNING DEVICES     the devices that run it (uuid and name)
Each value is the count on its first line, then at most 20 items, one per line, then
`… and N more` when there are more. With --json: the official keys, then
`targeted_by_fleets`, `pinned_devices` and `running_devices`, each {count, items} (at
most 20 items).

Examples:
  balena release a1b2c3d                       official rows, then its fleets and devices
  balena release 123456 --json
  balena release a1b2c3d --composition         the composition, as YAML
  balena release list myorg/myfleet";

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
pub struct HelpArgs {
    /// The command, e.g. `fleet` or `device pin` (omit for the list of commands)
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Also print the versions of the components (one line each, as the official CLI)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Same as --json (the official `version -j`)
    #[arg(short = 'j', hide = true)]
    pub json_short: bool,
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
    fn durations_for_timeout() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("2s"), Ok(ms(2000)));
        assert_eq!(parse_duration("90"), Ok(ms(90_000)));
        assert_eq!(parse_duration(" 90 "), Ok(ms(90_000)));
        assert_eq!(parse_duration("5m"), Ok(ms(300_000)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("1h2m3s"), Ok(ms(3_723_000)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        // humantime's grammar: more units, spaces between and inside the parts.
        assert_eq!(parse_duration("1d"), Ok(ms(86_400_000)));
        assert_eq!(parse_duration("10min"), Ok(ms(600_000)));
        assert_eq!(parse_duration("1 s"), Ok(ms(1000)));
        assert_eq!(parse_duration("1m 30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("\t1h 30m\n"), Ok(ms(5_400_000)));
        for bad in [
            "",
            "  ",
            "s",
            "ms",
            "-1s",
            "+1s",
            "1x",
            "1mo",
            "abc",
            "1m,30s",
            "18446744073709551616",
            "99999999999999999999h",
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.contains("90, 30s, 10m or 1h30m"), "{bad:?}: {e}");
        }
    }

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
