//! `device <uuid>`, `device list`, and `device pin <uuid>` without a release.

use balena_api::models::{Application, Device};
use serde_json::{json, Map, Value};

use super::{table, Printer};
use crate::policy::{short_or_none, DevicePolicy};

fn percent(usage: Option<&Value>, total: Option<&Value>) -> Option<i64> {
    let u = usage?.as_f64()?;
    let t = total?.as_f64()?;
    if t == 0.0 {
        return None;
    }
    // JavaScript's Math.round: half up.
    Some((u / t * 100.0 + 0.5).floor() as i64)
}

/// The dashboard page of a device.
pub fn dashboard_url(dashboard: Option<&str>, uuid: &str) -> Option<String> {
    dashboard.map(|o| format!("{o}/devices/{uuid}/summary"))
}

/// `balena device <uuid>`: the official vertical table of the device row.
pub fn show(p: &Printer, d: &Value, dashboard: Option<&str>) {
    let s = |k: &str| table::value(d.get(k));
    let or_na = |ptr: &str| {
        Some(
            d.pointer(ptr)
                .and_then(|v| v.as_str())
                .unwrap_or("N/a")
                .to_owned(),
        )
    };
    let uuid = d.get("uuid").and_then(|u| u.as_str()).unwrap_or("");
    let undervolted = (d.get("is_undervolted").and_then(|v| v.as_bool()) == Some(true))
        .then(|| "true".to_owned());
    let rows = vec![
        ("ID", s("id")),
        (
            "DEVICE TYPE",
            d.pointer("/is_of__device_type/0/slug")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        ),
        ("STATUS", s("overall_status")),
        ("IS ONLINE", s("is_online")),
        ("IP ADDRESS", s("ip_address")),
        ("PUBLIC ADDRESS", s("public_address")),
        ("MAC ADDRESS", s("mac_address")),
        ("FLEET", or_na("/belongs_to__application/0/slug")),
        ("LAST SEEN", s("last_connectivity_event")),
        ("UUID", s("uuid")),
        ("COMMIT", or_na("/is_running__release/0/commit")),
        ("SUPERVISOR VERSION", s("supervisor_version")),
        ("IS WEB ACCESSIBLE", s("is_web_accessible")),
        ("NOTE", s("note")),
        ("OS VERSION", s("os_version")),
        ("DASHBOARD URL", dashboard_url(dashboard, uuid)),
        ("CPU USAGE PERCENT", s("cpu_usage")),
        ("CPU TEMP C", s("cpu_temp")),
        ("CPU ID", s("cpu_id")),
        ("MEMORY USAGE MB", s("memory_usage")),
        ("MEMORY TOTAL MB", s("memory_total")),
        (
            "MEMORY USAGE PERCENT",
            percent(d.get("memory_usage"), d.get("memory_total")).map(|p| p.to_string()),
        ),
        ("STORAGE BLOCK DEVICE", s("storage_block_device")),
        ("STORAGE USAGE MB", s("storage_usage")),
        ("STORAGE TOTAL MB", s("storage_total")),
        (
            "STORAGE USAGE PERCENT",
            percent(d.get("storage_usage"), d.get("storage_total")).map(|p| p.to_string()),
        ),
        ("UNDERVOLTAGE DETECTED", undervolted),
    ];
    let name = d.get("device_name").and_then(|v| v.as_str()).unwrap_or("");
    let title = table::normalize_title(name);
    let title = (!title.is_empty()).then_some(title.as_str());
    p.out(&table::vertical(title, &rows));
}

/// `balena device <uuid> --json`: the device row with the computed fields the official CLI
/// adds. `o` is the row of the lookup merged with the second request's fields.
pub fn show_json(p: &Printer, mut o: Map<String, Value>, dashboard: Option<&str>) {
    let get = |o: &Map<String, Value>, k: &str| o.get(k).cloned().unwrap_or(Value::Null);
    let uuid = o
        .get("uuid")
        .and_then(|u| u.as_str())
        .unwrap_or("")
        .to_owned();
    let first_of = |o: &Map<String, Value>, nav: &str, key: &str| {
        o.get(nav)
            .and_then(|a| a.pointer(&format!("/0/{key}")))
            .cloned()
    };
    let fleet =
        first_of(&o, "belongs_to__application", "slug").unwrap_or(Value::String("N/a".into()));
    let device_type = first_of(&o, "is_of__device_type", "slug").unwrap_or(Value::Null);
    let commit =
        first_of(&o, "is_running__release", "commit").unwrap_or(Value::String("N/a".into()));
    let mut add = vec![
        ("status", get(&o, "overall_status")),
        (
            "dashboard_url",
            dashboard_url(dashboard, &uuid)
                .map(Value::String)
                .unwrap_or(Value::Null),
        ),
        ("fleet", fleet),
        ("device_type", device_type),
        ("commit", commit),
    ];
    let last_seen = get(&o, "last_connectivity_event");
    if !last_seen.is_null() {
        add.push(("last_seen", last_seen));
    }
    add.extend([
        ("memory_usage_mb", get(&o, "memory_usage")),
        ("memory_total_mb", get(&o, "memory_total")),
        ("storage_usage_mb", get(&o, "storage_usage")),
        ("storage_total_mb", get(&o, "storage_total")),
        ("cpu_temp_c", get(&o, "cpu_temp")),
        ("cpu_usage_percent", get(&o, "cpu_usage")),
    ]);
    if o.get("is_undervolted").and_then(|v| v.as_bool()) == Some(true) {
        add.push(("undervoltage_detected", Value::Bool(true)));
    }
    if let Some(pc) = percent(o.get("memory_usage"), o.get("memory_total")) {
        add.push(("memory_usage_percent", pc.into()));
    }
    if let Some(pc) = percent(o.get("storage_usage"), o.get("storage_total")) {
        add.push(("storage_usage_percent", pc.into()));
    }
    for (k, v) in add {
        o.insert(k.to_owned(), v);
    }
    p.json_pretty(&Value::Object(o));
}

/// One row of `device list`: the server's row, the fleet's slug and the device's policy.
pub struct ListItem<'a> {
    pub row: &'a Value,
    pub fleet: Option<&'a str>,
    pub pinned: bool,
    pub behind: bool,
}

/// `balena device list`: the official columns, then the release-policy columns.
pub fn list(p: &Printer, items: &[ListItem<'_>], dashboard: Option<&str>) {
    let json_items: Vec<Value> = items
        .iter()
        .map(|i| {
            let d = i.row;
            let uuid = d.get("uuid").and_then(|u| u.as_str()).unwrap_or("");
            let nav = |k: &str| d.get(k).cloned().unwrap_or(Value::Null);
            // The official keys in the official order, then ours.
            json!({
                "id": d.get("id"),
                "uuid": uuid,
                "device_name": d.get("device_name"),
                "status": d.get("status"),
                "is_online": d.get("is_online"),
                "supervisor_version": d.get("supervisor_version"),
                "os_version": d.get("os_version"),
                "dashboard_url": dashboard_url(dashboard, uuid),
                "fleet": i.fleet,
                "device_type": d.pointer("/is_of__device_type/0/slug"),
                "is_running__release": nav("is_running__release"),
                "should_be_running__release": nav("should_be_running__release"),
                "is_pinned_on__release": nav("is_pinned_on__release"),
                "release_policy": if i.pinned { "pinned" } else { "tracking_fleet" },
                "behind": i.behind,
            })
        })
        .collect();
    if p.json {
        p.json_pretty(&json_items);
        return;
    }
    let keys = [
        "id",
        "uuid",
        "device_name",
        "device_type",
        "fleet",
        "status",
        "is_online",
        "supervisor_version",
        "os_version",
        "dashboard_url",
    ];
    let rows: Vec<Vec<String>> = json_items
        .iter()
        .zip(items)
        .map(|(j, i)| {
            let mut row: Vec<String> = keys.iter().map(|k| table::cell(j.get(*k))).collect();
            // The official UUID column: the short uuid.
            row[1] = row[1].chars().take(7).collect();
            let na = || "N/a".to_owned();
            row.push(table::release(j.get("is_running__release")).unwrap_or_else(na));
            row.push(match table::release(j.get("should_be_running__release")) {
                Some(t) if i.pinned => format!("{t} (pinned)"),
                Some(t) => t,
                None => na(),
            });
            row.push(if i.pinned { "Pinned" } else { "Tracking fleet" }.to_owned());
            row
        })
        .collect();
    p.out(&table::horizontal(
        &[
            "ID",
            "UUID",
            "DEVICE NAME",
            "DEVICE TYPE",
            "FLEET",
            "STATUS",
            "IS ONLINE",
            "SUPERVISOR VERSION",
            "OS VERSION",
            "DASHBOARD URL",
            "RUNNING RELEASE",
            "TARGET RELEASE",
            "RELEASE POLICY",
        ],
        &rows,
    ));
}

/// `{"id","uuid","device_name","fleet"}` of a device in results.
pub fn device_ref(d: &Device, fleet: Option<&Application>) -> Value {
    json!({"id": d.id, "uuid": d.uuid, "device_name": d.device_name, "fleet": fleet.map(|f| f.slug.clone())})
}

/// `device pin <uuid>` without a release: the current policy.
pub fn policy(p: &Printer, dev: &Device, fleet: Option<&Application>) {
    let policy = DevicePolicy::of(dev, fleet);
    if p.json {
        p.json_pretty(&super::merged(device_ref(dev, fleet), &policy));
        return;
    }
    // The official sentence (trailing space included): only a device's own pin counts.
    let first = match &policy {
        DevicePolicy::Pinned(r) => format!("This device is currently pinned to {}. ", r.commit),
        DevicePolicy::TracksFleet(_) => {
            "This device is not currently pinned to any release. ".to_owned()
        }
    };
    let slug = fleet.map(|f| f.slug.as_str()).unwrap_or("<fleet>");
    p.out(&format!(
        "{first}\n\nTo see a list of all releases this device can be pinned to, run `balena release list {slug}`.\n"
    ));
    // What the official sentence leaves out, on stderr.
    if let DevicePolicy::TracksFleet(t) = &policy {
        p.note(&format!(
            "This device tracks its fleet (currently {}).",
            short_or_none(t.as_deref())
        ));
    }
}
