//! Digests in the browser: preview the next one, send a test, send now, and the history
//! with each digest's failures and "retry failed".

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::dashboard::recent_digests;
use super::{AdminForm, AdminSession, NoFields, Notice, admin_context, notice_text, see_other};
use crate::db::newsletters::{self, Newsletter};
use crate::db::{self, deliveries, digests};
use crate::digest::{Composed, compose_for, preview_for};
use crate::domain::{DigestSubject, EmailAddress};
use crate::mail::Email;
use crate::mail::message::mailbox;
use crate::state::AppState;
use crate::web::{WebError, pages};

/// The newsletter a digests page acts on: `?newsletter=SLUG`, the default one without.
#[derive(Debug, Default, Deserialize)]
pub struct Choice {
    newsletter: Option<String>,
}

/// The newsletter `choice` names (404 for an unknown or archived one), and the query
/// string the page's links and forms carry to stay on it ("" for the default one, so
/// that with one newsletter the pages are as they always were).
async fn chosen(state: &AppState, choice: Choice) -> Result<(Newsletter, String), WebError> {
    let found = state
        .db
        .run(move |conn| newsletters::sendable(conn, choice.newsletter.as_deref()))
        .await?;
    let Some(newsletter) = found else {
        return Err(pages::message_page(
            state,
            StatusCode::NOT_FOUND,
            "No such newsletter",
            "It may have been archived. The digests page lists the newsletters you can send.",
        ));
    };
    let query = match newsletter.id {
        newsletters::DEFAULT_NEWSLETTER_ID => String::new(),
        _ => format!("?newsletter={}", newsletter.slug),
    };
    Ok((newsletter, query))
}

/// Puts the chosen newsletter into a digests page's `context`: its name, the query its
/// links carry (`nq`), and the newsletters to choose from when there are several.
async fn insert_choice(
    state: &AppState,
    context: &mut tera::Context,
    newsletter: &Newsletter,
    query: &str,
) -> Result<(), WebError> {
    let active = state.db.run(newsletters::active).await?;
    let choices: Vec<serde_json::Value> = active
        .iter()
        .map(|n| {
            serde_json::json!({
                "slug": n.slug,
                "name": state.name_of(n),
                "current": n.id == newsletter.id,
                "query": match n.id {
                    newsletters::DEFAULT_NEWSLETTER_ID => String::new(),
                    _ => format!("?newsletter={}", n.slug),
                },
            })
        })
        .collect();
    context.insert("newsletter_choices", &choices);
    context.insert("chosen_name", &state.name_of(newsletter));
    context.insert("chosen_slug", &newsletter.slug);
    context.insert("nq", query);
    Ok(())
}

/// The digests page of the newsletter `query` names, with `notice`.
fn back_to_digests(query: &str, notice: &str) -> HttpResponse {
    match query {
        "" => see_other(&format!("/admin/digests?notice={notice}")),
        query => see_other(&format!("/admin/digests{query}&notice={notice}")),
    }
}

pub async fn index(
    state: web::Data<AppState>,
    session: AdminSession,
    notice: web::Query<Notice>,
    choice: web::Query<Choice>,
) -> Result<HttpResponse, WebError> {
    let (newsletter, query) = chosen(&state, choice.into_inner()).await?;
    let next = preview_for(&state, newsletter.id).await?;
    // The history of the newsletter the page acts on (with one newsletter: every digest).
    let history = recent_digests(&state, 100, Some(newsletter.id)).await?;
    let mut context = admin_context(&state, &session, "digests");
    insert_choice(&state, &mut context, &newsletter, &query).await?;
    context.insert("notice", &notice_text(&notice));
    context.insert("has_next", &next.is_some());
    if let Some(next) = &next {
        context.insert("subject", &next.subject);
        context.insert("text", &next.text);
        context.insert(
            "size_kb",
            &format!("{:.1}", next.html.len() as f64 / 1024.0),
        );
        context.insert("warning", &next.clipping_warning());
        context.insert("listed", &next.listed);
    }
    context.insert(
        "sending",
        &history.iter().any(|d| d.digest.status == "sending"),
    );
    context.insert("digests", &history);
    pages::render(&state, "admin/digests.html", &context)
}

/// The next digest inside the admin pages: its subject, its size, and the mail itself in
/// a sandboxed frame, as wide as the screen it is looked at on.
pub async fn preview(
    state: web::Data<AppState>,
    session: AdminSession,
    choice: web::Query<Choice>,
) -> Result<HttpResponse, WebError> {
    let (newsletter, query) = chosen(&state, choice.into_inner()).await?;
    let next = next_or_conflict(&state, newsletter.id).await?;
    let mut context = admin_context(&state, &session, "digests");
    insert_choice(&state, &mut context, &newsletter, &query).await?;
    context.insert("subject", &next.subject);
    context.insert(
        "size_kb",
        &format!("{:.1}", next.html.len() as f64 / 1024.0),
    );
    context.insert("warning", &next.clipping_warning());
    context.insert("listed", &next.listed);
    pages::render(&state, "admin/preview.html", &context)
}

/// The next digest's HTML as readers will see it (their links stand in as placeholders);
/// framed by [`preview`], and only by our own pages.
pub async fn preview_mail(
    state: web::Data<AppState>,
    _session: AdminSession,
    choice: web::Query<Choice>,
) -> Result<HttpResponse, WebError> {
    let (newsletter, _) = chosen(&state, choice.into_inner()).await?;
    let next = next_or_conflict(&state, newsletter.id).await?;
    Ok(super::framed_mail(next.html))
}

async fn next_or_conflict(
    state: &AppState,
    newsletter_id: i64,
) -> Result<crate::digest::Rendered, WebError> {
    preview_for(state, newsletter_id).await?.ok_or_else(|| {
        pages::message_page(
            state,
            StatusCode::CONFLICT,
            "Nothing to preview",
            "No article is waiting for the next digest.",
        )
    })
}

#[derive(Deserialize)]
pub struct TestForm {
    #[serde(default)]
    email: String,
}

/// Sends the next digest to one address now, marked as a test; nothing is stored.
pub async fn send_test(
    state: web::Data<AppState>,
    form: AdminForm<TestForm>,
    choice: web::Query<Choice>,
) -> Result<HttpResponse, WebError> {
    let (newsletter, query) = chosen(&state, choice.into_inner()).await?;
    let email = EmailAddress::parse(&form.form.email).map_err(|e| {
        pages::message_page(&state, StatusCode::BAD_REQUEST, "Check the address", &e)
    })?;
    let back = |notice: &str| back_to_digests(&query, notice);
    let Some(next) = preview_for(&state, newsletter.id).await? else {
        return Ok(back("nothing-new"));
    };
    let tag = state.signer.tag(
        "message-id:test",
        &db::now()
            .and_utc()
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .to_string(),
    );
    let message = Email {
        to: mailbox(None, email.as_str())?,
        subject: format!("[Test] {}", next.subject),
        text: next.text,
        html: next.html,
        message_id: format!("<test-{tag}@{}>", state.settings.public_host()),
        headers: vec![
            ("List-Id", state.list_id_of(&newsletter)),
            ("Content-Language", next.language.code().to_owned()),
        ],
        return_path: None,
    };
    state.mailer.send(&message).await.map_err(|e| {
        pages::message_page(
            &state,
            StatusCode::BAD_GATEWAY,
            "The test mail was not sent",
            &e.to_string(),
        )
    })?;
    Ok(back("test-sent"))
}

/// The confirm step before a real send, with a field for the editor's subject.
pub async fn confirm_send(
    state: web::Data<AppState>,
    session: AdminSession,
    choice: web::Query<Choice>,
) -> Result<HttpResponse, WebError> {
    let (newsletter, query) = chosen(&state, choice.into_inner()).await?;
    let context = send_page(&state, &session, &newsletter, &query, "", None).await?;
    pages::render(&state, "admin/send_confirm.html", &context)
}

/// What the send page shows: the waiting articles, the readers, the usual subject, and
/// the editor's subject as typed with why it was refused, if it was.
async fn send_page(
    state: &AppState,
    session: &AdminSession,
    newsletter: &Newsletter,
    query: &str,
    typed: &str,
    refused: Option<&str>,
) -> Result<tera::Context, WebError> {
    let for_counts = newsletter.clone();
    let (waiting, confirmed) = state
        .db
        .run(move |conn| {
            let waiting = db::articles::waiting_for(conn, &for_counts, db::now())?.len();
            // Its own readers (the default newsletter's too: not every confirmed
            // reader is on it).
            let confirmed = db::subscriptions::confirmed_count(conn, for_counts.id)?;
            Ok((waiting, confirmed))
        })
        .await?;
    let next = preview_for(state, newsletter.id).await?;
    let mut context = admin_context(state, session, "digests");
    insert_choice(state, &mut context, newsletter, query).await?;
    context.insert("articles", &waiting);
    context.insert("recipients", &confirmed);
    context.insert(
        "next_subject",
        &next.map(|next| next.subject).unwrap_or_default(),
    );
    context.insert("subject", typed);
    context.insert("subject_error", &refused);
    Ok(context)
}

/// The send form: the editor's subject, empty for the usual one.
#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    subject: String,
}

/// Sends now. Composing takes every waiting article in one transaction, so a second
/// click (or a second admin) finds nothing new and starts nothing.
pub async fn send_now(
    state: web::Data<AppState>,
    form: AdminForm<SendForm>,
    choice: web::Query<Choice>,
) -> Result<HttpResponse, WebError> {
    let (newsletter, query) = chosen(&state, choice.into_inner()).await?;
    let subject = match DigestSubject::parse_optional(Some(&form.form.subject)) {
        Ok(subject) => subject,
        Err(e) => {
            let context = send_page(
                &state,
                &form.session,
                &newsletter,
                &query,
                &form.form.subject,
                Some(&e),
            )
            .await?;
            return refused_subject(&state, context);
        }
    };
    let back = |notice: &str| back_to_digests(&query, notice);
    match compose_for(&state, newsletter.id, subject).await? {
        Composed::Created(created) => Ok(see_other(&format!("/admin/digests/{}", created.id))),
        Composed::NothingNew => Ok(back("nothing-new")),
        Composed::NoReaders { .. } => Ok(back("no-readers")),
    }
}

/// The send page again, with the subject as typed and why it was refused (400).
fn refused_subject(state: &AppState, context: tera::Context) -> Result<HttpResponse, WebError> {
    let html = state
        .templates
        .render("admin/send_confirm.html", &context)?;
    Ok(HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// The bounces and complaints a digest's page lists at most.
const DIGEST_FEEDBACK_SHOWN: i64 = 200;

pub async fn show(
    state: web::Data<AppState>,
    session: AdminSession,
    id: web::Path<i64>,
    notice: web::Query<Notice>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let found = state
        .db
        .run(move |conn| {
            let report = digests::report(conn, id)?;
            let articles = db::articles::in_digest(conn, id)?;
            let events = db::feedback_events::for_digest(conn, id, DIGEST_FEEDBACK_SHOWN)?;
            Ok(report.map(|report| (report, articles, events)))
        })
        .await?;
    let Some((report, articles, events)) = found else {
        return Err(unknown(&state));
    };
    let digests::Report {
        digest,
        progress,
        failures,
    } = report;
    let mut context = admin_context(&state, &session, "digests");
    context.insert("notice", &notice_text(&notice));
    context.insert("id", &digest.id);
    context.insert("subject", &digest.subject);
    context.insert("status", &digest.status);
    context.insert("created_at", &state.settings.human_time(digest.created_at));
    context.insert("percent", &progress.percent_done());
    context.insert("progress", &progress);
    context.insert("articles", &articles);
    context.insert("failures", &failures);
    context.insert("events", &events);
    context.insert("feedback_limit", &DIGEST_FEEDBACK_SHOWN);
    pages::render(&state, "admin/digest.html", &context)
}

/// Progress as JSON, for the page's live bar.
pub async fn progress(
    state: web::Data<AppState>,
    _session: AdminSession,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let found = state
        .db
        .run(move |conn| {
            Ok(digests::standing(conn, id)?.map(|(digest, progress)| (digest.status, progress)))
        })
        .await?;
    let Some((status, progress)) = found else {
        return Err(WebError::api(StatusCode::NOT_FOUND, "no such digest"));
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": status,
        "percent": progress.percent_done(),
        "progress": progress,
    })))
}

pub async fn retry_failed(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: AdminForm<NoFields>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let requeued = state
        .db
        .write(move |conn| {
            crate::db::exclusive(conn, |conn| {
                let requeued = deliveries::retry_failed(conn, id, db::now())?;
                if requeued > 0 {
                    digests::reopen(conn, id)?;
                }
                Ok::<_, anyhow::Error>(requeued)
            })
        })
        .await?;
    if requeued > 0 {
        state.wake_deliveries();
    }
    Ok(see_other(&format!("/admin/digests/{id}?notice=retrying")))
}

fn unknown(state: &AppState) -> WebError {
    pages::message_page(
        state,
        StatusCode::NOT_FOUND,
        "No such digest",
        "See the list of digests.",
    )
}
