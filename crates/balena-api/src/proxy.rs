//! Proxies of the API traffic: the proxy itself ([`Proxy`], an http or https URL whose
//! credentials are kept apart, so no message or debug line shows the password) and the
//! hosts that bypass it ([`NoProxy`]). Which proxy applies is the caller's choice (the
//! CLI's settings); the client adds one rule of its own: a loopback API is never proxied.

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

/// An HTTP proxy: `http://` or `https://`, a host and a port, optional credentials (sent
/// as `Proxy-Authorization`), and where the setting came from (for messages).
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `scheme://host:port/`, without credentials or path.
    url: Url,
    user: Option<String>,
    password: Option<String>,
    source: String,
}

impl Proxy {
    /// `text` as a proxy URL, `http://[user[:password]@]host[:port]` (or `https://`); no
    /// scheme means `http://`, as curl reads it. Percent-escapes in the credentials are
    /// decoded. `source` names where the setting came from. The error says what is wrong
    /// with it (its password, if any, left out).
    pub fn parse(text: &str, source: &str) -> Result<Proxy, String> {
        let t = text.trim();
        let shown = redact_userinfo(t);
        let full = if t.contains("://") {
            t.to_owned()
        } else {
            format!("http://{t}")
        };
        let url = Url::parse(&full).map_err(|e| format!("{shown:?} is not a URL ({e})"))?;
        check_scheme(url.scheme()).map_err(|e| format!("{shown:?}: {e}"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{shown:?} has no host"));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{shown:?} has a path or query; give scheme://host:port only"
            ));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = Some(url.username()).filter(|u| !u.is_empty()).map(decode);
        let password = url.password().map(decode);
        let mut bare = url.clone();
        // An http(s) URL with a host can always drop its credentials.
        let _ = bare.set_password(None);
        let _ = bare.set_username("");
        Proxy::new(bare, user, password, source).map_err(|e| format!("{shown:?}: {e}"))
    }

    /// A proxy from its parts (the balenarc object form): `scheme` `http` or `https`,
    /// `host` (a name or an IP address), `port` (the scheme's default when `None`), and
    /// optional credentials.
    pub fn from_parts(
        scheme: &str,
        host: &str,
        port: Option<u16>,
        user: Option<&str>,
        password: Option<&str>,
        source: &str,
    ) -> Result<Proxy, String> {
        let scheme = scheme.to_ascii_lowercase();
        check_scheme(&scheme)?;
        let host = host.trim();
        if host.is_empty() {
            return Err("the host is empty".into());
        }
        let bracketed = if host.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let url = Url::parse(&format!("{scheme}://{bracketed}"))
            .ok()
            .filter(|u| {
                u.username().is_empty()
                    && u.password().is_none()
                    && u.path() == "/"
                    && u.query().is_none()
                    && u.fragment().is_none()
            })
            .ok_or_else(|| format!("the host {host:?} is not a host name or IP address"))?;
        let mut url = url;
        if let Some(p) = port {
            url.set_port(Some(p))
                .map_err(|_| format!("the port {p} cannot be used"))?;
        }
        Proxy::new(
            url,
            user.filter(|u| !u.is_empty()).map(str::to_owned),
            password.map(str::to_owned),
            source,
        )
    }

    fn new(
        url: Url,
        user: Option<String>,
        password: Option<String>,
        source: &str,
    ) -> Result<Proxy, String> {
        if url.port() == Some(0) {
            return Err("port 0 is not a port a proxy listens on".into());
        }
        Ok(Proxy {
            url,
            user,
            password,
            source: source.to_owned(),
        })
    }

    /// Where the setting came from: a file's path or an environment variable's name.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether credentials are sent to the proxy (`Proxy-Authorization`).
    pub fn has_credentials(&self) -> bool {
        self.user.is_some() || self.password.is_some()
    }

    /// `scheme://host:port` with the port always shown and no credentials: the form used
    /// in messages (also [`fmt::Display`]).
    pub fn address(&self) -> String {
        let host = self.url.host_str().unwrap_or("");
        match self.url.port_or_known_default() {
            Some(p) => format!("{}://{host}:{p}", self.url.scheme()),
            None => format!("{}://{host}", self.url.scheme()),
        }
    }

    /// [`Proxy::address`] with the user name, and `<redacted>` for a password: for the
    /// debug output.
    pub fn redacted(&self) -> String {
        let addr = self.address();
        let Some((scheme, rest)) = addr.split_once("://") else {
            return addr;
        };
        match (&self.user, &self.password) {
            (None, None) => addr,
            (Some(u), None) => format!("{scheme}://{u}@{rest}"),
            (u, Some(_)) => format!(
                "{scheme}://{}:<redacted>@{rest}",
                u.as_deref().unwrap_or("")
            ),
        }
    }

    /// The reqwest proxy for every request of a client.
    pub(crate) fn to_reqwest(&self) -> reqwest::Result<reqwest::Proxy> {
        let p = reqwest::Proxy::all(self.url.clone())?;
        Ok(if self.has_credentials() {
            p.basic_auth(
                self.user.as_deref().unwrap_or(""),
                self.password.as_deref().unwrap_or(""),
            )
        } else {
            p
        })
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address())
    }
}

/// Never the password.
impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proxy({} from {})", self.redacted(), self.source)
    }
}

fn check_scheme(scheme: &str) -> Result<(), String> {
    match scheme {
        "http" | "https" => Ok(()),
        s => Err(format!(
            "the scheme {s} is not supported (only http and https proxies are)"
        )),
    }
}

/// `text` with the password of a `user:password@` part replaced by `<redacted>`.
pub fn redact_userinfo(text: &str) -> String {
    let start = text.find("://").map_or(0, |i| i + 3);
    let rest = &text[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let Some(at) = authority.rfind('@') else {
        return text.to_owned();
    };
    let userinfo = &authority[..at];
    let Some((user, _)) = userinfo.split_once(':') else {
        return text.to_owned();
    };
    format!("{}{user}:<redacted>{}", &text[..start], &text[start + at..])
}

/// The hosts that bypass the proxy: a comma-separated list, as `NO_PROXY` holds it.
///
/// - `*` matches every host;
/// - `.example.com` and `*.example.com` match example.com and every name under it;
/// - other patterns with `*` match as globs, `*` standing for any characters
///   (`10.*`, `192.168.*`, as the official CLI's list has them);
/// - `10.0.0.0/8` (or an IPv6 network) matches the IP addresses in it;
/// - anything else matches that host exactly (an IP address in any spelling);
/// - `host:port` (`[v6]:port`) matches only that port.
///
/// Case is ignored, and so are blank entries and spaces around entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    pattern: Pattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    All,
    /// The domain and its subdomains.
    Domain(String),
    Glob(String),
    Exact(String),
    Ip(IpAddr),
    Net(IpAddr, u8),
}

impl NoProxy {
    pub fn parse(list: &str) -> NoProxy {
        NoProxy {
            entries: list
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(Entry::parse)
                .collect(),
        }
    }

    /// Adds the entries of `other`.
    pub fn extend(&mut self, other: NoProxy) {
        self.entries.extend(other.entries);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `url`'s host (and port) is on the list.
    pub fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let port = url.port_or_known_default();
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|e| {
            e.port.is_none_or(|p| Some(p) == port)
                && match &e.pattern {
                    Pattern::All => true,
                    Pattern::Domain(d) => {
                        host == *d
                            || host
                                .strip_suffix(d.as_str())
                                .is_some_and(|h| h.ends_with('.'))
                    }
                    Pattern::Glob(g) => glob(g.as_bytes(), host.as_bytes()),
                    Pattern::Exact(h) => host == *h,
                    Pattern::Ip(a) => ip == Some(*a),
                    Pattern::Net(net, bits) => ip.is_some_and(|a| in_network(a, *net, *bits)),
                }
        })
    }
}

impl Entry {
    fn parse(raw: &str) -> Entry {
        let e = raw.to_ascii_lowercase();
        if e == "*" {
            return Entry {
                pattern: Pattern::All,
                port: None,
            };
        }
        // A port: `[v6]:port`, or `host:port` (one colon only: more is a bare IPv6 address).
        let (host, port) = if let Some(rest) = e.strip_prefix('[') {
            match rest.split_once(']') {
                Some((h, tail)) => (
                    h.to_owned(),
                    tail.strip_prefix(':').and_then(|p| p.parse().ok()),
                ),
                None => (rest.to_owned(), None),
            }
        } else {
            match e.split_once(':') {
                Some((h, p)) if !p.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => {
                    (h.to_owned(), p.parse().ok())
                }
                _ => (e.clone(), None),
            }
        };
        let host = host.trim_end_matches('.').to_owned();
        let pattern = if let Some((net, bits)) = host.split_once('/') {
            match (net.parse::<IpAddr>(), bits.parse::<u8>()) {
                (Ok(a), Ok(b)) if b <= if a.is_ipv4() { 32 } else { 128 } => Pattern::Net(a, b),
                _ => Pattern::Exact(host.clone()),
            }
        } else if let Ok(a) = host.parse::<IpAddr>() {
            Pattern::Ip(a)
        } else if let Some(d) = host.strip_prefix("*.").or_else(|| host.strip_prefix('.')) {
            Pattern::Domain(d.to_owned())
        } else if host.contains('*') {
            Pattern::Glob(host.clone())
        } else {
            Pattern::Exact(host.clone())
        };
        Entry { pattern, port }
    }
}

/// `*` matches any run of bytes (dots included).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

fn in_network(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(u: &str) -> Url {
        Url::parse(u).unwrap()
    }

    #[test]
    fn proxy_urls() {
        let p = Proxy::parse(
            "http://alice:s%40cret@proxy.example.com:3128",
            "HTTPS_PROXY",
        )
        .unwrap();
        assert_eq!(p.address(), "http://proxy.example.com:3128");
        assert_eq!(p.to_string(), "http://proxy.example.com:3128");
        assert_eq!(
            p.redacted(),
            "http://alice:<redacted>@proxy.example.com:3128"
        );
        assert_eq!(p.user.as_deref(), Some("alice"));
        assert_eq!(p.password.as_deref(), Some("s@cret"));
        assert_eq!(p.source(), "HTTPS_PROXY");
        assert!(!format!("{p:?}").contains("cret"));
        // No scheme: http. No port: the scheme's default. A final slash is fine.
        let p = Proxy::parse(" proxy.corp:8080 ", "x").unwrap();
        assert_eq!(p.address(), "http://proxy.corp:8080");
        assert!(!p.has_credentials());
        assert_eq!(
            Proxy::parse("https://proxy.corp/", "x").unwrap().address(),
            "https://proxy.corp:443"
        );
        assert_eq!(
            Proxy::parse("HTTP://[::1]:9", "x").unwrap().address(),
            "http://[::1]:9"
        );
        assert_eq!(
            Proxy::parse("http://bob@p:1", "x").unwrap().redacted(),
            "http://bob@p:1"
        );
        for (bad, why) in [
            ("socks5://p:1080", "the scheme socks5 is not supported"),
            ("http://p:99999", "is not a URL"),
            ("http://p:port", "is not a URL"),
            ("http://", "is not a URL"),
            ("http://p:3128/some/path", "has a path"),
            ("http://p:0", "port 0"),
            ("http://a b:1", "is not a URL"),
        ] {
            let e = Proxy::parse(bad, "x").unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        // The password never appears in an error.
        let e = Proxy::parse("ftp://u:hunter2@p:1", "x").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("u:<redacted>@p:1"), "{e}");
    }

    #[test]
    fn proxy_parts() {
        let p = Proxy::from_parts(
            "http",
            "proxy.corp",
            Some(3128),
            Some("u"),
            Some("p:w@"),
            "rc",
        )
        .unwrap();
        assert_eq!(p.redacted(), "http://u:<redacted>@proxy.corp:3128");
        assert_eq!(p.password.as_deref(), Some("p:w@"));
        assert_eq!(
            Proxy::from_parts("HTTPS", "::1", None, None, None, "rc")
                .unwrap()
                .address(),
            "https://[::1]:443"
        );
        assert!(Proxy::from_parts("socks", "h", None, None, None, "rc").is_err());
        assert!(Proxy::from_parts("http", "", None, None, None, "rc").is_err());
        assert!(Proxy::from_parts("http", "a/b", None, None, None, "rc").is_err());
        assert!(Proxy::from_parts("http", "u@h", None, None, None, "rc").is_err());
        assert!(Proxy::from_parts("http", "h", Some(0), None, None, "rc").is_err());
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_userinfo("http://u:p@h:1/x"),
            "http://u:<redacted>@h:1/x"
        );
        assert_eq!(redact_userinfo("u:p@h:1"), "u:<redacted>@h:1");
        assert_eq!(redact_userinfo("http://u@h"), "http://u@h");
        assert_eq!(redact_userinfo("http://h:1/a@b"), "http://h:1/a@b");
        assert_eq!(redact_userinfo("http://u:p@q@h"), "http://u:<redacted>@h");
    }

    #[test]
    fn no_proxy_matching() {
        let n = NoProxy::parse(
            " example.com, .corp.test,*.int.test ,10.*, 192.168.0.0/16, ::1, [fe80::1]:8443, api.other.test:8080,,",
        );
        for (u, want) in [
            ("https://example.com", true),
            ("https://EXAMPLE.com.", true),
            ("https://api.example.com", false),
            ("https://notexample.com", false),
            ("https://corp.test", true),
            ("https://api.corp.test", true),
            ("https://a.b.corp.test", true),
            ("https://evilcorp.test", false),
            ("https://int.test", true),
            ("https://x.int.test", true),
            ("https://10.1.2.3", true),
            ("https://100.1.2.3", false),
            ("https://192.168.44.1", true),
            ("https://192.169.0.1", false),
            ("https://[0:0::1]", true),
            ("https://[fe80::1]:8443", true),
            ("https://[fe80::1]", false),
            ("http://api.other.test:8080", true),
            ("https://api.other.test", false),
        ] {
            assert_eq!(n.matches(&url(u)), want, "{u}");
        }
        assert!(NoProxy::parse("*").matches(&url("https://anything.example")));
        assert!(!NoProxy::parse("").matches(&url("https://anything.example")));
        assert!(NoProxy::parse("").is_empty());
        assert!(NoProxy::parse("api.example.test:443").matches(&url("https://api.example.test")));
        assert!(NoProxy::parse("*.local").matches(&url("https://box.local")));
        assert!(NoProxy::parse("172.16.*").matches(&url("https://172.16.0.9")));
        let mut both = NoProxy::parse("a.test");
        both.extend(NoProxy::parse("b.test"));
        assert!(both.matches(&url("https://b.test")) && both.matches(&url("https://a.test")));
    }

    #[test]
    fn globs() {
        assert!(glob(b"*", b""));
        assert!(glob(b"a*c", b"abbbc"));
        assert!(glob(b"*.x", b"a.b.x"));
        assert!(!glob(b"a*c", b"abd"));
        assert!(glob(b"a**", b"a"));
        assert!(!glob(b"", b"a"));
    }
}
