//! The reader's preferences page: `GET /preferences?token=T` shows their newsletters and
//! changes nothing; `POST` saves. The signed link is the key: no cookie, no login.
//! Without a token, `GET /preferences` asks for an address and `POST` mails that
//! address its link, answering the same whether the address is known or not.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::client::{RateLimiter, client_ip};
use super::language::PageLanguage;
use super::{LinkToken, WebError, form, pages};
use crate::db::{self, subscribers};
use crate::domain::EmailAddress;
use crate::i18n::Language;
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
    lang: PageLanguage,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    if query.token.is_none() {
        return link_form(&state, &lang, StatusCode::OK, "", &BTreeMap::new());
    }
    let id = verify(&state, &lang, query.token.as_deref())?;
    page(&state, &lang, id, None, &[], false).await
}

pub async fn save_preferences(
    req: HttpRequest,
    query: web::Query<LinkToken>,
    lang: PageLanguage,
    body: web::Bytes,
    state: web::Data<AppState>,
    limiter: web::Data<RateLimiter>,
) -> Result<HttpResponse, WebError> {
    if query.token.is_none() {
        return request_link(&req, &lang, &body, &state, &limiter).await;
    }
    let id = verify(&state, &lang, query.token.as_deref())?;
    if !form::is_form(&req) {
        return Err(pages::message_in(
            &state,
            &lang,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "error-form-title",
            "error-form-type-text",
        ));
    }
    let pairs = form::decode(&body).map_err(|e| {
        let detail = crate::i18n::format_arg(lang.language, "error-form-text", "detail", &e);
        let mut context = lang.context(&state);
        context.insert("title", &lang.text("error-form-title"));
        context.insert("message", &detail);
        pages::error_page(&state, StatusCode::BAD_REQUEST, "message.html", &context)
    })?;
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    // The page's language travels in the form; the reader's own is the one chosen.
    let lang = match field("lang").and_then(Language::parse) {
        Some(language) => lang.switched(language),
        None => lang,
    };
    let language = match field("language") {
        None => None,
        Some(code) => match Language::ALL.into_iter().find(|l| l.code() == code) {
            Some(language) => Some(language),
            None => {
                return Err(pages::message_in(
                    &state,
                    &lang,
                    StatusCode::BAD_REQUEST,
                    "error-form-title",
                    "error-language-text",
                ));
            }
        },
    };
    let chosen: Vec<String> = pairs
        .iter()
        .filter(|(n, _)| n == "newsletter")
        .map(|(_, v)| v.clone())
        .collect();
    let for_save = chosen.clone();
    let saved = state
        .db
        .write(move |conn| {
            subscriptions::save_preferences(conn, id, &for_save, language, db::now())
        })
        .await?;
    match saved {
        PreferencesSaved::Saved { left } => {
            state
                .metrics
                .unsubscribes(crate::metrics::UnsubscribePath::Preferences, left);
            // The page answers in the language just chosen.
            let lang = match language {
                Some(language) => lang.switched(language),
                None => lang,
            };
            page(&state, &lang, id, None, &[], true).await
        }
        PreferencesSaved::Refused(refused) => {
            let message = refused_message(lang.language, refused);
            page(&state, &lang, id, Some(&message), &chosen, false).await
        }
        PreferencesSaved::NotSubscribed => Err(pages::message_in(
            &state,
            &lang,
            StatusCode::GONE,
            "error-not-subscribed-title",
            "error-not-subscribed-text",
        )),
        PreferencesSaved::Unknown => Err(unknown_subscriber(&state, &lang)),
    }
}

/// Why a choice of newsletters was refused, in `language`.
pub fn refused_message(language: Language, refused: subscriptions::ChoiceError) -> String {
    let key = match refused {
        subscriptions::ChoiceError::NoneChosen => "signup-error-none-chosen",
        subscriptions::ChoiceError::NotOffered => "signup-error-not-offered",
    };
    crate::i18n::text(language, key)
}

/// The page for reader `id`: 200, or, with `error` (a refused save, shown with the
/// reader's `chosen` ticks), 400.
async fn page(
    state: &AppState,
    lang: &PageLanguage,
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
        return Err(unknown_subscriber(state, lang));
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
    let mut context = lang.context(state);
    context.insert("email", &subscriber.email);
    context.insert("reader_name", &subscriber.name);
    context.insert(
        "reader_language",
        subscriber.language(state.settings.default_language).code(),
    );
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

fn verify(state: &AppState, lang: &PageLanguage, token: Option<&str>) -> Result<i64, WebError> {
    let token = token.unwrap_or_default();
    state
        .signer
        .verify(PREFERENCES_PURPOSE, token)
        .map_err(|_| {
            pages::message_in(
                state,
                lang,
                StatusCode::BAD_REQUEST,
                "error-link-incomplete-title",
                "error-preferences-link-text",
            )
        })
}

fn unknown_subscriber(state: &AppState, lang: &PageLanguage) -> WebError {
    pages::message_in(
        state,
        lang,
        StatusCode::NOT_FOUND,
        "error-unknown-reader-title",
        "error-preferences-unknown-text",
    )
}

/// The form that asks for an address to mail its preferences link to: 200, or with
/// `errors` under their status.
fn link_form(
    state: &AppState,
    lang: &PageLanguage,
    status: StatusCode,
    email: &str,
    errors: &BTreeMap<&'static str, String>,
) -> Result<HttpResponse, WebError> {
    let mut context = lang.context(state);
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
    lang: &PageLanguage,
    body: &[u8],
    state: &AppState,
    limiter: &RateLimiter,
) -> Result<HttpResponse, WebError> {
    let form_error = |status, message: String| {
        let errors = BTreeMap::from([("form", message)]);
        link_form(state, lang, status, "", &errors)
    };
    if !form::is_form(req) {
        return form_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            lang.text("error-form-type-text"),
        );
    }
    let pairs = match form::decode(body) {
        Ok(pairs) => pairs,
        Err(e) => {
            return form_error(
                StatusCode::BAD_REQUEST,
                crate::i18n::format_arg(lang.language, "error-form-text", "detail", &e.to_string()),
            );
        }
    };
    let typed = pairs
        .into_iter()
        .find(|(n, _)| n == "email")
        .map(|(_, v)| v)
        .unwrap_or_default();
    if !limiter.allow(client_ip(req, state.settings.trusted_proxy)) {
        let errors = BTreeMap::from([("form", lang.text("error-rate-text"))]);
        return link_form(state, lang, StatusCode::TOO_MANY_REQUESTS, &typed, &errors);
    }
    let Ok(email) = EmailAddress::parse(&typed) else {
        let errors = BTreeMap::from([("email", lang.text("signup-error-email"))]);
        return link_form(state, lang, StatusCode::BAD_REQUEST, &typed, &errors);
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
    let mut context = lang.context(state);
    context.insert("title", &lang.text("check-inbox-title"));
    context.insert("message", &lang.text("preferences-email-link-sent"));
    pages::render(state, "message.html", &context)
}
