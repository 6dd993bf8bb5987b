//! `TEMPLATES_DIR`: overrides by name, a broken one refused at start with its file and
//! line, an edit while running picked up (or, broken, refused with the admin told), and
//! the admin's list of templates with previews of each mail.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::admin_pages::Admin;
use crate::support::{TestApp, Workspace, spawn_app_with};

const BUILT_IN_DIGEST: &str = include_str!("../../email_templates/digest.html");

/// The built-in digest with `edition` written under the masthead's date.
fn digest_with_edition(edition: &str) -> String {
    let changed = BUILT_IN_DIGEST.replace(
        "<p class=\"date\">{{ date }}</p>",
        &format!("<p class=\"date\">{edition} · {{{{ date }}}}</p>"),
    );
    assert_ne!(
        changed, BUILT_IN_DIGEST,
        "the masthead is where the test expects"
    );
    changed
}

/// A folder of templates with `email/digest.html` in it.
fn templates_dir(parent: &Path, digest: &str) -> PathBuf {
    let dir = parent.join("templates");
    std::fs::create_dir_all(dir.join("email")).unwrap();
    std::fs::write(dir.join("email/digest.html"), digest).unwrap();
    dir
}

/// The next digest's HTML, from `GET /api/digests/preview`.
async fn preview(app: &TestApp) -> String {
    let response = app.api_get("/api/digests/preview").await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Waits out the one-second pause between looks at the folder.
async fn after_the_next_look() {
    tokio::time::sleep(Duration::from_millis(1200)).await;
}

#[tokio::test]
async fn an_override_template_changes_the_digests_masthead() {
    let folder = tempfile::tempdir().unwrap();
    let dir = templates_dir(folder.path(), &digest_with_edition("Morning edition"));
    let app = spawn_app_with(&[("TEMPLATES_DIR", dir.to_str().unwrap())]).await;
    app.import_confirmed(&["aigerim@example.kz"]).await;
    app.add_article(
        "Akan Rakhmetullin Visits the UN Plaza in Almaty",
        "https://astanatimes.example/un-plaza",
    )
    .await;
    app.send_digest_and_wait().await;

    let mail = &app.smtp.messages_to("aigerim@example.kz")[0];
    let html = mail.html_body();
    assert!(html.contains("Morning edition · "), "{html}");
    assert!(
        html.contains("Akan Rakhmetullin Visits the UN Plaza"),
        "{html}"
    );
    assert!(
        !mail.text_body().contains("Morning edition"),
        "the text part is still the built-in one"
    );

    let admin = Admin::log_in(&app).await;
    let page = admin.get("/admin/templates").await.text().await.unwrap();
    let file = dir.join("email/digest.html");
    assert!(
        page.contains(&format!(
            "<td><code>email/digest.html</code></td>\n          <td>overridden by <code>{}</code>",
            file.display()
        )),
        "{page}"
    );
    assert!(
        page.contains("<td><code>email/digest.txt</code></td>\n          <td>built-in</td>"),
        "{page}"
    );
}

#[tokio::test]
async fn a_broken_template_is_refused_at_start_with_its_file_and_line() {
    let workspace = Workspace::new();
    let broken = BUILT_IN_DIGEST.replacen(
        "<title>{{ subject }}</title>",
        "<title>{{ subject </title>",
        1,
    );
    let line = 1 + broken[..broken.find("{{ subject </title>").unwrap()]
        .matches('\n')
        .count();
    let dir = templates_dir(workspace.path(), &broken);
    let run = workspace
        .newsletter_with(
            &[
                ("TEMPLATES_DIR", dir.to_str().unwrap()),
                ("BIND_ADDR", "127.0.0.1:0"),
            ],
            &["serve"],
        )
        .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let file = dir.join("email/digest.html");
    assert!(
        run.stderr.contains(&format!(
            "`{}` line {line}: the template does not parse",
            file.display()
        )),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_template_that_needs_a_variable_no_mail_has_is_refused_at_start() {
    let workspace = Workspace::new();
    let dir = templates_dir(
        workspace.path(),
        &BUILT_IN_DIGEST.replace("{{ date }}", "{{ edition_number }}"),
    );
    let run = workspace
        .newsletter_with(
            &[("TEMPLATES_DIR", dir.to_str().unwrap())],
            &["send-digest"],
        )
        .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "the template `{}` cannot be rendered with sample data",
            dir.join("email/digest.html").display()
        )) && run.stderr.contains("edition_number"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_page_template_is_overridden_and_one_with_an_unknown_variable_is_refused() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("signup.html");
    std::fs::write(
        &page,
        "{% extends \"base.html\" %}\n{% block content %}<h1>Қош келдіңіз — welcome to {{ newsletter_name }}</h1>\n\
         <form method=\"post\" action=\"/subscriptions\"><input name=\"email\" value=\"{{ email }}\"></form>{% endblock content %}\n",
    )
    .unwrap();
    let app = spawn_app_with(&[("TEMPLATES_DIR", dir.to_str().unwrap())]).await;
    let shown = app.get("/").await.text().await.unwrap();
    assert!(
        shown.contains("<h1>Қош келдіңіз — welcome to The Astana Times</h1>"),
        "{shown}"
    );

    let workspace = Workspace::new();
    std::fs::write(
        &page,
        "{% extends \"base.html\" %}\n{% block content %}{{ motto }}{% endblock content %}\n",
    )
    .unwrap();
    let run = workspace
        .newsletter_with(
            &[("TEMPLATES_DIR", dir.to_str().unwrap())],
            &["send-digest"],
        )
        .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "the template `{}` cannot be rendered with sample data",
            page.display()
        )) && run.stderr.contains("Variable `motto` not found"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_templates_dir_that_is_not_a_folder_refuses_the_start() {
    let workspace = Workspace::new();
    let run = workspace
        .newsletter_with(&[("TEMPLATES_DIR", "no-such-folder")], &["send-digest"])
        .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("TEMPLATES_DIR `no-such-folder` is not a folder"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn an_edit_while_running_is_used_and_a_broken_one_keeps_the_old_template_and_tells_the_admin()
{
    let folder = tempfile::tempdir().unwrap();
    let dir = templates_dir(folder.path(), &digest_with_edition("Morning edition"));
    let file = dir.join("email/digest.html");
    let app = spawn_app_with(&[("TEMPLATES_DIR", dir.to_str().unwrap())]).await;
    app.add_article("Steppe Eagles Return", "https://astanatimes.example/eagles")
        .await;
    assert!(preview(&app).await.contains("Morning edition · "));

    std::fs::write(&file, digest_with_edition("Evening edition")).unwrap();
    after_the_next_look().await;
    let html = preview(&app).await;
    assert!(html.contains("Evening edition · "), "{html}");

    std::fs::write(&file, "<p>{% if %}</p>\n").unwrap();
    after_the_next_look().await;
    let html = preview(&app).await;
    assert!(
        html.contains("Evening edition · "),
        "the last good template stays in use: {html}"
    );
    let admin = Admin::log_in(&app).await;
    let dashboard = admin.get("/admin").await.text().await.unwrap();
    assert!(
        dashboard.contains(&format!(
            "A changed template was refused, so the ones before it stay in use: `{}` line 1: the template does not parse",
            file.display()
        )),
        "{dashboard}"
    );

    std::fs::write(&file, digest_with_edition("Late edition")).unwrap();
    after_the_next_look().await;
    assert!(preview(&app).await.contains("Late edition · "));
    let dashboard = admin.get("/admin").await.text().await.unwrap();
    assert!(
        !dashboard.contains("A changed template was refused"),
        "{dashboard}"
    );
}

#[tokio::test]
async fn the_admin_previews_each_mail_template_with_sample_data() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("templates");
    std::fs::create_dir_all(dir.join("email")).unwrap();
    std::fs::write(
        dir.join("email/confirmation.subject.txt"),
        "One click to join {{ newsletter_name }}\n",
    )
    .unwrap();
    let app = spawn_app_with(&[("TEMPLATES_DIR", dir.to_str().unwrap())]).await;
    let admin = Admin::log_in(&app).await;

    let page = admin.get("/admin/templates").await.text().await.unwrap();
    assert!(
        page.contains("<strong>One click to join The Astana Times</strong>"),
        "{page}"
    );
    assert!(
        page.contains("Almaty Metro Extension Opens to “Record” Crowds"),
        "the digest's text version with the sample articles: {page}"
    );
    assert!(
        page.contains("<iframe class=\"mail-preview\" src=\"/admin/templates/preview/digest\""),
        "{page}"
    );

    let html = admin.get("/admin/templates/preview/digest").await;
    assert_eq!(html.status(), 200);
    assert_eq!(
        html.headers()["x-frame-options"],
        "SAMEORIGIN",
        "only our own pages may frame it"
    );
    let html = html.text().await.unwrap();
    assert!(
        html.contains("Guterres’s Visit: What to Expect in Astana"),
        "{html}"
    );
    assert!(html.contains("By Aigerim Seisembayeva"), "{html}");
    let confirmation = admin
        .get("/admin/templates/preview/confirmation")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        confirmation.contains("Confirm my subscription"),
        "{confirmation}"
    );

    assert_eq!(
        admin.get("/admin/templates/preview/welcome").await.status(),
        404
    );
    assert_eq!(
        app.get("/admin/templates").await.status(),
        303,
        "without a session the page sends to the login"
    );
}

const BUILT_IN_DIGEST_TEXT: &str = include_str!("../../email_templates/digest.txt");
const BUILT_IN_CONFIRMATION_TEXT: &str = include_str!("../../email_templates/confirmation.txt");
const BUILT_IN_CONFIRMATION: &str = include_str!("../../email_templates/confirmation.html");

/// A folder of templates holding `files` (name, content) under their names.
fn templates_with(parent: &Path, files: &[(&str, &str)]) -> PathBuf {
    let dir = parent.join("templates");
    for (name, content) in files {
        let file = dir.join(name);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    dir
}

/// `text` with `from` replaced, which must be there.
fn changed(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the template has `{from}`");
    text.replace(from, to)
}

/// Starts the binary with the override `name` = `content` and returns why it refused
/// the start, after checking that it did and that the sentence names the file.
async fn refused_at_start(name: &str, content: &str) -> String {
    let workspace = Workspace::new();
    let dir = templates_with(workspace.path(), &[(name, content)]);
    let run = workspace
        .newsletter_with(
            &[("TEMPLATES_DIR", dir.to_str().unwrap())],
            &["send-digest"],
        )
        .await;
    assert_eq!(run.code, Some(1), "{name} is refused: {}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("the template `{}`", dir.join(name).display())),
        "the refusal names the file: {}",
        run.stderr
    );
    run.stderr
}

#[tokio::test]
async fn a_digest_subject_that_uses_the_subject_itself_is_refused_at_start() {
    let stderr = refused_at_start(
        "email/digest.subject.txt",
        "{{ newsletter_name }}: {{ subject }}\n",
    )
    .await;
    assert!(
        stderr.contains("cannot be rendered with sample data")
            && stderr.contains("Variable `subject` not found"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_confirmation_mail_using_a_subject_it_is_not_given_is_refused_at_start() {
    let html = changed(
        BUILT_IN_CONFIRMATION,
        "<head>",
        "<head>\n<title>{{ subject }}</title>",
    );
    let stderr = refused_at_start("email/confirmation.html", &html).await;
    assert!(stderr.contains("Variable `subject` not found"), "{stderr}");
}

#[tokio::test]
async fn a_digest_subject_override_is_what_readers_get_and_the_bodies_see() {
    let folder = tempfile::tempdir().unwrap();
    let dir = templates_with(
        folder.path(),
        &[
            (
                "email/digest.subject.txt",
                "  Morning brief: {{ lead }}{% if more %} (+{{ more }}){% endif %}\n",
            ),
            (
                "email/digest.txt",
                &changed(
                    BUILT_IN_DIGEST_TEXT,
                    "{{ newsletter_name }} — {{ date }}",
                    "«{{ subject }}»",
                ),
            ),
        ],
    );
    let app = spawn_app_with(&[("TEMPLATES_DIR", dir.to_str().unwrap())]).await;
    app.import_confirmed(&["aigerim@example.kz"]).await;
    app.add_article(
        "Guterres’s Visit: What to Expect in Astana",
        "https://astanatimes.example/guterres-visit",
    )
    .await;
    app.send_digest_and_wait().await;

    let mail = &app.smtp.messages_to("aigerim@example.kz")[0];
    assert_eq!(
        mail.parsed().subject(),
        Some("Morning brief: Guterres’s Visit: What to Expect in Astana")
    );
    assert!(
        mail.text_body()
            .starts_with("«Morning brief: Guterres’s Visit: What to Expect in Astana»"),
        "{}",
        mail.text_body()
    );
}

#[tokio::test]
async fn a_digest_without_the_unsubscribe_link_is_refused_at_start() {
    let html = changed(
        BUILT_IN_DIGEST,
        "<!--reader--><p>{{ t(key=\"digest-why\", lang=lang, newsletter=newsletter_name) }} <a href=\"{{ unsubscribe_url }}\">{{ t(key=\"digest-unsubscribe\", lang=lang) }}</a> {{ t(key=\"digest-unsubscribe-after\", lang=lang) }}</p><!--/reader-->",
        "<p>Thanks for reading {{ newsletter_name }}.</p>",
    );
    let stderr = refused_at_start("email/digest.html", &html).await;
    assert!(
        stderr.contains(
            "has no `{{ unsubscribe_url }}`: every digest must carry the reader's unsubscribe link"
        ),
        "{stderr}"
    );

    let text = changed(
        BUILT_IN_DIGEST_TEXT,
        "{{ t(key=\"digest-unsubscribe-text\", lang=lang) }}: {{ unsubscribe_url }}",
        "Reply to this mail to stop it.",
    );
    let stderr = refused_at_start("email/digest.txt", &text).await;
    assert!(
        stderr.contains("has no `{{ unsubscribe_url }}`"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_digest_without_the_stories_listed_under_more_stories_is_refused_at_start() {
    // An override from before "More stories": a digest too big for Gmail would lose the
    // stories it lists there.
    let html = changed(
        BUILT_IN_DIGEST,
        "<li><a href=\"{{ story.url }}\">{{ story.title }}</a></li>",
        "<li>{{ story.title }}</li>",
    );
    let stderr = refused_at_start("email/digest.html", &html).await;
    assert!(stderr.contains("does not show `more_stories`"), "{stderr}");
    let text = changed(BUILT_IN_DIGEST_TEXT, "  {{ story.url }}\n", "");
    let stderr = refused_at_start("email/digest.txt", &text).await;
    assert!(stderr.contains("does not show `more_stories`"), "{stderr}");
}

#[tokio::test]
async fn a_digest_whose_list_of_links_would_pass_gmails_clip_leaves_the_rest_for_the_next() {
    // Each listed story made heavy (a comment of its title, twelve times), so that even
    // as links 150 stories pass the limit: the last ones wait, none is lost.
    let heavy = changed(
        BUILT_IN_DIGEST,
        "<li><a href=\"{{ story.url }}\">{{ story.title }}</a></li>",
        "<li><a href=\"{{ story.url }}\">{{ story.title }}</a><!--{% for i in range(end=12) %} {{ story.title }}{% endfor %}--></li>",
    );
    let folder = tempfile::tempdir().unwrap();
    let dir = templates_dir(folder.path(), &heavy);
    let app = spawn_app_with(&[("TEMPLATES_DIR", dir.to_str().unwrap())]).await;
    app.import_confirmed(&["reader@example.kz"]).await;
    let articles = crate::support::news::articles(150);
    for article in &articles {
        assert_eq!(app.api_post("/api/articles", article).await.status(), 201);
    }
    // Digests until nothing waits: each takes what fits, the rest wait their turn.
    let mut taken = Vec::new();
    loop {
        let response = app.send_digest_now().await;
        if response.status() == 409 {
            break;
        }
        let created: serde_json::Value = response.json().await.unwrap();
        taken.push(created["articles"].as_i64().unwrap());
        app.wait_for_digest(created["id"].as_i64().unwrap()).await;
        assert!(taken.len() < 10, "{taken:?}");
    }
    assert!(
        taken.len() > 1 && taken.iter().sum::<i64>() == 150,
        "{taken:?}"
    );
    let mails = app.wait_for_mail_to("reader@example.kz", taken.len()).await;
    // Each story went out once, in order: the first ones in the first digest, and so on.
    let mut went_out_in = Vec::new();
    for (i, article) in articles.iter().enumerate() {
        let link = format!("href=\"{}\"", article["url"].as_str().unwrap());
        let digests: Vec<usize> = (0..mails.len())
            .filter(|&n| mails[n].html_body().contains(&link))
            .collect();
        assert_eq!(digests.len(), 1, "story {i} went out in {digests:?}");
        went_out_in.push(digests[0]);
    }
    assert!(went_out_in.is_sorted(), "{went_out_in:?}");
    for mail in &mails {
        assert!(mail.html_body().len() <= 102 * 1024);
    }
}

#[tokio::test]
async fn a_digest_html_without_the_markers_the_archive_cuts_at_is_refused_at_start() {
    let no_reader_part = BUILT_IN_DIGEST
        .replace("<!--reader-->", "")
        .replace("<!--/reader-->", "");
    let stderr = refused_at_start("email/digest.html", &no_reader_part).await;
    assert!(
        stderr.contains(
            "shows `{{ unsubscribe_url }}` outside `<!--reader-->` … `<!--/reader-->`: the public archive would show the link"
        ),
        "{stderr}"
    );

    let no_mail_only_part = BUILT_IN_DIGEST
        .replace("<!--mail-only-->", "")
        .replace("<!--/mail-only-->", "");
    let stderr = refused_at_start("email/digest.html", &no_mail_only_part).await;
    assert!(
        stderr
            .contains("shows `{{ archive_url }}` outside `<!--mail-only-->` … `<!--/mail-only-->`"),
        "{stderr}"
    );

    let unclosed = changed(BUILT_IN_DIGEST, "<!--/reader-->", "");
    let stderr = refused_at_start("email/digest.html", &unclosed).await;
    assert!(
        stderr.contains("has a `<!--reader-->` without its `<!--/reader-->`"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_confirmation_mail_without_its_confirm_link_is_refused_at_start() {
    let text = changed(
        BUILT_IN_CONFIRMATION_TEXT,
        "{{ confirm_url }}",
        "{{ base_url }}/",
    );
    let stderr = refused_at_start("email/confirmation.txt", &text).await;
    assert!(
        stderr.contains("has no `{{ confirm_url }}`: the reader could not confirm"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_archive_page_is_checked_with_a_digest_as_the_archive_lists_it() {
    let listing = |field: &str| {
        format!(
            "{{% extends \"base.html\" %}}\n{{% block content %}}<ul>{{% for digest in digests %}}\
             <li>{{{{ digest.subject }}}} · {{{{ digest.{field} }}}}</li>{{% endfor %}}</ul>{{% endblock content %}}\n"
        )
    };
    let stderr = refused_at_start("archive.html", &listing("sent_on")).await;
    assert!(
        stderr.contains("cannot be rendered with sample data") && stderr.contains("digest.sent_on"),
        "{stderr}"
    );

    // The fields the sample has are the ones the real list has.
    let folder = tempfile::tempdir().unwrap();
    let dir = templates_with(
        folder.path(),
        &[(
            "archive.html",
            &listing(
                "created_at | local_date }} · {{ digest.status }} to {{ digest.recipient_count",
            ),
        )],
    );
    let app = spawn_app_with(&[("TEMPLATES_DIR", dir.to_str().unwrap())]).await;
    app.import_confirmed(&["aigerim@example.kz"]).await;
    app.add_article(
        "Almaty Metro Extension Opens to “Record” Crowds",
        "https://astanatimes.example/almaty-metro",
    )
    .await;
    app.send_digest_and_wait().await;
    let page = app.get("/archive").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Almaty Metro Extension Opens to “Record” Crowds")
            && page.contains(" · sent to 1</li>"),
        "{page}"
    );
}
