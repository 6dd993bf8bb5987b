//! The leased outbox both kinds of mail go through: one-off mail (confirmations,
//! `mail::queue`) and digest deliveries (`digest::delivery`). Each is a [`Queue`]: the
//! table-specific parts (what a claim takes along, how a message is rendered, what an
//! outcome changes). Claiming, renewing, sending side by side, recording as outcomes come,
//! releasing and the worker loop are written here once.
//!
//! A worker claims a batch under a lease (on PostgreSQL with `FOR UPDATE SKIP LOCKED`,
//! so instances sharing the database take different rows), renews the lease while it
//! works, records outcomes as they complete while it goes on sending, and releases what
//! it still holds when it stops. A worker that dies leaves rows whose lease lapses; the
//! next claim, in this instance or another, takes them again. What can go twice is
//! bounded by what was in flight plus the outcomes not yet recorded, at most
//! 2 × `SEND_CONCURRENCY` (see `pipeline::send_and_record`).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{Notify, watch};
use tracing::Instrument;

use crate::db::{self, Conn, Outcome, after};
use crate::mail::pipeline;
use crate::metrics::{MailKind, UnsubscribePath};
use crate::state::AppState;

/// How often an idle worker looks for due retries when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);
/// Further tries at recording a chunk of outcomes before giving up on it (its messages
/// are then sent again once their lease lapses).
const RECORD_TRIES: u64 = 3;

/// What recording a chunk of outcomes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Rows written.
    pub written: usize,
    /// Readers these outcomes marked bounced.
    pub readers_bounced: u64,
}

/// Who holds a claim and until when.
#[derive(Debug, Clone)]
pub struct Lease {
    pub worker: String,
    pub now: NaiveDateTime,
    pub until: NaiveDateTime,
}

/// One kind of queued mail.
pub trait Queue: Send + Sync + 'static {
    /// What identifies one message in its table.
    type Key: Copy + Send + Sync + std::fmt::Debug + 'static;
    /// A claimed message with what it needs to be rendered.
    type Claimed: Send + 'static;

    /// Names the queue in logs.
    const NAME: &'static str;

    /// Claims up to `limit` due messages under `lease`.
    fn claim(
        &mut self,
        state: &AppState,
        lease: Lease,
        limit: i64,
    ) -> impl Future<Output = anyhow::Result<Vec<Self::Claimed>>> + Send;

    fn key(claimed: &Self::Claimed) -> Self::Key;

    /// Renders and sends one claimed message.
    fn send(
        &self,
        state: &AppState,
        claimed: Self::Claimed,
    ) -> impl Future<Output = Outcome> + Send;

    /// Extends the lease on everything `worker` holds.
    fn renew(conn: &mut Conn, worker: &str, until: NaiveDateTime) -> anyhow::Result<()>;

    /// Lets go of everything `worker` holds.
    fn release(conn: &mut Conn, worker: &str) -> anyhow::Result<()>;

    /// Records a chunk of `worker`'s outcomes in one transaction; says how many rows
    /// it wrote (a row whose lease lapsed and that another worker took is left to it).
    fn record(
        conn: &mut Conn,
        worker: &str,
        outcomes: &[(Self::Key, Outcome)],
        now: NaiveDateTime,
    ) -> anyhow::Result<Recorded>;

    /// The kind of mail, for the metrics.
    const KIND: MailKind;

    /// Runs after each batch (and, with `claimed` empty, when nothing was due).
    fn after_batch(
        &mut self,
        _state: &AppState,
        _claimed: &[Self::Key],
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }

    /// What wakes the worker when there is new work.
    fn wakeup(state: &AppState) -> &Notify;
}

/// Runs `queue`'s worker until `shutdown` turns true. A shutdown lets the messages in
/// flight finish and be recorded; the rest of the batch stays queued, released for the
/// next worker.
pub async fn run_worker<Q: Queue>(mut queue: Q, state: AppState, shutdown: watch::Receiver<bool>) {
    loop {
        let round = process_due(&mut queue, &state, Some(&shutdown)).await;
        if *shutdown.borrow() {
            break;
        }
        match round {
            Ok(handled) if handled > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(
                queue = Q::NAME,
                error = format!("{e:#}"),
                "could not process the queue; trying again shortly"
            ),
        }
        state.mailer.close_idle().await;
        let mut shutdown = shutdown.clone();
        tokio::select! {
            _ = Q::wakeup(&state).notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => break,
        }
    }
    let worker = state.worker_id.clone();
    if let Err(e) = state.db.write(move |conn| Q::release(conn, &worker)).await {
        tracing::warn!(
            queue = Q::NAME,
            error = format!("{e:#}"),
            "could not release leases; they lapse by themselves"
        );
    }
}

/// Claims one batch of due messages, sends it and records the outcomes. Returns how
/// many messages it handled (0 when nothing was due). Once `stop` turns true, no new
/// message of the batch is started.
pub async fn process_due<Q: Queue>(
    queue: &mut Q,
    state: &AppState,
    stop: Option<&watch::Receiver<bool>>,
) -> anyhow::Result<usize> {
    // Each line logged while a batch is sent names its queue and figures.
    let span = tracing::info_span!(
        "delivery_batch",
        queue = Q::NAME,
        claimed = tracing::field::Empty,
        sent = tracing::field::Empty,
        not_sent = tracing::field::Empty,
        elapsed_ms = tracing::field::Empty,
    );
    process_batch(queue, state, stop, &span)
        .instrument(span.clone())
        .await
}

async fn process_batch<Q: Queue>(
    queue: &mut Q,
    state: &AppState,
    stop: Option<&watch::Receiver<bool>>,
    span: &tracing::Span,
) -> anyhow::Result<usize> {
    let started = std::time::Instant::now();
    let settings = &state.settings;
    let now = db::now();
    let lease = Lease {
        worker: state.worker_id.clone(),
        now,
        until: after(now, settings.delivery.lease),
    };
    let batch = i64::try_from(settings.send_concurrency * settings.delivery.batch_per_connection)?;
    let claimed = queue.claim(state, lease, batch).await?;
    let keys: Vec<Q::Key> = claimed.iter().map(Q::key).collect();
    if claimed.is_empty() {
        queue.after_batch(state, &keys).await?;
        return Ok(0);
    }
    span.record("claimed", keys.len());
    let (sent, not_sent) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let (sent, not_sent) = (&sent, &not_sent);
    let renewal = {
        let state = state.clone();
        pipeline::LeaseRenewal::start(settings.delivery.lease, move |until| {
            let (db, worker) = (state.db.clone(), state.worker_id.clone());
            async move { db.write(move |conn| Q::renew(conn, &worker, until)).await }
        })
    };
    let queue_ref = &*queue;
    let recorded = pipeline::send_and_record(
        claimed,
        settings.send_concurrency,
        || !stop.is_some_and(|stop| *stop.borrow()),
        |claimed| async move {
            let key = Q::key(&claimed);
            let outcome = queue_ref.send(state, claimed).await;
            state.metrics.mail_outcome(Q::KIND, &outcome);
            match outcome {
                Outcome::Sent => sent,
                _ => not_sent,
            }
            .fetch_add(1, Ordering::Relaxed);
            (key, outcome)
        },
        |chunk| {
            let worker = state.worker_id.clone();
            let finished = db::now();
            async move {
                let offered = chunk.len();
                let chunk = std::sync::Arc::new(chunk);
                // These messages went out: their record is worth a second try (a
                // PostgreSQL deadlock with an admin's erasure, a dropped connection).
                // A try that did commit leaves nothing for the next to write.
                let mut tries = 0;
                let written = loop {
                    let (worker, chunk) = (worker.clone(), chunk.clone());
                    match state
                        .db
                        .write(move |conn| Q::record(conn, &worker, &chunk, finished))
                        .await
                    {
                        Ok(recorded) => {
                            state
                                .metrics
                                .unsubscribes(UnsubscribePath::Bounce, recorded.readers_bounced);
                            break recorded.written;
                        }
                        Err(e) if tries < RECORD_TRIES => {
                            tries += 1;
                            tracing::warn!(
                                queue = Q::NAME,
                                error = format!("{e:#}"),
                                "could not record outcomes; trying again"
                            );
                            tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                        }
                        Err(e) => return Err(e),
                    }
                };
                if written < offered {
                    tracing::warn!(
                        queue = Q::NAME,
                        lost = offered - written,
                        "leases lapsed while their messages were being sent; another worker owns them now"
                    );
                }
                Ok(())
            }
        },
    )
    .await;
    drop(renewal);
    span.record("sent", sent.load(Ordering::Relaxed));
    span.record("not_sent", not_sent.load(Ordering::Relaxed));
    span.record("elapsed_ms", started.elapsed().as_millis() as u64);
    recorded?;
    queue.after_batch(state, &keys).await?;
    tracing::debug!("batch done");
    Ok(keys.len())
}
