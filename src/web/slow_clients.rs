//! Slow and greedy clients: a deadline on request bodies, and a cap on the connections
//! one client may hold open, so a few thousand stalled uploads cannot use up the
//! process's file descriptors and take `/health` and every page down with them.
//!
//! actix already closes a connection whose request head takes more than 5 s; the body
//! had no deadline at all. A request that stops sending its body gets 408 once
//! [`limits::BODY_DEADLINE`] has passed, and its connection is closed.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse};
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use super::app_state;
use super::client::client_key;
use crate::limits;

/// Open connections per client, counted as they are accepted and released as they
/// close.
#[derive(Clone, Default)]
pub struct ConnectionCounter {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One accepted connection; kept in the connection's data, so it is dropped (and the
/// count goes down) when the connection closes.
pub struct ConnectionTicket {
    key: IpAddr,
    /// The client already held [`limits::CONNECTIONS_PER_CLIENT`] others when this one
    /// was accepted.
    over_limit: bool,
    counter: ConnectionCounter,
}

impl ConnectionCounter {
    /// The `on_connect` hook: counts a new TCP connection and gives it its ticket.
    pub fn on_connect(&self, connection: &dyn std::any::Any, data: &mut Extensions) {
        let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
            return;
        };
        let Ok(peer) = stream.peer_addr() else { return };
        let key = client_key(peer.ip());
        let mut open = self.lock();
        let count = open.entry(key).or_insert(0);
        *count += 1;
        let over_limit = *count > limits::CONNECTIONS_PER_CLIENT;
        data.insert(ConnectionTicket {
            key,
            over_limit,
            counter: self.clone(),
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for ConnectionTicket {
    fn drop(&mut self) {
        let mut open = self.counter.lock();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The middleware: refuses a request on a connection past the client's cap (429, and
/// the connection is closed), and gives every request body a deadline (408, closed).
/// Health checks are exempt from the cap, so a load balancer still sees the service
/// while one client misbehaves.
pub async fn limit_slow_clients(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<
    ServiceResponse<EitherBody<WithRequestBody<impl MessageBody>, WithRequestBody<BoxBody>>>,
    actix_web::Error,
> {
    let over_limit = req
        .conn_data::<ConnectionTicket>()
        .is_some_and(|ticket| ticket.over_limit);
    if over_limit && req.path() != "/health" {
        let state = app_state(req.request());
        let from_proxy = state.settings.trusted_proxy.is_some()
            && req.peer_addr().map(|a| a.ip()) == state.settings.trusted_proxy;
        if !from_proxy {
            let response = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many open connections from your address.",
            );
            // Its body, unread, goes with the answer, so the connection is closed.
            let held = Some(Rc::new(RefCell::new(req.take_payload())));
            return Ok(req
                .into_response(response)
                .map_body(|_, body| WithRequestBody::new(body, held))
                .map_into_right_body());
        }
    }

    let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return Ok(next
            .call(req)
            .await?
            .map_body(|_, body| WithRequestBody::new(body, None))
            .map_into_left_body());
    }
    let deadline = if req.path() == UPLOAD_PATH {
        limits::UPLOAD_DEADLINE
    } else {
        limits::BODY_DEADLINE
    };
    let expired = Rc::new(Cell::new(false));
    let request_body = Rc::new(RefCell::new(req.take_payload()));
    req.set_payload(Payload::Stream {
        payload: Box::pin(DeadlinePayload {
            inner: request_body.clone(),
            sleep: Box::pin(tokio::time::sleep_until(Instant::now() + deadline)),
            expired: expired.clone(),
        }),
    });
    let response = next.call(req).await?;
    // The request body goes with the response until its last byte is written: actix
    // closes a connection whose request body is still unread when it has answered, but
    // goes on reading (draining) a dropped chunked body for as long as the client
    // trickles it, with no deadline at all.
    let held = Some(request_body);
    if expired.get() {
        // Whatever the handler made of the cut-off body, the answer is 408.
        let refused = refusal(
            StatusCode::REQUEST_TIMEOUT,
            "The request body did not arrive in time.",
        );
        return Ok(response
            .into_response(refused)
            .map_body(|_, body| WithRequestBody::new(body, held))
            .map_into_right_body());
    }
    Ok(response
        .map_body(|_, body| WithRequestBody::new(body, held))
        .map_into_left_body())
}

/// The admin CSV upload, whose body may take longer than a form's.
pub const UPLOAD_PATH: &str = "/admin/subscribers/import";

/// A response body that keeps the request's body alive until it has been written (see
/// [`limit_slow_clients`]).
pub struct WithRequestBody<B> {
    body: Pin<Box<B>>,
    _request_body: Option<Rc<RefCell<Payload>>>,
}

impl<B> WithRequestBody<B> {
    fn new(body: B, request_body: Option<Rc<RefCell<Payload>>>) -> WithRequestBody<B> {
        WithRequestBody {
            body: Box::pin(body),
            _request_body: request_body,
        }
    }
}

impl<B: MessageBody> MessageBody for WithRequestBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.body.as_mut().poll_next(cx)
    }
}

/// A short plain-text refusal after which the connection is closed.
fn refusal(status: StatusCode, message: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .force_close()
        .content_type("text/plain; charset=utf-8")
        .body(message)
}

/// A request body that fails with a timeout once its deadline passes.
struct DeadlinePayload {
    inner: Rc<RefCell<Payload>>,
    sleep: Pin<Box<Sleep>>,
    expired: Rc<Cell<bool>>,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut *self.inner.borrow_mut()).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired.set(true);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}
