//! The one place admin credentials are checked: the API's bearer token (middleware
//! here) and the admin login (`admin::auth`) both go through [`AdminGate`].

use std::net::IpAddr;
use std::sync::Mutex;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use argon2::{PasswordHash, PasswordVerifier};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::client::{RateLimiter, client_ip};
use super::{WebError, app_state};
use crate::config::AdminToken;
use crate::state::AppState;

/// Lets a request through only with `Authorization: Bearer <ADMIN_TOKEN>`. Without an
/// `ADMIN_TOKEN` configured the whole API answers 404, as if it did not exist.
pub async fn require_admin_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = app_state(req.request());
    let refusal = match &state.settings.admin_token {
        None => Some(WebError::api(StatusCode::NOT_FOUND, "not found")),
        Some(_) => {
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token)
                .unwrap_or_default()
                .to_owned();
            let gate = req
                .app_data::<web::Data<AdminGate>>()
                .expect("AdminGate is registered on the app")
                .clone();
            let client = client_ip(req.request(), state.settings.trusted_proxy);
            match gate.check(&state, presented, client).await? {
                Ok(()) => None,
                Err(Refused::TooManyFailures) => Some(WebError::api(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many wrong admin tokens from your address; wait a minute",
                )),
                Err(Refused::WrongToken) => Some(WebError::api(
                    StatusCode::UNAUTHORIZED,
                    "a valid `Authorization: Bearer <ADMIN_TOKEN>` header is required",
                )),
            }
        }
    };
    match refusal {
        None => Ok(next.call(req).await?.map_into_left_body()),
        Some(error) => {
            let mut response = error.error_response();
            if error.status_code() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

/// Why an admin token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    WrongToken,
    /// The client used up its tries this minute; not even checked.
    TooManyFailures,
}

/// Checks presented admin tokens. A token already found right is recognised by its
/// digest at once; any other is first counted against the client's budget of tries
/// (five a minute), *then* verified off the async threads, at most a few at a time
/// whatever the number of clients: an argon2 hash can cost 64 MiB and tens of
/// milliseconds, so neither racing one client's budget nor many clients together can
/// exhaust memory or CPU.
pub struct AdminGate {
    tries: RateLimiter,
    verifying: Semaphore,
    /// SHA-256 of the token last verified right (this process's admin token).
    known_good: Mutex<Option<[u8; 32]>>,
}

impl AdminGate {
    /// Five unverified tokens a minute per client; as many verifications at once as
    /// there are cores.
    pub fn new() -> AdminGate {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        AdminGate {
            tries: RateLimiter::per_minute(5),
            verifying: Semaphore::new(cores.clamp(1, 4)),
            known_good: Mutex::new(None),
        }
    }

    /// `Ok(Ok(()))` for the right token; `Ok(Err(why))` when refused.
    pub async fn check(
        &self,
        state: &AppState,
        presented: String,
        client: Option<IpAddr>,
    ) -> Result<Result<(), Refused>, WebError> {
        let Some(expected) = state.settings.admin_token.clone() else {
            return Ok(Err(Refused::WrongToken));
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        if self.is_known_good(&digest) {
            // Cheap to answer, but a refused client gets no answer at all: otherwise it
            // could go on guessing against this comparison.
            if self.tries.spent(client) {
                return Ok(Err(Refused::TooManyFailures));
            }
            return Ok(Ok(()));
        }
        // Counted before the work, so concurrent tries cannot all get through.
        if !self.tries.allow(client) {
            return Ok(Err(Refused::TooManyFailures));
        }
        let _permit = self
            .verifying
            .acquire()
            .await
            .map_err(|e| WebError::Internal(e.into()))?;
        let matches = web::block(move || token_matches(&expected, &presented))
            .await
            .map_err(|e| WebError::Internal(anyhow::anyhow!("token check panicked: {e}")))?;
        if matches {
            *self
                .known_good
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(digest);
            Ok(Ok(()))
        } else {
            tracing::warn!(client = ?client, "wrong admin token");
            Ok(Err(Refused::WrongToken))
        }
    }

    fn is_known_good(&self, digest: &[u8; 32]) -> bool {
        self.known_good
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_some_and(|good| bool::from(good.ct_eq(digest)))
    }
}

impl Default for AdminGate {
    fn default() -> Self {
        AdminGate::new()
    }
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is
/// case-insensitive (RFC 7235).
pub(super) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares in constant time. Plain tokens are compared as SHA-256 digests, so neither
/// the content nor the length of the secret shows in the timing.
pub fn token_matches(expected: &AdminToken, presented: &str) -> bool {
    match expected {
        AdminToken::Plain(secret) => {
            let a = Sha256::digest(secret.as_bytes());
            let b = Sha256::digest(presented.as_bytes());
            a.ct_eq(&b).into()
        }
        AdminToken::Argon2Hash(phc) => PasswordHash::new(phc)
            .map(|hash| {
                argon2::Argon2::default()
                    .verify_password(presented.as_bytes(), &hash)
                    .is_ok()
            })
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;

    #[test]
    fn plain_tokens_match_exactly() {
        let expected = AdminToken::Plain("correct horse battery staple".into());
        assert!(token_matches(&expected, "correct horse battery staple"));
        assert!(!token_matches(&expected, "correct horse battery stapl"));
        assert!(!token_matches(&expected, ""));
    }

    #[test]
    fn argon2_hashes_verify_the_token_they_were_made_from() {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = argon2::Argon2::default()
            .hash_password(b"s3cret-admin-token", &salt)
            .unwrap()
            .to_string();
        let expected = AdminToken::Argon2Hash(phc);
        assert!(token_matches(&expected, "s3cret-admin-token"));
        assert!(!token_matches(&expected, "wrong"));
    }
}
