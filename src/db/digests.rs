//! The `digests` table: each digest rendered once, with its delivery progress.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{
    deliveries, digest_queue_left, digest_translations, digests, newsletters, subscribers,
    subscriptions,
};
use super::{AnyConnection, Conn};
use crate::domain::DeliveryStatus;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = digests)]
pub struct Digest {
    pub id: i64,
    pub subject: String,
    pub html_body: String,
    pub text_body: String,
    pub status: String,
    pub article_count: i32,
    pub recipient_count: i32,
    pub created_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    /// The subject the editor gave it, if any (the template's otherwise).
    pub subject_override: Option<String>,
    /// The newsletter it went out for.
    pub newsletter_id: i64,
}

/// A digest without its bodies, for lists.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = digests)]
pub struct DigestSummary {
    pub id: i64,
    pub subject: String,
    pub status: String,
    pub article_count: i32,
    pub recipient_count: i32,
    #[serde(serialize_with = "super::utc::serialize")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "super::utc::serialize_option")]
    pub completed_at: Option<NaiveDateTime>,
}

/// Where a digest's deliveries stand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub recipients: i64,
    pub sent: i64,
    pub failed: i64,
    pub pending: i64,
    /// Readers who left after their delivery was queued and before it was sent. (Those
    /// who left before it was queued are taken out of `recipients` when the last
    /// readers are queued.)
    pub skipped: i64,
}

impl Progress {
    /// How much of the digest is settled (sent, failed or skipped), 0 to 100.
    pub fn percent_done(&self) -> i64 {
        if self.recipients == 0 {
            100
        } else {
            (self.recipients - self.pending) * 100 / self.recipients
        }
    }
}

/// A new digest, still to be rendered and queued, for the confirmed readers with ids up
/// to `last_reader`. It is `sending` from the start (deliveries go out from the first
/// queued chunk on); the archive lists it once rendered, and while its queue end is set
/// the workers do not close it.
pub fn insert(
    conn: &mut Conn,
    article_count: i32,
    last_reader: i64,
    now: NaiveDateTime,
) -> anyhow::Result<i64> {
    insert_for(
        conn,
        super::newsletters::DEFAULT_NEWSLETTER_ID,
        article_count,
        last_reader,
        now,
    )
}

/// The newsletter digest `id` went out for; `None` for no such digest.
pub fn newsletter_of(conn: &mut Conn, id: i64) -> anyhow::Result<Option<i64>> {
    Ok(digests::table
        .find(id)
        .select(digests::newsletter_id)
        .first(conn)
        .optional()?)
}

/// [`insert`], for the readers of newsletter `newsletter_id`.
pub fn insert_for(
    conn: &mut Conn,
    newsletter_id: i64,
    article_count: i32,
    last_reader: i64,
    now: NaiveDateTime,
) -> anyhow::Result<i64> {
    Ok(diesel::insert_into(digests::table)
        .values((
            digests::newsletter_id.eq(newsletter_id),
            digests::subject.eq(""),
            digests::html_body.eq(""),
            digests::text_body.eq(""),
            digests::status.eq("sending"),
            digests::article_count.eq(article_count),
            digests::recipient_count.eq(0),
            digests::created_at.eq(now),
            digests::queue_cursor.eq(0_i64),
            digests::queue_end.eq(last_reader),
        ))
        .returning(digests::id)
        .get_result(conn)?)
}

/// The digests made before `before` and not yet rendered (a crash left them so, or
/// they are being rendered this moment), oldest first.
pub fn composing(conn: &mut Conn, before: NaiveDateTime) -> anyhow::Result<Vec<i64>> {
    Ok(digests::table
        .filter(digests::queue_end.is_not_null())
        .filter(digests::html_body.eq(""))
        .filter(digests::created_at.lt(before))
        .order(digests::id.asc())
        .select(digests::id)
        .load(conn)?)
}

/// How long a digest is given to be rendered by the process that made it; after it, an
/// idle worker takes it up.
pub const RENDER_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// The digests going out whose readers are not all queued yet, rendered (so ready to
/// be sent), oldest first: the workers queue their next readers as they run short.
pub fn queueing(conn: &mut Conn) -> anyhow::Result<Vec<i64>> {
    Ok(digests::table
        .filter(digests::queue_end.is_not_null())
        .filter(digests::html_body.ne(""))
        .order(digests::id.asc())
        .select(digests::id)
        .load(conn)?)
}

/// How far the queueing of a digest has come: readers with ids up to `cursor` have
/// their delivery; it goes to the confirmed readers of `newsletter_id` up to `end`.
#[derive(Debug, Clone, Copy)]
pub struct QueuePosition {
    pub newsletter_id: i64,
    pub cursor: i64,
    pub end: i64,
    /// Readers counted ahead and not queued yet (see [`set_counted`]); `None`: they
    /// are counted as they are queued.
    pub left: Option<i32>,
}

/// Where the queueing of digest `id` stands; `None` once it is wholly queued (or does
/// not exist). On PostgreSQL the digest's row stays locked to the end of the
/// transaction, so two instances running short at once queue one chunk after the other,
/// not the same one twice.
pub fn queue_position(conn: &mut Conn, id: i64) -> anyhow::Result<Option<QueuePosition>> {
    macro_rules! position {
        () => {
            digests::table
                .find(id)
                .filter(digests::queue_end.is_not_null())
                .select((
                    digests::newsletter_id,
                    digests::queue_cursor,
                    digests::queue_end,
                ))
        };
    }
    let row: Option<(i64, Option<i64>, Option<i64>)> = match conn {
        AnyConnection::Sqlite(c) => position!().first(c).optional()?,
        AnyConnection::Pg(c) => position!().for_update().first(c).optional()?,
    };
    let Some((newsletter_id, cursor, end)) = row else {
        return Ok(None);
    };
    let left = digest_queue_left::table
        .find(id)
        .select(digest_queue_left::readers)
        .first(conn)
        .optional()?;
    Ok(Some(QueuePosition {
        newsletter_id,
        cursor: cursor.unwrap_or(0),
        end: end.unwrap_or(0),
        left,
    }))
}

/// Counts the `readers` still to be queued of a rendered digest into its recipients
/// (pending until their turn), so its progress reads true from the start.
pub fn set_counted(conn: &mut Conn, id: i64, readers: i32) -> anyhow::Result<()> {
    count_settled(
        conn,
        id,
        Settled {
            recipients: readers,
            ..Settled::default()
        },
    )?;
    diesel::insert_into(digest_queue_left::table)
        .values((
            digest_queue_left::digest_id.eq(id),
            digest_queue_left::readers.eq(readers),
        ))
        .execute(conn)?;
    Ok(())
}

/// Moves the cursor of a digest at `at` on to `through`, past the `queued` deliveries
/// just queued, with its counts. At its end the digest is handed to the workers to close
/// when its last delivery is settled, and the count made ahead gives way to the count
/// of its deliveries.
pub fn advance_queue(
    conn: &mut Conn,
    id: i64,
    at: &QueuePosition,
    through: i64,
    queued: usize,
) -> anyhow::Result<()> {
    let queued = i32::try_from(queued)?;
    let (mut change, left) = match at.left {
        None => (
            Settled {
                recipients: queued,
                ..Settled::default()
            },
            None,
        ),
        Some(left) => (Settled::default(), Some(left - queued)),
    };
    if through < at.end {
        diesel::update(digests::table.find(id))
            .set(digests::queue_cursor.eq(through))
            .execute(conn)?;
        if let Some(left) = left {
            diesel::update(digest_queue_left::table.find(id))
                .set(digest_queue_left::readers.eq(left))
                .execute(conn)?;
        }
    } else {
        // Readers counted and never queued left before their turn (or were erased);
        // readers queued and not counted confirmed since: either way, the digest's
        // recipients are now the readers it has a delivery for.
        change.recipients -= left.unwrap_or(0);
        diesel::update(digests::table.find(id))
            .set((
                digests::queue_cursor.eq(None::<i64>),
                digests::queue_end.eq(None::<i64>),
            ))
            .execute(conn)?;
        diesel::delete(digest_queue_left::table.find(id)).execute(conn)?;
    }
    count_settled(conn, id, change)
}

/// Stores what the digest was rendered to (rendering needs the id, so it comes after
/// the insert).
pub fn set_rendered(
    conn: &mut Conn,
    id: i64,
    subject: &str,
    html_body: &str,
    text_body: &str,
) -> anyhow::Result<()> {
    diesel::update(digests::table.find(id))
        .set((
            digests::subject.eq(subject),
            digests::html_body.eq(html_body),
            digests::text_body.eq(text_body),
        ))
        .execute(conn)?;
    Ok(())
}

/// A digest rendered in another language than its own (see `digest_translations`).
#[derive(Debug, Clone, Queryable)]
pub struct Translation {
    pub language: String,
    pub subject: String,
    pub html_body: String,
    pub text_body: String,
}

/// Stores the digest's renders in other languages.
pub fn set_translations(
    conn: &mut Conn,
    id: i64,
    translations: &[Translation],
) -> anyhow::Result<()> {
    for t in translations {
        // Stored again (a render raced another), the last one stands: no duplicate key.
        diesel::delete(
            digest_translations::table
                .filter(digest_translations::digest_id.eq(id))
                .filter(digest_translations::language.eq(&t.language)),
        )
        .execute(conn)?;
        diesel::insert_into(digest_translations::table)
            .values((
                digest_translations::digest_id.eq(id),
                digest_translations::language.eq(&t.language),
                digest_translations::subject.eq(&t.subject),
                digest_translations::html_body.eq(&t.html_body),
                digest_translations::text_body.eq(&t.text_body),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The digest's renders in other languages than its own.
pub fn translations(conn: &mut Conn, id: i64) -> anyhow::Result<Vec<Translation>> {
    Ok(digest_translations::table
        .filter(digest_translations::digest_id.eq(id))
        .order(digest_translations::language.asc())
        .select((
            digest_translations::language,
            digest_translations::subject,
            digest_translations::html_body,
            digest_translations::text_body,
        ))
        .load(conn)?)
}

/// Whether a confirmed reader of newsletter `newsletter_id` reads `language` (stored as
/// theirs; readers without one read DEFAULT_LANGUAGE). Walks the readers of `language`
/// by `subscribers_by_language`, each checked by the subscriptions' primary key, and
/// stops at the first: one index probe when nobody reads it, however long the list.
/// (Walking the newsletter's readers instead visits all of them in that case.)
pub fn any_reader_in(conn: &mut Conn, newsletter_id: i64, language: &str) -> anyhow::Result<bool> {
    let confirmed_here = subscriptions::table
        .filter(subscriptions::subscriber_id.eq(subscribers::id))
        .filter(subscriptions::newsletter_id.eq(newsletter_id))
        .filter(subscriptions::status.eq(crate::domain::SubscriptionStatus::Confirmed.as_str()));
    let found: Option<i64> = subscribers::table
        .filter(subscribers::language.eq(language))
        .filter(diesel::dsl::exists(confirmed_here))
        .select(subscribers::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// How many articles the digest carries, once the render has settled it (see
/// `digest::compose`: what does not fit waits for the next digest).
pub fn set_article_count(conn: &mut Conn, id: i64, count: i32) -> anyhow::Result<()> {
    diesel::update(digests::table.find(id))
        .set(digests::article_count.eq(count))
        .execute(conn)?;
    Ok(())
}

/// Records the subject the editor gave the digest (`None`: the template's went out).
pub fn set_subject_override(conn: &mut Conn, id: i64, subject: Option<&str>) -> anyhow::Result<()> {
    diesel::update(digests::table.find(id))
        .set(digests::subject_override.eq(subject))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut Conn, id: i64) -> anyhow::Result<Option<Digest>> {
    Ok(digests::table
        .find(id)
        .select(Digest::as_select())
        .first(conn)
        .optional()?)
}

/// Digest `id` without its bodies.
pub fn find_summary(conn: &mut Conn, id: i64) -> anyhow::Result<Option<DigestSummary>> {
    Ok(digests::table
        .find(id)
        .select(DigestSummary::as_select())
        .first(conn)
        .optional()?)
}

/// The newest digests first: every newsletter's, or `newsletter_id`'s only.
pub fn recent(
    conn: &mut Conn,
    limit: i64,
    newsletter_id: Option<i64>,
) -> anyhow::Result<Vec<DigestSummary>> {
    let mut query = digests::table
        .order(digests::id.desc())
        .limit(limit)
        .select(DigestSummary::as_select())
        .into_boxed();
    if let Some(id) = newsletter_id {
        query = query.filter(digests::newsletter_id.eq(id));
    }
    Ok(query.load(conn)?)
}

/// The newest digests first, as the archive lists them: those of public newsletters
/// (of `newsletter_id` only, when given), not those still being rendered.
pub fn editions(
    conn: &mut Conn,
    limit: i64,
    newsletter_id: Option<i64>,
) -> anyhow::Result<Vec<DigestSummary>> {
    let public = newsletters::table
        .filter(newsletters::public.eq(true))
        .select(newsletters::id);
    let mut query = digests::table
        .filter(digests::html_body.ne(""))
        .filter(digests::newsletter_id.eq_any(public))
        .order(digests::id.desc())
        .limit(limit)
        .select(DigestSummary::as_select())
        .into_boxed();
    if let Some(id) = newsletter_id {
        query = query.filter(digests::newsletter_id.eq(id));
    }
    Ok(query.load(conn)?)
}

/// Where digest `id`'s deliveries stand, from its running counts: one row read,
/// however long the list (so polling it while a digest goes out costs nothing).
pub fn progress(conn: &mut Conn, id: i64) -> anyhow::Result<Progress> {
    Ok(standing(conn, id)?
        .map(|(_, progress)| progress)
        .unwrap_or_default())
}

/// Digest `id` without its bodies, and where its deliveries stand: one narrow row read,
/// what a progress poll needs.
pub fn standing(conn: &mut Conn, id: i64) -> anyhow::Result<Option<(DigestSummary, Progress)>> {
    let row: Option<(DigestSummary, i32, i32, i32)> = digests::table
        .find(id)
        .select((
            DigestSummary::as_select(),
            digests::sent_count,
            digests::failed_count,
            digests::skipped_count,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(digest, sent, failed, skipped)| {
        let (recipients, sent, failed, skipped) = (
            i64::from(digest.recipient_count),
            i64::from(sent),
            i64::from(failed),
            i64::from(skipped),
        );
        let progress = Progress {
            recipients,
            sent,
            failed,
            skipped,
            pending: recipients - sent - failed - skipped,
        };
        (digest, progress)
    }))
}

/// Changes to a digest's running counts; every change of a delivery's status goes
/// through [`count_settled`] in the same transaction, so the counts stay exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    pub recipients: i32,
    pub sent: i32,
    pub failed: i32,
    pub skipped: i32,
}

impl Settled {
    /// The change for one delivery leaving `pending` for `status`.
    pub fn one(status: DeliveryStatus) -> Settled {
        let mut settled = Settled::default();
        match status {
            DeliveryStatus::Pending => {}
            DeliveryStatus::Sent => settled.sent = 1,
            DeliveryStatus::Failed => settled.failed = 1,
            DeliveryStatus::Skipped => settled.skipped = 1,
        }
        settled
    }

    pub fn add(&mut self, other: Settled) {
        self.recipients += other.recipients;
        self.sent += other.sent;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }

    pub fn negated(self) -> Settled {
        Settled {
            recipients: -self.recipients,
            sent: -self.sent,
            failed: -self.failed,
            skipped: -self.skipped,
        }
    }
}

/// Applies `change` to digest `id`'s running counts.
pub fn count_settled(conn: &mut Conn, id: i64, change: Settled) -> anyhow::Result<()> {
    if change == Settled::default() {
        return Ok(());
    }
    diesel::update(digests::table.find(id))
        .set((
            digests::recipient_count.eq(digests::recipient_count + change.recipients),
            digests::sent_count.eq(digests::sent_count + change.sent),
            digests::failed_count.eq(digests::failed_count + change.failed),
            digests::skipped_count.eq(digests::skipped_count + change.skipped),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks every digest still sending with nothing left pending as sent (deliveries can
/// also be settled outside a worker's batch: skipped at claim time, erased).
pub fn finish_all_completed(conn: &mut Conn, now: NaiveDateTime) -> anyhow::Result<()> {
    let sending: Vec<i64> = digests::table
        .filter(digests::status.eq("sending"))
        .select(digests::id)
        .load(conn)?;
    finish_completed(conn, &sending, now)
}

/// Marks the digests among `ids` with nothing left pending as sent, unless they are
/// still being queued. "Anything left?" is an indexed `EXISTS` (digest, status):
/// constant work, not a count of what is left. On PostgreSQL the digest's row is locked
/// first, as the queueing of its readers locks it ([`queue_position`]), so the check and
/// the closing come wholly before or wholly after the queueing of its last readers;
/// without it, the check could run before their commit and the closing after, closing
/// a digest with deliveries pending.
pub fn finish_completed(conn: &mut Conn, ids: &[i64], now: NaiveDateTime) -> anyhow::Result<()> {
    for &id in ids {
        if let AnyConnection::Pg(pg) = conn {
            digests::table
                .find(id)
                .select(digests::id)
                .for_update()
                .first::<i64>(pg)
                .optional()?;
        }
        let pending_left: bool = diesel::select(diesel::dsl::exists(
            deliveries::table
                .filter(deliveries::digest_id.eq(id))
                .filter(deliveries::status.eq(DeliveryStatus::Pending.as_str())),
        ))
        .get_result(conn)?;
        if !pending_left {
            diesel::update(
                digests::table
                    .find(id)
                    .filter(digests::status.eq("sending"))
                    .filter(digests::queue_end.is_null()),
            )
            .set((digests::status.eq("sent"), digests::completed_at.eq(now)))
            .execute(conn)?;
        }
    }
    Ok(())
}

/// Marks a digest as sending again (its failed deliveries were queued anew).
pub fn reopen(conn: &mut Conn, id: i64) -> anyhow::Result<()> {
    diesel::update(digests::table.find(id))
        .set((
            digests::status.eq("sending"),
            digests::completed_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// A reader a digest did not reach, with the server's reply.
#[derive(Debug, Clone, Serialize, Queryable)]
pub struct Failure {
    pub email: String,
    pub reply: Option<String>,
}

/// Failed deliveries of a digest with the server's reply, for reports.
pub fn failures(conn: &mut Conn, id: i64) -> anyhow::Result<Vec<Failure>> {
    use super::schema::subscribers;
    Ok(deliveries::table
        .inner_join(subscribers::table)
        .filter(deliveries::digest_id.eq(id))
        .filter(deliveries::status.eq(DeliveryStatus::Failed.as_str()))
        .order(subscribers::email.asc())
        .select((subscribers::email, deliveries::last_error))
        .load(conn)?)
}

/// A digest (without its bodies) with where its deliveries stand and whom it did not
/// reach.
pub struct Report {
    pub digest: DigestSummary,
    pub progress: Progress,
    pub failures: Vec<Failure>,
}

/// The report on digest `id`, if there is one.
pub fn report(conn: &mut Conn, id: i64) -> anyhow::Result<Option<Report>> {
    let Some((digest, progress)) = standing(conn, id)? else {
        return Ok(None);
    };
    // The counts say whether there is any failure to list.
    let failures = match progress.failed {
        0 => Vec::new(),
        _ => failures(conn, id)?,
    };
    Ok(Some(Report {
        digest,
        progress,
        failures,
    }))
}
