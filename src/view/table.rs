//! balena-style tables (resin-cli-visuals / columnify), rendered by hand.
//!
//! Why not comfy-table: the official bytes need (1) no borders and exactly one space between
//! columns, (2) every line right-trimmed, including the header and the last column,
//! (3) vertical tables whose label column is padded to `widest label + ':'` and whose
//! multi-line values continue indented at the value column, (4) rows with a null value
//! omitted, and (5) a `== TITLE` line outside the column layout. comfy-table 8 with the
//! `NOTHING` preset and (0,1) padding gets (1) but pads the last column (so every line
//! needs post-trimming) and has no notion of (3)-(5); wrapping and arrangement would also
//! need to be switched off. The renderer below is ~60 lines, exact, and has no
//! terminal-width dependency.

use unicode_width::UnicodeWidthStr;

/// `normalizeTitle`: space at lower/digit→Upper transitions, runs of `_`, `-` and
/// whitespace become one space, upper-cased. `created_at` → `CREATED AT`.
pub fn normalize_title(s: &str) -> String {
    let mut spaced = String::new();
    let mut prev: Option<char> = None;
    for c in s.trim().chars() {
        if let Some(p) = prev {
            if (p.is_lowercase() || p.is_ascii_digit()) && c.is_uppercase() {
                spaced.push(' ');
            }
        }
        spaced.push(c);
        prev = Some(c);
    }
    let mut out = String::new();
    let mut in_sep = false;
    for c in spaced.chars() {
        if c == '_' || c == '-' || c.is_whitespace() {
            in_sep = true;
        } else {
            if in_sep && !out.is_empty() {
                out.push(' ');
            }
            in_sep = false;
            out.extend(c.to_uppercase());
        }
    }
    out
}

fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_owned();
    for _ in width(s)..w {
        out.push(' ');
    }
    out
}

/// A horizontal table: header row, then one row per item, columns separated by one space,
/// padded to the column width, every line right-trimmed.
pub fn horizontal(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(width(c));
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let l: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| pad(c, widths[i]))
            .collect();
        out.push_str(l.join(" ").trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// A vertical table: an optional `== title` line, then `LABEL: value` rows with the labels
/// padded to the widest one. `None` values are omitted. Multi-line values continue at the
/// value column. Every line is right-trimmed.
pub fn vertical(title: Option<&str>, rows: &[(&str, Option<String>)]) -> String {
    let mut out = String::new();
    if let Some(t) = title {
        out.push_str(&format!("== {t}\n"));
    }
    let present: Vec<(&str, &String)> = rows
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v)))
        .collect();
    let label_w = present.iter().map(|(k, _)| width(k) + 1).max().unwrap_or(0);
    for (k, v) in present {
        let label = format!("{k}:");
        let mut lines = v.split('\n');
        let first = lines.next().unwrap_or("");
        let l = format!("{} {}", pad(&label, label_w), first);
        out.push_str(l.trim_end());
        out.push('\n');
        for cont in lines {
            let l = format!("{} {}", " ".repeat(label_w), cont);
            out.push_str(l.trim_end());
            out.push('\n');
        }
    }
    out
}

/// A JSON value as a table cell: strings raw, null as `N/a`.
pub fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "N/a".to_owned(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A JSON value as a vertical-table value: `None` for null/missing (row omitted).
pub fn value(v: Option<&serde_json::Value>) -> Option<String> {
    match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// An expanded release (`[{"commit":…,"raw_version":…}]`, or the object itself) as
/// `a1b2c3d (1.2.0)`: the short commit, then the version when there is one. `None` when the
/// navigation is empty or null.
pub fn release(v: Option<&serde_json::Value>) -> Option<String> {
    let r = match v? {
        serde_json::Value::Array(a) => a.first()?,
        o @ serde_json::Value::Object(_) => o,
        _ => return None,
    };
    let commit: String = r.get("commit")?.as_str()?.chars().take(7).collect();
    match r.get("raw_version").and_then(|v| v.as_str()) {
        Some(ver) if !ver.is_empty() => Some(format!("{commit} ({ver})")),
        _ => Some(commit),
    }
}

/// How many items a multi-line list value shows at most.
pub const LIST_LIMIT: usize = 20;

/// A multi-line vertical-table value: the count on the first line, then the items (at most
/// [`LIST_LIMIT`]), one per line, then `… and N more` when `count` exceeds what is shown.
pub fn counted_list(count: usize, items: &[String]) -> String {
    let shown = &items[..items.len().min(LIST_LIMIT)];
    let mut out = count.to_string();
    for i in shown {
        out.push('\n');
        out.push_str(i);
    }
    if count > shown.len() {
        out.push_str(&format!("\n… and {} more", count - shown.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(normalize_title("created_at"), "CREATED AT");
        assert_eq!(normalize_title("my-device_1"), "MY DEVICE 1");
        assert_eq!(normalize_title("myFleet"), "MY FLEET");
        assert_eq!(normalize_title("  a  b__c "), "A B C");
    }

    #[test]
    fn release_list_matches_transcript() {
        let rows = vec![
            vec![
                "5002".into(),
                "bbbbbbb2222222222222222222222222".into(),
                "2024-02-02T00:00:00.000Z".into(),
                "success".into(),
                "0.0.2".into(),
                "true".into(),
            ],
            vec![
                "5001".into(),
                "aaaaaaa1111111111111111111111111".into(),
                "2024-01-01T00:00:00.000Z".into(),
                "success".into(),
                "0.0.1".into(),
                "false".into(),
            ],
        ];
        let h = [
            "ID",
            "COMMIT",
            "CREATED AT",
            "STATUS",
            "VERSION",
            "IS FINAL",
        ];
        assert_eq!(
            horizontal(&h, &rows),
            "ID   COMMIT                           CREATED AT               STATUS  VERSION IS FINAL\n\
             5002 bbbbbbb2222222222222222222222222 2024-02-02T00:00:00.000Z success 0.0.2   true\n\
             5001 aaaaaaa1111111111111111111111111 2024-01-01T00:00:00.000Z success 0.0.1   false\n"
        );
        assert_eq!(
            horizontal(&h, &[]),
            "ID COMMIT CREATED AT STATUS VERSION IS FINAL\n"
        );
    }

    #[test]
    fn release_cells() {
        use serde_json::json;
        let r = json!([{"id": 1, "commit": "a1b2c3d4e5f6", "raw_version": "1.2.0"}]);
        assert_eq!(release(Some(&r)).as_deref(), Some("a1b2c3d (1.2.0)"));
        let r = json!({"commit": "a1b2c3d4e5f6", "raw_version": null});
        assert_eq!(release(Some(&r)).as_deref(), Some("a1b2c3d"));
        assert_eq!(release(Some(&json!([]))), None);
        assert_eq!(release(Some(&json!(null))), None);
        assert_eq!(release(None), None);
    }

    #[test]
    fn counted_lists() {
        assert_eq!(counted_list(0, &[]), "0");
        assert_eq!(counted_list(2, &["a".into(), "b".into()]), "2\na\nb");
        let many: Vec<String> = (0..25).map(|i| format!("d{i}")).collect();
        let v = counted_list(30, &many);
        let lines: Vec<&str> = v.lines().collect();
        assert_eq!(lines.len(), 1 + LIST_LIMIT + 1);
        assert_eq!(lines[0], "30");
        assert_eq!(lines[LIST_LIMIT], "d19");
        assert_eq!(lines[LIST_LIMIT + 1], "… and 10 more");
        assert_eq!(
            vertical(
                None,
                &[("PINNED DEVICES", Some(counted_list(1, &["x y".into()])))]
            ),
            "PINNED DEVICES: 1\n                x y\n"
        );
    }

    #[test]
    fn vertical_matches_transcript() {
        let t = vertical(
            Some("myfleet"),
            &[
                ("ID", Some("1001".into())),
                ("DEVICE TYPE", Some("raspberrypi4-64".into())),
                ("SLUG", Some("myorg/myfleet".into())),
                ("COMMIT", None),
            ],
        );
        assert_eq!(
            t,
            "== myfleet\nID:          1001\nDEVICE TYPE: raspberrypi4-64\nSLUG:        myorg/myfleet\n"
        );
        let t = vertical(
            None,
            &[
                ("BUILD LOG", Some("N/a".into())),
                ("TAGS", Some("".into())),
                ("X", Some("a=1\nb=2".into())),
            ],
        );
        assert_eq!(t, "BUILD LOG: N/a\nTAGS:\nX:         a=1\n           b=2\n");
    }
}
