//! The service's figures in Prometheus's text format (`GET /metrics`): counters and
//! histograms kept as things happen, gauges read from the database at scrape time.
//!
//! Each app has its own recorder (never the `metrics` crate's global one), so two apps
//! in one process (tests) count apart. With neither `METRICS_TOKEN` nor `METRICS_ADDR`
//! set nothing is recorded at all: every call below is then a branch on `None`.
//!
//! Elsewhere in the code a figure is one line: `state.metrics.signup("queued")`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::db::Outcome;
use crate::db::stats::{QueueFigures, StatusCounts};

/// Bucket bounds of the HTTP request duration histogram, in seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Bucket bounds of the SMTP send duration histogram, in seconds: a local relay answers
/// in a millisecond, a distant one in a second or more.
const SMTP_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// How long the subscriber counts are reused between scrapes: counting a status is a
/// walk of its part of the `(status, id)` index, a million rows for a large list, which
/// a scrape every 15 s need not repeat.
const SUBSCRIBER_COUNTS_FOR: Duration = Duration::from_secs(60);

/// The ways a reader leaves the list, as the `path` label of
/// `newsletter_unsubscribes_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsubscribePath {
    /// The unsubscribe page's button (the link in every mail).
    Link,
    /// RFC 8058 one-click (`List-Unsubscribe=One-Click` from the mail client).
    OneClick,
    /// A reader's own preferences page.
    Preferences,
    /// Marked bounced after repeated hard bounces.
    Bounce,
    /// A spam complaint (feedback loop).
    Complaint,
}

impl UnsubscribePath {
    pub const ALL: [UnsubscribePath; 5] = [
        UnsubscribePath::Link,
        UnsubscribePath::OneClick,
        UnsubscribePath::Preferences,
        UnsubscribePath::Bounce,
        UnsubscribePath::Complaint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnsubscribePath::Link => "link",
            UnsubscribePath::OneClick => "one_click",
            UnsubscribePath::Preferences => "preferences",
            UnsubscribePath::Bounce => "bounce",
            UnsubscribePath::Complaint => "complaint",
        }
    }
}

/// What kind of mail a queue sends, as the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// One-off mail: confirmations, the admin's test mail.
    Confirmation,
    Digest,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Confirmation => "confirmation",
            MailKind::Digest => "digest",
        }
    }
}

/// The class of an SMTP server's answer to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyClass {
    Accepted,
    TemporaryFailure,
    PermanentFailure,
    /// No answer: the connection was refused, dropped or timed out.
    ConnectionError,
}

impl ReplyClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyClass::Accepted => "2xx",
            ReplyClass::TemporaryFailure => "4xx",
            ReplyClass::PermanentFailure => "5xx",
            ReplyClass::ConnectionError => "connection_error",
        }
    }
}

/// How often histogram samples are folded into their buckets. Until then each sample
/// is kept (8 bytes); a scrape folds them too.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The app's figures; one per app, shared by its handlers and workers.
pub struct Metrics {
    /// `None` when metrics are off.
    recorder: Option<(PrometheusRecorder, PrometheusHandle)>,
    subscriber_counts: Mutex<Option<(Instant, StatusCounts)>>,
    /// When this was made, and when histograms were last folded (ms since then).
    created: Instant,
    last_upkeep_ms: AtomicU64,
}

impl Metrics {
    /// A recorder with every series described (promtool wants a HELP line for each);
    /// `enabled == false` records nothing.
    pub fn new(enabled: bool) -> Metrics {
        let recorder = enabled.then(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("newsletter_http_request_duration_seconds".into()),
                    HTTP_BUCKETS,
                )
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full("newsletter_smtp_send_duration_seconds".into()),
                        SMTP_BUCKETS,
                    )
                })
                .expect("the bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            (recorder, handle)
        });
        let metrics = Metrics {
            recorder,
            subscriber_counts: Mutex::new(None),
            created: Instant::now(),
            last_upkeep_ms: AtomicU64::new(0),
        };
        metrics.with(describe_all);
        metrics
    }

    /// Whether anything is recorded.
    pub fn enabled(&self) -> bool {
        self.recorder.is_some()
    }

    fn with(&self, record: impl FnOnce()) {
        if let Some((recorder, _)) = &self.recorder {
            metrics::with_local_recorder(recorder, record);
        }
    }

    /// A sign-up through the form, by outcome: `queued` (a confirmation mail is on its
    /// way), `already_confirmed`, `too_many_mails`, `rate_limited`, `invalid` (see
    /// [`SIGNUP_OUTCOMES`]).
    pub fn signup(&self, outcome: &'static str) {
        debug_assert!(SIGNUP_OUTCOMES.contains(&outcome), "{outcome}");
        self.with(|| counter!("newsletter_signups_total", "outcome" => outcome).increment(1));
    }

    /// A reader confirmed their address.
    pub fn confirmation(&self) {
        self.with(|| counter!("newsletter_confirmations_total").increment(1));
    }

    /// A reader left the list (or was taken off it).
    pub fn unsubscribe(&self, path: UnsubscribePath) {
        self.unsubscribes(path, 1);
    }

    /// `n` readers left the list the same way.
    pub fn unsubscribes(&self, path: UnsubscribePath, n: u64) {
        if n > 0 {
            self.with(|| {
                counter!("newsletter_unsubscribes_total", "path" => path.as_str()).increment(n)
            });
        }
    }

    /// What one send attempt came to.
    pub fn mail_outcome(&self, kind: MailKind, outcome: &Outcome) {
        let result = MAIL_RESULTS[match outcome {
            Outcome::Sent => 0,
            Outcome::RetryAt(..) => 1,
            Outcome::Bounced(_) => 2,
            Outcome::Rejected(_) | Outcome::GaveUp(_) => 3,
            Outcome::Cancelled => 4,
        }];
        self.with(|| {
            counter!("newsletter_mails_total", "kind" => kind.as_str(), "result" => result)
                .increment(1)
        });
    }

    /// An SMTP server's answer to one message, and how long the send took.
    pub fn smtp_send(&self, class: ReplyClass, took: Duration) {
        self.with(|| {
            counter!("newsletter_smtp_replies_total", "class" => class.as_str()).increment(1);
            metrics::histogram!("newsletter_smtp_send_duration_seconds").record(took);
        });
        self.upkeep_now_and_then();
    }

    /// One HTTP request: `route` is the route's pattern (`/archive/{id}`), never the
    /// path, so ids do not make a series each.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" => method,
            _ => "other",
        };
        let route = route.to_owned();
        let method = method.to_owned();
        self.with(|| {
            metrics::histogram!(
                "newsletter_http_request_duration_seconds",
                "route" => route,
                "method" => method,
                "status" => status.to_string()
            )
            .record(took)
        });
        self.upkeep_now_and_then();
    }

    /// Whether the subscriber counts kept from the last scrape are stale.
    pub fn subscriber_counts_due(&self) -> bool {
        lock(&self.subscriber_counts)
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= SUBSCRIBER_COUNTS_FOR)
    }

    /// Keeps freshly read subscriber counts.
    pub fn set_subscriber_counts(&self, counts: StatusCounts) {
        *lock(&self.subscriber_counts) = Some((Instant::now(), counts));
    }

    /// Every series in Prometheus's text format, the gauges set from `queues` (read at
    /// scrape time) and the kept subscriber counts. `None` when metrics are off.
    pub fn render(&self, queues: &QueueFigures) -> Option<String> {
        let (_, handle) = self.recorder.as_ref()?;
        let subscribers = lock(&self.subscriber_counts)
            .as_ref()
            .map(|(_, counts)| counts.clone());
        self.with(|| {
            for (kind, depth, oldest) in [
                (
                    MailKind::Confirmation,
                    queues.mail_queued,
                    queues.mail_oldest_due_seconds,
                ),
                (
                    MailKind::Digest,
                    queues.deliveries_pending,
                    queues.delivery_oldest_due_seconds,
                ),
            ] {
                gauge!("newsletter_queue_depth", "kind" => kind.as_str()).set(depth as f64);
                gauge!("newsletter_queue_oldest_due_seconds", "kind" => kind.as_str()).set(oldest);
            }
            gauge!("newsletter_digests_in_progress").set(queues.digests_sending as f64);
            if let Some(counts) = subscribers {
                for (status, n) in [
                    ("pending", counts.pending),
                    ("confirmed", counts.confirmed),
                    ("unsubscribed", counts.unsubscribed),
                    ("bounced", counts.bounced),
                ] {
                    gauge!("newsletter_subscribers", "status" => status).set(n as f64);
                }
                for (newsletter, status, n) in counts.by_newsletter {
                    gauge!("newsletter_subscriptions", "newsletter" => newsletter, "status" => status)
                        .set(n as f64);
                }
            }
        });
        Some(handle.render())
    }

    /// Folds recorded histogram samples into their buckets every [`UPKEEP_EVERY`], so
    /// they do not pile up in memory when nobody scrapes (or in a CLI verb's long
    /// send); one atomic read a sample otherwise.
    fn upkeep_now_and_then(&self) {
        let Some((_, handle)) = &self.recorder else {
            return;
        };
        let now = u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_upkeep_ms.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= UPKEEP_EVERY.as_millis() as u64;
        // One caller wins the exchange and folds; the others go on.
        if due
            && self
                .last_upkeep_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            handle.run_upkeep();
        }
    }
}

/// Names, units and help lines of every series, and the counters' zero so that a series
/// exists (and `rate()` works) before its first event.
fn describe_all() {
    describe_counter!(
        "newsletter_signups_total",
        "Sign-ups through the form, by outcome."
    );
    describe_counter!(
        "newsletter_confirmations_total",
        "Readers who confirmed their address."
    );
    describe_counter!(
        "newsletter_unsubscribes_total",
        "Readers who left the list, by path."
    );
    describe_counter!(
        "newsletter_mails_total",
        "Send attempts by kind of mail and result."
    );
    describe_counter!(
        "newsletter_smtp_replies_total",
        "SMTP servers' answers to messages, by class."
    );
    describe_gauge!(
        "newsletter_queue_depth",
        "Messages waiting to be sent, by kind."
    );
    describe_gauge!(
        "newsletter_queue_oldest_due_seconds",
        Unit::Seconds,
        "How long the oldest due message of a kind has waited."
    );
    describe_gauge!("newsletter_digests_in_progress", "Digests being sent.");
    describe_gauge!("newsletter_subscribers", "Subscribers by status.");
    describe_gauge!(
        "newsletter_subscriptions",
        "Readers' subscriptions by newsletter and status."
    );
    describe_histogram!(
        "newsletter_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer HTTP requests, by route."
    );
    describe_histogram!(
        "newsletter_smtp_send_duration_seconds",
        Unit::Seconds,
        "Time to hand one message to the SMTP server."
    );
    counter!("newsletter_confirmations_total").absolute(0);
    for outcome in SIGNUP_OUTCOMES {
        counter!("newsletter_signups_total", "outcome" => outcome).absolute(0);
    }
    for path in UnsubscribePath::ALL {
        counter!("newsletter_unsubscribes_total", "path" => path.as_str()).absolute(0);
    }
    for kind in [MailKind::Confirmation, MailKind::Digest] {
        for result in MAIL_RESULTS {
            counter!("newsletter_mails_total", "kind" => kind.as_str(), "result" => result)
                .absolute(0);
        }
    }
    for class in [
        ReplyClass::Accepted,
        ReplyClass::TemporaryFailure,
        ReplyClass::PermanentFailure,
        ReplyClass::ConnectionError,
    ] {
        counter!("newsletter_smtp_replies_total", "class" => class.as_str()).absolute(0);
    }
}

/// The `outcome` labels of `newsletter_signups_total`.
const SIGNUP_OUTCOMES: [&str; 5] = [
    "queued",
    "already_confirmed",
    "too_many_mails",
    "rate_limited",
    "invalid",
];
/// The `result` labels of `newsletter_mails_total`.
const MAIL_RESULTS: [&str; 5] = ["sent", "retried", "bounced", "failed", "cancelled"];

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_move_and_routes_label_the_histogram() {
        let metrics = Metrics::new(true);
        metrics.signup("queued");
        metrics.signup("queued");
        metrics.unsubscribe(UnsubscribePath::OneClick);
        metrics.http_request("/archive/{id}", "GET", 200, Duration::from_millis(3));
        let text = metrics
            .render(&QueueFigures::default())
            .expect("metrics are on");
        assert!(
            text.contains(r#"newsletter_signups_total{outcome="queued"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"newsletter_unsubscribes_total{path="one_click"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"newsletter_unsubscribes_total{path="complaint"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"route="/archive/{id}""#) && text.contains("_bucket{"),
            "a histogram with buckets: {text}"
        );
        assert!(text.contains(r#"newsletter_queue_depth{kind="digest"} 0"#));
        assert!(
            text.contains(r#"newsletter_smtp_replies_total{class="4xx"} 0"#),
            "every counter's series exists from the start: {text}"
        );
        assert!(text.contains(r#"newsletter_mails_total{kind="digest",result="bounced"} 0"#));
    }

    #[test]
    fn off_records_and_renders_nothing() {
        let metrics = Metrics::new(false);
        metrics.signup("queued");
        assert!(!metrics.enabled());
        assert!(metrics.render(&QueueFigures::default()).is_none());
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let metrics = Metrics::new(true);
        metrics.http_request("/", "BREW", 405, Duration::from_millis(1));
        let text = metrics.render(&QueueFigures::default()).unwrap();
        assert!(text.contains(r#"method="other""#), "{text}");
        assert!(!text.contains("BREW"));
    }
}
