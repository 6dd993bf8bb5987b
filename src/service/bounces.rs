//! What a digest delivery's outcome does to its reader: a message the server took ends
//! the reader's run of hard bounces; a mailbox-blaming 5xx adds one, and at
//! [`HARD_BOUNCES_BEFORE_BOUNCED`] in a row the reader is marked bounced and no longer
//! mailed.

use chrono::NaiveDateTime;

use crate::db::deliveries::{self, DeliveryKey};
use crate::db::{self, Conn, Outcome, subscribers};
use crate::mail::outbox::Recorded;

/// Hard bounces in a row after which a reader is marked bounced and skipped.
pub const HARD_BOUNCES_BEFORE_BOUNCED: i32 = 2;

/// Records a chunk of `worker`'s delivery outcomes, and what they mean for their
/// readers, in one transaction. Says how many deliveries were written (an outcome for a
/// row whose lease lapsed and that another worker took is left to it, and does not
/// count against the reader either) and how many readers were marked bounced.
pub fn record_deliveries(
    conn: &mut Conn,
    worker: &str,
    outcomes: &[(DeliveryKey, Outcome)],
    now: NaiveDateTime,
) -> anyhow::Result<Recorded> {
    if let Some(written) = deliveries::record_plain_sends(conn, worker, outcomes, now)? {
        return Ok(Recorded {
            written,
            readers_bounced: 0,
        });
    }
    db::write_transaction(conn, |conn| {
        let recorded = deliveries::record_outcomes(conn, worker, outcomes, now)?;
        // Read at claim time: a bounce from another digest recorded between this
        // delivery's claim and its record is not undone by it (the two crossed).
        subscribers::clear_hard_bounces(conn, &recorded.delivered_to_bouncing)?;
        let mut readers_bounced = 0;
        for &reader in &recorded.bounced_at {
            if hard_bounce(conn, reader, now)? {
                readers_bounced += 1;
            }
        }
        Ok(Recorded {
            written: recorded.written,
            readers_bounced,
        })
    })
}

/// Counts one hard bounce against a reader, and marks them bounced at the limit (which
/// also ends their open confirmation links); `true` when this marked them.
fn hard_bounce(conn: &mut Conn, reader: i64, now: NaiveDateTime) -> anyhow::Result<bool> {
    if subscribers::add_hard_bounce(conn, reader, now)? >= HARD_BOUNCES_BEFORE_BOUNCED {
        return mark_bounced(conn, reader, now);
    }
    Ok(false)
}

/// Marks a confirmed reader bounced, no longer mailed, and ends their open confirmation
/// links; `true` when this marked them (`false`: not confirmed). Run it in the caller's
/// write transaction. A bounce reported after the mail left (`service::feedback`) comes
/// here too.
pub fn mark_bounced(conn: &mut Conn, reader: i64, now: NaiveDateTime) -> anyhow::Result<bool> {
    if subscribers::mark_bounced(conn, reader)? {
        subscribers::end_open_tokens(conn, reader, now)?;
        return Ok(true);
    }
    Ok(false)
}
