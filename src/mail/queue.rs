//! One-off mail (confirmations) in the outbox: a claim mints the link each message
//! carries, and a message no longer wanted is settled as cancelled.
//!
//! Sign-up only writes a row; the outbox worker renders and sends it, so a slow or
//! absent SMTP server never slows a sign-up down or loses one.

use chrono::NaiveDateTime;
use tokio::sync::Notify;

use crate::db::outgoing_emails::{self, OutgoingEmail};
use crate::db::subscribers::Subscriber;
use crate::db::{self, Conn, Outcome};
use crate::domain::ConfirmationToken;
use crate::i18n::Language;
use crate::mail::message::{Email, mailbox};
use crate::mail::outbox::{self, Lease, Queue, Recorded};
use crate::mail::pipeline;
use crate::metrics::MailKind;
use crate::service::subscriptions;
use crate::state::AppState;

/// The queue of one-off mail in the outbox.
#[derive(Debug, Default)]
pub struct Confirmations;

/// A claimed message with what it needs to be rendered.
pub struct Claimed {
    email: OutgoingEmail,
    /// What the mail carries, or `None` when it is no longer wanted (the subscriber
    /// confirmed, left or was erased meanwhile).
    wanted: Option<Wanted>,
}

/// A one-off mail still wanted, by kind.
enum Wanted {
    /// The subscriber and a freshly minted token.
    Confirmation(subscriptions::MintedLink),
    /// A link to the preferences page of this confirmed reader.
    Preferences(Subscriber),
}

impl Queue for Confirmations {
    type Key = i64;
    type Claimed = Claimed;

    const NAME: &'static str = "mail queue";
    const KIND: MailKind = MailKind::Confirmation;

    async fn claim(
        &mut self,
        state: &AppState,
        lease: Lease,
        limit: i64,
    ) -> anyhow::Result<Vec<Claimed>> {
        let ttl = state.settings.confirmation_ttl;
        state
            .db
            .write(move |conn| {
                // One exclusive transaction, in which the links are minted.
                db::exclusive(conn, |conn| {
                    let due = outgoing_emails::claim_due(conn, &lease, limit)?;
                    due.into_iter()
                        .map(|email| {
                            let wanted = if email.kind == outgoing_emails::KIND_PREFERENCES {
                                subscriptions::preferences_link_wanted(conn, email.subscriber_id)?
                                    .map(Wanted::Preferences)
                            } else {
                                subscriptions::mint_confirmation_link(
                                    conn,
                                    email.subscriber_id,
                                    (
                                        email.subscriber_name.as_deref(),
                                        email.subscriber_language.as_deref(),
                                    ),
                                    lease.now,
                                    ttl,
                                )?
                                .map(Wanted::Confirmation)
                            };
                            Ok(Claimed { email, wanted })
                        })
                        .collect()
                })
            })
            .await
    }

    fn key(claimed: &Claimed) -> i64 {
        claimed.email.id
    }

    async fn send(&self, state: &AppState, claimed: Claimed) -> Outcome {
        send_one(state, claimed).await
    }

    fn renew(conn: &mut Conn, worker: &str, until: NaiveDateTime) -> anyhow::Result<()> {
        outgoing_emails::renew_leases(conn, worker, until)
    }

    fn release(conn: &mut Conn, worker: &str) -> anyhow::Result<()> {
        outgoing_emails::release(conn, worker)
    }

    fn record(
        conn: &mut Conn,
        worker: &str,
        outcomes: &[(i64, Outcome)],
        now: NaiveDateTime,
    ) -> anyhow::Result<Recorded> {
        Ok(Recorded {
            written: outgoing_emails::record_outcomes(conn, worker, outcomes, now)?,
            readers_bounced: 0,
        })
    }

    fn wakeup(state: &AppState) -> &Notify {
        &state.mail_queue_wakeup
    }
}

/// Runs the mail queue's worker until `shutdown` turns true.
pub async fn run_worker(state: AppState, shutdown: tokio::sync::watch::Receiver<bool>) {
    outbox::run_worker(Confirmations, state, shutdown).await
}

/// Claims the due messages, sends them side by side and records the outcomes (one
/// round of the worker). Returns how many messages it handled.
pub async fn send_due(state: &AppState) -> anyhow::Result<usize> {
    outbox::process_due(&mut Confirmations, state, None).await
}

async fn send_one(state: &AppState, claimed: Claimed) -> Outcome {
    let Claimed { email, wanted } = claimed;
    let rendered = match wanted {
        None => return Outcome::Cancelled,
        Some(Wanted::Confirmation((subscriber, token, newsletters))) => {
            // In the language of the form the reader signed up on: the request's (a
            // known reader's own changes only once they confirm), else their own.
            let language = email
                .subscriber_language
                .as_deref()
                .and_then(Language::parse)
                .unwrap_or_else(|| subscriber.language(state.settings.default_language));
            render_confirmation(state, email.id, &subscriber, &token, &newsletters, language)
        }
        Some(Wanted::Preferences(subscriber)) => render_preferences(state, email.id, &subscriber),
    };
    // A mail's retries are timed from when it was queued: a link that cannot be
    // delivered for a day is better asked for again.
    let outcome = pipeline::attempt(
        &state.mailer,
        &state.metrics,
        rendered,
        email.attempts,
        Some(email.created_at),
        &state.settings.retry,
    )
    .await;
    match &outcome {
        Outcome::Sent => tracing::info!(
            outgoing_email = email.id,
            kind = email.kind,
            "{} mail sent",
            email.kind
        ),
        Outcome::RetryAt(_, reason) => tracing::warn!(
            outgoing_email = email.id,
            reason,
            "confirmation mail failed; will retry"
        ),
        Outcome::Rejected(reply) | Outcome::Bounced(reply) => tracing::warn!(
            outgoing_email = email.id,
            reply,
            "confirmation mail refused for good"
        ),
        Outcome::GaveUp(reason) => tracing::warn!(
            outgoing_email = email.id,
            reason,
            "giving up on a confirmation mail"
        ),
        Outcome::Cancelled => {}
    }
    outcome
}

/// Renders the confirmation mail.
fn render_confirmation(
    state: &AppState,
    outgoing_id: i64,
    subscriber: &Subscriber,
    token: &ConfirmationToken,
    newsletters: &[Option<String>],
    language: Language,
) -> anyhow::Result<Email> {
    let settings = &state.settings;
    // No name here: whoever typed the address also typed the name, so it would carry
    // a stranger's words (a "WIN $500 at …" name) to whatever inbox was given. The
    // reader's name is used once they have confirmed.
    let mut context = state.base_context();
    context.insert("lang", language.code());
    context.insert(
        "confirm_url",
        &language.link(
            &settings.public_url(&format!("/subscriptions/confirm?token={}", token.as_str())),
        ),
    );
    context.insert("ttl_hours", &(settings.confirmation_ttl.as_secs() / 3600));
    // What the link confirms, when the site sends several newsletters (else none: the
    // mail reads as it did with one list).
    if !newsletters.is_empty() {
        let default_name = state.newsletter_name();
        let names: Vec<String> = newsletters
            .iter()
            .map(|name| name.clone().unwrap_or_else(|| default_name.clone()))
            .collect();
        context.insert("newsletters", &names);
    }
    one_off_mail(
        state,
        "confirmation",
        "confirm",
        &context,
        language,
        outgoing_id,
        subscriber,
    )
}

/// Renders the mail with a link to the reader's preferences page. Like a confirmation,
/// it carries no name: anyone can ask for it for any address.
fn render_preferences(
    state: &AppState,
    outgoing_id: i64,
    subscriber: &Subscriber,
) -> anyhow::Result<Email> {
    // In the reader's stored language, whatever the browser that asked for it speaks.
    let language = subscriber.language(state.settings.default_language);
    let mut context = state.base_context();
    context.insert("lang", language.code());
    // The page opens in the mail's language, as the links of a digest do.
    context.insert(
        "preferences_url",
        &language.link(&state.preferences_url(subscriber.id)),
    );
    one_off_mail(
        state,
        "preferences",
        "preferences",
        &context,
        language,
        outgoing_id,
        subscriber,
    )
}

/// A one-off mail to `subscriber` from the templates `email/{template}.*` with
/// `context`, written in `language`. Its Message-ID is derived from the queue row (`id`
/// names the kind in it), so a retry carries the same id.
fn one_off_mail(
    state: &AppState,
    template: &str,
    id: &str,
    context: &tera::Context,
    language: Language,
    outgoing_id: i64,
    subscriber: &Subscriber,
) -> anyhow::Result<Email> {
    let message_id = format!(
        "<{id}.{}@{}>",
        state
            .signer
            .tag(&format!("message-id:{id}"), &outgoing_id.to_string()),
        state.settings.public_host()
    );
    let render = |part: &str| {
        state
            .templates
            .render(&format!("email/{template}.{part}"), context)
    };
    Ok(Email {
        to: mailbox(None, &subscriber.email)?,
        subject: render("subject.txt")?.trim().to_owned(),
        text: super::wrap::wrap_text(&render("txt")?),
        html: render("html")?,
        message_id,
        headers: vec![
            ("Auto-Submitted", "auto-generated".into()),
            ("Content-Language", language.code().to_owned()),
        ],
        return_path: state.return_path(super::verp::Sent::Mail {
            mail: outgoing_id,
            reader: subscriber.id,
        }),
    })
}
