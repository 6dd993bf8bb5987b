//! The admin pages over HTTP: the session guard, login and logout, CSRF on every form,
//! search, the import report, erasure and send-now.

use crate::support::{ADMIN_TOKEN, TestApp, link_in, spawn_app, spawn_app_with};

/// A browser-like admin: the session cookie and the CSRF token of its pages.
pub(crate) struct Admin<'a> {
    app: &'a TestApp,
    pub(crate) cookie: String,
    csrf: String,
}

impl<'a> Admin<'a> {
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }

    pub(crate) async fn log_in(app: &'a TestApp) -> Admin<'a> {
        let response = app
            .post_form("/admin/login", format!("token={ADMIN_TOKEN}"), &[])
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/admin");
        let cookie = session_cookie(&response).expect("a session cookie");
        let mut admin = Admin {
            app,
            cookie,
            csrf: String::new(),
        };
        let page = admin.get("/admin").await.text().await.unwrap();
        admin.csrf = csrf_in(&page);
        admin
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.app
            .client
            .get(self.app.url(path))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// Posts a form with the session's CSRF token added.
    pub(crate) async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(pairs);
        self.post_raw(path, &all).await
    }

    pub(crate) async fn post_raw(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(path))
            .header("Cookie", &self.cookie)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(crate::support::serde_urlencoded_pair(pairs))
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn upload_csv(&self, csrf: &str, csv: &str) -> reqwest::Response {
        let boundary = "----newsletter-test-boundary";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"readers.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
        );
        self.app
            .client
            .post(self.app.url("/admin/subscribers/import"))
            .header("Cookie", &self.cookie)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("newsletter_admin=") && !v.starts_with("newsletter_admin=;"))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

fn set_cookie_header(response: &reqwest::Response) -> String {
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn csrf_in(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).expect("a CSRF field on the page") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn without_a_session_pages_redirect_to_the_login_and_forms_are_refused() {
    let app = spawn_app().await;
    for path in [
        "/admin",
        "/admin/subscribers",
        "/admin/articles",
        "/admin/digests",
        "/admin/subscribers/export.csv",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/admin/login", "{path}");
    }
    let response = app
        .client
        .post(app.url("/admin/articles"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("title=Sneaky&url=https%3A%2F%2Fx.example%2F")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let forged = app
        .client
        .get(app.url("/admin"))
        .header("Cookie", "newsletter_admin=made-up-session")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 303, "an unknown session id is no session");
}

#[tokio::test]
async fn without_an_admin_token_the_admin_pages_do_not_exist() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "")]).await;
    assert_eq!(app.get("/admin").await.status(), 404);
    assert_eq!(app.get("/admin/login").await.status(), 404);
}

#[tokio::test]
async fn the_login_page_has_a_labelled_password_field() {
    let app = spawn_app().await;
    let page = app.get("/admin/login").await.text().await.unwrap();
    assert!(
        page.contains(r#"<label for="token">"#) && page.contains(r#"type="password""#),
        "{page}"
    );
}

#[tokio::test]
async fn a_wrong_token_gets_401_and_no_session() {
    let app = spawn_app().await;
    let response = app
        .post_form("/admin/login", "token=not-the-token-at-all", &[])
        .await;
    assert_eq!(response.status(), 401);
    assert!(session_cookie(&response).is_none());
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("not the admin token")
    );
}

#[tokio::test]
async fn repeated_failed_logins_are_refused_with_429_even_with_the_right_token() {
    let app = spawn_app().await;
    let attempt = |token: &'static str| {
        let app = &app;
        async move {
            app.post_form("/admin/login", format!("token={token}"), &[])
                .await
                .status()
                .as_u16()
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(attempt("guess").await);
    }
    statuses.push(attempt(ADMIN_TOKEN).await);
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_secure_only_on_https() {
    let app = spawn_app().await;
    let response = app
        .post_form("/admin/login", format!("token={ADMIN_TOKEN}"), &[])
        .await;
    let cookie = set_cookie_header(&response);
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http keeps working: {cookie}"
    );

    let https = spawn_app_with(&[("BASE_URL", "https://news.example.com")]).await;
    let response = https
        .post_form("/admin/login", format!("token={ADMIN_TOKEN}"), &[])
        .await;
    assert!(set_cookie_header(&response).contains("Secure"));
}

#[tokio::test]
async fn logging_in_issues_a_new_session_id_and_logging_out_ends_it() {
    let app = spawn_app().await;
    let planted = "newsletter_admin=attacker-chosen-id";
    let response = app
        .post_form(
            "/admin/login",
            format!("token={ADMIN_TOKEN}"),
            &[("Cookie", planted)],
        )
        .await;
    let issued = session_cookie(&response).unwrap();
    assert_ne!(issued, planted, "no session fixation");

    let admin = Admin::log_in(&app).await;
    assert_eq!(admin.get("/admin").await.status(), 200);
    let logout = admin.post("/admin/logout", &[]).await;
    assert_eq!(logout.status(), 303);
    assert_eq!(
        admin.get("/admin").await.status(),
        303,
        "the old cookie no longer works"
    );
}

#[tokio::test]
async fn a_form_without_or_with_a_wrong_csrf_token_gets_403_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = Admin::log_in(&app).await;
    let article = [("title", "Forged"), ("url", "https://news.example/forged")];
    let missing = admin.post_raw("/admin/articles", &article).await;
    assert_eq!(missing.status(), 403);
    let mut wrong = vec![("csrf", "0000")];
    wrong.extend_from_slice(&article);
    assert_eq!(
        admin.post_raw("/admin/articles", &wrong).await.status(),
        403
    );
    let waiting = app
        .state
        .db
        .run(newsletter::db::articles::waiting)
        .await
        .unwrap();
    assert!(waiting.is_empty(), "nothing was added");

    // Another session's token does not work either.
    let other = Admin::log_in(&app).await;
    let mut foreign = vec![("csrf", other.csrf.as_str())];
    foreign.extend_from_slice(&article);
    assert_eq!(
        admin.post_raw("/admin/articles", &foreign).await.status(),
        403
    );

    let ok = admin.post("/admin/articles", &article).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(
        app.state
            .db
            .run(newsletter::db::articles::waiting)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_dashboard_counts_subscribers_by_status_and_draws_the_chart() {
    let app = spawn_app().await;
    let ids = app
        .import_confirmed(&["a@example.org", "b@example.org", "c@example.org"])
        .await;
    app.set_status(ids[2], "bounced").await;
    app.sign_up("pending@example.org", "").await;
    let admin = Admin::log_in(&app).await;
    let page = admin.get("/admin").await.text().await.unwrap();
    assert!(page.contains(r#"id="count-confirmed">2<"#), "{page}");
    assert!(page.contains(r#"id="count-pending">1<"#));
    assert!(page.contains(r#"id="count-bounced">1<"#));
    assert!(page.contains("<svg class=\"chart\""));
    assert!(
        page.contains("Last 90 days: 4 sign-ups, 3 confirmations"),
        "{page}"
    );
}

#[tokio::test]
async fn search_finds_by_address_or_name_and_filters_by_status() {
    let app = spawn_app().await;
    app.import_confirmed(&["akan@example.kz", "michaela@example.org"])
        .await;
    app.sign_up("antonio@example.org", "António Guterres").await;
    let admin = Admin::log_in(&app).await;
    let page = admin
        .get("/admin/subscribers?q=AKAN")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("akan@example.kz") && !page.contains("michaela@example.org"),
        "{page}"
    );
    let page = admin
        .get("/admin/subscribers?q=Guterres")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("antonio@example.org"));
    let page = admin
        .get("/admin/subscribers?status=pending")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("antonio@example.org") && !page.contains("akan@example.kz"));
    let page = admin
        .get("/admin/subscribers?q=%25")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(">0 subscribers match"),
        "a % is searched for literally: {page}"
    );
}

#[tokio::test]
async fn an_uploaded_csv_is_imported_with_a_report_of_bad_rows_by_line() {
    let app = spawn_app().await;
    app.import_confirmed(&["known@example.org"]).await;
    let admin = Admin::log_in(&app).await;
    let csv = "email,name\nnew@example.org,Madina Dzharbusynova\nnot-an-address,X\nknown@example.org,Known\n,Empty\n";
    let response = admin.upload_csv(&admin.csrf, csv).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"id="imported">1<"#), "{page}");
    assert!(page.contains(r#"id="already-present">1<"#));
    assert!(page.contains(r#"id="rejected-count">2<"#));
    assert!(
        page.contains("<td class=\"num\">3</td>") && page.contains("<td class=\"num\">5</td>"),
        "{page}"
    );
    assert!(
        page.contains("<td>`not-an-address` is not an email address</td>")
            && page.contains("<td>the email column is empty</td>"),
        "the words of a file, not of the sign-up form: {page}"
    );
    assert_eq!(
        app.subscriber_status("new@example.org").await.as_deref(),
        Some("confirmed")
    );

    let forged = admin
        .upload_csv("wrong", "email,name\nforged@example.org,F\n")
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(app.subscriber_status("forged@example.org").await, None);
}

#[tokio::test]
async fn erasure_asks_first_then_removes_the_subscriber_and_everything_about_them() {
    let app = spawn_app().await;
    let id = app
        .confirmed_subscriber("erase-me@example.org", "Erase Me")
        .await;
    app.add_article("Story", "https://news.example/story").await;
    app.send_digest_and_wait().await;
    let admin = Admin::log_in(&app).await;

    let confirm = admin.get(&format!("/admin/subscribers/{id}/delete")).await;
    assert_eq!(confirm.status(), 200);
    assert!(
        confirm
            .text()
            .await
            .unwrap()
            .contains("Erase erase-me@example.org?")
    );
    assert!(
        app.subscriber_status("erase-me@example.org")
            .await
            .is_some(),
        "asking erases nothing"
    );

    let erased = admin
        .post(&format!("/admin/subscribers/{id}/delete"), &[])
        .await;
    assert_eq!(erased.status(), 303);
    assert_eq!(app.subscriber_status("erase-me@example.org").await, None);
    let leftovers = app
        .state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use newsletter::db::schema::{confirmation_tokens, deliveries, outgoing_emails};
            let tokens: i64 = confirmation_tokens::table
                .filter(confirmation_tokens::subscriber_id.eq(id))
                .count()
                .get_result(conn)?;
            let mails: i64 = outgoing_emails::table
                .filter(outgoing_emails::recipient.eq("erase-me@example.org"))
                .count()
                .get_result(conn)?;
            let sent: i64 = deliveries::table
                .filter(deliveries::subscriber_id.eq(id))
                .count()
                .get_result(conn)?;
            Ok(tokens + mails + sent)
        })
        .await
        .unwrap();
    assert_eq!(
        leftovers, 0,
        "tokens, queued mail and deliveries are gone too"
    );
    assert_eq!(
        admin
            .post(&format!("/admin/subscribers/{id}/delete"), &[])
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn send_now_asks_first_and_a_second_click_starts_nothing() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.org"]).await;
    app.add_article("Story", "https://news.example/story").await;
    let admin = Admin::log_in(&app).await;
    let confirm = admin.get("/admin/digests/send").await.text().await.unwrap();
    assert!(confirm.contains("Send to 1 reader"), "{confirm}");
    let (first, second) = tokio::join!(
        admin.post("/admin/digests/send", &[]),
        admin.post("/admin/digests/send", &[])
    );
    let mut locations: Vec<String> = [first, second]
        .iter()
        .map(|r| r.headers()["location"].to_str().unwrap().to_owned())
        .collect();
    locations.sort();
    assert_eq!(
        locations,
        ["/admin/digests/1", "/admin/digests?notice=nothing-new"]
    );
    let mails = app.wait_for_mail_to("reader@example.org", 1).await;
    assert_eq!(mails.len(), 1);
    let page = admin.get("/admin/digests/1").await.text().await.unwrap();
    assert!(page.contains("Story"));
}

#[tokio::test]
async fn send_now_with_no_confirmed_reader_says_so_and_keeps_the_article() {
    let app = spawn_app().await;
    app.add_article("Story", "https://news.example/story").await;
    let admin = Admin::log_in(&app).await;
    let ask = admin.get("/admin/digests/send").await.text().await.unwrap();
    assert!(ask.contains("No reader has confirmed yet"), "{ask}");
    assert!(!ask.contains("confirm-send"), "no button to send to nobody");
    let sent = admin.post("/admin/digests/send", &[]).await;
    assert_eq!(
        sent.headers()["location"],
        "/admin/digests?notice=no-readers"
    );
    let page = admin
        .get("/admin/digests?notice=no-readers")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("No reader has confirmed yet: no digest was sent"),
        "{page}"
    );
    let preview = admin
        .get("/admin/digests/preview/mail")
        .await
        .text()
        .await
        .unwrap();
    assert!(preview.contains("Story"), "the article still waits");
}

#[tokio::test]
async fn a_digest_page_lists_failed_readers_with_the_reply_and_retry_requeues_them() {
    let app = spawn_app().await;
    app.import_confirmed(&["good@example.org", "gone@example.org"])
        .await;
    app.smtp.set_faults(crate::support::smtp_server::Faults {
        reject_recipients: vec!["gone@example.org".into()],
        ..Default::default()
    });
    app.add_article("Story", "https://news.example/story").await;
    let digest: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    let id = digest["id"].as_i64().unwrap();
    app.wait_for_digest(id).await;
    let admin = Admin::log_in(&app).await;
    let page = admin
        .get(&format!("/admin/digests/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("gone@example.org") && page.contains("550"),
        "{page}"
    );

    app.smtp.set_faults(Default::default());
    let retry = admin.post(&format!("/admin/digests/{id}/retry"), &[]).await;
    assert_eq!(retry.status(), 303);
    assert_eq!(app.wait_for_mail_to("gone@example.org", 1).await.len(), 1);
    let status = app.wait_for_digest(id).await;
    assert_eq!(
        (status["sent"].as_i64(), status["failed"].as_i64()),
        (Some(2), Some(0)),
        "{status}"
    );
}

#[tokio::test]
async fn an_article_can_be_added_by_hand_and_left_out_of_the_next_digest() {
    let app = spawn_app().await;
    let admin = Admin::log_in(&app).await;
    let bad = admin
        .post("/admin/articles", &[("title", ""), ("url", "not a url")])
        .await;
    assert_eq!(bad.status(), 400);
    let page = bad.text().await.unwrap();
    assert!(
        page.contains(r#"id="title-error""#) && page.contains(r#"value="not a url""#),
        "{page}"
    );

    admin
        .post(
            "/admin/articles",
            &[("title", "Keep me"), ("url", "https://news.example/keep")],
        )
        .await;
    admin
        .post(
            "/admin/articles",
            &[
                ("title", "Leave me out"),
                ("url", "https://news.example/leave"),
            ],
        )
        .await;
    let waiting = app
        .state
        .db
        .run(newsletter::db::articles::waiting)
        .await
        .unwrap();
    let leave = waiting
        .iter()
        .find(|a| a.title == "Leave me out")
        .unwrap()
        .id;
    assert_eq!(
        admin
            .post(&format!("/admin/articles/{leave}/leave-out"), &[])
            .await
            .status(),
        303
    );
    app.import_confirmed(&["reader@example.org"]).await;
    let digest: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    assert_eq!(digest["articles"], 1);
    let mail = app
        .wait_for_mail_to("reader@example.org", 1)
        .await
        .remove(0);
    assert!(mail.text_body().contains("Keep me") && !mail.text_body().contains("Leave me out"));
}

#[tokio::test]
async fn a_test_send_mails_the_next_digest_to_one_address_and_stores_nothing() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.org"]).await;
    app.add_article("Volunteers’ Year", "https://news.example/volunteers")
        .await;
    let admin = Admin::log_in(&app).await;
    let bad = admin
        .post("/admin/digests/test", &[("email", "not an address")])
        .await;
    assert_eq!(bad.status(), 400);
    let sent = admin
        .post("/admin/digests/test", &[("email", "editor@example.org")])
        .await;
    assert_eq!(sent.status(), 303);
    let mail = app
        .wait_for_mail_to("editor@example.org", 1)
        .await
        .remove(0);
    assert!(mail.parsed().subject().unwrap() == "[Test] Volunteers’ Year · The Astana Times");
    assert!(mail.text_body().contains("Volunteers’ Year"));
    // The test mail's unsubscribe link belongs to no reader: it says so, and changes
    // nothing whether opened or posted (one-click).
    let unsubscribe = link_in(&mail.text_body(), &app.url("/unsubscribe?"));
    for response in [
        app.get(&unsubscribe).await,
        app.post_empty(&unsubscribe).await,
    ] {
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        assert!(page.contains("This was a test mail"), "{page}");
    }
    assert_eq!(
        app.subscriber_status("reader@example.org").await.as_deref(),
        Some("confirmed")
    );
    assert!(
        app.smtp.messages_to("reader@example.org").is_empty(),
        "readers got nothing"
    );
    assert_eq!(
        app.send_digest_now().await.status(),
        202,
        "the article still waits for the real digest"
    );
}

#[tokio::test]
async fn resend_queues_a_fresh_link_for_a_pending_reader_only() {
    let app = spawn_app().await;
    app.sign_up("pending@example.org", "").await;
    app.wait_for_mail_to("pending@example.org", 1).await;
    let confirmed = app.import_confirmed(&["confirmed@example.org"]).await[0];
    let pending = app.subscriber_id("pending@example.org").await;
    let admin = Admin::log_in(&app).await;

    let resent = admin
        .post(&format!("/admin/subscribers/{pending}/resend"), &[])
        .await;
    assert_eq!(
        resent.headers()["location"],
        "/admin/subscribers?notice=resent"
    );
    let mails = app.wait_for_mail_to("pending@example.org", 2).await;
    assert_ne!(
        app.confirmation_link(&mails[0]),
        app.confirmation_link(&mails[1])
    );

    let refused = admin
        .post(&format!("/admin/subscribers/{confirmed}/resend"), &[])
        .await;
    assert_eq!(
        refused.headers()["location"],
        "/admin/subscribers?notice=not-pending"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.smtp.messages_to("confirmed@example.org").is_empty());
}

#[tokio::test]
async fn the_subscriber_export_downloads_the_list_as_csv() {
    let app = spawn_app().await;
    app.import_confirmed(&["=cmd@example.org", "akan@example.kz"])
        .await;
    let admin = Admin::log_in(&app).await;
    let response = admin.get("/admin/subscribers/export.csv").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("subscribers.csv")
    );
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("email,name,status"));
    assert!(csv.contains("akan@example.kz,,confirmed"));
    assert!(
        csv.contains("'=cmd@example.org"),
        "a formula-like cell is kept as text: {csv}"
    );
}

/// The places of `titles` in `text`, which must hold each of them.
fn order_of(text: &str, titles: &[&str]) -> Vec<usize> {
    titles
        .iter()
        .map(|t| text.find(t).unwrap_or_else(|| panic!("{t} in {text}")))
        .collect()
}

fn in_order(text: &str, titles: &[&str]) -> bool {
    order_of(text, titles).is_sorted()
}

#[tokio::test]
async fn the_editor_sets_the_order_of_the_stories_and_the_digest_keeps_it() {
    let app = spawn_app().await;
    let admin = Admin::log_in(&app).await;
    let mut ids = Vec::new();
    for (title, day) in [
        ("Astana hosts the Turkic summit", "2026-11-28"),
        ("Tokayev signs the budget", "2026-11-27"),
        ("Almaty’s new metro line opens", "2026-11-26"),
    ] {
        let response = app
            .api_post(
                "/api/articles",
                &serde_json::json!({
                    "title": title,
                    "url": format!("https://news.example/{day}"),
                    "published_at": format!("{day}T09:00:00Z"),
                }),
            )
            .await;
        assert_eq!(response.status(), 201);
        ids.push(
            response.json::<serde_json::Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let [summit, budget, metro] = ids[..] else {
        unreachable!()
    };
    let page = admin.get("/admin/articles").await.text().await.unwrap();
    assert!(
        in_order(&page, &["Turkic summit", "signs the budget", "metro line"]),
        "newest first until the editor moves a story: {page}"
    );

    // The oldest story leads, and the summit goes below the budget.
    let lead = admin
        .post(&format!("/admin/articles/{metro}/move"), &[("to", "lead")])
        .await;
    assert_eq!(lead.status(), 303);
    admin
        .post(&format!("/admin/articles/{summit}/move"), &[("to", "down")])
        .await;
    let wanted = ["metro line", "signs the budget", "Turkic summit"];
    let page = admin.get("/admin/articles").await.text().await.unwrap();
    assert!(in_order(&page, &wanted), "{page}");

    // Nonsense and stories that are not waiting change nothing.
    let bad = admin
        .post(
            &format!("/admin/articles/{budget}/move"),
            &[("to", "sideways")],
        )
        .await;
    assert_eq!(bad.status(), 400);
    let missing = admin
        .post("/admin/articles/999999/move", &[("to", "up")])
        .await;
    assert_eq!(missing.status(), 404);
    // A story arriving later follows the placed ones, however new.
    let late = app
        .api_post(
            "/api/articles",
            &serde_json::json!({
                "title": "Late story",
                "url": "https://news.example/late",
                "published_at": "2026-11-29T09:00:00Z",
            }),
        )
        .await;
    assert_eq!(late.status(), 201);
    let wanted = [wanted[0], wanted[1], wanted[2], "Late story"];

    // The preview is an admin page framing the mail, which only our pages may frame.
    let framing = admin
        .get("/admin/digests/preview")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        framing.contains(r#"aria-label="Admin sections""#)
            && framing
                .contains(r#"<iframe class="mail-preview" src="/admin/digests/preview/mail""#),
        "{framing}"
    );
    let preview = admin.get("/admin/digests/preview/mail").await;
    let csp = preview.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    let preview = preview.text().await.unwrap();
    assert!(in_order(&preview, &wanted), "{preview}");
    app.import_confirmed(&["reader@example.org"]).await;
    let digest = app.send_digest_and_wait().await;
    let mail = app
        .wait_for_mail_to("reader@example.org", 1)
        .await
        .remove(0);
    assert!(in_order(&mail.text_body(), &wanted), "{}", mail.text_body());
    let id = digest["id"].as_i64().unwrap();
    let archived = app
        .get(&format!("/archive/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(in_order(&archived, &wanted), "{archived}");
}

#[tokio::test]
async fn an_article_added_by_hand_shows_when_it_was_added() {
    let app = spawn_app().await;
    let admin = Admin::log_in(&app).await;
    admin
        .post(
            "/admin/articles",
            &[("title", "Keep me"), ("url", "https://news.example/keep")],
        )
        .await;
    let page = admin.get("/admin/articles").await.text().await.unwrap();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let row = &page[page.find("Keep me").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(&today), "{row}");
}

#[tokio::test]
async fn the_admin_pages_write_dates_and_times_in_the_time_zone() {
    let app = spawn_app_with(&[("TIMEZONE", "Asia/Almaty")]).await;
    let admin = Admin::log_in(&app).await;
    let response = app
        .api_post(
            "/api/articles",
            &serde_json::json!({
                "title": "Late-night session of the Mazhilis",
                "url": "https://news.example/mazhilis",
                "published_at": "2026-11-29T20:30:00Z",
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let page = admin.get("/admin/articles").await.text().await.unwrap();
    let row = &page[page.find("Late-night session").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("2026-11-30"),
        "20:30 UTC is the next day in Almaty: {row}"
    );

    app.import_confirmed(&["reader@example.org"]).await;
    let digest = app.send_digest_and_wait().await;
    let page = admin
        .get(&format!("/admin/digests/{}", digest["id"]))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Asia/Almaty"), "{page}");
}
