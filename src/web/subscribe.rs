//! The sign-up page and `POST /subscriptions`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::client::{RateLimiter, client_ip};
use super::language::PageLanguage;
use super::{WebError, form, pages};
use crate::db;
use crate::db::newsletters::{self, Newsletter};
use crate::domain::{EmailAddress, SubscriberName};
use crate::i18n::Language;
use crate::service::subscriptions::{self, SignupOutcome};
use crate::state::AppState;
use serde::Serialize;

/// The sign-up form as posted; a missing field is empty, so it gets a field error rather
/// than an opaque 400.
#[derive(Debug, Default)]
pub struct SignupForm {
    email: String,
    name: String,
    /// The slugs of the newsletters ticked (`newsletter=SLUG`, repeated).
    newsletters: Vec<String>,
    /// Whether this is a posted form (its ticks stand) or a fresh one (the preselected
    /// newsletters are ticked).
    posted: bool,
    /// The page's language, posted with the form (`lang`), if it is one of ours.
    language: Option<Language>,
}

impl SignupForm {
    /// Reads the form from a strictly decoded `application/x-www-form-urlencoded` body.
    fn from_body(req: &HttpRequest, body: &[u8]) -> Result<SignupForm, (StatusCode, String)> {
        if !form::is_form(req) {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The form must be sent as application/x-www-form-urlencoded.".into(),
            ));
        }
        let pairs = form::decode(body).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("The form could not be read: {e}."),
            )
        })?;
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Ok(SignupForm {
            email: field("email"),
            name: field("name"),
            newsletters: pairs
                .iter()
                .filter(|(n, _)| n == "newsletter")
                .map(|(_, v)| v.clone())
                .collect(),
            posted: true,
            language: Language::parse(&field("lang")),
        })
    }
}

/// A sign-up that passed parsing.
struct Signup {
    email: EmailAddress,
    name: Option<SubscriberName>,
}

impl Signup {
    /// The form's fields parsed, or field name → message to show beside it, in
    /// `language` (English says exactly what is wrong; the others say what is wanted).
    fn parse(
        form: &SignupForm,
        language: Language,
    ) -> Result<Self, BTreeMap<&'static str, String>> {
        let said = |key: &str, english: String| match language {
            Language::En => english,
            other => crate::i18n::text(other, key),
        };
        let mut errors = BTreeMap::new();
        let email = EmailAddress::parse(&form.email)
            .map_err(|e| errors.insert("email", said("signup-error-email", e)))
            .ok();
        let name = SubscriberName::parse_optional(&form.name)
            .map_err(|e| errors.insert("name", said("signup-error-name", e)))
            .ok();
        match (email, name) {
            (Some(email), Some(name)) => Ok(Signup { email, name }),
            _ => Err(errors),
        }
    }
}

pub async fn signup_page(
    page: PageLanguage,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let offered = state.db.run(newsletters::offered).await?;
    pages::render(
        &state,
        "signup.html",
        &form_context(
            &state,
            &page,
            &offered,
            &SignupForm::default(),
            &BTreeMap::new(),
        ),
    )
}

/// A newsletter as the form offers it.
#[derive(Serialize)]
struct NewsletterChoice<'a> {
    slug: &'a str,
    name: String,
    description: &'a str,
    checked: bool,
}

fn form_context(
    state: &AppState,
    page: &PageLanguage,
    offered: &[Newsletter],
    form: &SignupForm,
    errors: &BTreeMap<&'static str, String>,
) -> tera::Context {
    let mut context = page.context(state);
    context.insert("email", &form.email);
    context.insert("name", &form.name);
    context.insert("errors", errors);
    // With one newsletter offered the form has no list, as before there were several.
    if offered.len() > 1 {
        let default_name = state.newsletter_name();
        let choices: Vec<NewsletterChoice> = offered
            .iter()
            .map(|n| NewsletterChoice {
                slug: &n.slug,
                name: n.name.clone().unwrap_or_else(|| default_name.clone()),
                description: &n.description,
                checked: if form.posted {
                    form.newsletters.contains(&n.slug)
                } else {
                    n.preselected
                },
            })
            .collect();
        context.insert("newsletters", &choices);
    }
    context
}

/// The form's page again with `errors`, under `status`.
async fn form_again(
    state: &AppState,
    page: &PageLanguage,
    status: StatusCode,
    form: &SignupForm,
    errors: &BTreeMap<&'static str, String>,
) -> WebError {
    let offered = match state.db.run(newsletters::offered).await {
        Ok(offered) => offered,
        Err(e) => return e.into(),
    };
    pages::error_page(
        state,
        status,
        "signup.html",
        &form_context(state, page, &offered, form, errors),
    )
}

/// Records the sign-up and queues the confirmation; answers the same for new, pending
/// and confirmed addresses, so the form cannot be used to learn who subscribes.
pub async fn subscribe(
    req: HttpRequest,
    page: PageLanguage,
    body: web::Bytes,
    state: web::Data<AppState>,
    limiter: web::Data<RateLimiter>,
) -> Result<HttpResponse, WebError> {
    let form = match SignupForm::from_body(&req, &body) {
        Ok(form) => form,
        Err((status, message)) => {
            state.metrics.signup("invalid");
            let mut errors = BTreeMap::new();
            let message = match (page.language, status) {
                (Language::En, _) => message,
                (other, StatusCode::UNSUPPORTED_MEDIA_TYPE) => {
                    crate::i18n::text(other, "signup-error-form-type")
                }
                (other, _) => crate::i18n::text(other, "signup-error-form"),
            };
            errors.insert("form", message);
            return Err(form_again(&state, &page, status, &SignupForm::default(), &errors).await);
        }
    };
    // The form's language: the page it was filled in on.
    let page = match form.language {
        Some(language) => page.switched(language),
        None => page,
    };
    if !limiter.allow(client_ip(&req, state.settings.trusted_proxy)) {
        state.metrics.signup("rate_limited");
        let mut errors = BTreeMap::new();
        errors.insert("form", page.text("signup-error-rate"));
        return Err(form_again(&state, &page, StatusCode::TOO_MANY_REQUESTS, &form, &errors).await);
    }
    let signup = match Signup::parse(&form, page.language) {
        Ok(signup) => signup,
        Err(errors) => {
            state.metrics.signup("invalid");
            return Err(form_again(&state, &page, StatusCode::BAD_REQUEST, &form, &errors).await);
        }
    };
    let language = page.language;
    let max_mails = state.settings.confirm_mails_per_address_per_day;
    let email = signup.email.clone();
    let chosen = form.newsletters.clone();
    // Sign-ups that arrive together commit together (group commit): one transaction,
    // not one each, so a flood of them is not a queue of single writes.
    let outcome = state
        .db
        .write_grouped(move |conn| {
            subscriptions::sign_up_for(
                conn,
                &signup.email,
                signup.name.as_ref(),
                &chosen,
                Some(language),
                max_mails,
                db::now(),
            )
        })
        .await?;
    state.metrics.signup(outcome.as_label());
    match outcome {
        SignupOutcome::TooManyMails => {
            let mut errors = BTreeMap::new();
            errors.insert("form", page.text("signup-error-too-many"));
            return Err(
                form_again(&state, &page, StatusCode::TOO_MANY_REQUESTS, &form, &errors).await,
            );
        }
        SignupOutcome::Refused(refused) => {
            let mut errors = BTreeMap::new();
            errors.insert(
                "newsletters",
                super::preferences::refused_message(page.language, refused),
            );
            return Err(form_again(&state, &page, StatusCode::BAD_REQUEST, &form, &errors).await);
        }
        SignupOutcome::ConfirmationQueued => state.wake_mail_queue(),
        SignupOutcome::AlreadyConfirmed => {}
    }
    let mut context = page.context(&state);
    context.insert("email", &email.to_unicode());
    pages::render(&state, "check_inbox.html", &context)
}
