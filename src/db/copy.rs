//! `newsletter copy-db`: moves a site from one database to another (SQLite to
//! PostgreSQL, typically) with every row, so links mailed before the move keep working.
//!
//! The target must be empty. Rows go over in key order, a chunk at a time, inside one
//! transaction on the target: a copy that fails half-way leaves it as empty as it was,
//! and can be run again. The counts of every table are compared at the end.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::schema::{
    admin_sessions, app_settings, articles, confirmation_tokens, deliveries, digest_queue_left,
    digest_translations, digests, feedback_events, feeds, newsletter_articles, newsletters,
    outgoing_emails, subscribers, subscriptions,
};
use super::{AnyConnection, Conn, Db};

/// Rows one round trip carries (PostgreSQL takes at most 65,535 parameters a statement;
/// the widest table has 13 columns).
const CHUNK: i64 = 1_000;

/// What was copied: each table's name and row count.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, i64)>,
}

/// Why a copy did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the target database is not empty ({table} has {rows} rows); copy-db writes only into an empty one"
    )]
    TargetNotEmpty { table: &'static str, rows: i64 },
    #[error("{table}: {copied} rows copied but the source has {source_rows}")]
    CountMismatch {
        table: &'static str,
        source_rows: i64,
        copied: i64,
    },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for CopyError {
    fn from(e: diesel::result::Error) -> Self {
        CopyError::Other(e.into())
    }
}

/// One copied row of each table, every column.
macro_rules! row {
    ($name:ident, $table:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Queryable, Selectable, Insertable)]
        #[diesel(table_name = $table, treat_none_as_default_value = false)]
        struct $name {
            $($field: $ty),*
        }
    };
}

row!(
    AppSetting,
    app_settings {
        name: String,
        value: String
    }
);
row!(Subscriber, subscribers {
    id: i64, email: String, name: Option<String>, status: String,
    created_at: NaiveDateTime, updated_at: NaiveDateTime,
    confirmed_at: Option<NaiveDateTime>, unsubscribed_at: Option<NaiveDateTime>,
    hard_bounces: i32, language: Option<String>,
});
row!(ConfirmationToken, confirmation_tokens {
    token_hash: String, subscriber_id: i64, created_at: NaiveDateTime,
    expires_at: NaiveDateTime, used_at: Option<NaiveDateTime>,
    subscriber_name: Option<String>, subscriber_language: Option<String>,
});
row!(OutgoingEmail, outgoing_emails {
    id: i64, kind: String, subscriber_id: Option<i64>, recipient: String, status: String,
    attempts: i32, next_attempt_at: NaiveDateTime, locked_until: Option<NaiveDateTime>,
    last_error: Option<String>, created_at: NaiveDateTime, sent_at: Option<NaiveDateTime>,
    locked_by: Option<String>, subscriber_name: Option<String>,
    subscriber_language: Option<String>,
});
row!(Digest, digests {
    id: i64, subject: String, html_body: String, text_body: String, status: String,
    article_count: i32, recipient_count: i32, created_at: NaiveDateTime,
    completed_at: Option<NaiveDateTime>, sent_count: i32, failed_count: i32,
    skipped_count: i32, subject_override: Option<String>, queue_cursor: Option<i64>,
    queue_end: Option<i64>, newsletter_id: i64,
});
row!(
    DigestQueueLeft,
    digest_queue_left {
        digest_id: i64,
        readers: i32
    }
);
row!(Newsletter, newsletters {
    id: i64, slug: String, name: Option<String>, description: String,
    schedule: Option<String>, sections: String, public: bool, preselected: bool,
    archived: bool, created_at: NaiveDateTime, updated_at: NaiveDateTime,
    language: Option<String>,
});
row!(
    DigestTranslation,
    digest_translations {
        digest_id: i64,
        language: String,
        subject: String,
        html_body: String,
        text_body: String,
    }
);
row!(
    Subscription,
    subscriptions {
        newsletter_id: i64,
        subscriber_id: i64,
        status: String,
        created_at: NaiveDateTime,
        updated_at: NaiveDateTime,
    }
);
row!(Article, articles {
    id: i64, url: String, guid: Option<String>, title: String, summary: Option<String>,
    body: Option<String>, author: Option<String>, published_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime, digest_id: Option<i64>, excluded_at: Option<NaiveDateTime>,
    story_order: Option<i32>, image_url: Option<String>, sections: String,
});
row!(Feed, feeds {
    id: i64, url: String, section: Option<String>, created_at: NaiveDateTime,
});
row!(
    NewsletterArticle,
    newsletter_articles {
        newsletter_id: i64,
        article_id: i64,
        digest_id: i64,
    }
);
row!(
    AdminSession,
    admin_sessions {
        id_hash: String,
        csrf_token: String,
        created_at: NaiveDateTime,
        expires_at: NaiveDateTime,
    }
);
row!(Delivery, deliveries {
    digest_id: i64, subscriber_id: i64, status: String, attempts: i32,
    next_attempt_at: NaiveDateTime, locked_by: Option<String>,
    locked_until: Option<NaiveDateTime>, last_error: Option<String>,
    sent_at: Option<NaiveDateTime>, failing_since: Option<NaiveDateTime>,
});
row!(FeedbackEvent, feedback_events {
    id: i64, subscriber_id: i64, digest_id: Option<i64>, kind: String, detail: String,
    source: String, created_at: NaiveDateTime,
});

/// Every table, in the order they are copied: parents before what points at them.
pub(crate) const TABLES: [&str; 15] = [
    "app_settings",
    "newsletters",
    "subscribers",
    "subscriptions",
    "digests",
    "digest_translations",
    "digest_queue_left",
    "articles",
    "newsletter_articles",
    "feeds",
    "confirmation_tokens",
    "outgoing_emails",
    "admin_sessions",
    "deliveries",
    "feedback_events",
];

/// How many rows `table` has.
pub(crate) fn count(conn: &mut Conn, table: &str) -> QueryResult<i64> {
    Ok(match table {
        "app_settings" => app_settings::table.count().get_result(conn)?,
        "subscribers" => subscribers::table.count().get_result(conn)?,
        "newsletters" => newsletters::table.count().get_result(conn)?,
        "subscriptions" => subscriptions::table.count().get_result(conn)?,
        "digests" => digests::table.count().get_result(conn)?,
        "digest_translations" => digest_translations::table.count().get_result(conn)?,
        "digest_queue_left" => digest_queue_left::table.count().get_result(conn)?,
        "articles" => articles::table.count().get_result(conn)?,
        "confirmation_tokens" => confirmation_tokens::table.count().get_result(conn)?,
        "outgoing_emails" => outgoing_emails::table.count().get_result(conn)?,
        "deliveries" => deliveries::table.count().get_result(conn)?,
        "admin_sessions" => admin_sessions::table.count().get_result(conn)?,
        "feedback_events" => feedback_events::table.count().get_result(conn)?,
        "feeds" => feeds::table.count().get_result(conn)?,
        "newsletter_articles" => newsletter_articles::table.count().get_result(conn)?,
        other => unreachable!("no table {other}"),
    })
}

/// Copies every row of `from` into `to`, which must be empty (its schema is created if
/// it has none). `from` is brought up to date first, as the service would on start.
pub fn copy(from: &Db, to: &Db) -> Result<CopyReport, CopyError> {
    from.migrate()?;
    to.migrate_schema()?;
    let mut source = from.pool.get().map_err(anyhow::Error::from)?;
    let mut target = to.pool.get().map_err(anyhow::Error::from)?;
    for table in TABLES {
        let rows = count(&mut target, table)?;
        // The migrations make the default newsletter: a fresh schema has that row.
        let fresh = if table == "newsletters" { 1 } else { 0 };
        if rows > fresh {
            return Err(CopyError::TargetNotEmpty { table, rows });
        }
    }
    // A read transaction on the source: one consistent state, even if something writes
    // meanwhile (stop the service first all the same: what it writes after this point
    // stays behind).
    source.transaction(|source| {
        super::exclusive(&mut target, |target| {
            copy_rows(source, target)?;
            reset_identities(target)?;
            let mut report = CopyReport::default();
            for table in TABLES {
                let (source_rows, copied) = (count(source, table)?, count(target, table)?);
                if source_rows != copied {
                    return Err(CopyError::CountMismatch {
                        table,
                        source_rows,
                        copied,
                    }
                    .into());
                }
                report.tables.push((table, copied));
            }
            Ok(report)
        })
        .map_err(|e| match e.downcast::<CopyError>() {
            Ok(copy_error) => copy_error,
            Err(other) => CopyError::Other(other),
        })
    })
}

/// Copies every table, parents first, each in key order a chunk at a time: each query
/// starts after the last key copied, so the source is read once however long it is.
fn copy_rows(source: &mut Conn, target: &mut Conn) -> anyhow::Result<()> {
    macro_rules! by_key {
        ($table:ident, $row:ident, $key:ident, $start:expr) => {{
            let mut last = $start;
            loop {
                let rows: Vec<$row> = $table::table
                    .select($row::as_select())
                    .filter($table::$key.gt(&last))
                    .order($table::$key.asc())
                    .limit(CHUNK)
                    .load(source)?;
                let Some(end) = rows.last() else { break };
                last = end.$key.clone();
                let insert = diesel::insert_into($table::table).values(&rows);
                crate::on_engine!(target, |c| insert.execute(c))?;
            }
        }};
    }
    by_key!(app_settings, AppSetting, name, String::new());
    // The source's newsletters replace the default the target's migrations made.
    crate::on_engine!(target, |c| diesel::delete(newsletters::table).execute(c))?;
    by_key!(newsletters, Newsletter, id, 0_i64);
    by_key!(subscribers, Subscriber, id, 0_i64);
    // Subscriptions are keyed by (newsletter, reader).
    let mut last: (i64, i64) = (0, 0);
    loop {
        let rows: Vec<Subscription> = subscriptions::table
            .select(Subscription::as_select())
            .filter(
                subscriptions::newsletter_id
                    .gt(last.0)
                    .or(subscriptions::newsletter_id
                        .eq(last.0)
                        .and(subscriptions::subscriber_id.gt(last.1))),
            )
            .order((
                subscriptions::newsletter_id.asc(),
                subscriptions::subscriber_id.asc(),
            ))
            .limit(CHUNK)
            .load(source)?;
        let Some(end) = rows.last() else { break };
        last = (end.newsletter_id, end.subscriber_id);
        let insert = diesel::insert_into(subscriptions::table).values(&rows);
        crate::on_engine!(target, |c| insert.execute(c))?;
    }
    by_key!(digests, Digest, id, 0_i64);
    // Translations are keyed by (digest, language).
    let mut last: (i64, String) = (0, String::new());
    loop {
        let rows: Vec<DigestTranslation> = digest_translations::table
            .select(DigestTranslation::as_select())
            .filter(
                digest_translations::digest_id
                    .gt(last.0)
                    .or(digest_translations::digest_id
                        .eq(last.0)
                        .and(digest_translations::language.gt(last.1.clone()))),
            )
            .order((
                digest_translations::digest_id.asc(),
                digest_translations::language.asc(),
            ))
            .limit(CHUNK)
            .load(source)?;
        let Some(end) = rows.last() else { break };
        last = (end.digest_id, end.language.clone());
        let insert = diesel::insert_into(digest_translations::table).values(&rows);
        crate::on_engine!(target, |c| insert.execute(c))?;
    }
    by_key!(digest_queue_left, DigestQueueLeft, digest_id, 0_i64);
    by_key!(articles, Article, id, 0_i64);
    // What each newsletter sent is keyed by (newsletter, article).
    let mut last: (i64, i64) = (0, 0);
    loop {
        let rows: Vec<NewsletterArticle> = newsletter_articles::table
            .select(NewsletterArticle::as_select())
            .filter(
                newsletter_articles::newsletter_id.gt(last.0).or(
                    newsletter_articles::newsletter_id
                        .eq(last.0)
                        .and(newsletter_articles::article_id.gt(last.1)),
                ),
            )
            .order((
                newsletter_articles::newsletter_id.asc(),
                newsletter_articles::article_id.asc(),
            ))
            .limit(CHUNK)
            .load(source)?;
        let Some(end) = rows.last() else { break };
        last = (end.newsletter_id, end.article_id);
        let insert = diesel::insert_into(newsletter_articles::table).values(&rows);
        crate::on_engine!(target, |c| insert.execute(c))?;
    }
    by_key!(feeds, Feed, id, 0_i64);
    by_key!(
        confirmation_tokens,
        ConfirmationToken,
        token_hash,
        String::new()
    );
    by_key!(outgoing_emails, OutgoingEmail, id, 0_i64);
    by_key!(admin_sessions, AdminSession, id_hash, String::new());
    // Deliveries are keyed by (digest, reader).
    let mut last: (i64, i64) = (0, 0);
    loop {
        let rows: Vec<Delivery> = deliveries::table
            .select(Delivery::as_select())
            .filter(
                deliveries::digest_id.gt(last.0).or(deliveries::digest_id
                    .eq(last.0)
                    .and(deliveries::subscriber_id.gt(last.1))),
            )
            .order((deliveries::digest_id.asc(), deliveries::subscriber_id.asc()))
            .limit(CHUNK)
            .load(source)?;
        let Some(end) = rows.last() else { break };
        last = (end.digest_id, end.subscriber_id);
        let insert = diesel::insert_into(deliveries::table).values(&rows);
        crate::on_engine!(target, |c| insert.execute(c))?;
    }
    by_key!(feedback_events, FeedbackEvent, id, 0_i64);
    Ok(())
}

/// Moves PostgreSQL's id counters past the copied ids, so the next sign-up does not
/// collide with a copied reader. (SQLite takes the next id from the rows themselves.)
fn reset_identities(target: &mut Conn) -> anyhow::Result<()> {
    if let AnyConnection::Pg(pg) = target {
        for table in [
            "newsletters",
            "subscribers",
            "digests",
            "articles",
            "feeds",
            "outgoing_emails",
            "feedback_events",
        ] {
            pg.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))?;
        }
    }
    Ok(())
}
