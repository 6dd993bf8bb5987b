//! The `feeds` table: the site's feeds beside `FEED_URL` (one per section is how most
//! CMSs publish them), polled on `FEED_CRON`. Each feed's conditional-GET state is kept
//! by its URL in `app_settings` (`feed:URL:etag`, `feed:URL:last-modified`), as
//! FEED_URL's is.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::Conn;
use super::schema::feeds;

/// A feed row.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = feeds)]
pub struct Feed {
    pub id: i64,
    pub url: String,
    /// Added to every article the feed brings.
    pub section: Option<String>,
    #[serde(serialize_with = "super::utc::serialize")]
    pub created_at: NaiveDateTime,
}

/// Every feed, oldest first.
pub fn all(conn: &mut Conn) -> anyhow::Result<Vec<Feed>> {
    Ok(feeds::table
        .order(feeds::id.asc())
        .select(Feed::as_select())
        .load(conn)?)
}

/// Adds a feed; `None` when one with that URL exists (the caller's transaction is
/// exclusive, so the check holds).
pub fn insert(
    conn: &mut Conn,
    url: &str,
    section: Option<&str>,
    now: NaiveDateTime,
) -> anyhow::Result<Option<Feed>> {
    let taken: Option<i64> = feeds::table
        .filter(feeds::url.eq(url))
        .select(feeds::id)
        .first(conn)
        .optional()?;
    if taken.is_some() {
        return Ok(None);
    }
    let id: i64 = diesel::insert_into(feeds::table)
        .values((
            feeds::url.eq(url),
            feeds::section.eq(section),
            feeds::created_at.eq(now),
        ))
        .returning(feeds::id)
        .get_result(conn)?;
    Ok(feeds::table
        .find(id)
        .select(Feed::as_select())
        .first(conn)
        .optional()?)
}

/// Removes feed `id` and its conditional-GET state; its articles stay. Returns whether
/// there was such a feed.
pub fn delete(conn: &mut Conn, id: i64) -> anyhow::Result<bool> {
    let Some(url) = feeds::table
        .find(id)
        .select(feeds::url)
        .first::<String>(conn)
        .optional()?
    else {
        return Ok(false);
    };
    diesel::delete(feeds::table.find(id)).execute(conn)?;
    for key in conditional_get_keys(&url) {
        super::app_settings::set(conn, &key, None)?;
    }
    Ok(true)
}

/// Where the `ETag` and the `Last-Modified` of the last poll of `url` are kept.
pub fn conditional_get_keys(url: &str) -> [String; 2] {
    [
        format!("feed:{url}:etag"),
        format!("feed:{url}:last-modified"),
    ]
}
