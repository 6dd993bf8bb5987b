//! `newsletter send-digest` as a user runs it: waits, shows progress, exit 0 when every
//! reader got the digest, non-zero naming the ones it could not reach.

use std::process::{Command, Output};

use crate::smtp_server::{Faults, SmtpServer};

fn newsletter(dir: &std::path::Path, smtp: &SmtpServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_newsletter"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", dir.join("newsletter.db"))
        .env("SMTP_URL", smtp.url())
        .env("BASE_URL", "https://news.example.com")
        .env("NEWSLETTER_NAME", "The Astana Times")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn prepared(readers: &[&str]) -> (tempfile::TempDir, SmtpServer) {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start().await;
    let csv = format!("email,name\n{}\n", readers.join("\n"));
    std::fs::write(dir.path().join("readers.csv"), csv).unwrap();
    let import = newsletter(dir.path(), &smtp, &["subscribers", "import", "readers.csv"]);
    assert!(import.status.success(), "{}", stderr(&import));
    let add = newsletter(
        dir.path(),
        &smtp,
        &[
            "add-article",
            "--title",
            "Kazakhstan Stresses UN’s Vital Role",
            "--url",
            "https://astanatimes.example/un",
        ],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    (dir, smtp)
}

#[tokio::test]
async fn send_digest_waits_until_everyone_has_it_and_exits_0() {
    let (dir, smtp) = prepared(&[
        "akan@example.kz,Akan Rakhmetullin",
        "michaela@example.org,Michaela Friberg-Storey",
    ])
    .await;
    let dir_path = dir.path().to_owned();
    let smtp_for_run = smtp.clone();
    let output =
        tokio::task::spawn_blocking(move || newsletter(&dir_path, &smtp_for_run, &["send-digest"]))
            .await
            .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("1 article to 2 readers"), "{err}");
    assert!(err.contains("sent 2/2"), "progress is shown: {err}");
    assert!(err.contains("Every reader got digest 1"), "{err}");
    assert_eq!(
        smtp.messages().len(),
        2,
        "the mail was there when the command returned"
    );

    let again = newsletter(dir.path(), &smtp, &["send-digest"]);
    assert!(again.status.success());
    assert!(stderr(&again).contains("nothing to send"));
    assert_eq!(smtp.messages().len(), 2);
}

#[tokio::test]
async fn send_digest_exits_non_zero_naming_the_readers_it_could_not_reach() {
    let (dir, smtp) = prepared(&["good@example.org,Good", "gone@example.org,Gone"]).await;
    smtp.set_faults(Faults {
        reject_recipients: vec!["gone@example.org".into()],
        ..Faults::default()
    });
    let dir_path = dir.path().to_owned();
    let smtp_for_run = smtp.clone();
    let output =
        tokio::task::spawn_blocking(move || newsletter(&dir_path, &smtp_for_run, &["send-digest"]))
            .await
            .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("gone@example.org: permanent error (550)"),
        "{err}"
    );
    assert_eq!(smtp.messages_to("good@example.org").len(), 1);
}
