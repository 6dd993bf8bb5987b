//! What an operator meets in the first ten minutes: `check-smtp`, the start-up summary,
//! TIMEZONE for the schedule and the dates in mail, the outbox in sending order, a
//! favicon that is no 404, and URLs typed without their scheme.

use std::time::Duration;

use chrono::{Offset, TimeZone, Timelike};

use crate::support::smtp_server::{Faults, SmtpServer};
use crate::support::{Workspace, spawn_app_with};

/// Runs `newsletter check-smtp ARGS` in a fresh workspace with `SMTP_URL` set to `url`.
async fn check_smtp(url: &str, args: &[&str]) -> crate::support::workspace::Run {
    let workspace = Workspace::new();
    let mut all = vec!["check-smtp"];
    all.extend_from_slice(args);
    workspace
        .newsletter_with(
            &[
                ("SMTP_URL", url),
                (
                    "MAIL_FROM",
                    "The Astana Times <newsletter@astanatimes.test>",
                ),
                ("NEWSLETTER_NAME", "The Astana Times"),
            ],
            &all,
        )
        .await
}

#[tokio::test]
async fn check_smtp_says_what_the_server_offers_and_delivers_a_test_message() {
    let smtp = SmtpServer::start().await;
    let run = check_smtp(&smtp.url(), &["dana.abenova@example.kz"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let said = &run.stderr;
    assert!(
        said.contains(&format!(
            "Connected to 127.0.0.1:{} (smtp.test)",
            smtp.port()
        )),
        "{said}"
    );
    assert!(said.contains("8BITMIME:   yes"), "{said}");
    assert!(said.contains("SMTPUTF8:   yes"), "{said}");
    assert!(said.contains("AUTH:       PLAIN LOGIN"), "{said}");
    assert!(
        said.contains("encryption: none (the server offers no STARTTLS)"),
        "{said}"
    );
    assert!(
        said.contains("Sent a test message to dana.abenova@example.kz"),
        "{said}"
    );
    let mails = smtp.messages_to("dana.abenova@example.kz");
    assert_eq!(mails.len(), 1, "one test message arrived");
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("The Astana Times: SMTP test message")
    );
    assert!(mails[0].text_body().contains("newsletter check-smtp"));
}

#[tokio::test]
async fn check_smtp_without_an_address_only_checks_and_sends_nothing() {
    let smtp = SmtpServer::start().await;
    let url = format!("smtp://editor:s%C3%A9cret@127.0.0.1:{}", smtp.port());
    let run = check_smtp(&url, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("logging in as `editor`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("login:      accepted"),
        "{}",
        run.stderr
    );
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn check_smtp_says_plainly_when_nothing_listens_on_the_port() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    smtp.shutdown();
    let run = check_smtp(&url, &["dana.abenova@example.kz"]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "could not connect to 127.0.0.1:{}: the connection was refused",
            smtp.port()
        )),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn check_smtp_says_when_the_server_refuses_the_session() {
    let smtp = SmtpServer::start().await;
    smtp.set_faults(Faults {
        refuse_all: true,
        ..Faults::default()
    });
    let run = check_smtp(&smtp.url(), &[]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("127.0.0.1:{} refused the session: ", smtp.port()))
            && run.stderr.contains("421"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn check_smtp_says_when_the_login_is_refused() {
    let smtp = SmtpServer::start().await;
    smtp.set_faults(Faults {
        reject_logins: true,
        ..Faults::default()
    });
    let url = format!("smtp://editor:wrong-password@127.0.0.1:{}", smtp.port());
    let run = check_smtp(&url, &["dana.abenova@example.kz"]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "127.0.0.1:{} refused the login of `editor`",
            smtp.port()
        )) && run
            .stderr
            .contains("check the user name and password in SMTP_URL"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("wrong-password"),
        "the password is never shown"
    );
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn check_smtp_says_when_tls_is_required_but_not_offered_or_fails() {
    let smtp = SmtpServer::start().await;
    let required = check_smtp(&format!("{}?tls=required", smtp.url()), &[]).await;
    assert_eq!(required.code, Some(1), "{}", required.stderr);
    assert!(
        required.stderr.contains(&format!(
            "127.0.0.1:{} does not offer STARTTLS, and SMTP_URL says tls=required",
            smtp.port()
        )),
        "{}",
        required.stderr
    );
    // smtps:// to a server that speaks plain SMTP: the TLS handshake cannot succeed.
    let implicit = check_smtp(&format!("smtps://127.0.0.1:{}", smtp.port()), &[]).await;
    assert_eq!(implicit.code, Some(1), "{}", implicit.stderr);
    assert!(
        implicit
            .stderr
            .contains(&format!("error: TLS with 127.0.0.1:{} failed", smtp.port())),
        "{}",
        implicit.stderr
    );
}

#[tokio::test]
async fn check_smtp_says_when_the_test_message_is_refused() {
    let smtp = SmtpServer::start().await;
    smtp.set_faults(Faults {
        reject_recipients: vec!["gone@example.org".into()],
        ..Faults::default()
    });
    let run = check_smtp(&smtp.url(), &["gone@example.org"]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the test message to gone@example.org was not taken: permanent failure"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn check_smtp_with_the_file_outbox_names_the_folder_and_exits_2() {
    let workspace = Workspace::new();
    let run = workspace.newsletter(&["check-smtp"]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "SMTP_URL is not set: mail is not sent but written as .eml files to `outbox`"
        ),
        "{}",
        run.stderr
    );
    let bad = workspace.newsletter(&["check-smtp", "bob@"]).await;
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("`bob@` is not an email address"),
        "{}",
        bad.stderr
    );
}

#[tokio::test]
async fn the_outbox_lists_its_files_in_sending_order() {
    let outbox = tempfile::tempdir().unwrap();
    let dir = outbox.path().to_str().unwrap().to_owned();
    let app = spawn_app_with(&[("SMTP_URL", ""), ("MAIL_OUTBOX_DIR", &dir)]).await;
    let readers = [
        "zhanna.omarova@example.kz",
        "aigerim.sadykova@example.kz",
        "michaela.friberg@example.org",
        "bob.lee@example.com",
        "akan.rakhmetullin@example.kz",
    ];
    for reader in readers {
        assert_eq!(app.sign_up(reader, "").await.status(), 200);
        app.drain_queues().await;
    }
    let mut names: Vec<String> = std::fs::read_dir(outbox.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".eml"))
        .collect();
    names.sort();
    let recipients: Vec<String> = names
        .iter()
        .map(|name| {
            let raw = std::fs::read_to_string(outbox.path().join(name)).unwrap();
            let to = raw
                .lines()
                .find_map(|line| line.strip_prefix("To: "))
                .unwrap_or_else(|| panic!("a To header in {name}"));
            to.trim().to_owned()
        })
        .collect();
    assert_eq!(recipients, readers, "sorted by name: {names:?}");
}

#[tokio::test]
async fn the_favicon_is_an_empty_answer_that_browsers_keep_not_a_404() {
    let app = spawn_app_with(&[]).await;
    let response = app.get("/favicon.ico").await;
    assert_eq!(response.status(), 204);
    let cache = response.headers()["cache-control"].to_str().unwrap();
    assert!(cache.contains("max-age=604800"), "{cache}");
}

/// The next run of `DIGEST_CRON=cron` in `timezone`, as the app's own scheduler plans it.
async fn next_digest_run(timezone: &str, cron: &str) -> chrono::DateTime<chrono::Utc> {
    let app = spawn_app_with(&[("TIMEZONE", timezone), ("DIGEST_CRON", cron)]).await;
    let mut schedule = newsletter::digest::schedule::start(&app.state)
        .await
        .expect("the schedule starts");
    let job = &schedule.jobs[0];
    assert_eq!(job.what, "digest");
    let next = job.next_run.expect("a next run");
    if let Some(scheduler) = schedule.scheduler.as_mut() {
        scheduler.shutdown().await.expect("the scheduler stops");
    }
    next
}

#[tokio::test]
async fn a_digest_scheduled_at_7_in_almaty_fires_at_2_utc() {
    let next = next_digest_run("Asia/Almaty", "0 0 7 * * *").await;
    assert_eq!((next.hour(), next.minute(), next.second()), (2, 0, 0));
    let in_a_day = chrono::Utc::now() + chrono::Duration::days(1);
    assert!(next > chrono::Utc::now() && next <= in_a_day, "{next}");

    let utc = next_digest_run("UTC", "0 0 7 * * *").await;
    assert_eq!(utc.hour(), 7, "without TIMEZONE the schedule is UTC's");
}

#[tokio::test]
async fn a_digest_scheduled_at_7_in_berlin_runs_at_7_berlin_time_whatever_the_season() {
    let next = next_digest_run("Europe/Berlin", "0 0 7 * * *").await;
    let berlin = chrono_tz::Europe::Berlin;
    // 06:00 UTC in winter (CET, +1), 05:00 in summer (CEST, +2).
    let offset_hours = berlin
        .offset_from_utc_datetime(&next.naive_utc())
        .fix()
        .local_minus_utc()
        / 3600;
    assert!(offset_hours == 1 || offset_hours == 2);
    assert_eq!(next.hour() as i32, 7 - offset_hours, "{next}");
    assert_eq!(next.with_timezone(&berlin).hour(), 7);
}

#[tokio::test]
async fn dates_in_the_digest_and_its_archive_page_are_written_in_the_time_zone() {
    async fn digest_with_late_article(timezone: &str) -> (String, String) {
        let app = spawn_app_with(&[("TIMEZONE", timezone)]).await;
        let response = app
            .api_post(
                "/api/articles",
                &serde_json::json!({
                    "title": "Tokayev Opens the Astana International Forum",
                    "url": "https://astanatimes.example/forum",
                    "author": "Aigerim Sadykova",
                    "published_at": "2026-11-29T20:30:00Z",
                }),
            )
            .await;
        assert_eq!(response.status(), 201);
        app.import_confirmed(&["reader@example.kz"]).await;
        let digest = app.send_digest_and_wait().await;
        let mails = app.wait_for_mail_to("reader@example.kz", 1).await;
        let archive = app
            .get(&format!("/archive/{}", digest["id"]))
            .await
            .text()
            .await
            .unwrap();
        (mails[0].text_body(), archive)
    }
    let (mail, archive) = digest_with_late_article("Asia/Almaty").await;
    assert!(
        mail.contains("Aigerim Sadykova, 30 November 2026"),
        "{mail}"
    );
    assert!(
        archive.contains("Aigerim Sadykova · 30 November 2026"),
        "{archive}"
    );

    let (mail, _) = digest_with_late_article("UTC").await;
    assert!(
        mail.contains("Aigerim Sadykova, 29 November 2026"),
        "{mail}"
    );
}

#[tokio::test]
async fn a_bad_time_zone_refuses_the_start_naming_the_setting() {
    let workspace = Workspace::new();
    let run = workspace
        .newsletter_with(&[("TIMEZONE", "Almaty")], &["migrate"])
        .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("TIMEZONE `Almaty` is not an IANA time zone name such as `Asia/Almaty`"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn the_start_up_log_says_where_data_and_mail_go_and_when_jobs_run() {
    let workspace = Workspace::new();
    let smtp = SmtpServer::start().await;
    let service = workspace
        .serve(
            &smtp.url(),
            &[
                ("RUST_LOG", "info"),
                ("TIMEZONE", "Asia/Almaty"),
                ("DIGEST_CRON", "0 0 7 * * *"),
            ],
        )
        .await;
    let log = crate::support::eventually("the probe's line", Duration::from_secs(10), async || {
        let log = service.log();
        log.contains("answered;").then_some(log)
    })
    .await;
    let database = workspace.database().url();
    if database.starts_with("postgres") {
        assert!(
            log.contains(&format!("data: PostgreSQL at {database}")),
            "{log}"
        );
    } else {
        let full = std::fs::canonicalize(database).unwrap();
        assert!(
            log.contains(&format!("data: SQLite file {}", full.display())),
            "{log}"
        );
    }
    assert!(
        log.contains(&format!(
            "mail: mail goes over SMTP to 127.0.0.1:{} (no encryption",
            smtp.port()
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "mail: the SMTP server 127.0.0.1:{} (smtp.test) answered; encryption: none",
            smtp.port()
        )),
        "{log}"
    );
    assert!(
        log.contains("schedule: digest job: `0 0 7 * * *` in Asia/Almaty; next at ")
            && log.contains(" 07:00 Asia/Almaty (02:00 UTC)"),
        "{log}"
    );
    assert!(
        log.contains("FEED_URL is not set: no feed is polled"),
        "{log}"
    );
    assert!(
        log.contains("MAIL_POSTAL_ADDRESS is not set: digests carry no postal address"),
        "{log}"
    );
    assert!(
        log.contains("schedule: retention job: `0 30 3 * * *` in Asia/Almaty; next at ")
            && log.contains(" 03:30 Asia/Almaty ("),
        "the daily purge is on the schedule: {log}"
    );
    assert!(!log.contains("Required TLS"), "{log}");
}

#[tokio::test]
async fn an_smtp_server_that_does_not_answer_is_said_plainly_and_the_start_goes_on() {
    let workspace = Workspace::new();
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    smtp.shutdown();
    // Workspace::serve turns the digest job off (DIGEST_CRON empty), as a test needs.
    let service = workspace.serve(&url, &[]).await;
    assert_eq!(service.get("/health").await.unwrap().status(), 200);
    let log = crate::support::eventually("the probe's line", Duration::from_secs(10), async || {
        let log = service.log();
        log.contains("did not pass a probe").then_some(log)
    })
    .await;
    assert!(
        log.contains("the connection was refused")
            && log.contains("mail waits in the queue and is retried until it does"),
        "{log}"
    );
    assert!(
        log.contains("DIGEST_CRON is empty: no digest goes out on its own"),
        "{log}"
    );
}

#[tokio::test]
async fn a_url_without_its_scheme_is_refused_with_the_https_form_suggested() {
    let workspace = Workspace::new();
    let add = workspace
        .newsletter(&[
            "add-article",
            "--title",
            "Kazakhstan Stresses UN’s Vital Role",
            "--url",
            "astanatimes.example/x",
        ])
        .await;
    assert_eq!(add.code, Some(2), "{}", add.stderr);
    assert!(
        add.stderr
            .contains("--url: `astanatimes.example/x` has no scheme; did you mean `https://astanatimes.example/x`?"),
        "{}",
        add.stderr
    );
    assert!(workspace.waiting_articles().is_empty());

    let import = workspace
        .newsletter(&["import-feed", "astanatimes.example/rss"])
        .await;
    assert_eq!(import.code, Some(1), "{}", import.stderr);
    assert!(
        import
            .stderr
            .contains("did you mean `https://astanatimes.example/rss`?"),
        "{}",
        import.stderr
    );

    workspace.write(".env", "FEED_URL=astanatimes.example/rss\n");
    let refused = workspace.newsletter(&["migrate"]).await;
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "FEED_URL `astanatimes.example/rss` has no scheme and is no existing file; did you mean `https://astanatimes.example/rss`?"
        ),
        "{}",
        refused.stderr
    );
}
