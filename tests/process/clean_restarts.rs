//! Clean restarts against the real binary: a SIGTERM in the middle of a digest send
//! finishes the messages in flight, hands the rest back and exits within the grace
//! period; the next start sends the rest at once (not after the leases lapse), and no
//! reader gets the digest twice.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::service::terminate_child;
use crate::support::smtp_server::{Faults, unused_port};
use crate::support::{ADMIN_TOKEN, Service, SmtpServer, Workspace};

const READERS: usize = 2_000;
/// Long, so that a restart that waited for a lease to lapse would show.
const LEASE_SECONDS: u64 = 120;
const GRACE_SECONDS: u64 = 10;

/// The settings of every process of these tests.
fn settings() -> Vec<(&'static str, String)> {
    vec![
        ("SEND_CONCURRENCY", "4".to_owned()),
        ("DELIVERY_LEASE_SECONDS", LEASE_SECONDS.to_string()),
        ("SHUTDOWN_GRACE_SECONDS", GRACE_SECONDS.to_string()),
    ]
}

/// A workspace with `READERS` confirmed readers, and an SMTP server slow enough that a
/// send of them takes seconds.
async fn readers_and_a_slow_server() -> (Workspace, SmtpServer) {
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
    (workspace, smtp)
}

/// Waits until the send has gone well under way, and checks it is not over.
async fn wait_until_mid_send(smtp: &SmtpServer) {
    let reached = smtp
        .wait_for_messages(READERS / 4, Duration::from_secs(60))
        .await
        .len();
    assert!(
        (READERS / 4..READERS).contains(&reached),
        "the stop comes mid-send ({reached} of {READERS})"
    );
}

/// Waits (up to `limit`) until every reader has the digest, then a little longer so a
/// late second copy would be counted; returns each reader's copies' Message-IDs and
/// how long every reader took.
async fn every_reader_served(
    smtp: &SmtpServer,
    limit: Duration,
) -> (HashMap<String, Vec<String>>, Duration) {
    let started = Instant::now();
    let mut readers = 0;
    while started.elapsed() < limit {
        readers = smtp
            .messages()
            .iter()
            .flat_map(|mail| mail.to.clone())
            .collect::<std::collections::HashSet<_>>()
            .len();
        if readers >= READERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    assert_eq!(
        readers, READERS,
        "every reader got the digest within {limit:?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut copies: HashMap<String, Vec<String>> = HashMap::new();
    for mail in smtp.messages() {
        let id = mail.header("Message-ID").expect("a Message-ID");
        for to in &mail.to {
            copies.entry(to.clone()).or_default().push(id.clone());
        }
    }
    (copies, took)
}

/// Asserts that every reader got exactly one copy.
fn exactly_once(copies: &HashMap<String, Vec<String>>, total_messages: usize) {
    assert_eq!(copies.len(), READERS, "every reader");
    let twice: Vec<_> = copies.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "{} readers got the digest more than once, e.g. {:?}",
        twice.len(),
        twice.first()
    );
    assert_eq!(total_messages, READERS, "no duplicate at all");
}

#[tokio::test]
async fn a_sigterm_mid_send_exits_within_the_grace_and_the_restart_sends_the_rest_at_once_with_no_duplicate()
 {
    let (workspace, smtp) = readers_and_a_slow_server().await;
    let settings = settings();
    let env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let port = unused_port();
    let start = async || {
        Service::start_on(
            port,
            workspace.path(),
            workspace.database(),
            &smtp.url(),
            &env,
        )
        .await
    };
    let service = start().await;
    let article = service
        .post_article(
            "Kazakhstan Stresses UN’s Vital Role",
            "https://astanatimes.example/un",
        )
        .await;
    assert_eq!(article.status(), 201);
    let digest = service
        .api_post("/api/digests", &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(digest.status(), 202);
    let id = digest.json::<serde_json::Value>().await.unwrap()["id"].clone();

    wait_until_mid_send(&smtp).await;
    let (exit, took) = service
        .terminate(Duration::from_secs(GRACE_SECONDS + 5))
        .await;
    let exit = exit.unwrap_or_else(|| panic!("still running {took:?} after SIGTERM"));
    assert!(exit.success(), "serve exits 0 on SIGTERM: {exit:?}");
    assert!(
        took < Duration::from_secs(GRACE_SECONDS),
        "exited {took:?} after SIGTERM, past the {GRACE_SECONDS} s grace"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let at_stop = smtp.messages().len();
    assert!(at_stop < READERS, "the stop came mid-send ({at_stop})");

    let restarted = start().await;
    let (copies, took_rest) = every_reader_served(&smtp, Duration::from_secs(60)).await;
    println!(
        "clean restart: {READERS} readers, SIGTERM after {at_stop}: exited in {took:?}, the restart sent the rest in {took_rest:?} (lease {LEASE_SECONDS} s), {} messages in all",
        smtp.messages().len()
    );
    exactly_once(&copies, smtp.messages().len());
    assert!(
        took_rest < Duration::from_secs(LEASE_SECONDS / 2),
        "the restart waited for leases to lapse ({took_rest:?})"
    );
    let progress = restarted.api_get(&format!("/api/digests/{id}")).await;
    assert_eq!(progress["sent"], READERS, "{progress}");
    assert_eq!(progress["pending"], 0, "{progress}");
}

#[tokio::test]
async fn send_digest_stopped_by_sigterm_hands_its_readers_to_a_worker_at_once_with_no_duplicate() {
    let (workspace, smtp) = readers_and_a_slow_server().await;
    let added = workspace
        .newsletter(&[
            "add-article",
            "--title",
            "Astana Hosts the Summit",
            "--url",
            "https://astanatimes.example/summit",
        ])
        .await;
    assert_eq!(added.code, Some(0), "{}", added.stderr);
    let spawn = |verb: &str, log: &str| -> Child {
        let mut command: Command = workspace.command(workspace.database());
        command
            .arg(verb)
            .env("SMTP_URL", smtp.url())
            .env("BASE_URL", "http://news.example")
            .env("DIGEST_CRON", "")
            .env("FEED_CRON", "")
            .envs(settings())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(workspace.path().join(log)).expect("a log file"),
            ));
        command.spawn().expect("the binary starts")
    };
    let mut sender = spawn("send-digest", "send-digest.log");
    wait_until_mid_send(&smtp).await;
    let (exit, took) = terminate_child(&mut sender, Duration::from_secs(GRACE_SECONDS + 5)).await;
    let said = std::fs::read_to_string(workspace.path().join("send-digest.log")).unwrap();
    let exit = exit.unwrap_or_else(|| panic!("still running {took:?} after SIGTERM:\n{said}"));
    assert_eq!(exit.code(), Some(143), "128 + SIGTERM: {exit:?}\n{said}");
    assert!(
        took < Duration::from_secs(GRACE_SECONDS),
        "exited {took:?} after SIGTERM"
    );
    assert!(said.contains("Stopped by SIGTERM"), "{said}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let at_stop = smtp.messages().len();
    assert!(at_stop < READERS, "the stop came mid-send ({at_stop})");

    let mut worker = spawn("worker", "worker.log");
    let (copies, took_rest) = every_reader_served(&smtp, Duration::from_secs(60)).await;
    println!(
        "clean restart: send-digest stopped after {at_stop} in {took:?}; a worker sent the rest in {took_rest:?}"
    );
    exactly_once(&copies, smtp.messages().len());
    assert!(
        took_rest < Duration::from_secs(LEASE_SECONDS / 2),
        "the worker waited for leases to lapse ({took_rest:?})"
    );
    let (exit, _) = terminate_child(&mut worker, Duration::from_secs(GRACE_SECONDS + 5)).await;
    assert!(exit.is_some_and(|exit| exit.success()), "{exit:?}");
    let _ = ADMIN_TOKEN;
}

#[tokio::test]
async fn a_sigterm_while_the_smtp_server_hangs_still_exits_within_the_grace_and_the_digest_goes_out_later()
 {
    const GRACE: Duration = Duration::from_secs(6);
    let workspace = Workspace::new();
    let smtp = SmtpServer::start().await;
    // Every message hangs at the end of DATA for longer than the grace.
    smtp.set_faults(Faults {
        delay_per_message: Some(Duration::from_secs(30)),
        ..Faults::default()
    });
    let readers: Vec<String> = (0..20)
        .map(|n| format!("reader{n}@example.org,Reader {n}"))
        .collect();
    workspace.import_readers(&readers).await;
    let env = [
        ("SEND_CONCURRENCY", "4"),
        ("DELIVERY_LEASE_SECONDS", "2"),
        ("SHUTDOWN_GRACE_SECONDS", "6"),
    ];
    let service = workspace.serve(&smtp.url(), &env).await;
    service
        .post_article("Steppe Eagles Return", "https://astanatimes.example/eagles")
        .await;
    let digest = service
        .api_post("/api/digests", &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(digest.status(), 202);
    let started = Instant::now();
    while smtp.connections_accepted() == 0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The messages are now in flight, their DATA unanswered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (exit, took) = service.terminate(GRACE + Duration::from_secs(5)).await;
    let exit = exit.unwrap_or_else(|| panic!("still running {took:?} after SIGTERM"));
    assert!(exit.success(), "{exit:?}");
    assert!(
        took < GRACE,
        "exited {took:?} after SIGTERM, past the {GRACE:?} grace"
    );

    // The server answers again; the next start takes the deliveries once their lease
    // lapses (messages in flight at the stop may have gone out: no claim about copies).
    smtp.set_faults(Faults::default());
    let _restarted = workspace.serve(&smtp.url(), &env).await;
    let mut reached = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reached.len() < readers.len() && Instant::now() < deadline {
        reached = smtp
            .messages()
            .iter()
            .flat_map(|mail| mail.to.clone())
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("clean restart: with the SMTP server hanging, SIGTERM to exit took {took:?}");
    assert_eq!(reached.len(), readers.len(), "every reader got the digest");
}

#[tokio::test]
async fn a_sigterm_closes_the_listener_but_answers_the_request_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let workspace = Workspace::new();
    let smtp = SmtpServer::start().await;
    let mut service = workspace
        .serve(&smtp.url(), &[("SHUTDOWN_GRACE_SECONDS", "10")])
        .await;
    let port = service.port();
    let body = "email=late.reader%40example.org&name=Late+Reader";
    let mut request = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    // Headers and half the body: the request is in flight when the signal comes.
    request
        .write_all(
            format!(
                "POST /subscriptions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{}",
                body.len(),
                &body[..10]
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    service.signal_terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "no new connection is taken once stopping"
    );
    request.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = vec![0; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), request.read(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(request);
    let exit = service.wait_for_exit(Duration::from_secs(10)).await;
    assert!(exit.is_some_and(|exit| exit.success()), "{exit:?}");
    let readers = workspace
        .newsletter(&["subscribers", "export"])
        .await
        .stdout;
    assert!(readers.contains("late.reader@example.org"), "{readers}");
}
