//! Sending a claimed batch: attempts run side by side, and their outcomes are recorded
//! every `concurrency` completions. Used by both queues (confirmations and digests).
//!
//! Recording in small chunks bounds what a crash can double: at most the messages in
//! flight plus one unrecorded chunk, 2 × `concurrency`, were sent but not yet marked.

use std::future::Future;

use chrono::NaiveDateTime;
use futures_util::StreamExt;

use crate::config::RetryPolicy;
use crate::db::{self, Outcome};
use crate::mail::{Email, Mailer, retry};

/// Runs `send` over `items`, `concurrency` at a time, and hands every chunk of outcomes
/// to `record` as it completes. Stops starting new items once `keep_going` says no;
/// items never started stay claimed by the caller (their lease lapses or is released).
pub async fn send_and_record<T, K, SendFut, RecordFut>(
    items: Vec<T>,
    concurrency: usize,
    keep_going: impl Fn() -> bool,
    send: impl Fn(T) -> SendFut,
    mut record: impl FnMut(Vec<(K, Outcome)>) -> RecordFut,
) -> anyhow::Result<()>
where
    SendFut: Future<Output = (K, Outcome)>,
    RecordFut: Future<Output = anyhow::Result<()>>,
{
    let mut outcomes = futures_util::stream::iter(items)
        .take_while(|_| std::future::ready(keep_going()))
        .map(send)
        .buffer_unordered(concurrency)
        .ready_chunks(concurrency);
    while let Some(chunk) = outcomes.next().await {
        record(chunk).await?;
    }
    Ok(())
}

/// Keeps renewing a batch's lease every third of its length until dropped, so a batch
/// on a slow server stays the worker's for as long as it works on it.
pub struct LeaseRenewal(tokio::task::JoinHandle<()>);

impl LeaseRenewal {
    pub fn start<F, Fut>(lease: std::time::Duration, renew: F) -> LeaseRenewal
    where
        F: Fn(NaiveDateTime) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send,
    {
        LeaseRenewal(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                if let Err(e) = renew(db::after(db::now(), lease)).await {
                    tracing::warn!(error = format!("{e:#}"), "could not renew a lease");
                }
            }
        }))
    }
}

impl Drop for LeaseRenewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One attempt at a message that may have failed to build: sends it and says what
/// the queue should do next. `failing_since` is when the message first failed
/// temporarily (now, if it never has): retries give up a bounded time after it.
pub async fn attempt(
    mailer: &Mailer,
    message: anyhow::Result<Email>,
    earlier_attempts: i32,
    failing_since: Option<NaiveDateTime>,
    policy: &RetryPolicy,
) -> Outcome {
    let message = match message {
        Ok(message) => message,
        Err(e) => return Outcome::Rejected(format!("could not build the message: {e:#}")),
    };
    let result = mailer.send(&message).await;
    let now = db::now();
    retry::outcome(
        result,
        earlier_attempts,
        failing_since.unwrap_or(now),
        policy,
        now,
    )
}
