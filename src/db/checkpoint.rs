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
//! all of it. Writes that never pause would keep it from starting over: past
//! [`LOG_LIMIT`] a `RESTART` checkpoint makes sure it does. A log a burst left long is
//! cut by this thread once nothing has been written to it for [`QUIET`] (a `TRUNCATE`
//! checkpoint), not by the writer that starts it over: cutting a file of hundreds of
//! megabytes takes the kernel 300 to 400 ms, and a writer doing it (SQLite's
//! `journal_size_limit`) held every sign-up behind it that long. On a full disk the log
//! keeps what it can hold and the writers meet the error themselves, as before.

use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};

/// The least time between two checkpoints: a burst of commits is copied in one go, each
/// page once however often it changed, and a commit costs the writer nothing more.
const SPACING: Duration = Duration::from_millis(100);
/// Checkpoints run this often even when no write was signalled (a write from another
/// process, or one that bypassed [`Checkpointer::wrote`]).
const AT_LEAST_EVERY: Duration = Duration::from_secs(1);

/// The log's length past which a checkpoint makes sure the log starts over. A
/// `PASSIVE` checkpoint copies the log but leaves it to the next writer to start it
/// over, which that writer does only if nothing was committed since the copy: while
/// writes never pause (a send of a million messages claims and records every few
/// milliseconds), none does, and the log grew by gigabytes, its index (mapped in every
/// process) by megabytes, and every page read slowed with it. Past this length a
/// `RESTART` checkpoint copies what is left holding new writers back, so the next
/// writer starts the log over. The length is of the log in use (what the last
/// checkpoint counted), not of its file, which keeps its length after starting over
/// until the thread cuts it: judged by the file, every checkpoint of a flood after the
/// first restart was a `RESTART`, ten a second, and the sign-ups' p99 over 30 s was
/// 18 to 22 ms instead of 10. Long, because that moment costs the writers: at 64 MB a
/// flood of sign-ups met it every few seconds and its p99 went from 18 to 30 ms; a
/// gigabyte of log keeps an index of 2 MB.
const LOG_LIMIT: u64 = 1024 * 1024 * 1024;

/// How long the log must go unwritten (by any process) before a long one is cut.
const QUIET: Duration = Duration::from_secs(1);
/// A log longer than this is cut to nothing once it has been quiet for [`QUIET`].
const CUT_PAST: u64 = 64 * 1024 * 1024;

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
        Checkpointer::start_with_limits(
            path,
            Limits {
                restart_past: LOG_LIMIT,
                cut_past: CUT_PAST,
            },
        )
    }

    /// [`Checkpointer::start`] with other lengths than [`LOG_LIMIT`] and [`CUT_PAST`].
    fn start_with_limits(path: &str, limits: Limits) -> anyhow::Result<Checkpointer> {
        let mut conn = SqliteConnection::establish(path)?;
        conn.batch_execute(super::SQLITE_PRAGMAS)?;
        // A `RESTART` that would have to wait for a writer or a reader does not: it
        // copies what it can, as a `PASSIVE` one, and the thread tries again soon.
        // Waiting, it would hold back every writer meanwhile (a sign-up flood's p99
        // went from 18 to 30 ms).
        conn.batch_execute("PRAGMA busy_timeout = 0")?;
        let frame = frame_bytes(&mut conn)?;
        // One pending wake-up is enough: many writes before the thread looks are one.
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn({
                let log = format!("{path}-wal");
                move || run(&mut conn, &woken, &log, limits, frame)
            })?;
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

/// The log's lengths past which the thread does more than a `PASSIVE` checkpoint.
#[derive(Clone, Copy)]
struct Limits {
    /// Past this, a `RESTART` makes sure the next writer starts the log over.
    restart_past: u64,
    /// Past this, a log quiet for [`QUIET`] is cut to nothing.
    cut_past: u64,
}

/// What the thread knows of the log when it picks a checkpoint.
#[derive(Clone, Copy, Debug)]
struct Log {
    /// Bytes written to the log since it last started over, as the last checkpoint
    /// counted them. A log that started over keeps its file's length (nothing cuts it
    /// while writes go on) and is written again from its start, so the file's length
    /// says nothing of how much of it is in use.
    in_use: u64,
    /// The length of the file.
    file: u64,
    /// How long ago anything was last written to the file.
    unwritten_for: Duration,
}

/// The kinds of checkpoint the thread runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Checkpoint {
    /// Copies what it can, holding back nobody.
    Passive,
    /// Copies all of the log, holding new writers back, so the next one starts it over.
    Restart,
    /// As `Restart`, and cuts the file to nothing.
    Truncate,
}

impl Checkpoint {
    fn pragma(self) -> &'static str {
        match self {
            Checkpoint::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
            Checkpoint::Restart => "PRAGMA wal_checkpoint(RESTART)",
            Checkpoint::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        }
    }
}

impl Limits {
    /// The checkpoint for `log`.
    fn checkpoint(self, log: Log) -> Checkpoint {
        if log.in_use > self.restart_past {
            Checkpoint::Restart
        } else if log.file > self.cut_past && log.unwritten_for >= QUIET {
            Checkpoint::Truncate
        } else {
            Checkpoint::Passive
        }
    }
}

/// What `PRAGMA wal_checkpoint` answers.
#[derive(diesel::QueryableByName)]
struct Checkpointed {
    /// 1 when a `RESTART` or `TRUNCATE` could not finish (a writer or a reader was in
    /// the way) and did what a `PASSIVE` one does.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    busy: i64,
    /// Frames in the log (-1 when the database is not in WAL mode).
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    log: i64,
}

/// Runs `checkpoint` and returns the bytes of the log in use after it.
fn run_checkpoint(
    conn: &mut SqliteConnection,
    checkpoint: Checkpoint,
    frame_bytes: u64,
) -> diesel::QueryResult<u64> {
    let done = diesel::sql_query(checkpoint.pragma()).get_result::<Checkpointed>(conn)?;
    let started_over = checkpoint != Checkpoint::Passive && done.busy == 0;
    Ok(if started_over {
        0
    } else {
        u64::try_from(done.log).unwrap_or(0) * frame_bytes
    })
}

/// The bytes one page takes in the log: the page and a 24-byte frame header.
fn frame_bytes(conn: &mut SqliteConnection) -> diesel::QueryResult<u64> {
    #[derive(diesel::QueryableByName)]
    struct PageSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        page_size: i64,
    }
    let page = diesel::sql_query("PRAGMA page_size").get_result::<PageSize>(conn)?;
    Ok(u64::try_from(page.page_size).unwrap_or(4096) + 24)
}

/// Checkpoints the log at `wal` (of `frame` bytes a page) whenever woken, at most every
/// [`SPACING`], until the last handle is dropped.
fn run(
    conn: &mut SqliteConnection,
    woken: &mpsc::Receiver<()>,
    wal: &str,
    limits: Limits,
    frame: u64,
) {
    let mut failing = false;
    // A write was signalled while the last checkpoint's spacing was waited out.
    let mut due = false;
    let mut in_use = 0;
    loop {
        if !due {
            match woken.recv_timeout(AT_LEAST_EVERY) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        let began = Instant::now();
        // Every commit, from whichever process, writes to the log: its modification
        // time says when the last was.
        let checkpoint = match std::fs::metadata(wal) {
            Ok(m) => limits.checkpoint(Log {
                in_use,
                file: m.len(),
                unwritten_for: m
                    .modified()
                    .ok()
                    .and_then(|at| at.elapsed().ok())
                    .unwrap_or_default(),
            }),
            Err(_) => Checkpoint::Passive,
        };
        // A full disk, say: the log keeps the writes meanwhile, and grows until the
        // writers themselves meet the error. Said once, not every second.
        match run_checkpoint(conn, checkpoint, frame) {
            Ok(now_in_use) => {
                in_use = now_in_use;
                if failing {
                    failing = false;
                    tracing::info!("WAL checkpoints succeed again");
                }
            }
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

    /// A connection to the SQLite file at `path`, set up as the pool's are.
    fn connection(path: &str) -> SqliteConnection {
        let mut conn = SqliteConnection::establish(path).expect("the database opens");
        conn.batch_execute(super::super::SQLITE_PRAGMAS)
            .expect("the pragmas apply");
        conn
    }

    /// A writer's connection set up as the pool's, with a `filler` table, and the
    /// checkpoint thread with `limits` on the same file in `dir`.
    fn writer_and_thread(
        dir: &Path,
        limits: super::Limits,
    ) -> (SqliteConnection, super::Checkpointer) {
        let file = dir.join("newsletter.db");
        let path = file.to_str().expect("a UTF-8 path");
        let mut writer = connection(path);
        writer
            .batch_execute("CREATE TABLE filler (body BLOB)")
            .expect("the table is made");
        let checkpointer =
            super::Checkpointer::start_with_limits(path, limits).expect("the thread starts");
        (writer, checkpointer)
    }

    /// Writes that never pause (as a long send's claims and records) still let the log
    /// start over once it passes its limit, instead of growing by all that is written.
    #[test]
    fn a_log_written_without_pause_starts_over_past_its_limit() {
        const LIMIT: u64 = 1024 * 1024;
        let dir = tempfile::tempdir().expect("a folder");
        let (mut writer, checkpointer) = writer_and_thread(
            dir.path(),
            super::Limits {
                restart_past: LIMIT,
                cut_past: u64::MAX,
            },
        );
        let wal = dir.path().join("newsletter.db-wal");
        // The log's header counts the times it started over (its checkpoint sequence).
        let restarts = || {
            let header = std::fs::read(&wal).expect("the log reads");
            u32::from_be_bytes(header[12..16].try_into().expect("a header"))
        };
        // 32 MB into the log, a commit at a time, the next a moment later: never a pause
        // long enough for a checkpoint of all that came before.
        for _ in 0..4_000 {
            writer
                .batch_execute("INSERT INTO filler VALUES (randomblob(8000))")
                .expect("a row is written");
            checkpointer.wrote();
            std::thread::sleep(Duration::from_micros(200));
        }
        let started_over = restarts();
        drop(checkpointer);
        assert!(
            started_over >= 2,
            "the log started over {started_over} times in 32 MB with a limit of {LIMIT} bytes"
        );
    }

    /// A burst leaves the log long (no writer cuts it: that took a sign-up flood's
    /// writer 300 to 400 ms); once nothing has been written for a second, the thread
    /// cuts it.
    #[test]
    fn a_long_log_is_cut_once_it_goes_quiet() {
        const CUT_PAST: u64 = 1024 * 1024;
        let dir = tempfile::tempdir().expect("a folder");
        let (mut writer, checkpointer) = writer_and_thread(
            dir.path(),
            super::Limits {
                restart_past: u64::MAX,
                cut_past: CUT_PAST,
            },
        );
        let wal = dir.path().join("newsletter.db-wal");
        // 8 MB in a burst of commits.
        for _ in 0..1_000 {
            writer
                .batch_execute("INSERT INTO filler VALUES (randomblob(8000))")
                .expect("a row is written");
            checkpointer.wrote();
        }
        let after_burst = size(&wal);
        assert!(after_burst > 8_000_000, "the burst is in the log");
        let began = Instant::now();
        while size(&wal) > CUT_PAST {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "the log is still {} bytes long",
                size(&wal)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            began.elapsed() >= super::QUIET - Duration::from_millis(100),
            "cut only once quiet"
        );
        let rows: i64 =
            diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM filler")
                .get_result(&mut writer)
                .expect("the rows read");
        assert_eq!(rows, 1_000, "cutting the log lost nothing");
        drop(checkpointer);
    }

    /// The log's file keeps its length once it started over, so what decides a
    /// `RESTART` is how much of it is in use: a long file written again from its start
    /// is not started over at every checkpoint (each of which holds the writers back).
    #[test]
    fn a_restart_is_for_a_log_long_in_use_not_a_long_file() {
        const MB: u64 = 1024 * 1024;
        let limits = super::Limits {
            restart_past: 1024 * MB,
            cut_past: 64 * MB,
        };
        let log = |in_use, file, unwritten_for| super::Log {
            in_use,
            file,
            unwritten_for,
        };
        let busy = Duration::ZERO;
        let quiet = super::QUIET;
        use super::Checkpoint::*;
        assert_eq!(limits.checkpoint(log(MB, 1100 * MB, busy)), Passive);
        assert_eq!(limits.checkpoint(log(1100 * MB, 1100 * MB, busy)), Restart);
        assert_eq!(limits.checkpoint(log(1100 * MB, 1100 * MB, quiet)), Restart);
        assert_eq!(limits.checkpoint(log(MB, 1100 * MB, quiet)), Truncate);
        assert_eq!(limits.checkpoint(log(MB, 32 * MB, quiet)), Passive);
    }

    /// A checkpoint counts the log in use: all that was written since it started over,
    /// nothing once a `RESTART` started it over, though the file keeps its length.
    #[test]
    fn a_checkpoint_counts_the_log_in_use() {
        let dir = tempfile::tempdir().expect("a folder");
        let file = dir.path().join("newsletter.db");
        let path = file.to_str().expect("a UTF-8 path");
        let (mut writer, mut checkpointer) = (connection(path), connection(path));
        let frame = super::frame_bytes(&mut checkpointer).expect("the page size reads");
        let checkpoint = |conn: &mut SqliteConnection, kind| {
            super::run_checkpoint(conn, kind, frame).expect("the checkpoint runs")
        };
        writer
            .batch_execute(
                "CREATE TABLE filler (body BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO filler SELECT randomblob(1000) FROM n;",
            )
            .expect("the rows are written");
        let wal = dir.path().join("newsletter.db-wal");
        let written = size(&wal);
        assert!(written > 2_000_000, "the rows are in the log");
        assert_eq!(
            checkpoint(&mut checkpointer, super::Checkpoint::Passive),
            written - 32
        );
        assert_eq!(checkpoint(&mut checkpointer, super::Checkpoint::Restart), 0);

        writer
            .batch_execute("INSERT INTO filler VALUES (randomblob(100))")
            .expect("a row is written");
        let in_use = checkpoint(&mut checkpointer, super::Checkpoint::Passive);
        assert!(
            (frame..=4 * frame).contains(&in_use),
            "one small row in a log started over, {in_use} bytes counted"
        );
        assert_eq!(size(&wal), written, "the file kept its length");
    }
}
