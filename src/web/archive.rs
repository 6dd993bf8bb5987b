//! The public archive: past digests as sent, without any reader's personal links.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};

use super::language::PageLanguage;
use super::{WebError, pages};
use crate::db::digests;
use crate::digest::compose::archive_html;
use crate::state::AppState;

/// `GET /archive`: every digest, newest first.
pub async fn index(
    page: PageLanguage,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let recent = state.db.run(|conn| digests::editions(conn, 1000)).await?;
    let mut context = page.context(&state);
    context.insert("digests", &recent);
    pages::render(&state, "archive.html", &context)
}

/// `GET /archive/{id}`: one digest, the "view in browser" link of every mail.
pub async fn show(
    id: web::Path<String>,
    page: PageLanguage,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let not_found = || {
        pages::message_in(
            &state,
            &page,
            StatusCode::NOT_FOUND,
            "error-no-edition-title",
            "error-no-edition-text",
        )
    };
    let Ok(id) = id.parse::<i64>() else {
        return Err(not_found());
    };
    let Some(digest) = state.db.run(move |conn| digests::find(conn, id)).await? else {
        return Err(not_found());
    };
    if digest.html_body.is_empty() {
        // Not rendered yet: it is being composed.
        return Err(not_found());
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // The digest is an email: inline styles, and the news site's images.
        .insert_header((header::CONTENT_SECURITY_POLICY, crate::web::EMAIL_VIEW_CSP))
        .body(archive_html(&digest.html_body)))
}
