//! The reader's language kept everywhere after the sign-up (issue 16): the links a mail
//! carries, a sign-up for a known address, the archive, previews, budgets and CSV files.

use newsletter::digest::compose::{DIGEST_HTML_BUDGET, travelling_size};

use crate::admin_pages::Admin;
use crate::languages::{Asked, get_in, language_of, post_in, sign_up_in};
use crate::support::app::{TestApp, spawn_app};
use crate::support::{Workspace, link_in};

/// The page behind `url` (one of ours) as a browser that asks for English gets it.
async fn english_page(app: &TestApp, url: &str) -> String {
    let path = url.strip_prefix(&app.url("")).expect("our link");
    let response = get_in(app, path, "en", Asked::Header).await;
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.expect("a page")
}

#[tokio::test]
async fn links_in_mail_open_their_pages_in_the_mails_language_whatever_the_browser_asks() {
    let app = spawn_app().await;
    let signed_up = post_in(
        &app,
        "/subscriptions",
        "email=olga%40example.kz&name=",
        "ru",
        Asked::Link,
    )
    .await;
    assert_eq!(signed_up.status(), 200);
    let confirmation = app.wait_for_mail_to("olga@example.kz", 1).await.remove(0);
    let confirm = app.confirmation_link(&confirmation);
    assert!(confirm.ends_with("&lang=ru"), "{confirm}");
    let page = english_page(&app, &confirm).await;
    assert!(page.contains("<html lang=\"ru\">"), "{page}");
    assert!(page.contains("<h1>Подтвердите подписку</h1>"), "{page}");
    assert_eq!(app.post_empty(&confirm).await.status(), 200);

    app.add_article("Story one", "https://astanatimes.example/1/")
        .await;
    app.send_digest_and_wait().await;
    let digest = app.wait_for_mail_to("olga@example.kz", 2).await.remove(1);
    let text = digest.text_body();
    for (prefix, heading) in [
        ("/unsubscribe?", "Отписаться?"),
        ("/preferences?", "Управление рассылками"),
    ] {
        let link = link_in(&text, &app.url(prefix));
        assert!(link.ends_with("&lang=ru"), "{link}");
        let page = english_page(&app, &link).await;
        assert!(page.contains("<html lang=\"ru\">"), "{link}\n{page}");
        assert!(page.contains(&format!("<h1>{heading}</h1>")), "{page}");
    }
    // The one-click header is for mail clients: as it was.
    let id = app.subscriber_id("olga@example.kz").await;
    assert_eq!(
        digest.header("List-Unsubscribe").as_deref(),
        Some(format!("<{}>", app.unsubscribe_link(id)).as_str())
    );
}

#[tokio::test]
async fn a_sign_up_in_another_language_changes_a_known_readers_language_only_once_confirmed() {
    let app = spawn_app().await;
    // A confirmed English reader who left, and one who has not confirmed yet.
    sign_up_in(&app, "dana@example.kz", "", "en").await;
    let dana = app.subscriber_id("dana@example.kz").await;
    assert_eq!(
        app.post_empty(&app.unsubscribe_link(dana)).await.status(),
        200
    );
    let pending = post_in(
        &app,
        "/subscriptions",
        "email=aliya%40example.kz&name=",
        "en",
        Asked::Link,
    )
    .await;
    assert_eq!(pending.status(), 200);
    app.wait_for_mail_to("aliya@example.kz", 1).await;
    let aliya = app.subscriber_id("aliya@example.kz").await;

    // Anyone can type their addresses into the Russian form.
    for (email, id, count) in [("dana@example.kz", dana, 2), ("aliya@example.kz", aliya, 2)] {
        let body = format!("email={}&name=", email.replace('@', "%40"));
        let response = post_in(&app, "/subscriptions", &body, "ru", Asked::Link).await;
        assert_eq!(response.status(), 200);
        let mail = app.wait_for_mail_to(email, count).await.remove(count - 1);
        // The confirmation is in the form's language; the reader's stays theirs.
        assert_eq!(mail.header("Content-Language").as_deref(), Some("ru"));
        assert!(mail.html_body().contains("Подтвердить подписку"));
        assert_eq!(
            language_of(&app, id).await.as_deref(),
            Some("en"),
            "{email}"
        );
        // Confirming it is the reader's own choice of the language.
        let link = app.confirmation_link(&mail);
        assert_eq!(app.post_empty(&link).await.status(), 200);
        assert_eq!(
            language_of(&app, id).await.as_deref(),
            Some("ru"),
            "{email}"
        );
    }
}

#[tokio::test]
async fn the_archive_shows_a_digest_in_the_pages_language_and_each_mail_links_its_own() {
    let app = spawn_app().await;
    sign_up_in(&app, "olga@example.kz", "", "ru").await;
    sign_up_in(&app, "dana@example.kz", "", "en").await;
    app.add_article("Story one", "https://astanatimes.example/1/")
        .await;
    let digest = app.send_digest_and_wait().await;
    let id = digest["id"].as_i64().expect("an id");
    let archived = app.url(&format!("/archive/{id}"));

    let russian = app.wait_for_mail_to("olga@example.kz", 2).await.remove(1);
    let view = link_in(&russian.html_body(), &archived);
    assert_eq!(view, format!("{archived}?lang=ru"));
    let page = english_page(&app, &view).await;
    assert!(page.contains("<html lang=\"ru\""), "{page}");
    assert!(page.contains("Читать статью"), "{page}");
    assert!(!page.contains("Read the article"), "{page}");

    let english = app.wait_for_mail_to("dana@example.kz", 2).await.remove(1);
    assert_eq!(link_in(&english.html_body(), &archived), archived);
    let page = english_page(&app, &archived).await;
    assert!(page.contains("Read the article"), "{page}");
    // A browser that asks for Russian gets the Russian render; for Kazakh, which no
    // reader reads, the digest's own.
    let path = format!("/archive/{id}");
    let page = get_in(&app, &path, "ru", Asked::Header)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Читать статью"), "{page}");
    let page = get_in(&app, &path, "kk", Asked::Header)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Read the article"), "{page}");
}

#[tokio::test]
async fn a_newsletter_tied_to_a_language_is_previewed_and_test_sent_in_it() {
    let app = spawn_app().await;
    let tied = app
        .api_patch(
            "/api/newsletters/digest",
            &serde_json::json!({ "language": "kk" }),
        )
        .await;
    assert_eq!(tied.status(), 200);
    app.add_article("Story one", "https://astanatimes.example/1/")
        .await;
    let preview = app.api_get("/api/digests/preview").await;
    assert_eq!(preview.status(), 200);
    assert_eq!(preview.headers()["content-language"], "kk");
    let html = preview.text().await.unwrap();
    assert!(html.contains("<html lang=\"kk\""), "{html}");
    assert!(html.contains("Мақаланы оқу"), "{html}");

    let admin = Admin::log_in(&app).await;
    let page = admin.get("/admin/digests/preview/mail").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Мақаланы оқу"), "{page}");
    let sent = admin
        .post("/admin/digests/test", &[("email", "editor@example.kz")])
        .await;
    assert_eq!(sent.status(), 303);
    let mail = app.wait_for_mail_to("editor@example.kz", 1).await.remove(0);
    assert_eq!(mail.header("Content-Language").as_deref(), Some("kk"));
    assert!(mail.html_body().contains("Мақаланы оқу"));
}

#[tokio::test]
async fn every_language_of_a_long_digest_fits_the_budget_with_the_same_stories() {
    let app = spawn_app().await;
    sign_up_in(&app, "olga@example.kz", "", "ru").await;
    sign_up_in(&app, "dana@example.kz", "", "en").await;
    // Far more than fit in full: each story's chrome ("Читать статью") costs more bytes
    // in Russian than in English.
    let summary = "Astana hosted ministers from across Central Asia this week. ".repeat(6);
    for n in 0..160 {
        let created = app
            .api_post(
                "/api/articles",
                &serde_json::json!({
                    "title": format!("Regional Connectivity Forum Day {n} Closes With Pledges"),
                    "url": format!("https://astanatimes.example/2026/11/forum-{n}/"),
                    "summary": summary,
                }),
            )
            .await;
        assert_eq!(created.status(), 201);
    }
    let digest = app.send_digest_and_wait().await;
    let id = digest["id"].as_i64().expect("an id");
    let (own, translations) = app
        .state
        .db
        .run(move |conn| {
            Ok((
                newsletter::db::digests::find(conn, id)?.expect("the digest"),
                newsletter::db::digests::translations(conn, id)?,
            ))
        })
        .await
        .unwrap();
    let russian = translations
        .iter()
        .find(|t| t.language == "ru")
        .expect("a Russian render");
    let full = own.html_body.matches("Read the article").count();
    assert!(full > 1, "some stories in full");
    assert!(
        full < 160,
        "some stories listed: the test is about the split"
    );
    assert!(
        travelling_size(&own.html_body) <= DIGEST_HTML_BUDGET,
        "{}",
        travelling_size(&own.html_body)
    );
    assert!(
        travelling_size(&russian.html_body) <= DIGEST_HTML_BUDGET,
        "the Russian render is {} bytes as it travels, over {DIGEST_HTML_BUDGET}",
        travelling_size(&russian.html_body)
    );
    // The same stories in full in both.
    assert_eq!(russian.html_body.matches("Читать статью").count(), full);
    let last = format!("forum-{}/", 160 - 1);
    assert_eq!(
        own.html_body.contains(&last),
        russian.html_body.contains(&last)
    );
}

#[tokio::test]
async fn csv_files_carry_the_readers_language() {
    let workspace = Workspace::new();
    let app = workspace.spawn_app().await;
    workspace.write(
        "readers.csv",
        "email,name,language\n\
         aigerim@example.kz,Aigerim,kk\n\
         olga@example.kz,Ольга,RU\n\
         hans@example.de,Hans,de\n\
         dana@example.kz,Dana,\n",
    );
    let run = workspace
        .newsletter(&["subscribers", "import", "readers.csv"])
        .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "readers.csv:4: `de` is not a language the newsletter is written in (en, ru, kk)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(app.subscriber_count().await, 3);
    for (email, language) in [
        ("aigerim@example.kz", Some("kk")),
        ("olga@example.kz", Some("ru")),
        ("dana@example.kz", None),
    ] {
        let id = app.subscriber_id(email).await;
        assert_eq!(language_of(&app, id).await.as_deref(), language, "{email}");
    }

    let admin = Admin::log_in(&app).await;
    let csv = admin
        .get("/admin/subscribers/export.csv")
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().expect("a header row").clone();
    let column = header
        .iter()
        .position(|h| h == "language")
        .expect("a language column");
    let exported: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.expect("a row");
            (r[0].to_owned(), r[column].to_owned())
        })
        .collect();
    assert_eq!(
        exported,
        [
            ("aigerim@example.kz".to_owned(), "kk".to_owned()),
            ("olga@example.kz".to_owned(), "ru".to_owned()),
            ("dana@example.kz".to_owned(), String::new()),
        ]
    );
}
