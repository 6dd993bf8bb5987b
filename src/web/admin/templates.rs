//! The templates in use (built-in or overridden from `TEMPLATES_DIR`) and previews of
//! each mail with sample data, so an edit is seen before a reader gets it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::{AdminSession, admin_context};
use crate::state::AppState;
use crate::templates::MAILS;
use crate::web::{WebError, pages};

/// One mail as the page shows it: rendered, or why it cannot be.
#[derive(Serialize)]
struct MailView {
    name: &'static str,
    subject: String,
    text: String,
    error: Option<String>,
}

/// `GET /admin/templates`.
pub async fn index(
    state: web::Data<AppState>,
    session: AdminSession,
) -> Result<HttpResponse, WebError> {
    let mut context = admin_context(&state, &session, "templates");
    context.insert(
        "dir",
        &state
            .settings
            .templates_dir
            .as_ref()
            .map(|dir| dir.display().to_string()),
    );
    context.insert("templates", &state.templates.in_use());
    let previews: Vec<MailView> = MAILS
        .iter()
        .map(
            |(name, _)| match state.templates.preview(name, state.base_context()) {
                Ok(Some(mail)) => MailView {
                    name,
                    subject: mail.subject,
                    text: mail.text,
                    error: None,
                },
                Ok(None) => MailView {
                    name,
                    subject: String::new(),
                    text: String::new(),
                    error: Some("no such mail".to_owned()),
                },
                Err(e) => MailView {
                    name,
                    subject: String::new(),
                    text: String::new(),
                    error: Some(format!("{e:#}")),
                },
            },
        )
        .collect();
    context.insert("previews", &previews);
    pages::render(&state, "admin/templates.html", &context)
}

/// `GET /admin/templates/preview/{mail}`: the mail's HTML with sample data, as a reader
/// would see it; framed by [`index`], and only by our own pages.
pub async fn preview(
    mail: web::Path<String>,
    state: web::Data<AppState>,
    _session: AdminSession,
) -> Result<HttpResponse, WebError> {
    let Some(preview) = state.templates.preview(&mail, state.base_context())? else {
        return Err(pages::message_page(
            &state,
            StatusCode::NOT_FOUND,
            "No such mail",
            "The mails with a preview are listed on the templates page.",
        ));
    };
    Ok(super::framed_mail(preview.html))
}
