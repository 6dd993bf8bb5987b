//! Feed ingestion: RSS and Atom from a file, a URL and the `import-feed` command; broken,
//! hostile and oversized feeds import nothing, and markup in a feed stays text all the
//! way to the reader's inbox.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use newsletter::db::articles::Article;
use newsletter::digest::Composed;
use newsletter::digest::compose_digest;
use newsletter::feed::{FeedReport, import_feed, parse_feed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::articles::waiting_articles;
use crate::support::{TestApp, Workspace, spawn_app, spawn_app_with};

/// The news site's feed as WordPress serves it: four items.
const SAMPLE_RSS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/astana-times-feed.xml"
);

/// A fixture under `tests/fixtures/`.
fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Writes `contents` to a file in the app's temporary folder; returns its path.
fn write_temp_feed(app: &TestApp, name: &str, contents: impl AsRef<[u8]>) -> String {
    let path: PathBuf = app.dir.path().join(name);
    std::fs::write(&path, contents).expect("the feed file is written");
    path.display().to_string()
}

/// Imports the sample feed and checks it added its four articles.
async fn import_sample(app: &TestApp) {
    let report = import_feed(&app.state, SAMPLE_RSS)
        .await
        .expect("the sample feed imports");
    assert_eq!(report.new, 4, "{report:?}");
}

/// Every stored text of an article, for checks that no field may fail.
fn all_text(article: &Article) -> String {
    [
        Some(article.title.as_str()),
        Some(article.url.as_str()),
        article.summary.as_deref(),
        article.body.as_deref(),
        article.author.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n")
}

/// How long a hostile feed may take to be answered, in a debug build.
const HOSTILE_FEED_LIMIT: Duration = Duration::from_secs(10);

/// Runs `work`, gives up after two minutes (a hang), and fails when it took longer than
/// [`HOSTILE_FEED_LIMIT`]. The elapsed time is measured as well as bounded, because a
/// synchronous stretch inside `work` would hold off the timeout.
async fn answered_quickly<T>(what: &str, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(120), work)
        .await
        .unwrap_or_else(|_| panic!("{what} did not return within two minutes"));
    let took = started.elapsed();
    assert!(
        took < HOSTILE_FEED_LIMIT,
        "{what} took {took:?}, more than {HOSTILE_FEED_LIMIT:?}"
    );
    answer
}

#[tokio::test]
async fn the_sample_rss_feed_imports_its_four_articles_as_written() {
    let app = spawn_app().await;

    let report = import_feed(&app.state, SAMPLE_RSS)
        .await
        .expect("the sample feed imports");

    assert_eq!(
        report,
        FeedReport {
            new: 4,
            known: 0,
            skipped: vec![],
            not_modified: false
        }
    );
    let waiting = waiting_articles(&app).await;
    let rows: Vec<(&str, Option<&str>, Option<String>)> = waiting
        .iter()
        .map(|a| {
            (
                a.title.as_str(),
                a.author.as_deref(),
                a.published_at.map(|t| t.to_string()),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "Kazakhstan Stresses UN’s Vital Role in Global Challenges Ahead of SCO Summit",
                Some("Aigerim Seisembayeva"),
                Some("2026-06-19 16:40:12".to_owned())
            ),
            (
                "UNICEF and Kazakh Ministries Expand Programs for Children in Abai and Zhetisu Regions",
                Some("Dana Omirgazy"),
                Some("2026-06-19 18:05:00".to_owned())
            ),
            (
                "Madina Dzharbusynova Elected to UN Committee on the Elimination of Discrimination Against Women",
                Some("Assel Satubaldina"),
                Some("2026-06-20 07:30:00".to_owned())
            ),
            (
                "Almaty to Host UN Regional Center for Sustainable Development for Central Asia & Afghanistan",
                Some("Zhanna Shayakhmetova"),
                Some("2026-06-20 08:55:21".to_owned())
            ),
        ]
    );
    assert_eq!(
        waiting[0].url,
        "https://astanatimes.example/2026/06/kazakhstan-stresses-uns-vital-role-in-global-challenges-ahead-of-sco-summit/"
    );
}

#[tokio::test]
async fn sample_summaries_are_plain_text_without_the_wordpress_footer() {
    let app = spawn_app().await;
    import_sample(&app).await;

    let waiting = waiting_articles(&app).await;
    assert_eq!(
        waiting[0].summary.as_deref(),
        Some(
            "ASTANA – Kazakhstan’s First Deputy Foreign Minister Akan Rakhmetullin underscored \
             the crucial role of the United Nations in addressing urgent global challenges during \
             his visit to the UN Plaza in Almaty on June 19."
        )
    );
    assert!(
        waiting[1]
            .summary
            .as_deref()
            .is_some_and(|s| s.contains("“in close cooperation with government agencies")),
        "curly quotes intact: {:?}",
        waiting[1].summary
    );
    for article in &waiting {
        let summary = article
            .summary
            .as_deref()
            .expect("every item has a summary");
        assert!(
            !summary.contains("appeared first on") && !summary.contains("The post"),
            "{summary}"
        );
        assert!(!summary.contains('<'), "plain text: {summary}");
    }
    let long = waiting[3].summary.as_deref().expect("a summary");
    assert!(
        long.ends_with('…') && long.starts_with("ALMATY – Kazakhstan’s initiative"),
        "the long description is shortened: {long}"
    );
}

#[tokio::test]
async fn sample_bodies_keep_their_text_and_lose_their_scripts() {
    let app = spawn_app().await;
    import_sample(&app).await;

    let waiting = waiting_articles(&app).await;
    let body = waiting[0]
        .body
        .as_deref()
        .expect("content:encoded is the body");
    assert!(
        body.contains("António Guterres’s upcoming trip"),
        "accents and quotes intact: {body}"
    );
    assert!(
        body.contains("<figcaption>"),
        "harmless markup kept: {body}"
    );
    assert!(
        !body.contains("<script") && !body.contains("trackView"),
        "the script is gone: {body}"
    );
    assert_eq!(
        waiting[2].body, None,
        "the third item has no content:encoded"
    );
}

#[tokio::test]
async fn importing_the_same_feed_again_adds_nothing() {
    let app = spawn_app().await;
    import_sample(&app).await;

    let again = import_feed(&app.state, SAMPLE_RSS)
        .await
        .expect("the feed imports again");

    assert_eq!((again.new, again.known), (0, 4), "{again:?}");
    assert_eq!(waiting_articles(&app).await.len(), 4);
}

#[tokio::test]
async fn the_atom_fixture_imports_two_articles_with_html_titles_as_plain_text() {
    let app = spawn_app().await;

    let report = import_feed(&app.state, &fixture("atom.xml"))
        .await
        .expect("the Atom feed imports");

    assert_eq!((report.new, report.known), (2, 0), "{report:?}");
    let waiting = waiting_articles(&app).await;
    let titles: Vec<&str> = waiting.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Tokayev Links National Programs to the 2030 Agenda in Full",
            "Volunteers’ Year: What 2026 Means for Kazakhstan’s NGOs",
        ]
    );
    assert_eq!(waiting[0].author.as_deref(), Some("Saule Issabekova"));
    assert_eq!(
        waiting[0].published_at.map(|t| t.to_string()).as_deref(),
        Some("2026-06-21 07:45:00")
    );
    assert_eq!(
        waiting[1].summary.as_deref(),
        Some(
            "The UN General Assembly’s declaration of 2026 as the International Year of \
             Volunteers for Sustainable Development gives Kazakh NGOs a new stage."
        ),
        "an entry without a summary gets one from its content, as text"
    );
}

#[tokio::test]
async fn a_truncated_feed_is_an_error_even_with_whole_entries_before_the_break() {
    let app = spawn_app().await;
    import_sample(&app).await;
    let bytes = std::fs::read(fixture("rss-truncated.xml")).expect("the fixture");

    let parsed = parse_feed(&bytes);
    let imported = import_feed(&app.state, &fixture("rss-truncated.xml")).await;

    assert!(parsed.is_err(), "parse_feed: {parsed:?}");
    let error = imported.expect_err("import_feed refuses a truncated feed");
    assert!(
        format!("{error:#}").contains("rss-truncated.xml"),
        "the error names the feed: {error:#}"
    );
    let waiting = waiting_articles(&app).await;
    assert_eq!(waiting.len(), 4, "nothing was imported");
    assert!(
        waiting.iter().all(|a| !a.url.contains("truncated")),
        "not even the entries before the break"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_feed_is_an_error_and_imports_nothing() {
    let app = spawn_app().await;
    import_sample(&app).await;
    let cases: &[(&str, &[u8])] = &[
        ("empty.xml", b""),
        (
            "page.html",
            b"<!doctype html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
        ),
        ("text.xml", b"Service Temporarily Unavailable\n"),
        ("json.xml", br#"{"items": [{"title": "T", "url": "https://astanatimes.example/j"}]}"#),
        ("binary.xml", &[0xff, 0xfe, 0x00, 0x3c, 0x00, 0x72, 0xd8, 0x00]),
    ];

    for (name, contents) in cases {
        let path = write_temp_feed(&app, name, contents);
        let result = import_feed(&app.state, &path).await;
        assert!(result.is_err(), "{name}: {result:?}");
        assert!(parse_feed(contents).is_err(), "{name}");
    }
    assert_eq!(
        waiting_articles(&app).await.len(),
        4,
        "nothing was imported"
    );
}

#[tokio::test]
async fn an_entry_without_a_link_is_skipped_and_the_others_are_imported() {
    let app = spawn_app().await;

    let report = import_feed(&app.state, &fixture("rss-entry-without-link.xml"))
        .await
        .expect("the feed imports");

    assert_eq!((report.new, report.known), (2, 0), "{report:?}");
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert!(
        report.skipped[0].contains("Editor’s Note Without a Link")
            && report.skipped[0].contains("url"),
        "the reason names the entry and what it lacks: {}",
        report.skipped[0]
    );
    let titles: Vec<String> = waiting_articles(&app)
        .await
        .into_iter()
        .map(|a| a.title)
        .collect();
    assert_eq!(
        titles,
        [
            "Almaty to Host UN Regional Center for Sustainable Development",
            "Volunteers’ Year: What 2026 Means for Kazakhstan’s NGOs",
        ]
    );
}

#[tokio::test]
async fn an_external_entity_never_brings_a_local_file_into_an_article() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    assert!(
        passwd.contains("root:"),
        "the test needs an /etc/passwd to try to leak"
    );
    let app = spawn_app().await;

    let imported = import_feed(&app.state, &fixture("rss-xxe.xml")).await;
    let parsed = parse_feed(&std::fs::read(fixture("rss-xxe.xml")).expect("the fixture"));

    if let Ok((articles, _)) = &parsed {
        for article in articles {
            let text = format!("{article:?}");
            assert!(!text.contains("root:"), "parse_feed leaked: {text}");
        }
    }
    let waiting = waiting_articles(&app).await;
    for article in &waiting {
        assert!(
            !all_text(article).contains("root:"),
            "import_feed leaked /etc/passwd: {article:?}"
        );
    }
    assert!(
        imported.is_err() || waiting.len() == 1,
        "either refused or imported with the entity unexpanded: {imported:?}"
    );
}

#[tokio::test]
async fn nested_internal_entities_do_not_blow_up_a_title() {
    let app = spawn_app().await;
    let mut dtd = String::from("<!ENTITY lol0 \"lol\">\n");
    for level in 1..=9 {
        let refs = format!("&lol{};", level - 1).repeat(10);
        dtd.push_str(&format!("<!ENTITY lol{level} \"{refs}\">\n"));
    }
    let feed = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n{dtd}]>\n<rss version=\"2.0\"><channel>\
         <title>Laughs</title><link>https://astanatimes.example</link><description>d</description>\
         <item><title>&lol9;</title><link>https://astanatimes.example/laughs</link>\
         <description>&lol9;</description></item></channel></rss>"
    );
    let path = write_temp_feed(&app, "laughs.xml", &feed);

    let imported = answered_quickly("import_feed", import_feed(&app.state, &path)).await;

    let waiting = waiting_articles(&app).await;
    for article in &waiting {
        assert!(
            all_text(article).len() < 10_000,
            "an entity was expanded a billion-fold: {} bytes",
            all_text(article).len()
        );
    }
    assert!(imported.is_err() || waiting.len() == 1, "{imported:?}");
}

#[tokio::test]
async fn a_feed_nested_fifty_thousand_elements_deep_returns_within_seconds() {
    let app = spawn_app().await;
    let depth = 50_000;
    let feed = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Deep</title>\
         <link>https://astanatimes.example</link><description>d</description>\
         <item><title>Deep</title><link>https://astanatimes.example/deep</link>{}{}</item>\
         </channel></rss>",
        "<x>".repeat(depth),
        "</x>".repeat(depth)
    );

    let bytes = feed.clone().into_bytes();
    let parsed = answered_quickly(
        "parse_feed",
        tokio::task::spawn_blocking(move || parse_feed(&bytes)),
    )
    .await
    .expect("parse_feed does not panic");
    let path = write_temp_feed(&app, "deep.xml", &feed);
    let imported = answered_quickly("import_feed", import_feed(&app.state, &path)).await;

    // Either answer is fine; what matters is an answer, fast, and no crash.
    assert_eq!(
        parsed.is_ok(),
        imported.is_ok(),
        "parse and import agree: {parsed:?} / {imported:?}"
    );
    let waiting = waiting_articles(&app).await;
    assert!(waiting.len() <= 1, "{waiting:?}");
}

#[tokio::test]
async fn html_nested_fifty_thousand_elements_deep_in_an_entry_returns_within_seconds() {
    let app = spawn_app().await;
    let depth = 50_000;
    let html = format!(
        "{}deep text{}",
        "<div>".repeat(depth),
        "</div>".repeat(depth)
    );
    let feed = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel><title>Deep</title>\
         <link>https://astanatimes.example</link><description>d</description>\
         <item><title>Deep HTML</title><link>https://astanatimes.example/deep-html</link>\
         <description><![CDATA[{html}]]></description>\
         <content:encoded><![CDATA[{html}]]></content:encoded></item></channel></rss>"
    );
    let path = write_temp_feed(&app, "deep-html.xml", &feed);

    let imported = answered_quickly("import_feed", import_feed(&app.state, &path)).await;

    let waiting = waiting_articles(&app).await;
    match &imported {
        // Either imported with its text, or left out with a reason (the summary is over
        // the 100 KB a summary may have); never half.
        Ok(report) if report.skipped.is_empty() => {
            assert_eq!(waiting.len(), 1, "{imported:?}");
            assert!(
                all_text(&waiting[0]).contains("deep text"),
                "{:?}",
                waiting[0].summary
            );
        }
        _ => assert!(waiting.is_empty(), "{imported:?}"),
    }
}

#[tokio::test]
async fn a_feed_file_over_five_mebibytes_is_refused_naming_the_size() {
    let app = spawn_app().await;
    let padding = "x".repeat(newsletter::limits::FEED_BYTES);
    let feed = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Huge</title>\
         <link>https://astanatimes.example</link><description>{padding}</description>\
         <item><title>Huge</title><link>https://astanatimes.example/huge</link></item>\
         </channel></rss>"
    );
    let path = write_temp_feed(&app, "huge.xml", &feed);

    let error = import_feed(&app.state, &path)
        .await
        .expect_err("a feed over 5 MiB is refused");
    let parse_error = parse_feed(feed.as_bytes()).expect_err("parse_feed refuses it too");

    assert!(format!("{error:#}").contains("5 MB"), "{error:#}");
    assert!(
        format!("{parse_error:#}").contains("5 MB"),
        "{parse_error:#}"
    );
    assert!(
        waiting_articles(&app).await.is_empty(),
        "nothing was imported"
    );
}

/// An app whose feed reader may fetch from this machine (`FEED_ALLOW_PRIVATE`), for the
/// tests that serve a feed from a local server.
pub(crate) async fn spawn_app_allowing_local_feeds() -> TestApp {
    spawn_app_with(&[("FEED_ALLOW_PRIVATE", "true")]).await
}

/// A tiny HTTP server serving one canned answer per request; it records each request's
/// head (request line and headers).
pub(crate) struct FeedServer {
    pub(crate) url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FeedServer {
    pub(crate) async fn start(
        answer: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static,
    ) -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the feed server");
        let port = listener.local_addr().expect("a bound address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (seen, answer) = (Arc::clone(&seen), Arc::clone(&answer));
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let response = answer(&head);
                    seen.lock().expect("the request log").push(head);
                    // The client may hang up early (e.g. on an oversized feed).
                    let _ = stream.write_all(&response).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        FeedServer {
            url: format!("http://127.0.0.1:{port}/feed"),
            requests,
        }
    }

    pub(crate) fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("the request log").clone()
    }
}

/// The value of header `name` in a request head (case-insensitive name).
pub(crate) fn request_header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field
            .trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// A whole HTTP/1.1 response that closes the connection.
pub(crate) fn http_response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut response = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    let mut bytes = response.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[tokio::test]
async fn a_feed_over_http_is_imported_and_then_asked_for_only_if_changed() {
    let app = spawn_app_allowing_local_feeds().await;
    let sample = std::fs::read(SAMPLE_RSS).expect("the sample feed");
    let etag = "\"feed-v1\"";
    let server = FeedServer::start(move |head| {
        if request_header(head, "If-None-Match") == Some(etag) {
            http_response("304 Not Modified", &[("ETag", etag)], b"")
        } else {
            let length = sample.len().to_string();
            http_response(
                "200 OK",
                &[
                    ("Content-Type", "application/rss+xml; charset=UTF-8"),
                    ("ETag", etag),
                    ("Content-Length", &length),
                ],
                &sample,
            )
        }
    })
    .await;

    let first = import_feed(&app.state, &server.url)
        .await
        .expect("the first poll imports");
    let second = import_feed(&app.state, &server.url)
        .await
        .expect("the second poll works");

    assert_eq!((first.new, first.not_modified), (4, false), "{first:?}");
    assert!(second.not_modified, "{second:?}");
    assert_eq!(second.new, 0);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(requests[0].starts_with("GET /feed "), "{}", requests[0]);
    assert_eq!(request_header(&requests[0], "If-None-Match"), None);
    assert_eq!(
        request_header(&requests[1], "If-None-Match"),
        Some(etag),
        "the second poll is conditional"
    );
    assert_eq!(waiting_articles(&app).await.len(), 4);
}

#[tokio::test]
async fn a_feed_server_answering_500_is_an_error_and_imports_nothing() {
    let app = spawn_app_allowing_local_feeds().await;
    let server = FeedServer::start(|_| {
        http_response(
            "500 Internal Server Error",
            &[("Content-Type", "text/html"), ("Content-Length", "21")],
            b"<h1>Server error</h1>",
        )
    })
    .await;

    let error = import_feed(&app.state, &server.url)
        .await
        .expect_err("a 500 is an error");

    assert!(format!("{error:#}").contains("500"), "{error:#}");
    assert_eq!(server.requests().len(), 1);
    assert!(
        waiting_articles(&app).await.is_empty(),
        "nothing was imported"
    );
}

#[tokio::test]
async fn a_feed_server_sending_more_than_five_mebibytes_is_cut_off_naming_the_size() {
    let app = spawn_app_allowing_local_feeds().await;
    let sample = std::fs::read_to_string(SAMPLE_RSS).expect("the sample feed");
    // Valid items first, then padding past the limit; no Content-Length, so only
    // counting the bytes as they arrive can stop it.
    let padding = format!("<!-- {} -->", "x".repeat(6 * 1024 * 1024));
    let body = sample.replace("</channel>", &format!("{padding}</channel>"));
    let server = FeedServer::start(move |_| http_response("200 OK", &[], body.as_bytes())).await;

    let error = tokio::time::timeout(
        Duration::from_secs(20),
        import_feed(&app.state, &server.url),
    )
    .await
    .expect("the import returns")
    .expect_err("an oversized feed is refused");

    assert!(format!("{error:#}").contains("5 MB"), "{error:#}");
    assert!(
        waiting_articles(&app).await.is_empty(),
        "nothing was imported"
    );
}

#[tokio::test]
async fn the_import_feed_command_imports_the_sample_and_says_how_many() {
    let workspace = Workspace::new();

    let run = workspace.newsletter(&["import-feed", SAMPLE_RSS]).await;
    let again = workspace.newsletter(&["import-feed", SAMPLE_RSS]).await;

    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("Imported 4 new articles"),
        "{}",
        run.stderr
    );
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("Imported 0 new articles; 4 already known"),
        "{}",
        again.stderr
    );
    assert_eq!(workspace.waiting_articles().len(), 4);
}

#[tokio::test]
async fn the_import_feed_command_fails_clearly_on_a_missing_file() {
    let workspace = Workspace::new();
    let missing = workspace.dir.path().join("no-such-feed.xml");
    let missing = missing.display().to_string();

    let run = workspace.newsletter(&["import-feed", &missing]).await;

    assert_ne!(run.code, Some(0), "{}", run.stderr);
    assert!(run.code.is_some(), "it exits, it does not crash");
    assert!(
        run.stderr.contains("could not open the feed file") && run.stderr.contains(&missing),
        "{}",
        run.stderr
    );
    assert!(workspace.waiting_articles().is_empty());
}

/// Imports the markup fixture for a confirmed reader, composes the digest and returns
/// the digest's id and the HTML part of the mail the reader got.
async fn digest_of_markup_feed(app: &TestApp, reader: &str) -> (i64, String) {
    app.confirmed_subscriber(reader, "Reader").await;
    let report = import_feed(&app.state, &fixture("rss-markup-in-title.xml"))
        .await
        .expect("the feed imports");
    assert_eq!(report.new, 1, "{report:?}");
    let Composed::Created(created) = compose_digest(&app.state).await.expect("a digest") else {
        panic!("an article is waiting, so a digest is made");
    };
    let mails = app.wait_for_mail_to(reader, 2).await;
    assert_eq!(mails.len(), 2, "a confirmation and the digest");
    (created.id, mails[1].html_body())
}

#[tokio::test]
async fn markup_in_a_feed_never_reaches_a_digest_or_the_archive_as_markup() {
    let app = spawn_app().await;
    let (digest_id, html) = digest_of_markup_feed(&app, "reader@example.com").await;
    let archive = app.get(&format!("/archive/{digest_id}")).await;
    assert_eq!(archive.status(), 200);
    let archive = archive.text().await.expect("the archive page");

    for (page, html) in [("mail", &html), ("archive", &archive)] {
        assert!(html.contains("Budget"), "{page} shows the article: {html}");
        assert!(
            !html.to_ascii_lowercase().contains("<script"),
            "{page} carries a script: {html}"
        );
        assert!(html.contains("The Mazhilis approved the budget."), "{page}");
    }
}

#[tokio::test]
async fn escaped_markup_in_an_rss_title_is_stored_as_text_and_shown_escaped() {
    let app = spawn_app().await;
    let (digest_id, html) = digest_of_markup_feed(&app, "reader@example.com").await;
    let archive = app
        .get(&format!("/archive/{digest_id}"))
        .await
        .text()
        .await
        .expect("the archive page");

    let titles: Vec<String> = app
        .state
        .db
        .run(move |conn| newsletter::db::articles::in_digest(conn, digest_id))
        .await
        .expect("the digest's articles")
        .into_iter()
        .map(|a| a.title)
        .collect();
    assert_eq!(titles, ["<script>alert(1)</script> Budget"]);
    for (page, html) in [("mail", &html), ("archive", &archive)] {
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Budget"),
            "{page} shows the title as text: {html}"
        );
        assert!(!html.contains("<script>"), "{page}: {html}");
    }
}

/// A local feed server whose every answer carries `SECRET`, standing in for an internal
/// service a feed URL must not reach.
const SECRET: &str = "internal-only-7c1e";

async fn internal_server() -> FeedServer {
    FeedServer::start(|_| {
        let body = format!("<h1>{SECRET}</h1>");
        http_response(
            "200 OK",
            &[
                ("Content-Type", "text/html"),
                ("Content-Length", &body.len().to_string()),
            ],
            body.as_bytes(),
        )
    })
    .await
}

#[tokio::test]
async fn a_feed_url_on_a_loopback_address_is_refused_before_anything_is_sent() {
    let app = spawn_app().await;
    let server = internal_server().await;

    let error = import_feed(&app.state, &server.url)
        .await
        .expect_err("a loopback feed URL is refused");

    let message = format!("{error:#}");
    assert!(
        message.contains("127.0.0.1 is not allowed (a loopback address)")
            && message.contains("FEED_ALLOW_PRIVATE=true"),
        "{message}"
    );
    assert!(!message.contains(SECRET), "{message}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert!(waiting_articles(&app).await.is_empty());
}

#[tokio::test]
async fn a_feed_host_name_resolving_to_loopback_is_refused_before_anything_is_sent() {
    let app = spawn_app().await;
    let server = internal_server().await;
    let by_name = server.url.replace("127.0.0.1", "localhost");

    let error = import_feed(&app.state, &by_name)
        .await
        .expect_err("a name for loopback is refused");

    let message = format!("{error:#}");
    assert!(
        message.contains("localhost has no address that is allowed")
            && message.contains("FEED_ALLOW_PRIVATE=true"),
        "{message}"
    );
    assert!(!message.contains(SECRET), "{message}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[tokio::test]
async fn with_feed_allow_private_a_local_feed_is_fetched_through_its_redirect() {
    let app = spawn_app_allowing_local_feeds().await;
    let sample = std::fs::read(SAMPLE_RSS).expect("the sample feed");
    let server = FeedServer::start(move |head| {
        if head.starts_with("GET /feed ") {
            http_response("301 Moved Permanently", &[("Location", "/moved")], b"")
        } else {
            let length = sample.len().to_string();
            http_response("200 OK", &[("Content-Length", &length)], &sample)
        }
    })
    .await;

    let report = import_feed(&app.state, &server.url)
        .await
        .expect("the local feed imports");

    assert_eq!(report.new, 4, "{report:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(requests[1].starts_with("GET /moved "), "{}", requests[1]);
}

#[tokio::test]
async fn the_import_feed_command_refuses_a_loopback_url_unless_allowed() {
    let workspace = Workspace::new();
    let server = internal_server().await;

    let refused = workspace.newsletter(&["import-feed", &server.url]).await;
    workspace.write(".env", "FEED_ALLOW_PRIVATE=true\n");
    let allowed = workspace.newsletter(&["import-feed", &server.url]).await;

    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("is not allowed") && refused.stderr.contains("FEED_ALLOW_PRIVATE"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(SECRET), "{}", refused.stderr);
    // Allowed, the server is reached (and its page is no feed).
    assert_eq!(allowed.code, Some(1), "{}", allowed.stderr);
    assert!(
        allowed.stderr.contains("not a valid RSS or Atom feed"),
        "{}",
        allowed.stderr
    );
    assert_eq!(
        server.requests().len(),
        1,
        "only the allowed run reached it"
    );
}

#[tokio::test]
async fn importing_dev_zero_stops_at_five_mebibytes_with_a_clear_error() {
    let workspace = Workspace::new();

    let run = answered_quickly(
        "import-feed /dev/zero",
        workspace.newsletter(&["import-feed", "/dev/zero"]),
    )
    .await;

    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the feed file /dev/zero is larger than 5 MB"),
        "{}",
        run.stderr
    );
    assert!(workspace.waiting_articles().is_empty());
}

/// An Atom feed just under 5 MiB whose entries' content is `<div></x>` repeated: the
/// stray end tag closes nothing, so each entry nests ~100,000 elements deep.
fn stray_end_tag_feed() -> String {
    let mut feed = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <title>Deep</title><id>urn:deep</id><updated>2026-06-21T07:45:00Z</updated>",
    );
    for n in 0..5 {
        feed.push_str(&format!(
            "<entry><title>Deep {n}</title><id>urn:deep:{n}</id>\
             <link href=\"https://astanatimes.example/deep/{n}\"/>\
             <updated>2026-06-21T07:45:00Z</updated><summary>Deep {n}</summary>\
             <content type=\"html\"><![CDATA[{}Deep news]]></content></entry>",
            // Just under the 1 MB a body may have, so every body reaches the sanitiser.
            "<div></x>".repeat(108_000)
        ));
    }
    feed.push_str("</feed>");
    feed
}

#[tokio::test]
async fn a_feed_of_stray_end_tags_under_five_mebibytes_imports_within_seconds() {
    let workspace = Workspace::new();
    let feed = stray_end_tag_feed();
    assert!(
        (4_800_000..newsletter::limits::FEED_BYTES).contains(&feed.len()),
        "{}",
        feed.len()
    );
    workspace.write("deep.xml", &feed);

    let run = answered_quickly(
        "import-feed deep.xml",
        workspace.newsletter(&["import-feed", "deep.xml"]),
    )
    .await;

    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("Imported 5 new articles"),
        "{}",
        run.stderr
    );
    for article in workspace.waiting_articles() {
        assert_eq!(
            article.body.as_deref(),
            Some("<p>Deep news</p>"),
            "the body keeps its text only"
        );
    }
}

#[tokio::test]
async fn the_admin_imports_a_feed_from_the_articles_page_and_only_a_web_address() {
    let app = spawn_app_allowing_local_feeds().await;
    let admin = crate::admin_pages::Admin::log_in(&app).await;
    let sample = std::fs::read(SAMPLE_RSS).expect("the sample feed");
    let server = FeedServer::start(move |_| {
        http_response(
            "200 OK",
            &[("Content-Type", "application/rss+xml; charset=UTF-8")],
            &sample,
        )
    })
    .await;

    // A path on the server, an address without a scheme, an unreachable host: refused,
    // nothing read.
    let path = admin
        .post("/admin/articles/import-feed", &[("url", SAMPLE_RSS)])
        .await;
    assert_eq!(path.status(), 400);
    let page = path.text().await.unwrap();
    assert!(page.contains(r#"id="feed-error""#), "{page}");
    let bare = admin
        .post(
            "/admin/articles/import-feed",
            &[("url", "astanatimes.example/feed")],
        )
        .await;
    assert_eq!(bare.status(), 400);
    assert!(
        bare.text()
            .await
            .unwrap()
            .contains("did you mean `https://astanatimes.example/feed`")
    );
    let closed = format!(
        "http://127.0.0.1:{}/feed",
        crate::support::smtp_server::unused_port()
    );
    let unreachable = admin
        .post("/admin/articles/import-feed", &[("url", &closed)])
        .await;
    assert_eq!(unreachable.status(), 502);
    assert!(waiting_articles(&app).await.is_empty());

    // A page that is not a feed is the admin's to fix (422), not a server fault.
    let not_a_feed =
        FeedServer::start(|_| http_response("200 OK", &[], b"<html>hello</html>")).await;
    let refused = admin
        .post("/admin/articles/import-feed", &[("url", &not_a_feed.url)])
        .await;
    assert_eq!(refused.status(), 422);
    assert!(waiting_articles(&app).await.is_empty());

    // The scheme in capitals (as phones type it) is still a web address.
    let shouted = server.url.replace("http://", "HTTP://");
    let imported = admin
        .post("/admin/articles/import-feed", &[("url", &shouted)])
        .await;
    assert_eq!(imported.status(), 200);
    let page = imported.text().await.unwrap();
    assert!(
        page.contains("Read the feed: 4 new, 0 already known, 0 skipped."),
        "{page}"
    );
    assert_eq!(waiting_articles(&app).await.len(), 4);
    assert!(
        page.contains("Kazakhstan"),
        "the new articles are listed: {page}"
    );
}

#[tokio::test]
async fn the_admin_feed_form_keeps_to_public_addresses_by_default() {
    let app = spawn_app().await;
    let admin = crate::admin_pages::Admin::log_in(&app).await;
    let sample = std::fs::read(SAMPLE_RSS).expect("the sample feed");
    let server = FeedServer::start(move |_| http_response("200 OK", &[], &sample)).await;
    let refused = admin
        .post("/admin/articles/import-feed", &[("url", &server.url)])
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("public addresses only"), "{page}");
    assert!(server.requests().is_empty(), "nothing was sent to it");
    assert!(waiting_articles(&app).await.is_empty());
}
