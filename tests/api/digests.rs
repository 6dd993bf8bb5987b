//! Digests: composing from the waiting articles, delivering to exactly the confirmed
//! readers over a real SMTP server (faults included), headers, archive and schedule.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::smtp_server::Faults;
use crate::support::{link_in, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_digest_reaches_exactly_the_confirmed_readers() {
    let app = spawn_app().await;
    let ids = app
        .import_confirmed(&[
            "aigerim@example.kz",
            "dana@example.kz",
            "left@example.kz",
            "bounced@example.kz",
        ])
        .await;
    app.set_status(ids[2], "unsubscribed").await;
    app.set_status(ids[3], "bounced").await;
    app.sign_up("pending@example.kz", "").await;
    app.wait_for_mail_to("pending@example.kz", 1).await;
    app.add_article(
        "Kazakhstan Stresses UN’s Vital Role Ahead of SCO Summit",
        "https://astanatimes.example/a1",
    )
    .await;

    let response = app.send_digest_now().await;
    assert_eq!(response.status(), 202);
    let created: serde_json::Value = response.json().await.unwrap();
    assert_eq!(created["recipients"], 2);
    assert_eq!(created["articles"], 1);
    let status = app.wait_for_digest(created["id"].as_i64().unwrap()).await;
    assert_eq!(
        (
            status["sent"].as_i64(),
            status["failed"].as_i64(),
            status["pending"].as_i64()
        ),
        (Some(2), Some(0), Some(0))
    );
    assert_eq!(status["status"], "sent");

    let digests: Vec<_> = app
        .smtp
        .messages()
        .into_iter()
        .filter(|m| m.header("List-Id").is_some())
        .collect();
    let mut recipients: Vec<String> = digests.iter().flat_map(|m| m.to.clone()).collect();
    recipients.sort();
    assert_eq!(recipients, ["aigerim@example.kz", "dana@example.kz"]);
}

#[tokio::test]
async fn nothing_new_gives_409_and_sends_no_mail() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.org"]).await;
    let response = app.send_digest_now().await;
    assert_eq!(response.status(), 409);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("no new articles"));

    app.add_article("One story", "https://news.example/one")
        .await;
    assert_eq!(app.send_digest_now().await.status(), 202);
    assert_eq!(
        app.send_digest_now().await.status(),
        409,
        "the article went out once"
    );
    app.wait_for_mail_to("reader@example.org", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.smtp.messages_to("reader@example.org").len(), 1);
}

#[tokio::test]
async fn with_no_confirmed_reader_a_send_gives_409_and_the_articles_wait_for_the_first() {
    let app = spawn_app().await;
    app.sign_up("pending@example.kz", "").await;
    for n in 0..2 {
        app.add_article(
            &format!("Almaty Hosts the Regional Forum, Day {n}"),
            &format!("https://astanatimes.example/forum-{n}"),
        )
        .await;
    }
    let refused = app.send_digest_now().await;
    assert_eq!(refused.status(), 409);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(
        body["error"],
        "no reader has confirmed yet, so nothing was sent; the 2 waiting articles stay for the first digest"
    );
    let preview = app
        .api_get("/api/digests/preview")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        preview.contains("Day 1"),
        "the articles still wait: {preview}"
    );
    assert!(
        app.smtp
            .messages()
            .iter()
            .all(|m| m.header("List-Id").is_none())
    );

    app.import_confirmed(&["first.reader@example.kz"]).await;
    let created: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    assert_eq!(
        (created["articles"].as_i64(), created["recipients"].as_i64()),
        (Some(2), Some(1))
    );
}

#[tokio::test]
async fn two_sends_at_the_same_moment_take_each_article_once() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.org"]).await;
    for n in 0..5 {
        app.add_article(&format!("Story {n}"), &format!("https://news.example/{n}"))
            .await;
    }
    let (a, b, c) = tokio::join!(
        app.send_digest_now(),
        app.send_digest_now(),
        app.send_digest_now()
    );
    let mut statuses = [
        a.status().as_u16(),
        b.status().as_u16(),
        c.status().as_u16(),
    ];
    statuses.sort();
    assert_eq!(statuses, [202, 409, 409]);
    let taken = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use newsletter::db::schema::articles;
            Ok(articles::table
                .select((articles::id, articles::digest_id))
                .load::<(i64, Option<i64>)>(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(taken.len(), 5);
    let digests: std::collections::HashSet<_> = taken
        .iter()
        .map(|(_, d)| d.expect("every article is in a digest"))
        .collect();
    assert_eq!(digests.len(), 1, "all five went out in one digest");
}

#[tokio::test]
async fn every_digest_carries_the_list_headers_and_both_links_in_both_parts() {
    let app = spawn_app().await;
    let id = app.import_confirmed(&["Madina@Example.kz"]).await[0];
    app.add_article(
        "Madina Dzharbusynova Elected to UN Committee",
        "https://astanatimes.example/cedaw",
    )
    .await;
    let digest: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    let digest_id = digest["id"].as_i64().unwrap();
    let mail = app.wait_for_mail_to("madina@example.kz", 1).await.remove(0);

    let unsubscribe = app.unsubscribe_link(id);
    assert_eq!(
        mail.header("List-Unsubscribe").as_deref(),
        Some(format!("<{unsubscribe}>").as_str())
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(
        mail.header("List-Id").as_deref(),
        Some("The Astana Times <the-astana-times.127.0.0.1>")
    );
    assert_eq!(
        mail.header("Message-ID").unwrap(),
        newsletter::digest::delivery::message_id(&app.state, digest_id, id),
        "the Message-ID is derived from (digest, reader)"
    );
    assert!(mail.header("Date").is_some());
    let archive = app.url(&format!("/archive/{digest_id}"));
    for body in [mail.text_body(), mail.html_body()] {
        assert!(body.contains(&unsubscribe), "{body}");
        assert!(body.contains(&archive), "{body}");
        assert!(body.contains("Madina Dzharbusynova Elected to UN Committee"));
        assert!(
            !body.contains("NEWSLETTER-UNSUBSCRIBE"),
            "no placeholder left: {body}"
        );
    }
    assert!(mail.html_body().contains("style=\""), "CSS is inlined");

    // The header's link is the RFC 8058 one-click target.
    let one_click = app
        .client
        .post(&unsubscribe)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), 200);
    assert_eq!(
        app.subscriber_status("madina@example.kz").await.as_deref(),
        Some("unsubscribed")
    );
}

#[tokio::test]
async fn each_reader_gets_their_own_unsubscribe_link() {
    let app = spawn_app().await;
    let ids = app
        .import_confirmed(&["one@example.org", "two@example.org"])
        .await;
    app.add_article("Story", "https://news.example/story").await;
    app.send_digest_now().await;
    let one = app.wait_for_mail_to("one@example.org", 1).await.remove(0);
    let two = app.wait_for_mail_to("two@example.org", 1).await.remove(0);
    assert!(one.text_body().contains(&app.unsubscribe_link(ids[0])));
    assert!(two.text_body().contains(&app.unsubscribe_link(ids[1])));
    assert!(!one.text_body().contains(&app.unsubscribe_link(ids[1])));
    assert_ne!(one.header("Message-ID"), two.header("Message-ID"));
}

#[tokio::test]
async fn markup_in_an_article_title_is_escaped_in_mail_and_archive() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.org"]).await;
    app.add_article(
        r#"<img src=x onerror="alert(1)"> Budget & “Reform”"#,
        "https://news.example/xss",
    )
    .await;
    let digest: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    let mail = app
        .wait_for_mail_to("reader@example.org", 1)
        .await
        .remove(0);
    let html = mail.html_body();
    assert!(!html.contains("<img src=x"), "{html}");
    // The inliner re-serialises the HTML: text needs only &, < and > escaped.
    assert!(
        html.contains(r#"&lt;img src=x onerror="alert(1)"&gt; Budget &amp; “Reform”"#),
        "{html}"
    );
    assert!(
        mail.text_body()
            .contains(r#"<img src=x onerror="alert(1)"> Budget & “Reform”"#),
        "text is not HTML-escaped"
    );

    let archive = app
        .get(&format!("/archive/{}", digest["id"]))
        .await
        .text()
        .await
        .unwrap();
    assert!(!archive.contains("<img src=x"));
    assert!(archive.contains("&lt;img src=x"));
}

#[tokio::test]
async fn the_archive_shows_the_digest_as_sent_without_any_readers_links() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.org"]).await;
    app.add_article(
        "Almaty to Host UN Regional Center",
        "https://astanatimes.example/center",
    )
    .await;
    let digest: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    let id = digest["id"].as_i64().unwrap();
    app.wait_for_digest(id).await;

    let index = app.get("/archive").await;
    assert_eq!(index.status(), 200);
    let index = index.text().await.unwrap();
    assert!(index.contains(&format!("/archive/{id}")), "{index}");
    let page = app.get(&format!("/archive/{id}")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Almaty to Host UN Regional Center"));
    assert!(!page.contains("unsubscribe?token="), "{page}");
    assert!(!page.contains("NEWSLETTER-UNSUBSCRIBE"), "{page}");
    assert_eq!(app.get("/archive/999").await.status(), 404);
    assert_eq!(app.get("/archive/not-a-number").await.status(), 404);
}

#[tokio::test]
async fn the_preview_renders_the_next_digest_and_sends_nothing() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.org"]).await;
    assert_eq!(app.api_get("/api/digests/preview").await.status(), 409);
    app.add_article(
        "Volunteers’ Year: What 2026 Means",
        "https://news.example/volunteers",
    )
    .await;
    let response = app.api_get("/api/digests/preview").await;
    assert_eq!(response.status(), 200);
    let size: usize = response.headers()["x-digest-html-bytes"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        response.headers().get("x-digest-warning").is_none(),
        "a small digest is not clipped"
    );
    let html = response.text().await.unwrap();
    assert_eq!(html.len(), size);
    assert!(html.contains("Volunteers’ Year: What 2026 Means"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.smtp.messages().is_empty(), "nothing was sent");
    assert_eq!(
        app.send_digest_now().await.status(),
        202,
        "the article is still waiting"
    );
}

#[tokio::test]
async fn a_preview_too_long_for_gmail_in_full_lists_the_rest_and_is_not_clipped() {
    let app = spawn_app().await;
    for n in 0..120 {
        let summary = "Rakhmetullin emphasized President Kassym-Jomart Tokayev’s focus on sustainable development, linking the country’s strategies and programs to the Sustainable Development Goals and the 2030 Agenda. ".repeat(2);
        let response = app
            .api_post(
                "/api/articles",
                &serde_json::json!({ "title": format!("Story number {n} about sustainable development"), "url": format!("https://news.example/long/{n}"), "summary": summary }),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
    let response = app.api_get("/api/digests/preview").await;
    assert!(
        response.headers().get("x-digest-warning").is_none(),
        "{:?}",
        response.headers().get("x-digest-warning")
    );
    let size: usize = response.headers()["x-digest-html-bytes"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(size <= 102 * 1024, "{size} bytes");
    let html = response.text().await.unwrap();
    assert_eq!(html.len(), size);
    assert!(html.contains(">More stories</h2>"), "{html}");
    for n in 0..120 {
        assert!(html.contains(&format!("href=\"https://news.example/long/{n}\"")));
    }
}

#[tokio::test]
async fn temporary_failures_and_dropped_connections_still_reach_everyone_exactly_once() {
    let app = spawn_app().await;
    let emails: Vec<String> = (0..60).map(|n| format!("reader{n}@example.org")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    app.import_confirmed(&refs).await;
    app.add_article("Story", "https://news.example/story").await;
    app.smtp.set_faults(Faults {
        temp_fail_every_nth_message: Some(7),
        drop_every_nth_connection: Some(3),
        ..Faults::default()
    });
    let status = app.send_digest_and_wait().await;
    assert_eq!(status["sent"], 60, "{status}");
    assert_eq!(status["failed"], 0, "{status}");
    let mut per_reader: HashMap<String, usize> = HashMap::new();
    for mail in app.smtp.messages() {
        for to in mail.to {
            *per_reader.entry(to).or_default() += 1;
        }
    }
    assert_eq!(per_reader.len(), 60);
    assert!(per_reader.values().all(|n| *n == 1), "{per_reader:?}");
}

#[tokio::test]
async fn a_550_is_reported_with_the_reply_not_retried_and_repeated_bounces_mark_the_reader() {
    let app = spawn_app().await;
    app.import_confirmed(&["good@example.org", "gone@example.org"])
        .await;
    app.smtp.set_faults(Faults {
        reject_recipients: vec!["gone@example.org".into()],
        ..Faults::default()
    });
    for round in 0..2 {
        app.add_article(
            &format!("Story {round}"),
            &format!("https://news.example/{round}"),
        )
        .await;
        let status = app.send_digest_and_wait().await;
        assert_eq!(
            (status["sent"].as_i64(), status["failed"].as_i64()),
            (Some(1), Some(1)),
            "{status}"
        );
        let failure = &status["failures"][0];
        assert_eq!(failure["email"], "gone@example.org");
        assert!(
            failure["reply"].as_str().unwrap().contains("550"),
            "{failure}"
        );
    }
    let connections = app.smtp.connections_accepted();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        app.smtp.connections_accepted(),
        connections,
        "no retry of a 550"
    );
    assert_eq!(
        app.subscriber_status("gone@example.org").await.as_deref(),
        Some("bounced")
    );

    app.add_article("Story 3", "https://news.example/3").await;
    let digest: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    assert_eq!(digest["recipients"], 1, "a bounced reader is skipped");
}

#[tokio::test]
async fn a_delivery_between_two_bounces_ends_the_run_so_the_reader_stays() {
    let app = spawn_app().await;
    app.import_confirmed(&["flaky@example.org"]).await;
    let refusing = Faults {
        reject_recipients: vec!["flaky@example.org".into()],
        ..Faults::default()
    };
    let rounds = [
        (refusing.clone(), "failed"),
        (Faults::default(), "sent"),
        (refusing, "failed"),
    ];
    for (round, (faults, outcome)) in rounds.into_iter().enumerate() {
        app.smtp.set_faults(faults);
        app.add_article(
            &format!("Story {round}"),
            &format!("https://news.example/{round}"),
        )
        .await;
        let status = app.send_digest_and_wait().await;
        assert_eq!(status[outcome], 1, "round {round}: {status}");
    }
    // Two hard bounces, but not in a row: the reader is still mailed.
    assert_eq!(
        app.subscriber_status("flaky@example.org").await.as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn a_reader_who_leaves_before_their_turn_is_skipped() {
    let app = spawn_app().await;
    app.smtp.set_faults(Faults {
        refuse_all: true,
        ..Faults::default()
    });
    let ids = app
        .import_confirmed(&["stays@example.org", "leaves@example.org"])
        .await;
    app.add_article("Story", "https://news.example/story").await;
    let digest: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    let leaver = ids[1];
    let app = &app;
    let digest_id = digest["id"].as_i64().unwrap();
    let attempts = || app.delivery_state(digest_id, leaver);
    // The leaver's turn has come: their delivery is queued and was tried once.
    tried_once(app, digest_id, leaver).await;
    assert_eq!(
        app.post_empty(&app.unsubscribe_link(leaver)).await.status(),
        200
    );
    // A claim taken just before the unsubscribe may still be in flight: wait until the
    // leaver's delivery has been settled once more (failed against the refusing server,
    // or skipped) before the server comes back.
    let (_, at_unsubscribe, _) = attempts().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, tries, unlocked) = attempts().await;
        if status == "skipped" || (tries > at_unsubscribe && unlocked) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery was never settled again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.smtp.set_faults(Faults::default());
    let status = app.wait_for_digest(digest["id"].as_i64().unwrap()).await;
    assert_eq!(
        (status["sent"].as_i64(), status["skipped"].as_i64()),
        (Some(1), Some(1)),
        "{status}"
    );
    assert!(app.smtp.messages_to("leaves@example.org").is_empty());
}

#[tokio::test]
async fn the_digest_job_fires_on_its_cron_schedule() {
    let app = spawn_app_with(&[("DIGEST_CRON", "*/1 * * * * *")]).await;
    app.import_confirmed(&["early@example.org"]).await;
    app.add_article("Scheduled story", "https://news.example/scheduled")
        .await;
    let mails = app.wait_for_mail_to("early@example.org", 1).await;
    assert_eq!(
        mails.len(),
        1,
        "the scheduled job composed and sent a digest"
    );
    assert!(mails[0].text_body().contains("Scheduled story"));
}

#[tokio::test]
async fn digest_status_answers_404_for_an_unknown_digest_and_400_for_a_bad_id() {
    let app = spawn_app().await;
    assert_eq!(app.api_get("/api/digests/12345").await.status(), 404);
    assert_eq!(app.api_get("/api/digests/abc").await.status(), 400);
    let unauthenticated = app
        .client
        .post(app.url("/api/digests"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn the_confirmation_link_in_a_digest_era_still_works() {
    // Sign-up and digests share the mailer; a confirmation is not held up by a digest.
    let app = spawn_app().await;
    let emails: Vec<String> = (0..50).map(|n| format!("bulk{n}@example.org")).collect();
    let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
    app.import_confirmed(&refs).await;
    app.add_article("Story", "https://news.example/story").await;
    app.send_digest_now().await;
    let link = app.sign_up_and_get_link("newcomer@example.org", "").await;
    assert!(link_in(&link, "http").starts_with(&app.url("/subscriptions/confirm")));
}

#[tokio::test]
async fn a_message_refused_as_spam_fails_without_counting_against_the_reader() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.org"]).await;
    app.smtp.set_faults(Faults {
        reject_data_with: Some("554 5.7.1 message rejected as spam".into()),
        ..Faults::default()
    });
    for round in 0..3 {
        app.add_article(
            &format!("Story {round}"),
            &format!("https://news.example/spam/{round}"),
        )
        .await;
        let status = app.send_digest_and_wait().await;
        assert_eq!(status["failed"], 1, "{status}");
        assert!(
            status["failures"][0]["reply"]
                .as_str()
                .unwrap()
                .contains("554"),
            "{status}"
        );
    }
    assert_eq!(
        app.subscriber_status("reader@example.org").await.as_deref(),
        Some("confirmed"),
        "a refusal that blames the message is no bounce of the reader"
    );
}

#[tokio::test]
async fn a_digest_whose_only_reader_left_while_it_waited_is_closed() {
    let app = spawn_app().await;
    let id = app.import_confirmed(&["leaving@example.org"]).await[0];
    app.smtp.set_faults(Faults {
        temp_fail_every_nth_message: Some(1),
        ..Faults::default()
    });
    app.add_article("Story", "https://news.example/alone").await;
    let digest: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    let digest_id = digest["id"].as_i64().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.smtp.connections_accepted() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempt was made"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        app.post_empty(&app.unsubscribe_link(id)).await.status(),
        200
    );
    let status = app.wait_for_digest(digest_id).await;
    assert_eq!(
        status["status"], "sent",
        "nothing is left to send: {status}"
    );
    assert_eq!(status["pending"], 0, "{status}");
}

/// How many times reader `reader`'s delivery of digest `digest_id` was tried; `None`
/// while it is not queued.
async fn attempts_of(app: &crate::support::TestApp, digest_id: i64, reader: i64) -> Option<i32> {
    use diesel::prelude::*;
    use newsletter::db::schema::deliveries;
    app.state
        .db
        .run(move |conn| {
            Ok(deliveries::table
                .find((digest_id, reader))
                .select(deliveries::attempts)
                .first(conn)
                .optional()?)
        })
        .await
        .unwrap()
}

/// Waits until the workers have queued reader `reader`'s delivery of digest `digest_id`.
async fn queued(app: &crate::support::TestApp, digest_id: i64, reader: i64) {
    crate::support::eventually(
        "the reader's delivery to be queued",
        Duration::from_secs(10),
        async || attempts_of(app, digest_id, reader).await,
    )
    .await;
}

/// Waits until reader `reader`'s delivery of digest `digest_id` was tried at least once.
async fn tried_once(app: &crate::support::TestApp, digest_id: i64, reader: i64) {
    crate::support::eventually(
        "the reader's delivery to be tried",
        Duration::from_secs(10),
        async || {
            attempts_of(app, digest_id, reader)
                .await
                .filter(|tries| *tries >= 1)
        },
    )
    .await;
}

/// A digest's figures counted from its delivery rows: what the running counts must
/// always equal.
async fn counted_from_the_rows(app: &crate::support::TestApp, digest_id: i64) -> serde_json::Value {
    use diesel::prelude::*;
    use newsletter::db::schema::deliveries;
    let rows: Vec<(String, i64)> = app
        .state
        .db
        .run(move |conn| {
            Ok(deliveries::table
                .filter(deliveries::digest_id.eq(digest_id))
                .group_by(deliveries::status)
                .select((deliveries::status, diesel::dsl::count_star()))
                .load(conn)?)
        })
        .await
        .unwrap();
    let count = |status: &str| {
        rows.iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    };
    serde_json::json!({
        "recipients": rows.iter().map(|(_, n)| n).sum::<i64>(),
        "sent": count("sent"),
        "failed": count("failed"),
        "pending": count("pending"),
        "skipped": count("skipped"),
    })
}

fn figures(status: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "recipients": status["recipients"],
        "sent": status["sent"],
        "failed": status["failed"],
        "pending": status["pending"],
        "skipped": status["skipped"],
    })
}

#[tokio::test]
async fn the_running_counts_equal_the_deliveries_through_retries_refusals_leavers_erasure_and_retry_failed()
 {
    // One connection, so a claim takes 25 deliveries and the last readers wait their
    // turn: one of them leaves and one is erased while still pending.
    let app = spawn_app_with(&[("SEND_CONCURRENCY", "1")]).await;
    let readers: Vec<String> = (1..=40)
        .map(|i| format!("reader-{i:02}@example.kz"))
        .collect();
    let ids = app
        .import_confirmed(&readers.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    app.smtp.set_faults(Faults {
        temp_fail_every_nth_message: Some(5),
        reject_recipients: vec!["reader-03@example.kz".into(), "reader-17@example.kz".into()],
        delay_per_message: Some(Duration::from_millis(20)),
        ..Faults::default()
    });
    app.add_article("Kazakhstan’s budget", "https://astanatimes.example/budget")
        .await;
    let digest: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    let id = digest["id"].as_i64().unwrap();
    // Once the worker has queued the list (its first claim queues all forty), a reader
    // leaves before their turn (skipped), another is erased while pending.
    queued(&app, id, ids[39]).await;
    app.set_status(ids[39], "unsubscribed").await;
    let pending_erased = ids[38];
    app.state
        .db
        .run(move |conn| newsletter::service::subscriptions::erase(conn, pending_erased))
        .await
        .unwrap();
    let status = app.wait_for_digest(id).await;
    assert_eq!(status["pending"], 0, "{status}");
    assert_eq!(
        (
            status["recipients"].as_i64(),
            status["failed"].as_i64(),
            status["skipped"].as_i64()
        ),
        (Some(39), Some(2), Some(1)),
        "{status}"
    );
    assert_eq!(figures(&status), counted_from_the_rows(&app, id).await);

    // Erasing a reader already sent to takes their delivery out of the counts too.
    let erased = ids[4];
    app.state
        .db
        .run(move |conn| newsletter::service::subscriptions::erase(conn, erased))
        .await
        .unwrap();
    let status: serde_json::Value = app
        .api_get(&format!("/api/digests/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["recipients"], 38, "{status}");
    assert_eq!(figures(&status), counted_from_the_rows(&app, id).await);

    // "Retry failed" puts the refused ones back; the server now takes them.
    app.smtp.set_faults(Faults::default());
    app.state
        .db
        .run(move |conn| {
            newsletter::db::exclusive(conn, |conn| {
                newsletter::db::deliveries::retry_failed(conn, id, newsletter::db::now())?;
                newsletter::db::digests::reopen(conn, id)
            })
        })
        .await
        .unwrap();
    app.state.wake_deliveries();
    let status = app.wait_for_digest(id).await;
    assert_eq!(
        (status["failed"].as_i64(), status["pending"].as_i64()),
        (Some(0), Some(0)),
        "{status}"
    );
    assert_eq!(figures(&status), counted_from_the_rows(&app, id).await);
}

#[tokio::test]
async fn two_digests_of_one_day_are_told_apart_by_their_lead_story() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    app.add_article(
        "Astana Opera Season Begins",
        "https://astanatimes.example/opera",
    )
    .await;
    app.add_article(
        "Kazakhstan’s Oil & Gas Output Rises",
        "https://astanatimes.example/oil",
    )
    .await;
    app.send_digest_and_wait().await;
    app.add_article(
        "Almaty Metro Extension Opens",
        "https://astanatimes.example/metro",
    )
    .await;
    app.send_digest_and_wait().await;

    let subjects: Vec<String> = app
        .smtp
        .messages_to("reader@example.kz")
        .iter()
        .map(|m| m.parsed().subject().unwrap().to_owned())
        .collect();

    // Both went out today; the lead is the newest story (the last added, undated).
    assert_eq!(
        subjects,
        [
            "Kazakhstan’s Oil & Gas Output Rises and 1 more story · The Astana Times",
            "Almaty Metro Extension Opens · The Astana Times",
        ]
    );
    let archive = app.get("/archive").await.text().await.unwrap();
    assert!(
        archive.contains("Kazakhstan’s Oil &amp; Gas Output Rises and 1 more story"),
        "{archive}"
    );
    assert!(
        archive.contains("Almaty Metro Extension Opens"),
        "{archive}"
    );
}

#[tokio::test]
async fn composing_queues_nobody_and_the_workers_queue_the_list_a_chunk_at_a_time() {
    use newsletter::digest::delivery::{DigestCache, deliver_due};
    // No worker: what composing leaves stays to be seen, and the test does the sending.
    let app = crate::support::spawn_web_only_app().await;
    let readers: Vec<String> = (0..2_500)
        .map(|i| format!("reader-{i:04}@example.kz"))
        .collect();
    let ids = app
        .import_confirmed(&readers.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    app.add_article(
        "Kazakhstan’s “open skies” policy wins Aigerim Nurlanovna’s praise",
        "https://astanatimes.example/open-skies",
    )
    .await;
    let created: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["recipients"], 2_500, "{created}");
    let standing: serde_json::Value = app
        .api_get(&format!("/api/digests/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (standing["pending"].as_i64(), standing["sent"].as_i64()),
        (Some(2_500), Some(0)),
        "every reader is counted and pending: {standing}"
    );
    assert_eq!(
        counted_from_the_rows(&app, id).await["recipients"],
        0,
        "composing queued nobody"
    );

    // The first reader on the list and the last leave before their turn.
    for leaver in [ids[0], ids[2_499]] {
        let left = app.post_empty(&app.unsubscribe_link(leaver)).await;
        assert_eq!(left.status(), 200);
    }
    // One batch: short of deliveries, the worker queues one chunk of the list.
    let sent = deliver_due(&app.state, &mut DigestCache::default(), None)
        .await
        .unwrap();
    assert!(sent > 0, "the batch sent nothing");
    let rows = counted_from_the_rows(&app, id).await["recipients"]
        .as_i64()
        .unwrap();
    assert!(
        rows > 0 && rows <= newsletter::db::deliveries::TOP_UP_READERS,
        "one chunk is queued, not the list: {rows}"
    );

    let done = app.wait_for_digest(id).await;
    assert_eq!(done["status"], "sent", "{done}");
    assert_eq!(
        (
            done["recipients"].as_i64(),
            done["sent"].as_i64(),
            done["skipped"].as_i64()
        ),
        (Some(2_498), Some(2_498), Some(0)),
        "those who left before they were queued are no recipients: {done}"
    );
    assert_eq!(figures(&done), counted_from_the_rows(&app, id).await);
    let received = crate::support::mails_per_recipient(&app.smtp);
    assert_eq!(received.len(), 2_498);
    assert!(received.values().all(|&n| n == 1), "each reader once");
    assert_eq!(received.get("reader-0000@example.kz"), None);
    assert_eq!(received.get("reader-2499@example.kz"), None);
}

/// Leaves on `db` what a crash in the middle of composing leaves: the digest made (at
/// `made`) and its article taken, the mail not rendered yet, the first reader queued and
/// even sent already, the others not queued. The last reader's id is far from the
/// others' (as after a copy, or a sequence that jumped): chunks count readers, not ids.
fn half_queued_digest(db: &newsletter::db::Db, made: chrono::NaiveDateTime) -> i64 {
    use diesel::RunQueryDsl;
    use newsletter::db::{articles, deliveries, digests, subscribers};
    use newsletter::domain::{EmailAddress, NewArticle};
    db.run_blocking(|conn| {
        for email in ["first@example.kz", "second@example.kz", "far@example.kz"] {
            subscribers::import_confirmed(conn, &EmailAddress::parse(email).unwrap(), None, made)?;
        }
        diesel::sql_query("UPDATE subscribers SET id = 45000 WHERE email = 'far@example.kz'")
            .execute(conn)?;
        let (article, _) = articles::add(
            conn,
            &NewArticle {
                title: "Tokayev Signs Law on Kazakhstan’s Unified Payroll Payment".into(),
                url: "https://astanatimes.example/payroll".into(),
                guid: None,
                summary: Some("The “single payment” replaces five separate levies.".into()),
                body: None,
                author: Some("Aibarshyn Akhmetkali".into()),
                published_at: None,
                image_url: None,
                sections: Vec::new(),
            },
            made,
        )?;
        let id = digests::insert(conn, 1, 45_000, made)?;
        articles::assign_to_digest(conn, &[article], id)?;
        let first = subscribers::find_by_email(conn, &EmailAddress::parse("first@example.kz").unwrap())?
            .unwrap()
            .id;
        deliveries::enqueue_range(conn, id, 0, first, made)?;
        diesel::sql_query(format!(
            "UPDATE deliveries SET status = 'sent', sent_at = next_attempt_at WHERE digest_id = {id}"
        ))
        .execute(conn)?;
        let settled = digests::Settled { sent: 1, ..Default::default() };
        digests::count_settled(conn, id, settled)?;
        let at = digests::queue_position(conn, id)?.expect("being queued");
        digests::advance_queue(conn, id, &at, first, 1)?;
        Ok(id)
    })
    .unwrap()
}

/// The half-queued digest of [`half_queued_digest`] went out whole, each reader once.
async fn assert_finished_once(app: &crate::support::TestApp, digest_id: i64) {
    let done = app.wait_for_digest(digest_id).await;
    assert_eq!(done["status"], "sent", "{done}");
    assert_eq!(done["recipients"], 3, "{done}");
    assert_eq!(done["sent"], 3, "{done}");
    let received = crate::support::mails_per_recipient(&app.smtp);
    assert_eq!(
        received.get("first@example.kz"),
        None,
        "sent before the crash"
    );
    assert_eq!(received.get("second@example.kz"), Some(&1));
    assert_eq!(received.get("far@example.kz"), Some(&1));
    let mail = &app.smtp.messages_to("far@example.kz")[0];
    assert!(
        mail.parsed()
            .body_html(0)
            .unwrap()
            .contains("Unified Payroll Payment"),
        "rendered when taken up again"
    );
    let archive = app.get("/archive").await.text().await.unwrap();
    assert!(archive.contains("Unified Payroll Payment"), "{archive}");
}

#[tokio::test]
async fn a_digest_a_crash_left_half_queued_is_finished_at_the_next_start_each_reader_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = std::sync::Arc::new(crate::support::TestDatabase::new(
        dir.path().join("newsletter.db"),
    ));
    let digest_id = half_queued_digest(&database.open(), newsletter::db::now());
    let app = crate::support::spawn_app_on_database(database, &[]).await;
    assert_finished_once(&app, digest_id).await;
}

#[tokio::test]
async fn a_running_worker_takes_up_a_digest_left_half_queued_for_a_minute() {
    // Another process made it and stopped half-way; this one has been running all along
    // (no start to resume it at): its idle worker carries it on once it is a minute old.
    let app = crate::support::spawn_app().await;
    // The app's own start (which takes up every half-queued digest) is over: the web
    // server answers only after the workers have started, and they resume at once.
    assert_eq!(app.get("/health").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fresh = half_queued_digest(&app.state.db, newsletter::db::now());
    app.drain_queues().await;
    let waiting = app.api_get(&format!("/api/digests/{fresh}")).await;
    let waiting: serde_json::Value = waiting.json().await.unwrap();
    assert_eq!(
        waiting["recipients"], 1,
        "a fresh one is left to its maker: {waiting}"
    );
    app.state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use newsletter::db::schema::digests;
            let a_minute_ago = newsletter::db::now() - chrono::Duration::seconds(61);
            diesel::update(digests::table.find(fresh))
                .set(digests::created_at.eq(a_minute_ago))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_finished_once(&app, fresh).await;
}
