//! Unsubscribe links: `GET` shows a button and changes nothing; `POST` unsubscribes, and
//! is also the RFC 8058 one-click target (no cookie, no login, any body).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::language::PageLanguage;
use super::{WebError, pages};
use crate::db::newsletters::DEFAULT_NEWSLETTER_ID;
use crate::db::{self, newsletters, subscribers};
use crate::metrics::UnsubscribePath;
use crate::service::subscriptions;
use crate::state::{AppState, PREFERENCES_PURPOSE, PREVIEW_UNSUBSCRIBE_TOKEN, unsubscribe_purpose};

pub async fn unsubscribe_page(
    query: web::Query<UnsubscribeQuery>,
    page: PageLanguage,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    if query.token.as_deref() == Some(PREVIEW_UNSUBSCRIBE_TOKEN) {
        return preview_link(&state, &page);
    }
    let id = verify(&state, &page, query.token.as_deref(), query.list)?;
    let list = query.list;
    let found = state
        .db
        .run(move |conn| {
            let newsletter = newsletters::find(conn, list.unwrap_or(DEFAULT_NEWSLETTER_ID))?;
            anyhow::Ok(subscribers::find(conn, id)?.zip(newsletter))
        })
        .await?;
    let Some((subscriber, newsletter)) = found else {
        return Err(unknown_subscriber(&state, &page));
    };
    let mut context = page.context(&state);
    context.insert("newsletter_name", &state.name_of(&newsletter));
    context.insert("list", &query.list);
    context.insert("token", query.token.as_deref().unwrap_or_default());
    context.insert("email", &subscriber.email);
    pages::render(&state, "unsubscribe.html", &context)
}

/// The query of an unsubscribe link: its token, the newsletter it leaves (`list=ID`;
/// none: the default newsletter, as every link from before newsletters), and `all=1`
/// from the page's "Unsubscribe from everything" button.
#[derive(Debug, serde::Deserialize)]
pub struct UnsubscribeQuery {
    pub token: Option<String>,
    pub list: Option<i64>,
    pub all: Option<String>,
}

/// Leaves the link's newsletter, or everything with `all=1`.
pub async fn unsubscribe(
    query: web::Query<UnsubscribeQuery>,
    page: PageLanguage,
    state: web::Data<AppState>,
    // Only to tell RFC 8058 one-click from the page's button in the metrics: a body
    // that cannot be read changes nothing else.
    body: Option<web::Bytes>,
) -> Result<HttpResponse, WebError> {
    if query.token.as_deref() == Some(PREVIEW_UNSUBSCRIBE_TOKEN) {
        return preview_link(&state, &page);
    }
    let id = verify(&state, &page, query.token.as_deref(), query.list)?;
    let everything = query.all.as_deref() == Some("1");
    let newsletter_id = query.list.unwrap_or(DEFAULT_NEWSLETTER_ID);
    let left_name = state
        .db
        .run(move |conn| newsletters::find(conn, newsletter_id))
        .await?
        .map(|n| state.name_of(&n));
    let done = state
        .db
        .write(move |conn| {
            if everything {
                return Ok(subscriptions::unsubscribe(conn, id, db::now())?.map(
                    |(subscriber, left_now)| subscriptions::LeftNewsletter {
                        subscriber,
                        left_now,
                        still_receiving: Vec::new(),
                    },
                ));
            }
            subscriptions::leave_newsletter(conn, id, newsletter_id, db::now())
        })
        .await?;
    let Some(left) = done else {
        return Err(unknown_subscriber(&state, &page));
    };
    tracing::info!(subscriber = left.subscriber.id, "unsubscribed");
    if left.left_now {
        state.metrics.unsubscribe(unsubscribe_path(body.as_deref()));
    }
    let mut context = page.context(&state);
    if let Some(name) = &left_name
        && !everything
    {
        context.insert("newsletter_name", name);
    }
    context.insert("email", &left.subscriber.email);
    context.insert("list", &query.list);
    if !left.still_receiving.is_empty() {
        let default_name = state.newsletter_name();
        let names: Vec<String> = left
            .still_receiving
            .into_iter()
            .map(|name| name.unwrap_or_else(|| default_name.clone()))
            .collect();
        context.insert("still_receiving", &names);
        context.insert(
            "preferences_token",
            &state.signer.sign(PREFERENCES_PURPOSE, left.subscriber.id),
        );
        context.insert("token", query.token.as_deref().unwrap_or_default());
    }
    pages::render(&state, "unsubscribed.html", &context)
}

/// How the reader left: a mail client's one-click POST carries
/// `List-Unsubscribe=One-Click` (RFC 8058), the page's button nothing.
fn unsubscribe_path(body: Option<&[u8]>) -> UnsubscribePath {
    let one_click = body.is_some_and(|body| {
        body.windows(b"List-Unsubscribe=One-Click".len())
            .any(|w| w.eq_ignore_ascii_case(b"List-Unsubscribe=One-Click"))
    });
    match one_click {
        true => UnsubscribePath::OneClick,
        false => UnsubscribePath::Link,
    }
}

/// The reader a link's token names, when it was signed for the link's newsletter.
fn verify(
    state: &AppState,
    page: &PageLanguage,
    token: Option<&str>,
    list: Option<i64>,
) -> Result<i64, WebError> {
    let token = token.unwrap_or_default();
    let purpose = unsubscribe_purpose(list.unwrap_or(DEFAULT_NEWSLETTER_ID));
    state.signer.verify(&purpose, token).map_err(|_| {
        pages::message_in(
            state,
            page,
            StatusCode::BAD_REQUEST,
            "error-unsubscribe-link-title",
            "error-unsubscribe-link-text",
        )
    })
}

/// What the unsubscribe link of a preview or a test mail leads to: it changes nothing.
fn preview_link(state: &AppState, page: &PageLanguage) -> Result<HttpResponse, WebError> {
    let mut context = page.context(state);
    context.insert("title", &page.text("error-test-mail-title"));
    context.insert("message", &page.text("error-test-mail-text"));
    pages::render(state, "message.html", &context)
}

fn unknown_subscriber(state: &AppState, page: &PageLanguage) -> WebError {
    pages::message_in(
        state,
        page,
        StatusCode::NOT_FOUND,
        "error-unknown-reader-title",
        "error-unknown-reader-text",
    )
}
