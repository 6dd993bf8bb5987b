//! Making a digest: one transaction takes every waiting article; the mail is rendered
//! once, outside any lock, and stored; then one delivery per confirmed reader is queued,
//! a chunk of readers per transaction.

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::db::articles::{self, Article};
use crate::db::{self, deliveries, digests, subscribers};
use crate::state::AppState;
use crate::templates::DIGEST_TEMPLATES;

/// The most characters of the lead story's title a subject carries.
const LEAD_IN_SUBJECT: usize = 80;

/// Gmail clips messages whose HTML is larger than this.
pub const GMAIL_CLIP_BYTES: usize = 102 * 1024;

/// Marks the reader-specific part of the HTML (the unsubscribe footer), so the archive
/// can show the digest without any reader's links.
pub(crate) const READER_PART_START: &str = "<!--reader-->";
pub(crate) const READER_PART_END: &str = "<!--/reader-->";
/// Marks what only the mail needs (its "View this email in your browser" link), which
/// the archive page, being that view, leaves out rather than link to itself.
pub(crate) const MAIL_ONLY_START: &str = "<!--mail-only-->";
pub(crate) const MAIL_ONLY_END: &str = "<!--/mail-only-->";

/// What `compose_digest` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Composed {
    Created(DigestCreated),
    /// No article is waiting: no digest.
    NothingNew,
    /// Articles are waiting but no reader is confirmed: no digest, and the articles
    /// keep waiting for the first one (sent to nobody, they would be spent).
    NoReaders {
        articles: i64,
    },
}

/// Why a digest was refused with no confirmed reader, for a person.
pub fn no_readers(articles: i64) -> String {
    let waiting = match articles {
        1 => "the waiting article stays".to_owned(),
        n => format!("the {n} waiting articles stay"),
    };
    format!("no reader has confirmed yet, so nothing was sent; {waiting} for the first digest")
}

/// A digest just made and queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestCreated {
    pub id: i64,
    pub status: String,
    pub recipients: i64,
    pub articles: i64,
}

/// A digest rendered for everyone: per-reader parts are placeholders.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl Rendered {
    /// The HTML's size, and a warning when Gmail would clip it.
    pub fn clipping_warning(&self) -> Option<String> {
        (self.html.len() > GMAIL_CLIP_BYTES).then(|| {
            format!(
                "the HTML is {} KB; Gmail clips messages over 102 KB, hiding the end (and the unsubscribe link) behind \"View entire message\"",
                self.html.len() / 1024
            )
        })
    }
}

/// How many reader ids one queueing transaction covers: short enough that a sign-up
/// waiting behind it is not kept long (tens of milliseconds), long enough that a list of
/// a million is queued in about a hundred steps.
const QUEUE_CHUNK: i64 = 10_000;

/// Takes every article not yet in a digest, renders the digest once and queues it for
/// every confirmed reader. Taking the articles is one short write transaction, so a
/// scheduled run and a manual send at the same moment cannot both take them; rendering
/// holds no lock, and the list is queued in chunks ([`QUEUE_CHUNK`]), each in its own
/// transaction, so sign-ups go on meanwhile. A digest a crash left half-queued is
/// carried on first ([`resume_composing`]).
pub async fn compose_digest(state: &AppState) -> anyhow::Result<Composed> {
    resume_composing(state).await?;
    // The name the digest goes out under, as stored now (another process may have
    // imported the site's feed since this one started).
    state.refresh_newsletter_name().await?;
    let begun = state
        .db
        .write(move |conn| {
            crate::db::exclusive(conn, |conn| {
                let waiting = articles::waiting(conn)?;
                if waiting.is_empty() {
                    return Ok(Err(Composed::NothingNew));
                }
                let last_reader = match subscribers::last_id(conn)? {
                    Some(last) if subscribers::any_confirmed(conn)? => last,
                    _ => {
                        return Ok(Err(Composed::NoReaders {
                            articles: i64::try_from(waiting.len())?,
                        }));
                    }
                };
                let id =
                    digests::insert(conn, i32::try_from(waiting.len())?, last_reader, db::now())?;
                let ids: Vec<i64> = waiting.iter().map(|a| a.id).collect();
                articles::assign_to_digest(conn, &ids, id)?;
                Ok(Ok(id))
            })
        })
        .await?;
    let id = match begun {
        Ok(id) => id,
        Err(nothing) => return Ok(nothing),
    };
    let created = queue_digest(state, id).await?;
    tracing::info!(
        digest = created.id,
        recipients = created.recipients,
        articles = created.articles,
        "digest composed"
    );
    Ok(Composed::Created(created))
}

/// Finishes every digest left `composing` (by a crash, or by another instance that is
/// on it this moment: the chunks take turns, and none is queued twice).
pub async fn resume_composing(state: &AppState) -> anyhow::Result<()> {
    for id in state.db.run(digests::composing).await? {
        let created = queue_digest(state, id).await?;
        tracing::info!(
            digest = created.id,
            recipients = created.recipients,
            "digest composing resumed and finished"
        );
    }
    Ok(())
}

/// Renders digest `id` if it is not yet, then queues its readers chunk by chunk from
/// where its cursor stands. Deliveries go out from the first chunk on; the workers
/// close the digest only once it is wholly queued (status `sending`).
async fn queue_digest(state: &AppState, id: i64) -> anyhow::Result<DigestCreated> {
    let digest = state
        .db
        .run(move |conn| digests::find(conn, id))
        .await?
        .ok_or_else(|| anyhow::anyhow!("digest {id} vanished while being composed"))?;
    if digest.html_body.is_empty() {
        let for_render = state.clone();
        let rendered = tokio::task::spawn_blocking(move || {
            let articles = for_render
                .db
                .run_blocking(|conn| articles::in_digest(conn, id))?;
            render(&for_render, &articles, Some(id), digest.created_at)
        })
        .await??;
        state
            .db
            .write(move |conn| {
                digests::set_rendered(conn, id, &rendered.subject, &rendered.html, &rendered.text)
            })
            .await?;
    }
    loop {
        let queued = state
            .db
            .write(move |conn| crate::db::exclusive(conn, |conn| queue_chunk(conn, id)))
            .await?;
        state.wake_deliveries();
        if queued {
            break;
        }
    }
    let digest = state
        .db
        .run(move |conn| digests::find_summary(conn, id))
        .await?
        .ok_or_else(|| anyhow::anyhow!("digest {id} vanished while being composed"))?;
    Ok(DigestCreated {
        id,
        status: digest.status,
        recipients: i64::from(digest.recipient_count),
        articles: i64::from(digest.article_count),
    })
}

/// Queues the next chunk of digest `id`'s readers; true once it is wholly queued.
fn queue_chunk(conn: &mut db::Conn, id: i64) -> anyhow::Result<bool> {
    let Some((cursor, end)) = digests::queue_position(conn, id)? else {
        return Ok(true);
    };
    let through = end.min(cursor.saturating_add(QUEUE_CHUNK));
    let now = db::now();
    let queued = deliveries::enqueue_range(conn, id, cursor, through, now)?;
    let change = digests::Settled {
        recipients: i32::try_from(queued)?,
        ..digests::Settled::default()
    };
    digests::count_settled(conn, id, change)?;
    // Fresh statistics once the digest's deliveries are many, and again at its end.
    if queued > 0 && (cursor == 0 || through == end) {
        deliveries::analyze(conn)?;
    }
    digests::advance_queue(conn, id, through, end)?;
    if through == end {
        // No reader left to queue (all left meanwhile, or all were sent already).
        digests::finish_completed(conn, &[id], now)?;
    }
    Ok(through == end)
}

/// The next digest as it would be sent, without storing or sending anything; `None`
/// when no article is waiting.
pub async fn preview_digest(state: &AppState) -> anyhow::Result<Option<Rendered>> {
    let state_for_render = state.clone();
    state
        .db
        .run(move |conn| {
            let waiting = articles::waiting(conn)?;
            if waiting.is_empty() {
                return Ok(None);
            }
            Ok(Some(render(&state_for_render, &waiting, None, db::now())?))
        })
        .await
}

/// The placeholder the unsubscribe link stands behind in a stored digest. Derived from
/// the secret, so no article text can contain it by accident or design.
pub fn unsubscribe_placeholder(state: &AppState, digest_id: i64) -> String {
    format!(
        "NEWSLETTER-UNSUBSCRIBE-{}",
        state
            .signer
            .tag("digest-placeholder", &digest_id.to_string())
    )
}

#[derive(Serialize)]
struct ArticleView<'a> {
    title: &'a str,
    url: &'a str,
    summary: Option<&'a str>,
    author: Option<&'a str>,
    published: Option<String>,
}

/// Renders subject, HTML (CSS inlined) and text for `articles`.
fn render(
    state: &AppState,
    articles: &[Article],
    digest_id: Option<i64>,
    now: NaiveDateTime,
) -> anyhow::Result<Rendered> {
    let settings = &state.settings;
    let mut context = state.base_context();
    let views: Vec<ArticleView> = articles
        .iter()
        .map(|a| ArticleView {
            title: &a.title,
            url: &a.url,
            summary: a.summary.as_deref(),
            author: a.author.as_deref(),
            published: a
                .published_at
                .map(|t| settings.local_time(t).format("%-d %B %Y").to_string()),
        })
        .collect();
    context.insert("articles", &views);
    // Dates are the readers' own: written in TIMEZONE, not in the UTC they are kept in.
    context.insert(
        "date",
        &settings.local_time(now).format("%-d %B %Y").to_string(),
    );
    // The lead story names the digest in the inbox and the archive: two digests of one
    // day differ, and their threads do not merge.
    if let Some(lead) = articles.first() {
        context.insert(
            "lead",
            &crate::domain::article::shorten(&lead.title, LEAD_IN_SUBJECT),
        );
    }
    context.insert("more", &articles.len().saturating_sub(1));
    let (unsubscribe_url, archive_url) = match digest_id {
        Some(id) => (
            unsubscribe_placeholder(state, id),
            settings.public_url(&format!("/archive/{id}")),
        ),
        // A preview has no reader and no archive page yet.
        None => (
            settings.public_url(&format!(
                "/unsubscribe?token={}",
                crate::state::PREVIEW_UNSUBSCRIBE_TOKEN
            )),
            settings.public_url("/archive"),
        ),
    };
    context.insert("unsubscribe_url", &unsubscribe_url);
    context.insert("archive_url", &archive_url);
    // The one rendering the start-up check makes too, so what passed it renders here.
    let mail = state.templates.render_mail(DIGEST_TEMPLATES, context)?;
    let html = css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .keep_at_rules(true)
        .build()
        .inline(&mail.html)
        .map_err(|e| anyhow::anyhow!("could not inline the digest's CSS: {e}"))?;
    Ok(Rendered {
        subject: mail.subject,
        html,
        text: mail.text,
    })
}

/// The digest's HTML as the archive shows it: the reader's own part (unsubscribe link)
/// and the link to the archive itself taken out.
pub fn archive_html(html: &str) -> String {
    without_parts(
        &without_parts(html, READER_PART_START, READER_PART_END),
        MAIL_ONLY_START,
        MAIL_ONLY_END,
    )
}

/// `html` without what stands between each `start` and `end` marker.
fn without_parts(html: &str, start_marker: &str, end_marker: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(start_marker) {
        out.push_str(&rest[..start]);
        match rest[start..].find(end_marker) {
            Some(end) => rest = &rest[start + end + end_marker.len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::archive_html;

    #[test]
    fn the_archive_leaves_out_every_reader_part() {
        let html = "<p>news</p><!--reader--><a href=\"u1\">Unsubscribe</a><!--/reader--><p>more</p><!--reader-->x<!--/reader-->";
        assert_eq!(archive_html(html), "<p>news</p><p>more</p>");
        assert_eq!(archive_html("<p>plain</p>"), "<p>plain</p>");
        assert_eq!(
            archive_html(
                "<p>a</p><!--mail-only--><a href=\"/archive/1\">View</a><!--/mail-only--><p>b</p>"
            ),
            "<p>a</p><p>b</p>"
        );
    }
}
