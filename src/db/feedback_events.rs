//! The `feedback_events` table: bounces, complaints and unsubscribe requests that came
//! back after our mail left. The rules that write it are in `service::feedback`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::Conn;
use super::schema::{deliveries, feedback_events, subscribers};

/// An event to record.
pub struct NewEvent<'a> {
    pub subscriber_id: i64,
    pub digest_id: Option<i64>,
    pub kind: &'a str,
    pub detail: &'a str,
    pub source: &'a str,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut Conn, event: &NewEvent<'_>) -> anyhow::Result<()> {
    diesel::insert_into(feedback_events::table)
        .values((
            feedback_events::subscriber_id.eq(event.subscriber_id),
            feedback_events::digest_id.eq(event.digest_id),
            feedback_events::kind.eq(event.kind),
            feedback_events::detail.eq(event.detail),
            feedback_events::source.eq(event.source),
            feedback_events::created_at.eq(event.created_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// An event as the admin pages show it, with its reader's address.
#[derive(Debug, Clone, Queryable, Serialize)]
pub struct ShownEvent {
    pub id: i64,
    pub subscriber_id: i64,
    pub email: String,
    pub digest_id: Option<i64>,
    pub kind: String,
    pub detail: String,
    pub source: String,
    #[serde(serialize_with = "super::utc::serialize")]
    pub created_at: NaiveDateTime,
}

/// The events joined with their readers, selected as [`ShownEvent`].
macro_rules! shown {
    () => {
        feedback_events::table
            .inner_join(subscribers::table)
            .select((
                feedback_events::id,
                feedback_events::subscriber_id,
                subscribers::email,
                feedback_events::digest_id,
                feedback_events::kind,
                feedback_events::detail,
                feedback_events::source,
                feedback_events::created_at,
            ))
    };
}

/// The latest `limit` events, newest first.
pub fn recent(conn: &mut Conn, limit: i64) -> anyhow::Result<Vec<ShownEvent>> {
    Ok(shown!()
        .order(feedback_events::id.desc())
        .limit(limit)
        .load(conn)?)
}

/// The latest `limit` events about one digest, newest first.
pub fn for_digest(conn: &mut Conn, digest_id: i64, limit: i64) -> anyhow::Result<Vec<ShownEvent>> {
    Ok(shown!()
        .filter(feedback_events::digest_id.eq(digest_id))
        .order(feedback_events::id.desc())
        .limit(limit)
        .load(conn)?)
}

/// Whether each of the reader's last `digests` digests (those with a delivery to them)
/// brought a soft bounce back, and there were that many: a run of soft bounces.
pub fn soft_bounced_on_last_digests(
    conn: &mut Conn,
    subscriber_id: i64,
    digests: i64,
) -> anyhow::Result<bool> {
    let last: Vec<i64> = deliveries::table
        .filter(deliveries::subscriber_id.eq(subscriber_id))
        .select(deliveries::digest_id)
        .order(deliveries::digest_id.desc())
        .limit(digests)
        .load(conn)?;
    if (last.len() as i64) < digests {
        return Ok(false);
    }
    let bounced: Vec<Option<i64>> = feedback_events::table
        .filter(feedback_events::subscriber_id.eq(subscriber_id))
        .filter(feedback_events::digest_id.eq_any(&last))
        .filter(feedback_events::kind.eq("soft_bounce"))
        .select(feedback_events::digest_id)
        .distinct()
        .load(conn)?;
    Ok(bounced.len() as i64 == digests)
}
