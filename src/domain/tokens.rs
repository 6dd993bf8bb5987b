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
    /// HMAC keyed once with the secret; cloned for each use.
    keyed: HmacSha256,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(…)")
    }
}

/// The bytes of a link token: the masked id, then the first half of its signature.
const MASKED_LEN: usize = 8;
const TOKEN_TAG_LEN: usize = 16;
/// The bytes of the signature in a [`Signer::sign_hex`] tag.
const HEX_TAG_LEN: usize = 8;

impl Signer {
    pub fn new(secret: &str) -> Signer {
        Signer {
            keyed: HmacSha256::new_from_slice(secret.as_bytes())
                .expect("HMAC takes keys of any length"),
        }
    }

    /// A fresh secret for `APP_SECRET` when none is configured.
    pub fn generate_secret() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        hex(&bytes)
    }

    fn mac(&self, purpose: &str, subject: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(subject);
        mac
    }

    /// A link token for `purpose` (e.g. "unsubscribe") that carries `id` without
    /// showing it: the id goes through a keyed permutation (so tokens of neighbouring
    /// readers look unrelated and reveal neither a row id nor the size of the list),
    /// and the result is signed. 32 characters of base64url.
    pub fn sign(&self, purpose: &str, id: i64) -> String {
        let masked = self.permute(purpose, id.to_be_bytes(), false);
        let tag = self.masked_mac(purpose, &masked).finalize().into_bytes();
        let mut token = masked.to_vec();
        token.extend_from_slice(&tag[..TOKEN_TAG_LEN]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The id in a token made by [`Signer::sign`] for the same purpose; checked in
    /// constant time. Tokens of the earlier `{id}.{signature}` form, as mailed before
    /// ids were masked, are still accepted.
    pub fn verify(&self, purpose: &str, token: &str) -> Result<i64, TokenError> {
        if token.len() > 80 {
            return Err(TokenError::Malformed);
        }
        if token.contains('.') {
            return self.verify_plain_id(purpose, token);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| TokenError::Malformed)?;
        if bytes.len() != MASKED_LEN + TOKEN_TAG_LEN {
            return Err(TokenError::Malformed);
        }
        let (masked, tag) = bytes.split_at(MASKED_LEN);
        self.masked_mac(purpose, masked)
            .verify_truncated_left(tag)
            .map_err(|_| TokenError::BadSignature)?;
        let masked: [u8; MASKED_LEN] = masked.try_into().expect("split at MASKED_LEN");
        Ok(i64::from_be_bytes(self.permute(purpose, masked, true)))
    }

    /// The MAC of a masked id, under its own label: an old `{id}.{signature}` token,
    /// whose MAC input is `purpose:` and decimal digits, can never pass for a new one.
    fn masked_mac(&self, purpose: &str, masked: &[u8]) -> HmacSha256 {
        let mut mac = self.mac("masked", purpose.as_bytes());
        mac.update(b":");
        mac.update(masked);
        mac
    }

    /// The earlier token form, `{id}.{signature}`.
    fn verify_plain_id(&self, purpose: &str, token: &str) -> Result<i64, TokenError> {
        let (id_text, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let id: i64 = id_text.parse().map_err(|_| TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        // The id as written is what was signed, so a token has one spelling: `042.…`
        // or `+42.…` is not `42.…`.
        self.mac(purpose, id_text.as_bytes())
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        Ok(id)
    }

    /// A keyed permutation of 64-bit blocks: a four-round Feistel network whose round
    /// function is HMAC-SHA-256 under the app secret. `inverse` undoes it.
    fn permute(&self, purpose: &str, block: [u8; 8], inverse: bool) -> [u8; 8] {
        let round = |r: u8, half: [u8; 4]| -> [u8; 4] {
            let mut mac = self.mac("permute", purpose.as_bytes());
            mac.update(&[r]);
            mac.update(&half);
            let out = mac.finalize().into_bytes();
            [out[0], out[1], out[2], out[3]]
        };
        let xor = |a: [u8; 4], b: [u8; 4]| [a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3]];
        let (mut left, mut right) = (
            [block[0], block[1], block[2], block[3]],
            [block[4], block[5], block[6], block[7]],
        );
        if inverse {
            for r in (0..4).rev() {
                (left, right) = (xor(right, round(r, left)), left);
            }
        } else {
            for r in 0..4 {
                (left, right) = (right, xor(left, round(r, right)));
            }
        }
        [
            left[0], left[1], left[2], left[3], right[0], right[1], right[2], right[3],
        ]
    }

    /// Like [`Signer::sign`], in lower-case hex and with a shorter signature (8 bytes),
    /// for the envelope sender's tag (VERP): mail systems may change the case of an
    /// address's local part, which holds at most 64 characters. 32 characters.
    pub fn sign_hex(&self, purpose: &str, id: i64) -> String {
        let masked = self.permute(purpose, id.to_be_bytes(), false);
        let tag = self.masked_mac(purpose, &masked).finalize().into_bytes();
        let mut bytes = masked.to_vec();
        bytes.extend_from_slice(&tag[..HEX_TAG_LEN]);
        hex(&bytes)
    }

    /// The id in a tag made by [`Signer::sign_hex`] for the same purpose (any case);
    /// checked in constant time.
    pub fn verify_hex(&self, purpose: &str, tag: &str) -> Result<i64, TokenError> {
        if tag.len() != 2 * (MASKED_LEN + HEX_TAG_LEN) || !tag.is_ascii() {
            return Err(TokenError::Malformed);
        }
        let bytes = (0..tag.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&tag[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| TokenError::Malformed)?;
        let (masked, signature) = bytes.split_at(MASKED_LEN);
        self.masked_mac(purpose, masked)
            .verify_truncated_left(signature)
            .map_err(|_| TokenError::BadSignature)?;
        let masked: [u8; MASKED_LEN] = masked.try_into().expect("split at MASKED_LEN");
        Ok(i64::from_be_bytes(self.permute(purpose, masked, true)))
    }

    /// A short stable tag for (`purpose`, `subject`), unguessable without the secret.
    pub fn tag(&self, purpose: &str, subject: &str) -> String {
        hex(&self
            .mac(purpose, subject.as_bytes())
            .finalize()
            .into_bytes()[..10])
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
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[7] ^= 1;
        assert_eq!(
            signer.verify("unsubscribe", &URL_SAFE_NO_PAD.encode(&bytes)),
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
    fn tokens_show_neither_the_id_nor_how_ids_follow_each_other() {
        let signer = Signer::new("0123456789abcdef0123456789abcdef");
        let tokens: Vec<String> = (1..=1000)
            .map(|id| signer.sign("unsubscribe", id))
            .collect();
        for (i, token) in tokens.iter().enumerate() {
            let id = i as i64 + 1;
            assert_eq!(signer.verify("unsubscribe", token), Ok(id));
            let bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
            assert_ne!(
                bytes[..8],
                id.to_be_bytes(),
                "{token} carries {id} as it is"
            );
        }
        // Neighbouring ids share no leading characters beyond chance.
        let shared =
            |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
        let alike = tokens
            .windows(2)
            .filter(|w| shared(&w[0], &w[1]) >= 2)
            .count();
        assert!(alike < 10, "{alike} of 999 neighbours start alike");
        assert_eq!(
            signer.verify("unsubscribe", &signer.sign("unsubscribe", i64::MIN)),
            Ok(i64::MIN)
        );
    }

    #[test]
    fn an_old_token_for_an_eight_digit_id_is_no_new_token() {
        let signer = Signer::new("0123456789abcdef0123456789abcdef");
        // Its MAC input is `unsubscribe:12345678`: eight bytes, the size of a masked id.
        let sig = signer
            .mac("unsubscribe", b"12345678")
            .finalize()
            .into_bytes();
        let mut forged = b"12345678".to_vec();
        forged.extend_from_slice(&sig[..16]);
        assert_eq!(
            signer.verify("unsubscribe", &URL_SAFE_NO_PAD.encode(forged)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tokens_of_the_earlier_id_dot_signature_form_still_verify() {
        let signer = Signer::new("0123456789abcdef0123456789abcdef");
        // What `sign` wrote before ids were masked: `{id}.{HMAC(purpose:id)}`.
        let old = |id_text: &str| {
            let sig = signer
                .mac("unsubscribe", id_text.as_bytes())
                .finalize()
                .into_bytes();
            format!("{id_text}.{}", URL_SAFE_NO_PAD.encode(sig))
        };
        assert_eq!(signer.verify("unsubscribe", &old("42")), Ok(42));
        assert_eq!(
            signer.verify("other", &old("42")),
            Err(TokenError::BadSignature)
        );
        let (_, sig) = old("42")
            .split_once('.')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .unwrap();
        for respelt in [
            format!("042.{sig}"),
            format!("+42.{sig}"),
            format!("43.{sig}"),
        ] {
            assert_eq!(
                signer.verify("unsubscribe", &respelt),
                Err(TokenError::BadSignature),
                "{respelt}"
            );
        }
    }
}
