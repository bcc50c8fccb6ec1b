//! Settings and credentials, compatible with balena-settings-client / balena-settings-storage.
//!
//! Merge order (later wins): defaults, `~/.balenarc.yml`, `./balenarc.yml` (no leading dot,
//! as the official client really reads it), then non-empty `BALENARC_*` environment
//! variables, camelCased (`BALENARC_API_URL` → `apiUrl`).
//!
//! Keys used: `balenaUrl`, `apiUrl`, `dataDirectory`, and (ours) `connectTimeout` /
//! `requestTimeout` in seconds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

pub const DEFAULT_BALENA_URL: &str = "balena-cloud.com";
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error("Error parsing config file {path}: {detail}")]
    Parse { path: String, detail: String },
    /// A settings file that exists but can't be read (permissions, a folder, not UTF-8).
    #[error("cannot read the config file {path}: {detail}")]
    Unreadable { path: String, detail: String },
    #[error("invalid setting {key}: {detail}")]
    Invalid { key: String, detail: String },
    #[error("cannot {action} the token file {path}: {detail}")]
    TokenFile {
        action: &'static str,
        path: String,
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub balena_url: String,
    /// `apiUrl` when set explicitly.
    pub api_url: Option<String>,
    pub data_directory: PathBuf,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

/// Where the token came from (for `--debug`; the token itself is never shown).
#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    Env(&'static str),
    File(PathBuf),
}

impl Settings {
    /// Reads the real files and environment.
    pub fn load() -> Result<Settings, ConfigError> {
        let home = dirs::home_dir();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let env: Vec<(String, String)> = std::env::vars().collect();
        Settings::from_sources(home.as_deref(), &cwd, &env)
    }

    /// The merge, with every input explicit (unit-testable).
    pub fn from_sources(
        home: Option<&Path>,
        cwd: &Path,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigError> {
        let mut merged = Map::new();
        if let Some(h) = home {
            merge_file(&mut merged, &h.join(".balenarc.yml"))?;
        }
        merge_file(&mut merged, &cwd.join("balenarc.yml"))?;
        for (k, v) in env {
            if v.is_empty() {
                continue;
            }
            if let Some(key) = env_key(k) {
                merged.insert(key, Value::String(v.clone()));
            }
        }

        let get_str = |key: &str| -> Option<String> {
            match merged.get(key) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            }
        };
        let balena_url = get_str("balenaUrl").unwrap_or_else(|| DEFAULT_BALENA_URL.to_owned());
        let api_url = get_str("apiUrl");
        let data_directory = match get_str("dataDirectory") {
            Some(d) => PathBuf::from(d),
            None => home
                .map(Path::to_path_buf)
                .unwrap_or_else(std::env::temp_dir)
                .join(".balena"),
        };
        let connect_timeout =
            seconds(&merged, "connectTimeout")?.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let request_timeout =
            seconds(&merged, "requestTimeout")?.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        Ok(Settings {
            balena_url,
            api_url,
            data_directory,
            connect_timeout,
            request_timeout,
        })
    }

    /// The API origin: `apiUrl` without its path, or `https://api.<balenaUrl>`.
    pub fn api_origin(&self) -> Result<String, ConfigError> {
        let raw = match &self.api_url {
            Some(u) => u.clone(),
            None => format!("https://api.{}", self.balena_url),
        };
        let url = balena_api::Url::parse(&raw).map_err(|e| ConfigError::Invalid {
            key: "apiUrl".into(),
            detail: format!("{raw:?}: {e}"),
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(ConfigError::Invalid {
                key: "apiUrl".into(),
                detail: format!("{raw:?}: only http and https URLs are supported"),
            });
        }
        // The API lives at the root of its origin (`/v7`, `/actor`, `/login_`): a path would
        // be dropped in silence, so it is refused instead.
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(ConfigError::Invalid {
                key: "apiUrl".into(),
                detail: format!(
                    "{raw:?}: has a path or query; give the origin only, e.g. {}",
                    url.origin().ascii_serialization()
                ),
            });
        }
        Ok(url.origin().ascii_serialization())
    }

    /// The dashboard origin, derived like the SDK: the first `api` in the API URL becomes
    /// `dashboard`.
    pub fn dashboard_origin(&self) -> Option<String> {
        let origin = self.api_origin().ok()?;
        Some(origin.replacen("api", "dashboard", 1))
    }

    pub fn token_path(&self) -> PathBuf {
        self.data_directory.join("token")
    }

    /// The credentials: `BALENA_API_KEY`, then `BALENA_TOKEN`, then `<dataDirectory>/token`.
    pub fn load_token_from(
        &self,
        env: &[(String, String)],
    ) -> Result<Option<(String, TokenSource)>, ConfigError> {
        for name in ["BALENA_API_KEY", "BALENA_TOKEN"] {
            if let Some((_, v)) = env.iter().find(|(k, _)| k == name) {
                let t = v.trim();
                if !t.is_empty() {
                    return Ok(Some((t.to_owned(), TokenSource::Env(name))));
                }
            }
        }
        let path = self.token_path();
        match std::fs::read_to_string(&path) {
            Ok(content) => Ok(parse_token(&content).map(|t| (t, TokenSource::File(path)))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ConfigError::TokenFile {
                action: "read",
                path: path.display().to_string(),
                detail: e.to_string(),
            }),
        }
    }

    pub fn load_token(&self) -> Result<Option<(String, TokenSource)>, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        self.load_token_from(&env)
    }

    /// Writes the token file with mode 0600 (atomically: temp file + rename).
    pub fn save_token(&self, token: &str) -> Result<PathBuf, ConfigError> {
        let path = self.token_path();
        let err = |action: &'static str, e: std::io::Error| ConfigError::TokenFile {
            action,
            path: path.display().to_string(),
            detail: e.to_string(),
        };
        create_private_dir(&self.data_directory).map_err(|e| err("create the folder of", e))?;
        let tmp = self
            .data_directory
            .join(format!(".token.{}.tmp", std::process::id()));
        write_private(&tmp, token.as_bytes()).map_err(|e| err("write", e))?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err("write", e)
        })?;
        Ok(path)
    }

    /// Removes the token file. `Ok(false)` if there was none.
    pub fn remove_token(&self) -> Result<bool, ConfigError> {
        let path = self.token_path();
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(ConfigError::TokenFile {
                action: "remove",
                path: path.display().to_string(),
                detail: e.to_string(),
            }),
        }
    }
}

/// The token file's content: trimmed; a JSON-quoted string is unquoted; a number is
/// rejected (as balena-settings-storage does), as is an empty file.
pub fn parse_token(content: &str) -> Option<String> {
    let t = content.trim();
    if t.is_empty() {
        return None;
    }
    let numeric = {
        let s = t.strip_prefix('-').unwrap_or(t);
        let (int, frac) = match s.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()))
    };
    if numeric {
        return None;
    }
    if t.starts_with('"') {
        if let Ok(Value::String(s)) = serde_json::from_str::<Value>(t) {
            let s = s.trim().to_owned();
            return if s.is_empty() { None } else { Some(s) };
        }
    }
    Some(t.to_owned())
}

/// `BALENARC_API_URL` → `apiUrl` (prefix matched case-insensitively; `RESINRC_` too).
pub fn env_key(name: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    let rest = upper
        .strip_prefix("BALENARC_")
        .or_else(|| upper.strip_prefix("RESINRC_"))?;
    let rest = rest.replace("RESIN", "BALENA");
    let mut out = String::new();
    for (i, word) in rest.split('_').filter(|w| !w.is_empty()).enumerate() {
        let w = word.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&w);
        } else {
            let mut cs = w.chars();
            if let Some(c) = cs.next() {
                out.push(c.to_ascii_uppercase());
                out.extend(cs);
            }
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

fn merge_file(merged: &mut Map<String, Value>, path: &Path) -> Result<(), ConfigError> {
    // Only a missing file is skipped: one that exists but can't be read is an error, so a
    // command never falls back to the defaults (balenaCloud) in silence.
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(ConfigError::Unreadable {
                path: path.display().to_string(),
                detail: e.to_string(),
            })
        }
    };
    let v: Value = serde_yaml_ng::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    match v {
        Value::Object(m) => {
            deep_merge(merged, m);
            Ok(())
        }
        Value::Null => Ok(()),
        _ => Err(ConfigError::Parse {
            path: path.display().to_string(),
            detail: "expected a mapping of settings".into(),
        }),
    }
}

fn deep_merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => deep_merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn seconds(m: &Map<String, Value>, key: &str) -> Result<Option<Duration>, ConfigError> {
    let n = match m.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match n {
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        _ => Err(ConfigError::Invalid {
            key: key.into(),
            detail: "expected a positive number of seconds".into(),
        }),
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn env_keys_are_camel_cased() {
        assert_eq!(env_key("BALENARC_BALENA_URL").as_deref(), Some("balenaUrl"));
        assert_eq!(env_key("BALENARC_API_URL").as_deref(), Some("apiUrl"));
        assert_eq!(
            env_key("BALENARC_DATA_DIRECTORY").as_deref(),
            Some("dataDirectory")
        );
        assert_eq!(
            env_key("balenarc_request_timeout").as_deref(),
            Some("requestTimeout")
        );
        assert_eq!(env_key("RESINRC_RESIN_URL").as_deref(), Some("balenaUrl"));
        assert_eq!(env_key("HOME"), None);
    }

    #[test]
    fn merge_order_home_then_cwd_then_env() {
        let home = tempfile::tempdir().unwrap();
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join(".balenarc.yml"),
            "balenaUrl: home.example\ndataDirectory: /data/home\nrequestTimeout: 5\n",
        )
        .unwrap();
        std::fs::write(cwd.path().join("balenarc.yml"), "balenaUrl: cwd.example\n").unwrap();
        // A dotted file in the cwd is ignored, like the official client.
        std::fs::write(cwd.path().join(".balenarc.yml"), "balenaUrl: dot.example\n").unwrap();
        let s = Settings::from_sources(Some(home.path()), cwd.path(), &[]).unwrap();
        assert_eq!(s.balena_url, "cwd.example");
        assert_eq!(s.data_directory, PathBuf::from("/data/home"));
        assert_eq!(s.request_timeout, Duration::from_secs(5));
        assert_eq!(s.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(s.api_origin().unwrap(), "https://api.cwd.example");

        let e = env(&[
            ("BALENARC_DATA_DIRECTORY", "/data/env"),
            ("BALENARC_API_URL", "http://127.0.0.1:48080/"),
            ("BALENARC_BALENA_URL", ""),
            ("BALENARC_CONNECT_TIMEOUT", "2.5"),
        ]);
        let s = Settings::from_sources(Some(home.path()), cwd.path(), &e).unwrap();
        assert_eq!(s.balena_url, "cwd.example");
        assert_eq!(s.data_directory, PathBuf::from("/data/env"));
        assert_eq!(s.api_origin().unwrap(), "http://127.0.0.1:48080");
        assert_eq!(s.connect_timeout, Duration::from_millis(2500));
        assert_eq!(s.dashboard_origin().unwrap(), "http://127.0.0.1:48080");
        // A path is refused, not dropped in silence.
        let e = env(&[("BALENARC_API_URL", "http://127.0.0.1:48080/some/path")]);
        let s = Settings::from_sources(Some(home.path()), cwd.path(), &e).unwrap();
        assert!(matches!(s.api_origin(), Err(ConfigError::Invalid { key, .. }) if key == "apiUrl"));
    }

    #[test]
    fn defaults_and_errors() {
        let home = tempfile::tempdir().unwrap();
        let s = Settings::from_sources(Some(home.path()), home.path(), &[]).unwrap();
        assert_eq!(s.balena_url, DEFAULT_BALENA_URL);
        assert_eq!(s.data_directory, home.path().join(".balena"));
        assert_eq!(s.api_origin().unwrap(), "https://api.balena-cloud.com");
        assert_eq!(
            s.dashboard_origin().unwrap(),
            "https://dashboard.balena-cloud.com"
        );
        std::fs::write(home.path().join(".balenarc.yml"), "a: [\n").unwrap();
        let e = Settings::from_sources(Some(home.path()), home.path(), &[]).unwrap_err();
        assert!(
            e.to_string().starts_with("Error parsing config file"),
            "{e}"
        );
        let e = Settings::from_sources(
            None,
            home.path(),
            &env(&[("BALENARC_REQUEST_TIMEOUT", "soon")]),
        );
        assert!(e.is_err());
    }

    #[test]
    fn token_parsing() {
        assert_eq!(parse_token("abc\n").as_deref(), Some("abc"));
        assert_eq!(parse_token("\"quoted\"").as_deref(), Some("quoted"));
        assert_eq!(parse_token("12345"), None);
        assert_eq!(parse_token("-1.5"), None);
        assert_eq!(parse_token("  "), None);
        assert_eq!(parse_token("eyJ.abc.def").as_deref(), Some("eyJ.abc.def"));
    }

    #[test]
    fn token_sources_and_file_mode() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::from_sources(
            None,
            dir.path(),
            &env(&[(
                "BALENARC_DATA_DIRECTORY",
                dir.path().join("d").to_str().unwrap(),
            )]),
        )
        .unwrap();
        assert_eq!(s.load_token_from(&[]).unwrap(), None);
        let path = s.save_token("secret").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(
            s.load_token_from(&[]).unwrap(),
            Some(("secret".into(), TokenSource::File(path.clone())))
        );
        let e = env(&[("BALENA_TOKEN", "t2"), ("BALENA_API_KEY", "k1")]);
        assert_eq!(
            s.load_token_from(&e).unwrap(),
            Some(("k1".into(), TokenSource::Env("BALENA_API_KEY")))
        );
        assert!(s.remove_token().unwrap());
        assert!(!s.remove_token().unwrap());
    }
}
