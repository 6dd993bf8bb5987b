//! The admin JSON API (behind `admin_auth`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::WebError;
use crate::db::newsletters::{self, Newsletter};
use crate::db::subscribers::{self, Subscriber};
use crate::db::{self, articles, digests};
use crate::digest::{Composed, compose_for};
use crate::domain::newsletter::{NewsletterChanges, NewsletterInput};
use crate::domain::{ArticleInput, DigestSubject, NewArticle, SubscriberStatus};
use crate::service::feeds::AddFeedError;
use crate::service::newsletters::Refusal;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    /// A newsletter's slug: only its readers (any status of theirs on it).
    newsletter: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// A reader with where they stand on each newsletter.
#[derive(Serialize)]
pub struct SubscriberView {
    #[serde(flatten)]
    pub subscriber: Subscriber,
    pub newsletters: Vec<crate::db::subscriptions::ReaderNewsletter>,
}

impl SubscriberView {
    /// `rows` with their newsletters.
    pub fn of_all(
        conn: &mut crate::db::Conn,
        rows: Vec<Subscriber>,
    ) -> anyhow::Result<Vec<SubscriberView>> {
        let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
        let mut on = crate::db::subscriptions::newsletters_of(conn, &ids)?;
        Ok(rows
            .into_iter()
            .map(|subscriber| SubscriberView {
                newsletters: on.remove(&subscriber.id).unwrap_or_default(),
                subscriber,
            })
            .collect())
    }
}

#[derive(Serialize)]
struct SubscriberPage {
    subscribers: Vec<SubscriberView>,
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
    let slug = query.newsletter.clone().filter(|s| !s.is_empty());
    let listed = state
        .db
        .run(move |conn| {
            let newsletter_id = match slug {
                Some(slug) => match newsletters::find_by_slug(conn, &slug)? {
                    Some(n) => Some(n.id),
                    None => return Ok(None),
                },
                None => None,
            };
            let (rows, total) =
                subscribers::search_on(conn, status, None, newsletter_id, page, per_page)?;
            Ok(Some((SubscriberView::of_all(conn, rows)?, total)))
        })
        .await?;
    let Some((rows, total)) = listed else {
        return Err(WebError::api(StatusCode::BAD_REQUEST, "no such newsletter"));
    };
    Ok(HttpResponse::Ok().json(SubscriberPage {
        subscribers: rows,
        page,
        per_page,
        total,
    }))
}

/// `POST /api/articles`: 201 with the article (`id`, `sections`, …) for a new one, 200
/// with the stored one for a known url.
pub async fn create_article(
    input: web::Json<ArticleInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    // Sanitising untrusted HTML is CPU work: off the async threads.
    let article = web::block(move || NewArticle::parse(&input))
        .await
        .map_err(|e| WebError::Internal(anyhow::anyhow!("article parsing panicked: {e}")))?
        .map_err(|fields| WebError::Fields {
            message: "the article has invalid fields".into(),
            fields,
        })?;
    let (id, created) = state
        .db
        .write(move |conn| articles::add(conn, &article, db::now()))
        .await?;
    let stored = state
        .db
        .run(move |conn| articles::find(conn, id))
        .await?
        .ok_or_else(|| anyhow::anyhow!("article {id} vanished"))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    // The stored article (a known URL's as it was first stored), its sections included.
    Ok(HttpResponse::build(status).json(stored))
}

/// What `POST /api/digests` may carry: nothing (an empty body), or `{"subject": …}`
/// and `{"newsletter": SLUG}` (none: the default newsletter).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DigestRequest {
    subject: Option<String>,
    newsletter: Option<String>,
}

/// The newsletter a digest request names (the default one when it names none); 400 for
/// an unknown or archived one.
async fn sendable_newsletter(
    state: &AppState,
    slug: Option<String>,
) -> Result<Newsletter, WebError> {
    let found = state
        .db
        .run(move |conn| newsletters::sendable(conn, slug.as_deref()))
        .await?;
    found.ok_or_else(|| {
        WebError::api(
            StatusCode::BAD_REQUEST,
            "no such newsletter (or it is archived)",
        )
    })
}

/// `POST /api/digests`: compose and queue a digest of everything new, now; under the
/// editor's `subject` when the JSON body gives one (400 with the reason when it is not
/// a subject: empty, more than one line, too long).
pub async fn create_digest(
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let request: DigestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        DigestRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            WebError::api(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body must be empty or a JSON object such as {{\"subject\": \"…\"}}: {e}"
                ),
            )
        })?
    };
    // A subject given but blank is a mistake, not a wish for the usual subject.
    let subject = request
        .subject
        .as_deref()
        .map(DigestSubject::parse)
        .transpose()
        .map_err(|e| WebError::Fields {
            message: "the digest has invalid fields".into(),
            fields: [("subject", e)].into_iter().collect(),
        })?;
    let newsletter = sendable_newsletter(&state, request.newsletter).await?;
    match compose_for(&state, newsletter.id, subject).await? {
        Composed::Created(created) => Ok(HttpResponse::Accepted().json(created)),
        Composed::NothingNew => Err(WebError::api(
            StatusCode::CONFLICT,
            "no new articles since the last digest; add some first",
        )),
        Composed::NoReaders { articles } => Err(WebError::api(
            StatusCode::CONFLICT,
            crate::digest::no_readers(articles),
        )),
    }
}

#[derive(Serialize)]
struct DigestStatus {
    id: i64,
    status: String,
    subject: String,
    articles: i32,
    #[serde(flatten)]
    progress: digests::Progress,
    failures: Vec<digests::Failure>,
}

/// `GET /api/digests/{id}`: where the digest's deliveries stand.
pub async fn get_digest(
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let Some(report) = state.db.run(move |conn| digests::report(conn, id)).await? else {
        return Err(WebError::api(
            StatusCode::NOT_FOUND,
            format!("there is no digest {id}"),
        ));
    };
    Ok(HttpResponse::Ok().json(DigestStatus {
        id: report.digest.id,
        status: report.digest.status,
        subject: report.digest.subject,
        articles: report.digest.article_count,
        progress: report.progress,
        failures: report.failures,
    }))
}

/// `GET /api/digests/preview`: the next digest's HTML, nothing stored or sent. Its size
/// is in `X-Digest-Html-Bytes`, its subject in `X-Digest-Subject` (RFC 8187 encoded),
/// and `X-Digest-Warning` says when Gmail would clip it.
pub async fn preview_digest(
    query: web::Query<NewsletterQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let newsletter = sendable_newsletter(&state, query.into_inner().newsletter).await?;
    let Some(rendered) = crate::digest::preview_for(&state, newsletter.id).await? else {
        return Err(WebError::api(
            StatusCode::CONFLICT,
            "no new articles: there is nothing to preview",
        ));
    };
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/html; charset=utf-8")
        .insert_header(("X-Digest-Html-Bytes", rendered.html.len().to_string()))
        .insert_header(("X-Digest-Subject", rfc8187(&rendered.subject)))
        .insert_header((header::CONTENT_LANGUAGE, rendered.language.code()))
        // The preview is a whole email with inline styles; let it render.
        .insert_header((header::CONTENT_SECURITY_POLICY, crate::web::EMAIL_VIEW_CSP));
    if let Some(warning) = rendered.clipping_warning() {
        response.insert_header(("X-Digest-Warning", warning));
    }
    Ok(response.body(rendered.html))
}

/// A query naming a newsletter by its slug (none: the default one).
#[derive(Debug, Deserialize)]
pub struct NewsletterQuery {
    pub newsletter: Option<String>,
}

/// A header value for any text: the RFC 8187 `ext-value` form (`UTF-8''` and the UTF-8
/// bytes, percent-encoded but for RFC 8187's `attr-char`s), so curly quotes and accented
/// letters survive and a client decodes them with any RFC 8187 or percent decoder.
fn rfc8187(value: &str) -> String {
    let mut out = String::from("UTF-8''");
    for byte in value.bytes() {
        let attr_char = byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte);
        if attr_char {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `POST /api/inbound`: one raw message as the body (a relay that posts inbound mail):
/// a bounce, complaint or unsubscribe request is applied, anything else ignored. 200
/// `{verdict, recorded, unknown, detail}` for anything understood or ignored; 413 past
/// the size limit; 500 when it could not be stored (the relay should retry).
pub async fn inbound_mail(
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    use futures_util::StreamExt;
    let limit = crate::limits::INBOUND_MAIL_BYTES;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| WebError::api(StatusCode::BAD_REQUEST, e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(WebError::api(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the message is larger than {}; bounces and reports are smaller",
                    crate::limits::human_bytes(limit)
                ),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(WebError::api(
            StatusCode::BAD_REQUEST,
            "the body must be one raw mail message (RFC 5322)",
        ));
    }
    let ingested = crate::mail::inbound::ingest(&state, body)
        .await
        .map_err(WebError::Internal)?;
    tracing::info!(
        verdict = ingested.kind(),
        "inbound mail: {}",
        ingested.describe()
    );
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "verdict": ingested.kind(),
        "recorded": ingested.recorded,
        "unknown": ingested.unknown,
        "detail": ingested.describe(),
    })))
}

/// A newsletter as the API shows it: the default newsletter's name and schedule are the
/// settings it follows (NEWSLETTER_NAME, DIGEST_CRON).
#[derive(Serialize)]
struct NewsletterView {
    slug: String,
    name: String,
    description: String,
    /// A cron string, or `null` for manual sends only.
    schedule: Option<String>,
    /// The article sections it takes; empty: every article.
    sections: Vec<String>,
    public: bool,
    preselected: bool,
    archived: bool,
    /// The default newsletter: what a request naming none means.
    default: bool,
    /// `en`, `ru` or `kk`: its digests speak that language to every reader; `null`:
    /// each reader's own.
    language: Option<String>,
}

impl NewsletterView {
    fn of(state: &AppState, n: Newsletter) -> NewsletterView {
        let default = n.id == newsletters::DEFAULT_NEWSLETTER_ID;
        NewsletterView {
            schedule: n
                .cron(state.settings.digest_cron.as_deref())
                .map(str::to_owned),
            sections: n.section_list(),
            name: n.name.unwrap_or_else(|| state.newsletter_name()),
            slug: n.slug,
            description: n.description,
            public: n.public,
            preselected: n.preselected,
            archived: n.archived,
            default,
            language: n.language,
        }
    }
}

/// `GET /api/newsletters`: every newsletter, archived ones too, oldest first.
pub async fn list_newsletters(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let all = state.db.run(newsletters::all).await?;
    let views: Vec<NewsletterView> = all
        .into_iter()
        .map(|n| NewsletterView::of(&state, n))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "newsletters": views })))
}

/// `GET /api/newsletters/{slug}`: one newsletter; 404 for an unknown slug.
pub async fn get_newsletter(
    slug: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let slug = slug.into_inner();
    let found = state
        .db
        .run(move |conn| newsletters::find_by_slug(conn, &slug))
        .await?;
    match found {
        Some(n) => Ok(HttpResponse::Ok().json(NewsletterView::of(&state, n))),
        None => Err(WebError::api(StatusCode::NOT_FOUND, "no such newsletter")),
    }
}

/// `POST /api/newsletters`: 201 with the new newsletter; 400 naming the bad fields; 409
/// when the slug is taken (archived newsletters keep theirs).
pub async fn create_newsletter(
    input: web::Json<NewsletterInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let fields = NewsletterChanges::parse(&input, true).map_err(|fields| WebError::Fields {
        message: "the newsletter has invalid fields".into(),
        fields,
    })?;
    let created = state
        .db
        .write(move |conn| crate::service::newsletters::create(conn, &fields, crate::db::now()))
        .await?;
    match created {
        Ok(n) => Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/newsletters/{}", n.slug)))
            .json(NewsletterView::of(&state, n))),
        Err(refusal) => Err(refused(refusal)),
    }
}

/// `PATCH /api/newsletters/{slug}`: changes the fields given, checked as on creation;
/// 404 for an unknown slug.
pub async fn update_newsletter(
    slug: web::Path<String>,
    input: web::Json<NewsletterInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let changes = NewsletterChanges::parse(&input, false).map_err(|fields| WebError::Fields {
        message: "the newsletter has invalid fields".into(),
        fields,
    })?;
    let slug = slug.into_inner();
    let updated = state
        .db
        .write(move |conn| {
            crate::service::newsletters::update(conn, &slug, &changes, crate::db::now())
        })
        .await?;
    match updated {
        Ok(n) => Ok(HttpResponse::Ok().json(NewsletterView::of(&state, n))),
        Err(refusal) => Err(refused(refusal)),
    }
}

/// `DELETE /api/newsletters/{slug}`: archives it (no longer offered or sent; its
/// history kept) and answers with it; 409 for the last newsletter still sent.
pub async fn archive_newsletter(
    slug: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let slug = slug.into_inner();
    let archived = state
        .db
        .write(move |conn| crate::service::newsletters::archive(conn, &slug, crate::db::now()))
        .await?;
    match archived {
        Ok(n) => Ok(HttpResponse::Ok().json(NewsletterView::of(&state, n))),
        Err(refusal) => Err(refused(refusal)),
    }
}

/// A refused change as the API answers it: 404 unknown, 400 for a field, 409 else.
fn refused(refusal: Refusal) -> WebError {
    let (field, message) = refusal.explain();
    match refusal {
        Refusal::Unknown => WebError::api(StatusCode::NOT_FOUND, message),
        Refusal::DefaultSlugFixed => WebError::Fields {
            message: "the newsletter has invalid fields".into(),
            fields: field.map(|f| (f, message.to_owned())).into_iter().collect(),
        },
        Refusal::SlugTaken => WebError::api(StatusCode::CONFLICT, message),
        Refusal::LastOne | Refusal::AlreadyArchived => WebError::api(StatusCode::CONFLICT, message),
    }
}

/// What `POST /api/feeds` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedRequest {
    url: Option<String>,
    section: Option<String>,
}

/// `POST /api/feeds {url, section?}`: 201 with the feed; 400 for an address that is
/// not http(s) or not public (unless FEED_ALLOW_PRIVATE), or a bad section; 409 when
/// the feed is added already.
pub async fn create_feed(
    body: web::Json<FeedRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let FeedRequest { url, section } = body.into_inner();
    match crate::service::feeds::add(
        &state,
        url.as_deref().unwrap_or_default(),
        section.as_deref(),
    )
    .await
    {
        Ok(feed) => Ok(HttpResponse::Created().json(feed)),
        Err(AddFeedError::Invalid(field, error)) => Err(WebError::Fields {
            message: "the feed has invalid fields".into(),
            fields: [(field, error)].into_iter().collect(),
        }),
        Err(taken @ (AddFeedError::Taken(_) | AddFeedError::IsFeedUrl)) => {
            Err(WebError::api(StatusCode::CONFLICT, taken.to_string()))
        }
        Err(AddFeedError::Other(e)) => Err(WebError::Internal(e)),
    }
}

/// `GET /api/feeds`: the feeds added, oldest first (FEED_URL, a setting, is not one).
pub async fn list_feeds(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let all = state.db.run(crate::db::feeds::all).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "feeds": all })))
}

/// `DELETE /api/feeds/{id}`: 204, or 404 for no such feed. Its articles stay.
pub async fn delete_feed(
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    if crate::service::feeds::remove(&state, id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(WebError::api(
            StatusCode::NOT_FOUND,
            format!("there is no feed {id}"),
        ))
    }
}
