//! What the integration tests share: the app in-process ([`app`]) or as the real binary
//! ([`service`], [`workspace`]), on the database the run asks for ([`database`]), a real
//! SMTP server ([`smtp_server`]), and the small helpers below.
// Each test target uses a part of this module.
#![allow(dead_code, unused_imports)]

pub mod app;
pub mod database;
pub mod news;
pub mod service;
pub mod smtp_server;
pub mod workspace;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

pub use app::{
    TestApp, spawn_app, spawn_app_on_database, spawn_app_on_smtp, spawn_app_with,
    spawn_web_only_app,
};
pub use database::TestDatabase;
pub use service::Service;
pub use smtp_server::SmtpServer;
pub use workspace::Workspace;

/// The admin token every app is started with.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// The first URL in `text` that starts with `prefix`, up to the end of the token.
pub fn link_in(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no link starting {prefix} in:\n{text}"));
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .next()
        .expect("a link")
        .to_owned()
}

/// Form-encodes pairs the way a browser does.
pub fn serde_urlencoded_pair(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Polls `check` every 20 ms until it gives `Some`; fails the test after `timeout`.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many messages each envelope recipient received.
pub fn mails_per_recipient(smtp: &SmtpServer) -> HashMap<String, usize> {
    let mut per_recipient = HashMap::new();
    for mail in smtp.messages() {
        for to in mail.to {
            *per_recipient.entry(to).or_insert(0) += 1;
        }
    }
    per_recipient
}

/// What the server said before closing, as a status code (0 when it closed without an
/// answer); `None` when it still holds the connection open after `wait`.
pub async fn answer_before_close(mut stream: TcpStream, wait: Duration) -> Option<u16> {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    match read {
        Err(_) => None,
        Ok(_) => Some(
            String::from_utf8_lossy(&answer)
                .strip_prefix("HTTP/1.1 ")
                .and_then(|rest| rest.get(..3))
                .and_then(|code| code.parse().ok())
                .unwrap_or(0),
        ),
    }
}
