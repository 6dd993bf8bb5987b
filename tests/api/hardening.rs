//! What an attacker found, each over the real interface: huge CSV reports, one mailbox
//! under many spellings, a stranger's words in a confirmation mail, rotated admin
//! tokens, old confirmation links, the limiter's spread and the smaller findings (opaque
//! ids, numeric domains, content types, methods, names). The CSV finding measures the
//! process's peak RSS; the slow ones a deadline of seconds. (Racing the admin-token
//! budget and stalled bodies against the real binary are in the `process` target.)

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::admin_pages::Admin;
use crate::support::{
    TestDatabase, Workspace, answer_before_close, serde_urlencoded_pair, spawn_app,
    spawn_app_on_database, spawn_app_with,
};

/// Sends `head` and the start of a chunked body that never ends.
async fn stalled_chunked(port: u16, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!(
        "{head}\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\n\r\n6\r\nemail="
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn a_chunked_body_that_never_ends_cannot_hold_a_connection_open() {
    let app = spawn_app().await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let cases = [
        ("POST /subscriptions HTTP/1.1", 408),
        ("POST /admin/login HTTP/1.1", 408),
        ("GET / HTTP/1.1", 200),
        ("GET /health HTTP/1.1", 200),
        ("PUT /health HTTP/1.1", 405),
        ("POST /nowhere HTTP/1.1", 404),
    ];
    let started = Instant::now();
    let answers = join_all(cases.iter().map(|(head, _)| async move {
        answer_before_close(stalled_chunked(port, head).await, Duration::from_secs(25)).await
    }))
    .await;
    for ((head, expected), answer) in cases.iter().zip(answers) {
        assert_eq!(answer, Some(*expected), "{head}: answered and closed");
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

/// Runs the real binary through a small Python wrapper that reports the child's peak
/// RSS (`ru_maxrss`, KiB) once it has exited: `/proc` is gone by then.
fn run_measuring_peak_rss(
    dir: &Path,
    database: &TestDatabase,
    args: &[&str],
) -> (std::process::Output, u64) {
    let output = Command::new("python3")
        .arg("-c")
        .arg(
            "import resource, subprocess, sys\n\
             r = subprocess.run(sys.argv[1:], capture_output=True)\n\
             sys.stdout.buffer.write(r.stdout)\n\
             sys.stderr.buffer.write(r.stderr)\n\
             print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n\
             sys.exit(r.returncode)",
        )
        .arg(env!("CARGO_BIN_EXE_newsletter"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", database.url())
        .env("NO_COLOR", "1")
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak = stderr
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in: {stderr}"));
    (output, peak)
}

/// A 2 MB CSV of a million one-character rows, every one of them bad.
fn a_million_bad_rows() -> String {
    let mut csv = String::from("email\n");
    csv.push_str(&"a\n".repeat(1_000_000));
    csv
}

#[tokio::test]
async fn a_csv_of_a_million_bad_rows_is_reported_in_bounded_memory_and_words() {
    let workspace = Workspace::new();
    workspace.write("bad.csv", &a_million_bad_rows());
    let (output, peak_kib) = run_measuring_peak_rss(
        workspace.dir.path(),
        &workspace.database,
        &["subscribers", "import", "bad.csv"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!(
        "CSV import: 1,000,000 bad rows, peak RSS {} MiB",
        peak_kib / 1024
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB");
    let listed = stderr.lines().filter(|l| l.starts_with("bad.csv:")).count();
    assert_eq!(listed, 100, "the first hundred rows are listed");
    assert!(
        stderr.contains("… and 999900 more rows rejected"),
        "{stderr}"
    );
    assert!(stderr.contains("1000000 rows rejected"), "{stderr}");

    // The admin page: the same bounds, and a page of a few kilobytes.
    let app = spawn_app().await;
    let admin = Admin::log_in(&app).await;
    let response = admin.upload_csv(admin.csrf(), &a_million_bad_rows()).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.len() < 64 * 1024, "the report is {} bytes", page.len());
    assert!(page.contains(r#"id="rejected-count">1000000<"#));
    assert!(page.contains("999900 more rows not imported"), "{page}");
}

#[tokio::test]
async fn a_csv_record_longer_than_64_kb_stops_the_import_there_keeping_the_rows_before() {
    let workspace = Workspace::new();
    let good: String = (0..2500)
        .map(|i| format!("reader{i}@example.kz,Reader {i}\n"))
        .collect();
    // One quoted name of many short lines: one record of 120 KB.
    let long = format!("long@example.kz,\"{}\"\n", "a line\n".repeat(15_000));
    workspace.write(
        "long.csv",
        &format!("email,name\n{good}{long}after@example.kz,\n"),
    );
    let run = workspace
        .newsletter(&["subscribers", "import", "long.csv"])
        .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("long.csv:2502: stopped here: a row is longer than 64 KB"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("imported 2500 new subscribers"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn every_spelling_of_one_mailbox_is_one_subscriber_with_one_daily_cap() {
    let app = spawn_app_with(&[("CONFIRM_MAILS_PER_ADDRESS_PER_DAY", "3")]).await;
    let spellings = [
        "bob@exämple.com",
        "bob@xn--exmple-cua.com",
        "bob@ex\u{00E4}mple.COM",
        "bob@exa\u{0308}mple.com", // ä as a + combining diaeresis
        "bob@ｅｘäｍｐｌｅ.com",   // full-width letters
    ];
    let mut statuses = Vec::new();
    for email in spellings {
        statuses.push(app.sign_up(email, "").await.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429, 429],
        "one address, one cap of three"
    );
    assert_eq!(app.subscriber_count().await, 1);
    let mails = app.wait_for_mail_to("bob@xn--exmple-cua.com", 3).await;
    assert_eq!(mails.len(), 3);
    assert!(mails.iter().all(|m| m.to == ["bob@xn--exmple-cua.com"]));

    for email in [
        "carol@exam\u{00AD}ple.org",
        "carol@ﬁsh.example",
        "carol@ＥＸＡＭＰＬＥ.org",
    ] {
        assert_eq!(app.sign_up(email, "").await.status(), 200, "{email}");
    }
    assert_eq!(
        app.subscriber_count().await,
        3,
        "soft hyphen and full width fold, ﬁ is fi"
    );
    assert_eq!(
        app.subscriber_status("carol@example.org").await.as_deref(),
        Some("pending")
    );
    assert_eq!(
        app.subscriber_status("carol@fish.example").await.as_deref(),
        Some("pending")
    );
}

#[tokio::test]
async fn a_stranger_typing_an_address_cannot_put_words_into_its_mail_or_rename_its_reader() {
    let app = spawn_app().await;
    let spam = "WIN $500 gift card: claim at https://evil.example/claim today";
    let refused = app.sign_up("victim@example.org", spam).await;
    assert_eq!(refused.status(), 400, "a web address is no name");
    assert_eq!(app.subscriber_count().await, 0);

    // A stranger types the address first, with words of their own.
    app.sign_up("aigerim@example.kz", "WIN $500 today, call +7 700")
        .await;
    let strangers = app
        .wait_for_mail_to("aigerim@example.kz", 1)
        .await
        .remove(0);
    assert_eq!(
        strangers.header("To").as_deref(),
        Some("aigerim@example.kz")
    );
    assert!(!strangers.text_body().contains("WIN") && !strangers.html_body().contains("WIN"));

    // Then the reader signs up herself and confirms from her own mail.
    app.sign_up("aigerim@example.kz", "Aigerim Nurlanovna")
        .await;
    let hers = app
        .wait_for_mail_to("aigerim@example.kz", 2)
        .await
        .remove(1);
    assert!(
        !hers.text_body().contains("Aigerim"),
        "no name before confirmation"
    );
    assert_eq!(
        app.post_empty(&app.confirmation_link(&hers)).await.status(),
        200
    );
    let listed: serde_json::Value = app
        .api_get("/api/subscribers?status=confirmed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["subscribers"][0]["name"], "Aigerim Nurlanovna",
        "the name is the one typed with the link that was used: {listed}"
    );

    // Signing up again once confirmed changes nothing, the name included.
    app.sign_up("aigerim@example.kz", "Someone Else").await;
    let listed: serde_json::Value = app
        .api_get("/api/subscribers?status=confirmed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["subscribers"][0]["name"], "Aigerim Nurlanovna");
}

#[tokio::test]
async fn sessions_made_with_an_old_admin_token_end_when_the_token_changes() {
    let before = spawn_app().await;
    let admin = Admin::log_in(&before).await;
    assert_eq!(admin.get("/admin/subscribers").await.status(), 200);

    // The same database, restarted with a new token.
    let after = spawn_app_on_database(
        Arc::clone(&before.database),
        &[("ADMIN_TOKEN", "a-brand-new-admin-token-9876543210")],
    )
    .await;
    for path in [
        "/admin/subscribers",
        "/admin/subscribers/export.csv",
        "/admin",
    ] {
        let response = after
            .client
            .get(after.url(path))
            .header("Cookie", &admin.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/admin/login");
    }
    let refused_resend = after
        .client
        .post(after.url("/admin/subscribers/1/resend"))
        .header("Cookie", &admin.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused_resend.status(), 401);
    // The token it was made with still has it (control).
    assert_eq!(admin.get("/admin/subscribers").await.status(), 200);
}

#[tokio::test]
async fn confirming_or_leaving_ends_every_confirmation_link_for_good() {
    let app = spawn_app().await;
    let t1 = app.sign_up_and_get_link("reader@example.kz", "").await;
    app.sign_up("reader@example.kz", "").await;
    let second = app.wait_for_mail_to("reader@example.kz", 2).await.remove(1);
    let t2 = app.confirmation_link(&second);
    assert_ne!(t1, t2);

    assert_eq!(app.post_empty(&t1).await.status(), 200);
    assert_eq!(
        app.post_empty(&t2).await.status(),
        200,
        "confirmed: the other link says so and changes nothing"
    );
    let id = app.subscriber_id("reader@example.kz").await;
    assert_eq!(
        app.post_empty(&app.unsubscribe_link(id)).await.status(),
        200
    );
    assert_eq!(app.post_empty(&t2).await.status(), 410);

    // Submitted again (by anyone): the old links stay dead; only the new one works.
    app.sign_up("reader@example.kz", "").await;
    for old in [&t1, &t2] {
        assert_eq!(app.get(old).await.status(), 410);
        assert_eq!(app.post_empty(old).await.status(), 410);
    }
    assert_eq!(
        app.subscriber_status("reader@example.kz").await.as_deref(),
        Some("pending")
    );
    let third = app.wait_for_mail_to("reader@example.kz", 3).await.remove(2);
    assert_eq!(
        app.post_empty(&app.confirmation_link(&third))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.subscriber_status("reader@example.kz").await.as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn ipv6_clients_are_limited_by_their_64_network() {
    let app = spawn_app_with(&[
        ("SIGNUP_RATE_PER_MINUTE", "2"),
        ("TRUSTED_PROXY", "127.0.0.1"),
    ])
    .await;
    let mut statuses = Vec::new();
    for (i, client) in [
        "2001:db8:7:1::1",
        "2001:db8:7:1::2",
        "2001:db8:7:1:ab::3",
        "2001:db8:7:2::1",
    ]
    .into_iter()
    .enumerate()
    {
        let body =
            serde_urlencoded_pair(&[("email", &format!("v6-{i}@example.org")), ("name", "")]);
        statuses.push(
            app.post_subscriptions_from(client, body)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 429, 200], "one /64 is one client");
}

#[tokio::test]
async fn message_ids_and_unsubscribe_links_show_no_counters() {
    const SECRET: &str = "hardening-app-secret-0123456789abcdef";
    let app = spawn_app_with(&[("APP_SECRET", SECRET)]).await;
    let mut ids = Vec::new();
    for i in 1..=3 {
        let email = format!("reader{i}@example.org");
        let id = app.confirmed_subscriber(&email, "").await;
        ids.push(id);
    }
    for (i, id) in ids.iter().enumerate() {
        let mail = app
            .smtp
            .messages_to(&format!("reader{}@example.org", i + 1))
            .remove(0);
        let message_id = mail.header("Message-ID").unwrap();
        let local = message_id
            .trim_start_matches('<')
            .split('@')
            .next()
            .unwrap();
        assert!(
            local
                .strip_prefix("confirm.")
                .is_some_and(|tag| tag.len() == 20),
            "{message_id}"
        );
        let link = app.unsubscribe_link(*id);
        let token = link.split("token=").nth(1).unwrap();
        assert!(!token.contains('.') && token.len() == 32, "{token}");
    }
    app.add_article("Kazakhstan’s budget", "https://astanatimes.example/budget")
        .await;
    app.send_digest_and_wait().await;
    let digest_mail = app
        .smtp
        .messages_to("reader1@example.org")
        .into_iter()
        .find(|m| {
            m.header("Message-ID")
                .is_some_and(|id| id.starts_with("<digest."))
        })
        .expect("the digest");
    let unsubscribe = digest_mail.header("List-Unsubscribe").unwrap();
    assert!(
        !unsubscribe.contains(&format!("token={}.", ids[0])),
        "{unsubscribe}"
    );
    // Links mailed before the ids were hidden still work.
    let old_form = {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("unsubscribe:{}", ids[2]).as_bytes());
        use base64::Engine;
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("/unsubscribe?token={}.{sig}", ids[2])
    };
    assert_eq!(app.post_empty(&old_form).await.status(), 200);
    assert_eq!(
        app.subscriber_status("reader3@example.org")
            .await
            .as_deref(),
        Some("unsubscribed")
    );
}

#[tokio::test]
async fn numeric_domains_odd_content_types_bidi_names_and_unknown_methods_are_refused() {
    let app = spawn_app().await;
    for email in ["a@127.0.0.1", "a@0x7f.1", "a@example.123"] {
        let response = app.sign_up(email, "").await;
        assert_eq!(response.status(), 400, "{email}");
    }
    for name in [
        "Eve \u{202E}gpj.exe",
        "\u{2066}Mallory\u{2069}",
        "Ev\u{200B}e",
    ] {
        let response = app.sign_up("eve@example.org", name).await;
        assert_eq!(response.status(), 400, "{name:?}");
    }
    let odd = app
        .client
        .post(app.url("/subscriptions"))
        .header("Content-Type", "application/x-www-form-urlencodedXYZ")
        .body("email=x%40example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), 415);
    let with_charset = app
        .client
        .post(app.url("/subscriptions"))
        .header(
            "Content-Type",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
        )
        .body("email=ok%40example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(with_charset.status(), 200);
    assert_eq!(
        app.subscriber_count().await,
        1,
        "only the last sign-up counted"
    );

    for (method, path, allow) in [
        ("PUT", "/subscriptions", "POST"),
        ("DELETE", "/", "GET, HEAD"),
        ("PATCH", "/unsubscribe", "GET, HEAD, POST"),
        ("PROPFIND", "/health", "GET, HEAD"),
    ] {
        let response = app
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(path),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
    for path in [
        "/",
        "/health",
        "/archive",
        "/static/style.css",
        "/unsubscribe?token=x",
    ] {
        let get = app.get(path).await;
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type")
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }
    assert_eq!(app.get("/no-such-page").await.status(), 404);
}

#[tokio::test]
async fn a_name_beginning_with_a_quote_and_equals_round_trips_through_export_and_import() {
    let stored_names = |workspace: &Workspace| -> Vec<Option<String>> {
        let db = workspace.database.open();
        db.run_blocking(newsletter::db::subscribers::all)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect()
    };
    let first = Workspace::new();
    // In a CSV, a leading quote marks a cell kept as text: `''=x` is the name `'=x`.
    first.write(
        "readers.csv",
        "email,name\nquote@example.kz,''=cmd|' /C calc'!A0\nplain@example.kz,'=SUM(A1)\n",
    );
    let imported = first
        .newsletter(&["subscribers", "import", "readers.csv"])
        .await;
    assert_eq!(imported.code, Some(0), "{}", imported.stderr);
    let names = stored_names(&first);
    assert_eq!(
        names,
        [
            Some("'=cmd|' /C calc'!A0".to_owned()),
            Some("=SUM(A1)".to_owned())
        ]
    );

    let exported = first.newsletter(&["subscribers", "export"]).await;
    let second = Workspace::new();
    second.write("again.csv", &exported.stdout);
    let reimported = second
        .newsletter(&["subscribers", "import", "again.csv"])
        .await;
    assert_eq!(reimported.code, Some(0), "{}", reimported.stderr);
    assert_eq!(stored_names(&second), names, "{}", exported.stdout);
}

#[tokio::test]
async fn addresses_stored_before_normalisation_are_brought_into_the_one_form_at_start() {
    use diesel::prelude::*;
    use newsletter::db::schema::{app_settings, subscribers};
    let dir = tempfile::tempdir().unwrap();
    // Only SQLite databases predate the normal form (the library normalises on SQLite only).
    let database = TestDatabase::sqlite(dir.path().join("newsletter.db"));
    let db = database.open();
    // Rows as the previous version stored them: lower-cased, domains as typed.
    db.run_blocking(|conn| {
        let now = newsletter::db::now();
        for email in [
            "aigerim@exämple.kz",
            "bob@ｅｘａｍｐｌｅ.org",
            "bob@example.org",
        ] {
            diesel::insert_into(subscribers::table)
                .values((
                    subscribers::email.eq(email),
                    subscribers::status.eq("confirmed"),
                    subscribers::created_at.eq(now),
                    subscribers::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        diesel::delete(app_settings::table.find("addresses_normalised")).execute(conn)?;
        Ok(())
    })
    .unwrap();
    drop(db);

    let db = database.open();
    let stored: Vec<String> = db
        .run_blocking(newsletter::db::subscribers::all)
        .unwrap()
        .into_iter()
        .map(|s| s.email)
        .collect();
    assert_eq!(
        stored,
        [
            "aigerim@xn--exmple-cua.kz",
            // The same mailbox as the third: left for the admin, never dropped.
            "bob@ｅｘａｍｐｌｅ.org",
            "bob@example.org"
        ]
    );
}
