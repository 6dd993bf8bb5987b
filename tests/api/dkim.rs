//! DKIM: with `DKIM_*` set, every message carries a signature over the listed headers
//! (the List-Unsubscribe pair included) that verifies with the key's public half.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};

use crate::support::smtp_server::ReceivedMail;
use crate::support::{TestDatabase, spawn_app_with};

const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/dkim-test-key.pem"
);

/// The tags of the DKIM-Signature header (`d=…; s=…; h=…; bh=…; b=…`).
fn tags(value: &str) -> std::collections::HashMap<String, String> {
    value
        .split(';')
        .filter_map(|tag| tag.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.split_whitespace().collect::<String>(),
            )
        })
        .collect()
}

/// Relaxed header canonicalisation (RFC 6376 §3.4.2).
fn relaxed_header(name: &str, value: &str) -> String {
    let value = value.replace("\r\n", "");
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{}:{}", name.to_lowercase(), value.trim())
}

/// The raw header fields of a message, unfolded later by the canonicalisation.
fn raw_headers(mail: &ReceivedMail) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(&mail.data);
    let head = text.split("\r\n\r\n").next().unwrap();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = fields.last_mut().unwrap();
            last.1.push_str("\r\n");
            last.1.push_str(line);
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.to_owned(), value.to_owned()));
        }
    }
    fields
}

/// Checks the signature the way a receiving server would, with the public key in hand.
fn verify(mail: &ReceivedMail, key: &RsaPrivateKey) -> Vec<String> {
    let headers = raw_headers(mail);
    let (_, signature_value) = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("DKIM-Signature"))
        .expect("a DKIM-Signature header");
    let tags = tags(signature_value);
    let signed: Vec<String> = tags["h"].split(':').map(str::to_owned).collect();
    let mut data = String::new();
    for name in &signed {
        if let Some((n, v)) = headers
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            data.push_str(&relaxed_header(n, v));
            data.push_str("\r\n");
        }
    }
    let b = &tags["b"];
    // The signature header itself is hashed with an empty b= value.
    let unsigned = signature_value
        .split(';')
        .map(|tag| match tag.trim_start().strip_prefix("b=") {
            Some(value) => tag.replacen(value, "", 1),
            None => tag.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(";");
    data.push_str(&relaxed_header("DKIM-Signature", &unsigned));
    let digest = Sha256::digest(data.as_bytes());
    let signature = STANDARD.decode(b).expect("b= is base64");
    key.to_public_key()
        .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
        .expect("the DKIM signature verifies");
    signed
}

#[tokio::test]
async fn with_dkim_configured_every_message_is_signed_over_the_list_headers() {
    let app = spawn_app_with(&[
        ("DKIM_DOMAIN", "astanatimes.test"),
        ("DKIM_SELECTOR", "news2026"),
        ("DKIM_PRIVATE_KEY_FILE", KEY),
    ])
    .await;
    let key = RsaPrivateKey::from_pkcs8_pem(&std::fs::read_to_string(KEY).unwrap()).unwrap();

    let link = app
        .sign_up_and_get_link("akan@example.kz", "Akan Rakhmetullin")
        .await;
    app.post_empty(&link).await;
    app.add_article(
        "Kazakhstan Stresses UN’s Vital Role",
        "https://astanatimes.example/un",
    )
    .await;
    app.send_digest_now().await;
    let mails = app.wait_for_mail_to("akan@example.kz", 2).await;
    assert_eq!(mails.len(), 2);
    for mail in &mails {
        let value = mail.header("DKIM-Signature").expect("signed");
        let tags = tags(&value);
        assert_eq!(tags["d"], "astanatimes.test");
        assert_eq!(tags["s"], "news2026");
        let signed = verify(mail, &key);
        for header in [
            "from",
            "subject",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ] {
            assert!(
                signed.iter().any(|h| h.eq_ignore_ascii_case(header)),
                "{header} in {signed:?}"
            );
        }
    }
}

#[tokio::test]
async fn an_unreadable_dkim_key_stops_the_start_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a-key.pem");
    std::fs::write(&bad, "hello").unwrap();
    let database = TestDatabase::new(dir.path().join("db.sqlite"));
    let map = [
        ("DATABASE_URL", database.url().to_owned()),
        ("DKIM_DOMAIN", "astanatimes.test".into()),
        ("DKIM_SELECTOR", "news".into()),
        ("DKIM_PRIVATE_KEY_FILE", bad.display().to_string()),
        (
            "MAIL_OUTBOX_DIR",
            dir.path().join("outbox").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = newsletter::Settings::from_map(&map).unwrap();
    let error = newsletter::AppState::build(settings)
        .err()
        .expect("the start fails");
    assert!(
        format!("{error:#}").contains("DKIM_PRIVATE_KEY_FILE"),
        "{error:#}"
    );
}
