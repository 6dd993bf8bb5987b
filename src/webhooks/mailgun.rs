//! Mailgun's webhooks: the body carries `signature: {timestamp, token, signature}`,
//! the hex HMAC-SHA256 of `timestamp` followed by `token` under the webhook signing
//! key. A timestamp more than [`WINDOW`] from now is stale, and a token is taken once.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Deserialize;

use super::{Refusal, feedback, fresh};
use crate::config::Secret;
use crate::service::feedback::{Feedback, FeedbackKind};

/// How far a signed timestamp may be from our clock.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Deserialize)]
struct Body {
    signature: Option<Signature>,
    #[serde(rename = "event-data")]
    event_data: Option<EventData>,
}

#[derive(Deserialize)]
struct Signature {
    timestamp: String,
    token: String,
    signature: String,
}

#[derive(Deserialize)]
struct EventData {
    #[serde(default)]
    event: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    reason: String,
    #[serde(default, rename = "delivery-status")]
    delivery_status: DeliveryStatus,
}

#[derive(Deserialize, Default)]
struct DeliveryStatus {
    #[serde(default)]
    code: serde_json::Value,
    #[serde(default)]
    message: String,
    #[serde(default)]
    description: String,
}

/// A request whose signature checked out: its token (to be taken once) and feedback.
#[derive(Debug)]
pub struct Verified {
    pub token: String,
    pub feedback: Vec<Feedback>,
}

/// Parses the body and checks its signature; `now` is the Unix time.
pub fn verify(body: &[u8], key: &Secret, now: i64) -> Result<Verified, Refusal> {
    let body: Body = serde_json::from_slice(body).map_err(Refusal::bad)?;
    let signature = body
        .signature
        .ok_or(Refusal::Unauthorized("the body carries no signature"))?;
    let digest = hex_decode(&signature.signature)
        .ok_or(Refusal::Unauthorized("the signature is not hex"))?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.0.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(signature.timestamp.as_bytes());
    mac.update(signature.token.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&digest)
        .map_err(|_| Refusal::Unauthorized("the signature does not match"))?;
    let timestamp: i64 = signature
        .timestamp
        .parse()
        .map_err(|_| Refusal::Unauthorized("the timestamp is not a number"))?;
    if !fresh(timestamp, now, WINDOW) {
        return Err(Refusal::Unauthorized("the timestamp is stale"));
    }
    let event = body
        .event_data
        .ok_or_else(|| Refusal::bad("the body carries no event-data"))?;
    Ok(Verified {
        token: signature.token,
        feedback: feedback_of(&event)?,
    })
}

fn feedback_of(event: &EventData) -> Result<Vec<Feedback>, Refusal> {
    let kind = match (event.event.as_str(), event.severity.as_str()) {
        ("failed", "permanent") => FeedbackKind::HardBounce,
        ("failed", "temporary") => FeedbackKind::SoftBounce,
        ("complained", _) => FeedbackKind::Complaint,
        _ => return Ok(Vec::new()),
    };
    if event.recipient.trim().is_empty() {
        return Err(Refusal::bad("the event names no recipient"));
    }
    let status = &event.delivery_status;
    let code = match &status.code {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(code) => code.clone(),
        other => other.to_string(),
    };
    let detail = [
        code.as_str(),
        &status.message,
        &status.description,
        &event.reason,
    ]
    .iter()
    .filter(|part| !part.is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join(" ");
    Ok(vec![feedback(&event.recipient, kind, &detail, "mailgun")])
}

fn hex_decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &str, timestamp: i64, token: &str, event: &str) -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{timestamp}{token}").as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            r#"{{"signature":{{"timestamp":"{timestamp}","token":"{token}","signature":"{hex}"}},"event-data":{event}}}"#
        )
    }

    #[test]
    fn a_signed_permanent_failure_is_a_hard_bounce() {
        let key = Secret("key-1".into());
        let body = signed(
            "key-1",
            1000,
            "tok",
            r#"{"event":"failed","severity":"permanent","recipient":"a@example.org","delivery-status":{"code":550,"message":"no such user"}}"#,
        );
        let verified = verify(body.as_bytes(), &key, 1010).unwrap();
        assert_eq!(verified.token, "tok");
        assert_eq!(verified.feedback[0].kind, FeedbackKind::HardBounce);
        assert_eq!(verified.feedback[0].detail, "550 no such user");
    }

    #[test]
    fn wrong_key_stale_time_and_no_signature_are_refused() {
        let key = Secret("key-1".into());
        let event = r#"{"event":"complained","recipient":"a@example.org"}"#;
        let wrong = signed("key-2", 1000, "tok", event);
        assert!(matches!(
            verify(wrong.as_bytes(), &key, 1000),
            Err(Refusal::Unauthorized(_))
        ));
        let stale = signed("key-1", 1000, "tok", event);
        assert!(matches!(
            verify(stale.as_bytes(), &key, 1000 + 901),
            Err(Refusal::Unauthorized(_))
        ));
        let unsigned = format!(r#"{{"event-data":{event}}}"#);
        assert!(matches!(
            verify(unsigned.as_bytes(), &key, 1000),
            Err(Refusal::Unauthorized(_))
        ));
        assert!(matches!(
            verify(b"[", &key, 1000),
            Err(Refusal::BadRequest(_))
        ));
    }
}
