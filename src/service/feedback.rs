//! What the world tells us about our mail after it left: bounces, complaints,
//! unsubscribe requests by mail.
//!
//! (A minimal `apply` for the provider webhooks: the reader found by address, a hard
//! bounce marks them bounced, a complaint or unsubscribe request unsubscribes them, a
//! soft bounce changes nothing. The bounce-mail work replaces it with the full policy.)

use chrono::NaiveDateTime;

use crate::db::{self, Conn, subscribers};
use crate::domain::EmailAddress;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackKind {
    HardBounce,
    SoftBounce,
    Complaint,
    Unsubscribe,
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

/// Applies the policy in one exclusive transaction of the caller's and records the
/// event. A forged tag or an address we do not know: `UnknownReader`, nothing changed.
pub fn apply(conn: &mut Conn, feedback: &Feedback, now: NaiveDateTime) -> anyhow::Result<Applied> {
    let Recipient::Address(address) = &feedback.recipient else {
        return Ok(Applied::UnknownReader);
    };
    let Ok(email) = EmailAddress::parse(address) else {
        return Ok(Applied::UnknownReader);
    };
    let Some(reader) = subscribers::find_by_email(conn, &email)? else {
        return Ok(Applied::UnknownReader);
    };
    match feedback.kind {
        FeedbackKind::HardBounce => db::exclusive(conn, |conn| {
            if subscribers::mark_bounced(conn, reader.id)? {
                subscribers::end_open_tokens(conn, reader.id, now)?;
            }
            Ok(())
        })?,
        FeedbackKind::Complaint | FeedbackKind::Unsubscribe => {
            crate::service::subscriptions::unsubscribe(conn, reader.id, now)?;
        }
        FeedbackKind::SoftBounce => {}
    }
    Ok(Applied::Recorded)
}
