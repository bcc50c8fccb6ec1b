//! `fleet <fleet>`, `fleet list`, and `fleet pin <fleet>` without a release.

use balena_api::models::Application;
use serde_json::{json, Map, Value};

use super::{table, Printer};
use crate::policy::{short_or_none, DeviceCounts, FleetPolicy};

/// `balena fleet <fleet>`: the official rows (byte-identical to the official CLI), then,
/// after a blank line, the release policy, the target release and the device counts.
/// `--json`: the official keys, then `release_policy`, `target_release` and
/// `device_counts`. `row` is the fleet as the server sent it.
pub fn show(p: &Printer, row: &Value, counts: DeviceCounts) {
    let device_type = row
        .pointer("/is_for__device_type/0/slug")
        .and_then(|s| s.as_str())
        .map(str::to_owned);
    let commit = row
        .pointer("/should_be_running__release/0/commit")
        .and_then(|s| s.as_str())
        .map(str::to_owned);
    let tracking = row
        .get("should_track_latest_release")
        .and_then(|t| t.as_bool());
    let counts_json = json!({
        "total": counts.total,
        "pinned": counts.pinned,
        "tracking": counts.total - counts.pinned,
        "behind": counts.behind,
    });
    if p.json {
        let mut o = Map::new();
        o.insert("id".into(), row.get("id").cloned().unwrap_or(Value::Null));
        o.insert(
            "app_name".into(),
            row.get("app_name").cloned().unwrap_or(Value::Null),
        );
        o.insert(
            "slug".into(),
            row.get("slug").cloned().unwrap_or(Value::Null),
        );
        o.insert(
            "device_type".into(),
            device_type.map(Value::String).unwrap_or(Value::Null),
        );
        if let Some(c) = commit {
            o.insert("commit".into(), Value::String(c));
        }
        o.insert(
            "release_policy".into(),
            match tracking {
                Some(true) => "tracking_latest".into(),
                Some(false) => "pinned".into(),
                None => Value::Null,
            },
        );
        o.insert(
            "target_release".into(),
            row.pointer("/should_be_running__release/0")
                .cloned()
                .unwrap_or(Value::Null),
        );
        o.insert("device_counts".into(), counts_json);
        p.json_pretty(&Value::Object(o));
        return;
    }
    let name = row.get("app_name").and_then(|s| s.as_str()).unwrap_or("");
    let official = [
        ("ID", table::value(row.get("id"))),
        ("DEVICE TYPE", device_type),
        ("SLUG", table::value(row.get("slug"))),
        ("COMMIT", commit),
    ];
    let policy = tracking.map(|t| if t { "Tracking latest" } else { "Pinned" }.to_owned());
    let extra = [
        ("RELEASE POLICY", policy),
        (
            "TARGET RELEASE",
            Some(
                table::release(row.get("should_be_running__release"))
                    .unwrap_or_else(|| "N/a".into()),
            ),
        ),
        ("DEVICES", Some(counts.total.to_string())),
        ("PINNED DEVICES", Some(counts.pinned.to_string())),
        (
            "TRACKING DEVICES",
            Some((counts.total - counts.pinned).to_string()),
        ),
        ("BEHIND DEVICES", Some(counts.behind.to_string())),
    ];
    // Two blocks, each aligned on its own: the official rows keep the official alignment.
    p.out(&format!(
        "{}\n{}",
        table::vertical(Some(name), &official),
        table::vertical(None, &extra)
    ));
}

/// One row of `fleet list`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListItem {
    pub id: Value,
    pub app_name: Value,
    pub slug: Value,
    pub device_type: Value,
    pub device_count: usize,
    pub online_devices: usize,
}

/// `balena fleet list`.
pub fn list(p: &Printer, items: &[ListItem]) {
    if p.json {
        let v: Vec<Value> = items
            .iter()
            .map(|i| {
                json!({
                    "id": i.id,
                    "app_name": i.app_name,
                    "slug": i.slug,
                    "device_type": i.device_type,
                    "online_devices": i.online_devices,
                    "device_count": i.device_count,
                })
            })
            .collect();
        p.json_pretty(&v);
        return;
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                table::cell(Some(&i.id)),
                table::cell(Some(&i.app_name)),
                table::cell(Some(&i.slug)),
                table::cell(Some(&i.device_type)),
                i.device_count.to_string(),
                i.online_devices.to_string(),
            ]
        })
        .collect();
    p.out(&table::horizontal(
        &[
            "ID",
            "NAME",
            "SLUG",
            "DEVICE TYPE",
            "DEVICE COUNT",
            "ONLINE DEVICES",
        ],
        &rows,
    ));
}

/// `{"id":…,"slug":…}` of a fleet in results.
pub fn fleet_ref(app: &Application) -> Value {
    json!({"id": app.id, "slug": app.slug})
}

/// `fleet pin <fleet>` without a release: the current policy. `arg` is the fleet as the
/// command line named it (the official sentence repeats it).
pub fn policy(p: &Printer, app: &Application, arg: &str) {
    let policy = FleetPolicy::of(app);
    if p.json {
        p.json_pretty(&super::merged(fleet_ref(app), &policy));
        return;
    }
    // The official sentence (trailing space included): it says "pinned" for any target.
    let first = match policy.target() {
        Some(r) => format!("This fleet is currently pinned to {}. ", r.commit),
        None => "This fleet is not currently pinned to any release. ".to_owned(),
    };
    p.out(&format!(
        "{first}\n\nTo see a list of all releases this fleet can be pinned to, run `balena release list {arg}`.\n"
    ));
    // What the official sentence leaves out, on stderr.
    if let FleetPolicy::TracksLatest(t) = &policy {
        p.note(&format!(
            "This fleet tracks the latest release (currently {}): it is not pinned.",
            short_or_none(t.as_ref())
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use balena_api::models::{Nav, Release};

    #[test]
    fn show_keeps_the_official_rows_first() {
        let row = json!({
            "id": 1001, "app_name": "myfleet", "slug": "myorg/myfleet",
            "should_track_latest_release": true,
            "is_for__device_type": [{"slug": "raspberrypi4-64"}],
            "should_be_running__release": [{"id": 5, "commit": "a1b2c3d4e5", "raw_version": "1.2.0"}],
        });
        let counts = DeviceCounts {
            total: 3,
            pinned: 1,
            behind: 2,
        };
        let (p, out, _) = Printer::buffered(false);
        show(&p, &row, counts);
        assert_eq!(
            out.text(),
            "== myfleet\n\
             ID:          1001\n\
             DEVICE TYPE: raspberrypi4-64\n\
             SLUG:        myorg/myfleet\n\
             COMMIT:      a1b2c3d4e5\n\
             \n\
             RELEASE POLICY:   Tracking latest\n\
             TARGET RELEASE:   a1b2c3d (1.2.0)\n\
             DEVICES:          3\n\
             PINNED DEVICES:   1\n\
             TRACKING DEVICES: 2\n\
             BEHIND DEVICES:   2\n"
        );
    }

    #[test]
    fn policy_sentences() {
        let app = Application {
            id: 7,
            slug: "o/f".into(),
            should_track_latest_release: Some(false),
            target: Nav::Expanded(vec![Release {
                id: 5,
                commit: "a1b2c3d4e5".into(),
                ..Release::default()
            }]),
            ..Application::default()
        };
        let (p, out, _) = Printer::buffered(false);
        policy(&p, &app, "o/f");
        assert_eq!(
            out.text(),
            "This fleet is currently pinned to a1b2c3d4e5. \n\nTo see a list of all releases this fleet can be pinned to, run `balena release list o/f`.\n"
        );
        let (p, out, _) = Printer::buffered(true);
        policy(&p, &app, "o/f");
        assert_eq!(
            serde_json::from_str::<Value>(&out.text()).unwrap(),
            json!({"id": 7, "slug": "o/f", "tracking_latest": false,
                   "release": {"id": 5, "commit": "a1b2c3d4e5", "raw_version": null}})
        );
    }
}
