//! Where our CLI differs from the official one by design. Each entry is an item of the
//! README's "Differences from the official CLI", and this file is the test that shows it:
//! a run is accepted only in the documented form.
//!
//! - **Additions** ([`Addition`]): new information comes after the official lines (rows
//!   after a blank line, columns after the official columns) or in JSON keys after the
//!   official ones. The official bytes themselves are compared exactly.
//! - **stderr of a successful run**: ours confirms mutations and notes what the official
//!   sentences leave out; the official prints nothing. Only failing runs' first stderr lines
//!   are compared (see `compare` in main.rs).
//! - **Documented runs** ([`DOCUMENTED`]): runs where the official CLI refuses what ours
//!   does on purpose (wider release identifiers), or words an error differently.

use serde_json::Value;

/// How our stdout may extend the official stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addition {
    /// The official bytes, then a blank line and our rows (`fleet <f>`, `release <r>`).
    Rows,
    /// Every official line, then our columns on the same line (`device list`).
    Columns,
    /// JSON whose objects hold the official keys first, in order, with the official values,
    /// then ours (`--json` of the views above).
    Keys,
}

/// The addition our output of `args` (after `balena`) may have, where the official printed
/// `expected`.
pub fn addition(args: &[String], expected: &str) -> Option<Addition> {
    if expected.starts_with("{\n  \"error\": {") {
        // A JSON error: ours adds exitCode, hint and candidates after the official keys.
        return Some(Addition::Keys);
    }
    let json = args.iter().any(|a| a == "--json");
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let view = match words.as_slice() {
        ["device", "list", ..] => Some(Addition::Columns),
        ["fleet", f] if !["list", "pin", "track-latest", "rollback"].contains(f) => {
            Some(Addition::Rows)
        }
        ["release", r]
            if *r != "list" && !args.iter().any(|a| a == "-c" || a == "--composition") =>
        {
            Some(Addition::Rows)
        }
        _ => None,
    };
    view.map(|v| if json { Addition::Keys } else { v })
}

impl Addition {
    /// Whether `actual` is `expected` with this addition (both already masked).
    pub fn accepts(self, expected: &str, actual: &str) -> bool {
        match self {
            Addition::Rows => actual
                .strip_prefix(expected)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('\n')),
            Addition::Columns => {
                let (e, a): (Vec<&str>, Vec<&str>) =
                    (expected.lines().collect(), actual.lines().collect());
                e.len() == a.len() && e.iter().zip(&a).all(|(e, a)| a.starts_with(e))
            }
            Addition::Keys => match (
                serde_json::from_str::<Value>(&quote_masks(expected)),
                serde_json::from_str::<Value>(&quote_masks(actual)),
            ) {
                (Ok(e), Ok(a)) => keys_first(&e, &a),
                _ => false,
            },
        }
    }
}

/// The masks of bare values (`"id": <id>`) as strings, so the text parses as JSON.
fn quote_masks(text: &str) -> String {
    text.replace(": <id>", ": \"<id>\"")
}

/// `a` has `e`'s keys first, in `e`'s order and with `e`'s values; nested objects (and
/// arrays of them) likewise.
fn keys_first(e: &Value, a: &Value) -> bool {
    match (e, a) {
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| keys_first(e, a))
        }
        (Value::Object(e), Value::Object(a)) => {
            e.len() <= a.len()
                && e.iter()
                    .zip(a.iter())
                    .all(|((ek, ev), (ak, av))| ek == ak && keys_first(ev, av))
        }
        _ => e == a,
    }
}

/// What ours does in a documented run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ours {
    /// Succeeds (exit 0) where the official CLI refuses.
    Succeeds,
    /// Fails too, with this first stderr line (a prefix of it).
    FailsWith(&'static str),
}

/// Runs whose difference is documented: (run, what ours does, the README item).
pub const DOCUMENTED: &[(&str, Ours, &str)] = &[
    (
        "S-fpin-prefix",
        Ours::Succeeds,
        "release identifiers: a commit prefix pins",
    ),
    (
        "S-dpin-prefix",
        Ours::Succeeds,
        "release identifiers: a commit prefix pins",
    ),
    (
        "S-fpin-ver",
        Ours::Succeeds,
        "release identifiers: a version pins",
    ),
    (
        "S-fpin-ambig",
        Ours::FailsWith("BalenaAmbiguousRelease: Release is ambiguous: "),
        "release identifiers: an ambiguous prefix is ambiguous, not unknown",
    ),
    (
        "S-dpin-ambig-rel",
        Ours::FailsWith("BalenaAmbiguousRelease: Release is ambiguous: "),
        "release identifiers: an ambiguous prefix is ambiguous, not unknown",
    ),
    (
        "S-rel-ver",
        Ours::FailsWith("BalenaAmbiguousRelease: Release is ambiguous: "),
        "release identifiers: `release <version>` looks versions up",
    ),
    (
        "e-connrefused",
        Ours::FailsWith("BalenaNetworkError: network error: cannot connect to "),
        "network errors name the host and the cause",
    ),
];

/// The documented difference of a run, if it has one.
pub fn documented(run: &str) -> Option<(Ours, &'static str)> {
    DOCUMENTED
        .iter()
        .find(|(name, _, _)| *name == run)
        .map(|(_, ours, why)| (*ours, *why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn additions_by_command() {
        assert_eq!(addition(&args("fleet a/b"), ""), Some(Addition::Rows));
        assert_eq!(
            addition(&args("fleet a/b --json"), ""),
            Some(Addition::Keys)
        );
        assert_eq!(addition(&args("fleet pin a/b"), ""), None);
        assert_eq!(
            addition(&args("fleet pin a/b --json"), "{\n  \"error\": {"),
            Some(Addition::Keys)
        );
        assert_eq!(addition(&args("release abc -c"), ""), None);
        assert_eq!(
            addition(&args("device list --fleet a/b"), ""),
            Some(Addition::Columns)
        );
        assert!(Addition::Keys.accepts(r#"{"id": <id>}"#, r#"{"id": <id>, "x": 1}"#));
        assert!(Addition::Rows.accepts("A\nB\n", "A\nB\n\nC\n"));
        assert!(!Addition::Rows.accepts("A\nB\n", "A\nBC\n"));
        assert!(Addition::Columns.accepts("ID X\n1  a\n", "ID X EXTRA\n1  a yes\n"));
        assert!(!Addition::Columns.accepts("ID X\n1  a\n", "ID Y EXTRA\n1  a yes\n"));
        assert!(Addition::Keys.accepts(r#"{"a":1,"b":2}"#, r#"{"a":1,"b":2,"c":3}"#));
        assert!(!Addition::Keys.accepts(r#"{"a":1,"b":2}"#, r#"{"b":2,"a":1}"#));
        assert!(Addition::Keys.accepts(r#"[{"a":1}]"#, r#"[{"a":1,"z":0}]"#));
        assert!(Addition::Keys.accepts(
            r#"{"error":{"message":"m","name":"n"}}"#,
            r#"{"error":{"message":"m","name":"n","exitCode":4}}"#
        ));
        assert!(!Addition::Keys.accepts(
            r#"{"error":{"message":"m","name":"n"}}"#,
            r#"{"error":{"name":"n","message":"m"}}"#
        ));
    }
}
