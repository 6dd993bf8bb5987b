//! Turning rendered text and HTML into a standards-conforming message.

use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};

use crate::mail::dkim;

/// A message ready to be formatted: every part already rendered.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// With angle brackets, e.g. `<confirm-1.ab12@news.example.com>`.
    pub message_id: String,
    /// Extra headers such as `List-Unsubscribe`. lettre encodes each value (RFC 2047 for
    /// non-ASCII, CR/LF never pass through as line breaks).
    pub headers: Vec<(&'static str, String)>,
    /// The envelope sender (SMTP `MAIL FROM`) when it is not the From address: the
    /// tagged bounce address (VERP, see `mail::verp`).
    pub return_path: Option<String>,
}

impl Email {
    /// Formats the message as `multipart/alternative` (text, then HTML), UTF-8, with a
    /// `Date` and the given `Message-ID`; returns the envelope and the bytes to send.
    /// `eight_bit` says whether the receiving server takes 8-bit bodies (8BITMIME).
    /// `dkim` signs it when DKIM is configured; a signed message is always 7bit (RFC 6376
    /// §5.3), so no relay on the way has a reason to re-encode, and break, what was
    /// signed.
    pub fn format(
        &self,
        from: &Mailbox,
        eight_bit: bool,
        dkim: Option<&dkim::Signer>,
    ) -> anyhow::Result<(Envelope, Vec<u8>)> {
        let eight_bit = eight_bit && dkim.is_none();
        let mut builder = lettre::Message::builder()
            .from(from.clone())
            .to(self.to.clone())
            .subject(self.subject.clone())
            .message_id(Some(self.message_id.clone()))
            .date_now();
        for (name, value) in &self.headers {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value.clone(),
            ));
        }
        let message = builder.multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, &self.text, eight_bit))
                .singlepart(part(ContentType::TEXT_HTML, &self.html, eight_bit)),
        )?;
        let formatted = message.formatted();
        let raw = match dkim {
            Some(signer) => signer.sign(&formatted, chrono::Utc::now().timestamp())?,
            None => formatted,
        };
        let envelope = match &self.return_path {
            Some(sender) => Envelope::new(
                Some(sender.parse().map_err(|e| {
                    anyhow::anyhow!("the return path `{sender}` is not an address: {e}")
                })?),
                message.envelope().to().to_vec(),
            )?,
            None => message.envelope().clone(),
        };
        Ok((envelope, raw))
    }
}

/// A body part sent as it is when its lines allow (at most 998 bytes, RFC 5322) and, for
/// non-ASCII text, the server takes 8bit: the raw message (and an `.eml` in the outbox)
/// then shows text and links as they are, and no byte is spent on encoding. Otherwise
/// quoted-printable. (lettre's own choice stops at 76-character lines, which every long
/// link exceeds.)
fn part(content_type: ContentType, body: &str, eight_bit: bool) -> SinglePart {
    let (crlf, lines_fit) = crlf_lines(body);
    let fits_8bit = lines_fit && !body.contains('\0');
    let body = match (fits_8bit, crlf.is_ascii()) {
        (true, true) => {
            Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
        }
        (true, false) if eight_bit => {
            Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
        }
        _ => Body::new_with_encoding(crlf, ContentTransferEncoding::QuotedPrintable)
            .expect("quoted-printable encodes any text"),
    };
    SinglePart::builder().header(content_type).body(body)
}

/// `body` with every line ending (CRLF, or a lone CR or LF) made CRLF, and whether
/// every line fits in 998 bytes. One pass over the text: a digest's parts go through here
/// for every message sent.
fn crlf_lines(body: &str) -> (String, bool) {
    let mut crlf = String::with_capacity(body.len() + body.len() / 32);
    let mut fit = true;
    let mut lines = body.split('\n').peekable();
    while let Some(line) = lines.next() {
        let ended = lines.peek().is_some();
        // The CR of a CRLF; any other CR ends a line of its own.
        let line = match line.strip_suffix('\r') {
            Some(line) if ended => line,
            _ => line,
        };
        for (i, piece) in line.split('\r').enumerate() {
            if i > 0 {
                crlf.push_str("\r\n");
            }
            fit &= piece.len() <= 998;
            crlf.push_str(piece);
        }
        if ended {
            crlf.push_str("\r\n");
        }
    }
    (crlf, fit)
}

/// The recipient's mailbox: the name (if any) and address. lettre quotes and encodes the
/// name, and names never hold control characters (see `SubscriberName`).
pub fn mailbox(name: Option<&str>, email: &str) -> anyhow::Result<Mailbox> {
    Ok(Mailbox::new(name.map(str::to_owned), email.parse()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of line ending comes out CRLF, as three replacements in turn made it,
    /// and a line longer than 998 bytes is found wherever it is.
    #[test]
    fn line_endings_become_crlf_and_long_lines_are_found() {
        let replaced = |body: &str| {
            body.replace("\r\n", "\n")
                .replace('\r', "\n")
                .replace('\n', "\r\n")
        };
        for (body, want) in [
            ("", ""),
            ("a\r\r\nb\n\n", "a\r\n\r\nb\r\n\r\n"),
            ("“Astana”\r\n\rÉ\r", "“Astana”\r\n\r\nÉ\r\n"),
        ] {
            assert_eq!(crlf_lines(body), (want.to_owned(), true), "{body:?}");
        }
        // Every text of up to seven of `a`, CR and LF.
        let mut texts = vec![String::new()];
        let mut longest = texts.clone();
        for _ in 0..7 {
            longest = longest
                .iter()
                .flat_map(|t| ["a", "\r", "\n"].map(|c| format!("{t}{c}")))
                .collect();
            texts.extend(longest.iter().cloned());
        }
        for body in &texts {
            assert_eq!(crlf_lines(body), (replaced(body), true), "{body:?}");
        }
        let long = "é".repeat(500);
        assert!(!crlf_lines(&format!("short\n{long}\nshort")).1);
        assert!(!crlf_lines(&format!("short\r{long}")).1);
        assert!(crlf_lines(&format!("short\n{}\n", "x".repeat(998))).1);
    }

    #[test]
    fn non_ascii_subjects_and_names_are_encoded_and_the_parts_are_alternatives() {
        let email = Email {
            to: mailbox(Some("Madina Dzharbusynova “M”"), "madina@example.kz").unwrap(),
            subject: "Kazakhstan’s UN role — confirm".into(),
            text: "Plain text".into(),
            html: "<p>HTML</p>".into(),
            message_id: "<test-1@example.com>".into(),
            headers: vec![("List-Id", "News <news.example.com>".into())],
            return_path: None,
        };
        let from: Mailbox = "News <news@example.com>".parse().unwrap();
        let (envelope, raw) = email.format(&from, true, None).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert_eq!(envelope.to()[0].to_string(), "madina@example.kz");
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
        assert!(raw.contains("Message-ID: <test-1@example.com>"), "{raw}");
        assert!(raw.contains("List-Id: News <news.example.com>"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("Date: "), "{raw}");
        assert!(raw.contains("Content-Transfer-Encoding: 7bit"), "{raw}");
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(headers.is_ascii(), "headers are encoded: {headers}");
    }

    #[test]
    fn bodies_keep_long_links_intact_and_fall_back_to_an_encoding_for_overlong_lines() {
        let link = format!("https://news.example.com/{}", "a".repeat(200));
        let text = format!("Kazakhstan’s news\n{link}\n");
        let html = format!("<p>{}</p>", "x".repeat(2000));
        let email = Email {
            to: mailbox(None, "reader@example.com").unwrap(),
            subject: "s".into(),
            text,
            html,
            message_id: "<test-3@example.com>".into(),
            headers: vec![],
            return_path: None,
        };
        let from: Mailbox = "News <news@example.com>".parse().unwrap();
        let (_, raw) = email.format(&from, true, None).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert!(
            raw.contains(&format!("Kazakhstan’s news\r\n{link}\r\n")),
            "{raw}"
        );
        assert!(raw.contains("Content-Transfer-Encoding: 8bit"));
        assert!(
            raw.lines().all(|line| line.len() <= 998),
            "the 2000-byte line was encoded"
        );
    }

    #[test]
    fn without_8bit_support_non_ascii_bodies_are_quoted_printable() {
        let email = Email {
            to: mailbox(Some("António"), "antonio@example.com").unwrap(),
            subject: "Guterres’s trip".into(),
            text: "Kazakhstan’s news".into(),
            html: "<p>Kazakhstan’s news</p>".into(),
            message_id: "<test-4@example.com>".into(),
            headers: vec![],
            return_path: None,
        };
        let from: Mailbox = "News <news@example.com>".parse().unwrap();
        let (_, raw) = email.format(&from, false, None).unwrap();
        assert!(raw.is_ascii(), "{}", String::from_utf8_lossy(&raw));
        assert!(String::from_utf8(raw).unwrap().contains("quoted-printable"));
    }

    #[test]
    fn a_header_value_with_line_breaks_adds_no_header() {
        let email = Email {
            to: mailbox(None, "reader@example.com").unwrap(),
            subject: "Hello\r\nBcc: victim@example.com".into(),
            text: "t".into(),
            html: "h".into(),
            message_id: "<test-2@example.com>".into(),
            headers: vec![("List-Id", "x\r\nBcc: victim@example.com".into())],
            return_path: None,
        };
        let from: Mailbox = "News <news@example.com>".parse().unwrap();
        let (_, raw) = email.format(&from, true, None).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert!(!raw.lines().any(|line| line.starts_with("Bcc:")), "{raw}");
    }
}
