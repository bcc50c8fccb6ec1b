//! The one place that maps errors to exit codes, names, messages and hints.
//!
//! | exit | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | other error |
//! | 2 | usage |
//! | 3 | not logged in or unauthorised (401/403) |
//! | 4 | not found |
//! | 5 | ambiguous |
//! | 6 | refused by the server's rules (400 rule text, 409) or not pinnable |
//! | 7 | network, timeout or server failure (5xx, 429) after retries |
//! | 8 | `--wait` timed out |
//! | 9 | partial failure (a bulk operation failed for some devices or fleets), or a conflict (a device changed by someone else meanwhile, left alone) |
//! | 10 | outcome unknown (a change was sent, its answer was lost, and it could not be read back) |
//! | 11 | `fleet rollout` aborted and rolled back (a wave failed its health gate, or `fleet rollout abort`) |
//! | 130 | interrupted (SIGINT): what was already changed is printed |

use balena_api::error::{ApiError, LOGIN_REQUIRED};

use crate::config::ConfigError;

/// The process exit codes (see the table above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Ok = 0,
    Other = 1,
    Usage = 2,
    Auth = 3,
    NotFound = 4,
    Ambiguous = 5,
    Refused = 6,
    Network = 7,
    /// `--wait` timed out.
    WaitTimeout = 8,
    /// A bulk operation failed for some devices or fleets and succeeded for others.
    Partial = 9,
    /// A change was sent, no answer came back, and the state could not be read back.
    OutcomeUnknown = 10,
    /// `fleet rollout` was aborted and rolled back.
    RolledBack = 11,
    /// Interrupted by SIGINT (128 + 2, as shells report it).
    Interrupted = 130,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

/// The exit-code table as a string literal, so that `concat!` can put it into the root
/// `--help` (`crate::cli`) while this module keeps the one copy.
#[macro_export]
macro_rules! exit_codes_help {
    () => {
        "\
Exit codes:
  0  success
  1  other error
  2  usage error
  3  not logged in, or unauthorised (401/403)
  4  not found (fleet, device or release)
  5  ambiguous identifier (the candidates are listed)
  6  refused by the server's rules, or release not pinnable
  7  network, timeout or server failure, after retries
  8  --wait timed out (the devices still behind are listed)
  9  partial failure or conflict (some devices or fleets failed, or were changed
     by someone else meanwhile and left alone; each is named)
 10  outcome unknown (a change was sent, its answer was lost, and the state could
     not be read back: the message says what to check)
 11  fleet rollout aborted and rolled back (a wave failed its health gate, or
     `fleet rollout abort`): the failed devices are named
 130  interrupted (Ctrl-C); what was already changed is printed"
    };
}

/// The exit-code table, shown in the root `--help`.
pub const EXIT_CODES_HELP: &str = exit_codes_help!();

/// The one error of every command. Each variant knows its official error name
/// ([`Error::name`]), its message (`Display`), its hint ([`Error::hint`]), the items it
/// lists ([`Error::list`]) and its exit code ([`Error::exit_code`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Application not found: {0}")]
    FleetNotFound(String),
    #[error("Application is ambiguous: {arg}")]
    FleetAmbiguous {
        arg: String,
        candidates: Vec<String>,
    },
    #[error("Device not found: {0}")]
    DeviceNotFound(String),
    #[error("Device is ambiguous: {arg}")]
    DeviceAmbiguous {
        arg: String,
        candidates: Vec<String>,
    },
    #[error("Release not found: {arg}")]
    ReleaseNotFound {
        arg: String,
        /// The fleet searched, if any (for the hint).
        fleet: Option<String>,
    },
    #[error("Release is ambiguous: There are multiple releases matching the release hash '{arg}'")]
    ReleaseAmbiguous {
        arg: String,
        candidates: Vec<String>,
    },
    /// The release exists in the fleet but is not successful (the official CLI: not found).
    #[error("Release not found: {arg}")]
    ReleaseNotPinnable {
        arg: String,
        status: String,
        fleet: String,
    },
    /// The release belongs to another fleet (the official CLI: not found).
    #[error("Release not found: {arg}")]
    ForeignRelease {
        arg: String,
        other: String,
        fleet: String,
    },
    #[error("Token authentication failed")]
    TokenRejected,
    /// `login --credentials`: the server refused the email and password (401).
    #[error("Invalid login credentials")]
    InvalidCredentials,
    #[error("{message}")]
    Usage { message: String, hint: String },
    /// `--wait` ran out of time; `behind` names the devices not yet on their target.
    #[error("timed out waiting for {} device(s) to run their target release", behind.len())]
    WaitTimeout { behind: Vec<String> },
    /// A bulk operation failed for some items and succeeded for the others.
    #[error("{failed} of {total} {what} failed; {}", if *dry_run { "nothing was changed (dry run)" } else { "the others were processed" })]
    PartialFailure {
        failed: usize,
        total: usize,
        /// `devices`
        what: String,
        /// A `--dry-run`: nothing was processed.
        dry_run: bool,
    },
    /// Writing to stdout failed (a full disk, a closed descriptor; a closed pipe is not an
    /// error).
    #[error("cannot write to stdout: {detail}")]
    Output { detail: String },
    /// SIGINT: the command stopped; what was done before is printed.
    #[error("interrupted: {done}")]
    Interrupted { done: String },
    /// `fleet rollback`: nothing pinnable before the current target.
    #[error("no earlier pinnable release than {current} in fleet {fleet}")]
    NoEarlierRelease { current: String, fleet: String },
    /// `fleet rollback` of a fleet without a target release.
    #[error("fleet {fleet} has no target release to roll back from")]
    NoTarget { fleet: String },
    /// A `--fleet [--tag]` selection that matched no device.
    #[error("No device selected: {what}")]
    NoDevicesSelected { what: String },
    /// `latest` in a fleet with no pinnable release.
    #[error(
        "fleet {fleet} has no pinnable release (successful, final, not invalidated, passing tests)"
    )]
    NoPinnableRelease { fleet: String },
    /// A device whose fleet the credentials cannot see.
    #[error("the device's fleet is not accessible")]
    FleetNotAccessible,
    /// Reading the device list from stdin failed.
    #[error("cannot read the device uuids from stdin: {detail}")]
    Stdin { detail: String },
    /// A row the server sent lacks what the command needs.
    #[error("invalid response from the API: {detail}")]
    Incomplete { detail: String },
    /// The command line does not parse (clap's error, in the official CLI's words where it
    /// has them). Printed without a name, as the official CLI prints these.
    #[error("{message}")]
    CommandLine { message: String, hint: String },
    /// A write whose answer was lost (or a gateway failed): the state read back does not
    /// hold the change, so nothing was changed.
    #[error("the change to {what} was not made: {cause}")]
    WriteNotApplied { what: String, cause: Box<ApiError> },
    /// Optimistic concurrency: between this command's read and its write, someone else
    /// changed the device, so the conditional write left it alone.
    #[error("changed by someone else while this command ran (it is now {now}); not overwritten")]
    Conflict {
        /// `device <uuid>`
        what: String,
        /// What it holds now: `pinned <release>`, `following its fleet`, `no longer visible`.
        now: String,
    },
    /// `--wait`: the change was made, then someone else gave these devices another target
    /// or pin during the wait.
    #[error("the change was made, but someone else changed {} device(s) during the wait", devices.len())]
    ChangedDuringWait { devices: Vec<String> },
    /// A write whose answer was lost, and whose state could not be read back.
    #[error(
        "outcome unknown: the change to {what} was sent and no answer came back ({cause}); \
         reading it back failed too ({read_back})"
    )]
    OutcomeUnknown {
        /// `fleet <slug>`, `device <uuid>`
        what: String,
        /// The fields written and their values.
        change: String,
        /// The command that shows them.
        check: String,
        cause: Box<ApiError>,
        read_back: Box<ApiError>,
    },
    /// `--wait` after a change that was made: the polls failed (every one until the
    /// deadline, or one was refused).
    #[error(
        "the change was made, but its rollout could not be observed: {failures} poll(s) failed; the last: {cause}"
    )]
    WaitFailed {
        cause: Box<Error>,
        failures: u32,
        /// Every poll failed for a transient reason until the deadline (exit 8).
        transient: bool,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {detail}")]
    Runtime { detail: String },
    /// `fleet rollout`: a wave failed its health gate (or the rollout was aborted), and
    /// the rollout was rolled back.
    #[error("the rollout of {release} to fleet {fleet} was aborted and rolled back: {reason}")]
    RolloutRolledBack {
        fleet: String,
        release: String,
        reason: String,
        /// `name (uuid): why`
        failed: Vec<String>,
    },
    /// `fleet rollout`: another rollout holds the fleet, or its state changed under this run.
    #[error("fleet {fleet} has a rollout in progress: {detail}")]
    RolloutBusy { fleet: String, detail: String },
    /// `fleet rollout status|abort` of a fleet without a rollout in progress.
    #[error("fleet {fleet} has no rollout in progress")]
    NoRollout { fleet: String },
    /// The fleet's rollout tag does not hold a state this version reads.
    #[error("the rollout state of fleet {fleet} cannot be read: {detail}")]
    RolloutStateDamaged { fleet: String, detail: String },
    /// The plan does not fit in the fleet tag's 1,000 characters.
    #[error(
        "the rollout's state would take {chars} characters, more than the 1000 a fleet tag holds"
    )]
    RolloutTooLarge { fleet: String, chars: usize },
    /// `fleet rollout` went on, but someone else re-pinned these devices meanwhile; they
    /// were left alone.
    #[error("the rollout went on, but {} device(s) were changed by someone else and left alone", devices.len())]
    RolloutConflicts { fleet: String, devices: Vec<String> },
}

/// A usage error with an example of the right form.
pub fn usage(message: &str, example: &str) -> Error {
    Error::Usage {
        message: message.to_owned(),
        hint: format!("Usage: {example} (see --help)"),
    }
}

impl Error {
    /// Whether the human form has no `<Name>: ` before the message (as the official CLI
    /// prints command-line errors and a rejected login).
    pub fn is_unnamed(&self) -> bool {
        matches!(self, Error::CommandLine { .. } | Error::TokenRejected)
    }

    /// Whether this is the official CLI's "Login required" error, printed byte-compatibly.
    pub fn is_login_required(&self) -> bool {
        matches!(self, Error::Api(ApiError::NotLoggedIn)) || self.to_string() == LOGIN_REQUIRED
    }

    /// The items the error names, and what they are: the candidates of an ambiguity
    /// (`candidates`), or the devices still behind after a wait (`behind`).
    pub fn list(&self) -> Option<(&'static str, &[String])> {
        match self {
            Error::FleetAmbiguous { candidates, .. }
            | Error::DeviceAmbiguous { candidates, .. }
            | Error::ReleaseAmbiguous { candidates, .. } => {
                Some(("candidates", candidates.as_slice()))
            }
            Error::WaitTimeout { behind } => Some(("behind", behind.as_slice())),
            Error::ChangedDuringWait { devices } => Some(("changed", devices.as_slice())),
            Error::RolloutRolledBack { failed, .. } => Some(("failed", failed.as_slice())),
            Error::RolloutConflicts { devices, .. } => Some(("changed", devices.as_slice())),
            _ => None,
        }
        .filter(|(_, l)| !l.is_empty())
    }

    /// The identifier the error is about, as the official CLI adds it to its JSON error:
    /// `("application" | "device" | "release", argument)`.
    pub fn entity(&self) -> Option<(&'static str, &str)> {
        match self {
            Error::FleetNotFound(a) | Error::FleetAmbiguous { arg: a, .. } => {
                Some(("application", a))
            }
            Error::DeviceNotFound(a) | Error::DeviceAmbiguous { arg: a, .. } => Some(("device", a)),
            Error::ReleaseNotFound { arg: a, .. }
            | Error::ReleaseAmbiguous { arg: a, .. }
            | Error::ReleaseNotPinnable { arg: a, .. }
            | Error::ForeignRelease { arg: a, .. } => Some(("release", a)),
            _ => None,
        }
    }

    /// The error's name, the official CLI's where it has the case.
    pub fn name(&self) -> &'static str {
        match self {
            Error::Api(e) => match e {
                ApiError::NotLoggedIn => "NotLoggedInError",
                ApiError::Http { .. } => "BalenaRequestError",
                ApiError::Network { .. } | ApiError::Proxy { .. } => "BalenaNetworkError",
                ApiError::Timeout { .. } => "BalenaTimeoutError",
                ApiError::Decode { .. } => "BalenaInvalidResponse",
                ApiError::InsecureUrl { .. } => "BalenaInsecureUrl",
                ApiError::BadUrl { .. } => "BalenaSettingsError",
                ApiError::MalformedToken { .. } => "BalenaMalformedToken",
                ApiError::UrlTooLong { .. } => "BalenaInvalidParameterError",
                ApiError::TlsMismatch { .. } => "BalenaTlsMismatch",
            },
            Error::Config(_) => "BalenaSettingsError",
            Error::FleetNotFound(_) => "BalenaApplicationNotFound",
            Error::FleetAmbiguous { .. } => "BalenaAmbiguousApplication",
            Error::DeviceNotFound(_) | Error::NoDevicesSelected { .. } => "BalenaDeviceNotFound",
            Error::DeviceAmbiguous { .. } => "BalenaAmbiguousDevice",
            Error::ReleaseNotFound { .. } | Error::NoPinnableRelease { .. } => {
                "BalenaReleaseNotFound"
            }
            Error::ReleaseAmbiguous { .. } => "BalenaAmbiguousRelease",
            Error::ReleaseNotPinnable { .. } | Error::ForeignRelease { .. } => {
                "BalenaReleaseNotFound"
            }
            Error::TokenRejected => "BalenaTokenAuthenticationFailed",
            Error::InvalidCredentials => "BalenaInvalidLoginCredentials",
            Error::Usage { .. } => "BalenaInvalidParameterError",
            Error::WaitTimeout { .. } => "BalenaWaitTimeout",
            Error::PartialFailure { .. } => "BalenaPartialFailure",
            Error::NoEarlierRelease { .. } => "BalenaNoEarlierRelease",
            Error::NoTarget { .. } => "BalenaNoTargetRelease",
            Error::FleetNotAccessible => "BalenaApplicationNotFound",
            Error::Stdin { .. } => "BalenaInvalidParameterError",
            Error::Incomplete { .. } => "BalenaInvalidResponse",
            Error::Runtime { .. } => "BalenaRuntimeError",
            Error::Output { .. } => "BalenaOutputError",
            Error::Interrupted { .. } => "BalenaInterrupted",
            Error::WriteNotApplied { .. } => "BalenaWriteNotApplied",
            Error::Conflict { .. } | Error::ChangedDuringWait { .. } => "BalenaConflict",
            Error::WaitFailed { .. } => "BalenaWaitFailed",
            Error::OutcomeUnknown { .. } => "BalenaOutcomeUnknown",
            Error::CommandLine { .. } => "BalenaUsageError",
            Error::RolloutRolledBack { .. } => "BalenaRolloutRolledBack",
            Error::RolloutBusy { .. } => "BalenaRolloutInProgress",
            Error::NoRollout { .. } => "BalenaNoRollout",
            Error::RolloutStateDamaged { .. } => "BalenaRolloutStateDamaged",
            Error::RolloutTooLarge { .. } => "BalenaInvalidParameterError",
            Error::RolloutConflicts { .. } => "BalenaConflict",
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Api(e) => match e {
                ApiError::NotLoggedIn => ExitCode::Auth,
                ApiError::Http { status, .. } => match status {
                    400 | 409 => ExitCode::Refused,
                    403 => ExitCode::Auth,
                    429 | 500..=599 => ExitCode::Network,
                    _ => ExitCode::Other,
                },
                ApiError::Network { .. } | ApiError::Timeout { .. } | ApiError::Proxy { .. } => {
                    ExitCode::Network
                }
                ApiError::MalformedToken { .. } => ExitCode::Auth,
                ApiError::UrlTooLong { .. } => ExitCode::Usage,
                ApiError::Decode { .. }
                | ApiError::InsecureUrl { .. }
                | ApiError::BadUrl { .. }
                | ApiError::TlsMismatch { .. } => ExitCode::Other,
            },
            Error::Config(_)
            | Error::Incomplete { .. }
            | Error::Runtime { .. }
            | Error::Output { .. } => ExitCode::Other,
            Error::Interrupted { .. } => ExitCode::Interrupted,
            Error::FleetNotFound(_)
            | Error::DeviceNotFound(_)
            | Error::ReleaseNotFound { .. }
            | Error::NoEarlierRelease { .. }
            | Error::NoTarget { .. }
            | Error::NoDevicesSelected { .. }
            | Error::NoPinnableRelease { .. }
            | Error::FleetNotAccessible => ExitCode::NotFound,
            Error::FleetAmbiguous { .. }
            | Error::DeviceAmbiguous { .. }
            | Error::ReleaseAmbiguous { .. } => ExitCode::Ambiguous,
            Error::ReleaseNotPinnable { .. } | Error::ForeignRelease { .. } => ExitCode::Refused,
            Error::TokenRejected | Error::InvalidCredentials => ExitCode::Auth,
            Error::Usage { .. } | Error::Stdin { .. } | Error::CommandLine { .. } => {
                ExitCode::Usage
            }
            Error::WaitTimeout { .. } => ExitCode::WaitTimeout,
            Error::PartialFailure { .. }
            | Error::Conflict { .. }
            | Error::ChangedDuringWait { .. } => ExitCode::Partial,
            Error::WriteNotApplied { .. } => ExitCode::Network,
            Error::WaitFailed {
                cause, transient, ..
            } => {
                if *transient {
                    ExitCode::WaitTimeout
                } else {
                    cause.exit_code()
                }
            }
            Error::OutcomeUnknown { .. } => ExitCode::OutcomeUnknown,
            Error::RolloutRolledBack { .. } => ExitCode::RolledBack,
            Error::RolloutBusy { .. } => ExitCode::Refused,
            Error::NoRollout { .. } => ExitCode::NotFound,
            Error::RolloutStateDamaged { .. } => ExitCode::Other,
            Error::RolloutTooLarge { .. } => ExitCode::Usage,
            Error::RolloutConflicts { .. } => ExitCode::Partial,
        }
    }

    /// What to do next.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Api(e) => return api_hint(e),
            Error::Config(c) => match c {
                ConfigError::TokenFile { path, .. } => format!(
                    "Fix or remove the token file {path} (e.g. `rm {path}`); `balena logout` and \
                     `balena login` replace it."
                ),
                ConfigError::Parse { path, .. } | ConfigError::Unreadable { path, .. } => {
                    format!("Fix or remove {path}.")
                }
                ConfigError::Proxy { setting, file, .. } => {
                    let fix = if *file {
                        format!("Fix or remove the proxy setting in {setting}")
                    } else {
                        format!("Fix or unset {setting}")
                    };
                    format!(
                        "{fix}: a proxy is an http or https URL such as \
                         http://user:password@proxy.example.com:3128 (in balenarc also an \
                         object of protocol, host, port and proxyAuth). Nothing was sent."
                    )
                }
                ConfigError::Invalid { key, .. } => format!(
                    "Fix the {key} setting in ~/.balenarc.yml, ./balenarc.yml or the BALENARC_* \
                     environment variables."
                ),
            },
            Error::FleetNotFound(_) => "Check the fleet's slug (org/name), name, uuid or id; \
                                        `balena fleet list` shows the fleets you can access."
                .into(),
            Error::FleetAmbiguous { .. } => {
                "Name the fleet by its slug (org/name) or numeric id.".into()
            }
            Error::DeviceNotFound(_) => "Check the uuid; `balena device list --fleet <fleet>` \
                                         shows the devices of a fleet."
                .into(),
            Error::DeviceAmbiguous { .. } => "Give more characters of the uuid.".into(),
            Error::ReleaseNotFound { fleet, .. } => match fleet {
                Some(f) => {
                    format!("Run `balena release list {f}` to see the releases of the fleet.")
                }
                None => "Give a full commit, a commit prefix, a release id or a version; \
                         `balena release list <fleet>` lists a fleet's releases."
                    .into(),
            },
            Error::ReleaseAmbiguous { .. } => {
                "Name the release by its full commit or its id.".into()
            }
            Error::ReleaseNotPinnable { status, fleet, .. } => format!(
                "The release has status {status}; only successful releases can be pinned. \
                 Pick one with status success: `balena release list {fleet}`."
            ),
            Error::ForeignRelease { other, fleet, .. } => format!(
                "It is a release of {other}; only releases of {fleet} can be pinned there: \
                 `balena release list {fleet}`."
            ),
            Error::TokenRejected => "Check the token (a session token or an API key from the \
                                     dashboard's preferences); nothing was saved."
                .into(),
            Error::InvalidCredentials => "Check the email and password; nothing was saved.".into(),
            Error::Usage { hint, .. } | Error::CommandLine { hint, .. } => hint.clone(),
            Error::WaitTimeout { .. } => "The change was made; the devices listed have not \
                                          reached their target yet. Check them with `balena \
                                          device list --fleet <fleet>` (or `balena device \
                                          <uuid>`), or wait longer with --timeout (e.g. \
                                          --timeout 30m)."
                .into(),
            Error::PartialFailure { .. } => "The failures are listed above (with --json, in \
                                             \"results\" with an \"error\"); fix them and run \
                                             the command again for those devices."
                .into(),
            Error::NoEarlierRelease { fleet, .. } => format!(
                "Nothing was changed. `balena release list {fleet}` shows the fleet's releases; \
                 pin one with `balena fleet pin {fleet} <release>`."
            ),
            Error::NoTarget { fleet } => {
                format!("Pin the fleet to a release first: `balena fleet pin {fleet} <release>`.")
            }
            Error::NoDevicesSelected { .. } => "Check the fleet and the --tag KEY[=VALUE] \
                                                filters; `balena device list --fleet <fleet>` \
                                                shows the fleet's devices. Nothing was changed."
                .into(),
            Error::NoPinnableRelease { fleet } => {
                format!(
                    "`balena release list {fleet}` shows the fleet's releases and their status."
                )
            }
            Error::FleetNotAccessible => "`balena fleet list` shows the fleets you can \
                                                 access."
                .into(),
            Error::Stdin { .. } => "Pipe the uuids in, one per line: \
                                    `balena device pin - <release> < uuids.txt`."
                .into(),
            Error::Incomplete { .. } => "Check that apiUrl/balenaUrl point at a balena API \
                                         (`--debug` shows the requests)."
                .into(),
            Error::Output { .. } => "Check where stdout goes (a full disk, a closed file \
                                     descriptor); the command itself ran."
                .into(),
            Error::Interrupted { .. } => "Run the command again to finish: devices already \
                                          done are left as they are."
                .into(),
            Error::ChangedDuringWait { .. } => "This command's change was applied; then another \
                                                command or user gave the devices listed another \
                                                release, and the wait left them alone. Check \
                                                them with `balena device <uuid>`."
                .into(),
            Error::RolloutRolledBack { fleet, .. } => format!(
                "The wave devices follow the fleet again, and the fleet is as it was before the \
                 rollout. Check the failed devices (`balena device <uuid>`), fix the release, \
                 then start a new rollout; `balena fleet rollout status {fleet}` shows the last \
                 one."
            ),
            Error::RolloutBusy { fleet, .. } => format!(
                "See it with `balena fleet rollout status {fleet}`; continue it by running the \
                 same `balena fleet rollout` command, or stop it with `balena fleet rollout abort \
                 {fleet}`."
            ),
            Error::NoRollout { fleet } => format!(
                "Start one with `balena fleet rollout {fleet} <release>` (try `--dry-run` \
                 first)."
            ),
            Error::RolloutStateDamaged { fleet, .. } => format!(
                "The fleet tag balena-rs.rollout of {fleet} was changed by hand or by a newer \
                 balena-rs. Use that version, or remove the tag in the dashboard (the pins stay \
                 as they are: check them with `balena device list --fleet {fleet} --pinned`)."
            ),
            Error::RolloutTooLarge { .. } => "Use fewer or smaller --canary waves (each canary \
                                              device takes a few characters of the state)."
                .into(),
            Error::RolloutConflicts { fleet, .. } => format!(
                "Another command or user re-pinned the devices listed during the rollout; they \
                 were not overwritten. Check them with `balena device list --fleet {fleet} \
                 --pinned`."
            ),
            Error::Conflict { what, .. } => format!(
                "Another command or user changed {what} after this one read it, so it was left \
                 as they set it. Check it (`balena device list --fleet <fleet> --pinned`), then \
                 run the command again if it should still change."
            ),
            Error::WriteNotApplied { what, .. } => format!(
                "The write got no clear answer, so {what} was read back: it does not hold the \
                 change. Nothing was changed; run the command again."
            ),
            Error::OutcomeUnknown {
                what,
                change,
                check,
                ..
            } => format!(
                "Check whether {what} now has {change}: `{check}` shows it. If it does not, \
                 run the command again (repeating it is safe)."
            ),
            Error::WaitFailed { transient, .. } => {
                let why = if *transient {
                    "no poll answered before the --timeout deadline"
                } else {
                    "a poll was refused"
                };
                format!(
                    "The change was made ({why}). Check the devices with `balena device list \
                     --fleet <fleet> --behind`, or wait again with --wait."
                )
            }
            Error::Runtime { .. } => return None,
        })
    }
}

fn api_hint(e: &ApiError) -> Option<String> {
    Some(match e {
        ApiError::NotLoggedIn => {
            "Run `balena login --token <token>`, or set BALENA_API_KEY.".into()
        }
        ApiError::Http {
            status,
            retry_after,
            host,
            attempts,
            ..
        } => {
            let told = format!(
                "HTTP {status} from {host}, after {attempts} attempt{}. ",
                if *attempts == 1 { "" } else { "s" }
            );
            return api_status_hint(*status, *retry_after).map(|h| told + &h);
        }
        ApiError::MalformedToken { .. } => "Log in again with `balena login --token <token>` \
                                            (one line, no control characters), or fix \
                                            BALENA_API_KEY or the token file in the data \
                                            directory."
            .into(),
        ApiError::UrlTooLong { .. } => "Shorten the argument (a fleet, device uuid or release \
                                        is far shorter); nothing was sent."
            .into(),
        ApiError::TlsMismatch { .. } => "The port serves plain http: use an http:// apiUrl \
                                         (allowed for loopback addresses only) or the port \
                                         that serves https. Not retried."
            .into(),
        ApiError::Network { .. } => "Check the network and the balenaUrl/apiUrl setting \
                                     (the proxy settings, HTTPS_PROXY and NO_PROXY are \
                                     honoured)."
            .into(),
        ApiError::Proxy {
            setting,
            auth_required: true,
            ..
        } => format!(
            "Give the proxy's credentials in its URL (http://user:password@host:port) or as \
             proxyAuth in balenarc; the proxy came from {setting}. Nothing reached the API."
        ),
        ApiError::Proxy { proxy, setting, .. } => format!(
            "Check that the proxy {proxy} (from {setting}) is running and lets you through, \
             or fix that setting; NO_PROXY=<host> reaches a host directly. Nothing reached the \
             API."
        ),
        ApiError::Timeout { .. } => "Retry later, or raise connectTimeout/requestTimeout \
                                     (seconds) in balenarc or \
                                     BALENARC_CONNECT_TIMEOUT/BALENARC_REQUEST_TIMEOUT."
            .into(),
        ApiError::Decode { .. } => "Check that apiUrl/balenaUrl point at a balena API \
                                    (`--debug` shows the requests)."
            .into(),
        ApiError::InsecureUrl { .. } => "Use an https:// apiUrl; plain http is only allowed to \
                                         loopback addresses (127.0.0.1, ::1, localhost)."
            .into(),
        ApiError::BadUrl { .. } => "Fix the apiUrl/balenaUrl setting.".into(),
    })
}

/// The hint of an HTTP status (after "HTTP <status> from <host>, after N attempts.").
fn api_status_hint(status: u16, retry_after: Option<u64>) -> Option<String> {
    Some(match status {
        400 | 409 => {
            "The server refused the change because of its rules; nothing was modified.".into()
        }
        403 => "The credentials in use are not allowed to do this; check the account or \
                    API key (`balena whoami`)."
            .into(),
        429 => match retry_after {
            Some(s) => format!(
                "We need to slow down your requests temporarily. Please retry after {s} \
                     seconds."
            ),
            None => "We need to slow down your requests temporarily. Please retry in a \
                         moment."
                .into(),
        },
        500..=599 => "The API is failing; try again later (`--debug` shows the requests).".into(),
        _ => "`--debug` shows the requests and responses.".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: impl Into<Error>) -> ExitCode {
        e.into().exit_code()
    }

    fn http(status: u16) -> ApiError {
        ApiError::Http {
            status,
            message: "x".into(),
            method: "GET",
            path: "/v7/x".into(),
            retry_after: None,
            host: "api.example.com".into(),
            attempts: 4,
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(code(ApiError::NotLoggedIn), ExitCode::Auth);
        assert_eq!(code(http(403)), ExitCode::Auth);
        assert_eq!(code(http(400)), ExitCode::Refused);
        assert_eq!(code(http(409)), ExitCode::Refused);
        assert_eq!(code(http(500)), ExitCode::Network);
        assert_eq!(code(http(503)), ExitCode::Network);
        assert_eq!(code(http(429)), ExitCode::Network);
        assert_eq!(code(http(404)), ExitCode::Other);
        assert_eq!(
            code(ApiError::Network {
                detail: "refused".into()
            }),
            ExitCode::Network
        );
        assert_eq!(
            code(ApiError::Timeout { detail: "t".into() }),
            ExitCode::Network
        );
        assert_eq!(
            code(ApiError::InsecureUrl {
                host: "example.com".into()
            }),
            ExitCode::Other
        );
        assert_eq!(code(Error::FleetNotFound("x".into())), ExitCode::NotFound);
        assert_eq!(code(Error::DeviceNotFound("x".into())), ExitCode::NotFound);
        assert_eq!(
            code(Error::ReleaseNotFound {
                arg: "x".into(),
                fleet: None
            }),
            ExitCode::NotFound
        );
        assert_eq!(
            code(Error::FleetAmbiguous {
                arg: "x".into(),
                candidates: vec![]
            }),
            ExitCode::Ambiguous
        );
        assert_eq!(
            code(Error::ReleaseNotPinnable {
                arg: "x".into(),
                status: "failed".into(),
                fleet: "o/f".into()
            }),
            ExitCode::Refused
        );
        assert_eq!(code(Error::TokenRejected), ExitCode::Auth);
        assert_eq!(code(Error::InvalidCredentials), ExitCode::Auth);
        assert_eq!(code(usage("m", "h")), ExitCode::Usage);
        assert_eq!(
            code(Error::WaitTimeout {
                behind: vec!["abc".into()]
            }),
            ExitCode::WaitTimeout
        );
        assert_eq!(
            code(Error::PartialFailure {
                failed: 1,
                total: 3,
                what: "devices".into(),
                dry_run: false,
            }),
            ExitCode::Partial
        );
        assert_eq!(
            code(Error::Output {
                detail: "No space left on device".into()
            }),
            ExitCode::Other
        );
        assert_eq!(
            code(Error::Interrupted {
                done: String::new()
            })
            .code(),
            130
        );
        assert_eq!(
            code(Error::NoEarlierRelease {
                current: "a1b2c3d".into(),
                fleet: "o/f".into()
            }),
            ExitCode::NotFound
        );
        assert_eq!(ExitCode::Partial.code(), 9);
        let lost = ApiError::Timeout { detail: "t".into() };
        assert_eq!(
            code(Error::WriteNotApplied {
                what: "fleet o/f".into(),
                cause: Box::new(lost.clone())
            }),
            ExitCode::Network
        );
        let e = Error::OutcomeUnknown {
            what: "fleet o/f".into(),
            change: "should_be_running__release = 1".into(),
            check: "balena fleet pin o/f".into(),
            cause: Box::new(lost.clone()),
            read_back: Box::new(lost),
        };
        assert_eq!(e.exit_code().code(), 10);
        assert!(e
            .to_string()
            .starts_with("outcome unknown: the change to fleet o/f was sent"));
        assert!(!e.hint().unwrap().contains("later"));
        assert!(EXIT_CODES_HELP.contains(" 10  outcome unknown"));
    }

    #[test]
    fn proxy_errors() {
        let dead = Error::from(ApiError::Proxy {
            detail: "cannot connect to the proxy http://127.0.0.1:9: refused".into(),
            proxy: "http://127.0.0.1:9".into(),
            setting: "HTTPS_PROXY".into(),
            auth_required: false,
        });
        assert_eq!(dead.name(), "BalenaNetworkError");
        assert_eq!(dead.exit_code(), ExitCode::Network);
        assert_eq!(
            dead.to_string(),
            "network error: cannot connect to the proxy http://127.0.0.1:9: refused"
        );
        assert!(dead
            .hint()
            .unwrap()
            .starts_with("Check that the proxy http://127.0.0.1:9 (from HTTPS_PROXY) is running"));
        let auth = Error::from(ApiError::Proxy {
            detail: "the proxy asks for credentials".into(),
            proxy: "http://p:1".into(),
            setting: "/home/u/.balenarc.yml".into(),
            auth_required: true,
        });
        assert!(auth.hint().unwrap().contains("proxyAuth"));
        let bad = |file: bool, setting: &str| {
            Error::from(ConfigError::Proxy {
                setting: setting.into(),
                file,
                detail: "x".into(),
            })
        };
        let e = bad(false, "BALENARC_PROXY");
        assert_eq!(e.name(), "BalenaSettingsError");
        assert_eq!(e.exit_code(), ExitCode::Other);
        assert_eq!(e.to_string(), "invalid proxy setting in BALENARC_PROXY: x");
        assert!(e
            .hint()
            .unwrap()
            .starts_with("Fix or unset BALENARC_PROXY: "));
        let e = bad(true, "/h/.balenarc.yml");
        assert!(e
            .hint()
            .unwrap()
            .starts_with("Fix or remove the proxy setting in /h/.balenarc.yml: "));
    }

    #[test]
    fn messages_names_hints_and_lists() {
        let e = Error::FleetNotFound("myorg/x".into());
        assert_eq!(e.to_string(), "Application not found: myorg/x");
        assert_eq!(e.name(), "BalenaApplicationNotFound");
        assert!(e.hint().unwrap().contains("`balena fleet list`"));
        let e = Error::from(ApiError::NotLoggedIn);
        assert!(e.is_login_required());
        assert_eq!(
            e.to_string(),
            "Login required: use the \u{201c}balena login\u{201d} command to log in."
        );
        let e = Error::from(http(400));
        assert_eq!(e.to_string(), "Request error: x");
        assert_eq!(e.name(), "BalenaRequestError");
        let e = Error::WaitTimeout {
            behind: vec!["abc (dev)".into()],
        };
        assert_eq!(e.list(), Some(("behind", &["abc (dev)".to_owned()][..])));
        assert_eq!(
            Error::DeviceAmbiguous {
                arg: "a".into(),
                candidates: vec![]
            }
            .list(),
            None
        );
    }
}
