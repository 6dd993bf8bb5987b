//! The site's own look: `SITE_URL`, `SITE_LOGO_URL`, `BRAND_COLOR`, the feed's title as
//! the newsletter's name, and the public pages linking to each other in the site's colour.

use crate::support::{Workspace, spawn_app_on_database, spawn_app_with};

const SITE: &str = "https://astanatimes.example/";
const LOGO: &str = "https://cdn.astanatimes.example/logo.png";

fn site_settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SITE_URL", SITE),
        ("SITE_LOGO_URL", LOGO),
        ("BRAND_COLOR", "#C03"),
    ]
}

/// The masthead of a digest's HTML (the CSS inliner orders attributes its own way).
fn masthead_of(html: &str) -> &str {
    let start = html.find("class=\"masthead\"").expect("a masthead");
    let end = start + html[start..].find("</td>").expect("the masthead's end");
    &html[start..end]
}

#[tokio::test]
async fn the_digest_masthead_points_to_the_site_with_its_logo_and_colour() {
    let app = spawn_app_with(&site_settings()).await;
    app.import_confirmed(&["aigerim@example.kz"]).await;
    app.add_article(
        "Almaty Metro Extension Opens to “Record” Crowds",
        "https://astanatimes.example/2026/06/almaty-metro/",
    )
    .await;
    let status = app.send_digest_and_wait().await;
    assert_eq!(status["sent"], 1, "{status}");

    let mail = &app.smtp.messages_to("aigerim@example.kz")[0];
    let html = mail.html_body();
    let masthead = masthead_of(&html);
    for part in [
        format!("<a class=\"brand\" href=\"{SITE}\""),
        format!("src=\"{LOGO}\""),
        "alt=\"The Astana Times\"".to_owned(),
    ] {
        assert!(
            masthead.contains(&part),
            "the masthead links to the site and shows the logo with alt text: {part}\n{masthead}"
        );
    }
    assert!(
        html.contains("3px solid #c03"),
        "the masthead rule is in the brand colour:\n{html}"
    );
    assert!(
        html.contains(&format!("More news at <a href=\"{SITE}\"")),
        "{html}"
    );
    assert!(
        !html.contains("#0b5cad"),
        "no default blue is left:\n{html}"
    );
    let text = mail.text_body();
    assert!(
        text.lines().nth(1) == Some(SITE),
        "the text masthead names the site:\n{text}"
    );
    // Each link stands on a line of its own.
    assert!(
        text.lines()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w == ["More news:", SITE]),
        "{text}"
    );
}

#[tokio::test]
async fn the_public_pages_show_the_logo_link_to_the_site_and_colour_links_in_the_brand_colour() {
    let app = spawn_app_with(&site_settings()).await;
    let response = app.get("/").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("img-src 'self' data: https://cdn.astanatimes.example;"),
        "the logo's origin, and only it, may serve images: {csp}"
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains(&format!(
            "<a class=\"brand\" href=\"{SITE}\"><img class=\"logo\" src=\"{LOGO}\" alt=\"The Astana Times\">"
        )),
        "{page}"
    );

    let css = app.get("/static/style.css").await.text().await.unwrap();
    assert!(css.contains("--accent: #c03;"), "{css}");
    assert!(css.contains("--accent-dark: #a30028;"), "{css}");
    assert!(css.contains("a { color: var(--accent); }"), "{css}");
    assert!(
        css.contains("border-bottom: 3px solid var(--accent);"),
        "{css}"
    );
    assert!(!css.contains("#0b5cad"), "{css}");
}

#[tokio::test]
async fn without_site_settings_the_masthead_leads_to_the_sign_up_page_in_the_default_blue() {
    let app = spawn_app_with(&[]).await;
    let page = app.get("/").await.text().await.unwrap();
    assert!(
        page.contains("<a class=\"brand\" href=\"/\">The Astana Times</a>"),
        "{page}"
    );
    let css = app.get("/static/style.css").await.text().await.unwrap();
    assert!(css.contains("--accent: #0b5cad;"), "{css}");
}

#[tokio::test]
async fn a_bad_brand_colour_or_an_http_logo_refuses_the_start_with_a_sentence() {
    let workspace = Workspace::new();
    for (name, value, sentence) in [
        (
            "BRAND_COLOR",
            "blue",
            "BRAND_COLOR must be a hex colour such as `#0b5cad` or `#c03`, not `blue`",
        ),
        (
            "SITE_LOGO_URL",
            "http://astanatimes.example/logo.png",
            "SITE_LOGO_URL must be an https:// address",
        ),
        (
            "SITE_URL",
            "astanatimes.example",
            "SITE_URL `astanatimes.example` is not a web address",
        ),
    ] {
        let run = workspace
            .newsletter_with(&[(name, value)], &["send-digest"])
            .await;
        assert_eq!(run.code, Some(1), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(sentence), "{name}: {}", run.stderr);
    }
}

#[tokio::test]
async fn without_newsletter_name_the_title_of_the_imported_feed_names_the_newsletter() {
    let workspace = Workspace::new();
    workspace.write(
        "feed.xml",
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
  <title>L’Écho d’Almaty</title>
  <link>https://echo.example/</link>
  <item><title>Nauryz in the Mountains</title><link>https://echo.example/nauryz</link>
        <description>Crowds gathered at Medeu.</description></item>
</channel></rss>"#,
    );
    let import = workspace.newsletter(&["import-feed", "feed.xml"]).await;
    assert_eq!(import.code, Some(0), "{}", import.stderr);

    // Empty is unset, as a line `NEWSLETTER_NAME=` in .env would be.
    let app = spawn_app_on_database(workspace.database.clone(), &[("NEWSLETTER_NAME", "")]).await;
    let page = app.get("/").await.text().await.unwrap();
    assert!(
        page.contains("<title>Subscribe · L’Écho d’Almaty</title>"),
        "{page}"
    );
    app.import_confirmed(&["dana@example.kz"]).await;
    app.send_digest_and_wait().await;
    let mail = &app.smtp.messages_to("dana@example.kz")[0];
    let subject = mail.parsed().subject().unwrap().to_owned();
    assert!(subject.ends_with(" · L’Écho d’Almaty"), "{subject}");

    let named = spawn_app_on_database(workspace.database.clone(), &[]).await;
    let page = named.get("/").await.text().await.unwrap();
    assert!(
        page.contains("<title>Subscribe · The Astana Times</title>"),
        "NEWSLETTER_NAME, when set, wins over the feed: {page}"
    );
}

#[tokio::test]
async fn a_running_server_takes_up_the_first_feeds_title_and_a_later_feed_renames_nothing() {
    let workspace = Workspace::new();
    let app = spawn_app_on_database(workspace.database.clone(), &[("NEWSLETTER_NAME", "")]).await;
    let feed = |title: &str, slug: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{title}</title><link>https://echo.example/</link>
  <item><title>Story {slug}</title><link>https://echo.example/{slug}</link></item>
</channel></rss>"#
        )
    };
    workspace.write("site.xml", &feed("L’Écho d’Almaty", "one"));
    workspace.write("partner.xml", &feed("Partner Wire", "two"));
    // Beside the running server, as the README's tour does it.
    let import = workspace.newsletter(&["import-feed", "site.xml"]).await;
    assert_eq!(import.code, Some(0), "{}", import.stderr);
    let import = workspace.newsletter(&["import-feed", "partner.xml"]).await;
    assert_eq!(import.code, Some(0), "{}", import.stderr);

    app.import_confirmed(&["dana@example.kz"]).await;
    app.send_digest_and_wait().await;
    let mail = &app.smtp.messages_to("dana@example.kz")[0];
    let subject = mail.parsed().subject().unwrap().to_owned();
    assert!(subject.ends_with(" · L’Écho d’Almaty"), "{subject}");
    let list_id = mail.header("List-Id").unwrap();
    assert!(list_id.contains("<lcho-dalmaty."), "{list_id}");
}

#[tokio::test]
async fn the_sign_up_page_and_the_archive_link_to_each_other() {
    let app = spawn_app_with(&[]).await;
    let signup = app.get("/").await.text().await.unwrap();
    assert!(
        signup.contains("<a href=\"/archive?lang=en\">past editions</a>"),
        "{signup}"
    );

    app.import_confirmed(&["aigerim@example.kz"]).await;
    app.add_article("Steppe Eagles Return", "https://astanatimes.example/eagles")
        .await;
    app.send_digest_and_wait().await;
    let archive = app.get("/archive").await.text().await.unwrap();
    assert!(archive.contains("Steppe Eagles Return"), "{archive}");
    assert!(
        archive.contains("<a href=\"/?lang=en\">subscribe</a>"),
        "{archive}"
    );
}

#[tokio::test]
async fn an_archived_digest_does_not_offer_to_view_itself_in_the_browser() {
    let app = spawn_app_with(&[]).await;
    app.import_confirmed(&["aigerim@example.kz"]).await;
    app.add_article("Steppe Eagles Return", "https://astanatimes.example/eagles")
        .await;
    let status = app.send_digest_and_wait().await;
    let id = status["id"].as_i64().unwrap();
    let archive_url = app.url(&format!("/archive/{id}"));

    let mail = &app.smtp.messages_to("aigerim@example.kz")[0];
    assert!(
        mail.html_body()
            .contains(&format!("<a href=\"{archive_url}\"")),
        "the mail links to its page in the archive"
    );
    let page = app.get(&archive_url).await.text().await.unwrap();
    assert!(page.contains("Steppe Eagles Return"), "{page}");
    assert!(!page.contains("View this email in your browser"), "{page}");
    assert!(!page.contains(&archive_url), "{page}");
}
