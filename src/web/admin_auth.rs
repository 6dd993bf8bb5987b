//! The one place the admin API checks its credentials.

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use argon2::{PasswordHash, PasswordVerifier};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{WebError, app_state};
use crate::config::AdminToken;

/// Lets a request through only with `Authorization: Bearer <ADMIN_TOKEN>`. Without an
/// `ADMIN_TOKEN` configured the whole API answers 404, as if it did not exist.
pub async fn require_admin_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = app_state(req.request());
    let refusal = match &state.settings.admin_token {
        None => Some(WebError::api(StatusCode::NOT_FOUND, "not found")),
        Some(expected) => {
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token);
            match presented {
                Some(token) if token_matches(expected, token) => None,
                _ => Some(WebError::api(
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

/// The token of an `Authorization: Bearer <token>` value; the scheme is
/// case-insensitive (RFC 7235).
fn bearer_token(value: &str) -> Option<&str> {
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
