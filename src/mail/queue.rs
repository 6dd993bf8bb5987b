//! The worker that sends queued one-off mail (confirmations), retrying what fails.
//!
//! Sign-up only writes a row; this worker renders and sends it, so a slow or absent SMTP
//! server never slows a sign-up down or loses one.

use std::time::Duration;

use tokio::sync::watch;

use crate::db::outgoing_emails::{self, OutgoingEmail};
use crate::db::subscribers::{self, Subscriber};
use crate::db::{self, Outcome, after};
use crate::domain::{ConfirmationToken, SubscriberStatus};
use crate::mail::message::{Email, mailbox};
use crate::mail::pipeline;
use crate::state::AppState;

/// Queued messages one claim takes, per SMTP connection.
const BATCH_PER_CONNECTION: usize = 4;
/// How often the worker looks for due retries when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);

/// Runs until `shutdown` turns true: sends what is due, then sleeps until woken by a
/// new sign-up ([`AppState::wake_mail_queue`]) or the next poll.
pub async fn run_worker(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        match send_due(&state).await {
            Ok(sent) if sent > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "the mail queue could not be processed"
            ),
        }
        state.mailer.close_idle().await;
        tokio::select! {
            _ = state.mail_queue_wakeup.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
    let worker = state.worker_id.clone();
    if let Err(e) = state
        .db
        .run(move |conn| outgoing_emails::release(conn, &worker))
        .await
    {
        tracing::warn!(
            error = format!("{e:#}"),
            "could not release mail queue leases; they lapse by themselves"
        );
    }
}

/// A claimed message with what it needs to be rendered.
struct Claimed {
    email: OutgoingEmail,
    /// The subscriber and a freshly minted token, or `None` when the mail is no longer
    /// wanted (the subscriber confirmed, left or was erased meanwhile).
    confirmation: Option<(Subscriber, ConfirmationToken)>,
}

/// Claims the due messages, sends them side by side and records the outcomes as they
/// come (see [`pipeline`]). Returns how many messages it handled.
pub async fn send_due(state: &AppState) -> anyhow::Result<usize> {
    let now = db::now();
    let ttl = state.settings.confirmation_ttl;
    let lease = state.settings.delivery.lease;
    let batch = i64::try_from(state.settings.send_concurrency * BATCH_PER_CONNECTION)?;
    let worker = state.worker_id.clone();
    let claimed: Vec<Claimed> = state
        .db
        .write(move |conn| {
            // One write transaction: a reader who leaves meanwhile either leaves before
            // (no link is minted) or after (leaving ends the link minted here).
            crate::db::exclusive(conn, |conn| {
                let due = outgoing_emails::claim_due(conn, &worker, now, after(now, lease), batch)?;
                due.into_iter()
                    .map(|email| {
                        let subscriber = match email.subscriber_id {
                            Some(id) => subscribers::find(conn, id)?,
                            None => None,
                        };
                        // The token is minted at send time, so no usable token ever waits in
                        // the queue table, and the link's lifetime starts when it is mailed.
                        let confirmation = match subscriber {
                            Some(s) if s.status() == SubscriberStatus::Pending => {
                                let token = ConfirmationToken::generate();
                                subscribers::insert_confirmation_token(
                                    conn,
                                    s.id,
                                    &token.hash(),
                                    email.subscriber_name.as_deref(),
                                    now,
                                    after(now, ttl),
                                )?;
                                Some((s, token))
                            }
                            _ => None,
                        };
                        Ok(Claimed {
                            email,
                            confirmation,
                        })
                    })
                    .collect()
            })
        })
        .await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let handled = claimed.len();
    let renewal = {
        let state = state.clone();
        pipeline::LeaseRenewal::start(lease, move |until| {
            let (db, worker) = (state.db.clone(), state.worker_id.clone());
            async move {
                db.write(move |conn| outgoing_emails::renew_leases(conn, &worker, until))
                    .await
            }
        })
    };
    let worker = &state.worker_id;
    let recorded = pipeline::send_and_record(
        claimed,
        state.settings.send_concurrency,
        || true,
        |claimed| async move {
            let id = claimed.email.id;
            (id, send_one(state, claimed).await)
        },
        |chunk| {
            let worker = worker.clone();
            let finished = db::now();
            state.db.write(move |conn| {
                outgoing_emails::record_outcomes(conn, &worker, &chunk, finished)
            })
        },
    )
    .await;
    drop(renewal);
    recorded?;
    Ok(handled)
}

async fn send_one(state: &AppState, claimed: Claimed) -> Outcome {
    let Claimed {
        email,
        confirmation,
    } = claimed;
    let Some((subscriber, token)) = confirmation else {
        return Outcome::Cancelled;
    };
    // A confirmation's retries are timed from when it was queued: a link that cannot
    // be delivered for a day is better asked for again.
    let outcome = pipeline::attempt(
        &state.mailer,
        render_confirmation(state, email.id, &subscriber, &token),
        email.attempts,
        Some(email.created_at),
        &state.settings.retry,
    )
    .await;
    match &outcome {
        Outcome::Sent => tracing::info!(outgoing_email = email.id, "confirmation mail sent"),
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
) -> anyhow::Result<Email> {
    let settings = &state.settings;
    // No name here: whoever typed the address also typed the name, so it would carry
    // a stranger's words (a "WIN $500 at …" name) to whatever inbox was given. The
    // reader's name is used once they have confirmed.
    let mut context = state.base_context();
    context.insert(
        "confirm_url",
        &settings.public_url(&format!("/subscriptions/confirm?token={}", token.as_str())),
    );
    context.insert("ttl_hours", &(settings.confirmation_ttl.as_secs() / 3600));
    // Derived from the queue row, so a retry carries the same id.
    let message_id = format!(
        "<confirm.{}@{}>",
        state
            .signer
            .tag("message-id:confirm", &outgoing_id.to_string()),
        settings.public_host()
    );
    let email = Email {
        to: mailbox(None, &subscriber.email)?,
        subject: state
            .templates
            .render("email/confirmation.subject.txt", &context)?
            .trim()
            .to_owned(),
        text: state.templates.render("email/confirmation.txt", &context)?,
        html: state
            .templates
            .render("email/confirmation.html", &context)?,
        message_id,
        headers: vec![("Auto-Submitted", "auto-generated".into())],
    };
    Ok(email)
}
