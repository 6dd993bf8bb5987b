//! Settings as a newcomer gives them: the `.env` file beside the binary.

use crate::support::Workspace;
use crate::support::database::TestDatabase;

#[tokio::test]
async fn a_dot_env_line_that_cannot_be_read_stops_the_start_naming_its_line_and_setting() {
    let workspace = Workspace::new();
    workspace.write(
        ".env",
        "# Copied from .env.example and filled in\nNEWSLETTER_NAME=Astana Times Daily\n",
    );
    let refused = workspace.newsletter(&["migrate"]).await;
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "line 2: the value of NEWSLETTER_NAME cannot be read; a value with spaces, `<` or \
             `#` goes in double quotes: NEWSLETTER_NAME=\"Astana Times Daily\""
        ),
        "{}",
        refused.stderr
    );

    workspace.write(
        ".env",
        "NEWSLETTER_NAME=\"Astana Times Daily\"\nDIGEST_CRON=\"0 0 7 * * *\"\n",
    );
    let started = workspace.newsletter(&["migrate"]).await;
    assert_eq!(started.code, Some(0), "{}", started.stderr);
}

#[tokio::test]
async fn the_start_up_log_off_a_terminal_has_no_colour_codes_and_no_scheduler_chatter() {
    let workspace = Workspace::new();
    let database = TestDatabase::new(workspace.path().join("logs.db"));
    let log_path = workspace.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // The defaults a newcomer has: no RUST_LOG, no NO_COLOR; the log goes to a file.
    let mut child = workspace
        .command(&database)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("DIGEST_CRON", "0 0 7 * * *")
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut text = String::new();
    while std::time::Instant::now() < deadline && !text.contains("digest job:") {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        text = std::fs::read_to_string(&log_path).unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(text.contains("digest job:"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no escape codes in a file: {text:?}"
    );
    for chatter in ["Uninited", "Job creator created", "Tokio runtime found"] {
        assert!(!text.contains(chatter), "{chatter}: {text}");
    }
}

/// `.env.example` with every setting uncommented, as a newcomer might copy it, and the
/// README's own line appending an admin token below the empty `ADMIN_TOKEN=`.
fn every_line_uncommented(admin_token: &str) -> String {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example"))
        .expect(".env.example");
    let mut env: String = example
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(setting)
                if setting.split_once('=').is_some_and(|(name, _)| {
                    name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                }) =>
            {
                format!("{setting}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect();
    env.push_str(&format!("ADMIN_TOKEN={admin_token}\n"));
    env
}

#[tokio::test]
async fn the_readme_tour_works_with_every_line_of_the_example_uncommented() {
    let workspace = Workspace::new();
    let token = "tour-admin-token-0123456789abcdef";
    workspace.write(".env", &every_line_uncommented(token));
    let port = crate::support::smtp_server::unused_port();
    let base = format!("http://127.0.0.1:{port}");
    // Only the port differs from the file (8080 may be taken where tests run); the file
    // says everything else, RUST_LOG and the appended ADMIN_TOKEN included.
    let spawn = |log: std::fs::File| {
        let mut command = workspace.command(workspace.database());
        command
            .env_remove("RUST_LOG")
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("BASE_URL", &base)
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(log);
        command.spawn().expect("the binary starts")
    };
    let log_path = workspace.path().join("serve.log");
    let mut server = spawn(std::fs::File::create(&log_path).unwrap());
    let client = reqwest::Client::new();
    let mut healthy = false;
    // (While the database is migrated, the port answers 503: wait for the 200.)
    for _ in 0..200 {
        if let Ok(response) = client.get(format!("{base}/health")).send().await
            && response.status() == 200
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(healthy, "{log}");

    // Sign up; the confirmation lands in outbox/; confirm.
    let signed_up = client
        .post(format!("{base}/subscriptions"))
        .form(&[("email", "aigerim@example.kz"), ("name", "Aigerim")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 200);
    let outbox = workspace.path().join("outbox");
    let mut link = None;
    for _ in 0..100 {
        link = std::fs::read_dir(&outbox).ok().and_then(|files| {
            files.flatten().find_map(|file| {
                let mail = std::fs::read_to_string(file.path()).ok()?;
                let from = mail.find(&format!("{base}/subscriptions/confirm?token="))?;
                let link = &mail[from..];
                Some(link[..link.find(char::is_whitespace)?].to_owned())
            })
        });
        if link.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let link = link.expect("a confirmation mail in outbox/");
    // The page's button posts back to the link.
    let confirmed = client
        .post(&link)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200, "{link}");

    let feed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/astana-times-feed.xml"
    );
    let run = |args: &[&str]| {
        let mut command = workspace.command(workspace.database());
        command.env_remove("RUST_LOG").args(args);
        command.output().expect("the binary runs")
    };
    let imported = run(&["import-feed", feed]);
    assert!(imported.status.success(), "{imported:?}");
    let preview = client
        .get(format!("{base}/api/digests/preview"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        preview.status(),
        200,
        "the appended ADMIN_TOKEN is the one in force"
    );
    let sent = run(&["send-digest"]);
    assert!(sent.status.success(), "{sent:?}");
    let archive = client.get(format!("{base}/archive")).send().await.unwrap();
    assert_eq!(archive.status(), 200);
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test]
async fn rust_log_in_the_dot_env_file_is_the_log_level() {
    let workspace = Workspace::new();
    workspace.write(".env", "RUST_LOG=warn\nDIGEST_CRON=\"\"\n");
    let log_path = workspace.path().join("serve.log");
    let mut child = workspace
        .command(workspace.database())
        .env_remove("RUST_LOG")
        .env("BIND_ADDR", "127.0.0.1:0")
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    // The warning that DIGEST_CRON is empty is the last line of the start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut text = String::new();
    while std::time::Instant::now() < deadline && !text.contains("DIGEST_CRON is empty") {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        text = std::fs::read_to_string(&log_path).unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(text.contains("DIGEST_CRON is empty"), "{text}");
    assert!(!text.contains("INFO"), "RUST_LOG=warn from .env: {text}");
}
