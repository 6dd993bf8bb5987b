//! Settings as a newcomer gives them: the `.env` file beside the binary.

use crate::support::Workspace;

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
