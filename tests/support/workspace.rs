//! Running the real `newsletter` binary as a user would: in a folder of its own (it
//! reads `.env` from there), against the test's database, with none of the test's own
//! environment leaking in.

use std::process::{Command, Output};
use std::sync::Arc;

use newsletter::db::articles::{self, Article};
use tempfile::TempDir;

use super::app::{TestApp, spawn_app_on_database};
use super::database::TestDatabase;
use super::service::Service;

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
    "DKIM_ED25519_KEY_FILE",
    "DKIM_ED25519_SELECTOR",
    "MAIL_POSTAL_ADDRESS",
    "BOUNCE_ADDRESS",
    "SIGNUP_RATE_PER_MINUTE",
    "CONFIRM_MAILS_PER_ADDRESS_PER_DAY",
    "TRUSTED_PROXY",
    "TIMEZONE",
    "SITE_URL",
    "SITE_LOGO_URL",
    "BRAND_COLOR",
    "TEMPLATES_DIR",
    "METRICS_TOKEN",
    "METRICS_ADDR",
    "LOG_FORMAT",
    "SHUTDOWN_GRACE_SECONDS",
    "DELIVERY_RETENTION_DAYS",
    "SES_WEBHOOK_TOPIC_ARN",
    "SES_SNS_CERT_HOST_OVERRIDE",
    "POSTMARK_WEBHOOK_USER",
    "POSTMARK_WEBHOOK_PASSWORD",
    "MAILGUN_WEBHOOK_SIGNING_KEY",
    "SENDGRID_WEBHOOK_PUBLIC_KEY",
];

/// A folder for the CLI to run in (it reads `.env` from its working directory), and the
/// database the run asks for (an SQLite file in the folder by default).
pub struct Workspace {
    pub database: Arc<TestDatabase>,
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
        let dir = tempfile::tempdir().expect("a temporary folder");
        Workspace {
            database: Arc::new(TestDatabase::new(dir.path().join("newsletter.db"))),
            dir,
        }
    }

    /// A workspace on an SQLite file whatever the run asks for, for what is about SQLite
    /// itself (its backups).
    pub fn sqlite() -> Workspace {
        let dir = tempfile::tempdir().expect("a temporary folder");
        Workspace {
            database: Arc::new(TestDatabase::sqlite(dir.path().join("newsletter.db"))),
            dir,
        }
    }

    /// The database the workspace's commands use.
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }

    /// The workspace's folder.
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Writes `contents` to `name` in the workspace.
    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.dir.path().join(name), contents).expect("the file is written");
    }

    /// Runs `newsletter ARGS` in the workspace against its database.
    pub async fn newsletter(&self, args: &[&str]) -> Run {
        self.newsletter_on(&self.database, args).await
    }

    /// Runs `newsletter ARGS` in the workspace against `database`.
    pub async fn newsletter_on(&self, database: &TestDatabase, args: &[&str]) -> Run {
        let mut command = self.command(database);
        command.args(args);
        run(command).await
    }

    /// Runs `newsletter ARGS` with some settings given in its environment.
    pub async fn newsletter_with(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut command = self.command(&self.database);
        command.args(args).envs(env.iter().copied());
        run(command).await
    }

    /// The binary, to run in the workspace on `database` with none of the test's own
    /// settings.
    pub fn command(&self, database: &TestDatabase) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_newsletter"));
        command.current_dir(self.dir.path()).env("RUST_LOG", "warn");
        for name in SETTINGS {
            command.env_remove(name);
        }
        command.env("DATABASE_URL", database.url());
        command
    }

    /// Imports `email,name` rows with `newsletter subscribers import`, as an admin would.
    pub async fn import_readers(&self, readers: &[String]) {
        self.write(
            "readers.csv",
            &format!("email,name\n{}\n", readers.join("\n")),
        );
        let import = self
            .newsletter(&["subscribers", "import", "readers.csv"])
            .await;
        assert_eq!(import.code, Some(0), "{}", import.stderr);
    }

    /// Starts the web app in-process on this workspace's database.
    pub async fn spawn_app(&self) -> TestApp {
        self.spawn_app_with(&[]).await
    }

    /// [`Workspace::spawn_app`] with some settings overridden.
    pub async fn spawn_app_with(&self, overrides: &[(&str, &str)]) -> TestApp {
        spawn_app_on_database(self.database.clone(), overrides).await
    }

    /// Starts `newsletter serve` in this workspace on its database (see
    /// [`Service::start`]).
    pub async fn serve(&self, smtp_url: &str, env: &[(&str, &str)]) -> Service {
        Service::start(self.dir.path(), &self.database, smtp_url, env).await
    }

    /// The articles waiting in this workspace's database.
    pub fn waiting_articles(&self) -> Vec<Article> {
        self.database
            .open()
            .run_blocking(articles::waiting)
            .map(|mut waiting| {
                // In the order added: these tests are about what was stored.
                waiting.sort_by_key(|a| a.id);
                waiting
            })
            .expect("the waiting articles")
    }
}

/// Runs `command` off the async threads, so an app the test started keeps serving.
async fn run(mut command: Command) -> Run {
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the runner did not panic")
        .expect("the binary runs")
        .into()
}
