//! Several newsletters (issue 11): an installation from before them becomes one, the
//! default, and loses nothing.

use std::sync::Arc;

use diesel::prelude::*;

use crate::support::app::spawn_app_on_database;
use crate::support::database::TestDatabase;

/// The readers' subscriptions to newsletter `newsletter_id`: (email, status) by email.
async fn subscriptions_of(
    app: &crate::support::app::TestApp,
    newsletter_id: i64,
) -> Vec<(String, String)> {
    app.state
        .db
        .run(move |conn| {
            use newsletter::db::schema::{subscribers, subscriptions};
            Ok(subscriptions::table
                .inner_join(subscribers::table)
                .filter(subscriptions::newsletter_id.eq(newsletter_id))
                .order(subscribers::email.asc())
                .select((subscribers::email, subscriptions::status))
                .load(conn)?)
        })
        .await
        .expect("query")
}

#[tokio::test]
async fn an_installation_from_before_newsletters_becomes_the_default_one_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database = Arc::new(TestDatabase::new(dir.path().join("newsletter.db")));
    // The schema of the release before newsletters, with the rows it would hold.
    let old = newsletter::db::Db::connect(database.url()).unwrap();
    let first_new = if database.is_postgres() {
        "2026-11-30-000007"
    } else {
        "2026-11-30-000013"
    };
    old.migrate_before(first_new).unwrap();
    old.run_blocking(|conn| {
        for statement in [
            "INSERT INTO subscribers (id, email, name, status, created_at, updated_at, confirmed_at) VALUES
                (1, 'aigerim@example.kz', 'Aigerim', 'confirmed', '2026-10-01 08:00:00', '2026-10-01 08:00:00', '2026-10-01 08:05:00'),
                (2, 'bolat@example.kz', NULL, 'confirmed', '2026-10-02 08:00:00', '2026-10-02 08:00:00', '2026-10-02 08:05:00'),
                (3, 'pending@example.kz', NULL, 'pending', '2026-10-03 08:00:00', '2026-10-03 08:00:00', NULL),
                (4, 'left@example.kz', NULL, 'unsubscribed', '2026-10-04 08:00:00', '2026-10-04 08:00:00', NULL),
                (5, 'bounced@example.kz', NULL, 'bounced', '2026-10-05 08:00:00', '2026-10-05 08:00:00', '2026-10-05 08:05:00')",
            "INSERT INTO digests (id, subject, html_body, text_body, status, article_count, recipient_count, created_at, completed_at, sent_count)
                VALUES (1, 'The Astana Times: Steppe rail line opens', '<p>Steppe rail line opens</p>', 'Steppe rail line opens', 'sent', 1, 3, '2026-10-10 07:00:00', '2026-10-10 07:01:00', 3)",
            "INSERT INTO articles (id, url, title, created_at, digest_id, published_at)
                VALUES (1, 'https://astanatimes.test/rail', 'Steppe rail line opens', '2026-10-09 10:00:00', 1, '2026-10-09 10:00:00')",
            "INSERT INTO deliveries (digest_id, subscriber_id, status, attempts, next_attempt_at, sent_at) VALUES
                (1, 1, 'sent', 1, '2026-10-10 07:00:00', '2026-10-10 07:00:30'),
                (1, 2, 'sent', 1, '2026-10-10 07:00:00', '2026-10-10 07:00:30'),
                (1, 5, 'sent', 1, '2026-10-10 07:00:00', '2026-10-10 07:00:30')",
        ] {
            diesel::sql_query(statement).execute(conn)?;
        }
        Ok(())
    })
    .unwrap();
    drop(old);
    if database.is_postgres() {
        // The old release's ids came from the identity; the rows above gave their own.
        let db = newsletter::db::Db::connect(database.url()).unwrap();
        db.run_blocking(|conn| {
            for table in ["subscribers", "digests", "articles"] {
                diesel::sql_query(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)"
                ))
                .execute(conn)?;
            }
            Ok(())
        })
        .unwrap();
    }

    // The new release starts on it and migrates.
    let app = spawn_app_on_database(database.clone(), &[]).await;

    let newsletters = app
        .state
        .db
        .run(newsletter::db::newsletters::all)
        .await
        .unwrap();
    assert_eq!(newsletters.len(), 1, "{newsletters:?}");
    let default = &newsletters[0];
    assert_eq!(
        default.id,
        newsletter::db::newsletters::DEFAULT_NEWSLETTER_ID
    );
    assert_eq!(default.slug, "digest");
    assert_eq!(default.name, None, "named by NEWSLETTER_NAME");
    assert_eq!(default.schedule, None, "scheduled by DIGEST_CRON");
    assert_eq!(default.sections, "", "all sections");
    assert!(default.public && default.preselected && !default.archived);

    // Every reader is on it as they were on the one list; the bounced stay bounced.
    let expected = [
        ("aigerim@example.kz", "confirmed"),
        ("bolat@example.kz", "confirmed"),
        ("bounced@example.kz", "confirmed"),
        ("left@example.kz", "unsubscribed"),
        ("pending@example.kz", "pending"),
    ];
    let on_default = subscriptions_of(&app, 1).await;
    assert_eq!(
        on_default,
        expected.map(|(e, s)| (e.to_owned(), s.to_owned())).to_vec()
    );
    assert_eq!(
        app.subscriber_status("bounced@example.kz").await.as_deref(),
        Some("bounced")
    );
    assert_eq!(app.subscriber_count().await, 5);

    // The past digest belongs to it and is still in the archive, with its counts.
    let digest_newsletter: i64 = app
        .state
        .db
        .run(|conn| {
            use newsletter::db::schema::digests;
            Ok(digests::table
                .find(1_i64)
                .select(digests::newsletter_id)
                .first(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(digest_newsletter, 1);
    let archive = app.get("/archive/1").await;
    assert_eq!(archive.status(), 200);
    assert!(
        archive
            .text()
            .await
            .unwrap()
            .contains("Steppe rail line opens")
    );
    let status: serde_json::Value = app.api_get("/api/digests/1").await.json().await.unwrap();
    assert_eq!(status["sent"], 3, "{status}");

    // An unsubscribe link mailed before the upgrade still works, and leaves the default.
    let link = app.unsubscribe_link(2);
    assert_eq!(app.post_empty(&link).await.status(), 200);
    assert_eq!(
        app.subscriber_status("bolat@example.kz").await.as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(
        subscriptions_of(&app, 1).await[1],
        ("bolat@example.kz".to_owned(), "unsubscribed".to_owned())
    );

    // The next digest goes to the one confirmed reader left, and to nobody else.
    app.add_article(
        "Almaty opens a new library",
        "https://astanatimes.test/library",
    )
    .await;
    let sent = app.send_digest_and_wait().await;
    assert_eq!(sent["recipients"], 1, "{sent}");
    assert_eq!(app.wait_for_mail_to("aigerim@example.kz", 1).await.len(), 1);
    for gone in [
        "bolat@example.kz",
        "pending@example.kz",
        "left@example.kz",
        "bounced@example.kz",
    ] {
        assert!(app.smtp.messages_to(gone).is_empty(), "{gone} got mail");
    }
}

#[tokio::test]
async fn sign_up_confirmation_and_leaving_move_the_readers_default_subscription() {
    let app = crate::support::spawn_app().await;
    let link = app.sign_up_and_get_link("dana@example.kz", "Dana").await;
    assert_eq!(
        subscriptions_of(&app, 1).await,
        vec![("dana@example.kz".to_owned(), "pending".to_owned())]
    );
    assert_eq!(app.post_empty(&link).await.status(), 200);
    assert_eq!(
        subscriptions_of(&app, 1).await,
        vec![("dana@example.kz".to_owned(), "confirmed".to_owned())]
    );
    let id = app.subscriber_id("dana@example.kz").await;
    assert_eq!(
        app.post_empty(&app.unsubscribe_link(id)).await.status(),
        200
    );
    assert_eq!(
        subscriptions_of(&app, 1).await,
        vec![("dana@example.kz".to_owned(), "unsubscribed".to_owned())]
    );
    // Signing up again puts the reader back through the opt-in, the newsletter too.
    app.sign_up("dana@example.kz", "Dana").await;
    assert_eq!(
        subscriptions_of(&app, 1).await,
        vec![("dana@example.kz".to_owned(), "pending".to_owned())]
    );
}

/// Adds a newsletter straight to the database; returns its id.
async fn add_newsletter(
    app: &crate::support::app::TestApp,
    slug: &str,
    name: &str,
    public: bool,
    preselected: bool,
) -> i64 {
    let new = newsletter::db::newsletters::NewNewsletter {
        slug: slug.to_owned(),
        name: Some(name.to_owned()),
        description: format!("{name}: the stories that matter, in one email."),
        schedule: Some(String::new()),
        sections: String::new(),
        public,
        preselected,
        archived: false,
        language: None,
        created_at: newsletter::db::now(),
        updated_at: newsletter::db::now(),
    };
    app.state
        .db
        .run(move |conn| newsletter::db::newsletters::insert(conn, &new))
        .await
        .expect("insert a newsletter")
}

/// A site with three public newsletters (the default, preselected; `business`;
/// `culture`) and a private one (`staff`).
async fn three_newsletters() -> (crate::support::app::TestApp, [i64; 3]) {
    let app = crate::support::spawn_app().await;
    let business = add_newsletter(&app, "business", "Business Weekly", true, false).await;
    let culture = add_newsletter(&app, "culture", "Culture & Arts", true, false).await;
    let staff = add_newsletter(&app, "staff", "Staff Notes", false, false).await;
    (app, [business, culture, staff])
}

#[tokio::test]
async fn the_form_lists_the_public_newsletters_with_the_preselected_ones_ticked() {
    let (app, _) = three_newsletters().await;
    let page = app.get("/").await.text().await.unwrap();
    assert!(
        page.contains(r#"name="newsletter" value="digest" checked"#),
        "{page}"
    );
    assert!(
        page.contains(r#"name="newsletter" value="business">"#),
        "{page}"
    );
    assert!(
        page.contains("Culture &amp; Arts"),
        "names are escaped: {page}"
    );
    assert!(
        !page.contains("staff"),
        "a private newsletter is not offered"
    );
}

#[tokio::test]
async fn with_one_newsletter_the_form_has_no_list() {
    let app = crate::support::spawn_app().await;
    let page = app.get("/").await.text().await.unwrap();
    assert!(!page.contains(r#"name="newsletter""#), "{page}");
    // A private newsletter does not make a list either.
    add_newsletter(&app, "staff", "Staff Notes", false, false).await;
    let page = app.get("/").await.text().await.unwrap();
    assert!(!page.contains(r#"name="newsletter""#), "{page}");
}

#[tokio::test]
async fn a_reader_who_picks_two_of_three_newsletters_gets_both_on_confirming() {
    let (app, [business, culture, _]) = three_newsletters().await;
    let response = app
        .post_subscriptions(
            "email=dana%40example.kz&name=Dana&newsletter=digest&newsletter=culture",
        )
        .await;
    assert_eq!(response.status(), 200);
    let mails = app.wait_for_mail_to("dana@example.kz", 1).await;
    assert_eq!(mails.len(), 1);
    let text = mails[0].text_body();
    assert!(
        text.contains("The Astana Times") && text.contains("Culture & Arts"),
        "{text}"
    );
    assert!(!text.contains("Business Weekly"), "{text}");
    // Nothing is on before the confirmation.
    assert_eq!(
        subscriptions_of(&app, culture).await,
        vec![("dana@example.kz".to_owned(), "pending".to_owned())]
    );
    let link = app.confirmation_link(&mails[0]);
    assert_eq!(app.post_empty(&link).await.status(), 200);
    for (newsletter, expected) in [
        (1, vec!["confirmed"]),
        (culture, vec!["confirmed"]),
        (business, vec![]),
    ] {
        let statuses: Vec<String> = subscriptions_of(&app, newsletter)
            .await
            .into_iter()
            .map(|(_, status)| status)
            .collect();
        assert_eq!(statuses, expected, "newsletter {newsletter}");
    }
}

#[tokio::test]
async fn a_sign_up_naming_no_unknown_private_or_archived_newsletter_is_refused_and_changes_nothing()
{
    let (app, [business, _, _]) = three_newsletters().await;
    app.state
        .db
        .run(move |conn| {
            use newsletter::db::schema::newsletters;
            diesel::update(newsletters::table.find(business))
                .set(newsletters::archived.eq(true))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    for body in [
        "email=dana%40example.kz",
        "email=dana%40example.kz&newsletter=nonesuch",
        "email=dana%40example.kz&newsletter=digest&newsletter=staff",
        "email=dana%40example.kz&newsletter=business",
    ] {
        let response = app.post_subscriptions(body).await;
        assert_eq!(response.status(), 400, "{body}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains(r#"id="newsletters-error""#),
            "the error stands beside the list: {body}: {page}"
        );
        // The reader's ticks and address stay on the form.
        assert!(page.contains(r#"value="dana@example.kz""#), "{page}");
    }
    assert_eq!(app.subscriber_count().await, 0);
    app.drain_queues().await;
    assert!(app.smtp.messages_to("dana@example.kz").is_empty());
}

#[tokio::test]
async fn a_confirmed_reader_adding_a_newsletter_gets_the_same_answer_and_a_mail_and_nothing_changes_until_they_confirm()
 {
    let (app, [business, _, _]) = three_newsletters().await;
    app.post_subscriptions("email=aigerim%40example.kz&newsletter=digest")
        .await;
    let first = app.wait_for_mail_to("aigerim@example.kz", 1).await;
    assert_eq!(
        app.post_empty(&app.confirmation_link(&first[0]))
            .await
            .status(),
        200
    );
    let mails_before = app.smtp.messages_to("aigerim@example.kz").len();
    let fresh = app
        .post_subscriptions("email=nobody%40example.kz&newsletter=business")
        .await
        .text()
        .await
        .unwrap();
    let known = app
        .post_subscriptions("email=aigerim%40example.kz&newsletter=business")
        .await;
    assert_eq!(known.status(), 200);
    assert_eq!(
        known.text().await.unwrap().replace("aigerim", "X"),
        fresh.replace("nobody", "X"),
        "no enumeration"
    );
    let mails = app
        .wait_for_mail_to("aigerim@example.kz", mails_before + 1)
        .await;
    assert_eq!(mails.len(), mails_before + 1);
    let text = mails[mails_before].text_body();
    assert!(text.contains("Business Weekly"), "{text}");
    assert_eq!(
        subscriptions_of(&app, business).await[0],
        ("aigerim@example.kz".to_owned(), "pending".to_owned())
    );
    assert_eq!(
        subscriptions_of(&app, 1).await,
        vec![("aigerim@example.kz".to_owned(), "confirmed".to_owned())],
        "what they get meanwhile does not change"
    );
    let link = app.confirmation_link(&mails[mails_before]);
    assert_eq!(app.post_empty(&link).await.status(), 200);
    assert_eq!(
        subscriptions_of(&app, business).await[0],
        ("aigerim@example.kz".to_owned(), "confirmed".to_owned())
    );
    assert_eq!(
        app.subscriber_status("aigerim@example.kz").await.as_deref(),
        Some("confirmed")
    );
    // Asking again for what they have sends nothing.
    app.post_subscriptions("email=aigerim%40example.kz&newsletter=business")
        .await;
    app.drain_queues().await;
    assert_eq!(
        app.smtp.messages_to("aigerim@example.kz").len(),
        mails_before + 1
    );
}

#[tokio::test]
async fn an_unsubscribe_link_leaves_its_newsletter_only_and_the_page_offers_leaving_everything() {
    let (app, [business, _, _]) = three_newsletters().await;
    app.post_subscriptions("email=dana%40example.kz&newsletter=digest&newsletter=business")
        .await;
    let mail = app.wait_for_mail_to("dana@example.kz", 1).await;
    assert_eq!(
        app.post_empty(&app.confirmation_link(&mail[0]))
            .await
            .status(),
        200
    );
    let id = app.subscriber_id("dana@example.kz").await;
    let link = app.unsubscribe_link(id);

    // A tampered "everything" changes nothing.
    let tampered = format!("{}x&all=1", link);
    assert_eq!(app.post_empty(&tampered).await.status(), 400);

    let response = app
        .client
        .post(&link)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("You still receive"), "{page}");
    assert!(page.contains("Business Weekly"), "{page}");
    assert!(page.contains("Unsubscribe from everything"), "{page}");
    assert_eq!(
        app.subscriber_status("dana@example.kz").await.as_deref(),
        Some("confirmed")
    );
    assert_eq!(
        subscriptions_of(&app, 1).await,
        vec![("dana@example.kz".to_owned(), "unsubscribed".to_owned())]
    );
    assert_eq!(
        subscriptions_of(&app, business).await,
        vec![("dana@example.kz".to_owned(), "confirmed".to_owned())]
    );
    // A digest of the default newsletter no longer goes to them.
    app.import_confirmed(&["other@example.kz"]).await;
    app.add_article("Steppe rail line opens", "https://astanatimes.test/rail")
        .await;
    let sent = app.send_digest_and_wait().await;
    assert_eq!(sent["recipients"], 1, "{sent}");

    // The page's button leaves everything.
    let everything = format!("{link}&all=1");
    let page = app.post_empty(&everything).await.text().await.unwrap();
    assert!(!page.contains("You still receive"), "{page}");
    assert_eq!(
        app.subscriber_status("dana@example.kz").await.as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(
        subscriptions_of(&app, business).await,
        vec![("dana@example.kz".to_owned(), "unsubscribed".to_owned())]
    );
}

#[tokio::test]
async fn leaving_the_last_newsletter_makes_the_reader_unsubscribed() {
    let (app, [business, _, _]) = three_newsletters().await;
    app.post_subscriptions("email=dana%40example.kz&newsletter=digest")
        .await;
    let mail = app.wait_for_mail_to("dana@example.kz", 1).await;
    app.post_empty(&app.confirmation_link(&mail[0])).await;
    let id = app.subscriber_id("dana@example.kz").await;
    let page = app
        .post_empty(&app.unsubscribe_link(id))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("You still receive"), "{page}");
    assert_eq!(
        app.subscriber_status("dana@example.kz").await.as_deref(),
        Some("unsubscribed")
    );
    assert!(subscriptions_of(&app, business).await.is_empty());
}

#[tokio::test]
async fn the_api_lists_the_newsletters_with_the_defaults_settings_and_needs_the_token() {
    let app = crate::support::spawn_app().await;
    let list: serde_json::Value = app.api_get("/api/newsletters").await.json().await.unwrap();
    let newsletters = list["newsletters"].as_array().expect("a list");
    assert_eq!(newsletters.len(), 1, "{list}");
    let default = &newsletters[0];
    assert_eq!(default["slug"], "digest");
    assert_eq!(default["name"], "The Astana Times", "NEWSLETTER_NAME");
    assert_eq!(default["schedule"], "0 0 7 * * *", "DIGEST_CRON");
    assert_eq!(default["sections"], serde_json::json!([]));
    assert_eq!(default["default"], true);
    assert_eq!(default["public"], true);
    assert_eq!(default["preselected"], true);

    add_newsletter(&app, "business", "Business Weekly", true, false).await;
    let one = app.api_get("/api/newsletters/business").await;
    assert_eq!(one.status(), 200);
    let one: serde_json::Value = one.json().await.unwrap();
    assert_eq!(one["name"], "Business Weekly");
    assert_eq!(
        one["schedule"],
        serde_json::Value::Null,
        "manual sends only"
    );
    assert_eq!(one["default"], false);

    let unknown = app.api_get("/api/newsletters/nonesuch").await;
    assert_eq!(unknown.status(), 404);
    let error: serde_json::Value = unknown.json().await.unwrap();
    assert!(error["error"].is_string(), "{error}");
    assert_eq!(app.get("/api/newsletters").await.status(), 401);
}

#[tokio::test]
async fn the_subscriber_list_shows_each_readers_newsletters_and_filters_by_one() {
    let (app, _) = three_newsletters().await;
    app.import_confirmed(&["only.default@example.kz"]).await;
    app.post_subscriptions("email=dana%40example.kz&newsletter=digest&newsletter=business")
        .await;
    let mail = app.wait_for_mail_to("dana@example.kz", 1).await;
    app.post_empty(&app.confirmation_link(&mail[0])).await;

    let all: serde_json::Value = app.api_get("/api/subscribers").await.json().await.unwrap();
    let readers = all["subscribers"].as_array().expect("a list");
    assert_eq!(readers.len(), 2, "{all}");
    assert_eq!(readers[0]["email"], "only.default@example.kz");
    assert_eq!(
        readers[0]["newsletters"],
        serde_json::json!([{"slug": "digest", "status": "confirmed"}])
    );
    assert_eq!(
        readers[1]["newsletters"],
        serde_json::json!([
            {"slug": "digest", "status": "confirmed"},
            {"slug": "business", "status": "confirmed"}
        ])
    );

    let business: serde_json::Value = app
        .api_get("/api/subscribers?newsletter=business")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(business["total"], 1, "{business}");
    assert_eq!(business["subscribers"][0]["email"], "dana@example.kz");
    assert_eq!(
        app.api_get("/api/subscribers?newsletter=nonesuch")
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn the_preferences_page_shows_the_readers_newsletters_and_saves_a_new_choice() {
    let (app, [business, culture, _]) = three_newsletters().await;
    app.post_subscriptions(
        "email=dana%40example.kz&name=Dana&newsletter=digest&newsletter=business",
    )
    .await;
    let mail = app.wait_for_mail_to("dana@example.kz", 1).await;
    app.post_empty(&app.confirmation_link(&mail[0])).await;
    let id = app.subscriber_id("dana@example.kz").await;
    let url = app.state.preferences_url(id);
    let link = url
        .strip_prefix(&app.address)
        .expect("a link to the app")
        .to_owned();

    let response = app.get(&url).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Dana"), "the reader's name: {page}");
    assert!(page.contains(r#"value="digest" checked"#), "{page}");
    assert!(page.contains(r#"value="business" checked"#), "{page}");
    assert!(page.contains(r#"value="culture">"#), "{page}");
    assert!(
        !page.contains("staff"),
        "a private newsletter they are not on: {page}"
    );
    assert!(page.contains("Unsubscribe from everything"), "{page}");

    let before = (
        subscriptions_of(&app, 1).await,
        subscriptions_of(&app, business).await,
        subscriptions_of(&app, culture).await,
    );
    // A tampered link, a choice of nothing and a newsletter not offered change nothing.
    assert_eq!(
        app.post_form(&format!("{link}x"), "newsletter=culture", &[])
            .await
            .status(),
        400
    );
    assert_eq!(app.get(&format!("{url}x")).await.status(), 400);
    assert_eq!(app.post_form(&link, "", &[]).await.status(), 400);
    let refused = app.post_form(&link, "newsletter=staff", &[]).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        app.post_form(&link, "newsletter=nonesuch", &[])
            .await
            .status(),
        400
    );
    let after = (
        subscriptions_of(&app, 1).await,
        subscriptions_of(&app, business).await,
        subscriptions_of(&app, culture).await,
    );
    assert_eq!(before, after);

    let saved = app.post_form(&link, "newsletter=culture", &[]).await;
    assert_eq!(saved.status(), 200);
    assert!(
        saved
            .text()
            .await
            .unwrap()
            .contains(r#"value="culture" checked"#)
    );
    assert_eq!(subscriptions_of(&app, 1).await[0].1, "unsubscribed");
    assert_eq!(subscriptions_of(&app, business).await[0].1, "unsubscribed");
    assert_eq!(subscriptions_of(&app, culture).await[0].1, "confirmed");
    assert_eq!(
        app.subscriber_status("dana@example.kz").await.as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn leaving_through_the_preferences_page_counts_and_the_metrics_show_each_newsletters_readers()
{
    const TOKEN: &str = "newsletters-metrics-token-0123456789";
    let app = crate::support::spawn_app_with(&[("METRICS_TOKEN", TOKEN)]).await;
    add_newsletter(&app, "business", "Business Weekly", true, false).await;
    app.post_subscriptions(
        "email=dana%40example.kz&name=Dana&newsletter=digest&newsletter=business",
    )
    .await;
    let mail = app.wait_for_mail_to("dana@example.kz", 1).await;
    app.post_empty(&app.confirmation_link(&mail[0])).await;
    let id = app.subscriber_id("dana@example.kz").await;
    let url = app.state.preferences_url(id);
    let link = url.strip_prefix(&app.address).unwrap().to_owned();
    // Keeps the business edition, leaves the default one.
    assert_eq!(
        app.post_form(&link, "newsletter=business", &[])
            .await
            .status(),
        200
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"newsletter_unsubscribes_total{path="preferences"} 1"#,
        r#"newsletter_subscriptions{newsletter="business",status="confirmed"} 1"#,
        r#"newsletter_subscriptions{newsletter="digest",status="unsubscribed"} 1"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
}
