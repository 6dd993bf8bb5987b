//! The `outgoing_emails` table: a durable queue of one-off mail (confirmations).
//!
//! Rows are claimed in batches under a lease the worker renews while it works: a worker
//! that dies mid-send leaves rows whose lease lapses, and the next claim picks them up
//! again.

use chrono::NaiveDateTime;

use crate::i18n::Language;
use diesel::prelude::*;

use super::schema::outgoing_emails;
use super::{AnyConnection, Conn, Outcome};
use crate::domain::MailStatus;
use crate::mail::outbox::Lease;

pub const KIND_CONFIRMATION: &str = "confirmation";
/// A link to the reader's preferences page, asked for on `GET /preferences`.
pub const KIND_PREFERENCES: &str = "preferences";

/// A queued message as claimed by a worker.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outgoing_emails)]
pub struct OutgoingEmail {
    pub id: i64,
    pub kind: String,
    pub subscriber_id: Option<i64>,
    pub recipient: String,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    /// The name typed with this request, given to the link it mails.
    pub subscriber_name: Option<String>,
    /// The language of the form this request came from (`en`, `ru`, `kk`), given to
    /// the link it mails.
    pub subscriber_language: Option<String>,
}

/// Queues a confirmation mail for `recipient`; `name` is the name typed with this
/// request, if any, and `language` the language of the form it came from.
pub fn enqueue_confirmation(
    conn: &mut Conn,
    subscriber_id: i64,
    recipient: &str,
    name: Option<&str>,
    language: Option<Language>,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    insert_typed(
        conn,
        KIND_CONFIRMATION,
        subscriber_id,
        recipient,
        (name, language),
        MailStatus::Queued,
        now,
    )
}

/// Queues a mail with a link to the preferences page of reader `subscriber_id`.
pub fn enqueue_preferences_link(
    conn: &mut Conn,
    subscriber_id: i64,
    recipient: &str,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    insert_mail(
        conn,
        KIND_PREFERENCES,
        subscriber_id,
        recipient,
        None,
        MailStatus::Queued,
        now,
    )
}

fn insert_confirmation(
    conn: &mut Conn,
    subscriber_id: i64,
    recipient: &str,
    name: Option<&str>,
    status: MailStatus,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    insert_mail(
        conn,
        KIND_CONFIRMATION,
        subscriber_id,
        recipient,
        name,
        status,
        now,
    )
}

fn insert_mail(
    conn: &mut Conn,
    kind: &str,
    subscriber_id: i64,
    recipient: &str,
    name: Option<&str>,
    status: MailStatus,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    insert_typed(
        conn,
        kind,
        subscriber_id,
        recipient,
        (name, None),
        status,
        now,
    )
}

/// [`insert_mail`] with what was typed with the request: the name and the form's
/// language.
fn insert_typed(
    conn: &mut Conn,
    kind: &str,
    subscriber_id: i64,
    recipient: &str,
    (name, language): (Option<&str>, Option<Language>),
    status: MailStatus,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    diesel::insert_into(outgoing_emails::table)
        .values((
            outgoing_emails::kind.eq(kind),
            outgoing_emails::subscriber_id.eq(subscriber_id),
            outgoing_emails::recipient.eq(recipient),
            outgoing_emails::subscriber_name.eq(name),
            outgoing_emails::subscriber_language.eq(language.map(Language::code)),
            outgoing_emails::status.eq(status.as_str()),
            outgoing_emails::next_attempt_at.eq(now),
            outgoing_emails::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// How many confirmations and preference links were asked for `recipient` since
/// `since`: queued, sent, failed, or not sent at all (already confirmed, or
/// unsubscribed before sending). CONFIRM_MAILS_PER_ADDRESS_PER_DAY caps them together.
pub fn confirmation_requests_since(
    conn: &mut Conn,
    recipient: &str,
    since: NaiveDateTime,
) -> anyhow::Result<i64> {
    Ok(outgoing_emails::table
        .filter(outgoing_emails::recipient.eq(recipient))
        // No filter on the kind: both kinds the table holds (its CHECK allows no other)
        // count. (An `IN (…)` list made diesel prepare this statement, which runs with
        // every sign-up, afresh on every call.)
        .filter(outgoing_emails::created_at.gt(since))
        .count()
        .get_result(conn)?)
}

/// Notes a confirmation request that needs no mail (the address is confirmed), so it
/// counts towards the address's daily limit.
pub fn record_unsent_confirmation(
    conn: &mut Conn,
    subscriber_id: i64,
    recipient: &str,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    insert_confirmation(
        conn,
        subscriber_id,
        recipient,
        None,
        MailStatus::Cancelled,
        now,
    )
}

pub fn cancel_queued_for(conn: &mut Conn, subscriber_id: i64) -> anyhow::Result<()> {
    diesel::update(
        outgoing_emails::table
            .filter(outgoing_emails::subscriber_id.eq(subscriber_id))
            .filter(outgoing_emails::status.eq(MailStatus::Queued.as_str())),
    )
    .set(outgoing_emails::status.eq(MailStatus::Cancelled.as_str()))
    .execute(conn)?;
    Ok(())
}

/// Claims up to `limit` messages that are due and not held by another worker under
/// `lease`. Run it in the caller's write transaction, which also mints the links the
/// messages carry.
pub fn claim_due(conn: &mut Conn, lease: &Lease, limit: i64) -> anyhow::Result<Vec<OutgoingEmail>> {
    let now = lease.now;
    conn.transaction(|conn| {
        // As deliveries are claimed: on PostgreSQL, what another instance is claiming
        // this moment is passed over.
        macro_rules! due {
            () => {
                outgoing_emails::table
                    .filter(outgoing_emails::status.eq(MailStatus::Queued.as_str()))
                    .filter(outgoing_emails::next_attempt_at.le(now))
                    .filter(
                        outgoing_emails::locked_until
                            .is_null()
                            .or(outgoing_emails::locked_until.lt(now)),
                    )
                    .order(outgoing_emails::next_attempt_at.asc())
                    .limit(limit)
                    .select(OutgoingEmail::as_select())
            };
        }
        let due: Vec<OutgoingEmail> = match conn {
            AnyConnection::Sqlite(c) => due!().load(c)?,
            AnyConnection::Pg(c) => due!().for_update().skip_locked().load(c)?,
        };
        let ids: Vec<i64> = due.iter().map(|e| e.id).collect();
        diesel::update(outgoing_emails::table.filter(outgoing_emails::id.eq_any(&ids)))
            .set((
                outgoing_emails::locked_by.eq(&lease.worker),
                outgoing_emails::locked_until.eq(lease.until),
            ))
            .execute(conn)?;
        Ok(due)
    })
}

/// Extends the lease on everything `worker` holds (a long batch stays ours).
pub fn renew_leases(
    conn: &mut Conn,
    worker: &str,
    lease_until: NaiveDateTime,
) -> anyhow::Result<()> {
    diesel::update(
        outgoing_emails::table
            .filter(outgoing_emails::locked_by.eq(worker))
            .filter(outgoing_emails::status.eq(MailStatus::Queued.as_str()))
            .filter(outgoing_emails::locked_until.is_not_null()),
    )
    .set(outgoing_emails::locked_until.eq(lease_until))
    .execute(conn)?;
    Ok(())
}

/// Lets go of everything `worker` holds, on a clean shutdown.
pub fn release(conn: &mut Conn, worker: &str) -> anyhow::Result<()> {
    diesel::update(outgoing_emails::table.filter(outgoing_emails::locked_by.eq(worker)))
        .set((
            outgoing_emails::locked_by.eq(None::<String>),
            outgoing_emails::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records the outcomes of a batch of `worker`'s attempts in one transaction; rows
/// another worker has taken over meanwhile are left to it. Returns how many rows were
/// written.
pub fn record_outcomes(
    conn: &mut Conn,
    worker: &str,
    outcomes: &[(i64, Outcome)],
    now: NaiveDateTime,
) -> anyhow::Result<usize> {
    crate::db::write_transaction(conn, |conn| {
        let mut written = 0;
        for (id, outcome) in outcomes {
            let row = outgoing_emails::table
                .find(id)
                .filter(outgoing_emails::locked_by.eq(worker));
            let attempts = outgoing_emails::attempts + 1;
            let unlocked = (
                outgoing_emails::locked_by.eq(None::<String>),
                outgoing_emails::locked_until.eq(None::<NaiveDateTime>),
            );
            let status = status_after(outcome).as_str();
            written += match outcome {
                Outcome::Sent => diesel::update(row)
                    .set((
                        outgoing_emails::status.eq(status),
                        outgoing_emails::attempts.eq(attempts),
                        outgoing_emails::sent_at.eq(now),
                        unlocked,
                    ))
                    .execute(conn)?,
                Outcome::RetryAt(at, error) => diesel::update(row)
                    .set((
                        outgoing_emails::attempts.eq(attempts),
                        outgoing_emails::next_attempt_at.eq(at),
                        outgoing_emails::last_error.eq(error),
                        unlocked,
                    ))
                    .execute(conn)?,
                Outcome::Rejected(error) | Outcome::Bounced(error) | Outcome::GaveUp(error) => {
                    diesel::update(row)
                        .set((
                            outgoing_emails::status.eq(status),
                            outgoing_emails::attempts.eq(attempts),
                            outgoing_emails::last_error.eq(error),
                            unlocked,
                        ))
                        .execute(conn)?
                }
                Outcome::Cancelled => diesel::update(row)
                    .set((outgoing_emails::status.eq(status), unlocked))
                    .execute(conn)?,
            };
        }
        Ok(written)
    })
}

/// Where a message stands after an attempt that ended with `outcome`.
fn status_after(outcome: &Outcome) -> MailStatus {
    match outcome {
        Outcome::Sent => MailStatus::Sent,
        Outcome::RetryAt(..) => MailStatus::Queued,
        Outcome::Rejected(_) | Outcome::Bounced(_) | Outcome::GaveUp(_) => MailStatus::Failed,
        Outcome::Cancelled => MailStatus::Cancelled,
    }
}
