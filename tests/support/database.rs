//! Which database a test runs on: an SQLite file by default, or, when `TEST_POSTGRES_URL`
//! names a PostgreSQL server, a fresh database of its own on that server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::prelude::*;
use diesel::{PgConnection, RunQueryDsl};
use newsletter::db::Db;

/// The variable that moves every test that does not ask for SQLite onto PostgreSQL,
/// e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
const POSTGRES_VARIABLE: &str = "TEST_POSTGRES_URL";

/// One test's database; a PostgreSQL one is dropped with it.
pub struct TestDatabase {
    url: String,
    engine: Engine,
}

enum Engine {
    Sqlite(PathBuf),
    Postgres { server: String, name: String },
}

impl TestDatabase {
    /// The engine the run asks for: SQLite at `sqlite_file` unless `TEST_POSTGRES_URL`
    /// is set.
    pub fn new(sqlite_file: impl Into<PathBuf>) -> TestDatabase {
        match std::env::var(POSTGRES_VARIABLE) {
            Ok(server) if !server.is_empty() => TestDatabase::postgres(&server),
            _ => TestDatabase::sqlite(sqlite_file),
        }
    }

    /// An SQLite file whatever the run asks for, for tests about SQLite itself.
    pub fn sqlite(file: impl Into<PathBuf>) -> TestDatabase {
        let file = file.into();
        TestDatabase {
            url: file.display().to_string(),
            engine: Engine::Sqlite(file),
        }
    }

    /// A new database with a random name on the server `server` points at.
    fn postgres(server: &str) -> TestDatabase {
        let name = format!("newsletter_test_{:016x}", rand::random::<u64>());
        let mut admin = connect(server);
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {server}: {e}"));
        let mut url = url::Url::parse(server).expect("TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        TestDatabase {
            url: url.to_string(),
            engine: Engine::Postgres {
                server: server.to_owned(),
                name,
            },
        }
    }

    /// The `DATABASE_URL` the app, the binary and the CLI are given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the run put this test on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.engine, Engine::Postgres { .. })
    }

    /// The SQLite file; only for tests that asked for SQLite.
    pub fn sqlite_file(&self) -> &Path {
        match &self.engine {
            Engine::Sqlite(file) => file,
            Engine::Postgres { .. } => panic!("an SQLite test was given PostgreSQL"),
        }
    }

    /// The library's own pool on this database (migrated, as the app opens it).
    pub fn open(&self) -> Db {
        Db::open(&self.url).expect("the test database opens")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Engine::Postgres { server, name } = &self.engine else {
            return;
        };
        // FORCE ends the connections a pool or a killed binary's server process still
        // holds; a connection opened in the same instant can still make it fail, so try
        // again briefly.
        let mut admin = connect(server);
        let mut last_error = None;
        for _ in 0..20 {
            match diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
            {
                Ok(_) => return,
                Err(e) => last_error = Some(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // A second panic while a failed test unwinds would abort the whole run.
        if !std::thread::panicking() {
            panic!("DROP DATABASE {name}: {last_error:?}");
        }
    }
}

fn connect(server: &str) -> PgConnection {
    PgConnection::establish(server)
        .unwrap_or_else(|e| panic!("{POSTGRES_VARIABLE}={server} could not be reached: {e}"))
}
