//! `GET /metrics`: the service's figures in Prometheus's text format. On the public port
//! only with `METRICS_TOKEN` (as a Bearer token; 404 without the setting, 401 without
//! the token); on `METRICS_ADDR`'s own listener without a token.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::admin_auth::{bearer_token, token_matches};
use super::{WebError, pages};
use crate::config::AdminToken;
use crate::db::{self, stats};
use crate::state::AppState;

/// Prometheus's text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `/metrics` on the public port.
pub async fn public_metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let Some(expected) = &state.settings.metrics_token else {
        return pages::not_found(super::language::PageLanguage::of(&req), state).await;
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token);
    // Compared as digests in constant time, as the admin token is.
    let expected = AdminToken::Plain(expected.0.clone());
    if !presented.is_some_and(|presented| token_matches(&expected, presented)) {
        return Ok(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .content_type("text/plain; charset=utf-8")
            .body("A valid `Authorization: Bearer <METRICS_TOKEN>` header is required."));
    }
    render(&state).await
}

/// `/metrics` on `METRICS_ADDR`: the listener itself is the access control.
pub async fn open_metrics(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    render(&state).await
}

async fn render(state: &AppState) -> Result<HttpResponse, WebError> {
    let now = db::now();
    let count_subscribers = state.metrics.subscriber_counts_due();
    let (queues, counts) = state
        .db
        .run(move |conn| {
            let queues = stats::queue_figures(conn, now)?;
            let counts = match count_subscribers {
                true => Some(stats::status_counts(conn)?),
                false => None,
            };
            Ok((queues, counts))
        })
        .await?;
    if let Some(counts) = counts {
        state.metrics.set_subscriber_counts(counts);
    }
    match state.metrics.render(&queues) {
        Some(text) => Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(text)),
        None => Ok(HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Metrics are off: set METRICS_TOKEN or METRICS_ADDR.")),
    }
}
