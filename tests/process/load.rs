//! Load against the real binary: many clients signing up at once all get through, with
//! no "database is locked" anywhere, and the sign-up limit stops only the client that
//! floods. The tests print their figures.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use futures_util::future::join_all;
use newsletter::db::schema::{outgoing_emails, subscribers};

use crate::support::{
    Service, SmtpServer, TestDatabase, Workspace, mails_per_recipient, serde_urlencoded_pair,
};

/// Settings for a service behind a proxy on 127.0.0.1, with the sign-up limit on.
const BEHIND_A_PROXY: [(&str, &str); 3] = [
    ("TRUSTED_PROXY", "127.0.0.1"),
    ("SIGNUP_RATE_PER_MINUTE", "40"),
    ("RUST_LOG", "info"),
];

/// What one sign-up got back.
struct Answer {
    email: String,
    status: u16,
    body: String,
    took: Duration,
}

/// Signs `emails` up one after another, as the client at `client_ip` behind the proxy.
async fn sign_up_in_turn(service: &Service, client_ip: String, emails: Vec<String>) -> Vec<Answer> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    let mut answers = Vec::with_capacity(emails.len());
    for email in emails {
        let asked = Instant::now();
        let response = client
            .post(service.url("/subscriptions"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Forwarded-For", &client_ip)
            .body(serde_urlencoded_pair(&[("email", &email), ("name", "")]))
            .send()
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        let body = response.text().await.expect("a body");
        answers.push(Answer {
            email,
            status,
            body,
            took: asked.elapsed(),
        });
    }
    answers
}

/// The subscribers' addresses and the number of queue rows that ever failed to be
/// written or sent with "database is locked".
async fn stored(database: &TestDatabase) -> (Vec<String>, i64, i64) {
    database
        .open()
        .run(|conn| {
            let emails = subscribers::table.select(subscribers::email).load(conn)?;
            let sent = outgoing_emails::table
                .filter(outgoing_emails::status.eq("sent"))
                .count()
                .get_result(conn)?;
            let locked = outgoing_emails::table
                .filter(outgoing_emails::last_error.like("%locked%"))
                .count()
                .get_result(conn)?;
            Ok((emails, sent, locked))
        })
        .await
        .expect("the database can be read")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_from_32_concurrent_clients_all_get_200_and_each_address_is_mailed_once() {
    const CLIENTS: usize = 32;
    const PER_CLIENT: usize = 40;
    let workspace = Workspace::new();
    let smtp = SmtpServer::start().await;
    let service = workspace.serve(&smtp.url(), &BEHIND_A_PROXY).await;

    let started = Instant::now();
    let clients = (0..CLIENTS).map(|client| {
        let emails = (0..PER_CLIENT)
            .map(|n| format!("client{client}.reader{n}@example.org"))
            .collect();
        sign_up_in_turn(&service, format!("198.51.100.{}", client + 1), emails)
    });
    let answers: Vec<Answer> = join_all(clients).await.into_iter().flatten().collect();
    let wall = started.elapsed();
    let total = CLIENTS * PER_CLIENT;

    let mails = smtp
        .wait_for_messages(total, Duration::from_secs(120))
        .await;
    let all_mailed_after = started.elapsed();
    // Longer than the mail worker's poll: a second copy would have gone by now.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut took: Vec<Duration> = answers.iter().map(|a| a.took).collect();
    took.sort();
    println!(
        "load: {total} sign-ups from {CLIENTS} clients in {:.2} s ({:.0} sign-ups/s); \
         latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} confirmations mailed {:.1} s after \
         the first sign-up",
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        percentile(&took, 0.5),
        percentile(&took, 0.99),
        percentile(&took, 1.0),
        mails.len(),
        all_mailed_after.as_secs_f64()
    );

    let refused: Vec<(&str, u16)> = answers
        .iter()
        .filter(|a| a.status != 200)
        .map(|a| (a.email.as_str(), a.status))
        .collect();
    assert!(refused.is_empty(), "every sign-up got 200: {refused:?}");
    assert_eq!(answers.len(), total);
    let log = service.log();
    assert!(
        !log.contains("database is locked") && !answers.iter().any(|a| a.body.contains("locked")),
        "no \"database is locked\" in any answer or the log"
    );
    assert!(!log.contains("ERROR"), "no errors logged:\n{log}");

    let (emails, sent, locked) = stored(&workspace.database).await;
    assert_eq!(emails.len(), total, "every sign-up is stored");
    assert_eq!(
        (sent, locked),
        (total as i64, 0),
        "every confirmation went out"
    );
    let per_recipient = mails_per_recipient(&smtp);
    for answer in &answers {
        assert_eq!(
            per_recipient.get(&answer.email),
            Some(&1),
            "{} is mailed exactly once",
            answer.email
        );
    }
    assert_eq!(smtp.messages().len(), total, "no mail beyond one each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_flooding_the_form_gets_429_past_the_limit_while_the_others_go_through() {
    const LIMIT: usize = 40;
    const FLOOD: usize = 200;
    const OTHERS: usize = 8;
    let workspace = Workspace::new();
    let smtp = SmtpServer::start().await;
    let service = workspace.serve(&smtp.url(), &BEHIND_A_PROXY).await;

    // The flood comes from 8 connections at once; the others sign up in turn beside it.
    let flood = (0..8).map(|lane| {
        let emails = (0..FLOOD / 8)
            .map(|n| format!("flood{lane}.{n}@example.org"))
            .collect();
        sign_up_in_turn(&service, "203.0.113.66".into(), emails)
    });
    let others = (0..OTHERS).map(|client| {
        let emails = (0..LIMIT)
            .map(|n| format!("other{client}.{n}@example.org"))
            .collect();
        sign_up_in_turn(&service, format!("198.51.100.{}", client + 1), emails)
    });
    let (flood, others) = tokio::join!(join_all(flood), join_all(others));
    let flood: Vec<Answer> = flood.into_iter().flatten().collect();
    let others: Vec<Answer> = others.into_iter().flatten().collect();

    let flood_ok = flood.iter().filter(|a| a.status == 200).count();
    let flood_429 = flood.iter().filter(|a| a.status == 429).count();
    let others_ok = others.iter().filter(|a| a.status == 200).count();
    println!(
        "flood: one client sent {FLOOD} sign-ups: {flood_ok} × 200, {flood_429} × 429; \
         {OTHERS} other clients: {others_ok} of {} × 200",
        others.len()
    );
    assert_eq!(
        (flood_ok, flood_429),
        (LIMIT, FLOOD - LIMIT),
        "the flooding client gets exactly its limit through"
    );
    assert_eq!(
        others_ok,
        OTHERS * LIMIT,
        "the other clients all go through"
    );
    let refusal = flood.iter().find(|a| a.status == 429).expect("a 429");
    assert!(
        refusal.body.contains("Too many sign-ups"),
        "the 429 page says why: {}",
        refusal.body
    );

    let (emails, _, _) = stored(&workspace.database).await;
    assert_eq!(
        emails.len(),
        LIMIT + OTHERS * LIMIT,
        "a refused sign-up stores nothing"
    );
    for answer in flood.iter().filter(|a| a.status == 429) {
        assert!(
            !emails.contains(&answer.email),
            "{} was stored",
            answer.email
        );
    }
}
