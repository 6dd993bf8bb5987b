//! What an attacker found, against the real binary: racing the admin-token budget and
//! stalled request bodies. They measure the process's peak RSS from `/proc` and a
//! deadline of seconds.

use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, SaltString};
use futures_util::future::join_all;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{Service, SmtpServer, TestDatabase, answer_before_close};

/// An argon2id hash of `token` that costs 64 MiB to verify, as a careful admin sets it.
fn costly_argon2_hash(token: &str) -> String {
    let params = argon2::Params::new(64 * 1024, 1, 1, None).expect("valid parameters");
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"hardening-test-salt").expect("a salt");
    argon2
        .hash_password(token.as_bytes(), &salt)
        .expect("the token hashes")
        .to_string()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// Sends every request at once; their statuses, in order.
async fn statuses_at_once(requests: impl IntoIterator<Item = reqwest::RequestBuilder>) -> Vec<u16> {
    join_all(requests.into_iter().map(|request| request.send()))
        .await
        .into_iter()
        .map(|response| response.expect("an answer").status().as_u16())
        .collect()
}

#[tokio::test]
async fn wrong_admin_tokens_are_counted_before_they_are_verified_and_verifying_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::new(dir.path().join("newsletter.db"));
    let smtp = SmtpServer::start().await;
    let token = "the-real-admin-token-0123456789";
    let hash = costly_argon2_hash(token);
    let service = Service::start(
        dir.path(),
        &database,
        &smtp.url(),
        &[("ADMIN_TOKEN", &hash), ("TRUSTED_PROXY", "127.0.0.1")],
    )
    .await;
    let started_kib = service.peak_rss_kib();

    // One client racing its own budget: 100 wrong tokens at once.
    let statuses = statuses_at_once((0..100).map(|i| {
        service
            .client
            .get(service.url("/api/subscribers"))
            .bearer_auth(format!("wrong-token-{i}"))
            .header("X-Forwarded-For", "203.0.113.7")
    }))
    .await;
    assert!(count(&statuses, 401) <= 5, "{statuses:?}");
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 429),
        100,
        "{statuses:?}"
    );

    // The login form from another client: 200 wrong tokens at once.
    let statuses = statuses_at_once((0..200).map(|i| {
        service
            .client
            .post(service.url("/admin/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Forwarded-For", "203.0.113.8")
            .body(format!("token=wrong-{i}"))
    }))
    .await;
    assert!(count(&statuses, 401) <= 5, "{statuses:?}");
    assert_eq!(count(&statuses, 401) + count(&statuses, 429), 200);

    // A hundred clients, one wrong token each: every one is verified, a few at a time.
    let statuses = statuses_at_once((0..100).map(|i| {
        service
            .client
            .get(service.url("/api/subscribers"))
            .bearer_auth("wrong")
            .header("X-Forwarded-For", format!("198.51.100.{}", i + 1))
    }))
    .await;
    assert_eq!(count(&statuses, 401), 100, "{statuses:?}");

    let grown_mib = service.peak_rss_kib().saturating_sub(started_kib) / 1024;
    println!("admin tokens: peak RSS grew {grown_mib} MiB under 400 wrong argon2 tokens");
    // Each verification holds 64 MiB; all at once would be 6 GB.
    assert!(grown_mib < 400, "peak RSS grew {grown_mib} MiB");

    let right = service
        .client
        .get(service.url("/api/subscribers"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200, "the right token still works");
}

/// Opens a connection and sends a sign-up's headers promising a body that never comes:
/// by its length, or (`chunked`) as a chunked body that never ends.
async fn stalled_sign_up(port: u16, chunked: bool) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let framing = if chunked {
        "Transfer-Encoding: chunked\r\n\r\n6\r\nemail="
    } else {
        "Content-Length: 10000\r\n\r\nemail="
    };
    let head = format!(
        "POST /subscriptions HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n{framing}"
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    Some(stream)
}

#[tokio::test]
async fn stalled_request_bodies_time_out_and_cannot_take_health_down() {
    const STALLED: usize = 1100;
    rlimit::increase_nofile_limit(u64::from(STALLED as u32 * 2 + 1024)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::new(dir.path().join("newsletter.db"));
    let smtp = SmtpServer::start().await;
    // The process may hold 1,024 files, fewer than the stalled connections.
    let service =
        Service::start_with_open_file_limit(dir.path(), &database, &smtp.url(), &[], 1024).await;
    let port = service.port();

    let started = Instant::now();
    // Half of them by length, half chunked.
    let stalled: Vec<TcpStream> = join_all((0..STALLED).map(|i| stalled_sign_up(port, i % 2 == 1)))
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(stalled.len(), STALLED, "every connection was accepted");

    // While they stall, health checks are answered, each within seconds.
    for _ in 0..10 {
        let health = tokio::time::timeout(Duration::from_secs(3), service.get("/health"))
            .await
            .expect("/health answers within 3 s")
            .expect("/health answers");
        assert_eq!(health.status(), 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Every stalled request is answered and closed: 429 past the client's connection
    // cap at once, 408 for the others once the body deadline has passed.
    let answers: Vec<Option<u16>> = join_all(
        stalled
            .into_iter()
            .map(|stream| answer_before_close(stream, Duration::from_secs(30))),
    )
    .await;
    let took = started.elapsed();
    println!("stalled bodies: {STALLED} answered and closed in {took:.1?}");
    assert!(
        answers.iter().all(Option::is_some),
        "a connection stayed open"
    );
    let answers: Vec<u16> = answers.into_iter().flatten().collect();
    assert_eq!(
        count(&answers, 408) + count(&answers, 429),
        STALLED,
        "{answers:?}"
    );
    assert!(count(&answers, 408) >= 1 && count(&answers, 408) <= 256);
    assert!(took < Duration::from_secs(40), "took {took:?}");
    assert_eq!(service.get("/health").await.unwrap().status(), 200);
}
