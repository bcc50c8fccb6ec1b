//! `--view`: a dashboard page opened in the browser, or its URL printed where there is no
//! browser to open (no terminal on stdout, CI, no display, `BROWSER=none`).

use super::Printer;

/// The dashboard page of a fleet (`<dashboard>/apps/<id>`, as the SDK builds it).
pub fn fleet_url(dashboard: &str, id: i64) -> String {
    format!("{dashboard}/apps/{id}")
}

/// Whether a browser may be opened: stdout is a terminal (a person is looking), this is
/// not CI, `BROWSER` is not `none` (or empty), and on Linux and the BSDs there is a
/// display. `env` reads one environment variable.
pub fn browser_available(env: impl Fn(&str) -> Option<String>, stdout_is_terminal: bool) -> bool {
    if !stdout_is_terminal {
        return false;
    }
    if env("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false") {
        return false;
    }
    if let Some(b) = env("BROWSER") {
        let b = b.trim();
        if b.is_empty() || b.eq_ignore_ascii_case("none") {
            return false;
        }
    }
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return true;
    }
    // Elsewhere a browser needs a display; without one, webbrowser would start a text
    // browser in this terminal.
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|k| env(k).is_some_and(|v| !v.is_empty()))
}

/// Opens `url` in the browser, silently as the official CLI does; prints it on stdout
/// instead when there is no browser, or when opening fails (with the reason on stderr).
pub fn open_page(p: &Printer, url: &str) {
    if p.json {
        p.json_pretty(&serde_json::json!({ "url": url }));
        return;
    }
    let available = browser_available(|k| std::env::var(k).ok(), p.out_is_terminal);
    if available {
        match webbrowser::open(url) {
            Ok(()) => return,
            Err(e) => p.warn(&format!("cannot open a browser: {e}")),
        }
    }
    p.out(&format!("{url}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn no_browser_without_a_terminal_in_ci_or_with_browser_none() {
        let display = &[("DISPLAY", ":0")];
        assert!(browser_available(env_of(display), true));
        assert!(!browser_available(env_of(display), false));
        assert!(!browser_available(
            env_of(&[("DISPLAY", ":0"), ("CI", "true")]),
            true
        ));
        assert!(!browser_available(
            env_of(&[("DISPLAY", ":0"), ("BROWSER", "none")]),
            true
        ));
        assert!(browser_available(
            env_of(&[("WAYLAND_DISPLAY", "wayland-0"), ("CI", "0")]),
            true
        ));
        if cfg!(not(any(target_os = "macos", target_os = "windows"))) {
            assert!(!browser_available(env_of(&[]), true), "no display");
        }
    }

    #[test]
    fn without_a_browser_the_url_is_printed() {
        let (p, out, err) = Printer::buffered(false);
        open_page(&p, "https://dashboard.example.com/apps/10");
        assert_eq!(out.text(), "https://dashboard.example.com/apps/10\n");
        assert_eq!(err.text(), "");
        let (p, out, _) = Printer::buffered(true);
        open_page(&p, "http://127.0.0.1:1/devices/abc/summary");
        assert_eq!(
            out.text(),
            "{\n  \"url\": \"http://127.0.0.1:1/devices/abc/summary\"\n}\n"
        );
        assert_eq!(fleet_url("https://d", 7), "https://d/apps/7");
    }
}
