//! The command line of the `balena-sandbox` binary and its start-up.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;

use crate::{db, http, log, seed, simulate, store};

/// A local, stateful balena API v7 (release policy) on SQLite.
///
/// On start-up it prints two lines on stdout: the base URL it listens on, then an API key
/// of the default user (the `--token` value, or a generated key that is kept in the
/// database and printed again on later runs). Everything else goes to stderr.
///
/// Point the official CLI at it with `BALENARC_API_URL=<url> balena login --token <key>`.
#[derive(Debug, Parser)]
#[command(name = "balena-sandbox", version)]
pub struct Args {
    /// Address and port to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:48080", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,

    /// SQLite database file [default: <data dir>/balena-sandbox/sandbox.sqlite].
    #[arg(long, value_name = "FILE", conflicts_with = "memory")]
    pub db: Option<PathBuf>,

    /// Keep everything in memory; nothing survives the process.
    #[arg(long)]
    pub memory: bool,

    /// Seed an empty database: `demo`, or a fixture file (format: sandbox/FIXTURES.md).
    /// A database that already holds data is never re-seeded.
    #[arg(long, value_name = "demo|FILE.json")]
    pub seed: Option<String>,

    /// Register this API key for the default user (and print it on line 2).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Scale seeding: add a fleet with this many devices (needs --releases).
    #[arg(long, value_name = "N", requires = "releases")]
    pub devices: Option<u64>,

    /// Scale seeding: the number of successful final releases of that fleet.
    #[arg(long, value_name = "M", requires = "devices")]
    pub releases: Option<u64>,

    /// Simulate devices: online, each reaching its target release this long after the
    /// target changes (e.g. `500ms`, `2s`, `1m`), with failures on demand.
    ///
    /// An update walks `update_status` through `downloading` (`download_progress` 0 to 100,
    /// the first 60 % of DURATION), `downloaded` (10 %), `applying changes` (30 %), then
    /// `done` with `is_running__release` set, updating `last_update_status_event` at each
    /// step. A device tagged `sandbox.fail` fails instead: `reject` (`rejected` at once, stays
    /// on its release), `abort` (downloads, then `aborted`), `offline` (goes offline when
    /// targeted at another release and does not update), `stall` (stays `downloading` at 50 %).
    /// A device tagged `sandbox.offline` (any value) is offline from the start and never
    /// updated. See sandbox/FIXTURES.md.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub simulate_updates: Option<Duration>,

    /// With --simulate-updates: a fraction P (0 to 1) of the devices rejects every update.
    ///
    /// The devices are chosen by a hash of the device id and --fail-seed, so the same ones
    /// reject on every run. A `sandbox.fail` tag takes precedence.
    #[arg(long, value_name = "P", requires = "simulate_updates", value_parser = parse_fraction)]
    pub fail_rate: Option<f64>,

    /// The seed of --fail-rate's choice of devices [default: 0].
    #[arg(long, value_name = "N", requires = "fail_rate")]
    pub fail_seed: Option<u64>,

    /// Append one JSON line per request to this file.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Read-only database connections that serve GET and HEAD requests in parallel
    /// [default: one per core, 2 to 4]. Writes always go through one writer connection.
    /// 0 serves everything on the writer, one request at a time, as --memory does.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=64))]
    pub readers: Option<u8>,
}

/// Parses a duration with the grammar the `balena` CLI uses too: the input is trimmed; all
/// digits mean seconds (`3`); anything else is humantime's (`500ms`, `2s`, `1m`, `1h 30m`);
/// an empty input is an error.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration (examples: 500ms, 2s, 1m)".to_string());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("invalid duration '{t}': too many seconds"));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration '{t}': {e} (examples: 500ms, 2s, 1m)"))
}

/// Parses a fraction between 0 and 1 (`0`, `0.25`, `1`).
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    match t.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "invalid fraction '{t}': a number from 0 to 1, e.g. 0.1"
        )),
    }
}

/// Creates a folder (and its missing parents) for the owner only.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// The URL a client on this machine uses to reach a server bound to `addr`: a wildcard
/// address (`0.0.0.0`, `::`) becomes the loopback address of its family.
pub fn client_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn default_db() -> anyhow::Result<PathBuf> {
    let dir = dirs::data_dir().context("no data directory on this system; use --db or --memory")?;
    Ok(dir.join("balena-sandbox").join("sandbox.sqlite"))
}

/// Opens and (if empty) seeds the database; answers the connection, the API key to print
/// and the database file (`None` in memory).
fn prepare(args: &Args) -> anyhow::Result<(rusqlite::Connection, String, Option<PathBuf>)> {
    let path = if args.memory {
        None
    } else {
        Some(match &args.db {
            Some(p) => {
                // A mistyped folder should not silently become a new, empty sandbox.
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
                if let Some(dir) = dir.filter(|d| !d.is_dir()) {
                    bail!(
                        "the folder of --db {} does not exist: {} (create it first)",
                        p.display(),
                        dir.display()
                    );
                }
                p.clone()
            }
            None => {
                let p = default_db()?;
                if let Some(dir) = p.parent() {
                    create_private_dir(dir)
                        .with_context(|| format!("creating the folder {}", dir.display()))?;
                }
                p
            }
        })
    };
    let mut conn = db::open(path.as_deref()).with_context(|| {
        format!(
            "opening the database {:?}",
            path.as_deref().unwrap_or("(memory)".as_ref())
        )
    })?;
    let tx = conn.transaction()?;
    if seed::is_empty(&tx)? {
        match args.seed.as_deref() {
            None => {
                seed::create_default_user(&tx, "admin")?;
            }
            Some("demo") => {
                seed::load_fixture(&tx, &seed::demo_fixture()).context("the demo seed")?;
            }
            Some(file) => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading the fixture {file}"))?;
                let json: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("parsing the fixture {file}"))?;
                seed::load_fixture(&tx, &json)
                    .with_context(|| format!("loading the fixture {file}"))?;
            }
        }
        if let (Some(n), Some(m)) = (args.devices, args.releases) {
            let user = seed::default_user(&tx)?;
            seed::scale(&tx, user, n, m).context("scale seeding")?;
        }
    } else if args.seed.is_some() || args.devices.is_some() {
        eprintln!("balena-sandbox: the database already holds data; not seeding it again");
    }
    let user = seed::default_user(&tx)?;
    let key = match &args.token {
        Some(t) => {
            if t.is_empty() {
                bail!("--token must not be empty");
            }
            if let Some(owner) = db::user_of_key(&tx, t)? {
                if owner != user {
                    bail!("--token is already the key of another user");
                }
            }
            db::add_api_key(&tx, user, t, Some("--token"))?;
            t.clone()
        }
        None => match db::meta_get(&tx, "generated_api_key")? {
            Some(k) if db::user_of_key(&tx, &k)?.is_some() => k,
            _ => {
                let k = db::random_key();
                db::add_api_key(&tx, user, &k, Some("generated"))?;
                db::meta_set(&tx, "generated_api_key", &k)?;
                k
            }
        },
    };
    tx.commit()?;
    // Table statistics let SQLite pick the selective index (e.g. the uuid index rather than
    // the fleet index when 100,000 devices share one fleet).
    conn.execute_batch("PRAGMA analysis_limit = 1000; ANALYZE;")?;
    Ok((conn, key, path))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The `balena-sandbox` binary: parses the command line, runs, and exits 1 on an error.
pub fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("balena-sandbox: {e:#}");
        std::process::exit(1);
    }
}

/// Opens (and seeds) the database, then serves until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let (conn, key, path) = prepare(&args)?;
    let readers = args
        .readers
        .map_or_else(store::default_readers, usize::from);
    // The readers open after seeding and ANALYZE, so they start with the statistics.
    let store = store::Store::new(conn, path.as_deref(), readers)
        .context("opening the read-only connections")?;
    eprintln!(
        "balena-sandbox: database ready in {} ms ({})",
        started.elapsed().as_millis(),
        match store.readers() {
            0 => "one connection".to_string(),
            n => format!("1 writer and {n} reader connections"),
        }
    );
    let log = match &args.log {
        Some(p) => Some(
            log::RequestLog::open(p).with_context(|| format!("opening the log {}", p.display()))?,
        ),
        None => None,
    };
    let state = Arc::new(http::AppState { store, log });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let url = client_url(addr);
        if addr.ip().is_unspecified() {
            eprintln!("balena-sandbox: listening on all interfaces ({addr}); on this machine use {url}");
        }
        // A reader that went away (`balena-sandbox | true`) is no reason to stop serving.
        let printed = (|| {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{url}")?;
            writeln!(out, "{key}")?;
            out.flush()
        })();
        if let Err(e) = printed {
            eprintln!(
                "balena-sandbox: could not print the URL and API key on stdout ({e}); serving {url} anyway"
            );
        }
        if let Some(duration) = args.simulate_updates {
            simulate::spawn(
                state.clone(),
                simulate::Options {
                    duration,
                    fail_rate: args.fail_rate.unwrap_or(0.0),
                    fail_seed: args.fail_seed.unwrap_or(0),
                },
            );
        }
        http::serve(listener, http::router(state), shutdown_signal()).await;
        eprintln!("balena-sandbox: stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }

    #[test]
    fn fractions() {
        assert_eq!(parse_fraction("0").unwrap(), 0.0);
        assert_eq!(parse_fraction(" 0.25 ").unwrap(), 0.25);
        assert_eq!(parse_fraction("1").unwrap(), 1.0);
        for bad in ["", "-0.1", "1.01", "x", "NaN", "inf"] {
            assert!(parse_fraction(bad).is_err(), "{bad:?}");
        }
        let parse = |args: &[&str]| Args::try_parse_from(args.iter().copied());
        assert!(parse(&["balena-sandbox", "--fail-rate", "0.5"]).is_err());
        assert!(parse(&[
            "balena-sandbox",
            "--simulate-updates",
            "1s",
            "--fail-seed",
            "3"
        ])
        .is_err());
        let a = parse(&[
            "balena-sandbox",
            "--simulate-updates",
            "1s",
            "--fail-rate",
            "0.5",
            "--fail-seed",
            "3",
        ])
        .unwrap();
        assert_eq!((a.fail_rate, a.fail_seed), (Some(0.5), Some(3)));
    }

    #[test]
    fn client_urls() {
        let url = |s: &str| client_url(s.parse().unwrap());
        assert_eq!(url("127.0.0.1:48080"), "http://127.0.0.1:48080");
        assert_eq!(url("0.0.0.0:48080"), "http://127.0.0.1:48080");
        assert_eq!(url("[::]:9"), "http://[::1]:9");
        assert_eq!(url("[::1]:9"), "http://[::1]:9");
        assert_eq!(url("192.168.1.5:80"), "http://192.168.1.5:80");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2min").unwrap(), Duration::from_secs(120));
        // All digits: seconds; the input is trimmed.
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration(" 3 ").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_duration("\t250ms\n").unwrap(),
            Duration::from_millis(250)
        );
        for bad in [
            "",
            "   ",
            "2x",
            "-1",
            "ms",
            "1.5.2s",
            "99999999999999999999999",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("duration"), "{bad:?}: {e}");
        }
        assert!(parse_duration("2x").unwrap_err().contains("'2x'"));
    }
}
