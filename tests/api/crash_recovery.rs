//! Crash safety against the real binary: `kill -9` in the middle of a digest send, then a
//! restart, must reach every reader, duplicating only messages that were in flight, each
//! duplicate with its first copy's Message-ID.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::ADMIN_TOKEN;
use crate::smtp_server::{Faults, SmtpServer, unused_port};

const CONCURRENCY: usize = 4;

/// The service as a separate process, on a database file the test keeps.
struct Service {
    child: Child,
    address: String,
}

impl Service {
    async fn start(dir: &std::path::Path, port: u16, smtp: &SmtpServer) -> Service {
        let address = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_newsletter"))
            .arg("serve")
            .current_dir(dir)
            .env("DATABASE_URL", dir.join("newsletter.db"))
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("BASE_URL", &address)
            .env("SMTP_URL", smtp.url())
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env("SEND_CONCURRENCY", CONCURRENCY.to_string())
            .env("DELIVERY_LEASE_SECONDS", "1")
            .env("DIGEST_CRON", "")
            .env("FEED_CRON", "")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let service = Service { child, address };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(response) = client
                .get(format!("{}/health", service.address))
                .send()
                .await
                && response.status() == 200
            {
                return service;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the service did not become healthy");
    }

    /// SIGKILL: no shutdown code runs, exactly like a crash or the OOM killer.
    fn kill(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_send_killed_twice_and_restarted_reaches_everyone_duplicating_only_messages_in_flight() {
    const READERS: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start().await;
    smtp.set_faults(Faults {
        delay_per_message: Some(Duration::from_millis(10)),
        ..Faults::default()
    });
    let csv: String = std::iter::once("email,name".to_owned())
        .chain((0..READERS).map(|n| format!("reader{n}@example.org,Reader {n}")))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.path().join("readers.csv"), csv).unwrap();
    let import = Command::new(env!("CARGO_BIN_EXE_newsletter"))
        .args(["subscribers", "import", "readers.csv"])
        .current_dir(dir.path())
        .env("DATABASE_URL", dir.path().join("newsletter.db"))
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );

    let port = unused_port();
    let service = Service::start(dir.path(), port, &smtp).await;
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
        service = Some(Service::start(dir.path(), port, &smtp).await);
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
