//! Deleting what has served its purpose, a small batch per call: the delivery rows of
//! digests finished long ago (their counts stay on the digest), dead confirmation
//! tokens, finished one-off mail and expired admin sessions. Each function deletes at
//! most `limit` rows in one short write transaction and says how many it deleted; the
//! caller loops, so no writer waits long behind a purge.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{admin_sessions, confirmation_tokens, deliveries, digests, outgoing_emails};
use super::{Conn, write_transaction};
use crate::domain::MailStatus;

/// The digests finished (every delivery settled) before `finished_before`, oldest
/// first. Digests are few (one a day), so this reads them all.
pub fn finished_digests(
    conn: &mut Conn,
    finished_before: NaiveDateTime,
) -> anyhow::Result<Vec<i64>> {
    Ok(digests::table
        .filter(digests::status.eq("sent"))
        .filter(digests::completed_at.lt(finished_before))
        .select(digests::id)
        .order(digests::id.asc())
        .load(conn)?)
}

/// Deletes up to `limit` settled delivery rows of digest `digest_id`, found by the
/// primary key, while the digest is still finished before `finished_before` (an admin's
/// "retry failed" may have reopened it since the purge listed it; pending rows are never
/// deleted). Its sent, failed and skipped counts are on the digest row, which stays, so
/// the archive and the admin's figures do not change.
pub fn delete_deliveries_of(
    conn: &mut Conn,
    digest_id: i64,
    finished_before: NaiveDateTime,
    limit: i64,
) -> anyhow::Result<usize> {
    let pending = crate::domain::DeliveryStatus::Pending.as_str();
    write_transaction(conn, |conn| {
        let still_finished: bool = diesel::select(diesel::dsl::exists(
            digests::table
                .find(digest_id)
                .filter(digests::status.eq("sent"))
                .filter(digests::completed_at.lt(finished_before)),
        ))
        .get_result(conn)?;
        if !still_finished {
            return Ok(0);
        }
        let readers: Vec<i64> = deliveries::table
            .filter(deliveries::digest_id.eq(digest_id))
            .filter(deliveries::status.ne(pending))
            .select(deliveries::subscriber_id)
            .order(deliveries::subscriber_id.asc())
            .limit(limit)
            .load(conn)?;
        if readers.is_empty() {
            return Ok(0);
        }
        Ok(diesel::delete(
            deliveries::table
                .filter(deliveries::digest_id.eq(digest_id))
                .filter(deliveries::subscriber_id.eq_any(&readers))
                .filter(deliveries::status.ne(pending)),
        )
        .execute(conn)?)
    })
}

/// Deletes up to `limit` confirmation tokens whose link has expired, used or not. A
/// used link that has not yet expired stays, so a second click on it still says
/// "already confirmed" rather than "unknown link".
pub fn delete_dead_tokens(
    conn: &mut Conn,
    now: NaiveDateTime,
    limit: i64,
) -> anyhow::Result<usize> {
    write_transaction(conn, |conn| {
        let dead: Vec<String> = confirmation_tokens::table
            .filter(confirmation_tokens::expires_at.le(now))
            .select(confirmation_tokens::token_hash)
            .limit(limit)
            .load(conn)?;
        Ok(diesel::delete(
            confirmation_tokens::table.filter(confirmation_tokens::token_hash.eq_any(&dead)),
        )
        .execute(conn)?)
    })
}

/// Deletes up to `limit` one-off mails that were settled (sent, failed or cancelled)
/// and asked for before `created_before`. Queued ones stay, whatever their age.
pub fn delete_finished_mail(
    conn: &mut Conn,
    created_before: NaiveDateTime,
    limit: i64,
) -> anyhow::Result<usize> {
    let finished = [
        MailStatus::Sent.as_str(),
        MailStatus::Failed.as_str(),
        MailStatus::Cancelled.as_str(),
    ];
    write_transaction(conn, |conn| {
        let old: Vec<i64> = outgoing_emails::table
            .filter(outgoing_emails::status.eq_any(finished))
            .filter(outgoing_emails::created_at.lt(created_before))
            .select(outgoing_emails::id)
            .limit(limit)
            .load(conn)?;
        Ok(
            diesel::delete(outgoing_emails::table.filter(outgoing_emails::id.eq_any(&old)))
                .execute(conn)?,
        )
    })
}

/// Deletes up to `limit` admin sessions that have expired.
pub fn delete_expired_sessions(
    conn: &mut Conn,
    now: NaiveDateTime,
    limit: i64,
) -> anyhow::Result<usize> {
    write_transaction(conn, |conn| {
        let expired: Vec<String> = admin_sessions::table
            .filter(admin_sessions::expires_at.le(now))
            .select(admin_sessions::id_hash)
            .limit(limit)
            .load(conn)?;
        Ok(
            diesel::delete(admin_sessions::table.filter(admin_sessions::id_hash.eq_any(&expired)))
                .execute(conn)?,
        )
    })
}
