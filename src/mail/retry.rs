//! What a send attempt's result means for the queue: done, retry when, or give up.

use chrono::NaiveDateTime;

use crate::config::RetryPolicy;
use crate::db::{Outcome, after};
use crate::mail::SendError;

/// The outcome of an attempt, given how many attempts came before it and since when
/// the message has been failing.
pub fn outcome(
    result: Result<(), SendError>,
    earlier_attempts: i32,
    failing_since: NaiveDateTime,
    policy: &RetryPolicy,
    now: NaiveDateTime,
) -> Outcome {
    match result {
        Ok(()) => Outcome::Sent,
        Err(SendError::Permanent {
            reply,
            bad_mailbox: true,
        }) => Outcome::Bounced(reply),
        Err(SendError::Permanent {
            reply,
            bad_mailbox: false,
        }) => Outcome::Rejected(reply),
        Err(SendError::Transient(reason)) => {
            let attempts = earlier_attempts.saturating_add(1);
            let waited = (now - failing_since).to_std().unwrap_or_default();
            if waited >= policy.give_up_after {
                Outcome::GaveUp(format!("gave up after {attempts} attempts: {reason}"))
            } else {
                let delay = policy.delay_after(u32::try_from(attempts).unwrap_or(u32::MAX));
                Outcome::RetryAt(after(now, delay), reason)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn temporary_failures_are_retried_with_growing_waits_then_given_up() {
        let policy = RetryPolicy::default();
        let now = crate::db::now();
        let transient = || Err(SendError::Transient("451 try later".into()));
        match outcome(transient(), 0, now, &policy, now) {
            Outcome::RetryAt(at, _) => assert_eq!((at - now).num_seconds(), 5),
            other => panic!("{other:?}"),
        }
        match outcome(transient(), 3, now, &policy, now) {
            Outcome::RetryAt(at, _) => assert_eq!((at - now).num_seconds(), 40),
            other => panic!("{other:?}"),
        }
        let long_ago = now
            - chrono::Duration::from_std(policy.give_up_after + Duration::from_secs(1)).unwrap();
        assert!(matches!(
            outcome(transient(), 9, long_ago, &policy, now),
            Outcome::GaveUp(_)
        ));
    }

    #[test]
    fn a_permanent_failure_is_not_retried_and_only_a_mailbox_problem_is_a_bounce() {
        let now = crate::db::now();
        let permanent = |reply: &str, bad_mailbox| {
            outcome(
                Err(SendError::Permanent {
                    reply: reply.into(),
                    bad_mailbox,
                }),
                0,
                now,
                &RetryPolicy::default(),
                now,
            )
        };
        assert!(
            matches!(permanent("550 5.1.1 no such user", true), Outcome::Bounced(r) if r.contains("550"))
        );
        assert!(
            matches!(permanent("554 5.7.1 spam", false), Outcome::Rejected(r) if r.contains("554"))
        );
    }
}
