//! Delivering several newsletters' digests (issue 11, after review): digests composed at
//! one moment, stories a digest had no room for, readers who leave one newsletter, the
//! browser link of a private newsletter, the send page's count and the site's feeds.

use std::collections::HashMap;
use std::time::Duration;

use diesel::prelude::*;
use newsletter::domain::SubscriptionStatus;
use serde_json::{Value, json};

use crate::admin_pages::Admin;
use crate::feeds::{FeedServer, http_response, spawn_app_allowing_local_feeds};
use crate::newsletter_digests::{
    add_article_in, add_newsletter, put_on, send, send_and_wait, with_readers,
};
use crate::support::smtp_server::Faults;
use crate::support::{TestApp, spawn_app, spawn_app_with};

/// How many digests each (reader, List-Id) had.
fn per_reader_and_list(app: &TestApp) -> HashMap<(String, String), usize> {
    let mut seen = HashMap::new();
    for mail in app.smtp.messages() {
        let list = mail.header("List-Id").expect("a List-Id");
        for to in &mail.to {
            *seen.entry((to.clone(), list.clone())).or_insert(0) += 1;
        }
    }
    seen
}

/// Stores `language` as reader `id`'s.
async fn set_language(app: &TestApp, id: i64, language: &'static str) {
    app.state
        .db
        .write(move |conn| {
            use newsletter::db::schema::subscribers;
            diesel::update(subscribers::table.find(id))
                .set(subscribers::language.eq(Some(language)))
                .execute(conn)?;
            Ok(())
        })
        .await
        .expect("the language is stored");
}

#[tokio::test]
async fn newsletters_composed_at_one_moment_with_a_russian_reader_each_deliver_once() {
    let app = spawn_app().await;
    let emails = ["ru@example.kz", "en@example.kz"];
    let (business, ids) = with_readers(&app, "business", "Business Weekly", "", &emails).await;
    assert!(business > 1);
    let culture = add_newsletter(&app, "culture", "Culture & Arts", "", true, "").await;
    put_on(&app, &ids, culture, SubscriptionStatus::Confirmed).await;
    set_language(&app, ids[0], "ru").await;

    // Several rounds: each compose first finishes digests not wholly queued, which
    // includes one another compose has just made and is rendering this moment.
    let mut created = Vec::new();
    for round in 0..3 {
        add_article_in(
            &app,
            &format!("Tenge Steadies, Day {round}"),
            &format!("https://astanatimes.example/tenge-{round}"),
            &[],
        )
        .await;
        let (a, b, c) = tokio::join!(
            send(&app, "digest"),
            send(&app, "business"),
            send(&app, "culture")
        );
        for response in [a, b, c] {
            assert_eq!(response.status(), 202, "round {round}");
            let digest: Value = response.json().await.unwrap();
            created.push(digest["id"].as_i64().unwrap());
        }
    }
    for id in created {
        let done = app.wait_for_digest(id).await;
        assert_eq!(done["status"], "sent", "{done}");
        assert_eq!(done["sent"], 2, "{done}");
    }

    let seen = per_reader_and_list(&app);
    assert_eq!(seen.len(), 2 * 3, "{seen:?}");
    assert!(
        seen.values().all(|n| *n == 3),
        "one digest a round: {seen:?}"
    );
    let russian = app.smtp.messages_to("ru@example.kz");
    assert!(
        russian
            .iter()
            .all(|mail| mail.html_body().contains("lang=\"ru\"")),
        "the Russian reader reads Russian"
    );
}

#[tokio::test]
async fn a_newsletters_stories_that_did_not_fit_go_in_its_next_digest() {
    let app = spawn_app().await;
    let _ = with_readers(
        &app,
        "business",
        "Business Weekly",
        "",
        &["reader@example.kz"],
    )
    .await;
    // Long links: even listed under "More stories", not all fit under Gmail's limit.
    let total = 90;
    for n in 0..total {
        let url = format!(
            "https://astanatimes.example/{n}/{}",
            "long-path-segment/".repeat(80)
        );
        add_article_in(
            &app,
            &format!("Story {n} {}", "word ".repeat(30)),
            &url,
            &[],
        )
        .await;
    }

    let first = send_and_wait(&app, "business").await;
    let in_first = first["articles"].as_i64().unwrap();
    assert!(0 < in_first && in_first < total, "{first}");
    let mut carried = in_first;
    for _ in 0..3 {
        let response = send(&app, "business").await;
        if response.status() != 202 {
            break;
        }
        let created: Value = response.json().await.unwrap();
        let done = app.wait_for_digest(created["id"].as_i64().unwrap()).await;
        carried += done["articles"].as_i64().unwrap();
    }
    assert_eq!(carried, total, "every story went out, none twice");
    let mails = app.smtp.messages_to("reader@example.kz");
    let stories: usize = (0..total)
        .filter(|n| {
            mails.iter().any(|m| {
                m.text_body()
                    .contains(&format!("https://astanatimes.example/{n}/"))
            })
        })
        .count();
    assert_eq!(stories, usize::try_from(total).unwrap());
}

#[tokio::test]
async fn a_reader_who_leaves_one_newsletter_gets_no_more_of_its_queued_digest_but_the_others() {
    let app = spawn_app().await;
    let reader = "leaves-business@example.kz";
    let (business, ids) = with_readers(&app, "business", "Business Weekly", "", &[reader]).await;
    let culture = add_newsletter(&app, "culture", "Culture & Arts", "", true, "").await;
    put_on(&app, &ids, culture, SubscriptionStatus::Confirmed).await;
    add_article_in(
        &app,
        "Tenge Steadies",
        "https://astanatimes.example/tenge",
        &[],
    )
    .await;

    app.smtp.set_faults(Faults {
        refuse_all: true,
        ..Faults::default()
    });
    let response = send(&app, "business").await;
    assert_eq!(response.status(), 202);
    let weekly: Value = response.json().await.unwrap();
    let weekly = weekly["id"].as_i64().unwrap();
    let (leaver, app) = (ids[0], &app);
    let attempts = || app.delivery_state(weekly, leaver);
    // Refused once: it waits to be retried.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while attempts().await.1 == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The one click of the business digest's List-Unsubscribe.
    let left = app
        .client
        .post(app.state.unsubscribe_url_for(leaver, business))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 200);
    // A claim taken just before may still be in flight: wait until it is settled again.
    let (_, at_leaving, _) = attempts().await;
    loop {
        let (status, tries, unlocked) = attempts().await;
        if status == "skipped" || (tries > at_leaving && unlocked) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never settled again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.smtp.set_faults(Faults::default());
    let status = app.wait_for_digest(weekly).await;
    assert_eq!(
        (status["sent"].as_i64(), status["skipped"].as_i64()),
        (Some(0), Some(1)),
        "{status}"
    );
    send_and_wait(app, "culture").await;

    let host = app.state.settings.public_host();
    let lists: Vec<String> = app
        .smtp
        .messages_to(reader)
        .iter()
        .map(|m| m.header("List-Id").unwrap())
        .collect();
    assert_eq!(lists, [format!("Culture & Arts <culture.{host}>")]);
}

#[tokio::test]
async fn a_private_newsletters_digest_has_no_view_in_browser_link() {
    let app = spawn_app().await;
    let staff = add_newsletter(&app, "staff", "Staff Notes", "", false, "").await;
    let business = add_newsletter(&app, "business", "Business Weekly", "", true, "").await;
    let ids = app.import_confirmed(&["reader@example.kz"]).await;
    put_on(&app, &ids, staff, SubscriptionStatus::Confirmed).await;
    put_on(&app, &ids, business, SubscriptionStatus::Confirmed).await;
    add_article_in(
        &app,
        "Office Moves",
        "https://astanatimes.example/office",
        &[],
    )
    .await;

    let notes = send_and_wait(&app, "staff").await;
    let weekly = send_and_wait(&app, "business").await;
    let mails = app.wait_for_mail_to("reader@example.kz", 2).await;
    let of = |slug: &str| {
        mails
            .iter()
            .find(|m| m.header("List-Id").unwrap().contains(&format!("<{slug}.")))
            .unwrap()
    };
    let view = "View this email in your browser";
    let private = of("staff");
    for body in [private.text_body(), private.html_body()] {
        assert!(!body.contains(view), "{body}");
        assert!(
            !body.contains(&format!("/archive/{}", notes["id"])),
            "{body}"
        );
    }
    let public = of("business");
    for body in [public.text_body(), public.html_body()] {
        assert!(body.contains(view), "{body}");
        assert!(
            body.contains(&format!("/archive/{}", weekly["id"])),
            "{body}"
        );
    }
}

#[tokio::test]
async fn the_send_page_counts_the_newsletters_own_readers() {
    let app = spawn_app().await;
    let ids = app
        .import_confirmed(&["stays@example.kz", "left-daily@example.kz"])
        .await;
    put_on(&app, &ids[1..], 1, SubscriptionStatus::Unsubscribed).await;
    app.add_article("Story", "https://astanatimes.example/story")
        .await;
    let admin = Admin::log_in(&app).await;
    let confirm = admin.get("/admin/digests/send").await.text().await.unwrap();
    assert!(confirm.contains("Send to 1 reader<"), "{confirm}");
}

#[tokio::test]
async fn feed_url_cannot_be_added_again_as_a_feed() {
    let feed_url = "https://astanatimes.example/feed";
    let app = spawn_app_with(&[("FEED_URL", feed_url)]).await;
    let refused = app
        .api_post("/api/feeds", &json!({ "url": feed_url, "section": "news" }))
        .await;
    assert_eq!(refused.status(), 409);
    let body = refused.text().await.unwrap();
    assert!(body.contains("that is FEED_URL"), "{body}");

    let admin = Admin::log_in(&app).await;
    let refused = admin.post("/admin/feeds", &[("url", feed_url)]).await;
    assert_eq!(refused.status(), 409);
    let page = refused.text().await.unwrap();
    assert!(page.contains("that is FEED_URL"), "{page}");
    let listed: Value = app.api_get("/api/feeds").await.json().await.unwrap();
    assert_eq!(listed["feeds"], json!([]));

    let other = "https://astanatimes.example/category/business/feed";
    let added = app.api_post("/api/feeds", &json!({ "url": other })).await;
    assert_eq!(added.status(), 201);
}

#[tokio::test]
async fn a_story_on_the_main_feed_and_a_category_feed_is_in_the_categorys_section() {
    let app = spawn_app_allowing_local_feeds().await;
    let body = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title>
        <item><title>Tenge Steadies</title><link>https://astanatimes.example/tenge</link>
        <guid>https://astanatimes.example/?p=1</guid><category>Kazakhstan</category></item>
        </channel></rss>"#;
    let serve = || {
        FeedServer::start(|_| {
            http_response("200 OK", &[("Content-Type", "application/rss+xml")], body)
        })
    };
    let (main, business) = (serve().await, serve().await);
    let added = app
        .api_post(
            "/api/feeds",
            &json!({ "url": business.url, "section": "Business" }),
        )
        .await;
    assert_eq!(added.status(), 201);

    newsletter::digest::schedule::run_feeds_job(&app.state, Some(main.url.as_str())).await;

    let waiting = crate::articles::waiting_articles(&app).await;
    let got: Vec<(&str, &str)> = waiting
        .iter()
        .map(|a| (a.url.as_str(), a.sections.as_str()))
        .collect();
    assert_eq!(
        got,
        [("https://astanatimes.example/tenge", "kazakhstan,business")]
    );
}
