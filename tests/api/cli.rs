//! Running the real `newsletter` binary as a user would: in a folder of its own (it
//! reads `.env` from there), against that folder's database, with none of the test's
//! own environment leaking in.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use newsletter::db::articles::{self, Article};
use tempfile::TempDir;

use crate::helpers::{TestApp, spawn_app_with};

/// Every setting the binary reads; the test's own environment must not leak into it.
pub const SETTINGS: &[&str] = &[
    "DATABASE_URL",
    "BIND_ADDR",
    "BASE_URL",
    "SMTP_URL",
    "MAIL_OUTBOX_DIR",
    "MAIL_FROM",
    "NEWSLETTER_NAME",
    "ADMIN_TOKEN",
    "APP_SECRET",
    "DIGEST_CRON",
    "FEED_URL",
    "FEED_CRON",
    "FEED_ALLOW_PRIVATE",
    "SEND_CONCURRENCY",
    "SEND_RATE_PER_SEC",
    "CONFIRMATION_TTL_HOURS",
    "DKIM_DOMAIN",
    "DKIM_SELECTOR",
    "DKIM_PRIVATE_KEY_FILE",
    "SIGNUP_RATE_PER_MINUTE",
    "CONFIRM_MAILS_PER_ADDRESS_PER_DAY",
    "TRUSTED_PROXY",
];

/// A folder for the CLI to run in (it reads `.env` from its working directory), with a
/// database file in it.
pub struct Workspace {
    pub dir: TempDir,
}

/// What a run of the binary left behind.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 on stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 on stderr"),
        }
    }
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("newsletter.db")
    }

    /// Writes `contents` to `name` in the workspace.
    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.dir.path().join(name), contents).expect("the file is written");
    }

    /// Runs `newsletter ARGS` in the workspace against its database.
    pub async fn newsletter(&self, args: &[&str]) -> Run {
        self.newsletter_on(&self.database(), args).await
    }

    /// Runs `newsletter ARGS` in the workspace against `database`.
    pub async fn newsletter_on(&self, database: &Path, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_newsletter"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn");
        for name in SETTINGS {
            command.env_remove(name);
        }
        command.env("DATABASE_URL", database);
        // Off the async threads: the app a test started keeps serving meanwhile.
        tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("the runner did not panic")
            .expect("the binary runs")
            .into()
    }

    /// Starts the web app on this workspace's database.
    pub async fn spawn_app(&self) -> TestApp {
        let database = self.database().display().to_string();
        spawn_app_with(&[("DATABASE_URL", &database)]).await
    }

    /// The articles waiting in this workspace's database.
    pub fn waiting_articles(&self) -> Vec<Article> {
        newsletter::db::Db::open(&self.database().display().to_string())
            .expect("the database opens")
            .run_blocking(articles::waiting)
            .expect("the waiting articles")
    }
}
