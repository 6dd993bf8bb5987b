//! The CLI verbs `newsletter subscribers import FILE.csv`, `newsletter subscribers export`
//! and `newsletter migrate`, run as the real binary against the test's database.

use diesel::prelude::*;
use newsletter::db::schema::subscribers;
use newsletter::db::subscribers::Subscriber;

use crate::support::{TestApp, TestDatabase, Workspace};

/// Every subscriber in the app's database, oldest first.
async fn all_subscribers(app: &TestApp) -> Vec<Subscriber> {
    app.state
        .db
        .run(newsletter::db::subscribers::all)
        .await
        .expect("the subscribers can be read")
}

/// The `FILE:LINE:` lines of a run's standard error.
fn reported_lines<'a>(stderr: &'a str, file: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|line| line.starts_with(&format!("{file}:")))
        .collect()
}

#[tokio::test]
async fn an_import_reports_bad_rows_by_line_and_adds_the_good_ones_as_confirmed() {
    let workspace = Workspace::new();
    let app = workspace.spawn_app().await;
    // Already on the list, still pending: the import must leave it exactly so.
    assert_eq!(
        app.sign_up("returning.reader@example.org", "Returning Reader")
            .await
            .status(),
        200
    );
    let too_long_name = "Nurlan ".repeat(20);
    workspace.write(
        "readers.csv",
        &format!(
            "email,name\n\
             akan.rakhmetullin@example.kz,Akan Rakhmetullin\n\
             michaela.friberg-storey@example.se,Michaela Friberg-Storey\n\
             akan.at.example.kz,No At Sign\n\
             antonio.guterres@example.pt,António Guterres\n\
             too.long@example.org,{too_long_name}\n\
             ,Nobody At All\n\
             Returning.Reader@Example.org,Someone Else\n"
        ),
    );

    let run = workspace
        .newsletter(&["subscribers", "import", "readers.csv"])
        .await;

    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let reported = reported_lines(&run.stderr, "readers.csv");
    assert_eq!(reported.len(), 3, "{}", run.stderr);
    assert!(
        reported[0].starts_with("readers.csv:4: "),
        "{}",
        reported[0]
    );
    assert_eq!(
        reported[0],
        "readers.csv:4: `akan.at.example.kz` is not an email address"
    );
    assert!(
        reported[1].starts_with("readers.csv:6: "),
        "{}",
        reported[1]
    );
    assert_eq!(
        reported[1],
        "readers.csv:6: the name is longer than 100 characters"
    );
    assert!(
        reported[2].starts_with("readers.csv:7: "),
        "{}",
        reported[2]
    );
    assert_eq!(reported[2], "readers.csv:7: the email column is empty");
    assert!(
        run.stderr.contains("imported 3 new subscribers"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1 already on the list"),
        "{}",
        run.stderr
    );

    let found: Vec<(String, Option<String>, String)> = all_subscribers(&app)
        .await
        .into_iter()
        .map(|s| (s.email, s.name, s.status.as_str().to_owned()))
        .collect();
    let row = |email: &str, name: &str, status: &str| {
        (email.to_owned(), Some(name.to_owned()), status.to_owned())
    };
    assert_eq!(
        found,
        [
            row(
                "returning.reader@example.org",
                "Returning Reader",
                "pending"
            ),
            row(
                "akan.rakhmetullin@example.kz",
                "Akan Rakhmetullin",
                "confirmed"
            ),
            row(
                "michaela.friberg-storey@example.se",
                "Michaela Friberg-Storey",
                "confirmed"
            ),
            row(
                "antonio.guterres@example.pt",
                "António Guterres",
                "confirmed"
            ),
        ]
    );
}

#[tokio::test]
async fn bad_rows_are_reported_in_the_words_of_a_file_not_of_the_sign_up_form() {
    let workspace = Workspace::new();
    workspace.write(
        "list.csv",
        "email,name\n\
         bob@,Bob Lee\n\
         zhanna omarova@example.kz,Zhanna Omarova\n\
         aigerim@example.kz,Visit https://spam.example\n\
         dana.abenova@example.kz,Dana Abenova\n",
    );
    let run = workspace
        .newsletter(&["subscribers", "import", "list.csv"])
        .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_eq!(
        reported_lines(&run.stderr, "list.csv"),
        [
            "list.csv:2: `bob@` is not an email address: the part after the @ is not a valid domain name",
            "list.csv:3: `zhanna omarova@example.kz` is not an email address: an email address cannot contain spaces or line breaks",
            "list.csv:4: the name cannot contain a web address",
        ]
    );
    assert!(
        run.stderr
            .contains("imported 1 new subscriber as confirmed"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_quoted_name_spanning_two_lines_is_rejected_and_later_line_numbers_stay_right() {
    let workspace = Workspace::new();
    workspace.write(
        "list.csv",
        "email,name\n\
         eve@example.org,\"Eve\nBcc: victim@example.org\"\n\
         second.reader@example.org,Second Reader\n\
         broken-address,Third Reader\n",
    );

    let run = workspace
        .newsletter(&["subscribers", "import", "list.csv"])
        .await;

    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let reported = reported_lines(&run.stderr, "list.csv");
    assert_eq!(reported.len(), 2, "{}", run.stderr);
    assert!(reported[0].starts_with("list.csv:2: "), "{}", reported[0]);
    assert_eq!(
        reported[0],
        "list.csv:2: the name cannot contain line breaks or control characters"
    );
    assert_eq!(
        reported[1],
        "list.csv:5: `broken-address` is not an email address"
    );
    for line in &reported {
        assert!(!line.contains("Please"), "the words of a file: {line}");
    }
    let export = workspace.newsletter(&["subscribers", "export"]).await;
    assert_eq!(export.code, Some(0), "{}", export.stderr);
    assert!(
        export
            .stdout
            .contains("second.reader@example.org,Second Reader,confirmed")
    );
    assert!(
        !export.stdout.contains("eve@example.org"),
        "{}",
        export.stdout
    );
}

#[tokio::test]
async fn a_spreadsheet_export_with_a_byte_order_mark_imports_cleanly() {
    let workspace = Workspace::new();
    workspace.write(
        "excel.csv",
        "\u{feff}email,name\r\nakan@example.kz,Akan Rakhmetullin\r\n",
    );

    let run = workspace
        .newsletter(&["subscribers", "import", "excel.csv"])
        .await;

    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "imported 1 new subscriber as confirmed; 0 already on the list; 0 rows rejected"
        ),
        "one, not \"1 subscribers\": {}",
        run.stderr
    );
    let export = workspace.newsletter(&["subscribers", "export"]).await;
    assert!(
        export
            .stdout
            .contains("akan@example.kz,Akan Rakhmetullin,confirmed"),
        "{}",
        export.stdout
    );
    assert!(
        export.stderr.contains("exported 1 subscriber\n"),
        "{}",
        export.stderr
    );
}

#[tokio::test]
async fn export_lists_every_subscriber_under_a_header_and_round_trips_through_import() {
    let workspace = Workspace::new();
    let app = workspace.spawn_app().await;
    workspace.write(
        "readers.csv",
        "email,name\n\
         akan.rakhmetullin@example.kz,Akan Rakhmetullin\n\
         michaela.friberg-storey@example.se,\"Friberg-Storey, Michaela\"\n\
         antonio.guterres@example.pt,António Guterres\n\
         no.name@example.org,\n",
    );
    let import = workspace
        .newsletter(&["subscribers", "import", "readers.csv"])
        .await;
    assert_eq!(import.code, Some(0), "{}", import.stderr);
    assert_eq!(
        app.sign_up("pending.reader@example.org", "").await.status(),
        200
    );

    let export = workspace.newsletter(&["subscribers", "export"]).await;
    assert_eq!(export.code, Some(0), "{}", export.stderr);
    let mut reader = csv::Reader::from_reader(export.stdout.as_bytes());
    let header = reader.headers().expect("a header row").clone();
    assert_eq!(
        &header.iter().take(3).collect::<Vec<_>>(),
        &["email", "name", "status"]
    );
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("well-formed CSV");
    let exported: Vec<(&str, &str, &str)> = rows.iter().map(|r| (&r[0], &r[1], &r[2])).collect();
    assert_eq!(
        exported,
        [
            (
                "akan.rakhmetullin@example.kz",
                "Akan Rakhmetullin",
                "confirmed"
            ),
            (
                "michaela.friberg-storey@example.se",
                "Friberg-Storey, Michaela",
                "confirmed"
            ),
            (
                "antonio.guterres@example.pt",
                "António Guterres",
                "confirmed"
            ),
            ("no.name@example.org", "", "confirmed"),
            ("pending.reader@example.org", "", "pending"),
        ]
    );
    assert_eq!(all_subscribers(&app).await.len(), rows.len());

    workspace.write("exported.csv", &export.stdout);
    let fresh = TestDatabase::new(workspace.dir.path().join("fresh.db"));
    let reimport = workspace
        .newsletter_on(&fresh, &["subscribers", "import", "exported.csv"])
        .await;
    assert_eq!(reimport.code, Some(0), "{}", reimport.stderr);
    let again = workspace
        .newsletter_on(&fresh, &["subscribers", "export"])
        .await;
    let mut reader = csv::Reader::from_reader(again.stdout.as_bytes());
    let moved: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.expect("well-formed CSV");
            (r[0].to_owned(), r[1].to_owned())
        })
        .collect();
    let original: Vec<(String, String)> = exported
        .iter()
        .map(|(email, name, _)| (email.to_string(), name.to_string()))
        .collect();
    assert_eq!(moved, original, "the same addresses and names");
}

#[tokio::test]
async fn migrate_exits_0_and_creates_the_database_with_its_tables() {
    let workspace = Workspace::new();
    // It checks that the file is made, folder included, and is an SQLite database.
    let database = TestDatabase::sqlite(workspace.dir.path().join("data").join("newsletter.db"));
    let file = database.sqlite_file();

    let run = workspace.newsletter_on(&database, &["migrate"]).await;

    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(file.is_file(), "{} exists", file.display());
    let mut conn = SqliteConnection::establish(&file.display().to_string())
        .expect("the file is an SQLite database");
    let count: i64 = subscribers::table
        .count()
        .get_result(&mut conn)
        .expect("the subscribers table exists");
    assert_eq!(count, 0);
    let again = workspace.newsletter_on(&database, &["migrate"]).await;
    assert_eq!(
        again.code,
        Some(0),
        "migrating twice is fine: {}",
        again.stderr
    );
}

#[tokio::test]
async fn a_csv_without_an_email_column_is_refused_with_a_clear_message() {
    let workspace = Workspace::new();
    workspace.write(
        "mailchimp.csv",
        "Email Address,First Name\nakan@example.kz,Akan\n",
    );

    let run = workspace
        .newsletter(&["subscribers", "import", "mailchimp.csv"])
        .await;

    assert_ne!(run.code, Some(0));
    assert!(run.stderr.contains("`email` column"), "{}", run.stderr);
    let export = workspace.newsletter(&["subscribers", "export"]).await;
    assert_eq!(
        export.stdout.lines().count(),
        1,
        "nothing imported: {}",
        export.stdout
    );
}

#[tokio::test]
async fn importing_a_file_that_does_not_exist_fails_naming_the_file() {
    let workspace = Workspace::new();
    let run = workspace
        .newsletter(&["subscribers", "import", "missing.csv"])
        .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("missing.csv"), "{}", run.stderr);
}
