//! DKIM signing: the key from `DKIM_PRIVATE_KEY_FILE`, loaded once at start, and the
//! headers every signature covers (the List-Unsubscribe pair included, as RFC 8058 asks).

use anyhow::Context;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;

use crate::config::DkimSettings;

/// The headers each signature covers. A listed header a message lacks is signed as
/// absent, so nobody can add it later without breaking the signature. Not
/// `Content-Type`: lettre 0.11 writes a multipart message's Content-Type with the body,
/// after signing, so a signature listing it never verifies (checked with dkimpy).
const SIGNED_HEADERS: [&str; 9] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
];

/// Reads the private key: an RSA key in PEM (PKCS#1 `BEGIN RSA PRIVATE KEY`, or PKCS#8
/// `BEGIN PRIVATE KEY` as `openssl genrsa` writes it), or an Ed25519 seed in base64.
pub fn load(settings: &DkimSettings) -> anyhow::Result<DkimConfig> {
    let path = &settings.private_key_file;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read DKIM_PRIVATE_KEY_FILE {}", path.display()))?;
    let key = if text.contains("BEGIN RSA PRIVATE KEY") {
        DkimSigningKey::new(&text, DkimSigningAlgorithm::Rsa).map_err(|e| anyhow::anyhow!("{e}"))
    } else if text.contains("BEGIN PRIVATE KEY") {
        let pkcs1 = rsa::RsaPrivateKey::from_pkcs8_pem(&text)
            .map_err(|e| anyhow::anyhow!("not an RSA key in PKCS#8 PEM: {e}"))?
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa).map_err(|e| anyhow::anyhow!("{e}"))
    } else {
        DkimSigningKey::new(text.trim(), DkimSigningAlgorithm::Ed25519)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
    .with_context(|| {
        format!(
            "DKIM_PRIVATE_KEY_FILE {} is neither an RSA key in PEM nor a base64 Ed25519 key",
            path.display()
        )
    })?;
    Ok(DkimConfig::new(
        settings.selector.clone(),
        settings.domain.clone(),
        key,
        SIGNED_HEADERS
            .iter()
            .map(|name| HeaderName::new_from_ascii_str(name))
            .collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    ))
}
