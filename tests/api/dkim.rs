//! DKIM: with `DKIM_*` set, every message carries a signature over the listed headers
//! (the List-Unsubscribe pair included) that verifies with the key's public half, and
//! still verifies after a relay without 8BITMIME has passed it on; checked with our own
//! verifier and with dkimpy, which did not sign.

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
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("DKIM-Signature"))
        .cloned()
        .collect();
    let tags = tags(signature_value);
    let signed: Vec<String> = tags["h"].split(':').map(str::to_owned).collect();
    let mut data = String::new();
    // Each name takes the last instance not yet taken (RFC 6376 §5.4.2); a name listed
    // once more than it occurs takes nothing.
    let mut used = vec![false; headers.len()];
    for name in &signed {
        if let Some(i) = (0..headers.len())
            .rev()
            .find(|&i| !used[i] && headers[i].0.eq_ignore_ascii_case(name))
        {
            used[i] = true;
            data.push_str(&relaxed_header(&headers[i].0, &headers[i].1));
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

const ED25519_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/dkim-test-ed25519.pem"
);
const RELAY_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dkim_relay.py");

/// The settings that sign with both keys: RSA under `news2026`, Ed25519 under
/// `news2026-ed25519` (the default selector for it).
fn signing_settings() -> [(&'static str, &'static str); 4] {
    [
        ("DKIM_DOMAIN", "astanatimes.test"),
        ("DKIM_SELECTOR", "news2026"),
        ("DKIM_PRIVATE_KEY_FILE", KEY),
        ("DKIM_ED25519_KEY_FILE", ED25519_KEY),
    ]
}

/// The DNS TXT records of both keys, as `--record` arguments for dkimpy.
fn dns_records() -> Vec<String> {
    use rsa::pkcs8::EncodePublicKey;
    let rsa = RsaPrivateKey::from_pkcs8_pem(&std::fs::read_to_string(KEY).unwrap()).unwrap();
    let rsa_public = rsa.to_public_key().to_public_key_der().unwrap();
    let ed = <ed25519_dalek::SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_pem(
        &std::fs::read_to_string(ED25519_KEY).unwrap(),
    )
    .unwrap();
    vec![
        "--record".into(),
        format!(
            "news2026._domainkey.astanatimes.test=v=DKIM1; k=rsa; p={}",
            STANDARD.encode(rsa_public.as_bytes())
        ),
        "--record".into(),
        format!(
            "news2026-ed25519._domainkey.astanatimes.test=v=DKIM1; k=ed25519; p={}",
            STANDARD.encode(ed.verifying_key().to_bytes())
        ),
    ]
}

/// What dkimpy made of one message: each signature as received, and after the relay's
/// 8bit-to-quoted-printable conversion.
#[derive(Debug, serde::Deserialize)]
struct Verdict {
    signatures: usize,
    original: Vec<bool>,
    relayed: Vec<bool>,
    changed: bool,
}

/// Runs tests/fixtures/dkim_relay.py (dkimpy) over `messages`.
fn dkimpy(messages: &[Vec<u8>]) -> Vec<Verdict> {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let path = dir.path().join(format!("{i}.eml"));
        std::fs::write(&path, message).unwrap();
        files.push(path.display().to_string());
    }
    let output = std::process::Command::new("python3")
        .arg(RELAY_SCRIPT)
        .args(dns_records())
        .args(&files)
        .output()
        .expect("python3 runs (CI installs it with dkimpy and pynacl)");
    assert!(
        output.status.success(),
        "dkim_relay.py failed (is dkimpy installed? `pip install dkimpy pynacl`): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON verdict"))
        .collect()
}

/// The header block of a message, unfolded into (name, value) pairs.
fn header_lines(mail: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(mail);
    let head = text.split("\r\n\r\n").next().unwrap().to_owned();
    head.split("\r\n").map(str::to_owned).collect()
}

#[tokio::test]
async fn every_kind_of_message_is_signed_in_7bit_and_still_verifies_after_a_relay_downgrade() {
    let mut settings = signing_settings().to_vec();
    // Non-ASCII in every kind of message, the names included.
    settings.push(("NEWSLETTER_NAME", "The Astana Times — Қазақстан"));
    let app = spawn_app_with(&settings).await;

    let link = app
        .sign_up_and_get_link("akan@example.kz", "Akan Rakhmetullin")
        .await;
    app.post_empty(&link).await;
    app.add_article(
        "Kazakhstan Stresses UN’s Vital Role in “Turbulent” Times",
        "https://astanatimes.example/un",
    )
    .await;
    let admin = crate::admin_pages::Admin::log_in(&app).await;
    let sent = admin
        .post("/admin/digests/test", &[("email", "editor@example.kz")])
        .await;
    assert_eq!(sent.status(), 303);
    app.send_digest_now().await;
    let reader = app.wait_for_mail_to("akan@example.kz", 2).await;
    let test_send = app.wait_for_mail_to("editor@example.kz", 1).await;
    // check-smtp, the CLI's one-off message, signed the same way.
    let mut env: Vec<(&str, &str)> = signing_settings().to_vec();
    let smtp_url = app.smtp.url();
    env.extend([
        ("SMTP_URL", smtp_url.as_str()),
        (
            "MAIL_FROM",
            "The Astana Times <newsletter@astanatimes.test>",
        ),
        ("NEWSLETTER_NAME", "The Astana Times — Қазақстан"),
    ]);
    let run = crate::support::Workspace::new()
        .newsletter_with(&env, &["check-smtp", "dana@example.kz"])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let check = app.smtp.messages_to("dana@example.kz");

    let kinds = [
        ("confirmation", &reader[0]),
        ("digest", &reader[1]),
        ("test send", &test_send[0]),
        ("check-smtp", &check[0]),
    ];
    assert!(reader[1].header("List-Unsubscribe").is_some(), "the digest");
    for (kind, mail) in kinds {
        assert!(
            mail.data.is_ascii(),
            "{kind}: no 8bit byte anywhere in what is signed"
        );
        let raw = String::from_utf8_lossy(&mail.data);
        assert!(
            !raw.to_ascii_lowercase().contains("transfer-encoding: 8bit"),
            "{kind}"
        );
        assert_eq!(
            mail.header_count("DKIM-Signature"),
            2,
            "{kind}: RSA and Ed25519"
        );
        let lines = header_lines(&mail.data);
        let mut in_signature = false;
        for line in &lines {
            if line.starts_with("DKIM-Signature:") {
                in_signature = true;
            } else if !line.starts_with(' ') {
                in_signature = false;
            }
            if in_signature {
                assert!(line.len() <= 78, "{kind}: folded to 78: {line:?}");
            }
        }
        let value = mail.header("DKIM-Signature").unwrap();
        let signed = tags(&value)["h"].to_ascii_lowercase();
        let signed: Vec<&str> = signed.split(':').collect();
        let listed = |name: &str| signed.iter().filter(|h| **h == name).count();
        for (name, once_more) in [
            ("from", true),
            ("to", true),
            ("subject", true),
            ("date", true),
            ("message-id", true),
            ("reply-to", true),
            ("list-unsubscribe", true),
            ("list-unsubscribe-post", true),
            ("list-id", true),
            ("content-type", false),
            ("mime-version", false),
        ] {
            let occurs = mail.header_count(name);
            let expected = occurs + usize::from(once_more);
            assert_eq!(listed(name), expected, "{kind}: {name} in {signed:?}");
        }
    }
    let verdicts = dkimpy(&kinds.map(|(_, mail)| mail.data.clone()));
    for ((kind, _), verdict) in kinds.iter().zip(&verdicts) {
        assert_eq!(verdict.signatures, 2, "{kind}");
        assert_eq!(
            verdict.original,
            [true, true],
            "{kind} as sent: {verdict:?}"
        );
        assert_eq!(verdict.relayed, [true, true], "{kind} relayed: {verdict:?}");
        assert!(
            !verdict.changed,
            "{kind}: the relay found nothing to convert"
        );
    }
}

#[test]
fn the_relay_conversion_breaks_a_signature_over_8bit_parts_as_the_issue_found() {
    // The converter of dkim_relay.py has teeth: a message signed with 8bit parts (what
    // the service sent before it signed 7bit) verifies as sent and fails once relayed.
    let email = newsletter::mail::Email {
        to: newsletter::mail::message::mailbox(Some("Akan"), "akan@example.kz").unwrap(),
        subject: "Kazakhstan’s news".into(),
        text: "Kazakhstan Stresses UN’s Vital Role\n".into(),
        html: "<p>Kazakhstan Stresses UN’s Vital Role</p>".into(),
        message_id: "<eight-bit@astanatimes.test>".into(),
        headers: vec![],
        return_path: None,
    };
    let from = "News <news@astanatimes.test>".parse().unwrap();
    let (_, eight_bit) = email.format(&from, true, None).unwrap();
    assert!(!eight_bit.is_ascii(), "unsigned mail may go as 8bit");
    let settings = newsletter::Settings::from_map(
        &signing_settings()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap();
    let signer = newsletter::mail::dkim::Signer::load(settings.dkim.as_ref().unwrap()).unwrap();
    let signed = signer.sign(&eight_bit, 1_767_225_600).unwrap();
    let verdict = dkimpy(&[signed]).remove(0);
    assert_eq!(verdict.original, [true, true], "{verdict:?}");
    assert!(verdict.changed, "the relay converted the 8bit parts");
    assert_eq!(verdict.relayed, [false, false], "{verdict:?}");
}

#[tokio::test]
async fn a_second_subject_from_or_reply_to_added_anywhere_breaks_the_signature() {
    let app = spawn_app_with(&signing_settings()).await;
    app.import_confirmed(&["akan@example.kz"]).await;
    app.add_article("Volunteers’ Year", "https://astanatimes.example/volunteers")
        .await;
    app.send_digest_now().await;
    let mail = app.wait_for_mail_to("akan@example.kz", 1).await.remove(0);
    let raw = String::from_utf8(mail.data.clone()).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut messages = vec![raw.clone().into_bytes()];
    for added in [
        "Subject: Your account is suspended",
        "From: Bank <security@bank.example>",
        "Reply-To: thief@evil.example",
        "To: someone-else@example.com",
        "List-Unsubscribe: <https://evil.example/>",
    ] {
        // Above the signatures, and at the end of the header block.
        messages.push(format!("{added}\r\n{raw}").into_bytes());
        messages.push(format!("{head}\r\n{added}\r\n\r\n{body}").into_bytes());
    }
    let verdicts = dkimpy(&messages);
    assert_eq!(
        verdicts[0].original,
        [true, true],
        "untouched: {:?}",
        verdicts[0]
    );
    for (i, verdict) in verdicts.iter().enumerate().skip(1) {
        assert_eq!(
            verdict.original,
            [false, false],
            "tampered #{i}: {verdict:?}"
        );
    }
}

#[tokio::test]
async fn an_unreadable_ed25519_key_stops_the_start_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a-key.pem");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nhello\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let database = TestDatabase::new(dir.path().join("db.sqlite"));
    let map = [
        ("DATABASE_URL", database.url().to_owned()),
        ("DKIM_DOMAIN", "astanatimes.test".into()),
        ("DKIM_SELECTOR", "news".into()),
        ("DKIM_PRIVATE_KEY_FILE", KEY.into()),
        ("DKIM_ED25519_KEY_FILE", bad.display().to_string()),
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
    let said = format!("{error:#}");
    assert!(said.contains("DKIM_ED25519_KEY_FILE"), "{said}");
    assert!(said.contains("holds no Ed25519 private key"), "{said}");

    let alone = [("DKIM_ED25519_KEY_FILE", ED25519_KEY.to_owned())]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let error = newsletter::Settings::from_map(&alone).unwrap_err();
    assert!(format!("{error:#}").contains("DKIM_DOMAIN"), "{error:#}");
}
