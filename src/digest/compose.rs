//! Making a digest: one transaction takes every waiting article; the mail is rendered
//! once, outside any lock, and stored with the count of its readers. Their deliveries
//! are queued as it goes out, a chunk at a time by the workers (`deliveries::top_up`),
//! so composing for a million readers takes as long as for ten.

use std::time::Duration;

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::db::articles::{self, Article};
use crate::db::newsletters::Newsletter;
use crate::db::{self, digests, newsletters, subscribers, subscriptions};
use crate::domain::DigestSubject;
use crate::i18n::{self, Language};
use crate::state::AppState;
use crate::templates::DIGEST_TEMPLATES;

/// The most characters of the lead story's title a subject carries.
const LEAD_IN_SUBJECT: usize = 80;

/// Gmail clips messages whose HTML is larger than this.
pub const GMAIL_CLIP_BYTES: usize = 102 * 1024;

/// The most HTML a digest is made of, as rendered once and measured as it travels (see
/// [`travelling_size`]): under [`GMAIL_CLIP_BYTES`] by room for what each reader's copy
/// adds (their unsubscribe link, twice, in place of the shorter placeholder).
pub const DIGEST_HTML_BUDGET: usize = GMAIL_CLIP_BYTES - 2 * 1024;

/// How the placeholder for the reader's unsubscribe link starts (see
/// [`unsubscribe_placeholder`]).
pub(crate) const UNSUBSCRIBE_PLACEHOLDER_PREFIX: &str = "NEWSLETTER-UNSUBSCRIBE-";

/// How every placeholder a delivery fills in starts.
pub(crate) const PLACEHOLDER_STEM: &str = "NEWSLETTER-";

/// How the placeholder for the reader's "Manage your newsletters" link starts (see
/// [`preferences_placeholder`]).
pub(crate) const PREFERENCES_PLACEHOLDER_PREFIX: &str = "NEWSLETTER-PREFERENCES-";

/// The most characters of the hidden preheader (the line an inbox shows after the
/// subject) that name the stories after the lead.
const PREHEADER_CHARS: usize = 140;

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
    /// How many of the waiting articles the digest carries (the first ones, in order):
    /// all of them, unless even as links they would pass [`DIGEST_HTML_BUDGET`].
    pub taken: usize,
    /// How many of those are listed as links under "More stories" (the last ones), to
    /// keep the HTML under [`DIGEST_HTML_BUDGET`].
    pub listed: usize,
    /// The language its own words are in.
    pub language: Language,
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

/// Takes every article not yet in a digest, renders the digest once and hands it to
/// the workers for every confirmed reader (those with ids up to the last one now).
/// Taking the articles is one short write transaction, so a scheduled run and a manual
/// send at the same moment cannot both take them; rendering holds no lock, nor does
/// counting the readers; the workers queue the list as they send it, in short
/// transactions, so sign-ups go on meanwhile. A digest a crash left unrendered is
/// carried on first ([`resume_composing`]).
pub async fn compose_digest(state: &AppState) -> anyhow::Result<Composed> {
    compose_digest_titled(state, None).await
}

/// [`compose_digest`], under the editor's `subject` when one is given (the template's
/// otherwise); the editor's subject is stored with the digest.
pub async fn compose_digest_titled(
    state: &AppState,
    subject: Option<DigestSubject>,
) -> anyhow::Result<Composed> {
    compose_for(state, newsletters::DEFAULT_NEWSLETTER_ID, subject).await
}

/// [`compose_digest_titled`] for newsletter `newsletter_id`: the articles waiting for
/// it ([`articles::waiting_for`]) go to its confirmed readers. An archived newsletter
/// or one that does not exist is an error (the callers check first).
pub async fn compose_for(
    state: &AppState,
    newsletter_id: i64,
    subject: Option<DigestSubject>,
) -> anyhow::Result<Composed> {
    resume_composing(state, Duration::ZERO).await?;
    // The name the digest goes out under, as stored now (another process may have
    // imported the site's feed since this one started).
    state.refresh_newsletter_name().await?;
    let begun = state
        .db
        .write(move |conn| {
            crate::db::exclusive(conn, |conn| {
                let newsletter = newsletters::find(conn, newsletter_id)?
                    .filter(|n| !n.archived)
                    .ok_or_else(|| anyhow::anyhow!("no newsletter {newsletter_id} to send"))?;
                let waiting = articles::waiting_for(conn, &newsletter, db::now())?;
                if waiting.is_empty() {
                    return Ok(Err(Composed::NothingNew));
                }
                let last_reader = match subscribers::last_id(conn)? {
                    Some(last) if subscriptions::any_confirmed(conn, newsletter_id)? => last,
                    _ => {
                        return Ok(Err(Composed::NoReaders {
                            articles: i64::try_from(waiting.len())?,
                        }));
                    }
                };
                let id = digests::insert_for(
                    conn,
                    newsletter_id,
                    i32::try_from(waiting.len())?,
                    last_reader,
                    db::now(),
                )?;
                let given = subject.as_ref().map(DigestSubject::as_str);
                digests::set_subject_override(conn, id, given)?;
                let ids: Vec<i64> = waiting.iter().map(|a| a.id).collect();
                articles::assign_for(conn, newsletter_id, &ids, id)?;
                Ok(Ok(id))
            })
        })
        .await?;
    let id = match begun {
        Ok(id) => id,
        Err(nothing) => return Ok(nothing),
    };
    let created = render_and_count(state, id).await?;
    tracing::info!(
        digest = created.id,
        recipients = created.recipients,
        articles = created.articles,
        "digest composed"
    );
    Ok(Composed::Created(created))
}

/// Renders every digest made more than `older_than` ago and not rendered yet: a crash
/// left it so (or another instance is on it this moment; the first render stored
/// stands). The workers then queue its readers from where its cursor stands.
pub async fn resume_composing(state: &AppState, older_than: Duration) -> anyhow::Result<()> {
    let before = db::now() - chrono::Duration::from_std(older_than)?;
    for id in state
        .db
        .run(move |conn| digests::composing(conn, before))
        .await?
    {
        let created = render_and_count(state, id).await?;
        tracing::info!(
            digest = created.id,
            recipients = created.recipients,
            "digest composing resumed; its readers go out"
        );
    }
    Ok(())
}

/// Renders digest `id` if it is not yet, and counts the readers its cursor has still to
/// pass into its recipients. The workers queue them (none before the render is stored)
/// and close it once it is wholly queued and sent.
async fn render_and_count(state: &AppState, id: i64) -> anyhow::Result<DigestCreated> {
    let digest = state
        .db
        .run(move |conn| digests::find(conn, id))
        .await?
        .ok_or_else(|| anyhow::anyhow!("digest {id} vanished while being composed"))?;
    if digest.html_body.is_empty() {
        let for_render = state.clone();
        let (rendered, translations, left) = tokio::task::spawn_blocking(move || {
            let newsletter_id = digest.newsletter_id;
            let default = for_render.settings.default_language;
            let (articles, newsletter, own, others) = for_render.db.run_blocking(|conn| {
                let articles = articles::in_digest(conn, id)?;
                let newsletter = newsletters::find(conn, newsletter_id)?;
                let (own, others) = languages_of(conn, newsletter_id, default)?;
                Ok((articles, newsletter, own, others))
            })?;
            let newsletter = newsletter
                .ok_or_else(|| anyhow::anyhow!("digest {id}'s newsletter does not exist"))?;
            let subject = digest.subject_override.as_deref();
            // Once in its own language and once per other language its readers read
            // (at most two more), each fitted to the budget on its own: one language's
            // words take more bytes than another's (Cyrillic takes two a letter).
            let fitted = std::iter::once(own)
                .chain(others)
                .map(|language| {
                    render(
                        &for_render,
                        &newsletter,
                        &articles,
                        Some(id),
                        digest.created_at,
                        subject,
                        language,
                    )
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            // Every language carries the same stories in full and listed: the fewest
            // any language fits, which fit in every one.
            let full = fitted.iter().map(|r| r.taken - r.listed).min().unwrap_or(0);
            let taken = fitted.iter().map(|r| r.taken).min().unwrap_or(0);
            let mut renders = fitted
                .into_iter()
                .map(|fit| {
                    if fit.taken == taken && fit.taken - fit.listed == full {
                        return Ok(fit);
                    }
                    render_parts(
                        &for_render,
                        &newsletter,
                        &articles,
                        full,
                        taken - full,
                        Some(id),
                        digest.created_at,
                        subject,
                        fit.language,
                    )
                })
                .collect::<anyhow::Result<Vec<_>>>()?
                .into_iter();
            let rendered = renders
                .next()
                .ok_or_else(|| anyhow::anyhow!("digest {id} has no render"))?;
            let translations = renders
                .map(|other| {
                    let language = other.language;
                    Ok(digests::Translation {
                        language: language.code().to_owned(),
                        subject: other.subject,
                        html_body: other.html,
                        text_body: other.text,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            // What did not fit even as a link waits for the next digest.
            let left: Vec<i64> = articles[rendered.taken..].iter().map(|a| a.id).collect();
            anyhow::Ok((rendered, translations, left))
        })
        .await??;
        // Its readers still to be queued, counted ahead (a read: no write waits for it)
        // so that its progress reads true from the first message; they are pending
        // until the workers queue them, a chunk at a time as they send
        // (`deliveries::top_up`). Nothing queues them before the render is stored.
        let newsletter_id = digest.newsletter_id;
        let readers = state
            .db
            .run(move |conn| {
                let Some(at) = digests::queue_position(conn, id)? else {
                    return Ok(0);
                };
                subscriptions::count_confirmed_between(conn, newsletter_id, at.cursor, at.end)
            })
            .await?;
        let readers = i32::try_from(readers)?;
        state
            .db
            .write(move |conn| {
                crate::db::exclusive(conn, |conn| {
                    // Another task (a resume, a second node) may have rendered and
                    // stored it meanwhile: the first render stands, stored once.
                    let stored = digests::find(conn, id)?;
                    if stored.is_none_or(|d| !d.html_body.is_empty()) {
                        return Ok(());
                    }
                    digests::set_counted(conn, id, readers)?;
                    digests::set_rendered(
                        conn,
                        id,
                        &rendered.subject,
                        &rendered.html,
                        &rendered.text,
                    )?;
                    digests::set_translations(conn, id, &translations)?;
                    if !left.is_empty() {
                        articles::put_back(conn, id, &left)?;
                        digests::set_article_count(conn, id, i32::try_from(rendered.taken)?)?;
                    }
                    Ok(())
                })
            })
            .await?;
        state.wake_deliveries();
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

/// The language of newsletter `newsletter_id`'s digests (its own, or `default`), and
/// the other languages its readers read when it has none of its own: what its digests
/// are rendered in. One indexed look per language, stopping at the first reader.
fn languages_of(
    conn: &mut db::Conn,
    newsletter_id: i64,
    default: Language,
) -> anyhow::Result<(Language, Vec<Language>)> {
    let tied = newsletters::find(conn, newsletter_id)?
        .and_then(|n| n.language)
        .and_then(|code| Language::parse(&code));
    if let Some(language) = tied {
        return Ok((language, Vec::new()));
    }
    let mut others = Vec::new();
    for language in Language::ALL {
        if language != default && digests::any_reader_in(conn, newsletter_id, language.code())? {
            others.push(language);
        }
    }
    Ok((default, others))
}

/// The next digest as it would be sent, without storing or sending anything; `None`
/// when no article is waiting.
pub async fn preview_digest(state: &AppState) -> anyhow::Result<Option<Rendered>> {
    preview_for(state, newsletters::DEFAULT_NEWSLETTER_ID).await
}

/// [`preview_digest`] of newsletter `newsletter_id`.
pub async fn preview_for(state: &AppState, newsletter_id: i64) -> anyhow::Result<Option<Rendered>> {
    let state_for_render = state.clone();
    state
        .db
        .run(move |conn| {
            let Some(newsletter) = newsletters::find(conn, newsletter_id)? else {
                return Ok(None);
            };
            let waiting = articles::waiting_for(conn, &newsletter, db::now())?;
            if waiting.is_empty() {
                return Ok(None);
            }
            // A newsletter tied to a language is previewed in it, as it is sent.
            let language = newsletter
                .language
                .as_deref()
                .and_then(Language::parse)
                .unwrap_or(state_for_render.settings.default_language);
            Ok(Some(render(
                &state_for_render,
                &newsletter,
                &waiting,
                None,
                db::now(),
                None,
                language,
            )?))
        })
        .await
}

/// The placeholder the unsubscribe link stands behind in a stored digest. Derived from
/// the secret, so no article text can contain it by accident or design.
pub fn unsubscribe_placeholder(state: &AppState, digest_id: i64) -> String {
    format!(
        "{UNSUBSCRIBE_PLACEHOLDER_PREFIX}{}",
        state
            .signer
            .tag("digest-placeholder", &digest_id.to_string())
    )
}

/// The placeholder the reader's "Manage your newsletters" link stands behind in a
/// stored digest (see [`unsubscribe_placeholder`]).
pub fn preferences_placeholder(state: &AppState, digest_id: i64) -> String {
    format!(
        "{PREFERENCES_PLACEHOLDER_PREFIX}{}",
        state
            .signer
            .tag("digest-preferences-placeholder", &digest_id.to_string())
    )
}

#[derive(Serialize)]
struct ArticleView<'a> {
    title: &'a str,
    url: &'a str,
    summary: Option<&'a str>,
    author: Option<&'a str>,
    published: Option<String>,
    image_url: Option<&'a str>,
}

/// A story listed under "More stories": its title and link.
#[derive(Serialize)]
struct LinkView<'a> {
    title: &'a str,
    url: &'a str,
}

/// Renders subject, HTML (CSS inlined) and text for `articles`, as many in full as keep
/// the HTML within [`DIGEST_HTML_BUDGET`] (so Gmail never clips it) and the rest as links
/// under "More stories", in the digest's order; should even the links not fit (hundreds
/// of waiting stories), the last ones are left for the next digest (see
/// [`Rendered::taken`]). `subject` is the editor's, if any.
fn render(
    state: &AppState,
    newsletter: &Newsletter,
    articles: &[Article],
    digest_id: Option<i64>,
    now: NaiveDateTime,
    subject: Option<&str>,
    language: Language,
) -> anyhow::Result<Rendered> {
    let n = articles.len();
    let attempt = |full: usize, listed: usize| {
        render_parts(
            state, newsletter, articles, full, listed, digest_id, now, subject, language,
        )
    };
    let fits = |rendered: &Rendered| travelling_size(&rendered.html) <= DIGEST_HTML_BUDGET;
    // The usual case, one render: every story in full.
    let everything = attempt(n, 0)?;
    if fits(&everything) || n <= 1 {
        return Ok(everything);
    }
    // The size grows with each story moved from the list into full view: the most
    // stories in full that fit, by halving (the lead is always in full).
    let all_listed = attempt(1, n - 1)?;
    if fits(&all_listed) {
        let (mut fitting, mut too_many) = (1, n);
        let mut best = all_listed;
        while too_many - fitting > 1 {
            let full = usize::midpoint(fitting, too_many);
            let rendered = attempt(full, n - full)?;
            if fits(&rendered) {
                fitting = full;
                best = rendered;
            } else {
                too_many = full;
            }
        }
        return Ok(best);
    }
    // Even as links they pass the limit: the lead and the most links that fit; the
    // rest wait for the next digest, in their order.
    let (mut fitting, mut too_many) = (0, n - 1);
    let mut best = attempt(1, 0)?;
    while too_many - fitting > 1 {
        let listed = usize::midpoint(fitting, too_many);
        let rendered = attempt(1, listed)?;
        if fits(&rendered) {
            fitting = listed;
            best = rendered;
        } else {
            too_many = listed;
        }
    }
    Ok(best)
}

/// The digest of `articles[..full]` in full and `articles[full..full + listed]` as links,
/// its own words in `language`.
#[allow(clippy::too_many_arguments)]
fn render_parts(
    state: &AppState,
    newsletter: &Newsletter,
    articles: &[Article],
    full: usize,
    listed: usize,
    digest_id: Option<i64>,
    now: NaiveDateTime,
    subject: Option<&str>,
    language: Language,
) -> anyhow::Result<Rendered> {
    let settings = &state.settings;
    let taken = &articles[..full + listed];
    let mut context = state.base_context();
    // The subject and masthead name the newsletter.
    context.insert("newsletter_name", &state.name_of(newsletter));
    context.insert("lang", language.code());
    let day = |t: NaiveDateTime| i18n::format_date(language, settings.local_time(t).date_naive());
    let views: Vec<ArticleView> = taken[..full]
        .iter()
        .map(|a| ArticleView {
            title: &a.title,
            url: &a.url,
            summary: a.summary.as_deref(),
            author: a.author.as_deref(),
            published: a.published_at.map(day),
            image_url: a.image_url.as_deref(),
        })
        .collect();
    let links: Vec<LinkView> = taken[full..]
        .iter()
        .map(|a| LinkView {
            title: &a.title,
            url: &a.url,
        })
        .collect();
    context.insert("articles", &views);
    context.insert("more_stories", &links);
    // Dates are the readers' own: written in TIMEZONE, not in the UTC they are kept in.
    context.insert("date", &day(now));
    // The lead story names the digest in the inbox and the archive: two digests of one
    // day differ, and their threads do not merge.
    if let Some(lead) = taken.first() {
        context.insert(
            "lead",
            &crate::domain::article::shorten(&lead.title, LEAD_IN_SUBJECT),
        );
    }
    context.insert("more", &taken.len().saturating_sub(1));
    context.insert("preheader", &preheader(taken, language));
    let (unsubscribe_url, preferences_url, archive_url) = match digest_id {
        Some(id) => (
            unsubscribe_placeholder(state, id),
            preferences_placeholder(state, id),
            // A render in another language than the default one opens the page in
            // its language (the archive shows the render of the page's language).
            if language == settings.default_language {
                settings.public_url(&format!("/archive/{id}"))
            } else {
                language.link(&settings.public_url(&format!("/archive/{id}")))
            },
        ),
        // A preview has no reader and no archive page yet.
        None => (
            settings.public_url(&format!(
                "/unsubscribe?token={}",
                crate::state::PREVIEW_UNSUBSCRIBE_TOKEN
            )),
            settings.public_url("/preferences"),
            settings.public_url("/archive"),
        ),
    };
    context.insert("unsubscribe_url", &unsubscribe_url);
    context.insert("preferences_url", &preferences_url);
    // A private newsletter's digests have no archive page (404): no link to one.
    let archive_url = if newsletter.public {
        archive_url
    } else {
        String::new()
    };
    context.insert("archive_url", &archive_url);
    // The one rendering the start-up check makes too, so what passed it renders here.
    let mail = state
        .templates
        .render_mail_as(DIGEST_TEMPLATES, context, subject)?;
    let html = css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .keep_at_rules(true)
        .build()
        .inline(&mail.html)
        .map_err(|e| anyhow::anyhow!("could not inline the digest's CSS: {e}"))?;
    Ok(Rendered {
        subject: mail.subject,
        html,
        text: crate::mail::wrap::wrap_text(&mail.text),
        taken: taken.len(),
        listed,
        language,
    })
}

/// The size of `html` as it may travel: quoted-printable, as a relay without 8BITMIME
/// (or a signer that signs 7bit) sends it, is never smaller than the HTML itself; that
/// every byte outside printable ASCII and every `=` take three, and a soft break every
/// 75 characters. Whether Gmail counts the HTML before or after this encoding, a digest
/// within budget by this measure is not clipped.
pub fn travelling_size(html: &str) -> usize {
    html.split('\n')
        .map(|line| {
            let encoded: usize = line
                .bytes()
                .map(|b| match b {
                    b'=' | 0x80.. => 3,
                    _ => 1,
                })
                .sum();
            // Soft breaks ("=" CRLF) and the line's own CRLF.
            encoded + encoded / 75 * 3 + 2
        })
        .sum()
}

/// The hidden line an inbox shows after the subject: the stories after the lead, by
/// title ("Also: …"), or the lead's summary when it is the only story.
fn preheader(stories: &[Article], language: Language) -> String {
    let shorten = crate::domain::article::shorten;
    match stories {
        [] => String::new(),
        [only] => only
            .summary
            .as_deref()
            .map(|s| shorten(s, PREHEADER_CHARS))
            .unwrap_or_default(),
        [_, rest @ ..] => {
            let titles: Vec<&str> = rest.iter().take(4).map(|a| a.title.as_str()).collect();
            let also = i18n::format_arg(
                language,
                "digest-preheader-also",
                "titles",
                &titles.join(" · "),
            );
            shorten(&also, PREHEADER_CHARS)
        }
    }
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
    use super::{archive_html, travelling_size};

    #[test]
    fn the_travelling_size_is_never_below_the_html_nor_its_quoted_printable_form() {
        use lettre::message::Body;
        use lettre::message::header::ContentTransferEncoding;
        let story = "<tr><td class=\"article\" style=\"padding: 20px 24px;\"><h2>Kazakhstan’s “open skies” — Guterres’s visit</h2><p>ASTANA – Rakhmetullin underscored the crucial role of the United Nations in addressing urgent global challenges during his visit to the UN Plaza in Almaty on June 19.</p><a href=\"https://astanatimes.example/2026/06/un-role/?a=1&amp;b=2\">Read the article →</a></td></tr>\n";
        for html in [story.repeat(40), "plain ascii = text\n".repeat(500)] {
            let quoted =
                Body::new_with_encoding(html.clone(), ContentTransferEncoding::QuotedPrintable)
                    .expect("encodes");
            let size = travelling_size(&html);
            assert!(size >= html.len(), "{size} < {}", html.len());
            assert!(
                size >= quoted.len(),
                "{size} < {} quoted-printable",
                quoted.len()
            );
            assert!(
                size <= quoted.len() * 11 / 10,
                "{size} is far over {}",
                quoted.len()
            );
        }
    }

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
