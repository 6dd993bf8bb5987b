//! The dashboard: subscribers by status, growth over 90 days, recent digests.

use actix_web::{HttpResponse, web};
use chrono::Duration;

use super::{AdminSession, admin_context, chart};
use crate::db::{self, digests, stats};
use crate::state::AppState;
use crate::web::{WebError, pages};

/// A digest with its delivery progress, as the dashboard and the history list it.
#[derive(serde::Serialize)]
pub struct DigestRow {
    #[serde(flatten)]
    pub digest: digests::DigestSummary,
    #[serde(flatten)]
    pub progress: digests::Progress,
    pub percent: i64,
    /// When it was made, for people.
    pub made: String,
}

/// The newest `limit` digests with their progress.
pub async fn recent_digests(state: &AppState, limit: i64) -> anyhow::Result<Vec<DigestRow>> {
    let settings = state.settings.clone();
    state
        .db
        .run(move |conn| {
            digests::recent(conn, limit)?
                .into_iter()
                .map(|digest| {
                    let progress = digests::progress(conn, digest.id)?;
                    Ok(DigestRow {
                        percent: progress.percent_done(),
                        made: settings.human_time(digest.created_at),
                        digest,
                        progress,
                    })
                })
                .collect()
        })
        .await
}

pub async fn dashboard(
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, WebError> {
    let today = db::now().date();
    let since = today - Duration::days(89);
    let (counts, growth) = state
        .db
        .run(move |conn| {
            Ok((
                stats::status_counts(conn)?,
                stats::growth(conn, since, today)?,
            ))
        })
        .await?;
    let recent = recent_digests(&state, 5).await?;
    let mut context = admin_context(&state, &session, "dashboard");
    context.insert("counts", &counts);
    context.insert("chart", &chart::growth_svg(&growth));
    context.insert(
        "sending",
        &recent.iter().any(|d| d.digest.status == "sending"),
    );
    context.insert("digests", &recent);
    pages::render(&state, "admin/dashboard.html", &context)
}
