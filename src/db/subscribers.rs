//! The `subscribers` and `confirmation_tokens` tables. The rules that change them
//! (sign-up, confirmation, leaving, bounces) are in `service`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::Conn;
use super::schema::{confirmation_tokens, subscribers};
use crate::domain::{EmailAddress, SubscriberName, SubscriberStatus};
use crate::i18n::Language;

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
    /// `en`, `ru` or `kk`; `None` for readers from before it was kept (DEFAULT_LANGUAGE).
    pub language: Option<String>,
}

impl Subscriber {
    /// The language of the reader's mail and pages.
    pub fn language(&self, default: Language) -> Language {
        self.language
            .as_deref()
            .and_then(Language::parse)
            .unwrap_or(default)
    }
}

impl Subscriber {
    pub fn status(&self) -> SubscriberStatus {
        self.status
    }
}

/// Inserts a pending subscriber; returns its id.
pub fn insert_pending(
    conn: &mut Conn,
    email: &EmailAddress,
    name: Option<&str>,
    language: Option<Language>,
    now: NaiveDateTime,
) -> anyhow::Result<i64> {
    Ok(diesel::insert_into(subscribers::table)
        .values((
            subscribers::email.eq(email.as_str()),
            subscribers::name.eq(name),
            subscribers::language.eq(language.map(Language::code)),
            subscribers::status.eq(SubscriberStatus::Pending.as_str()),
            subscribers::created_at.eq(now),
            subscribers::updated_at.eq(now),
        ))
        .returning(subscribers::id)
        .get_result(conn)?)
}

/// Sets a subscriber back to pending, changing nothing else.
pub fn reopen(conn: &mut Conn, id: i64, now: NaiveDateTime) -> anyhow::Result<()> {
    diesel::update(subscribers::table.find(id))
        .set((
            subscribers::status.eq(SubscriberStatus::Pending.as_str()),
            subscribers::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sets the language of a reader's mail and pages.
pub fn set_language(conn: &mut Conn, id: i64, language: Language) -> anyhow::Result<()> {
    diesel::update(subscribers::table.find(id))
        .set(subscribers::language.eq(language.code()))
        .execute(conn)?;
    Ok(())
}

/// Marks a subscriber confirmed under `name`.
pub fn mark_confirmed(
    conn: &mut Conn,
    id: i64,
    name: Option<&str>,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    diesel::update(subscribers::table.find(id))
        .set((
            subscribers::status.eq(SubscriberStatus::Confirmed.as_str()),
            subscribers::name.eq(name),
            subscribers::confirmed_at.eq(now),
            subscribers::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks a subscriber unsubscribed.
pub fn mark_unsubscribed(conn: &mut Conn, id: i64, now: NaiveDateTime) -> anyhow::Result<()> {
    diesel::update(subscribers::table.find(id))
        .set((
            subscribers::status.eq(SubscriberStatus::Unsubscribed.as_str()),
            subscribers::unsubscribed_at.eq(now),
            subscribers::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Clears the run of hard bounces of those of `ids` that have one.
pub fn clear_hard_bounces(conn: &mut Conn, ids: &[i64]) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(
        subscribers::table
            .filter(subscribers::id.eq_any(ids))
            .filter(subscribers::hard_bounces.gt(0)),
    )
    .set(subscribers::hard_bounces.eq(0))
    .execute(conn)?;
    Ok(())
}

/// Adds one to a subscriber's run of hard bounces; returns the run's new length (0
/// when there is no such subscriber).
pub fn add_hard_bounce(conn: &mut Conn, id: i64, now: NaiveDateTime) -> anyhow::Result<i32> {
    Ok(diesel::update(subscribers::table.find(id))
        .set((
            subscribers::hard_bounces.eq(subscribers::hard_bounces + 1),
            subscribers::updated_at.eq(now),
        ))
        .returning(subscribers::hard_bounces)
        .get_result(conn)
        .optional()?
        .unwrap_or(0))
}

/// Marks a confirmed subscriber bounced; `false` when it was not confirmed.
pub fn mark_bounced(conn: &mut Conn, id: i64) -> anyhow::Result<bool> {
    let changed = diesel::update(
        subscribers::table
            .find(id)
            .filter(subscribers::status.eq(SubscriberStatus::Confirmed.as_str())),
    )
    .set(subscribers::status.eq(SubscriberStatus::Bounced.as_str()))
    .execute(conn)?;
    Ok(changed == 1)
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

/// Whether any subscriber is confirmed.
pub fn any_confirmed(conn: &mut Conn) -> anyhow::Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        subscribers::table.filter(subscribers::status.eq(SubscriberStatus::Confirmed.as_str())),
    ))
    .get_result(conn)?)
}

/// The highest reader id so far (readers who sign up later get higher ones).
pub fn last_id(conn: &mut Conn) -> anyhow::Result<Option<i64>> {
    Ok(subscribers::table
        .select(diesel::dsl::max(subscribers::id))
        .first(conn)?)
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

/// A confirmation token as stored, with the subscriber it belongs to.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    /// The name typed with the sign-up the link answers, if one was.
    pub subscriber_name: Option<String>,
    /// The language of the form of that sign-up, if it had one.
    pub subscriber_language: Option<String>,
    pub subscriber: Subscriber,
}

/// A token's row as read: expiry, use, the typed name and language, and the reader.
type TokenRow = (
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
    Option<String>,
    Subscriber,
);

/// The confirmation token whose hash is `token_hash`, if there is one.
pub fn find_token(conn: &mut Conn, token_hash: &str) -> anyhow::Result<Option<StoredToken>> {
    let row: Option<TokenRow> = confirmation_tokens::table
        .inner_join(subscribers::table)
        .filter(confirmation_tokens::token_hash.eq(token_hash))
        .select((
            confirmation_tokens::expires_at,
            confirmation_tokens::used_at,
            confirmation_tokens::subscriber_name,
            confirmation_tokens::subscriber_language,
            Subscriber::as_select(),
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(expires_at, used_at, subscriber_name, subscriber_language, subscriber)| StoredToken {
            expires_at,
            used_at,
            subscriber_name,
            subscriber_language,
            subscriber,
        },
    ))
}

/// Ends every confirmation link of a subscriber that still works.
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
    insert_typed_confirmation_token(
        conn,
        subscriber_id,
        token_hash,
        (name, None),
        now,
        expires_at,
    )
}

/// [`insert_confirmation_token`] with the name and the language of the sign-up's form,
/// both of which confirming the token gives the reader.
pub fn insert_typed_confirmation_token(
    conn: &mut Conn,
    subscriber_id: i64,
    token_hash: &str,
    (name, language): (Option<&str>, Option<&str>),
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> anyhow::Result<()> {
    diesel::insert_into(confirmation_tokens::table)
        .values((
            confirmation_tokens::token_hash.eq(token_hash),
            confirmation_tokens::subscriber_id.eq(subscriber_id),
            confirmation_tokens::subscriber_name.eq(name),
            confirmation_tokens::subscriber_language.eq(language),
            confirmation_tokens::created_at.eq(now),
            confirmation_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
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
    search_on(conn, status, text, None, page, per_page)
}

/// Like [`search`], keeping only the readers with a subscription (of any status) to
/// newsletter `newsletter_id`, when one is given.
pub fn search_on(
    conn: &mut Conn,
    status: Option<SubscriberStatus>,
    text: Option<&str>,
    newsletter_id: Option<i64>,
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
        if let Some(newsletter_id) = newsletter_id {
            use super::schema::subscriptions;
            query = query.filter(
                subscribers::id.eq_any(
                    subscriptions::table
                        .filter(subscriptions::newsletter_id.eq(newsletter_id))
                        .select(subscriptions::subscriber_id),
                ),
            );
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

/// Inserts a confirmed subscriber, on the default newsletter, unless the address
/// exists; its id when inserted.
pub fn import_confirmed(
    conn: &mut Conn,
    email: &EmailAddress,
    name: Option<&SubscriberName>,
    now: NaiveDateTime,
) -> anyhow::Result<Option<i64>> {
    import_confirmed_into(
        conn,
        email,
        name,
        &[super::newsletters::DEFAULT_NEWSLETTER_ID],
        now,
    )
}

/// [`import_confirmed`], the new reader confirmed on the newsletters `newsletter_ids`
/// (an address already present is left as it is, its newsletters too).
pub fn import_confirmed_into(
    conn: &mut Conn,
    email: &EmailAddress,
    name: Option<&SubscriberName>,
    newsletter_ids: &[i64],
    now: NaiveDateTime,
) -> anyhow::Result<Option<i64>> {
    // A look by the address, then plain inserts: each prepared once per connection,
    // where an insert `ON CONFLICT DO NOTHING` is compiled afresh for every row (most of
    // an import's time). Imports run in an exclusive transaction, so no sign-up adds the
    // address between the look and the insert.
    let present: bool = diesel::select(diesel::dsl::exists(
        subscribers::table.filter(subscribers::email.eq(email.as_str())),
    ))
    .get_result(conn)?;
    if present {
        return Ok(None);
    }
    let id: i64 = diesel::insert_into(subscribers::table)
        .values((
            subscribers::email.eq(email.as_str()),
            subscribers::name.eq(name.map(SubscriberName::as_str)),
            subscribers::status.eq(SubscriberStatus::Confirmed.as_str()),
            subscribers::created_at.eq(now),
            subscribers::updated_at.eq(now),
            subscribers::confirmed_at.eq(now),
        ))
        .returning(subscribers::id)
        .get_result(conn)?;
    for newsletter_id in newsletter_ids {
        super::subscriptions::add_for_new(
            conn,
            id,
            *newsletter_id,
            crate::domain::SubscriptionStatus::Confirmed,
            now,
        )?;
    }
    Ok(Some(id))
}

/// Deletes a subscriber; the foreign keys cascade to their confirmation tokens, queued
/// mail and deliveries. `false` when there was no such subscriber.
pub fn delete(conn: &mut Conn, id: i64) -> anyhow::Result<bool> {
    Ok(diesel::delete(subscribers::table.find(id)).execute(conn)? == 1)
}
