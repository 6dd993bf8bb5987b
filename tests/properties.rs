//! Properties of the parsers we own, through the public API: whatever the input, they
//! never panic, and what they accept has the shape the rest of the service relies on.
//! Case counts keep the run to seconds; `PROPTEST_CASES=100000` searches deeper.

use newsletter::csv_io;
use newsletter::db::Db;
use newsletter::domain::article::{html_to_text, sanitize_html, shorten};
use newsletter::domain::{ConfirmationToken, EmailAddress, Signer, SubscriberName, TokenError};
use newsletter::feed::parse_feed;
use proptest::prelude::*;

#[path = "support/markup.rs"]
mod markup;
use markup::dangerous_markup;

/// `cases` per property, or `PROPTEST_CASES` when set.
fn cases(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}

/// Anything from address-shaped text to garbage: valid addresses, near misses with
/// spaces, quotes, brackets and control characters, internationalised domains whose
/// lower case is longer than their upper case, and arbitrary text.
fn email_input() -> impl Strategy<Value = String> {
    let labels =
        prop::collection::vec("[a-zA-Z0-9İK-]{1,12}", 1..24).prop_map(|labels| labels.join("."));
    prop_oneof![
        "[a-zA-Z0-9._%+'-]{1,20}@[a-zA-Z0-9-]{1,15}\\.[a-zA-Z]{2,6}",
        "[ \t\r\n]{0,2}[a-zA-Z0-9.+İ\"<>()\\[\\]\\\\,;: \t\r\n\0@-]{0,30}@[a-zA-Z0-9.İ@ \r\n\0-]{0,30}[ \t\r\n]{0,2}",
        ("[a-zA-Z0-9.]{1,64}", labels).prop_map(|(local, domain)| format!("{local}@{domain}.kz")),
        ".{0,300}",
    ]
}

/// Names: ordinary ones with accents and curly quotes, ones with line breaks and other
/// control characters, long ones, and arbitrary text.
fn name_input() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ \t]{0,3}[\\p{L} .’“”'-]{0,110}[ \t]{0,3}",
        "[\\p{L} ]{0,20}[\r\n\t\0\u{7f}\u{85}\u{2028}][\\p{L} ]{0,20}",
        ".{0,300}",
    ]
}

/// Markup fragments that, concatenated, make well-formed, broken and deeply nested HTML.
fn html_input() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("<script>alert(1)</script>".to_owned()),
        Just("<SCRIPT SRC=//evil.example/x.js>".to_owned()),
        Just("<scr".to_owned()),
        Just("ipt>".to_owned()),
        Just("<div>".to_owned()),
        Just("</div>".to_owned()),
        Just("<p onclick=\"x()\">".to_owned()),
        Just("<a href=\"javascript:alert(1)\">".to_owned()),
        Just("<img src=x onerror=alert(1)>".to_owned()),
        Just("<!--".to_owned()),
        Just("-->".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("&lt;script&gt;".to_owned()),
        Just("&amp;&nbsp;&#x3c;".to_owned()),
        Just("<svg><script>alert(1)</script></svg>".to_owned()),
        Just("<math><style><img src=x onerror=alert(1)>".to_owned()),
        "[a-zA-Z ’\n\t<>&/=\"']{0,12}",
    ];
    prop_oneof![
        prop::collection::vec(fragment, 0..40).prop_map(|parts| parts.concat()),
        (1usize..400).prop_map(|depth| format!(
            "{}x{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        )),
        ".{0,200}",
    ]
}

/// RSS and Atom documents with entries of every kind of junk, and plain bytes.
fn feed_input() -> impl Strategy<Value = Vec<u8>> {
    let text = "[a-zA-Z0-9 <>&;/:.\"'#\\-]{0,40}";
    let item = (text, text, text).prop_map(|(title, link, description)| {
        format!(
            "<item><title>{title}</title><link>{link}</link><description>{description}</description><guid>{link}</guid></item>"
        )
    });
    let entry = (text, text, text).prop_map(|(title, href, content)| {
        format!(
            "<entry><title type=\"html\">{title}</title><link href=\"{href}\"/><id>{href}</id><content type=\"html\">{content}</content></entry>"
        )
    });
    prop_oneof![
        prop::collection::vec(item, 0..6).prop_map(|items| {
            format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>{}</channel></rss>",
                items.concat()
            )
            .into_bytes()
        }),
        prop::collection::vec(entry, 0..6).prop_map(|entries| {
            format!(
                "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>T</title>{}</feed>",
                entries.concat()
            )
            .into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..2000),
    ]
}

/// CSV files as people export them: a header, then rows with good and bad addresses,
/// quotes, embedded commas and line breaks, formula-looking cells and invalid UTF-8.
fn csv_input() -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        "[a-z0-9.]{1,10}@[a-z]{1,8}\\.(org|kz)",
        "[A-Z][a-z]{0,10}( [A-Z][a-z]{0,10})?",
        Just(String::new()),
        Just("\"Quoted, with a comma\"".to_owned()),
        Just("\"A line\nbreak\"".to_owned()),
        Just("\"unterminated".to_owned()),
        Just("'=HYPERLINK(\"http://x\")".to_owned()),
        "[ -~]{0,20}",
    ];
    let row = prop::collection::vec(cell, 0..4).prop_map(|cells| cells.join(","));
    let header = prop_oneof![
        Just("email,name".to_owned()),
        Just("Name,EMAIL,extra".to_owned()),
        Just("\u{feff}email,name".to_owned()),
    ];
    (
        header,
        prop::collection::vec(row, 0..30),
        prop::option::of(any::<u8>()),
    )
        .prop_map(|(header, rows, stray)| {
            let mut bytes = format!("{header}\n{}", rows.join("\n")).into_bytes();
            if let Some(byte) = stray {
                // Now and then a byte that may not be UTF-8.
                let at = usize::from(byte) % (bytes.len() + 1);
                bytes.insert(at, byte.max(0x80));
            }
            bytes
        })
}

proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn an_accepted_email_address_is_one_clean_lower_case_address_that_parses_again(raw in email_input()) {
        if let Ok(email) = EmailAddress::parse(&raw) {
            let text = email.as_str();
            prop_assert_eq!(text.matches('@').count(), 1, "{:?}", text);
            prop_assert!(!text.chars().any(|c| c.is_whitespace() || c.is_control()), "{:?}", text);
            prop_assert_eq!(text.to_lowercase(), text);
            prop_assert!(text.len() <= EmailAddress::MAX_LEN, "{} bytes: {:?}", text.len(), text);
            prop_assert_eq!(EmailAddress::parse(text), Ok(email.clone()));
        }
    }

    #[test]
    fn an_accepted_name_is_trimmed_short_and_free_of_control_characters(raw in name_input()) {
        match SubscriberName::parse_optional(&raw) {
            Ok(Some(name)) => {
                let text = name.as_str();
                prop_assert!(!text.is_empty());
                prop_assert_eq!(text.trim(), text);
                prop_assert!(text.chars().count() <= SubscriberName::MAX_CHARS);
                prop_assert!(!text.chars().any(char::is_control), "{:?}", text);
                prop_assert_eq!(SubscriberName::parse_optional(text), Ok(Some(name.clone())));
            }
            Ok(None) => prop_assert!(raw.trim().is_empty(), "{:?} counted as no name", raw),
            Err(_) => prop_assert!(!raw.trim().is_empty()),
        }
    }

    #[test]
    fn a_confirmation_token_parses_exactly_when_it_is_43_base64url_characters(
        raw in prop_oneof!["[A-Za-z0-9_-]{38,48}", "[A-Za-z0-9_+/=%. -]{43}", ".{0,60}"]
    ) {
        let well_formed = raw.len() == 43
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(ConfirmationToken::parse(&raw).is_ok(), well_formed, "{:?}", raw);
    }

    #[test]
    fn a_signed_token_verifies_to_its_id_and_any_one_character_change_is_rejected(
        secret in ".{1,80}",
        purpose in "[a-z:-]{1,20}",
        id in any::<i64>(),
        at in any::<prop::sample::Index>(),
        replacement in any::<char>(),
    ) {
        let signer = Signer::new(&secret);
        let token = signer.sign(&purpose, id);
        prop_assert_eq!(signer.verify(&purpose, &token), Ok(id));
        let mut chars: Vec<char> = token.chars().collect();
        let at = at.index(chars.len());
        prop_assume!(chars[at] != replacement);
        chars[at] = replacement;
        let changed: String = chars.into_iter().collect();
        prop_assert!(signer.verify(&purpose, &changed).is_err(), "{} accepted", changed);
    }

    #[test]
    fn verifying_any_string_never_panics(token in ".{0,120}") {
        let signer = Signer::new("0123456789abcdef0123456789abcdef");
        match signer.verify("unsubscribe", &token) {
            Ok(_) => prop_assert!(false, "a random token verified: {:?}", token),
            Err(TokenError::Malformed | TokenError::BadSignature) => {}
        }
    }

    #[test]
    fn shortening_keeps_a_prefix_within_the_limit_plus_an_ellipsis(
        text in ".{0,200}",
        max in 0usize..120,
    ) {
        let short = shorten(&text, max);
        prop_assert!(short.chars().count() <= max + 1, "{:?}", short);
        if text.chars().count() <= max {
            prop_assert_eq!(short, text);
        } else {
            let kept = short.strip_suffix('…').expect("an ellipsis marks the cut");
            prop_assert!(text.starts_with(kept), "{:?} is not a prefix of {:?}", kept, text);
        }
    }

    #[test]
    fn sanitised_html_never_carries_a_script_and_text_is_one_trimmed_line(html in html_input()) {
        let clean = sanitize_html(&html);
        prop_assert_eq!(dangerous_markup(&clean), None, "{}", clean);
        // The checker itself sees what it looks for.
        prop_assert!(dangerous_markup("<p title=\"<x>\"><a href=\" javascript:x\">").is_some());
        let text = html_to_text(&html);
        prop_assert_eq!(text.trim(), text.as_str());
        prop_assert!(!text.contains(['\n', '\r', '\t']) && !text.contains("  "), "{:?}", text);
    }
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn parsing_any_feed_never_panics_and_keeps_only_titled_http_articles(bytes in feed_input()) {
        if let Ok((articles, _skipped)) = parse_feed(&bytes) {
            for article in articles {
                prop_assert!(!article.title.trim().is_empty());
                prop_assert!(!article.title.chars().any(char::is_control), "{:?}", article.title);
                prop_assert!(
                    article.url.starts_with("http://") || article.url.starts_with("https://"),
                    "{}", article.url
                );
                let body = article.body.unwrap_or_default().to_lowercase();
                prop_assert!(!body.contains("<script"), "{}", body);
            }
        }
    }
}

proptest! {
    // Each case migrates a fresh database: fewer cases.
    #![proptest_config(cases(64))]

    #[test]
    fn an_import_accounts_for_every_data_row_and_stores_exactly_what_it_reports(csv in csv_input()) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("import.db").display().to_string()).unwrap();
        let rows = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(csv.as_slice())
            .records()
            .count();
        match csv_io::import(&db, csv.as_slice()) {
            Ok(report) => {
                prop_assert_eq!(
                    report.imported + report.already_present + report.rejected,
                    rows,
                    "{:?}", report
                );
                let stored = db.run_blocking(newsletter::db::subscribers::all).unwrap();
                prop_assert_eq!(stored.len(), report.imported);
                for subscriber in stored {
                    prop_assert_eq!(subscriber.status.as_str(), "confirmed");
                    prop_assert!(EmailAddress::parse(&subscriber.email).is_ok(), "{}", subscriber.email);
                }
            }
            // Only a file without a usable header row is refused as a whole.
            Err(e) => prop_assert!(format!("{e:#}").contains("header"), "{e:#}"),
        }
    }
}

#[test]
fn every_generated_confirmation_token_parses_and_hashes_to_64_hex_digits() {
    for _ in 0..2000 {
        let token = ConfirmationToken::generate();
        assert_eq!(ConfirmationToken::parse(token.as_str()), Ok(token.clone()));
        let hash = token.hash();
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

/// Inbound mail: report-shaped messages with random fields, statuses and nesting, and
/// arbitrary bytes.
fn inbound_mail_input() -> impl Strategy<Value = Vec<u8>> {
    let field = "[A-Za-z-]{1,20}: [ -~]{0,60}";
    let report = (
        prop::collection::vec(field, 0..8),
        "[245]\\.[0-9]{1,3}\\.[0-9]{1,3}",
        "(failed|delayed|delivered|[a-z]{0,8})",
        "[a-z0-9.+-]{0,20}@[a-z0-9.-]{0,20}",
        0usize..12,
    )
        .prop_map(|(fields, status, action, rcpt, depth)| {
            let mut raw = String::from(
                "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+d1-00@news.example.org\r\n\
                 Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\n",
            );
            for i in 0..depth {
                raw.push_str(&format!(
                    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
                ));
            }
            raw.push_str("Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n");
            raw.push_str(&format!(
                "Final-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\nStatus: {status}\r\n"
            ));
            for f in fields {
                raw.push_str(&f);
                raw.push_str("\r\n");
            }
            raw.into_bytes()
        });
    prop_oneof![report, prop::collection::vec(any::<u8>(), 0..2000)]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn recognising_any_inbound_mail_never_panics_and_names_at_most_twenty_readers(raw in inbound_mail_input()) {
        use newsletter::mail::inbound::{Verdict, recognise};
        let bounce = newsletter::config::BounceAddress::parse("bounces@news.example.org").unwrap();
        if let Verdict::Feedback(items) = recognise(&raw, Some(&bounce)) {
            prop_assert!(!items.is_empty() && items.len() <= 20);
            for item in items {
                prop_assert_eq!(item.source, "mail");
            }
        }
    }
}
