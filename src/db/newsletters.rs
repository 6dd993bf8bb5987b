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
