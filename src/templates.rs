//! Page and mail templates, compiled into the binary and parsed at start, so a broken
//! template stops the start instead of the 7 a.m. send.

use anyhow::Context;
use tera::Tera;

/// Every template, by name. Pages live in `templates/`, mail in `email_templates/`.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("signup.html", include_str!("../templates/signup.html")),
    (
        "check_inbox.html",
        include_str!("../templates/check_inbox.html"),
    ),
    ("confirm.html", include_str!("../templates/confirm.html")),
    (
        "confirmed.html",
        include_str!("../templates/confirmed.html"),
    ),
    (
        "link_problem.html",
        include_str!("../templates/link_problem.html"),
    ),
    (
        "unsubscribe.html",
        include_str!("../templates/unsubscribe.html"),
    ),
    (
        "unsubscribed.html",
        include_str!("../templates/unsubscribed.html"),
    ),
    ("message.html", include_str!("../templates/message.html")),
    (
        "email/confirmation.subject.txt",
        include_str!("../email_templates/confirmation.subject.txt"),
    ),
    (
        "email/confirmation.txt",
        include_str!("../email_templates/confirmation.txt"),
    ),
    (
        "email/confirmation.html",
        include_str!("../email_templates/confirmation.html"),
    ),
    (
        "email/digest.subject.txt",
        include_str!("../email_templates/digest.subject.txt"),
    ),
    (
        "email/digest.txt",
        include_str!("../email_templates/digest.txt"),
    ),
    (
        "email/digest.html",
        include_str!("../email_templates/digest.html"),
    ),
    ("archive.html", include_str!("../templates/archive.html")),
    (
        "admin/base.html",
        include_str!("../templates/admin/base.html"),
    ),
    (
        "admin/login.html",
        include_str!("../templates/admin/login.html"),
    ),
    (
        "admin/logout.html",
        include_str!("../templates/admin/logout.html"),
    ),
    (
        "admin/dashboard.html",
        include_str!("../templates/admin/dashboard.html"),
    ),
    (
        "admin/progress.html",
        include_str!("../templates/admin/progress.html"),
    ),
    (
        "admin/digest_table.html",
        include_str!("../templates/admin/digest_table.html"),
    ),
    (
        "admin/subscribers.html",
        include_str!("../templates/admin/subscribers.html"),
    ),
    (
        "admin/subscriber_delete.html",
        include_str!("../templates/admin/subscriber_delete.html"),
    ),
    (
        "admin/import_report.html",
        include_str!("../templates/admin/import_report.html"),
    ),
    (
        "admin/articles.html",
        include_str!("../templates/admin/articles.html"),
    ),
    (
        "admin/digests.html",
        include_str!("../templates/admin/digests.html"),
    ),
    (
        "admin/digest.html",
        include_str!("../templates/admin/digest.html"),
    ),
    (
        "admin/preview.html",
        include_str!("../templates/admin/preview.html"),
    ),
    (
        "admin/send_confirm.html",
        include_str!("../templates/admin/send_confirm.html"),
    ),
];

/// The stylesheet every page links to.
pub const STYLESHEET: &str = include_str!("../templates/style.css");

/// The admin pages' stylesheet and their one script (live progress).
pub const ADMIN_STYLESHEET: &str = include_str!("../templates/admin/admin.css");
pub const ADMIN_SCRIPT: &str = include_str!("../templates/admin/admin.js");

/// The parsed templates.
pub struct Templates {
    tera: Tera,
}

impl Templates {
    pub fn load() -> anyhow::Result<Templates> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES.iter().copied())
            .context("a page or mail template does not parse")?;
        // Tera's default escaping also turns `/` into `&#x2F;`, which mangles links in
        // mail clients that show the raw href; escape only what HTML needs.
        tera.set_escape_fn(escape_html);
        Ok(Templates { tera })
    }

    /// Renders `name`; the names ending in `.html` are autoescaped.
    pub fn render(&self, name: &str, context: &tera::Context) -> anyhow::Result<String> {
        self.tera
            .render(name, context)
            .with_context(|| format!("could not render the template {name}"))
    }
}

/// Escapes the five characters that matter in HTML text and quoted attributes.
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        Templates::load().expect("templates parse");
    }

    #[test]
    fn escaping_keeps_links_readable_and_markup_inert() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom's</a> & https://x.test/a?b=1"#),
            "&lt;a href=&quot;x&quot;&gt;Tom&#39;s&lt;/a&gt; &amp; https://x.test/a?b=1"
        );
    }
}
