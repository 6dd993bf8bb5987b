//! The admin pages under `/admin`: login into a server-side session, then dashboard,
//! subscribers, articles and digests. Sessions and CSRF are checked here, in one place:
//! [`require_session`] guards every route but the login, and every state-changing form
//! goes through [`AdminForm`], which refuses a missing or wrong CSRF token with 403.

mod articles;
mod auth;
mod bounces;
mod chart;
mod dashboard;
mod digests;
mod newsletters;
mod subscribers;
mod templates;

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Endpoint, WebError, app_state, form, pages};
use crate::config::AdminToken;
use crate::db::{self, admin_sessions};
use crate::state::AppState;

/// The session cookie's name.
const SESSION_COOKIE: &str = "newsletter_admin";

/// The admin routes, mounted at `/admin`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(require_session))
            // Admin pages may run our one script (live progress); nothing else.
            .wrap(
                DefaultHeaders::new().add((
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
                     img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                     base-uri 'none'",
                )),
            )
            .service(
                Endpoint::at("/login")
                    .get(auth::login_page)
                    .post(auth::login)
                    .done(),
            )
            .service(
                Endpoint::at("/logout")
                    .get(auth::logout_page)
                    .post(auth::logout)
                    .done(),
            )
            .service(Endpoint::at("").get(dashboard::dashboard).done())
            .service(Endpoint::at("/").get(dashboard::dashboard).done())
            .service(Endpoint::at("/subscribers").get(subscribers::index).done())
            .service(
                Endpoint::at("/subscribers/export.csv")
                    .get(subscribers::export)
                    .done(),
            )
            .service(
                Endpoint::at(
                    super::slow_clients::UPLOAD_PATH
                        .strip_prefix("/admin")
                        .expect("the upload is an admin page"),
                )
                .post(subscribers::import)
                .done(),
            )
            .service(
                Endpoint::at("/subscribers/{id}/resend")
                    .post(subscribers::resend)
                    .done(),
            )
            .service(
                Endpoint::at("/subscribers/{id}/delete")
                    .get(subscribers::confirm_delete)
                    .post(subscribers::delete)
                    .done(),
            )
            .service(
                Endpoint::at("/newsletters")
                    .get(newsletters::index)
                    .post(newsletters::create)
                    .done(),
            )
            .service(
                Endpoint::at("/newsletters/{slug}")
                    .get(newsletters::edit)
                    .post(newsletters::update)
                    .done(),
            )
            .service(
                Endpoint::at("/newsletters/{slug}/archive")
                    .post(newsletters::archive)
                    .done(),
            )
            .service(
                Endpoint::at("/articles")
                    .get(articles::index)
                    .post(articles::create)
                    .done(),
            )
            .service(
                Endpoint::at("/articles/{id}/leave-out")
                    .post(articles::leave_out)
                    .done(),
            )
            .service(
                Endpoint::at("/articles/import-feed")
                    .post(articles::import_feed)
                    .done(),
            )
            .service(Endpoint::at("/feeds").post(articles::add_feed).done())
            .service(
                Endpoint::at("/feeds/{id}/remove")
                    .post(articles::remove_feed)
                    .done(),
            )
            .service(
                Endpoint::at("/articles/{id}/move")
                    .post(articles::reorder)
                    .done(),
            )
            .service(
                Endpoint::at("/articles/{id}/put-back")
                    .post(articles::put_back)
                    .done(),
            )
            .service(Endpoint::at("/digests").get(digests::index).done())
            .service(Endpoint::at("/digests/preview").get(digests::preview).done())
            .service(
                Endpoint::at("/digests/preview/mail")
                    .get(digests::preview_mail)
                    .done(),
            )
            .service(Endpoint::at("/digests/test").post(digests::send_test).done())
            .service(
                Endpoint::at("/digests/send")
                    .get(digests::confirm_send)
                    .post(digests::send_now)
                    .done(),
            )
            .service(Endpoint::at("/digests/{id}").get(digests::show).done())
            .service(
                Endpoint::at("/digests/{id}/progress")
                    .get(digests::progress)
                    .done(),
            )
            .service(
                Endpoint::at("/digests/{id}/retry")
                    .post(digests::retry_failed)
                    .done(),
            )
            .service(Endpoint::at("/bounces").get(bounces::index).done())
            .service(Endpoint::at("/templates").get(templates::index).done())
            .service(
                Endpoint::at("/templates/preview/{mail}")
                    .get(templates::preview)
                    .done(),
            ),
    );
}

/// A logged-in admin, put into the request by [`require_session`].
#[derive(Clone)]
pub struct AdminSession {
    id_hash: String,
    pub csrf_token: String,
}

impl FromRequest for AdminSession {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Only reachable behind `require_session`; its absence is a routing mistake.
        std::future::ready(
            req.extensions()
                .get::<AdminSession>()
                .cloned()
                .ok_or_else(|| {
                    WebError::Internal(anyhow::anyhow!("admin route without the session guard"))
                        .into()
                }),
        )
    }
}

/// What the `admin_sessions` table keys a session by: a hash of the cookie's id *and*
/// of the admin token in force, so that changing `ADMIN_TOKEN` ends every session made
/// with the old one (their hashes no longer match anything).
fn hash_session_id(state: &AppState, id: &str) -> String {
    let token = state
        .settings
        .admin_token
        .as_ref()
        .map(AdminToken::fingerprint)
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(token);
    hasher.update(id.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The guard of every admin route: 404 without `ADMIN_TOKEN`; the login page is open;
/// anything else needs a live session, and a request without one is sent to the login
/// (GET and HEAD) or refused with 401 (other methods).
async fn require_session(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = app_state(req.request());
    if state.settings.admin_token.is_none() {
        let error = pages::message_page(
            &state,
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is nothing at this address.",
        );
        return Ok(req
            .into_response(error.error_response())
            .map_into_right_body());
    }
    if req.path() == "/admin/login" {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let session = match req.cookie(SESSION_COOKIE) {
        Some(cookie) => {
            let id_hash = hash_session_id(&state, cookie.value());
            let lookup = id_hash.clone();
            state
                .db
                .run(move |conn| admin_sessions::find_csrf(conn, &lookup, db::now()))
                .await
                .map_err(WebError::Internal)?
                .map(|csrf_token| AdminSession {
                    id_hash,
                    csrf_token,
                })
        }
        None => None,
    };
    match session {
        Some(session) => {
            req.extensions_mut().insert(session);
            Ok(next.call(req).await?.map_into_left_body())
        }
        // HEAD answers as GET does (RFC 9110), so link checkers see the same redirect.
        None if matches!(
            *req.method(),
            actix_web::http::Method::GET | actix_web::http::Method::HEAD
        ) =>
        {
            let response = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/admin/login"))
                .finish();
            Ok(req.into_response(response).map_into_right_body())
        }
        None => {
            let error = pages::message_page(
                &state,
                StatusCode::UNAUTHORIZED,
                "Please log in",
                "Your admin session has ended. Log in again and repeat what you did.",
            );
            Ok(req
                .into_response(error.error_response())
                .map_into_right_body())
        }
    }
}

/// A state-changing admin form: the body is decoded strictly, the session's CSRF token
/// must be in its `csrf` field (403 otherwise), and the rest becomes `T`.
pub struct AdminForm<T> {
    pub session: AdminSession,
    pub form: T,
}

impl<T: DeserializeOwned + 'static> FromRequest for AdminForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let session = AdminSession::from_request(&req, &mut Payload::None).await?;
            let state = app_state(&req);
            let body = body.await?;
            let refuse = |status, title: &str, message: &str| -> actix_web::Error {
                pages::message_page(&state, status, title, message).into()
            };
            let pairs = form::decode(&body)
                .map_err(|e| refuse(StatusCode::BAD_REQUEST, "The form could not be read", &e))?;
            let presented = pairs
                .iter()
                .find(|(name, _)| name == "csrf")
                .map(|(_, v)| v.as_str());
            check_csrf(&session, presented).map_err(|_| {
                refuse(
                    StatusCode::FORBIDDEN,
                    "This form has expired",
                    "Go back, reload the page and try again.",
                )
            })?;
            let form = serde_urlencoded::from_bytes(&body).map_err(|e| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "The form could not be read",
                    &e.to_string(),
                )
            })?;
            Ok(AdminForm { session, form })
        })
    }
}

/// The fields of a form that carries nothing but its CSRF token (a button).
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// Compares a presented CSRF token with the session's, in constant time.
pub fn check_csrf(session: &AdminSession, presented: Option<&str>) -> Result<(), ()> {
    let presented = presented.unwrap_or_default();
    let a = Sha256::digest(session.csrf_token.as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(())
    }
}

/// The template context of every admin page: the base context, the CSRF token for its
/// forms, and which section is open.
fn admin_context(state: &AppState, session: &AdminSession, section: &str) -> tera::Context {
    let mut context = state.base_context();
    context.insert("csrf", &session.csrf_token);
    context.insert("section", section);
    // Every admin page tells of a template edit that was refused.
    context.insert("template_problem", &state.templates.problem());
    context
}

/// A mail's HTML for a sandboxed frame of our own admin pages (the digest preview, the
/// templates' samples): the mail's CSP, framable by our pages only.
fn framed_mail(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, FRAMED_EMAIL_VIEW_CSP))
        .insert_header((header::X_FRAME_OPTIONS, "SAMEORIGIN"))
        .body(html)
}

/// [`crate::web::EMAIL_VIEW_CSP`], but framable by our own pages.
const FRAMED_EMAIL_VIEW_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; frame-ancestors 'self'; base-uri 'none'";

/// A 303 to `location` after a form, so a reload does not post it again.
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// The `flash` query parameter some redirects carry: a short notice for the page.
#[derive(Debug, serde::Deserialize)]
pub struct Notice {
    notice: Option<String>,
}

/// Known notices only: a notice named in a URL must not let anyone put text on the page.
fn notice_text(notice: &Notice) -> Option<&'static str> {
    Some(match notice.notice.as_deref()? {
        "resent" => "A new confirmation link is on its way.",
        "not-pending" => "Only pending subscribers get confirmation links.",
        "erased" => "The subscriber and everything about them were erased.",
        "added" => "The article was added to the next digest.",
        "known" => "An article with this address is already known; nothing changed.",
        "left-out" => "The article will be left out of the next digest.",
        "put-back" => "The article is back in the next digest.",
        "test-sent" => "The test mail is on its way.",
        "nothing-new" => "There are no new articles: no digest was sent.",
        "no-readers" => {
            "No reader has confirmed yet: no digest was sent, and the articles wait for the first one."
        }
        "retrying" => "The failed deliveries are queued again.",
        "newsletter-created" => "The newsletter was created.",
        "newsletter-saved" => "The newsletter was saved.",
        "newsletter-archived" => "The newsletter was archived: it is no longer offered or sent.",
        "feed-added" => "The feed was added; it is read on its schedule (FEED_CRON) from now on.",
        "feed-removed" => "The feed was removed; the articles it brought stay.",
        _ => return None,
    })
}
