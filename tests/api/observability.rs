//! Watching the service: `GET /metrics` (who may read it, and that its counters move
//! as readers come, mail goes and readers leave), request ids, and `GET /ready`.

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use crate::support::app::{spawn_app, spawn_app_with};
use crate::support::database::TestDatabase;
use crate::support::eventually;
use crate::support::service::Service;
use crate::support::smtp_server::{Faults, SmtpServer, unused_port};
use crate::support::workspace::Workspace;

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";

/// The value of the sample `series` (name and labels exactly as rendered), if shown.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// `/metrics` with the token.
async fn scrape(app: &crate::support::app::TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "Prometheus's text format"
    );
    response.text().await.expect("a body")
}

/// Runs `promtool check metrics` on `text`. Without promtool: fails under CI (which
/// installs it), and otherwise says so and checks nothing more.
fn promtool_accepts(text: &str) {
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".to_owned());
    let child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("promtool is needed under CI (.ci/run installs it): {e}")
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: promtool is not installed, so /metrics was not checked with it (.ci/run installs it from Debian's `prometheus` package)"
            );
            return;
        }
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("promtool reads the page");
    let output = child.wait_with_output().expect("promtool runs");
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn metrics_are_not_served_on_the_public_port_without_a_token_setting() {
    let app = spawn_app().await;
    assert_eq!(app.get("/metrics").await.status(), 404);
    let with_some_token = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(with_some_token.status(), 404);
}

#[tokio::test]
async fn metrics_on_the_public_port_need_the_token() {
    let app = spawn_app_with(&[("METRICS_TOKEN", METRICS_TOKEN)]).await;
    let without = app.get("/metrics").await;
    assert_eq!(without.status(), 401);
    assert_eq!(without.headers()["www-authenticate"], "Bearer");
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("metrics-token-0123456789abcdeX")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.unwrap().contains("newsletter_"));
    let text = scrape(&app).await;
    assert!(text.contains("# TYPE newsletter_http_request_duration_seconds histogram"));
}

#[tokio::test]
async fn metrics_addr_serves_the_metrics_without_a_token_and_nothing_else() {
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let port = app.metrics_port.expect("METRICS_ADDR is bound");
    let base = format!("http://127.0.0.1:{port}");
    let response = app
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("newsletter_queue_depth"), "{text}");
    let elsewhere = app
        .client
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);
    // The public port still keeps them to itself: no token is set.
    assert_eq!(app.get("/metrics").await.status(), 404);
}

#[tokio::test]
async fn the_counters_move_as_readers_sign_up_get_mail_and_leave_and_promtool_accepts_the_page() {
    let app = spawn_app_with(&[("METRICS_TOKEN", METRICS_TOKEN)]).await;
    // A sign-up through the form, and its confirmation.
    let confirmed = app
        .confirmed_subscriber("aigerim@example.kz", "Aigerim")
        .await;
    assert_eq!(
        app.sign_up("not an address", "").await.status(),
        400,
        "an invalid sign-up"
    );
    app.import_confirmed(&[
        "one.click@example.kz",
        "gone@example.kz",
        "later@example.kz",
        "fourth@example.kz",
    ])
    .await;
    // Every second message from now on gets a 451 (and is retried); one mailbox is
    // gone for good (550 at RCPT), twice, so its reader is marked bounced.
    app.smtp.set_faults(Faults {
        temp_fail_every_nth_message: Some(2),
        reject_recipients: vec!["gone@example.kz".into()],
        ..Faults::default()
    });
    for round in 0..2 {
        app.add_article(
            &format!("Story {round}"),
            &format!("https://news.example/{round}"),
        )
        .await;
        let status = app.send_digest_and_wait().await;
        assert_eq!(status["failed"], 1, "{status}");
        assert_eq!(status["pending"], 0, "{status}");
    }
    assert_eq!(
        app.subscriber_status("gone@example.kz").await.as_deref(),
        Some("bounced")
    );
    // Leaving: the page's button, and a mail client's one-click.
    let link = app.unsubscribe_link(confirmed);
    assert_eq!(app.post_empty(&link).await.status(), 200);
    assert_eq!(
        app.post_empty(&link).await.status(),
        200,
        "again: no change"
    );
    let one_click = app.subscriber_id("one.click@example.kz").await;
    let response = app
        .client
        .post(app.unsubscribe_link(one_click))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.get(&format!("/archive/{}", 1)).await;

    let text = scrape(&app).await;
    let value =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
    assert_eq!(value(r#"newsletter_signups_total{outcome="queued"}"#), 1.0);
    assert_eq!(value(r#"newsletter_signups_total{outcome="invalid"}"#), 1.0);
    assert_eq!(value("newsletter_confirmations_total"), 1.0);
    assert_eq!(
        value(r#"newsletter_mails_total{kind="confirmation",result="sent"}"#),
        1.0
    );
    // Two digests to five readers, one of them refused each time.
    assert_eq!(
        value(r#"newsletter_mails_total{kind="digest",result="sent"}"#),
        8.0
    );
    assert_eq!(
        value(r#"newsletter_mails_total{kind="digest",result="bounced"}"#),
        2.0
    );
    assert!(value(r#"newsletter_mails_total{kind="digest",result="retried"}"#) >= 1.0);
    assert!(value(r#"newsletter_smtp_replies_total{class="4xx"}"#) >= 1.0);
    assert_eq!(value(r#"newsletter_smtp_replies_total{class="5xx"}"#), 2.0);
    assert_eq!(value(r#"newsletter_smtp_replies_total{class="2xx"}"#), 9.0);
    assert_eq!(value(r#"newsletter_unsubscribes_total{path="link"}"#), 1.0);
    assert_eq!(
        value(r#"newsletter_unsubscribes_total{path="one_click"}"#),
        1.0
    );
    assert_eq!(
        value(r#"newsletter_unsubscribes_total{path="bounce"}"#),
        1.0
    );
    assert_eq!(
        value(r#"newsletter_unsubscribes_total{path="complaint"}"#),
        0.0
    );
    assert_eq!(value(r#"newsletter_subscribers{status="confirmed"}"#), 2.0);
    assert_eq!(
        value(r#"newsletter_subscribers{status="unsubscribed"}"#),
        2.0
    );
    assert_eq!(value(r#"newsletter_subscribers{status="bounced"}"#), 1.0);
    assert_eq!(value(r#"newsletter_queue_depth{kind="digest"}"#), 0.0);
    assert_eq!(value("newsletter_digests_in_progress"), 0.0);
    assert!(value("newsletter_smtp_send_duration_seconds_count") >= 11.0);
    // Requests by route: the pattern, never the path with its id or token.
    assert!(
        text.contains(r#"route="/archive/{id}""#),
        "the archive's route pattern: {text}"
    );
    assert!(text.contains(r#"route="/unsubscribe""#));
    assert!(!text.contains("token="), "no raw path or query in a label");
    promtool_accepts(&text);
}

#[tokio::test]
async fn the_queue_gauges_show_what_waits() {
    let app = spawn_app_with(&[("METRICS_TOKEN", METRICS_TOKEN)]).await;
    // A server that is down: the confirmation waits in the queue.
    app.smtp.set_faults(Faults {
        refuse_all: true,
        ..Faults::default()
    });
    assert_eq!(app.sign_up("waiting@example.kz", "").await.status(), 200);
    app.drain_queues().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = scrape(&app).await;
    assert_eq!(
        sample(&text, r#"newsletter_queue_depth{kind="confirmation"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"newsletter_smtp_replies_total{class="connection_error"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    promtool_accepts(&text);
}

/// A client whose requests come from `source` (a loopback address of its own).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().expect("an address"))
        .build()
        .expect("a client")
}

#[tokio::test]
async fn a_request_id_from_the_trusted_proxy_is_kept_and_anyone_elses_replaced() {
    let app = spawn_app_with(&[("TRUSTED_PROXY", "127.0.0.1")]).await;
    let from_proxy = client_from("127.0.0.1")
        .get(app.url("/"))
        .header("X-Request-Id", "edge-4f1c2a")
        .send()
        .await
        .unwrap();
    assert_eq!(from_proxy.headers()["x-request-id"], "edge-4f1c2a");
    let from_elsewhere = client_from("127.0.0.2")
        .get(app.url("/"))
        .header("X-Request-Id", "edge-4f1c2a")
        .send()
        .await
        .unwrap();
    let replaced = from_elsewhere.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(replaced, "edge-4f1c2a");
    assert_eq!(replaced.len(), 32);
    // An id that is no id (too long, or not visible ASCII) is replaced even from
    // the proxy.
    let long = "x".repeat(129);
    let insane = client_from("127.0.0.1")
        .get(app.url("/"))
        .header("X-Request-Id", long.as_str())
        .send()
        .await
        .unwrap();
    assert_ne!(insane.headers()["x-request-id"], long.as_str());
    // Every answer has one, the errors too.
    let missing = app.get("/no-such-page").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["x-request-id"].len(), 32);
}

#[tokio::test]
async fn ready_answers_503_while_shutting_down_or_behind_on_migrations() {
    let app = spawn_app().await;
    let response = app.get("/ready").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
    // A schema that lacks a migration of this build: another process is migrating it.
    let forget = |sql: &'static str| {
        app.state.db.run(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(sql).execute(conn)?;
            Ok(())
        })
    };
    forget(
        "CREATE TABLE forgotten_migration AS SELECT * FROM __diesel_schema_migrations \
         WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)",
    )
    .await
    .expect("the newest migration is kept aside");
    forget(
        "DELETE FROM __diesel_schema_migrations WHERE version = \
         (SELECT version FROM forgotten_migration)",
    )
    .await
    .expect("and forgotten");
    let migrating = app.get("/ready").await;
    assert_eq!(migrating.status(), 503);
    assert_eq!(
        migrating.json::<serde_json::Value>().await.unwrap()["status"],
        "migrating"
    );
    forget("INSERT INTO __diesel_schema_migrations SELECT * FROM forgotten_migration")
        .await
        .expect("the migration is back");
    assert_eq!(app.get("/ready").await.status(), 200);
    app.state
        .shutting_down
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let stopping = app.get("/ready").await;
    assert_eq!(stopping.status(), 503);
    assert_eq!(stopping.headers()["retry-after"], "5");
    // Liveness is another question: still alive.
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn the_real_binary_logs_json_lines_and_a_requests_line_carries_its_id() {
    let workspace = Workspace::new();
    let relay = SmtpServer::start().await;
    let service = workspace
        .serve(
            &relay.url(),
            &[
                ("TRUSTED_PROXY", "127.0.0.1"),
                ("LOG_FORMAT", "json"),
                // The delivery batches' summaries too.
                ("RUST_LOG", "info,newsletter::mail::outbox=debug"),
            ],
        )
        .await;
    assert_eq!(
        service.sign_up("dana@example.kz").await.unwrap().status(),
        200
    );
    relay
        .wait_for_messages(1, Duration::from_secs(10))
        .await
        .pop()
        .expect("the confirmation is sent");
    let from_proxy = client_from("127.0.0.1")
        .get(service.url("/archive"))
        .header("X-Request-Id", "edge-7c9e01")
        .send()
        .await
        .unwrap();
    assert_eq!(from_proxy.headers()["x-request-id"], "edge-7c9e01");
    let from_elsewhere = client_from("127.0.0.2")
        .get(service.url("/archive"))
        .header("X-Request-Id", "forged-id-5d2b")
        .send()
        .await
        .unwrap();
    let replaced = from_elsewhere.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(replaced, "forged-id-5d2b");

    let log = eventually(
        "both requests and the batch are logged",
        Duration::from_secs(10),
        async || {
            let log = service.log();
            (log.contains(&replaced) && log.contains("batch done")).then_some(log)
        },
    )
    .await;
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let request_line = |id: &str| {
        lines
            .iter()
            .find(|line| line["span"]["request_id"] == id && line["fields"]["message"] == "request")
    };
    let kept =
        request_line("edge-7c9e01").unwrap_or_else(|| panic!("no line for the proxy's id:\n{log}"));
    assert_eq!(kept["fields"]["path"], "/archive");
    assert_eq!(kept["level"], "INFO");
    assert!(request_line(&replaced).is_some(), "{log}");
    assert!(
        !log.contains("forged-id-5d2b"),
        "a stranger's id never reaches the log"
    );
    // The confirmation's batch logs in a span with its figures.
    let batch = lines
        .iter()
        .find(|line| line["fields"]["message"] == "batch done")
        .expect("the batch's summary");
    assert_eq!(batch["span"]["name"], "delivery_batch", "{batch}");
    assert_eq!(batch["span"]["queue"], "mail queue", "{batch}");
    assert_eq!(batch["span"]["claimed"], 1, "{batch}");
    assert_eq!(batch["span"]["sent"], 1, "{batch}");
}

#[tokio::test]
async fn an_unknown_log_format_stops_the_start_with_a_clear_message() {
    let workspace = Workspace::new();
    let run = workspace
        .newsletter_with(&[("LOG_FORMAT", "xml")], &["migrate"])
        .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("LOG_FORMAT must be `text` or `json`, not `xml`"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn ready_answers_503_on_the_port_while_the_start_waits_for_the_database() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, SqliteConnection};
    let dir = tempfile::tempdir().expect("a folder");
    let file = dir.path().join("newsletter.db");
    // Another process holds the database (a long write, a migration of its own).
    let mut holder =
        SqliteConnection::establish(&file.display().to_string()).expect("the file opens");
    holder
        .batch_execute(
            "CREATE TABLE held (x INTEGER); BEGIN EXCLUSIVE; INSERT INTO held VALUES (1);",
        )
        .expect("an exclusive lock");
    let database = TestDatabase::sqlite(&file);
    let relay = SmtpServer::start().await;
    let port = unused_port();
    let ready = format!("http://127.0.0.1:{port}/ready");
    let client = reqwest::Client::new();
    let check = async {
        let answer = eventually("the port answers", Duration::from_secs(10), async || {
            client.get(&ready).send().await.ok()
        })
        .await;
        assert_eq!(answer.status(), 503, "not ready while the database is held");
        assert_eq!(answer.headers()["retry-after"], "5");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["status"], "migrating");
        holder.batch_execute("COMMIT").expect("the lock is let go");
    };
    let relay_url = relay.url();
    let (service, ()) = tokio::join!(
        Service::start_on(port, dir.path(), &database, &relay_url, &[]),
        check
    );
    assert_eq!(service.get("/ready").await.unwrap().status(), 200);
}
