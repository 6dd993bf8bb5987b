//! WAL checkpoints on a thread of their own, off the writers' path.
//!
//! By default SQLite checkpoints from whichever connection commits the transaction that
//! takes the write-ahead log past 1,000 pages: that writer copies the log into the
//! database file, with its `fsync`s, before it answers, and every writer queued behind
//! it (a group of sign-ups, say) waits the whole copy. Here no pooled connection
//! checkpoints (`wal_autocheckpoint = 0`); this thread, on a connection of its own, does
//! soon after writes, with a `PASSIVE` checkpoint, which blocks neither readers nor
//! writers: they go on committing meanwhile.
//!
//! Nothing promised changes: a commit is in the log before it is answered (`synchronous
//! = NORMAL` as before); the log is reused from its start once a checkpoint has copied
//! all of it, and `journal_size_limit` truncates it after a burst, so it stays as short
//! as before. On a full disk the log keeps what it can hold and the writers meet the
//! error themselves, as before.

use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

/// The least time between two checkpoints: a burst of commits is copied in one go, each
/// page once however often it changed, and a commit costs the writer nothing more.
const SPACING: Duration = Duration::from_millis(100);
/// Checkpoints run this often even when no write was signalled (a write from another
/// process, or one that bypassed [`Checkpointer::wrote`]).
const AT_LEAST_EVERY: Duration = Duration::from_secs(1);

/// The checkpoint thread of one database; joined when dropped, so its connection is
/// closed (and, as the last one, removes the log) before the process goes on.
pub(super) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a connection of its own to the SQLite file at `path`, set up as the pool's
    /// are, and starts the thread.
    pub(super) fn start(path: &str) -> anyhow::Result<Checkpointer> {
        let mut conn = SqliteConnection::establish(path)?;
        conn.batch_execute(super::SQLITE_PRAGMAS)?;
        // One pending wake-up is enough: many writes before the thread looks are one.
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || run(&mut conn, &woken))?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Tells the thread a transaction committed; never blocks.
    pub(super) fn wrote(&self) {
        if let Some(wake) = &self.wake {
            // Full: a wake-up is pending already. Disconnected: the thread is ending.
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop.
        self.wake.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: &mut SqliteConnection, woken: &mpsc::Receiver<()>) {
    let mut failing = false;
    // A write was signalled while the last checkpoint's spacing was waited out.
    let mut due = false;
    loop {
        if !due {
            match woken.recv_timeout(AT_LEAST_EVERY) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        let began = Instant::now();
        // A full disk, say: the log keeps the writes meanwhile, and grows until the
        // writers themselves meet the error. Said once, not every second.
        match conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("WAL checkpoints succeed again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "a WAL checkpoint failed; will retry");
            }
            Err(_) => {}
        }
        // The spacing, listening all the while: a dropped handle ends the thread at once
        // (a CLI command does not wait out the spacing to exit).
        due = false;
        loop {
            let left = SPACING.saturating_sub(began.elapsed());
            if left.is_zero() {
                break;
            }
            match woken.recv_timeout(left) {
                Ok(()) => due = true,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use crate::db::Db;

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    /// Commits leave the log to the thread: the database file takes a big write within
    /// a moment of its commit, though no writer checkpointed (it would have taken 1,000
    /// pages for one to), and a database closed leaves no log behind.
    #[test]
    fn the_thread_copies_commits_into_the_database_file_and_closing_removes_the_log() {
        let dir = tempfile::tempdir().expect("a folder");
        let file = dir.path().join("newsletter.db");
        let db = Db::connect(file.to_str().expect("a UTF-8 path")).expect("the database opens");
        let autocheckpoint: i64 = db
            .run_blocking(|conn| {
                #[derive(QueryableByName)]
                struct Pages {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    wal_autocheckpoint: i64,
                }
                Ok(diesel::sql_query("PRAGMA wal_autocheckpoint")
                    .get_result::<Pages>(conn)?
                    .wal_autocheckpoint)
            })
            .expect("the pragma reads");
        assert_eq!(autocheckpoint, 0, "writers do not checkpoint themselves");

        // About 500 pages: half what would make a writer checkpoint by default.
        let before = size(&file);
        db.write_blocking(|conn| {
            conn.batch_execute(
                "CREATE TABLE filler (body BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO filler SELECT randomblob(1000) FROM n;",
            )?;
            Ok(())
        })
        .expect("the rows are written");
        let wal = dir.path().join("newsletter.db-wal");
        assert!(size(&wal) > 2_000_000, "the commit went to the log first");
        let began = Instant::now();
        while size(&file) < before + 2_000_000 {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "the commit was never copied into the database file ({} bytes)",
                size(&file)
            );
            std::thread::sleep(Duration::from_millis(20));
        }

        drop(db);
        assert!(!wal.exists(), "a closed database leaves no log");
    }
}
