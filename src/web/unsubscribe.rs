//! Unsubscribe links: `GET` shows a button and changes nothing; `POST` unsubscribes, and
//! is also the RFC 8058 one-click target (no cookie, no login, any body).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{WebError, pages};
use crate::db::newsletters::DEFAULT_NEWSLETTER_ID;
use crate::db::{self, newsletters, subscribers};
use crate::metrics::UnsubscribePath;
use crate::service::subscriptions;
use crate::state::{AppState, PREFERENCES_PURPOSE, PREVIEW_UNSUBSCRIBE_TOKEN, unsubscribe_purpose};

pub async fn unsubscribe_page(
    query: web::Query<UnsubscribeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    if query.token.as_deref() == Some(PREVIEW_UNSUBSCRIBE_TOKEN) {
        return preview_link(&state);
    }
    let id = verify(&state, query.token.as_deref(), query.list)?;
    let list = query.list;
    let found = state
        .db
        .run(move |conn| {
            let newsletter = newsletters::find(conn, list.unwrap_or(DEFAULT_NEWSLETTER_ID))?;
            anyhow::Ok(subscribers::find(conn, id)?.zip(newsletter))
        })
        .await?;
    let Some((subscriber, newsletter)) = found else {
        return Err(unknown_subscriber(&state));
    };
    let mut context = state.base_context();
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
    state: web::Data<AppState>,
    // Only to tell RFC 8058 one-click from the page's button in the metrics: a body
    // that cannot be read changes nothing else.
    body: Option<web::Bytes>,
) -> Result<HttpResponse, WebError> {
    if query.token.as_deref() == Some(PREVIEW_UNSUBSCRIBE_TOKEN) {
        return preview_link(&state);
    }
    let id = verify(&state, query.token.as_deref(), query.list)?;
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
        return Err(unknown_subscriber(&state));
    };
    tracing::info!(subscriber = left.subscriber.id, "unsubscribed");
    if left.left_now {
        state.metrics.unsubscribe(unsubscribe_path(body.as_deref()));
    }
    let mut context = state.base_context();
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
fn verify(state: &AppState, token: Option<&str>, list: Option<i64>) -> Result<i64, WebError> {
    let token = token.unwrap_or_default();
    let purpose = unsubscribe_purpose(list.unwrap_or(DEFAULT_NEWSLETTER_ID));
    state.signer.verify(&purpose, token).map_err(|_| {
        pages::message_page(
            state,
            StatusCode::BAD_REQUEST,
            "This unsubscribe link is incomplete",
            "The link seems to have been cut off or changed. Open it from one of our emails again; every email has one.",
        )
    })
}

/// What the unsubscribe link of a preview or a test mail leads to: it changes nothing.
fn preview_link(state: &AppState) -> Result<HttpResponse, WebError> {
    let mut context = state.base_context();
    context.insert("title", "This was a test mail");
    context.insert(
        "message",
        "This link came in a preview or a test mail, which belong to no reader, so nothing \
         was changed. In a digest, the same link unsubscribes the reader it was sent to.",
    );
    pages::render(state, "message.html", &context)
}

fn unknown_subscriber(state: &AppState) -> WebError {
    pages::message_page(
        state,
        StatusCode::NOT_FOUND,
        "No subscription here",
        "This address is no longer on our list, so there is nothing to unsubscribe from.",
    )
}
