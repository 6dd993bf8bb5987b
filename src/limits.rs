//! Every bound on work done for input from outside, in one place: how much of a form,
//! a JSON body, an upload, a CSV file, a feed or a piece of HTML we read, how deep and
//! how long we parse it, and how long a client may take to send it. The README's
//! Security section lists the same figures.
//!
//! The rule: cap what is *read* (bytes, rows, elements), not what a header or the
//! file's metadata claims, and give every parse of hostile input a deadline or a depth.

use std::io::Read;
use std::time::Duration;

/// The largest form body (sign-up, confirm, unsubscribe, admin forms).
pub const FORM_BYTES: usize = 16 * 1024;
/// The largest JSON body the admin API accepts.
pub const JSON_BYTES: usize = 256 * 1024;
/// The largest provider webhook body (413 past it). SNS messages are at most 256 KiB;
/// SendGrid batches its events, a few hundred a request.
pub const WEBHOOK_BYTES: usize = 2 * 1024 * 1024;
/// The largest SNS signing certificate read.
pub const SNS_CERT_BYTES: usize = 64 * 1024;
/// The largest CSV upload on the admin subscribers page.
pub const UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// The largest inbound message (`newsletter ingest-mail`, `POST /api/inbound`): bounces
/// and reports carry at most a copy of one digest. Larger: 413, or ignored by the CLI.
pub const INBOUND_MAIL_BYTES: usize = 10 * 1024 * 1024;
/// Multipart boundaries or enclosed messages an inbound message may have before it is
/// not parsed at all (a report has two or three).
pub const INBOUND_MIME_PARTS: usize = 64;

/// How long a client may take to send a request body (from the end of its headers); a
/// slower one gets 408 and the connection is closed.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);
/// The same for the admin CSV upload, which may be large.
pub const UPLOAD_DEADLINE: Duration = Duration::from_secs(120);
/// Connections one client address may hold open at once (the trusted proxy is exempt:
/// it speaks for many clients and limits them itself).
pub const CONNECTIONS_PER_CLIENT: usize = 256;

/// Rows one CSV import reads, good and bad together; a longer file is cut there.
pub const CSV_ROWS: usize = 1_000_000;
/// Rejected rows an import report lists one by one; the rest are only counted.
pub const CSV_REPORTED_ROWS: usize = 100;
/// The longest CSV record (an address and a name need a few hundred bytes); the CSV
/// reader's buffer grows to the longest record, so this bounds its memory.
pub const CSV_RECORD_BYTES: usize = 64 * 1024;

/// The largest feed read, from a URL or a file.
pub const FEED_BYTES: usize = 5 * 1024 * 1024;

/// How deep HTML from outside (article bodies, feed entries) may nest before it is kept
/// as text only: html5ever's and ammonia's work grows with the square of the depth, and
/// real article markup stays far below this.
pub const HTML_DEPTH: usize = 256;
/// How long one parse of such HTML may run before it is abandoned for its text.
pub const HTML_PARSE_TIME: Duration = Duration::from_secs(1);
/// How long all the HTML of one feed import may take to parse, entries together; once
/// spent, the remaining entries keep their text only.
pub const FEED_HTML_TIME: Duration = Duration::from_secs(5);

/// Reads at most `max` bytes from `reader`; more than that is an error. What counts is
/// what arrives, never a length the source claims (a FIFO or `/dev/zero` reports 0).
pub fn read_capped(reader: impl Read, max: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(max as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {}", human_bytes(max)),
        ));
    }
    Ok(bytes)
}

/// `5 MB`, `16 KB`: a size as the bounds above are written.
pub fn human_bytes(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_stops_one_byte_past_the_cap_whatever_the_source_claims() {
        let endless = std::io::repeat(b'x');
        let err = read_capped(endless, 1024).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::FileTooLarge);
        assert_eq!(err.to_string(), "larger than 1 KB");
        assert_eq!(read_capped(&b"abc"[..], 3).unwrap(), b"abc");
    }
}
