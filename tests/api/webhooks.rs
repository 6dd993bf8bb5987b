//! Provider webhooks (issue 13): each provider's bounce and complaint reports change
//! the reader only when the request is signed as the provider documents; unsigned,
//! wrongly signed, stale and replayed requests get 401 and change nothing. The test
//! makes its own keys and certificate with the `openssl` command, and serves the SNS
//! signing certificate from a local HTTP server.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use hmac::Mac;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestApp, spawn_app, spawn_app_with};

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:ses-feedback";
const POSTMARK_USER: &str = "postmark";
const POSTMARK_PASSWORD: &str = "postmark-password-0123456789";
const MAILGUN_KEY: &str = "key-mailgun-signing-0123456789";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Runs `openssl` with `args`, `input` on its standard input; its standard output.
fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command (apt-get install openssl)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to openssl");
    let output = child.wait_with_output().expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A key pair and what a provider would publish of it, in a folder of its own.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An RSA key and a self-signed certificate for it, as SNS signs with.
    fn rsa() -> Keys {
        let keys = Keys {
            dir: tempfile::tempdir().unwrap(),
        };
        let (key, cert) = (keys.path("key.pem"), keys.path("cert.pem"));
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=sns.test",
                "-days",
                "2",
                "-keyout",
                s(&key),
                "-out",
                s(&cert),
            ],
            b"",
        );
        keys
    }

    /// A P-256 key, as SendGrid signs with.
    fn p256() -> Keys {
        let keys = Keys {
            dir: tempfile::tempdir().unwrap(),
        };
        let key = keys.path("key.pem");
        openssl(
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                s(&key),
            ],
            b"",
        );
        keys
    }

    fn certificate_pem(&self) -> Vec<u8> {
        std::fs::read(self.path("cert.pem")).unwrap()
    }

    /// The public key as SendGrid shows it: base64 of its DER.
    fn public_key_base64(&self) -> String {
        let der = openssl(
            &[
                "ec",
                "-in",
                s(&self.path("key.pem")),
                "-pubout",
                "-outform",
                "DER",
            ],
            b"",
        );
        b64(&der)
    }

    /// A signature of `data` with `digest` (`-sha1`, `-sha256`), base64.
    fn sign(&self, digest: &str, data: &[u8]) -> String {
        b64(&openssl(
            &["dgst", digest, "-sign", s(&self.path("key.pem"))],
            data,
        ))
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

// ---- Amazon SES through SNS ----

/// A local HTTP server standing in for `sns.<region>.amazonaws.com`: serves the
/// certificate at `/cert.pem` and counts what is fetched.
struct FakeSns {
    origin: String,
    cert_fetches: Arc<AtomicUsize>,
    confirmations: Arc<AtomicUsize>,
}

impl FakeSns {
    async fn start(certificate: Vec<u8>) -> FakeSns {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let cert_fetches = Arc::new(AtomicUsize::new(0));
        let confirmations = Arc::new(AtomicUsize::new(0));
        let (certs, confirms) = (cert_fetches.clone(), confirmations.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (certs, confirms, certificate) =
                    (certs.clone(), confirms.clone(), certificate.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&request);
                    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                    let (status, body) = if path == "/cert.pem" {
                        certs.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", certificate)
                    } else if path.starts_with("/confirm?") {
                        confirms.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", b"<ConfirmSubscriptionResponse/>".to_vec())
                    } else {
                        ("404 Not Found", Vec::new())
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                });
            }
        });
        FakeSns {
            origin,
            cert_fetches,
            confirmations,
        }
    }
}

/// An SNS message of `kind` carrying `message`, signed with `keys` (SignatureVersion
/// `version`), timestamped `timestamp`.
fn sns_message(
    keys: &Keys,
    sns: &FakeSns,
    kind: &str,
    message: &str,
    version: &str,
    timestamp: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    let id = format!("{:032x}", rand::random::<u128>());
    let timestamp = timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let subscribe_url = format!(
        "{}/confirm?Action=ConfirmSubscription&Token=tok",
        sns.origin
    );
    let signed = if kind == "Notification" {
        format!(
            "Message\n{message}\nMessageId\n{id}\nTimestamp\n{timestamp}\nTopicArn\n{TOPIC}\nType\n{kind}\n"
        )
    } else {
        format!(
            "Message\n{message}\nMessageId\n{id}\nSubscribeURL\n{subscribe_url}\nTimestamp\n{timestamp}\nToken\ntok\nTopicArn\n{TOPIC}\nType\n{kind}\n"
        )
    };
    let digest = if version == "1" { "-sha1" } else { "-sha256" };
    let mut body = serde_json::json!({
        "Type": kind,
        "MessageId": id,
        "TopicArn": TOPIC,
        "Message": message,
        "Timestamp": timestamp,
        "SignatureVersion": version,
        "Signature": keys.sign(digest, signed.as_bytes()),
        "SigningCertURL": format!("{}/cert.pem", sns.origin),
    });
    if kind != "Notification" {
        body["Token"] = "tok".into();
        body["SubscribeURL"] = subscribe_url.into();
    }
    body
}

fn ses_bounce(address: &str, bounce_type: &str) -> String {
    serde_json::json!({
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bouncedRecipients": [{"emailAddress": address, "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
        },
        "mail": {"messageId": "0100018b-0000"},
    })
    .to_string()
}

async fn ses_app(sns: &FakeSns) -> TestApp {
    spawn_app_with(&[
        ("SES_WEBHOOK_TOPIC_ARN", TOPIC),
        ("SES_SNS_CERT_HOST_OVERRIDE", &sns.origin),
    ])
    .await
}

async fn post_json(app: &TestApp, path: &str, body: &serde_json::Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("Content-Type", "text/plain; charset=UTF-8")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_ses_permanent_bounce_marks_the_reader_bounced_and_the_certificate_is_kept() {
    let keys = Keys::rsa();
    let sns = FakeSns::start(keys.certificate_pem()).await;
    let app = ses_app(&sns).await;
    app.import_confirmed(&["gone@example.org", "full@example.org"])
        .await;

    let hard = sns_message(
        &keys,
        &sns,
        "Notification",
        &ses_bounce("gone@example.org", "Permanent"),
        "1",
        chrono::Utc::now(),
    );
    let response = post_json(&app, "/webhooks/ses", &hard).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(
        app.subscriber_status("gone@example.org").await.as_deref(),
        Some("bounced")
    );

    // SignatureVersion 2, a transient bounce: the reader stays.
    let soft = sns_message(
        &keys,
        &sns,
        "Notification",
        &ses_bounce("full@example.org", "Transient"),
        "2",
        chrono::Utc::now(),
    );
    assert_eq!(post_json(&app, "/webhooks/ses", &soft).await.status(), 200);
    assert_eq!(
        app.subscriber_status("full@example.org").await.as_deref(),
        Some("confirmed")
    );
    assert_eq!(
        sns.cert_fetches.load(Ordering::SeqCst),
        1,
        "the certificate is fetched once"
    );
}

#[tokio::test]
async fn a_signed_ses_complaint_unsubscribes_the_reader() {
    let keys = Keys::rsa();
    let sns = FakeSns::start(keys.certificate_pem()).await;
    let app = ses_app(&sns).await;
    app.import_confirmed(&["angry@example.org"]).await;
    let complaint = serde_json::json!({
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "angry@example.org"}],
            "complaintFeedbackType": "abuse"},
    })
    .to_string();
    let message = sns_message(
        &keys,
        &sns,
        "Notification",
        &complaint,
        "2",
        chrono::Utc::now(),
    );
    assert_eq!(
        post_json(&app, "/webhooks/ses", &message).await.status(),
        200
    );
    assert_eq!(
        app.subscriber_status("angry@example.org").await.as_deref(),
        Some("unsubscribed")
    );
}

#[tokio::test]
async fn ses_messages_wrongly_signed_unsigned_stale_replayed_or_of_another_topic_are_refused() {
    let keys = Keys::rsa();
    let other_keys = Keys::rsa();
    let sns = FakeSns::start(keys.certificate_pem()).await;
    let app = ses_app(&sns).await;
    app.import_confirmed(&["kept@example.org"]).await;
    let report = ses_bounce("kept@example.org", "Permanent");

    let wrong = sns_message(
        &other_keys,
        &sns,
        "Notification",
        &report,
        "1",
        chrono::Utc::now(),
    );
    let mut unsigned = sns_message(
        &keys,
        &sns,
        "Notification",
        &report,
        "1",
        chrono::Utc::now(),
    );
    unsigned.as_object_mut().unwrap().remove("Signature");
    let mut tampered = sns_message(
        &keys,
        &sns,
        "Notification",
        &report,
        "1",
        chrono::Utc::now(),
    );
    tampered["Message"] = ses_bounce("kept@example.org", "Permanent")
        .replace("Permanent", "Permanent ")
        .into();
    let stale = sns_message(
        &keys,
        &sns,
        "Notification",
        &report,
        "1",
        chrono::Utc::now() - chrono::Duration::hours(2),
    );
    let mut other_topic = sns_message(
        &keys,
        &sns,
        "Notification",
        &report,
        "1",
        chrono::Utc::now(),
    );
    other_topic["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-else".into();
    let mut foreign_cert = sns_message(
        &keys,
        &sns,
        "Notification",
        &report,
        "1",
        chrono::Utc::now(),
    );
    foreign_cert["SigningCertURL"] =
        "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem".into();
    for (what, message) in [
        ("wrong key", &wrong),
        ("unsigned", &unsigned),
        ("tampered", &tampered),
        ("stale", &stale),
        ("other topic", &other_topic),
        ("certificate off the SNS host", &foreign_cert),
    ] {
        let response = post_json(&app, "/webhooks/ses", message).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(
            app.subscriber_status("kept@example.org").await.as_deref(),
            Some("confirmed"),
            "{what}"
        );
    }

    // The same signed message twice: the second is a replay.
    let good = sns_message(
        &keys,
        &sns,
        "Notification",
        &ses_bounce("nobody@example.org", "Permanent"),
        "1",
        chrono::Utc::now(),
    );
    assert_eq!(post_json(&app, "/webhooks/ses", &good).await.status(), 200);
    assert_eq!(post_json(&app, "/webhooks/ses", &good).await.status(), 401);
    assert_eq!(
        post_json(&app, "/webhooks/ses", &serde_json::json!("{"))
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn a_signed_sns_subscription_confirmation_is_confirmed_and_a_forged_one_is_not() {
    let keys = Keys::rsa();
    let other_keys = Keys::rsa();
    let sns = FakeSns::start(keys.certificate_pem()).await;
    let app = ses_app(&sns).await;
    let forged = sns_message(
        &other_keys,
        &sns,
        "SubscriptionConfirmation",
        "confirm",
        "1",
        chrono::Utc::now(),
    );
    assert_eq!(
        post_json(&app, "/webhooks/ses", &forged).await.status(),
        401
    );
    assert_eq!(sns.confirmations.load(Ordering::SeqCst), 0);
    let real = sns_message(
        &keys,
        &sns,
        "SubscriptionConfirmation",
        "confirm",
        "1",
        chrono::Utc::now(),
    );
    assert_eq!(post_json(&app, "/webhooks/ses", &real).await.status(), 200);
    assert_eq!(sns.confirmations.load(Ordering::SeqCst), 1);
}

// ---- Postmark ----

fn postmark_bounce(address: &str, kind: &str) -> serde_json::Value {
    serde_json::json!({
        "RecordType": "Bounce", "Type": kind, "TypeCode": 1, "Email": address,
        "Description": "The server was unable to deliver your message",
        "Details": "smtp;550 5.1.1 The email account does not exist.",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    })
}

async fn post_postmark(
    app: &TestApp,
    credentials: Option<(&str, &str)>,
    body: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/webhooks/postmark"))
        .body(body.to_owned());
    if let Some((user, password)) = credentials {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn postmark_reports_with_the_right_basic_auth_change_the_reader_and_others_are_refused() {
    let app = spawn_app_with(&[
        ("POSTMARK_WEBHOOK_USER", POSTMARK_USER),
        ("POSTMARK_WEBHOOK_PASSWORD", POSTMARK_PASSWORD),
    ])
    .await;
    app.import_confirmed(&["gone@example.org", "spam@example.org", "busy@example.org"])
        .await;
    let hard = postmark_bounce("gone@example.org", "HardBounce").to_string();

    for credentials in [
        None,
        Some((POSTMARK_USER, "wrong-password-0123456789")),
        Some(("someone", POSTMARK_PASSWORD)),
    ] {
        assert_eq!(post_postmark(&app, credentials, &hard).await.status(), 401);
    }
    assert_eq!(
        app.subscriber_status("gone@example.org").await.as_deref(),
        Some("confirmed")
    );

    let right = Some((POSTMARK_USER, POSTMARK_PASSWORD));
    assert_eq!(post_postmark(&app, right, &hard).await.status(), 200);
    assert_eq!(
        app.subscriber_status("gone@example.org").await.as_deref(),
        Some("bounced")
    );
    let soft = postmark_bounce("busy@example.org", "SoftBounce").to_string();
    assert_eq!(post_postmark(&app, right, &soft).await.status(), 200);
    assert_eq!(
        app.subscriber_status("busy@example.org").await.as_deref(),
        Some("confirmed")
    );
    let complaint = serde_json::json!({"RecordType": "SpamComplaint", "Type": "SpamComplaint",
        "Email": "spam@example.org"})
    .to_string();
    assert_eq!(post_postmark(&app, right, &complaint).await.status(), 200);
    assert_eq!(
        app.subscriber_status("spam@example.org").await.as_deref(),
        Some("unsubscribed")
    );

    assert_eq!(post_postmark(&app, right, "{not json").await.status(), 400);
    let huge = format!(
        "{{\"RecordType\":\"Bounce\",\"Details\":\"{}\"}}",
        "x".repeat(3 * 1024 * 1024)
    );
    assert_eq!(post_postmark(&app, right, &huge).await.status(), 413);
}

#[tokio::test]
async fn every_webhook_answers_404_until_its_secret_is_set() {
    let app = spawn_app().await;
    for provider in ["ses", "postmark", "mailgun", "sendgrid"] {
        let response = app
            .client
            .post(app.url(&format!("/webhooks/{provider}")))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{provider}");
    }
}

// ---- Mailgun ----

fn mailgun_body(key: &str, timestamp: i64, token: &str, event: serde_json::Value) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{token}").as_bytes());
    let signature: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    serde_json::json!({
        "signature": {"timestamp": timestamp.to_string(), "token": token, "signature": signature},
        "event-data": event,
    })
    .to_string()
}

fn mailgun_failure(address: &str, severity: &str) -> serde_json::Value {
    serde_json::json!({
        "event": "failed", "severity": severity, "recipient": address,
        "delivery-status": {"code": 550, "message": "5.1.1 mailbox unavailable"},
    })
}

async fn post_body(app: &TestApp, path: &str, body: String) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn mailgun_events_count_only_when_signed_fresh_and_new() {
    let app = spawn_app_with(&[("MAILGUN_WEBHOOK_SIGNING_KEY", MAILGUN_KEY)]).await;
    app.import_confirmed(&["gone@example.org", "spam@example.org"])
        .await;
    let hard = mailgun_failure("gone@example.org", "permanent");

    let wrong = mailgun_body("key-someone-else", now(), "token-1", hard.clone());
    let stale = mailgun_body(MAILGUN_KEY, now() - 20 * 60, "token-2", hard.clone());
    let unsigned = serde_json::json!({"event-data": hard}).to_string();
    for (what, body) in [
        ("wrong key", wrong),
        ("stale", stale),
        ("unsigned", unsigned),
    ] {
        assert_eq!(
            post_body(&app, "/webhooks/mailgun", body).await.status(),
            401,
            "{what}"
        );
    }
    assert_eq!(
        app.subscriber_status("gone@example.org").await.as_deref(),
        Some("confirmed")
    );

    let good = mailgun_body(MAILGUN_KEY, now(), "token-3", hard.clone());
    assert_eq!(
        post_body(&app, "/webhooks/mailgun", good.clone())
            .await
            .status(),
        200
    );
    assert_eq!(
        app.subscriber_status("gone@example.org").await.as_deref(),
        Some("bounced")
    );

    // The same token again, even with another event: a replay.
    let complaint = serde_json::json!({"event": "complained", "recipient": "spam@example.org"});
    let replay = mailgun_body(MAILGUN_KEY, now(), "token-3", complaint.clone());
    assert_eq!(
        post_body(&app, "/webhooks/mailgun", replay).await.status(),
        401
    );
    assert_eq!(
        app.subscriber_status("spam@example.org").await.as_deref(),
        Some("confirmed")
    );
    let fresh = mailgun_body(MAILGUN_KEY, now(), "token-4", complaint);
    assert_eq!(
        post_body(&app, "/webhooks/mailgun", fresh).await.status(),
        200
    );
    assert_eq!(
        app.subscriber_status("spam@example.org").await.as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(
        post_body(&app, "/webhooks/mailgun", "nope".into())
            .await
            .status(),
        400
    );
}

// ---- SendGrid ----

async fn post_sendgrid(
    app: &TestApp,
    signature: Option<&str>,
    timestamp: &str,
    body: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/webhooks/sendgrid"))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request
            .header("X-Twilio-Email-Event-Webhook-Signature", signature)
            .header("X-Twilio-Email-Event-Webhook-Timestamp", timestamp);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn sendgrid_events_count_only_with_a_fresh_signature_of_the_configured_key() {
    let keys = Keys::p256();
    let other_keys = Keys::p256();
    let app = spawn_app_with(&[("SENDGRID_WEBHOOK_PUBLIC_KEY", &keys.public_key_base64())]).await;
    app.import_confirmed(&[
        "gone@example.org",
        "spam@example.org",
        "blocked@example.org",
    ])
    .await;
    let body = serde_json::json!([
        {"email": "gone@example.org", "event": "bounce", "type": "bounce", "status": "5.1.1",
            "reason": "550 5.1.1 no such user", "timestamp": now()},
        {"email": "blocked@example.org", "event": "bounce", "type": "blocked", "reason": "421 later"},
        {"email": "spam@example.org", "event": "spamreport", "timestamp": now()},
    ])
    .to_string();
    let sign = |keys: &Keys, timestamp: &str, body: &str| {
        keys.sign("-sha256", format!("{timestamp}{body}").as_bytes())
    };

    let fresh = now().to_string();
    let stale = (now() - 20 * 60).to_string();
    let refused = [
        (
            "wrong key",
            Some(sign(&other_keys, &fresh, &body)),
            fresh.clone(),
        ),
        ("stale", Some(sign(&keys, &stale, &body)), stale.clone()),
        ("unsigned", None, fresh.clone()),
        (
            "signature of another body",
            Some(sign(&keys, &fresh, "[]")),
            fresh.clone(),
        ),
    ];
    for (what, signature, timestamp) in &refused {
        let response = post_sendgrid(&app, signature.as_deref(), timestamp, &body).await;
        assert_eq!(response.status(), 401, "{what}");
    }
    assert_eq!(
        app.subscriber_status("gone@example.org").await.as_deref(),
        Some("confirmed")
    );

    let signature = sign(&keys, &fresh, &body);
    assert_eq!(
        post_sendgrid(&app, Some(&signature), &fresh, &body)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.subscriber_status("gone@example.org").await.as_deref(),
        Some("bounced")
    );
    assert_eq!(
        app.subscriber_status("blocked@example.org")
            .await
            .as_deref(),
        Some("confirmed")
    );
    assert_eq!(
        app.subscriber_status("spam@example.org").await.as_deref(),
        Some("unsubscribed")
    );
    // The same signed request again: a replay.
    assert_eq!(
        post_sendgrid(&app, Some(&signature), &fresh, &body)
            .await
            .status(),
        401
    );
    // Signed, but not JSON.
    let not_json = "{oops";
    let signature = sign(&keys, &fresh, not_json);
    assert_eq!(
        post_sendgrid(&app, Some(&signature), &fresh, not_json)
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn a_sendgrid_key_that_does_not_parse_stops_the_start() {
    let mut settings = std::collections::HashMap::new();
    settings.insert(
        "SENDGRID_WEBHOOK_PUBLIC_KEY".to_owned(),
        "bm90IGEga2V5".to_owned(),
    );
    let error = newsletter::Settings::from_map(&settings).unwrap_err();
    assert!(
        format!("{error:#}").starts_with("SENDGRID_WEBHOOK_PUBLIC_KEY must be"),
        "{error:#}"
    );
}
