//! A reader's way through the list: sign-up (double opt-in, with a daily cap of
//! confirmation mails per address), the confirmation link, leaving, the admin's resend
//! and erasure.
//!
//! Each change runs in one exclusive transaction ([`db::exclusive`]), so two requests
//! for one address, on one instance or several, take turns.

use chrono::NaiveDateTime;

use crate::i18n::Language;

use crate::db::subscribers::{self, StoredToken, Subscriber};
use crate::db::{self, Conn, after, deliveries, newsletters, outgoing_emails, subscriptions};
use crate::domain::{
    ConfirmationToken, EmailAddress, SubscriberName, SubscriberStatus, SubscriptionStatus,
};

/// What a sign-up did. The page shown is the same for all but `TooManyMails` and
/// `Refused`, so the form never tells whether an address is already subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupOutcome {
    /// A confirmation mail is queued (for a new reader, or for newsletters a confirmed
    /// reader adds: nothing changes for them until they confirm).
    ConfirmationQueued,
    /// Already confirmed for everything chosen: nothing to do.
    AlreadyConfirmed,
    /// This address was asked for as many confirmations today as allowed.
    TooManyMails,
    /// The newsletters chosen cannot be signed up for; nothing was written.
    Refused(ChoiceError),
}

impl SignupOutcome {
    /// The outcome as the metrics' `outcome` label.
    pub fn as_label(self) -> &'static str {
        match self {
            SignupOutcome::ConfirmationQueued => "queued",
            SignupOutcome::AlreadyConfirmed => "already_confirmed",
            SignupOutcome::TooManyMails => "too_many_mails",
            SignupOutcome::Refused(_) => "invalid",
        }
    }
}

/// Why the newsletters a sign-up names cannot be signed up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceError {
    /// Several newsletters are offered and none was chosen.
    NoneChosen,
    /// A newsletter that is not offered (unknown, private or archived).
    NotOffered,
}

impl ChoiceError {
    /// What the form shows beside the list.
    pub fn message(self) -> &'static str {
        match self {
            ChoiceError::NoneChosen => "Please choose at least one newsletter.",
            ChoiceError::NotOffered => {
                "One of the newsletters chosen is not offered here; please choose from the list."
            }
        }
    }
}

/// The ids of the newsletters `chosen` (slugs, as posted) names, if a reader may sign up
/// for them: each public and not archived. None chosen means the one offered, when only
/// one is (the form then shows no list, as before there were several).
pub fn resolve_choice(
    conn: &mut Conn,
    chosen: &[String],
) -> anyhow::Result<Result<Vec<i64>, ChoiceError>> {
    let offered = newsletters::offered(conn)?;
    if chosen.is_empty() {
        return Ok(match offered.as_slice() {
            [only] => Ok(vec![only.id]),
            _ => Err(ChoiceError::NoneChosen),
        });
    }
    let mut ids = Vec::with_capacity(chosen.len());
    for slug in chosen {
        match offered.iter().find(|n| n.slug == *slug) {
            Some(newsletter) if !ids.contains(&newsletter.id) => ids.push(newsletter.id),
            Some(_) => {}
            None => return Ok(Err(ChoiceError::NotOffered)),
        }
    }
    Ok(Ok(ids))
}

/// Records a sign-up for the one newsletter offered (see [`sign_up_for`]).
pub fn sign_up(
    conn: &mut Conn,
    email: &EmailAddress,
    name: Option<&SubscriberName>,
    max_mails_per_day: u32,
    now: NaiveDateTime,
) -> anyhow::Result<SignupOutcome> {
    sign_up_for(conn, email, name, &[], None, max_mails_per_day, now)
}

/// Records a sign-up for the newsletters `chosen` (slugs) and queues its confirmation
/// mail. Run it in an exclusive transaction ([`db::exclusive`], or a group of sign-ups:
/// [`db::Db::write_grouped`]), so what it reads still holds when it writes.
pub fn sign_up_for(
    conn: &mut Conn,
    email: &EmailAddress,
    name: Option<&SubscriberName>,
    chosen: &[String],
    language: Option<Language>,
    max_mails_per_day: u32,
    now: NaiveDateTime,
) -> anyhow::Result<SignupOutcome> {
    let newsletter_ids = match resolve_choice(conn, chosen)? {
        Ok(ids) => ids,
        Err(refused) => return Ok(SignupOutcome::Refused(refused)),
    };
    // The daily limit applies whatever the address's status, so a 429 tells nobody
    // whether an address is subscribed.
    let day_ago = now - chrono::Duration::days(1);
    if outgoing_emails::confirmation_requests_since(conn, email.as_str(), day_ago)?
        >= i64::from(max_mails_per_day)
    {
        return Ok(SignupOutcome::TooManyMails);
    }
    let existing = subscribers::find_by_email(conn, email)?;
    let name = name.map(SubscriberName::as_str);
    if let Some(subscriber) = existing
        .as_ref()
        .filter(|s| s.status() == SubscriberStatus::Confirmed)
    {
        let on: Vec<i64> = subscriptions::of_subscriber(conn, subscriber.id)?
            .into_iter()
            .filter(|(_, status)| status == SubscriptionStatus::Confirmed.as_str())
            .map(|(id, _)| id)
            .collect();
        let adding: Vec<i64> = newsletter_ids
            .into_iter()
            .filter(|id| !on.contains(id))
            .collect();
        if adding.is_empty() {
            // Nothing to send, but the request counts towards the limit like any other.
            outgoing_emails::record_unsent_confirmation(conn, subscriber.id, email.as_str(), now)?;
            return Ok(SignupOutcome::AlreadyConfirmed);
        }
        // The additions wait for the reader's confirmation; what they get meanwhile
        // does not change. A confirmed reader's mail is in their own language, whatever
        // page the addition came from (issue 16), and confirming keeps it.
        for id in adding {
            subscriptions::choose(conn, subscriber.id, id, now)?;
        }
        outgoing_emails::enqueue_confirmation(
            conn,
            subscriber.id,
            email.as_str(),
            name,
            None,
            now,
        )?;
        return Ok(SignupOutcome::ConfirmationQueued);
    }
    let (subscriber_id, new) = match existing {
        None => (
            subscribers::insert_pending(conn, email, name, language, now)?,
            true,
        ),
        Some(subscriber) => {
            // Pending: a fresh link. Unsubscribed or bounced: back through the opt-in.
            // The name and the language stay as they are: anyone can type any address
            // into the form, so an unconfirmed form never changes what is stored for a
            // reader. Both travel with the request: the confirmation is in the form's
            // language, and the reader who confirms it takes both.
            subscribers::reopen(conn, subscriber.id, now)?;
            (subscriber.id, false)
        }
    };
    // The newsletters chosen wait for the confirmation, as the reader does.
    for id in newsletter_ids {
        match new {
            true => subscriptions::add_for_new(
                conn,
                subscriber_id,
                id,
                SubscriptionStatus::Pending,
                now,
            )?,
            false => subscriptions::choose(conn, subscriber_id, id, now)?,
        }
    }
    outgoing_emails::enqueue_confirmation(
        conn,
        subscriber_id,
        email.as_str(),
        name,
        language,
        now,
    )?;
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
    /// What a stored token (or none) leads to at `now`. `adding`: the reader has
    /// newsletters chosen and not yet confirmed (a confirmed reader's link then
    /// confirms them).
    fn of(token: Option<StoredToken>, adding: bool, now: NaiveDateTime) -> TokenLookup {
        let Some(token) = token else {
            return TokenLookup::Unknown;
        };
        let confirmed = token.subscriber.status() == SubscriberStatus::Confirmed;
        match (token.used_at, token.expires_at <= now) {
            (None, false) if confirmed && adding => TokenLookup::Valid(token.subscriber),
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
    let token = subscribers::find_token(conn, token_hash)?;
    let adding = adding(conn, token.as_ref())?;
    Ok(TokenLookup::of(token, adding, now))
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
        // The name typed with the sign-up this link answers, if one was, and the
        // language of its form.
        let typed_name = token.as_ref().and_then(|t| t.subscriber_name.clone());
        let typed_language = token
            .as_ref()
            .and_then(|t| t.subscriber_language.as_deref())
            .and_then(Language::parse);
        let adding = adding(conn, token.as_ref())?;
        let lookup = TokenLookup::of(token, adding, now);
        if let TokenLookup::Valid(subscriber) = &lookup {
            if subscriber.status() == SubscriberStatus::Pending {
                let name = typed_name.or_else(|| subscriber.name.clone());
                subscribers::mark_confirmed(conn, subscriber.id, name.as_deref(), now)?;
            }
            // The reader who confirms takes the language of the form they signed up on.
            if let Some(language) = typed_language {
                subscribers::set_language(conn, subscriber.id, language)?;
            }
            // Confirming turns on every newsletter the reader chose.
            subscriptions::confirm_pending(conn, subscriber.id, now)?;
            // The other links of this sign-up have done their work.
            subscribers::end_open_tokens(conn, subscriber.id, now)?;
        }
        Ok(lookup)
    })
}

/// Whether the reader a token belongs to has newsletters chosen and not yet confirmed.
fn adding(conn: &mut Conn, token: Option<&StoredToken>) -> anyhow::Result<bool> {
    match token {
        Some(t) if t.subscriber.status() == SubscriberStatus::Confirmed => {
            Ok(!subscriptions::pending_of(conn, t.subscriber.id)?.is_empty())
        }
        _ => Ok(false),
    }
}

/// A confirmation link just minted: the reader, the token, and the names of the
/// newsletters it confirms when the service sends several (`None`: NEWSLETTER_NAME).
pub type MintedLink = (Subscriber, ConfirmationToken, Vec<Option<String>>);

/// What was typed with a sign-up: the name and the language of its form.
pub type Typed<'a> = (Option<&'a str>, Option<&'a str>);

/// The subscriber a claimed confirmation mail is for, with a freshly minted token, if
/// the mail is still wanted (the subscriber is pending). The token is minted at send
/// time, so no usable token ever waits in the queue table, and the link's lifetime
/// starts when it is mailed. Run it in the claim's exclusive transaction: a reader who
/// leaves meanwhile either leaves before (no link is minted) or after (leaving ends the
/// link minted here).
pub fn mint_confirmation_link(
    conn: &mut Conn,
    subscriber_id: Option<i64>,
    typed: Typed<'_>,
    now: NaiveDateTime,
    ttl: std::time::Duration,
) -> anyhow::Result<Option<MintedLink>> {
    let subscriber = match subscriber_id {
        Some(id) => subscribers::find(conn, id)?,
        None => None,
    };
    let Some(s) = subscriber else {
        return Ok(None);
    };
    let chosen = match s.status() {
        SubscriberStatus::Pending | SubscriberStatus::Confirmed => {
            subscriptions::pending_of(conn, s.id)?
        }
        _ => Vec::new(),
    };
    // A confirmed reader's link is wanted only for newsletters they are adding.
    let wanted = s.status() == SubscriberStatus::Pending
        || (s.status() == SubscriberStatus::Confirmed && !chosen.is_empty());
    let names = if newsletters::several(conn)? {
        chosen.into_iter().map(|(_, name)| name).collect()
    } else {
        Vec::new()
    };
    if !wanted {
        return Ok(None);
    }
    let token = ConfirmationToken::generate();
    subscribers::insert_typed_confirmation_token(
        conn,
        s.id,
        &token.hash(),
        typed,
        now,
        after(now, ttl),
    )?;
    Ok(Some((s, token, names)))
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

/// What leaving one newsletter did.
#[derive(Debug, Clone)]
pub struct LeftNewsletter {
    /// The reader as they are now.
    pub subscriber: Subscriber,
    /// Whether this call changed anything (`false`: they had left it before).
    pub left_now: bool,
    /// The newsletters they still receive (`None`: NEWSLETTER_NAME), in id order.
    pub still_receiving: Vec<Option<String>>,
}

/// Takes a reader off one newsletter (an unsubscribe link is per newsletter); leaving
/// the last one they receive unsubscribes them altogether
/// ([`unsubscribe_from_everything`]), as a reader of a single list was. `None` when
/// there is no such subscriber. Idempotent.
pub fn leave_newsletter(
    conn: &mut Conn,
    id: i64,
    newsletter_id: i64,
    now: NaiveDateTime,
) -> anyhow::Result<Option<LeftNewsletter>> {
    db::exclusive(conn, |conn| {
        leave_newsletter_in(conn, id, newsletter_id, now)
    })
}

/// [`leave_newsletter`] inside the caller's exclusive transaction (an unsubscribe
/// request by mail applies it among other changes).
pub fn leave_newsletter_in(
    conn: &mut Conn,
    id: i64,
    newsletter_id: i64,
    now: NaiveDateTime,
) -> anyhow::Result<Option<LeftNewsletter>> {
    let Some(subscriber) = subscribers::find(conn, id)? else {
        return Ok(None);
    };
    let was_on = subscriptions::of_subscriber(conn, id)?
        .into_iter()
        .any(|(n, status)| {
            n == newsletter_id && status != SubscriptionStatus::Unsubscribed.as_str()
        });
    if was_on {
        subscriptions::set(
            conn,
            id,
            newsletter_id,
            SubscriptionStatus::Unsubscribed,
            now,
        )?;
    }
    let still_receiving = subscriptions::confirmed_names_of(conn, id)?;
    let confirmed = subscriber.status() == SubscriberStatus::Confirmed;
    if !confirmed || still_receiving.is_empty() {
        let Some((subscriber, left)) = unsubscribe_from_everything(conn, id, now)? else {
            return Ok(None);
        };
        return Ok(Some(LeftNewsletter {
            subscriber,
            left_now: left || was_on,
            still_receiving: Vec::new(),
        }));
    }
    Ok(Some(LeftNewsletter {
        subscriber,
        left_now: was_on,
        still_receiving,
    }))
}

/// A newsletter on a reader's preferences page.
#[derive(Debug, Clone)]
pub struct Preference {
    pub newsletter: newsletters::Newsletter,
    /// The reader receives it.
    pub on: bool,
}

/// What the reader's preferences page offers: every public newsletter and every private
/// one they are on (none archived), each with whether they receive it.
pub fn preferences(conn: &mut Conn, subscriber_id: i64) -> anyhow::Result<Vec<Preference>> {
    let theirs = subscriptions::of_subscriber(conn, subscriber_id)?;
    let status_of = |id: i64| {
        theirs
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, status)| status.as_str())
    };
    Ok(newsletters::all(conn)?
        .into_iter()
        // A private newsletter is theirs while they are on it (pending or confirmed):
        // one they left is not offered again.
        .filter(|n| {
            let on_it = status_of(n.id)
                .is_some_and(|status| status != SubscriptionStatus::Unsubscribed.as_str());
            !n.archived && (n.public || on_it)
        })
        .map(|n| {
            let on = status_of(n.id) == Some(SubscriptionStatus::Confirmed.as_str());
            Preference { newsletter: n, on }
        })
        .collect())
}

/// What saving the preferences page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreferencesSaved {
    Saved {
        /// How many newsletters the reader left with this save.
        left: u64,
    },
    /// Nothing chosen, or a newsletter the page does not offer: nothing changed.
    Refused(ChoiceError),
    /// The reader is not confirmed (left, bounced, or never confirmed): the page
    /// changes nothing for them; signing up again does.
    NotSubscribed,
    Unknown,
}

/// Saves a confirmed reader's choice (`chosen`, slugs, from the page
/// [`preferences`] offers): those on, the others off. The signed link proves the
/// mailbox is theirs, so no opt-in mail is needed. Choosing nothing is refused: leaving
/// everything is [`unsubscribe`]. With `language`, the reader's language changes too.
pub fn save_preferences(
    conn: &mut Conn,
    subscriber_id: i64,
    chosen: &[String],
    language: Option<Language>,
    now: NaiveDateTime,
) -> anyhow::Result<PreferencesSaved> {
    db::exclusive(conn, |conn| {
        let Some(subscriber) = subscribers::find(conn, subscriber_id)? else {
            return Ok(PreferencesSaved::Unknown);
        };
        if subscriber.status() != SubscriberStatus::Confirmed {
            return Ok(PreferencesSaved::NotSubscribed);
        }
        if chosen.is_empty() {
            return Ok(PreferencesSaved::Refused(ChoiceError::NoneChosen));
        }
        let offered = preferences(conn, subscriber_id)?;
        if chosen
            .iter()
            .any(|slug| !offered.iter().any(|p| p.newsletter.slug == *slug))
        {
            return Ok(PreferencesSaved::Refused(ChoiceError::NotOffered));
        }
        if let Some(language) = language {
            subscribers::set_language(conn, subscriber_id, language)?;
        }
        let mut left = 0;
        for p in offered {
            let wanted = chosen.contains(&p.newsletter.slug);
            left += u64::from(p.on && !wanted);
            if wanted != p.on {
                let status = match wanted {
                    true => SubscriptionStatus::Confirmed,
                    false => SubscriptionStatus::Unsubscribed,
                };
                subscriptions::set(conn, subscriber_id, p.newsletter.id, status, now)?;
            }
        }
        Ok(PreferencesSaved::Saved { left })
    })
}

/// Queues a mail with a link to the preferences page of the reader at `email`, when
/// there is a confirmed one and the address has not had its day's mails
/// (CONFIRM_MAILS_PER_ADDRESS_PER_DAY, shared with confirmations). Whether a mail was
/// queued is for the caller's logs and tests only: the page answers the same either
/// way, so it tells nobody whether an address subscribes.
pub fn request_preferences_link(
    conn: &mut Conn,
    email: &EmailAddress,
    max_mails_per_day: u32,
    now: NaiveDateTime,
) -> anyhow::Result<bool> {
    db::exclusive(conn, |conn| {
        let day_ago = now - chrono::Duration::days(1);
        if outgoing_emails::confirmation_requests_since(conn, email.as_str(), day_ago)?
            >= i64::from(max_mails_per_day)
        {
            return Ok(false);
        }
        let Some(subscriber) = subscribers::find_by_email(conn, email)? else {
            return Ok(false);
        };
        if subscriber.status() != SubscriberStatus::Confirmed {
            return Ok(false);
        }
        outgoing_emails::enqueue_preferences_link(conn, subscriber.id, email.as_str(), now)?;
        Ok(true)
    })
}

/// The reader a claimed preferences-link mail is for, if it is still wanted (they are
/// still confirmed).
pub fn preferences_link_wanted(
    conn: &mut Conn,
    subscriber_id: Option<i64>,
) -> anyhow::Result<Option<Subscriber>> {
    let subscriber = match subscriber_id {
        Some(id) => subscribers::find(conn, id)?,
        None => None,
    };
    Ok(subscriber.filter(|s| s.status() == SubscriberStatus::Confirmed))
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
        outgoing_emails::enqueue_confirmation(conn, id, &subscriber.email, None, None, now)?;
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
            subscriber_language: None,
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
                language: None,
            },
        }
    }

    fn lookup(status: SubscriberStatus, used: bool, expires_in_hours: i64) -> &'static str {
        match TokenLookup::of(Some(token(status, used, expires_in_hours)), false, at(12)) {
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
            TokenLookup::of(None, false, at(12)),
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

    /// What a connection compiled, as diesel reports it: each statement it prepared and
    /// cached, and each it ran (without the values bound).
    #[derive(Default)]
    struct Compiled {
        cached: Vec<String>,
        ran: Vec<String>,
    }

    struct Watch(std::sync::Arc<std::sync::Mutex<Compiled>>);

    impl diesel::connection::Instrumentation for Watch {
        fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
            use diesel::connection::InstrumentationEvent;
            let mut compiled = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match event {
                InstrumentationEvent::CacheQuery { sql, .. } => compiled.cached.push(sql.into()),
                InstrumentationEvent::StartQuery { query, .. } => {
                    let shown = query.to_string();
                    let sql = shown.split(" -- binds:").next().unwrap_or_default();
                    compiled.ran.push(sql.to_owned());
                }
                _ => {}
            }
        }
    }

    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }

    /// A flood of sign-ups runs these statements thousands of times a second through
    /// the one writer: compiling them again on each run cost a third of its time.
    #[test]
    fn a_new_readers_sign_up_compiles_each_statement_once_per_connection() {
        use diesel::Connection;
        use diesel::RunQueryDsl;
        let dir = tempfile::tempdir().expect("a folder");
        let db = db::Db::open(&dir.path().join("signups.db").display().to_string())
            .expect("the database opens");
        let compiled = std::sync::Arc::new(std::sync::Mutex::new(Compiled::default()));
        db.run_blocking(|conn| {
            // SQLite as built here keeps a statement with `LIMIT ?` compiled when the
            // limit is bound again (`.cargo/config.toml`).
            let options: Vec<CompileOption> =
                diesel::sql_query("PRAGMA compile_options").load(conn)?;
            assert!(
                options.iter().any(|o| o.compile_options == "ENABLE_QPSG"),
                "SQLite is built without SQLITE_ENABLE_QPSG"
            );
            let db::AnyConnection::Sqlite(sqlite) = conn else {
                unreachable!("a file database is SQLite")
            };
            sqlite.set_instrumentation(Watch(compiled.clone()));
            let mut first = Vec::new();
            for n in 0..2 {
                let email = EmailAddress::parse(&format!("aigerim.{n}@example.kz"))
                    .map_err(anyhow::Error::msg)?;
                let outcome = db::exclusive(conn, |conn| {
                    sign_up_for(conn, &email, None, &[], Some(Language::Kk), 5, at(9))
                })?;
                assert_eq!(outcome, SignupOutcome::ConfirmationQueued);
                let mut seen = compiled.lock().unwrap_or_else(|e| e.into_inner());
                if n == 0 {
                    first = std::mem::take(&mut seen.cached);
                    seen.ran.clear();
                    continue;
                }
                assert!(seen.cached.is_empty(), "compiled again: {:?}", seen.cached);
                let uncached: Vec<&String> = seen
                    .ran
                    .iter()
                    .filter(|sql| !matches!(sql.as_str(), "BEGIN IMMEDIATE" | "COMMIT"))
                    .filter(|sql| !first.contains(sql))
                    .collect();
                assert!(uncached.is_empty(), "compiled on every run: {uncached:?}");
                assert!(seen.ran.len() >= 6, "the sign-up ran {:?}", seen.ran);
            }
            Ok(())
        })
        .expect("two sign-ups");
    }
}
