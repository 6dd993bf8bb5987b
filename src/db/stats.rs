//! Figures for the admin dashboard.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::Conn;
use super::schema::subscribers;

/// How many subscribers have each status.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StatusCounts {
    pub pending: i64,
    pub confirmed: i64,
    pub unsubscribed: i64,
    pub bounced: i64,
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
    let days: Vec<NaiveDate> = since.iter_days().take_while(|d| *d <= today).collect();
    // Raw SQL passes its placeholders through as written: each engine has its own.
    let placeholder = match conn {
        super::AnyConnection::Sqlite(_) => "?",
        super::AnyConnection::Pg(_) => "$1",
    };
    let mut per_column = |column: &str| -> anyhow::Result<Vec<i64>> {
        // `column` is one of three fixed names below, never input.
        let rows: Vec<DayCount> = diesel::sql_query(format!(
            "SELECT CAST(date({column}) AS TEXT) AS day, COUNT(*) AS count FROM subscribers \
             WHERE {column} >= {placeholder} GROUP BY day"
        ))
        .bind::<Timestamp, _>(since.and_time(chrono::NaiveTime::MIN))
        .load(conn)?;
        let by_day: std::collections::HashMap<String, i64> =
            rows.into_iter().map(|r| (r.day, r.count)).collect();
        Ok(days
            .iter()
            .map(|d| by_day.get(&d.to_string()).copied().unwrap_or(0))
            .collect())
    };
    Ok(Growth {
        signups: per_column("created_at")?,
        confirmations: per_column("confirmed_at")?,
        unsubscribes: per_column("unsubscribed_at")?,
        days,
    })
}
