//! The `newsletter` command: parse the arguments, load the settings, run the verb.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use newsletter::domain::ArticleInput;
use newsletter::{AppState, Application, Settings, cli, csv_io, db::Db, telemetry};

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
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Send a digest of every article not yet in one, now; waits and shows progress,
    /// exits 0 when every reader got it.
    SendDigest,
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
    },
    /// Import the new entries of an RSS or Atom feed (a URL or a file).
    ImportFeed {
        #[arg(value_name = "PATH_OR_URL")]
        source: String,
    },
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
    /// Add the `email,name` rows of a CSV file as confirmed subscribers.
    Import { file: PathBuf },
}

fn main() -> ExitCode {
    telemetry::init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings)?,
        Command::SendDigest => return block_on(cli::send_digest(AppState::build(settings)?)),
        Command::AddArticle {
            title,
            url,
            summary,
            body,
            author,
            published_at,
        } => {
            let input = ArticleInput {
                title: Some(title),
                url: Some(url),
                summary,
                body,
                author,
                published_at,
            };
            return block_on(cli::add_article(AppState::build(settings)?, input));
        }
        Command::ImportFeed { source } => {
            return block_on(cli::import_feed(AppState::build(settings)?, source));
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
                    eprintln!("exported {count} subscribers");
                }
                SubscribersCommand::Import { file } => {
                    let input = std::fs::File::open(&file)
                        .with_context(|| format!("could not open {}", file.display()))?;
                    let report = csv_io::import(&db, std::io::BufReader::new(input))
                        .with_context(|| format!("could not import {}", file.display()))?;
                    for (line, reason) in &report.first_rejections {
                        eprintln!("{}:{line}: {reason}", file.display());
                    }
                    let unlisted = report.unlisted();
                    if unlisted > 0 {
                        eprintln!("… and {unlisted} more rows rejected");
                    }
                    if let Some((line, why)) = &report.stopped {
                        eprintln!("{}:{line}: {why}", file.display());
                    }
                    eprintln!(
                        "imported {} new subscribers as confirmed; {} already on the list; {} rows rejected",
                        report.imported, report.already_present, report.rejected
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

fn serve(settings: Settings) -> anyhow::Result<()> {
    // Every connection is a file; systems start processes with a soft limit (often
    // 1,024) far below the hard one. Raise it, so a burst of clients cannot use it up.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!("could not raise the open-file limit: {e}"),
    }
    block_on(async {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await
    })
}

fn block_on<T>(work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Runtime::new()
        .context("could not start the async runtime")?
        .block_on(work)
}
