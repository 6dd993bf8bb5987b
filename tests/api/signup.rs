//! `POST /subscriptions`: the form's answers and the confirmation mail it queues.

use std::sync::Arc;

use crate::support::{
    TestDatabase, mails_per_recipient, serde_urlencoded_pair, spawn_app, spawn_app_on_database,
    spawn_app_with,
};

#[tokio::test]
async fn a_valid_sign_up_answers_200_and_mails_a_confirmation_link() {
    let app = spawn_app().await;
    let response = app
        .sign_up("rashed.sarwar@example.org", "Rashed Sarwar")
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Check your inbox"));

    let mails = app.wait_for_mail_to("rashed.sarwar@example.org", 1).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    let link = app.confirmation_link(mail);
    assert!(
        link.starts_with(&app.url("/subscriptions/confirm?token=")),
        "{link}"
    );
    assert!(
        // As HTML writes it: the link goes on with the mail's language (`&amp;lang=`).
        mail.html_body().contains(&link.replace('&', "&amp;")),
        "the HTML part carries the same link"
    );
    assert_eq!(
        app.subscriber_status("rashed.sarwar@example.org")
            .await
            .as_deref(),
        Some("pending")
    );
}

#[tokio::test]
async fn the_confirmation_mail_is_multipart_utf8_with_date_and_message_id() {
    let app = spawn_app().await;
    app.sign_up("katarzyna@example.org", "Katarzyna Wawiernia–Żółć")
        .await;
    let mail = app
        .wait_for_mail_to("katarzyna@example.org", 1)
        .await
        .remove(0);

    let parsed = mail.parsed();
    let content_type = mail.header("Content-Type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
    assert_eq!(mail.header_count("Date"), 1);
    assert_eq!(mail.header_count("Message-ID"), 1);
    assert!(mail.header("Message-ID").unwrap().ends_with("@127.0.0.1>"));
    assert_eq!(
        parsed.subject(),
        Some("Confirm your subscription to The Astana Times")
    );
    // Whoever typed the address typed the name too: it is not mailed before the
    // reader has confirmed.
    assert_eq!(mail.header("To").as_deref(), Some("katarzyna@example.org"));
    assert!(
        !mail.text_body().contains("Katarzyna"),
        "{}",
        mail.text_body()
    );
    assert!(!mail.html_body().contains("Katarzyna"));
    assert_eq!(mail.from, "newsletter@astanatimes.test");
}

#[tokio::test]
async fn invalid_input_answers_400_with_the_error_beside_the_field_and_the_input_kept() {
    let app = spawn_app().await;
    let cases = [
        (
            "email=not-an-address&name=Akan",
            "doesn’t look like an email address",
        ),
        ("email=&name=Akan", "Please enter your email address"),
        ("name=Akan", "Please enter your email address"),
        (
            "email=akan%40example.kz&name=A%0D%0ABcc%3A+x%40example.com",
            "cannot contain line breaks",
        ),
    ];
    for (body, message) in cases {
        let response = app.post_subscriptions(body).await;
        assert_eq!(response.status(), 400, "{body}");
        let page = response.text().await.unwrap();
        assert!(page.contains(message), "{body}: {page}");
        assert!(page.contains(r#"aria-invalid="true""#), "{body}");
    }
    let page = app
        .post_subscriptions("email=akan%40&name=Akan+Rakhmetullin")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"value="akan@""#),
        "the address typed is kept: {page}"
    );
    assert!(
        page.contains(r#"value="Akan Rakhmetullin""#),
        "the name typed is kept"
    );
    assert_eq!(app.subscriber_count().await, 0, "bad input changes nothing");
    assert!(app.smtp.messages().is_empty());
}

#[tokio::test]
async fn a_cr_lf_in_the_name_never_adds_a_header() {
    let app = spawn_app().await;
    let response = app
        .sign_up("eve@example.org", "Eve\r\nBcc: victim@example.org")
        .await;
    assert_eq!(response.status(), 400);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        app.smtp.messages().is_empty(),
        "no mail for a rejected sign-up"
    );
    assert_eq!(app.subscriber_count().await, 0);
}

#[tokio::test]
async fn markup_in_the_name_is_escaped_in_the_page_and_the_mail() {
    let app = spawn_app().await;
    let name = r#"<script>alert("x")</script> Mallory"#;
    let response = app
        .post_subscriptions(serde_urlencoded_pair(&[
            ("email", "not-valid"),
            ("name", name),
        ]))
        .await;
    let page = response.text().await.unwrap();
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2F;script&gt;")
            || page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;")
    );

    app.sign_up("mallory@example.org", name).await;
    let mail = app
        .wait_for_mail_to("mallory@example.org", 1)
        .await
        .remove(0);
    let html = mail.html_body();
    assert!(
        !html.contains("<script>") && !html.contains("Mallory"),
        "the confirmation carries no name: {html}"
    );
}

#[tokio::test]
async fn new_pending_and_confirmed_addresses_get_the_same_answer() {
    let app = spawn_app().await;
    app.confirmed_subscriber("confirmed@example.org", "").await;
    app.sign_up("pending@example.org", "").await;

    let confirmed = app.sign_up("confirmed@example.org", "").await;
    let pending = app.sign_up("pending@example.org", "").await;
    let new = app.sign_up("new@example.org", "").await;
    assert_eq!(
        [confirmed.status(), pending.status(), new.status()].map(|s| s.as_u16()),
        [200; 3]
    );
    let normalise = |page: String, email: &str| page.replace(email, "ADDRESS");
    let confirmed = normalise(confirmed.text().await.unwrap(), "confirmed@example.org");
    let pending = normalise(pending.text().await.unwrap(), "pending@example.org");
    let new = normalise(new.text().await.unwrap(), "new@example.org");
    assert_eq!(confirmed, new);
    assert_eq!(pending, new);

    // The pending address gets a fresh link; the confirmed one no second subscription.
    assert_eq!(
        app.wait_for_mail_to("pending@example.org", 2).await.len(),
        2
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.smtp.messages_to("confirmed@example.org").len(), 1);
    assert_eq!(
        app.subscriber_status("confirmed@example.org")
            .await
            .as_deref(),
        Some("confirmed")
    );
    assert_eq!(app.subscriber_count().await, 3);
}

#[tokio::test]
async fn addresses_differing_only_in_case_are_one_subscriber() {
    let app = spawn_app().await;
    app.sign_up("Madina@Example.ORG", "").await;
    app.sign_up("madina@example.org", "").await;
    assert_eq!(app.subscriber_count().await, 1);
}

#[tokio::test]
async fn a_body_over_the_limit_answers_413_and_changes_nothing() {
    let app = spawn_app().await;
    let body = format!(
        "email=big%40example.org&name={}",
        "a".repeat(2 * 1024 * 1024)
    );
    let response = app.post_subscriptions(body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(app.subscriber_count().await, 0);
}

#[tokio::test]
async fn broken_encoding_answers_400_and_changes_nothing() {
    let app = spawn_app().await;
    for body in [
        "email=%ZZ%40example.org",
        "email=a%40example.org&name=%FF%FE",
        "email=a%40example.org&name=%E",
    ] {
        let response = app.post_subscriptions(body).await;
        assert_eq!(response.status(), 400, "{body}");
    }
    let response = app
        .client
        .post(app.url("/subscriptions"))
        .header("Content-Type", "application/json")
        .body(r#"{"email":"a@example.org"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415, "only form bodies are accepted");
    assert_eq!(app.subscriber_count().await, 0);
}

#[tokio::test]
async fn one_client_past_the_sign_up_limit_gets_429_while_others_go_through() {
    let app = spawn_app_with(&[
        ("SIGNUP_RATE_PER_MINUTE", "3"),
        ("TRUSTED_PROXY", "127.0.0.1"),
    ])
    .await;
    let from = |ip: &'static str, n: usize| {
        let app = &app;
        async move {
            app.post_subscriptions_from(ip, format!("email=reader{n}%40example.org"))
                .await
                .status()
        }
    };
    for n in 0..3 {
        assert_eq!(from("203.0.113.7", n).await, 200);
    }
    assert_eq!(from("203.0.113.7", 3).await, 429);
    assert_eq!(
        from("198.51.100.2", 4).await,
        200,
        "another client is not limited"
    );
    assert_eq!(
        app.subscriber_count().await,
        4,
        "the refused sign-up wrote nothing"
    );
}

#[tokio::test]
async fn forwarded_addresses_are_ignored_without_a_trusted_proxy() {
    let app = spawn_app_with(&[("SIGNUP_RATE_PER_MINUTE", "2")]).await;
    let mut statuses = Vec::new();
    for n in 0..3 {
        let status = app
            .post_subscriptions_from(
                &format!("203.0.113.{n}"),
                format!("email=spoof{n}%40example.org"),
            )
            .await
            .status()
            .as_u16();
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [200, 200, 429],
        "a forged header does not dodge the limit"
    );
}

#[tokio::test]
async fn one_address_gets_at_most_the_daily_number_of_confirmation_mails() {
    let app = spawn_app_with(&[("CONFIRM_MAILS_PER_ADDRESS_PER_DAY", "2")]).await;
    assert_eq!(app.sign_up("victim@example.org", "").await.status(), 200);
    assert_eq!(app.sign_up("victim@example.org", "").await.status(), 200);
    let third = app.sign_up("victim@example.org", "").await;
    assert_eq!(third.status(), 429);
    assert!(
        third
            .text()
            .await
            .unwrap()
            .contains("already sent several confirmation links")
    );
    app.wait_for_mail_to("victim@example.org", 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.smtp.messages_to("victim@example.org").len(), 2);
}

#[tokio::test]
async fn an_unsubscribed_reader_can_sign_up_again_through_the_opt_in() {
    let app = spawn_app().await;
    let id = app.confirmed_subscriber("returning@example.org", "").await;
    assert_eq!(
        app.post_empty(&app.unsubscribe_link(id)).await.status(),
        200
    );
    assert_eq!(
        app.subscriber_status("returning@example.org")
            .await
            .as_deref(),
        Some("unsubscribed")
    );

    let link = app.sign_up_and_get_link("returning@example.org", "").await;
    assert_eq!(
        app.subscriber_status("returning@example.org")
            .await
            .as_deref(),
        Some("pending")
    );
    assert_eq!(app.post_empty(&link).await.status(), 200);
    assert_eq!(
        app.subscriber_status("returning@example.org")
            .await
            .as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn two_hundred_concurrent_sign_ups_all_succeed_and_each_is_mailed_once() {
    let app = spawn_app().await;
    let statuses = futures_util::future::join_all((0..200).map(|n| {
        let app = &app;
        async move {
            app.sign_up(&format!("reader{n}@example.org"), "Reader")
                .await
                .status()
                .as_u16()
        }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    app.drain_queues().await;
    let mails = app.smtp.messages();
    assert_eq!(mails.len(), 200);
    let mut recipients: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 200, "every address mailed exactly once");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.smtp.messages().len(), 200, "and no more");
}

#[tokio::test]
async fn a_confirmed_address_meets_the_daily_limit_like_any_other() {
    // Otherwise a 429 on the fourth try would tell that an address is not subscribed.
    let app = spawn_app_with(&[("CONFIRM_MAILS_PER_ADDRESS_PER_DAY", "2")]).await;
    app.import_confirmed(&["subscribed@example.org"]).await;
    let statuses = [
        app.sign_up("subscribed@example.org", "")
            .await
            .status()
            .as_u16(),
        app.sign_up("subscribed@example.org", "")
            .await
            .status()
            .as_u16(),
        app.sign_up("subscribed@example.org", "")
            .await
            .status()
            .as_u16(),
    ];
    assert_eq!(statuses, [200, 200, 429]);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        app.smtp.messages_to("subscribed@example.org").is_empty(),
        "a confirmed reader gets no link"
    );
}

#[tokio::test]
async fn behind_the_trusted_proxy_only_its_own_forwarded_entry_names_the_client() {
    let app = spawn_app_with(&[
        ("SIGNUP_RATE_PER_MINUTE", "2"),
        ("TRUSTED_PROXY", "127.0.0.1"),
    ])
    .await;
    let mut statuses = Vec::new();
    for n in 0..3 {
        // The client forges a first entry; the proxy's own last entry is not an address.
        let status = app
            .post_subscriptions_from(
                &format!("203.0.113.{n}, unknown"),
                format!("email=forged{n}%40example.org"),
            )
            .await
            .status()
            .as_u16();
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [200, 200, 429],
        "the forged entries are never used"
    );
}

#[tokio::test]
async fn a_sign_up_that_fails_does_not_fail_the_others_committed_with_it() {
    // Sign-ups that arrive together are committed in one transaction (group commit).
    // One that the database refuses (here by a trigger) gets its error; those that
    // shared its transaction are committed all the same.
    let dir = tempfile::tempdir().unwrap();
    let database = Arc::new(TestDatabase::sqlite(dir.path().join("newsletter.db")));
    let app = spawn_app_on_database(database, &[]).await;
    app.state
        .db
        .run(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON subscribers
                 WHEN NEW.email = 'refused@example.org'
                 BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;",
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let mut emails: Vec<String> = (0..60).map(|n| format!("reader{n}@example.org")).collect();
    emails.insert(30, "refused@example.org".to_owned());
    let statuses = futures_util::future::join_all(emails.iter().map(|email| {
        let app = &app;
        async move {
            (
                email.clone(),
                app.sign_up(email, "").await.status().as_u16(),
            )
        }
    }))
    .await;
    for (email, status) in &statuses {
        let expected = if email == "refused@example.org" {
            500
        } else {
            200
        };
        assert_eq!(*status, expected, "{email}: {statuses:?}");
    }
    assert_eq!(app.subscriber_count().await, 60);
    app.drain_queues().await;
    let mailed = mails_per_recipient(&app.smtp);
    assert_eq!(mailed.len(), 60, "{mailed:?}");
    assert!(mailed.values().all(|n| *n == 1), "{mailed:?}");
}
