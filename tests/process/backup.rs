//! `newsletter backup FILE` against a running service that is sending: the copy opens,
//! passes SQLite's integrity check and holds every reader; an existing file is never
//! overwritten, and PostgreSQL is pointed to `pg_dump`.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Text;
use newsletter::db::{AnyConnection, Db};

use crate::support::smtp_server::Faults;
use crate::support::{SmtpServer, Workspace};

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[tokio::test]
async fn a_backup_taken_while_a_20000_reader_digest_goes_out_is_whole_and_has_every_reader() {
    const READERS: usize = 20_000;
    let workspace = Workspace::sqlite();
    let smtp = SmtpServer::start().await;
    smtp.set_faults(Faults {
        delay_per_message: Some(Duration::from_millis(2)),
        ..Faults::default()
    });
    let readers: Vec<String> = (0..READERS)
        .map(|n| format!("reader{n}@example.org,Reader {n}"))
        .collect();
    workspace.import_readers(&readers).await;
    let service = workspace
        .serve(&smtp.url(), &[("SEND_CONCURRENCY", "4")])
        .await;
    let article = service
        .post_article(
            "Astana Opens a New Library",
            "https://astanatimes.example/library",
        )
        .await;
    assert_eq!(article.status(), 201);
    let digest = service
        .api_post("/api/digests", &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(digest.status(), 202);
    let id = digest.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .expect("an id");
    smtp.wait_for_messages(1_000, Duration::from_secs(60)).await;

    let started = std::time::Instant::now();
    let backup = workspace.newsletter(&["backup", "copy.db"]).await;
    let took = started.elapsed();
    let sent_by_then = smtp.messages().len();
    assert_eq!(backup.code, Some(0), "{}", backup.stderr);
    assert!(
        sent_by_then < READERS,
        "the backup was taken mid-send ({sent_by_then} of {READERS} sent)"
    );
    assert!(
        backup
            .stderr
            .contains(&format!("subscribers: {READERS} rows")),
        "{}",
        backup.stderr
    );
    println!(
        "backup: taken in {took:?} while a {READERS}-reader digest was going out ({sent_by_then} sent by then)"
    );

    // The copy, opened on its own.
    let copy = workspace.path().join("copy.db");
    let mut conn = AnyConnection::Sqlite(
        SqliteConnection::establish(&copy.display().to_string()).expect("the copy opens"),
    );
    let AnyConnection::Sqlite(sqlite) = &mut conn else {
        unreachable!()
    };
    let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(sqlite)
        .expect("checked");
    assert_eq!(check.len(), 1);
    assert_eq!(check[0].integrity_check, "ok");
    drop(conn);
    let db = Db::connect(&copy.display().to_string()).expect("the copy opens as a database");
    let (confirmed, deliveries, readers_queued, recipients) = db
        .run_blocking(move |conn| {
            use newsletter::db::schema::{deliveries, subscribers};
            let confirmed: i64 = subscribers::table
                .filter(subscribers::status.eq("confirmed"))
                .count()
                .get_result(conn)?;
            let deliveries: i64 = deliveries::table
                .filter(deliveries::digest_id.eq(id))
                .count()
                .get_result(conn)?;
            // The workers queue a digest's readers as they send it: those up to its
            // cursor (all, once it is wholly queued) have their delivery.
            let readers_queued: i64 = match newsletter::db::digests::queue_position(conn, id)? {
                Some(at) => subscribers::table
                    .filter(subscribers::id.le(at.cursor))
                    .count()
                    .get_result(conn)?,
                None => confirmed,
            };
            let recipients = newsletter::db::digests::progress(conn, id)?.recipients;
            Ok((confirmed, deliveries, readers_queued, recipients))
        })
        .expect("counted");
    assert_eq!(confirmed, READERS as i64, "every reader is in the copy");
    assert_eq!(
        recipients, READERS as i64,
        "the digest, going to every reader, too"
    );
    assert_eq!(
        deliveries, readers_queued,
        "and a delivery for every reader queued by then"
    );

    // Never over an existing file.
    let before = std::fs::read(&copy).unwrap();
    let again = workspace.newsletter(&["backup", "copy.db"]).await;
    assert_eq!(again.code, Some(2), "{}", again.stderr);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert!(
        std::fs::read(&copy).unwrap() == before,
        "the file is as it was"
    );
    drop(service);
}

#[tokio::test]
async fn a_backup_of_postgresql_points_to_pg_dump() {
    let workspace = Workspace::new();
    let run = workspace
        .newsletter_with(
            &[(
                "DATABASE_URL",
                "postgres://news@db.example.invalid/newsletter",
            )],
            &["backup", "copy.db"],
        )
        .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("pg_dump"), "{}", run.stderr);
    assert!(!workspace.path().join("copy.db").exists());
}
