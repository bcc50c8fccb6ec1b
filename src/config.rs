//! Settings and credentials, compatible with balena-settings-client / balena-settings-storage.
//!
//! Merge order (later wins): defaults, `~/.balenarc.yml`, `./balenarc.yml` (no leading dot,
//! as the official client really reads it), then non-empty `BALENARC_*` environment
//! variables, camelCased (`BALENARC_API_URL` → `apiUrl`).
//!
//! Keys used: `balenaUrl`, `apiUrl`, `dataDirectory`, `proxy`, `noProxy`, and (ours)
//! `connectTimeout` / `requestTimeout` in seconds. The proxy settings also read
//! `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (and their lower-case names); see
//! [`ProxySettings::resolve`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use balena_api::{NoProxy, Proxy};
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
    /// A proxy setting that can't be used. `setting` is where it came from: a settings
    /// file's path (`file`) or an environment variable's name.
    #[error("invalid proxy setting in {setting}: {detail}")]
    Proxy {
        setting: String,
        file: bool,
        detail: String,
    },
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
    /// The proxy settings, as found (checked when the client is made).
    pub proxy: ProxySettings,
}

/// A value and where it came from: a settings file's path, or an environment variable's
/// name.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: String,
    /// `source` is a file.
    pub file: bool,
}

impl<T> Sourced<T> {
    fn env(value: T, name: &str) -> Sourced<T> {
        Sourced {
            value,
            source: name.to_owned(),
            file: false,
        }
    }

    fn error(&self, detail: String) -> ConfigError {
        ConfigError::Proxy {
            setting: self.source.clone(),
            file: self.file,
            detail,
        }
    }
}

/// The proxy settings of every source, unparsed: [`ProxySettings::resolve`] picks and
/// checks the ones that apply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProxySettings {
    /// The `proxy` setting (a balenarc file or `BALENARC_PROXY`): a URL, or an object of
    /// `protocol`, `host`, `port` and `proxyAuth`.
    pub proxy: Option<Sourced<Value>>,
    /// The `noProxy` setting (a balenarc file or `BALENARC_NO_PROXY`).
    pub no_proxy: Option<Sourced<Value>>,
    /// `https_proxy`, else `HTTPS_PROXY`.
    pub https_env: Option<Sourced<String>>,
    /// `http_proxy`, else `HTTP_PROXY`.
    pub http_env: Option<Sourced<String>>,
    /// `no_proxy` and `NO_PROXY`.
    pub no_proxy_env: Vec<Sourced<String>>,
}

/// The hosts the official CLI never proxies unless `noProxy` is set: `*.local` and the
/// private IPv4 ranges. (Loopback is never proxied at all: the client sees to that.)
pub const DEFAULT_NO_PROXY: &str = "*.local,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16";

impl ProxySettings {
    /// The proxy for an API at `api_origin`, and the hosts that bypass it.
    ///
    /// The proxy: the `proxy` setting (`BALENARC_PROXY` wins over the files, as for every
    /// setting); without one, `https_proxy`/`HTTPS_PROXY` for an https API and
    /// `http_proxy`/`HTTP_PROXY` for an http one (the lower-case name first). `ALL_PROXY`
    /// is not read. The first one set is the one used: a malformed one is an error naming
    /// where it came from, never skipped.
    ///
    /// The hosts that bypass it: `NO_PROXY` and `no_proxy`, plus the `noProxy` setting or,
    /// when it is not set, [`DEFAULT_NO_PROXY`].
    pub fn resolve(&self, api_origin: &str) -> Result<(Option<Proxy>, NoProxy), ConfigError> {
        let proxy = match &self.proxy {
            Some(s) => proxy_setting(s)?,
            None => {
                let env = if api_origin.starts_with("https:") {
                    &self.https_env
                } else {
                    &self.http_env
                };
                match env {
                    Some(e) => Some(Proxy::parse(&e.value, &e.source).map_err(|d| e.error(d))?),
                    None => None,
                }
            }
        };
        let mut no_proxy = NoProxy::default();
        for e in &self.no_proxy_env {
            no_proxy.extend(NoProxy::parse(&e.value));
        }
        match &self.no_proxy {
            Some(s) => no_proxy.extend(NoProxy::parse(&no_proxy_list(s)?)),
            None => no_proxy.extend(NoProxy::parse(DEFAULT_NO_PROXY)),
        }
        Ok((proxy, no_proxy))
    }
}

/// The `proxy` setting: a URL, or the object form of global-tunnel-ng that the official
/// CLI accepts (`protocol` such as `http` or `http:`, `host`, `port`, `proxyAuth` as
/// `user:password`; other keys ignored).
fn proxy_setting(s: &Sourced<Value>) -> Result<Option<Proxy>, ConfigError> {
    let err = |d: String| s.error(d);
    match &s.value {
        Value::String(t) => Proxy::parse(t, &s.source).map(Some).map_err(err),
        Value::Object(m) => {
            let text = |key: &str| -> Result<Option<&str>, ConfigError> {
                match m.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(t)) => Ok(Some(t.as_str())),
                    Some(v) => Err(err(format!("proxy.{key} must be text, not {v}"))),
                }
            };
            // `http`, `http:`, `http://` (the official keeps what comes before `:` or `/`).
            let scheme = text("protocol")?
                .map(|p| p.trim().split([':', '/']).next().unwrap_or("").to_owned())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "http".into());
            let host = text("host")?
                .filter(|h| !h.trim().is_empty())
                .ok_or_else(|| err("proxy.host is missing: give the proxy's host name".into()))?;
            let port = match m.get("port") {
                None | Some(Value::Null) => None,
                Some(v) => {
                    let n = match v {
                        Value::Number(n) => n.as_u64(),
                        Value::String(t) if !t.trim().is_empty() => t.trim().parse::<u64>().ok(),
                        _ => None,
                    };
                    match n.and_then(|n| u16::try_from(n).ok()).filter(|&n| n > 0) {
                        Some(p) => Some(p),
                        None => {
                            return Err(err(format!(
                                "proxy.port {v} is not a port number (1 to 65535)"
                            )))
                        }
                    }
                }
            };
            let (user, password) = match text("proxyAuth")? {
                Some(a) => match a.split_once(':') {
                    Some((u, p)) => (Some(u), Some(p)),
                    None => (Some(a), None),
                },
                None => (None, None),
            };
            Proxy::from_parts(&scheme, host, port, user, password, &s.source)
                .map(Some)
                .map_err(|d| err(format!("proxy: {d}")))
        }
        v => Err(err(format!(
            "expected a URL (http://user:password@host:port) or an object of protocol, host, \
             port and proxyAuth, not {v}"
        ))),
    }
}

/// The `noProxy` setting: a comma-separated list, or a list of hosts.
fn no_proxy_list(s: &Sourced<Value>) -> Result<String, ConfigError> {
    match &s.value {
        Value::String(t) => Ok(t.clone()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(t) => Ok(t.clone()),
                v => Err(s.error(format!("noProxy: {v} is not a host"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(",")),
        v => Err(s.error(format!(
            "noProxy must be a comma-separated list of hosts, not {v}"
        ))),
    }
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
        // Where each key was last set: (a file's path or a variable's name, is a file).
        let mut sources: std::collections::HashMap<String, (String, bool)> = Default::default();
        let mut files = vec![cwd.join("balenarc.yml")];
        if let Some(h) = home {
            files.insert(0, h.join(".balenarc.yml"));
        }
        for f in &files {
            for key in merge_file(&mut merged, f)? {
                sources.insert(key, (f.display().to_string(), true));
            }
        }
        for (k, v) in env {
            if v.is_empty() {
                continue;
            }
            if let Some(key) = env_key(k) {
                sources.insert(key.clone(), (k.clone(), false));
                merged.insert(key, Value::String(v.clone()));
            }
        }
        let mut proxy_env = ProxySettings::default();
        // The lower-case name wins, as in the official CLI (and curl).
        let first = |names: [&str; 2]| {
            names.iter().find_map(|n| {
                env.iter()
                    .find(|(k, v)| k == n && !v.trim().is_empty())
                    .map(|(k, v)| Sourced::env(v.clone(), k))
            })
        };
        proxy_env.https_env = first(["https_proxy", "HTTPS_PROXY"]);
        proxy_env.http_env = first(["http_proxy", "HTTP_PROXY"]);
        proxy_env.no_proxy_env = env
            .iter()
            .filter(|(k, v)| (k == "no_proxy" || k == "NO_PROXY") && !v.trim().is_empty())
            .map(|(k, v)| Sourced::env(v.clone(), k))
            .collect();
        // An empty or null setting is no setting (as the official CLI's `if (proxy)`).
        let sourced = |key: &str| -> Option<Sourced<Value>> {
            let value = match merged.get(key) {
                None | Some(Value::Null) => return None,
                Some(Value::String(t)) if t.trim().is_empty() => return None,
                Some(v) => v.clone(),
            };
            let (source, file) = sources.get(key).cloned().unwrap_or_default();
            Some(Sourced {
                value,
                source,
                file,
            })
        };
        proxy_env.proxy = sourced("proxy");
        proxy_env.no_proxy = sourced("noProxy");

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
            proxy: proxy_env,
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

/// Merges the settings file at `path` (if it exists) into `merged`: the keys it set.
fn merge_file(merged: &mut Map<String, Value>, path: &Path) -> Result<Vec<String>, ConfigError> {
    // Only a missing file is skipped: one that exists but can't be read is an error, so a
    // command never falls back to the defaults (balenaCloud) in silence.
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
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
            let keys = m.keys().cloned().collect();
            deep_merge(merged, m);
            Ok(keys)
        }
        Value::Null => Ok(Vec::new()),
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

    fn resolve(
        home: &Path,
        rc: &str,
        pairs: &[(&str, &str)],
        api: &str,
    ) -> Result<(Option<Proxy>, NoProxy), ConfigError> {
        std::fs::write(home.join(".balenarc.yml"), rc).unwrap();
        let s = Settings::from_sources(Some(home), home, &env(pairs))?;
        s.proxy.resolve(api)
    }

    fn proxy_of(r: Result<(Option<Proxy>, NoProxy), ConfigError>) -> Option<(String, String)> {
        r.unwrap().0.map(|p| (p.redacted(), p.source().to_owned()))
    }

    #[test]
    fn proxy_precedence() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let rc_path = h.join(".balenarc.yml").display().to_string();
        let https = "https://api.example.test";
        let all_env = [
            ("HTTPS_PROXY", "http://upper-s:1"),
            ("https_proxy", "http://lower-s:2"),
            ("HTTP_PROXY", "http://upper:3"),
            ("http_proxy", "http://lower:4"),
            ("ALL_PROXY", "http://all:5"),
        ];
        // Nothing set: no proxy; ALL_PROXY alone is not read.
        assert_eq!(proxy_of(resolve(h, "", &[], https)), None);
        assert_eq!(
            proxy_of(resolve(h, "", &[("ALL_PROXY", "http://all:5")], https)),
            None
        );
        // The environment: the scheme's variable, the lower-case name first.
        assert_eq!(
            proxy_of(resolve(h, "", &all_env, https)),
            Some(("http://lower-s:2".into(), "https_proxy".into()))
        );
        assert_eq!(
            proxy_of(resolve(h, "", &all_env[..1], https)),
            Some(("http://upper-s:1".into(), "HTTPS_PROXY".into()))
        );
        assert_eq!(
            proxy_of(resolve(h, "", &all_env, "http://api.example.test")),
            Some(("http://lower:4".into(), "http_proxy".into()))
        );
        // HTTP_PROXY is for http APIs only.
        assert_eq!(proxy_of(resolve(h, "", &all_env[2..3], https)), None);
        // The balenarc setting wins over the environment's variables…
        let rc = "proxy: http://alice:s3cret@rc-proxy:3128\n";
        assert_eq!(
            proxy_of(resolve(h, rc, &all_env, https)),
            Some((
                "http://alice:<redacted>@rc-proxy:3128".into(),
                rc_path.clone()
            ))
        );
        // …and for an http API too (one proxy for both, as the official CLI).
        assert_eq!(
            proxy_of(resolve(h, rc, &[], "http://api.example.test"))
                .unwrap()
                .0,
            "http://alice:<redacted>@rc-proxy:3128"
        );
        // BALENARC_PROXY wins over the file, as every BALENARC_ variable.
        let e = [("BALENARC_PROXY", "http://env-proxy:8080")];
        assert_eq!(
            proxy_of(resolve(h, rc, &e, https)),
            Some(("http://env-proxy:8080".into(), "BALENARC_PROXY".into()))
        );
        // The object form: protocol with or without its colon, port as a number or text.
        let rc = "proxy:\n  protocol: 'http:'\n  host: obj-proxy\n  port: 8123\n  proxyAuth: 'bob:p@ss:w'\n";
        assert_eq!(
            proxy_of(resolve(h, rc, &[], https)),
            Some((
                "http://bob:<redacted>@obj-proxy:8123".into(),
                rc_path.clone()
            ))
        );
        let rc = "proxy:\n  host: obj-proxy\n  port: '81'\n";
        assert_eq!(
            proxy_of(resolve(h, rc, &[], https)).unwrap().0,
            "http://obj-proxy:81"
        );
        let rc = "proxy:\n  protocol: HTTPS://\n  host: obj-proxy\n";
        assert_eq!(
            proxy_of(resolve(h, rc, &[], https)).unwrap().0,
            "https://obj-proxy:443"
        );
        // An empty setting is no setting.
        assert_eq!(
            proxy_of(resolve(h, "proxy: ''\n", &all_env[..1], https))
                .unwrap()
                .1,
            "HTTPS_PROXY"
        );
        assert_eq!(proxy_of(resolve(h, "proxy:\n", &[], https)), None);
    }

    #[test]
    fn malformed_proxy_settings_name_their_source() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let rc_path = h.join(".balenarc.yml").display().to_string();
        let https = "https://api.example.test";
        // (balenarc, environment, the source named, what the message says)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                "proxy: 'socks5://p:1080'\n",
                &[],
                &rc_path,
                "the scheme socks5 is not supported",
            ),
            ("proxy: 'http://p:99999'\n", &[], &rc_path, "is not a URL"),
            (
                "proxy:\n  port: 8080\n",
                &[],
                &rc_path,
                "proxy.host is missing",
            ),
            (
                "proxy:\n  host: p\n  port: 70000\n",
                &[],
                &rc_path,
                "proxy.port 70000 is not a port",
            ),
            (
                "proxy:\n  host: p\n  port: eighty\n",
                &[],
                &rc_path,
                "is not a port number",
            ),
            (
                "proxy:\n  host: p\n  protocol: socks\n",
                &[],
                &rc_path,
                "scheme socks is not supported",
            ),
            (
                "proxy:\n  host: 'a/b'\n",
                &[],
                &rc_path,
                "is not a host name",
            ),
            ("proxy: [1, 2]\n", &[], &rc_path, "expected a URL"),
            ("proxy: 8080\n", &[], &rc_path, "expected a URL"),
            (
                "",
                &[("BALENARC_PROXY", "http://u:hunter2@p:port")],
                "BALENARC_PROXY",
                "is not a URL",
            ),
            (
                "",
                &[("HTTPS_PROXY", "ftp://p:21")],
                "HTTPS_PROXY",
                "not supported",
            ),
            (
                "",
                &[("https_proxy", "http://")],
                "https_proxy",
                "is not a URL",
            ),
        ];
        for (rc, pairs, source, why) in cases {
            let e = resolve(h, rc, pairs, https).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("invalid proxy setting in {source}: ")),
                "{rc:?} {pairs:?}: {msg}"
            );
            assert!(msg.contains(why), "{rc:?} {pairs:?}: {msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
            assert!(
                matches!(&e, ConfigError::Proxy { file, .. } if *file == rc.starts_with("proxy")),
                "{e:?}"
            );
        }
        // A malformed variable that does not apply (HTTP_PROXY for an https API) is not read.
        assert!(resolve(h, "", &[("HTTP_PROXY", "ftp://p")], https).is_ok());
    }

    #[test]
    fn no_proxy_lists() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let https = "https://api.example.test";
        let url = |u: &str| balena_api::Url::parse(u).unwrap();
        let np = |rc: &str, pairs: &[(&str, &str)]| resolve(h, rc, pairs, https).unwrap().1;
        // The official defaults: *.local and the private IPv4 ranges.
        let n = np("", &[]);
        for (u, want) in [
            ("https://box.local", true),
            ("https://10.1.2.3", true),
            ("https://172.20.0.1", true),
            ("https://172.32.0.1", false),
            ("https://192.168.1.1", true),
            ("https://api.example.test", false),
        ] {
            assert_eq!(n.matches(&url(u)), want, "{u}");
        }
        // NO_PROXY and no_proxy both count, with the defaults.
        let n = np("", &[("NO_PROXY", "a.test"), ("no_proxy", ".b.test")]);
        assert!(n.matches(&url("https://a.test")));
        assert!(n.matches(&url("https://x.b.test")));
        assert!(n.matches(&url("https://10.0.0.1")));
        // noProxy (BALENARC_NO_PROXY, or balenarc) replaces the defaults.
        let n = np("", &[("BALENARC_NO_PROXY", "api.example.test")]);
        assert!(n.matches(&url("https://api.example.test")));
        assert!(!n.matches(&url("https://10.0.0.1")));
        let n = np("noProxy: [c.test, d.test]\n", &[("NO_PROXY", "e.test")]);
        assert!(n.matches(&url("https://d.test")) && n.matches(&url("https://e.test")));
        assert!(!n.matches(&url("https://box.local")));
        assert!(resolve(h, "noProxy: 3\n", &[], https).is_err());
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
