//! The reader's preferences page: `GET /preferences?token=T` shows their newsletters and
//! changes nothing; `POST` saves. The signed link is the key: no cookie, no login.
//! Without a token, `GET /preferences` asks for an address and `POST` mails that
//! address its link, answering the same whether the address is known or not.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::client::{RateLimiter, client_ip};
use super::{LinkToken, WebError, form, pages};
use crate::db::{self, subscribers};
use crate::domain::EmailAddress;
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
    if query.token.is_none() {
        return link_form(&state, StatusCode::OK, "", &BTreeMap::new());
    }
    let id = verify(&state, query.token.as_deref())?;
    page(&state, id, None, &[], false).await
}

pub async fn save_preferences(
    req: HttpRequest,
    query: web::Query<LinkToken>,
    body: web::Bytes,
    state: web::Data<AppState>,
    limiter: web::Data<RateLimiter>,
) -> Result<HttpResponse, WebError> {
    if query.token.is_none() {
        return request_link(&req, &body, &state, &limiter).await;
    }
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

/// The form that asks for an address to mail its preferences link to: 200, or with
/// `errors` under their status.
fn link_form(
    state: &AppState,
    status: StatusCode,
    email: &str,
    errors: &BTreeMap<&'static str, String>,
) -> Result<HttpResponse, WebError> {
    let mut context = state.base_context();
    context.insert("email", email);
    context.insert("errors", errors);
    if status == StatusCode::OK {
        pages::render(state, "preferences_request.html", &context)
    } else {
        Err(pages::error_page(
            state,
            status,
            "preferences_request.html",
            &context,
        ))
    }
}

/// `POST /preferences` without a token: mails the address its preferences link if it
/// belongs to a confirmed reader, and answers the same page in every case (no
/// enumeration). Rate-limited by the sign-up form's limiter; the mail counts toward
/// the address's CONFIRM_MAILS_PER_ADDRESS_PER_DAY.
async fn request_link(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
    limiter: &RateLimiter,
) -> Result<HttpResponse, WebError> {
    let form_error = |status, message: String| {
        let errors = BTreeMap::from([("form", message)]);
        link_form(state, status, "", &errors)
    };
    if !form::is_form(req) {
        return form_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The form must be sent as application/x-www-form-urlencoded.".into(),
        );
    }
    let pairs = match form::decode(body) {
        Ok(pairs) => pairs,
        Err(e) => {
            return form_error(
                StatusCode::BAD_REQUEST,
                format!("The form could not be read: {e}."),
            );
        }
    };
    let typed = pairs
        .into_iter()
        .find(|(n, _)| n == "email")
        .map(|(_, v)| v)
        .unwrap_or_default();
    if !limiter.allow(client_ip(req, state.settings.trusted_proxy)) {
        let errors = BTreeMap::from([(
            "form",
            "Too many requests from your network in the last minute. Please wait a minute and try again."
                .to_owned(),
        )]);
        return link_form(state, StatusCode::TOO_MANY_REQUESTS, &typed, &errors);
    }
    let email = match EmailAddress::parse(&typed) {
        Ok(email) => email,
        Err(e) => {
            let errors = BTreeMap::from([("email", e)]);
            return link_form(state, StatusCode::BAD_REQUEST, &typed, &errors);
        }
    };
    let max_mails = state.settings.confirm_mails_per_address_per_day;
    let for_request = email.clone();
    let queued = state
        .db
        .write(move |conn| {
            subscriptions::request_preferences_link(conn, &for_request, max_mails, db::now())
        })
        .await?;
    if queued {
        state.wake_mail_queue();
    }
    let mut context = state.base_context();
    context.insert("title", "Check your inbox");
    context.insert(
        "message",
        &format!(
            "If {} receives our newsletters, a link to manage them is on its way. It may take a few minutes; look in your spam folder too.",
            email.to_unicode()
        ),
    );
    pages::render(state, "message.html", &context)
}
