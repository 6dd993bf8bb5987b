//! Managing several newsletters (issue 11), the admin's side and the reader's way back
//! to their preferences: the newsletters API, the admin pages, imports that name
//! newsletters, and the preferences link by mail.

use serde_json::{Value, json};

use crate::support::app::TestApp;

async fn newsletters(app: &TestApp) -> Vec<Value> {
    let list: Value = app.api_get("/api/newsletters").await.json().await.unwrap();
    list["newsletters"].as_array().expect("a list").clone()
}

/// Creates a newsletter through the API; returns what it answered.
async fn create(app: &TestApp, body: Value) -> Value {
    let response = app.api_post("/api/newsletters", &body).await;
    assert_eq!(response.status(), 201, "{body}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_newsletter_created_through_the_api_is_listed_and_offered_on_the_form() {
    let app = crate::support::spawn_app().await;
    let response = app
        .api_post(
            "/api/newsletters",
            &json!({
                "slug": "business",
                "name": "Business Weekly",
                "description": "Markets, money and the people behind them.",
                "schedule": "0 0 8 * * Mon",
                "sections": [" Business ", "ECONOMY", "business"],
                "preselected": true,
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["location"], "/api/newsletters/business");
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["slug"], "business");
    assert_eq!(created["name"], "Business Weekly");
    assert_eq!(created["schedule"], "0 0 8 * * Mon");
    assert_eq!(created["sections"], json!(["business", "economy"]));
    assert_eq!(created["public"], true, "public unless said otherwise");
    assert_eq!(created["preselected"], true);
    assert_eq!(created["archived"], false);
    assert_eq!(created["default"], false);

    let all = newsletters(&app).await;
    assert_eq!(
        all.iter().map(|n| n["slug"].clone()).collect::<Vec<_>>(),
        [json!("digest"), json!("business")]
    );
    let fetched: Value = app
        .api_get("/api/newsletters/business")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);
    let form = app.get("/").await.text().await.unwrap();
    assert!(form.contains("Business Weekly"), "{form}");
    assert!(form.contains("Markets, money and the people behind them."));

    // Without a schedule, a newsletter is sent by hand only.
    let manual = create(&app, json!({"slug": "culture", "name": "Culture"})).await;
    assert_eq!(manual["schedule"], Value::Null);
    assert_eq!(manual["sections"], json!([]));
    assert_eq!(manual["preselected"], false);
}

#[tokio::test]
async fn a_bad_newsletter_is_refused_naming_each_field_and_nothing_is_stored() {
    let app = crate::support::spawn_app().await;
    for (body, fields) in [
        (json!({}), vec!["name", "slug"]),
        (
            json!({"slug": "Business News", "name": "Business"}),
            vec!["slug"],
        ),
        (
            json!({"slug": "a".repeat(65), "name": "Long"}),
            vec!["slug"],
        ),
        (
            json!({"slug": "long-name", "name": "n".repeat(201)}),
            vec!["name"],
        ),
        (
            json!({"slug": "two-lines", "name": "Two", "description": "one\ntwo"}),
            vec!["description"],
        ),
        (
            json!({"slug": "long-description", "name": "Long", "description": "d".repeat(301)}),
            vec!["description"],
        ),
        (
            json!({"slug": "bad-cron", "name": "Bad", "schedule": "at seven"}),
            vec!["schedule"],
        ),
        (
            json!({"slug": "five-fields", "name": "Five", "schedule": "0 7 * * *"}),
            vec!["schedule"],
        ),
        (
            json!({"slug": "blank-section", "name": "Blank", "sections": ["business", "  "]}),
            vec!["sections"],
        ),
    ] {
        let response = app.api_post("/api/newsletters", &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        let named: Vec<&str> = error["fields"]
            .as_object()
            .expect("fields")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(named, fields, "{error}");
    }
    // Not JSON of the right shape: 400 too.
    let wrong_type = app
        .api_post(
            "/api/newsletters",
            &json!({"slug": "x", "name": "X", "public": "yes"}),
        )
        .await;
    assert_eq!(wrong_type.status(), 400);
    let unknown_field = app
        .api_post(
            "/api/newsletters",
            &json!({"slug": "x", "name": "X", "colour": "red"}),
        )
        .await;
    assert_eq!(unknown_field.status(), 400);
    assert_eq!(newsletters(&app).await.len(), 1);
}

#[tokio::test]
async fn a_taken_slug_is_a_conflict_even_when_its_newsletter_is_archived() {
    let app = crate::support::spawn_app().await;
    let taken = app
        .api_post(
            "/api/newsletters",
            &json!({"slug": "digest", "name": "Another"}),
        )
        .await;
    assert_eq!(taken.status(), 409);
    create(&app, json!({"slug": "business", "name": "Business"})).await;
    assert_eq!(
        app.api_delete("/api/newsletters/business").await.status(),
        200
    );
    let again = app
        .api_post(
            "/api/newsletters",
            &json!({"slug": "business", "name": "Business again"}),
        )
        .await;
    assert_eq!(again.status(), 409);
    let error: Value = again.json().await.unwrap();
    assert!(error["error"].as_str().unwrap().contains("slug"), "{error}");
    assert_eq!(newsletters(&app).await.len(), 2);
}

#[tokio::test]
async fn a_patch_changes_only_the_fields_it_names_with_the_same_checks() {
    let app = crate::support::spawn_app().await;
    create(
        &app,
        json!({"slug": "business", "name": "Business", "description": "Money.", "sections": ["business"]}),
    )
    .await;
    let response = app
        .api_patch(
            "/api/newsletters/business",
            &json!({"name": "Business Weekly", "schedule": "0 0 8 * * Mon", "public": false}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["name"], "Business Weekly");
    assert_eq!(changed["schedule"], "0 0 8 * * Mon");
    assert_eq!(changed["public"], false);
    assert_eq!(changed["description"], "Money.", "left as it was");
    assert_eq!(changed["sections"], json!(["business"]), "left as it was");

    // A bad field changes nothing, not even the good ones beside it.
    let bad = app
        .api_patch(
            "/api/newsletters/business",
            &json!({"name": "Renamed", "schedule": "never"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let error: Value = bad.json().await.unwrap();
    assert!(error["fields"]["schedule"].is_string(), "{error}");
    let now: Value = app
        .api_get("/api/newsletters/business")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now, changed);

    // A new slug moves it; the old one is gone.
    let moved = app
        .api_patch(
            "/api/newsletters/business",
            &json!({"slug": "money", "schedule": ""}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["slug"], "money");
    assert_eq!(moved["schedule"], Value::Null, "manual sends only");
    assert_eq!(app.api_get("/api/newsletters/business").await.status(), 404);
    assert_eq!(
        app.api_patch("/api/newsletters/money", &json!({"slug": "digest"}))
            .await
            .status(),
        409
    );
    assert_eq!(
        app.api_patch("/api/newsletters/nonesuch", &json!({"name": "X"}))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_default_newsletter_keeps_its_slug_and_follows_the_settings_until_changed() {
    let app = crate::support::spawn_app().await;
    let refused = app
        .api_patch("/api/newsletters/digest", &json!({"slug": "daily"}))
        .await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert!(error["fields"]["slug"].is_string(), "{error}");
    // The same slug is no change.
    let renamed = app
        .api_patch(
            "/api/newsletters/digest",
            &json!({"slug": "digest", "name": "The Morning Briefing", "description": "Every morning."}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!(renamed["name"], "The Morning Briefing");
    assert_eq!(renamed["schedule"], "0 0 7 * * *", "still DIGEST_CRON");
    assert_eq!(renamed["default"], true);
}

#[tokio::test]
async fn archiving_keeps_the_history_stops_offering_and_the_last_newsletter_stays() {
    let app = crate::support::spawn_app().await;
    // The only newsletter cannot be archived: there would be nothing to offer.
    let last = app.api_delete("/api/newsletters/digest").await;
    assert_eq!(last.status(), 409);
    assert_eq!(newsletters(&app).await[0]["archived"], false);

    create(&app, json!({"slug": "business", "name": "Business Weekly"})).await;
    app.post_subscriptions("email=dana%40example.kz&newsletter=digest&newsletter=business")
        .await;
    let mail = app.wait_for_mail_to("dana@example.kz", 1).await;
    app.post_empty(&app.confirmation_link(&mail[0])).await;

    let archived = app.api_delete("/api/newsletters/business").await;
    assert_eq!(archived.status(), 200);
    let archived: Value = archived.json().await.unwrap();
    assert_eq!(archived["archived"], true);
    assert_eq!(
        app.api_delete("/api/newsletters/business").await.status(),
        409,
        "archived already"
    );
    assert_eq!(
        app.api_delete("/api/newsletters/nonesuch").await.status(),
        404
    );
    // Still listed, with its readers' history; no longer on the form.
    let all = newsletters(&app).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["archived"], true);
    let readers: Value = app
        .api_get("/api/subscribers?newsletter=business")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(readers["total"], 1, "{readers}");
    let form = app.get("/").await.text().await.unwrap();
    assert!(!form.contains("Business Weekly"), "{form}");
    let refused = app
        .post_subscriptions("email=erlan%40example.kz&newsletter=business")
        .await;
    assert_eq!(refused.status(), 400);
    // Now the default is the last one sent again.
    assert_eq!(
        app.api_delete("/api/newsletters/digest").await.status(),
        409
    );
}

#[tokio::test]
async fn changing_newsletters_needs_the_admin_token() {
    let app = crate::support::spawn_app().await;
    let client = reqwest::Client::new();
    let post = client
        .post(app.url("/api/newsletters"))
        .json(&json!({"slug": "business", "name": "Business"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 401);
    let patch = client
        .patch(app.url("/api/newsletters/digest"))
        .json(&json!({"name": "Mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 401);
    let delete = client
        .delete(app.url("/api/newsletters/digest"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 401);
    assert_eq!(newsletters(&app).await.len(), 1);
    assert_eq!(newsletters(&app).await[0]["name"], "The Astana Times");
}

/// `POST /preferences` without a token: asks for the link by mail.
async fn ask_for_link(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_form(
        "/preferences",
        format!("email={}", email.replace('@', "%40")),
        &[],
    )
    .await
}

#[tokio::test]
async fn the_preferences_page_without_a_token_mails_a_working_link_to_a_known_reader_only() {
    let app = crate::support::spawn_app().await;
    let form = app.get("/preferences").await;
    assert_eq!(form.status(), 200);
    let form = form.text().await.unwrap();
    assert!(
        form.contains("Email me a link to manage my subscription"),
        "{form}"
    );
    let id = app
        .confirmed_subscriber("aigerim@example.kz", "Aigerim")
        .await;
    let before = app.smtp.messages_to("aigerim@example.kz").len();
    app.import_confirmed(&["left@example.kz"]).await;
    let left = app.subscriber_id("left@example.kz").await;
    app.post_empty(&app.unsubscribe_link(left)).await;
    let pending = app.sign_up("pending@example.kz", "").await;
    assert_eq!(pending.status(), 200);
    app.drain_queues().await;
    let pending_before = app.smtp.messages_to("pending@example.kz").len();

    // The same answer for a reader, a stranger, a leaver and a pending address.
    let known = ask_for_link(&app, "aigerim@example.kz").await;
    assert_eq!(known.status(), 200);
    let known = known.text().await.unwrap();
    for other in ["nobody@example.kz", "left@example.kz", "pending@example.kz"] {
        let answer = ask_for_link(&app, other).await;
        assert_eq!(answer.status(), 200, "{other}");
        let local = other.split('@').next().unwrap();
        assert_eq!(
            answer.text().await.unwrap().replace(local, "X"),
            known.replace("aigerim", "X"),
            "no enumeration"
        );
    }
    app.drain_queues().await;
    assert!(app.smtp.messages_to("nobody@example.kz").is_empty());
    assert!(app.smtp.messages_to("left@example.kz").is_empty());
    assert_eq!(
        app.smtp.messages_to("pending@example.kz").len(),
        pending_before,
        "a pending address gets its confirmation, not a preferences link"
    );

    let mails = app.wait_for_mail_to("aigerim@example.kz", before + 1).await;
    assert_eq!(mails.len(), before + 1);
    let mail = &mails[before];
    let text = mail.text_body();
    let link = crate::support::link_in(&text, "http");
    assert!(link.contains("/preferences?token="), "{text}");
    assert!(
        mail.html_body().contains(&link.replace('&', "&amp;")),
        "the HTML part carries it too"
    );
    assert!(
        !text.contains("Aigerim"),
        "no name in a mail anyone can ask for"
    );
    // The link is the one the preferences page accepts: the reader's page, in the
    // language of the mail.
    assert_eq!(link, format!("{}&lang=en", app.state.preferences_url(id)));
    let page = app.get(&link).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("aigerim@example.kz"));
}

#[tokio::test]
async fn asking_for_a_preferences_link_is_checked_rate_limited_and_capped_per_address() {
    let app = crate::support::spawn_app_with(&[("CONFIRM_MAILS_PER_ADDRESS_PER_DAY", "2")]).await;
    app.import_confirmed(&["dana@example.kz"]).await;
    let bad = ask_for_link(&app, "not an address").await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("email-error"));
    // The per-address cap counts these mails with the confirmations: two today.
    for _ in 0..3 {
        assert_eq!(ask_for_link(&app, "dana@example.kz").await.status(), 200);
    }
    app.drain_queues().await;
    assert_eq!(app.smtp.messages_to("dana@example.kz").len(), 2);
    let signup = app.sign_up("dana@example.kz", "").await;
    assert_eq!(signup.status(), 429, "the cap is shared with sign-ups");

    // The sign-up form's limiter, per network.
    let limited = crate::support::spawn_app_with(&[("SIGNUP_RATE_PER_MINUTE", "2")]).await;
    let statuses = [
        limited
            .sign_up("one@example.kz", "")
            .await
            .status()
            .as_u16(),
        ask_for_link(&limited, "two@example.kz")
            .await
            .status()
            .as_u16(),
        ask_for_link(&limited, "three@example.kz")
            .await
            .status()
            .as_u16(),
    ];
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn additions_of_a_confirmed_reader_count_toward_the_daily_cap() {
    let app = crate::support::spawn_app_with(&[("CONFIRM_MAILS_PER_ADDRESS_PER_DAY", "2")]).await;
    create(&app, json!({"slug": "business", "name": "Business Weekly"})).await;
    create(&app, json!({"slug": "culture", "name": "Culture"})).await;
    app.import_confirmed(&["aigerim@example.kz"]).await;
    let statuses = [
        app.post_subscriptions("email=aigerim%40example.kz&newsletter=business")
            .await
            .status()
            .as_u16(),
        app.post_subscriptions("email=aigerim%40example.kz&newsletter=culture")
            .await
            .status()
            .as_u16(),
        app.post_subscriptions("email=aigerim%40example.kz&newsletter=culture")
            .await
            .status()
            .as_u16(),
    ];
    assert_eq!(statuses, [200, 200, 429]);
    app.drain_queues().await;
    assert_eq!(app.smtp.messages_to("aigerim@example.kz").len(), 2);
}

#[tokio::test]
async fn an_import_puts_new_readers_on_the_newsletters_it_names_and_refuses_an_unknown_one() {
    let workspace = crate::support::Workspace::new();
    let app = workspace.spawn_app().await;
    create(&app, json!({"slug": "business", "name": "Business Weekly"})).await;
    create(&app, json!({"slug": "culture", "name": "Culture"})).await;

    workspace.write(
        "unknown.csv",
        "email,name,newsletters\nfirst@example.kz,First,business\nsecond@example.kz,Second,business;sport\n",
    );
    let refused = workspace
        .newsletter(&["subscribers", "import", "unknown.csv"])
        .await;
    assert_ne!(refused.code, Some(0), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("line 3") && refused.stderr.contains("no newsletter `sport`"),
        "{}",
        refused.stderr
    );
    workspace.write("plain.csv", "email,name\nthird@example.kz,Third\n");
    let refused = workspace
        .newsletter(&[
            "subscribers",
            "import",
            "plain.csv",
            "--newsletter",
            "nonesuch",
        ])
        .await;
    assert_ne!(refused.code, Some(0), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("no newsletter `nonesuch`"),
        "{}",
        refused.stderr
    );
    assert_eq!(app.subscriber_count().await, 0, "nothing was imported");

    workspace.write(
        "readers.csv",
        "email,name,newsletters\nfirst@example.kz,First,business\nsecond@example.kz,Second, business ; digest\nthird@example.kz,Third,\n",
    );
    let run = workspace
        .newsletter(&[
            "subscribers",
            "import",
            "readers.csv",
            "--newsletter",
            "culture",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    workspace.write("plain.csv", "email,name\nfourth@example.kz,Fourth\n");
    let run = workspace
        .newsletter(&["subscribers", "import", "plain.csv"])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    let readers: Value = app.api_get("/api/subscribers").await.json().await.unwrap();
    let on = |i: usize| -> Vec<(String, String)> {
        readers["subscribers"][i]["newsletters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["slug"].as_str().unwrap().to_owned(),
                    n["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let confirmed = |slugs: &[&str]| -> Vec<(String, String)> {
        slugs
            .iter()
            .map(|s| (s.to_string(), "confirmed".to_owned()))
            .collect()
    };
    assert_eq!(on(0), confirmed(&["business", "culture"]), "{readers}");
    assert_eq!(on(1), confirmed(&["digest", "business", "culture"]));
    assert_eq!(on(2), confirmed(&["culture"]));
    assert_eq!(
        on(3),
        confirmed(&["digest"]),
        "no newsletter named: the default"
    );

    // The export writes the column the import reads.
    let export = workspace.newsletter(&["subscribers", "export"]).await;
    assert_eq!(export.code, Some(0), "{}", export.stderr);
    let mut lines = export.stdout.lines();
    assert!(
        lines.next().unwrap().ends_with(",newsletters"),
        "{}",
        export.stdout
    );
    assert!(
        lines.next().unwrap().ends_with(",business;culture"),
        "{}",
        export.stdout
    );
    assert!(
        lines.next().unwrap().ends_with(",digest;business;culture"),
        "{}",
        export.stdout
    );
}

#[tokio::test]
async fn the_admin_newsletters_page_lists_creates_edits_and_archives_with_errors_beside_fields() {
    let app = crate::support::spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    let admin = crate::admin_pages::Admin::log_in(&app).await;
    let dashboard = admin.get("/admin").await.text().await.unwrap();
    assert!(
        dashboard.contains(r#"href="/admin/newsletters""#),
        "linked from the nav"
    );
    assert!(
        !dashboard.contains("by-newsletter"),
        "with one newsletter the dashboard looks as before"
    );

    let page = admin.get("/admin/newsletters").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"id="newsletter-digest""#), "{page}");
    assert!(
        page.contains(r#"<span class="confirmed-count">1</span>"#),
        "{page}"
    );
    assert!(page.contains("<code>0 0 7 * * *</code>"), "DIGEST_CRON");
    assert!(page.contains("next: "), "its next run");

    // Without the CSRF token: refused, nothing made.
    let forged = admin
        .post_raw(
            "/admin/newsletters",
            &[("slug", "forged"), ("name", "Forged")],
        )
        .await;
    assert_eq!(forged.status(), 403);

    // Bad fields: 400, the form again with each error beside its field and the input kept.
    let refused = admin
        .post(
            "/admin/newsletters",
            &[
                ("slug", "Bad Slug"),
                ("name", "<b>Culture</b>"),
                ("schedule", "daily"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains(r#"id="slug-error""#), "{refused}");
    assert!(refused.contains(r#"id="schedule-error""#), "{refused}");
    assert!(!refused.contains(r#"id="name-error""#), "{refused}");
    assert!(
        refused.contains(r#"value="&lt;b&gt;Culture&lt;/b&gt;""#),
        "kept, escaped: {refused}"
    );
    assert_eq!(newsletters(&app).await.len(), 1);

    let created = admin
        .post(
            "/admin/newsletters",
            &[
                ("slug", "culture"),
                ("name", "Culture & Arts"),
                ("description", "Theatre, film and books."),
                ("schedule", "0 0 18 * * Fri"),
                ("sections", "Culture, Books"),
                ("public", "on"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let after = admin.get(&location).await.text().await.unwrap();
    assert!(after.contains("The newsletter was created."), "{after}");
    assert!(after.contains(r#"id="newsletter-culture""#));
    assert!(after.contains("books"), "its sections");
    let culture: Value = app
        .api_get("/api/newsletters/culture")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(culture["name"], "Culture & Arts");
    assert_eq!(culture["sections"], json!(["culture", "books"]));
    assert_eq!(culture["public"], true);
    assert_eq!(culture["preselected"], false, "unticked");
    let taken = admin
        .post(
            "/admin/newsletters",
            &[("slug", "culture"), ("name", "Again")],
        )
        .await;
    assert_eq!(taken.status(), 409);
    assert!(taken.text().await.unwrap().contains(r#"id="slug-error""#));

    // With two newsletters the dashboard shows each one's readers.
    let dashboard = admin.get("/admin").await.text().await.unwrap();
    assert!(dashboard.contains(r#"id="by-newsletter""#), "{dashboard}");
    assert!(dashboard.contains("Culture &amp; Arts"), "{dashboard}");

    // Editing the default keeps it following NEWSLETTER_NAME and DIGEST_CRON when left
    // as shown.
    let edit = admin
        .get("/admin/newsletters/digest")
        .await
        .text()
        .await
        .unwrap();
    assert!(edit.contains(r#"value="The Astana Times""#), "{edit}");
    assert!(
        edit.contains("readonly"),
        "the default's slug is fixed: {edit}"
    );
    let saved = admin
        .post(
            "/admin/newsletters/digest",
            &[
                ("slug", "digest"),
                ("name", "The Astana Times"),
                ("description", "Every morning."),
                ("schedule", "0 0 7 * * *"),
                ("sections", ""),
                ("public", "on"),
                ("preselected", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let stored = app
        .state
        .db
        .run(|conn| newsletter::db::newsletters::find(conn, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.description, "Every morning.");
    assert_eq!(stored.name, None, "still NEWSLETTER_NAME");
    assert_eq!(stored.schedule, None, "still DIGEST_CRON");
    let bad_edit = admin
        .post(
            "/admin/newsletters/culture",
            &[("slug", "culture"), ("name", ""), ("schedule", "")],
        )
        .await;
    assert_eq!(bad_edit.status(), 400);
    assert!(
        bad_edit
            .text()
            .await
            .unwrap()
            .contains(r#"id="name-error""#)
    );

    // Archiving: not offered any more; the last one still sent stays.
    let archived = admin.post("/admin/newsletters/culture/archive", &[]).await;
    assert_eq!(archived.status(), 303);
    let page = admin.get("/admin/newsletters").await.text().await.unwrap();
    assert!(page.contains("archived"), "{page}");
    let last = admin.post("/admin/newsletters/digest/archive", &[]).await;
    assert_eq!(last.status(), 409);
    assert!(
        last.text()
            .await
            .unwrap()
            .contains("only newsletter still sent")
    );
    assert_eq!(admin.get("/admin/newsletters/nonesuch").await.status(), 404);
}

#[tokio::test]
async fn the_admin_subscribers_page_filters_by_newsletter_and_shows_each_readers() {
    let app = crate::support::spawn_app().await;
    create(&app, json!({"slug": "business", "name": "Business Weekly"})).await;
    app.import_confirmed(&["only.default@example.kz"]).await;
    app.post_subscriptions("email=dana%40example.kz&newsletter=digest&newsletter=business")
        .await;
    let mail = app.wait_for_mail_to("dana@example.kz", 1).await;
    app.post_empty(&app.confirmation_link(&mail[0])).await;
    let admin = crate::admin_pages::Admin::log_in(&app).await;

    let all = admin.get("/admin/subscribers").await.text().await.unwrap();
    assert!(all.contains("only.default@example.kz") && all.contains("dana@example.kz"));
    assert!(all.contains(r#"<option value="business""#), "{all}");
    let business = admin
        .get("/admin/subscribers?newsletter=business")
        .await
        .text()
        .await
        .unwrap();
    assert!(business.contains("dana@example.kz"), "{business}");
    assert!(!business.contains("only.default@example.kz"), "{business}");
    assert!(business.contains(r#"<option value="business" selected>"#));
    assert!(business.contains(r#"class="reader-newsletters""#));
    assert!(business.contains(">business</span>"), "{business}");
}

#[tokio::test]
async fn the_queued_and_sent_one_off_mail_survives_the_migration_that_adds_preferences_links() {
    use diesel::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let database = std::sync::Arc::new(crate::support::database::TestDatabase::new(
        dir.path().join("newsletter.db"),
    ));
    let old = newsletter::db::Db::connect(database.url()).unwrap();
    old.migrate_before(if database.is_postgres() {
        "2026-11-30-000009"
    } else {
        "2026-11-30-000015"
    })
    .unwrap();
    old.run_blocking(|conn| {
        for statement in [
            "INSERT INTO subscribers (id, email, name, status, created_at, updated_at, confirmed_at) VALUES
                (1, 'aigerim@example.kz', 'Aigerim', 'confirmed', '2026-10-01 08:00:00', '2026-10-01 08:00:00', '2026-10-01 08:05:00'),
                (2, 'pending@example.kz', NULL, 'pending', '2026-10-03 08:00:00', '2026-10-03 08:00:00', NULL)",
            "INSERT INTO outgoing_emails (id, kind, subscriber_id, recipient, status, attempts, next_attempt_at, created_at, sent_at, subscriber_name) VALUES
                (7, 'confirmation', 1, 'aigerim@example.kz', 'sent', 1, '2026-10-01 08:00:00', '2026-10-01 08:00:00', '2026-10-01 08:00:05', 'Aigerim'),
                (8, 'confirmation', 2, 'pending@example.kz', 'queued', 0, '2026-10-03 08:00:00', '2026-10-03 08:00:00', NULL, NULL)",
        ] {
            diesel::sql_query(statement).execute(conn)?;
        }
        Ok(())
    })
    .unwrap();
    if database.is_postgres() {
        old.run_blocking(|conn| {
            for table in ["subscribers", "outgoing_emails"] {
                diesel::sql_query(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)"
                ))
                .execute(conn)?;
            }
            Ok(())
        })
        .unwrap();
    }
    drop(old);

    let app = crate::support::app::spawn_app_on_database(database.clone(), &[]).await;
    let rows = || async {
        app.state
            .db
            .run(|conn| {
                use newsletter::db::schema::outgoing_emails as o;
                Ok(o::table
                    .order(o::id.asc())
                    .select((o::id, o::kind, o::recipient, o::status, o::subscriber_name))
                    .load::<(i64, String, String, String, Option<String>)>(conn)?)
            })
            .await
            .unwrap()
    };
    let before = rows().await;
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(before[0].0, 7);
    assert_eq!(before[0].4.as_deref(), Some("Aigerim"));
    // The queued confirmation still goes out; a link by mail can now be asked for.
    let pending = app.wait_for_mail_to("pending@example.kz", 1).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(ask_for_link(&app, "aigerim@example.kz").await.status(), 200);
    assert_eq!(app.wait_for_mail_to("aigerim@example.kz", 1).await.len(), 1);
    let after = rows().await;
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(after[2].0 > 8, "ids go on after the old ones: {after:?}");
    assert_eq!(after[2].1, "preferences");
}

#[tokio::test]
async fn an_admin_upload_reads_the_newsletters_column_and_an_unknown_slug_imports_nothing() {
    let app = crate::support::spawn_app().await;
    create(&app, json!({"slug": "business", "name": "Business Weekly"})).await;
    let admin = crate::admin_pages::Admin::log_in(&app).await;
    let refused = admin
        .upload_csv(
            admin.csrf(),
            "email,name,newsletters\r\nfirst@example.kz,First,business\r\nsecond@example.kz,Second,sport\r\n",
        )
        .await;
    assert_eq!(refused.status(), 400);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("no newsletter `sport`"), "{refused}");
    assert_eq!(app.subscriber_count().await, 0);

    let imported = admin
        .upload_csv(
            admin.csrf(),
            "email,name,newsletters\r\nfirst@example.kz,First,business\r\n",
        )
        .await;
    assert_eq!(imported.status(), 200);
    let readers: Value = app
        .api_get("/api/subscribers?newsletter=business")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(readers["total"], 1, "{readers}");
    assert_eq!(
        readers["subscribers"][0]["newsletters"],
        json!([{"slug": "business", "status": "confirmed"}])
    );
}

#[tokio::test]
async fn the_dashboard_charts_one_newsletters_readers_when_asked() {
    let app = crate::support::spawn_app().await;
    create(&app, json!({"slug": "business", "name": "Business Weekly"})).await;
    app.import_confirmed(&["a@example.kz", "b@example.kz", "c@example.kz"])
        .await;
    app.post_subscriptions("email=dana%40example.kz&newsletter=business")
        .await;
    let mail = app.wait_for_mail_to("dana@example.kz", 1).await;
    app.post_empty(&app.confirmation_link(&mail[0])).await;
    let admin = crate::admin_pages::Admin::log_in(&app).await;

    let everyone = admin.get("/admin").await.text().await.unwrap();
    assert!(
        everyone.contains("Last 90 days: 4 sign-ups, 4 confirmations, 0 unsubscribes"),
        "{everyone}"
    );
    assert!(everyone.contains(r#"href="/admin?newsletter=business""#));
    let business = admin
        .get("/admin?newsletter=business")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        business.contains("The last 90 days: Business Weekly"),
        "{business}"
    );
    assert!(
        business.contains("Last 90 days: 1 sign-ups, 1 confirmations, 0 unsubscribes"),
        "{business}"
    );
    let id = app.subscriber_id("dana@example.kz").await;
    let everything = format!("{}&all=1", app.unsubscribe_link(id));
    assert_eq!(app.post_empty(&everything).await.status(), 200);
    let after = admin
        .get("/admin?newsletter=business")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        after.contains("Last 90 days: 1 sign-ups, 0 confirmations, 1 unsubscribes"),
        "{after}"
    );
}
