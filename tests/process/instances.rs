//! Several instances of the real binary on one PostgreSQL database: they share a
//! digest's deliveries without sending one twice, the survivors finish what a killed one
//! held, and crons firing at the same second compose one digest.
//!
//! PostgreSQL only, so ignored unless asked for:
//! `TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test --test process -- --ignored instances::`

use std::collections::HashMap;
use std::time::Duration;

use diesel::prelude::*;
use newsletter::db::schema::digests;

use crate::support::database::TestDatabase;
use crate::support::eventually;
use crate::support::service::Service;
use crate::support::smtp_server::{Faults, SmtpServer};

const READERS: usize = 20_000;
const CONCURRENCY: usize = 4;
const NEEDS_POSTGRES: &str = "these tests need PostgreSQL: set TEST_POSTGRES_URL";

/// A fresh PostgreSQL database with `readers` confirmed readers and one waiting article.
fn postgres_with_readers(dir: &std::path::Path, readers: usize) -> TestDatabase {
    let database = TestDatabase::new(dir.join("unused.db"));
    assert!(database.is_postgres(), "{NEEDS_POSTGRES}");
    let mut csv = String::from("email,name\n");
    for n in 0..readers {
        csv.push_str(&format!("reader{n}@example.org,Aigerim Sätbayeva {n}\n"));
    }
    let db = database.open();
    let report = newsletter::csv_io::import(&db, csv.as_bytes()).expect("the readers import");
    assert_eq!(report.imported, readers);
    database
}

/// Same settings for every instance but where each listens and the relay it sends to
/// (one relay each, so the test can tell who sent what).
async fn instance(dir: &std::path::Path, database: &TestDatabase, smtp: &SmtpServer) -> Service {
    Service::start(
        dir,
        database,
        &smtp.url(),
        &[
            ("SEND_CONCURRENCY", &CONCURRENCY.to_string()),
            ("DELIVERY_LEASE_SECONDS", "2"),
            ("APP_SECRET", "an-app-secret-shared-by-every-instance-0123"),
        ],
    )
    .await
}

/// Composes a digest through `service`'s API; returns its id.
async fn send_digest(service: &Service) -> i64 {
    let article = service
        .api_post(
            "/api/articles",
            &serde_json::json!({
                "title": "Astana’s “Green Quarter” opens to residents",
                "url": "https://astanatimes.test/2026/11/green-quarter",
                "summary": "The first 1,200 flats are handed over; Ayaulym Nurlanqyzy moves in.",
            }),
        )
        .await
        .expect("POST /api/articles");
    assert_eq!(article.status(), 201);
    let digest = service
        .api_post("/api/digests", &serde_json::json!({}))
        .await
        .expect("POST /api/digests");
    assert_eq!(digest.status(), 202, "{}", digest.text().await.unwrap());
    let digest: serde_json::Value = digest.json().await.expect("JSON");
    digest["id"].as_i64().expect("an id")
}

/// Waits until every delivery of `digest` is settled; returns how many were sent.
async fn wait_until_sent(service: &Service, digest: i64) -> i64 {
    eventually(
        "the digest to be sent",
        Duration::from_secs(300),
        async || {
            let status = service.api_get(&format!("/api/digests/{digest}")).await;
            (status["pending"].as_i64() == Some(0)).then(|| status["sent"].as_i64().expect("sent"))
        },
    )
    .await
}

/// Every recipient's Message-IDs, over every relay.
fn message_ids(relays: &[&SmtpServer]) -> HashMap<String, Vec<String>> {
    let mut ids: HashMap<String, Vec<String>> = HashMap::new();
    for relay in relays {
        for mail in relay.messages() {
            let id = mail.header("Message-ID").expect("a Message-ID");
            for to in &mail.to {
                ids.entry(to.clone()).or_default().push(id.clone());
            }
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: TEST_POSTGRES_URL=… cargo test --test process -- --ignored instances::"]
async fn two_instances_share_one_digest_and_send_each_delivery_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = postgres_with_readers(dir.path(), READERS);
    let (relay_a, relay_b) = (SmtpServer::start().await, SmtpServer::start().await);
    let a = instance(dir.path(), &database, &relay_a).await;
    let b = instance(dir.path(), &database, &relay_b).await;

    let digest = send_digest(&a).await;
    assert_eq!(wait_until_sent(&b, digest).await, READERS as i64);

    let ids = message_ids(&[&relay_a, &relay_b]);
    assert_eq!(ids.len(), READERS, "every reader got the digest");
    let twice: Vec<_> = ids.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(twice.is_empty(), "sent twice with nobody dying: {twice:?}");
    let (share_a, share_b) = (relay_a.messages().len(), relay_b.messages().len());
    println!("instances: {READERS} readers, two instances sent {share_a} and {share_b}");
    assert!(
        share_a > READERS / 10 && share_b > READERS / 10,
        "both instances took a real share: {share_a} and {share_b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: TEST_POSTGRES_URL=… cargo test --test process -- --ignored instances::"]
async fn when_one_instance_is_killed_mid_send_the_other_finishes_its_share() {
    let dir = tempfile::tempdir().unwrap();
    let database = postgres_with_readers(dir.path(), READERS);
    let (relay_a, relay_b) = (SmtpServer::start().await, SmtpServer::start().await);
    // Slow relays, so the kill lands mid-send.
    let slow = || Faults {
        delay_per_message: Some(Duration::from_millis(2)),
        ..Faults::default()
    };
    relay_a.set_faults(slow());
    relay_b.set_faults(slow());
    let a = instance(dir.path(), &database, &relay_a).await;
    let b = instance(dir.path(), &database, &relay_b).await;

    let digest = send_digest(&b).await;
    eventually(
        "both instances to be sending",
        Duration::from_secs(120),
        async || {
            (relay_a.messages().len() > 1_000 && relay_b.messages().len() > 1_000).then_some(())
        },
    )
    .await;
    a.kill();
    let sent_by_a_before_dying = relay_a.messages().len();
    relay_b.set_faults(Faults::default());

    assert_eq!(wait_until_sent(&b, digest).await, READERS as i64);
    let ids = message_ids(&[&relay_a, &relay_b]);
    assert_eq!(ids.len(), READERS, "every reader got the digest");
    let twice: Vec<_> = ids.values().filter(|ids| ids.len() > 1).collect();
    println!(
        "instances: killed one after it sent {sent_by_a_before_dying}; the other finished; {} readers got it twice (at most {})",
        twice.len(),
        2 * CONCURRENCY
    );
    assert!(
        twice.len() <= 2 * CONCURRENCY,
        "{} duplicates, more than 2 × SEND_CONCURRENCY",
        twice.len()
    );
    for ids in twice {
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "a duplicate carries its first copy's Message-ID: {ids:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: TEST_POSTGRES_URL=… cargo test --test process -- --ignored instances::"]
async fn three_instances_whose_crons_fire_together_compose_one_digest() {
    let dir = tempfile::tempdir().unwrap();
    let database = postgres_with_readers(dir.path(), 50);
    let relay = SmtpServer::start().await;
    // Every instance composes at every even second; they start within one.
    let cron = [("DIGEST_CRON", "*/2 * * * * *")];
    let a = Service::start(dir.path(), &database, &relay.url(), &[]).await;
    let article = a
        .post_article(
            "Karaganda’s miners vote on the new contract",
            "https://astanatimes.test/2026/11/karaganda-vote",
        )
        .await;
    assert_eq!(article.status(), 201);
    drop(a);
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(Service::start(dir.path(), &database, &relay.url(), &cron).await);
    }
    let db = database.open();
    eventually(
        "a digest to be composed",
        Duration::from_secs(30),
        async || {
            let count: i64 = db
                .run(|conn| Ok(digests::table.count().get_result(conn)?))
                .await
                .unwrap();
            (count > 0).then_some(())
        },
    )
    .await;
    // A few more rounds of every cron.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let count: i64 = db
        .run(|conn| Ok(digests::table.count().get_result(conn)?))
        .await
        .unwrap();
    assert_eq!(count, 1, "three crons, one digest");
    relay.wait_for_messages(50, Duration::from_secs(30)).await;
    let per_reader = crate::support::mails_per_recipient(&relay);
    assert!(per_reader.values().all(|&n| n == 1), "{per_reader:?}");
}
