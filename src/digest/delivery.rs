//! Delivering digests: workers claim deliveries in batches under a lease, send them
//! side by side over the pooled connections, and record results in small batches.
//!
//! What can go twice after a crash is bounded: results are written every
//! `SEND_CONCURRENCY` completions, so at most the messages in flight plus one unwritten
//! chunk (2 × `SEND_CONCURRENCY`) were sent but not recorded. Everything else claimed by
//! the dead worker was never sent and is picked up once its lease lapses.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::db::deliveries::{self, ClaimedDelivery};
use crate::db::digests::{self, Digest};
use crate::db::{self, Outcome, after};
use crate::digest::compose::unsubscribe_placeholder;
use crate::mail::message::{Email, mailbox};
use crate::mail::pipeline;
use crate::state::AppState;
use crate::templates::escape_html;

/// How often an idle worker looks for due retries when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);

/// Runs until `shutdown` turns true; on the way out, releases what it still holds.
pub async fn run_worker(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut cache = DigestCache::default();
    loop {
        // A shutdown lets the messages in flight finish and be recorded; the rest of
        // the batch stays queued.
        let round = deliver_due(&state, &mut cache, Some(&shutdown)).await;
        if *shutdown.borrow() {
            break;
        }
        match round {
            Ok(sent) if sent > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "digest delivery failed; retrying shortly"
            ),
        }
        tokio::select! {
            _ = state.delivery_wakeup.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => break,
        }
    }
    let worker = state.worker_id.clone();
    if let Err(e) = state
        .db
        .run(move |conn| deliveries::release(conn, &worker))
        .await
    {
        tracing::warn!(
            error = format!("{e:#}"),
            "could not release delivery leases; they lapse by themselves"
        );
    }
}

/// Digests being sent, rendered once and shared by every message.
#[derive(Default)]
pub struct DigestCache {
    digests: HashMap<i64, Arc<Prepared>>,
}

/// A digest ready to be personalised.
struct Prepared {
    digest: Digest,
    placeholder: String,
}

impl DigestCache {
    async fn load(&mut self, state: &AppState, ids: &[i64]) -> anyhow::Result<()> {
        // Keep only what this batch needs; a digest is tens of KB.
        self.digests.retain(|id, _| ids.contains(id));
        for &id in ids {
            if self.digests.contains_key(&id) {
                continue;
            }
            let digest = state
                .db
                .run(move |conn| digests::find(conn, id))
                .await?
                .ok_or_else(|| anyhow::anyhow!("digest {id} has deliveries but does not exist"))?;
            let placeholder = unsubscribe_placeholder(state, id);
            self.digests.insert(
                id,
                Arc::new(Prepared {
                    digest,
                    placeholder,
                }),
            );
        }
        Ok(())
    }
}

/// Claims one batch of due deliveries, sends it and records the outcomes. Returns how
/// many deliveries it handled (0 when nothing was due). When `stop` turns true, no new
/// message of the batch is started.
pub async fn deliver_due(
    state: &AppState,
    cache: &mut DigestCache,
    stop: Option<&watch::Receiver<bool>>,
) -> anyhow::Result<usize> {
    let settings = &state.settings;
    let worker = state.worker_id.clone();
    let lease = settings.delivery.lease;
    let batch = i64::try_from(settings.send_concurrency * settings.delivery.batch_per_connection)?;
    let now = db::now();
    let claimed = state
        .db
        .write(move |conn| deliveries::claim_due(conn, &worker, now, after(now, lease), batch))
        .await?;
    if claimed.is_empty() {
        // Deliveries can also be settled outside a batch (skipped at claim time because
        // the reader left, erased): close any digest that has nothing left pending.
        state
            .db
            .write(move |conn| digests::finish_all_completed(conn, db::now()))
            .await?;
        return Ok(0);
    }
    let handled = claimed.len();
    let mut digest_ids: Vec<i64> = claimed.iter().map(|d| d.digest_id).collect();
    digest_ids.sort_unstable();
    digest_ids.dedup();
    cache.load(state, &digest_ids).await?;

    let renewal = {
        let state = state.clone();
        pipeline::LeaseRenewal::start(lease, move |until| {
            let (db, worker) = (state.db.clone(), state.worker_id.clone());
            async move {
                db.write(move |conn| deliveries::renew_leases(conn, &worker, until))
                    .await
            }
        })
    };
    let digests = &cache.digests;
    let worker = &state.worker_id;
    let recorded = pipeline::send_and_record(
        claimed,
        settings.send_concurrency,
        || !stop.is_some_and(|stop| *stop.borrow()),
        |delivery| {
            let prepared = digests[&delivery.digest_id].clone();
            async move {
                let key = (delivery.digest_id, delivery.subscriber_id);
                (key, send_one(state, &prepared, &delivery).await)
            }
        },
        |chunk| {
            let worker = worker.clone();
            let finished = db::now();
            state
                .db
                .write(move |conn| deliveries::record_outcomes(conn, &worker, &chunk, finished))
        },
    )
    .await;
    drop(renewal);
    recorded?;
    let finished = db::now();
    state
        .db
        .write(move |conn| digests::finish_completed(conn, &digest_ids, finished))
        .await?;
    Ok(handled)
}

async fn send_one(state: &AppState, prepared: &Prepared, delivery: &ClaimedDelivery) -> Outcome {
    let digest = &prepared.digest;
    let outcome = pipeline::attempt(
        &state.mailer,
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
fn personalise(
    state: &AppState,
    prepared: &Prepared,
    delivery: &ClaimedDelivery,
) -> anyhow::Result<Email> {
    let digest = &prepared.digest;
    let unsubscribe = state.unsubscribe_url(delivery.subscriber_id);
    let email = Email {
        to: mailbox(delivery.name.as_deref(), &delivery.email)?,
        subject: digest.subject.clone(),
        text: digest
            .text_body
            .replace(&prepared.placeholder, &unsubscribe),
        html: digest
            .html_body
            .replace(&prepared.placeholder, &escape_html(&unsubscribe)),
        message_id: message_id(state, digest.id, delivery.subscriber_id),
        headers: vec![
            ("List-Unsubscribe", format!("<{unsubscribe}>")),
            (
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            ),
            ("List-Id", state.list_id()),
            ("Precedence", "bulk".to_owned()),
        ],
    };
    Ok(email)
}
