//! The database: SQLite (a file, the default) or PostgreSQL (a server several instances
//! share), the connection pool, embedded migrations, and queries by topic.
//!
//! Both engines are one diesel connection type, [`AnyConnection`], so each query is
//! written once; the few statements one dialect lacks are spelled per engine with
//! [`on_engine!`]. Diesel is synchronous, so every query runs on tokio's blocking pool
//! through [`Db::run`]; the async threads that serve requests never wait on the database.

pub mod admin_sessions;
pub mod app_settings;
pub mod articles;
pub mod backup;
mod checkpoint;
pub mod copy;
pub mod deliveries;
pub mod digests;
pub mod feedback_events;
pub mod feeds;
mod group;
pub mod newsletters;
pub mod outgoing_emails;
pub mod retention;
pub mod schema;
pub mod stats;
pub mod subscribers;
pub mod subscriptions;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context;
use chrono::{NaiveDateTime, Utc};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, R2D2Connection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either engine; every query in `db/` runs on it.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// Runs one diesel statement on whichever engine `conn` is, for what the common dialect
/// cannot say (`ON CONFLICT`, a batch `INSERT`): the statement is still written once,
/// and type-checked for each engine.
#[macro_export]
macro_rules! on_engine {
    ($conn:expr, |$c:ident| $body:expr) => {
        match &mut *$conn {
            $crate::db::AnyConnection::Sqlite($c) => $body,
            $crate::db::AnyConnection::Pg($c) => $body,
        }
    };
}

/// Which engine a `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A file path (or `sqlite://path`): the embedded default.
    Sqlite,
    /// `postgres://` or `postgresql://`.
    Postgres,
}

impl Engine {
    pub fn of(database_url: &str) -> Engine {
        if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            Engine::Sqlite
        }
    }
}

/// The key of the PostgreSQL advisory lock that [`exclusive`] transactions take: they
/// run one at a time across every instance, as SQLite's writers do.
const WRITE_LOCK_KEY: i64 = 0x6e65_7773_6c65_7474; // "newslett"
/// The key of the advisory lock held while migrations run, so instances starting
/// together migrate once.
const MIGRATION_LOCK_KEY: i64 = 0x6e65_7773_6d69_6772; // "newsmigr"

/// Runs `work` in a transaction that writes with no other such transaction beside it,
/// on either engine: `BEGIN IMMEDIATE` on SQLite (the one writer), a transaction-scoped
/// advisory lock on PostgreSQL (shared by every instance on the database). The rules
/// that read, decide and write (a sign-up, a confirmation, composing a digest) run in
/// one, so they hold however many instances there are.
pub fn exclusive<T>(
    conn: &mut Conn,
    work: impl FnOnce(&mut Conn) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let lock = format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})");
    match conn {
        AnyConnection::Sqlite(_) => transaction_from(conn, "BEGIN IMMEDIATE", work),
        AnyConnection::Pg(_) => transaction_from(conn, &lock, work),
    }
}

/// Runs `work` in a transaction begun by `begin` (which may go on with statements of
/// its own, sent in the same round trip), committed if it succeeds.
fn transaction_from<T>(
    conn: &mut Conn,
    begin: &str,
    work: impl FnOnce(&mut Conn) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let begun = match conn {
        AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, begin),
        AnyConnection::Pg(c) => AnsiTransactionManager::begin_transaction_sql(c, begin),
    };
    if let Err(e) = begun {
        // A `BEGIN` whose next statement failed leaves the server in a transaction that
        // diesel does not know of; end it, so the pooled connection is clean.
        let _ = conn.batch_execute("ROLLBACK");
        return Err(e.into());
    }
    match work(conn) {
        Ok(value) => {
            <Conn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <Conn as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Timestamps are stored as UTC without a zone; they leave the service as RFC 3339 UTC.
pub mod utc {
    use chrono::NaiveDateTime;
    use serde::Serializer;

    /// `2026-06-19T09:30:00Z`.
    pub fn format(at: NaiveDateTime) -> String {
        at.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
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

/// Runs one of the outbox's claims or records: `BEGIN IMMEDIATE` on SQLite (which has
/// one writer anyway, and a deferred transaction that later writes can fail half-way), a
/// plain transaction on PostgreSQL, where row locks keep workers apart (`SKIP LOCKED`).
///
/// On PostgreSQL it commits without waiting for the disk (`synchronous_commit = off`),
/// the durability SQLite has here too (WAL with `synchronous = NORMAL`): a crash of the
/// process loses nothing, and a power cut of the database's machine can undo the last
/// fraction of a second of claims and outcomes, which only means those messages are
/// claimed again and may go twice; nothing is lost. Waiting for a flush at each of a
/// send's thousands of records would make the disk, not the mail, set the pace.
pub fn write_transaction<T>(
    conn: &mut Conn,
    work: impl FnOnce(&mut Conn) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    match conn {
        AnyConnection::Sqlite(_) => exclusive(conn, work),
        AnyConnection::Pg(_) => {
            transaction_from(conn, "BEGIN; SET LOCAL synchronous_commit = off", work)
        }
    }
}

/// A pooled connection, to either engine.
pub type Conn = AnyConnection;

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

/// Pragmas every SQLite connection needs. `busy_timeout` is what keeps concurrent
/// writers from failing with "database is locked"; WAL lets readers run beside the one
/// writer. No connection checkpoints as it commits, nor cuts a long WAL as it starts it
/// over (`journal_size_limit` = -1): [`checkpoint`]'s thread does both, off the
/// writers' path, and cuts the WAL a flood of writes left long once it is quiet.
/// `analysis_limit` makes `ANALYZE` sample rather than read whole tables.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000;
     PRAGMA journal_mode = WAL;
     PRAGMA journal_size_limit = -1;
     PRAGMA wal_autocheckpoint = 0;
     PRAGMA synchronous = NORMAL;
     PRAGMA foreign_keys = ON;
     PRAGMA analysis_limit = 1000;";

/// Opens pooled connections to the engine the URL names (diesel's own manager would
/// try each engine in turn, and SQLite takes any string as a file name).
#[derive(Debug)]
struct Manager {
    engine: Engine,
    url: String,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        let connect_error = diesel::r2d2::Error::ConnectionError;
        Ok(match self.engine {
            Engine::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url).map_err(connect_error)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                AnyConnection::Sqlite(conn)
            }
            Engine::Postgres => {
                AnyConnection::Pg(PgConnection::establish(&self.url).map_err(connect_error)?)
            }
        })
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.is_broken()
    }
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    // libpq also takes secrets as parameters: `?password=…`, `?sslpassword=…`.
    let secret = |name: &str| {
        name.eq_ignore_ascii_case("password") || name.eq_ignore_ascii_case("sslpassword")
    };
    if parsed.query_pairs().any(|(name, _)| secret(&name)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if secret(&name) {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// The database handle the whole app shares; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    engine: Engine,
    /// Taken around every write that goes through [`Db::write`]: SQLite has one writer
    /// at a time, and a writer that finds the lock taken sleeps in SQLite's busy handler
    /// in growing steps (up to 100 ms) even when the lock frees a moment later. Queued
    /// on this mutex instead, the next writer starts the moment the last one commits.
    write_lock: Arc<Mutex<()>>,
    /// The writer thread of [`Db::write_grouped`], started on first use.
    group: Arc<OnceLock<group::GroupWriter>>,
    /// SQLite's checkpoint thread (none on PostgreSQL).
    checkpointer: Option<Arc<checkpoint::Checkpointer>>,
}

impl Db {
    /// Opens the database `DATABASE_URL` names (creating a SQLite file if needed) and
    /// brings its schema up to date.
    pub fn open(database_url: &str) -> anyhow::Result<Db> {
        let db = Db::connect(database_url)?;
        db.migrate()?;
        Ok(db)
    }

    /// Opens the database without migrating it (`copy-db` checks its target first).
    pub fn connect(database_url: &str) -> anyhow::Result<Db> {
        let engine = Engine::of(database_url);
        let url = match engine {
            Engine::Sqlite => {
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
                path.to_owned()
            }
            Engine::Postgres => database_url.to_owned(),
        };
        let shown = redact(database_url);
        let pool = Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(30))
            // No `SELECT 1` before every use (a round trip to a PostgreSQL server per
            // query): a connection that broke is noticed by the query that meets it,
            // and thrown away (`has_broken`).
            .test_on_check_out(false)
            .build(Manager {
                engine,
                url: url.clone(),
            })
            .with_context(|| format!("could not open the database `{shown}`"))?;
        let checkpointer = match engine {
            Engine::Sqlite => Some(Arc::new(
                checkpoint::Checkpointer::start(&url)
                    .with_context(|| format!("could not open the database `{shown}`"))?,
            )),
            Engine::Postgres => None,
        };
        Ok(Db {
            pool,
            engine,
            write_lock: Arc::new(Mutex::new(())),
            group: Arc::new(OnceLock::new()),
            checkpointer,
        })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Runs the pending embedded migrations of this engine; on PostgreSQL under an
    /// advisory lock, so instances starting together migrate once.
    pub fn migrate(&self) -> anyhow::Result<()> {
        self.migrate_schema()?;
        // Only SQLite databases predate the normal form of addresses: PostgreSQL ones
        // are made by this version, or copied (`copy-db`) from a SQLite database that
        // was opened, and so normalised, first.
        if self.engine == Engine::Sqlite {
            let mut conn = self
                .pool
                .get()
                .context("could not get a database connection")?;
            subscribers::normalise_stored_addresses(&mut conn)
                .context("could not normalise the stored addresses")?;
        }
        Ok(())
    }

    /// Creates or updates the tables, and writes no row (`copy-db` wants its target
    /// empty).
    fn migrate_schema(&self) -> anyhow::Result<()> {
        let mut conn = self
            .pool
            .get()
            .context("could not get a database connection")?;
        let migrated = match &mut *conn {
            AnyConnection::Sqlite(sqlite) => {
                sqlite.run_pending_migrations(SQLITE_MIGRATIONS).map(drop)
            }
            AnyConnection::Pg(pg) => {
                pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
                let migrated = pg.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop);
                pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
                migrated
            }
        };
        migrated.map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        Ok(())
    }

    /// Runs only the migrations older than `version` (as `2026-11-30-000013`), leaving
    /// the schema as a release before it made it: for tests of an upgrade.
    #[doc(hidden)]
    pub fn migrate_before(&self, version: &str) -> anyhow::Result<()> {
        let before: String = version.chars().filter(char::is_ascii_digit).collect();
        let older = |name: String| {
            name.chars()
                .filter(char::is_ascii_digit)
                .take(before.len())
                .collect::<String>()
                < before
        };
        let mut conn = self
            .pool
            .get()
            .context("could not get a database connection")?;
        let failed = |e| anyhow::anyhow!("database migration failed: {e}");
        match &mut *conn {
            AnyConnection::Sqlite(sqlite) => {
                let all = sqlite
                    .pending_migrations(SQLITE_MIGRATIONS)
                    .map_err(failed)?;
                for migration in all {
                    if older(migration.name().to_string()) {
                        sqlite.run_migration(&*migration).map_err(failed)?;
                    }
                }
            }
            AnyConnection::Pg(pg) => {
                let all = pg.pending_migrations(POSTGRES_MIGRATIONS).map_err(failed)?;
                for migration in all {
                    if older(migration.name().to_string()) {
                        pg.run_migration(&*migration).map_err(failed)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the database's schema lacks a migration of this build (another process
    /// is migrating it, or has not yet): `/ready` answers 503 meanwhile.
    pub fn has_pending_migrations(conn: &mut Conn) -> anyhow::Result<bool> {
        let pending = match conn {
            AnyConnection::Sqlite(sqlite) => sqlite.has_pending_migration(SQLITE_MIGRATIONS),
            AnyConnection::Pg(pg) => pg.has_pending_migration(POSTGRES_MIGRATIONS),
        };
        pending.map_err(|e| anyhow::anyhow!("could not read the applied migrations: {e}"))
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

    /// Like [`Db::write`], for many small writes that arrive together (sign-ups): `work`
    /// runs in one transaction with the others queued meanwhile ([`group`]), and may
    /// run a second time, alone, if one of them fails. It runs in an exclusive
    /// transaction already.
    pub async fn write_grouped<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut Conn) -> anyhow::Result<T> + Send + 'static,
    {
        let writer = match self.group.get() {
            Some(writer) => writer,
            None => {
                // The thread holds the pool but not this queue, so it ends with the
                // last handle that can send to it.
                let detached = Db {
                    group: Arc::new(OnceLock::new()),
                    ..self.clone()
                };
                let started = group::GroupWriter::start(detached)
                    .context("could not start the database writer thread")?;
                // Another caller may have started one first; then this one is dropped
                // and its thread ends.
                let _ = self.group.set(started);
                self.group
                    .get()
                    .context("the database writer thread did not start")?
            }
        };
        writer.write(work).await
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
        let written = self.run_blocking(work);
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.wrote();
        }
        written
    }
}
