//! Postmark's bounce and spam-complaint webhooks: HTTP basic auth (the credentials in
//! the webhook URL Postmark is given), then one JSON record a request.

use base64::Engine;
use serde::Deserialize;

use super::{Refusal, feedback, same_secret};
use crate::config::Secret;
use crate::service::feedback::{Feedback, FeedbackKind};

/// Checks the `Authorization` header against the configured user and password.
pub fn check_auth(
    authorization: Option<&[u8]>,
    user: &str,
    password: &Secret,
) -> Result<(), Refusal> {
    let given = authorization
        .and_then(|value| value.strip_prefix(b"Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim_ascii())
                .ok()
        })
        .ok_or(Refusal::Unauthorized("basic auth is missing"))?;
    let expected = format!("{user}:{}", password.0);
    if same_secret(&given, expected.as_bytes()) {
        Ok(())
    } else {
        Err(Refusal::Unauthorized("wrong user or password"))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Record {
    record_type: String,
    #[serde(default, rename = "Type")]
    kind: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    details: String,
}

/// The feedback in one webhook body: none for record types and bounce types that say
/// nothing about the address (auto-responders, deliveries, opens).
pub fn parse(body: &[u8]) -> Result<Vec<Feedback>, Refusal> {
    let record: Record = serde_json::from_slice(body).map_err(Refusal::bad)?;
    let kind = match (record.record_type.as_str(), record.kind.as_str()) {
        ("Bounce", "HardBounce") => FeedbackKind::HardBounce,
        ("Bounce", "SoftBounce" | "Transient") => FeedbackKind::SoftBounce,
        ("SpamComplaint", _) => FeedbackKind::Complaint,
        _ => return Ok(Vec::new()),
    };
    if record.email.trim().is_empty() {
        return Err(Refusal::bad("the record names no Email"));
    }
    let detail = [record.kind.as_str(), &record.description, &record.details]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(": ");
    Ok(vec![feedback(&record.email, kind, &detail, "postmark")])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(credentials: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
        .into_bytes()
    }

    #[test]
    fn only_the_configured_credentials_pass() {
        let password = Secret("a-long-password-0123".into());
        assert_eq!(
            check_auth(Some(&basic("pm:a-long-password-0123")), "pm", &password),
            Ok(())
        );
        for wrong in ["pm:a-long-password-0124", "pn:a-long-password-0123", "pm:"] {
            assert!(check_auth(Some(&basic(wrong)), "pm", &password).is_err());
        }
        assert!(check_auth(None, "pm", &password).is_err());
        assert!(check_auth(Some(b"Bearer x"), "pm", &password).is_err());
    }

    #[test]
    fn bounce_types_map_to_verdicts() {
        let body = |record: &str, kind: &str| {
            format!(
                r#"{{"RecordType":"{record}","Type":"{kind}","Email":"a@example.org","Description":"d"}}"#
            )
        };
        let kind_of = |b: String| parse(b.as_bytes()).unwrap().first().map(|f| f.kind);
        assert_eq!(
            kind_of(body("Bounce", "HardBounce")),
            Some(FeedbackKind::HardBounce)
        );
        assert_eq!(
            kind_of(body("Bounce", "SoftBounce")),
            Some(FeedbackKind::SoftBounce)
        );
        assert_eq!(
            kind_of(body("Bounce", "Transient")),
            Some(FeedbackKind::SoftBounce)
        );
        assert_eq!(
            kind_of(body("SpamComplaint", "SpamComplaint")),
            Some(FeedbackKind::Complaint)
        );
        assert_eq!(kind_of(body("Bounce", "AutoResponder")), None);
        assert_eq!(kind_of(body("Delivery", "")), None);
        assert!(matches!(parse(b"{not json"), Err(Refusal::BadRequest(_))));
    }
}
