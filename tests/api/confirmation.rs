//! Confirmation links: a GET confirms nothing, a POST confirms (twice is fine), and
//! expired, tampered or unknown links get a clear 4xx page with a way to a new link.

use std::sync::Arc;

use crate::support::{TestDatabase, spawn_app, spawn_app_on_database, spawn_app_with};

#[tokio::test]
async fn opening_the_link_shows_a_confirm_button_and_confirms_nothing() {
    let app = spawn_app().await;
    let link = app.sign_up_and_get_link("akan@example.kz", "Akan").await;
    for _ in 0..3 {
        let response = app.get(&link).await;
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        assert!(
            page.contains(r#"<form method="post" action="/subscriptions/confirm?token="#),
            "{page}"
        );
        assert!(page.contains("Confirm</button>"));
    }
    assert_eq!(
        app.subscriber_status("akan@example.kz").await.as_deref(),
        Some("pending")
    );
}

#[tokio::test]
async fn posting_the_link_confirms_and_posting_it_again_changes_nothing() {
    let app = spawn_app().await;
    let link = app.sign_up_and_get_link("michaela@example.org", "").await;
    let first = app.post_empty(&link).await;
    assert_eq!(first.status(), 200);
    assert!(first.text().await.unwrap().contains("You’re subscribed"));
    assert_eq!(
        app.subscriber_status("michaela@example.org")
            .await
            .as_deref(),
        Some("confirmed")
    );

    let second = app.post_empty(&link).await;
    assert_eq!(second.status(), 200, "confirming twice is idempotent");
    assert!(second.text().await.unwrap().contains("You’re subscribed"));
    assert_eq!(
        app.get(&link).await.status(),
        200,
        "the used link still shows the outcome"
    );
    assert_eq!(
        app.subscriber_status("michaela@example.org")
            .await
            .as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn the_form_on_the_confirm_page_posts_to_a_url_that_confirms() {
    let app = spawn_app().await;
    let link = app.sign_up_and_get_link("form@example.org", "").await;
    let page = app.get(&link).await.text().await.unwrap();
    let action = crate::support::link_in(&page, "/subscriptions/confirm?token=");
    assert_eq!(app.post_empty(&action).await.status(), 200);
    assert_eq!(
        app.subscriber_status("form@example.org").await.as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn an_expired_link_answers_410_with_a_form_for_a_new_one() {
    let app = spawn_app_with(&[("CONFIRMATION_TTL_HOURS", "1")]).await;
    let link = app.sign_up_and_get_link("late@example.org", "").await;
    // Move every token's expiry into the past, as if the reader waited past the TTL.
    app.state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use newsletter::db::schema::confirmation_tokens::dsl::*;
            let past = newsletter::db::now() - chrono::Duration::minutes(1);
            diesel::update(confirmation_tokens)
                .set(expires_at.eq(past))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    for response in [app.get(&link).await, app.post_empty(&link).await] {
        assert_eq!(response.status(), 410);
        let page = response.text().await.unwrap();
        assert!(page.contains("expired"), "{page}");
        assert!(
            page.contains(r#"action="/subscriptions""#),
            "a way to ask for a new link"
        );
    }
    assert_eq!(
        app.subscriber_status("late@example.org").await.as_deref(),
        Some("pending")
    );
}

#[tokio::test]
async fn a_tampered_unknown_or_missing_token_gets_a_4xx_and_changes_nothing() {
    let app = spawn_app().await;
    let link = app.sign_up_and_get_link("tamper@example.org", "").await;
    let (base, token) = link.split_once("token=").unwrap();
    let mut flipped: Vec<char> = token.chars().collect();
    flipped[5] = if flipped[5] == 'A' { 'B' } else { 'A' };
    let flipped: String = flipped.into_iter().collect();
    let cases = [
        (format!("{base}token={flipped}"), 404),
        (format!("{base}token={}", &token[..20]), 400),
        (format!("{base}token={}", "x".repeat(5000)), 400),
        (format!("{base}token=%ZZ"), 400),
        (base.trim_end_matches('?').to_owned(), 400),
        (format!("{base}token="), 400),
    ];
    for (url, status) in &cases {
        assert_eq!(app.get(url).await.status(), *status, "GET {url:.120}");
        assert_eq!(
            app.post_empty(url).await.status(),
            *status,
            "POST {url:.120}"
        );
    }
    let page = app.get(&cases[0].0).await.text().await.unwrap();
    assert!(page.contains("Send me a new link"), "{page}");
    assert_eq!(
        app.subscriber_status("tamper@example.org").await.as_deref(),
        Some("pending")
    );
}

#[tokio::test]
async fn a_fresh_link_after_signing_up_again_works_and_the_old_one_still_does_until_used() {
    let app = spawn_app().await;
    let first = app.sign_up_and_get_link("twice@example.org", "").await;
    let second = app.sign_up_and_get_link("twice@example.org", "").await;
    assert_ne!(
        first, second,
        "every confirmation mail carries a fresh token"
    );
    assert_eq!(app.post_empty(&second).await.status(), 200);
    assert_eq!(
        app.post_empty(&first).await.status(),
        200,
        "the reader is confirmed either way"
    );
    assert_eq!(
        app.subscriber_status("twice@example.org").await.as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn tokens_are_stored_hashed_never_in_plain() {
    // It searches the bytes of SQLite's files for the token.
    let dir = tempfile::tempdir().unwrap();
    let database = Arc::new(TestDatabase::sqlite(dir.path().join("newsletter.db")));
    let app = spawn_app_on_database(database, &[]).await;
    let link = app.sign_up_and_get_link("hashed@example.org", "").await;
    let token = link.split_once("token=").unwrap().1.to_owned();
    let file = app.database.sqlite_file().to_owned();
    let raw = std::fs::read(&file).unwrap();
    let wal = std::fs::read(format!("{}-wal", file.display())).unwrap_or_default();
    let contains = |hay: &[u8]| hay.windows(token.len()).any(|w| w == token.as_bytes());
    assert!(
        !contains(&raw) && !contains(&wal),
        "the raw token is not in the database files"
    );
}
