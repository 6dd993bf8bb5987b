//! Tokens in links: random confirmation tokens (stored hashed) and signed per-subscriber
//! tokens (unsubscribe links) that need no storage at all.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Why a token from a link was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is incomplete or was changed")]
    Malformed,
    #[error("the link's signature does not match")]
    BadSignature,
}

/// A random confirmation token, as sent in the link. Only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationToken(String);

impl ConfirmationToken {
    /// 32 random bytes in unpadded base64url.
    const LEN: usize = 43;

    pub fn generate() -> ConfirmationToken {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        ConfirmationToken(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Checks the shape of a token from a URL before it goes near the database.
    pub fn parse(raw: &str) -> Result<ConfirmationToken, TokenError> {
        let well_formed = raw.len() == Self::LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            Ok(ConfirmationToken(raw.to_owned()))
        } else {
            Err(TokenError::Malformed)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the database keeps: hex SHA-256 of the token. The token has 256 random bits,
    /// so a fast hash is enough; no salt or slow KDF is needed.
    pub fn hash(&self) -> String {
        hex(&Sha256::digest(self.0.as_bytes()))
    }
}

/// Signs and checks ids with `APP_SECRET`, for links that must work without storage
/// (unsubscribe) and for ids that must be stable but unguessable (Message-IDs).
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(…)")
    }
}

impl Signer {
    pub fn new(secret: &str) -> Signer {
        Signer {
            key: secret.as_bytes().to_vec(),
        }
    }

    /// A fresh secret for `APP_SECRET` when none is configured.
    pub fn generate_secret() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        hex(&bytes)
    }

    fn mac(&self, purpose: &str, subject: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(subject.as_bytes());
        mac
    }

    /// `{id}.{signature}`: a link token for `purpose` (e.g. "unsubscribe").
    pub fn sign(&self, purpose: &str, id: i64) -> String {
        let tag = self.mac(purpose, &id.to_string()).finalize().into_bytes();
        format!("{id}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The id in a token made by [`Signer::sign`] for the same purpose; checked in
    /// constant time.
    pub fn verify(&self, purpose: &str, token: &str) -> Result<i64, TokenError> {
        if token.len() > 80 {
            return Err(TokenError::Malformed);
        }
        let (id_text, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let id: i64 = id_text.parse().map_err(|_| TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        // The id as written is what was signed, so a token has one spelling: `042.…`
        // or `+42.…` is not `42.…`.
        self.mac(purpose, id_text)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        Ok(id)
    }

    /// A short stable tag for (`purpose`, `subject`), unguessable without the secret.
    pub fn tag(&self, purpose: &str, subject: &str) -> String {
        hex(&self.mac(purpose, subject).finalize().into_bytes()[..10])
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_confirmation_tokens_parse_and_differ() {
        let a = ConfirmationToken::generate();
        let b = ConfirmationToken::generate();
        assert_ne!(a, b);
        assert_eq!(ConfirmationToken::parse(a.as_str()), Ok(a.clone()));
        assert_eq!(a.hash().len(), 64);
        assert_ne!(a.hash(), a.as_str());
    }

    #[test]
    fn misshapen_confirmation_tokens_are_rejected() {
        let good = ConfirmationToken::generate();
        for bad in [
            String::new(),
            good.as_str()[1..].to_owned(),
            format!("{}x", good.as_str()),
            format!("{}%", &good.as_str()[1..]),
            "a".repeat(5000),
        ] {
            assert_eq!(ConfirmationToken::parse(&bad), Err(TokenError::Malformed));
        }
    }

    #[test]
    fn signed_tokens_verify_only_for_their_purpose_and_secret() {
        let signer = Signer::new("0123456789abcdef0123456789abcdef");
        let token = signer.sign("unsubscribe", 42);
        assert_eq!(signer.verify("unsubscribe", &token), Ok(42));
        assert_eq!(
            signer.verify("other", &token),
            Err(TokenError::BadSignature)
        );
        let other = Signer::new("fedcba9876543210fedcba9876543210");
        assert_eq!(
            other.verify("unsubscribe", &token),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_signed_token_with_another_id_is_rejected() {
        let signer = Signer::new("0123456789abcdef0123456789abcdef");
        let token = signer.sign("unsubscribe", 42);
        let (_, sig) = token.split_once('.').unwrap();
        assert_eq!(
            signer.verify("unsubscribe", &format!("43.{sig}")),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            signer.verify("unsubscribe", "nonsense"),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            signer.verify("unsubscribe", &"9".repeat(5000)),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn a_signed_token_has_one_spelling() {
        let signer = Signer::new("0123456789abcdef0123456789abcdef");
        let token = signer.sign("unsubscribe", 42);
        let (_, sig) = token.split_once('.').unwrap();
        for respelt in [format!("042.{sig}"), format!("+42.{sig}")] {
            assert_eq!(
                signer.verify("unsubscribe", &respelt),
                Err(TokenError::BadSignature),
                "{respelt}"
            );
        }
        assert_eq!(signer.verify("unsubscribe", &token), Ok(42));
    }
}
