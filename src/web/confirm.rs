//! Confirmation links: `GET` shows a button and changes nothing (mail scanners follow
//! links); `POST` confirms, and confirming twice is fine.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::language::PageLanguage;
use super::{LinkToken, WebError, pages};
use crate::db;
use crate::domain::ConfirmationToken;
use crate::service::subscriptions::{self, TokenLookup};
use crate::state::AppState;

pub async fn confirm_page(
    query: web::Query<LinkToken>,
    page: PageLanguage,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let token = parse_token(&state, &page, query.token.as_deref())?;
    let hash = token.hash();
    let lookup = state
        .db
        .run(move |conn| subscriptions::lookup_token(conn, &hash, db::now()))
        .await?;
    match lookup {
        TokenLookup::Valid(subscriber) => {
            let mut context = page.context(&state);
            context.insert("token", token.as_str());
            context.insert("email", &subscriber.email);
            pages::render(&state, "confirm.html", &context)
        }
        other => show_outcome(&state, &page, other),
    }
}

pub async fn confirm(
    query: web::Query<LinkToken>,
    page: PageLanguage,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let token = parse_token(&state, &page, query.token.as_deref())?;
    let hash = token.hash();
    let outcome = state
        .db
        .write(move |conn| subscriptions::confirm(conn, &hash, db::now()))
        .await?;
    if let TokenLookup::Valid(subscriber) = &outcome {
        tracing::info!(subscriber = subscriber.id, "subscription confirmed");
        state.metrics.confirmation();
    }
    show_outcome(&state, &page, outcome)
}

fn show_outcome(
    state: &AppState,
    page: &PageLanguage,
    lookup: TokenLookup,
) -> Result<HttpResponse, WebError> {
    match lookup {
        TokenLookup::Valid(_) | TokenLookup::AlreadyConfirmed(_) => {
            pages::render(state, "confirmed.html", &page.context(state))
        }
        TokenLookup::Expired => Err(link_problem(
            state,
            page,
            StatusCode::GONE,
            "error-link-expired-title",
            "error-link-expired-text",
        )),
        TokenLookup::Unknown => Err(link_problem(
            state,
            page,
            StatusCode::NOT_FOUND,
            "error-link-unknown-title",
            "error-link-unknown-text",
        )),
    }
}

fn parse_token(
    state: &AppState,
    page: &PageLanguage,
    raw: Option<&str>,
) -> Result<ConfirmationToken, WebError> {
    let Some(raw) = raw.filter(|t| !t.is_empty()) else {
        return Err(link_problem(
            state,
            page,
            StatusCode::BAD_REQUEST,
            "error-link-incomplete-title",
            "error-link-missing-text",
        ));
    };
    ConfirmationToken::parse(raw).map_err(|_| {
        link_problem(
            state,
            page,
            StatusCode::BAD_REQUEST,
            "error-link-incomplete-title",
            "error-link-cut-text",
        )
    })
}

/// A page explaining what is wrong with a link (`title` and `message` are messages),
/// with a form to get a new one.
fn link_problem(
    state: &AppState,
    page: &PageLanguage,
    status: StatusCode,
    title: &str,
    message: &str,
) -> WebError {
    pages::notice_in(state, page, status, "link_problem.html", title, message)
}
