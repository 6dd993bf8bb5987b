//! The reader's preferences page: `GET /preferences?token=T` shows their newsletters and
//! changes nothing; `POST` saves. The signed link is the key: no cookie, no login.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::{LinkToken, WebError, form, pages};
use crate::db::{self, subscribers};
use crate::service::subscriptions::{self, Preference, PreferencesSaved};
use crate::state::{AppState, PREFERENCES_PURPOSE, UNSUBSCRIBE_PURPOSE};

#[derive(Serialize)]
struct Choice {
    slug: String,
    name: String,
    description: String,
    checked: bool,
}

pub async fn preferences_page(
    query: web::Query<LinkToken>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let id = verify(&state, query.token.as_deref())?;
    page(&state, id, None, &[], false).await
}

pub async fn save_preferences(
    req: HttpRequest,
    query: web::Query<LinkToken>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let id = verify(&state, query.token.as_deref())?;
    if !form::is_form(&req) {
        return Err(pages::message_page(
            &state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This form could not be read",
            "The form must be sent as application/x-www-form-urlencoded.",
        ));
    }
    let pairs = form::decode(&body).map_err(|e| {
        pages::message_page(
            &state,
            StatusCode::BAD_REQUEST,
            "This form could not be read",
            &format!("The form could not be read: {e}."),
        )
    })?;
    let chosen: Vec<String> = pairs
        .into_iter()
        .filter(|(n, _)| n == "newsletter")
        .map(|(_, v)| v)
        .collect();
    let for_save = chosen.clone();
    let saved = state
        .db
        .write(move |conn| subscriptions::save_preferences(conn, id, &for_save, db::now()))
        .await?;
    match saved {
        PreferencesSaved::Saved { left } => {
            state
                .metrics
                .unsubscribes(crate::metrics::UnsubscribePath::Preferences, left);
            page(&state, id, None, &[], true).await
        }
        PreferencesSaved::Refused(refused) => {
            page(&state, id, Some(refused.message()), &chosen, false).await
        }
        PreferencesSaved::NotSubscribed => Err(pages::message_page(
            &state,
            StatusCode::GONE,
            "You are not subscribed",
            "This address receives none of our newsletters now. To receive them again, sign up on our home page.",
        )),
        PreferencesSaved::Unknown => Err(unknown_subscriber(&state)),
    }
}

/// The page for reader `id`: 200, or, with `error` (a refused save, shown with the
/// reader's `chosen` ticks), 400.
async fn page(
    state: &AppState,
    id: i64,
    error: Option<&str>,
    chosen: &[String],
    saved: bool,
) -> Result<HttpResponse, WebError> {
    let found = state
        .db
        .run(move |conn| {
            let Some(subscriber) = subscribers::find(conn, id)? else {
                return Ok(None);
            };
            Ok(Some((subscriber, subscriptions::preferences(conn, id)?)))
        })
        .await?;
    let Some((subscriber, offered)) = found else {
        return Err(unknown_subscriber(state));
    };
    let default_name = state.newsletter_name();
    let choices: Vec<Choice> = offered
        .into_iter()
        .map(|Preference { newsletter, on }| Choice {
            checked: if error.is_some() {
                chosen.contains(&newsletter.slug)
            } else {
                on
            },
            name: newsletter.name.unwrap_or_else(|| default_name.clone()),
            slug: newsletter.slug,
            description: newsletter.description,
        })
        .collect();
    let mut context = state.base_context();
    context.insert("email", &subscriber.email);
    context.insert("reader_name", &subscriber.name);
    context.insert("newsletters", &choices);
    context.insert("token", &state.signer.sign(PREFERENCES_PURPOSE, id));
    context.insert(
        "unsubscribe_token",
        &state.signer.sign(UNSUBSCRIBE_PURPOSE, id),
    );
    context.insert("saved", &saved);
    let mut errors = BTreeMap::new();
    if let Some(error) = error {
        errors.insert("newsletters", error);
    }
    context.insert("errors", &errors);
    match error {
        None => pages::render(state, "preferences.html", &context),
        Some(_) => Err(pages::error_page(
            state,
            StatusCode::BAD_REQUEST,
            "preferences.html",
            &context,
        )),
    }
}

fn verify(state: &AppState, token: Option<&str>) -> Result<i64, WebError> {
    let token = token.unwrap_or_default();
    state.signer.verify(PREFERENCES_PURPOSE, token).map_err(|_| {
        pages::message_page(
            state,
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "The link seems to have been cut off or changed. Open it from one of our emails again.",
        )
    })
}

fn unknown_subscriber(state: &AppState) -> WebError {
    pages::message_page(
        state,
        StatusCode::NOT_FOUND,
        "No subscription here",
        "This address is no longer on our list.",
    )
}
