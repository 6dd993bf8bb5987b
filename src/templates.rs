//! Page and mail templates: compiled into the binary, overridden by name from
//! `TEMPLATES_DIR`, and parsed at start, so a broken template stops the start instead of
//! the 7 a.m. send. An override edited while the service runs is picked up within a
//! second; a broken edit keeps the templates in use and is reported to the admin.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use serde::Serialize;
use tera::Tera;

use crate::config::Settings;
use crate::db::digests::DigestSummary;
use crate::digest::compose::{
    MAIL_ONLY_END, MAIL_ONLY_START, READER_PART_END, READER_PART_START, archive_html,
};

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
        "preferences.html",
        include_str!("../templates/preferences.html"),
    ),
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
        "preferences_request.html",
        include_str!("../templates/preferences_request.html"),
    ),
    (
        "email/preferences.subject.txt",
        include_str!("../email_templates/preferences.subject.txt"),
    ),
    (
        "email/preferences.txt",
        include_str!("../email_templates/preferences.txt"),
    ),
    (
        "email/preferences.html",
        include_str!("../email_templates/preferences.html"),
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
        "admin/newsletter_fields.html",
        include_str!("../templates/admin/newsletter_fields.html"),
    ),
    (
        "admin/newsletters.html",
        include_str!("../templates/admin/newsletters.html"),
    ),
    (
        "admin/newsletter.html",
        include_str!("../templates/admin/newsletter.html"),
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
    (
        "admin/templates.html",
        include_str!("../templates/admin/templates.html"),
    ),
    (
        "admin/feedback_table.html",
        include_str!("../templates/admin/feedback_table.html"),
    ),
    (
        "admin/bounces.html",
        include_str!("../templates/admin/bounces.html"),
    ),
];

/// The stylesheet every page links to.
pub const STYLESHEET: &str = include_str!("../templates/style.css");

/// The admin pages' stylesheet and their one script (live progress).
pub const ADMIN_STYLESHEET: &str = include_str!("../templates/admin/admin.css");
pub const ADMIN_SCRIPT: &str = include_str!("../templates/admin/admin.js");

/// How often, at most, the files of `TEMPLATES_DIR` are looked at for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// The digest's three templates: subject, text, HTML.
pub const DIGEST_TEMPLATES: [&str; 3] = [
    "email/digest.subject.txt",
    "email/digest.txt",
    "email/digest.html",
];

/// The mails a site can preview with sample data: (name, its three templates).
pub const MAILS: &[(&str, [&str; 3])] = &[
    ("digest", DIGEST_TEMPLATES),
    (
        "confirmation",
        [
            "email/confirmation.subject.txt",
            "email/confirmation.txt",
            "email/confirmation.html",
        ],
    ),
    (
        "preferences",
        [
            "email/preferences.subject.txt",
            "email/preferences.txt",
            "email/preferences.html",
        ],
    ),
];

/// One template as the admin sees it: its name and where it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateInUse {
    pub name: &'static str,
    /// The override's file, or `None` for the built-in template.
    pub file: Option<String>,
}

/// A mail rendered with sample data.
#[derive(Debug, Clone)]
pub struct MailPreview {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The size and time of each override file, in the order of `TEMPLATES`; what a reload
/// compares.
type Stamps = Vec<Option<(Option<SystemTime>, u64)>>;

/// One complete, checked set of templates.
struct Loaded {
    tera: Tera,
    overrides: Vec<Option<PathBuf>>,
}

/// When the folder was last looked at, and what it held then.
struct Watch {
    checked: Instant,
    seen: Stamps,
}

/// The parsed templates: the built-in ones with `TEMPLATES_DIR`'s overrides.
pub struct Templates {
    dir: Option<PathBuf>,
    /// What the mail templates are checked with when loaded: the site's own context.
    sample_base: tera::Context,
    /// `TIMEZONE`, for the `local_date` filter.
    timezone: chrono_tz::Tz,
    current: RwLock<Arc<Loaded>>,
    watch: Mutex<Watch>,
    /// Why the last edit of an override was not taken, until a good one comes.
    problem: RwLock<Option<String>>,
}

impl Templates {
    /// The built-in templates with the overrides of `TEMPLATES_DIR`; an override that does
    /// not parse, a public page or mail template that cannot be rendered with sample
    /// data, or a mail without the reader's own link (or the archive's markers), is an
    /// error naming its file (and line, where the parser gives one).
    pub fn load(settings: &Settings) -> anyhow::Result<Templates> {
        crate::i18n::check()?;
        let dir = settings.templates_dir.clone();
        let sample_base = site_context(settings, &settings.newsletter_name);
        let seen = stamps(dir.as_deref());
        let timezone = settings.timezone;
        let loaded = build(dir.as_deref(), &sample_base, timezone)?;
        if let Some(dir) = &dir {
            warn_of_unknown_files(dir);
        }
        Ok(Templates {
            dir,
            sample_base,
            timezone,
            current: RwLock::new(Arc::new(loaded)),
            watch: Mutex::new(Watch {
                checked: Instant::now(),
                seen,
            }),
            problem: RwLock::new(None),
        })
    }

    /// Renders `name`; the names ending in `.html` are autoescaped.
    pub fn render(&self, name: &str, context: &tera::Context) -> anyhow::Result<String> {
        self.reload_if_changed();
        let loaded = self.loaded();
        loaded
            .tera
            .render(name, context)
            .map_err(|e| anyhow::anyhow!("could not render the template {name}: {}", chain(&e)))
    }

    /// Every template, and whether a file of `TEMPLATES_DIR` overrides it.
    pub fn in_use(&self) -> Vec<TemplateInUse> {
        self.reload_if_changed();
        let loaded = self.loaded();
        TEMPLATES
            .iter()
            .zip(&loaded.overrides)
            .map(|((name, _), file)| TemplateInUse {
                name,
                file: file.as_ref().map(|f| f.display().to_string()),
            })
            .collect()
    }

    /// Why an edit of `TEMPLATES_DIR` was refused (the templates before it stay in use).
    pub fn problem(&self) -> Option<String> {
        self.reload_if_changed();
        self.problem
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The mail `mail` (see [`MAILS`]) rendered with sample data on `base`.
    pub fn preview(&self, mail: &str, base: tera::Context) -> anyhow::Result<Option<MailPreview>> {
        let Some((_, [subject, text, html])) = MAILS.iter().find(|(name, _)| *name == mail) else {
            return Ok(None);
        };
        self.render_mail([subject, text, html], sample_context(mail, base))
            .map(Some)
    }

    /// Renders a mail's three templates (see [`MAILS`]) with `context`, as the digest's
    /// send, the previews and the start-up check all do: see [`render_mail`].
    pub fn render_mail(
        &self,
        names: [&str; 3],
        context: tera::Context,
    ) -> anyhow::Result<MailPreview> {
        self.render_mail_as(names, context, None)
    }

    /// [`Templates::render_mail`], under `subject` instead of the subject template's
    /// when one is given (an editor's subject for a digest).
    pub fn render_mail_as(
        &self,
        names: [&str; 3],
        context: tera::Context,
        subject: Option<&str>,
    ) -> anyhow::Result<MailPreview> {
        self.reload_if_changed();
        let loaded = self.loaded();
        render_mail(&loaded.tera, names, context, subject).map_err(|(name, e)| {
            anyhow::anyhow!("could not render the template {name}: {}", chain(&e))
        })
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Looks at the override files at most once a [`RELOAD_EVERY`]; when one changed,
    /// loads the whole set again and takes it only if it is good.
    fn reload_if_changed(&self) {
        let Some(dir) = &self.dir else { return };
        // Another request is looking already: use what is loaded.
        let Ok(mut watch) = self.watch.try_lock() else {
            return;
        };
        if watch.checked.elapsed() < RELOAD_EVERY {
            return;
        }
        watch.checked = Instant::now();
        let now = stamps(Some(dir));
        if now == watch.seen {
            return;
        }
        watch.seen = now;
        let mut problem = self.problem.write().unwrap_or_else(PoisonError::into_inner);
        match build(Some(dir), &self.sample_base, self.timezone) {
            Ok(loaded) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
                *problem = None;
                tracing::info!(dir = %dir.display(), "templates reloaded");
            }
            Err(e) => {
                let message = format!("{e:#}");
                tracing::warn!(
                    "a changed template was refused, the ones before it stay in use: {message}"
                );
                *problem = Some(message);
            }
        }
    }
}

/// The context every page and mail starts from: the site's name, addresses and colour.
pub fn site_context(settings: &Settings, newsletter_name: &str) -> tera::Context {
    let mut context = tera::Context::new();
    let base_url = settings.public_url("");
    context.insert("newsletter_name", newsletter_name);
    context.insert("base_url", &base_url);
    context.insert(
        "site_url",
        &settings
            .site_url
            .as_ref()
            .map_or_else(|| format!("{base_url}/"), |url| url.to_string()),
    );
    context.insert("site_given", &settings.site_url.is_some());
    context.insert(
        "site_host",
        &settings
            .site_url
            .as_ref()
            .and_then(|url| url.host_str())
            .unwrap_or_else(|| settings.public_host()),
    );
    context.insert(
        "logo_url",
        &settings.site_logo_url.as_ref().map(|url| url.as_str()),
    );
    context.insert("brand_color", settings.brand_color.as_str());
    context.insert("brand_color_dark", &settings.brand_color.darker());
    context.insert("brand_color_light", &settings.brand_color.lighter());
    context.insert("postal_address", &settings.mail_postal_address);
    // The language of what is rendered (pages and mail set their own) and, on pages,
    // the links to the others (see `web::language`).
    context.insert("lang", settings.default_language.code());
    context.insert("languages", &Vec::<LanguageLink>::new());
    context
}

/// A link to a page in another language (`?lang=ru`), as the pages' footer lists them.
#[derive(Debug, Clone, Serialize)]
pub struct LanguageLink {
    pub code: &'static str,
    pub name: &'static str,
    pub url: String,
    pub current: bool,
}

/// The link of the sample digest's story listed under "More stories": an override must
/// show it, in both bodies, or a digest too big for Gmail would lose its last stories.
const SAMPLE_LISTED_STORY_URL: &str = "https://astanatimes.example/2026/06/steppe-eagles/";

/// `base` with the sample data of the mail `mail`: what a preview shows and what an
/// override is checked with at start.
pub fn sample_context(mail: &str, base: tera::Context) -> tera::Context {
    let mut context = base;
    let site = context
        .get("base_url")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned();
    match mail {
        "digest" => {
            let articles = [
                (
                    "Kazakhstan Stresses UN’s Vital Role in Global Challenges Ahead of SCO Summit",
                    "https://astanatimes.example/2026/06/kazakhstan-stresses-uns-vital-role/",
                    "Akan Rakhmetullin underscored the crucial role of the United Nations during his visit to the UN Plaza in Almaty.",
                    Some("Aigerim Seisembayeva"),
                    Some("19 June 2026"),
                ),
                (
                    "Almaty Metro Extension Opens to “Record” Crowds",
                    "https://astanatimes.example/2026/06/almaty-metro-extension/",
                    "Two new stations on the Kalkaman line welcomed more than 40,000 passengers on the first day.",
                    None,
                    Some("18 June 2026"),
                ),
                (
                    "Guterres’s Visit: What to Expect in Astana",
                    "https://astanatimes.example/2026/06/guterres-visit/",
                    "António Guterres arrives for the Shanghai Cooperation Organization summit on July 3-4.",
                    Some("Dana Omirgazy"),
                    None,
                ),
            ];
            let articles: Vec<serde_json::Value> = articles
                .iter()
                .map(|(title, url, summary, author, published)| {
                    serde_json::json!({
                        "title": title, "url": url, "summary": summary,
                        "author": author, "published": published, "image_url": null,
                    })
                })
                .collect();
            // A digest too big for Gmail lists its last stories as links.
            let more_stories = [serde_json::json!({
                "title": "Steppe Eagles Return to the Korgalzhyn Reserve",
                "url": SAMPLE_LISTED_STORY_URL,
            })];
            context.insert("lead", &articles[0]["title"]);
            context.insert("more", &(articles.len() + more_stories.len() - 1));
            context.insert("articles", &articles);
            context.insert("more_stories", &more_stories);
            context.insert(
                "preheader",
                "Also: Almaty Metro Extension Opens to “Record” Crowds · Guterres’s Visit: What to Expect in Astana",
            );
            context.insert("date", "19 June 2026");
            context.insert(
                "unsubscribe_url",
                &format!("{site}/unsubscribe?token=preview"),
            );
            context.insert("preferences_url", &format!("{site}/preferences"));
            context.insert("archive_url", &format!("{site}/archive"));
        }
        "confirmation" => {
            context.insert(
                "confirm_url",
                &format!("{site}/subscriptions/confirm?token=sample"),
            );
            context.insert("ttl_hours", &48);
        }
        "preferences" => {
            context.insert(
                "preferences_url",
                &format!("{site}/preferences?token=sample"),
            );
        }
        _ => {}
    }
    context
}

/// `base` with every variable a public page may be given (see docs/templates.md).
fn sample_page_context(base: tera::Context) -> tera::Context {
    let mut context = base;
    context.insert("email", "aigerim@example.kz");
    context.insert("name", "Aigerim Seisembayeva");
    context.insert(
        "errors",
        &std::collections::HashMap::<String, String>::new(),
    );
    context.insert("token", "sample");
    // The preferences page's: the reader's newsletters, one ticked.
    context.insert("reader_name", "Aigerim Seisembayeva");
    context.insert("unsubscribe_token", "sample");
    context.insert("saved", &false);
    context.insert("reader_language", "en");
    context.insert(
        "languages",
        &crate::i18n::Language::ALL
            .iter()
            .map(|l| LanguageLink {
                code: l.code(),
                name: l.native_name(),
                url: format!("/?lang={}", l.code()),
                current: l.code() == "en",
            })
            .collect::<Vec<_>>(),
    );
    context.insert(
        "newsletters",
        &serde_json::json!([
            {"slug": "digest", "name": "The Astana Times", "description": "The day's stories.", "checked": true},
            {"slug": "business", "name": "Business Weekly", "description": "", "checked": false}
        ]),
    );
    context.insert("title", "A sample notice");
    context.insert("message", "What the notice says.");
    // The archive's list as `GET /archive` gives it (the same type, so the same fields),
    // one digest sent and one still going out, so a loop body is rendered too.
    let created_at = chrono::NaiveDate::from_ymd_opt(2026, 6, 19)
        .and_then(|day| day.and_hms_opt(7, 0, 0))
        .unwrap_or_default();
    let subject =
        "Kazakhstan Stresses UN’s Vital Role in Global Challenges Ahead of SCO Summit, and 2 more";
    let digest = |id, completed_at: Option<chrono::NaiveDateTime>| DigestSummary {
        id,
        subject: subject.to_owned(),
        status: if completed_at.is_some() {
            "sent"
        } else {
            "sending"
        }
        .to_owned(),
        article_count: 3,
        recipient_count: 1204,
        created_at,
        completed_at,
    };
    context.insert(
        "digests",
        &[
            digest(2, None),
            digest(1, Some(created_at + chrono::Duration::minutes(4))),
        ],
    );
    context
}

/// Renders a mail's three templates, `names` = [subject, text, html], as a send does:
/// the subject first, without `subject` (it is what is being made), then the text and
/// HTML, the digest's given the trimmed subject (the confirmation's send, in
/// src/mail/queue.rs, renders its three parts with one context, so they do not get it).
/// On failure, the template that failed.
/// A `given` subject (the editor's) stands in for the subject template's.
pub fn render_mail<'n>(
    tera: &Tera,
    names: [&'n str; 3],
    mut context: tera::Context,
    given: Option<&str>,
) -> Result<MailPreview, (&'n str, tera::Error)> {
    let [subject, text, html] = names;
    let render =
        |name: &'n str, context: &tera::Context| tera.render(name, context).map_err(|e| (name, e));
    let subject_line = match given {
        Some(given) => given.trim().to_owned(),
        None => render(subject, &context)?.trim().to_owned(),
    };
    if names == DIGEST_TEMPLATES {
        context.insert("subject", &subject_line);
    }
    Ok(MailPreview {
        html: render(html, &context)?,
        text: render(text, &context)?,
        subject: subject_line,
    })
}

/// What the sample render of mail `mail` lacks that its readers need: the reader's own
/// link in both bodies, and in the HTML the markers the public archive cuts at. Each
/// as (index of the template in [`MAILS`], what is wrong).
fn missing_from_mail(
    mail: &str,
    sample: &tera::Context,
    rendered: &MailPreview,
) -> Vec<(usize, String)> {
    let given = |name: &str| {
        sample
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let mut missing = Vec::new();
    match mail {
        "digest" => {
            let unsubscribe = given("unsubscribe_url");
            for (part, body) in [(1, &rendered.text), (2, &rendered.html)] {
                if !body.contains(&unsubscribe) {
                    missing.push((part, "has no `{{ unsubscribe_url }}`: every digest must carry the reader's unsubscribe link".to_owned()));
                }
            }
            for (part, body) in [(1, &rendered.text), (2, &rendered.html)] {
                if !body.contains(SAMPLE_LISTED_STORY_URL) {
                    missing.push((part, "does not show `more_stories` (each `{title, url}`): a digest too big for Gmail lists its last stories there, and they would be lost".to_owned()));
                }
            }
            let html = &rendered.html;
            for (start, end) in [
                (READER_PART_START, READER_PART_END),
                (MAIL_ONLY_START, MAIL_ONLY_END),
            ] {
                if html.matches(start).count() != html.matches(end).count() {
                    missing.push((2, format!("has a `{start}` without its `{end}` (or the other way round): the public archive would lose what follows")));
                }
            }
            let archived = archive_html(html);
            if archived.contains(&unsubscribe) {
                missing.push((2, format!("shows `{{{{ unsubscribe_url }}}}` outside `{READER_PART_START}` … `{READER_PART_END}`: the public archive would show the link")));
            }
            let archive_url = given("archive_url");
            if !archive_url.is_empty() && archived.contains(&archive_url) {
                missing.push((2, format!("shows `{{{{ archive_url }}}}` outside `{MAIL_ONLY_START}` … `{MAIL_ONLY_END}`: the archive page would link to itself")));
            }
        }
        "confirmation" => {
            let confirm = given("confirm_url");
            for (part, body) in [(1, &rendered.text), (2, &rendered.html)] {
                if !body.contains(&confirm) {
                    missing.push((
                        part,
                        "has no `{{ confirm_url }}`: the reader could not confirm".to_owned(),
                    ));
                }
            }
        }
        "preferences" => {
            let link = given("preferences_url");
            for (part, body) in [(1, &rendered.text), (2, &rendered.html)] {
                if !body.contains(&link) {
                    missing.push((
                        part,
                        "has no `{{ preferences_url }}`: the reader could not open their preferences"
                            .to_owned(),
                    ));
                }
            }
        }
        _ => {}
    }
    missing
}

/// Reads the built-in templates with the overrides of `dir`, checks them, and renders
/// every public page and mail template with sample data (one that fails would fail when
/// a reader asks for the page, or at send time).
fn build(
    dir: Option<&Path>,
    sample_base: &tera::Context,
    timezone: chrono_tz::Tz,
) -> anyhow::Result<Loaded> {
    let mut sources: Vec<(&str, String)> = Vec::with_capacity(TEMPLATES.len());
    let mut overrides = Vec::with_capacity(TEMPLATES.len());
    for (name, builtin) in TEMPLATES {
        let file = dir.map(|dir| dir.join(name)).filter(|file| file.is_file());
        let source = match &file {
            Some(file) => {
                let source = std::fs::read_to_string(file)
                    .with_context(|| format!("could not read the template `{}`", file.display()))?;
                tera::Template::new(name, None, &source)
                    .map_err(|e| anyhow::anyhow!("{}", parse_error(file, &e)))?;
                source
            }
            None => (*builtin).to_owned(),
        };
        sources.push((name, source));
        overrides.push(file);
    }
    let mut tera = Tera::default();
    tera.add_raw_templates(
        sources
            .iter()
            .map(|(name, source)| (*name, source.as_str())),
    )
    .map_err(|e| match dir {
        Some(dir) => anyhow::anyhow!(
            "the templates of TEMPLATES_DIR `{}` do not fit the built-in ones: {}",
            dir.display(),
            chain(&e)
        ),
        None => anyhow::anyhow!("a built-in template does not parse: {}", chain(&e)),
    })?;
    // Tera's default escaping also turns `/` into `&#x2F;`, which mangles links in
    // mail clients that show the raw href; escape only what HTML needs.
    tera.set_escape_fn(escape_html);
    tera.register_filter("local_date", LocalDate(timezone));
    tera.register_function("t", crate::i18n::Translate);
    tera.register_function("t_html", crate::i18n::TranslateHtml);
    let shown = |name: &str| {
        TEMPLATES
            .iter()
            .position(|(n, _)| *n == name)
            .and_then(|i| overrides[i].as_ref())
            .map_or_else(
                || format!("the built-in {name}"),
                |f| format!("`{}`", f.display()),
            )
    };
    let cannot_render = |name: &str, e: &tera::Error| {
        anyhow::anyhow!(
            "the template {} cannot be rendered with sample data (see docs/templates.md for what it is given): {}",
            shown(name),
            chain(e)
        )
    };
    let pages = TEMPLATES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !name.starts_with("email/") && !name.starts_with("admin/"));
    for name in pages {
        tera.render(name, &sample_page_context(sample_base.clone()))
            .map_err(|e| cannot_render(name, &e))?;
    }
    for (mail, names) in MAILS {
        let mut sample = sample_context(mail, sample_base.clone());
        if *mail == "digest" {
            // A sent digest's own archive page, as compose gives it: unlike the preview's
            // `/archive`, no link to the archive's list can be taken for it.
            let base_url = sample_base.get("base_url").and_then(|v| v.as_str());
            let archive_url = format!("{}/archive/1", base_url.unwrap_or_default());
            sample.insert("archive_url", &archive_url);
        }
        let rendered = render_mail(&tera, *names, sample.clone(), None)
            .map_err(|(name, e)| cannot_render(name, &e))?;
        if let Some((part, problem)) = missing_from_mail(mail, &sample, &rendered).first() {
            anyhow::bail!(
                "the template {} {problem} (see docs/templates.md)",
                shown(names[*part])
            );
        }
    }
    Ok(Loaded { tera, overrides })
}

/// The size and time of each override file of `dir`.
fn stamps(dir: Option<&Path>) -> Stamps {
    let Some(dir) = dir else { return Vec::new() };
    TEMPLATES
        .iter()
        .map(|(name, _)| {
            std::fs::metadata(dir.join(name))
                .ok()
                .filter(|m| m.is_file())
                .map(|m| (m.modified().ok(), m.len()))
        })
        .collect()
}

/// Files in `TEMPLATES_DIR` that override nothing are most likely misnamed or misplaced
/// (`digest.html` for `email/digest.html`): say so at start.
fn warn_of_unknown_files(dir: &Path) {
    for folder in ["", "email", "admin"] {
        let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let name = if folder.is_empty() {
                entry.file_name().to_string_lossy().into_owned()
            } else {
                format!("{folder}/{}", entry.file_name().to_string_lossy())
            };
            if !TEMPLATES.iter().any(|(known, _)| *known == name) {
                tracing::warn!(
                    file = %path.display(),
                    "this file of TEMPLATES_DIR overrides no template (see docs/templates.md for the names)"
                );
            }
        }
    }
}

/// "`FILE` line N: the template does not parse: …" from Tera's parse error, whose
/// message starts ` --> LINE:COLUMN`.
fn parse_error(file: &Path, e: &tera::Error) -> String {
    let detail = chain(e);
    let line = detail
        .split_once("--> ")
        .and_then(|(_, rest)| rest.split(':').next())
        .and_then(|line| line.trim().parse::<u32>().ok());
    match line {
        Some(line) => format!(
            "`{}` line {line}: the template does not parse:\n{detail}",
            file.display()
        ),
        None => format!(
            "`{}`: the template does not parse: {detail}",
            file.display()
        ),
    }
}

/// An error and its causes, as Tera keeps the useful part in the sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `{{ stored_time | local_date }}`: the day (`2026-11-30`) a stored UTC time
/// (RFC 3339, as the data handed to templates writes it) falls on in `TIMEZONE`.
struct LocalDate(chrono_tz::Tz);

impl tera::Filter for LocalDate {
    fn filter(
        &self,
        value: &tera::Value,
        _: &std::collections::HashMap<String, tera::Value>,
    ) -> tera::Result<tera::Value> {
        let text = value
            .as_str()
            .ok_or_else(|| tera::Error::msg("local_date takes a time written as text"))?;
        let at = chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| tera::Error::msg(format!("local_date: `{text}` is not a time: {e}")))?;
        Ok(tera::Value::String(
            at.with_timezone(&self.0).format("%Y-%m-%d").to_string(),
        ))
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
        let settings = Settings::from_map(&Default::default()).expect("default settings");
        Templates::load(&settings).expect("templates parse");
    }

    #[test]
    fn escaping_keeps_links_readable_and_markup_inert() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom's</a> & https://x.test/a?b=1"#),
            "&lt;a href=&quot;x&quot;&gt;Tom&#39;s&lt;/a&gt; &amp; https://x.test/a?b=1"
        );
    }
}
