//! Sending a claimed batch: attempts run side by side, and their outcomes are recorded
//! as they complete, while the next attempts go on. Used by both queues (confirmations
//! and digests).
//!
//! What a crash can double is what was sent but not yet recorded: the attempts in
//! flight (at most `concurrency`) and the outcomes waiting for, or in, a record. New
//! attempts start only while fewer than `concurrency` outcomes wait, so that is at most
//! 2 × `concurrency`.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use futures_util::StreamExt;

use crate::config::RetryPolicy;
use crate::db::{self, Outcome};
use crate::mail::{Email, Mailer, retry};
use crate::metrics::{Metrics, ReplyClass};

/// How long a completed outcome may wait for others to share its record.
const GATHER: Duration = Duration::from_millis(20);

/// Runs `send` over `items`, `concurrency` at a time, and hands the outcomes to
/// `record` as they complete, one record at a time. A record costs a round trip or
/// more to the database whatever its size, so it waits until half of `concurrency`
/// outcomes are in (or the first has waited [`GATHER`], or the batch is done), and
/// takes every outcome that completed meanwhile. Stops starting new items once
/// `keep_going` says no; items never started stay claimed by the caller (their lease
/// lapses or is released).
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
    let mut outcomes = std::pin::pin!(
        futures_util::stream::iter(items)
            .take_while(|_| std::future::ready(keep_going()))
            .map(send)
            .buffer_unordered(concurrency)
    );
    let mut waiting: Vec<(K, Outcome)> = Vec::new();
    // When the first of `waiting` came in.
    let mut gathering_since = Instant::now();
    // The record running, and how many outcomes it holds.
    let mut recording = std::pin::pin!(None);
    let mut recording_len = 0;
    let mut all_sent = false;
    loop {
        let gathered = waiting.len() >= concurrency.div_ceil(2)
            || all_sent
            || gathering_since.elapsed() >= GATHER;
        if recording.is_none() && !waiting.is_empty() && gathered {
            recording_len = waiting.len();
            recording.set(Some(record(std::mem::take(&mut waiting))));
        }
        if recording.is_none() && all_sent {
            return Ok(());
        }
        // Taking an outcome lets the stream start the next attempt.
        let room = !all_sent && waiting.len() + recording_len < concurrency;
        tokio::select! {
            done = async { recording.as_mut().as_pin_mut().expect("checked").await },
                if recording.is_some() => {
                done?;
                recording.set(None);
                recording_len = 0;
            }
            next = outcomes.next(), if room => match next {
                Some(outcome) => {
                    if waiting.is_empty() {
                        gathering_since = Instant::now();
                    }
                    waiting.push(outcome);
                }
                None => all_sent = true,
            },
            () = tokio::time::sleep_until((gathering_since + GATHER).into()),
                if recording.is_none() && !waiting.is_empty() => {}
        }
    }
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
    metrics: &Metrics,
    message: anyhow::Result<Email>,
    earlier_attempts: i32,
    failing_since: Option<NaiveDateTime>,
    policy: &RetryPolicy,
) -> Outcome {
    let message = match message {
        Ok(message) => message,
        Err(e) => return Outcome::Rejected(format!("could not build the message: {e:#}")),
    };
    let started = Instant::now();
    let result = mailer.send(&message).await;
    if mailer.uses_smtp() {
        let class = match &result {
            Ok(()) => Some(ReplyClass::Accepted),
            Err(e) => e.reply_class(),
        };
        if let Some(class) = class {
            metrics.smtp_send(class, started.elapsed());
        }
    }
    let now = db::now();
    retry::outcome(
        result,
        earlier_attempts,
        failing_since.unwrap_or(now),
        policy,
        now,
    )
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn sends_go_on_while_a_record_runs_and_never_more_than_twice_the_concurrency_wait_unrecorded()
     {
        const CONCURRENCY: usize = 4;
        let started = Cell::new(0usize);
        let recorded = Cell::new(0usize);
        let recording = Cell::new(false);
        let started_while_recording = Cell::new(0usize);
        let most_unrecorded = Cell::new(0usize);
        let mut records = Vec::new();
        send_and_record(
            (0..200u64).collect(),
            CONCURRENCY,
            || true,
            |n| {
                started.set(started.get() + 1);
                // Sent (or in flight, so possibly sent) and not yet recorded.
                most_unrecorded.set(most_unrecorded.get().max(started.get() - recorded.get()));
                if recording.get() {
                    started_while_recording.set(started_while_recording.get() + 1);
                }
                async move {
                    tokio::time::sleep(Duration::from_micros(200 + n % 7 * 150)).await;
                    (n, Outcome::Sent)
                }
            },
            |chunk| {
                records.push(chunk.iter().map(|(n, _)| *n).collect::<Vec<_>>());
                let (recorded, recording) = (&recorded, &recording);
                async move {
                    recording.set(true);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    recorded.set(recorded.get() + chunk.len());
                    recording.set(false);
                    Ok(())
                }
            },
        )
        .await
        .unwrap();
        let mut all: Vec<u64> = records.concat();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..200).collect::<Vec<_>>(),
            "each outcome recorded once"
        );
        assert!(
            most_unrecorded.get() <= 2 * CONCURRENCY,
            "{} sent but unrecorded at once",
            most_unrecorded.get()
        );
        assert!(
            started_while_recording.get() > 0,
            "sending waited for records"
        );
        assert!(
            records.len() < 200,
            "one record per outcome: {}",
            records.len()
        );
    }

    #[tokio::test]
    async fn a_failed_record_stops_the_batch_and_says_why() {
        let result = send_and_record(
            (0..50u64).collect(),
            4,
            || true,
            |n| async move { (n, Outcome::Sent) },
            |_| async { Err(anyhow::anyhow!("the database went away")) },
        )
        .await;
        assert!(format!("{:#}", result.unwrap_err()).contains("went away"));
    }
}
