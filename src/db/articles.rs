//! The `articles` table: articles waiting for a digest, and those already sent.

use chrono::NaiveDateTime;
use diesel::dsl::{Asc, Desc, IsNull};
use diesel::prelude::*;
use serde::Serialize;

use super::Conn;
use super::newsletters::{DEFAULT_NEWSLETTER_ID, Newsletter};
use super::schema::{articles, digests, newsletter_articles};
use crate::domain::NewArticle;
use crate::domain::article::sections_match;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = articles)]
pub struct Article {
    pub id: i64,
    pub url: String,
    #[serde(skip)]
    pub guid: Option<String>,
    pub title: String,
    pub summary: Option<String>,
    #[serde(skip)]
    pub body: Option<String>,
    pub author: Option<String>,
    #[serde(serialize_with = "super::utc::serialize_option")]
    pub published_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "super::utc::serialize")]
    pub created_at: NaiveDateTime,
    pub digest_id: Option<i64>,
    #[serde(serialize_with = "super::utc::serialize_option")]
    pub excluded_at: Option<NaiveDateTime>,
    /// The editor's place for it in the next digest (1 leads); `None` until placed.
    #[serde(skip)]
    pub story_order: Option<i32>,
    /// The lead image, an https URL (see `domain::article::image_address`).
    pub image_url: Option<String>,
    /// Its sections, lower-case, separated by `,` (a list in JSON).
    #[serde(serialize_with = "serialize_sections")]
    pub sections: String,
}

fn serialize_sections<S: serde::Serializer>(sections: &str, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(sections.split(',').filter(|name| !name.is_empty()))
}

/// Stores one article unless one with the same URL (or feed guid) exists, in its own
/// transaction. Returns the article's id and whether it was new.
pub fn add(
    conn: &mut Conn,
    article: &NewArticle,
    now: NaiveDateTime,
) -> anyhow::Result<(i64, bool)> {
    crate::db::exclusive(conn, |conn| insert_if_new(conn, article, now))
}

/// Like [`add`], inside the caller's transaction (a feed imports all its entries in one).
pub fn insert_if_new(
    conn: &mut Conn,
    article: &NewArticle,
    now: NaiveDateTime,
) -> anyhow::Result<(i64, bool)> {
    if let Some(id) = find_existing(conn, article)? {
        add_sections(conn, id, &article.sections)?;
        return Ok((id, false));
    }
    let id = diesel::insert_into(articles::table)
        .values((
            articles::url.eq(&article.url),
            articles::guid.eq(&article.guid),
            articles::title.eq(&article.title),
            articles::summary.eq(&article.summary),
            articles::body.eq(&article.body),
            articles::author.eq(&article.author),
            articles::published_at.eq(article.published_at),
            articles::image_url.eq(&article.image_url),
            articles::sections.eq(article.sections.join(",")),
            articles::created_at.eq(now),
        ))
        .returning(articles::id)
        .get_result(conn)?;
    Ok((id, true))
}

/// Adds `sections` to article `id`'s (the same story brought again, by another feed):
/// each section once, in the order they came.
fn add_sections(conn: &mut Conn, id: i64, sections: &[String]) -> anyhow::Result<()> {
    if sections.is_empty() {
        return Ok(());
    }
    let stored: String = articles::table
        .find(id)
        .select(articles::sections)
        .first(conn)?;
    let mut merged: Vec<&str> = stored.split(',').filter(|s| !s.is_empty()).collect();
    for section in sections {
        if !merged.contains(&section.as_str()) {
            merged.push(section);
        }
    }
    let merged = merged.join(",");
    if merged != stored {
        diesel::update(articles::table.find(id))
            .set(articles::sections.eq(merged))
            .execute(conn)?;
    }
    Ok(())
}

/// Article `id`, if there is one.
pub fn find(conn: &mut Conn, id: i64) -> anyhow::Result<Option<Article>> {
    Ok(articles::table
        .find(id)
        .select(Article::as_select())
        .first(conn)
        .optional()?)
}

fn find_existing(conn: &mut Conn, article: &NewArticle) -> anyhow::Result<Option<i64>> {
    let mut query = articles::table
        .select(articles::id)
        .filter(articles::url.eq(&article.url))
        .into_boxed();
    if let Some(guid) = &article.guid {
        query = query.or_filter(articles::guid.eq(guid));
    }
    Ok(query.first(conn).optional()?)
}

type DigestOrder = (
    Asc<IsNull<articles::story_order>>,
    Asc<articles::story_order>,
    Asc<IsNull<articles::published_at>>,
    Desc<articles::published_at>,
    Desc<articles::id>,
);

/// The order of a digest's stories: the ones the editor placed first, in their places;
/// then newest first, as a news digest reads, with articles without a date after the
/// dated ones, the latest added first. (SQLite sorts NULL first and PostgreSQL last, so
/// it is said outright.)
fn digest_order() -> DigestOrder {
    (
        articles::story_order.is_null().asc(),
        articles::story_order.asc(),
        articles::published_at.is_null().asc(),
        articles::published_at.desc(),
        articles::id.desc(),
    )
}

/// Articles for the next digest, in the order it lists them: not yet in a digest and not
/// left out.
pub fn waiting(conn: &mut Conn) -> anyhow::Result<Vec<Article>> {
    Ok(articles::table
        .filter(articles::digest_id.is_null())
        .filter(articles::excluded_at.is_null())
        .order(digest_order())
        .select(Article::as_select())
        .load(conn)?)
}

/// How far back the first digest of a newsletter reaches.
pub const FIRST_DIGEST_REACH: chrono::Duration = chrono::Duration::days(7);

/// Articles for `newsletter`'s next digest, in the order it lists them: those in its
/// sections (every one when it names none) that are not left out and that it has not
/// sent. The default newsletter takes every such article, as the one list always did;
/// another takes those published (or added) in the [`FIRST_DIGEST_REACH`] before its
/// first digest (before `now` for its first) or since. "Not sent" is what decides, not
/// "since the previous digest": stories a digest had no room for, and an article a feed
/// import stamped before a digest began but committed after it, wait for the next one.
pub fn waiting_for(
    conn: &mut Conn,
    newsletter: &Newsletter,
    now: NaiveDateTime,
) -> anyhow::Result<Vec<Article>> {
    let candidates = if newsletter.id == DEFAULT_NEWSLETTER_ID {
        waiting(conn)?
    } else {
        let first: Option<NaiveDateTime> = digests::table
            .filter(digests::newsletter_id.eq(newsletter.id))
            .select(diesel::dsl::min(digests::created_at))
            .first(conn)?;
        let since = first.unwrap_or(now) - FIRST_DIGEST_REACH;
        let sent = newsletter_articles::table
            .filter(newsletter_articles::newsletter_id.eq(newsletter.id))
            .select(newsletter_articles::article_id);
        articles::table
            .filter(articles::excluded_at.is_null())
            .filter(articles::id.ne_all(sent))
            .filter(
                articles::published_at
                    .ge(since)
                    .or(articles::created_at.ge(since)),
            )
            .order(digest_order())
            .select(Article::as_select())
            .load(conn)?
    };
    Ok(candidates
        .into_iter()
        .filter(|a| sections_match(&newsletter.sections, &a.sections))
        .collect())
}

/// The articles a digest carried (of the default newsletter, or of another).
pub fn in_digest(conn: &mut Conn, digest_id: i64) -> anyhow::Result<Vec<Article>> {
    let of_another = newsletter_articles::table
        .filter(newsletter_articles::digest_id.eq(digest_id))
        .select(newsletter_articles::article_id);
    Ok(articles::table
        .filter(
            articles::digest_id
                .eq(digest_id)
                .or(articles::id.eq_any(of_another)),
        )
        .order(digest_order())
        .select(Article::as_select())
        .load(conn)?)
}

/// Marks `ids` as sent by `newsletter_id` in `digest_id`; returns how many were taken.
/// The caller's transaction read them as waiting for that newsletter.
pub fn assign_for(
    conn: &mut Conn,
    newsletter_id: i64,
    ids: &[i64],
    digest_id: i64,
) -> anyhow::Result<usize> {
    if newsletter_id == DEFAULT_NEWSLETTER_ID {
        return assign_to_digest(conn, ids, digest_id);
    }
    let rows: Vec<_> = ids
        .iter()
        .map(|&id| {
            (
                newsletter_articles::newsletter_id.eq(newsletter_id),
                newsletter_articles::article_id.eq(id),
                newsletter_articles::digest_id.eq(digest_id),
            )
        })
        .collect();
    let insert = diesel::insert_into(newsletter_articles::table).values(&rows);
    Ok(crate::on_engine!(conn, |c| insert.execute(c))?)
}

/// Puts `ids` back among the waiting articles, out of `digest_id` (what its render left
/// for the next digest); they keep their place in the editor's order.
pub fn put_back(conn: &mut Conn, digest_id: i64, ids: &[i64]) -> anyhow::Result<usize> {
    let of_another = diesel::delete(
        newsletter_articles::table
            .filter(newsletter_articles::digest_id.eq(digest_id))
            .filter(newsletter_articles::article_id.eq_any(ids)),
    )
    .execute(conn)?;
    Ok(of_another
        + diesel::update(
            articles::table
                .filter(articles::digest_id.eq(digest_id))
                .filter(articles::id.eq_any(ids)),
        )
        .set(articles::digest_id.eq(None::<i64>))
        .execute(conn)?)
}

/// Marks `ids` as sent in `digest_id`; only those still waiting, so two digests can
/// never take the same article. Returns how many were taken.
pub fn assign_to_digest(conn: &mut Conn, ids: &[i64], digest_id: i64) -> anyhow::Result<usize> {
    Ok(diesel::update(
        articles::table
            .filter(articles::id.eq_any(ids))
            .filter(articles::digest_id.is_null()),
    )
    .set(articles::digest_id.eq(digest_id))
    .execute(conn)?)
}

/// Articles the editor left out and that have not gone out since.
pub fn left_out(conn: &mut Conn) -> anyhow::Result<Vec<Article>> {
    Ok(articles::table
        .filter(articles::digest_id.is_null())
        .filter(articles::excluded_at.is_not_null())
        .order(articles::id.desc())
        .select(Article::as_select())
        .load(conn)?)
}

/// Leaves a waiting article out of the next digest (`true`), or puts it back (`false`).
/// Returns whether a waiting article was changed.
pub fn set_left_out(
    conn: &mut Conn,
    id: i64,
    left_out: bool,
    now: NaiveDateTime,
) -> anyhow::Result<bool> {
    let changed = diesel::update(
        articles::table
            .find(id)
            .filter(articles::digest_id.is_null()),
    )
    .set((
        articles::excluded_at.eq(left_out.then_some(now)),
        // A story put back takes no stale place: it goes where its date puts it.
        articles::story_order.eq(None::<i32>),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Where the editor moves a waiting story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    /// To the top: the digest's lead story.
    Lead,
}

/// Moves a waiting story one place up or down, or to the lead, and writes down the
/// whole resulting order, so that later arrivals (unplaced) follow it instead of
/// reshuffling it. Returns whether `id` is a waiting article.
pub fn reorder(conn: &mut Conn, id: i64, to: Move) -> anyhow::Result<bool> {
    crate::db::exclusive(conn, |conn| {
        let mut order: Vec<i64> = articles::table
            .filter(articles::digest_id.is_null())
            .filter(articles::excluded_at.is_null())
            .order(digest_order())
            .select(articles::id)
            .load(conn)?;
        let Some(at) = order.iter().position(|&a| a == id) else {
            return Ok(false);
        };
        match to {
            Move::Up if at > 0 => order.swap(at, at - 1),
            Move::Down if at + 1 < order.len() => order.swap(at, at + 1),
            Move::Lead => {
                let story = order.remove(at);
                order.insert(0, story);
            }
            // Already first (or last): nothing moves.
            Move::Up | Move::Down => {}
        }
        for (place, article) in (1..).zip(order) {
            diesel::update(articles::table.find(article))
                .set(articles::story_order.eq(Some(place)))
                .execute(conn)?;
        }
        Ok(true)
    })
}
