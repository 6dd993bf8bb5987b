//! Rendering pages from templates, and the small static routes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::WebError;
use super::language::PageLanguage;
use crate::config::BrandColor;
use crate::state::AppState;
use crate::templates::{ADMIN_SCRIPT, ADMIN_STYLESHEET, STYLESHEET};

/// Renders `template` as a 200 page.
pub fn render(
    state: &AppState,
    template: &str,
    context: &tera::Context,
) -> Result<HttpResponse, WebError> {
    let html = state.templates.render(template, context)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Renders `template` as an error page with `status`.
pub fn error_page(
    state: &AppState,
    status: StatusCode,
    template: &str,
    context: &tera::Context,
) -> WebError {
    match state.templates.render(template, context) {
        Ok(html) => WebError::Page { status, html },
        Err(e) => WebError::Internal(e),
    }
}

/// A simple page with a heading and a sentence.
pub fn message_page(state: &AppState, status: StatusCode, title: &str, message: &str) -> WebError {
    let mut context = state.base_context();
    context.insert("title", title);
    context.insert("message", message);
    error_page(state, status, "message.html", &context)
}

/// A public page with a heading and a sentence, both messages (`title`, `text`) in the
/// page's language.
pub fn message_in(
    state: &AppState,
    page: &PageLanguage,
    status: StatusCode,
    title: &str,
    text: &str,
) -> WebError {
    notice_in(state, page, status, "message.html", title, text)
}

/// `template` (a page given `title` and `message`) with the messages `title` and `text`
/// in the page's language, its language links leading to the sign-up page.
pub fn notice_in(
    state: &AppState,
    page: &PageLanguage,
    status: StatusCode,
    template: &str,
    title: &str,
    text: &str,
) -> WebError {
    let mut context = page.to_front().context(state);
    context.insert("title", &page.text(title));
    context.insert("message", &page.text(text));
    error_page(state, status, template, &context)
}

/// A static asset compiled into the binary, cacheable for a day.
fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    let mut response = HttpResponse::Ok().content_type(content_type).body(body);
    super::cache_for_a_day(&mut response);
    response
}

/// The pages' stylesheet in the site's colour (`BRAND_COLOR`).
pub async fn stylesheet(state: web::Data<AppState>) -> HttpResponse {
    let color = &state.settings.brand_color;
    let css = STYLESHEET
        .replace(BRAND_COLOR_DARK_IN_CSS, &color.darker())
        .replace(BrandColor::DEFAULT, color.as_str());
    let mut response = HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(css);
    super::cache_for_a_day(&mut response);
    response
}

/// `GET /favicon.ico`: browsers ask for it on every page view. The pages have no icon
/// of their own, so the answer is "nothing here" (204) that browsers keep for a week,
/// instead of a 404 page in every access log.
pub async fn favicon() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "public, max-age=604800",
        ))
        .finish()
}

/// The darker shade the stylesheet is written with, for buttons under the pointer.
const BRAND_COLOR_DARK_IN_CSS: &str = "#08467f";

pub async fn admin_stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", ADMIN_STYLESHEET)
}

pub async fn admin_script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", ADMIN_SCRIPT)
}

pub async fn not_found(
    page: PageLanguage,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    Err(message_in(
        &state,
        &page,
        StatusCode::NOT_FOUND,
        "error-not-found-title",
        "error-not-found-text",
    ))
}
