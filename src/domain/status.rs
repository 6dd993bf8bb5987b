//! Where a subscriber stands.

use std::str::FromStr;

/// A subscriber's status, stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberStatus {
    /// Signed up, not yet confirmed: receives nothing but confirmation mail.
    Pending,
    /// Receives digests.
    Confirmed,
    /// Left; receives nothing until they sign up and confirm again.
    Unsubscribed,
    /// The address hard-bounced; skipped by later sends.
    Bounced,
}

impl SubscriberStatus {
    pub const ALL: [SubscriberStatus; 4] = [
        SubscriberStatus::Pending,
        SubscriberStatus::Confirmed,
        SubscriberStatus::Unsubscribed,
        SubscriberStatus::Bounced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberStatus::Pending => "pending",
            SubscriberStatus::Confirmed => "confirmed",
            SubscriberStatus::Unsubscribed => "unsubscribed",
            SubscriberStatus::Bounced => "bounced",
        }
    }
}

impl FromStr for SubscriberStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SubscriberStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "status must be one of pending, confirmed, unsubscribed, bounced; not `{s}`"
                )
            })
    }
}

/// Where a reader stands with one newsletter (the reader's own [`SubscriberStatus`]
/// rules over it: a bounced or unsubscribed reader gets nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    /// Chosen, waiting for the reader to confirm it.
    Pending,
    /// Receives this newsletter's digests.
    Confirmed,
    /// Left this newsletter.
    Unsubscribed,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Confirmed => "confirmed",
            SubscriptionStatus::Unsubscribed => "unsubscribed",
        }
    }
}

/// How the `status` column becomes a [`SubscriberStatus`] when a row is read.
impl TryFrom<String> for SubscriberStatus {
    type Error = String;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        stored.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::SubscriberStatus;

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in SubscriberStatus::ALL {
            assert_eq!(status.as_str().parse::<SubscriberStatus>(), Ok(status));
        }
        assert!("Confirmed".parse::<SubscriberStatus>().is_err());
    }
}

/// Where one delivery of a digest stands, stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Queued or being retried.
    Pending,
    Sent,
    /// Refused for good, or given up after retries.
    Failed,
    /// The reader left (or was erased) before their turn.
    Skipped,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
        DeliveryStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
        }
    }
}

impl FromStr for DeliveryStatus {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown delivery status `{s}` in the database"))
    }
}

/// Where one queued one-off mail (a confirmation) stands, stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailStatus {
    /// Waiting to be sent, or being retried.
    Queued,
    Sent,
    /// Refused for good, or given up after retries.
    Failed,
    /// No longer wanted (confirmed, left or erased before it went), or asked for by an
    /// address that needed no mail; counts towards the address's daily limit.
    Cancelled,
}

impl MailStatus {
    pub const ALL: [MailStatus; 4] = [
        MailStatus::Queued,
        MailStatus::Sent,
        MailStatus::Failed,
        MailStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Queued => "queued",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
            MailStatus::Cancelled => "cancelled",
        }
    }
}

impl FromStr for MailStatus {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MailStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown mail status `{s}` in the database"))
    }
}
