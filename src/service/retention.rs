//! Retention: what is kept how long. Delivery rows of finished digests go after
//! `DELIVERY_RETENTION_DAYS` (the digest keeps its counts for ever), and so does
//! finished one-off mail (but never less than a day: the per-address limit on
//! confirmation mails counts the last day's); dead confirmation links and expired admin
//! sessions go at once. Runs daily from the schedule and at once with `newsletter purge`.

use std::time::Duration;

use chrono::NaiveDateTime;

use crate::db::{self, Conn, Db, retention};

/// Rows deleted per write transaction: each holds the write lock for a few
/// milliseconds, so sign-ups and a send going on meanwhile barely notice.
pub const BATCH: i64 = 1_000;

/// The shortest time finished one-off mail is kept, whatever `DELIVERY_RETENTION_DAYS`
/// says: the limit on confirmation mails an address may be sent counts the last day's.
const ONE_OFF_MAIL_AT_LEAST: Duration = Duration::from_secs(24 * 3600);

/// What a purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub deliveries: usize,
    pub confirmation_tokens: usize,
    pub one_off_mail: usize,
    pub admin_sessions: usize,
}

impl Purged {
    pub fn total(&self) -> usize {
        self.deliveries + self.confirmation_tokens + self.one_off_mail + self.admin_sessions
    }

    /// One line for a person or the log.
    pub fn describe(&self) -> String {
        format!(
            "{} delivery rows of finished digests, {} dead confirmation links, {} finished one-off mails, {} expired admin sessions",
            self.deliveries, self.confirmation_tokens, self.one_off_mail, self.admin_sessions
        )
    }
}

/// Deletes what `retention` (`DELIVERY_RETENTION_DAYS`) no longer keeps, as of `now`,
/// in batches of [`BATCH`] rows, each its own short transaction.
pub async fn purge(db: &Db, retention: Duration, now: NaiveDateTime) -> anyhow::Result<Purged> {
    let finished_before = before(now, retention);
    let mail_before = before(now, retention.max(ONE_OFF_MAIL_AT_LEAST));
    let finished = db
        .run(move |conn| retention::finished_digests(conn, finished_before))
        .await?;
    let mut deliveries = 0;
    for digest in finished {
        deliveries += in_batches(db, move |conn| {
            retention::delete_deliveries_of(conn, digest, finished_before, BATCH)
        })
        .await?;
    }
    Ok(Purged {
        deliveries,
        confirmation_tokens: in_batches(db, move |conn| {
            retention::delete_dead_tokens(conn, now, BATCH)
        })
        .await?,
        one_off_mail: in_batches(db, move |conn| {
            retention::delete_finished_mail(conn, mail_before, BATCH)
        })
        .await?,
        admin_sessions: in_batches(db, move |conn| {
            retention::delete_expired_sessions(conn, now, BATCH)
        })
        .await?,
    })
}

/// The scheduled purge: runs [`purge`] and says in the log what it removed.
pub async fn run_purge_job(state: &crate::AppState) {
    match purge(&state.db, state.settings.delivery_retention, db::now()).await {
        Ok(purged) if purged.total() > 0 => {
            tracing::info!("retention: deleted {}", purged.describe())
        }
        Ok(_) => tracing::debug!("retention: nothing to delete"),
        Err(e) => tracing::error!(
            error = format!("{e:#}"),
            "retention: the purge failed; it runs again tomorrow (or run `newsletter purge`)"
        ),
    }
}

/// Runs `batch` until it deletes fewer than [`BATCH`] rows (each picks up to that many
/// of what is left); returns how many rows it deleted in all.
async fn in_batches<F>(db: &Db, batch: F) -> anyhow::Result<usize>
where
    F: Fn(&mut Conn) -> anyhow::Result<usize> + Clone + Send + 'static,
{
    let mut total = 0;
    loop {
        let deleted = db.write(batch.clone()).await?;
        total += deleted;
        if deleted < BATCH as usize {
            return Ok(total);
        }
        // Lets the writers waiting behind this batch go first.
        tokio::task::yield_now().await;
    }
}

/// `now` less `age`.
fn before(now: NaiveDateTime, age: Duration) -> NaiveDateTime {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .unwrap_or(NaiveDateTime::MIN)
}
