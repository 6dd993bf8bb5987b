//! Mail that comes back: recognising a bounce (RFC 3464 or one of the common
//! non-standard forms), a complaint (RFC 5965 ARF), an unsubscribe request to the
//! `List-Unsubscribe` mailto address, or anything else (auto-replies included), which is
//! ignored. Recognising changes nothing; [`ingest`] then applies what was recognised
//! (`service::feedback`).
//!
//! Everything is bounded: the message's size ([`MAX_MESSAGE_BYTES`]), its MIME nesting
//! ([`MAX_MULTIPARTS`], counted before anything is parsed), the text searched.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};

use crate::config::BounceAddress;
use crate::limits;
use crate::mail::verp::UNSUBSCRIBE_PREFIX;
use crate::service::feedback::{self, Applied, Feedback, FeedbackKind, Recipient};
use crate::state::AppState;

/// The largest message taken in ([`limits::INBOUND_MAIL_BYTES`]).
pub const MAX_MESSAGE_BYTES: usize = limits::INBOUND_MAIL_BYTES;
/// Messages with more multipart boundaries (or enclosed messages) than this are not
/// parsed ([`limits::INBOUND_MIME_PARTS`]; ten thousand nested parts is an attack).
pub const MAX_MULTIPARTS: usize = limits::INBOUND_MIME_PARTS;
/// The most of a body searched for a status code and an address.
const MAX_TEXT: usize = 64 * 1024;
/// The most recipients taken from one report.
const MAX_RECIPIENTS: usize = 20;

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A bounce, complaint or unsubscribe request, one for each reader it names.
    Feedback(Vec<Feedback>),
    /// Nothing to act on, and why (in a few words).
    Ignored(String),
}

/// Recognises one raw message. `bounce` is `BOUNCE_ADDRESS`: messages to its tagged
/// forms name their delivery.
pub fn recognise(raw: &[u8], bounce: Option<&BounceAddress>) -> Verdict {
    if raw.len() > MAX_MESSAGE_BYTES {
        return ignored(format!(
            "larger than {} MB",
            MAX_MESSAGE_BYTES / (1024 * 1024)
        ));
    }
    if count_nesting(raw) > MAX_MULTIPARTS {
        return ignored(format!(
            "more than {MAX_MULTIPARTS} MIME multiparts or enclosed messages"
        ));
    }
    let Some(message) = MessageParser::default().parse(raw) else {
        return ignored("not a mail message");
    };
    let tags = our_tags(&message, bounce);
    let bounce_tag = tags
        .iter()
        .find(|t| !t.to_ascii_lowercase().starts_with(UNSUBSCRIBE_PREFIX))
        .cloned();
    let report_type = message
        .content_type()
        .filter(|ct| ct.ctype().eq_ignore_ascii_case("multipart"))
        .filter(|ct| {
            ct.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    match report_type.as_deref() {
        Some("delivery-status") | Some("global-delivery-status") => {
            if let Some(verdict) = standard_dsn(&message, bounce_tag.as_deref(), bounce) {
                return verdict;
            }
        }
        Some("feedback-report") => return complaint(&message, bounce_tag.as_deref(), bounce),
        _ => {}
    }
    if let Some(verdict) = nonstandard_dsn(&message, bounce_tag.as_deref(), bounce) {
        return verdict;
    }
    // Mail to the List-Unsubscribe address is a request even when the mail client that
    // sent it marks it as generated; only a responder's reply is not.
    if let Some(tag) = tags.iter().find_map(|t| {
        let lower = t.to_ascii_lowercase();
        lower
            .starts_with(UNSUBSCRIBE_PREFIX)
            .then(|| t[UNSUBSCRIBE_PREFIX.len()..].to_owned())
    }) && !header_is(&message, "auto-submitted", "auto-replied")
    {
        let digest_id = digest_of_tag(&tag);
        return Verdict::Feedback(vec![Feedback {
            recipient: Recipient::Tag(tag),
            kind: FeedbackKind::Unsubscribe,
            digest_id,
            detail: format!(
                "unsubscribe request by mail{}",
                message
                    .subject()
                    .map(|s| format!(": {}", truncate(s, 100)))
                    .unwrap_or_default()
            ),
            source: "mail",
        }]);
    }
    if is_auto_reply(&message) {
        return ignored("an auto-reply");
    }
    ignored("not a bounce, complaint or unsubscribe request")
}

fn ignored(reason: impl Into<String>) -> Verdict {
    Verdict::Ignored(reason.into())
}

/// What [`ingest`] did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub verdict: Verdict,
    /// Events recorded (readers we know).
    pub recorded: usize,
    /// Readers named that we do not know (a forged tag, a stranger, another site's).
    pub unknown: usize,
}

impl Ingested {
    /// One sentence for the log, the CLI and the API.
    pub fn describe(&self) -> String {
        match &self.verdict {
            Verdict::Ignored(reason) => format!("ignored: {reason}"),
            Verdict::Feedback(items) => {
                let kind = items.first().map_or("feedback", |f| f.kind.as_str());
                format!(
                    "{kind}: {} recorded, {} naming no reader of ours",
                    self.recorded, self.unknown
                )
            }
        }
    }

    /// The verdict's name: `hard_bounce`, `soft_bounce`, `complaint`, `unsubscribe`
    /// or `ignored`.
    pub fn kind(&self) -> &'static str {
        match &self.verdict {
            Verdict::Ignored(_) => "ignored",
            Verdict::Feedback(items) => items.first().map_or("ignored", |f| f.kind.as_str()),
        }
    }
}

/// Recognises a message and applies what it says. An error means it could not be
/// stored (the database failed), never that the message was odd.
pub async fn ingest(state: &AppState, raw: Vec<u8>) -> anyhow::Result<Ingested> {
    let bounce = state.settings.bounce_address.clone();
    let verdict = tokio::task::spawn_blocking(move || recognise(&raw, bounce.as_ref())).await?;
    let Verdict::Feedback(items) = &verdict else {
        return Ok(Ingested {
            verdict,
            recorded: 0,
            unknown: 0,
        });
    };
    let signer = state.signer.clone();
    let items = items.clone();
    let (recorded, unknown, complaints) = state
        .db
        .run(move |conn| {
            let now = crate::db::now();
            let (mut recorded, mut unknown, mut complaints) = (0, 0, 0);
            for item in &items {
                match feedback::apply_with(conn, Some(&signer), item, now)? {
                    Applied::Recorded => {
                        recorded += 1;
                        complaints += u64::from(item.kind == feedback::FeedbackKind::Complaint);
                    }
                    Applied::UnknownReader => unknown += 1,
                }
            }
            Ok((recorded, unknown, complaints))
        })
        .await?;
    state
        .metrics
        .unsubscribes(crate::metrics::UnsubscribePath::Complaint, complaints);
    Ok(Ingested {
        verdict,
        recorded,
        unknown,
    })
}

/// How many multipart boundaries and enclosed messages (`message/…`) the message
/// has at most (case-insensitive), before any parsing: bounds the work and the depth
/// of what is parsed (an enclosed message nests without any boundary).
fn count_nesting(raw: &[u8]) -> usize {
    let count = |needle: &[u8]| {
        raw.windows(needle.len())
            .filter(|w| w.eq_ignore_ascii_case(needle))
            .take(MAX_MULTIPARTS + 1)
            .count()
    };
    count(b"boundary").max(count(b"message/"))
}

/// The tags of our bounce address among the addresses the message was delivered to.
fn our_tags(message: &Message<'_>, bounce: Option<&BounceAddress>) -> Vec<String> {
    let Some(bounce) = bounce else {
        return Vec::new();
    };
    let mut tags = Vec::new();
    for (name, value) in message.headers_raw() {
        let wanted = [
            "to",
            "cc",
            "delivered-to",
            "x-original-to",
            "envelope-to",
            "x-envelope-to",
        ];
        if !wanted.iter().any(|w| name.eq_ignore_ascii_case(w)) {
            continue;
        }
        for address in addresses_in(value) {
            if let Some(tag) = bounce.tag_of(&address)
                && !tags.iter().any(|t: &String| t.eq_ignore_ascii_case(tag))
            {
                tags.push(tag.to_owned());
            }
        }
    }
    tags
}

/// The tag found in a header value of an embedded message (its `Return-Path`, say).
fn tag_in_header(
    message: &Message<'_>,
    header: &str,
    bounce: Option<&BounceAddress>,
) -> Option<String> {
    let bounce = bounce?;
    message
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case(header))
        .flat_map(|(_, value)| addresses_in(value))
        .find_map(|address| {
            bounce
                .tag_of(&address)
                .filter(|t| !t.to_ascii_lowercase().starts_with(UNSUBSCRIBE_PREFIX))
                .map(str::to_owned)
        })
}

/// The digest a tag names, read without checking it (`apply` checks the tag itself and
/// takes the digest from it).
fn digest_of_tag(tag: &str) -> Option<i64> {
    let (head, _) = tag.split_once('-')?;
    let digits = head.strip_prefix(['d', 'D'])?;
    digits.parse().ok()
}

/// The address-like words of a text: `local@domain`, without brackets or quotes.
fn addresses_in(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "<>,;:()[]\"'=".contains(c))
        .filter(|w| {
            let Some((local, domain)) = w.rsplit_once('@') else {
                return false;
            };
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && w.len() <= 254
        })
        .map(|w| w.trim_end_matches('.').to_owned())
        .collect()
}

/// RFC 3464: the `message/delivery-status` part's per-recipient fields. `None` when the
/// report has no such part (then the non-standard reading is tried).
fn standard_dsn(
    message: &Message<'_>,
    tag: Option<&str>,
    bounce: Option<&BounceAddress>,
) -> Option<Verdict> {
    let status_part = message.parts.iter().find(|part| {
        part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct.subtype().is_some_and(|s| {
                    s.eq_ignore_ascii_case("delivery-status")
                        || s.eq_ignore_ascii_case("global-delivery-status")
                })
        })
    })?;
    let text = String::from_utf8_lossy(bounded(status_part.contents()));
    let mut blocks = field_blocks(&text).into_iter();
    let _per_message = blocks.next();
    let tag = tag
        .map(str::to_owned)
        .or_else(|| returned_message_tag(message, bounce));
    let mut items = Vec::new();
    let mut succeeded = false;
    for fields in blocks {
        let action = field(&fields, "action").map(str::to_ascii_lowercase);
        let status = field(&fields, "status").unwrap_or_default();
        let kind = match (action.as_deref(), status.chars().next()) {
            (Some("delivered" | "relayed" | "expanded"), _) | (_, Some('2')) => {
                succeeded = true;
                continue;
            }
            (_, Some('5')) => FeedbackKind::HardBounce,
            (_, Some('4')) | (Some("delayed"), _) => FeedbackKind::SoftBounce,
            (Some("failed"), _) => FeedbackKind::HardBounce,
            _ => continue,
        };
        let detail = field(&fields, "diagnostic-code")
            .map(|d| format!("{status} {}", strip_type(d)))
            .unwrap_or_else(|| format!("{status} ({})", action.as_deref().unwrap_or("failed")));
        let recipient = match &tag {
            Some(tag) => Recipient::Tag(tag.clone()),
            None => {
                let Some(address) = field(&fields, "final-recipient")
                    .or_else(|| field(&fields, "original-recipient"))
                    .and_then(|v| addresses_in(strip_type(v)).into_iter().next())
                else {
                    continue;
                };
                Recipient::Address(address)
            }
        };
        items.push(Feedback {
            digest_id: match &recipient {
                Recipient::Tag(t) => digest_of_tag(t),
                Recipient::Address(_) => None,
            },
            recipient,
            kind,
            detail,
            source: "mail",
        });
        // A tag names one delivery: the first failed recipient is the one.
        if tag.is_some() || items.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    if items.is_empty() {
        if succeeded {
            return Some(ignored("a delivery report of success"));
        }
        // A report naming nobody: its text may still say more.
        return None;
    }
    Some(Verdict::Feedback(items))
}

/// `rfc822; reader@example.org` → `reader@example.org`.
fn strip_type(value: &str) -> &str {
    value.split_once(';').map_or(value, |(_, rest)| rest).trim()
}

/// The tag in the `Return-Path` (or `From`-line sender) of the copy of our message a
/// report carries, when it carries one with headers.
fn returned_message_tag(message: &Message<'_>, bounce: Option<&BounceAddress>) -> Option<String> {
    for part in &message.parts {
        if let Some(embedded) = embedded_message(part) {
            for header in ["return-path", "x-envelope-from", "sender"] {
                if let Some(tag) = tag_in_header(&embedded, header, bounce) {
                    return Some(tag);
                }
            }
        }
    }
    None
}

/// The message a part carries: `message/rfc822` (parsed already) or
/// `text/rfc822-headers` (parsed here, headers only).
fn embedded_message<'x>(part: &'x MessagePart<'x>) -> Option<Message<'x>> {
    if let Some(message) = part.message() {
        return Some(message.clone());
    }
    let is_headers = part.content_type().is_some_and(|ct| {
        ct.subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
    });
    if is_headers {
        return MessageParser::default().parse_headers(bounded(part.contents()));
    }
    None
}

/// RFC 5965: `feedback-type: abuse` is a complaint; other types are ignored.
fn complaint(message: &Message<'_>, tag: Option<&str>, bounce: Option<&BounceAddress>) -> Verdict {
    let Some(report) = message.parts.iter().find(|part| {
        part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("feedback-report"))
        })
    }) else {
        return ignored("a feedback report without its report part");
    };
    let text = String::from_utf8_lossy(bounded(report.contents()));
    let fields = field_blocks(&text).into_iter().next().unwrap_or_default();
    let feedback_type = field(&fields, "feedback-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if feedback_type != "abuse" {
        return ignored(format!(
            "a feedback report of type `{}`",
            truncate(&feedback_type, 40)
        ));
    }
    let tag = tag
        .map(str::to_owned)
        .or_else(|| returned_message_tag(message, bounce));
    let recipient = match tag {
        Some(tag) => Recipient::Tag(tag),
        None => {
            let from_report =
                field(&fields, "original-rcpt-to").and_then(|v| addresses_in(v).into_iter().next());
            let from_copy = || {
                message.parts.iter().find_map(|part| {
                    let embedded = embedded_message(part)?;
                    embedded
                        .headers_raw()
                        .filter(|(name, _)| name.eq_ignore_ascii_case("to"))
                        .flat_map(|(_, value)| addresses_in(value))
                        .next()
                })
            };
            match from_report.or_else(from_copy) {
                Some(address) => Recipient::Address(address),
                None => return ignored("a complaint naming no recipient"),
            }
        }
    };
    let reporter = field(&fields, "user-agent")
        .or_else(|| field(&fields, "reported-domain"))
        .unwrap_or("unknown reporter");
    Verdict::Feedback(vec![Feedback {
        digest_id: match &recipient {
            Recipient::Tag(t) => digest_of_tag(t),
            Recipient::Address(_) => None,
        },
        recipient,
        kind: FeedbackKind::Complaint,
        detail: format!("feedback-type: abuse ({})", truncate(reporter, 100)),
        source: "mail",
    }])
}

/// Lines that begin the copy of the original message in the common bounce forms: what
/// follows is our own mail, not the server's words.
const RETURNED_COPY_MARKERS: [&str; 9] = [
    "------ this is a copy of the message",
    "--- below this line is a copy of the message",
    "----- original message -----",
    "original message headers:",
    "------ the body of the message is",
    "----- the header of the original message is",
    "--- original message follows",
    "------ original message ------",
    "------- original message",
];

/// Exchange/Outlook, Gmail, Yahoo, qmail and Exim write bounces in prose; recognised by
/// their sender, subject or `X-Failed-Recipients`, read from the text.
fn nonstandard_dsn(
    message: &Message<'_>,
    tag: Option<&str>,
    bounce: Option<&BounceAddress>,
) -> Option<Verdict> {
    let subject = message.subject().unwrap_or("").to_ascii_lowercase();
    let from = message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_ascii_lowercase();
    let from_local = from.split('@').next().unwrap_or("");
    let from_daemon = ["mailer-daemon", "postmaster", "mail-daemon"].contains(&from_local)
        || from_local.starts_with("microsoftexchange");
    let failed_header: Vec<String> = message
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("x-failed-recipients"))
        .flat_map(|(_, value)| addresses_in(value))
        .take(MAX_RECIPIENTS)
        .collect();
    const SUBJECTS: [&str; 12] = [
        "undeliverable",
        "undelivered mail",
        "delivery status notification",
        "failure notice",
        "mail delivery failed",
        "returned mail",
        "delivery failure",
        "delivery has failed",
        "could not be delivered",
        "delivery notification",
        "mail delivery system",
        "delivery delayed",
    ];
    let subject_says = SUBJECTS.iter().any(|s| subject.contains(s));
    if !(from_daemon || subject_says || !failed_header.is_empty()) {
        return None;
    }
    let text = message_text(message).unwrap_or_default();
    let lower = text.to_ascii_lowercase();
    let end = RETURNED_COPY_MARKERS
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        .unwrap_or(lower.len());
    let (text, lower) = (&text[..end], &lower[..end]);
    let (kind, detail) = classify(&subject, text, lower, !failed_header.is_empty());
    let tag = tag
        .map(str::to_owned)
        .or_else(|| returned_message_tag(message, bounce));
    let recipients: Vec<Recipient> = match tag {
        Some(tag) => vec![Recipient::Tag(tag)],
        None if !failed_header.is_empty() => {
            failed_header.into_iter().map(Recipient::Address).collect()
        }
        None => {
            // The first address the server's words name, that is not the server's own.
            addresses_in(text)
                .into_iter()
                .find(|a| {
                    let a = a.to_ascii_lowercase();
                    let local = a.split('@').next().unwrap_or("");
                    !["mailer-daemon", "postmaster"].contains(&local)
                        && a != from
                        && bounce.is_none_or(|b| b.tag_of(&a).is_none())
                })
                .map(Recipient::Address)
                .into_iter()
                .collect()
        }
    };
    if recipients.is_empty() {
        return Some(ignored("a bounce naming no recipient"));
    }
    Some(Verdict::Feedback(
        recipients
            .into_iter()
            .map(|recipient| Feedback {
                digest_id: match &recipient {
                    Recipient::Tag(t) => digest_of_tag(t),
                    Recipient::Address(_) => None,
                },
                recipient,
                kind,
                detail: detail.clone(),
                source: "mail",
            })
            .collect(),
    ))
}

/// Hard or soft, and the server's words: a delay said in the subject or text is soft;
/// otherwise the first enhanced status code (5.x.x hard, 4.x.x soft), then the first
/// SMTP reply code, then words that mean "permanent".
fn classify(subject: &str, text: &str, lower: &str, failed_header: bool) -> (FeedbackKind, String) {
    let delayed = [
        "delay",
        "warning",
        "will retry",
        "will continue to try",
        "not yet been delivered",
    ]
    .iter()
    .any(|w| subject.contains(w) || lower.contains(w));
    let line_of = |at: usize| {
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        text[start..end].trim().to_owned()
    };
    if let Some((at, class)) = find_code(lower, true) {
        let kind = if class == b'5' && !delayed {
            FeedbackKind::HardBounce
        } else {
            FeedbackKind::SoftBounce
        };
        return (kind, line_of(at));
    }
    if let Some((at, class)) = find_code(lower, false) {
        let kind = if class == b'5' && !delayed {
            FeedbackKind::HardBounce
        } else {
            FeedbackKind::SoftBounce
        };
        return (kind, line_of(at));
    }
    if delayed {
        return (FeedbackKind::SoftBounce, "delivery delayed".to_owned());
    }
    let permanent = [
        "permanent",
        "does not exist",
        "user unknown",
        "no such user",
        "unknown user",
        "mailbox unavailable",
        "address rejected",
        "doesn't have a",
        "not found",
    ];
    if let Some(at) = permanent.iter().filter_map(|w| lower.find(w)).min() {
        return (FeedbackKind::HardBounce, line_of(at));
    }
    if failed_header {
        return (FeedbackKind::HardBounce, "X-Failed-Recipients".to_owned());
    }
    (FeedbackKind::SoftBounce, "no status given".to_owned())
}

/// The first status code in `text`: enhanced (`5.1.1`) or an SMTP reply (`550`), as a
/// word of its own; its position and class (`b'4'` or `b'5'`).
fn find_code(text: &str, enhanced: bool) -> Option<(usize, u8)> {
    let bytes = text.as_bytes();
    let boundary = |i: usize| {
        bytes
            .get(i)
            .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'.'))
    };
    for i in 0..bytes.len() {
        let class = bytes[i];
        if class != b'4' && class != b'5' {
            continue;
        }
        if i > 0 && !boundary(i - 1) {
            continue;
        }
        if enhanced {
            // c.d{1,3}.d{1,3}
            let rest = &bytes[i + 1..];
            let mut j = 0;
            let mut groups = 0;
            while groups < 2 {
                if rest.get(j) != Some(&b'.') {
                    break;
                }
                j += 1;
                let digits = rest[j..].iter().take_while(|b| b.is_ascii_digit()).count();
                if digits == 0 || digits > 3 {
                    break;
                }
                j += digits;
                groups += 1;
            }
            if groups == 2 && boundary(i + 1 + j) {
                return Some((i, class));
            }
        } else if bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_digit)
            && boundary(i + 3)
        {
            // Not a year, a size or a time: a reply code is followed by a space, `-`,
            // or `:` and begins a line or follows a space or `:`.
            let after = bytes.get(i + 3).copied().unwrap_or(b' ');
            let before = if i == 0 { b'\n' } else { bytes[i - 1] };
            if matches!(after, b' ' | b'-' | b':' | b'\n' | b'\r')
                && matches!(before, b' ' | b'\n' | b'\t' | b':' | b'(' | b'<')
            {
                return Some((i, class));
            }
        }
    }
    None
}

/// The first text of the message, bounded: the text/plain body, or else the HTML one
/// reduced to its words; `None` when it has neither.
fn message_text(message: &Message<'_>) -> Option<String> {
    if let Some(text) = message.body_text(0) {
        return Some(truncate(&text, MAX_TEXT).to_owned());
    }
    let html = message.body_html(0)?;
    let html = truncate(&html, MAX_TEXT);
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text)
}

/// Whether the message's header `name` is `value` (case-insensitive).
fn header_is(message: &Message<'_>, name: &str, value: &str) -> bool {
    message
        .headers_raw()
        .any(|(n, v)| n.eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value))
}

/// Whether the message says it is an automatic reply (out of office, vacation).
fn is_auto_reply(message: &Message<'_>) -> bool {
    let header = |name: &str| {
        message
            .headers_raw()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    if header("auto-submitted").is_some_and(|v| v != "no") {
        return true;
    }
    if ["x-autoreply", "x-autorespond"]
        .iter()
        .any(|h| header(h).is_some())
    {
        return true;
    }
    if header("precedence").is_some_and(|v| ["auto_reply", "junk"].contains(&v.as_str())) {
        return true;
    }
    let subject = message.subject().unwrap_or("").to_ascii_lowercase();
    [
        "out of office",
        "automatic reply",
        "auto-reply",
        "autoreply",
        "vacation",
        "abwesenheit",
        "absence",
    ]
    .iter()
    .any(|w| subject.contains(w))
}

/// The fields of a DSN or feedback report, in blocks separated by blank lines, names
/// lower-case, folded lines joined.
fn field_blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    for line in text.lines().take(2_000) {
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = block.last_mut()
                && value.len() < 2_000
            {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            block.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        if blocks.len() > MAX_RECIPIENTS + 1 {
            break;
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn bounded(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(MAX_TEXT)]
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
