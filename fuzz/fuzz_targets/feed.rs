//! `parse_feed` on any bytes: never panics, and keeps only articles with a title and an
//! http(s) link, their bodies free of scripts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsletter::feed::parse_feed;

fuzz_target!(|bytes: &[u8]| {
    if let Ok((articles, _skipped)) = parse_feed(bytes) {
        for article in articles {
            assert!(!article.title.trim().is_empty());
            assert!(
                !article.title.chars().any(char::is_control),
                "{:?}",
                article.title
            );
            assert!(
                article.url.starts_with("http://") || article.url.starts_with("https://"),
                "{}",
                article.url
            );
            let body = article.body.unwrap_or_default().to_lowercase();
            assert!(!body.contains("<script"), "{body}");
        }
    }
});
