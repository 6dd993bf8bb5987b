//! The articles waiting for the next digest: import a feed, add one by hand, leave one
//! out, set the order of the stories.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{AdminForm, AdminSession, NoFields, Notice, admin_context, notice_text, see_other};
use crate::db::{self, articles, feeds};
use crate::domain::article::web_address;
use crate::domain::{ArticleInput, NewArticle};
use crate::feed;
use crate::service::feeds::AddFeedError;
use crate::state::AppState;
use crate::web::{WebError, pages};

pub async fn index(
    state: web::Data<AppState>,
    session: AdminSession,
    notice: web::Query<Notice>,
) -> Result<HttpResponse, WebError> {
    let mut context = admin_context(&state, &session, "articles");
    context.insert("notice", &notice_text(&notice));
    render(&state, context, &ArticleInput::default(), None).await
}

async fn render(
    state: &AppState,
    mut context: tera::Context,
    input: &ArticleInput,
    errors: Option<&crate::domain::article::FieldErrors>,
) -> Result<HttpResponse, WebError> {
    context.insert("input", &FormValues::from(input));
    context.insert("errors", &errors.cloned().unwrap_or_default());
    let status = match errors {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    render_with_status(state, context, status).await
}

/// The articles page with its lists and the feed form, answered with `status`.
async fn render_with_status(
    state: &AppState,
    mut context: tera::Context,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let (waiting, left_out, added_feeds) = state
        .db
        .run(|conn| {
            Ok((
                articles::waiting(conn)?,
                articles::left_out(conn)?,
                feeds::all(conn)?,
            ))
        })
        .await?;
    context.insert("waiting", &waiting);
    context.insert("left_out", &left_out);
    let added_feeds: Vec<FeedRow> = added_feeds
        .into_iter()
        .map(|f| FeedRow {
            id: f.id,
            url: feed::redacted(&f.url),
            section: f.section,
        })
        .collect();
    context.insert("feeds", &added_feeds);
    let feed_url = state.settings.feed_url.as_deref().map(feed::redacted);
    if !context.contains_key("feed_input") {
        context.insert("feed_input", &feed_url.as_deref().unwrap_or_default());
    }
    context.insert("feed_url", &feed_url);
    if status.is_success() {
        pages::render(state, "admin/articles.html", &context)
    } else {
        Err(pages::error_page(
            state,
            status,
            "admin/articles.html",
            &context,
        ))
    }
}

/// A feed as the page lists it: its address without any password.
#[derive(serde::Serialize)]
struct FeedRow {
    id: i64,
    url: String,
    section: Option<String>,
}

/// What the add form shows again after an error.
#[derive(serde::Serialize)]
struct FormValues<'a> {
    title: &'a str,
    url: &'a str,
    summary: &'a str,
    author: &'a str,
}

impl<'a> From<&'a ArticleInput> for FormValues<'a> {
    fn from(input: &'a ArticleInput) -> Self {
        FormValues {
            title: input.title.as_deref().unwrap_or_default(),
            url: input.url.as_deref().unwrap_or_default(),
            summary: input.summary.as_deref().unwrap_or_default(),
            author: input.author.as_deref().unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
pub struct ArticleForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    author: String,
}

pub async fn create(
    state: web::Data<AppState>,
    form: AdminForm<ArticleForm>,
) -> Result<HttpResponse, WebError> {
    let AdminForm { session, form } = form;
    let input = ArticleInput {
        title: Some(form.title),
        url: Some(form.url),
        summary: Some(form.summary),
        author: Some(form.author),
        ..ArticleInput::default()
    };
    let parse_input = input.clone();
    let parsed = web::block(move || NewArticle::parse(&parse_input))
        .await
        .map_err(|e| WebError::Internal(anyhow::anyhow!("article parsing panicked: {e}")))?;
    let mut article = match parsed {
        Ok(article) => article,
        Err(errors) => {
            let context = admin_context(&state, &session, "articles");
            return render(&state, context, &input, Some(&errors)).await;
        }
    };
    // An article the editor adds by hand is published as they add it: it leads the
    // newest-first order and the list shows its date, unless the editor moves it.
    let now = db::now();
    article.published_at.get_or_insert(now);
    let (_, created) = state
        .db
        .write(move |conn| articles::add(conn, &article, now))
        .await?;
    Ok(see_other(if created {
        "/admin/articles?notice=added"
    } else {
        "/admin/articles?notice=known"
    }))
}

pub async fn leave_out(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: AdminForm<NoFields>,
) -> Result<HttpResponse, WebError> {
    set_left_out(&state, id.into_inner(), true).await
}

pub async fn put_back(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: AdminForm<NoFields>,
) -> Result<HttpResponse, WebError> {
    set_left_out(&state, id.into_inner(), false).await
}

async fn set_left_out(state: &AppState, id: i64, left_out: bool) -> Result<HttpResponse, WebError> {
    let changed = state
        .db
        .write(move |conn| articles::set_left_out(conn, id, left_out, db::now()))
        .await?;
    if !changed {
        return Err(pages::message_page(
            state,
            StatusCode::NOT_FOUND,
            "No such waiting article",
            "It may have gone out in a digest already.",
        ));
    }
    Ok(see_other(if left_out {
        "/admin/articles?notice=left-out"
    } else {
        "/admin/articles?notice=put-back"
    }))
}

/// Where a story goes: `up`, `down` or `lead`.
#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    to: String,
}

pub async fn reorder(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: AdminForm<MoveForm>,
) -> Result<HttpResponse, WebError> {
    let to = match form.form.to.as_str() {
        "up" => articles::Move::Up,
        "down" => articles::Move::Down,
        "lead" => articles::Move::Lead,
        _ => {
            return Err(pages::message_page(
                &state,
                StatusCode::BAD_REQUEST,
                "The form could not be read",
                "A story moves up, down or to the lead.",
            ));
        }
    };
    let id = id.into_inner();
    let moved = state
        .db
        .write(move |conn| articles::reorder(conn, id, to))
        .await?;
    if !moved {
        return Err(pages::message_page(
            &state,
            StatusCode::NOT_FOUND,
            "No such waiting article",
            "It may have gone out in a digest already, or been left out.",
        ));
    }
    Ok(see_other(&format!("/admin/articles#article-{id}")))
}

#[derive(Deserialize)]
pub struct FeedForm {
    #[serde(default)]
    url: String,
}

/// Reads an RSS or Atom feed from the web now and adds its new entries, as
/// `newsletter import-feed URL` does. Only http(s) addresses: a web form never reads the
/// server's own files.
pub async fn import_feed(
    state: web::Data<AppState>,
    form: AdminForm<FeedForm>,
) -> Result<HttpResponse, WebError> {
    let AdminForm { session, form } = form;
    let url = form.url.trim().to_owned();
    let mut context = admin_context(&state, &session, "articles");
    context.insert("feed_input", &url);
    let (status, feedback) = match web_address(&url) {
        Err(error) => (
            StatusCode::BAD_REQUEST,
            Err(format!("The feed’s address {error}.")),
        ),
        Ok(address) => match feed::import_feed_url(&state, &address).await {
            Ok(report) if report.not_modified => (
                StatusCode::OK,
                Ok("The feed has not changed since it was last read.".to_owned()),
            ),
            Ok(report) => {
                context.insert("feed_skipped", &report.skipped);
                (
                    StatusCode::OK,
                    Ok(format!(
                        "Read the feed: {} new, {} already known, {} skipped.",
                        report.new,
                        report.known,
                        report.skipped.len()
                    )),
                )
            }
            Err(e) => {
                tracing::warn!(
                    url = feed::redacted(&url),
                    error = format!("{e:#}"),
                    "admin feed import failed"
                );
                // Not a feed, or an address the fetcher may not reach: the admin's to
                // change. A server that did not answer: try again later.
                let status = if feed::is_bad_feed(&e) {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::BAD_GATEWAY
                };
                (status, Err(format!("{e:#}")))
            }
        },
    };
    match feedback {
        Ok(report) => context.insert("feed_report", &report),
        Err(error) => context.insert("feed_error", &error),
    }
    context.insert("input", &FormValues::from(&ArticleInput::default()));
    context.insert("errors", &crate::domain::article::FieldErrors::default());
    render_with_status(&state, context, status).await
}

#[derive(Deserialize)]
pub struct AddFeedForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    section: String,
}

/// Adds a feed, polled on FEED_CRON from now on (as `POST /api/feeds` does).
pub async fn add_feed(
    state: web::Data<AppState>,
    form: AdminForm<AddFeedForm>,
) -> Result<HttpResponse, WebError> {
    let AdminForm { session, form } = form;
    let section = Some(form.section.as_str()).filter(|s| !s.trim().is_empty());
    let (status, error) = match crate::service::feeds::add(&state, &form.url, section).await {
        Ok(_) => return Ok(see_other("/admin/articles?notice=feed-added#feeds")),
        Err(e @ AddFeedError::Invalid(..)) => (StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ (AddFeedError::Taken(_) | AddFeedError::IsFeedUrl)) => {
            (StatusCode::CONFLICT, e.to_string())
        }
        Err(AddFeedError::Other(e)) => return Err(WebError::Internal(e)),
    };
    let mut context = admin_context(&state, &session, "articles");
    context.insert("feed_add_error", &error);
    context.insert("feed_add_url", &form.url);
    context.insert("feed_add_section", &form.section);
    context.insert("input", &FormValues::from(&ArticleInput::default()));
    context.insert("errors", &crate::domain::article::FieldErrors::default());
    render_with_status(&state, context, status).await
}

/// Removes a feed; the articles it brought stay.
pub async fn remove_feed(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: AdminForm<NoFields>,
) -> Result<HttpResponse, WebError> {
    if !crate::service::feeds::remove(&state, id.into_inner()).await? {
        return Err(pages::message_page(
            &state,
            StatusCode::NOT_FOUND,
            "No such feed",
            "It may have been removed already.",
        ));
    }
    Ok(see_other("/admin/articles?notice=feed-removed#feeds"))
}
