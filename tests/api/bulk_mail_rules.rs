//! The standing rules of bulk mail: a postal address in every digest, a `Feedback-ID`,
//! `HEAD` answered wherever `GET` is, and a preview subject header that keeps its text.

use crate::admin_pages::Admin;
use crate::support::{TestDatabase, spawn_app, spawn_app_with};

const ADDRESS: &str = "The Astana Times <Editorial> & Co, 12 Kabanbay Batyr Ave, Astana 010000";

#[tokio::test]
async fn every_digest_carries_the_postal_address_in_both_parts_escaped_in_html() {
    let app = spawn_app_with(&[("MAIL_POSTAL_ADDRESS", ADDRESS)]).await;
    app.import_confirmed(&["reader@example.kz"]).await;
    app.add_article("Volunteers’ Year", "https://astanatimes.example/volunteers")
        .await;
    app.send_digest_and_wait().await;
    let mail = app.wait_for_mail_to("reader@example.kz", 1).await.remove(0);
    assert!(mail.text_body().contains(ADDRESS), "{}", mail.text_body());
    let html = mail.html_body();
    assert!(
        html.contains("The Astana Times &lt;Editorial&gt; &amp; Co, 12 Kabanbay Batyr Ave"),
        "{html}"
    );
    assert!(!html.contains("<Editorial>"), "escaped: {html}");
}

#[tokio::test]
async fn without_a_postal_address_the_footer_has_none_and_a_multi_line_one_is_refused() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    app.add_article("Volunteers’ Year", "https://astanatimes.example/volunteers")
        .await;
    app.send_digest_and_wait().await;
    let mail = app.wait_for_mail_to("reader@example.kz", 1).await.remove(0);
    assert!(!mail.html_body().contains("postal-address"));

    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::new(dir.path().join("db.sqlite"));
    let map = [
        ("DATABASE_URL", database.url().to_owned()),
        (
            "MAIL_POSTAL_ADDRESS",
            "12 Kabanbay Batyr Ave\r\nBcc: x@example.com".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let error = newsletter::Settings::from_map(&map).unwrap_err();
    assert!(
        format!("{error:#}").contains("MAIL_POSTAL_ADDRESS holds a line break"),
        "{error:#}"
    );
}

#[tokio::test]
async fn digests_carry_a_feedback_id_naming_the_digest_the_list_and_the_sender() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    app.add_article("Volunteers’ Year", "https://astanatimes.example/volunteers")
        .await;
    let digest = app.send_digest_and_wait().await;
    let id = digest["id"].as_i64().unwrap();
    let mail = app.wait_for_mail_to("reader@example.kz", 1).await.remove(0);
    let feedback = mail.header("Feedback-ID").expect("a Feedback-ID");
    assert_eq!(
        feedback,
        format!("digest-{id}:digest:the-astana-times.127.0.0.1:astanatimes.test")
    );
    assert_eq!(
        feedback.split(':').count(),
        4,
        "Gmail takes up to four fields"
    );
}

#[tokio::test]
async fn the_preview_subject_header_is_rfc_8187_encoded_never_garbled() {
    let name = "L’Écho d’Astana — “Qazaqstan”";
    let app = spawn_app_with(&[("NEWSLETTER_NAME", name)]).await;
    app.import_confirmed(&["reader@example.kz"]).await;
    app.add_article(
        "Kazakhstan Stresses UN’s Vital Role — “Global Challenges” Ahead of SCO Summit",
        "https://astanatimes.example/un",
    )
    .await;
    let preview = app.api_get("/api/digests/preview").await;
    assert_eq!(preview.status(), 200);
    let header = preview.headers()["x-digest-subject"]
        .to_str()
        .expect("visible ASCII")
        .to_owned();
    let encoded = header.strip_prefix("UTF-8''").expect("RFC 8187: {header}");
    assert!(!encoded.contains(['?', ' ', '\'', '"']), "{header}");
    let decoded = percent_decode(encoded);
    // The subject the digest then goes out with, read back from the mail itself.
    app.send_digest_and_wait().await;
    let mail = app.wait_for_mail_to("reader@example.kz", 1).await.remove(0);
    let subject = mail.parsed().subject().unwrap().to_owned();
    assert_eq!(decoded, subject);
    assert!(
        !decoded.is_ascii(),
        "the subject holds curly quotes: {decoded}"
    );
}

/// Percent-decoding of UTF-8 bytes.
fn percent_decode(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&encoded[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

/// HEAD `url` (with `cookie`, if any) answers what GET does, headers and all, without a body.
async fn assert_head_answers_as_get(
    app: &crate::support::TestApp,
    url: &str,
    cookie: Option<&str>,
) {
    let with = |request: reqwest::RequestBuilder| match cookie {
        Some(cookie) => request.header("cookie", cookie),
        None => request,
    };
    let get = with(app.client.get(url)).send().await.unwrap();
    let head = with(app.client.head(url)).send().await.unwrap();
    assert_eq!(head.status(), get.status(), "HEAD {url}");
    for name in [
        "content-type",
        "location",
        "cache-control",
        "content-security-policy",
    ] {
        assert_eq!(
            head.headers().get(name),
            get.headers().get(name),
            "HEAD {url}: {name}"
        );
    }
    let get_body = get.bytes().await.unwrap();
    if let Some(length) = head.headers().get("content-length") {
        assert_eq!(
            length.to_str().unwrap(),
            get_body.len().to_string(),
            "HEAD {url} announces the length GET sends"
        );
    }
    assert!(
        head.bytes().await.unwrap().is_empty(),
        "HEAD {url} has no body"
    );
}

#[tokio::test]
async fn head_answers_as_get_on_pages_the_unsubscribe_link_the_archive_and_admin_pages() {
    let app = spawn_app().await;
    let link = app.sign_up_and_get_link("pending@example.kz", "").await;
    let id = app.import_confirmed(&["reader@example.kz"]).await[0];
    app.add_article("Volunteers’ Year", "https://astanatimes.example/volunteers")
        .await;
    let digest = app.send_digest_and_wait().await["id"].as_i64().unwrap();
    let unsubscribe = app.unsubscribe_link(id);
    let mut urls = vec![
        app.url("/"),
        app.url("/health"),
        app.url("/archive"),
        app.url(&format!("/archive/{digest}")),
        app.url("/archive/999999"),
        link,
        unsubscribe.clone(),
        app.url("/unsubscribe?token=tampered"),
        app.url("/static/style.css"),
        app.url("/favicon.ico"),
        app.url("/no-such-page"),
        app.url("/admin"),
    ];
    for url in urls.drain(..) {
        assert_head_answers_as_get(&app, &url, None).await;
    }
    let admin = Admin::log_in(&app).await;
    for path in [
        "/admin",
        "/admin/subscribers",
        "/admin/articles",
        "/admin/digests",
        &format!("/admin/digests/{digest}"),
    ] {
        assert_head_answers_as_get(&app, &app.url(path), Some(&admin.cookie)).await;
    }
    // Nothing a HEAD did changed anything: the reader is still subscribed.
    assert_eq!(
        app.subscriber_status("reader@example.kz").await.as_deref(),
        Some("confirmed")
    );
}
