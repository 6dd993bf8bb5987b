//! The SQLite database: the connection pool, embedded migrations, and queries by topic.
//!
//! Diesel is synchronous, so every query runs on tokio's blocking pool through
//! [`Db::run`]; the async threads that serve requests never wait on SQLite.

pub mod admin_sessions;
pub mod app_settings;
pub mod articles;
pub mod deliveries;
pub mod digests;
pub mod outgoing_emails;
pub mod schema;
pub mod stats;
pub mod subscribers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{NaiveDateTime, Utc};
use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Timestamps are stored as UTC without a zone; they leave the service as RFC 3339 UTC.
pub mod utc {
    use chrono::NaiveDateTime;
    use serde::Serializer;

    /// `2026-06-19T09:30:00Z`.
    pub fn format(at: NaiveDateTime) -> String {
        at.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// `26 Nov 2026, 18:47 UTC`, for people.
    pub fn human(at: NaiveDateTime) -> String {
        at.format("%-d %b %Y, %H:%M UTC").to_string()
    }

    pub fn serialize<S: Serializer>(at: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*at))
    }

    pub fn serialize_option<S: Serializer>(
        at: &Option<NaiveDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serialize(at, serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// How one attempt at sending a queued message ended; recorded by both queues
/// (one-off mail and digest deliveries).
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent,
    /// A temporary failure: try again at the given time.
    RetryAt(NaiveDateTime, String),
    /// The server refused it for good (5xx), blaming the message or the sender; its
    /// reply is kept.
    Rejected(String),
    /// The server refused it for good because of the recipient's mailbox (a hard
    /// bounce); its reply is kept.
    Bounced(String),
    /// Temporary failures went on for longer than the retry policy allows.
    GaveUp(String),
    /// No longer wanted (the reader left or was erased meanwhile).
    Cancelled,
}

/// A pooled SQLite connection.
pub type Conn = SqliteConnection;

/// The current time as stored in the database (UTC, no zone).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// Adds a std duration to a database timestamp, saturating rather than panicking.
pub fn after(at: NaiveDateTime, wait: Duration) -> NaiveDateTime {
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(NaiveDateTime::MAX)
}

/// Pragmas every connection needs. `busy_timeout` is what keeps concurrent writers from
/// failing with "database is locked"; WAL lets readers run beside the one writer, and
/// `journal_size_limit` truncates the WAL after a checkpoint, so a flood of writes does
/// not leave it hundreds of megabytes long.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(
            "PRAGMA busy_timeout = 10000;
             PRAGMA journal_mode = WAL;
             PRAGMA journal_size_limit = 67108864;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The database handle the whole app shares; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager<SqliteConnection>>,
    /// Taken around every write that goes through [`Db::write`]: SQLite has one writer
    /// at a time, and a writer that finds the lock taken sleeps in SQLite's busy handler
    /// in growing steps (up to 100 ms) even when the lock frees a moment later. Queued
    /// on this mutex instead, the next writer starts the moment the last one commits.
    write_lock: Arc<Mutex<()>>,
}

impl Db {
    /// Opens (creating if needed) the SQLite file and brings its schema up to date.
    pub fn open(database_url: &str) -> anyhow::Result<Db> {
        let path = database_url
            .strip_prefix("sqlite://")
            .unwrap_or(database_url);
        if let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("could not create the folder for DATABASE_URL `{path}`")
            })?;
        }
        let pool = Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(30))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(ConnectionManager::<SqliteConnection>::new(path))
            .with_context(|| format!("could not open the SQLite database `{path}`"))?;
        let db = Db {
            pool,
            write_lock: Arc::new(Mutex::new(())),
        };
        db.migrate()?;
        Ok(db)
    }

    /// Runs the pending embedded migrations.
    pub fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self
            .pool
            .get()
            .context("could not get a database connection")?;
        conn.run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        subscribers::normalise_stored_addresses(&mut conn)
            .context("could not normalise the stored addresses")?;
        Ok(())
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> anyhow::Result<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.run_blocking(work))
            .await
            .context("a database task panicked")?
    }

    /// Like [`Db::run`], for work that writes: one such piece of work at a time in this
    /// process (see `write_lock`). Writes from another process (the CLI beside the
    /// server) still meet SQLite's busy timeout.
    pub async fn write<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> anyhow::Result<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.write_blocking(work))
            .await
            .context("a database task panicked")?
    }

    /// Runs `work` synchronously; for the CLI and start-up code outside the async world.
    pub fn run_blocking<T>(
        &self,
        work: impl FnOnce(&mut Conn) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut conn = self
            .pool
            .get()
            .context("could not get a database connection")?;
        work(&mut conn)
    }

    /// [`Db::write`], synchronously.
    pub fn write_blocking<T>(
        &self,
        work: impl FnOnce(&mut Conn) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let _one_writer = self
            .write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.run_blocking(work)
    }
}
