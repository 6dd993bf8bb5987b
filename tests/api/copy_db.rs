//! `newsletter copy-db`: a site on SQLite with every kind of row moves into another
//! database (PostgreSQL when `TEST_POSTGRES_URL` is set, another SQLite file otherwise)
//! and carries on there: the same readers, statuses and archive, and links mailed before
//! the move still work.

use std::process::Command;
use std::sync::Arc;

use crate::admin_pages::Admin;
use crate::support::app::{TestApp, spawn_app_on_database};
use crate::support::database::TestDatabase;

fn copy_db(from: &str, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_newsletter"))
        .args(["copy-db", "--from", from, "--to", to])
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

/// Everything a reader or the admin sees of the list and the archive. (A digest keeps the
/// links it was rendered with, the first app's address, wherever it is shown.)
async fn what_the_site_shows(app: &TestApp) -> (String, String) {
    let mut export = Vec::new();
    newsletter::csv_io::export(&app.state.db, &mut export).expect("export");
    let archive = app.get("/archive").await.text().await.unwrap();
    let digest = app.get("/archive/1").await.text().await.unwrap();
    (
        String::from_utf8(export).unwrap(),
        format!("{archive}{digest}"),
    )
}

#[tokio::test]
async fn copy_db_moves_every_row_and_links_mailed_before_the_move_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(TestDatabase::sqlite(dir.path().join("old.db")));
    let old = spawn_app_on_database(source.clone(), &[]).await;

    // Every kind of row: readers confirmed, pending (a live link and queued mail),
    // unsubscribed; an article in a sent digest with its deliveries; an admin session;
    // the generated APP_SECRET.
    let readers = [
        ("aigerim@example.kz", "Aigerim Sätbayeva"),
        ("zoe.bronte@example.org", "Zoë Brontë"),
        ("jose@example.es", "José Núñez"),
    ];
    for (email, name) in readers {
        old.confirmed_subscriber(email, name).await;
    }
    let pending_link = old
        .sign_up_and_get_link("pending@example.org", "Dănuț Pop")
        .await;
    let leaver = old.confirmed_subscriber("leaver@example.org", "Léa").await;
    assert_eq!(
        old.post_empty(&old.unsubscribe_link(leaver)).await.status(),
        200
    );
    // With a lead image, and sent under the editor's subject.
    let article = old
        .api_post(
            "/api/articles",
            &serde_json::json!({
                "title": "Tokayev signs the “open skies” decree",
                "url": "https://astanatimes.test/2026/11/open-skies",
                "image_url": "https://cdn.astanatimes.test/open-skies.jpg",
            }),
        )
        .await;
    assert_eq!(article.status(), 201);
    let digest = old
        .api_post(
            "/api/digests",
            &serde_json::json!({ "subject": "Open skies: what the decree changes" }),
        )
        .await;
    assert_eq!(digest.status(), 202);
    let digest: serde_json::Value = digest.json().await.unwrap();
    old.wait_for_digest(digest["id"].as_i64().unwrap()).await;
    let digest_mail = old.wait_for_mail_to(readers[0].0, 2).await.pop().unwrap();
    let unsubscribe_link =
        crate::support::link_in(&digest_mail.text_body(), &old.url("/unsubscribe?token="));
    Admin::log_in(&old).await;
    // A bounce that came back for the digest (issue 13).
    let bounce = newsletter::service::feedback::Feedback {
        recipient: newsletter::service::feedback::Recipient::Address(readers[2].0.into()),
        kind: newsletter::service::feedback::FeedbackKind::HardBounce,
        digest_id: digest["id"].as_i64(),
        detail: "550 5.1.1 user unknown".into(),
        source: "mail",
    };
    let applied = old
        .state
        .db
        .run(move |conn| newsletter::service::feedback::apply(conn, &bounce, newsletter::db::now()))
        .await
        .unwrap();
    assert_eq!(applied, newsletter::service::feedback::Applied::Recorded);
    let before = what_the_site_shows(&old).await;

    let target = Arc::new(TestDatabase::new(dir.path().join("new.db")));
    let copied = copy_db(source.url(), target.url());
    let said = String::from_utf8_lossy(&copied.stderr).into_owned();
    assert!(copied.status.success(), "{said}");
    assert!(said.contains("every count matches"), "{said}");
    assert!(said.contains("subscribers: 5 rows"), "{said}");
    assert!(said.contains("admin_sessions: 1 rows"), "{said}");
    assert!(said.contains("feedback_events: 1 rows"), "{said}");

    // Never into a database that has rows.
    let again = copy_db(source.url(), target.url());
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let new = spawn_app_on_database(target.clone(), &[]).await;
    assert_eq!(what_the_site_shows(&new).await, before);
    let (image, subject) = new
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use newsletter::db::schema::{articles, digests};
            let image = articles::table
                .select(articles::image_url)
                .first::<Option<String>>(conn)?;
            let subject = digests::table
                .select(digests::subject_override)
                .first::<Option<String>>(conn)?;
            Ok((image, subject))
        })
        .await
        .unwrap();
    assert_eq!(
        image.as_deref(),
        Some("https://cdn.astanatimes.test/open-skies.jpg")
    );
    assert_eq!(
        subject.as_deref(),
        Some("Open skies: what the decree changes")
    );
    // Links mailed before the move, pointed at the new site.
    let moved = |link: &str| link.replace(&old.address, &new.address);
    assert_eq!(new.post_empty(&moved(&pending_link)).await.status(), 200);
    assert_eq!(
        new.subscriber_status("pending@example.org")
            .await
            .as_deref(),
        Some("confirmed")
    );
    assert_eq!(
        new.post_empty(&moved(&unsubscribe_link)).await.status(),
        200
    );
    assert_eq!(
        new.subscriber_status(readers[0].0).await.as_deref(),
        Some("unsubscribed")
    );
    // New rows get new ids, after the copied ones.
    let newcomer = new
        .confirmed_subscriber("newcomer@example.org", "Nurlan")
        .await;
    assert!(newcomer > leaver, "{newcomer} after {leaver}");
    let complaint = newsletter::service::feedback::Feedback {
        recipient: newsletter::service::feedback::Recipient::Address("newcomer@example.org".into()),
        kind: newsletter::service::feedback::FeedbackKind::Complaint,
        digest_id: None,
        detail: "abuse".into(),
        source: "mail",
    };
    let events = new
        .state
        .db
        .run(move |conn| {
            newsletter::service::feedback::apply(conn, &complaint, newsletter::db::now())?;
            newsletter::db::feedback_events::recent(conn, 10)
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 2, "the copied event and a new one beside it");
    assert_eq!(events[1].email, readers[2].0);
}
