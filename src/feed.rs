//! Feed ingestion: RSS 2.0 and Atom, from a URL (polled, with conditional requests and a
//! size cap) or a file. A feed is parsed whole before anything is stored, and stored in
//! one transaction: a broken feed imports nothing, never half. The fetcher connects to
//! public addresses only (unless `FEED_ALLOW_PRIVATE`), so a feed URL cannot be used to
//! reach the service's own network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use url::{Host, Url};

use crate::db::{self, app_settings, articles};
use crate::domain::article::{
    ArticleInput, HtmlBudget, MAX_SECTIONS, NewArticle, collapse_whitespace, html_to_text_within,
    image_address, section_name,
};
use crate::limits::{self, FEED_BYTES, human_bytes};
use crate::state::AppState;

/// Redirects followed before a fetch gives up.
const MAX_REDIRECTS: usize = 5;

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
    import_feed_in(state, source, None).await
}

/// [`import_feed`], adding `section` to the sections of every article stored (a
/// section's feed, see `db::feeds`).
pub async fn import_feed_in(
    state: &AppState,
    source: &str,
    section: Option<&str>,
) -> anyhow::Result<FeedReport> {
    let section = section.map(str::to_owned);
    // By what the address parses as, not by its spelling: `HTTPS://…` is a web address.
    if let Ok(url) = Url::parse(source)
        && matches!(url.scheme(), "http" | "https")
    {
        return match fetch(state, url.as_str()).await? {
            Some(bytes) => store(state, url.as_str(), bytes, section).await,
            None => Ok(FeedReport {
                not_modified: true,
                ..FeedReport::default()
            }),
        };
    }
    if let Some(suggestion) = crate::config::suggest_scheme(source)
        && !std::path::Path::new(source).exists()
    {
        anyhow::bail!(
            "there is no file `{source}`, and a web address needs its scheme: did you mean `{suggestion}`?"
        );
    }
    let bytes = read_file(source).await?;
    store(state, source, bytes, section).await
}

/// Fetches the feed at `url` (an http or https address; never a file) and stores its
/// new entries: what the admin pages use.
pub async fn import_feed_url(state: &AppState, url: &Url) -> anyhow::Result<FeedReport> {
    import_feed_in(state, url.as_str(), None).await
}

/// Whether an import failed because of the feed itself (not a feed, or an address the
/// fetcher may not connect to) rather than because its server could not be reached.
pub fn is_bad_feed(error: &anyhow::Error) -> bool {
    error.downcast_ref::<BadFeed>().is_some()
        || error
            .chain()
            .any(|cause| cause.downcast_ref::<NotAllowed>().is_some())
}

/// The context of an import whose bytes were not a feed.
#[derive(Debug)]
struct BadFeed(String);

impl std::fmt::Display for BadFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `bytes` read from `source` and stores the new entries.
async fn store(
    state: &AppState,
    source: &str,
    bytes: Vec<u8>,
    section: Option<String>,
) -> anyhow::Result<FeedReport> {
    // Parsing and sanitising are CPU work on untrusted input: keep them off the async
    // threads.
    let (title, mut entries, skipped) =
        tokio::task::spawn_blocking(move || parse_feed_with_title(&bytes))
            .await
            .context("the feed parser panicked")?
            .with_context(|| BadFeed(format!("could not read the feed {}", redacted(source))))?;
    if let Some(section) = section {
        for entry in &mut entries {
            if !entry.sections.contains(&section) {
                entry.sections.push(section.clone());
            }
        }
    }
    let now = db::now();
    // The site's feed names the newsletter (unless NEWSLETTER_NAME does): FEED_URL's,
    // or else the first one imported. Another feed imported later (a partner's, a
    // section's) renames nothing.
    let is_the_sites_feed = state.settings.feed_url.as_deref() == Some(source);
    let stored_title = title;
    let (new, known, named) = state
        .db
        .write(move |conn| {
            crate::db::exclusive(conn, |conn| {
                let mut named = None;
                if let Some(title) = stored_title
                    && (is_the_sites_feed
                        || app_settings::get(conn, crate::state::FEED_TITLE_SETTING)?.is_none())
                {
                    app_settings::set(conn, crate::state::FEED_TITLE_SETTING, Some(&title))?;
                    named = Some(title);
                }
                let mut new = 0;
                for entry in &entries {
                    if articles::insert_if_new(conn, entry, now)?.1 {
                        new += 1;
                    }
                }
                Ok::<_, anyhow::Error>((new, entries.len() - new, named))
            })
        })
        .await?;
    if let Some(title) = &named {
        state.feed_title_changed(title);
    }
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

/// Reads at most [`FEED_BYTES`] of the file; what its metadata says does not count, as a
/// pipe or a device (`/dev/zero`) reports no size at all.
async fn read_file(path: &str) -> anyhow::Result<Vec<u8>> {
    let path = path.to_owned();
    // Opening a FIFO blocks until a writer comes; keep that off the async threads too.
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)
            .with_context(|| format!("could not open the feed file {path}"))?;
        limits::read_capped(file, FEED_BYTES).map_err(|e| {
            if e.kind() == std::io::ErrorKind::FileTooLarge {
                anyhow::anyhow!(
                    "the feed file {path} is larger than {}, the most a feed may be",
                    human_bytes(FEED_BYTES)
                )
            } else {
                anyhow::Error::new(e).context(format!("could not read the feed file {path}"))
            }
        })
    })
    .await
    .context("reading the feed file panicked")?
}

/// GETs the feed, sending the `ETag`/`Last-Modified` of the last poll. `None` when the
/// server answers 304 Not Modified.
async fn fetch(state: &AppState, url: &str) -> anyhow::Result<Option<Vec<u8>>> {
    // Errors name the feed without any password in its URL.
    let shown = redacted(url);
    let [etag_key, modified_key] = db::feeds::conditional_get_keys(url);
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
    let allow_private = state.settings.feed_allow_private;
    let parsed = Url::parse(url).with_context(|| format!("the feed URL {shown} is not a URL"))?;
    // Host names are checked once resolved (by the client's resolver); an address given
    // as the host is checked here, before anything is sent.
    if !allow_private {
        check_host(&parsed, "the feed's address")?;
    }
    let client = feed_client(allow_private)
        .build()
        .context("could not build the HTTP client")?;
    let mut request = client.get(parsed);
    if let Some(etag) = &etag {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    if let Some(modified) = &modified {
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, modified);
    }
    // `without_url`: the error names the feed once, without its credentials.
    let mut response = request
        .send()
        .await
        .map_err(reqwest::Error::without_url)
        .with_context(|| format!("could not fetch the feed {shown}"))?;
    if response.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !response.status().is_success() {
        bail!("the feed {shown} answered {}", response.status());
    }
    if response
        .content_length()
        .is_some_and(|len| len > FEED_BYTES as u64)
    {
        bail!(
            "the feed {shown} is larger than {}",
            human_bytes(FEED_BYTES)
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
        .map_err(reqwest::Error::without_url)
        .with_context(|| format!("the feed {shown} broke off"))?
    {
        if body.len() + chunk.len() > FEED_BYTES {
            bail!(
                "the feed {shown} is larger than {}",
                human_bytes(FEED_BYTES)
            );
        }
        body.extend_from_slice(&chunk);
    }
    // Remember the validators only once the body is safely read.
    state
        .db
        .write(move |conn| {
            app_settings::set(conn, &etag_key, new_etag.as_deref())?;
            app_settings::set(conn, &modified_key, new_modified.as_deref())
        })
        .await?;
    Ok(Some(body))
}

/// The feed fetcher's HTTP client: timeouts, a user agent, and a redirect policy that
/// checks every hop. Unless `allow_private`, host names resolve to public addresses only
/// ([`PublicAddressesOnly`]), and the client connects directly: through a proxy
/// (`HTTP_PROXY`), the address it reaches could not be checked.
fn feed_client(allow_private: bool) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(redirect_policy(allow_private))
        .user_agent(concat!(
            "newsletter/",
            env!("CARGO_PKG_VERSION"),
            " (feed reader)"
        ));
    if allow_private {
        builder
    } else {
        builder
            .no_proxy()
            .dns_resolver(Arc::new(PublicAddressesOnly))
    }
}

/// Follows at most [`MAX_REDIRECTS`] redirects, each one checked by [`check_redirect`].
fn redirect_policy(allow_private: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        // `previous` holds every URL requested so far, the first one included.
        if attempt.previous().len() > MAX_REDIRECTS {
            let error = format!("the feed redirected more than {MAX_REDIRECTS} times");
            return attempt.error(error);
        }
        match check_redirect(attempt.url(), allow_private) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    })
}

/// Whether the fetcher may follow a redirect to `url`: not to an address it may not
/// connect to, unless `allow_private`. (A host name is checked once resolved.)
fn check_redirect(url: &Url, allow_private: bool) -> Result<(), NotAllowed> {
    if allow_private {
        return Ok(());
    }
    check_host(url, "the redirect to")
}

/// Whether a feed at `url` may be added: refused, with why, when its host is an address
/// the fetcher may not connect to (unless `allow_private`). A host name is checked
/// again, once resolved, at every poll.
pub fn check_address(url: &Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    check_host(url, "the feed's address").map_err(|e| e.to_string())
}

/// Refuses `url` if its host is an address the fetcher may not connect to.
fn check_host(url: &Url, what: &str) -> Result<(), NotAllowed> {
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(Host::Domain(_)) | None => return Ok(()),
    };
    match not_public(ip) {
        Some(kind) => Err(NotAllowed(format!("{what} {ip} is not allowed ({kind})"))),
        None => Ok(()),
    }
}

/// A fetch refused for where it would connect. The message never carries anything the
/// refused address would have answered: nothing is sent to it.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0}; the feed reader connects to public addresses only (FEED_ALLOW_PRIVATE=true allows private networks)"
)]
struct NotAllowed(String);

/// Resolves host names for the feed fetcher, keeping only the addresses it may connect
/// to; a name with none left is an error.
struct PublicAddressesOnly;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
                .into_iter()
                .partition(|addr| not_public(addr.ip()).is_none());
            if allowed.is_empty() {
                let refused: Vec<String> = refused
                    .iter()
                    .filter_map(|addr| {
                        not_public(addr.ip()).map(|kind| format!("{} is {kind}", addr.ip()))
                    })
                    .collect();
                let error = NotAllowed(format!(
                    "the feed host {host} has no address that is allowed ({})",
                    refused.join(", ")
                ));
                return Err(Box::new(error) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one: the fetcher
/// connects to public addresses only.
fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => not_public_v4(ip),
        IpAddr::V6(ip) => not_public_v6(ip),
    }
}

fn not_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if a == 0 {
        Some("an unspecified address (0.0.0.0/8)")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address (RFC 1918)")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address (100.64.0.0/10)")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("a benchmarking address (198.18.0.0/15)")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if a >= 240 {
        Some("a broadcast or reserved address")
    } else {
        None
    }
}

fn not_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // `::ffff:127.0.0.1` is 127.0.0.1 to the network stack.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return not_public_v4(v4);
    }
    let segments = ip.segments();
    let embedded_v4 = || Ipv4Addr::from(((segments[6] as u32) << 16) | segments[7] as u32);
    if ip.is_unspecified() {
        Some("an unspecified address (::)")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if segments[0] & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some("a unique local address (fc00::/7)")
    } else if segments[0] & 0xffc0 == 0xfec0 {
        Some("a site-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if segments[..6] == [0; 6] {
        // Deprecated IPv4-compatible form, `::10.0.0.1`.
        not_public_v4(embedded_v4())
    } else if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 (64:ff9b::/96) reaches the IPv4 address inside.
        not_public_v4(embedded_v4())
    } else if segments[..3] == [0x64, 0xff9b, 1] {
        Some("a local-use NAT64 address (64:ff9b:1::/48)")
    } else if segments[0] == 0x2002 {
        // 6to4 (2002::/16) carries an IPv4 address in its second and third groups.
        not_public_v4(Ipv4Addr::from(
            ((segments[1] as u32) << 16) | segments[2] as u32,
        ))
    } else {
        None
    }
}

/// Parses RSS 2.0 or Atom into articles, and the reasons for entries left out. All the
/// HTML in the feed is parsed within one budget, [`limits::FEED_HTML_TIME`]: however many
/// entries a feed has, they cannot add up to more; past it, entries keep their text only.
pub fn parse_feed(bytes: &[u8]) -> anyhow::Result<(Vec<NewArticle>, Vec<String>)> {
    parse_feed_with_title(bytes).map(|(_, articles, skipped)| (articles, skipped))
}

/// The longest feed title kept as the newsletter's name.
const FEED_TITLE_CHARS: usize = 100;

/// [`parse_feed`], and the feed's own title as plain text on one line (it may name the
/// newsletter, in pages and in mail headers).
#[allow(clippy::type_complexity)]
pub fn parse_feed_with_title(
    bytes: &[u8],
) -> anyhow::Result<(Option<String>, Vec<NewArticle>, Vec<String>)> {
    if bytes.len() > FEED_BYTES {
        bail!("the feed is larger than {}", human_bytes(FEED_BYTES));
    }
    let budget = HtmlBudget::shared(limits::FEED_HTML_TIME);
    let feed = feed_rs::parser::parse(bytes)
        .map_err(|e| anyhow::anyhow!("it is not a valid RSS or Atom feed: {e}"))?;
    let title = feed
        .title
        .as_ref()
        .map(|t| {
            let text = if t.content_type.as_str().contains("html") {
                html_to_text_within(&t.content, budget)
            } else {
                collapse_whitespace(&t.content)
            };
            crate::domain::article::shorten(&collapse_whitespace(&text), FEED_TITLE_CHARS)
        })
        .filter(|t| !t.is_empty());
    let mut articles = Vec::new();
    let mut skipped = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let thumbnails = Some(bare_thumbnails(bytes)).filter(|t| t.len() == feed.entries.len());
    for (index, entry) in feed.entries.into_iter().enumerate() {
        // Only a title the feed marks as HTML (Atom `type="html"`) is markup; an RSS
        // title such as "Why <T> matters" is text, escaped wherever it is shown.
        let title = entry.title.as_ref().map(|t| {
            if t.content_type.as_str().contains("html") {
                html_to_text_within(&t.content, budget)
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
            image_url: None,
            // A feed's odd category (too long, too many) is dropped, not its entry.
            sections: entry
                .categories
                .iter()
                .filter_map(|c| section_name(&c.term).ok().flatten())
                .take(MAX_SECTIONS)
                .collect(),
        };
        let image = lead_image(&entry.media).or_else(|| {
            thumbnails
                .as_ref()
                .and_then(|t| t[index].as_deref())
                .and_then(|url| image_address(url).ok())
        });
        let label = title.unwrap_or_else(|| format!("entry {}", index + 1));
        match NewArticle::parse_within(&input, budget) {
            Ok(mut article) => {
                article.published_at = entry.published.or(entry.updated).map(|t| t.naive_utc());
                article.guid = Some(entry.id).filter(|id| !id.is_empty() && id.len() <= 2048);
                // The feed's own picture first; else the body's first image (parse's).
                if let Some(image) = image {
                    article.image_url = Some(image);
                }
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
    if budget.is_spent() {
        tracing::warn!(
            "the feed's HTML took longer than {:?} to parse; the entries after that keep their text only",
            limits::FEED_HTML_TIME
        );
    }
    Ok((title, articles, skipped))
}

/// The entry's lead image from its Media RSS or enclosures: the first `media:content`
/// or `<enclosure>` of an image type (or, without a type, an image file's name), else
/// the first `media:thumbnail`; only https addresses (see [`image_address`]).
fn lead_image(media: &[feed_rs::model::MediaObject]) -> Option<String> {
    let is_image_file = |url: &url::Url| {
        let path = url.path().to_ascii_lowercase();
        [".jpg", ".jpeg", ".png", ".gif", ".webp"]
            .iter()
            .any(|ext| path.ends_with(ext))
    };
    let content = media.iter().flat_map(|m| &m.content).find_map(|c| {
        let url = c.url.as_ref()?;
        let image = match &c.content_type {
            Some(mime) => mime.to_string().to_ascii_lowercase().starts_with("image/"),
            None => is_image_file(url),
        };
        image.then(|| image_address(url.as_str()).ok()).flatten()
    });
    content.or_else(|| {
        media
            .iter()
            .flat_map(|m| &m.thumbnails)
            .find_map(|t| image_address(&t.image.uri).ok())
    })
}

/// The `url` of the first `media:thumbnail` of each item (RSS) or entry (Atom), in their
/// order: many news feeds give a thumbnail on its own, which feed-rs does not keep.
/// Empty when the XML does not read (feed-rs has said what is wrong by then).
fn bare_thumbnails(bytes: &[u8]) -> Vec<Option<String>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut found: Vec<Option<String>> = Vec::new();
    loop {
        let element = match reader.read_event() {
            Ok(Event::Start(e)) => e,
            Ok(Event::Empty(e)) => e,
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => continue,
        };
        match element.local_name().as_ref() {
            "item" | "entry" if element.name().prefix().is_none() => found.push(None),
            "thumbnail" if element.name().prefix().is_some() => {
                if let Some(slot @ None) = found.last_mut() {
                    *slot = element
                        .try_get_attribute("url")
                        .ok()
                        .flatten()
                        .and_then(|url| {
                            url.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .ok()
                        })
                        .map(|url| url.trim().to_owned());
                }
            }
            _ => {}
        }
    }
    found
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
pub fn redacted(source: &str) -> String {
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
    use std::sync::Mutex;

    use reqwest::dns::Resolve;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn every_non_public_range_is_refused_in_every_form() {
        let refused = [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "198.18.0.1",
            "198.19.255.254",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "2002:a00:1::",
        ];
        for ip in refused {
            let parsed: IpAddr = ip.parse().expect("an address");
            assert!(not_public(parsed).is_some(), "{ip} is refused");
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "169.253.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "198.20.0.1",
            "2002:808:808::1",
        ];
        for ip in public {
            let parsed: IpAddr = ip.parse().expect("an address");
            assert_eq!(not_public(parsed), None, "{ip} is public");
        }
    }

    #[test]
    fn a_redirect_to_a_non_public_address_is_refused_unless_allowed() {
        for target in [
            "http://127.0.0.1:8080/health",
            "http://10.0.0.5/admin",
            "https://[::1]/",
            "http://[::ffff:192.168.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            // Other spellings of an address are normalised by the URL parser.
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            let url = Url::parse(target).expect("a URL");
            let refused = check_redirect(&url, false).expect_err(target);
            assert!(
                refused.to_string().contains("is not allowed")
                    && refused.to_string().contains("FEED_ALLOW_PRIVATE=true"),
                "{refused}"
            );
            assert!(check_redirect(&url, true).is_ok(), "{target} when allowed");
        }
        for target in ["https://news.example.com/feed", "http://8.8.8.8/feed"] {
            let url = Url::parse(target).expect("a URL");
            assert!(check_redirect(&url, false).is_ok(), "{target}");
        }
    }

    #[tokio::test]
    async fn a_host_name_resolving_only_to_loopback_is_refused() {
        let name = "localhost".parse().expect("a host name");

        let refused = PublicAddressesOnly
            .resolve(name)
            .await
            .err()
            .expect("localhost resolves to loopback only");

        let message = refused.to_string();
        assert!(
            message.contains("localhost has no address that is allowed")
                && message.contains("a loopback address")
                && message.contains("FEED_ALLOW_PRIVATE=true"),
            "{message}"
        );
    }

    /// Resolves every name to one address: a stand-in for a public feed host.
    struct Always(SocketAddr);

    impl Resolve for Always {
        fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
            let addr = self.0;
            Box::pin(async move { Ok(Box::new(std::iter::once(addr)) as reqwest::dns::Addrs) })
        }
    }

    /// A server answering every request with a redirect to `/health` on its own address;
    /// returns it and the request lines it saw.
    async fn redirecting_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = vec![0u8; 4096];
                let n = stream.read(&mut head).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&head[..n])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                log.lock().expect("the log").push(line);
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nLocation: http://{addr}/health\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        (addr, seen)
    }

    #[tokio::test]
    async fn the_fetcher_does_not_follow_a_redirect_to_a_loopback_address() {
        let (addr, seen) = redirecting_server().await;
        // The client as `fetch` builds it, but with `feed.test` resolving to the server
        // as if it were a public host.
        let client = feed_client(false)
            .dns_resolver(Arc::new(Always(addr)))
            .build()
            .expect("a client");

        let error = client
            .get(format!("http://feed.test:{}/feed", addr.port()))
            .send()
            .await
            .expect_err("the redirect is refused");

        let chain = format!("{:#}", anyhow::Error::new(error));
        assert!(
            chain.contains("the redirect to 127.0.0.1 is not allowed (a loopback address)")
                && chain.contains("FEED_ALLOW_PRIVATE=true"),
            "{chain}"
        );
        let requests = seen.lock().expect("the log").clone();
        assert_eq!(
            requests,
            ["GET /feed HTTP/1.1"],
            "/health was never asked for"
        );
    }

    #[tokio::test]
    async fn with_private_addresses_allowed_the_fetcher_follows_that_redirect() {
        let (addr, seen) = redirecting_server().await;
        let client = feed_client(true)
            .dns_resolver(Arc::new(Always(addr)))
            .build()
            .expect("a client");

        let error = client
            .get(format!("http://feed.test:{}/feed", addr.port()))
            .send()
            .await
            .expect_err("the server redirects forever");

        assert!(
            format!("{:#}", anyhow::Error::new(error)).contains("redirected more than 5 times")
        );
        let requests = seen.lock().expect("the log").clone();
        assert_eq!(requests.len(), MAX_REDIRECTS + 1, "{requests:?}");
        assert_eq!(requests[1], "GET /health HTTP/1.1");
    }

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
