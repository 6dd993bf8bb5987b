//! The HTTP side: routes by topic, the middleware every response passes through, and the
//! limits on what a request may carry.

mod admin;
mod admin_auth;
mod api;
mod archive;
pub mod client;
mod confirm;
mod error;
mod form;
mod health;
pub mod language;
mod metrics;
mod pages;
mod preferences;
mod slow_clients;
mod subscribe;
mod unsubscribe;
mod webhooks;

use std::net::IpAddr;
use std::net::TcpListener;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{
    App, Handler, HttpResponse, HttpServer, Resource, Responder, error as actix_error, guard, web,
};

pub use error::WebError;

use crate::limits;
use crate::state::AppState;
use client::RateLimiter;
use tracing::Instrument;

/// Builds the HTTP server on `listener`, ready to be awaited.
pub fn server(state: AppState, listener: TcpListener) -> anyhow::Result<actix_web::dev::Server> {
    let signup_limiter = web::Data::new(RateLimiter::per_minute(
        state.settings.signup_rate_per_minute,
    ));
    let admin_gate = web::Data::new(admin_auth::AdminGate::new());
    let webhooks = web::Data::new(crate::webhooks::Webhooks::new()?);
    let state = web::Data::new(state);
    let connections = slow_clients::ConnectionCounter::default();
    let shutdown_grace = crate::shutdown::time_for_work(state.settings.shutdown_grace).as_secs();
    // The logo of `SITE_LOGO_URL` is the one image from elsewhere that pages show.
    let logo_origin = state
        .settings
        .site_logo_url
        .as_ref()
        .map(|url| url.origin().ascii_serialization());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(signup_limiter.clone())
            .app_data(admin_gate.clone())
            .app_data(webhooks.clone())
            .app_data(web::PayloadConfig::default().limit(limits::FORM_BYTES))
            .app_data(
                web::JsonConfig::default()
                    .limit(limits::JSON_BYTES)
                    .error_handler(bad_request),
            )
            .app_data(web::QueryConfig::default().error_handler(bad_request))
            .app_data(web::PathConfig::default().error_handler(bad_request))
            .configure(routes)
            .wrap(from_fn(slow_clients::limit_slow_clients))
            .wrap(security_headers(logo_origin.as_deref()))
            .wrap(from_fn(log_request))
    })
    .on_connect(move |connection, data| connections.on_connect(connection, data))
    .listen(listener)?
    // The app listens for SIGTERM and SIGINT itself (`startup`), to stop the workers
    // beside the server within one grace period.
    .disable_signals()
    .shutdown_timeout(shutdown_grace)
    .run();
    Ok(server)
}

/// Every route of the service.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::at("/").get(subscribe::signup_page).done())
        .service(
            Endpoint::at("/subscriptions")
                .post(subscribe::subscribe)
                .done(),
        )
        .service(
            Endpoint::at("/subscriptions/confirm")
                .get(confirm::confirm_page)
                .post(confirm::confirm)
                .done(),
        )
        .service(
            Endpoint::at("/preferences")
                .get(preferences::preferences_page)
                .post(preferences::save_preferences)
                .done(),
        )
        .service(
            Endpoint::at("/unsubscribe")
                .get(unsubscribe::unsubscribe_page)
                .post(unsubscribe::unsubscribe)
                .done(),
        )
        .service(Endpoint::at("/archive").get(archive::index).done())
        .service(Endpoint::at("/archive/{id}").get(archive::show).done())
        .service(Endpoint::at("/health").get(health::health).done())
        .service(Endpoint::at("/ready").get(health::ready).done())
        .service(Endpoint::at("/metrics").get(metrics::public_metrics).done())
        .service(Endpoint::at("/favicon.ico").get(pages::favicon).done())
        .service(
            Endpoint::at("/static/style.css")
                .get(pages::stylesheet)
                .done(),
        )
        .service(
            Endpoint::at("/static/admin.css")
                .get(pages::admin_stylesheet)
                .done(),
        )
        .service(
            Endpoint::at("/static/admin.js")
                .get(pages::admin_script)
                .done(),
        )
        .service(
            web::scope("/api")
                .wrap(from_fn(admin_auth::require_admin_token))
                .service(
                    Endpoint::at("/subscribers")
                        .get(api::list_subscribers)
                        .done(),
                )
                .service(Endpoint::at("/articles").post(api::create_article).done())
                .service(Endpoint::at("/digests").post(api::create_digest).done())
                .service(
                    Endpoint::at("/digests/preview")
                        .get(api::preview_digest)
                        .done(),
                )
                .service(Endpoint::at("/digests/{id}").get(api::get_digest).done())
                .service(Endpoint::at("/inbound").post(api::inbound_mail).done())
                .service(
                    Endpoint::at("/newsletters")
                        .get(api::list_newsletters)
                        .post(api::create_newsletter)
                        .done(),
                )
                .service(
                    Endpoint::at("/newsletters/{slug}")
                        .get(api::get_newsletter)
                        .patch(api::update_newsletter)
                        .delete(api::archive_newsletter)
                        .done(),
                )
                .service(
                    Endpoint::at("/feeds")
                        .get(api::list_feeds)
                        .post(api::create_feed)
                        .done(),
                )
                .service(Endpoint::at("/feeds/{id}").delete(api::delete_feed).done()),
        )
        .service(
            web::scope("/webhooks")
                .app_data(web::PayloadConfig::default().limit(limits::WEBHOOK_BYTES))
                .service(Endpoint::at("/ses").post(webhooks::ses).done())
                .service(Endpoint::at("/postmark").post(webhooks::postmark).done())
                .service(Endpoint::at("/mailgun").post(webhooks::mailgun).done())
                .service(Endpoint::at("/sendgrid").post(webhooks::sendgrid).done()),
        )
        .configure(admin::routes)
        .default_service(web::to(pages::not_found));
}

/// One path and the methods it answers. `get` answers `HEAD` too (actix sends the
/// headers without the body), as RFC 9110 asks; any other method gets 405 with an
/// `Allow` header naming the ones that work.
struct Endpoint {
    resource: Resource,
    allow: Vec<&'static str>,
}

impl Endpoint {
    fn at(path: &str) -> Endpoint {
        Endpoint {
            resource: web::resource(path),
            allow: Vec::new(),
        }
    }

    fn get<F, Args>(mut self, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.allow.extend(["GET", "HEAD"]);
        self.resource = self.resource.route(
            web::route()
                .guard(guard::Any(guard::Get()).or(guard::Head()))
                .to(handler),
        );
        self
    }

    fn post<F, Args>(mut self, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.allow.push("POST");
        self.resource = self.resource.route(web::post().to(handler));
        self
    }

    fn patch<F, Args>(mut self, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.allow.push("PATCH");
        self.resource = self.resource.route(web::patch().to(handler));
        self
    }

    fn delete<F, Args>(mut self, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.allow.push("DELETE");
        self.resource = self.resource.route(web::delete().to(handler));
        self
    }

    fn done(self) -> Resource {
        let allow = self.allow.join(", ");
        self.resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                HttpResponse::MethodNotAllowed()
                    .insert_header((header::ALLOW, allow))
                    .content_type("text/plain; charset=utf-8")
                    .body("This address does not answer that method.")
            }
        }))
    }
}

/// Bad input the extractors caught (size, encoding, JSON types, ids): 413 for an
/// oversized body, 400 for everything else, with the reason in a sentence; JSON under
/// `/api`, text elsewhere.
fn bad_request(
    e: impl std::fmt::Display + Into<actix_error::Error>,
    req: &actix_web::HttpRequest,
) -> actix_error::Error {
    let message = e.to_string();
    let err: actix_error::Error = e.into();
    let status = match err.as_response_error().status_code() {
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    };
    let response = if req.path().starts_with("/api/") {
        HttpResponse::build(status).json(serde_json::json!({ "error": message }))
    } else {
        HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "{}: {message}",
                status.canonical_reason().unwrap_or("Bad request")
            ))
    };
    actix_error::InternalError::from_response(message, response).into()
}

/// Headers every response carries. Pages need no script and load only our stylesheet;
/// `no-referrer` keeps tokens in our URLs from leaking to other sites.
fn security_headers(logo_origin: Option<&str>) -> DefaultHeaders {
    let logo = logo_origin.map(|o| format!(" {o}")).unwrap_or_default();
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'none'; style-src 'self'; img-src 'self' data:{logo}; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CACHE_CONTROL, "no-store"))
}

/// One log line a request: method, path (never the query: it carries tokens), status
/// and time taken; its time in the metrics, by route; and its id. Every line logged
/// while the request is handled is in its span, so it carries the id too.
async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = app_state(req.request());
    let id = request_id(&req, state.settings.trusted_proxy);
    let span = tracing::info_span!("request", request_id = %id);
    let method = req.method().clone();
    let path = req.path().to_owned();
    let mut response = next.call(req).instrument(span.clone()).await?;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    // The route's pattern (`/archive/{id}`), so ids do not each make a series.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    state
        .metrics
        .http_request(&route, method.as_str(), status, elapsed);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        tracing::info!(%method, path, status, elapsed_ms = format!("{elapsed_ms:.1}"), "request")
    });
    Ok(response)
}

/// `X-Request-Id`: names one request in the logs of every hop.
static REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

/// The longest request id taken from a proxy.
const MAX_REQUEST_ID: usize = 128;

/// The request's id: the `X-Request-Id` that `TRUSTED_PROXY` gave, when it did and the
/// id is sane (1 to 128 visible ASCII characters), so one id follows the request
/// through every hop; otherwise a new random one. Nobody else chooses what our logs say.
fn request_id(req: &ServiceRequest, trusted_proxy: Option<IpAddr>) -> String {
    let from_proxy =
        client::from_trusted_proxy(req.peer_addr().map(|addr| addr.ip()), trusted_proxy);
    let given = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| sane_request_id(id));
    match given {
        Some(id) if from_proxy => id.to_owned(),
        _ => format!("{:032x}", rand::random::<u128>()),
    }
}

fn sane_request_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The server `METRICS_ADDR` names: `GET /metrics` without a token, and nothing else.
pub fn metrics_server(
    state: AppState,
    listener: TcpListener,
) -> anyhow::Result<actix_web::dev::Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(Endpoint::at("/metrics").get(metrics::open_metrics).done())
            .default_service(web::to(|| async {
                HttpResponse::NotFound()
                    .content_type("text/plain; charset=utf-8")
                    .body("Only /metrics is served here.")
            }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .shutdown_timeout(1)
    .run();
    Ok(server)
}

/// What answers on the port while the database is migrated at start: 503 (with
/// `Retry-After`) to every request, so a load balancer's readiness check sees "not yet"
/// rather than a connection that hangs.
pub fn starting_server(listener: TcpListener) -> anyhow::Result<actix_web::dev::Server> {
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|| async { health::not_ready("migrating") }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .shutdown_timeout(0)
    .run();
    Ok(server)
}

/// The `?token=` of a link from a mail (confirm, unsubscribe).
#[derive(Debug, serde::Deserialize)]
pub struct LinkToken {
    pub token: Option<String>,
}

/// The CSP for a mail shown as a page (archive, previews): a mail styles itself inline
/// and shows the news site's images, and runs nothing.
pub const EMAIL_VIEW_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; frame-ancestors 'none'; base-uri 'none'";

/// The app's state, from inside a middleware or extractor.
fn app_state(req: &actix_web::HttpRequest) -> web::Data<AppState> {
    req.app_data::<web::Data<AppState>>()
        .expect("AppState is registered on the app")
        .clone()
}

/// Marks a response as cacheable for a day (static assets).
fn cache_for_a_day(response: &mut HttpResponse) {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
}
