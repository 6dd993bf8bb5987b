//! The one error type of the web layer, mapped to status codes in one place.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// What a handler can fail with. Internal causes are logged once, here, and never shown.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A rendered page to show with a 4xx status (bad input, unknown link, too many tries).
    #[error("{status}: page")]
    Page { status: StatusCode, html: String },
    /// A JSON API error: `{"error": message}`.
    #[error("{status}: {message}")]
    Api { status: StatusCode, message: String },
    /// A JSON API error naming the bad fields: `{"error": message, "fields": {...}}`.
    #[error("400: {message}")]
    Fields {
        message: String,
        fields: std::collections::BTreeMap<&'static str, String>,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl WebError {
    pub fn api(status: StatusCode, message: impl Into<String>) -> WebError {
        WebError::Api {
            status,
            message: message.into(),
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::Page { status, .. } | WebError::Api { status, .. } => *status,
            WebError::Fields { .. } => StatusCode::BAD_REQUEST,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::Page { status, html } => HttpResponse::build(*status)
                .content_type("text/html; charset=utf-8")
                .body(html.clone()),
            WebError::Api { status, message } => {
                HttpResponse::build(*status).json(serde_json::json!({ "error": message }))
            }
            WebError::Fields { message, fields } => HttpResponse::BadRequest()
                .json(serde_json::json!({ "error": message, "fields": fields })),
            WebError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
                HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body("Something went wrong on our side. Nothing was lost; please try again in a moment.")
            }
        }
    }
}
