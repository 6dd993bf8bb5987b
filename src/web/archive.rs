//! The public archive: past digests as sent, without any reader's personal links.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};

use super::api::NewsletterQuery;
use super::language::PageLanguage;
use super::{WebError, pages};
use crate::db::{digests, newsletters};
use crate::digest::compose::archive_html;
use crate::state::AppState;

/// `GET /archive`: every public newsletter's digests, newest first;
/// `?newsletter=SLUG` one public newsletter's (404 for an unknown or private one).
pub async fn index(
    query: web::Query<NewsletterQuery>,
    page: PageLanguage,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let slug = query.into_inner().newsletter;
    let found = state
        .db
        .run(move |conn| {
            let newsletter = match slug {
                None => None,
                Some(slug) => match newsletters::find_by_slug(conn, &slug)? {
                    Some(n) if n.public => Some(n),
                    _ => return Ok(None),
                },
            };
            let editions = digests::editions(conn, 1000, newsletter.as_ref().map(|n| n.id))?;
            anyhow::Ok(Some((newsletter, editions)))
        })
        .await?;
    let Some((newsletter, recent)) = found else {
        return Err(pages::message_in(
            &state,
            &page,
            StatusCode::NOT_FOUND,
            "error-no-newsletter-title",
            "error-no-newsletter-text",
        ));
    };
    let mut context = page.context(&state);
    if let Some(newsletter) = &newsletter {
        context.insert("newsletter_name", &state.name_of(newsletter));
    }
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
    let language = page.language.code();
    let found = state
        .db
        .run(move |conn| {
            let Some(mut digest) = digests::find(conn, id)? else {
                return Ok(None);
            };
            // A private newsletter's digests are not public.
            let public = newsletters::find(conn, digest.newsletter_id)?.is_some_and(|n| n.public);
            if !public {
                return Ok(None);
            }
            // The render in the page's language, when the digest was made in it.
            if let Some(translation) = digests::translations(conn, id)?
                .into_iter()
                .find(|t| t.language == language)
            {
                digest.html_body = translation.html_body;
            }
            anyhow::Ok(Some(digest))
        })
        .await?;
    let Some(digest) = found else {
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
