//! What is masked before outputs are compared, applied the same way to the transcript's
//! text and to our CLI's. Everything not listed here is compared byte for byte.
//!
//! Both transcripts:
//! 1. **Servers and tokens.** The recording's API origin (`http://127.0.0.1:48080`, `…:41802`)
//!    and the sandbox's become `<API>` (a bare `host:port` becomes `<API-HOST>`); the
//!    recording's tokens and the sandbox's key become `<TOKEN>`.
//! 2. **A draft's creation time in its version.** The real server appends a draft's
//!    `created_at` in milliseconds to its version (`1.4.0-1796180001294`); the suffix is
//!    dropped, and any other 13-digit number (the `prerelease` array of `--json`) becomes
//!    `<ms>`. (The mock recorded drafts without the suffix: `0.0.1`.)
//!
//! The real-server transcript only (its ids and creation times come from the order and
//! time of the recording, the sandbox's from the fixture):
//! 3. **JSON**: the values of `"id"`, `"__id"` (every foreign key and the actor) become
//!    `<id>`; string values of `"created_at"`, `"modified_at"`, `"update_timestamp"`,
//!    `"is_finalized_at__date"` become `"<time>"` (a `null` stays `null`). Done on the text,
//!    so layout and key order are still compared.
//! 4. **Key/value views**: the value of an `ID:` line becomes `<id>`, of a `CREATED AT:`
//!    line `<created_at>` (the key column is padded by key names, so no width changes).
//! 5. **Tables** (a header line of known column names starting with `ID`, then rows up to
//!    an empty line): the `ID` and `CREATED AT` cells are masked and the table re-rendered
//!    the way the official CLI lays tables out (cells padded to the column's widest, one
//!    space between columns, the last column not padded), because the masked values change
//!    column widths. A table is re-rendered only if re-rendering it *unmasked* gives back
//!    its exact text: a table laid out any other way is left as it is (and so differs).
//!
//! Step 2's dropped suffix changes the `VERSION` column's width, so step 5's re-rendering
//! also runs (without id masks) on the mock transcript.

use regex::Regex;

pub struct Normaliser {
    origins: Vec<String>,
    hosts: Vec<String>,
    tokens: Vec<String>,
    mask_ids: bool,
}

/// Column names of the official CLI's tables (multi-word ones joined by one space).
const COLUMNS: &[&str] = &[
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
    "COMMIT",
    "CREATED AT",
    "VERSION",
    "IS FINAL",
    "NAME",
    "SLUG",
    "DEVICE COUNT",
    "ONLINE DEVICES",
    // Ours, after the official columns (see differences.rs).
    "RUNNING RELEASE",
    "TARGET RELEASE",
    "RELEASE POLICY",
];

impl Normaliser {
    /// `origins`: API origins with scheme, e.g. `http://127.0.0.1:41802`; `tokens`: every
    /// token to hide; `mask_ids`: steps 3–5 with id and creation-time masks.
    pub fn new(origins: &[&str], tokens: &[&str], mask_ids: bool) -> Normaliser {
        let mut origins: Vec<String> = origins.iter().map(|s| s.to_string()).collect();
        // Longest first, so `http://127.0.0.1:4180` never eats part of `…:41802`.
        origins.sort_by_key(|o| std::cmp::Reverse(o.len()));
        let hosts = origins
            .iter()
            .map(|o| o.split_once("://").map_or(o.as_str(), |x| x.1).to_owned())
            .collect();
        let mut tokens: Vec<String> = tokens
            .iter()
            .filter(|t| !t.is_empty())
            .map(|s| s.to_string())
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.len()));
        Normaliser {
            origins,
            hosts,
            tokens,
            mask_ids,
        }
    }

    pub fn apply(&self, text: &str) -> String {
        let ends_nl = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        let mut out: Vec<String> = Vec::new();
        let mut plain: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            if let Some(cols) = header_columns(lines[i]) {
                let mut end = i + 1;
                while end < lines.len() && !lines[end].trim().is_empty() {
                    end += 1;
                }
                out.extend(self.flush(&mut plain));
                let block = &lines[i..end];
                match self.rerender(&cols, block) {
                    Some(rendered) => out.extend(rendered),
                    None => out.extend(block.iter().map(|l| self.text_masks(l))),
                }
                i = end;
            } else {
                plain.push(lines[i]);
                i += 1;
            }
        }
        out.extend(self.flush(&mut plain));
        let mut s = out.join("\n");
        if ends_nl {
            s.push('\n');
        }
        s
    }

    /// Steps 1–4 on lines outside tables.
    fn flush(&self, plain: &mut Vec<&str>) -> Vec<String> {
        if plain.is_empty() {
            return Vec::new();
        }
        let masked = self.text_masks(&plain.join("\n"));
        plain.clear();
        masked.split('\n').map(str::to_owned).collect()
    }

    /// Steps 1–4.
    fn text_masks(&self, text: &str) -> String {
        let mut s = text.to_owned();
        for o in &self.origins {
            s = s.replace(o.as_str(), "<API>");
        }
        for h in &self.hosts {
            s = s.replace(h.as_str(), "<API-HOST>");
        }
        for t in &self.tokens {
            s = s.replace(t.as_str(), "<TOKEN>");
        }
        let draft = Regex::new(r"\b(\d+\.\d+\.\d+)-\d{13}\b").unwrap();
        s = draft.replace_all(&s, "$1").into_owned();
        let ms = Regex::new(r"\b\d{13}\b").unwrap();
        s = ms.replace_all(&s, "<ms>").into_owned();
        if self.mask_ids {
            let ids = Regex::new(r#"("(?:id|__id)":\s*)\d+"#).unwrap();
            s = ids.replace_all(&s, "${1}<id>").into_owned();
            let times = Regex::new(
                r#"("(?:created_at|modified_at|update_timestamp|is_finalized_at__date)":\s*)"[^"]*""#,
            )
            .unwrap();
            s = times.replace_all(&s, "${1}\"<time>\"").into_owned();
            let kv_id = Regex::new(r"(?m)^(ID:\s+)\S+$").unwrap();
            s = kv_id.replace_all(&s, "${1}<id>").into_owned();
            let kv_created = Regex::new(r"(?m)^(CREATED AT:\s+)\S+$").unwrap();
            s = kv_created.replace_all(&s, "${1}<created_at>").into_owned();
        }
        s
    }

    /// Step 5 on one table (header and rows), with steps 1–2 on each cell; None if the
    /// table is not in the official layout.
    fn rerender(&self, cols: &[(usize, &str)], block: &[&str]) -> Option<Vec<String>> {
        let mut rows: Vec<Vec<String>> = Vec::new();
        for line in block {
            rows.push(slice_row(line, cols)?);
        }
        if render(&rows) != block {
            return None;
        }
        for row in rows.iter_mut().skip(1) {
            for (c, (_, name)) in cols.iter().enumerate() {
                row[c] = match *name {
                    "ID" if self.mask_ids => "<id>".to_owned(),
                    "CREATED AT" if self.mask_ids => "<created_at>".to_owned(),
                    _ => self.text_masks(&row[c]),
                };
            }
        }
        Some(render(&rows))
    }
}

/// The columns of a table header line: (start in chars, name); None if the line is not one.
fn header_columns(line: &str) -> Option<Vec<(usize, &'static str)>> {
    if !line.starts_with("ID ") {
        return None;
    }
    let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
    let mut names = Vec::new();
    let mut k = 0;
    while k < words.len() {
        let two = (k + 1 < words.len()).then(|| format!("{} {}", words[k], words[k + 1]));
        if let Some(n) = two.and_then(|t| COLUMNS.iter().find(|c| **c == t)) {
            names.push(*n);
            k += 2;
        } else if let Some(n) = COLUMNS.iter().find(|c| **c == words[k]) {
            names.push(*n);
            k += 1;
        } else {
            return None;
        }
    }
    if names.len() < 3 {
        return None;
    }
    let chars: Vec<char> = line.chars().collect();
    let mut cols = Vec::new();
    let mut from = 0;
    for n in names {
        let nc: Vec<char> = n.chars().collect();
        let at = (from..chars.len()).find(|&p| chars[p..].starts_with(&nc))?;
        cols.push((at, n));
        from = at + nc.len();
    }
    Some(cols)
}

/// A row's cells, cut at the header's column starts; None if a cut falls inside a word.
fn slice_row(line: &str, cols: &[(usize, &str)]) -> Option<Vec<String>> {
    let chars: Vec<char> = line.chars().collect();
    let mut cells = Vec::new();
    for (k, (start, _)) in cols.iter().enumerate() {
        let end = cols
            .get(k + 1)
            .map_or(chars.len(), |c| c.0.min(chars.len()));
        if *start > chars.len() || (*start > 0 && *start < chars.len() && chars[start - 1] != ' ') {
            return None;
        }
        let start = (*start).min(chars.len());
        cells.push(
            chars[start..end.max(start)]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_owned(),
        );
    }
    Some(cells)
}

/// The official layout: each cell padded to its column's widest, one space between
/// columns, the last column not padded.
fn render(rows: &[Vec<String>]) -> Vec<String> {
    let n = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..n)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c + 1 == n {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 1));
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_masked_and_rerendered() {
        let n = Normaliser::new(&["http://127.0.0.1:41802"], &["tok"], true);
        let t = "ID COMMIT CREATED AT               STATUS  VERSION             IS FINAL\n\
                 27 d6     2026-12-02T02:53:21.294Z success 1.4.0-1796180001294 false\n\
                 1  e5     2026-12-02T02:53:21.200Z success 1.3.0               true\n";
        assert_eq!(
            n.apply(t),
            "ID   COMMIT CREATED AT   STATUS  VERSION IS FINAL\n\
             <id> d6     <created_at> success 1.4.0   false\n\
             <id> e5     <created_at> success 1.3.0   true\n"
        );
        // Not the official layout: left as it is.
        let odd = "ID  COMMIT  STATUS\n1   a       ok\n";
        assert_eq!(n.apply(odd), odd);
    }

    #[test]
    fn json_and_views() {
        let n = Normaliser::new(&["http://127.0.0.1:41802"], &["tok"], true);
        assert_eq!(
            n.apply("{\"id\": 14, \"actor\": {\"__id\":3}, \"created_at\": \"2026-x\", \"modified_at\": null, \"u\": \"http://127.0.0.1:41802/d\"}"),
            "{\"id\": <id>, \"actor\": {\"__id\":<id>}, \"created_at\": \"<time>\", \"modified_at\": null, \"u\": \"<API>/d\"}"
        );
        assert_eq!(
            n.apply("ID:          13\nCREATED AT:  2026\nTOKEN tok\n"),
            "ID:          <id>\nCREATED AT:  <created_at>\nTOKEN <TOKEN>\n"
        );
    }
}
