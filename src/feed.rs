//! Feed ingestion: RSS 2.0 and Atom, from a URL (polled, with conditional requests and a
//! size cap) or a file. A feed is parsed whole before anything is stored, and stored in
//! one transaction: a broken feed imports nothing, never half.

use std::time::Duration;

use anyhow::{Context, bail};

use crate::db::{self, app_settings, articles};
use crate::domain::article::{ArticleInput, NewArticle, collapse_whitespace, html_to_text};
use crate::state::AppState;

/// The largest feed we read.
pub const MAX_FEED_BYTES: usize = 5 * 1024 * 1024;

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FeedReport {
    /// Articles stored for the next digest.
    pub new: usize,
    /// Entries already known (same guid or url).
    pub known: usize,
    /// Entries left out, with why (e.g. no link).
    pub skipped: Vec<String>,
    /// The server said the feed has not changed since the last poll.
    pub not_modified: bool,
}

/// Reads the feed at `source` (an http(s) URL or a file path) and stores its new entries.
pub async fn import_feed(state: &AppState, source: &str) -> anyhow::Result<FeedReport> {
    let bytes = if source.starts_with("http://") || source.starts_with("https://") {
        match fetch(state, source).await? {
            Some(bytes) => bytes,
            None => {
                return Ok(FeedReport {
                    not_modified: true,
                    ..FeedReport::default()
                });
            }
        }
    } else {
        read_file(source).await?
    };
    // Parsing and sanitising are CPU work on untrusted input: keep them off the async
    // threads.
    let (entries, skipped) = tokio::task::spawn_blocking(move || parse_feed(&bytes))
        .await
        .context("the feed parser panicked")?
        .with_context(|| format!("could not read the feed {}", redacted(source)))?;
    let now = db::now();
    let (new, known) = state
        .db
        .run(move |conn| {
            conn.immediate_transaction(|conn| {
                let mut new = 0;
                for entry in &entries {
                    if articles::insert_if_new(conn, entry, now)?.1 {
                        new += 1;
                    }
                }
                Ok::<_, anyhow::Error>((new, entries.len() - new))
            })
        })
        .await?;
    for reason in &skipped {
        tracing::warn!(source = redacted(source), reason, "feed entry skipped");
    }
    Ok(FeedReport {
        new,
        known,
        skipped,
        not_modified: false,
    })
}

async fn read_file(path: &str) -> anyhow::Result<Vec<u8>> {
    let metadata = tokio::fs::metadata(path)
        .await
        .with_context(|| format!("could not open the feed file {path}"))?;
    if metadata.len() > MAX_FEED_BYTES as u64 {
        bail!(
            "the feed file {path} is larger than {} MB",
            MAX_FEED_BYTES / (1024 * 1024)
        );
    }
    tokio::fs::read(path)
        .await
        .with_context(|| format!("could not read the feed file {path}"))
}

/// GETs the feed, sending the `ETag`/`Last-Modified` of the last poll. `None` when the
/// server answers 304 Not Modified.
async fn fetch(state: &AppState, url: &str) -> anyhow::Result<Option<Vec<u8>>> {
    // Errors name the feed without any password in its URL.
    let shown = redacted(url);
    let etag_key = format!("feed:{url}:etag");
    let modified_key = format!("feed:{url}:last-modified");
    let (etag, modified) = {
        let (etag_key, modified_key) = (etag_key.clone(), modified_key.clone());
        state
            .db
            .run(move |conn| {
                Ok((
                    app_settings::get(conn, &etag_key)?,
                    app_settings::get(conn, &modified_key)?,
                ))
            })
            .await?
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!(
            "newsletter/",
            env!("CARGO_PKG_VERSION"),
            " (feed reader)"
        ))
        .build()
        .context("could not build the HTTP client")?;
    let mut request = client.get(url);
    if let Some(etag) = &etag {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    if let Some(modified) = &modified {
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, modified);
    }
    let mut response = request
        .send()
        .await
        .with_context(|| format!("could not fetch the feed {shown}"))?;
    if response.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !response.status().is_success() {
        bail!("the feed {shown} answered {}", response.status());
    }
    if response
        .content_length()
        .is_some_and(|len| len > MAX_FEED_BYTES as u64)
    {
        bail!(
            "the feed {shown} is larger than {} MB",
            MAX_FEED_BYTES / (1024 * 1024)
        );
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let (new_etag, new_modified) = (
        header(reqwest::header::ETAG),
        header(reqwest::header::LAST_MODIFIED),
    );
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("the feed {shown} broke off"))?
    {
        if body.len() + chunk.len() > MAX_FEED_BYTES {
            bail!(
                "the feed {shown} is larger than {} MB",
                MAX_FEED_BYTES / (1024 * 1024)
            );
        }
        body.extend_from_slice(&chunk);
    }
    // Remember the validators only once the body is safely read.
    state
        .db
        .run(move |conn| {
            app_settings::set(conn, &etag_key, new_etag.as_deref())?;
            app_settings::set(conn, &modified_key, new_modified.as_deref())
        })
        .await?;
    Ok(Some(body))
}

/// Parses RSS 2.0 or Atom into articles, and the reasons for entries left out.
pub fn parse_feed(bytes: &[u8]) -> anyhow::Result<(Vec<NewArticle>, Vec<String>)> {
    if bytes.len() > MAX_FEED_BYTES {
        bail!(
            "the feed is larger than {} MB",
            MAX_FEED_BYTES / (1024 * 1024)
        );
    }
    let feed = feed_rs::parser::parse(bytes)
        .map_err(|e| anyhow::anyhow!("it is not a valid RSS or Atom feed: {e}"))?;
    let mut articles = Vec::new();
    let mut skipped = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, entry) in feed.entries.into_iter().enumerate() {
        // Only a title the feed marks as HTML (Atom `type="html"`) is markup; an RSS
        // title such as "Why <T> matters" is text, escaped wherever it is shown.
        let title = entry.title.as_ref().map(|t| {
            if t.content_type.as_str().contains("html") {
                html_to_text(&t.content)
            } else {
                collapse_whitespace(&t.content)
            }
        });
        let link = entry
            .links
            .iter()
            .find(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"))
            .or(entry.links.first())
            .map(|l| l.href.trim().to_owned());
        let summary = entry
            .summary
            .as_ref()
            .map(|s| strip_wordpress_footer(&s.content).to_owned())
            .or_else(|| entry.content.as_ref().and_then(|c| c.body.clone()));
        let input = ArticleInput {
            title: title.clone(),
            url: link,
            summary,
            body: entry.content.as_ref().and_then(|c| c.body.clone()),
            author: entry
                .authors
                .first()
                .and_then(|a| a.name.as_deref())
                .map(collapse_whitespace),
            published_at: None,
        };
        let label = title.unwrap_or_else(|| format!("entry {}", index + 1));
        match NewArticle::parse(&input) {
            Ok(mut article) => {
                article.published_at = entry.published.or(entry.updated).map(|t| t.naive_utc());
                article.guid = Some(entry.id).filter(|id| !id.is_empty() && id.len() <= 2048);
                if seen.insert(article.url.clone()) {
                    articles.push(article);
                }
            }
            Err(errors) => {
                let why: Vec<String> = errors
                    .iter()
                    .map(|(field, e)| format!("{field} {e}"))
                    .collect();
                skipped.push(format!("`{label}`: {}", why.join("; ")));
            }
        }
    }
    Ok((articles, skipped))
}

/// WordPress ends every feed description with "The post … appeared first on …"; it is
/// noise in a digest.
fn strip_wordpress_footer(html: &str) -> &str {
    match html.rfind("<p>The post ") {
        Some(at) if html[at..].contains("appeared first on") => html[..at].trim_end(),
        _ => html,
    }
}

/// `source` for logs and errors: a URL loses any user name and password in it.
fn redacted(source: &str) -> String {
    match url::Url::parse(source) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => source.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn feed_urls_are_named_without_their_credentials() {
        assert_eq!(
            redacted("https://bot:s3cret@news.example.com/feed"),
            "https://news.example.com/feed"
        );
        assert_eq!(
            redacted("https://news.example.com/feed"),
            "https://news.example.com/feed"
        );
        assert_eq!(redacted("examples/feed.xml"), "examples/feed.xml");
    }
}
