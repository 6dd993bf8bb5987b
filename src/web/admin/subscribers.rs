//! Looking after the list: search, filter, export, import, resend, erase.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;

use super::{
    AdminForm, AdminSession, NoFields, Notice, admin_context, check_csrf, notice_text, see_other,
};
use crate::csv_io;
use crate::db::{self, subscribers};
use crate::domain::SubscriberStatus;
use crate::limits;
use crate::service::subscriptions;
use crate::state::AppState;
use crate::web::{WebError, pages};

const PER_PAGE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct Query {
    q: Option<String>,
    status: Option<String>,
    /// A newsletter's slug: only its readers.
    newsletter: Option<String>,
    page: Option<i64>,
    #[serde(flatten)]
    notice: Notice,
}

pub async fn index(
    state: web::Data<AppState>,
    session: AdminSession,
    query: web::Query<Query>,
) -> Result<HttpResponse, WebError> {
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<SubscriberStatus>().ok());
    let text = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_owned);
    let page = query.page.unwrap_or(1).max(1);
    let search = text.clone();
    let slug = query.newsletter.clone().filter(|s| !s.is_empty());
    let chosen = slug.clone();
    let (rows, total, all_newsletters, slug) = state
        .db
        .run(move |conn| {
            let all = crate::db::newsletters::all(conn)?;
            // An unknown slug filters nothing out rather than hiding everyone.
            let newsletter = chosen.and_then(|slug| all.iter().find(|n| n.slug == slug));
            let (rows, total) = subscribers::search_on(
                conn,
                status,
                search.as_deref(),
                newsletter.map(|n| n.id),
                page,
                PER_PAGE,
            )?;
            let slug = newsletter.map(|n| n.slug.clone());
            let rows = crate::web::api::SubscriberView::of_all(conn, rows)?;
            Ok((rows, total, all, slug))
        })
        .await?;
    let mut context = admin_context(&state, &session, "subscribers");
    context.insert("subscribers", &rows);
    // With one newsletter the page looks as it did: no filter, no column.
    if all_newsletters.len() > 1 {
        let choices: Vec<(String, String)> = all_newsletters
            .iter()
            .map(|n| {
                (
                    n.slug.clone(),
                    n.name.clone().unwrap_or_else(|| state.newsletter_name()),
                )
            })
            .collect();
        context.insert("newsletters", &choices);
    }
    context.insert("newsletter", &slug.clone().unwrap_or_default());
    context.insert("total", &total);
    let filter_query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("q", text.as_deref().unwrap_or_default())
        .append_pair(
            "status",
            status.map(SubscriberStatus::as_str).unwrap_or_default(),
        )
        .append_pair("newsletter", slug.as_deref().unwrap_or_default())
        .finish();
    context.insert("filter_query", &filter_query);
    context.insert("q", &text.unwrap_or_default());
    context.insert(
        "status",
        &status.map(SubscriberStatus::as_str).unwrap_or_default(),
    );
    context.insert(
        "statuses",
        &SubscriberStatus::ALL.map(SubscriberStatus::as_str),
    );
    context.insert("page", &page);
    context.insert("pages", &((total + PER_PAGE - 1) / PER_PAGE).max(1));
    context.insert("notice", &notice_text(&query.notice));
    pages::render(&state, "admin/subscribers.html", &context)
}

/// The whole list as CSV; the same file `newsletter subscribers export` writes.
pub async fn export(
    state: web::Data<AppState>,
    _session: AdminSession,
) -> Result<HttpResponse, WebError> {
    let db = state.db.clone();
    let csv = web::block(move || {
        let mut out = Vec::new();
        csv_io::export(&db, &mut out).map(|_| out)
    })
    .await
    .map_err(|e| WebError::Internal(anyhow::anyhow!("export panicked: {e}")))??;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"subscribers.csv\"",
        ))
        .body(csv))
}

/// Imports an uploaded CSV (`email,name`) and shows what happened, bad rows by line.
/// Multipart forms carry the CSRF token as a field too; it is checked before the file
/// is read.
pub async fn import(
    state: web::Data<AppState>,
    session: AdminSession,
    mut multipart: Multipart,
) -> Result<HttpResponse, WebError> {
    let mut csrf_ok = false;
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|e| bad_upload(&state, &e.to_string()))?;
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| bad_upload(&state, &e.to_string()))?;
            if bytes.len() + chunk.len() > limits::UPLOAD_BYTES {
                return Err(pages::message_page(
                    &state,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The file is too large",
                    &format!(
                        "Imports take files up to {}; split a larger list.",
                        limits::human_bytes(limits::UPLOAD_BYTES)
                    ),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "csrf" => csrf_ok = check_csrf(&session, std::str::from_utf8(&bytes).ok()).is_ok(),
            "file" if csrf_ok => file = Some(bytes),
            "file" => break,
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(pages::message_page(
            &state,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Go back, reload the page and try again.",
        ));
    }
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return Err(bad_upload(&state, "choose a CSV file to import"));
    };
    let db = state.db.clone();
    let report = web::block(move || csv_io::import_checked(&db, std::io::Cursor::new(file), &[]))
        .await
        .map_err(|e| WebError::Internal(anyhow::anyhow!("import panicked: {e}")))?;
    let mut context = admin_context(&state, &session, "subscribers");
    match report {
        Ok(report) => {
            context.insert("imported", &report.imported);
            context.insert("already_present", &report.already_present);
            let listed: Vec<_> = report
                .first_rejections
                .iter()
                .map(|(line, reason)| serde_json::json!({ "line": line, "reason": reason }))
                .collect();
            context.insert("rejected", &listed);
            context.insert("rejected_count", &report.rejected);
            context.insert("unlisted", &report.unlisted());
            context.insert(
                "stopped",
                &report
                    .stopped
                    .as_ref()
                    .map(|(line, why)| serde_json::json!({ "line": line, "why": why })),
            );
            pages::render(&state, "admin/import_report.html", &context)
        }
        Err(e) => Err(bad_upload(&state, &format!("{e:#}"))),
    }
}

fn bad_upload(state: &AppState, reason: &str) -> WebError {
    pages::message_page(
        state,
        StatusCode::BAD_REQUEST,
        "The import could not be read",
        reason,
    )
}

pub async fn resend(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: AdminForm<NoFields>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let resent = state
        .db
        .write(move |conn| subscriptions::resend_confirmation(conn, id, db::now()))
        .await?;
    if resent {
        state.wake_mail_queue();
    }
    Ok(see_other(if resent {
        "/admin/subscribers?notice=resent"
    } else {
        "/admin/subscribers?notice=not-pending"
    }))
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let Some(subscriber) = state
        .db
        .run(move |conn| subscribers::find(conn, id))
        .await?
    else {
        return Err(unknown(&state));
    };
    let mut context = admin_context(&state, &session, "subscribers");
    context.insert("subscriber", &subscriber);
    pages::render(&state, "admin/subscriber_delete.html", &context)
}

/// GDPR erasure: the subscriber and everything about them.
pub async fn delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: AdminForm<NoFields>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    if !state
        .db
        .write(move |conn| subscriptions::erase(conn, id))
        .await?
    {
        return Err(unknown(&state));
    }
    tracing::info!(subscriber = id, "subscriber erased by an admin");
    Ok(see_other("/admin/subscribers?notice=erased"))
}

fn unknown(state: &AppState) -> WebError {
    pages::message_page(
        state,
        StatusCode::NOT_FOUND,
        "No such subscriber",
        "They may have been erased already.",
    )
}
