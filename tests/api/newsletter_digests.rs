//! The digests of several newsletters (issue 11): article sections, several feeds,
//! "sent" per newsletter, composing, schedules and mail per newsletter.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use newsletter::domain::SubscriptionStatus;
use serde_json::{Value, json};

use crate::admin_pages::Admin;
use crate::feeds::{FeedServer, http_response, request_header, spawn_app_allowing_local_feeds};
use crate::support::app::spawn_app_on_database;
use crate::support::{TestApp, TestDatabase, Workspace, eventually, link_in, spawn_app};

/// Adds a newsletter through `POST /api/newsletters`; `sections` separated by `,`,
/// `schedule` a cron string or "" for manual sends. Returns its id.
pub(crate) async fn add_newsletter(
    app: &TestApp,
    slug: &str,
    name: &str,
    sections: &str,
    public: bool,
    schedule: &str,
) -> i64 {
    let sections: Vec<&str> = sections.split(',').filter(|s| !s.is_empty()).collect();
    app.create_newsletter(&json!({
        "slug": slug,
        "name": name,
        "description": format!("{name}, in one email."),
        "schedule": schedule,
        "sections": sections,
        "public": public,
    }))
    .await
}

/// A public newsletter sent by hand, with confirmed readers `emails` on it (and on the
/// default one); returns its id and theirs.
pub(crate) async fn with_readers(
    app: &TestApp,
    slug: &str,
    name: &str,
    sections: &str,
    emails: &[&str],
) -> (i64, Vec<i64>) {
    let id = add_newsletter(app, slug, name, sections, true, "").await;
    let ids = app.import_confirmed(emails).await;
    put_on(app, &ids, id, SubscriptionStatus::Confirmed).await;
    (id, ids)
}

/// Sets the subscriptions of readers `ids` to `newsletter_id`, in one transaction.
pub(crate) async fn put_on(
    app: &TestApp,
    ids: &[i64],
    newsletter_id: i64,
    status: SubscriptionStatus,
) {
    let ids = ids.to_vec();
    app.state
        .db
        .write(move |conn| {
            newsletter::db::exclusive(conn, |conn| {
                for &id in &ids {
                    newsletter::db::subscriptions::set(
                        conn,
                        id,
                        newsletter_id,
                        status,
                        newsletter::db::now(),
                    )?;
                }
                Ok(())
            })
        })
        .await
        .expect("subscriptions set");
}

/// Adds an article in `sections` through the API; returns the answer's JSON.
pub(crate) async fn add_article_in(
    app: &TestApp,
    title: &str,
    url: &str,
    sections: &[&str],
) -> Value {
    let response = app
        .api_post(
            "/api/articles",
            &json!({ "title": title, "url": url, "summary": format!("About {title}."), "sections": sections }),
        )
        .await;
    assert_eq!(response.status(), 201, "article {url} is added");
    response.json().await.expect("JSON")
}

/// A received mail's decoded subject.
pub(crate) fn subject_of(mail: &crate::support::smtp_server::ReceivedMail) -> String {
    mail.parsed().subject().unwrap_or_default().to_owned()
}

/// `POST /api/digests {"newsletter": slug}`.
pub(crate) async fn send(app: &TestApp, slug: &str) -> reqwest::Response {
    app.api_post("/api/digests", &json!({ "newsletter": slug }))
        .await
}

/// Sends `slug`'s digest and drives it to the end; returns its `GET /api/digests/{id}`.
pub(crate) async fn send_and_wait(app: &TestApp, slug: &str) -> Value {
    let response = send(app, slug).await;
    assert_eq!(response.status(), 202, "{slug}'s digest is sent");
    let created: Value = response.json().await.expect("JSON");
    app.wait_for_digest(created["id"].as_i64().expect("an id"))
        .await
}

/// The digests of newsletter `newsletter_id`, by id.
pub(crate) async fn digests_of(app: &TestApp, newsletter_id: i64) -> Vec<i64> {
    app.state
        .db
        .run(move |conn| {
            use newsletter::db::schema::digests;
            Ok(digests::table
                .filter(digests::newsletter_id.eq(newsletter_id))
                .order(digests::id.asc())
                .select(digests::id)
                .load(conn)?)
        })
        .await
        .expect("the digests")
}

/// The status of reader `id`'s subscription to `newsletter_id`.
pub(crate) async fn subscription(app: &TestApp, id: i64, newsletter_id: i64) -> String {
    app.state
        .db
        .run(move |conn| {
            use newsletter::db::schema::subscriptions;
            Ok(subscriptions::table
                .find((newsletter_id, id))
                .select(subscriptions::status)
                .first(conn)?)
        })
        .await
        .expect("the subscription")
}

#[tokio::test]
async fn sections_given_to_the_api_are_trimmed_lower_cased_and_shown_with_the_article() {
    let app = spawn_app().await;
    let article = add_article_in(
        &app,
        "Samruk-Kazyna Posts Record Dividend",
        "https://astanatimes.example/dividend",
        &[" Business ", "business", "Culture  News", " "],
    )
    .await;
    assert_eq!(article["sections"], json!(["business", "culture news"]));

    let long = "x".repeat(101);
    let many: Vec<String> = (0..21).map(|n| format!("section {n}")).collect();
    for (sections, what) in [
        (json!("business"), "a string, not a list"),
        (json!([long]), "a name over 100 characters"),
        (json!(many), "more than 20 sections"),
        (json!(["line\u{7}break"]), "a control character"),
    ] {
        let response = app
            .api_post(
                "/api/articles",
                &json!({ "title": "Refused", "url": "https://astanatimes.example/refused", "sections": sections }),
            )
            .await;
        assert_eq!(response.status(), 400, "{what}");
    }
    let waiting = crate::articles::waiting_articles(&app).await;
    assert_eq!(waiting.len(), 1, "a refused article is not stored");
    assert_eq!(waiting[0].sections, "business,culture news");
}

#[tokio::test]
async fn rss_and_atom_categories_become_the_articles_sections() {
    let app = spawn_app_allowing_local_feeds().await;
    let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Business</title>
        <item><title>Tenge steadies</title><link>https://astanatimes.example/tenge</link>
        <category>Business</category><category><![CDATA[ Markets ]]></category><category>business</category></item>
        </channel></rss>"#;
    let atom = r#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
        <title>Culture</title><id>urn:culture</id><updated>2026-11-29T10:00:00Z</updated>
        <entry><title>Opera season opens</title><id>urn:opera</id><updated>2026-11-29T10:00:00Z</updated>
        <link href="https://astanatimes.example/opera"/><category term="Culture"/></entry></feed>"#;
    for body in [rss, atom] {
        let body = body.as_bytes().to_vec();
        let server = FeedServer::start(move |_| {
            http_response("200 OK", &[("Content-Type", "application/xml")], &body)
        })
        .await;
        let report = newsletter::feed::import_feed(&app.state, &server.url)
            .await
            .expect("the feed imports");
        assert_eq!(report.new, 1, "{report:?}");
    }
    let waiting = crate::articles::waiting_articles(&app).await;
    let sections: Vec<&str> = waiting.iter().map(|a| a.sections.as_str()).collect();
    assert_eq!(sections, ["business,markets", "culture"]);
}

#[tokio::test]
async fn add_article_takes_repeated_section_options() {
    let workspace = Workspace::new();
    let run = workspace
        .newsletter(&[
            "add-article",
            "--title",
            "Astana Opera Tours Europe",
            "--url",
            "https://astanatimes.example/opera-tour",
            "--section",
            "Culture",
            "--section",
            " Travel ",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let waiting = workspace.waiting_articles();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].sections, "culture,travel");

    let refused = workspace
        .newsletter(&[
            "add-article",
            "--title",
            "Refused",
            "--url",
            "https://astanatimes.example/refused",
            "--section",
            &"x".repeat(101),
        ])
        .await;
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(refused.stderr.contains("--section: "), "{}", refused.stderr);
    assert_eq!(workspace.waiting_articles().len(), 1);
}

#[tokio::test]
async fn feeds_are_added_listed_and_removed_through_the_api_and_bad_ones_refused() {
    let app = spawn_app().await;
    for (body, what) in [
        (json!({}), "no address"),
        (
            json!({ "url": "ftp://astanatimes.example/feed" }),
            "not http",
        ),
        (json!({ "url": "astanatimes.example/feed" }), "no scheme"),
        (
            json!({ "url": "http://127.0.0.1/feed" }),
            "a loopback address",
        ),
        (json!({ "url": "http://[::1]/feed" }), "a loopback address"),
        (
            json!({ "url": "http://10.0.0.7/feed" }),
            "a private address",
        ),
        (
            json!({ "url": "https://astanatimes.example/feed", "section": "x".repeat(101) }),
            "a section too long",
        ),
        (
            json!({ "url": "https://astanatimes.example/feed", "colour": "red" }),
            "an unknown field",
        ),
        (json!({ "url": 7 }), "not a string"),
    ] {
        let response = app.api_post("/api/feeds", &body).await;
        assert_eq!(response.status(), 400, "{what}");
    }
    let listed: Value = app.api_get("/api/feeds").await.json().await.unwrap();
    assert_eq!(listed["feeds"], json!([]), "nothing was added");

    let response = app
        .api_post(
            "/api/feeds",
            &json!({ "url": "https://astanatimes.example/category/business/feed", "section": " Business " }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let feed: Value = response.json().await.unwrap();
    assert_eq!(feed["section"], "business");
    let taken = app
        .api_post(
            "/api/feeds",
            &json!({ "url": "https://astanatimes.example/category/business/feed" }),
        )
        .await;
    assert_eq!(taken.status(), 409);
    let listed: Value = app.api_get("/api/feeds").await.json().await.unwrap();
    assert_eq!(listed["feeds"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed["feeds"][0]["url"],
        "https://astanatimes.example/category/business/feed"
    );

    let unauthorised = app
        .client
        .delete(app.url(&format!("/api/feeds/{}", feed["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    let delete = |id: String| {
        app.client
            .delete(app.url(&format!("/api/feeds/{id}")))
            .bearer_auth(crate::support::ADMIN_TOKEN)
            .send()
    };
    assert_eq!(delete(feed["id"].to_string()).await.unwrap().status(), 204);
    assert_eq!(delete(feed["id"].to_string()).await.unwrap().status(), 404);
    assert_eq!(
        delete("nine".into()).await.unwrap().status(),
        400,
        "not an id"
    );
    let listed: Value = app.api_get("/api/feeds").await.json().await.unwrap();
    assert_eq!(listed["feeds"], json!([]));
}

/// A one-item RSS feed of `slug`, served with `etag` and answering 304 to it.
async fn served_feed(slug: &'static str, etag: &'static str) -> FeedServer {
    let body = format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>{slug}</title>
        <item><title>News of {slug}</title><link>https://astanatimes.example/{slug}/1</link>
        <category>Kazakhstan</category></item></channel></rss>"#
    )
    .into_bytes();
    FeedServer::start(move |head| {
        if request_header(head, "If-None-Match") == Some(etag) {
            http_response("304 Not Modified", &[("ETag", etag)], b"")
        } else {
            http_response(
                "200 OK",
                &[("Content-Type", "application/rss+xml"), ("ETag", etag)],
                &body,
            )
        }
    })
    .await
}

#[tokio::test]
async fn the_feed_job_polls_every_feed_with_its_own_conditional_get_and_section() {
    let app = spawn_app_allowing_local_feeds().await;
    let business = served_feed("business", "\"b-1\"").await;
    let culture = served_feed("culture", "\"c-1\"").await;
    for (server, section) in [(&business, Some("Business")), (&culture, None)] {
        let response = app
            .api_post(
                "/api/feeds",
                &json!({ "url": server.url, "section": section }),
            )
            .await;
        assert_eq!(response.status(), 201);
    }

    newsletter::digest::schedule::run_feeds_job(&app.state, None).await;
    newsletter::digest::schedule::run_feeds_job(&app.state, None).await;

    let waiting = crate::articles::waiting_articles(&app).await;
    let got: Vec<(&str, &str)> = waiting
        .iter()
        .map(|a| (a.url.as_str(), a.sections.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "https://astanatimes.example/business/1",
                "kazakhstan,business"
            ),
            ("https://astanatimes.example/culture/1", "kazakhstan"),
        ]
    );
    for (server, etag) in [(&business, "\"b-1\""), (&culture, "\"c-1\"")] {
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{requests:#?}");
        assert_eq!(request_header(&requests[0], "If-None-Match"), None);
        assert_eq!(
            request_header(&requests[1], "If-None-Match"),
            Some(etag),
            "each feed's second poll sends its own ETag"
        );
    }
}

#[tokio::test]
async fn each_newsletter_sends_the_articles_of_its_sections_that_it_has_not_sent() {
    let app = spawn_app().await;
    let business = add_newsletter(&app, "business", "Business Weekly", "business", true, "").await;
    let [both, weekly_only] = app
        .import_confirmed(&["both@example.kz", "weekly@example.kz"])
        .await[..]
    else {
        unreachable!()
    };
    put_on(
        &app,
        &[both, weekly_only],
        business,
        SubscriptionStatus::Confirmed,
    )
    .await;
    put_on(&app, &[weekly_only], 1, SubscriptionStatus::Unsubscribed).await;
    add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &["Business"],
    )
    .await;
    add_article_in(
        &app,
        "Opera Season Opens",
        "https://astanatimes.example/opera",
        &["culture"],
    )
    .await;

    let weekly = send_and_wait(&app, "business").await;
    assert_eq!(
        (weekly["articles"].as_i64(), weekly["sent"].as_i64()),
        (Some(1), Some(2)),
        "{weekly}"
    );
    let mail = &app.wait_for_mail_to("weekly@example.kz", 1).await[0];
    assert!(
        subject_of(mail).contains("Business Weekly"),
        "{}",
        subject_of(mail)
    );
    assert!(mail.html_body().contains("Tenge Steadies"));
    assert!(
        !mail.html_body().contains("Opera Season Opens"),
        "not in its sections"
    );

    // The daily (the default newsletter) takes every article, the one the weekly sent too.
    let daily = send_and_wait(&app, "digest").await;
    assert_eq!(
        (daily["articles"].as_i64(), daily["sent"].as_i64()),
        (Some(2), Some(1)),
        "{daily}"
    );
    assert_eq!(
        app.send_digest_now().await.status(),
        409,
        "nothing new for the daily"
    );

    // Nothing new for the weekly either; then one more business story is.
    assert_eq!(send(&app, "business").await.status(), 409);
    add_article_in(
        &app,
        "Oil Output Rises",
        "https://astanatimes.example/oil",
        &["business"],
    )
    .await;
    let again = send_and_wait(&app, "business").await;
    assert_eq!(again["articles"].as_i64(), Some(1), "{again}");
    let mails = app.wait_for_mail_to("both@example.kz", 3).await;
    assert_eq!(mails.len(), 3, "two weeklies and one daily");
    assert!(mails[2].html_body().contains("Oil Output Rises"));
    assert!(
        !mails[2].html_body().contains("Tenge Steadies"),
        "sent once per newsletter"
    );
}

#[tokio::test]
async fn a_first_digest_reaches_back_seven_days_and_a_later_one_to_its_previous() {
    let app = spawn_app().await;
    let _ = with_readers(
        &app,
        "business",
        "Business Weekly",
        "",
        &["reader@example.kz"],
    )
    .await;
    let days_ago = |days: i64| (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339();
    for (title, url, published) in [
        ("Old Story", "https://astanatimes.example/old", days_ago(10)),
        (
            "Fresh Story",
            "https://astanatimes.example/fresh",
            days_ago(3),
        ),
    ] {
        let response = app
            .api_post(
                "/api/articles",
                &json!({ "title": title, "url": url, "published_at": published }),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
    // The articles were added now: backdate the old one's arrival too.
    app.state
        .db
        .run(|conn| {
            use newsletter::db::schema::articles;
            diesel::update(
                articles::table.filter(articles::url.eq("https://astanatimes.example/old")),
            )
            .set(articles::created_at.eq(newsletter::db::now() - chrono::Duration::days(10)))
            .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();

    let first = send_and_wait(&app, "business").await;
    assert_eq!(first["articles"].as_i64(), Some(1), "{first}");
    let mail = &app.wait_for_mail_to("reader@example.kz", 1).await[0];
    assert!(mail.html_body().contains("Fresh Story"));
    assert!(!mail.html_body().contains("Old Story"), "older than a week");
    // The default newsletter takes everything waiting, as it always did.
    let daily = send_and_wait(&app, "digest").await;
    assert_eq!(daily["articles"].as_i64(), Some(2), "{daily}");
}

#[tokio::test]
async fn a_digest_for_an_unknown_or_archived_newsletter_is_refused_and_nothing_is_sent() {
    let app = spawn_app().await;
    let business = add_newsletter(&app, "business", "Business Weekly", "business", true, "").await;
    let old = add_newsletter(&app, "old", "Old Letter", "", true, "").await;
    app.state
        .db
        .run(move |conn| {
            use newsletter::db::schema::newsletters;
            diesel::update(newsletters::table.find(old))
                .set(newsletters::archived.eq(true))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let ids = app.import_confirmed(&["reader@example.kz"]).await;
    put_on(&app, &ids, business, SubscriptionStatus::Confirmed).await;
    put_on(&app, &ids, old, SubscriptionStatus::Confirmed).await;
    add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &["business"],
    )
    .await;
    add_article_in(
        &app,
        "Opera Season Opens",
        "https://astanatimes.example/opera",
        &["culture"],
    )
    .await;

    for body in [
        json!({ "newsletter": "nope" }),
        json!({ "newsletter": "old" }),
        json!({ "newsletter": "" }),
        json!({ "newsletter": 5 }),
    ] {
        let response = app.api_post("/api/digests", &body).await;
        assert_eq!(response.status(), 400, "{body}");
    }
    for query in ["nope", "old"] {
        let response = app
            .api_get(&format!("/api/digests/preview?newsletter={query}"))
            .await;
        assert_eq!(response.status(), 400, "{query}");
    }
    assert!(digests_of(&app, business).await.is_empty());
    assert!(digests_of(&app, old).await.is_empty());

    let preview = app
        .api_get("/api/digests/preview?newsletter=business")
        .await;
    assert_eq!(preview.status(), 200);
    let subject = preview.headers()["x-digest-subject"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(subject.contains("Business%20Weekly"), "{subject}");
    let html = preview.text().await.unwrap();
    assert!(html.contains("Tenge Steadies") && !html.contains("Opera Season Opens"));
    // The default newsletter's preview, as before, takes both.
    let html = app
        .api_get("/api/digests/preview")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Tenge Steadies") && html.contains("Opera Season Opens"));
    assert!(
        digests_of(&app, business).await.is_empty(),
        "a preview sends nothing"
    );
}

#[tokio::test]
async fn a_newsletters_digest_carries_its_list_id_its_own_unsubscribe_and_a_manage_link() {
    let app = spawn_app().await;
    let (business, ids) = with_readers(
        &app,
        "business",
        "Business Weekly",
        "",
        &["dana@example.kz"],
    )
    .await;
    add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &[],
    )
    .await;
    send_and_wait(&app, "business").await;
    let mail = app.wait_for_mail_to("dana@example.kz", 1).await.remove(0);
    let host = app.state.settings.public_host();

    assert_eq!(
        mail.header("List-Id").as_deref(),
        Some(format!("Business Weekly <business.{host}>").as_str())
    );
    let feedback_id = mail.header("Feedback-ID").unwrap();
    assert!(
        feedback_id.contains(&format!(":business.{host}:")),
        "{feedback_id}"
    );
    let manage_prefix = app.url("/preferences?token=");
    let in_text = link_in(&mail.text_body(), &manage_prefix);
    let in_html = link_in(&mail.html_body(), &manage_prefix);
    // As HTML writes it: the link goes on with the mail's language (`&amp;lang=`).
    assert_eq!(in_text, in_html.replace("&amp;", "&"));
    assert!(mail.text_body().contains("Manage your newsletters"));
    assert!(mail.html_body().contains("Manage your newsletters"));
    let page = app.get(&in_text).await;
    assert_eq!(
        page.status(),
        200,
        "the manage link opens the preferences page"
    );
    assert!(page.text().await.unwrap().contains("Business Weekly"));

    let list_unsubscribe = mail.header("List-Unsubscribe").unwrap();
    let unsubscribe = list_unsubscribe
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        unsubscribe.ends_with(&format!("&list={business}")),
        "{unsubscribe}"
    );
    // The token is signed for its newsletter: pointed at another, it is refused.
    let tampered = unsubscribe.replace(&format!("&list={business}"), "&list=1");
    let refused = app
        .client
        .post(&tampered)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let no_list = unsubscribe.replace(&format!("&list={business}"), "");
    let refused = app.client.post(&no_list).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(subscription(&app, ids[0], 1).await, "confirmed");
    assert_eq!(subscription(&app, ids[0], business).await, "confirmed");

    // The page says which newsletter the link leaves; the one click leaves only it.
    let page = app.get(&unsubscribe).await.text().await.unwrap();
    assert!(page.contains("Business Weekly"), "{page}");
    let left = app
        .client
        .post(&unsubscribe)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 200);
    let page = left.text().await.unwrap();
    assert!(page.contains("no more of Business Weekly"), "{page}");
    assert!(page.contains("/preferences?token="), "{page}");
    assert_eq!(subscription(&app, ids[0], business).await, "unsubscribed");
    assert_eq!(subscription(&app, ids[0], 1).await, "confirmed");
    assert_eq!(
        app.subscriber_status("dana@example.kz").await.as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn the_archive_shows_a_public_newsletters_digests_and_hides_a_private_ones() {
    let app = spawn_app().await;
    let business = add_newsletter(&app, "business", "Business Weekly", "business", true, "").await;
    let staff = add_newsletter(&app, "staff", "Staff Notes", "staff", false, "").await;
    let ids = app.import_confirmed(&["reader@example.kz"]).await;
    put_on(&app, &ids, business, SubscriptionStatus::Confirmed).await;
    put_on(&app, &ids, staff, SubscriptionStatus::Confirmed).await;
    add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &["business"],
    )
    .await;
    add_article_in(
        &app,
        "Office Moves Floors",
        "https://astanatimes.example/office",
        &["staff"],
    )
    .await;
    let weekly = send_and_wait(&app, "business").await;
    let notes = send_and_wait(&app, "staff").await;

    let page = app.get("/archive?newsletter=business").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Tenge Steadies") && !page.contains("Office Moves Floors"),
        "{page}"
    );
    assert!(
        page.contains("Business Weekly"),
        "the page names the newsletter: {page}"
    );
    for slug in ["staff", "nope"] {
        let page = app.get(&format!("/archive?newsletter={slug}")).await;
        assert_eq!(page.status(), 404, "{slug}");
    }
    let all = app.get("/archive").await.text().await.unwrap();
    assert!(
        all.contains("Tenge Steadies") && !all.contains("Office Moves Floors"),
        "{all}"
    );
    assert_eq!(
        app.get(&format!("/archive/{}", weekly["id"]))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(&format!("/archive/{}", notes["id"])).await.status(),
        404
    );
}

#[tokio::test]
async fn three_newsletters_sending_at_once_to_2000_overlapping_readers_send_one_message_each() {
    let app = spawn_app().await;
    let business = add_newsletter(&app, "business", "Business Weekly", "business", true, "").await;
    let culture = add_newsletter(&app, "culture", "Culture & Arts", "culture", true, "").await;
    let emails: Vec<String> = (0..2000)
        .map(|n| format!("reader{n:04}@example.kz"))
        .collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    let ids = app.import_confirmed(&refs).await;
    // Overlapping lists: every second reader takes the business letter, every third the
    // culture one, and every fifth has left the default one.
    let pick = |every: usize| -> Vec<i64> { ids.iter().copied().step_by(every).collect() };
    put_on(&app, &pick(2), business, SubscriptionStatus::Confirmed).await;
    put_on(&app, &pick(3), culture, SubscriptionStatus::Confirmed).await;
    put_on(&app, &pick(5), 1, SubscriptionStatus::Unsubscribed).await;
    add_article_in(
        &app,
        "Astana Hosts the Eurasian Forum",
        "https://astanatimes.example/forum",
        &["business", "culture"],
    )
    .await;

    let (a, b, c) = tokio::join!(
        send(&app, "digest"),
        send(&app, "business"),
        send(&app, "culture")
    );
    let mut created = Vec::new();
    for response in [a, b, c] {
        assert_eq!(response.status(), 202);
        let digest: Value = response.json().await.unwrap();
        created.push(digest["id"].as_i64().unwrap());
    }
    for id in &created {
        let done = app.wait_for_digest(*id).await;
        assert_eq!(done["status"], "sent", "{done}");
        assert_eq!(done["pending"], 0, "{done}");
    }

    let host = app.state.settings.public_host();
    let mut per_reader_and_list: HashMap<(String, String), usize> = HashMap::new();
    for mail in app.smtp.messages() {
        let list = mail.header("List-Id").expect("a List-Id");
        for to in &mail.to {
            *per_reader_and_list
                .entry((to.clone(), list.clone()))
                .or_insert(0) += 1;
        }
    }
    let twice: Vec<_> = per_reader_and_list
        .iter()
        .filter(|(_, n)| **n > 1)
        .collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let count = |suffix: String| {
        per_reader_and_list
            .keys()
            .filter(|(_, list)| list.ends_with(&suffix))
            .count()
    };
    assert_eq!(count(format!("<the-astana-times.{host}>")), 1600);
    assert_eq!(count(format!("<business.{host}>")), 1000);
    assert_eq!(count(format!("<culture.{host}>")), 667);
    assert_eq!(app.smtp.messages().len(), 1600 + 1000 + 667);
    // Reader 0 is on all three but left the default; reader 6 gets all three.
    let lists_of = |n: usize| {
        let mut lists: Vec<String> = per_reader_and_list
            .keys()
            .filter(|(to, _)| *to == emails[n])
            .map(|(_, list)| {
                list.rsplit_once('<')
                    .unwrap()
                    .1
                    .split('.')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        lists.sort();
        lists
    };
    assert_eq!(lists_of(0), ["business", "culture"]);
    assert_eq!(lists_of(6), ["business", "culture", "the-astana-times"]);
}

#[tokio::test]
async fn two_newsletters_retried_after_451s_reach_each_reader_once_with_one_message_id_per_digest()
{
    let app = spawn_app().await;
    let emails = ["aigerim@example.kz", "dana@example.kz", "nurlan@example.kz"];
    with_readers(&app, "business", "Business Weekly", "", &emails).await;
    add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &[],
    )
    .await;
    // Every other message is refused with a 451 and sent again later.
    app.smtp.set_faults(crate::support::smtp_server::Faults {
        temp_fail_every_nth_message: Some(2),
        ..Default::default()
    });
    let mut digests = HashMap::new();
    for slug in ["digest", "business"] {
        let response = send(&app, slug).await;
        assert_eq!(response.status(), 202, "{slug}");
        let created: Value = response.json().await.unwrap();
        digests.insert(slug, created["id"].as_i64().unwrap());
    }
    for id in digests.values() {
        let done = app.wait_for_digest(*id).await;
        assert_eq!(
            (done["status"].as_str(), done["sent"].as_i64()),
            (Some("sent"), Some(3)),
            "{done}"
        );
    }

    let host = app.state.settings.public_host();
    let mut ids = std::collections::HashSet::new();
    for email in emails {
        let reader = app.subscriber_id(email).await;
        let mails = app.smtp.messages_to(email);
        assert_eq!(mails.len(), 2, "one digest of each newsletter: {email}");
        for (slug, list) in [
            ("digest", format!("<the-astana-times.{host}>")),
            ("business", format!("<business.{host}>")),
        ] {
            let mail = mails
                .iter()
                .find(|m| m.header("List-Id").is_some_and(|l| l.ends_with(&list)))
                .unwrap_or_else(|| panic!("{email} got {slug}'s digest"));
            let id = mail.header("Message-ID").unwrap();
            // Derived from (digest, reader): a message sent again after a 451 carries
            // the id its first attempt had.
            assert_eq!(
                id,
                newsletter::digest::delivery::message_id(&app.state, digests[slug], reader)
            );
            ids.insert(id);
        }
    }
    assert_eq!(ids.len(), 6, "no two messages share an id: {ids:?}");
    let retried: i64 = app
        .state
        .db
        .run(|conn| {
            use newsletter::db::schema::deliveries;
            Ok(deliveries::table
                .filter(deliveries::attempts.gt(1))
                .count()
                .get_result(conn)?)
        })
        .await
        .unwrap();
    assert!(retried >= 3, "the 451s were retried ({retried} deliveries)");
}

#[tokio::test]
async fn two_nodes_running_one_newsletters_tick_compose_its_digest_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = Arc::new(TestDatabase::new(dir.path().join("nodes.db")));
    let one = spawn_app_on_database(database.clone(), &[]).await;
    let two = spawn_app_on_database(database, &[]).await;
    let business = add_newsletter(&one, "business", "Business Weekly", "", true, "").await;
    let ids = one
        .import_confirmed(&["a@example.kz", "b@example.kz"])
        .await;
    put_on(&one, &ids, business, SubscriptionStatus::Confirmed).await;
    add_article_in(
        &one,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &[],
    )
    .await;

    tokio::join!(
        newsletter::digest::schedule::run_digest_job(&one.state, business),
        newsletter::digest::schedule::run_digest_job(&two.state, business),
    );

    let made = digests_of(&one, business).await;
    assert_eq!(made.len(), 1, "{made:?}");
    one.wait_for_digest(made[0]).await;
    two.drain_queues().await;
    let sent = one.smtp.messages().len() + two.smtp.messages().len();
    assert_eq!(sent, 2, "one message per reader");
}

#[tokio::test]
async fn the_scheduler_follows_a_newsletters_schedule_changed_after_it_started() {
    let app = spawn_app().await;
    let (flash, _) = with_readers(&app, "flash", "Flash", "", &["reader@example.kz"]).await;
    add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &[],
    )
    .await;
    let mut schedule = newsletter::digest::schedule::start(&app.state)
        .await
        .expect("the schedule starts");
    assert!(
        digests_of(&app, flash).await.is_empty(),
        "sent by hand only"
    );

    // Any writer may change it: here straight in the database.
    app.state
        .db
        .run(move |conn| {
            use newsletter::db::schema::newsletters;
            diesel::update(newsletters::table.find(flash))
                .set(newsletters::schedule.eq("* * * * * *"))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();

    let made = eventually("the flash digest", Duration::from_secs(60), async || {
        Some(digests_of(&app, flash).await).filter(|d| !d.is_empty())
    })
    .await;
    app.wait_for_digest(made[0]).await;
    let mails = app.wait_for_mail_to("reader@example.kz", 1).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].header("List-Id").unwrap().contains("<flash."));
    if let Some(scheduler) = schedule.scheduler.as_mut() {
        scheduler.shutdown().await.expect("the scheduler stops");
    }
}

#[tokio::test]
async fn send_digest_sends_the_newsletter_it_names_and_refuses_an_unknown_one() {
    let workspace = Workspace::new();
    let smtp = crate::support::SmtpServer::start().await;
    let smtp_url = smtp.url();
    let settings = [("SMTP_URL", smtp_url.as_str())];
    // The app's own workers may take the command's deliveries (they share the queue):
    // both send to the one server, so whichever does, the reader gets one message there.
    let app = workspace.spawn_app_with(&settings).await;
    let business = add_newsletter(&app, "business", "Business Weekly", "", true, "").await;
    let ids = app
        .import_confirmed(&["reader@example.kz", "other@example.kz"])
        .await;
    put_on(&app, &ids[..1], business, SubscriptionStatus::Confirmed).await;
    add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &[],
    )
    .await;

    let unknown = workspace
        .newsletter_with(&settings, &["send-digest", "--newsletter", "nope"])
        .await;
    assert_eq!(unknown.code, Some(2), "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("no newsletter `nope`"),
        "{}",
        unknown.stderr
    );
    assert!(digests_of(&app, business).await.is_empty());

    let run = workspace
        .newsletter_with(&settings, &["send-digest", "--newsletter", "business"])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("1 article to 1 reader"),
        "{}",
        run.stderr
    );
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, ["reader@example.kz"]);
    assert!(
        messages[0]
            .header("List-Id")
            .unwrap()
            .contains("<business.")
    );
    assert_eq!(digests_of(&app, business).await.len(), 1);
}

#[tokio::test]
async fn the_admin_digests_page_previews_tests_and_sends_each_newsletter() {
    let app = spawn_app().await;
    let admin = Admin::log_in(&app).await;
    add_article_in(
        &app,
        "Opera Season Opens",
        "https://astanatimes.example/opera",
        &["culture"],
    )
    .await;
    let page = admin.get("/admin/digests").await.text().await.unwrap();
    assert!(
        !page.contains("newsletter-choice"),
        "one newsletter: as it always was"
    );

    let (business, _) = with_readers(
        &app,
        "business",
        "Business Weekly",
        "business",
        &["reader@example.kz"],
    )
    .await;
    add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &["business"],
    )
    .await;
    let page = admin.get("/admin/digests").await.text().await.unwrap();
    assert!(page.contains("newsletter-choice"), "{page}");
    assert!(
        page.contains(r#"href="/admin/digests?newsletter=business""#),
        "{page}"
    );

    let page = admin.get("/admin/digests?newsletter=business").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Tenge Steadies") && !page.contains("Opera Season Opens"),
        "{page}"
    );
    assert!(
        page.contains(r#"href="/admin/digests/send?newsletter=business""#),
        "{page}"
    );
    let preview = admin
        .get("/admin/digests/preview/mail?newsletter=business")
        .await;
    assert_eq!(preview.status(), 200);
    assert!(preview.text().await.unwrap().contains("Tenge Steadies"));
    assert_eq!(
        admin.get("/admin/digests?newsletter=nope").await.status(),
        404
    );

    let test = admin
        .post(
            "/admin/digests/test?newsletter=business",
            &[("email", "editor@example.kz")],
        )
        .await;
    assert_eq!(test.status(), 303);
    let mails = app.wait_for_mail_to("editor@example.kz", 1).await;
    assert!(
        subject_of(&mails[0]).starts_with("[Test] "),
        "{}",
        subject_of(&mails[0])
    );
    assert!(mails[0].header("List-Id").unwrap().contains("<business."));
    assert!(
        digests_of(&app, business).await.is_empty(),
        "a test stores nothing"
    );

    let confirm = admin
        .get("/admin/digests/send?newsletter=business")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        confirm.contains("<strong>1</strong> confirmed reader"),
        "{confirm}"
    );
    let sent = admin
        .post(
            "/admin/digests/send?newsletter=business",
            &[("subject", "")],
        )
        .await;
    assert_eq!(sent.status(), 303);
    let made = digests_of(&app, business).await;
    assert_eq!(made.len(), 1);
    assert_eq!(
        sent.headers()["location"],
        format!("/admin/digests/{}", made[0])
    );
    assert!(
        digests_of(&app, 1).await.is_empty(),
        "the default newsletter sent nothing"
    );
}

#[tokio::test]
async fn the_admin_digests_page_lists_the_history_of_the_newsletter_it_acts_on() {
    let app = spawn_app().await;
    let admin = Admin::log_in(&app).await;
    with_readers(
        &app,
        "business",
        "Business Weekly",
        "business",
        &["reader@example.kz"],
    )
    .await;
    add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &["business"],
    )
    .await;
    let default = send_and_wait(&app, "digest").await["id"].as_i64().unwrap();
    let business = send_and_wait(&app, "business").await["id"]
        .as_i64()
        .unwrap();
    let link = |id: i64| format!(r#"href="/admin/digests/{id}""#);

    let page = admin.get("/admin/digests").await.text().await.unwrap();
    assert!(page.contains(&link(default)), "{page}");
    assert!(!page.contains(&link(business)), "{page}");
    let page = admin
        .get("/admin/digests?newsletter=business")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&link(business)), "{page}");
    assert!(!page.contains(&link(default)), "{page}");
    // The dashboard's recent digests are every newsletter's.
    let page = admin.get("/admin").await.text().await.unwrap();
    assert!(
        page.contains(&link(default)) && page.contains(&link(business)),
        "{page}"
    );
}

#[tokio::test]
async fn the_admin_adds_and_removes_feeds_on_the_articles_page() {
    let app = spawn_app().await;
    let admin = Admin::log_in(&app).await;
    let url = "https://astanatimes.example/category/business/feed";
    let added = admin
        .post("/admin/feeds", &[("url", url), ("section", "Business")])
        .await;
    assert_eq!(added.status(), 303);
    let page = admin.get("/admin/articles").await.text().await.unwrap();
    assert!(
        page.contains(url) && page.contains("<td>business</td>"),
        "{page}"
    );

    let taken = admin.post("/admin/feeds", &[("url", url)]).await;
    assert_eq!(taken.status(), 409);
    for bad in ["/etc/passwd", "http://127.0.0.1/feed", ""] {
        let refused = admin.post("/admin/feeds", &[("url", bad)]).await;
        assert_eq!(refused.status(), 400, "{bad}");
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains(r#"id="feed-add-error""#)
        );
    }
    let listed: Value = app.api_get("/api/feeds").await.json().await.unwrap();
    let feeds = listed["feeds"].as_array().unwrap();
    assert_eq!(feeds.len(), 1);

    let removed = admin
        .post(&format!("/admin/feeds/{}/remove", feeds[0]["id"]), &[])
        .await;
    assert_eq!(removed.status(), 303);
    let listed: Value = app.api_get("/api/feeds").await.json().await.unwrap();
    assert_eq!(listed["feeds"], json!([]));
    let again = admin
        .post(&format!("/admin/feeds/{}/remove", feeds[0]["id"]), &[])
        .await;
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn a_newsletters_digest_a_crash_left_unqueued_goes_to_its_own_readers_once() {
    let app = spawn_app().await;
    let business = add_newsletter(&app, "business", "Business Weekly", "", true, "").await;
    let ids = app
        .import_confirmed(&["both@example.kz", "weekly@example.kz", "daily@example.kz"])
        .await;
    put_on(&app, &ids[..2], business, SubscriptionStatus::Confirmed).await;
    put_on(&app, &ids[1..2], 1, SubscriptionStatus::Unsubscribed).await;
    let article = add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &[],
    )
    .await;
    let article = article["id"].as_i64().unwrap();
    // What a crash right after taking the articles leaves: the digest made and its
    // article taken, nothing rendered, no reader queued.
    let last = *ids.last().unwrap();
    let made = app
        .state
        .db
        .run(move |conn| {
            use newsletter::db::{articles, digests};
            let id = digests::insert_for(conn, business, 1, last, newsletter::db::now())?;
            articles::assign_for(conn, business, &[article], id)?;
            Ok(id)
        })
        .await
        .unwrap();

    // The next send carries it on first, then finds nothing new for the newsletter.
    assert_eq!(send(&app, "business").await.status(), 409);
    let done = app.wait_for_digest(made).await;
    assert_eq!(
        (done["recipients"].as_i64(), done["sent"].as_i64()),
        (Some(2), Some(2)),
        "{done}"
    );
    let received = crate::support::mails_per_recipient(&app.smtp);
    assert_eq!(received.get("both@example.kz"), Some(&1));
    assert_eq!(received.get("weekly@example.kz"), Some(&1));
    assert_eq!(
        received.get("daily@example.kz"),
        None,
        "not on the newsletter"
    );
    let mail = &app.smtp.messages_to("weekly@example.kz")[0];
    assert!(
        subject_of(mail).contains("Business Weekly"),
        "{}",
        subject_of(mail)
    );
    assert!(mail.html_body().contains("Tenge Steadies"));
    // The default newsletter has not sent it: it is still waiting there.
    let daily = send_and_wait(&app, "digest").await;
    assert_eq!(daily["articles"].as_i64(), Some(1), "{daily}");
}

#[tokio::test]
async fn copy_db_carries_the_feeds_the_sections_and_what_each_newsletter_sent() {
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(TestDatabase::sqlite(dir.path().join("old.db")));
    let old = spawn_app_on_database(source.clone(), &[]).await;
    with_readers(
        &old,
        "business",
        "Business Weekly",
        "business",
        &["reader@example.kz"],
    )
    .await;
    let feed = json!({ "url": "https://astanatimes.example/category/business/feed", "section": "business" });
    assert_eq!(old.api_post("/api/feeds", &feed).await.status(), 201);
    add_article_in(
        &old,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &["business"],
    )
    .await;
    send_and_wait(&old, "business").await;

    let target = Arc::new(TestDatabase::new(dir.path().join("new.db")));
    let copied = std::process::Command::new(env!("CARGO_BIN_EXE_newsletter"))
        .args(["copy-db", "--from", source.url(), "--to", target.url()])
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs");
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    let new = spawn_app_on_database(target, &[]).await;

    let listed: Value = new.api_get("/api/feeds").await.json().await.unwrap();
    assert_eq!(listed["feeds"][0]["url"], feed["url"]);
    assert_eq!(listed["feeds"][0]["section"], "business");
    let waiting = crate::articles::waiting_articles(&new).await;
    assert_eq!(waiting.len(), 1, "the default newsletter has not sent it");
    assert_eq!(waiting[0].sections, "business");
    // What the business letter sent before the move is known after it.
    let sent: Vec<(i64, i64)> = new
        .state
        .db
        .run(|conn| {
            use newsletter::db::schema::newsletter_articles;
            Ok(newsletter_articles::table
                .select((
                    newsletter_articles::article_id,
                    newsletter_articles::digest_id,
                ))
                .load(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(sent, [(waiting[0].id, 1)]);
    assert_eq!(send(&new, "business").await.status(), 409);
    let archive = new
        .get("/archive?newsletter=business")
        .await
        .text()
        .await
        .unwrap();
    assert!(archive.contains("Tenge Steadies"), "{archive}");
}
