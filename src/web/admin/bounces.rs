//! The Bounces page: the latest bounces, complaints and unsubscribe requests that came
//! back after our mail left (see `service::feedback`).

use actix_web::{HttpResponse, web};

use super::{AdminSession, admin_context};
use crate::db::feedback_events;
use crate::state::AppState;
use crate::web::{WebError, pages};

/// The events the page lists at most.
const SHOWN: i64 = 200;

pub async fn index(
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, WebError> {
    let events = state
        .db
        .run(|conn| feedback_events::recent(conn, SHOWN))
        .await?;
    let mut context = admin_context(&state, &session, "bounces");
    context.insert("events", &events);
    context.insert("limit", &SHOWN);
    pages::render(&state, "admin/bounces.html", &context)
}
