//! `--log FILE`: one JSON line per request, flushed as it is written.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

pub struct RequestLog {
    file: Mutex<File>,
}

impl RequestLog {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(RequestLog {
            file: Mutex::new(file),
        })
    }

    pub fn write(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        status: u16,
        took: Duration,
    ) {
        let line = serde_json::json!({
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "duration_ms": (took.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        });
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(f, "{line}");
        let _ = f.flush();
    }
}
