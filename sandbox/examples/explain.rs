//! `EXPLAIN QUERY PLAN` with the SQLite the sandbox is built with (rusqlite's bundled
//! one, which may plan differently from a system `sqlite3`):
//!
//!     cargo run --release -p balena-sandbox --example explain -- DB.sqlite < query.sql
//!
//! The query is read from stdin; `?N` parameters are bound from the remaining arguments
//! (integers when they parse as one, else text).

use std::io::Read;

fn main() -> rusqlite::Result<()> {
    let mut args = std::env::args().skip(1);
    let db = args
        .next()
        .expect("usage: explain DB.sqlite [PARAM…] < query.sql");
    let params: Vec<rusqlite::types::Value> = args
        .map(|a| match a.parse::<i64>() {
            Ok(i) => i.into(),
            Err(_) => a.into(),
        })
        .collect();
    let mut sql = String::new();
    std::io::stdin()
        .read_to_string(&mut sql)
        .expect("read the query from stdin");
    let conn = rusqlite::Connection::open(db)?;
    println!("SQLite {}", rusqlite::version());
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", sql.trim()))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut depth: Vec<(i64, usize)> = Vec::new();
    while let Some(r) = rows.next()? {
        let (id, parent, detail): (i64, i64, String) = (r.get(0)?, r.get(1)?, r.get(3)?);
        while depth.last().is_some_and(|d| d.0 != parent) {
            depth.pop();
        }
        let level = depth.last().map_or(0, |d| d.1 + 1);
        println!("{}{detail}", "  ".repeat(level));
        depth.push((id, level));
    }
    Ok(())
}
