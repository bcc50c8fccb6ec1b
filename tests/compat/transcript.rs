//! The two transcript formats, parsed from their markdown structure.
//!
//! Both are a `## <name>` heading per run, then the command line in backticks followed by
//! the recording's facts, then fenced blocks:
//!
//! - `official-cli-transcript.md` (mock server):
//!   `` `CMD` — mock scenario `S` — exit code N ``, an unlabelled fence with the requests,
//!   then `stdout:` and (when not empty) `stderr:` fences;
//! - `official-cli-real-server-transcript.md` (real server): `` `CMD` → exit N ``, then
//!   `stdout:`, `stderr:` and `requests:` fences.
//!
//! A fence's text is its lines, each with its newline (an empty fence is the empty
//! string): that is the byte-for-byte output. A missing `stderr:` block is an empty stderr.

/// One recorded run.
#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    /// The command line as written between the backticks.
    pub command: String,
    /// `NAME=VALUE` words before `balena`.
    pub env: Vec<(String, String)>,
    /// The arguments after `balena` (`""` is the empty argument; no other quoting is used).
    pub args: Vec<String>,
    /// The mock scenario (mock transcript only).
    pub scenario: Option<String>,
    pub exit: i32,
    pub stdout: String,
    pub stderr: String,
    /// The request lines (method and path), as recorded.
    pub requests: Vec<String>,
}

/// Every run of a transcript, in file order. Panics on a section it cannot read, so a
/// change of format cannot silently drop runs.
pub fn parse(text: &str) -> Vec<Run> {
    let lines: Vec<&str> = text.lines().collect();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(name) = lines[i].strip_prefix("## ") {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && !lines[end].starts_with("## ") {
                end += 1;
            }
            runs.push(parse_section(name.trim(), &lines[start..end]));
            i = end;
        } else {
            i += 1;
        }
    }
    runs
}

fn parse_section(name: &str, lines: &[&str]) -> Run {
    let cmd_line = lines
        .iter()
        .find(|l| l.starts_with('`'))
        .unwrap_or_else(|| panic!("run {name}: no command line"));
    let (command, facts) = split_command_line(cmd_line)
        .unwrap_or_else(|| panic!("run {name}: cannot read the command line {cmd_line:?}"));
    let scenario = facts
        .split("mock scenario `")
        .nth(1)
        .map(|rest| rest.split('`').next().expect("scenario name").to_owned());
    let exit = ["exit code ", "exit "]
        .iter()
        .find_map(|k| facts.rsplit_once(k))
        .and_then(|(_, n)| n.trim().parse::<i32>().ok())
        .unwrap_or_else(|| panic!("run {name}: no exit code in {facts:?}"));

    // Fenced blocks, each with the label line before it (if any).
    let mut blocks: Vec<(Option<String>, String, Vec<String>)> = Vec::new();
    let mut j = 0;
    while j < lines.len() {
        if lines[j].starts_with("```") {
            let label = (j > 0)
                .then(|| lines[j - 1].trim())
                .filter(|l| l.ends_with(':') && !l.starts_with('`'))
                .map(|l| l.trim_end_matches(':').to_owned());
            let mut body = Vec::new();
            j += 1;
            while j < lines.len() && lines[j] != "```" {
                body.push(lines[j].to_owned());
                j += 1;
            }
            assert!(j < lines.len(), "run {name}: unterminated fence");
            let text: String = body.iter().map(|l| format!("{l}\n")).collect();
            blocks.push((label, text, body));
        }
        j += 1;
    }
    let block = |label: &str| blocks.iter().find(|b| b.0.as_deref() == Some(label));
    let stdout = block("stdout")
        .unwrap_or_else(|| panic!("run {name}: no stdout block"))
        .1
        .clone();
    let stderr = block("stderr").map(|b| b.1.clone()).unwrap_or_default();
    let requests = block("requests")
        .or_else(|| blocks.iter().find(|b| b.0.is_none()))
        .map(|b| {
            b.2.iter()
                .filter(|l| !l.starts_with(' ') && !l.starts_with('('))
                .cloned()
                .collect()
        })
        .unwrap_or_default();

    let (env, args) = split_words(&command)
        .unwrap_or_else(|| panic!("run {name}: the command {command:?} does not run balena"));
    Run {
        name: name.to_owned(),
        command,
        env,
        args,
        scenario,
        exit,
        stdout,
        stderr,
        requests,
    }
}

/// `` `CMD` — facts `` or `` `CMD` → facts ``: (CMD, facts).
fn split_command_line(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('`')?;
    for sep in ["` — ", "` → "] {
        if let Some(at) = rest.find(sep) {
            return Some((rest[..at].to_owned(), rest[at + sep.len()..].to_owned()));
        }
    }
    None
}

/// `[NAME=VALUE…] balena ARGS…` split on spaces; the word `""` is an empty argument.
/// Arguments are written literally in the transcripts (`My_O'Fl&et-é+#` is one argument).
type Words = (Vec<(String, String)>, Vec<String>);

fn split_words(command: &str) -> Option<Words> {
    let mut words = command.split(' ').filter(|w| !w.is_empty());
    let mut env = Vec::new();
    loop {
        let w = words.next()?;
        if w == "balena" {
            break;
        }
        let (k, v) = w.split_once('=')?;
        env.push((k.to_owned(), v.to_owned()));
    }
    let args = words
        .map(|w| {
            if w == "\"\"" {
                String::new()
            } else {
                w.to_owned()
            }
        })
        .collect();
    Some((env, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats() {
        let mock = "# t\n\n## a\n`NO_TOKEN=1 balena fleet pin \"\"` — mock scenario `x-y` — exit code 1\n```text\nGET /a\n    (no Authorization header)\n```\nstdout:\n```text\n```\nstderr:\n```text\nE: m\n\n```\n";
        let r = &parse(mock)[0];
        assert_eq!(r.name, "a");
        assert_eq!(r.env, [("NO_TOKEN".to_owned(), "1".to_owned())]);
        assert_eq!(r.args, ["fleet", "pin", ""]);
        assert_eq!(r.scenario.as_deref(), Some("x-y"));
        assert_eq!(
            (r.exit, r.stdout.as_str(), r.stderr.as_str()),
            (1, "", "E: m\n\n")
        );
        assert_eq!(r.requests, ["GET /a"]);

        let real = "## b\n\n`balena fleet My_O'F` → exit 0\nstdout:\n```\nx \n```\nstderr:\n```\n```\nrequests:\n```\nGET /w → 200\n```\n";
        let r = &parse(real)[0];
        assert_eq!(r.args, ["fleet", "My_O'F"]);
        assert_eq!(
            (r.exit, r.stdout.as_str(), r.stderr.as_str()),
            (0, "x \n", "")
        );
        assert_eq!(r.scenario, None);
        assert_eq!(r.requests, ["GET /w → 200"]);
    }
}
