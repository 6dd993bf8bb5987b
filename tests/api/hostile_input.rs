//! Hostile input on every route: oversized bodies, broken encodings, wrong JSON, huge
//! tokens and ids, control characters, markup, SQL-looking text and bad admin tokens.
//! Each refusal is checked twice: the status, and that nothing in the database or the
//! outgoing mail changed.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use newsletter::db::schema::{
    articles, confirmation_tokens, deliveries, digests, outgoing_emails, subscribers,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp, serde_urlencoded_pair, spawn_app, spawn_app_with};

/// Everything a request could change, counted.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    /// `(status, count)` per subscriber status.
    subscribers: Vec<(String, i64)>,
    tokens: i64,
    used_tokens: i64,
    queued_mail: i64,
    articles: i64,
    waiting_articles: i64,
    digests: i64,
    deliveries: i64,
    mails_received: usize,
}

/// Counts once the queues are drained, so a mail still on its way is not mistaken for
/// one a request caused.
async fn counts(app: &TestApp) -> Counts {
    app.drain_queues().await;
    counts_now(app).await
}

async fn counts_now(app: &TestApp) -> Counts {
    let mails_received = app.smtp.messages().len();
    app.state
        .db
        .run(move |conn| {
            Ok(Counts {
                subscribers: subscribers::table
                    .group_by(subscribers::status)
                    .select((subscribers::status, diesel::dsl::count_star()))
                    .order(subscribers::status)
                    .load(conn)?,
                tokens: confirmation_tokens::table.count().get_result(conn)?,
                used_tokens: confirmation_tokens::table
                    .filter(confirmation_tokens::used_at.is_not_null())
                    .count()
                    .get_result(conn)?,
                queued_mail: outgoing_emails::table.count().get_result(conn)?,
                articles: articles::table.count().get_result(conn)?,
                waiting_articles: articles::table
                    .filter(articles::digest_id.is_null())
                    .count()
                    .get_result(conn)?,
                digests: digests::table.count().get_result(conn)?,
                deliveries: deliveries::table.count().get_result(conn)?,
                mails_received,
            })
        })
        .await
        .expect("the counts")
}

/// An app with something to lose: a confirmed reader (with an unsubscribe link), a
/// pending one (with a live confirmation link), a sent digest and a waiting article.
struct Baseline {
    app: TestApp,
    confirm_link: String,
    unsubscribe_link: String,
}

async fn baseline() -> Baseline {
    baseline_with(&[]).await
}

async fn baseline_with(overrides: &[(&str, &str)]) -> Baseline {
    let app = spawn_app_with(overrides).await;
    let alice = app
        .confirmed_subscriber("alice@example.org", "Alice Abenova")
        .await;
    let confirm_link = app.sign_up_and_get_link("bob@example.org", "Bob").await;
    app.add_article(
        "Kazakhstan Stresses UN’s Vital Role",
        "https://astanatimes.example/un",
    )
    .await;
    app.send_digest_and_wait().await;
    app.add_article("Budget Approved", "https://astanatimes.example/budget")
        .await;
    let unsubscribe_link = app.unsubscribe_link(alice);
    Baseline {
        app,
        confirm_link,
        unsubscribe_link,
    }
}

/// A well-formed confirmation token that was never issued.
const UNKNOWN_TOKEN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

async fn post_form(app: &TestApp, url: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("an answer")
}

async fn post_api_raw(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("an answer")
}

#[tokio::test]
async fn two_mebibyte_bodies_on_every_post_route_are_refused_and_change_nothing() {
    let Baseline { app, .. } = baseline().await;
    let before = counts(&app).await;
    let two_mib = 2 * 1024 * 1024;

    let form = format!("email=carol%40example.org&name={}", "A".repeat(two_mib));
    let response = post_form(&app, &app.url("/subscriptions"), form).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "sign-up");

    let article = json!({ "title": "Big", "url": "https://astanatimes.example/big", "body": "x".repeat(two_mib) });
    let response = post_api_raw(
        &app,
        "/api/articles",
        "application/json",
        article.to_string(),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "/api/articles"
    );
    let error: Value = response.json().await.unwrap();
    assert!(error["error"].is_string(), "a JSON error: {error}");

    // Confirm and unsubscribe take their token from the URL and never read a body: the
    // answer is the token's, whatever the body.
    let confirm = app.url(&format!("/subscriptions/confirm?token={UNKNOWN_TOKEN}"));
    let response = post_form(&app, &confirm, vec![b'a'; two_mib]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "confirm");
    let unsubscribe = app.url("/unsubscribe?token=1.AAAA");
    let response = post_form(&app, &unsubscribe, vec![b'a'; two_mib]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "unsubscribe");

    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn broken_percent_encoding_and_invalid_utf8_get_400_and_change_nothing() {
    let Baseline {
        app, confirm_link, ..
    } = baseline().await;
    let before = counts(&app).await;

    let forms: [&[u8]; 7] = [
        b"email=carol%ZZ%40example.org&name=Carol",
        b"email=carol%40example.org&name=Carol%",
        b"email=carol%40example.org&name=Carol%4",
        b"email=carol%40example.org&name=%FF%FE",
        b"email=carol%40example.org&name=%C3%28",
        b"email=carol\xff%40example.org",
        b"email=carol%40example.org&name=Car\xc3ol",
    ];
    for form in forms {
        let response = post_form(&app, &app.url("/subscriptions"), form.to_vec()).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(form)
        );
    }

    // Query strings: a live token made unreadable, and broken escapes in place of one.
    // The token: the link goes on with the mail's language (`&lang=`).
    let live = confirm_link.split("token=").nth(1).unwrap();
    let live = live.split('&').next().unwrap().to_owned();
    let queries = [
        format!("/subscriptions/confirm?token={}%ZZ", &live[..41]),
        format!("/subscriptions/confirm?token={}%FF", &live[..42]),
        "/subscriptions/confirm?token=%C3%28".to_owned(),
        "/subscriptions/confirm?token=%".to_owned(),
        "/unsubscribe?token=1.%ZZ".to_owned(),
        "/unsubscribe?token=%FF%FE".to_owned(),
    ];
    for query in &queries {
        assert_eq!(
            app.get(query).await.status(),
            StatusCode::BAD_REQUEST,
            "GET {query}"
        );
        assert_eq!(
            app.post_empty(query).await.status(),
            StatusCode::BAD_REQUEST,
            "POST {query}"
        );
    }
    for query in [
        "/api/subscribers?status=%FF%FE",
        "/api/subscribers?page=%ZZ",
    ] {
        assert_eq!(
            app.api_get(query).await.status(),
            StatusCode::BAD_REQUEST,
            "{query}"
        );
    }
    let response = post_api_raw(
        &app,
        "/api/articles",
        "application/json",
        b"{\"title\": \"Bad \xff byte\", \"url\": \"https://astanatimes.example/bad\"}".to_vec(),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "invalid UTF-8 in JSON"
    );

    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn wrong_json_types_and_truncated_json_get_400_with_a_json_error_and_store_nothing() {
    let Baseline { app, .. } = baseline().await;
    let before = counts(&app).await;

    let bodies = [
        r#"{"title": 5, "url": "https://astanatimes.example/a"}"#,
        r#"{"title": ["a"], "url": "https://astanatimes.example/a"}"#,
        r#"{"title": "A", "url": {"href": "https://astanatimes.example/a"}}"#,
        r#"{"title": "A", "url": "https://astanatimes.example/a", "summary": false}"#,
        r#"{"title": "A", "url": "https://astanatimes.example/a", "published_at": 1750000000}"#,
        r#"{"title": null, "url": null}"#,
        r#"[{"title": "A", "url": "https://astanatimes.example/a"}]"#,
        r#""a string""#,
        "null",
        "42",
        "",
        r#"{"title": "A", "url": "https://astanatimes.ex"#,
        r#"{"title": "A","#,
        r#"{"title": "A", "url": "https://astanatimes.example/a""#,
        r#"{"title": "\ud800", "url": "https://astanatimes.example/a"}"#,
        r#"{"title": "A", "url": "https://astanatimes.example/a"} trailing"#,
    ];
    for body in bodies {
        let response = post_api_raw(&app, "/api/articles", "application/json", body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.expect("a JSON error");
        assert!(error["error"].is_string(), "{body}: {error}");
    }

    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn five_thousand_character_tokens_get_400_on_get_and_post_and_change_nothing() {
    let Baseline {
        app,
        confirm_link,
        unsubscribe_link,
    } = baseline().await;
    let before = counts(&app).await;
    // The token: the link goes on with the mail's language (`&lang=`).
    let live_confirm = confirm_link.split("token=").nth(1).unwrap();
    let live_confirm = live_confirm.split('&').next().unwrap().to_owned();
    let live_unsubscribe = unsubscribe_link.split("token=").nth(1).unwrap().to_owned();

    let tokens = [
        "a".repeat(5000),
        format!("{live_confirm}{}", "a".repeat(5000 - live_confirm.len())),
        format!("{}.{}", "1".repeat(2500), "A".repeat(2499)),
        format!(
            "{live_unsubscribe}{}",
            "A".repeat(5000 - live_unsubscribe.len())
        ),
        "%41".repeat(5000 / 3),
    ];
    for token in &tokens {
        for route in ["/subscriptions/confirm", "/unsubscribe"] {
            let url = format!("{route}?token={token}");
            let got = app.get(&url).await;
            assert_eq!(
                got.status(),
                StatusCode::BAD_REQUEST,
                "GET {route} {}…",
                &token[..20]
            );
            let page = got.text().await.unwrap();
            assert!(!page.contains(token.as_str()), "the token is not echoed");
            let posted = app.post_empty(&url).await;
            assert_eq!(
                posted.status(),
                StatusCode::BAD_REQUEST,
                "POST {route} {}…",
                &token[..20]
            );
        }
    }

    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn unknown_and_non_numeric_ids_get_4xx_and_change_nothing() {
    let Baseline { app, .. } = baseline().await;
    let before = counts(&app).await;

    let api = [
        ("/api/digests/x", StatusCode::BAD_REQUEST),
        ("/api/digests/1.5", StatusCode::BAD_REQUEST),
        ("/api/digests/%00", StatusCode::BAD_REQUEST),
        ("/api/digests/99999999999999999999", StatusCode::BAD_REQUEST),
        ("/api/digests/-1", StatusCode::NOT_FOUND),
        ("/api/digests/0", StatusCode::NOT_FOUND),
        ("/api/digests/9223372036854775807", StatusCode::NOT_FOUND),
        (
            "/api/subscribers?page=99999999999999999999",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/subscribers?page=0", StatusCode::BAD_REQUEST),
        ("/api/subscribers?per_page=-1", StatusCode::BAD_REQUEST),
    ];
    for (path, status) in api {
        let response = app.api_get(path).await;
        assert_eq!(response.status(), status, "{path}");
        let error: Value = response.json().await.expect("a JSON error");
        assert!(error["error"].is_string(), "{path}: {error}");
    }
    let pages = [
        "/archive/x",
        "/archive/-1",
        "/archive/0",
        "/archive/1.0",
        "/archive/99999999999999999999",
        "/archive/9223372036854775807",
        "/archive/%00",
        "/archive/%FF",
        "/unsubscribe?token=99999999999999999999.AAAA",
        "/unsubscribe?token=-1.AAAA",
    ];
    for path in pages {
        let status = app.get(path).await.status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
            "{path}: {status}"
        );
    }
    assert_eq!(
        app.get("/archive/1").await.status(),
        StatusCode::OK,
        "the real one"
    );

    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn cr_lf_and_nul_in_single_line_fields_get_400_and_change_nothing() {
    let Baseline { app, .. } = baseline().await;
    let before = counts(&app).await;

    let sign_ups = [
        ("carol@example.org\r\nBcc: victim@example.org", "Carol"),
        ("carol@example.org\nBcc: victim@example.org", "Carol"),
        ("carol@exa\rmple.org", "Carol"),
        ("carol\0@example.org", "Carol"),
        ("carol@example.org\0", "Carol"),
        ("carol@example.org", "Carol\r\nBcc: victim@example.org"),
        ("carol@example.org", "Carol\nSmith"),
        ("carol@example.org", "Carol\rSmith"),
        ("carol@example.org", "Carol\0"),
        ("carol@example.org", "Carol\u{85}Smith"),
    ];
    for (email, name) in sign_ups {
        let response = app.sign_up(email, name).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{email:?} {name:?}"
        );
    }

    let fields = [
        ("title", "Budget\r\nBcc: victim@example.org"),
        ("title", "Budget\nApproved"),
        ("title", "Budget\0"),
        ("author", "Aigerim\r\nBcc: victim@example.org"),
        ("author", "Aigerim\0"),
        ("summary", "The Mazhilis\0 approved"),
        ("body", "<p>The Mazhilis\0 approved</p>"),
        ("url", "https://astana\0times.example/budget"),
        ("published_at", "2026-06-19T09:30:00Z\r\nX-Injected: 1"),
    ];
    for (field, value) in fields {
        let mut article = json!({ "title": "Budget", "url": "https://astanatimes.example/nul" });
        article[field] = json!(value);
        let response = app.api_post("/api/articles", &article).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{field}: {value:?}"
        );
        let error: Value = response.json().await.unwrap();
        assert!(
            error["fields"][field].is_string(),
            "{field} is named: {error}"
        );
    }

    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn line_breaks_in_a_summary_or_url_are_folded_away_before_anything_is_stored() {
    let app = spawn_app().await;
    // A summary is prose (line breaks become spaces); WHATWG URL parsing drops tabs and
    // line breaks and percent-encodes other control characters.
    let response = app
        .api_post(
            "/api/articles",
            &json!({
                "title": "Budget Approved",
                "url": "https://astanatimes.example/bud\r\nget?x=1\0y",
                "summary": "The Mazhilis\r\napproved\tthe budget.",
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored = crate::articles::waiting_articles(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].url, "https://astanatimes.example/budget?x=1%00y");
    assert_eq!(
        stored[0].summary.as_deref(),
        Some("The Mazhilis approved the budget.")
    );
}

#[tokio::test]
async fn markup_in_names_titles_and_feed_entries_is_escaped_everywhere_it_shows() {
    let app = spawn_app().await;
    let name = r#"<img src=x onerror=alert(1)>Mallory"#;

    // The sign-up form shown again with an error, and the confirmation mail.
    let page = app
        .post_subscriptions(serde_urlencoded_pair(&[
            ("email", "not-an-address"),
            ("name", name),
        ]))
        .await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let page = page.text().await.unwrap();
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;Mallory"),
        "{page}"
    );
    let id = app.confirmed_subscriber("mallory@example.org", name).await;
    let confirmation = app.smtp.messages_to("mallory@example.org").remove(0);
    assert!(
        !confirmation.html_body().contains("Mallory")
            && !confirmation.text_body().contains("Mallory"),
        "no typed name in a mail sent before confirmation"
    );
    assert_eq!(
        confirmation.header("To").as_deref(),
        Some("mallory@example.org")
    );
    assert_eq!(confirmation.header_count("To"), 1);

    // Markup through the API: title, author, summary and a URL trying to break out of
    // its attribute.
    let response = app
        .api_post(
            "/api/articles",
            &json!({
                "title": "<script>alert('title')</script> Budget",
                "author": "<b onmouseover=alert('author')>Aigerim</b>",
                "summary": "<img src=x onerror=alert('summary')> approved",
                "url": "https://astanatimes.example/a\"><script>alert('url')</script>",
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // And through a feed: an RSS title is text, so its escaped markup stays text.
    let feed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rss-markup-in-title.xml"
    );
    let report = newsletter::feed::import_feed(&app.state, feed)
        .await
        .unwrap();
    assert_eq!(report.new, 1);

    let preview = app.api_get("/api/digests/preview").await;
    assert_eq!(preview.status(), StatusCode::OK);
    let preview = preview.text().await.unwrap();
    let digest: Value = app.send_digest_now().await.json().await.unwrap();
    let digest_id = digest["id"].as_i64().unwrap();
    app.wait_for_digest(digest_id).await;
    let mail = app
        .smtp
        .messages_to("mallory@example.org")
        .into_iter()
        .find(|m| {
            m.header("Message-ID")
                .is_some_and(|id| id.starts_with("<digest."))
        })
        .expect("the digest mail");
    assert_eq!(
        mail.parsed()
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.name()),
        Some(name),
        "once confirmed, the name is text in the To header, one header"
    );
    assert_eq!(mail.header_count("To"), 1);
    let archive = app.get(&format!("/archive/{digest_id}")).await;
    assert_eq!(archive.status(), StatusCode::OK);
    let archive = archive.text().await.unwrap();
    let index = app.get("/archive").await.text().await.unwrap();
    let unsubscribe = app
        .get(&app.unsubscribe_link(id))
        .await
        .text()
        .await
        .unwrap();

    for (place, html) in [
        ("the preview", preview.as_str()),
        ("the digest mail", mail.html_body().as_str()),
        ("the archive page", archive.as_str()),
        ("the archive index", index.as_str()),
        ("the unsubscribe page", unsubscribe.as_str()),
    ] {
        for raw in ["<script", "<img src=x", "<b onmouseover", "\"><script"] {
            assert!(!html.contains(raw), "{raw} in {place}:\n{html}");
        }
    }
    for (place, html) in [
        ("the preview", preview.as_str()),
        ("the digest mail", mail.html_body().as_str()),
        ("the archive page", archive.as_str()),
    ] {
        assert!(
            html.contains("&lt;script&gt;alert(") && html.contains("Budget"),
            "the titles are shown as text in {place}"
        );
        assert!(
            html.contains("&lt;b onmouseover=alert("),
            "the author is shown as text in {place}"
        );
    }
    assert!(
        mail.text_body()
            .contains("<script>alert('title')</script> Budget"),
        "the text part shows the title as written"
    );
}

#[tokio::test]
async fn sql_looking_strings_are_stored_literally_and_every_table_stays_intact() {
    let Baseline { app, .. } = baseline().await;
    let tables_before = table_names(&app).await;
    let name = "Robert'); DROP TABLE subscribers;--";
    let email = "o'hara'--@example.org";

    assert_eq!(app.sign_up(email, name).await.status(), StatusCode::OK);
    let refused = app
        .sign_up("x'); DROP TABLE subscribers;--@example.org", "")
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let title = "Budget'); DELETE FROM articles; --";
    let url = "https://astanatimes.example/budget?id=1'%20OR%20'1'='1";
    let response = app
        .api_post(
            "/api/articles",
            &json!({ "title": title, "url": url, "author": "\" OR 1=1 --" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let query = app
        .api_get("/api/subscribers?status=confirmed'%20OR%20'1'='1")
        .await;
    assert_eq!(query.status(), StatusCode::BAD_REQUEST);

    let stored = app
        .state
        .db
        .run(move |conn| {
            let subscriber: (String, Option<String>) = subscribers::table
                .filter(subscribers::email.eq("o'hara'--@example.org"))
                .select((subscribers::email, subscribers::name))
                .first(conn)?;
            let article: (String, String, Option<String>) = articles::table
                .filter(articles::title.like("Budget'%"))
                .select((articles::title, articles::url, articles::author))
                .first(conn)?;
            Ok((subscriber, article))
        })
        .await
        .unwrap();
    assert_eq!(stored.0, (email.to_owned(), Some(name.to_owned())));
    assert_eq!(
        stored.1,
        (
            title.to_owned(),
            // Stored as the URL standard writes it: the quotes percent-encoded.
            url::Url::parse(url).unwrap().to_string(),
            Some("\" OR 1=1 --".to_owned())
        )
    );
    assert_eq!(table_names(&app).await, tables_before, "no table dropped");
    let counts = counts(&app).await;
    assert_eq!(counts.articles, 3, "no article deleted");
    assert_eq!(
        counts.subscribers,
        [("confirmed".to_owned(), 1), ("pending".to_owned(), 2)],
        "no subscriber lost"
    );
}

async fn table_names(app: &TestApp) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let query = if app.database.is_postgres() {
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY name"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    };
    app.state
        .db
        .run(move |conn| {
            Ok(diesel::sql_query(query)
                .load::<Table>(conn)?
                .into_iter()
                .map(|t| t.name)
                .collect())
        })
        .await
        .unwrap()
}

/// Settings for an app behind a proxy on 127.0.0.1, so each request can come from its
/// own client address: the admin gate allows each client five wrong tokens a minute.
const BEHIND_A_PROXY: [(&str, &str); 1] = [("TRUSTED_PROXY", "127.0.0.1")];

/// The `n`th of many distinct client addresses.
fn client_address(n: usize) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

#[tokio::test]
async fn a_wrong_missing_or_differently_cased_admin_token_gets_401_and_changes_nothing() {
    let Baseline { app, .. } = baseline_with(&BEHIND_A_PROXY).await;
    let before = counts(&app).await;
    let basic = format!("Basic {}", base64_encode(&format!("admin:{ADMIN_TOKEN}")));
    let bearer = |token: &str| format!("Bearer {token}");
    let authorizations: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some(bearer("wrong")),
        Some(bearer(&ADMIN_TOKEN.to_uppercase())),
        Some(bearer(&ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1])),
        Some(bearer(&format!("{ADMIN_TOKEN}0"))),
        Some(bearer(&format!("{ADMIN_TOKEN} {ADMIN_TOKEN}"))),
        Some(bearer(&"x".repeat(10_000))),
        Some(basic),
        Some(format!("Token {ADMIN_TOKEN}")),
        Some(ADMIN_TOKEN.into()),
    ];
    let mut client = 0;
    for authorization in &authorizations {
        for (method, path) in [
            ("GET", "/api/subscribers"),
            ("POST", "/api/articles"),
            ("POST", "/api/digests"),
            ("GET", "/api/digests/preview"),
            ("GET", "/api/digests/1"),
        ] {
            client += 1;
            let mut request = match method {
                "GET" => app.client.get(app.url(path)),
                _ => app
                    .client
                    .post(app.url(path))
                    .json(&json!({ "title": "Injected", "url": "https://evil.example/" })),
            }
            .header("X-Forwarded-For", client_address(client));
            if let Some(value) = authorization {
                request = request.header("Authorization", value);
            }
            let response = request.send().await.unwrap();
            let shown: String = authorization
                .as_deref()
                .unwrap_or("none")
                .chars()
                .take(40)
                .collect();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {shown}"
            );
            let body = response.text().await.unwrap();
            assert!(!body.contains("alice@example.org"), "nothing leaks: {body}");
        }
    }
    // The token anywhere but the header.
    let elsewhere = [
        (format!("/api/subscribers?token={ADMIN_TOKEN}"), None),
        (format!("/api/subscribers?access_token={ADMIN_TOKEN}"), None),
        (
            "/api/subscribers".to_owned(),
            Some(format!("admin_token={ADMIN_TOKEN}")),
        ),
    ];
    for (path, cookie) in elsewhere {
        client += 1;
        let mut request = app
            .client
            .get(app.url(&path))
            .header("X-Forwarded-For", client_address(client));
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        assert_eq!(
            request.send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let not_utf8 = app
        .client
        .get(app.url("/api/subscribers"))
        .header("X-Forwarded-For", client_address(client + 1))
        .header(
            "Authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xfftoken").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(not_utf8.status(), StatusCode::UNAUTHORIZED);

    // One client guessing: five wrong tokens, then 429 without a check, the right
    // token included.
    let guesser = client_address(client + 2);
    let mut statuses = Vec::new();
    for token in [
        "guess1",
        "guess2",
        "guess3",
        "guess4",
        "guess5",
        "guess6",
        ADMIN_TOKEN,
    ] {
        let response = app
            .client
            .get(app.url("/api/subscribers"))
            .bearer_auth(token)
            .header("X-Forwarded-For", &guesser)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);

    assert_eq!(counts(&app).await, before);
    assert_eq!(
        app.api_get("/api/subscribers").await.status(),
        StatusCode::OK,
        "the real one"
    );
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Median time of a refused `GET /api/subscribers` with each of `tokens`, measured
/// interleaved so that drift in the machine's load hits every token alike.
/// Each request comes from its own client address, so the gate's budget of wrong tokens
/// never turns the answer into a 429 without a check.
async fn median_refusal_times(
    app: &TestApp,
    tokens: &[String],
    rounds: usize,
    first_client: usize,
) -> Vec<Duration> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); tokens.len()];
    let mut client = first_client;
    for round in 0..rounds {
        for offset in 0..tokens.len() {
            // Rotate the order each round, so no token always goes first.
            let which = (round + offset) % tokens.len();
            client += 1;
            let request = app
                .client
                .get(app.url("/api/subscribers"))
                .bearer_auth(&tokens[which])
                .header("X-Forwarded-For", client_address(client));
            let started = Instant::now();
            let response = request.send().await.unwrap();
            let took = started.elapsed();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            times[which].push(took);
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

/// Over HTTP the noise is tens of microseconds, so this catches only a gross leak (a
/// lookup, a hash or an early return that depends on how much of the token matches),
/// not a byte-by-byte comparison: that the comparison itself is constant-time rests on
/// `subtle::ConstantTimeEq` over SHA-256 digests in `src/web/admin_auth.rs`.
#[tokio::test]
async fn the_admin_token_check_takes_as_long_for_a_long_shared_prefix_as_for_none() {
    let app = spawn_app_with(&BEHIND_A_PROXY).await;
    let last = ADMIN_TOKEN.len() - 1;
    let tokens = vec![
        // All but the last character right.
        format!(
            "{}{}",
            &ADMIN_TOKEN[..last],
            if ADMIN_TOKEN.ends_with('x') { 'y' } else { 'x' }
        ),
        // Nothing in common, same length.
        "#".repeat(ADMIN_TOKEN.len()),
        // The right prefix, one character short.
        ADMIN_TOKEN[..last].to_owned(),
    ];
    // Warm up connections and caches first.
    median_refusal_times(&app, &tokens, 30, 0).await;
    // Interleaved medians agree within a few µs, under load too; allow far more. A leak
    // this test is for (a lookup or a hash for some tokens only) shows in every try; a
    // burst of load on a shared machine (a build beside the tests) in one try only, so
    // up to three tries are measured and the closest one counts.
    let mut tries = Vec::new();
    for attempt in 0..3 {
        let medians = median_refusal_times(&app, &tokens, 300, 1000 * (attempt + 1)).await;
        let fastest = *medians.iter().min().unwrap();
        let slowest = *medians.iter().max().unwrap();
        println!(
            "admin token timing, median of 300 refused requests each: shared prefix {:?}, \
             nothing shared {:?}, prefix one short {:?}",
            medians[0], medians[1], medians[2]
        );
        let allowed = (fastest / 5).max(Duration::from_micros(100));
        if slowest - fastest <= allowed {
            return;
        }
        tries.push((slowest - fastest, allowed, medians));
    }
    panic!(
        "in every try the medians differ by more than allowed (spread, allowed, medians): \
         {tries:?}"
    );
}
