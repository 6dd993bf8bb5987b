//! The reader's language (issue 16): every public page and mail in English, Russian and
//! Kazakh, chosen by the browser or a link, kept with the reader, and used for their mail
//! whatever language the admin or the browser speaks later.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::app::{TestApp, spawn_app, spawn_app_with};

/// Each public page's heading in each language, as a reader sees it.
const HEADINGS: &[(&str, [&str; 3])] = &[
    (
        "sign-up",
        [
            "Get our stories sent directly to you",
            "Получайте наши новости прямо на почту",
            "Жаңалықтарымызды тікелей поштаңызға алыңыз",
        ],
    ),
    (
        "check-inbox",
        [
            "Check your inbox",
            "Проверьте почту",
            "Поштаңызды тексеріңіз",
        ],
    ),
    (
        "confirm",
        [
            "Confirm your subscription",
            "Подтвердите подписку",
            "Жазылымды растаңыз",
        ],
    ),
    (
        "confirmed",
        ["You’re subscribed", "Вы подписаны", "Сіз жазылдыңыз"],
    ),
    (
        "unsubscribe",
        ["Unsubscribe?", "Отписаться?", "Жазылымнан шығасыз ба?"],
    ),
    (
        "unsubscribed",
        [
            "You’re unsubscribed",
            "Вы отписались",
            "Сіз жазылымнан шықтыңыз",
        ],
    ),
    (
        "preferences",
        [
            "Manage your newsletters",
            "Управление рассылками",
            "Таратылымдарды басқару",
        ],
    ),
    (
        "archive",
        ["Past editions", "Прошлые выпуски", "Өткен шығарылымдар"],
    ),
    (
        "preferences-link",
        [
            "Lost the link? We’ll email you one",
            "Потеряли ссылку? Мы пришлём её на почту",
            "Сілтемені жоғалттыңыз ба? Біз оны поштаңызға жібереміз",
        ],
    ),
    (
        "not-found",
        ["Page not found", "Страница не найдена", "Бет табылмады"],
    ),
    (
        "bad-link",
        [
            "This link is incomplete",
            "Ссылка неполная",
            "Сілтеме толық емес",
        ],
    ),
];

const CODES: [&str; 3] = ["en", "ru", "kk"];

/// How a test asks for a language: the browser's header, or the page's link.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Asked {
    Header,
    Link,
}

/// The text a reader sees on `html`: the title and body without tags, the language
/// links (each language's name in itself) left out.
fn visible_text(html: &str) -> String {
    let html = match (html.find("<nav class=\"languages\""), html.find("</nav>")) {
        (Some(start), Some(end)) if start < end => format!("{}{}", &html[..start], &html[end..]),
        _ => html.to_owned(),
    };
    // Neither the stylesheet link nor meta tags show.
    let html = match (html.find("<head>"), html.find("<title>")) {
        (Some(start), Some(title)) => format!("{}{}", &html[..start], &html[title..]),
        _ => html,
    };
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&amp;", "&").replace("&quot;", "\"")
}

/// The runs of three or more Latin letters in `text` other than in `allowed` (what the
/// reader or the site wrote: the newsletter's name, the address): English left over.
fn english_leftovers(text: &str, allowed: &[&str]) -> Vec<String> {
    let mut text = text.to_owned();
    for given in allowed {
        text = text.replace(given, " ");
    }
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars().chain([' ']) {
        if c.is_ascii_alphabetic() {
            word.push(c);
        } else {
            if word.len() >= 3 {
                words.push(std::mem::take(&mut word));
            }
            word.clear();
        }
    }
    words
}

/// `path` in language `code`, asked for as `asked` says (the other way says English,
/// so only the way under test can bring the language).
pub(crate) async fn get_in(
    app: &TestApp,
    path: &str,
    code: &str,
    asked: Asked,
) -> reqwest::Response {
    let (url, header) = match asked {
        Asked::Header => (app.url(path), code.to_owned()),
        Asked::Link => {
            let joiner = if path.contains('?') { '&' } else { '?' };
            (
                format!("{}{joiner}lang={code}", app.url(path)),
                "en".to_owned(),
            )
        }
    };
    reqwest::Client::new()
        .get(url)
        .header("Accept-Language", header)
        .send()
        .await
        .expect("GET")
}

/// `POST path` with the form `body` in language `code`: by header, or as the page's
/// form carries it (a hidden `lang` field, or `lang` in the form's address).
pub(crate) async fn post_in(
    app: &TestApp,
    path: &str,
    body: &str,
    code: &str,
    asked: Asked,
) -> reqwest::Response {
    let (url, body, header) = match asked {
        Asked::Header => (app.url(path), body.to_owned(), code.to_owned()),
        Asked::Link if path == "/subscriptions" => (
            app.url(path),
            format!("{body}&lang={code}"),
            "en".to_owned(),
        ),
        Asked::Link => {
            let joiner = if path.contains('?') { '&' } else { '?' };
            (
                format!("{}{joiner}lang={code}", app.url(path)),
                body.to_owned(),
                "en".to_owned(),
            )
        }
    };
    reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept-Language", header)
        .body(body)
        .send()
        .await
        .expect("POST")
}

/// Checks a page: its `lang`, its heading in the language, and (but in English) no
/// English in what the reader sees.
async fn check_page(page: &str, response: reqwest::Response, index: usize, allowed: &[&str]) {
    let code = CODES[index];
    let html = response.text().await.expect("a page");
    let heading = HEADINGS
        .iter()
        .find(|(name, _)| *name == page)
        .expect("a known page")
        .1[index];
    assert!(
        html.contains(&format!("<html lang=\"{code}\">")),
        "{page} in {code}: lang\n{html}"
    );
    assert!(
        html.contains(&format!("<h1>{heading}</h1>")),
        "{page} in {code}: `{heading}`\n{html}"
    );
    // Every page links to itself in every language.
    for other in CODES {
        assert!(
            html.contains(&format!("lang={other}\"")) || other == code,
            "{page} in {code} links to the {other} page\n{html}"
        );
    }
    if code != "en" {
        // The language menu names each language in itself.
        let allowed: Vec<&str> = allowed.iter().copied().chain(["English"]).collect();
        let left = english_leftovers(&visible_text(&html), &allowed);
        assert!(
            left.is_empty(),
            "{page} in {code}: English left: {left:?}\n{html}"
        );
    }
}

#[tokio::test]
async fn every_public_page_speaks_each_language_chosen_by_header_and_by_link() {
    let app = spawn_app().await;
    let name = "The Astana Times";
    // A second newsletter (issue 11): its archive, and the unsubscribe page of its list.
    let business = "Business Weekly";
    let created = app
        .api_post(
            "/api/newsletters",
            &serde_json::json!({"slug": "business", "name": business}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let business_id = app
        .state
        .db
        .run(|conn| newsletter::db::newsletters::find_by_slug(conn, "business"))
        .await
        .unwrap()
        .expect("created")
        .id;
    // One edition in its archive, so the archive lists one.
    let signed_up = app
        .post_subscriptions("email=first%40example.kz&name=&newsletter=business")
        .await;
    assert_eq!(signed_up.status(), 200);
    let mails = app.wait_for_mail_to("first@example.kz", 1).await;
    let link = app.confirmation_link(&mails[0]);
    assert_eq!(app.post_empty(&link).await.status(), 200);
    let story = "Astana Hub Startups Raise Funds";
    app.add_article(story, "https://astanatimes.example/2026/11/hub/")
        .await;
    let sent = app
        .api_post(
            "/api/digests",
            &serde_json::json!({"newsletter": "business"}),
        )
        .await;
    assert_eq!(sent.status(), 202);
    let sent: serde_json::Value = sent.json().await.unwrap();
    app.wait_for_digest(sent["id"].as_i64().expect("an id"))
        .await;
    let archive = app.get("/archive?newsletter=business").await;
    assert!(archive.text().await.unwrap().contains(story));
    for (index, code) in CODES.into_iter().enumerate() {
        for asked in [Asked::Header, Asked::Link] {
            let email = format!("reader-{code}-{asked:?}@example.kz").to_lowercase();
            let allowed = [name, business, story, email.as_str()];
            for (page, path) in [
                ("sign-up", "/"),
                ("archive", "/archive"),
                ("archive", "/archive?newsletter=business"),
                ("not-found", "/no-such-page"),
                ("bad-link", "/subscriptions/confirm?token=cut"),
                ("preferences-link", "/preferences"),
            ] {
                check_page(page, get_in(&app, path, code, asked).await, index, &allowed).await;
            }
            let signed_up = post_in(
                &app,
                "/subscriptions",
                &format!("email={email}&name=&newsletter=digest&newsletter=business"),
                code,
                asked,
            )
            .await;
            assert_eq!(signed_up.status(), 200);
            check_page("check-inbox", signed_up, index, &allowed).await;
            let mails = app.wait_for_mail_to(&email, 1).await;
            let link = app.confirmation_link(&mails[0]);
            let path = link.strip_prefix(&app.url("")).expect("our link");
            check_page(
                "confirm",
                get_in(&app, path, code, asked).await,
                index,
                &allowed,
            )
            .await;
            check_page(
                "confirmed",
                post_in(&app, path, "", code, asked).await,
                index,
                &allowed,
            )
            .await;
            let id = app.subscriber_id(&email).await;
            let preferences = app.state.preferences_url(id);
            let path = preferences.strip_prefix(&app.url("")).expect("our link");
            check_page(
                "preferences",
                get_in(&app, path, code, asked).await,
                index,
                &allowed,
            )
            .await;
            // Asking for the preferences link by mail, and the answer.
            check_page(
                "check-inbox",
                post_in(
                    &app,
                    "/preferences",
                    &format!("email={}", urlencode(&email)),
                    code,
                    asked,
                )
                .await,
                index,
                &allowed,
            )
            .await;
            // Leaving the second newsletter (its list's link), then everything.
            let links = [
                app.state.unsubscribe_url_for(id, business_id),
                app.unsubscribe_link(id),
            ];
            for unsubscribe in links {
                let path = unsubscribe.strip_prefix(&app.url("")).expect("our link");
                check_page(
                    "unsubscribe",
                    get_in(&app, path, code, asked).await,
                    index,
                    &allowed,
                )
                .await;
                check_page(
                    "unsubscribed",
                    post_in(&app, path, "", code, asked).await,
                    index,
                    &allowed,
                )
                .await;
            }
        }
    }
}

#[tokio::test]
async fn a_form_error_is_shown_in_the_forms_language() {
    let app = spawn_app().await;
    let response = post_in(
        &app,
        "/subscriptions",
        "email=not-an-address&name=",
        "kk",
        Asked::Link,
    )
    .await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"kk\">"), "{html}");
    assert!(
        html.contains("Дұрыс электрондық пошта мекенжайын енгізіңіз"),
        "{html}"
    );
    // What the reader typed comes back as typed.
    assert!(html.contains("value=\"not-an-address\""), "{html}");
    assert_eq!(app.subscriber_count().await, 0);
}

/// Signs `email` up on the form in language `code` from a browser that asks for English,
/// confirms, and returns the confirmation mail.
pub(crate) async fn sign_up_in(
    app: &TestApp,
    email: &str,
    name: &str,
    code: &str,
) -> crate::support::smtp_server::ReceivedMail {
    let body = format!("email={}&name={}", urlencode(email), urlencode(name));
    let response = post_in(app, "/subscriptions", &body, code, Asked::Link).await;
    assert_eq!(response.status(), 200);
    let mails = app.wait_for_mail_to(email, 1).await;
    let mail = mails.into_iter().next().expect("a confirmation");
    let link = app.confirmation_link(&mail);
    assert_eq!(app.post_empty(&link).await.status(), 200);
    mail
}

/// A mail's subject, decoded.
fn subject_of(mail: &crate::support::smtp_server::ReceivedMail) -> Option<String> {
    mail.parsed().subject().map(str::to_owned)
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The masthead's date of a digest's HTML.
fn masthead_date(html: &str) -> String {
    html.split("class=\"date\"")
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|rest| rest.split('<').next())
        .expect("the masthead's date")
        .to_owned()
}

/// The day (UTC, the tests' TIMEZONE) digest `digest` (its API answer) was made.
async fn day_of(app: &TestApp, digest: &serde_json::Value) -> chrono::NaiveDate {
    let id = digest["id"].as_i64().expect("a digest id");
    app.state
        .db
        .run(move |conn| Ok(newsletter::db::digests::find(conn, id)?.expect("the digest")))
        .await
        .unwrap()
        .created_at
        .date()
}

#[tokio::test]
async fn a_russian_reader_gets_russian_mail_also_from_an_english_admin() {
    let app = spawn_app().await;
    let confirmation = sign_up_in(&app, "olga@example.kz", "Ольга", "ru").await;
    assert_eq!(
        subject_of(&confirmation).as_deref(),
        Some("Подтвердите подписку на «The Astana Times»")
    );
    assert_eq!(
        confirmation.header("Content-Language").as_deref(),
        Some("ru")
    );
    let html = confirmation.html_body();
    assert!(html.contains("<html lang=\"ru\""), "{html}");
    assert!(html.contains("Подтвердить подписку"), "{html}");
    let text = confirmation.text_body();
    assert!(text.contains("Ссылка действует 48 часов."), "{text}");
    assert!(!text.contains("The link works"), "{text}");
    // An English reader beside her.
    sign_up_in(&app, "dana@example.kz", "Dana", "en").await;
    // The admin API speaks English and asks for nothing else.
    app.add_article(
        "Kazakhstan’s Oil & Gas Output Rises",
        "https://astanatimes.example/2026/11/oil/",
    )
    .await;
    app.add_article(
        "Almaty Metro Extension Opens",
        "https://astanatimes.example/2026/11/metro/",
    )
    .await;
    let digest = app.send_digest_and_wait().await;
    assert_eq!(digest["sent"], 2, "{digest}");

    let russian = app.wait_for_mail_to("olga@example.kz", 2).await.remove(1);
    assert_eq!(
        subject_of(&russian).as_deref(),
        Some("Almaty Metro Extension Opens и ещё 1 новость · The Astana Times")
    );
    assert_eq!(russian.header("Content-Language").as_deref(), Some("ru"));
    let html = russian.html_body();
    assert!(html.contains("<html lang=\"ru\""), "{html}");
    assert!(html.contains("Читать статью"), "{html}");
    assert!(html.contains("Отписаться</a>"), "{html}");
    // The stories as the site wrote them.
    assert!(
        html.contains("Kazakhstan’s Oil &amp; Gas Output Rises"),
        "{html}"
    );
    assert!(
        html.contains("Summary of Almaty Metro Extension Opens"),
        "{html}"
    );
    // "30 ноября 2026" (the format itself is pinned in src/i18n.rs).
    assert_eq!(
        masthead_date(&html),
        newsletter::i18n::format_date(newsletter::i18n::Language::Ru, day_of(&app, &digest).await)
    );
    assert!(!html.contains("Read the article"), "{html}");
    let text = russian.text_body();
    assert!(text.contains("Отписаться в один клик"), "{text}");

    let english = app.wait_for_mail_to("dana@example.kz", 2).await.remove(1);
    assert_eq!(
        subject_of(&english).as_deref(),
        Some("Almaty Metro Extension Opens and 1 more story · The Astana Times")
    );
    assert_eq!(english.header("Content-Language").as_deref(), Some("en"));
    assert!(english.html_body().contains("Read the article"));
    // Her language is kept with her, and the API shows it.
    let readers: serde_json::Value = app.api_get("/api/subscribers").await.json().await.unwrap();
    let olga = readers["subscribers"]
        .as_array()
        .or_else(|| readers.as_array())
        .expect("a list")
        .iter()
        .find(|r| r["email"] == "olga@example.kz")
        .cloned()
        .expect("Olga is listed");
    assert_eq!(olga["language"], "ru", "{olga}");
    assert_eq!(olga["name"], "Ольга");
}

/// The subject of the last digest `email` received.
async fn last_subject(app: &TestApp, email: &str, count: usize) -> String {
    let mails = app.wait_for_mail_to(email, count).await;
    assert_eq!(mails.len(), count, "{email} has {count} mails");
    subject_of(&mails[count - 1]).expect("a subject")
}

#[tokio::test]
async fn plurals_read_right_in_russian_and_kazakh_for_1_2_5_and_21_articles() {
    let app = spawn_app().await;
    sign_up_in(&app, "olga@example.kz", "", "ru").await;
    sign_up_in(&app, "aigerim@example.kz", "", "kk").await;
    let mut serial = 0;
    let mut received = 1;
    let expected = [
        (1, "", "", "1 статья"),
        (2, " и ещё 1 новость", " және тағы 1 жаңалық", "2 статьи"),
        (5, " и ещё 4 новости", " және тағы 4 жаңалық", "5 статей"),
        (
            21,
            " и ещё 20 новостей",
            " және тағы 20 жаңалық",
            "21 статья",
        ),
    ];
    for (articles, ru, kk, archive) in expected {
        let mut lead = String::new();
        for n in 0..articles {
            serial += 1;
            let title = format!("Story {serial}");
            // The newest story leads.
            if n == articles - 1 {
                lead = title.clone();
            }
            app.add_article(&title, &format!("https://astanatimes.example/{serial}/"))
                .await;
        }
        app.send_digest_and_wait().await;
        received += 1;
        assert_eq!(
            last_subject(&app, "olga@example.kz", received).await,
            format!("{lead}{ru} · The Astana Times")
        );
        assert_eq!(
            last_subject(&app, "aigerim@example.kz", received).await,
            format!("{lead}{kk} · The Astana Times")
        );
        let page = get_in(&app, "/archive", "ru", Asked::Link)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(&format!("· {archive}</span>")),
            "{archive}\n{page}"
        );
    }
    let page = get_in(&app, "/archive", "kk", Asked::Link)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("· 21 мақала</span>"), "{page}");
    assert!(page.contains("· 5 мақала</span>"), "{page}");
}

#[tokio::test]
async fn a_newsletter_tied_to_a_language_speaks_it_to_every_reader() {
    let app = spawn_app().await;
    sign_up_in(&app, "dana@example.kz", "", "en").await;
    sign_up_in(&app, "olga@example.kz", "", "ru").await;
    let tied = app
        .api_patch(
            "/api/newsletters/digest",
            &serde_json::json!({"language": "kk"}),
        )
        .await;
    assert_eq!(tied.status(), 200);
    let listed: serde_json::Value = app.api_get("/api/newsletters").await.json().await.unwrap();
    assert_eq!(listed["newsletters"][0]["language"], "kk", "{listed}");
    app.add_article("Story one", "https://astanatimes.example/1/")
        .await;
    let digest = app.send_digest_and_wait().await;
    for reader in ["dana@example.kz", "olga@example.kz"] {
        let mail = app.wait_for_mail_to(reader, 2).await.remove(1);
        assert_eq!(mail.header("Content-Language").as_deref(), Some("kk"));
        let html = mail.html_body();
        assert!(html.contains("<html lang=\"kk\""), "{html}");
        assert!(html.contains("Мақаланы оқу"), "{html}");
        let date = masthead_date(&html);
        assert!(date.contains(" жылғы "), "{date}");
        assert_eq!(
            date,
            newsletter::i18n::format_date(
                newsletter::i18n::Language::Kk,
                day_of(&app, &digest).await
            )
        );
    }
}

#[tokio::test]
async fn readers_from_before_read_the_default_language() {
    let app = spawn_app_with(&[("DEFAULT_LANGUAGE", "ru")]).await;
    // As an import (or a sign-up before languages) leaves them: no language of their own.
    app.import_confirmed(&["old@example.kz"]).await;
    app.add_article("Story one", "https://astanatimes.example/1/")
        .await;
    app.send_digest_and_wait().await;
    let mail = app.wait_for_mail_to("old@example.kz", 1).await.remove(0);
    assert_eq!(mail.header("Content-Language").as_deref(), Some("ru"));
    assert!(mail.html_body().contains("Читать статью"));
    // A browser that names none of ours gets the default too.
    let page = reqwest::Client::new()
        .get(app.url("/"))
        .header("Accept-Language", "de-DE, fr;q=0.8")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"ru\">"), "{page}");
}

#[tokio::test]
async fn the_preferences_page_changes_the_readers_language() {
    let app = spawn_app().await;
    sign_up_in(&app, "dana@example.kz", "", "en").await;
    let id = app.subscriber_id("dana@example.kz").await;
    let preferences = app.state.preferences_url(id);
    let path = preferences.strip_prefix(&app.url("")).unwrap().to_owned();
    let page = app.get(&path).await.text().await.unwrap();
    assert!(
        page.contains("<option value=\"en\" lang=\"en\" selected>"),
        "{page}"
    );

    // A language we do not write in is refused, and nothing changes.
    assert_eq!(language_of(&app, id).await.as_deref(), Some("en"));
    let refused = app
        .post_form(&path, "newsletter=digest&language=de&lang=en", &[])
        .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(language_of(&app, id).await.as_deref(), Some("en"));

    let saved = app
        .post_form(&path, "newsletter=digest&language=kk&lang=en", &[])
        .await;
    assert_eq!(saved.status(), 200);
    let html = saved.text().await.unwrap();
    assert!(html.contains("<html lang=\"kk\">"), "{html}");
    assert!(html.contains("Сақталды."), "{html}");
    assert!(
        html.contains("<option value=\"kk\" lang=\"kk\" selected>"),
        "{html}"
    );
    assert_eq!(language_of(&app, id).await.as_deref(), Some("kk"));

    // The next digest is in it, whatever the browser says then.
    app.add_article("Story one", "https://astanatimes.example/1/")
        .await;
    app.send_digest_and_wait().await;
    let mail = app.wait_for_mail_to("dana@example.kz", 2).await.remove(1);
    assert_eq!(mail.header("Content-Language").as_deref(), Some("kk"));
}

pub(crate) async fn language_of(app: &TestApp, id: i64) -> Option<String> {
    app.state
        .db
        .run(move |conn| {
            Ok(newsletter::db::subscribers::find(conn, id)?
                .expect("the reader")
                .language)
        })
        .await
        .unwrap()
}

/// The message ids of a Fluent file.
fn keys_of(source: &str) -> BTreeSet<String> {
    source
        .lines()
        .filter(|line| line.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .filter_map(|line| line.split_once(" =").map(|(key, _)| key.trim().to_owned()))
        .collect()
}

fn read_folder(folder: &std::path::Path, out: &mut String) {
    for entry in std::fs::read_dir(folder).expect("a folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            read_folder(&path, out);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            out.push_str(&text);
            out.push('\n');
        }
    }
}

#[test]
fn every_key_is_in_every_language_and_every_key_is_used() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut by_language: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for code in CODES {
        let mut source = String::new();
        read_folder(&root.join("locales").join(code), &mut source);
        by_language.insert(code, keys_of(&source));
    }
    let english = &by_language["en"];
    assert!(english.len() > 50, "the English messages are read");
    for (code, keys) in &by_language {
        let missing: Vec<_> = english.difference(keys).collect();
        let extra: Vec<_> = keys.difference(english).collect();
        assert!(missing.is_empty(), "{code} lacks {missing:?}");
        assert!(extra.is_empty(), "{code} has keys English lacks: {extra:?}");
    }
    // Where keys are used: the templates (`key="…"`) and the code (`"…"`).
    let mut uses = String::new();
    for folder in ["templates", "email_templates", "src"] {
        read_folder(&root.join(folder), &mut uses);
    }
    let unused: Vec<_> = english
        .iter()
        .filter(|key| !uses.contains(&format!("\"{key}\"")))
        .collect();
    assert!(
        unused.is_empty(),
        "keys no template or code uses: {unused:?}"
    );
    // And every key a template names exists.
    for part in uses.split("key=\"").skip(1) {
        let key = part.split('"').next().unwrap_or_default();
        assert!(
            english.contains(key),
            "a template names the unknown key {key}"
        );
    }
}

/// The text of a mail without its links (addresses and tokens are not words).
fn without_links(text: &str) -> String {
    text.split_whitespace()
        .filter(|word| !word.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn the_preferences_link_mail_is_in_the_readers_stored_language_whatever_the_browser() {
    let app = spawn_app().await;
    sign_up_in(&app, "aigerim@example.kz", "Айгерім", "kk").await;
    sign_up_in(&app, "olga@example.kz", "Ольга", "ru").await;
    // From before languages: DEFAULT_LANGUAGE.
    app.import_confirmed(&["old@example.kz"]).await;
    let expected = [
        (
            "aigerim@example.kz",
            "kk",
            "«The Astana Times» жазылымын басқару",
            "Таратылымдарды басқару",
        ),
        (
            "olga@example.kz",
            "ru",
            "Управление подпиской на «The Astana Times»",
            "Управлять рассылками",
        ),
        (
            "old@example.kz",
            "en",
            "Manage your subscription to The Astana Times",
            "Manage my newsletters",
        ),
    ];
    for (email, code, subject, button) in expected {
        let before = app.smtp.messages_to(email).len();
        // Asked for from an English page in an English browser.
        let asked = post_in(
            &app,
            "/preferences",
            &format!("email={}", urlencode(email)),
            "en",
            Asked::Link,
        )
        .await;
        assert_eq!(asked.status(), 200);
        let mail = app.wait_for_mail_to(email, before + 1).await.remove(before);
        assert_eq!(subject_of(&mail).as_deref(), Some(subject), "{email}");
        assert_eq!(mail.header("Content-Language").as_deref(), Some(code));
        let html = mail.html_body();
        assert!(html.contains(&format!("<html lang=\"{code}\"")), "{html}");
        assert!(html.contains(button), "{html}");
        let text = mail.text_body();
        if code != "en" {
            let left = english_leftovers(&without_links(&text), &["The Astana Times"]);
            assert!(left.is_empty(), "{email}: English left: {left:?}\n{text}");
            let body = html.split("</head>").nth(1).expect("a body");
            let left =
                english_leftovers(&without_links(&visible_text(body)), &["The Astana Times"]);
            assert!(left.is_empty(), "{email}: English left: {left:?}\n{html}");
        }
        // The link in it opens the reader's page, in the mail's language.
        let id = app.subscriber_id(email).await;
        let link = crate::support::link_in(&text, "http");
        assert_eq!(
            link,
            format!("{}&lang={code}", app.state.preferences_url(id))
        );
    }
}

#[tokio::test]
async fn a_confirmed_readers_addition_is_confirmed_in_their_stored_language() {
    let app = spawn_app().await;
    sign_up_in(&app, "olga@example.kz", "Ольга", "ru").await;
    let created = app
        .api_post(
            "/api/newsletters",
            &serde_json::json!({"slug": "business", "name": "Business Weekly"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    // She adds the second newsletter from an English page in an English browser.
    let added = post_in(
        &app,
        "/subscriptions",
        "email=olga%40example.kz&name=&newsletter=business",
        "en",
        Asked::Link,
    )
    .await;
    assert_eq!(added.status(), 200);
    let mail = app.wait_for_mail_to("olga@example.kz", 2).await.remove(1);
    assert_eq!(
        subject_of(&mail).as_deref(),
        Some("Подтвердите подписку на «The Astana Times»")
    );
    assert_eq!(mail.header("Content-Language").as_deref(), Some("ru"));
    let html = mail.html_body();
    assert!(html.contains("<html lang=\"ru\""), "{html}");
    assert!(html.contains("Вы выбрали:"), "{html}");
    assert!(html.contains("<li>Business Weekly</li>"), "{html}");
    let text = mail.text_body();
    assert!(text.contains("Ссылка действует 48 часов."), "{text}");
    let left = english_leftovers(
        &without_links(&text),
        &["The Astana Times", "Business Weekly"],
    );
    assert!(left.is_empty(), "English left: {left:?}\n{text}");
    // Her language stays hers.
    let id = app.subscriber_id("olga@example.kz").await;
    assert_eq!(language_of(&app, id).await.as_deref(), Some("ru"));
}

/// The stored language of newsletter `slug` (`None`: each reader's).
async fn newsletter_language(app: &TestApp, slug: &'static str) -> Option<String> {
    app.state
        .db
        .run(move |conn| newsletter::db::newsletters::find_by_slug(conn, slug))
        .await
        .unwrap()
        .expect("the newsletter")
        .language
}

/// The fields a refused API call names.
async fn fields_named(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    error["fields"]
        .as_object()
        .expect("fields")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_newsletters_language_is_ours_or_null_in_the_api_and_on_the_admin_page() {
    let app = spawn_app().await;
    let created = app
        .api_post(
            "/api/newsletters",
            &serde_json::json!({"slug": "russian", "name": "Новости", "language": "ru"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["language"], "ru", "{created}");
    assert_eq!(
        newsletter_language(&app, "russian").await.as_deref(),
        Some("ru")
    );

    // Not one of ours: 400 naming the field, and nothing made or changed.
    for bad in ["de", "", "RU", "ru-RU"] {
        let refused = app
            .api_post(
                "/api/newsletters",
                &serde_json::json!({"slug": "german", "name": "Nachrichten", "language": bad}),
            )
            .await;
        assert_eq!(fields_named(refused).await, ["language"], "{bad}");
        let refused = app
            .api_patch(
                "/api/newsletters/russian",
                &serde_json::json!({ "language": bad }),
            )
            .await;
        assert_eq!(fields_named(refused).await, ["language"], "{bad}");
    }
    assert_eq!(app.api_get("/api/newsletters/german").await.status(), 404);
    assert_eq!(
        newsletter_language(&app, "russian").await.as_deref(),
        Some("ru")
    );
    // A change that does not name it leaves it; null unties it.
    let renamed = app
        .api_patch(
            "/api/newsletters/russian",
            &serde_json::json!({"name": "Новости недели"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(
        newsletter_language(&app, "russian").await.as_deref(),
        Some("ru")
    );
    let untied = app
        .api_patch(
            "/api/newsletters/russian",
            &serde_json::json!({"language": null}),
        )
        .await;
    assert_eq!(untied.status(), 200);
    let untied: serde_json::Value = untied.json().await.unwrap();
    assert_eq!(untied["language"], serde_json::Value::Null, "{untied}");
    assert_eq!(newsletter_language(&app, "russian").await, None);

    // The admin page: the same choice on the create and edit forms.
    let admin = crate::admin_pages::Admin::log_in(&app).await;
    let page = admin.get("/admin/newsletters").await.text().await.unwrap();
    assert!(
        page.contains(r#"<select id="language" name="language""#),
        "{page}"
    );
    let made = admin
        .post(
            "/admin/newsletters",
            &[
                ("slug", "kazakh"),
                ("name", "Жаңалықтар"),
                ("language", "kk"),
            ],
        )
        .await;
    assert_eq!(made.status(), 303);
    assert_eq!(
        newsletter_language(&app, "kazakh").await.as_deref(),
        Some("kk")
    );
    let edit = admin
        .get("/admin/newsletters/kazakh")
        .await
        .text()
        .await
        .unwrap();
    assert!(edit.contains(r#"<option value="kk" selected>"#), "{edit}");
    let refused = admin
        .post(
            "/admin/newsletters/kazakh",
            &[
                ("slug", "kazakh"),
                ("name", "Жаңалықтар"),
                ("language", "de"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains(r#"id="language-error""#),
        "the error beside the field"
    );
    assert_eq!(
        newsletter_language(&app, "kazakh").await.as_deref(),
        Some("kk")
    );
    let saved = admin
        .post(
            "/admin/newsletters/kazakh",
            &[("slug", "kazakh"), ("name", "Жаңалықтар"), ("language", "")],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(
        newsletter_language(&app, "kazakh").await,
        None,
        "each reader's own"
    );
}

/// The languages digest `digest` (its API answer) was rendered in besides its own.
async fn translated_into(app: &TestApp, digest: &serde_json::Value) -> Vec<String> {
    let id = digest["id"].as_i64().expect("a digest id");
    app.state
        .db
        .run(move |conn| newsletter::db::digests::translations(conn, id))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.language)
        .collect()
}

#[tokio::test]
async fn a_digest_is_rendered_again_only_in_the_languages_of_its_confirmed_readers() {
    let app = spawn_app().await;
    sign_up_in(&app, "dana@example.kz", "", "en").await;
    let created = app
        .api_post(
            "/api/newsletters",
            &serde_json::json!({"slug": "business", "name": "Business Weekly"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    // A Russian reader of the other newsletter only, confirmed.
    let body = "email=olga%40example.kz&name=&newsletter=business";
    let response = post_in(&app, "/subscriptions", body, "ru", Asked::Link).await;
    assert_eq!(response.status(), 200);
    let mails = app.wait_for_mail_to("olga@example.kz", 1).await;
    assert_eq!(
        app.post_empty(&app.confirmation_link(&mails[0]))
            .await
            .status(),
        200
    );
    // A Kazakh reader of this one who has not confirmed yet.
    let body = "email=aigerim%40example.kz&name=&newsletter=digest";
    let response = post_in(&app, "/subscriptions", body, "kk", Asked::Link).await;
    assert_eq!(response.status(), 200);
    let mails = app.wait_for_mail_to("aigerim@example.kz", 1).await;
    let aigerims_link = app.confirmation_link(&mails[0]);

    app.add_article("Story one", "https://astanatimes.example/1/")
        .await;
    let digest = app.send_digest_and_wait().await;
    assert_eq!(digest["sent"], 1, "{digest}");
    assert!(translated_into(&app, &digest).await.is_empty());

    assert_eq!(app.post_empty(&aigerims_link).await.status(), 200);
    app.add_article("Story two", "https://astanatimes.example/2/")
        .await;
    let digest = app.send_digest_and_wait().await;
    assert_eq!(digest["sent"], 2, "{digest}");
    assert_eq!(translated_into(&app, &digest).await, ["kk"]);
    let mail = app
        .wait_for_mail_to("aigerim@example.kz", 2)
        .await
        .remove(1);
    assert_eq!(mail.header("Content-Language").as_deref(), Some("kk"));
}
