//! The `subscribers` table: sign-up, confirmation, unsubscribe, listing and import.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{confirmation_tokens, subscribers};
use super::{Conn, outgoing_emails};
use crate::domain::{EmailAddress, SubscriberName, SubscriberStatus};

/// A subscriber row.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = subscribers)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    /// An unknown value in the column fails the query rather than passing for another.
    #[diesel(deserialize_as = String)]
    pub status: SubscriberStatus,
    #[serde(serialize_with = "super::utc::serialize")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "super::utc::serialize")]
    pub updated_at: NaiveDateTime,
    #[serde(serialize_with = "super::utc::serialize_option")]
    pub confirmed_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "super::utc::serialize_option")]
    pub unsubscribed_at: Option<NaiveDateTime>,
    #[serde(skip)]
    pub hard_bounces: i32,
}

impl Subscriber {
    pub fn status(&self) -> SubscriberStatus {
        self.status
    }
}

/// What a sign-up did. The page shown is the same for all but `TooManyMails`, so the
/// form never tells whether an address is already subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupOutcome {
    /// A confirmation mail is queued.
    ConfirmationQueued,
    /// Already confirmed: nothing to do.
    AlreadyConfirmed,
    /// This address was asked for as many confirmations today as allowed.
    TooManyMails,
}

/// Records a sign-up and queues its confirmation mail, in one transaction.
pub fn sign_up(
    conn: &mut Conn,
    email: &EmailAddress,
    name: Option<&SubscriberName>,
    max_mails_per_day: u32,
    now: NaiveDateTime,
) -> anyhow::Result<SignupOutcome> {
    crate::db::exclusive(conn, |conn| {
        // The daily limit applies whatever the address's status, so a 429 tells nobody
        // whether an address is subscribed.
        let day_ago = now - chrono::Duration::days(1);
        if outgoing_emails::confirmation_requests_since(conn, email.as_str(), day_ago)?
            >= i64::from(max_mails_per_day)
        {
            return Ok(SignupOutcome::TooManyMails);
        }
        let existing = find_by_email(conn, email)?;
        if let Some(subscriber) = existing
            .as_ref()
            .filter(|s| s.status() == SubscriberStatus::Confirmed)
        {
            // Nothing to send, but the request counts towards the limit like any other.
            outgoing_emails::record_unsent_confirmation(conn, subscriber.id, email.as_str(), now)?;
            return Ok(SignupOutcome::AlreadyConfirmed);
        }
        let name = name.map(SubscriberName::as_str);
        let subscriber_id = match existing {
            None => diesel::insert_into(subscribers::table)
                .values((
                    subscribers::email.eq(email.as_str()),
                    subscribers::name.eq(name),
                    subscribers::status.eq(SubscriberStatus::Pending.as_str()),
                    subscribers::created_at.eq(now),
                    subscribers::updated_at.eq(now),
                ))
                .returning(subscribers::id)
                .get_result(conn)?,
            Some(subscriber) => {
                // Pending: a fresh link. Unsubscribed or bounced: back through the opt-in.
                // The name stays as it is: anyone can type any address into the form,
                // so an unconfirmed form never changes what is stored for a reader.
                diesel::update(subscribers::table.find(subscriber.id))
                    .set((
                        subscribers::status.eq(SubscriberStatus::Pending.as_str()),
                        subscribers::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                subscriber.id
            }
        };
        outgoing_emails::enqueue_confirmation(conn, subscriber_id, email.as_str(), name, now)?;
        Ok(SignupOutcome::ConfirmationQueued)
    })
}

/// Brings addresses stored before every address went through UTS #46 into the one
/// form [`EmailAddress::parse`] gives now, once per database (only non-ASCII addresses
/// can differ). One whose new form another subscriber already has is left as it is and
/// named in the log, for the admin to merge or erase: nobody is dropped silently.
pub fn normalise_stored_addresses(conn: &mut Conn) -> anyhow::Result<()> {
    const DONE: &str = "addresses_normalised";
    if super::app_settings::get(conn, DONE)?.is_some() {
        return Ok(());
    }
    crate::db::exclusive(conn, |conn| {
        // SQLite's GLOB; run on SQLite only (see `Db::migrate`).
        let non_ascii: Vec<(i64, String)> = subscribers::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "email GLOB '*[^ -~]*'",
            ))
            .select((subscribers::id, subscribers::email))
            .load(conn)?;
        for (id, stored) in non_ascii {
            let Ok(normal) = EmailAddress::parse(&stored) else {
                continue;
            };
            if normal.as_str() == stored {
                continue;
            }
            if find_by_email(conn, &normal)?.is_some() {
                tracing::warn!(
                    subscriber = id,
                    "subscriber {id} <{stored}> is the same mailbox as another subscriber \
                     <{normal}>; left as it is: merge or erase one of them"
                );
                continue;
            }
            diesel::update(subscribers::table.find(id))
                .set(subscribers::email.eq(normal.as_str()))
                .execute(conn)?;
        }
        super::app_settings::set(conn, DONE, Some("uts46"))
    })
}

pub fn find(conn: &mut Conn, id: i64) -> anyhow::Result<Option<Subscriber>> {
    Ok(subscribers::table
        .find(id)
        .select(Subscriber::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_email(conn: &mut Conn, email: &EmailAddress) -> anyhow::Result<Option<Subscriber>> {
    Ok(subscribers::table
        .filter(subscribers::email.eq(email.as_str()))
        .select(Subscriber::as_select())
        .first(conn)
        .optional()?)
}

/// What a confirmation token leads to.
#[derive(Debug, Clone)]
pub enum TokenLookup {
    /// The token works; the subscriber it belongs to.
    Valid(Subscriber),
    /// Used before, and the subscriber is confirmed: confirming again changes nothing.
    AlreadyConfirmed(Subscriber),
    /// Past its expiry, or used and no longer leading to a subscription.
    Expired,
    Unknown,
}

/// Looks a confirmation token up by its hash; changes nothing.
pub fn lookup_token(
    conn: &mut Conn,
    token_hash: &str,
    now: NaiveDateTime,
) -> anyhow::Result<TokenLookup> {
    let row: Option<(NaiveDateTime, Option<NaiveDateTime>, Subscriber)> =
        confirmation_tokens::table
            .inner_join(subscribers::table)
            .filter(confirmation_tokens::token_hash.eq(token_hash))
            .select((
                confirmation_tokens::expires_at,
                confirmation_tokens::used_at,
                Subscriber::as_select(),
            ))
            .first(conn)
            .optional()?;
    Ok(match row {
        None => TokenLookup::Unknown,
        Some((_, Some(_), subscriber)) if subscriber.status() == SubscriberStatus::Confirmed => {
            TokenLookup::AlreadyConfirmed(subscriber)
        }
        Some((_, Some(_), _)) => TokenLookup::Expired,
        Some((expires_at, None, _)) if expires_at <= now => TokenLookup::Expired,
        Some((_, None, subscriber)) if subscriber.status() == SubscriberStatus::Confirmed => {
            TokenLookup::AlreadyConfirmed(subscriber)
        }
        Some((_, None, subscriber)) if subscriber.status() == SubscriberStatus::Pending => {
            TokenLookup::Valid(subscriber)
        }
        // Unsubscribed or bounced since this link was sent: it no longer subscribes.
        Some(_) => TokenLookup::Expired,
    })
}

/// Confirms the subscriber behind a token; idempotent. Returns what the token led to
/// before this call, so the caller can show the right page.
pub fn confirm(
    conn: &mut Conn,
    token_hash: &str,
    now: NaiveDateTime,
) -> anyhow::Result<TokenLookup> {
    crate::db::exclusive(conn, |conn| {
        let lookup = lookup_token(conn, token_hash, now)?;
        if let TokenLookup::Valid(subscriber) = &lookup {
            // The name typed with the sign-up this link answers, if one was.
            let name: Option<String> = confirmation_tokens::table
                .find(token_hash)
                .select(confirmation_tokens::subscriber_name)
                .first(conn)?;
            diesel::update(subscribers::table.find(subscriber.id))
                .set((
                    subscribers::status.eq(SubscriberStatus::Confirmed.as_str()),
                    subscribers::name.eq(name.or_else(|| subscriber.name.clone())),
                    subscribers::confirmed_at.eq(now),
                    subscribers::updated_at.eq(now),
                ))
                .execute(conn)?;
            end_open_tokens(conn, subscriber.id, now)?;
        }
        Ok(lookup)
    })
}

/// Ends every confirmation link of a subscriber that still works. Called on every
/// change after which an old link must not act again: confirming (the other links of
/// that sign-up), leaving, bouncing. A link ended here is refused even once the address
/// signs up again; only the links mailed after that work.
pub fn end_open_tokens(
    conn: &mut Conn,
    subscriber_id: i64,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    diesel::update(
        confirmation_tokens::table
            .filter(confirmation_tokens::subscriber_id.eq(subscriber_id))
            .filter(confirmation_tokens::used_at.is_null()),
    )
    .set(confirmation_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Stores the hash of a freshly minted confirmation token, with the name typed with the
/// sign-up it answers (which confirming it will give the reader).
pub fn insert_confirmation_token(
    conn: &mut Conn,
    subscriber_id: i64,
    token_hash: &str,
    name: Option<&str>,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> anyhow::Result<()> {
    diesel::insert_into(confirmation_tokens::table)
        .values((
            confirmation_tokens::token_hash.eq(token_hash),
            confirmation_tokens::subscriber_id.eq(subscriber_id),
            confirmation_tokens::subscriber_name.eq(name),
            confirmation_tokens::created_at.eq(now),
            confirmation_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Unsubscribes; idempotent. `None` when there is no such subscriber.
pub fn unsubscribe(
    conn: &mut Conn,
    id: i64,
    now: NaiveDateTime,
) -> anyhow::Result<Option<Subscriber>> {
    crate::db::exclusive(conn, |conn| {
        let Some(subscriber) = find(conn, id)? else {
            return Ok(None);
        };
        if subscriber.status() != SubscriberStatus::Unsubscribed {
            diesel::update(subscribers::table.find(id))
                .set((
                    subscribers::status.eq(SubscriberStatus::Unsubscribed.as_str()),
                    subscribers::unsubscribed_at.eq(now),
                    subscribers::updated_at.eq(now),
                ))
                .execute(conn)?;
            // A confirmation still queued must not go out after the reader left, and
            // one already mailed must not bring them back.
            outgoing_emails::cancel_queued_for(conn, id)?;
            end_open_tokens(conn, id, now)?;
        }
        find(conn, id)
    })
}

/// One page of subscribers, oldest first, with the total matching.
pub fn list(
    conn: &mut Conn,
    status: Option<SubscriberStatus>,
    page: i64,
    per_page: i64,
) -> anyhow::Result<(Vec<Subscriber>, i64)> {
    search(conn, status, None, page, per_page)
}

/// Like [`list`], keeping only subscribers whose address or name contains `text`
/// (case-insensitive for ASCII).
pub fn search(
    conn: &mut Conn,
    status: Option<SubscriberStatus>,
    text: Option<&str>,
    page: i64,
    per_page: i64,
) -> anyhow::Result<(Vec<Subscriber>, i64)> {
    let pattern = text.map(|t| {
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{}%", escaped.to_lowercase())
    });
    let filtered = || {
        let mut query = subscribers::table.into_boxed();
        if let Some(status) = status {
            query = query.filter(subscribers::status.eq(status.as_str()));
        }
        if let Some(pattern) = &pattern {
            // Case-insensitive on both engines (SQLite's LIKE is, PostgreSQL's is not);
            // addresses are stored lower-case.
            query = query.filter(
                subscribers::email
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(subscribers::name).like(pattern.clone()).escape('\\')),
            );
        }
        query
    };
    let total = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order(subscribers::id.asc())
        .limit(per_page)
        .offset((page - 1).saturating_mul(per_page))
        .select(Subscriber::as_select())
        .load(conn)?;
    Ok((rows, total))
}

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>);

/// Every subscriber, in id order, for export.
pub fn all(conn: &mut Conn) -> anyhow::Result<Vec<Subscriber>> {
    Ok(subscribers::table
        .order(subscribers::id.asc())
        .select(Subscriber::as_select())
        .load(conn)?)
}

/// Inserts a confirmed subscriber unless the address exists; `true` when inserted.
pub fn import_confirmed(
    conn: &mut Conn,
    email: &EmailAddress,
    name: Option<&SubscriberName>,
    now: NaiveDateTime,
) -> anyhow::Result<bool> {
    let insert = diesel::insert_into(subscribers::table)
        .values((
            subscribers::email.eq(email.as_str()),
            subscribers::name.eq(name.map(SubscriberName::as_str)),
            subscribers::status.eq(SubscriberStatus::Confirmed.as_str()),
            subscribers::created_at.eq(now),
            subscribers::updated_at.eq(now),
            subscribers::confirmed_at.eq(now),
        ))
        .on_conflict(subscribers::email)
        .do_nothing();
    let inserted = crate::on_engine!(conn, |c| insert.execute(c))?;
    Ok(inserted == 1)
}

/// Erases a subscriber and everything about them (tokens, queued mail, deliveries) for
/// a GDPR erasure request. `false` when there was no such subscriber.
pub fn erase(conn: &mut Conn, id: i64) -> anyhow::Result<bool> {
    crate::db::exclusive(conn, |conn| {
        super::deliveries::uncount_for_subscriber(conn, id)?;
        // The foreign keys cascade to confirmation_tokens, outgoing_emails and deliveries.
        Ok(diesel::delete(subscribers::table.find(id)).execute(conn)? == 1)
    })
}

/// Queues a fresh confirmation for a pending subscriber (the admin's "resend");
/// `false` when the subscriber is not pending.
pub fn resend_confirmation(conn: &mut Conn, id: i64, now: NaiveDateTime) -> anyhow::Result<bool> {
    crate::db::exclusive(conn, |conn| {
        let Some(subscriber) = find(conn, id)? else {
            return Ok(false);
        };
        if subscriber.status() != SubscriberStatus::Pending {
            return Ok(false);
        }
        outgoing_emails::enqueue_confirmation(conn, id, &subscriber.email, None, now)?;
        Ok(true)
    })
}
