//! What every handler, job and CLI verb shares: settings, database, mailer, templates.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::Context;
use tokio::sync::Notify;

use crate::config::Settings;
use crate::db::{self, Db};
use crate::domain::Signer;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::templates::Templates;

/// What signed unsubscribe tokens are for; part of the signature.
pub const UNSUBSCRIBE_PURPOSE: &str = "unsubscribe";
/// What a reader's "manage your newsletters" link is signed for.
pub const PREFERENCES_PURPOSE: &str = "preferences";

/// What the unsubscribe tokens of newsletter `newsletter_id` are signed for: the default
/// newsletter's are [`UNSUBSCRIBE_PURPOSE`]'s (every link mailed before newsletters).
pub fn unsubscribe_purpose(newsletter_id: i64) -> String {
    match newsletter_id {
        db::newsletters::DEFAULT_NEWSLETTER_ID => UNSUBSCRIBE_PURPOSE.to_owned(),
        other => format!("{UNSUBSCRIBE_PURPOSE}:{other}"),
    }
}
/// The token of the unsubscribe link in previews and test mail, which belong to no
/// reader: the link leads to a page saying so.
pub const PREVIEW_UNSUBSCRIBE_TOKEN: &str = "preview";

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
    /// Wakes the digest delivery worker when a digest is queued.
    pub delivery_wakeup: Arc<Notify>,
    /// Names this process's delivery leases, so a worker renews only its own.
    pub worker_id: String,
    /// The figures `GET /metrics` shows (recording nothing when metrics are off).
    pub metrics: Arc<Metrics>,
    /// Set once the process has begun to shut down: `GET /ready` then answers 503, so
    /// a load balancer sends new requests elsewhere while those in flight finish.
    /// Whatever stops the service (the SIGTERM handling) sets it first.
    pub shutting_down: Arc<AtomicBool>,
    /// The newsletter's name: `NEWSLETTER_NAME`, or else the title of the last feed
    /// imported (kept in the database), or else "Newsletter".
    newsletter_name: Arc<RwLock<String>>,
}

/// Where the title of the last imported feed is kept, to name the newsletter when
/// `NEWSLETTER_NAME` is unset.
pub const FEED_TITLE_SETTING: &str = "feed_title";

impl AppState {
    /// Opens and migrates the database, loads the secret, templates and mailer.
    /// Any problem here stops the start with a sentence saying what is wrong.
    pub fn build(settings: Settings) -> anyhow::Result<AppState> {
        let db = Db::open(&settings.database_url)?;
        let secret = match settings.app_secret.as_ref().map(|s| &s.0) {
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
        let newsletter_name = if settings.newsletter_name_given {
            settings.newsletter_name.clone()
        } else {
            db.run_blocking(|conn| db::app_settings::get(conn, FEED_TITLE_SETTING))
                .context("could not read the feed's title")?
                .unwrap_or_else(|| settings.newsletter_name.clone())
        };
        let templates = Templates::load(&settings)?;
        let mailer = Mailer::from_settings(&settings)?;
        let settings_metrics_on =
            settings.metrics_token.is_some() || settings.metrics_addr.is_some();
        Ok(AppState {
            signer: Signer::new(&secret),
            settings: Arc::new(settings),
            db,
            mailer: Arc::new(mailer),
            templates: Arc::new(templates),
            mail_queue_wakeup: Arc::new(Notify::new()),
            delivery_wakeup: Arc::new(Notify::new()),
            worker_id: Signer::generate_secret()[..16].to_owned(),
            metrics: Arc::new(Metrics::new(settings_metrics_on)),
            shutting_down: Arc::new(AtomicBool::new(false)),
            newsletter_name: Arc::new(RwLock::new(newsletter_name)),
        })
    }

    /// The template context every page and mail starts from.
    pub fn base_context(&self) -> tera::Context {
        crate::templates::site_context(&self.settings, &self.newsletter_name())
    }

    /// The newsletter's name as pages, mail and subjects show it.
    pub fn newsletter_name(&self) -> String {
        self.newsletter_name
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes the stored feed title as the name again (unless `NEWSLETTER_NAME` names the
    /// newsletter): another process (`newsletter import-feed`, another instance) may
    /// have stored one since this one started.
    pub async fn refresh_newsletter_name(&self) -> anyhow::Result<()> {
        if self.settings.newsletter_name_given {
            return Ok(());
        }
        let stored = self
            .db
            .run(|conn| db::app_settings::get(conn, FEED_TITLE_SETTING))
            .await?;
        if let Some(title) = stored {
            self.feed_title_changed(&title);
        }
        Ok(())
    }

    /// A feed's title was stored: it names the newsletter unless `NEWSLETTER_NAME` does.
    pub fn feed_title_changed(&self, title: &str) {
        if !self.settings.newsletter_name_given {
            *self
                .newsletter_name
                .write()
                .unwrap_or_else(PoisonError::into_inner) = title.to_owned();
        }
    }

    /// The unsubscribe link for subscriber `id`: signed, so it needs no storage and works
    /// without a login.
    pub fn unsubscribe_url(&self, id: i64) -> String {
        let token = self.signer.sign(UNSUBSCRIBE_PURPOSE, id);
        self.settings
            .public_url(&format!("/unsubscribe?token={token}"))
    }

    /// The envelope sender naming `sent` (VERP), when `BOUNCE_ADDRESS` is set.
    pub fn return_path(&self, sent: crate::mail::verp::Sent) -> Option<String> {
        self.settings
            .bounce_address
            .as_ref()
            .map(|bounce| crate::mail::verp::return_path(bounce, &self.signer, sent))
    }

    /// The link to the preferences page of subscriber `id`.
    pub fn preferences_url(&self, id: i64) -> String {
        let token = self.signer.sign(PREFERENCES_PURPOSE, id);
        self.settings
            .public_url(&format!("/preferences?token={token}"))
    }

    /// The name `newsletter` goes out under: its own, or (the default newsletter's)
    /// NEWSLETTER_NAME or the feed's title.
    pub fn name_of(&self, newsletter: &db::newsletters::Newsletter) -> String {
        newsletter
            .name
            .clone()
            .unwrap_or_else(|| self.newsletter_name())
    }

    /// The unsubscribe link of subscriber `id` for newsletter `newsletter_id`: the
    /// default newsletter's is [`AppState::unsubscribe_url`] as ever; another's names the
    /// newsletter (`list=ID`), and its token is signed for that newsletter, so changing
    /// the number breaks it.
    pub fn unsubscribe_url_for(&self, id: i64, newsletter_id: i64) -> String {
        if newsletter_id == db::newsletters::DEFAULT_NEWSLETTER_ID {
            return self.unsubscribe_url(id);
        }
        let token = self.signer.sign(&unsubscribe_purpose(newsletter_id), id);
        self.settings
            .public_url(&format!("/unsubscribe?token={token}&list={newsletter_id}"))
    }

    /// Tells the digest delivery worker a digest is queued.
    pub fn wake_deliveries(&self) {
        self.delivery_wakeup.notify_one();
    }

    /// The `List-Id` of `newsletter`'s digests: the default newsletter's is
    /// [`AppState::list_id`] as ever; another's is its name and `<slug.host>`.
    pub fn list_id_of(&self, newsletter: &db::newsletters::Newsletter) -> String {
        if newsletter.id == db::newsletters::DEFAULT_NEWSLETTER_ID {
            return self.list_id();
        }
        format!(
            "{} <{}.{}>",
            list_phrase(&self.name_of(newsletter)),
            newsletter.slug,
            self.settings.public_host()
        )
    }

    /// The `List-Id` of our mail: the newsletter's name and an id under our host.
    pub fn list_id(&self) -> String {
        let name = self.newsletter_name();
        let slug: String = name
            .chars()
            .filter_map(|c| match c {
                'a'..='z' | '0'..='9' => Some(c),
                'A'..='Z' => Some(c.to_ascii_lowercase()),
                ' ' | '-' | '_' | '.' => Some('-'),
                _ => None,
            })
            .collect::<String>()
            .split('-')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let slug = if slug.is_empty() {
            "newsletter".to_owned()
        } else {
            slug
        };
        format!(
            "{} <{slug}.{}>",
            list_phrase(&name),
            self.settings.public_host()
        )
    }

    /// The `Feedback-ID` of digest `digest_id` (Gmail's feedback loop):
    /// `digest-ID:digest:LIST:SENDER`, the list being the identifier of `List-Id` and the
    /// sender the domain of `MAIL_FROM`, the one field that stays the same for every
    /// mail we send. Colons are the separator, so none appears inside a field.
    pub fn feedback_id(&self, digest_id: i64, list_id: &str) -> String {
        let list = list_id
            .rsplit_once('<')
            .map_or(list_id, |(_, rest)| rest.trim_end_matches('>'));
        let sender = self.settings.mail_from.email.domain();
        format!("digest-{digest_id}:digest:{list}:{sender}").replace(
            |c: char| !(c.is_ascii_alphanumeric() || ".-_:".contains(c)),
            "",
        )
    }

    /// Tells the mail queue worker there is something to send.
    pub fn wake_mail_queue(&self) {
        self.mail_queue_wakeup.notify_one();
    }
}

/// The newsletter's name as the phrase of a `List-Id` (RFC 2919): as it is when it is
/// words, quoted when it holds a character a phrase cannot (a name from a feed's title
/// may hold `<`, `"` or `@`), control characters dropped.
fn list_phrase(name: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let plain = name
        .chars()
        // (Beyond ASCII, the header's encoding carries any character.)
        .all(|c| {
            !c.is_ascii()
                || c.is_ascii_alphanumeric()
                || c == ' '
                || "!#$%&'*+-/=?^_`{|}~".contains(c)
        });
    if plain {
        return name;
    }
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod list_id_tests {
    use super::list_phrase;

    #[test]
    fn a_name_with_specials_is_quoted_in_the_list_id() {
        assert_eq!(list_phrase("The Astana Times"), "The Astana Times");
        assert_eq!(list_phrase("Qazaq Ünі"), "Qazaq Ünі");
        assert_eq!(list_phrase("L’Écho d’Almaty"), "L’Écho d’Almaty");
        assert_eq!(
            list_phrase(r#"News <b>"daily"</b>, 2026"#),
            r#""News <b>\"daily\"</b>, 2026""#
        );
        assert_eq!(list_phrase("A\r\nBcc: x"), r#""ABcc: x""#);
    }
}
