//! balena-style tables (resin-cli-visuals / columnify), laid out by comfy-table.
//!
//! The official bytes: no borders, exactly one space between columns, every line
//! right-trimmed (the header and the last column too); vertical tables are a `LABEL:` column
//! padded to the widest label, with multi-line values continuing at the value column, rows
//! with a null value omitted, and an optional `== TITLE` line above. comfy-table gives this
//! with the `NOTHING` style, padding (0,1) on every column but the last (0,0), content
//! arrangement disabled (no wrapping and no terminal width; the crate is also built without
//! its `tty` feature, so it never asks the terminal anything), and every line right-trimmed.
//!
//! Two corners where comfy-table lays out differently are handled here: it makes a column at
//! least one character wide, so a column with nothing to show gets no padding (its one blank
//! character is then the separator); and a table without columns has no lines there, so a
//! horizontal one is written as one empty line per row. Widths are measured with
//! unicode-width, as comfy-table does. Limits: comfy-table counts widths in `u16`, so a
//! single line wider than 65,535 columns would be wrapped; and a `\n` inside a horizontal
//! cell starts a continuation line within that column.
//!
//! Terminal safety is here, for every table: horizontal cells and headers are escaped with
//! [`super::safe`] (a `\n` or `\t` in a name is shown as `\n`, `\t` and the row stays one
//! line), the vertical title too, vertical values with [`super::safe_text`] (their lines are
//! ours: a multi-line value continues at the value column) and the items of
//! [`counted_list`] with [`super::safe`].

use comfy_table::{presets, ContentArrangement, Table};
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

/// A table with the balena layout's settings and no content yet.
fn table() -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    t
}

/// One space after every column but the last, none after a column whose every line (the
/// header's too) is zero columns wide: comfy-table shows such a column one blank wide, which
/// is then the separator.
fn set_padding(t: &mut Table) {
    let n = t.column_count();
    let blank: Vec<bool> = (0..n)
        .map(|i| {
            t.column_cells_with_header_iter(i)
                .all(|c| c.is_none_or(|c| c.content().split('\n').all(|l| l.width() == 0)))
        })
        .collect();
    for (i, column) in t.column_iter_mut().enumerate() {
        let right = u16::from(i + 1 < n && !blank[i]);
        column.set_padding((0, right));
    }
}

/// The table's lines, each right-trimmed and ended by `\n`.
fn render(t: &Table) -> String {
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A horizontal table built row by row, so the caller can drop each row's source as it goes.
pub struct Horizontal {
    table: Table,
    rows: usize,
}

impl Horizontal {
    pub fn new(headers: &[&str]) -> Horizontal {
        let mut table = table();
        table.set_header(headers.iter().map(|h| super::safe(h).into_owned()));
        Horizontal { table, rows: 0 }
    }

    pub fn row<T: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = T>) {
        self.table.add_row(
            cells
                .into_iter()
                .map(|c| super::safe(c.as_ref()).into_owned()),
        );
        self.rows += 1;
    }

    /// Each line, right-trimmed and ended by `\n`, to `out`.
    pub fn write_to(mut self, mut out: impl FnMut(&str)) {
        if self.table.column_count() == 0 {
            for _ in 0..=self.rows {
                out("\n");
            }
            return;
        }
        set_padding(&mut self.table);
        for line in self.table.lines() {
            let mut l = line;
            l.truncate(l.trim_end().len());
            l.push('\n');
            out(&l);
        }
    }
}

/// A horizontal table: header row, then one row per item, columns separated by one space,
/// padded to the column width, every line right-trimmed.
pub fn horizontal(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = Horizontal::new(headers);
    for r in rows {
        t.row(r.iter().map(String::as_str));
    }
    let mut out = String::new();
    t.write_to(|l| out.push_str(l));
    out
}

/// A horizontal table laid out in two passes, for lists too long to hold as cells: the
/// caller keeps its rows in its own compact form, measures each with [`Columns::fit`], then
/// writes each with [`Columns::line`]. The bytes are those of [`horizontal`] for the same
/// cells, which must not hold a line break (they are escaped with [`super::safe`] here, as
/// there).
pub struct Columns {
    headers: Vec<String>,
    /// The widest cell of each column so far, the header's included.
    widths: Vec<usize>,
}

impl Columns {
    pub fn new(headers: &[&str]) -> Columns {
        let headers: Vec<String> = headers
            .iter()
            .map(|h| super::safe(h).into_owned())
            .collect();
        let widths = headers.iter().map(|h| h.width()).collect();
        Columns { headers, widths }
    }

    /// Widens the columns to fit one row.
    pub fn fit<S: AsRef<str>>(&mut self, cells: &[S]) {
        for (w, c) in self.widths.iter_mut().zip(cells) {
            *w = (*w).max(super::safe(c.as_ref()).width());
        }
    }

    /// The header line, ended by `\n`, appended to `out`.
    pub fn header(&self, out: &mut String) {
        self.write(self.headers.iter().map(String::as_str), out);
    }

    /// One row's line (right-trimmed, ended by `\n`) appended to `out`.
    pub fn line<S: AsRef<str>>(&self, cells: &[S], out: &mut String) {
        self.write(cells.iter().map(|c| c.as_ref()), out);
    }

    fn write<'a>(&self, cells: impl Iterator<Item = &'a str>, out: &mut String) {
        let start = out.len();
        let last = self.widths.len().saturating_sub(1);
        for (i, c) in cells.take(self.widths.len()).enumerate() {
            let c = super::safe(c);
            out.push_str(&c);
            if i < last {
                // Padded to the column, then one space; a column with nothing in it is one
                // blank wide, which is the separator.
                let pad = match self.widths[i] {
                    0 => 1,
                    w => w.saturating_sub(c.width()) + 1,
                };
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let kept = out[start..].trim_end().len();
        out.truncate(start + kept);
        out.push('\n');
    }
}

fn vertical_table(rows: &[(&str, Option<String>)]) -> Table {
    let mut t = table();
    for (k, v) in rows {
        if let Some(v) = v {
            t.add_row([
                format!("{}:", super::safe(k)),
                super::safe_text(v).into_owned(),
            ]);
        }
    }
    set_padding(&mut t);
    t
}

/// A vertical table: an optional `== title` line, then `LABEL: value` rows with the labels
/// padded to the widest one. `None` values are omitted. Multi-line values continue at the
/// value column. Every line is right-trimmed.
pub fn vertical(title: Option<&str>, rows: &[(&str, Option<String>)]) -> String {
    let mut out = String::new();
    if let Some(t) = title {
        out.push_str(&format!("== {}\n", super::safe(t)));
    }
    out.push_str(&render(&vertical_table(rows)));
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
        out.push_str(&super::safe(i));
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

    #[test]
    fn wide_characters_take_two_columns() {
        let rows = vec![
            vec!["日本語".into(), "x".into()],
            vec!["ab".into(), "y".into()],
        ];
        assert_eq!(
            horizontal(&["NAME", "V"], &rows),
            "NAME   V\n日本語 x\nab     y\n"
        );
        assert_eq!(
            vertical(
                None,
                &[("名前", Some("a".into())), ("ID", Some("1".into()))]
            ),
            "名前: a\nID:   1\n"
        );
    }

    #[test]
    fn empty_tables() {
        assert_eq!(horizontal(&["A", "B"], &[]), "A B\n");
        assert_eq!(horizontal(&[], &[]), "\n");
        assert_eq!(horizontal(&[], &[vec![], vec![]]), "\n\n\n");
        assert_eq!(vertical(None, &[]), "");
        assert_eq!(vertical(Some("t"), &[("A", None)]), "== t\n");
    }

    #[test]
    fn blank_columns_are_one_separator_wide() {
        let rows = vec![vec!["".into(), "x".into()]];
        assert_eq!(horizontal(&["", "B"], &rows), " B\n x\n");
        assert_eq!(horizontal(&["A", "", "C"], &[]), "A  C\n");
    }

    #[test]
    fn multi_line_vertical_values_continue_at_the_value_column() {
        let t = vertical(
            Some("r"),
            &[
                ("LOG", Some("one\n  two  \n\nfour".into())),
                ("LONGER", Some("x".into())),
            ],
        );
        assert_eq!(
            t,
            "== r\nLOG:    one\n          two\n\n        four\nLONGER: x\n"
        );
    }

    #[test]
    fn control_characters_never_break_a_row() {
        let rows = vec![
            vec!["a\nb\tc".into(), "\u{1b}]0;x\u{7}".into()],
            vec!["d".into(), "e".into()],
        ];
        assert_eq!(
            horizontal(&["N", "V"], &rows),
            "N       V\na\\nb\\tc \\e]0;x\\a\nd       e\n"
        );
        assert_eq!(
            vertical(Some("t\u{1b}"), &[("K", Some("1\u{7}\n2".into()))]),
            "== t\\e\nK: 1\\a\n   2\n"
        );
        assert_eq!(
            counted_list(1, &["u n\nFAKE: row".into()]),
            "1\nu n\\nFAKE: row"
        );
    }

    #[test]
    fn null_rows_are_left_out_of_the_alignment() {
        let t = vertical(None, &[("A", Some("1".into())), ("VERY LONG LABEL", None)]);
        assert_eq!(t, "A: 1\n");
    }

    #[test]
    fn trailing_spaces_are_trimmed() {
        let rows = vec![
            vec!["a  ".into(), "b   ".into()],
            vec!["".into(), " ".into()],
        ];
        assert_eq!(horizontal(&["X", "Y  "], &rows), "X   Y\na   b\n\n");
        assert_eq!(vertical(None, &[("K", Some("v  ".into()))]), "K: v\n");
    }

    #[test]
    fn layout_ignores_the_terminal_width() {
        let rows = vec![vec![
            "a fairly long cell that a narrow terminal would wrap".into(),
            "and another one beside it".into(),
        ]];
        let wide = horizontal(&["FIRST", "SECOND"], &rows);
        for width in [1, 10, 40, 500] {
            let mut t = Horizontal::new(&["FIRST", "SECOND"]);
            t.row(rows[0].iter().map(String::as_str));
            assert!(matches!(
                t.table.content_arrangement(),
                ContentArrangement::Disabled
            ));
            t.table.set_width(width);
            let mut out = String::new();
            t.write_to(|l| out.push_str(l));
            assert_eq!(out, wide, "width {width}");
        }
        let value = Some("word ".repeat(40));
        let mut t = vertical_table(&[("LABEL", value.clone())]);
        t.set_width(20);
        assert_eq!(render(&t), vertical(None, &[("LABEL", value)]));
    }

    /// Lays out `rows` with [`Columns`] as the device list does.
    fn two_pass(headers: &[&str], rows: &[Vec<String>]) -> String {
        let mut c = Columns::new(headers);
        for r in rows {
            c.fit(r);
        }
        let mut out = String::new();
        c.header(&mut out);
        for r in rows {
            c.line(r, &mut out);
        }
        out
    }

    #[test]
    fn two_pass_columns_match_comfy_table() {
        // Cells of every kind that matter to the layout: empty, wide, control characters,
        // trailing and leading blanks, a whole column empty.
        let pool = [
            "",
            "a",
            "N/a",
            "abc def",
            "日本語",
            "é",
            "x\ty",
            "tab\n",
            " lead",
            "trail ",
            "\u{3000}wide space",
            "0123456789abcdef",
            "\u{1b}[31mred",
            "🙂",
            "a\u{300}",
        ];
        let headers = ["ID", "", "NAME", "日付", "LAST"];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..300 {
            let n_rows = (next() % 6) as usize;
            let rows: Vec<Vec<String>> = (0..n_rows)
                .map(|_| {
                    (0..headers.len())
                        .map(|col| {
                            if col == 1 && case % 2 == 0 {
                                String::new()
                            } else {
                                pool[(next() % pool.len() as u64) as usize].to_owned()
                            }
                        })
                        .collect()
                })
                .collect();
            assert_eq!(
                two_pass(&headers, &rows),
                horizontal(&headers, &rows),
                "rows: {rows:?}"
            );
        }
    }
}
