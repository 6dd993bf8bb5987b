//! An article as it enters the service (API, CLI or feed), checked and cleaned once.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime};
use url::Url;

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
}

/// Field name → what is wrong with it.
pub type FieldErrors = BTreeMap<&'static str, String>;

impl NewArticle {
    pub fn parse(input: &ArticleInput) -> Result<NewArticle, FieldErrors> {
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
                    Ok(shorten(&html_to_text(s), SUMMARY_CHARS))
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
                    Ok(sanitize_html(b))
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
                    .map(|b| shorten(&html_to_text(b), SUMMARY_CHARS))
                    .filter(|s| !s.is_empty())
            }),
            body,
            author,
            published_at,
        })
    }
}

fn optional(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

fn single_line(raw: &str, max_chars: usize) -> Result<String, String> {
    if raw.chars().any(char::is_control) {
        return Err("must be a single line without control characters".into());
    }
    if raw.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    Ok(raw.to_owned())
}

fn parse_url(raw: &str) -> Result<String, String> {
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL".into());
    }
    Ok(url.to_string())
}

/// Cleans HTML from outside (feeds, the API) down to safe markup: no scripts, styles,
/// event handlers or `javascript:` links; links get `rel="noopener noreferrer"`.
pub fn sanitize_html(html: &str) -> String {
    if too_deep(html) {
        // Parsing pathological nesting is quadratic; such a body keeps only its text.
        return format!(
            "<p>{}</p>",
            crate::templates::escape_html(&strip_tags(html))
        );
    }
    ammonia::clean(html)
}

/// How deep real article markup nests, with room to spare.
const MAX_NESTING: usize = 256;

/// Whether `html` nests elements deeper than [`MAX_NESTING`]: a linear scan, so hostile
/// input is caught before the (quadratic on nesting) HTML parser sees it.
fn too_deep(html: &str) -> bool {
    const VOID: [&str; 14] = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    ];
    let mut depth = 0usize;
    for tag in html.split('<').skip(1) {
        if let Some(rest) = tag.strip_prefix('/') {
            if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
                depth = depth.saturating_sub(1);
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        let self_closing = tag.split('>').next().is_some_and(|t| t.ends_with('/'));
        if name.is_empty() || self_closing || VOID.contains(&name.as_str()) {
            continue;
        }
        depth += 1;
        if depth > MAX_NESTING {
            return true;
        }
    }
    false
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

/// The text of an HTML fragment, whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    if too_deep(html) {
        return strip_tags(html);
    }
    let stripped = ammonia::Builder::empty().clean(html).to_string();
    let decoded = stripped
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    collapse_whitespace(&decoded)
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

    #[test]
    fn shortening_cuts_at_a_word_boundary() {
        let text = "Rakhmetullin emphasized President Kassym-Jomart Tokayev’s focus on sustainable development";
        assert_eq!(shorten(text, 40), "Rakhmetullin emphasized President…");
        assert_eq!(shorten("short", 40), "short");
        assert_eq!(shorten(&"x".repeat(50), 10), format!("{}…", "x".repeat(10)));
    }
}
