//! How the command line names fleets and devices: pure parsing, no I/O.

use balena_api::lookup::device_prefix;
use balena_api::odata::Filter;

use crate::error::{usage, Error};

/// How the command line names the devices of a device mutation.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// One uuid or prefix: the single-device commands.
    One(String),
    /// Several uuids or prefixes (a comma-separated list, or stdin).
    List(Vec<String>),
    /// `--fleet F [--tag K[=V]]...`
    Fleet { fleet: String, tags: Vec<String> },
}

impl Selection {
    /// From the positional device argument and the selection flags; `-` reads the list from
    /// `stdin` (called only then).
    pub fn parse(
        device: Option<&str>,
        fleet: Option<&str>,
        tags: &[String],
        stdin: impl FnOnce() -> std::io::Result<String>,
    ) -> Result<Selection, Error> {
        if let Some(f) = fleet {
            for t in tags {
                if tag_filter(t).is_none() {
                    return Err(usage(
                        &format!("invalid --tag {t:?}: the key must not be empty"),
                        "--tag KEY or --tag KEY=VALUE",
                    ));
                }
            }
            return Ok(Selection::Fleet {
                fleet: f.to_owned(),
                tags: tags.to_vec(),
            });
        }
        let Some(d) = device else {
            return Err(usage(
                "a device is required (a uuid, a comma-separated list, `-`, or --fleet)",
                "balena device pin <uuid>[,<uuid>...] <release>",
            ));
        };
        if d.trim() == "-" {
            let text = stdin().map_err(|e| Error::Stdin {
                detail: e.to_string(),
            })?;
            let list = device_lines(&text);
            if list.is_empty() {
                return Err(usage(
                    "no device uuid on stdin (one per line; blank lines and # comments are ignored)",
                    "balena device pin - <release> < uuids.txt",
                ));
            }
            return Ok(Selection::List(list));
        }
        if d.contains(',') {
            let list = device_list(d);
            if list.is_empty() {
                return Err(usage(
                    "the device list is empty",
                    "balena device pin <uuid>,<uuid> <release>",
                ));
            }
            return Ok(Selection::List(list));
        }
        Ok(Selection::One(d.to_owned()))
    }
}

/// Shown in the `--help` of every command that takes a fleet.
pub const FLEET_ID_HELP: &str = "\
A fleet is given by slug (org/name, case-insensitive), name (case-sensitive), uuid or
numeric id. An argument that matches two different fleets is ambiguous.";

/// The device arguments of a comma-separated list (`abc,def`): trimmed, lower-cased,
/// empty items dropped, duplicates dropped (first occurrence kept).
pub fn device_list(arg: &str) -> Vec<String> {
    dedup(arg.split(',').filter_map(device_prefix))
}

/// The device arguments read from stdin (`-`): one per line; blank lines and `#` comments
/// (whole-line or trailing) ignored; a line may also hold a comma-separated list.
pub fn device_lines(text: &str) -> Vec<String> {
    dedup(
        text.lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.split(','))
            .filter_map(device_prefix),
    )
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

/// `--tag KEY[=VALUE]` as a device filter:
/// `device_tag/any(dt:(dt/tag_key eq 'k') and (dt/value eq 'v'))`, or only the key.
/// `None` for an empty key.
pub fn tag_filter(arg: &str) -> Option<Filter> {
    let (key, value) = match arg.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (arg, None),
    };
    if key.is_empty() {
        return None;
    }
    let key_eq = Filter::eq("dt/tag_key", key);
    let body = match value {
        Some(v) => Filter::And(vec![key_eq, Filter::eq("dt/value", v)]),
        None => key_eq,
    };
    Some(Filter::any("device_tag", "dt", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_lists() {
        assert_eq!(device_list("ABC, def,,abc"), vec!["abc", "def"]);
        assert_eq!(device_list("abc"), vec!["abc"]);
        assert_eq!(
            device_lines("# header\nabc\n\n  DEF  # lab\nghi,jkl\nabc\n"),
            vec!["abc", "def", "ghi", "jkl"]
        );
        assert!(device_lines("\n# only comments\n").is_empty());
    }

    #[test]
    fn selection_forms() {
        let no_stdin = || -> std::io::Result<String> { panic!("stdin read") };
        assert_eq!(
            Selection::parse(Some("abc"), None, &[], no_stdin).unwrap(),
            Selection::One("abc".into())
        );
        assert_eq!(
            Selection::parse(Some("abc,DEF"), None, &[], no_stdin).unwrap(),
            Selection::List(vec!["abc".into(), "def".into()])
        );
        assert_eq!(
            Selection::parse(None, Some("o/f"), &["k=v".into()], no_stdin).unwrap(),
            Selection::Fleet {
                fleet: "o/f".into(),
                tags: vec!["k=v".into()]
            }
        );
        assert!(Selection::parse(None, Some("o/f"), &["=v".into()], no_stdin).is_err());
        assert_eq!(
            Selection::parse(Some("-"), None, &[], || Ok("a\n# c\nb\n".into())).unwrap(),
            Selection::List(vec!["a".into(), "b".into()])
        );
        assert!(matches!(
            Selection::parse(Some("-"), None, &[], || Ok("\n".into())),
            Err(Error::Usage { .. })
        ));
    }

    #[test]
    fn tag_filters() {
        assert_eq!(
            tag_filter("canary").unwrap().render(),
            "device_tag/any(dt:dt/tag_key%20eq%20%27canary%27)"
        );
        assert_eq!(
            tag_filter("region=eu west").unwrap().render(),
            "device_tag/any(dt:(dt/tag_key%20eq%20%27region%27)%20and%20(dt/value%20eq%20%27eu%20west%27))"
        );
        assert_eq!(
            tag_filter("k=").unwrap().render(),
            "device_tag/any(dt:(dt/tag_key%20eq%20%27k%27)%20and%20(dt/value%20eq%20%27%27))"
        );
        assert!(tag_filter("=v").is_none());
    }
}
