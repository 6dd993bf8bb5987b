//! Figures for the admin dashboard.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::Conn;
use super::schema::{deliveries, digests, outgoing_emails, subscribers};

/// How many subscribers have each status.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StatusCounts {
    pub pending: i64,
    pub confirmed: i64,
    pub unsubscribed: i64,
    pub bounced: i64,
    /// Subscriptions by newsletter (slug) and the subscription's status.
    pub by_newsletter: Vec<(String, String, i64)>,
}

pub fn status_counts(conn: &mut Conn) -> anyhow::Result<StatusCounts> {
    let rows: Vec<(String, i64)> = subscribers::table
        .group_by(subscribers::status)
        .select((subscribers::status, diesel::dsl::count_star()))
        .load(conn)?;
    let mut counts = StatusCounts::default();
    for (status, count) in rows {
        match status.as_str() {
            "pending" => counts.pending = count,
            "confirmed" => counts.confirmed = count,
            "unsubscribed" => counts.unsubscribed = count,
            "bounced" => counts.bounced = count,
            _ => {}
        }
    }
    use super::schema::{newsletters, subscriptions};
    let slugs: std::collections::HashMap<i64, String> = newsletters::table
        .select((newsletters::id, newsletters::slug))
        .load(conn)?
        .into_iter()
        .collect();
    let rows: Vec<(i64, String, i64)> = subscriptions::table
        .group_by((subscriptions::newsletter_id, subscriptions::status))
        .select((
            subscriptions::newsletter_id,
            subscriptions::status,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    counts.by_newsletter = rows
        .into_iter()
        .filter_map(|(id, status, n)| Some((slugs.get(&id)?.clone(), status, n)))
        .collect();
    Ok(counts)
}

/// Sign-ups, confirmations and unsubscribes a day, from `since` to today.
#[derive(Debug, Clone, Default)]
pub struct Growth {
    pub days: Vec<NaiveDate>,
    pub signups: Vec<i64>,
    pub confirmations: Vec<i64>,
    pub unsubscribes: Vec<i64>,
}

#[derive(QueryableByName)]
struct DayCount {
    #[diesel(sql_type = Text)]
    day: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

pub fn growth(conn: &mut Conn, since: NaiveDate, today: NaiveDate) -> anyhow::Result<Growth> {
    growth_on(conn, None, since, today)
}

/// [`growth`], or with `newsletter_id` that newsletter's: the days its readers chose it,
/// confirmed it and left it (a subscription's last change dates the latter two, as a
/// reader's `confirmed_at` and `unsubscribed_at` do theirs).
pub fn growth_on(
    conn: &mut Conn,
    newsletter_id: Option<i64>,
    since: NaiveDate,
    today: NaiveDate,
) -> anyhow::Result<Growth> {
    let days: Vec<NaiveDate> = since.iter_days().take_while(|d| *d <= today).collect();
    // Raw SQL passes its placeholders through as written: each engine has its own.
    let (first, second) = match conn {
        super::AnyConnection::Sqlite(_) => ("?", "?"),
        super::AnyConnection::Pg(_) => ("$1", "$2"),
    };
    let mut per_day = |column: &str, filter: &str| -> anyhow::Result<Vec<i64>> {
        // `column` and `filter` are fixed text below, never input; the newsletter's id
        // is bound.
        let since = since.and_time(chrono::NaiveTime::MIN);
        let rows: Vec<DayCount> = match newsletter_id {
            None => diesel::sql_query(format!(
                "SELECT CAST(date({column}) AS TEXT) AS day, COUNT(*) AS count FROM subscribers \
                 WHERE {column} >= {first} GROUP BY day"
            ))
            .bind::<Timestamp, _>(since)
            .load(conn)?,
            Some(id) => diesel::sql_query(format!(
                "SELECT CAST(date({column}) AS TEXT) AS day, COUNT(*) AS count FROM subscriptions \
                 WHERE {column} >= {first} AND newsletter_id = {second}{filter} GROUP BY day"
            ))
            .bind::<Timestamp, _>(since)
            .bind::<BigInt, _>(id)
            .load(conn)?,
        };
        let by_day: std::collections::HashMap<String, i64> =
            rows.into_iter().map(|r| (r.day, r.count)).collect();
        Ok(days
            .iter()
            .map(|d| by_day.get(&d.to_string()).copied().unwrap_or(0))
            .collect())
    };
    let growth = match newsletter_id {
        None => Growth {
            signups: per_day("created_at", "")?,
            confirmations: per_day("confirmed_at", "")?,
            unsubscribes: per_day("unsubscribed_at", "")?,
            days,
        },
        Some(_) => Growth {
            signups: per_day("created_at", "")?,
            confirmations: per_day("updated_at", " AND status = 'confirmed'")?,
            unsubscribes: per_day("updated_at", " AND status = 'unsubscribed'")?,
            days,
        },
    };
    Ok(growth)
}

/// The queues at one moment, for the metrics' gauges. Each figure is an indexed lookup
/// or a read of the digests' running counts: nothing here walks the deliveries.
#[derive(Debug, Clone, Default)]
pub struct QueueFigures {
    /// One-off mail (confirmations) waiting to be sent or retried.
    pub mail_queued: i64,
    /// How long the oldest due one-off mail has waited, in seconds (0: none is due).
    pub mail_oldest_due_seconds: f64,
    /// Digest deliveries not yet settled.
    pub deliveries_pending: i64,
    /// How long the oldest due digest delivery has waited, in seconds (0: none is due).
    pub delivery_oldest_due_seconds: f64,
    /// Digests being sent.
    pub digests_sending: i64,
}

pub fn queue_figures(conn: &mut Conn, now: NaiveDateTime) -> anyhow::Result<QueueFigures> {
    // The digests being sent are few, and each keeps running counts of its deliveries.
    let sending: Vec<(i32, i32, i32, i32)> = digests::table
        .filter(digests::status.eq("sending"))
        .select((
            digests::recipient_count,
            digests::sent_count,
            digests::failed_count,
            digests::skipped_count,
        ))
        .load(conn)?;
    let deliveries_pending = sending
        .iter()
        .map(|(recipients, sent, failed, skipped)| {
            i64::from(*recipients) - i64::from(*sent) - i64::from(*failed) - i64::from(*skipped)
        })
        .map(|pending| pending.max(0))
        .sum();
    // MIN over the (status, next_attempt_at) indexes: one step down each index.
    let oldest_delivery: Option<NaiveDateTime> = deliveries::table
        .filter(deliveries::status.eq("pending"))
        .filter(deliveries::next_attempt_at.le(now))
        .select(diesel::dsl::min(deliveries::next_attempt_at))
        .first(conn)?;
    let oldest_mail: Option<NaiveDateTime> = outgoing_emails::table
        .filter(outgoing_emails::status.eq("queued"))
        .filter(outgoing_emails::next_attempt_at.le(now))
        .select(diesel::dsl::min(outgoing_emails::next_attempt_at))
        .first(conn)?;
    // One-off mail waits only while sign-ups come faster than it is sent: a short
    // stretch of the index.
    let mail_queued: i64 = outgoing_emails::table
        .filter(outgoing_emails::status.eq("queued"))
        .count()
        .get_result(conn)?;
    // Readers of a digest going out that the workers have not queued yet wait since
    // it was made, as if their rows had been queued then.
    let oldest_unqueued: Option<NaiveDateTime> = digests::table
        .filter(digests::queue_end.is_not_null())
        .filter(digests::html_body.ne(""))
        .select(diesel::dsl::min(digests::created_at))
        .first(conn)?;
    let oldest_delivery = match (oldest_delivery, oldest_unqueued) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let waited = |since: Option<NaiveDateTime>| {
        since.map_or(0.0, |since| {
            (now - since).num_milliseconds().max(0) as f64 / 1000.0
        })
    };
    Ok(QueueFigures {
        mail_queued,
        mail_oldest_due_seconds: waited(oldest_mail),
        deliveries_pending,
        delivery_oldest_due_seconds: waited(oldest_delivery),
        digests_sending: i64::try_from(sending.len())?,
    })
}

/// A newsletter's readers: those who receive it, and those who chose it and have not
/// confirmed yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NewsletterCounts {
    pub confirmed: i64,
    pub pending: i64,
}

/// Each newsletter's readers, by newsletter id. A reader counts as confirmed when both
/// they and their subscription are (a bounced or unsubscribed reader receives nothing),
/// as pending when their subscription waits for a confirmation they can still give.
pub fn newsletter_counts(
    conn: &mut Conn,
) -> anyhow::Result<std::collections::HashMap<i64, NewsletterCounts>> {
    use super::schema::subscriptions;
    let mut count = |subscription: &str, readers: &[&str]| -> anyhow::Result<Vec<(i64, i64)>> {
        Ok(subscriptions::table
            .inner_join(subscribers::table)
            .filter(subscriptions::status.eq(subscription))
            .filter(subscribers::status.eq_any(readers))
            .group_by(subscriptions::newsletter_id)
            .select((subscriptions::newsletter_id, diesel::dsl::count_star()))
            .load(conn)?)
    };
    let confirmed = count("confirmed", &["confirmed"])?;
    let pending = count("pending", &["confirmed", "pending"])?;
    let mut counts: std::collections::HashMap<i64, NewsletterCounts> = Default::default();
    for (newsletter, n) in confirmed {
        counts.entry(newsletter).or_default().confirmed = n;
    }
    for (newsletter, n) in pending {
        counts.entry(newsletter).or_default().pending = n;
    }
    Ok(counts)
}
