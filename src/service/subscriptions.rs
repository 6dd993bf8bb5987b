//! A reader's way through the list: sign-up (double opt-in, with a daily cap of
//! confirmation mails per address), the confirmation link, leaving, the admin's resend
//! and erasure.
//!
//! Each change runs in one exclusive transaction ([`db::exclusive`]), so two requests
//! for one address, on one instance or several, take turns.

use chrono::NaiveDateTime;

use crate::db::subscribers::{self, StoredToken, Subscriber};
use crate::db::{self, Conn, after, deliveries, newsletters, outgoing_emails, subscriptions};
use crate::domain::{ConfirmationToken, EmailAddress, SubscriberName, SubscriberStatus};

/// What a sign-up did. The page shown is the same for all but `TooManyMails`, so the
/// form never tells whether an address is already subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupOutcome {
    /// A confirmation mail is queued.
    ConfirmationQueued,
    /// Already confirmed: nothing to do.
    AlreadyConfirmed,
    /// This address was asked for as many confirmations today as allowed.
    TooManyMails,
}

impl SignupOutcome {
    /// The outcome as the metrics' `outcome` label.
    pub fn as_label(self) -> &'static str {
        match self {
            SignupOutcome::ConfirmationQueued => "queued",
            SignupOutcome::AlreadyConfirmed => "already_confirmed",
            SignupOutcome::TooManyMails => "too_many_mails",
        }
    }
}

/// Records a sign-up and queues its confirmation mail. Run it in an exclusive
/// transaction ([`db::exclusive`], or a group of sign-ups: [`db::Db::write_grouped`]),
/// so what it reads still holds when it writes.
pub fn sign_up(
    conn: &mut Conn,
    email: &EmailAddress,
    name: Option<&SubscriberName>,
    max_mails_per_day: u32,
    now: NaiveDateTime,
) -> anyhow::Result<SignupOutcome> {
    // The daily limit applies whatever the address's status, so a 429 tells nobody
    // whether an address is subscribed.
    let day_ago = now - chrono::Duration::days(1);
    if outgoing_emails::confirmation_requests_since(conn, email.as_str(), day_ago)?
        >= i64::from(max_mails_per_day)
    {
        return Ok(SignupOutcome::TooManyMails);
    }
    let existing = subscribers::find_by_email(conn, email)?;
    if let Some(subscriber) = existing
        .as_ref()
        .filter(|s| s.status() == SubscriberStatus::Confirmed)
    {
        // Nothing to send, but the request counts towards the limit like any other.
        outgoing_emails::record_unsent_confirmation(conn, subscriber.id, email.as_str(), now)?;
        return Ok(SignupOutcome::AlreadyConfirmed);
    }
    let name = name.map(SubscriberName::as_str);
    let subscriber_id = match existing {
        None => subscribers::insert_pending(conn, email, name, now)?,
        Some(subscriber) => {
            // Pending: a fresh link. Unsubscribed or bounced: back through the opt-in.
            // The name stays as it is: anyone can type any address into the form,
            // so an unconfirmed form never changes what is stored for a reader.
            subscribers::reopen(conn, subscriber.id, now)?;
            subscriber.id
        }
    };
    // The newsletter chosen waits for the confirmation, as the reader does.
    subscriptions::choose(conn, subscriber_id, newsletters::DEFAULT_NEWSLETTER_ID, now)?;
    outgoing_emails::enqueue_confirmation(conn, subscriber_id, email.as_str(), name, now)?;
    Ok(SignupOutcome::ConfirmationQueued)
}

/// What a confirmation token leads to.
#[derive(Debug, Clone)]
pub enum TokenLookup {
    /// The token works; the subscriber it belongs to.
    Valid(Subscriber),
    /// Used before, and the subscriber is confirmed: confirming again changes nothing.
    AlreadyConfirmed(Subscriber),
    /// Past its expiry, or used and no longer leading to a subscription.
    Expired,
    Unknown,
}

impl TokenLookup {
    /// What a stored token (or none) leads to at `now`.
    fn of(token: Option<StoredToken>, now: NaiveDateTime) -> TokenLookup {
        let Some(token) = token else {
            return TokenLookup::Unknown;
        };
        let confirmed = token.subscriber.status() == SubscriberStatus::Confirmed;
        match (token.used_at, token.expires_at <= now) {
            (Some(_), _) | (None, false) if confirmed => {
                TokenLookup::AlreadyConfirmed(token.subscriber)
            }
            (Some(_), _) | (None, true) => TokenLookup::Expired,
            (None, false) if token.subscriber.status() == SubscriberStatus::Pending => {
                TokenLookup::Valid(token.subscriber)
            }
            // Unsubscribed or bounced since this link was sent: it no longer subscribes.
            (None, false) => TokenLookup::Expired,
        }
    }
}

/// Looks a confirmation token up by its hash; changes nothing.
pub fn lookup_token(
    conn: &mut Conn,
    token_hash: &str,
    now: NaiveDateTime,
) -> anyhow::Result<TokenLookup> {
    Ok(TokenLookup::of(
        subscribers::find_token(conn, token_hash)?,
        now,
    ))
}

/// Confirms the subscriber behind a token; idempotent. Returns what the token led to
/// before this call, so the caller can show the right page.
pub fn confirm(
    conn: &mut Conn,
    token_hash: &str,
    now: NaiveDateTime,
) -> anyhow::Result<TokenLookup> {
    db::exclusive(conn, |conn| {
        let token = subscribers::find_token(conn, token_hash)?;
        // The name typed with the sign-up this link answers, if one was.
        let typed_name = token.as_ref().and_then(|t| t.subscriber_name.clone());
        let lookup = TokenLookup::of(token, now);
        if let TokenLookup::Valid(subscriber) = &lookup {
            let name = typed_name.or_else(|| subscriber.name.clone());
            subscribers::mark_confirmed(conn, subscriber.id, name.as_deref(), now)?;
            // Confirming turns on every newsletter the reader chose.
            subscriptions::confirm_pending(conn, subscriber.id, now)?;
            // The other links of this sign-up have done their work.
            subscribers::end_open_tokens(conn, subscriber.id, now)?;
        }
        Ok(lookup)
    })
}

/// The subscriber a claimed confirmation mail is for, with a freshly minted token, if
/// the mail is still wanted (the subscriber is pending). The token is minted at send
/// time, so no usable token ever waits in the queue table, and the link's lifetime
/// starts when it is mailed. Run it in the claim's exclusive transaction: a reader who
/// leaves meanwhile either leaves before (no link is minted) or after (leaving ends the
/// link minted here).
pub fn mint_confirmation_link(
    conn: &mut Conn,
    subscriber_id: Option<i64>,
    typed_name: Option<&str>,
    now: NaiveDateTime,
    ttl: std::time::Duration,
) -> anyhow::Result<Option<(Subscriber, ConfirmationToken)>> {
    let subscriber = match subscriber_id {
        Some(id) => subscribers::find(conn, id)?,
        None => None,
    };
    match subscriber {
        Some(s) if s.status() == SubscriberStatus::Pending => {
            let token = ConfirmationToken::generate();
            subscribers::insert_confirmation_token(
                conn,
                s.id,
                &token.hash(),
                typed_name,
                now,
                after(now, ttl),
            )?;
            Ok(Some((s, token)))
        }
        _ => Ok(None),
    }
}

/// Unsubscribes from everything; idempotent. `None` when there is no such subscriber;
/// otherwise the subscriber, and whether this call unsubscribed them (`false`: they had
/// left before).
pub fn unsubscribe(
    conn: &mut Conn,
    id: i64,
    now: NaiveDateTime,
) -> anyhow::Result<Option<(Subscriber, bool)>> {
    db::exclusive(conn, |conn| unsubscribe_from_everything(conn, id, now))
}

/// Takes the reader off every newsletter and marks them unsubscribed: the one way out
/// of everything (the unsubscribe link, the preferences page, complaints). Run it in an
/// exclusive transaction; [`unsubscribe`] is this in one.
pub fn unsubscribe_from_everything(
    conn: &mut Conn,
    id: i64,
    now: NaiveDateTime,
) -> anyhow::Result<Option<(Subscriber, bool)>> {
    let Some(subscriber) = subscribers::find(conn, id)? else {
        return Ok(None);
    };
    let leaving = subscriber.status() != SubscriberStatus::Unsubscribed;
    if leaving {
        subscribers::mark_unsubscribed(conn, id, now)?;
        subscriptions::leave_all(conn, id, now)?;
        // A confirmation still queued must not go out after the reader left, and
        // one already mailed must not bring them back (a link ended here is refused
        // even once the address signs up again; only links mailed after that work).
        outgoing_emails::cancel_queued_for(conn, id)?;
        subscribers::end_open_tokens(conn, id, now)?;
    }
    Ok(subscribers::find(conn, id)?.map(|subscriber| (subscriber, leaving)))
}

/// Queues a fresh confirmation for a pending subscriber (the admin's "resend");
/// `false` when the subscriber is not pending.
pub fn resend_confirmation(conn: &mut Conn, id: i64, now: NaiveDateTime) -> anyhow::Result<bool> {
    db::exclusive(conn, |conn| {
        let Some(subscriber) = subscribers::find(conn, id)? else {
            return Ok(false);
        };
        if subscriber.status() != SubscriberStatus::Pending {
            return Ok(false);
        }
        outgoing_emails::enqueue_confirmation(conn, id, &subscriber.email, None, now)?;
        Ok(true)
    })
}

/// Erases a subscriber and everything about them (tokens, queued mail, deliveries) for
/// a GDPR erasure request, keeping the digests' counts right. `false` when there was no
/// such subscriber.
pub fn erase(conn: &mut Conn, id: i64) -> anyhow::Result<bool> {
    db::exclusive(conn, |conn| {
        deliveries::uncount_for_subscriber(conn, id)?;
        subscribers::delete(conn, id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    fn at(hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 29)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .expect("a valid time")
    }

    fn token(status: SubscriberStatus, used: bool, expires_in_hours: i64) -> StoredToken {
        StoredToken {
            expires_at: at(12) + Duration::hours(expires_in_hours),
            used_at: used.then(|| at(11)),
            subscriber_name: None,
            subscriber: Subscriber {
                id: 7,
                email: "dana.abenova@example.kz".into(),
                name: None,
                status,
                created_at: at(10),
                updated_at: at(10),
                confirmed_at: None,
                unsubscribed_at: None,
                hard_bounces: 0,
            },
        }
    }

    fn lookup(status: SubscriberStatus, used: bool, expires_in_hours: i64) -> &'static str {
        match TokenLookup::of(Some(token(status, used, expires_in_hours)), at(12)) {
            TokenLookup::Valid(_) => "valid",
            TokenLookup::AlreadyConfirmed(_) => "already confirmed",
            TokenLookup::Expired => "expired",
            TokenLookup::Unknown => "unknown",
        }
    }

    #[test]
    fn a_token_leads_where_its_state_and_its_readers_status_say() {
        use SubscriberStatus::*;
        assert!(matches!(
            TokenLookup::of(None, at(12)),
            TokenLookup::Unknown
        ));
        // A fresh, unused link of a pending reader is the only one that confirms.
        assert_eq!(lookup(Pending, false, 1), "valid");
        // Expiry is exclusive: a link is dead at its expiry time.
        assert_eq!(lookup(Pending, false, 0), "expired");
        assert_eq!(lookup(Pending, false, -1), "expired");
        assert_eq!(lookup(Pending, true, 1), "expired");
        // A confirmed reader's used or unexpired link answers "already confirmed" ...
        assert_eq!(lookup(Confirmed, true, 1), "already confirmed");
        assert_eq!(lookup(Confirmed, true, -1), "already confirmed");
        assert_eq!(lookup(Confirmed, false, 1), "already confirmed");
        // ... but an unused link past its expiry does not.
        assert_eq!(lookup(Confirmed, false, -1), "expired");
        // A link mailed before the reader left or bounced no longer subscribes.
        for status in [Unsubscribed, Bounced] {
            assert_eq!(lookup(status, false, 1), "expired", "{status:?}");
            assert_eq!(lookup(status, true, 1), "expired", "{status:?}");
        }
    }
}
