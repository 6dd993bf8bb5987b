//! The `subscriptions` table: which reader is on which newsletter, each with its own
//! status. The rules that change them are in `service::subscriptions`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Conn;
use super::schema::{subscribers, subscriptions};
use crate::domain::{SubscriberStatus, SubscriptionStatus};

/// Puts the reader on `newsletter_id` as pending (chosen, not yet confirmed), whatever
/// their subscription was.
pub fn choose(
    conn: &mut Conn,
    subscriber_id: i64,
    newsletter_id: i64,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    set(
        conn,
        subscriber_id,
        newsletter_id,
        SubscriptionStatus::Pending,
        now,
    )
}

/// Puts a reader added in this same transaction on `newsletter_id` as `status` (pending
/// from a sign-up, confirmed from an import): a plain insert, where [`set`] must allow
/// for a subscription already there. (Diesel prepares an `ON CONFLICT` statement afresh
/// on every call; this one is prepared once per connection, which a flood of sign-ups
/// or a long import notices.)
pub fn add_for_new(
    conn: &mut Conn,
    subscriber_id: i64,
    newsletter_id: i64,
    status: SubscriptionStatus,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::newsletter_id.eq(newsletter_id),
            subscriptions::subscriber_id.eq(subscriber_id),
            subscriptions::status.eq(status.as_str()),
            subscriptions::created_at.eq(now),
            subscriptions::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets the reader's subscription to `newsletter_id` to `status`, creating it if needed.
pub fn set(
    conn: &mut Conn,
    subscriber_id: i64,
    newsletter_id: i64,
    status: SubscriptionStatus,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    let insert = diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::newsletter_id.eq(newsletter_id),
            subscriptions::subscriber_id.eq(subscriber_id),
            subscriptions::status.eq(status.as_str()),
            subscriptions::created_at.eq(now),
            subscriptions::updated_at.eq(now),
        ))
        .on_conflict((subscriptions::newsletter_id, subscriptions::subscriber_id))
        .do_update()
        .set((
            subscriptions::status.eq(status.as_str()),
            subscriptions::updated_at.eq(now),
        ));
    crate::on_engine!(conn, |c| insert.execute(c))?;
    Ok(())
}

/// Turns every pending subscription of the reader on (their confirmation).
pub fn confirm_pending(
    conn: &mut Conn,
    subscriber_id: i64,
    now: NaiveDateTime,
) -> anyhow::Result<usize> {
    Ok(diesel::update(
        subscriptions::table
            .filter(subscriptions::subscriber_id.eq(subscriber_id))
            .filter(subscriptions::status.eq(SubscriptionStatus::Pending.as_str())),
    )
    .set((
        subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()),
        subscriptions::updated_at.eq(now),
    ))
    .execute(conn)?)
}

/// Ends every subscription of the reader.
pub fn leave_all(conn: &mut Conn, subscriber_id: i64, now: NaiveDateTime) -> anyhow::Result<()> {
    diesel::update(
        subscriptions::table
            .filter(subscriptions::subscriber_id.eq(subscriber_id))
            .filter(subscriptions::status.ne(SubscriptionStatus::Unsubscribed.as_str())),
    )
    .set((
        subscriptions::status.eq(SubscriptionStatus::Unsubscribed.as_str()),
        subscriptions::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// The reader's subscriptions: (newsletter id, status), in newsletter order.
pub fn of_subscriber(conn: &mut Conn, subscriber_id: i64) -> anyhow::Result<Vec<(i64, String)>> {
    Ok(subscriptions::table
        .filter(subscriptions::subscriber_id.eq(subscriber_id))
        .order(subscriptions::newsletter_id.asc())
        .select((subscriptions::newsletter_id, subscriptions::status))
        .load(conn)?)
}

/// Whether any confirmed reader is on `newsletter_id` (an indexed probe, not a count).
pub fn any_confirmed(conn: &mut Conn, newsletter_id: i64) -> anyhow::Result<bool> {
    let first: Option<i64> = subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions::newsletter_id.eq(newsletter_id))
        .filter(subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()))
        .filter(subscribers::status.eq(SubscriberStatus::Confirmed.as_str()))
        .select(subscriptions::subscriber_id)
        .first(conn)
        .optional()?;
    Ok(first.is_some())
}

/// How many confirmed readers `newsletter_id` goes to (what the send page shows).
pub fn confirmed_count(conn: &mut Conn, newsletter_id: i64) -> anyhow::Result<i64> {
    Ok(subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions::newsletter_id.eq(newsletter_id))
        .filter(subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()))
        .filter(subscribers::status.eq(SubscriberStatus::Confirmed.as_str()))
        .count()
        .get_result(conn)?)
}

/// The confirmed readers of newsletter `$newsletter_id` with ids in
/// `$after + 1 ..= $through`, as subscriptions joined to their readers: the part of a
/// digest's list one chunk covers (a range of the `subscriptions_queue` index, each
/// reader checked by its key). One definition serves counting the list ahead and
/// queueing it, so the two always mean the same readers.
macro_rules! confirmed_between {
    ($newsletter_id:expr, $after:expr, $through:expr) => {{
        use $crate::db::schema::{subscribers, subscriptions};
        use $crate::domain::{SubscriberStatus, SubscriptionStatus};
        subscriptions::table
            .inner_join(subscribers::table)
            .filter(subscriptions::newsletter_id.eq($newsletter_id))
            .filter(subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()))
            .filter(subscriptions::subscriber_id.gt($after))
            .filter(subscriptions::subscriber_id.le($through))
            .filter(subscribers::status.eq(SubscriberStatus::Confirmed.as_str()))
    }};
}
pub(crate) use confirmed_between;

/// How many confirmed readers of `newsletter_id` have ids in `after + 1 ..= through`
/// (the part of a digest's list still to be queued).
pub fn count_confirmed_between(
    conn: &mut Conn,
    newsletter_id: i64,
    after: i64,
    through: i64,
) -> anyhow::Result<i64> {
    Ok(confirmed_between!(newsletter_id, after, through)
        .count()
        .get_result(conn)?)
}

/// The id of the `n`th reader with a confirmed subscription to `newsletter_id` after
/// id `after`, in id order; `None` when fewer follow. One step along the
/// `subscriptions_queue` index, `n` entries long, however the newsletter's readers are
/// spread among everyone's ids.
pub fn nth_confirmed_after(
    conn: &mut Conn,
    newsletter_id: i64,
    after: i64,
    n: i64,
) -> anyhow::Result<Option<i64>> {
    Ok(subscriptions::table
        .filter(subscriptions::newsletter_id.eq(newsletter_id))
        .filter(subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()))
        .filter(subscriptions::subscriber_id.gt(after))
        .order(subscriptions::subscriber_id.asc())
        .offset(n.saturating_sub(1).max(0))
        .select(subscriptions::subscriber_id)
        .first(conn)
        .optional()?)
}

/// The newsletters the reader has chosen and not yet confirmed: (id, name) in id order.
pub fn pending_of(
    conn: &mut Conn,
    subscriber_id: i64,
) -> anyhow::Result<Vec<(i64, Option<String>)>> {
    use super::schema::newsletters;
    Ok(subscriptions::table
        .inner_join(newsletters::table)
        .filter(subscriptions::subscriber_id.eq(subscriber_id))
        .filter(subscriptions::status.eq(SubscriptionStatus::Pending.as_str()))
        .order(newsletters::id.asc())
        .select((newsletters::id, newsletters::name))
        .load(conn)?)
}

/// The names of the newsletters the reader receives (confirmed, not archived), in id
/// order (`None`: NEWSLETTER_NAME).
pub fn confirmed_names_of(
    conn: &mut Conn,
    subscriber_id: i64,
) -> anyhow::Result<Vec<Option<String>>> {
    use super::schema::newsletters;
    Ok(subscriptions::table
        .inner_join(newsletters::table)
        .filter(subscriptions::subscriber_id.eq(subscriber_id))
        .filter(subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()))
        .filter(newsletters::archived.eq(false))
        .order(newsletters::id.asc())
        .select(newsletters::name)
        .load(conn)?)
}

/// The subscriptions of the readers `subscriber_ids`: (reader, newsletter slug, status),
/// by reader and newsletter.
pub fn of_subscribers(
    conn: &mut Conn,
    subscriber_ids: &[i64],
) -> anyhow::Result<Vec<(i64, String, String)>> {
    use super::schema::newsletters;
    Ok(subscriptions::table
        .inner_join(newsletters::table)
        .filter(subscriptions::subscriber_id.eq_any(subscriber_ids))
        .order((subscriptions::subscriber_id.asc(), newsletters::id.asc()))
        .select((
            subscriptions::subscriber_id,
            newsletters::slug,
            subscriptions::status,
        ))
        .load(conn)?)
}

/// Every reader's newsletters (confirmed or pending): reader → slugs in newsletter
/// order, for the export.
pub fn slugs_on(conn: &mut Conn) -> anyhow::Result<std::collections::HashMap<i64, Vec<String>>> {
    use super::schema::newsletters;
    let rows: Vec<(i64, String)> = subscriptions::table
        .inner_join(newsletters::table)
        .filter(subscriptions::status.ne(SubscriptionStatus::Unsubscribed.as_str()))
        .order((subscriptions::subscriber_id.asc(), newsletters::id.asc()))
        .select((subscriptions::subscriber_id, newsletters::slug))
        .load(conn)?;
    let mut on: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    for (reader, slug) in rows {
        on.entry(reader).or_default().push(slug);
    }
    Ok(on)
}

/// A reader's subscription as the subscriber lists show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReaderNewsletter {
    pub slug: String,
    pub status: String,
}

/// The subscriptions of the readers `subscriber_ids`, by reader, in newsletter order.
pub fn newsletters_of(
    conn: &mut Conn,
    subscriber_ids: &[i64],
) -> anyhow::Result<std::collections::HashMap<i64, Vec<ReaderNewsletter>>> {
    let mut by_reader: std::collections::HashMap<i64, Vec<ReaderNewsletter>> =
        std::collections::HashMap::new();
    for (reader, slug, status) in of_subscribers(conn, subscriber_ids)? {
        by_reader
            .entry(reader)
            .or_default()
            .push(ReaderNewsletter { slug, status });
    }
    Ok(by_reader)
}
