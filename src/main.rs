//! The `newsletter` command: parse the arguments, load the settings, run the verb.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use newsletter::config::{EnvFile, LogFormat};
use newsletter::db::{self, Db, Engine};
use newsletter::domain::ArticleInput;
use newsletter::{AppState, Application, Settings, cli, csv_io, startup, telemetry};

/// mimalloc rather than glibc's malloc: a sign-up or a message allocates and frees many
/// small strings across the runtime's threads, and mimalloc's thread-local free lists
/// serve the sign-up flood of `bench/signup.sh` 15-20 % faster at the same peak memory
/// when sending (the README's "Measured").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "newsletter",
    version,
    about = "A self-hosted newsletter service"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app and send mail (the default).
    Serve {
        /// Serve the web app only: sign-ups and digests queue their mail for
        /// `newsletter worker` nodes on the same database to send.
        #[arg(long)]
        no_workers: bool,
    },
    /// Send queued mail and run the schedule, with no web server (a sending-only node
    /// beside `serve --no-workers` ones, on one PostgreSQL database).
    Worker,
    /// Copy every row of one database into another, empty one (e.g. a SQLite file into
    /// PostgreSQL), then compare the counts.
    CopyDb {
        /// The database to copy: a SQLite file, or a postgres:// URL.
        #[arg(long, value_name = "DATABASE_URL")]
        from: String,
        /// The empty database to copy into, e.g. postgres://user@host/newsletter.
        #[arg(long, value_name = "DATABASE_URL")]
        to: String,
    },
    /// Create or update the database schema, then exit.
    Migrate,
    /// Send a digest of every article not yet in one, now; waits and shows progress,
    /// exits 0 when every reader got it.
    SendDigest {
        /// The newsletter to send (its slug); the default newsletter without it.
        #[arg(long, value_name = "SLUG")]
        newsletter: Option<String>,
    },
    /// Add an article for the next digest.
    AddArticle {
        #[arg(long)]
        title: String,
        #[arg(long)]
        url: String,
        /// Plain text (HTML is reduced to its text).
        #[arg(long)]
        summary: Option<String>,
        /// HTML; sanitised.
        #[arg(long)]
        body: Option<String>,
        #[arg(long)]
        author: Option<String>,
        /// RFC 3339, e.g. 2026-06-19T09:30:00Z.
        #[arg(long)]
        published_at: Option<String>,
        /// A section the article is in (repeat for several), e.g. `--section business`.
        #[arg(long = "section", value_name = "SECTION")]
        sections: Vec<String>,
    },
    /// Import the new entries of an RSS or Atom feed (a URL or a file).
    ImportFeed {
        #[arg(value_name = "PATH_OR_URL")]
        source: String,
    },
    /// Connect to SMTP_URL as sending would, say what the server offers, and with an
    /// ADDRESS send it one test message. Exit 0: all fine; 1: the server could not be
    /// reached or used, or refused the message; 2: nothing to check (SMTP_URL unset:
    /// mail goes to the outbox folder) or ADDRESS is not an email address.
    CheckSmtp {
        /// Where to send a test message.
        #[arg(value_name = "ADDRESS")]
        address: Option<String>,
    },
    /// Write a consistent copy of the SQLite database to FILE while the service runs,
    /// then open it and check it. Exit 0: the copy is good; 2: FILE exists (never
    /// overwritten) or the database is PostgreSQL (use `pg_dump`); 1: it failed.
    Backup {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Delete now what DELIVERY_RETENTION_DAYS no longer keeps (the service does it
    /// daily by itself): old digests' delivery rows (their counts stay), dead
    /// confirmation links, finished one-off mail, expired admin sessions.
    Purge,
    /// Read one message on standard input (what Postfix's `pipe` transport or a
    /// `.forward` pipe gives): a bounce, complaint or unsubscribe request is applied,
    /// anything else ignored. Exit 0 for anything understood or ignored; 75 (EX_TEMPFAIL:
    /// the mail server keeps it and tries again) when it could not be stored.
    IngestMail,
    /// Import or export the subscriber list.
    Subscribers {
        #[command(subcommand)]
        command: SubscribersCommand,
    },
}

#[derive(Subcommand)]
enum SubscribersCommand {
    /// Write every subscriber as CSV to standard output.
    Export,
    /// Add the `email,name` rows of a CSV file as confirmed subscribers: on the default
    /// newsletter, or on those `--newsletter` and a `newsletters` column (slugs
    /// separated by `;`) name.
    Import {
        file: PathBuf,
        /// A newsletter's slug to put every new reader on (repeatable).
        #[arg(long = "newsletter", value_name = "SLUG")]
        newsletters: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The one-shot verbs say what they did in sentences of their own; their log shows
    // only warnings and errors, unless RUST_LOG asks for more.
    let long_running = matches!(
        cli.command,
        None | Some(Command::Serve { .. } | Command::Worker)
    );
    // `.env` first: it may say RUST_LOG.
    let env_file = match EnvFile::find() {
        Ok(env_file) => env_file,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let log_format = match LogFormat::parse(env_file.get("LOG_FORMAT").as_deref()) {
        Ok(format) => format,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(
        if long_running { "info" } else { "warn" },
        env_file.get("RUST_LOG"),
        log_format,
    );
    // A message ingest-mail could not take (bad settings, no database) stays with the
    // mail server, which tries again, rather than bouncing back to its sender.
    let failure = match cli.command {
        Some(Command::IngestMail) => ExitCode::from(cli::EX_TEMPFAIL),
        _ => ExitCode::FAILURE,
    };
    match run(cli, &env_file) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            failure
        }
    }
}

fn run(cli: Cli, env_file: &EnvFile) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Serve { no_workers: false });
    // copy-db names both databases itself and needs no other setting.
    if let Command::CopyDb { from, to } = command {
        return copy_db(&from, &to);
    }
    let settings = Settings::from_env(env_file)?;
    match command {
        Command::Serve { no_workers } => serve(settings, no_workers)?,
        Command::Worker => {
            raise_open_file_limit();
            block_on(startup::run_workers_until_stopped(AppState::build(
                settings,
            )?))?
        }
        Command::CopyDb { .. } => unreachable!("handled above"),
        Command::SendDigest { newsletter } => {
            return block_on(cli::send_digest(AppState::build(settings)?, newsletter));
        }
        Command::AddArticle {
            title,
            url,
            summary,
            body,
            author,
            published_at,
            sections,
        } => {
            let input = ArticleInput {
                title: Some(title),
                url: Some(url),
                summary,
                body,
                author,
                published_at,
                image_url: None,
                sections,
            };
            return block_on(cli::add_article(AppState::build(settings)?, input));
        }
        Command::CheckSmtp { address } => return block_on(cli::check_smtp(settings, address)),
        Command::ImportFeed { source } => {
            return block_on(cli::import_feed(AppState::build(settings)?, source));
        }
        Command::Backup { file } => return backup(&settings, &file),
        Command::IngestMail => return block_on(cli::ingest_mail(settings)),
        Command::Purge => {
            let db = Db::open(&settings.database_url)?;
            let retention = settings.delivery_retention;
            let purged = block_on(newsletter::service::retention::purge(
                &db,
                retention,
                db::now(),
            ))?;
            eprintln!(
                "Kept {} days (DELIVERY_RETENTION_DAYS); deleted {}.",
                retention.as_secs() / 86_400,
                purged.describe()
            );
        }
        Command::Migrate => {
            Db::open(&settings.database_url)?;
            eprintln!("database `{}` is up to date", settings.database_url);
        }
        Command::Subscribers { command } => {
            let db = Db::open(&settings.database_url)?;
            match command {
                SubscribersCommand::Export => {
                    let count = csv_io::export(&db, std::io::stdout().lock())?;
                    eprintln!("exported {}", cli::counted(count, "subscriber"));
                }
                SubscribersCommand::Import { file, newsletters } => {
                    let input = std::fs::File::open(&file)
                        .with_context(|| format!("could not open {}", file.display()))?;
                    let report =
                        csv_io::import_checked(&db, std::io::BufReader::new(input), &newsletters)
                            .with_context(|| format!("could not import {}", file.display()))?;
                    for (line, reason) in &report.first_rejections {
                        eprintln!("{}:{line}: {reason}", file.display());
                    }
                    let unlisted = report.unlisted();
                    if unlisted > 0 {
                        eprintln!("… and {} rejected", cli::counted(unlisted, "more row"));
                    }
                    if let Some((line, why)) = &report.stopped {
                        eprintln!("{}:{line}: {why}", file.display());
                    }
                    eprintln!(
                        "imported {} as confirmed; {} already on the list; {} rejected",
                        cli::counted(report.imported, "new subscriber"),
                        report.already_present,
                        cli::counted(report.rejected, "row")
                    );
                    if !report.is_clean() {
                        return Ok(ExitCode::from(2));
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(settings: Settings, no_workers: bool) -> anyhow::Result<()> {
    raise_open_file_limit();
    block_on(async {
        let app = Application::build(settings).await?;
        match no_workers {
            true => app.run_web_only().await,
            false => app.run_until_stopped().await,
        }
    })
}

/// Every connection is a file; systems start processes with a soft limit (often 1,024)
/// far below the hard one. Raise it, so a burst of clients cannot use it up.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!("could not raise the open-file limit: {e}"),
    }
}

/// `backup FILE`: exit 0 with the copy's counts, 2 when FILE exists or the database is
/// PostgreSQL, 1 otherwise.
fn backup(settings: &Settings, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let url = &settings.database_url;
    if Engine::of(url) == Engine::Sqlite
        && !std::path::Path::new(url.trim_start_matches("sqlite://")).exists()
    {
        anyhow::bail!("there is no database at `{url}` to back up");
    }
    let db = if Engine::of(url) == Engine::Sqlite {
        // Not `Db::open`: a backup never migrates the database it copies (a new binary's
        // timer may fire before the running service has been restarted onto it).
        Db::connect(url)?
    } else {
        // Nothing to open: the answer is `pg_dump`.
        eprintln!("error: {}", db::backup::BackupError::Postgres);
        return Ok(ExitCode::from(2));
    };
    match db::backup::backup(&db, file) {
        Ok(report) => {
            for (table, rows) in &report.tables {
                eprintln!("{table:>20}: {rows} rows");
            }
            eprintln!(
                "Backed up `{url}` into `{}` ({} bytes); it opens and passes SQLite's integrity check. Restore: stop the service, copy it over `{url}` (removing any `{url}-wal` and `{url}-shm`), start it.",
                file.display(),
                report.bytes
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (db::backup::BackupError::Exists(_) | db::backup::BackupError::Postgres)) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("could not back up `{url}`"))),
    }
}

/// `copy-db`: exit 0 with the counts, 2 when the target is not empty, 1 otherwise.
fn copy_db(from: &str, to: &str) -> anyhow::Result<ExitCode> {
    let (shown_from, shown_to) = (db::redact(from), db::redact(to));
    if Engine::of(from) == Engine::Sqlite && !std::path::Path::new(from).exists() {
        anyhow::bail!("there is no database at `{shown_from}` to copy");
    }
    let source = Db::connect(from).with_context(|| format!("could not open `{shown_from}`"))?;
    let target = Db::connect(to).with_context(|| format!("could not open `{shown_to}`"))?;
    match db::copy::copy(&source, &target) {
        Ok(report) => {
            for (table, rows) in &report.tables {
                eprintln!("{table:>20}: {rows} rows");
            }
            eprintln!("copied `{shown_from}` into `{shown_to}`; every count matches");
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ db::copy::CopyError::TargetNotEmpty { .. }) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e).context(format!("could not copy `{shown_from}` into `{shown_to}`")),
    }
}

fn block_on<T>(work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    let result = runtime.block_on(work);
    // What is still running (a database call past a stop's grace period) does not hold
    // the exit up: the work that mattered is recorded or handed back by now.
    runtime.shutdown_timeout(std::time::Duration::from_millis(250));
    result
}
