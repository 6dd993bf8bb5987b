//! Confirmation links: `GET` shows a button and changes nothing (mail scanners follow
//! links); `POST` confirms, and confirming twice is fine.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{LinkToken, WebError, pages};
use crate::db;
use crate::domain::ConfirmationToken;
use crate::service::subscriptions::{self, TokenLookup};
use crate::state::AppState;

pub async fn confirm_page(
    query: web::Query<LinkToken>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let token = parse_token(&state, query.token.as_deref())?;
    let hash = token.hash();
    let lookup = state
        .db
        .run(move |conn| subscriptions::lookup_token(conn, &hash, db::now()))
        .await?;
    match lookup {
        TokenLookup::Valid(subscriber) => {
            let mut context = state.base_context();
            context.insert("token", token.as_str());
            context.insert("email", &subscriber.email);
            pages::render(&state, "confirm.html", &context)
        }
        other => show_outcome(&state, other),
    }
}

pub async fn confirm(
    query: web::Query<LinkToken>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let token = parse_token(&state, query.token.as_deref())?;
    let hash = token.hash();
    let outcome = state
        .db
        .write(move |conn| subscriptions::confirm(conn, &hash, db::now()))
        .await?;
    if let TokenLookup::Valid(subscriber) = &outcome {
        tracing::info!(subscriber = subscriber.id, "subscription confirmed");
        state.metrics.confirmation();
    }
    show_outcome(&state, outcome)
}

fn show_outcome(state: &AppState, lookup: TokenLookup) -> Result<HttpResponse, WebError> {
    match lookup {
        TokenLookup::Valid(_) | TokenLookup::AlreadyConfirmed(_) => {
            pages::render(state, "confirmed.html", &state.base_context())
        }
        TokenLookup::Expired => Err(link_problem(
            state,
            StatusCode::GONE,
            "This link has expired",
            "Confirmation links work for a limited time, and each works once. Enter your address to get a fresh one.",
        )),
        TokenLookup::Unknown => Err(link_problem(
            state,
            StatusCode::NOT_FOUND,
            "We don’t know this link",
            "It may have been copied incompletely. Enter your address and we’ll send you a new one.",
        )),
    }
}

fn parse_token(state: &AppState, raw: Option<&str>) -> Result<ConfirmationToken, WebError> {
    let Some(raw) = raw.filter(|t| !t.is_empty()) else {
        return Err(link_problem(
            state,
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "The confirmation token is missing. Open the link from the email again, or ask for a new one.",
        ));
    };
    ConfirmationToken::parse(raw).map_err(|_| {
        link_problem(
            state,
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "The link seems to have been cut off or changed. Open it from the email again, or ask for a new one.",
        )
    })
}

/// A page explaining what is wrong with a link, with a form to get a new one.
fn link_problem(state: &AppState, status: StatusCode, title: &str, message: &str) -> WebError {
    let mut context = state.base_context();
    context.insert("title", title);
    context.insert("message", message);
    pages::error_page(state, status, "link_problem.html", &context)
}
