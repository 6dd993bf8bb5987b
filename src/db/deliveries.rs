//! The `deliveries` table: one row per (digest, reader), claimed by workers in batches
//! under a lease and settled in batches.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use std::collections::BTreeMap;

use super::digests::{self, Settled};
use super::schema::{deliveries, subscribers, subscriptions};
use super::{AnyConnection, Conn, Outcome};
use crate::domain::{DeliveryStatus, SubscriberStatus, SubscriptionStatus};
use crate::mail::outbox::Lease;

/// A delivery a worker holds, with what it needs to address the message.
#[derive(Debug, Clone, Queryable)]
pub struct ClaimedDelivery {
    pub digest_id: i64,
    pub subscriber_id: i64,
    pub attempts: i32,
    /// When it first failed temporarily, if it has.
    pub failing_since: Option<NaiveDateTime>,
    pub email: String,
    pub name: Option<String>,
    pub subscriber_status: String,
    /// The reader's run of hard bounces when the delivery was claimed.
    pub hard_bounces: i32,
    /// The reader's language (`None`: DEFAULT_LANGUAGE), read with the rest of the
    /// claim rather than asked for message by message.
    pub language: Option<String>,
}

impl ClaimedDelivery {
    pub fn key(&self) -> DeliveryKey {
        DeliveryKey {
            digest_id: self.digest_id,
            subscriber_id: self.subscriber_id,
            bouncing: self.hard_bounces > 0,
        }
    }
}

/// Names a claimed delivery, with what recording its outcome needs to know of the
/// reader: whether a delivery would end a run of hard bounces. Most readers have none,
/// and their deliveries are recorded without touching `subscribers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryKey {
    pub digest_id: i64,
    pub subscriber_id: i64,
    /// The reader had a run of hard bounces when the delivery was claimed.
    pub bouncing: bool,
}

/// One delivery per confirmed reader of the digest's newsletter with an id in
/// `after + 1 ..= through` (one chunk of a digest's list); returns how many were
/// queued.
pub fn enqueue_range(
    conn: &mut Conn,
    digest_id: i64,
    after: i64,
    through: i64,
    now: NaiveDateTime,
) -> anyhow::Result<usize> {
    let newsletter_id: i64 = super::schema::digests::table
        .find(digest_id)
        .select(super::schema::digests::newsletter_id)
        .first(conn)?;
    let confirmed =
        super::subscriptions::confirmed_between!(newsletter_id, after, through).select((
            diesel::dsl::sql::<diesel::sql_types::BigInt>("")
                .bind::<diesel::sql_types::BigInt, _>(digest_id),
            subscriptions::subscriber_id,
            diesel::dsl::sql::<diesel::sql_types::Text>("'pending'"),
            diesel::dsl::sql::<diesel::sql_types::Timestamp>("")
                .bind::<diesel::sql_types::Timestamp, _>(now),
        ));
    Ok(diesel::insert_into(deliveries::table)
        .values(confirmed)
        .into_columns((
            deliveries::digest_id,
            deliveries::subscriber_id,
            deliveries::status,
            deliveries::next_attempt_at,
        ))
        .execute(conn)?)
}

/// Brings the planner's statistics of `deliveries` up to date. Both engines plan by
/// statistics they do not keep up to date by themselves: without them a digest's fresh
/// thousands of deliveries look like a handful, and a record finds its rows through the
/// (digest, status) index, scanning every pending delivery of the digest (15 ms a row
/// for 100,000 readers, not 0.05 ms). SQLite samples (`analysis_limit`), so this stays a
/// few milliseconds however long the list.
pub fn analyze(conn: &mut Conn) -> anyhow::Result<()> {
    conn.batch_execute("ANALYZE deliveries")?;
    Ok(())
}

/// How many readers a worker that runs short of deliveries queues at once (at least
/// a batch): about 7 ms holding the write lock on a slow machine, so sign-ups waiting
/// for it wait little, and few enough chunks that their fixed cost is a small part.
pub const TOP_UP_READERS: i64 = 1_000;

/// The most time one claim spends queueing readers (several chunks when readers of the
/// list left, and a chunk queues fewer than it covers).
const TOP_UP_STEP: std::time::Duration = std::time::Duration::from_millis(8);

/// Claims up to `limit` due deliveries for `worker` until `lease_until`. Deliveries to
/// readers who are no longer confirmed are settled as skipped instead. When fewer than
/// `limit` are due, the next readers of the digests going out are queued first
/// ([`top_up`]): a digest's list is queued as it is sent, not all at once.
pub fn claim_due(
    conn: &mut Conn,
    lease: &Lease,
    limit: i64,
) -> anyhow::Result<Vec<ClaimedDelivery>> {
    let now = lease.now;
    crate::db::write_transaction(conn, |conn| {
        let mut due = load_due(conn, now, limit)?;
        if i64::try_from(due.len())? < limit && top_up(conn, limit.max(TOP_UP_READERS), now)? > 0 {
            due = load_due(conn, now, limit)?;
        }
        let (wanted, mut unwanted): (Vec<_>, Vec<_>) = due
            .into_iter()
            .partition(|d| d.subscriber_status == SubscriberStatus::Confirmed.as_str());
        // A reader who left the digest's newsletter since it was queued gets it no more:
        // per digest in the batch, one look by the subscriptions' key at its readers.
        let mut on_list = std::collections::HashSet::new();
        for (digest_id, readers) in by_digest(&wanted) {
            let Some(newsletter_id) = digests::newsletter_of(conn, digest_id)? else {
                continue;
            };
            let confirmed: Vec<i64> = subscriptions::table
                .filter(subscriptions::newsletter_id.eq(newsletter_id))
                .filter(subscriptions::subscriber_id.eq_any(&readers))
                .filter(subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()))
                .select(subscriptions::subscriber_id)
                .load(conn)?;
            on_list.extend(confirmed.into_iter().map(|reader| (digest_id, reader)));
        }
        let (wanted, left): (Vec<_>, Vec<_>) = wanted
            .into_iter()
            .partition(|d| on_list.contains(&(d.digest_id, d.subscriber_id)));
        unwanted.extend(left);
        // One statement per digest in the batch (usually one), not one per row.
        for (digest_id, readers) in by_digest(&wanted) {
            diesel::update(
                deliveries::table
                    .filter(deliveries::digest_id.eq(digest_id))
                    .filter(deliveries::subscriber_id.eq_any(readers)),
            )
            .set((
                deliveries::locked_by.eq(&lease.worker),
                deliveries::locked_until.eq(lease.until),
            ))
            .execute(conn)?;
        }
        for (digest_id, readers) in by_digest(&unwanted) {
            let skipped = diesel::update(
                deliveries::table
                    .filter(deliveries::digest_id.eq(digest_id))
                    .filter(deliveries::subscriber_id.eq_any(readers)),
            )
            .set((
                deliveries::status.eq(DeliveryStatus::Skipped.as_str()),
                deliveries::locked_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
            let change = Settled {
                skipped: i32::try_from(skipped)?,
                ..Settled::default()
            };
            digests::count_settled(conn, digest_id, change)?;
        }
        Ok(wanted)
    })
}

/// Up to `limit` due deliveries no worker holds, oldest first, with their readers. One
/// query for both engines; on PostgreSQL it also locks what it finds and passes over
/// rows another instance is claiming this moment (SKIP LOCKED), so instances claiming
/// at once take different deliveries.
fn load_due(
    conn: &mut Conn,
    now: NaiveDateTime,
    limit: i64,
) -> anyhow::Result<Vec<ClaimedDelivery>> {
    macro_rules! due {
        () => {
            deliveries::table
                .inner_join(subscribers::table)
                .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
                .filter(deliveries::next_attempt_at.le(now))
                .filter(
                    deliveries::locked_until
                        .is_null()
                        .or(deliveries::locked_until.lt(now)),
                )
                .order((
                    deliveries::next_attempt_at.asc(),
                    deliveries::digest_id.asc(),
                    deliveries::subscriber_id.asc(),
                ))
                .limit(limit)
                .select((
                    deliveries::digest_id,
                    deliveries::subscriber_id,
                    deliveries::attempts,
                    deliveries::failing_since,
                    subscribers::email,
                    subscribers::name,
                    subscribers::status,
                    subscribers::hard_bounces,
                    subscribers::language,
                ))
        };
    }
    Ok(match conn {
        AnyConnection::Sqlite(c) => due!().load(c)?,
        AnyConnection::Pg(c) => due!().for_update().skip_locked().load(c)?,
    })
}

/// Queues about `wanted` more readers of the rendered digests whose lists are not yet
/// wholly queued, oldest digest first, within [`TOP_UP_STEP`]; returns how many
/// deliveries it queued. Run it in the caller's write transaction.
fn top_up(conn: &mut Conn, wanted: i64, now: NaiveDateTime) -> anyhow::Result<usize> {
    let began = std::time::Instant::now();
    let wanted = usize::try_from(wanted)?;
    let mut queued = 0;
    for id in digests::queueing(conn)? {
        loop {
            let left = i64::try_from(wanted - queued)?;
            let (chunk, done) = queue_next(conn, id, left, now)?;
            queued += chunk;
            if queued >= wanted || began.elapsed() >= TOP_UP_STEP {
                return Ok(queued);
            }
            if done {
                break;
            }
        }
    }
    Ok(queued)
}

/// Queues the next `readers` confirmed readers of digest `id` (fewer, should some have
/// left since they were counted): one range of the subscriptions' index, one insert,
/// the cursor and the counts moved on in the same transaction, so no reader is queued
/// twice or passed over, whoever queues the next chunk. Returns how many were queued
/// and whether the list is now wholly queued.
fn queue_next(
    conn: &mut Conn,
    id: i64,
    readers: i64,
    now: NaiveDateTime,
) -> anyhow::Result<(usize, bool)> {
    let Some(at) = digests::queue_position(conn, id)? else {
        return Ok((0, true));
    };
    let (cursor, end) = (at.cursor, at.end);
    let through =
        super::subscriptions::nth_confirmed_after(conn, at.newsletter_id, cursor, readers)?
            .map_or(end, |reader| reader.min(end));
    let queued = enqueue_range(conn, id, cursor, through, now)?;
    digests::advance_queue(conn, id, &at, through, queued)?;
    let done = through == end;
    // Fresh statistics as a digest's deliveries begin, each time the readers queued
    // (by id) double, and at the end: a dozen times for a million, a few milliseconds
    // each (see [`analyze`]). Statistics of the first thousand rows left the planner
    // answering "anything pending?" by walking every delivery of the digest, a
    // little slower at every batch.
    if cursor == 0 || done || through.checked_ilog2() > cursor.checked_ilog2() {
        analyze(conn)?;
    }
    if done {
        // No reader left to queue (all left meanwhile, or all were sent already).
        digests::finish_completed(conn, &[id], now)?;
    }
    Ok((queued, done))
}

/// The readers of `claimed`, by digest, in digest order.
fn by_digest(claimed: &[ClaimedDelivery]) -> BTreeMap<i64, Vec<i64>> {
    let mut readers: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for d in claimed {
        readers
            .entry(d.digest_id)
            .or_default()
            .push(d.subscriber_id);
    }
    readers
}

/// Extends the lease on everything `worker` holds (a long batch stays ours).
pub fn renew_leases(
    conn: &mut Conn,
    worker: &str,
    lease_until: NaiveDateTime,
) -> anyhow::Result<()> {
    diesel::update(
        deliveries::table
            .filter(deliveries::locked_by.eq(worker))
            .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()))
            .filter(deliveries::locked_until.is_not_null()),
    )
    .set(deliveries::locked_until.eq(lease_until))
    .execute(conn)?;
    Ok(())
}

/// Lets go of everything `worker` holds, on a clean shutdown.
pub fn release(conn: &mut Conn, worker: &str) -> anyhow::Result<()> {
    diesel::update(deliveries::table.filter(deliveries::locked_by.eq(worker)))
        .set((
            deliveries::locked_by.eq(None::<String>),
            deliveries::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// What recording a chunk of outcomes wrote.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Deliveries written.
    pub written: usize,
    /// Readers with a run of hard bounces (when claimed) whose message the server took.
    pub delivered_to_bouncing: Vec<i64>,
    /// Readers whose mailbox the server refused for good (a hard bounce).
    pub bounced_at: Vec<i64>,
}

/// Records a chunk of `worker`'s outcomes and the digests' running counts; run it in
/// the caller's write transaction. An outcome for a row `worker` no longer holds (its
/// lease lapsed and another worker took it) is not written over the other worker's,
/// and is left out of what this returns.
pub fn record_outcomes(
    conn: &mut Conn,
    worker: &str,
    outcomes: &[(DeliveryKey, Outcome)],
    now: NaiveDateTime,
) -> anyhow::Result<Recorded> {
    let mut settled: BTreeMap<i64, Settled> = BTreeMap::new();
    let mut recorded = Recorded::default();
    // Messages the server took, most of any chunk: one statement per digest, not one
    // per message (each a round trip to a PostgreSQL server).
    let mut sent: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut bouncing = std::collections::HashSet::new();
    for (key, outcome) in outcomes {
        if matches!(outcome, Outcome::Sent) {
            sent.entry(key.digest_id)
                .or_default()
                .push(key.subscriber_id);
            if key.bouncing {
                bouncing.insert(key.subscriber_id);
            }
        }
    }
    for (digest_id, readers) in &sent {
        let written: Vec<i64> = diesel::update(
            deliveries::table
                .filter(deliveries::digest_id.eq(digest_id))
                .filter(deliveries::subscriber_id.eq_any(readers))
                .filter(deliveries::locked_by.eq(worker))
                .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str())),
        )
        .set((
            deliveries::status.eq(DeliveryStatus::Sent.as_str()),
            deliveries::attempts.eq(deliveries::attempts + 1),
            deliveries::sent_at.eq(now),
            deliveries::locked_by.eq(None::<String>),
            deliveries::locked_until.eq(None::<NaiveDateTime>),
        ))
        .returning(deliveries::subscriber_id)
        .get_results(conn)?;
        settled.entry(*digest_id).or_default().sent += i32::try_from(written.len())?;
        recorded.written += written.len();
        recorded.delivered_to_bouncing.extend(
            written
                .into_iter()
                .filter(|reader| bouncing.contains(reader)),
        );
    }
    let unsent = outcomes
        .iter()
        .filter(|(_, outcome)| !matches!(outcome, Outcome::Sent));
    for (key, outcome) in unsent {
        let (digest_id, subscriber_id) = (&key.digest_id, &key.subscriber_id);
        let row = deliveries::table
            .find((digest_id, subscriber_id))
            .filter(deliveries::locked_by.eq(worker))
            .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str()));
        let attempts = deliveries::attempts + 1;
        let unlocked = (
            deliveries::locked_by.eq(None::<String>),
            deliveries::locked_until.eq(None::<NaiveDateTime>),
        );
        // One mapping from outcome to status serves the row and the digest's counts.
        let status = status_after(outcome);
        let written = match outcome {
            Outcome::Sent => unreachable!("recorded above"),
            Outcome::RetryAt(at, error) => {
                let written = diesel::update(row)
                    .set((
                        deliveries::attempts.eq(attempts),
                        deliveries::next_attempt_at.eq(at),
                        deliveries::last_error.eq(error),
                        unlocked,
                    ))
                    .execute(conn)?;
                if written == 1 {
                    diesel::update(
                        deliveries::table
                            .find((digest_id, subscriber_id))
                            .filter(deliveries::failing_since.is_null()),
                    )
                    .set(deliveries::failing_since.eq(now))
                    .execute(conn)?;
                }
                written
            }
            Outcome::Rejected(error) | Outcome::Bounced(error) | Outcome::GaveUp(error) => {
                let written = diesel::update(row)
                    .set((
                        deliveries::status.eq(status.as_str()),
                        deliveries::attempts.eq(attempts),
                        deliveries::last_error.eq(error),
                        unlocked,
                    ))
                    .execute(conn)?;
                if written == 1 && matches!(outcome, Outcome::Bounced(_)) {
                    recorded.bounced_at.push(*subscriber_id);
                }
                written
            }
            Outcome::Cancelled => diesel::update(row)
                .set((deliveries::status.eq(status.as_str()), unlocked))
                .execute(conn)?,
        };
        if written == 1 {
            settled
                .entry(*digest_id)
                .or_default()
                .add(Settled::one(status));
        }
        recorded.written += written;
    }
    // In digest order, so instances recording at once lock the counters in one order.
    for (digest_id, change) in settled {
        digests::count_settled(conn, digest_id, change)?;
    }
    Ok(recorded)
}

/// On PostgreSQL, records a chunk of messages the server took, all of one digest and
/// none to a reader with a run of hard bounces (nearly every chunk of a send), with the
/// digest's count, in one statement: one round trip to the server instead of four
/// (`BEGIN`, the rows, the count, `COMMIT`), committed without waiting for the disk like
/// every record ([`super::write_transaction`]). It writes what [`record_outcomes`]
/// writes for such a chunk. `None`, having done nothing, for any other chunk, and on
/// SQLite, where a statement costs no round trip.
pub fn record_plain_sends(
    conn: &mut Conn,
    worker: &str,
    outcomes: &[(DeliveryKey, Outcome)],
    now: NaiveDateTime,
) -> anyhow::Result<Option<usize>> {
    let AnyConnection::Pg(pg) = conn else {
        return Ok(None);
    };
    let Some((first, _)) = outcomes.first() else {
        return Ok(None);
    };
    let plain = outcomes.iter().all(|(key, outcome)| {
        matches!(outcome, Outcome::Sent) && key.digest_id == first.digest_id && !key.bouncing
    });
    if !plain {
        return Ok(None);
    }
    let readers: Vec<i64> = outcomes.iter().map(|(key, _)| key.subscriber_id).collect();
    let written: i64 = RecordPlainSends {
        digest_id: first.digest_id,
        readers: &readers,
        now,
        worker,
    }
    .get_result(pg)?;
    Ok(Some(usize::try_from(written)?))
}

/// The statement of [`record_plain_sends`], a diesel query of its own (neither diesel's
/// `UPDATE` nor `sql_query` can say it and stay a prepared statement), so each
/// connection parses and plans it once, not at every record.
struct RecordPlainSends<'a> {
    digest_id: i64,
    readers: &'a [i64],
    now: NaiveDateTime,
    worker: &'a str,
}

impl diesel::query_builder::QueryId for RecordPlainSends<'_> {
    type QueryId = RecordPlainSends<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for RecordPlainSends<'_> {
    type SqlType = diesel::sql_types::BigInt;
}

impl RunQueryDsl<diesel::PgConnection> for RecordPlainSends<'_> {}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for RecordPlainSends<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Text, Timestamp};
        // Unreferenced, a plain CTE would not run: `quick` is joined below.
        out.push_sql(
            "WITH quick AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)), \
             sent AS (UPDATE deliveries SET status = ",
        );
        out.push_bind_param::<Text, _>(DeliveryStatus::Sent.as_str())?;
        out.push_sql(", attempts = attempts + 1, sent_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", locked_by = NULL, locked_until = NULL WHERE digest_id = ");
        out.push_bind_param::<BigInt, _>(&self.digest_id)?;
        out.push_sql(" AND subscriber_id = ANY(");
        out.push_bind_param::<Array<BigInt>, _>(self.readers)?;
        out.push_sql(") AND locked_by = ");
        out.push_bind_param::<Text, _>(self.worker)?;
        out.push_sql(" AND status = ");
        out.push_bind_param::<Text, _>(DeliveryStatus::Pending.as_str())?;
        out.push_sql(
            " RETURNING 1), \
             counted AS (UPDATE digests SET sent_count = sent_count + (SELECT count(*) FROM sent) \
             WHERE id = ",
        );
        out.push_bind_param::<BigInt, _>(&self.digest_id)?;
        out.push_sql(") SELECT count(*) FROM sent, quick");
        Ok(())
    }
}

/// Where a delivery stands after an attempt that ended with `outcome`.
fn status_after(outcome: &Outcome) -> DeliveryStatus {
    match outcome {
        Outcome::Sent => DeliveryStatus::Sent,
        Outcome::RetryAt(..) => DeliveryStatus::Pending,
        Outcome::Rejected(_) | Outcome::Bounced(_) | Outcome::GaveUp(_) => DeliveryStatus::Failed,
        Outcome::Cancelled => DeliveryStatus::Skipped,
    }
}

/// Puts a digest's failed deliveries back in the queue (the admin's "retry failed").
/// Run it inside the caller's write transaction, with the digest reopened.
pub fn retry_failed(conn: &mut Conn, digest_id: i64, now: NaiveDateTime) -> anyhow::Result<usize> {
    conn.transaction(|conn| {
        let requeued = diesel::update(
            deliveries::table
                .filter(deliveries::digest_id.eq(digest_id))
                .filter(deliveries::status.eq(DeliveryStatus::Failed.as_str())),
        )
        .set((
            deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            deliveries::next_attempt_at.eq(now),
            deliveries::attempts.eq(0),
            deliveries::failing_since.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
        let change = Settled {
            failed: i32::try_from(requeued)?,
            ..Settled::default()
        };
        digests::count_settled(conn, digest_id, change.negated())?;
        Ok(requeued)
    })
}

/// Takes a reader's deliveries out of their digests' counts, before the reader is
/// erased (the rows go with them).
pub fn uncount_for_subscriber(conn: &mut Conn, subscriber_id: i64) -> anyhow::Result<()> {
    let rows: Vec<(i64, String)> = deliveries::table
        .filter(deliveries::subscriber_id.eq(subscriber_id))
        .select((deliveries::digest_id, deliveries::status))
        .load(conn)?;
    for (digest_id, status) in rows {
        let mut change = Settled::one(status.parse()?);
        change.recipients = 1;
        digests::count_settled(conn, digest_id, change.negated())?;
    }
    Ok(())
}
