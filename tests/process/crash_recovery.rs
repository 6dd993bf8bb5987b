//! Crash safety against the real binary: `kill -9` in the middle of a digest send, then a
//! restart, must reach every reader, duplicating only messages that were in flight, each
//! duplicate with its first copy's Message-ID.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::smtp_server::{Faults, unused_port};
use crate::support::{ADMIN_TOKEN, Service, SmtpServer, Workspace};

const CONCURRENCY: usize = 4;

#[tokio::test]
async fn a_send_killed_twice_and_restarted_reaches_everyone_duplicating_only_messages_in_flight() {
    const READERS: usize = 2_000;
    let workspace = Workspace::new();
    let smtp = SmtpServer::start().await;
    smtp.set_faults(Faults {
        delay_per_message: Some(Duration::from_millis(10)),
        ..Faults::default()
    });
    let readers: Vec<String> = (0..READERS)
        .map(|n| format!("reader{n}@example.org,Reader {n}"))
        .collect();
    workspace.import_readers(&readers).await;

    // Every start is on the same port, as a restarted service would be.
    let port = unused_port();
    let concurrency = CONCURRENCY.to_string();
    let settings = [
        ("SEND_CONCURRENCY", concurrency.as_str()),
        ("DELIVERY_LEASE_SECONDS", "1"),
    ];
    let start = async || {
        let (dir, database) = (workspace.dir.path(), &workspace.database);
        Service::start_on(port, dir, database, &smtp.url(), &settings).await
    };
    let service = start().await;
    let client = reqwest::Client::new();
    let article = client
        .post(format!("{}/api/articles", service.address))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({ "title": "Kazakhstan Stresses UN’s Vital Role", "url": "https://astanatimes.example/un" }))
        .send()
        .await
        .unwrap();
    assert_eq!(article.status(), 201);
    let digest = client
        .post(format!("{}/api/digests", service.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(digest.status(), 202);

    // Crash once a quarter has gone out, restart, crash again past half-way, restart.
    let mut service = Some(service);
    let mut crashed_at = Vec::new();
    for kill_at in [READERS / 4, READERS / 2] {
        let reached = smtp
            .wait_for_messages(kill_at, Duration::from_secs(60))
            .await
            .len();
        assert!(
            reached >= kill_at,
            "the send progressed to {reached} before the crash"
        );
        service.take().expect("running").kill();
        // Messages the dead process had in flight still land (the server finishes what
        // it was given); count them before the restart adds more.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let at_crash = smtp.messages().len();
        crashed_at.push(at_crash);
        assert!(
            at_crash < READERS,
            "the crash came mid-send ({at_crash} of {READERS})"
        );
        service = Some(start().await);
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut per_reader: HashMap<String, Vec<String>> = HashMap::new();
    loop {
        per_reader.clear();
        for mail in smtp.messages() {
            let id = mail.header("Message-ID").expect("a Message-ID");
            for to in &mail.to {
                per_reader.entry(to.clone()).or_default().push(id.clone());
            }
        }
        if per_reader.len() >= READERS || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let anything still queued arrive, so an extra copy would be counted.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let arrivals = smtp.messages();
    let duplicated = arrivals.len().saturating_sub(per_reader.len());
    let lost = READERS.saturating_sub(per_reader.len());
    // Each second copy is owed to the first crash after its first copy arrived.
    let mut first_copy_at: HashMap<&str, usize> = HashMap::new();
    let mut per_crash = vec![0usize; crashed_at.len()];
    for (position, mail) in arrivals.iter().enumerate() {
        for to in &mail.to {
            match first_copy_at.get(to.as_str()) {
                None => {
                    first_copy_at.insert(to, position);
                }
                Some(first) => {
                    let crash = crashed_at
                        .iter()
                        .position(|at| first < at)
                        .expect("a copy after a crash");
                    per_crash[crash] += 1;
                }
            }
        }
    }
    println!(
        "crash test: {READERS} readers, SEND_CONCURRENCY {CONCURRENCY}, kill -9 twice: delivered {}, lost {lost}, duplicated {duplicated} ({per_crash:?} per crash)",
        per_reader.len()
    );
    assert_eq!(lost, 0, "every reader got the digest");
    for (crash, duplicates) in per_crash.iter().enumerate() {
        assert!(
            *duplicates <= 2 * CONCURRENCY,
            "crash {crash}: at most 2 × SEND_CONCURRENCY messages in flight can go twice, got {duplicates}"
        );
    }
    for (reader, ids) in &per_reader {
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "{reader} got copies with different Message-IDs: {ids:?}"
        );
    }
    drop(service);
}
