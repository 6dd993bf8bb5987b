//! `newsletter send-digest` as a user runs it: waits, shows progress, exit 0 when every
//! reader got the digest, non-zero naming the ones it could not reach.

use crate::support::Workspace;
use crate::support::smtp_server::{Faults, SmtpServer};
use crate::support::workspace::Run;

/// Runs `newsletter ARGS` in `workspace`, sending through `smtp`.
async fn newsletter(workspace: &Workspace, smtp: &SmtpServer, args: &[&str]) -> Run {
    let smtp_url = smtp.url();
    let settings = [
        ("SMTP_URL", smtp_url.as_str()),
        ("BASE_URL", "https://news.example.com"),
        ("NEWSLETTER_NAME", "The Astana Times"),
    ];
    workspace.newsletter_with(&settings, args).await
}

async fn prepared(readers: &[&str]) -> (Workspace, SmtpServer) {
    let workspace = Workspace::new();
    let smtp = SmtpServer::start().await;
    let readers: Vec<String> = readers.iter().map(|r| r.to_string()).collect();
    workspace.import_readers(&readers).await;
    let add = newsletter(
        &workspace,
        &smtp,
        &[
            "add-article",
            "--title",
            "Kazakhstan Stresses UN’s Vital Role",
            "--url",
            "https://astanatimes.example/un",
        ],
    )
    .await;
    assert_eq!(add.code, Some(0), "{}", add.stderr);
    (workspace, smtp)
}

#[tokio::test]
async fn send_digest_waits_until_everyone_has_it_and_exits_0() {
    let (workspace, smtp) = prepared(&[
        "akan@example.kz,Akan Rakhmetullin",
        "michaela@example.org,Michaela Friberg-Storey",
    ])
    .await;
    let output = newsletter(&workspace, &smtp, &["send-digest"]).await;
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    let err = output.stderr;
    assert!(err.contains("1 article to 2 readers"), "{err}");
    assert!(err.contains("sent 2/2"), "progress is shown: {err}");
    assert!(err.contains("Every reader got digest 1"), "{err}");
    assert_eq!(
        smtp.messages().len(),
        2,
        "the mail was there when the command returned"
    );

    let again = newsletter(&workspace, &smtp, &["send-digest"]).await;
    assert_eq!(again.code, Some(0));
    assert!(again.stderr.contains("nothing to send"));
    assert_eq!(smtp.messages().len(), 2);
}

#[tokio::test]
async fn send_digest_exits_non_zero_naming_the_readers_it_could_not_reach() {
    let (workspace, smtp) = prepared(&["good@example.org,Good", "gone@example.org,Gone"]).await;
    smtp.set_faults(Faults {
        reject_recipients: vec!["gone@example.org".into()],
        ..Faults::default()
    });
    let output = newsletter(&workspace, &smtp, &["send-digest"]).await;
    assert_eq!(output.code, Some(1), "{}", output.stderr);
    let err = output.stderr;
    assert!(
        err.contains("gone@example.org: permanent error (550)"),
        "{err}"
    );
    assert_eq!(smtp.messages_to("good@example.org").len(), 1);
}

#[tokio::test]
async fn send_digest_with_no_confirmed_reader_exits_2_and_keeps_the_articles_for_the_first() {
    let (workspace, smtp) = prepared(&[]).await;
    let refused = newsletter(&workspace, &smtp, &["send-digest"]).await;
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "no reader has confirmed yet, so nothing was sent; the waiting article stays"
        ),
        "{}",
        refused.stderr
    );
    assert!(smtp.messages().is_empty());

    workspace
        .import_readers(&["dana.abenova@example.kz,Dana Abenova".to_owned()])
        .await;
    let sent = newsletter(&workspace, &smtp, &["send-digest"]).await;
    assert_eq!(sent.code, Some(0), "{}", sent.stderr);
    assert!(
        sent.stderr.contains("1 article to 1 reader"),
        "{}",
        sent.stderr
    );
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn send_digest_with_the_default_log_level_prints_its_own_sentences_only() {
    let (workspace, smtp) = prepared(&["akan@example.kz,Akan Rakhmetullin"]).await;
    let mut command = workspace.command(workspace.database());
    command
        .env_remove("RUST_LOG")
        .env("SMTP_URL", smtp.url())
        .arg("send-digest");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Every reader got digest 1"), "{stderr}");
    assert!(
        !stderr.contains(" INFO "),
        "no log lines among the sentences: {stderr}"
    );
}

#[tokio::test]
async fn send_digest_off_a_terminal_writes_a_plain_line_per_tenth_with_rate_and_time_left() {
    let readers: Vec<String> = (1..=100)
        .map(|n| format!("reader{n:03}@example.kz,Reader Nº{n}"))
        .collect();
    let readers: Vec<&str> = readers.iter().map(String::as_str).collect();
    let (workspace, smtp) = prepared(&readers).await;
    let smtp_url = smtp.url();
    // One connection: deliveries are claimed 25 at a time, so progress comes in steps.
    let output = workspace
        .newsletter_with(
            &[("SMTP_URL", smtp_url.as_str()), ("SEND_CONCURRENCY", "1")],
            &["send-digest"],
        )
        .await;
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    let lines: Vec<&str> = output
        .stderr
        .lines()
        .filter(|line| line.contains("% ") && line.contains(" sent "))
        .collect();
    assert!(lines.len() >= 3, "a line per step: {}", output.stderr);
    let percents: Vec<u64> = lines
        .iter()
        .map(|line| {
            line.trim_start()
                .split('%')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        percents.windows(2).all(|w| w[0] / 10 < w[1] / 10),
        "each line is a further tenth: {percents:?}"
    );
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|line| line.contains("/s") && line.contains(" s left")),
        "rate and time left: {lines:?}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("100%  sent 100/100  failed 0  pending 0"),
        "{lines:?}"
    );
    assert!(
        !output.stderr.contains('\r') && !output.stderr.contains('\u{1b}'),
        "no bar drawn off a terminal"
    );
    assert_eq!(smtp.messages().len(), 100);
}
