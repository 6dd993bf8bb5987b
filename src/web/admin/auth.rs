//! Logging in with the admin token, and out.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use super::{
    AdminForm, AdminSession, NoFields, SESSION_COOKIE, admin_context, hash_session_id, see_other,
};
use crate::db::{self, admin_sessions};
use crate::state::AppState;
use crate::web::admin_auth::{AdminGate, Refused};
use crate::web::client::client_ip;
use crate::web::{WebError, form, pages};

/// How long a login lasts.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

pub async fn login_page(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    pages::render(&state, "admin/login.html", &state.base_context())
}

/// Checks the token (through the same gate as the API); on success a brand-new session
/// (never one the browser brought, so no fixation), on failure a slowed-down 401, and
/// 429 past a few wrong tries a minute.
pub async fn login(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    gate: web::Data<AdminGate>,
) -> Result<HttpResponse, WebError> {
    let refuse = |status, error: &str| {
        let mut context = state.base_context();
        context.insert("error", error);
        Err(pages::error_page(
            &state,
            status,
            "admin/login.html",
            &context,
        ))
    };
    let token = form::decode(&body)
        .ok()
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(name, _)| name == "token")
                .map(|(_, v)| v)
        })
        .unwrap_or_default();
    let client = client_ip(&req, state.settings.trusted_proxy);
    match gate.check(&state, token, client).await? {
        Ok(()) => {}
        Err(Refused::TooManyFailures) => {
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed attempts from your network. Wait a minute and try again.",
            );
        }
        Err(Refused::WrongToken) => {
            // Slows guessing down; the gate's budget stops it.
            tokio::time::sleep(Duration::from_millis(400)).await;
            return refuse(StatusCode::UNAUTHORIZED, "That is not the admin token.");
        }
    }
    let session_id = random_token();
    let csrf = random_token();
    let id_hash = hash_session_id(&state, &session_id);
    let now = db::now();
    let expires = db::after(now, SESSION_LIFETIME);
    state
        .db
        .write(move |conn| admin_sessions::create(conn, &id_hash, &csrf, now, expires))
        .await?;
    tracing::info!("admin logged in");
    let cookie = Cookie::build(SESSION_COOKIE, session_id)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.base_url.scheme() == "https")
        .max_age(actix_web::cookie::time::Duration::seconds(
            SESSION_LIFETIME.as_secs() as i64,
        ))
        .finish();
    let mut response = see_other("/admin");
    response
        .add_cookie(&cookie)
        .map_err(|e| WebError::Internal(e.into()))?;
    Ok(response)
}

pub async fn logout_page(
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, WebError> {
    pages::render(
        &state,
        "admin/logout.html",
        &admin_context(&state, &session, "logout"),
    )
}

pub async fn logout(
    state: web::Data<AppState>,
    form: AdminForm<NoFields>,
) -> Result<HttpResponse, WebError> {
    let id_hash = form.session.id_hash.clone();
    state
        .db
        .write(move |conn| admin_sessions::delete(conn, &id_hash))
        .await?;
    let mut response = see_other("/admin/login");
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/admin").finish();
    gone.make_removal();
    response
        .add_removal_cookie(&gone)
        .map_err(|e| WebError::Internal(e.into()))?;
    Ok(response)
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
