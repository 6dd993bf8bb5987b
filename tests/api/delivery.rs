//! The confirmation mail queue against a real SMTP server that fails in the ways real
//! ones do: down, 451, dropped connections, 550, a 421 greeting.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use newsletter::db::schema::outgoing_emails;
use tokio::time::{Instant, sleep};

use crate::support::smtp_server::{Faults, ReceivedMail, SmtpServer, unused_port};
use crate::support::{TestApp, eventually, spawn_app, spawn_app_on_smtp};

/// How long any one condition may take before the test gives up.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Long enough for the worker to make at least one more pass over the queue (it polls
/// every second, and test retries wait at most 400 ms), so a copy that was going to be
/// sent twice would have been by then.
const ONE_MORE_PASS: Duration = Duration::from_millis(1500);

/// A row of `outgoing_emails`, as the tests look at it.
#[derive(Debug, Clone, Queryable)]
struct QueuedMail {
    recipient: String,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    locked_until: Option<NaiveDateTime>,
}

/// Every row of the mail queue, oldest first.
async fn queued_mails(app: &TestApp) -> Vec<QueuedMail> {
    app.state
        .db
        .run(|conn| {
            Ok(outgoing_emails::table
                .order(outgoing_emails::id.asc())
                .select((
                    outgoing_emails::recipient,
                    outgoing_emails::status,
                    outgoing_emails::attempts,
                    outgoing_emails::last_error,
                    outgoing_emails::locked_until,
                ))
                .load::<QueuedMail>(conn)?)
        })
        .await
        .expect("the queue can be read")
}

/// The one queue row for `recipient`.
async fn queued_mail_to(app: &TestApp, recipient: &str) -> QueuedMail {
    let rows: Vec<QueuedMail> = queued_mails(app)
        .await
        .into_iter()
        .filter(|row| row.recipient == recipient)
        .collect();
    assert_eq!(rows.len(), 1, "one queued mail for {recipient}: {rows:?}");
    rows.into_iter().next().expect("checked above")
}

/// Waits until `smtp` holds at least `count` mails to `address`; returns them.
async fn wait_for_mails(smtp: &SmtpServer, address: &str, count: usize) -> Vec<ReceivedMail> {
    eventually(
        &format!("{count} mail(s) to {address}"),
        TIMEOUT,
        async || {
            let mails = smtp.messages_to(address);
            (mails.len() >= count).then_some(mails)
        },
    )
    .await
}

/// Waits until the queue row for `recipient` has `status`; returns it.
async fn wait_for_status(app: &TestApp, recipient: &str, status: &str) -> QueuedMail {
    eventually(
        &format!("the mail to {recipient} to be {status}"),
        TIMEOUT,
        async || {
            let row = queued_mail_to(app, recipient).await;
            (row.status == status).then_some(row)
        },
    )
    .await
}

/// Starts an app whose `SMTP_URL` points at a port nothing listens on; returns the port.
async fn spawn_app_with_smtp_down() -> (TestApp, u16) {
    let port = unused_port();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    // The app's own `smtp` is a server it never talks to; the test starts the real one.
    let app = spawn_app_on_smtp(SmtpServer::start().await, &[("SMTP_URL", &smtp_url)]).await;
    (app, port)
}

#[tokio::test]
async fn a_sign_up_while_smtp_is_down_is_mailed_exactly_once_when_smtp_comes_back() {
    let (app, port) = spawn_app_with_smtp_down().await;
    let email = "aigerim.nurlanovna@example.kz";

    let asked = Instant::now();
    let response = app.sign_up(email, "Aigerim Nurlanovna").await;
    assert_eq!(response.status(), 200);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "the sign-up answers without waiting for SMTP"
    );

    let failing = eventually("two failed attempts", TIMEOUT, async || {
        let row = queued_mail_to(&app, email).await;
        (row.attempts >= 2).then_some(row)
    })
    .await;
    assert_eq!(failing.status, "queued", "a failed attempt keeps the mail");
    let error = failing.last_error.unwrap_or_default();
    assert!(error.contains("could not connect"), "{error}");

    let smtp = SmtpServer::start_on(port)
        .await
        .expect("the port is still free");
    let mails = wait_for_mails(&smtp, email, 1).await;
    wait_for_status(&app, email, "sent").await;
    sleep(ONE_MORE_PASS).await;
    assert_eq!(smtp.messages_to(email).len(), 1, "no second copy");

    let link = app.confirmation_link(&mails[0]);
    assert_eq!(app.post_empty(&link).await.status(), 200);
    assert_eq!(
        app.subscriber_status(email).await.as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn with_451_on_every_second_message_every_reader_still_gets_exactly_one_mail() {
    let app = spawn_app().await;
    app.smtp.set_faults(Faults {
        temp_fail_every_nth_message: Some(2),
        ..Faults::default()
    });
    let readers = [
        "dana.abenova@example.kz",
        "erlan.sadykov@example.kz",
        "gulnara.iskakova@example.kz",
        "marat.tokayev@example.kz",
        "saule.bekova@example.kz",
    ];
    for reader in readers {
        assert_eq!(app.sign_up(reader, "").await.status(), 200, "{reader}");
    }

    for reader in readers {
        wait_for_status(&app, reader, "sent").await;
    }
    sleep(ONE_MORE_PASS).await;
    for reader in readers {
        assert_eq!(app.smtp.messages_to(reader).len(), 1, "{reader}");
    }
    let rows = queued_mails(&app).await;
    assert!(
        rows.iter()
            .any(|row| row.attempts >= 2
                && row.last_error.as_deref().is_some_and(|e| e.contains("451"))),
        "some mail was refused with 451 and retried: {rows:?}"
    );
}

#[tokio::test]
async fn a_dropped_connection_still_reaches_every_reader_exactly_once() {
    let app = spawn_app().await;
    // A slow server makes the worker send side by side, so it opens several connections.
    app.smtp.set_faults(Faults {
        drop_every_nth_connection: Some(2),
        delay_per_message: Some(Duration::from_millis(100)),
        ..Faults::default()
    });
    let readers = [
        "ainur.kassymova@example.kz",
        "bolat.zhanuzakov@example.kz",
        "dinara.omarova@example.kz",
        "yerlan.mukhametov@example.kz",
        "zhanna.seitkali@example.kz",
        "timur.abdrakhmanov@example.kz",
    ];
    let sign_ups = readers.map(|reader| app.sign_up(reader, ""));
    for response in futures_util::future::join_all(sign_ups).await {
        assert_eq!(response.status(), 200);
    }

    for reader in readers {
        wait_for_status(&app, reader, "sent").await;
    }
    sleep(ONE_MORE_PASS).await;
    for reader in readers {
        assert_eq!(app.smtp.messages_to(reader).len(), 1, "{reader}");
    }
    assert!(
        app.smtp.connections_accepted() >= 2,
        "the worker opened a second connection, which the server dropped"
    );
    let rows = queued_mails(&app).await;
    assert!(
        rows.iter()
            .any(|row| row.attempts >= 2 && row.last_error.is_some()),
        "a mail whose connection was dropped was retried: {rows:?}"
    );
}

#[tokio::test]
async fn a_550_recipient_fails_for_good_after_one_attempt_while_others_are_still_mailed() {
    let app = spawn_app().await;
    let refused = "no.such.reader@example.org";
    let welcome = "welcome.reader@example.org";
    app.smtp.set_faults(Faults {
        reject_recipients: vec![refused.into()],
        ..Faults::default()
    });
    assert_eq!(app.sign_up(refused, "Nobody").await.status(), 200);
    assert_eq!(app.sign_up(welcome, "Somebody").await.status(), 200);

    let failed = wait_for_status(&app, refused, "failed").await;
    wait_for_mails(&app.smtp, welcome, 1).await;
    wait_for_status(&app, welcome, "sent").await;
    assert_eq!(failed.attempts, 1, "a 5xx is not retried");
    let error = failed.last_error.unwrap_or_default();
    assert!(
        error.contains("550"),
        "the server's answer is kept: {error}"
    );

    let connections = app.smtp.connections_accepted();
    sleep(ONE_MORE_PASS).await;
    assert_eq!(
        app.smtp.connections_accepted(),
        connections,
        "nothing tries the refused address again"
    );
    let later = queued_mail_to(&app, refused).await;
    assert_eq!((later.status.as_str(), later.attempts), ("failed", 1));
    assert!(app.smtp.messages_to(refused).is_empty());
    assert_eq!(app.smtp.messages_to(welcome).len(), 1);
}

#[tokio::test]
async fn a_server_greeting_with_421_is_retried_and_the_mail_arrives_once_it_recovers() {
    let app = spawn_app().await;
    let email = "kuanysh.baimukhamedov@example.kz";
    app.smtp.set_faults(Faults {
        refuse_all: true,
        ..Faults::default()
    });
    assert_eq!(app.sign_up(email, "Kuanysh").await.status(), 200);

    let refused = eventually("two refused attempts", TIMEOUT, async || {
        let row = queued_mail_to(&app, email).await;
        (row.attempts >= 2).then_some(row)
    })
    .await;
    assert_eq!(refused.status, "queued");
    let error = refused.last_error.unwrap_or_default();
    assert!(error.contains("421"), "{error}");
    assert!(app.smtp.connections_accepted() >= 2);
    assert!(app.smtp.messages_to(email).is_empty());

    app.smtp.set_faults(Faults::default());
    wait_for_mails(&app.smtp, email, 1).await;
    wait_for_status(&app, email, "sent").await;
    sleep(ONE_MORE_PASS).await;
    assert_eq!(app.smtp.messages_to(email).len(), 1, "no second copy");
}

#[tokio::test]
async fn unsubscribing_while_the_confirmation_waits_in_the_queue_cancels_it() {
    let (app, port) = spawn_app_with_smtp_down().await;
    let email = "changed.my.mind@example.org";
    assert_eq!(app.sign_up(email, "").await.status(), 200);
    eventually("a failed attempt", TIMEOUT, async || {
        let row = queued_mail_to(&app, email).await;
        (row.attempts >= 1 && row.status == "queued").then_some(())
    })
    .await;

    let id = app.subscriber_id(email).await;
    let response = app.post_empty(&app.unsubscribe_link(id)).await;
    assert_eq!(response.status(), 200);
    // Wait out an attempt that may have been in flight during the unsubscribe.
    eventually("the queued mail to be cancelled", TIMEOUT, async || {
        let row = queued_mail_to(&app, email).await;
        (row.status == "cancelled" && row.locked_until.is_none()).then_some(())
    })
    .await;

    let smtp = SmtpServer::start_on(port)
        .await
        .expect("the port is still free");
    sleep(ONE_MORE_PASS).await;
    assert_eq!(smtp.connections_accepted(), 0, "nothing is sent any more");
    assert!(smtp.messages_to(email).is_empty());
    assert_eq!(queued_mail_to(&app, email).await.status, "cancelled");
    assert_eq!(
        app.subscriber_status(email).await.as_deref(),
        Some("unsubscribed")
    );
}
