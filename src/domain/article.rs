//! An article as it enters the service (API, CLI or feed), checked and cleaned once.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime};
use url::Url;

use crate::limits;

mod nesting;

/// The longest summary shown in a digest, in characters.
pub const SUMMARY_CHARS: usize = 320;

/// An article ready to be stored: a one-line title, an http(s) URL, a plain-text summary
/// shortened at a word boundary, and sanitised HTML for the body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewArticle {
    pub title: String,
    pub url: String,
    pub guid: Option<String>,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub author: Option<String>,
    pub published_at: Option<NaiveDateTime>,
    /// The article's lead image: an https URL the site published (see [`image_address`]).
    pub image_url: Option<String>,
    /// Its sections, each as [`section_name`] makes it, without repeats.
    pub sections: Vec<String>,
}

/// An article as given, before checking: every field optional so that each missing or
/// bad one gets its own error.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ArticleInput {
    pub title: Option<String>,
    pub url: Option<String>,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub author: Option<String>,
    pub published_at: Option<String>,
    pub image_url: Option<String>,
    /// Section names (see [`section_name`]).
    #[serde(default)]
    pub sections: Vec<String>,
}

/// Field name → what is wrong with it.
pub type FieldErrors = BTreeMap<&'static str, String>;

impl NewArticle {
    /// Checks and cleans one article; each piece of HTML in it gets
    /// [`limits::HTML_PARSE_TIME`] to parse.
    pub fn parse(input: &ArticleInput) -> Result<NewArticle, FieldErrors> {
        NewArticle::parse_within(input, HtmlBudget::per_parse())
    }

    /// [`NewArticle::parse`], its HTML parsed within `budget` (shared by a feed's entries).
    pub fn parse_within(
        input: &ArticleInput,
        budget: HtmlBudget,
    ) -> Result<NewArticle, FieldErrors> {
        let mut errors = FieldErrors::new();
        let title = match input.title.as_deref().map(str::trim) {
            None | Some("") => {
                errors.insert("title", "a title is required".into());
                None
            }
            Some(t) => single_line(t, 300)
                .map_err(|e| errors.insert("title", e))
                .ok(),
        };
        let url = match input.url.as_deref().map(str::trim) {
            None | Some("") => {
                errors.insert("url", "a url is required".into());
                None
            }
            Some(u) => parse_url(u).map_err(|e| errors.insert("url", e)).ok(),
        };
        let author = optional(input.author.as_deref())
            .map(|a| single_line(a, 200))
            .transpose()
            .map_err(|e| errors.insert("author", e))
            .ok()
            .flatten();
        let summary = optional(input.summary.as_deref())
            .map(|s| {
                if s.len() > 100_000 {
                    Err("the summary is longer than 100 KB".to_owned())
                } else if s.contains('\0') {
                    Err("the summary contains a NUL character".to_owned())
                } else {
                    Ok(shorten(&html_to_text_within(s, budget), SUMMARY_CHARS))
                }
            })
            .transpose()
            .map_err(|e| errors.insert("summary", e))
            .ok()
            .flatten()
            .filter(|s| !s.is_empty());
        let body = optional(input.body.as_deref())
            .map(|b| {
                if b.len() > 1_000_000 {
                    Err("the body is longer than 1 MB".to_owned())
                } else if b.contains('\0') {
                    Err("the body contains a NUL character".to_owned())
                } else {
                    Ok(sanitize_html_within(b, budget))
                }
            })
            .transpose()
            .map_err(|e| errors.insert("body", e))
            .ok()
            .flatten();
        let published_at = optional(input.published_at.as_deref())
            .map(|p| {
                DateTime::parse_from_rfc3339(p)
                    .map(|t| t.naive_utc())
                    .map_err(|_| {
                        "published_at must be an RFC 3339 time such as 2026-06-19T09:30:00Z"
                            .to_owned()
                    })
            })
            .transpose()
            .map_err(|e| errors.insert("published_at", e))
            .ok()
            .flatten();
        let image_url = optional(input.image_url.as_deref())
            .map(image_address)
            .transpose()
            .map_err(|e| errors.insert("image_url", e))
            .ok()
            .flatten();
        let sections = section_names(&input.sections)
            .map_err(|e| errors.insert("sections", e))
            .ok()
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(NewArticle {
            title: title.expect("no error means a title"),
            url: url.expect("no error means a url"),
            guid: None,
            // An article without a summary gets one from its body.
            summary: summary.or_else(|| {
                body.as_deref()
                    .map(|b| shorten(&html_to_text_within(b, budget), SUMMARY_CHARS))
                    .filter(|s| !s.is_empty())
            }),
            // An article without an image of its own leads with its body's first one.
            image_url: image_url.or_else(|| body.as_deref().and_then(first_image)),
            body,
            author,
            published_at,
            sections,
        })
    }
}

/// The most sections an article is in.
pub const MAX_SECTIONS: usize = 20;

/// The longest section name, in characters.
const SECTION_CHARS: usize = 100;

/// A section's name as stored and compared: trimmed, lower-case, on one line, its
/// whitespace collapsed; a `,` (the stored list's separator) becomes a space. `None` for
/// a blank one.
pub fn section_name(raw: &str) -> Result<Option<String>, String> {
    let name = collapse_whitespace(&raw.replace(',', " ")).to_lowercase();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().any(char::is_control) {
        return Err("a section name must be a single line without control characters".into());
    }
    if name.chars().count() > SECTION_CHARS {
        return Err(format!(
            "a section name must be at most {SECTION_CHARS} characters"
        ));
    }
    Ok(Some(name))
}

/// [`section_name`] of each of `raw`, blanks and repeats dropped, in the order given.
pub fn section_names(raw: &[String]) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for name in raw {
        if let Some(name) = section_name(name)?
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    if names.len() > MAX_SECTIONS {
        return Err(format!("an article is in at most {MAX_SECTIONS} sections"));
    }
    Ok(names)
}

/// Whether an article in `article` (stored, separated by `,`) is for a newsletter taking
/// `wanted` (stored likewise; empty takes every article).
pub fn sections_match(wanted: &str, article: &str) -> bool {
    let wanted: Vec<&str> = wanted.split(',').filter(|s| !s.is_empty()).collect();
    wanted.is_empty()
        || article.split(',').any(|section| {
            wanted
                .iter()
                .any(|w| w.eq_ignore_ascii_case(section.trim()))
        })
}

fn optional(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) fn single_line(raw: &str, max_chars: usize) -> Result<String, String> {
    if raw.chars().any(char::is_control) {
        return Err("must be a single line without control characters".into());
    }
    if raw.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    Ok(raw.to_owned())
}

fn parse_url(raw: &str) -> Result<String, String> {
    web_address(raw).map(String::from)
}

/// An http or https address with a host, as an article's link or a feed's address must
/// be; the error completes "The address …" (and suggests `https://` for an address
/// typed without it).
pub fn web_address(raw: &str) -> Result<Url, String> {
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    if let Some(suggestion) = crate::config::suggest_scheme(raw) {
        return Err(format!(
            "`{raw}` has no scheme; did you mean `{suggestion}`?"
        ));
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL".into());
    }
    Ok(url)
}

/// An image address a digest may show: https only (a mail client warns of, or blocks,
/// an insecure image), with a host, at most 2048 characters.
pub fn image_address(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if url.scheme() != "https" || url.host_str().is_none() {
        return Err("must be an https:// URL".into());
    }
    Ok(url.to_string())
}

/// The `src` of the first `<img>` of sanitised HTML (as [`sanitize_html`] writes it:
/// double-quoted attributes, `&amp;` for `&`), if it is an https address.
pub fn first_image(html: &str) -> Option<String> {
    let at = html.find("<img ")?;
    let tag = &html[at..at + html[at..].find('>')?];
    let src = tag.split_once(" src=\"")?.1.split('"').next()?;
    let src = src
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    image_address(&src).ok()
}

/// How long parsing HTML from outside may take: each parse gets at most
/// [`limits::HTML_PARSE_TIME`], and all parses under one budget end together at its end
/// (a feed import shares one across its entries, so many entries cannot multiply it).
#[derive(Debug, Clone, Copy)]
pub struct HtmlBudget {
    ends: Option<Instant>,
}

impl HtmlBudget {
    /// Only the per-parse limit: one article from the API or the CLI.
    pub fn per_parse() -> HtmlBudget {
        HtmlBudget { ends: None }
    }

    /// All parses together end `total` from now.
    pub fn shared(total: Duration) -> HtmlBudget {
        HtmlBudget {
            ends: Some(Instant::now() + total),
        }
    }

    /// Whether a shared budget has run out (later HTML is kept as text only).
    pub fn is_spent(&self) -> bool {
        self.ends.is_some_and(|ends| Instant::now() >= ends)
    }

    fn deadline_for_one_parse(&self) -> Instant {
        let own = Instant::now() + limits::HTML_PARSE_TIME;
        self.ends.map_or(own, |ends| ends.min(own))
    }
}

/// Cleans HTML from outside (feeds, the API) down to safe markup: no scripts, styles,
/// event handlers or `javascript:` links; links get `rel="noopener noreferrer"`.
/// Markup too costly to parse (see [`clean_bounded`]) keeps only its text, escaped.
pub fn sanitize_html(html: &str) -> String {
    sanitize_html_within(html, HtmlBudget::per_parse())
}

/// [`sanitize_html`] within `budget`.
pub fn sanitize_html_within(html: &str, budget: HtmlBudget) -> String {
    static SANITIZER: LazyLock<ammonia::Builder<'static>> =
        LazyLock::new(ammonia::Builder::default);
    clean_bounded(html, &SANITIZER, budget).unwrap_or_else(|| {
        format!(
            "<p>{}</p>",
            crate::templates::escape_html(&strip_tags(html))
        )
    })
}

/// The text of an HTML fragment, whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    html_to_text_within(html, HtmlBudget::per_parse())
}

/// [`html_to_text`] within `budget`.
pub fn html_to_text_within(html: &str, budget: HtmlBudget) -> String {
    static TEXT_ONLY: LazyLock<ammonia::Builder<'static>> = LazyLock::new(ammonia::Builder::empty);
    let Some(stripped) = clean_bounded(html, &TEXT_ONLY, budget) else {
        return strip_tags(html);
    };
    let decoded = stripped
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    collapse_whitespace(&decoded)
}

/// Runs `cleaner` over `html` unless that could take too long; `None` then, and the
/// caller keeps the text. The parser's work grows with the square of how deep the markup
/// nests, so first a linear scan bounds the depth the parser would reach (never below
/// it; see [`nesting`]); then the parse itself runs against a deadline, for whatever the
/// scan does not foresee; last, the result's own depth is checked.
fn clean_bounded(html: &str, cleaner: &ammonia::Builder<'_>, budget: HtmlBudget) -> Option<String> {
    if too_deep(html) {
        return None;
    }
    let clean = clean_before(html, cleaner, budget.deadline_for_one_parse())?;
    // The output is parsed again (a summary made from a body, the digest's CSS inlining),
    // so it must not nest too deep either: the parser can take an element off its stack
    // and leave it in the tree as an ancestor of what follows.
    Some(clean).filter(|clean| !too_deep(clean))
}

/// Runs `cleaner` over `html`, abandoning the parse once `deadline` has passed.
fn clean_before(html: &str, cleaner: &ammonia::Builder<'_>, deadline: Instant) -> Option<String> {
    if Instant::now() >= deadline {
        // A shared budget already spent: not worth starting.
        return None;
    }
    let input = DeadlineReader {
        rest: html.as_bytes(),
        deadline,
    };
    match cleaner.clean_from_reader(input) {
        Ok(document) => Some(document.to_string()),
        Err(e) => {
            tracing::warn!(
                bytes = html.len(),
                "HTML took too long to parse ({e}); keeping its text only"
            );
            None
        }
    }
}

/// Whether the parser would nest `html` deeper than [`limits::HTML_DEPTH`].
fn too_deep(html: &str) -> bool {
    parser_depth_bound(html, limits::HTML_DEPTH) > limits::HTML_DEPTH
}

/// How deep the HTML parser can nest `html`, at most (never less than it does), counted
/// from the fragment's root and including elements it leaves in the tree after taking
/// them off its stack. The count stops a little past `limit`, which keeps it linear in
/// `html`. This is the check [`sanitize_html`] makes before it parses.
pub fn parser_depth_bound(html: &str, limit: usize) -> usize {
    nesting::depth_bound(html, limit)
}

/// Feeds the HTML parser in small pieces and fails once `deadline` has passed.
///
/// html5ever's `read_from` asks for 4 KiB at a time and parses each piece before asking
/// again, so the deadline is checked between pieces; handing out at most
/// [`DeadlineReader::PIECE`] bytes keeps the work done after the deadline (one piece) small
/// even when every piece is expensive.
struct DeadlineReader<'a> {
    rest: &'a [u8],
    deadline: Instant,
}

impl DeadlineReader<'_> {
    const PIECE: usize = 512;
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "its time ran out",
            ));
        }
        let n = buf.len().min(self.rest.len()).min(Self::PIECE);
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// Everything outside `<…>`, without parsing: the fallback for pathological markup.
fn strip_tags(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    collapse_whitespace(&text)
}

/// Runs of whitespace (line breaks and tabs included) become one space.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max_chars` characters, cut at a word boundary with an ellipsis.
pub fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let at_word = match cut.rfind(char::is_whitespace) {
        Some(i) if i > max_chars / 2 => &cut[..i],
        _ => &cut,
    };
    format!(
        "{}…",
        at_word.trim_end_matches(|c: char| c.is_whitespace() || ",;:–—-".contains(c))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(title: &str, url: &str) -> ArticleInput {
        ArticleInput {
            title: Some(title.into()),
            url: Some(url.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_article_parses_and_its_summary_is_plain_text() {
        let article = NewArticle::parse(&ArticleInput {
            summary: Some(
                "<p>Kazakhstan’s <b>First Deputy</b> Foreign Minister &amp; the UN</p>".into(),
            ),
            published_at: Some("2026-06-19T09:30:00+05:00".into()),
            ..input(
                "Kazakhstan Stresses UN’s Vital Role",
                "https://astanatimes.com/2026/06/un-role/",
            )
        })
        .unwrap();
        assert_eq!(
            article.summary.as_deref(),
            Some("Kazakhstan’s First Deputy Foreign Minister & the UN")
        );
        assert_eq!(
            article.published_at.unwrap().to_string(),
            "2026-06-19 04:30:00"
        );
    }

    #[test]
    fn each_bad_field_gets_its_own_error() {
        let errors = NewArticle::parse(&ArticleInput {
            title: Some("Line one\r\nBcc: x".into()),
            url: Some("javascript:alert(1)".into()),
            published_at: Some("yesterday".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["published_at", "title", "url"]
        );
        let missing = NewArticle::parse(&ArticleInput::default()).unwrap_err();
        assert_eq!(missing["title"], "a title is required");
        assert_eq!(missing["url"], "a url is required");
    }

    #[test]
    fn bodies_are_sanitised() {
        let article = NewArticle::parse(&ArticleInput {
            body: Some(
                r#"<p onclick="x()">Hi<script>alert(1)</script> <a href="javascript:x">a</a></p>"#
                    .into(),
            ),
            ..input("T", "https://example.com/a")
        })
        .unwrap();
        let body = article.body.unwrap();
        assert!(
            !body.contains("script") && !body.contains("onclick") && !body.contains("javascript"),
            "{body}"
        );
        assert_eq!(
            article.summary.as_deref(),
            Some("Hi a"),
            "a summary is made from the body"
        );
    }

    #[test]
    fn pathologically_nested_markup_is_reduced_to_text_without_parsing() {
        let deep = format!(
            "{}Deep news{}",
            "<div>".repeat(50_000),
            "</div>".repeat(50_000)
        );
        let started = std::time::Instant::now();
        assert_eq!(html_to_text(&deep), "Deep news");
        assert_eq!(sanitize_html(&deep), "<p>Deep news</p>");
        assert!(started.elapsed().as_secs() < 2);
        let ordinary = format!("<p>{}</p>", "line<br>".repeat(1000));
        assert!(!too_deep(&ordinary), "void elements do not nest");
        assert!(
            !too_deep(&"<p>a</p>".repeat(10_000)),
            "siblings do not nest"
        );
    }

    /// Sanitises `html` and checks it came back as text only, quickly.
    fn assert_kept_as_text(html: &str, why: &str) {
        let started = Instant::now();
        let clean = sanitize_html(html);
        let took = started.elapsed();
        assert!(
            clean.starts_with("<p>") && clean.matches('<').count() == 2,
            "{why}: {}",
            &clean[..clean.len().min(200)]
        );
        assert!(took < Duration::from_secs(2), "{why}: took {took:?}");
    }

    #[test]
    fn stray_end_tags_do_not_hide_nesting() {
        // The parser ignores an end tag with nothing of its name open, or with a block in
        // the way, so each of these nests one element deeper per repeat.
        for (unit, why) in [
            ("<div></x>", "an end tag nothing matches"),
            ("<div></p>", "`</p>` with no paragraph open"),
            (
                "<span><div></span>",
                "a block between the end tag and its element",
            ),
            (
                "<p><b id=N></p>x",
                "formatting elements re-opened after `</p>`",
            ),
            (
                "<div><i class=N></div>",
                "formatting elements re-opened after `</div>`",
            ),
            ("<a><math><mi>", "a misnested link left in the tree"),
        ] {
            // `N` numbers the repeats: three equal formatting elements are the most the
            // parser re-opens.
            let html: String = (0..20_000)
                .map(|n| unit.replace('N', &n.to_string()))
                .collect();
            assert!(too_deep(&html), "{why}");
            assert_kept_as_text(&html, why);
        }
    }

    #[test]
    fn self_closing_syntax_does_not_close_an_html_element() {
        assert!(too_deep(&"<div/>".repeat(300)), "`<div/>` opens a div");
        assert_kept_as_text(&"<div/><span/>".repeat(20_000), "`<div/>`");
        assert!(!too_deep(&"<br/><img src=x /><hr/>".repeat(5_000)));
        assert!(
            !too_deep(&"<p/>".repeat(5_000)),
            "each `<p>` closes the last"
        );
        assert!(
            !too_deep(&format!(
                "<svg>{}</svg>",
                "<path d=\"M0 0\"/>".repeat(5_000)
            )),
            "in SVG, `/>` does close"
        );
    }

    /// A long article as a CMS writes it: end tags left out where HTML allows, nested
    /// lists, tables, an embedded SVG icon, script and comments.
    fn long_article(sections: usize) -> String {
        let mut html = String::new();
        for n in 0..sections {
            html.push_str(&format!(
                "<h2 id=\"s{n}\">Section {n}</h2>\n<p>With <strong>bold</strong>, <em>emphasis</em> \
                 and <a href=\"https://example.com/{n}?a=1&amp;b=2\">a link</a>.\n<p>No end tag\n"
            ));
            html.push_str(
                "<ul>\n<li>one\n<li>two <b>bold</b>\n<li>three<ul><li>nested a<li>nested b\
                 <ol><li>deeper<li>deeper still</ol></ul>\n</ul>\n\
                 <table class=\"data\"><caption>Figures</caption><thead><tr><th>Year<th>Value\
                 </thead><tr><td>2025<td>1.5%<tr><td>2026<td><em>2.1%</em></table>\n\
                 <figure><img src=\"x.jpg\" alt=\"x\"><figcaption>Caption</figcaption></figure>\n\
                 <blockquote><p>Quote<br/>line two</blockquote>\n\
                 <dl><dt>Term<dd>Definition<dt>Term 2<dd>Definition 2</dl>\n\
                 <pre>\ncode &lt;x&gt;\n</pre><svg width=\"9\"><title>icon</title><path d=\"M0\"/>\
                 <g><circle r=\"1\"/></g></svg><iframe src=\"https://example.com/v\"></iframe>\
                 <script><!-- if (a < b) document.write('<div>'); //--></script>\
                 <!-- a <div> in a comment --><p>Last<br>paragraph\n",
            );
        }
        html
    }

    #[test]
    fn ordinary_article_markup_is_kept_as_markup() {
        let article = long_article(60);
        assert!(
            parser_depth_bound(&article, limits::HTML_DEPTH) < 12,
            "{}",
            parser_depth_bound(&article, limits::HTML_DEPTH)
        );
        let clean = sanitize_html(&article);
        for kept in [
            "<li>nested b",
            "<table",
            "<td>2026",
            "<dd>Definition 2",
            "<h2",
        ] {
            assert!(clean.contains(kept), "{kept} is kept");
        }
        for (html, what) in [
            (
                format!("<ul>{}</ul>", "<li>item".repeat(5_000)),
                "list items without end tags",
            ),
            ("<p>paragraph".repeat(5_000), "paragraphs without end tags"),
            (
                format!("<table>{}</table>", "<tr><td>a<td>b".repeat(3_000)),
                "table rows and cells without end tags",
            ),
            (
                format!("<dl>{}</dl>", "<dt>t<dd>d".repeat(3_000)),
                "definitions without end tags",
            ),
            (
                "<p>a <b>bold</b> and <i>italic</i> word</p>".repeat(3_000),
                "closed formatting",
            ),
            (
                "<p><b>unclosed bold<p>next".repeat(3_000),
                "formatting left open across paragraphs",
            ),
        ] {
            assert!(!too_deep(&html), "{what}");
            assert!(
                sanitize_html(&html).matches('<').count() > 1_000,
                "{what} stay markup"
            );
        }
        // Not kept by the sanitiser, but not too deep either.
        assert!(!too_deep(&format!(
            "<select>{}</select>",
            "<option>o".repeat(3_000)
        )));
        assert!(!too_deep(&"<div><table></div>".repeat(3_000)));
        assert!(!too_deep(&"<li><div></li>".repeat(3_000)));
    }

    #[test]
    fn a_parse_that_outlasts_its_deadline_is_abandoned_for_the_text() {
        // 200,000 nested elements would take minutes to parse; the scan is bypassed here
        // to exercise the deadline alone.
        let deep = "<div>".repeat(200_000);
        let started = Instant::now();
        let cleaned = clean_before(
            &deep,
            &ammonia::Builder::default(),
            Instant::now() + Duration::from_millis(200),
        );
        assert!(cleaned.is_none());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_spent_shared_budget_keeps_the_rest_as_text() {
        let spent = HtmlBudget::shared(Duration::ZERO);
        assert!(spent.is_spent());
        assert_eq!(
            sanitize_html_within("<p><b>Budget</b> news</p>", spent),
            "<p>Budget news</p>"
        );
        assert_eq!(
            html_to_text_within("<b>Budget</b> news", spent),
            "Budget news"
        );
        assert_eq!(
            sanitize_html("<p><b>Budget</b> news</p>"),
            "<p><b>Budget</b> news</p>"
        );
    }

    /// The nesting of serialised HTML (as ammonia writes it: every non-void element
    /// closed, `<` escaped in text).
    fn serialised_depth(html: &str) -> usize {
        const VOID: &[&str] = &[
            "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta",
            "param", "source", "track", "wbr",
        ];
        let (mut depth, mut deepest) = (0usize, 0usize);
        for tag in html.split('<').skip(1) {
            if tag.starts_with('/') {
                depth -= 1;
                continue;
            }
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !VOID.contains(&name.as_str()) {
                depth += 1;
                deepest = deepest.max(depth);
            }
        }
        deepest
    }

    #[test]
    fn the_depth_bound_is_never_below_the_parsers_depth() {
        // Random repeats of small pieces of markup: a bound below the parser's real depth
        // on one repeat would be 40 times below on forty.
        const PIECES: &[&str] = &[
            "<div>",
            "</div>",
            "</x>",
            "<x>",
            "<div/>",
            "<p>",
            "</p>",
            "<b>",
            "</b>",
            "<b id=1>",
            "<i>",
            "</i>",
            "<a>",
            "</a>",
            "<span>",
            "</span>",
            "<table>",
            "</table>",
            "<tr>",
            "<td>",
            "</td>",
            "<caption>",
            "<col>",
            "<li>",
            "</li>",
            "<ul>",
            "<dd>",
            "<option>",
            "<select>",
            "</select>",
            "<svg>",
            "</svg>",
            "<path/>",
            "<math>",
            "<mi>",
            "<nobr>",
            "<font color=red>",
            "<h1>",
            "</h2>",
            "<button>",
            "<form>",
            "</form>",
            "<object>",
            "</object>",
            "x",
            " ",
            "<br>",
            "</br>",
            "<pre>",
            "\n",
            "<textarea>",
            "</textarea>",
            "<style>",
            "</style>",
            "<script><!--",
            "-->",
            "</script>",
            "<!--",
            "<![CDATA[",
            "]]>",
            "<template>",
            "<rt>",
            "<ruby>",
            "&#32;",
        ];
        const TAGS: &[&str] = &[
            "div", "x", "p", "b", "i", "a", "span", "table", "tbody", "tr", "td", "caption",
            "colgroup", "li", "ul", "dd", "option", "select", "nobr", "font", "h1", "button",
            "form", "object", "pre", "rt", "ruby", "template",
        ];
        let mut builder = ammonia::Builder::empty();
        builder.add_tags(TAGS);
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..300 {
            let piece: String = (0..1 + random(5))
                .map(|_| PIECES[random(PIECES.len())])
                .collect();
            let html = piece.repeat(40);
            let bound = parser_depth_bound(&html, usize::MAX);
            let real = serialised_depth(&builder.clean(&html).to_string());
            // An element the parser inserts without pushing (`<br>`, `<path/>`) sits one
            // below the deepest open element.
            assert!(bound + 1 >= real, "{piece:?}: bound {bound}, parser {real}");
        }
    }

    #[test]
    fn shortening_cuts_at_a_word_boundary() {
        let text = "Rakhmetullin emphasized President Kassym-Jomart Tokayev’s focus on sustainable development";
        assert_eq!(shorten(text, 40), "Rakhmetullin emphasized President…");
        assert_eq!(shorten("short", 40), "short");
        assert_eq!(shorten(&"x".repeat(50), 10), format!("{}…", "x".repeat(10)));
    }
}
