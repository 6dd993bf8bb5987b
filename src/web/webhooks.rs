//! `POST /webhooks/{ses,postmark,mailgun,sendgrid}`: the providers' reports of bounces
//! and complaints. Each answers 404 until its secret is set; 401 for a request that is
//! unsigned, wrongly signed, stale or replayed (nothing changed); 400 for a signed body
//! that is not what the provider sends; 200 once the feedback is applied (an address we
//! do not know included, so the provider does not retry it for days).

use std::future::Future;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::WebError;
use crate::db;
use crate::service::feedback::{self, Applied, Feedback};
use crate::state::AppState;
use crate::webhooks::ses::SnsMessage;
use crate::webhooks::{Refusal, Webhooks, mailgun, postmark, sendgrid, ses, unix_now};

pub async fn postmark(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let Some((user, password)) = &state.settings.webhooks.postmark else {
        return Err(not_enabled());
    };
    let authorization = req.headers().get(header::AUTHORIZATION);
    postmark::check_auth(authorization.map(|v| v.as_bytes()), user, password).map_err(refused)?;
    let found = postmark::parse(&body).map_err(refused)?;
    apply_all(&state, found).await
}

pub async fn mailgun(
    body: web::Bytes,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Result<HttpResponse, WebError> {
    let Some(key) = &state.settings.webhooks.mailgun_signing_key else {
        return Err(not_enabled());
    };
    let verified = mailgun::verify(&body, key, unix_now()).map_err(refused)?;
    let nonce = format!("mailgun:{}", verified.token);
    once(
        &webhooks,
        nonce,
        mailgun::WINDOW,
        apply_all(&state, verified.feedback),
    )
    .await
}

pub async fn sendgrid(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Result<HttpResponse, WebError> {
    let Some(key) = &state.settings.webhooks.sendgrid_public_key else {
        return Err(not_enabled());
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let signature = header(sendgrid::SIGNATURE_HEADER);
    let timestamp = header(sendgrid::TIMESTAMP_HEADER);
    sendgrid::verify(signature, timestamp, &body, key, unix_now()).map_err(refused)?;
    let found = sendgrid::parse(&body).map_err(refused)?;
    let nonce = format!("sendgrid:{}", signature.unwrap_or_default());
    once(&webhooks, nonce, sendgrid::WINDOW, apply_all(&state, found)).await
}

pub async fn ses(
    body: web::Bytes,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Result<HttpResponse, WebError> {
    let settings = &state.settings.webhooks;
    let Some(topic) = &settings.ses_topic_arn else {
        return Err(not_enabled());
    };
    let message = SnsMessage::parse(&body).map_err(refused)?;
    if message.topic_arn != *topic {
        return Err(refused(Refusal::Unauthorized(
            "not the configured SNS topic",
        )));
    }
    // The cheap checks first: nothing is fetched for a stale or malformed message.
    message.check_fresh(unix_now()).map_err(refused)?;
    message.string_to_sign().map_err(refused)?;
    let host_override = settings.ses_cert_host_override.as_ref();
    let cert_url = ses::check_url(&message.signing_cert_url, host_override).map_err(refused)?;
    let key = webhooks.sns.key_at(&cert_url).await.map_err(|e| {
        tracing::warn!(
            error = format!("{e:#}"),
            "SNS signing certificate unavailable"
        );
        WebError::api(
            StatusCode::SERVICE_UNAVAILABLE,
            "the SNS signing certificate could not be fetched; try again later",
        )
    })?;
    ses::verify_signature(&message, &key).map_err(refused)?;
    let nonce = format!("ses:{}", message.message_id);
    match message.kind.as_str() {
        "SubscriptionConfirmation" => {
            let url = message.subscribe_url.as_deref().unwrap_or_default();
            let url = ses::check_url(url, host_override).map_err(refused)?;
            let confirm = async {
                webhooks.sns.confirm_subscription(&url).await.map_err(|e| {
                    tracing::warn!(error = format!("{e:#}"), "SNS subscription not confirmed");
                    WebError::api(
                        StatusCode::BAD_GATEWAY,
                        "the SNS subscription could not be confirmed",
                    )
                })?;
                tracing::info!(topic = %message.topic_arn, "SNS subscription confirmed");
                Ok(HttpResponse::Ok().json(serde_json::json!({ "confirmed": true })))
            };
            once(&webhooks, nonce, ses::MAX_AGE, confirm).await
        }
        "Notification" => {
            let found = ses::parse_report(&message.message).map_err(refused)?;
            once(&webhooks, nonce, ses::MAX_AGE, apply_all(&state, found)).await
        }
        _ => {
            tracing::info!(topic = %message.topic_arn, kind = %message.kind, "SNS message ignored");
            Ok(HttpResponse::Ok().json(serde_json::json!({ "ignored": true })))
        }
    }
}

/// Runs `work` for a nonce not seen within `window` (else 401); a failure forgets the
/// nonce again, so the provider's retry is let in.
async fn once(
    webhooks: &Webhooks,
    nonce: String,
    window: Duration,
    work: impl Future<Output = Result<HttpResponse, WebError>>,
) -> Result<HttpResponse, WebError> {
    if !webhooks.seen.first_time(nonce.clone(), window) {
        return Err(refused(Refusal::Unauthorized(
            "this request was seen before",
        )));
    }
    let answer = work.await;
    if answer.is_err() {
        webhooks.seen.forget(&nonce);
    }
    answer
}

/// Applies every piece of feedback of one request, in order, and says how many named a
/// reader we know.
async fn apply_all(state: &AppState, found: Vec<Feedback>) -> Result<HttpResponse, WebError> {
    let total = found.len();
    let known = state
        .db
        .write(move |conn| {
            let now = db::now();
            let (mut known, mut complaints) = (0, 0);
            for item in &found {
                if feedback::apply(conn, item, now)? == Applied::Recorded {
                    known += 1;
                    complaints += u64::from(item.kind == feedback::FeedbackKind::Complaint);
                }
                tracing::info!(source = item.source, kind = ?item.kind, "provider feedback");
            }
            Ok((known, complaints))
        })
        .await?;
    let (known, complaints) = known;
    state
        .metrics
        .unsubscribes(crate::metrics::UnsubscribePath::Complaint, complaints);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "received": total,
        "recorded": known,
    })))
}

fn not_enabled() -> WebError {
    WebError::api(StatusCode::NOT_FOUND, "this webhook is not enabled")
}

fn refused(refusal: Refusal) -> WebError {
    match refusal {
        Refusal::Unauthorized(why) => WebError::api(StatusCode::UNAUTHORIZED, why),
        Refusal::BadRequest(why) => WebError::api(StatusCode::BAD_REQUEST, why),
    }
}
