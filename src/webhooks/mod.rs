//! Provider webhooks (issue 13): what Amazon SES (through SNS), Postmark, Mailgun and
//! SendGrid tell us about our mail, each request verified the way its provider
//! documents before any of it is believed, and turned into [`Feedback`].
//!
//! The web handlers (`web::webhooks`) read the body and hand the verified feedback to
//! [`crate::service::feedback::apply`]; this module owns the checks and the parsing.

pub mod mailgun;
pub mod postmark;
pub mod sendgrid;
pub mod ses;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::service::feedback::{Feedback, FeedbackKind, Recipient};

/// The most of a provider's words kept with one event.
pub const DETAIL_CHARS: usize = 500;

/// Why a webhook request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Unsigned, wrongly signed, stale or replayed: 401, nothing changed.
    Unauthorized(&'static str),
    /// Signed, but not what the provider sends (bad JSON, a missing field): 400.
    BadRequest(String),
}

impl Refusal {
    fn bad(what: impl std::fmt::Display) -> Refusal {
        Refusal::BadRequest(what.to_string())
    }
}

/// One piece of feedback about the address `address`.
fn feedback(address: &str, kind: FeedbackKind, detail: &str, source: &'static str) -> Feedback {
    Feedback {
        recipient: Recipient::Address(address.trim().to_owned()),
        kind,
        digest_id: None,
        detail: bounded(detail),
        source,
    }
}

/// `text` on one line, cut at [`DETAIL_CHARS`] characters.
fn bounded(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(DETAIL_CHARS)
        .collect()
}

/// Whether a signed timestamp (Unix seconds) is within `window` of `now` either way.
fn fresh(timestamp: i64, now: i64, window: Duration) -> bool {
    let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    (now - window..=now + window).contains(&timestamp)
}

/// The current Unix time in seconds.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What the webhooks keep between requests: the nonces seen lately and the SNS
/// certificates fetched. One per app.
pub struct Webhooks {
    pub seen: SeenRecently,
    pub sns: ses::SnsClient,
}

impl Webhooks {
    pub fn new() -> anyhow::Result<Webhooks> {
        Ok(Webhooks {
            seen: SeenRecently::default(),
            sns: ses::SnsClient::new()?,
        })
    }
}

/// Nonces (Mailgun tokens, SNS message ids, SendGrid signatures) seen within their
/// freshness window, so a captured request sent again is refused. Kept in memory: a
/// restart forgets them, but the window bounds how long a capture could be replayed,
/// and only requests whose signature checked out are remembered.
#[derive(Default)]
pub struct SeenRecently {
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    nonces: HashMap<String, Instant>,
    last_sweep: Option<Instant>,
}

impl SeenRecently {
    /// `true` the first time `key` is offered within `window`; it is then remembered
    /// for twice the window (a timestamp may lie ahead of our clock by a window), or
    /// until [`SeenRecently::forget`].
    pub fn first_time(&self, key: String, window: Duration) -> bool {
        let now = Instant::now();
        let keep = window * 2;
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        // Old nonces are swept at most once a second, not on every request.
        if seen
            .last_sweep
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            seen.nonces.retain(|_, at| now.duration_since(*at) < keep);
            seen.last_sweep = Some(now);
        }
        match seen.nonces.get(&key) {
            Some(at) if now.duration_since(*at) < keep => false,
            _ => {
                seen.nonces.insert(key, now);
                true
            }
        }
    }

    /// Forgets `key`, when the request it came with could not be stored: the provider's
    /// retry must be let in.
    pub fn forget(&self, key: &str) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .nonces
            .remove(key);
    }
}

/// Constant-time equality of two secrets (their lengths may leak, not their bytes).
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    given.len() == expected.len() && bool::from(given.ct_eq(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_one_line_and_bounded() {
        assert_eq!(
            bounded("550 5.1.1\r\n  no such\tuser"),
            "550 5.1.1 no such user"
        );
        assert_eq!(bounded(&"x".repeat(2000)).chars().count(), DETAIL_CHARS);
    }

    #[test]
    fn a_nonce_is_let_in_once_until_forgotten() {
        let seen = SeenRecently::default();
        let window = Duration::from_secs(60);
        assert!(seen.first_time("a".into(), window));
        assert!(!seen.first_time("a".into(), window));
        assert!(seen.first_time("b".into(), window));
        seen.forget("a");
        assert!(seen.first_time("a".into(), window));
        let short = Duration::from_millis(1);
        assert!(seen.first_time("c".into(), short));
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            seen.first_time("c".into(), short),
            "remembered past twice its window"
        );
    }

    #[test]
    fn freshness_is_a_window_both_ways() {
        let window = Duration::from_secs(900);
        assert!(fresh(1000, 1000, window));
        assert!(fresh(1000 - 900, 1000, window));
        assert!(!fresh(1000 - 901, 1000, window));
        assert!(!fresh(1000 + 901, 1000, window));
    }
}
