//! Digest deliveries in the outbox (`mail::outbox`): a claim takes the reader's address
//! along, each digest is rendered once and personalised per reader, and an outcome
//! settles the digest's running counts and the reader's bounce count.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{Notify, watch};

use crate::db::deliveries::{self, ClaimedDelivery, DeliveryKey};
use crate::db::digests::{self, Digest};
use crate::db::{self, Conn, Outcome, newsletters};
use crate::digest::compose::{self, preferences_placeholder, unsubscribe_placeholder};
use crate::i18n::Language;
use crate::mail::message::{Email, mailbox};
use crate::mail::outbox::{self, Lease, Queue, Recorded};
use crate::mail::pipeline;
use crate::metrics::MailKind;
use crate::service::bounces;
use crate::state::AppState;
use crate::templates::escape_html;

/// The digest deliveries in the outbox, with the digests being sent rendered once and
/// shared by every message.
#[derive(Default)]
pub struct DigestCache {
    digests: HashMap<i64, Arc<Prepared>>,
}

/// A digest ready to be personalised.
struct Prepared {
    digest: Digest,
    placeholder: String,
    /// Where the reader's "Manage your newsletters" link goes.
    preferences_placeholder: String,
    /// The `List-Id` of its newsletter.
    list_id: String,
    /// The language of `digest`'s own render.
    language: Language,
    /// Its renders in other languages its readers read.
    translations: Vec<(Language, digests::Translation)>,
}

impl Prepared {
    /// The render for a reader of `language` (the digest's own when there is none in
    /// it: the newsletter is tied to its language, or the reader came after the render),
    /// and its language: subject, text, HTML.
    fn for_reader(&self, language: Language) -> (Language, &str, &str, &str) {
        match self.translations.iter().find(|(l, _)| *l == language) {
            Some((l, t)) => (*l, &t.subject, &t.text_body, &t.html_body),
            None => (
                self.language,
                &self.digest.subject,
                &self.digest.text_body,
                &self.digest.html_body,
            ),
        }
    }
}

impl DigestCache {
    async fn load(&mut self, state: &AppState, ids: &[i64]) -> anyhow::Result<()> {
        // Keep only what this batch needs; a digest is tens of KB.
        self.digests.retain(|id, _| ids.contains(id));
        for &id in ids {
            if self.digests.contains_key(&id) {
                continue;
            }
            let default = state.settings.default_language;
            let (digest, newsletter, translations) = state
                .db
                .run(move |conn| {
                    let Some(digest) = digests::find(conn, id)? else {
                        return Ok(None);
                    };
                    let Some(newsletter) = newsletters::find(conn, digest.newsletter_id)? else {
                        anyhow::bail!("digest {id}'s newsletter does not exist");
                    };
                    let translations = digests::translations(conn, id)?;
                    Ok(Some((digest, newsletter, translations)))
                })
                .await?
                .ok_or_else(|| anyhow::anyhow!("digest {id} has deliveries but does not exist"))?;
            let language = newsletter
                .language
                .as_deref()
                .and_then(Language::parse)
                .unwrap_or(default);
            let placeholder = unsubscribe_placeholder(state, id);
            let preferences_placeholder = preferences_placeholder(state, id);
            let translations = translations
                .into_iter()
                .filter_map(|t| Language::parse(&t.language).map(|l| (l, t)))
                .collect();
            self.digests.insert(
                id,
                Arc::new(Prepared {
                    digest,
                    placeholder,
                    preferences_placeholder,
                    list_id: state.list_id_of(&newsletter),
                    language,
                    translations,
                }),
            );
        }
        Ok(())
    }
}

/// A claimed delivery with the digest it carries.
pub struct Claimed {
    delivery: ClaimedDelivery,
    prepared: Arc<Prepared>,
}

impl Queue for DigestCache {
    type Key = DeliveryKey;
    type Claimed = Claimed;

    const NAME: &'static str = "digest delivery";
    const KIND: MailKind = MailKind::Digest;

    async fn claim(
        &mut self,
        state: &AppState,
        lease: Lease,
        limit: i64,
    ) -> anyhow::Result<Vec<Claimed>> {
        let claimed = state
            .db
            .write(move |conn| deliveries::claim_due(conn, &lease, limit))
            .await?;
        let mut digest_ids: Vec<i64> = claimed.iter().map(|d| d.digest_id).collect();
        digest_ids.sort_unstable();
        digest_ids.dedup();
        self.load(state, &digest_ids).await?;
        Ok(claimed
            .into_iter()
            .map(|delivery| Claimed {
                prepared: self.digests[&delivery.digest_id].clone(),
                delivery,
            })
            .collect())
    }

    fn key(claimed: &Claimed) -> DeliveryKey {
        claimed.delivery.key()
    }

    async fn send(&self, state: &AppState, claimed: Claimed) -> Outcome {
        send_one(state, &claimed.prepared, &claimed.delivery).await
    }

    fn renew(conn: &mut Conn, worker: &str, until: NaiveDateTime) -> anyhow::Result<()> {
        deliveries::renew_leases(conn, worker, until)
    }

    fn release(conn: &mut Conn, worker: &str) -> anyhow::Result<()> {
        deliveries::release(conn, worker)
    }

    fn record(
        conn: &mut Conn,
        worker: &str,
        outcomes: &[(DeliveryKey, Outcome)],
        now: NaiveDateTime,
    ) -> anyhow::Result<Recorded> {
        bounces::record_deliveries(conn, worker, outcomes, now)
    }

    /// Closes the digests the batch finished. With nothing claimed, closes any digest
    /// with nothing left pending: deliveries are also settled outside a batch (skipped
    /// at claim time because the reader left, erased).
    async fn after_batch(
        &mut self,
        state: &AppState,
        claimed: &[DeliveryKey],
    ) -> anyhow::Result<()> {
        let mut digest_ids: Vec<i64> = claimed.iter().map(|key| key.digest_id).collect();
        digest_ids.sort_unstable();
        digest_ids.dedup();
        if digest_ids.is_empty() {
            // Idle: a digest whose making stopped before its render was stored (its
            // process crashed or could not go on) is carried on here, not only at the
            // next start.
            compose::resume_composing(state, digests::RENDER_STALE_AFTER).await?;
        }
        state
            .db
            // Exclusive, as "retry failed" is: the check for anything pending and the
            // closing are one step for it, so a digest is never closed between another
            // process's two. (The queueing of its last readers is ordered with the
            // closing by the digest's row: see `digests::finish_completed`.)
            .write(move |conn| {
                crate::db::exclusive(conn, |conn| match digest_ids.is_empty() {
                    true => digests::finish_all_completed(conn, db::now()),
                    false => digests::finish_completed(conn, &digest_ids, db::now()),
                })
            })
            .await
    }

    fn wakeup(state: &AppState) -> &Notify {
        &state.delivery_wakeup
    }
}

/// Runs the delivery worker until `shutdown` turns true.
pub async fn run_worker(state: AppState, shutdown: watch::Receiver<bool>) {
    // A digest a crash left unrendered is rendered as this worker starts.
    if let Err(e) = crate::digest::compose::resume_composing(&state, Duration::ZERO).await {
        tracing::error!("could not finish making a digest: {e:#}");
    }
    outbox::run_worker(DigestCache::default(), state, shutdown).await
}

/// Claims one batch of due deliveries, sends it and records the outcomes. Returns how
/// many deliveries it handled (0 when nothing was due). When `stop` turns true, no new
/// message of the batch is started.
pub async fn deliver_due(
    state: &AppState,
    cache: &mut DigestCache,
    stop: Option<&watch::Receiver<bool>>,
) -> anyhow::Result<usize> {
    outbox::process_due(cache, state, stop).await
}

async fn send_one(state: &AppState, prepared: &Prepared, delivery: &ClaimedDelivery) -> Outcome {
    let digest = &prepared.digest;
    let outcome = pipeline::attempt(
        &state.mailer,
        &state.metrics,
        personalise(state, prepared, delivery),
        delivery.attempts,
        delivery.failing_since,
        &state.settings.retry,
    )
    .await;
    match &outcome {
        Outcome::RetryAt(_, reason) => {
            tracing::debug!(
                digest = digest.id,
                subscriber = delivery.subscriber_id,
                reason,
                "will retry"
            )
        }
        Outcome::Rejected(reply) | Outcome::Bounced(reply) | Outcome::GaveUp(reply) => {
            tracing::warn!(
                digest = digest.id,
                subscriber = delivery.subscriber_id,
                reply,
                "delivery failed"
            )
        }
        Outcome::Sent | Outcome::Cancelled => {}
    }
    outcome
}

/// The Message-ID of `digest` for `subscriber`: the same on every attempt, so a resend
/// after a crash is recognisable as the same message.
pub fn message_id(state: &AppState, digest_id: i64, subscriber_id: i64) -> String {
    let tag = state
        .signer
        .tag("message-id:digest", &format!("{digest_id}-{subscriber_id}"));
    format!("<digest.{tag}@{}>", state.settings.public_host())
}

/// Fills the reader's own parts into the once-rendered digest.
/// `body` with each placeholder replaced by its link, in one pass: a digest of tens of
/// KB is copied once per reader, not once per kind of link. Every placeholder starts
/// with [`compose::PLACEHOLDER_STEM`].
fn fill(body: &str, links: [(&str, &str); 2]) -> String {
    let stem = compose::PLACEHOLDER_STEM;
    let mut filled = String::with_capacity(body.len() + 512);
    let mut rest = body;
    'scan: while let Some(at) = rest.find(stem) {
        for (placeholder, link) in links {
            if rest[at..].starts_with(placeholder) {
                filled.push_str(&rest[..at]);
                filled.push_str(link);
                rest = &rest[at + placeholder.len()..];
                continue 'scan;
            }
        }
        // The stem alone (an article may say it): kept as it is.
        filled.push_str(&rest[..at + stem.len()]);
        rest = &rest[at + stem.len()..];
    }
    filled.push_str(rest);
    filled
}

fn personalise(
    state: &AppState,
    prepared: &Prepared,
    delivery: &ClaimedDelivery,
) -> anyhow::Result<Email> {
    let digest = &prepared.digest;
    let reader_language = delivery
        .language
        .as_deref()
        .and_then(Language::parse)
        .unwrap_or(state.settings.default_language);
    let (language, subject, text, html) = prepared.for_reader(reader_language);
    let unsubscribe = state.unsubscribe_url_for(delivery.subscriber_id, digest.newsletter_id);
    // The links in the mail open their pages in the mail's language; the header's
    // one-click link is for mail clients, and stays as it was.
    let unsubscribe_link = language.link(&unsubscribe);
    let preferences = language.link(&state.preferences_url(delivery.subscriber_id));
    let sent = crate::mail::verp::Sent::Digest {
        digest: digest.id,
        reader: delivery.subscriber_id,
    };
    // With BOUNCE_ADDRESS, a mail client may also leave by mail (RFC 2369).
    let list_unsubscribe = match &state.settings.bounce_address {
        Some(bounce) => format!(
            "<{unsubscribe}>, <mailto:{}>",
            crate::mail::verp::unsubscribe_address(bounce, &state.signer, sent)
        ),
        None => format!("<{unsubscribe}>"),
    };
    let email = Email {
        to: mailbox(delivery.name.as_deref(), &delivery.email)?,
        subject: subject.to_owned(),
        text: fill(
            text,
            [
                (&prepared.placeholder, &unsubscribe_link),
                (&prepared.preferences_placeholder, &preferences),
            ],
        ),
        html: fill(
            html,
            [
                (&prepared.placeholder, &escape_html(&unsubscribe_link)),
                (
                    &prepared.preferences_placeholder,
                    &escape_html(&preferences),
                ),
            ],
        ),
        message_id: message_id(state, digest.id, delivery.subscriber_id),
        headers: vec![
            ("List-Unsubscribe", list_unsubscribe),
            (
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            ),
            ("List-Id", prepared.list_id.clone()),
            (
                "Feedback-ID",
                state.feedback_id(digest.id, &prepared.list_id),
            ),
            ("Precedence", "bulk".to_owned()),
            ("Content-Language", language.code().to_owned()),
        ],
        return_path: state.return_path(sent),
    };
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::fill;
    use crate::digest::compose::{
        PLACEHOLDER_STEM, PREFERENCES_PLACEHOLDER_PREFIX, UNSUBSCRIBE_PLACEHOLDER_PREFIX,
    };

    #[test]
    fn every_placeholder_is_filled_and_the_stem_alone_is_left_as_it_is() {
        assert!(UNSUBSCRIBE_PLACEHOLDER_PREFIX.starts_with(PLACEHOLDER_STEM));
        assert!(PREFERENCES_PLACEHOLDER_PREFIX.starts_with(PLACEHOLDER_STEM));
        let body = "Leave: NEWSLETTER-UNSUBSCRIBE-abc. Manage: NEWSLETTER-PREFERENCES-xyz. \
                    Again: NEWSLETTER-UNSUBSCRIBE-abc. NEWSLETTER-UNSUBSCRIBE-other, NEWSLETTER-";
        let filled = fill(
            body,
            [
                ("NEWSLETTER-UNSUBSCRIBE-abc", "https://u/1"),
                ("NEWSLETTER-PREFERENCES-xyz", "https://p/1"),
            ],
        );
        assert_eq!(
            filled,
            "Leave: https://u/1. Manage: https://p/1. \
             Again: https://u/1. NEWSLETTER-UNSUBSCRIBE-other, NEWSLETTER-"
        );
        assert_eq!(
            fill("«Ақорда» — no link", [("a", "b"), ("c", "d")]),
            "«Ақорда» — no link"
        );
    }
}
