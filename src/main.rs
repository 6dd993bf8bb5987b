//! The `newsletter` command: parse the arguments, load the settings, run the verb.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use newsletter::{Application, Settings, csv_io, db::Db, telemetry};

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
                    let report = csv_io::import(&db, std::io::BufReader::new(input))?;
                    for (line, reason) in &report.rejected {
                        eprintln!("{}:{line}: {reason}", file.display());
                    }
                    eprintln!(
                        "imported {} new subscribers as confirmed; {} already on the list; {} rows rejected",
                        report.imported,
                        report.already_present,
                        report.rejected.len()
                    );
                    if !report.rejected.is_empty() {
                        return Ok(ExitCode::from(2));
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    runtime.block_on(async {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await
    })
}
