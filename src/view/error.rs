//! Errors as a person or a script reads them: on stderr, as text or one JSON object.

use serde_json::{Map, Value};

use super::Printer;
use crate::error::Error;

/// The human form: `error: <message>`, the items it lists, then `hint: …`.
pub fn human(e: &Error) -> String {
    if e.is_login_required() {
        // Byte-compatible with the official CLI.
        return format!("{e}\n\n");
    }
    let mut s = format!("error: {e}\n");
    if let Some((key, items)) = e.list() {
        s.push_str(match key {
            "behind" => "still behind:\n",
            _ => "candidates:\n",
        });
        for c in items {
            s.push_str(&format!("  {c}\n"));
        }
    }
    if let Some(h) = e.hint() {
        s.push_str(&format!("hint: {h}\n"));
    }
    s
}

/// `{"error":{"name":…,"message":…,"exitCode":…,"hint":…,"candidates":[…]}}` on one line
/// (`"behind":[…]` instead of `"candidates"` for a wait timeout).
pub fn json(e: &Error) -> String {
    let mut o = Map::new();
    o.insert("name".into(), e.name().into());
    o.insert("message".into(), e.to_string().into());
    o.insert("exitCode".into(), e.exit_code().code().into());
    if let Some(h) = e.hint() {
        o.insert("hint".into(), h.into());
    }
    if let Some((key, items)) = e.list() {
        o.insert(key.into(), items.to_vec().into());
    }
    let mut top = Map::new();
    top.insert("error".into(), Value::Object(o));
    format!("{}\n", Value::Object(top))
}

/// `{"name":…,"message":…}`: an error inside a per-item result.
pub fn item_json(e: &Error) -> Value {
    serde_json::json!({"name": e.name(), "message": e.to_string()})
}

/// Prints an error on stderr, as one JSON object with `--json`.
pub fn print(p: &Printer, e: &Error) {
    if p.json {
        p.err(&json(e));
    } else {
        p.err(&human(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ambiguous() -> Error {
        Error::FleetAmbiguous {
            arg: "MyFleet".into(),
            candidates: vec!["a/myfleet (id 1)".into(), "b/myfleet (id 2)".into()],
        }
    }

    #[test]
    fn wait_timeout_lists_the_devices_still_behind() {
        let e = Error::WaitTimeout {
            behind: vec!["abc (dev-1)".into()],
        };
        let h = human(&e);
        assert!(
            h.starts_with(
                "error: timed out waiting for 1 device(s) to run their target release\nstill behind:\n  abc (dev-1)\nhint: "
            ),
            "{h}"
        );
        assert!(json(&e).contains(r#""behind":["abc (dev-1)"]"#));
    }

    #[test]
    fn human_error() {
        assert_eq!(
            human(&ambiguous()),
            "error: Application is ambiguous: MyFleet\ncandidates:\n  a/myfleet (id 1)\n  b/myfleet (id 2)\nhint: Name the fleet by its slug (org/name) or numeric id.\n"
        );
        assert_eq!(
            human(&balena_api::ApiError::NotLoggedIn.into()),
            "Login required: use the \u{201c}balena login\u{201d} command to log in.\n\n"
        );
    }

    #[test]
    fn json_error() {
        assert_eq!(
            json(&ambiguous()),
            "{\"error\":{\"name\":\"BalenaAmbiguousApplication\",\"message\":\"Application is ambiguous: MyFleet\",\"exitCode\":5,\"hint\":\"Name the fleet by its slug (org/name) or numeric id.\",\"candidates\":[\"a/myfleet (id 1)\",\"b/myfleet (id 2)\"]}}\n"
        );
        assert_eq!(
            item_json(&Error::DeviceNotFound("x".into())),
            serde_json::json!({"name": "BalenaDeviceNotFound", "message": "Device not found: x"})
        );
    }
}
