//! Retention: a purge drops the delivery rows of finished digests, dead confirmation
//! links, finished one-off mail older than a day and expired admin sessions, and
//! nothing else: the archive, every digest's counts and every reader's status stay.

use chrono::Duration as Age;
use diesel::prelude::*;
use newsletter::db::schema::{admin_sessions, confirmation_tokens, deliveries, outgoing_emails};
use newsletter::db::{self, outgoing_emails as mail, subscribers};
use newsletter::service::retention::{self, Purged};

use crate::support::smtp_server::Faults;
use crate::support::{TestApp, Workspace, spawn_app_with};

/// Every reader's address and status, in address order.
async fn statuses(app: &TestApp) -> Vec<(String, String)> {
    app.state
        .db
        .run(|conn| {
            Ok(subscribers::all(conn)?
                .into_iter()
                .map(|s| (s.email, s.status.as_str().to_owned()))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .collect())
        })
        .await
        .unwrap()
}

async fn deliveries_of(app: &TestApp, digest: i64) -> i64 {
    app.state
        .db
        .run(move |conn| {
            Ok(deliveries::table
                .filter(deliveries::digest_id.eq(digest))
                .count()
                .get_result(conn)?)
        })
        .await
        .unwrap()
}

async fn body(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

async fn digest_json(app: &TestApp, id: i64) -> serde_json::Value {
    app.api_get(&format!("/api/digests/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_purge_with_no_retention_drops_only_what_it_should_and_the_archive_counts_and_readers_stay()
 {
    let app = spawn_app_with(&[("DELIVERY_RETENTION_DAYS", "0")]).await;
    app.smtp.set_faults(Faults {
        reject_recipients: vec!["refused@example.org".into()],
        ..Faults::default()
    });
    app.import_confirmed(&["aigerim@example.org", "refused@example.org"])
        .await;
    let left = app.import_confirmed(&["left@example.org"]).await[0];
    app.set_status(left, "unsubscribed").await;
    app.confirmed_subscriber("daniyar@example.org", "Daniyar")
        .await;
    let pending_link = app.sign_up_and_get_link("pending@example.org", "").await;
    let pending = app.subscriber_id("pending@example.org").await;

    // A finished digest: three sent, one refused for good.
    app.add_article(
        "Astana Hosts the Summit",
        "https://astanatimes.example/summit",
    )
    .await;
    let finished = app.send_digest_and_wait().await;
    assert_eq!(
        (finished["sent"].as_i64(), finished["failed"].as_i64()),
        (Some(2), Some(1)),
        "{finished}"
    );
    let finished_id = finished["id"].as_i64().unwrap();
    // One still going out: the server is down, so its deliveries wait for a retry.
    app.smtp.set_faults(Faults {
        refuse_all: true,
        ..Faults::default()
    });
    app.add_article(
        "Almaty Marathon Draws Record Field",
        "https://astanatimes.example/run",
    )
    .await;
    let sending: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    let sending_id = sending["id"].as_i64().unwrap();

    // What else a purge looks at, some of it old.
    let now = db::now();
    app.state
        .db
        .run(move |conn| {
            db::subscribers::insert_confirmation_token(
                conn,
                pending,
                "expired-link-hash",
                None,
                now - Age::hours(50),
                now - Age::hours(2),
            )?;
            for (status, age) in [("sent", 2), ("failed", 3), ("cancelled", 30)] {
                diesel::insert_into(outgoing_emails::table)
                    .values((
                        outgoing_emails::kind.eq(mail::KIND_CONFIRMATION),
                        outgoing_emails::subscriber_id.eq(pending),
                        outgoing_emails::recipient.eq("pending@example.org"),
                        outgoing_emails::status.eq(status),
                        outgoing_emails::next_attempt_at.eq(now - Age::days(age)),
                        outgoing_emails::created_at.eq(now - Age::days(age)),
                    ))
                    .execute(conn)?;
            }
            for (id, expires) in [("expired-session", -1), ("live-session", 1)] {
                diesel::insert_into(admin_sessions::table)
                    .values((
                        admin_sessions::id_hash.eq(id),
                        admin_sessions::csrf_token.eq("csrf"),
                        admin_sessions::created_at.eq(now - Age::hours(2)),
                        admin_sessions::expires_at.eq(now + Age::hours(expires)),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let (mail_before, tokens_before): (i64, i64) = app
        .state
        .db
        .run(|conn| {
            Ok((
                outgoing_emails::table.count().get_result(conn)?,
                confirmation_tokens::table.count().get_result(conn)?,
            ))
        })
        .await
        .unwrap();
    let limit_count = async || {
        app.state
            .db
            .run(|conn| {
                mail::confirmation_requests_since(
                    conn,
                    "pending@example.org",
                    db::now() - Age::days(1),
                )
            })
            .await
            .unwrap()
    };
    let requests_today = limit_count().await;
    assert_eq!(requests_today, 1);
    // The workers queue a digest's readers as they send it.
    let sending_rows = crate::support::eventually(
        "the digest going out to have its three readers queued",
        std::time::Duration::from_secs(10),
        async || Some(deliveries_of(&app, sending_id).await).filter(|rows| *rows == 3),
    )
    .await;
    let archive = body(&app, "/archive").await;
    let archived = body(&app, &format!("/archive/{finished_id}")).await;
    let figures = digest_json(&app, finished_id).await;
    let readers = statuses(&app).await;

    // With the default 90 days, nothing of this is old enough.
    let kept = retention::purge(
        &app.state.db,
        std::time::Duration::from_secs(90 * 86_400),
        db::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        kept,
        Purged {
            confirmation_tokens: 1,
            admin_sessions: 1,
            ..Purged::default()
        },
        "only the dead link and the expired session go at once"
    );

    let purged = retention::purge(
        &app.state.db,
        app.state.settings.delivery_retention,
        db::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        purged,
        Purged {
            deliveries: 3,
            one_off_mail: 3,
            ..Purged::default()
        }
    );
    assert_eq!(deliveries_of(&app, finished_id).await, 0);
    assert_eq!(
        deliveries_of(&app, sending_id).await,
        sending_rows,
        "a digest still going out keeps its deliveries"
    );
    let (mail_after, tokens_after, sessions): (i64, i64, Vec<String>) = app
        .state
        .db
        .run(|conn| {
            Ok((
                outgoing_emails::table.count().get_result(conn)?,
                confirmation_tokens::table.count().get_result(conn)?,
                admin_sessions::table
                    .select(admin_sessions::id_hash)
                    .load(conn)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(mail_after, mail_before - 3, "the old finished mail went");
    assert_eq!(tokens_after, tokens_before - 1, "the expired link went");
    assert_eq!(sessions, ["live-session"]);
    assert_eq!(
        limit_count().await,
        requests_today,
        "the day's confirmation requests still count towards the limit"
    );

    assert_eq!(body(&app, "/archive").await, archive);
    assert_eq!(
        body(&app, &format!("/archive/{finished_id}")).await,
        archived
    );
    // The counts stay; who was not reached goes with the delivery rows.
    let mut after = digest_json(&app, finished_id).await;
    assert_eq!(
        after["failures"].as_array().map(Vec::len),
        Some(0),
        "{after}"
    );
    after["failures"] = figures["failures"].clone();
    assert_eq!(after, figures);
    assert_eq!(statuses(&app).await, readers);
    let admin = crate::admin_pages::Admin::log_in(&app).await;
    let page = admin
        .get(&format!("/admin/digests/{finished_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("no longer kept"), "{page}");
    assert!(!page.contains("Retry failed"), "nothing left to retry");
    // The pending reader's link, used or not, still works.
    assert_eq!(app.get(&pending_link).await.status(), 200);
    assert_eq!(app.post_empty(&pending_link).await.status(), 200);
    assert_eq!(
        app.subscriber_status("pending@example.org")
            .await
            .as_deref(),
        Some("confirmed")
    );

    let again = retention::purge(
        &app.state.db,
        app.state.settings.delivery_retention,
        db::now(),
    )
    .await
    .unwrap();
    assert_eq!(again, Purged::default(), "nothing left to purge");
}

#[tokio::test]
async fn newsletter_purge_says_what_it_deleted() {
    let workspace = Workspace::new();
    let run = workspace
        .newsletter_with(&[("DELIVERY_RETENTION_DAYS", "0")], &["purge"])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("Kept 0 days") && run.stderr.contains("0 delivery rows"),
        "{}",
        run.stderr
    );
    let bad = workspace
        .newsletter_with(&[("DELIVERY_RETENTION_DAYS", "soon")], &["purge"])
        .await;
    assert_eq!(bad.code, Some(1));
    assert!(
        bad.stderr.contains("DELIVERY_RETENTION_DAYS"),
        "{}",
        bad.stderr
    );
}
