//! `GET /health`: is the database answering?

use actix_web::{HttpResponse, web};
use diesel::RunQueryDsl;

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
