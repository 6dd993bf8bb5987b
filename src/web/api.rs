//! The admin JSON API (behind `admin_auth`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::WebError;
use crate::db::subscribers::{self, Subscriber};
use crate::domain::SubscriberStatus;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[derive(Serialize)]
struct SubscriberPage {
    subscribers: Vec<Subscriber>,
    page: i64,
    per_page: i64,
    total: i64,
}

/// `GET /api/subscribers?status=&page=&per_page=`: one page, oldest first.
pub async fn list_subscribers(
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<SubscriberStatus>)
        .transpose()
        .map_err(|e| WebError::api(StatusCode::BAD_REQUEST, e))?;
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(100);
    if page < 1 {
        return Err(WebError::api(StatusCode::BAD_REQUEST, "page starts at 1"));
    }
    if !(1..=1000).contains(&per_page) {
        return Err(WebError::api(
            StatusCode::BAD_REQUEST,
            "per_page must be between 1 and 1000",
        ));
    }
    let (rows, total) = state
        .db
        .run(move |conn| subscribers::list(conn, status, page, per_page))
        .await?;
    Ok(HttpResponse::Ok().json(SubscriberPage {
        subscribers: rows,
        page,
        per_page,
        total,
    }))
}
