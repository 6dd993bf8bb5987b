//! `newsletter backup FILE`: a consistent copy of the SQLite database, taken while the
//! service runs and sends, then opened and checked.
//!
//! `VACUUM INTO` reads the database in one read transaction, so the copy is the
//! database as of one moment (WAL lets the writers go on meanwhile), and writes a
//! compact file that is a database of its own: no `-wal` file to copy beside it.

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::copy::{TABLES, count};
use super::{AnyConnection, Db, Engine};

/// What the check of a fresh backup found.
#[derive(Debug)]
pub struct BackupReport {
    /// The file's size in bytes.
    pub bytes: u64,
    /// Each table with its row count in the copy.
    pub tables: Vec<(&'static str, i64)>,
}

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("`{}` already exists; backup never overwrites a file: name a new one", .0.display())]
    Exists(PathBuf),
    #[error(
        "DATABASE_URL is a PostgreSQL database: back it up with `pg_dump` (e.g. `pg_dump -Fc -f newsletter.dump DATABASE_URL`), restore with `pg_restore`"
    )]
    Postgres,
    #[error("the copy in `{}` failed its integrity check: {problems}", .path.display())]
    Damaged { path: PathBuf, problems: String },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Copies the SQLite database `db` into the new file `target` and checks the copy.
/// A file already at `target` is left as it is.
pub fn backup(db: &Db, target: &Path) -> Result<BackupReport, BackupError> {
    if db.engine() == Engine::Postgres {
        return Err(BackupError::Postgres);
    }
    // Taking the name first, atomically: two backups to one name, or a file appearing
    // between a check and the copy, cannot overwrite anything. SQLite writes into an
    // empty file.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BackupError::Exists(target.to_owned()));
        }
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("could not create `{}`", target.display()))
                .into());
        }
    }
    let made = copy_into(db, target).and_then(|()| check(target));
    if made.is_err() {
        // Nothing half-written is left to be mistaken for a backup.
        let _ = std::fs::remove_file(target);
    }
    made
}

fn copy_into(db: &Db, target: &Path) -> Result<(), BackupError> {
    let target_name = target
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("`{}` is not a UTF-8 path", target.display()))?
        .to_owned();
    db.run_blocking(move |conn| {
        let AnyConnection::Sqlite(sqlite) = conn else {
            anyhow::bail!("not a SQLite database");
        };
        diesel::sql_query("VACUUM INTO ?")
            .bind::<Text, _>(&target_name)
            .execute(sqlite)
            .map_err(|e| anyhow::anyhow!("could not write the copy: {e}"))?;
        Ok(())
    })?;
    Ok(())
}

#[derive(QueryableByName)]
struct CheckLine {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// Opens the copy on its own, runs SQLite's `integrity_check`, and counts its rows.
fn check(target: &Path) -> Result<BackupReport, BackupError> {
    let path = target.display().to_string();
    let sqlite = SqliteConnection::establish(&path)
        .map_err(|e| anyhow::anyhow!("could not open the copy `{path}`: {e}"))?;
    let mut conn = AnyConnection::Sqlite(sqlite);
    let AnyConnection::Sqlite(sqlite) = &mut conn else {
        unreachable!("made above");
    };
    let lines: Vec<CheckLine> = diesel::sql_query("PRAGMA integrity_check")
        .load(sqlite)
        .map_err(|e| anyhow::anyhow!("could not check the copy: {e}"))?;
    let problems: Vec<String> = lines
        .into_iter()
        .map(|line| line.integrity_check)
        .filter(|line| line != "ok")
        .collect();
    if !problems.is_empty() {
        return Err(BackupError::Damaged {
            path: target.to_owned(),
            problems: problems.join("; "),
        });
    }
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let rows = count(&mut conn, table)
            .map_err(|e| anyhow::anyhow!("could not count the rows of {table} in the copy: {e}"))?;
        tables.push((table, rows));
    }
    drop(conn);
    let bytes = std::fs::metadata(target)
        .map_err(|e| anyhow::anyhow!("could not read the size of the copy: {e}"))?
        .len();
    Ok(BackupReport { bytes, tables })
}
