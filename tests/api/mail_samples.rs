//! One message of each kind the service sends, written to `target/mail-samples/` for
//! outside checkers: `.ci/run` scores each with SpamAssassin and fails above 0.
//! Ignored in a plain `cargo test`; run with
//! `cargo test --test api mail_samples -- --ignored`.

use crate::admin_pages::Admin;
use crate::support::{Workspace, spawn_app_with};

/// Where the samples go, beside the build.
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/mail-samples");

const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/dkim-test-key.pem"
);

#[tokio::test]
#[ignore = "writes files for .ci/run's SpamAssassin step"]
async fn write_one_message_of_each_kind_to_target_mail_samples() {
    // As a real deployment would run: https links under a real-looking name, a postal
    // address, seed-like text with curly quotes and dashes.
    let settings = [
        ("BASE_URL", "https://news.astanatimes.example"),
        ("SITE_URL", "https://astanatimes.example/"),
        (
            "MAIL_FROM",
            "The Astana Times <newsletter@astanatimes.example>",
        ),
        ("NEWSLETTER_NAME", "The Astana Times"),
        (
            "MAIL_POSTAL_ADDRESS",
            "The Astana Times, 12 Kabanbay Batyr Ave, Astana 010000, Kazakhstan",
        ),
        ("DKIM_DOMAIN", "astanatimes.example"),
        ("DKIM_SELECTOR", "news2026"),
        ("DKIM_PRIVATE_KEY_FILE", KEY),
    ];
    let app = spawn_app_with(&settings).await;
    assert_eq!(
        app.sign_up("akan.rakhmetullin@example.kz", "Akan Rakhmetullin")
            .await
            .status(),
        200
    );
    let confirmation = app
        .wait_for_mail_to("akan.rakhmetullin@example.kz", 1)
        .await;
    app.import_confirmed(&["michaela.friberg@example.kz"]).await;
    for (title, url) in [
        (
            "Kazakhstan Stresses UN’s Vital Role in Global Challenges Ahead of SCO Summit",
            "https://astanatimes.example/2025/06/kazakhstan-stresses-un-role",
        ),
        (
            "Astana Hosts Regional Forum on Water Security — What Was Agreed",
            "https://astanatimes.example/2025/06/water-security-forum",
        ),
        (
            "Volunteers’ Year: How 10,000 People Helped Rebuild Schools",
            "https://astanatimes.example/2025/06/volunteers-year",
        ),
    ] {
        app.add_article(title, url).await;
    }
    let admin = Admin::log_in(&app).await;
    let sent = admin
        .post("/admin/digests/test", &[("email", "editor@example.kz")])
        .await;
    assert_eq!(sent.status(), 303);
    let test_send = app.wait_for_mail_to("editor@example.kz", 1).await;
    app.send_digest_and_wait().await;
    let digest = app.wait_for_mail_to("michaela.friberg@example.kz", 1).await;
    let smtp_url = app.smtp.url();
    let mut env: Vec<(&str, &str)> = settings.to_vec();
    env.push(("SMTP_URL", &smtp_url));
    let run = Workspace::new()
        .newsletter_with(&env, &["check-smtp", "dana.abenova@example.kz"])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let check = app.smtp.messages_to("dana.abenova@example.kz");

    std::fs::create_dir_all(SAMPLES).unwrap();
    for (name, mail) in [
        ("confirmation", &confirmation[0]),
        ("digest", &digest[0]),
        ("test-send", &test_send[0]),
        ("check-smtp", &check[0]),
    ] {
        let path = format!("{SAMPLES}/{name}.eml");
        std::fs::write(&path, &mail.data).unwrap();
        println!("wrote {path}");
    }
}
