//! Unsubscribe links: signed per subscriber, a GET changes nothing, a POST (or RFC 8058
//! one-click) unsubscribes without cookie or login.

use crate::support::spawn_app;

#[tokio::test]
async fn opening_the_unsubscribe_link_shows_a_button_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app.confirmed_subscriber("leaving@example.org", "").await;
    let response = app.get(&app.unsubscribe_link(id)).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(
        page.contains(r#"<form method="post" action="/unsubscribe?token="#),
        "{page}"
    );
    assert_eq!(
        app.subscriber_status("leaving@example.org")
            .await
            .as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn one_click_unsubscribe_works_without_cookie_or_login() {
    let app = spawn_app().await;
    let id = app.confirmed_subscriber("oneclick@example.org", "").await;
    let response = app
        .client
        .post(app.unsubscribe_link(id))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.subscriber_status("oneclick@example.org")
            .await
            .as_deref(),
        Some("unsubscribed")
    );
    // Idempotent.
    assert_eq!(
        app.post_empty(&app.unsubscribe_link(id)).await.status(),
        200
    );
    assert_eq!(
        app.subscriber_status("oneclick@example.org")
            .await
            .as_deref(),
        Some("unsubscribed")
    );
}

#[tokio::test]
async fn a_tampered_or_foreign_unsubscribe_link_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let victim = app.confirmed_subscriber("victim@example.org", "").await;
    let attacker = app.confirmed_subscriber("attacker@example.org", "").await;
    let own = app.unsubscribe_link(attacker);
    let (base, token) = own.split_once("token=").unwrap();
    // The token hides the id; one character changed anywhere is another token.
    let flipped = |at: usize| {
        let mut chars: Vec<char> = token.chars().collect();
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let cases = [
        format!("{base}token={}", flipped(0)),
        format!("{base}token={}", flipped(token.len() - 1)),
        format!("{base}token={victim}.{token}"),
        format!("{base}token={victim}"),
        format!("{base}token={}", "9".repeat(5000)),
        format!("{base}token=abc.def"),
        base.trim_end_matches('?').to_owned(),
    ];
    for url in &cases {
        assert_eq!(app.get(url).await.status(), 400, "GET {url:.100}");
        assert_eq!(app.post_empty(url).await.status(), 400, "POST {url:.100}");
    }
    assert_eq!(
        app.subscriber_status("victim@example.org").await.as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn an_unsubscribe_link_for_an_erased_subscriber_answers_404() {
    let app = spawn_app().await;
    let id = app.confirmed_subscriber("gone@example.org", "").await;
    app.state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use newsletter::db::schema::subscribers;
            diesel::delete(subscribers::table.find(id)).execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(
        app.post_empty(&app.unsubscribe_link(id)).await.status(),
        404
    );
}
