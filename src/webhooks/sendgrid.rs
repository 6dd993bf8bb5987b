//! SendGrid's signed event webhook: ECDSA P-256 with SHA-256 over the
//! `X-Twilio-Email-Event-Webhook-Timestamp` header followed by the raw body, the
//! signature (base64 DER) in `X-Twilio-Email-Event-Webhook-Signature`, checked with the
//! verification key SendGrid shows (`SENDGRID_WEBHOOK_PUBLIC_KEY`).

use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use serde::Deserialize;

use super::{Refusal, feedback, fresh};
use crate::service::feedback::{Feedback, FeedbackKind};

pub const SIGNATURE_HEADER: &str = "X-Twilio-Email-Event-Webhook-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

/// How far a signed timestamp may be from our clock.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

const EC_PUBLIC_KEY: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The uncompressed P-256 point of a public key given as base64 DER (what SendGrid
/// shows; PEM armour is tolerated).
pub fn parse_public_key(raw: &str) -> anyhow::Result<Vec<u8>> {
    let base64: String = raw
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .flat_map(|line| line.split_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .context("it is not base64")?;
    let spki = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
        .map_err(|e| anyhow::anyhow!("it is not a DER public key: {e}"))?;
    let curve = spki
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<spki::ObjectIdentifier>().ok());
    if spki.algorithm.oid != EC_PUBLIC_KEY || curve != Some(P256) {
        bail!("it is not a P-256 (prime256v1) key");
    }
    let point = spki
        .subject_public_key
        .as_bytes()
        .context("the key's bit string is not whole bytes")?;
    if point.len() != 65 || point[0] != 4 {
        bail!("it is not an uncompressed P-256 point");
    }
    Ok(point.to_vec())
}

/// Checks the signature headers against `body`; `now` is the Unix time.
pub fn verify(
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    public_key: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(Refusal::Unauthorized("the signature headers are missing"));
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| Refusal::Unauthorized("the signature is not base64"))?;
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public_key)
        .verify(&signed, &signature)
        .map_err(|_| Refusal::Unauthorized("the signature does not match"))?;
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refusal::Unauthorized("the timestamp is not a number"))?;
    if !fresh(timestamp, now, WINDOW) {
        return Err(Refusal::Unauthorized("the timestamp is stale"));
    }
    Ok(())
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    event: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

/// The feedback in a (verified) body: an array of events; bounces (`type` bounce →
/// hard, blocked → soft) and spam reports count, dropped and the rest are ignored.
pub fn parse(body: &[u8]) -> Result<Vec<Feedback>, Refusal> {
    let events: Vec<Event> = serde_json::from_slice(body).map_err(Refusal::bad)?;
    let mut found = Vec::new();
    for event in events {
        let kind = match (event.event.as_str(), event.kind.as_str()) {
            ("bounce", "blocked") => FeedbackKind::SoftBounce,
            ("bounce", _) => FeedbackKind::HardBounce,
            ("spamreport", _) => FeedbackKind::Complaint,
            _ => continue,
        };
        if event.email.trim().is_empty() {
            return Err(Refusal::bad("an event names no email"));
        }
        let detail = format!("{} {}", event.status, event.reason);
        found.push(feedback(&event.email, kind, &detail, "sendgrid"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_map_to_verdicts() {
        let body = br#"[
            {"email":"a@example.org","event":"bounce","type":"bounce","status":"5.1.1","reason":"550 no such user"},
            {"email":"b@example.org","event":"bounce","type":"blocked","reason":"421 try later"},
            {"email":"c@example.org","event":"dropped","reason":"Bounced Address"},
            {"email":"d@example.org","event":"spamreport"},
            {"email":"e@example.org","event":"delivered"}
        ]"#;
        let found = parse(body).unwrap();
        let kinds: Vec<_> = found.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                FeedbackKind::HardBounce,
                FeedbackKind::SoftBounce,
                FeedbackKind::Complaint
            ]
        );
        assert_eq!(found[0].detail, "5.1.1 550 no such user");
        assert!(matches!(
            parse(b"{\"event\":1}"),
            Err(Refusal::BadRequest(_))
        ));
    }

    #[test]
    fn a_key_that_is_not_p256_is_refused() {
        assert!(parse_public_key("not base64!").is_err());
        assert!(parse_public_key("AAAA").is_err());
    }
}
