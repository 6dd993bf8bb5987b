//! How the mail reads (issue 12): never clipped by Gmail, a subject that leads with the
//! top story and an editor's own, the 600-pixel table layout with Outlook's wrapper and
//! dark mode, the lead image, and a text part wrapped at 78 characters.

use crate::admin_pages::Admin;
use crate::support::{TestApp, Workspace, news, spawn_app};

/// Gmail hides whatever of the HTML comes after this many bytes.
const GMAIL_CLIP: usize = 102 * 1024;

async fn add_articles(app: &TestApp, articles: &[serde_json::Value]) {
    for article in articles {
        let response = app.api_post("/api/articles", article).await;
        assert_eq!(response.status(), 201, "{article}");
    }
}

fn url_of(article: &serde_json::Value) -> &str {
    article["url"].as_str().expect("a url")
}

/// How many stories of the HTML stand in full (each has a "Read the article" link).
fn stories_in_full(html: &str) -> usize {
    html.matches(">Read the article<").count()
}

/// The HTML-escaped form of a title, as the inliner writes text.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[tokio::test]
async fn a_digest_of_150_articles_stays_under_gmails_clip_and_loses_no_article() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    let articles = news::articles(150);
    add_articles(&app, &articles).await;

    // The preview (the API's and the admin's) is the digest as it will go out.
    let preview = app.api_get("/api/digests/preview").await;
    assert_eq!(preview.status(), 200);
    assert!(
        preview.headers().get("x-digest-warning").is_none(),
        "no clipping warning: {:?}",
        preview.headers().get("x-digest-warning")
    );
    let preview = preview.text().await.unwrap();
    let admin = Admin::log_in(&app).await;
    let framed = admin
        .get("/admin/digests/preview/mail")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(framed, preview, "the admin preview shows the same digest");
    let page = admin.get("/admin/digests").await.text().await.unwrap();
    assert!(!page.contains("id=\"clip-warning\""), "{page}");
    assert!(
        page.contains("the last ") && page.contains("stories are listed under “More stories”"),
        "the editor is told: {page}"
    );

    let created: serde_json::Value = app.send_digest_now().await.json().await.unwrap();
    assert_eq!(created["articles"], 150, "{created}");
    let id = created["id"].as_i64().unwrap();
    app.wait_for_digest(id).await;
    let mail = app.wait_for_mail_to("reader@example.kz", 1).await.remove(0);
    let html = mail.html_body();
    let text = mail.text_body();
    assert!(
        html.len() <= GMAIL_CLIP,
        "the mail's HTML is {} bytes, over Gmail's {GMAIL_CLIP}",
        html.len()
    );
    let full = stories_in_full(&html);
    assert!(
        (20..150).contains(&full),
        "the first stories stand in full, the rest as links: {full} in full"
    );
    eprintln!(
        "150 stories: {full} in full, {} under More stories, {} bytes of HTML",
        150 - full,
        html.len()
    );
    assert!(html.contains(">More stories</h2>"), "{html}");
    assert!(text.lines().any(|l| l == "More stories"), "{text}");
    // Every story is there, in the digest's order (newest first here): first in full,
    // then as a link under "More stories".
    let mut last = 0;
    for (i, article) in articles.iter().enumerate() {
        let url = url_of(article);
        let at = html
            .find(&format!("href=\"{url}\""))
            .unwrap_or_else(|| panic!("story {i} ({url}) is missing from the HTML"));
        assert!(at > last, "story {i} is out of order");
        last = at;
        assert!(
            text.contains(url),
            "story {i} ({url}) is missing from the text"
        );
        let title = article["title"].as_str().unwrap();
        assert!(html.contains(&escaped(title)), "story {i}'s title");
    }
    let more_stories = html.find(">More stories</h2>").unwrap();
    let first_listed = html
        .find(&format!("href=\"{}\"", url_of(&articles[full])))
        .unwrap();
    assert!(
        first_listed > more_stories,
        "the first story not in full is listed under More stories"
    );
    // The unsubscribe link, at the very end, is inside what Gmail shows.
    assert!(html.contains(&app.unsubscribe_link(1)), "{html}");
    // Nothing was left behind.
    assert_eq!(app.send_digest_now().await.status(), 409);
}

#[tokio::test]
async fn the_subject_leads_with_the_top_story_and_the_preheader_names_the_next_ones() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    let articles = news::articles(6);
    add_articles(&app, &articles).await;
    app.send_digest_and_wait().await;
    let mail = app.wait_for_mail_to("reader@example.kz", 1).await.remove(0);
    assert_eq!(
        mail.parsed().subject().unwrap(),
        "Kazakhstan Stresses UN’s Vital Role in Global Challenges Ahead of SCO Summit and 5 more stories · The Astana Times"
    );
    let html = mail.html_body();
    let body = &html[html.find("<body").unwrap()..];
    let preheader = &body[..body.find("<table").unwrap()];
    assert!(preheader.contains("display:none"), "{preheader}");
    assert!(
        preheader.contains(
            "Also: Almaty Metro Extension Opens to “Record” Crowds on Kalkaman Line · Guterres’s Visit"
        ),
        "the hidden preheader names the next stories: {preheader}"
    );
}

#[tokio::test]
async fn an_editors_subject_goes_out_encoded_and_is_stored_with_the_digest() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    add_articles(&app, &news::articles(3)).await;
    let subject = "Guterres in Astana: what the “SCO week” means — our guide";
    let response = app
        .api_post(
            "/api/digests",
            &serde_json::json!({ "subject": format!("  {subject} ") }),
        )
        .await;
    assert_eq!(response.status(), 202);
    let created: serde_json::Value = response.json().await.unwrap();
    let id = created["id"].as_i64().unwrap();
    let status = app.wait_for_digest(id).await;
    assert_eq!(status["subject"], subject, "{status}");
    let mail = app.wait_for_mail_to("reader@example.kz", 1).await.remove(0);
    assert_eq!(mail.parsed().subject().unwrap(), subject);
    let raw = String::from_utf8_lossy(&mail.data).into_owned();
    let header = raw
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("subject:"))
        .unwrap();
    assert!(header.is_ascii() && header.contains("=?utf-8?"), "{header}");
    assert!(
        mail.html_body()
            .contains(&format!("<title>{subject}</title>")),
        "the HTML's title is the editor's subject"
    );
    let stored = app
        .state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use newsletter::db::schema::digests;
            Ok(digests::table
                .find(id)
                .select(digests::subject_override)
                .first::<Option<String>>(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some(subject));
}

#[tokio::test]
async fn a_bad_subject_is_refused_with_the_reason_and_sends_nothing() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    add_articles(&app, &news::articles(2)).await;
    for (body, why) in [
        (serde_json::json!({ "subject": "" }), "empty"),
        (serde_json::json!({ "subject": "   " }), "empty"),
        (
            serde_json::json!({ "subject": "News\r\nBcc: victim@example.com" }),
            "one line",
        ),
        (serde_json::json!({ "subject": "x".repeat(201) }), "200"),
        (serde_json::json!({ "subject": 5 }), "JSON"),
        (serde_json::json!({ "title": "News" }), "JSON"),
    ] {
        let response = app.api_post("/api/digests", &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer: serde_json::Value = response.json().await.unwrap();
        assert!(answer.to_string().contains(why), "{body}: {answer}");
    }
    let garbled = app
        .client
        .post(app.url("/api/digests"))
        .bearer_auth(crate::support::ADMIN_TOKEN)
        .header("Content-Type", "application/json")
        .body("{\"subject\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status(), 400);
    app.drain_queues().await;
    assert!(app.smtp.messages().is_empty(), "nothing was sent");
    // The articles still wait; a POST without a body still sends them.
    assert_eq!(app.send_digest_now().await.status(), 202);
}

#[tokio::test]
async fn the_admin_sends_under_a_subject_of_their_own_or_is_told_why_not() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    add_articles(&app, &news::articles(2)).await;
    let admin = Admin::log_in(&app).await;
    let page = admin.get("/admin/digests/send").await.text().await.unwrap();
    assert!(page.contains("name=\"subject\""), "{page}");
    assert!(
        page.contains("Kazakhstan Stresses UN’s Vital Role in Global Challenges Ahead of SCO Summit and 1 more story"),
        "the usual subject is shown: {page}"
    );

    let refused = admin
        .post(
            "/admin/digests/send",
            &[("subject", "Line one\nBcc: x@example.com")],
        )
        .await;
    assert_eq!(refused.status(), 400);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"subject-error\""), "{page}");
    assert!(page.contains("aria-invalid=\"true\""), "{page}");
    app.drain_queues().await;
    assert!(app.smtp.messages().is_empty());

    let sent = admin
        .post(
            "/admin/digests/send",
            &[("subject", "Our SCO summit guide")],
        )
        .await;
    assert_eq!(sent.status(), 303);
    let mail = app.wait_for_mail_to("reader@example.kz", 1).await.remove(0);
    assert_eq!(mail.parsed().subject().unwrap(), "Our SCO summit guide");
}

#[tokio::test]
async fn the_mail_is_a_600_pixel_table_with_outlooks_wrapper_phone_rules_and_dark_mode() {
    let app = spawn_app().await;
    let reader = "reader@example.kz";
    let link = app.sign_up_and_get_link(reader, "Aigerim").await;
    app.post_empty(&link).await;
    add_articles(&app, &news::articles(3)).await;
    app.send_digest_and_wait().await;
    let mails = app.wait_for_mail_to(reader, 2).await;
    for (kind, mail) in [("confirmation", &mails[0]), ("digest", &mails[1])] {
        let html = mail.html_body();
        for part in [
            "<!--[if mso]><table role=\"presentation\" width=\"600\"",
            "<meta name=\"color-scheme\" content=\"light dark\">",
            "@media (prefers-color-scheme: dark)",
            "@media (max-width: 620px)",
        ] {
            assert!(html.contains(part), "the {kind} lacks {part}:\n{html}");
        }
        assert!(
            html.replace("max-width: ", "max-width:")
                .contains("max-width:600px"),
            "{html}"
        );
        assert!(
            !html.contains("<div class="),
            "the {kind} is laid out in tables"
        );
        // What the phone rules change is inlined too, so they must win over it.
        let phone = &html[html.find("@media (max-width: 620px)").unwrap()..];
        let phone = &phone[..phone.find('}').unwrap()];
        assert!(phone.contains("!important"), "{phone}");
    }
    let html = mails[1].html_body();
    // Each "Read the article" names its story for a screen reader.
    assert!(
        html.contains("Read the article<span class=\"sr\" style=\"font-size: 0"),
        "{html}"
    );
    assert!(
        html.contains(
            ": Almaty Metro Extension Opens to “Record” Crowds on Kalkaman Line</span> →</a>"
        ),
        "{html}"
    );
}

#[tokio::test]
async fn the_text_part_wraps_at_78_characters_with_each_link_whole_on_its_own_line() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    let mut articles = news::articles(4);
    articles[0]["url"] = serde_json::json!(format!(
        "https://astanatimes.example/2026/11/{}",
        "a-very-long-slug-that-no-line-could-hold-".repeat(3)
    ));
    add_articles(&app, &articles).await;
    app.send_digest_and_wait().await;
    let text = app
        .wait_for_mail_to("reader@example.kz", 1)
        .await
        .remove(0)
        .text_body();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let has_link = words.iter().any(|w| w.starts_with("http"));
        if has_link {
            assert_eq!(words.len(), 1, "a link shares its line: {line:?}");
        } else {
            assert!(line.chars().count() <= 78, "{line:?}");
        }
    }
    let own_line = format!("   {}", url_of(&articles[0]));
    assert!(text.lines().any(|l| l == own_line), "{text}");
    // The summaries are there in full, only wrapped.
    let summary: String = articles[1]["summary"]
        .as_str()
        .unwrap()
        .chars()
        .take(60)
        .collect();
    let words: Vec<&str> = summary.split_whitespace().collect();
    let flowing: Vec<&str> = text.split_whitespace().collect();
    assert!(
        flowing
            .windows(words.len() - 1)
            .any(|w| w == &words[..words.len() - 1]),
        "{text}"
    );
}

#[tokio::test]
async fn the_top_story_leads_with_its_image_and_only_an_https_image_is_taken() {
    let app = spawn_app().await;
    app.import_confirmed(&["reader@example.kz"]).await;
    let mut articles = news::articles(2);
    let mut bad = articles[0].clone();
    bad["image_url"] = serde_json::json!("http://astanatimes.example/lead.jpg");
    let response = app.api_post("/api/articles", &bad).await;
    assert_eq!(response.status(), 400);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer["fields"]["image_url"]
            .as_str()
            .unwrap()
            .contains("https"),
        "{answer}"
    );
    let image = "https://cdn.astanatimes.example/2026/11/un-plaza.jpg?w=1200&h=675";
    articles[0]["image_url"] = serde_json::json!(image);
    articles[1]["image_url"] = serde_json::json!("https://cdn.astanatimes.example/metro.jpg");
    add_articles(&app, &articles).await;
    app.send_digest_and_wait().await;
    let html = app
        .wait_for_mail_to("reader@example.kz", 1)
        .await
        .remove(0)
        .html_body();
    let at = html
        .find(&format!("src=\"{}\"", image.replace('&', "&amp;")))
        .unwrap_or_else(|| panic!("the lead image: {html}"));
    let tag = &html[html[..at].rfind("<img").unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    for attribute in [
        "width=\"552\"",
        "height=\"311\"",
        "alt=\"Kazakhstan Stresses UN’s Vital Role in Global Challenges Ahead of SCO Summit\"",
    ] {
        assert!(tag.contains(attribute), "{attribute} in {tag}");
    }
    assert!(
        !html.contains("metro.jpg"),
        "only the top story shows its image"
    );
}

#[tokio::test]
async fn a_feeds_lead_images_come_from_media_rss_enclosures_or_the_first_image_of_the_body() {
    let app = spawn_app().await;
    let workspace = Workspace::new();
    workspace.write(
        "feed.xml",
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>The Astana Times</title><link>https://astanatimes.example/</link>
  <item><title>Media content</title><link>https://astanatimes.example/a</link>
    <media:content url="https://cdn.astanatimes.example/a.jpg" medium="image" width="1200" height="675"/></item>
  <item><title>Media thumbnail</title><link>https://astanatimes.example/b</link>
    <media:thumbnail url="https://cdn.astanatimes.example/b-thumb.png"/></item>
  <item><title>Image enclosure</title><link>https://astanatimes.example/c</link>
    <enclosure url="https://cdn.astanatimes.example/c.webp" length="1234" type="image/webp"/></item>
  <item><title>Podcast enclosure</title><link>https://astanatimes.example/d</link>
    <enclosure url="https://cdn.astanatimes.example/d.mp3" length="1234" type="audio/mpeg"/></item>
  <item><title>Image in the body</title><link>https://astanatimes.example/e</link>
    <content:encoded><![CDATA[<p>Text</p><img src="https://cdn.astanatimes.example/e.jpg?x=1&amp;y=2" alt=""><img src="https://cdn.astanatimes.example/second.jpg">]]></content:encoded></item>
  <item><title>Insecure image</title><link>https://astanatimes.example/f</link>
    <media:content url="http://cdn.astanatimes.example/f.jpg" type="image/jpeg"/></item>
</channel></rss>"#,
    );
    let report = newsletter::feed::import_feed(
        &app.state,
        workspace.path().join("feed.xml").to_str().unwrap(),
    )
    .await
    .expect("the feed imports");
    assert_eq!(report.new, 6, "{report:?}");
    let mut images: Vec<(String, Option<String>)> = app
        .state
        .db
        .run(newsletter::db::articles::waiting)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.title, a.image_url))
        .collect();
    images.sort();
    let expected = |title: &str, image: Option<&str>| (title.to_owned(), image.map(str::to_owned));
    assert_eq!(
        images,
        [
            expected(
                "Image enclosure",
                Some("https://cdn.astanatimes.example/c.webp")
            ),
            expected(
                "Image in the body",
                Some("https://cdn.astanatimes.example/e.jpg?x=1&y=2")
            ),
            expected("Insecure image", None),
            expected(
                "Media content",
                Some("https://cdn.astanatimes.example/a.jpg")
            ),
            expected(
                "Media thumbnail",
                Some("https://cdn.astanatimes.example/b-thumb.png")
            ),
            expected("Podcast enclosure", None),
        ]
    );
}
