//! What every handler, job and CLI verb shares: settings, database, mailer, templates.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;

use crate::config::Settings;
use crate::db::{self, Db};
use crate::domain::Signer;
use crate::mail::Mailer;
use crate::templates::Templates;

/// What signed unsubscribe tokens are for; part of the signature.
pub const UNSUBSCRIBE_PURPOSE: &str = "unsubscribe";

/// The app's shared state; cheap to clone, never global, so a test can run two apps.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub templates: Arc<Templates>,
    /// Signs unsubscribe links and Message-IDs with `APP_SECRET`.
    pub signer: Signer,
    /// Wakes the mail queue worker when a message is queued.
    pub mail_queue_wakeup: Arc<Notify>,
}

impl AppState {
    /// Opens and migrates the database, loads the secret, templates and mailer.
    /// Any problem here stops the start with a sentence saying what is wrong.
    pub fn build(settings: Settings) -> anyhow::Result<AppState> {
        let db = Db::open(&settings.database_url)?;
        let secret = match &settings.app_secret {
            Some(secret) => secret.clone(),
            None => db
                .run_blocking(|conn| {
                    db::app_settings::get_or_insert_with(
                        conn,
                        "app_secret",
                        Signer::generate_secret,
                    )
                })
                .context("could not load or store the generated APP_SECRET")?,
        };
        let templates = Templates::load()?;
        let mailer = Mailer::from_settings(&settings)?;
        Ok(AppState {
            signer: Signer::new(&secret),
            settings: Arc::new(settings),
            db,
            mailer: Arc::new(mailer),
            templates: Arc::new(templates),
            mail_queue_wakeup: Arc::new(Notify::new()),
        })
    }

    /// The template context every page and mail starts from.
    pub fn base_context(&self) -> tera::Context {
        let mut context = tera::Context::new();
        context.insert("newsletter_name", &self.settings.newsletter_name);
        context.insert("base_url", &self.settings.public_url(""));
        context
    }

    /// The unsubscribe link for subscriber `id`: signed, so it needs no storage and works
    /// without a login.
    pub fn unsubscribe_url(&self, id: i64) -> String {
        let token = self.signer.sign(UNSUBSCRIBE_PURPOSE, id);
        self.settings
            .public_url(&format!("/unsubscribe?token={token}"))
    }

    /// Tells the mail queue worker there is something to send.
    pub fn wake_mail_queue(&self) {
        self.mail_queue_wakeup.notify_one();
    }
}
