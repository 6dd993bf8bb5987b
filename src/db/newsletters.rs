//! The `newsletters` table: the lists a reader can be on (issue 11).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::Conn;
use super::schema::newsletters;

/// The newsletter an installation from before issue 11 was, and what a request that
/// names none means. The migration creates it with this id.
pub const DEFAULT_NEWSLETTER_ID: i64 = 1;

/// The default newsletter's slug.
pub const DEFAULT_SLUG: &str = "digest";

/// A newsletter row.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = newsletters)]
pub struct Newsletter {
    pub id: i64,
    pub slug: String,
    /// `None`: NEWSLETTER_NAME (the default newsletter's).
    pub name: Option<String>,
    pub description: String,
    /// `None`: DIGEST_CRON (the default newsletter's); `Some("")`: manual sends only.
    pub schedule: Option<String>,
    pub sections: String,
    pub public: bool,
    pub preselected: bool,
    pub archived: bool,
    #[serde(serialize_with = "super::utc::serialize")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "super::utc::serialize")]
    pub updated_at: NaiveDateTime,
    /// `Some("ru")`: the newsletter's digests speak Russian whatever the reader's
    /// language; `None`: each reader's own.
    pub language: Option<String>,
}

impl Newsletter {
    /// The article sections it takes, as a list; empty: every article.
    pub fn section_list(&self) -> Vec<String> {
        self.sections
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The cron string it runs on, `default_cron` (DIGEST_CRON) for one that follows
    /// the setting; `None` for manual sends only.
    pub fn cron<'a>(&'a self, default_cron: Option<&'a str>) -> Option<&'a str> {
        match self.schedule.as_deref() {
            None => default_cron,
            Some("") => None,
            Some(s) => Some(s),
        }
    }
}

/// The newsletter with `id`, if there is one.
pub fn find(conn: &mut Conn, id: i64) -> anyhow::Result<Option<Newsletter>> {
    Ok(newsletters::table
        .find(id)
        .select(Newsletter::as_select())
        .first(conn)
        .optional()?)
}

/// Every newsletter, archived ones too, in id order.
pub fn all(conn: &mut Conn) -> anyhow::Result<Vec<Newsletter>> {
    Ok(newsletters::table
        .order(newsletters::id.asc())
        .select(Newsletter::as_select())
        .load(conn)?)
}

/// The newsletters a reader can sign up for: public and not archived, in id order.
pub fn offered(conn: &mut Conn) -> anyhow::Result<Vec<Newsletter>> {
    Ok(newsletters::table
        .filter(newsletters::public.eq(true))
        .filter(newsletters::archived.eq(false))
        .order(newsletters::id.asc())
        .select(Newsletter::as_select())
        .load(conn)?)
}

/// Whether any newsletter but the default is being sent: while none is, the service
/// looks exactly as it did with one list.
pub fn several(conn: &mut Conn) -> anyhow::Result<bool> {
    let other: Option<i64> = newsletters::table
        .filter(newsletters::archived.eq(false))
        .filter(newsletters::id.ne(DEFAULT_NEWSLETTER_ID))
        .select(newsletters::id)
        .first(conn)
        .optional()?;
    Ok(other.is_some())
}

/// What a new newsletter is made of.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = newsletters)]
pub struct NewNewsletter {
    pub slug: String,
    pub name: Option<String>,
    pub description: String,
    pub schedule: Option<String>,
    pub sections: String,
    pub public: bool,
    pub preselected: bool,
    pub archived: bool,
    /// `None`: each reader's language.
    pub language: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Inserts a newsletter; returns its id.
pub fn insert(conn: &mut Conn, new: &NewNewsletter) -> anyhow::Result<i64> {
    Ok(diesel::insert_into(newsletters::table)
        .values(new)
        .returning(newsletters::id)
        .get_result(conn)?)
}

/// The newsletter with `slug`, archived or not.
pub fn find_by_slug(conn: &mut Conn, slug: &str) -> anyhow::Result<Option<Newsletter>> {
    Ok(newsletters::table
        .filter(newsletters::slug.eq(slug))
        .select(Newsletter::as_select())
        .first(conn)
        .optional()?)
}

/// Sets the fields of newsletter `id` that `changes` names; `false` when there is no
/// such newsletter.
pub fn update(
    conn: &mut Conn,
    id: i64,
    changes: &crate::domain::newsletter::NewsletterChanges,
    now: NaiveDateTime,
) -> anyhow::Result<bool> {
    let changed = diesel::update(newsletters::table.find(id))
        .set(Changeset {
            slug: changes.slug.clone(),
            name: changes.name.clone().map(Some),
            description: changes.description.clone(),
            schedule: changes.schedule.clone().map(Some),
            sections: changes.sections.clone(),
            public: changes.public,
            preselected: changes.preselected,
            language: changes.language.clone(),
            updated_at: now,
        })
        .execute(conn)?;
    Ok(changed == 1)
}

/// The columns [`update`] may set; `None` leaves one as it is.
#[derive(AsChangeset)]
#[diesel(table_name = newsletters)]
struct Changeset {
    slug: Option<String>,
    name: Option<Option<String>>,
    description: Option<String>,
    schedule: Option<Option<String>>,
    sections: Option<String>,
    public: Option<bool>,
    preselected: Option<bool>,
    language: Option<Option<String>>,
    updated_at: NaiveDateTime,
}

/// Archives newsletter `id`: no longer offered or sent; its subscriptions and digests
/// stay.
pub fn archive(conn: &mut Conn, id: i64, now: NaiveDateTime) -> anyhow::Result<()> {
    diesel::update(newsletters::table.find(id))
        .set((
            newsletters::archived.eq(true),
            newsletters::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// How many newsletters are not archived.
pub fn live_count(conn: &mut Conn) -> anyhow::Result<i64> {
    Ok(newsletters::table
        .filter(newsletters::archived.eq(false))
        .count()
        .get_result(conn)?)
}

/// The newsletter a digest may be sent (or previewed) for: the one with `slug`, or the
/// default one when none is named; `None` for an unknown or archived one.
pub fn sendable(conn: &mut Conn, slug: Option<&str>) -> anyhow::Result<Option<Newsletter>> {
    let found = match slug {
        Some(slug) => find_by_slug(conn, slug)?,
        None => find(conn, DEFAULT_NEWSLETTER_ID)?,
    };
    Ok(found.filter(|n| !n.archived))
}

/// Every newsletter that is not archived, in id order.
pub fn active(conn: &mut Conn) -> anyhow::Result<Vec<Newsletter>> {
    Ok(newsletters::table
        .filter(newsletters::archived.eq(false))
        .order(newsletters::id.asc())
        .select(Newsletter::as_select())
        .load(conn)?)
}
