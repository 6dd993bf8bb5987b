//! What the world tells us about our mail after it left: bounces, complaints,
//! unsubscribe requests by mail.
//!
//! The policy: a hard bounce marks the reader bounced at once (as Gmail and Yahoo ask of
//! bulk senders); soft bounces on [`SOFT_BOUNCE_DIGESTS`] digests in a row do the same;
//! a complaint unsubscribes the reader from everything; an unsubscribe request by mail
//! unsubscribes them from the newsletter it came from. Every event is kept, for the
//! admin pages and the soft-bounce rule. Whatever names a reader we do not have (a
//! forged tag, a stranger's address, a reader of another site) changes nothing.

use chrono::NaiveDateTime;

use crate::db::{self, Conn, feedback_events, subscribers};
use crate::domain::{EmailAddress, Signer};
use crate::mail::verp::Sent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackKind {
    HardBounce,
    SoftBounce,
    Complaint,
    Unsubscribe,
}

impl FeedbackKind {
    /// The value of `feedback_events.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::HardBounce => "hard_bounce",
            FeedbackKind::SoftBounce => "soft_bounce",
            FeedbackKind::Complaint => "complaint",
            FeedbackKind::Unsubscribe => "unsubscribe",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A VERP tag taken from our own return path (still to be verified by `apply`).
    Tag(String),
    /// The reader's address as the report names it.
    Address(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub recipient: Recipient,
    pub kind: FeedbackKind,
    /// The digest it is about, when the report says (VERP tag, or our Message-ID).
    pub digest_id: Option<i64>,
    /// The server's or provider's own words (diagnostic code, complaint type), bounded.
    pub detail: String,
    /// Where it came from: "mail", "ses", "postmark", "mailgun", "sendgrid".
    pub source: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Recorded,
    UnknownReader,
}

/// Soft bounces on this many of a reader's digests in a row mark them bounced.
pub const SOFT_BOUNCE_DIGESTS: i64 = 3;

/// The most of a report's own words kept with an event.
pub const DETAIL_MAX_CHARS: usize = 500;

/// Applies the policy in one exclusive transaction of the caller's and records the
/// event. A forged tag or an address we do not know: `UnknownReader`, nothing changed.
///
/// A tag is checked with the secret it was signed with, which this function does not
/// have: it refuses every tag (`UnknownReader`). Mail in, where tags come from, calls
/// [`apply_with`] with the app's signer.
pub fn apply(conn: &mut Conn, feedback: &Feedback, now: NaiveDateTime) -> anyhow::Result<Applied> {
    apply_with(conn, None, feedback, now)
}

/// [`apply`], checking a [`Recipient::Tag`] with `signer` (`None`: tags are refused).
/// A tag's digest wins over `feedback.digest_id`.
pub fn apply_with(
    conn: &mut Conn,
    signer: Option<&Signer>,
    feedback: &Feedback,
    now: NaiveDateTime,
) -> anyhow::Result<Applied> {
    let (reader, digest_id) = match &feedback.recipient {
        Recipient::Tag(tag) => {
            let Some(sent) = signer.and_then(|signer| Sent::verify(signer, tag)) else {
                return Ok(Applied::UnknownReader);
            };
            (
                ReaderRef::Id(sent.reader()),
                sent.digest().or(feedback.digest_id),
            )
        }
        Recipient::Address(address) => {
            let Ok(address) = EmailAddress::parse(address.trim()) else {
                return Ok(Applied::UnknownReader);
            };
            (ReaderRef::Address(address), feedback.digest_id)
        }
    };
    db::exclusive(conn, |conn| {
        let found = match &reader {
            ReaderRef::Id(id) => subscribers::find(conn, *id)?,
            ReaderRef::Address(address) => subscribers::find_by_email(conn, address)?,
        };
        let Some(reader) = found else {
            return Ok(Applied::UnknownReader);
        };
        let detail = bounded(&feedback.detail);
        feedback_events::insert(
            conn,
            &feedback_events::NewEvent {
                subscriber_id: reader.id,
                digest_id,
                kind: feedback.kind.as_str(),
                detail: &detail,
                source: feedback.source,
                created_at: now,
            },
        )?;
        match feedback.kind {
            FeedbackKind::HardBounce => {
                super::bounces::mark_bounced(conn, reader.id, now)?;
            }
            FeedbackKind::SoftBounce => {
                if digest_id.is_some()
                    && feedback_events::soft_bounced_on_last_digests(
                        conn,
                        reader.id,
                        SOFT_BOUNCE_DIGESTS,
                    )?
                {
                    super::bounces::mark_bounced(conn, reader.id, now)?;
                }
            }
            FeedbackKind::Complaint => leave_everything(conn, reader.id, now)?,
            FeedbackKind::Unsubscribe => leave_newsletter(conn, reader.id, digest_id, now)?,
        }
        Ok(Applied::Recorded)
    })
}

enum ReaderRef {
    Id(i64),
    Address(EmailAddress),
}

/// A complaint: the reader leaves every list at once.
fn leave_everything(conn: &mut Conn, reader: i64, now: NaiveDateTime) -> anyhow::Result<()> {
    // Every newsletter at once.
    super::subscriptions::unsubscribe_from_everything(conn, reader, now)?;
    Ok(())
}

/// An unsubscribe request by mail: the reader leaves the newsletter the message came
/// from (`digest`'s; the default one when the request names no digest), and only that
/// one, as with the unsubscribe link.
fn leave_newsletter(
    conn: &mut Conn,
    reader: i64,
    digest: Option<i64>,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    let newsletter = match digest {
        Some(id) => crate::db::digests::newsletter_of(conn, id)?,
        None => None,
    }
    .unwrap_or(crate::db::newsletters::DEFAULT_NEWSLETTER_ID);
    super::subscriptions::leave_newsletter_in(conn, reader, newsletter, now)?;
    Ok(())
}

/// `detail` on one line, without control characters, at most [`DETAIL_MAX_CHARS`].
fn bounded(detail: &str) -> String {
    let mut line: String = detail
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(DETAIL_MAX_CHARS + 1)
        .collect();
    if line.chars().count() > DETAIL_MAX_CHARS {
        line = line.chars().take(DETAIL_MAX_CHARS - 1).collect();
        line.push('…');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_kept_on_one_bounded_line() {
        assert_eq!(
            bounded("550 5.1.1\r\n  user\tunknown\u{7}"),
            "550 5.1.1 user unknown"
        );
        let long = bounded(&"x".repeat(10_000));
        assert_eq!(long.chars().count(), DETAIL_MAX_CHARS);
        assert!(long.ends_with('…'));
    }
}
