//! Errors as a person or a script reads them: on stderr, as text or one JSON object.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::Printer;
use crate::error::Error;

/// The human form, on stderr: the official first line `<Name>: <message>` (or the
/// official "Login required" sentence), then the items it lists, then `hint: …`, then a
/// blank line.
pub fn human(e: &Error) -> String {
    if e.is_login_required() {
        // Byte-compatible with the official CLI.
        return format!("{e}\n\n");
    }
    let mut s = if e.is_unnamed() {
        format!("{e}\n")
    } else {
        format!("{}: {e}\n", e.name())
    };
    if let Some((key, items)) = e.list() {
        // Sized once: a wait's list can name thousands of devices.
        s.reserve(items.iter().map(|c| c.len() + 3).sum::<usize>() + 256);
        s.push_str(match key {
            "behind" => "still behind:\n",
            "changed" => "changed by someone else:\n",
            "failed" => "failed:\n",
            _ => "candidates:\n",
        });
        for c in items {
            s.push_str(&format!("  {}\n", super::safe(c)));
        }
    }
    if let Some(h) = e.hint() {
        s.push_str(&format!("hint: {h}\n"));
    }
    s.push('\n');
    s
}

/// The `--json` form, on stdout: the official object `{"error":{"message","name",<entity>}}`
/// (`application`, `device` or `release`), then ours: `statusCode` of an HTTP error,
/// `exitCode`, `hint`, and `candidates` (or `behind` for a wait timeout). Pretty, like the
/// official.
pub fn json(e: &Error) -> String {
    let mut text = serde_json::to_string_pretty(&ErrorJson(e)).unwrap_or_default();
    text.push('\n');
    text
}

/// The document of [`json`], serialised from the error itself: its list (a wait's devices
/// behind can be thousands) is not copied.
struct ErrorJson<'a>(&'a Error);

/// The object under `"error"` in [`ErrorJson`].
struct ErrorFields<'a>(&'a Error);

impl Serialize for ErrorJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("error", &ErrorFields(self.0))?;
        m.end()
    }
}

impl Serialize for ErrorFields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("message", &e.to_string())?;
        m.serialize_entry("name", e.name())?;
        if let Some((key, arg)) = e.entity() {
            m.serialize_entry(key, arg)?;
        }
        if let Error::Api(balena_api::ApiError::Http { status, .. }) = e {
            m.serialize_entry("statusCode", status)?;
        }
        m.serialize_entry("exitCode", &e.exit_code().code())?;
        if let Some(h) = e.hint() {
            m.serialize_entry("hint", &h)?;
        }
        if let Some((key, items)) = e.list() {
            m.serialize_entry(key, items)?;
        }
        m.end()
    }
}

/// `{"name":…,"message":…}`: an error inside a per-item result.
/// An ambiguity adds its `candidates`.
pub fn item_json(e: &Error) -> Value {
    let mut v = serde_json::json!({"name": e.name(), "message": e.to_string()});
    if let (Some((key, items)), Value::Object(o)) = (e.list(), &mut v) {
        o.insert(key.into(), items.to_vec().into());
    }
    v
}

/// Prints an error: with `--json`, the JSON object on stdout, or on one line of stderr when
/// the command already printed its result document there (a wait timeout, a partial failure: stdout holds
/// one document); "Login required" is text on stderr, as the official CLI prints it even with
/// `--json`. Without `--json`, the text on stderr.
pub fn print(p: &Printer, e: &Error) {
    if !p.json_errors || e.is_login_required() {
        p.err(&human(e));
    } else if p.wrote_json() {
        // One line, among the progress lines.
        let mut line = serde_json::to_string(&ErrorJson(e)).unwrap_or_default();
        line.push('\n');
        p.err(&line);
    } else {
        p.out(&json(e));
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
                "BalenaWaitTimeout: timed out waiting for 1 device(s) to run their target release\nstill behind:\n  abc (dev-1)\nhint: "
            ),
            "{h}"
        );
        let j: Value = serde_json::from_str(&json(&e)).unwrap();
        assert_eq!(j["error"]["behind"], serde_json::json!(["abc (dev-1)"]));
    }

    #[test]
    fn human_error() {
        assert_eq!(
            human(&ambiguous()),
            "BalenaAmbiguousApplication: Application is ambiguous: MyFleet\ncandidates:\n  a/myfleet (id 1)\n  b/myfleet (id 2)\nhint: Name the fleet by its slug (org/name) or numeric id.\n\n"
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
            "{\n  \"error\": {\n    \"message\": \"Application is ambiguous: MyFleet\",\n    \"name\": \"BalenaAmbiguousApplication\",\n    \"application\": \"MyFleet\",\n    \"exitCode\": 5,\n    \"hint\": \"Name the fleet by its slug (org/name) or numeric id.\",\n    \"candidates\": [\n      \"a/myfleet (id 1)\",\n      \"b/myfleet (id 2)\"\n    ]\n  }\n}\n"
        );
        // The official keys, in the official order, come first.
        let nf = json(&Error::DeviceNotFound("0000ffff".into()));
        assert!(nf.starts_with(
            "{\n  \"error\": {\n    \"message\": \"Device not found: 0000ffff\",\n    \"name\": \"BalenaDeviceNotFound\",\n    \"device\": \"0000ffff\",\n"
        ));
        assert_eq!(
            item_json(&Error::DeviceNotFound("x".into())),
            serde_json::json!({"name": "BalenaDeviceNotFound", "message": "Device not found: x"})
        );
    }
}
