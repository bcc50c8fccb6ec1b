//! `help` and `version`.

use serde::Serialize;

use super::Printer;

/// `balena help [command…]`: the help text clap rendered, as `--help` prints it.
pub fn help(p: &Printer, text: &str) {
    p.out_raw(text);
    if !text.ends_with('\n') {
        p.out("\n");
    }
}

/// `balena version`: the version alone (the official's "backwards compatibility" form);
/// `--all`: one `<component> version "<v>"` line per component; `--json`: an object
/// indented by 4 spaces, as the official prints it (`JSON.stringify(v, null, 4)`).
pub fn version(p: &Printer, name: &str, version: &str, all: bool, json: bool) {
    if json {
        let mut m = serde_json::Map::new();
        m.insert(name.into(), version.into());
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        // Serialising a map of strings cannot fail.
        let _ = m.serialize(&mut ser);
        p.out(&format!("{}\n", String::from_utf8_lossy(&buf)));
    } else if all {
        p.out(&format!("{name} version \"{version}\"\n"));
    } else {
        p.out(&format!("{version}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_forms() {
        let run = |all, json| {
            let (p, out, _) = Printer::buffered(false);
            version(&p, "balena-rs", "1.2.3", all, json);
            out.text()
        };
        assert_eq!(run(false, false), "1.2.3\n");
        assert_eq!(run(true, false), "balena-rs version \"1.2.3\"\n");
        assert_eq!(run(false, true), "{\n    \"balena-rs\": \"1.2.3\"\n}\n");
        assert_eq!(run(true, true), "{\n    \"balena-rs\": \"1.2.3\"\n}\n");
    }
}
