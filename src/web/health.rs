//! `GET /health` (liveness: is the database answering?) and `GET /ready` (readiness:
//! should a load balancer send this instance requests?).

use std::sync::atomic::Ordering;

use actix_web::{HttpResponse, web};
use diesel::RunQueryDsl;

use crate::db::Db;
use crate::state::AppState;

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let probe = state
        .db
        .run(|conn| Ok(diesel::sql_query("SELECT 1").execute(conn)?))
        .await;
    match probe {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({ "status": "ok", "database": "ok" })),
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "health check: the database does not answer"
            );
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "error", "database": "unavailable" }))
        }
    }
}

/// `GET /ready`: 200 when this instance can serve; 503 while it shuts down, while the
/// database does not answer, and while the database's schema is behind this build
/// (migrations running in another process). While this process runs its own
/// migrations at start, a stand-in server answers 503 on the port (see `startup`).
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if state.shutting_down.load(Ordering::Relaxed) {
        return not_ready("shutting down");
    }
    let probe = state
        .db
        .run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Db::has_pending_migrations(conn)
        })
        .await;
    match probe {
        Ok(false) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Ok(true) => not_ready("migrating"),
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "readiness check: the database does not answer"
            );
            not_ready("database unavailable")
        }
    }
}

/// 503 with the reason, and a hint to ask again shortly.
pub fn not_ready(reason: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((actix_web::http::header::RETRY_AFTER, "5"))
        .json(serde_json::json!({ "status": reason }))
}
