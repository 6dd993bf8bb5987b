//! Bounces, complaints and replies that come back (issue 13): every form of bounce as
//! real mail servers write it, recognised with its reader and verdict; the policy
//! through `POST /api/inbound`; a round trip over real SMTP through the real
//! `ingest-mail` binary; hostile input.

use std::io::Write;
use std::process::Stdio;

use newsletter::config::BounceAddress;
use newsletter::domain::Signer;
use newsletter::mail::inbound::{Verdict, recognise};
use newsletter::mail::verp::Sent;
use newsletter::service::feedback::{Feedback, FeedbackKind, Recipient};

use crate::admin_pages::Admin;
use crate::support::app::spawn_app_on_database;
use crate::support::workspace::Run;
use crate::support::{ADMIN_TOKEN, TestApp, Workspace, spawn_app_with};

const BOUNCE_ADDRESS: &str = "bounces@news.astanatimes.test";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/bounces/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn bounce_address() -> BounceAddress {
    BounceAddress::parse(BOUNCE_ADDRESS).unwrap()
}

/// The one feedback a message gives, or a panic naming what it gave instead.
fn one_feedback(name: &str, raw: &str) -> Feedback {
    match recognise(raw.as_bytes(), Some(&bounce_address())) {
        Verdict::Feedback(mut items) if items.len() == 1 => items.remove(0),
        other => panic!("{name}: expected one feedback, got {other:?}"),
    }
}

#[test]
fn every_form_of_bounce_and_complaint_is_recognised_with_its_reader_and_verdict() {
    let signer = Signer::new("0123456789abcdef0123456789abcdef");
    let sent = Sent::Digest {
        digest: 7,
        reader: 42,
    };
    let tag = sent.tag(&signer);
    use FeedbackKind::*;
    let by_tag = |_: &str| Recipient::Tag(tag.clone());
    let by_address = |a: &str| Recipient::Address(a.to_owned());
    #[allow(clippy::type_complexity)]
    let cases: [(&str, FeedbackKind, &dyn Fn(&str) -> Recipient, &str); 12] = [
        ("postfix.eml", HardBounce, &by_tag, "5.1.1"),
        ("postfix_delayed.eml", SoftBounce, &by_tag, "4.4.1"),
        (
            "exim.eml",
            HardBounce,
            &by_address,
            "timur.bekov@example.net",
        ),
        ("exim_plain.eml", HardBounce, &by_tag, "permanent error"),
        (
            "qmail.eml",
            HardBounce,
            &by_address,
            "bauyrzhan@qmail-host.example",
        ),
        (
            "exchange.eml",
            HardBounce,
            &by_address,
            "madina.seitkali@contoso.example",
        ),
        ("gmail.eml", HardBounce, &by_tag, "does not exist"),
        (
            "yahoo.eml",
            HardBounce,
            &by_address,
            "saule.zhunusova@yahoo.com",
        ),
        ("arf.eml", Complaint, &by_tag, "abuse"),
        (
            "arf_without_verp.eml",
            Complaint,
            &by_address,
            "gulnara.k@yahoo.com",
        ),
        ("unsubscribe.eml", Unsubscribe, &by_tag, "by mail"),
        // The same Postfix report with our tag gone from its headers: the recipient
        // comes from Final-Recipient.
        (
            "postfix.eml#untagged",
            HardBounce,
            &by_address,
            "aliya.nurpeisova@mail.example.kz",
        ),
    ];
    for (name, kind, recipient, words) in cases {
        let raw = match name.split_once('#') {
            Some((file, _)) => fixture(file).replace("bounces+{TAG}@", "newsletter@"),
            None => fixture(name).replace("{TAG}", &tag),
        };
        let feedback = one_feedback(name, &raw);
        assert_eq!(feedback.kind, kind, "{name}: {feedback:?}");
        // What the address-named cases name is the address itself; the words checked
        // for them are the address.
        let expected = recipient(words);
        assert_eq!(feedback.recipient, expected, "{name}: {feedback:?}");
        if matches!(expected, Recipient::Tag(_)) {
            assert_eq!(feedback.digest_id, Some(7), "{name}");
            assert!(
                feedback.detail.contains(words),
                "{name}: the server's words are kept: {feedback:?}"
            );
        }
        assert_eq!(feedback.source, "mail");
    }
    // The tag those reports carry names the reader and the digest.
    assert_eq!(Sent::verify(&signer, &tag), Some(sent));
}

#[test]
fn the_server_words_are_read_before_the_returned_copy_of_our_mail() {
    // The copy of our digest below Exim's marker speaks of 450, 5.5.0 and 421: a soft
    // bounce if it were read; the server's own words say permanent.
    let feedback = one_feedback(
        "exim_plain.eml",
        &fixture("exim_plain.eml").replace("{TAG}", "d1-00"),
    );
    assert_eq!(feedback.kind, FeedbackKind::HardBounce);
    assert!(!feedback.detail.contains("450"), "{feedback:?}");
}

#[test]
fn out_of_office_replies_vacation_notices_and_ordinary_mail_are_never_counted() {
    for name in ["out_of_office.eml", "vacation.eml", "plain.eml"] {
        let raw = fixture(name).replace("{TAG}", "d7-0123456789abcdef0123456789abcdef");
        let verdict = recognise(raw.as_bytes(), Some(&bounce_address()));
        assert!(
            matches!(verdict, Verdict::Ignored(_)),
            "{name}: {verdict:?}"
        );
    }
    // A request to the unsubscribe address a mail client generated still counts; a
    // responder's reply to it does not.
    let request =
        fixture("unsubscribe.eml").replace("{TAG}", "d7-0123456789abcdef0123456789abcdef");
    for (header, counted) in [
        ("Auto-Submitted: auto-generated", true),
        ("Auto-Submitted: auto-replied", false),
    ] {
        let raw = request.replacen("Subject:", &format!("{header}\nSubject:"), 1);
        let verdict = recognise(raw.as_bytes(), Some(&bounce_address()));
        assert_eq!(
            matches!(&verdict, Verdict::Feedback(items) if items[0].kind == FeedbackKind::Unsubscribe),
            counted,
            "{header}: {verdict:?}"
        );
    }
    // Without BOUNCE_ADDRESS nothing is taken for a tag, and the same holds.
    for name in ["out_of_office.eml", "plain.eml"] {
        let verdict = recognise(fixture(name).as_bytes(), None);
        assert!(
            matches!(verdict, Verdict::Ignored(_)),
            "{name}: {verdict:?}"
        );
    }
}

#[test]
fn a_message_nested_ten_thousand_mime_parts_deep_is_refused_without_a_panic() {
    for (open, close) in [
        (
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n",
            "\r\n--b{i}--\r\n",
        ),
        ("Content-Type: message/rfc822\r\n\r\n", ""),
    ] {
        let mut raw = String::from(
            "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+d1-00@news.astanatimes.test\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n",
        );
        for i in 0..10_000 {
            raw.push_str(&open.replace("{i}", &i.to_string()));
        }
        raw.push_str(
            "Content-Type: text/plain\r\n\r\n550 5.1.1 user unknown <victim@example.org>\r\n",
        );
        for i in (0..10_000).rev() {
            raw.push_str(&close.replace("{i}", &i.to_string()));
        }
        let verdict = recognise(raw.as_bytes(), Some(&bounce_address()));
        assert!(
            matches!(&verdict, Verdict::Ignored(reason) if reason.contains("MIME")),
            "{verdict:?}"
        );
    }
}

/// An app with `BOUNCE_ADDRESS` set, readers, and one digest sent to them; the digest
/// each reader received (its envelope sender carries their tag).
async fn app_with_a_sent_digest(readers: &[&str]) -> (TestApp, Vec<i64>) {
    let app = spawn_app_with(&[
        ("BOUNCE_ADDRESS", BOUNCE_ADDRESS),
        ("METRICS_TOKEN", METRICS_TOKEN),
    ])
    .await;
    let ids = app.import_confirmed(readers).await;
    app.add_article(
        "Kazakhstan Stresses UN’s Vital Role",
        "https://astanatimes.example/un",
    )
    .await;
    let status = app.send_digest_and_wait().await;
    assert_eq!(status["sent"], readers.len(), "{status}");
    (app, ids)
}

/// The `mailto:` address of a mail's `List-Unsubscribe`.
fn mailto_unsubscribe_of(mail: &crate::support::smtp_server::ReceivedMail) -> String {
    mail.header("List-Unsubscribe")
        .expect("a List-Unsubscribe header")
        .split("<mailto:")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("a mailto address")
        .to_owned()
}

/// The envelope sender the SMTP server received the last message to `reader` from.
fn return_path_of_last_mail_to(app: &TestApp, reader: &str) -> String {
    let mails = app.smtp.messages_to(reader);
    mails.last().expect("a mail to the reader").from.clone()
}

/// A Postfix bounce of the message sent from `return_path`, as the relay returns it.
fn postfix_bounce_to(return_path: &str, reader: &str, status: &str) -> String {
    let tag = bounce_address()
        .tag_of(return_path)
        .expect("a tagged return path")
        .to_owned();
    let raw = fixture("postfix.eml")
        .replace("{TAG}", &tag)
        .replace("aliya.nurpeisova@mail.example.kz", reader);
    if status.starts_with('4') {
        raw.replace("Action: failed", "Action: delayed")
            .replace("Status: 5.1.1", &format!("Status: {status}"))
            .replace("550 5.1.1", &format!("450 {status}"))
    } else {
        raw
    }
}

async fn post_inbound(app: &TestApp, raw: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client
        .post(app.url("/api/inbound"))
        .bearer_auth(ADMIN_TOKEN)
        .header("Content-Type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .expect("POST /api/inbound")
}

async fn inbound_verdict(app: &TestApp, raw: String) -> serde_json::Value {
    let response = post_inbound(app, raw).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn with_a_bounce_address_each_digest_names_its_delivery_in_the_return_path() {
    let (app, ids) = app_with_a_sent_digest(&["aliya@example.kz"]).await;
    let mail = app.smtp.messages_to("aliya@example.kz").remove(0);
    let tag = bounce_address()
        .tag_of(&mail.from)
        .unwrap_or_else(|| panic!("a tagged envelope sender: {}", mail.from))
        .to_owned();
    assert_eq!(
        Sent::verify(&app.state.signer, &tag).map(Sent::reader),
        Some(ids[0])
    );
    let list_unsubscribe = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert!(
        list_unsubscribe.contains(&format!(
            "<mailto:bounces+unsubscribe-{tag}@news.astanatimes.test>"
        )),
        "{list_unsubscribe}"
    );
    assert!(list_unsubscribe.starts_with("<http"), "{list_unsubscribe}");
    // The From header is still MAIL_FROM.
    assert!(
        mail.header("From")
            .unwrap()
            .contains("newsletter@astanatimes.test")
    );

    // A confirmation mail names its queued mail and its reader the same way.
    app.sign_up_and_get_link("newcomer@example.kz", "").await;
    let confirmation = app.smtp.messages_to("newcomer@example.kz").remove(0);
    let tag = bounce_address()
        .tag_of(&confirmation.from)
        .unwrap_or_else(|| panic!("a tagged envelope sender: {}", confirmation.from));
    let newcomer = app.subscriber_id("newcomer@example.kz").await;
    assert!(
        matches!(Sent::verify(&app.state.signer, tag), Some(Sent::Mail { reader, .. }) if reader == newcomer),
        "{tag}"
    );
}

#[tokio::test]
async fn without_a_bounce_address_the_envelope_sender_is_mail_from() {
    let app = spawn_app_with(&[]).await;
    app.import_confirmed(&["aliya@example.kz"]).await;
    app.add_article(
        "Kazakhstan Stresses UN’s Vital Role",
        "https://astanatimes.example/un",
    )
    .await;
    app.send_digest_and_wait().await;
    let mail = app.smtp.messages_to("aliya@example.kz").remove(0);
    assert_eq!(mail.from, "newsletter@astanatimes.test");
    assert!(!mail.header("List-Unsubscribe").unwrap().contains("mailto:"));
}

#[tokio::test]
async fn a_hard_bounce_marks_the_reader_bounced_and_shows_on_the_admin_pages() {
    let (app, _) = app_with_a_sent_digest(&["aliya@example.kz", "dana@example.kz"]).await;
    let return_path = return_path_of_last_mail_to(&app, "aliya@example.kz");
    let answer = inbound_verdict(
        &app,
        postfix_bounce_to(&return_path, "aliya@example.kz", "5.1.1")
            .replace("Recipient\n    address rejected", "<b>rejected</b>"),
    )
    .await;
    assert_eq!(answer["verdict"], "hard_bounce", "{answer}");
    assert_eq!(answer["recorded"], 1, "{answer}");
    assert_eq!(
        app.subscriber_status("aliya@example.kz").await.as_deref(),
        Some("bounced")
    );
    assert_eq!(
        app.subscriber_status("dana@example.kz").await.as_deref(),
        Some("confirmed")
    );

    let admin = Admin::log_in(&app).await;
    let page = admin.get("/admin/bounces").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("aliya@example.kz"), "{page}");
    assert!(page.contains("hard bounce"), "{page}");
    assert!(page.contains("5.1.1"), "{page}");
    assert!(
        page.contains("&lt;b&gt;rejected"),
        "the server's words are escaped: {page}"
    );
    assert!(!page.contains("<b>rejected</b>"));
    let digest_page = admin.get("/admin/digests/1").await.text().await.unwrap();
    assert!(
        digest_page.contains("Bounces and complaints (1)"),
        "{digest_page}"
    );
    assert!(digest_page.contains("aliya@example.kz"));
    // Without a session the page is not shown.
    let anonymous = app.get("/admin/bounces").await;
    assert!(
        [303, 401, 403].contains(&anonymous.status().as_u16()),
        "{}",
        anonymous.status()
    );
}

#[tokio::test]
async fn a_forged_tag_or_a_reader_of_another_site_changes_nothing() {
    let (app, _) = app_with_a_sent_digest(&["aliya@example.kz"]).await;
    let return_path = return_path_of_last_mail_to(&app, "aliya@example.kz");
    let genuine = postfix_bounce_to(&return_path, "aliya@example.kz", "5.1.1");
    // One hex digit of the signature changed.
    let tag = bounce_address().tag_of(&return_path).unwrap().to_owned();
    let mut forged_tag = tag.clone().into_bytes();
    let last = forged_tag.len() - 1;
    forged_tag[last] = if forged_tag[last] == b'a' { b'b' } else { b'a' };
    let forged = genuine.replace(&tag, std::str::from_utf8(&forged_tag).unwrap());
    let answer = inbound_verdict(&app, forged).await;
    assert_eq!(
        (answer["recorded"].as_i64(), answer["unknown"].as_i64()),
        (Some(0), Some(1)),
        "{answer}"
    );
    // A report about a reader of another site (no tag of ours, an address we lack).
    let stranger = fixture("exim.eml");
    let answer = inbound_verdict(&app, stranger).await;
    assert_eq!(
        (answer["recorded"].as_i64(), answer["unknown"].as_i64()),
        (Some(0), Some(1)),
        "{answer}"
    );
    assert_eq!(
        app.subscriber_status("aliya@example.kz").await.as_deref(),
        Some("confirmed")
    );
    let admin = Admin::log_in(&app).await;
    let page = admin.get("/admin/bounces").await.text().await.unwrap();
    assert!(page.contains("Nothing has come back yet."), "{page}");
}

#[tokio::test]
async fn soft_bounces_on_three_digests_in_a_row_mark_the_reader_bounced() {
    let (app, _) = app_with_a_sent_digest(&["yerlan@example.kz"]).await;
    for round in 1..=3 {
        if round > 1 {
            app.add_article(
                &format!("Story {round}"),
                &format!("https://astanatimes.example/{round}"),
            )
            .await;
            app.send_digest_and_wait().await;
        }
        let return_path = return_path_of_last_mail_to(&app, "yerlan@example.kz");
        let delayed = postfix_bounce_to(&return_path, "yerlan@example.kz", "4.2.2");
        // The same report twice counts once for its digest.
        for _ in 0..2 {
            let answer = inbound_verdict(&app, delayed.clone()).await;
            assert_eq!(answer["verdict"], "soft_bounce", "{answer}");
        }
        let expected = if round < 3 { "confirmed" } else { "bounced" };
        assert_eq!(
            app.subscriber_status("yerlan@example.kz").await.as_deref(),
            Some(expected),
            "after soft bounces on {round} digests"
        );
    }
}

#[tokio::test]
async fn a_complaint_unsubscribes_the_reader_and_is_recorded() {
    let (app, _) = app_with_a_sent_digest(&["gulnara@example.kz", "dana@example.kz"]).await;
    let return_path = return_path_of_last_mail_to(&app, "gulnara@example.kz");
    let tag = bounce_address().tag_of(&return_path).unwrap().to_owned();
    let answer = inbound_verdict(&app, fixture("arf.eml").replace("{TAG}", &tag)).await;
    assert_eq!(answer["verdict"], "complaint", "{answer}");
    assert_eq!(answer["recorded"], 1);
    assert_eq!(
        app.subscriber_status("gulnara@example.kz").await.as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(
        app.subscriber_status("dana@example.kz").await.as_deref(),
        Some("confirmed")
    );
    let admin = Admin::log_in(&app).await;
    let page = admin.get("/admin/bounces").await.text().await.unwrap();
    assert!(page.contains("complaint"), "{page}");
    assert!(page.contains("gulnara@example.kz"), "{page}");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("newsletter_unsubscribes_total{path=\"complaint\"} 1"),
        "{metrics}"
    );
}

/// Opens `/metrics` on the public port for these tests.
const METRICS_TOKEN: &str = "bounces-metrics-token-0123456789";

#[tokio::test]
async fn mail_to_the_unsubscribe_address_unsubscribes_that_reader() {
    let (app, _) = app_with_a_sent_digest(&["aigerim@example.kz", "dana@example.kz"]).await;
    let mail = app.smtp.messages_to("aigerim@example.kz").remove(0);
    let mailto = mailto_unsubscribe_of(&mail);
    let request = format!(
        "From: Aigerim <aigerim@example.kz>\r\nTo: {mailto}\r\nSubject: unsubscribe\r\nDate: Mon, 30 Nov 2026 08:00:00 +0000\r\nMessage-ID: <u1@example.kz>\r\n\r\nThis message was automatically generated by Gmail.\r\n"
    );
    let answer = inbound_verdict(&app, request).await;
    assert_eq!(answer["verdict"], "unsubscribe", "{answer}");
    assert_eq!(
        app.subscriber_status("aigerim@example.kz").await.as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(
        app.subscriber_status("dana@example.kz").await.as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn a_bounced_reader_who_signs_up_again_and_confirms_is_active_again() {
    let (app, _) = app_with_a_sent_digest(&["aliya@example.kz"]).await;
    let return_path = return_path_of_last_mail_to(&app, "aliya@example.kz");
    inbound_verdict(
        &app,
        postfix_bounce_to(&return_path, "aliya@example.kz", "5.1.1"),
    )
    .await;
    assert_eq!(
        app.subscriber_status("aliya@example.kz").await.as_deref(),
        Some("bounced")
    );
    let link = app.sign_up_and_get_link("aliya@example.kz", "Aliya").await;
    let confirmed = app.post_empty(&link).await;
    assert!(confirmed.status().is_success(), "{}", confirmed.status());
    assert_eq!(
        app.subscriber_status("aliya@example.kz").await.as_deref(),
        Some("confirmed")
    );
    app.add_article("Story two", "https://astanatimes.example/2")
        .await;
    let status = app.send_digest_and_wait().await;
    assert_eq!(status["recipients"], 1, "{status}");
}

#[tokio::test]
async fn hostile_inbound_mail_gets_a_clear_answer_and_changes_nothing() {
    let (app, _) = app_with_a_sent_digest(&["aliya@example.kz"]).await;
    // 20 MB: refused with 413 and a sentence.
    let huge = format!(
        "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\n\r\n{}",
        "550 5.1.1 aliya@example.kz\r\n".repeat(20 * 1024 * 1024 / 28)
    );
    let response = post_inbound(&app, huge).await;
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("larger than"),
        "{body}"
    );
    // Nested 10,000 deep: ignored, and the server still answers.
    let mut nested = String::from(
        "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n",
    );
    for i in 0..10_000 {
        nested.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    nested.push_str("Content-Type: text/plain\r\n\r\n550 5.1.1 <aliya@example.kz>\r\n");
    let answer = inbound_verdict(&app, nested).await;
    assert_eq!(answer["verdict"], "ignored", "{answer}");
    // Not a message at all, and an empty body.
    let answer = inbound_verdict(&app, "\u{0}\u{1}garbage".repeat(1000)).await;
    assert_eq!(answer["verdict"], "ignored", "{answer}");
    assert_eq!(post_inbound(&app, "").await.status(), 400);
    // Without the admin token: 401.
    let anonymous = app
        .client
        .post(app.url("/api/inbound"))
        .body(fixture("exim.eml"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        app.subscriber_status("aliya@example.kz").await.as_deref(),
        Some("confirmed")
    );
    assert_eq!(app.get("/health").await.status(), 200);
}

/// Runs `newsletter ingest-mail` in `workspace` with `message` on standard input.
async fn ingest_mail(workspace: &Workspace, env: &[(&str, &str)], message: Vec<u8>) -> Run {
    let mut command = workspace.command(workspace.database());
    command
        .arg("ingest-mail")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("the binary starts");
        let mut stdin = child.stdin.take().expect("a pipe");
        // A child that stops reading early must not fail the test here.
        let _ = stdin.write_all(&message);
        drop(stdin);
        child.wait_with_output().expect("the binary ends")
    })
    .await
    .expect("the runner did not panic")
    .into()
}

#[tokio::test]
async fn a_bounce_returned_by_the_relay_through_ingest_mail_stops_the_next_digest() {
    let workspace = Workspace::new();
    let app = spawn_app_on_database(
        workspace.database.clone(),
        &[("BOUNCE_ADDRESS", BOUNCE_ADDRESS)],
    )
    .await;
    app.import_confirmed(&["aliya@example.kz", "dana@example.kz"])
        .await;
    app.add_article(
        "Kazakhstan Stresses UN’s Vital Role",
        "https://astanatimes.example/un",
    )
    .await;
    let first = app.send_digest_and_wait().await;
    assert_eq!(first["sent"], 2, "{first}");

    // The relay accepted the message; later the reader's server refused it, and the
    // relay returns a DSN to the envelope sender it received.
    let received = app.smtp.messages_to("aliya@example.kz").remove(0);
    let dsn = postfix_bounce_to(&received.from, "aliya@example.kz", "5.1.1");
    assert!(dsn.contains(&format!("To: {}", received.from)));
    let env = [("BOUNCE_ADDRESS", BOUNCE_ADDRESS)];
    let run = ingest_mail(&workspace, &env, dsn.into_bytes()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("hard_bounce: 1 recorded"),
        "{}",
        run.stderr
    );
    assert_eq!(
        app.subscriber_status("aliya@example.kz").await.as_deref(),
        Some("bounced")
    );

    // An out-of-office reply and a 20 MB message: understood or ignored, exit 0.
    let ooo = fixture("out_of_office.eml")
        .replace("{TAG}", bounce_address().tag_of(&received.from).unwrap());
    let run = ingest_mail(&workspace, &env, ooo.into_bytes()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("ignored: an auto-reply"),
        "{}",
        run.stderr
    );
    let run = ingest_mail(&workspace, &env, vec![b'x'; 20 * 1024 * 1024]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("ignored: larger than"),
        "{}",
        run.stderr
    );

    app.add_article("Story two", "https://astanatimes.example/2")
        .await;
    let second = app.send_digest_and_wait().await;
    assert_eq!(second["recipients"], 1, "{second}");
    assert_eq!(app.smtp.messages_to("aliya@example.kz").len(), 1);
    assert_eq!(app.smtp.messages_to("dana@example.kz").len(), 2);
}

#[tokio::test]
async fn ingest_mail_that_cannot_store_exits_with_a_temporary_failure() {
    let workspace = Workspace::new();
    // A database the binary cannot open (its folder would be inside a file): the mail
    // server must keep the message.
    workspace.write("not-a-folder", "");
    let unusable = workspace.path().join("not-a-folder").join("newsletter.db");
    let mut command = workspace.command(workspace.database());
    command
        .arg("ingest-mail")
        .env("DATABASE_URL", &unusable)
        .stdin(Stdio::piped());
    let output = tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(fixture("exim.eml").as_bytes());
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        output.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn mail_to_the_unsubscribe_address_leaves_that_newsletter_only() {
    // A reader of the default newsletter and of another: an unsubscribe request by mail
    // for a digest of the default one leaves that one, as the link does.
    let (app, _) = app_with_a_sent_digest(&["aigerim@example.kz"]).await;
    let reader = app.subscriber_id("aigerim@example.kz").await;
    let now = newsletter::db::now();
    let culture = newsletter::db::newsletters::NewNewsletter {
        slug: "culture".to_owned(),
        name: Some("Culture & Arts".to_owned()),
        description: "Culture & Arts: exhibitions, premieres and books.".to_owned(),
        schedule: Some(String::new()),
        sections: String::new(),
        public: true,
        preselected: false,
        archived: false,
        language: None,
        created_at: now,
        updated_at: now,
    };
    let culture = app
        .state
        .db
        .run(move |conn| {
            let id = newsletter::db::newsletters::insert(conn, &culture)?;
            newsletter::db::subscriptions::set(
                conn,
                reader,
                id,
                newsletter::domain::SubscriptionStatus::Confirmed,
                now,
            )?;
            Ok(id)
        })
        .await
        .unwrap();
    let mail = app.smtp.messages_to("aigerim@example.kz").remove(0);
    let mailto = mailto_unsubscribe_of(&mail);
    let request = format!(
        "From: Aigerim <aigerim@example.kz>\r\nTo: {mailto}\r\nSubject: unsubscribe\r\nDate: Mon, 30 Nov 2026 08:00:00 +0000\r\nMessage-ID: <u2@example.kz>\r\n\r\nunsubscribe\r\n"
    );
    let answer = inbound_verdict(&app, request).await;
    assert_eq!(answer["verdict"], "unsubscribe", "{answer}");
    let on: Vec<(i64, String)> = app
        .state
        .db
        .run(move |conn| newsletter::db::subscriptions::of_subscriber(conn, reader))
        .await
        .unwrap();
    assert!(
        on.contains(&(
            newsletter::db::newsletters::DEFAULT_NEWSLETTER_ID,
            "unsubscribed".to_owned()
        )),
        "{on:?}"
    );
    assert!(on.contains(&(culture, "confirmed".to_owned())), "{on:?}");
    assert_eq!(
        app.subscriber_status("aigerim@example.kz").await.as_deref(),
        Some("confirmed"),
        "still a reader of the other newsletter"
    );
}
