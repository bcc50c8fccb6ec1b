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

const LIST_HEADERS: [&str; 13] = [
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
];

/// `balena device list`, written as the pages of devices arrive. With `--json` each row is
/// written as soon as it is handed over, so memory holds one page. A table needs every
/// column's width before its first line, so it keeps each row compactly ([`Compact`]) and
/// writes the lines at [`DeviceList::finish`].
pub struct DeviceList<'p> {
    printer: &'p Printer,
    dashboard: Option<String>,
    json: Option<JsonRows<'p>>,
    table: Option<CompactTable>,
}

impl<'p> DeviceList<'p> {
    pub fn new(printer: &'p Printer, dashboard: Option<String>) -> DeviceList<'p> {
        let json = printer.json.then(|| JsonRows {
            out: printer.json_stream(),
            rows: 0,
        });
        let table = (!printer.json).then(|| CompactTable {
            columns: table::Columns::new(&LIST_HEADERS),
            rows: Vec::new(),
            arena: String::new(),
            interned: Interner::default(),
        });
        DeviceList {
            printer,
            dashboard,
            json,
            table,
        }
    }

    /// Adds one device.
    pub fn push(&mut self, item: ListItem<'_>) {
        let d = item.row;
        let uuid = d.get("uuid").and_then(|u| u.as_str()).unwrap_or("");
        if let Some(j) = &mut self.json {
            let nav = |k: &str| d.get(k).cloned().unwrap_or(Value::Null);
            // The official keys in the official order, then ours.
            let row = json!({
                "id": d.get("id"),
                "uuid": uuid,
                "device_name": d.get("device_name"),
                "status": d.get("status"),
                "is_online": d.get("is_online"),
                "supervisor_version": d.get("supervisor_version"),
                "os_version": d.get("os_version"),
                "dashboard_url": dashboard_url(self.dashboard.as_deref(), uuid),
                "fleet": item.fleet,
                "device_type": d.pointer("/is_of__device_type/0/slug"),
                "is_running__release": nav("is_running__release"),
                "should_be_running__release": nav("should_be_running__release"),
                "is_pinned_on__release": nav("is_pinned_on__release"),
                "release_policy": if item.pinned { "pinned" } else { "tracking_fleet" },
                "behind": item.behind,
            });
            j.push(&row);
            return;
        }
        let Some(t) = &mut self.table else { return };
        let na = || "N/a".to_owned();
        let target = match table::release(d.get("should_be_running__release")) {
            Some(r) if item.pinned => format!("{r} (pinned)"),
            Some(r) => r,
            None => na(),
        };
        let url = dashboard_url(self.dashboard.as_deref(), uuid).unwrap_or_else(na);
        let id = table::cell(d.get("id"));
        let name = table::cell(d.get("device_name"));
        let short: String = uuid.chars().take(7).collect();
        let cells: [String; 9] = [
            table::cell(d.pointer("/is_of__device_type/0/slug")),
            item.fleet.unwrap_or("N/a").to_owned(),
            table::cell(d.get("status")),
            table::cell(d.get("is_online")),
            table::cell(d.get("supervisor_version")),
            table::cell(d.get("os_version")),
            table::release(d.get("is_running__release")).unwrap_or_else(na),
            target,
            if item.pinned {
                "Pinned"
            } else {
                "Tracking fleet"
            }
            .to_owned(),
        ];
        t.columns.fit(&[
            id.as_str(),
            short.as_str(),
            name.as_str(),
            &cells[0],
            &cells[1],
            &cells[2],
            &cells[3],
            &cells[4],
            &cells[5],
            url.as_str(),
            &cells[6],
            &cells[7],
            &cells[8],
        ]);
        let at = t.arena.len();
        t.arena.push_str(&id);
        t.arena.push_str(uuid);
        t.arena.push_str(&name);
        t.rows.push(Compact {
            at: at as u32,
            lens: [id.len() as u32, uuid.len() as u32, name.len() as u32],
            cells: cells.map(|c| t.interned.id(c)),
        });
    }

    /// Ends the list: the closing bracket of the JSON array, or the whole table.
    pub fn finish(self) {
        if let Some(j) = self.json {
            j.finish();
            return;
        }
        let Some(t) = self.table else { return };
        let dashboard = self.dashboard.as_deref();
        self.printer.out_lines(|out| {
            let mut line = String::with_capacity(512);
            t.columns.header(&mut line);
            out(&line);
            for r in &t.rows {
                let text = |i: usize| {
                    let from = r.at as usize + r.lens[..i].iter().sum::<u32>() as usize;
                    &t.arena[from..from + r.lens[i] as usize]
                };
                let uuid = text(1);
                let url = dashboard_url(dashboard, uuid).unwrap_or_else(|| "N/a".to_owned());
                let short: String = uuid.chars().take(7).collect();
                let c = |i: usize| t.interned.get(r.cells[i]);
                line.clear();
                t.columns.line(
                    &[
                        text(0),
                        &short,
                        text(2),
                        c(0),
                        c(1),
                        c(2),
                        c(3),
                        c(4),
                        c(5),
                        &url,
                        c(6),
                        c(7),
                        c(8),
                    ],
                    &mut line,
                );
                out(&line);
            }
        });
    }
}

/// `--json`: the rows as one pretty-printed array, each written when it comes.
struct JsonRows<'p> {
    out: super::JsonStream<'p>,
    rows: usize,
}

impl JsonRows<'_> {
    /// One element, laid out as `serde_json::to_writer_pretty` lays out an array's: each of
    /// its lines indented by two spaces (a line break inside a JSON string is escaped, so
    /// every `\n` here is the layout's).
    fn push(&mut self, row: &Value) {
        self.out
            .push(if self.rows == 0 { b"[\n  " } else { b",\n  " });
        self.out.pretty(row, 1);
        self.rows += 1;
    }

    fn finish(mut self) {
        self.out.push(if self.rows == 0 { b"[]" } else { b"\n]" });
        self.out.finish();
    }
}

/// The table's rows: each row's own cells in one string (`arena`), the repeated ones (a
/// fleet, a device type, a release) once each.
struct CompactTable {
    columns: table::Columns,
    rows: Vec<Compact>,
    arena: String,
    interned: Interner,
}

/// One table row: the id cell, the uuid (the UUID and DASHBOARD URL cells come from it) and the device name in the arena from `at`, and the other cells by their interned id.
struct Compact {
    at: u32,
    lens: [u32; 3],
    cells: [u32; 9],
}

/// Distinct cell texts, each kept once.
#[derive(Default)]
struct Interner {
    ids: std::collections::HashMap<std::rc::Rc<str>, u32>,
    texts: Vec<std::rc::Rc<str>>,
}

impl Interner {
    fn id(&mut self, s: String) -> u32 {
        if let Some(id) = self.ids.get(s.as_str()) {
            return *id;
        }
        let rc: std::rc::Rc<str> = s.into();
        let id = self.texts.len() as u32;
        self.texts.push(rc.clone());
        self.ids.insert(rc, id);
        id
    }

    fn get(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
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
