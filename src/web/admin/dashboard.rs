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

/// The newest `limit` digests with their progress: every newsletter's, or
/// `newsletter_id`'s only.
pub async fn recent_digests(
    state: &AppState,
    limit: i64,
    newsletter_id: Option<i64>,
) -> anyhow::Result<Vec<DigestRow>> {
    let settings = state.settings.clone();
    state
        .db
        .run(move |conn| {
            digests::recent(conn, limit, newsletter_id)?
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

/// `?newsletter=SLUG`: the chart of that newsletter's readers.
#[derive(Debug, serde::Deserialize)]
pub struct Query {
    newsletter: Option<String>,
}

pub async fn dashboard(
    state: web::Data<AppState>,
    session: AdminSession,
    query: web::Query<Query>,
) -> Result<HttpResponse, WebError> {
    let today = db::now().date();
    let since = today - Duration::days(89);
    let chosen = query.newsletter.clone().filter(|s| !s.is_empty());
    let (counts, growth, newsletters, mut by_newsletter, charted) = state
        .db
        .run(move |conn| {
            let newsletters = crate::db::newsletters::all(conn)?;
            // An unknown slug charts every reader, as without one.
            let charted = chosen.and_then(|slug| newsletters.iter().find(|n| n.slug == slug));
            let growth = stats::growth_on(conn, charted.map(|n| n.id), since, today)?;
            let charted = charted.map(|n| (n.slug.clone(), n.name.clone()));
            Ok((
                stats::status_counts(conn)?,
                growth,
                newsletters,
                stats::newsletter_counts(conn)?,
                charted,
            ))
        })
        .await?;
    // Each newsletter's readers, once there are several (with one, the page looks as
    // it did: the counts above are its readers).
    let live: Vec<_> = newsletters.into_iter().filter(|n| !n.archived).collect();
    let per_newsletter: Vec<serde_json::Value> = if live.len() > 1 {
        live.into_iter()
            .map(|n| {
                let counts = by_newsletter.remove(&n.id).unwrap_or_default();
                serde_json::json!({
                    "slug": n.slug,
                    "name": n.name.unwrap_or_else(|| state.newsletter_name()),
                    "confirmed": counts.confirmed,
                    "pending": counts.pending,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let recent = recent_digests(&state, 5, None).await?;
    let mut context = admin_context(&state, &session, "dashboard");
    context.insert("counts", &counts);
    context.insert("per_newsletter", &per_newsletter);
    if let Some((slug, name)) = charted {
        context.insert("charted_slug", &slug);
        context.insert(
            "charted_name",
            &name.unwrap_or_else(|| state.newsletter_name()),
        );
    }
    context.insert("chart", &chart::growth_svg(&growth));
    context.insert(
        "sending",
        &recent.iter().any(|d| d.digest.status == "sending"),
    );
    context.insert("digests", &recent);
    pages::render(&state, "admin/dashboard.html", &context)
}
