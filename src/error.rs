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
//! | 9 | partial failure (a bulk operation failed for some devices or fleets) |

use crate::api::error::{ApiError, LOGIN_REQUIRED};
use crate::config::ConfigError;

pub const EXIT_OK: u8 = 0;
pub const EXIT_OTHER: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_AUTH: u8 = 3;
pub const EXIT_NOT_FOUND: u8 = 4;
pub const EXIT_AMBIGUOUS: u8 = 5;
pub const EXIT_REFUSED: u8 = 6;
pub const EXIT_NETWORK: u8 = 7;
/// `--wait` timed out.
pub const EXIT_WAIT_TIMEOUT: u8 = 8;
/// A bulk operation failed for some devices or fleets and succeeded for others.
pub const EXIT_PARTIAL: u8 = 9;

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
  9  partial failure (some devices or fleets failed, the others were changed)"
    };
}

/// The exit-code table, shown in the root `--help`.
pub const EXIT_CODES_HELP: &str = exit_codes_help!();

/// Errors the commands raise themselves.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
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
    #[error("Release is ambiguous: {arg}")]
    ReleaseAmbiguous {
        arg: String,
        candidates: Vec<String>,
    },
    #[error("Release {arg} has status {status}; only successful releases can be pinned")]
    ReleaseNotPinnable {
        arg: String,
        status: String,
        fleet: String,
    },
    #[error("Release {arg} belongs to fleet {other}, not to {fleet}")]
    ForeignRelease {
        arg: String,
        other: String,
        fleet: String,
    },
    #[error("Token authentication failed")]
    TokenRejected,
    #[error("{message}")]
    Usage { message: String, hint: String },
    /// `--wait` ran out of time; `behind` names the devices not yet on their target.
    #[error("timed out waiting for {} device(s) to run their target release", behind.len())]
    WaitTimeout { behind: Vec<String> },
    /// A bulk operation failed for some items and succeeded for the others.
    #[error("{failed} of {total} {what} failed; the others were processed")]
    PartialFailure {
        failed: usize,
        total: usize,
        /// `devices`
        what: String,
    },
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
}

/// Everything needed to print an error and exit.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub name: String,
    pub message: String,
    pub exit_code: u8,
    pub hint: Option<String>,
    /// Items the error names: the candidates of an ambiguity, or the devices still behind.
    pub candidates: Vec<String>,
    /// What those items are: `candidates`, or `behind` for a wait timeout. It is the key of
    /// the list in the JSON error, and the heading of the list in the human one.
    pub list_key: &'static str,
}

impl Report {
    fn new(name: &str, message: String, exit_code: u8, hint: Option<String>) -> Report {
        Report {
            name: name.to_owned(),
            message,
            exit_code,
            hint,
            candidates: Vec::new(),
            list_key: "candidates",
        }
    }

    /// Whether this is the official CLI's "Login required" error, printed byte-compatibly.
    pub fn is_login_required(&self) -> bool {
        self.message == LOGIN_REQUIRED
    }
}

/// Walks the error chain and classifies the first error we know.
pub fn classify(err: &anyhow::Error) -> Report {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return classify_cli(e);
        }
        if let Some(e) = cause.downcast_ref::<ApiError>() {
            return classify_api(e);
        }
        if let Some(e) = cause.downcast_ref::<ConfigError>() {
            return Report::new(
                "BalenaSettingsError",
                e.to_string(),
                EXIT_OTHER,
                Some(
                    "Fix the setting in ~/.balenarc.yml, ./balenarc.yml or the BALENARC_* \
                     environment variables."
                        .into(),
                ),
            );
        }
    }
    Report::new("Error", format!("{err:#}"), EXIT_OTHER, None)
}

fn classify_cli(e: &CliError) -> Report {
    let msg = e.to_string();
    match e {
        CliError::FleetNotFound(_) => Report::new(
            "BalenaApplicationNotFound",
            msg,
            EXIT_NOT_FOUND,
            Some(
                "Check the fleet's slug (org/name), name, uuid or id; `balena fleet list` shows \
                 the fleets you can access."
                    .into(),
            ),
        ),
        CliError::FleetAmbiguous { candidates, .. } => Report {
            candidates: candidates.clone(),
            ..Report::new(
                "BalenaAmbiguousApplication",
                msg,
                EXIT_AMBIGUOUS,
                Some("Name the fleet by its slug (org/name) or numeric id.".into()),
            )
        },
        CliError::DeviceNotFound(_) => Report::new(
            "BalenaDeviceNotFound",
            msg,
            EXIT_NOT_FOUND,
            Some(
                "Check the uuid; `balena device list --fleet <fleet>` shows the devices of a \
                 fleet."
                    .into(),
            ),
        ),
        CliError::DeviceAmbiguous { candidates, .. } => Report {
            candidates: candidates.clone(),
            ..Report::new(
                "BalenaAmbiguousDevice",
                msg,
                EXIT_AMBIGUOUS,
                Some("Give more characters of the uuid.".into()),
            )
        },
        CliError::ReleaseNotFound { fleet, .. } => Report::new(
            "BalenaReleaseNotFound",
            msg,
            EXIT_NOT_FOUND,
            Some(match fleet {
                Some(f) => format!("Run `balena release list {f}` to see the releases of the fleet."),
                None => "Give a full commit, a commit prefix, a release id or a version; `balena release list <fleet>` lists a fleet's releases.".into(),
            }),
        ),
        CliError::ReleaseAmbiguous { candidates, .. } => Report {
            candidates: candidates.clone(),
            ..Report::new(
                "BalenaAmbiguousRelease",
                msg,
                EXIT_AMBIGUOUS,
                Some("Name the release by its full commit or its id.".into()),
            )
        },
        CliError::ReleaseNotPinnable { fleet, .. } => Report::new(
            "BalenaReleaseNotPinnable",
            msg,
            EXIT_REFUSED,
            Some(format!(
                "Pick a release with status success: `balena release list {fleet}`."
            )),
        ),
        CliError::ForeignRelease { fleet, .. } => Report::new(
            "BalenaForeignRelease",
            msg,
            EXIT_REFUSED,
            Some(format!(
                "Only releases of {fleet} can be pinned there: `balena release list {fleet}`."
            )),
        ),
        CliError::TokenRejected => Report::new(
            "BalenaTokenAuthenticationFailed",
            msg,
            EXIT_AUTH,
            Some(
                "Check the token (a session token or an API key from the dashboard's \
                 preferences); nothing was saved."
                    .into(),
            ),
        ),
        CliError::Usage { hint, .. } => Report::new(
            "BalenaInvalidParameterError",
            msg,
            EXIT_USAGE,
            Some(hint.clone()),
        ),
        CliError::WaitTimeout { behind } => Report {
            candidates: behind.clone(),
            list_key: "behind",
            ..Report::new(
                "BalenaWaitTimeout",
                msg,
                EXIT_WAIT_TIMEOUT,
                Some(
                    "The change was made; the devices listed have not reached their target \
                     yet. Check them with `balena device list --fleet <fleet>` (or \
                     `balena device <uuid>`), or wait longer with --timeout (e.g. --timeout 30m)."
                        .into(),
                ),
            )
        },
        CliError::PartialFailure { .. } => Report::new(
            "BalenaPartialFailure",
            msg,
            EXIT_PARTIAL,
            Some(
                "The failures are listed above (with --json, in \"results\" with an \"error\"); \
                 fix them and run the command again for those devices."
                    .into(),
            ),
        ),
        CliError::NoEarlierRelease { fleet, .. } => Report::new(
            "BalenaNoEarlierRelease",
            msg,
            EXIT_NOT_FOUND,
            Some(format!(
                "Nothing was changed. `balena release list {fleet}` shows the fleet's releases; \
                 pin one with `balena fleet pin {fleet} <release>`."
            )),
        ),
        CliError::NoTarget { fleet } => Report::new(
            "BalenaNoTargetRelease",
            msg,
            EXIT_NOT_FOUND,
            Some(format!(
                "Pin the fleet to a release first: `balena fleet pin {fleet} <release>`."
            )),
        ),
        CliError::NoDevicesSelected { .. } => Report::new(
            "BalenaDeviceNotFound",
            msg,
            EXIT_NOT_FOUND,
            Some(
                "Check the fleet and the --tag KEY[=VALUE] filters; `balena device list --fleet \
                 <fleet>` shows the fleet's devices. Nothing was changed."
                    .into(),
            ),
        ),
        CliError::NoPinnableRelease { fleet } => Report::new(
            "BalenaReleaseNotFound",
            msg,
            EXIT_NOT_FOUND,
            Some(format!(
                "`balena release list {fleet}` shows the fleet's releases and their status."
            )),
        ),
    }
}

fn classify_api(e: &ApiError) -> Report {
    let msg = e.to_string();
    match e {
        ApiError::NotLoggedIn => Report::new(
            "NotLoggedInError",
            msg,
            EXIT_AUTH,
            Some("Run `balena login --token <token>`, or set BALENA_API_KEY.".into()),
        ),
        ApiError::Http {
            status,
            retry_after,
            ..
        } => {
            let (code, hint) = match status {
                400 | 409 => (
                    EXIT_REFUSED,
                    "The server refused the change because of its rules; nothing was modified."
                        .to_owned(),
                ),
                403 => (
                    EXIT_AUTH,
                    "The credentials in use are not allowed to do this; check the account or \
                     API key (`balena whoami`)."
                        .to_owned(),
                ),
                429 => (
                    EXIT_NETWORK,
                    match retry_after {
                        Some(s) => format!(
                            "We need to slow down your requests temporarily. Please retry \
                             after {s} seconds."
                        ),
                        None => "We need to slow down your requests temporarily. Please retry \
                                 in a moment."
                            .to_owned(),
                    },
                ),
                500..=599 => (
                    EXIT_NETWORK,
                    "The API is failing; try again later (`--debug` shows the requests)."
                        .to_owned(),
                ),
                _ => (
                    EXIT_OTHER,
                    "`--debug` shows the requests and responses.".to_owned(),
                ),
            };
            Report::new("BalenaRequestError", msg, code, Some(hint))
        }
        ApiError::Network { .. } => Report::new(
            "BalenaNetworkError",
            msg,
            EXIT_NETWORK,
            Some(
                "Check the network and the balenaUrl/apiUrl setting (HTTPS_PROXY and NO_PROXY \
                 are honoured)."
                    .into(),
            ),
        ),
        ApiError::Timeout { .. } => Report::new(
            "BalenaTimeoutError",
            msg,
            EXIT_NETWORK,
            Some(
                "Retry later, or raise connectTimeout/requestTimeout (seconds) in balenarc or \
                 BALENARC_CONNECT_TIMEOUT/BALENARC_REQUEST_TIMEOUT."
                    .into(),
            ),
        ),
        ApiError::Decode { .. } => Report::new(
            "BalenaInvalidResponse",
            msg,
            EXIT_OTHER,
            Some(
                "Check that apiUrl/balenaUrl point at a balena API (`--debug` shows the requests)."
                    .into(),
            ),
        ),
        ApiError::InsecureUrl { .. } => Report::new(
            "BalenaInsecureUrl",
            msg,
            EXIT_OTHER,
            Some(
                "Use an https:// apiUrl; plain http is only allowed to loopback addresses \
                 (127.0.0.1, ::1, localhost)."
                    .into(),
            ),
        ),
        ApiError::BadUrl { .. } => Report::new(
            "BalenaSettingsError",
            msg,
            EXIT_OTHER,
            Some("Fix the apiUrl/balenaUrl setting.".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: impl Into<anyhow::Error>) -> u8 {
        classify(&e.into()).exit_code
    }

    fn http(status: u16) -> ApiError {
        ApiError::Http {
            status,
            message: "x".into(),
            method: "GET",
            path: "/v7/x".into(),
            retry_after: None,
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(code(ApiError::NotLoggedIn), EXIT_AUTH);
        assert_eq!(code(http(403)), EXIT_AUTH);
        assert_eq!(code(http(400)), EXIT_REFUSED);
        assert_eq!(code(http(409)), EXIT_REFUSED);
        assert_eq!(code(http(500)), EXIT_NETWORK);
        assert_eq!(code(http(503)), EXIT_NETWORK);
        assert_eq!(code(http(429)), EXIT_NETWORK);
        assert_eq!(code(http(404)), EXIT_OTHER);
        assert_eq!(
            code(ApiError::Network {
                detail: "refused".into()
            }),
            EXIT_NETWORK
        );
        assert_eq!(code(ApiError::Timeout { detail: "t".into() }), EXIT_NETWORK);
        assert_eq!(
            code(ApiError::InsecureUrl {
                host: "example.com".into()
            }),
            EXIT_OTHER
        );
        assert_eq!(code(CliError::FleetNotFound("x".into())), EXIT_NOT_FOUND);
        assert_eq!(code(CliError::DeviceNotFound("x".into())), EXIT_NOT_FOUND);
        assert_eq!(
            code(CliError::ReleaseNotFound {
                arg: "x".into(),
                fleet: None
            }),
            EXIT_NOT_FOUND
        );
        assert_eq!(
            code(CliError::FleetAmbiguous {
                arg: "x".into(),
                candidates: vec![]
            }),
            EXIT_AMBIGUOUS
        );
        assert_eq!(
            code(CliError::ReleaseNotPinnable {
                arg: "x".into(),
                status: "failed".into(),
                fleet: "o/f".into()
            }),
            EXIT_REFUSED
        );
        assert_eq!(code(CliError::TokenRejected), EXIT_AUTH);
        assert_eq!(
            code(CliError::Usage {
                message: "m".into(),
                hint: "h".into()
            }),
            EXIT_USAGE
        );
        assert_eq!(code(anyhow::anyhow!("boom")), EXIT_OTHER);
        assert_eq!(
            code(CliError::WaitTimeout {
                behind: vec!["abc".into()]
            }),
            EXIT_WAIT_TIMEOUT
        );
        assert_eq!(
            code(CliError::PartialFailure {
                failed: 1,
                total: 3,
                what: "devices".into()
            }),
            EXIT_PARTIAL
        );
        assert_eq!(
            code(CliError::NoEarlierRelease {
                current: "a1b2c3d".into(),
                fleet: "o/f".into()
            }),
            EXIT_NOT_FOUND
        );
        // Context layers do not hide the typed error.
        let e = anyhow::Error::new(ApiError::NotLoggedIn).context("while pinning");
        assert_eq!(classify(&e).exit_code, EXIT_AUTH);
    }

    #[test]
    fn messages_and_names() {
        let r = classify(&CliError::FleetNotFound("myorg/x".into()).into());
        assert_eq!(r.message, "Application not found: myorg/x");
        assert_eq!(r.name, "BalenaApplicationNotFound");
        let r = classify(&ApiError::NotLoggedIn.into());
        assert!(r.is_login_required());
        assert_eq!(
            r.message,
            "Login required: use the \u{201c}balena login\u{201d} command to log in."
        );
        let r = classify(&http(400).into());
        assert_eq!(r.message, "Request error: x");
        assert_eq!(r.name, "BalenaRequestError");
    }
}
