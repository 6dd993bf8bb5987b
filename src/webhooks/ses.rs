//! Amazon SES feedback through SNS: each SNS message is signed (SignatureVersion 1:
//! SHA1withRSA, 2: SHA256withRSA) with the key of the certificate at its
//! `SigningCertURL`, which we fetch only from `https://sns.<region>.amazonaws.com` and
//! keep. Only the configured topic is heard; a message older than [`MAX_AGE`] is stale.
//! A `SubscriptionConfirmation` is confirmed by fetching its `SubscribeURL` (same host
//! rule); a `Notification` carries SES's bounce or complaint report.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use serde::Deserialize;
use url::Url;

use super::{Refusal, feedback};
use crate::service::feedback::{Feedback, FeedbackKind};

/// How old a message's `Timestamp` may be (SNS retries within minutes).
pub const MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// How far ahead of our clock a `Timestamp` may be.
const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// Certificates kept (AWS rotates them rarely; one a region is usual).
const CACHED_CERTS: usize = 16;

const RSA_ENCRYPTION: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// An SNS message as posted to an HTTPS subscription.
#[derive(Debug, Deserialize)]
pub struct SnsMessage {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "MessageId")]
    pub message_id: String,
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    #[serde(rename = "Message", default)]
    pub message: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "Subject", default)]
    pub subject: Option<String>,
    #[serde(rename = "Token", default)]
    pub token: Option<String>,
    #[serde(rename = "SubscribeURL", default)]
    pub subscribe_url: Option<String>,
    #[serde(rename = "SignatureVersion", default)]
    pub signature_version: String,
    #[serde(rename = "Signature", default)]
    pub signature: String,
    #[serde(rename = "SigningCertURL", default)]
    pub signing_cert_url: String,
}

impl SnsMessage {
    pub fn parse(body: &[u8]) -> Result<SnsMessage, Refusal> {
        serde_json::from_slice(body).map_err(Refusal::bad)
    }

    /// The text SNS signs: chosen fields, each name and value on a line, in order.
    pub fn string_to_sign(&self) -> Result<String, Refusal> {
        let mut fields: Vec<(&str, &str)> = vec![("Message", &self.message)];
        fields.push(("MessageId", &self.message_id));
        match self.kind.as_str() {
            "Notification" => {
                if let Some(subject) = &self.subject {
                    fields.push(("Subject", subject));
                }
            }
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                let url = self.subscribe_url.as_deref();
                let token = self.token.as_deref();
                let (Some(url), Some(token)) = (url, token) else {
                    return Err(Refusal::bad("a confirmation without SubscribeURL or Token"));
                };
                fields.push(("SubscribeURL", url));
                fields.push(("Timestamp", &self.timestamp));
                fields.push(("Token", token));
                fields.push(("TopicArn", &self.topic_arn));
                fields.push(("Type", &self.kind));
                return Ok(join(&fields));
            }
            other => return Err(Refusal::bad(format!("unknown SNS message type `{other}`"))),
        }
        fields.push(("Timestamp", &self.timestamp));
        fields.push(("TopicArn", &self.topic_arn));
        fields.push(("Type", &self.kind));
        Ok(join(&fields))
    }

    /// Refuses a message older than [`MAX_AGE`] or from the future; `now` is Unix time.
    pub fn check_fresh(&self, now: i64) -> Result<(), Refusal> {
        let at = chrono::DateTime::parse_from_rfc3339(&self.timestamp)
            .map_err(|_| Refusal::Unauthorized("the timestamp does not parse"))?
            .timestamp();
        let oldest = now - MAX_AGE.as_secs() as i64;
        let newest = now + CLOCK_SKEW.as_secs() as i64;
        if (oldest..=newest).contains(&at) {
            Ok(())
        } else {
            Err(Refusal::Unauthorized("the message is stale"))
        }
    }
}

fn join(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{name}\n{value}\n"))
        .collect()
}

/// Whether `raw` may be fetched for a certificate or a subscription: an https URL on
/// `sns.<region>.amazonaws.com`, or (tests only) on the origin `host_override` names.
pub fn check_url(raw: &str, host_override: Option<&Url>) -> Result<Url, Refusal> {
    let url = Url::parse(raw).map_err(|_| Refusal::Unauthorized("the URL does not parse"))?;
    if let Some(allowed) = host_override
        && url.origin() == allowed.origin()
    {
        return Ok(url);
    }
    let host = url.host_str().unwrap_or_default();
    let region = host
        .strip_prefix("sns.")
        .and_then(|rest| rest.strip_suffix(".amazonaws.com"));
    let region_ok = region.is_some_and(|region| {
        !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if url.scheme() == "https" && region_ok && url.port().is_none() && url.username().is_empty() {
        Ok(url)
    } else {
        Err(Refusal::Unauthorized("the URL is not on an SNS host"))
    }
}

/// The RSA public key (PKCS#1 DER) of a PEM (or DER) certificate.
pub fn rsa_key_of_certificate(cert: &[u8]) -> anyhow::Result<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    let der = match rustls_pki_types::CertificateDer::from_pem_slice(cert) {
        Ok(der) => der,
        Err(_) => rustls_pki_types::CertificateDer::from(cert.to_vec()),
    };
    let parsed = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| anyhow::anyhow!("the certificate does not parse: {e}"))?;
    let spki_der = parsed.subject_public_key_info();
    let spki = spki::SubjectPublicKeyInfoRef::try_from(spki_der.as_ref())
        .map_err(|e| anyhow::anyhow!("the certificate's key does not parse: {e}"))?;
    if spki.algorithm.oid != RSA_ENCRYPTION {
        bail!("the certificate's key is not RSA");
    }
    Ok(spki
        .subject_public_key
        .as_bytes()
        .context("the key's bit string is not whole bytes")?
        .to_vec())
}

/// Checks `message`'s signature with the RSA key `public_key` (PKCS#1 DER).
pub fn verify_signature(message: &SnsMessage, public_key: &[u8]) -> Result<(), Refusal> {
    let algorithm: &dyn ring::signature::VerificationAlgorithm =
        match message.signature_version.as_str() {
            "1" => &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "2" => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            _ => return Err(Refusal::Unauthorized("unknown SignatureVersion")),
        };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(message.signature.trim())
        .map_err(|_| Refusal::Unauthorized("the signature is not base64"))?;
    let signed = message.string_to_sign()?;
    ring::signature::UnparsedPublicKey::new(algorithm, public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| Refusal::Unauthorized("the signature does not match"))
}

/// Fetches SNS certificates (and subscription URLs), keeping the certificates' keys.
pub struct SnsClient {
    http: reqwest::Client,
    keys: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

impl SnsClient {
    pub fn new() -> anyhow::Result<SnsClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            // A redirect could lead off the SNS host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("newsletter/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("could not build the SNS HTTP client")?;
        Ok(SnsClient {
            http,
            keys: Mutex::new(HashMap::new()),
        })
    }

    /// The key of the certificate at `url` (checked by [`check_url`] already), from
    /// the cache or fetched.
    pub async fn key_at(&self, url: &Url) -> anyhow::Result<Arc<Vec<u8>>> {
        let cached = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url.as_str())
            .cloned();
        if let Some(key) = cached {
            return Ok(key);
        }
        let mut response = self
            .http
            .get(url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .context("could not fetch the SNS signing certificate")?;
        let mut pem = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .context("could not read the SNS signing certificate")?
        {
            pem.extend_from_slice(&chunk);
            if pem.len() > crate::limits::SNS_CERT_BYTES {
                bail!(
                    "the SNS signing certificate is larger than {} bytes",
                    crate::limits::SNS_CERT_BYTES
                );
            }
        }
        let key = Arc::new(rsa_key_of_certificate(&pem)?);
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= CACHED_CERTS {
            keys.clear();
        }
        keys.insert(url.as_str().to_owned(), key.clone());
        Ok(key)
    }

    /// Confirms a subscription by fetching its `SubscribeURL` (checked already).
    pub async fn confirm_subscription(&self, url: &Url) -> anyhow::Result<()> {
        self.http
            .get(url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .context("could not confirm the SNS subscription")?;
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesReport {
    notification_type: Option<String>,
    event_type: Option<String>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    #[serde(default)]
    bounce_type: String,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
    #[serde(default)]
    diagnostic_code: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// The feedback in a notification's `Message` (SES's JSON report, as a notification or
/// as a published event): Permanent bounces are hard, Transient (and Undetermined)
/// soft, complaints complaints; deliveries and the rest say nothing.
pub fn parse_report(message: &str) -> Result<Vec<Feedback>, Refusal> {
    let report: SesReport = serde_json::from_str(message).map_err(Refusal::bad)?;
    let kind = report
        .notification_type
        .or(report.event_type)
        .unwrap_or_default();
    match (kind.as_str(), report.bounce, report.complaint) {
        ("Bounce", Some(bounce), _) => {
            let verdict = if bounce.bounce_type == "Permanent" {
                FeedbackKind::HardBounce
            } else {
                FeedbackKind::SoftBounce
            };
            Ok(bounce
                .bounced_recipients
                .iter()
                .map(|r| {
                    let detail = [r.status.as_deref(), r.diagnostic_code.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    let detail = format!("{} {detail}", bounce.bounce_type);
                    feedback(&r.email_address, verdict, &detail, "ses")
                })
                .collect())
        }
        ("Complaint", _, Some(complaint)) => {
            let detail = complaint.complaint_feedback_type.unwrap_or_default();
            Ok(complaint
                .complained_recipients
                .iter()
                .map(|r| feedback(&r.email_address, FeedbackKind::Complaint, &detail, "ses"))
                .collect())
        }
        ("Bounce" | "Complaint", _, _) => Err(Refusal::bad("the report lacks its details")),
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_hosts_over_https_may_be_fetched() {
        let ok = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem";
        assert!(check_url(ok, None).is_ok());
        for bad in [
            "http://sns.eu-west-1.amazonaws.com/x.pem",
            "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem",
            "https://evil.example/sns.eu-west-1.amazonaws.com/x.pem",
            "https://sns..amazonaws.com/x.pem",
            "https://sns.eu-west-1.amazonaws.com:8443/x.pem",
            "https://s3.eu-west-1.amazonaws.com/x.pem",
            "not a url",
        ] {
            assert!(check_url(bad, None).is_err(), "{bad}");
        }
        let local = Url::parse("http://127.0.0.1:4000").unwrap();
        assert!(check_url("http://127.0.0.1:4000/cert.pem", Some(&local)).is_ok());
        assert!(check_url("http://127.0.0.1:4001/cert.pem", Some(&local)).is_err());
    }

    #[test]
    fn the_signed_text_follows_the_sns_field_order() {
        let message = SnsMessage::parse(
            br#"{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:eu-west-1:1:t",
                "Message":"hello","Timestamp":"2026-01-01T00:00:00.000Z","SignatureVersion":"1",
                "Signature":"","SigningCertURL":""}"#,
        )
        .unwrap();
        assert_eq!(
            message.string_to_sign().unwrap(),
            "Message\nhello\nMessageId\nm\nTimestamp\n2026-01-01T00:00:00.000Z\nTopicArn\narn:aws:sns:eu-west-1:1:t\nType\nNotification\n"
        );
    }

    #[test]
    fn ses_reports_map_to_verdicts() {
        let permanent = r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent",
            "bouncedRecipients":[{"emailAddress":"a@example.org","status":"5.1.1","diagnosticCode":"smtp; 550 no such user"}]}}"#;
        let found = parse_report(permanent).unwrap();
        assert_eq!(found[0].kind, FeedbackKind::HardBounce);
        assert_eq!(found[0].detail, "Permanent 5.1.1 smtp; 550 no such user");
        let transient = r#"{"eventType":"Bounce","bounce":{"bounceType":"Transient",
            "bouncedRecipients":[{"emailAddress":"a@example.org"}]}}"#;
        assert_eq!(
            parse_report(transient).unwrap()[0].kind,
            FeedbackKind::SoftBounce
        );
        let complaint = r#"{"notificationType":"Complaint","complaint":{
            "complainedRecipients":[{"emailAddress":"a@example.org"}],"complaintFeedbackType":"abuse"}}"#;
        assert_eq!(
            parse_report(complaint).unwrap()[0].kind,
            FeedbackKind::Complaint
        );
        assert!(
            parse_report(r#"{"notificationType":"Delivery"}"#)
                .unwrap()
                .is_empty()
        );
        assert!(parse_report("nope").is_err());
    }
}
