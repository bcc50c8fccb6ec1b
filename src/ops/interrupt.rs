//! Ctrl-C (SIGINT) during the parts of a command that change things or wait for them.
//!
//! Until [`arm`] is called, SIGINT ends the process as usual (nothing has been written
//! yet). From [`arm`] on (a bulk write, a `--wait`), the first SIGINT is only noted: a bulk
//! write finishes the request in flight, sends no more, and reports what was done; a wait
//! stops polling. The command then prints what was already changed and exits 130. A second
//! SIGINT ends the process at once (exit 130), for a user who really wants out.
//!
//! tokio's own `signal` feature is used (its `signal-hook-registry` is already in the
//! lockfile): no new crate, and it fits the runtime the commands run on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::Duration;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static ARMED: Once = Once::new();

/// From now on, SIGINT is noted instead of ending the process. Idempotent; must run inside
/// the tokio runtime. If the handler can't be installed, SIGINT keeps its default (the
/// process ends), which is no worse than before.
pub fn arm() {
    ARMED.call_once(|| {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            // Registered here, synchronously: no window between arming and listening.
            if let Ok(mut sig) = signal(SignalKind::interrupt()) {
                tokio::spawn(async move {
                    while sig.recv().await.is_some() {
                        note();
                    }
                });
            }
        }
        #[cfg(not(unix))]
        {
            tokio::spawn(async {
                while tokio::signal::ctrl_c().await.is_ok() {
                    note();
                }
            });
        }
    });
}

fn note() {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // The second Ctrl-C: out now.
        std::process::exit(130);
    }
}

/// Whether SIGINT arrived since [`arm`].
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Resolves once SIGINT has arrived (checked every 50 ms).
pub async fn interrupted() {
    while !requested() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
