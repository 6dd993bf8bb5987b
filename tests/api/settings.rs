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
