//! The connections to the database: one writer, and a small pool of read-only readers.
//!
//! Every write (a request that is not a GET or HEAD, the update simulation) runs on the one
//! writer connection, under its lock, so writes are serialised and each is committed before
//! its answer is sent. Reads run on the readers, each read on one reader it has to itself,
//! so as many reads as there are readers run at once; a read that finds all of them busy
//! waits for the first to come back. The database is in WAL mode: readers never block the
//! writer nor each other.
//!
//! Read-your-writes: a read takes its snapshot inside its own transaction, begun when the
//! read starts and ended before its answer is sent; no transaction stays open between
//! requests. A write acknowledged before a read starts is committed, so the read sees it,
//! whichever reader it runs on. Within one read, every statement (one per `$expand` level)
//! sees the same snapshot.
//!
//! An in-memory database (`--memory`) has no readers: one connection cannot share its
//! memory with others unless through SQLite's shared cache, whose table locks would make
//! concurrent reads and writes fail with `SQLITE_LOCKED` instead of waiting (and WAL does not
//! apply to memory). There every request runs on the writer connection, one at a time.

use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

use rusqlite::Connection;

use crate::db;

/// The most readers opened by default.
const MAX_DEFAULT_READERS: usize = 4;

pub struct Store {
    writer: Mutex<Connection>,
    readers: Readers,
}

/// The read-only connections not in use, and a signal when one comes back. A read takes
/// any idle one (the most recently used, whose cache is warm) or waits for the first to
/// come back: it never waits for one connection while another is idle.
struct Readers {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
    count: usize,
}

/// A reader taken from the idle ones; it goes back when dropped, even by a panic.
struct Lease<'a> {
    readers: &'a Readers,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            lock(&self.readers.idle).push(c);
            self.readers.returned.notify_one();
        }
    }
}

/// The default number of readers: one per core, at least 2, at most 4.
pub fn default_readers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, usize::from)
        .clamp(2, MAX_DEFAULT_READERS)
}

impl Store {
    /// A store on `writer` (already opened, migrated and seeded by [`db::open`]), with
    /// `readers` read-only connections to the same file `path`; none for an in-memory
    /// database (`path` is `None`) or when `readers` is 0.
    pub fn new(writer: Connection, path: Option<&Path>, readers: usize) -> anyhow::Result<Self> {
        let idle = match path {
            Some(p) => (0..readers)
                .map(|_| db::open_reader(p))
                .collect::<anyhow::Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        Ok(Store {
            writer: Mutex::new(writer),
            readers: Readers {
                count: idle.len(),
                idle: Mutex::new(idle),
                returned: Condvar::new(),
            },
        })
    }

    /// How many read-only connections there are (0: reads run on the writer).
    pub fn readers(&self) -> usize {
        self.readers.count
    }

    /// Runs `f` on the writer connection, alone among writers.
    pub fn write<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        let mut conn = lock(&self.writer);
        f(&mut conn)
    }

    /// Runs `f` on an idle reader (waiting for one if all are busy), in a read transaction
    /// that ends when `f` returns. Without readers, on the writer.
    pub fn read<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        if self.readers.count == 0 {
            return in_read_transaction(&mut lock(&self.writer), f);
        }
        let mut lease = self.readers.take();
        let conn = lease.conn.as_mut().expect("a leased connection");
        in_read_transaction(conn, f)
    }
}

impl Readers {
    fn take(&self) -> Lease<'_> {
        let mut idle = lock(&self.idle);
        loop {
            if let Some(conn) = idle.pop() {
                return Lease {
                    readers: self,
                    conn: Some(conn),
                };
            }
            idle = self.returned.wait(idle).unwrap_or_else(|e| e.into_inner());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` inside `BEGIN … ROLLBACK`: one snapshot for all of `f`'s statements, taken at
/// its first read, and released when `f` returns (a read has nothing to commit). A
/// transaction left open by a panic is ended first, so no snapshot outlives its request.
fn in_read_transaction<T>(conn: &mut Connection, f: impl FnOnce(&mut Connection) -> T) -> T {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let began = conn.execute_batch("BEGIN DEFERRED").is_ok();
    let out = f(conn);
    if began && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn file_store(readers: usize) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.sqlite");
        let writer = db::open(Some(&path)).expect("open the database");
        writer
            .execute_batch("CREATE TABLE t (\"id\" INTEGER PRIMARY KEY, \"v\" INTEGER)")
            .unwrap();
        let store = Store::new(writer, Some(&path), readers).expect("the store");
        (dir, store)
    }

    fn value(conn: &Connection, id: i64) -> Option<i64> {
        use rusqlite::OptionalExtension;
        conn.query_row("SELECT \"v\" FROM t WHERE \"id\" = ?1", [id], |r| r.get(0))
            .optional()
            .unwrap()
    }

    #[test]
    fn default_pool_size_is_between_2_and_4() {
        assert!((2..=4).contains(&default_readers()));
    }

    #[test]
    fn every_reader_sees_each_committed_write_at_once() {
        let (_dir, store) = file_store(3);
        assert_eq!(store.readers(), 3);
        for v in 0..30 {
            store.write(|c| {
                let tx = c.transaction().unwrap();
                tx.execute(
                    "INSERT INTO t (\"id\", \"v\") VALUES (1, ?1) ON CONFLICT(\"id\") DO UPDATE SET \"v\" = excluded.\"v\"",
                    [v],
                )
                .unwrap();
                tx.commit().unwrap();
            });
            // Every reader (all taken at once) sees the write, and so does a read.
            let mut leases: Vec<Lease<'_>> = (0..3).map(|_| store.readers.take()).collect();
            for lease in &mut leases {
                let conn = lease.conn.as_mut().unwrap();
                assert_eq!(in_read_transaction(conn, |c| value(c, 1)), Some(v));
            }
            drop(leases);
            assert_eq!(store.read(|c| value(c, 1)), Some(v));
        }
    }

    #[test]
    fn reads_run_at_the_same_time_on_different_readers() {
        let (_dir, store) = file_store(2);
        // Two reads that each wait, inside `read`, for the other to be inside too: possible
        // only if they hold two connections at once.
        let (tx1, rx1) = mpsc::channel::<()>();
        let (tx2, rx2) = mpsc::channel::<()>();
        let store = &store;
        std::thread::scope(|s| {
            let a = s.spawn(move || {
                store.read(|_| {
                    tx1.send(()).unwrap();
                    rx2.recv_timeout(Duration::from_secs(10)).is_ok()
                })
            });
            let b = s.spawn(move || {
                store.read(|_| {
                    tx2.send(()).unwrap();
                    rx1.recv_timeout(Duration::from_secs(10)).is_ok()
                })
            });
            assert!(a.join().unwrap(), "the second read did not run alongside");
            assert!(b.join().unwrap(), "the first read did not run alongside");
        });
    }

    #[test]
    fn a_read_waits_for_a_busy_reader_to_come_back() {
        let (_dir, store) = file_store(1);
        let lease = store.readers.take();
        let (done, done_rx) = mpsc::channel::<Option<i64>>();
        let store = &store;
        std::thread::scope(|s| {
            s.spawn(move || done.send(store.read(|c| value(c, 1))).unwrap());
            // The only reader is taken: the read waits...
            assert!(done_rx.recv_timeout(Duration::from_millis(200)).is_err());
            // ...and runs as soon as it is back.
            drop(lease);
            assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)), Ok(None));
        });
    }

    #[test]
    fn a_read_does_not_wait_for_a_write_in_progress_and_sees_its_snapshot() {
        let (_dir, store) = file_store(2);
        store.write(|c| c.execute("INSERT INTO t VALUES (1, 1)", []).unwrap());
        let (started, started_rx) = mpsc::channel::<()>();
        let (finish, finish_rx) = mpsc::channel::<()>();
        let store = &store;
        std::thread::scope(|s| {
            let w = s.spawn(move || {
                store.write(|c| {
                    let tx = c.transaction().unwrap();
                    tx.execute("UPDATE t SET \"v\" = 2 WHERE \"id\" = 1", [])
                        .unwrap();
                    started.send(()).unwrap();
                    finish_rx.recv_timeout(Duration::from_secs(10)).unwrap();
                    tx.commit().unwrap();
                })
            });
            started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            // The write is not committed: a read sees the last committed state, at once.
            assert_eq!(store.read(|c| value(c, 1)), Some(1));
            finish.send(()).unwrap();
            w.join().unwrap();
        });
        assert_eq!(store.read(|c| value(c, 1)), Some(2));
    }

    #[test]
    fn readers_refuse_writes_and_no_snapshot_outlives_a_panicked_read() {
        let (_dir, store) = file_store(1);
        let refused = store.read(|c| c.execute("INSERT INTO t VALUES (5, 5)", []).is_err());
        assert!(refused, "a reader must be query_only");
        assert_eq!(store.read(|c| value(c, 5)), None);
        // A read that panics after taking its snapshot leaves its transaction open...
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.read(|c| {
                assert_eq!(value(c, 6), None);
                panic!("a bug in a read");
            })
        }));
        assert!(panicked.is_err());
        store.write(|c| c.execute("INSERT INTO t VALUES (6, 6)", []).unwrap());
        // ...which the next read on that connection ends: it sees the later write.
        assert_eq!(store.read(|c| value(c, 6)), Some(6));
        assert!(
            store.read(|c| !c.is_autocommit()),
            "reads run in a transaction"
        );
    }

    #[test]
    fn in_memory_there_are_no_readers_and_reads_see_writes() {
        let writer = db::open(None).expect("open in memory");
        let store = Store::new(writer, None, 4).expect("the store");
        assert_eq!(store.readers(), 0);
        store.write(|c| {
            c.execute_batch("CREATE TABLE t (\"id\" INTEGER PRIMARY KEY, \"v\" INTEGER); INSERT INTO t VALUES (1, 7)")
                .unwrap()
        });
        assert_eq!(store.read(|c| value(c, 1)), Some(7));
        // A read leaves no transaction open on the shared writer.
        store.write(|c| assert!(c.is_autocommit()));
    }
}
