//! YAML as the official CLI prints it: `release --composition` is js-yaml 4's `dump()` with
//! its defaults (2-space indent, sequences indented under their key, 80-column folding,
//! single quotes, YAML 1.1 compatibility quoting). libyaml-based emitters (serde_yaml_ng)
//! differ in each of these, so the document is laid out here, following js-yaml's rules;
//! the tests parse every output back with serde_yaml_ng.

use serde_json::{Map, Value};

const INDENT: usize = 2;
const LINE_WIDTH: usize = 80;

/// `yaml.dump(value)`: the document, ending with one newline.
pub fn dump(v: &Value) -> String {
    let mut s = node(v, 0, true, false);
    s.push('\n');
    s
}

fn next_line(level: usize) -> String {
    format!("\n{}", " ".repeat(INDENT * level))
}

/// One node at `level`; `compact`: its first line continues the current one.
fn node(v: &Value, level: usize, compact: bool, is_key: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::String(s) => scalar(s, level, is_key),
        Value::Array(items) if items.is_empty() => "[]".into(),
        Value::Array(items) => {
            let mut out = String::new();
            for item in items {
                let dumped = node(item, level + 1, true, false);
                if !compact || !out.is_empty() {
                    out.push_str(&next_line(level));
                }
                out.push_str(if dumped.starts_with('\n') { "-" } else { "- " });
                out.push_str(&dumped);
            }
            out
        }
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Object(m) => {
            let mut out = String::new();
            for (k, val) in js_key_order(m) {
                if !compact || !out.is_empty() {
                    out.push_str(&next_line(level));
                }
                let key = scalar(k, level + 1, true);
                let explicit = key.chars().count() > 1024;
                if explicit {
                    out.push_str("? ");
                }
                out.push_str(&key);
                if explicit {
                    out.push_str(&next_line(level));
                }
                let dumped = node(val, level + 1, explicit, false);
                out.push_str(if dumped.starts_with('\n') { ":" } else { ": " });
                out.push_str(&dumped);
            }
            out
        }
    }
}

/// The order of a JavaScript object's keys: integer-like keys first, ascending, then the
/// others in insertion order (what `JSON.parse` then `Object.keys` give js-yaml).
fn js_key_order(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let index = |k: &str| -> Option<u32> {
        let canonical = k == "0" || (!k.starts_with('0') && k.bytes().all(|b| b.is_ascii_digit()));
        if !canonical || k.is_empty() {
            return None;
        }
        k.parse::<u32>().ok().filter(|&n| n != u32::MAX)
    };
    let mut ints: Vec<(u32, &String, &Value)> = m
        .iter()
        .filter_map(|(k, v)| index(k).map(|i| (i, k, v)))
        .collect();
    ints.sort_by_key(|(i, _, _)| *i);
    let mut out: Vec<(&String, &Value)> = ints.into_iter().map(|(_, k, v)| (k, v)).collect();
    out.extend(m.iter().filter(|(k, _)| index(k).is_none()));
    out
}

/// A number as JavaScript's `Number.prototype.toString` writes it (js-yaml's int and float
/// representers), with js-yaml's `.e` fix for an exponent without a dot.
fn number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f == 0.0 && f.is_sign_negative() {
        return "-0.0".into();
    }
    let s = js_number(f);
    // SCIENTIFIC_WITHOUT_DOT: /^[-+]?[0-9]+e/
    let digits_then_e = s
        .trim_start_matches(['-', '+'])
        .split_once('e')
        .is_some_and(|(m, _)| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    if digits_then_e {
        s.replacen('e', ".e", 1)
    } else {
        s
    }
}

fn js_number(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let sign = if f < 0.0 { "-" } else { "" };
    // Rust's `{:e}` gives the shortest round-trip digits, as JavaScript does.
    let e = format!("{:e}", f.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exp + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let esign = if e < 0 { '-' } else { '+' };
        let rest = if k == 1 {
            String::new()
        } else {
            format!(".{}", &digits[1..])
        };
        format!("{}{rest}e{esign}{}", &digits[..1], e.abs())
    };
    format!("{sign}{body}")
}

#[derive(Debug, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Literal,
    Folded,
    Double,
}

/// js-yaml's `writeScalar` for a string at `level`.
fn scalar(s: &str, level: usize, is_key: bool) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if is_yaml11_compat(s) {
        return format!("'{s}'");
    }
    let indent = INDENT * level.max(1);
    let width = (LINE_WIDTH.min(40)).max(LINE_WIDTH.saturating_sub(indent));
    match choose_style(s, is_key, width) {
        Style::Plain => s.to_owned(),
        Style::Single => format!("'{}'", s.replace('\'', "''")),
        Style::Literal => format!(
            "|{}{}",
            block_header(s),
            drop_ending_newline(&indent_lines(s, indent))
        ),
        Style::Folded => format!(
            ">{}{}",
            block_header(s),
            drop_ending_newline(&indent_lines(&fold_string(s, width), indent))
        ),
        Style::Double => format!("\"{}\"", escape(s)),
    }
}

/// YAML 1.1 booleans and base-60 numbers, which js-yaml quotes for old parsers.
fn is_yaml11_compat(s: &str) -> bool {
    const BOOLS: [&str; 16] = [
        "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off",
        "OFF",
    ];
    if BOOLS.contains(&s) {
        return true;
    }
    // /^[-+]?[0-9_]+(?::[0-9_]+)+(?:\.[0-9_]*)?$/
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (main, frac) = match t.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (t, None),
    };
    let digitish = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let parts: Vec<&str> = main.split(':').collect();
    parts.len() >= 2
        && parts.iter().all(|p| digitish(p))
        && frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit() || b == b'_'))
}

fn is_printable(c: char) -> bool {
    let c = c as u32;
    (0x20..=0x7E).contains(&c)
        || ((0xA1..=0xD7FF).contains(&c) && c != 0x2028 && c != 0x2029)
        || ((0xE000..=0xFFFD).contains(&c) && c != 0xFEFF)
        || (0x10000..=0x10FFFF).contains(&c)
}

fn is_white(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn ns_char_or_white(c: char) -> bool {
    is_printable(c) && c != '\u{FEFF}' && c != '\r' && c != '\n'
}

fn plain_safe_first(c: char) -> bool {
    is_printable(c) && c != '\u{FEFF}' && !is_white(c) && !"-?:,[]{}#&*!|=>'\"%@`".contains(c)
}

/// `isPlainSafe` in block context (keys and values of block collections are both written
/// with `inblock`).
fn plain_safe(c: char, prev: Option<char>) -> bool {
    let ns_or_white = ns_char_or_white(c);
    let ns = ns_or_white && !is_white(c);
    (ns_or_white && c != '#' && (prev != Some(':') || ns))
        || (prev.is_some_and(|p| ns_char_or_white(p) && !is_white(p)) && c == '#')
        || (prev == Some(':') && ns)
}

/// Length in UTF-16 code units, as JavaScript counts.
fn js_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

fn choose_style(s: &str, single_line_only: bool, width: usize) -> Style {
    let first = s.chars().next().unwrap_or(' ');
    let last = s.chars().last().unwrap_or(' ');
    let mut plain = plain_safe_first(first) && !is_white(last) && last != ':';
    let mut has_line_break = false;
    let mut foldable = false;
    let mut prev: Option<char> = None;
    if single_line_only {
        for c in s.chars() {
            if !is_printable(c) {
                return Style::Double;
            }
            plain = plain && plain_safe(c, prev);
            prev = Some(c);
        }
    } else {
        for line in s.split('\n') {
            foldable = foldable || (js_len(line) > width && !line.starts_with(' '));
        }
        for c in s.chars() {
            if c == '\n' {
                has_line_break = true;
            } else if !is_printable(c) {
                return Style::Double;
            }
            plain = plain && plain_safe(c, prev);
            prev = Some(c);
        }
    }
    if !has_line_break && !foldable {
        return if plain && !resolves_implicitly(s) {
            Style::Plain
        } else {
            Style::Single
        };
    }
    if foldable {
        Style::Folded
    } else {
        Style::Literal
    }
}

/// Whether js-yaml's default schema would read `s` back as something other than a string
/// (null, bool, int, float, timestamp, merge key).
fn resolves_implicitly(s: &str) -> bool {
    matches!(
        s,
        "~" | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "<<"
    ) || is_int(s)
        || is_float(s)
        || is_timestamp(s)
}

fn is_int(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i = 1;
    }
    if i >= b.len() {
        return false;
    }
    if b[i] == b'0' {
        if i + 1 == b.len() {
            return true;
        }
        if b[i + 1] == b'_' {
            return false;
        }
        let radix = match b[i + 1] {
            b'b' => Some(2),
            b'x' => Some(16),
            b'o' => Some(8),
            _ => None,
        };
        if let Some(radix) = radix {
            let rest = &s[i + 2..];
            return rest.bytes().any(|c| c != b'_')
                && rest.chars().all(|c| c == '_' || c.is_digit(radix))
                && !rest.ends_with('_');
        }
    }
    let rest = &s[i..];
    !rest.starts_with('_')
        && rest.bytes().any(|c| c.is_ascii_digit())
        && rest.bytes().all(|c| c == b'_' || c.is_ascii_digit())
        && !rest.ends_with('_')
}

fn is_float(s: &str) -> bool {
    if s.ends_with('_') {
        return false;
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (body, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if let Some(e) = exp {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    let digits_ = |p: &str| p.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    // [-+]?[0-9][0-9_]*(\.[0-9_]*)?   or   \.[0-9_]+
    if let Some(frac) = body.strip_prefix('.') {
        return !frac.is_empty() && digits_(frac);
    }
    let body = body.strip_prefix(['-', '+']).unwrap_or(body);
    let (int, frac) = match body.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (body, None),
    };
    int.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && digits_(int)
        && frac.is_none_or(digits_)
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    // YYYY-MM-DD
    if b.len() == 10 && (0..4).all(digit) && b[4] == b'-' && digit(5) && digit(6) && b[7] == b'-' {
        return digit(8) && digit(9);
    }
    // YYYY-M(M)-D(D)(T|t|[ \t]+)H(H):MM:SS(.f*)?([ \t]*(Z|[-+]H(H)(:MM)?))?
    let mut i = 0;
    let take = |i: &mut usize, min: usize, max: usize| -> bool {
        let start = *i;
        while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start >= min
    };
    let lit = |i: &mut usize, c: u8| -> bool {
        if b.get(*i) == Some(&c) {
            *i += 1;
            true
        } else {
            false
        }
    };
    if !(take(&mut i, 4, 4)
        && lit(&mut i, b'-')
        && take(&mut i, 1, 2)
        && lit(&mut i, b'-')
        && take(&mut i, 1, 2))
    {
        return false;
    }
    if matches!(b.get(i), Some(b'T' | b't')) {
        i += 1;
    } else {
        let start = i;
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if !(take(&mut i, 1, 2)
        && lit(&mut i, b':')
        && take(&mut i, 2, 2)
        && lit(&mut i, b':')
        && take(&mut i, 2, 2))
    {
        return false;
    }
    if lit(&mut i, b'.') {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if i == b.len() {
        return true;
    }
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if lit(&mut i, b'Z') {
        return i == b.len();
    }
    if !matches!(b.get(i), Some(b'-' | b'+')) {
        return false;
    }
    i += 1;
    if !take(&mut i, 1, 2) {
        return false;
    }
    if lit(&mut i, b':') && !take(&mut i, 2, 2) {
        return false;
    }
    i == b.len()
}

fn block_header(s: &str) -> String {
    let indicator = if s.trim_start_matches('\n').starts_with(' ') {
        INDENT.to_string()
    } else {
        String::new()
    };
    let clip = s.ends_with('\n');
    let keep = clip && (s.ends_with("\n\n") || s == "\n");
    let chomp = if keep {
        "+"
    } else if clip {
        ""
    } else {
        "-"
    };
    format!("{indicator}{chomp}\n")
}

fn drop_ending_newline(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

/// Every line indented by `spaces`, except empty ones.
fn indent_lines(s: &str, spaces: usize) -> String {
    let ind = " ".repeat(spaces);
    let mut out = String::new();
    for line in s.split_inclusive('\n') {
        if line != "\n" {
            out.push_str(&ind);
        }
        out.push_str(line);
    }
    out
}

/// js-yaml's `foldString`: folds each content line, keeping the meaning of the newlines.
fn fold_string(s: &str, width: usize) -> String {
    let first_end = s.find('\n').unwrap_or(s.len());
    let mut out = fold_line(&s[..first_end], width);
    let mut prev_more_indented = s.starts_with('\n') || s.starts_with(' ');
    let mut rest = &s[first_end..];
    while !rest.is_empty() {
        let n = rest.len() - rest.trim_start_matches('\n').len();
        let prefix = &rest[..n];
        let after = &rest[n..];
        let end = after.find('\n').unwrap_or(after.len());
        let line = &after[..end];
        let more_indented = line.starts_with(' ');
        out.push_str(prefix);
        if !prev_more_indented && !more_indented && !line.is_empty() {
            out.push('\n');
        }
        out.push_str(&fold_line(line, width));
        prev_more_indented = more_indented;
        rest = &after[end..];
    }
    out
}

/// js-yaml's greedy `foldLine`: breaks at single spaces so that lines fit in `width` where
/// they can. Positions are in UTF-16 units, as in JavaScript.
fn fold_line(line: &str, width: usize) -> String {
    if line.is_empty() || line.starts_with(' ') {
        return line.to_owned();
    }
    let units: Vec<u16> = line.encode_utf16().collect();
    let slice = |a: usize, b: usize| String::from_utf16_lossy(&units[a..b]);
    let sp = u16::from(b' ');
    let (mut start, mut curr) = (0usize, 0usize);
    let mut out = String::new();
    for next in 0..units.len().saturating_sub(1) {
        // breakRe = / [^ ]/g
        if units[next] != sp || units[next + 1] == sp {
            continue;
        }
        if next - start > width {
            let end = if curr > start { curr } else { next };
            out.push('\n');
            out.push_str(&slice(start, end));
            start = end + 1;
        }
        curr = next;
    }
    out.push('\n');
    if units.len() - start > width && curr > start {
        out.push_str(&slice(start, curr));
        out.push('\n');
        out.push_str(&slice(curr + 1, units.len()));
    } else {
        out.push_str(&slice(start, units.len()));
    }
    out[1..].to_owned()
}

fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let seq = match c {
            '\0' => Some("\\0"),
            '\u{07}' => Some("\\a"),
            '\u{08}' => Some("\\b"),
            '\t' => Some("\\t"),
            '\n' => Some("\\n"),
            '\u{0B}' => Some("\\v"),
            '\u{0C}' => Some("\\f"),
            '\r' => Some("\\r"),
            '\u{1B}' => Some("\\e"),
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{85}' => Some("\\N"),
            '\u{A0}' => Some("\\_"),
            '\u{2028}' => Some("\\L"),
            '\u{2029}' => Some("\\P"),
            _ => None,
        };
        match seq {
            Some(q) => out.push_str(q),
            None if is_printable(c) => out.push(c),
            None => {
                let n = c as u32;
                if n <= 0xFF {
                    out.push_str(&format!("\\x{n:02X}"));
                } else if n <= 0xFFFF {
                    out.push_str(&format!("\\u{n:04X}"));
                } else {
                    out.push_str(&format!("\\U{n:08X}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The dump, checked to read back (with serde_yaml_ng) as the same value.
    fn d(v: Value) -> String {
        let out = dump(&v);
        let back: Value = serde_yaml_ng::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(back, v, "round trip of {out}");
        out
    }

    #[test]
    fn the_transcripts_compositions() {
        // official-cli-transcript.md `rel-show-comp` (before console.log's newline).
        assert_eq!(
            d(json!({"version": "2.1", "services": {"main": {}}})),
            "version: '2.1'\nservices:\n  main: {}\n"
        );
        // official-cli-real-server-transcript.md `S-rel-comp`.
        assert_eq!(
            d(json!({"services": {"main": {"build": "."}}})),
            "services:\n  main:\n    build: .\n"
        );
        assert_eq!(d(json!({})), "{}\n");
        assert_eq!(dump(&Value::Null), "null\n");
    }

    #[test]
    fn a_typical_compose_file() {
        let v = json!({
            "version": "2.4",
            "volumes": {"data": {}},
            "services": {
                "web": {
                    "image": "nginx:1.25",
                    "ports": ["80:80", "8443:443", 8080],
                    "privileged": true,
                    "restart": "always",
                    "environment": {"MODE": "on", "EMPTY": "", "QUOTE": "it's", "HASH": "a #b", "COLON": "a: b"},
                    "labels": {"io.balena.features.dbus": "1"},
                    "command": ["sh", "-c", "echo hi"],
                    "depends_on": [],
                    "healthcheck": {"interval": 1.5, "retries": 3, "test": null},
                    "devices": [{"host": "/dev/i2c-1", "ro": false}],
                }
            }
        });
        assert_eq!(
            d(v),
            "\
version: '2.4'
volumes:
  data: {}
services:
  web:
    image: nginx:1.25
    ports:
      - '80:80'
      - '8443:443'
      - 8080
    privileged: true
    restart: always
    environment:
      MODE: 'on'
      EMPTY: ''
      QUOTE: it's
      HASH: 'a #b'
      COLON: 'a: b'
    labels:
      io.balena.features.dbus: '1'
    command:
      - sh
      - '-c'
      - echo hi
    depends_on: []
    healthcheck:
      interval: 1.5
      retries: 3
      test: null
    devices:
      - host: /dev/i2c-1
        ro: false
"
        );
    }

    #[test]
    fn strings_that_need_quoting() {
        let cases = [
            ("true", "'true'"),
            ("No", "'No'"),
            ("null", "'null'"),
            ("~", "'~'"),
            ("123", "'123'"),
            ("0x1F", "'0x1F'"),
            ("1_000", "'1_000'"),
            ("1.5e3", "'1.5e3'"),
            (".inf", "'.inf'"),
            ("2024-01-02", "'2024-01-02'"),
            ("2024-01-02T03:04:05Z", "'2024-01-02T03:04:05Z'"),
            ("12:30", "'12:30'"),
            ("- x", "'- x'"),
            ("*star", "'*star'"),
            ("trailing ", "'trailing '"),
            ("a: b", "'a: b'"),
            ("{x}", "'{x}'"),
            ("say \"hi\"", "say \"hi\""),
            ("tab\there", "\"tab\\there\""),
            ("bell\u{7}", "\"bell\\a\""),
            ("1.2.3", "1.2.3"),
            ("v1", "v1"),
            ("http://x:80/a", "http://x:80/a"),
            ("üñí", "üñí"),
        ];
        for (s, want) in cases {
            assert_eq!(d(json!({"k": s})), format!("k: {want}\n"), "{s:?}");
        }
        // Keys follow the same rules; flow indicators are fine in block context.
        assert_eq!(d(json!({"a,b": 1, "true": 2})), "a,b: 1\n'true': 2\n");
    }

    #[test]
    fn numbers_as_javascript_writes_them() {
        assert_eq!(
            d(json!([1, -2, 0.5, 1e21, 1e-7, 123456.789])),
            "- 1\n- -2\n- 0.5\n- 1.e+21\n- 1.e-7\n- 123456.789\n"
        );
        // JSON's 2.0 is JavaScript's 2.
        assert_eq!(dump(&json!(2.0)), "2\n");
        assert_eq!(d(json!([1.5e300])), "- 1.5e+300\n");
    }

    #[test]
    fn key_order_is_javascripts() {
        let v: Value = serde_json::from_str(r#"{"b":1,"10":2,"a":3,"2":4,"01":5}"#).unwrap();
        assert_eq!(dump(&v), "'2': 4\n'10': 2\nb: 1\na: 3\n'01': 5\n");
    }

    #[test]
    fn multi_line_and_long_strings() {
        assert_eq!(
            d(json!({"script": "line one\nline two\n"})),
            "script: |\n  line one\n  line two\n"
        );
        assert_eq!(d(json!({"script": "a\nb"})), "script: |-\n  a\n  b\n");
        assert_eq!(d(json!({"s": "a\n\n"})), "s: |+\n  a\n\n");
        assert_eq!(
            d(json!({"s": "  indented\nnext"})),
            "s: |2-\n    indented\n  next\n"
        );
        let long = "word ".repeat(20) + "end";
        assert_eq!(
            d(json!({"cmd": long})),
            format!(
                "cmd: >-\n  {}word\n  {}end\n",
                "word ".repeat(14),
                "word ".repeat(5)
            )
        );
        // Nothing to break at: one long line, still folded style.
        let unbroken = "x".repeat(100);
        assert_eq!(d(json!({"k": unbroken})), format!("k: >-\n  {unbroken}\n"));
    }

    #[test]
    fn nested_sequences() {
        assert_eq!(
            d(json!({"m": [[1, 2], [], {}, [{"a": [3]}]]})),
            "m:\n  - - 1\n    - 2\n  - []\n  - {}\n  - - a:\n        - 3\n"
        );
        assert_eq!(
            d(json!(["x", {"a": 1, "b": {"c": 2}}])),
            "- x\n- a: 1\n  b:\n    c: 2\n"
        );
    }
}
