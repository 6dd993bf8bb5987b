//! The newsletters: each with its readers, schedule and next run, sections and flags;
//! creating, editing and archiving them (the rules are `service::newsletters`', as for
//! the API).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{AdminForm, AdminSession, NoFields, Notice, admin_context, notice_text, see_other};
use crate::db::newsletters::{self, DEFAULT_NEWSLETTER_ID, Newsletter};
use crate::db::{self, stats};
use crate::domain::newsletter::{NewsletterChanges, NewsletterInput};
use crate::service::newsletters::Refusal;
use crate::state::AppState;
use crate::web::{WebError, pages};

/// A newsletter as the page lists it.
#[derive(Serialize)]
struct NewsletterRow {
    slug: String,
    name: String,
    description: String,
    /// The cron string in force, or empty for manual sends only.
    schedule: String,
    /// Its next run in TIMEZONE, for people; empty when it has none.
    next_run: String,
    sections: Vec<String>,
    public: bool,
    preselected: bool,
    archived: bool,
    /// `en`, `ru` or `kk`; empty: each reader's own.
    language: String,
    default: bool,
    confirmed: i64,
    pending: i64,
}

impl NewsletterRow {
    fn of(state: &AppState, n: Newsletter, counts: stats::NewsletterCounts) -> NewsletterRow {
        let settings = &state.settings;
        let schedule = n
            .cron(settings.digest_cron.as_deref())
            .unwrap_or_default()
            .to_owned();
        let next_run = if schedule.is_empty() || n.archived {
            String::new()
        } else {
            crate::config::next_cron_run(&schedule, settings.timezone, chrono::Utc::now())
                .map(|at| {
                    format!(
                        "{} {}",
                        at.format("%a %-d %b %Y, %H:%M"),
                        settings.timezone.name()
                    )
                })
                .unwrap_or_default()
        };
        NewsletterRow {
            name: n.name.clone().unwrap_or_else(|| state.newsletter_name()),
            sections: n.section_list(),
            default: n.id == DEFAULT_NEWSLETTER_ID,
            slug: n.slug,
            description: n.description,
            schedule,
            next_run,
            public: n.public,
            preselected: n.preselected,
            archived: n.archived,
            language: n.language.unwrap_or_default(),
            confirmed: counts.confirmed,
            pending: counts.pending,
        }
    }
}

/// The create and edit forms as posted. Checkboxes are absent when unticked.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct NewsletterForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    schedule: String,
    /// Section names separated by `,`.
    #[serde(default)]
    sections: String,
    public: Option<String>,
    preselected: Option<String>,
    /// `en`, `ru` or `kk`; empty: each reader's own.
    #[serde(default)]
    language: String,
}

impl NewsletterForm {
    /// The form filled in with a newsletter as it is.
    fn of(row: &NewsletterRow) -> NewsletterForm {
        NewsletterForm {
            slug: row.slug.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            schedule: row.schedule.clone(),
            sections: row.sections.join(", "),
            public: row.public.then(|| "on".to_owned()),
            preselected: row.preselected.then(|| "on".to_owned()),
            language: row.language.clone(),
        }
    }

    /// What the form asks for, as the API would be given it. For the default newsletter
    /// a name or schedule left as the settings give them stays unset, so it keeps
    /// following NEWSLETTER_NAME and DIGEST_CRON.
    fn input(&self, state: &AppState, current: Option<&Newsletter>) -> NewsletterInput {
        let follows = |stored: Option<&Option<String>>| matches!(stored, Some(None));
        let name =
            if follows(current.map(|n| &n.name)) && self.name.trim() == state.newsletter_name() {
                None
            } else {
                Some(self.name.clone())
            };
        let default_cron = state.settings.digest_cron.clone().unwrap_or_default();
        let schedule =
            if follows(current.map(|n| &n.schedule)) && self.schedule.trim() == default_cron {
                None
            } else {
                Some(self.schedule.clone())
            };
        NewsletterInput {
            slug: Some(self.slug.clone()),
            name,
            description: Some(self.description.clone()),
            schedule,
            sections: Some(
                self.sections
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            public: Some(self.public.is_some()),
            preselected: Some(self.preselected.is_some()),
            language: Some(Some(self.language.clone()).filter(|code| !code.is_empty())),
        }
    }
}

async fn rows(state: &AppState) -> Result<Vec<NewsletterRow>, WebError> {
    let (all, mut counts) = state
        .db
        .run(|conn| Ok((newsletters::all(conn)?, stats::newsletter_counts(conn)?)))
        .await?;
    Ok(all
        .into_iter()
        .map(|n| {
            let counts = counts.remove(&n.id).unwrap_or_default();
            NewsletterRow::of(state, n, counts)
        })
        .collect())
}

/// The page: every newsletter, and the form for a new one (filled in again with its
/// errors beside the fields when it was refused).
async fn index_page(
    state: &AppState,
    session: &AdminSession,
    status: StatusCode,
    form: &NewsletterForm,
    errors: &BTreeMap<&'static str, String>,
    notice: Option<&'static str>,
) -> Result<HttpResponse, WebError> {
    let mut context = admin_context(state, session, "newsletters");
    context.insert("newsletters", &rows(state).await?);
    context.insert("form", form);
    context.insert("errors", errors);
    context.insert("notice", &notice);
    context.insert("timezone", state.settings.timezone.name());
    respond(state, status, "admin/newsletters.html", &context)
}

fn respond(
    state: &AppState,
    status: StatusCode,
    template: &str,
    context: &tera::Context,
) -> Result<HttpResponse, WebError> {
    if status == StatusCode::OK {
        pages::render(state, template, context)
    } else {
        Err(pages::error_page(state, status, template, context))
    }
}

pub async fn index(
    state: web::Data<AppState>,
    session: AdminSession,
    query: web::Query<Notice>,
) -> Result<HttpResponse, WebError> {
    let form = NewsletterForm {
        public: Some("on".into()),
        ..NewsletterForm::default()
    };
    index_page(
        &state,
        &session,
        StatusCode::OK,
        &form,
        &BTreeMap::new(),
        notice_text(&query),
    )
    .await
}

/// A refusal as errors beside the fields (or above the form).
fn refusal_errors(refusal: Refusal) -> BTreeMap<&'static str, String> {
    let (field, message) = refusal.explain();
    BTreeMap::from([(field.unwrap_or("form"), message.to_owned())])
}

pub async fn create(
    state: web::Data<AppState>,
    form: AdminForm<NewsletterForm>,
) -> Result<HttpResponse, WebError> {
    let AdminForm { session, form } = form;
    let fields = match NewsletterChanges::parse(&form.input(&state, None), true) {
        Ok(fields) => fields,
        Err(errors) => {
            return index_page(
                &state,
                &session,
                StatusCode::BAD_REQUEST,
                &form,
                &errors,
                None,
            )
            .await;
        }
    };
    let created = state
        .db
        .write(move |conn| crate::service::newsletters::create(conn, &fields, db::now()))
        .await?;
    match created {
        Ok(_) => Ok(see_other("/admin/newsletters?notice=newsletter-created")),
        Err(refusal) => {
            let status = match refusal {
                Refusal::SlugTaken => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            index_page(
                &state,
                &session,
                status,
                &form,
                &refusal_errors(refusal),
                None,
            )
            .await
        }
    }
}

async fn find(state: &AppState, slug: String) -> Result<Newsletter, WebError> {
    state
        .db
        .run(move |conn| newsletters::find_by_slug(conn, &slug))
        .await?
        .ok_or_else(|| {
            pages::message_page(
                state,
                StatusCode::NOT_FOUND,
                "No such newsletter",
                "There is no newsletter at this address.",
            )
        })
}

async fn edit_page(
    state: &AppState,
    session: &AdminSession,
    status: StatusCode,
    newsletter: Newsletter,
    form: Option<&NewsletterForm>,
    errors: &BTreeMap<&'static str, String>,
) -> Result<HttpResponse, WebError> {
    let counts = state
        .db
        .run(stats::newsletter_counts)
        .await?
        .remove(&newsletter.id)
        .unwrap_or_default();
    let row = NewsletterRow::of(state, newsletter, counts);
    let mut context = admin_context(state, session, "newsletters");
    match form {
        Some(form) => context.insert("form", form),
        None => context.insert("form", &NewsletterForm::of(&row)),
    }
    context.insert("newsletter", &row);
    context.insert("errors", errors);
    context.insert("timezone", state.settings.timezone.name());
    respond(state, status, "admin/newsletter.html", &context)
}

pub async fn edit(
    state: web::Data<AppState>,
    session: AdminSession,
    slug: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let newsletter = find(&state, slug.into_inner()).await?;
    edit_page(
        &state,
        &session,
        StatusCode::OK,
        newsletter,
        None,
        &BTreeMap::new(),
    )
    .await
}

pub async fn update(
    state: web::Data<AppState>,
    slug: web::Path<String>,
    form: AdminForm<NewsletterForm>,
) -> Result<HttpResponse, WebError> {
    let AdminForm { session, form } = form;
    let newsletter = find(&state, slug.into_inner()).await?;
    let changes = match NewsletterChanges::parse(&form.input(&state, Some(&newsletter)), false) {
        Ok(changes) => changes,
        Err(errors) => {
            return edit_page(
                &state,
                &session,
                StatusCode::BAD_REQUEST,
                newsletter,
                Some(&form),
                &errors,
            )
            .await;
        }
    };
    let slug = newsletter.slug.clone();
    let updated = state
        .db
        .write(move |conn| crate::service::newsletters::update(conn, &slug, &changes, db::now()))
        .await?;
    match updated {
        Ok(_) => Ok(see_other("/admin/newsletters?notice=newsletter-saved")),
        Err(refusal) => {
            let status = match refusal {
                Refusal::SlugTaken => StatusCode::CONFLICT,
                Refusal::Unknown => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            };
            edit_page(
                &state,
                &session,
                status,
                newsletter,
                Some(&form),
                &refusal_errors(refusal),
            )
            .await
        }
    }
}

pub async fn archive(
    state: web::Data<AppState>,
    slug: web::Path<String>,
    form: AdminForm<NoFields>,
) -> Result<HttpResponse, WebError> {
    let newsletter = find(&state, slug.into_inner()).await?;
    let slug = newsletter.slug.clone();
    let archived = state
        .db
        .write(move |conn| crate::service::newsletters::archive(conn, &slug, db::now()))
        .await?;
    match archived {
        Ok(_) => Ok(see_other("/admin/newsletters?notice=newsletter-archived")),
        Err(refusal) => {
            edit_page(
                &state,
                &form.session,
                StatusCode::CONFLICT,
                newsletter,
                None,
                &refusal_errors(refusal),
            )
            .await
        }
    }
}
