//! DKIM signing (RFC 6376, RFC 8463): the keys from `DKIM_PRIVATE_KEY_FILE` and
//! `DKIM_ED25519_KEY_FILE`, loaded once at start, and the signature over the finished
//! bytes of a message.
//!
//! lettre's own signer cannot be used: it hashes only the first copy of each listed
//! header (so listing a header twice, to oversign it, never verifies), it signs before
//! writing a multipart message's `Content-Type`, and it signs 8bit bodies as they are.
//! Signing the final bytes here needs only the crypto crates (`rsa`, `ed25519-dalek`,
//! `sha2`); the signatures are checked in the tests by an independent verifier (dkimpy).
//! What is signed is always 7bit (see `Email::format`), so a relay that has to downgrade
//! 8bit parts for a next hop without 8BITMIME finds nothing to change.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};

use crate::config::DkimSettings;

/// Headers listed once more than they occur, so that a copy added anywhere (a second
/// `Subject` or `From` above the signed one, a `Reply-To` where there was none) breaks
/// the signature. A header listed and absent is signed as absent.
const OVERSIGNED: [&str; 10] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Content-Language",
];

/// Headers never signed even when present: relays add or rewrite them on the way.
const UNSIGNED: [&str; 5] = [
    "Return-Path",
    "Received",
    "DKIM-Signature",
    "Authentication-Results",
    "ARC-Seal",
];

/// The longest line of the folded DKIM-Signature header (RFC 5322's recommended 78).
const LINE: usize = 78;

/// One signing key.
enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

impl Key {
    fn algorithm(&self) -> &'static str {
        match self {
            Key::Rsa(_) => "rsa-sha256",
            Key::Ed25519(_) => "ed25519-sha256",
        }
    }

    /// Signs the SHA-256 hash of `data` (RFC 8463: Ed25519 signs the hash too).
    fn sign(&self, data: &[u8]) -> anyhow::Result<Vec<u8>> {
        let digest = Sha256::digest(data);
        match self {
            Key::Rsa(key) => key
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
                .map_err(|e| anyhow::anyhow!("RSA signing failed: {e}")),
            Key::Ed25519(key) => {
                use ed25519_dalek::Signer as _;
                Ok(key.sign(&digest).to_bytes().to_vec())
            }
        }
    }
}

/// One key with the DNS name it is published under.
struct Signature {
    selector: String,
    key: Key,
}

/// Signs every message: with the key of `DKIM_PRIVATE_KEY_FILE` and, when
/// `DKIM_ED25519_KEY_FILE` is set, an Ed25519 signature beside it.
pub struct Signer {
    domain: String,
    signatures: Vec<Signature>,
}

impl Signer {
    /// Reads the keys; a file that holds no key stops the start with a sentence.
    pub fn load(settings: &DkimSettings) -> anyhow::Result<Signer> {
        let path = &settings.private_key_file;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read DKIM_PRIVATE_KEY_FILE {}", path.display()))?;
        let key = read_key(&text).with_context(|| {
            format!(
                "DKIM_PRIVATE_KEY_FILE {} is neither an RSA key in PEM nor an Ed25519 key",
                path.display()
            )
        })?;
        let mut signatures = vec![Signature {
            selector: settings.selector.clone(),
            key,
        }];
        if let Some(ed) = &settings.ed25519 {
            let text = std::fs::read_to_string(&ed.key_file).with_context(|| {
                format!(
                    "could not read DKIM_ED25519_KEY_FILE {}",
                    ed.key_file.display()
                )
            })?;
            let key = read_ed25519(&text).with_context(|| {
                format!(
                    "DKIM_ED25519_KEY_FILE {} holds no Ed25519 private key (expected PEM from \
                     `openssl genpkey -algorithm ed25519`, or the 32-byte seed in base64)",
                    ed.key_file.display()
                )
            })?;
            signatures.push(Signature {
                selector: ed.selector.clone(),
                key: Key::Ed25519(Box::new(key)),
            });
        }
        Ok(Signer {
            domain: settings.domain.clone(),
            signatures,
        })
    }

    /// The algorithms signed with, for the start-up log (`rsa-sha256 + ed25519-sha256`).
    pub fn describe(&self) -> String {
        self.signatures
            .iter()
            .map(|s| format!("{} (s={})", s.key.algorithm(), s.selector))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// Returns `message` (CRLF line ends, headers then a blank line then the body) with
    /// a DKIM-Signature header for each key in front. `now` is the `t=` tag.
    pub fn sign(&self, message: &[u8], now: i64) -> anyhow::Result<Vec<u8>> {
        let (head, body) = split(message);
        let head = std::str::from_utf8(head).context("the header block is not ASCII")?;
        let fields = header_fields(head);
        let body_hash = STANDARD.encode(Sha256::digest(relaxed_body(body)));
        let names = signed_names(&fields);
        let mut out = Vec::with_capacity(message.len() + 800 * self.signatures.len());
        // Each signature covers only the message's own headers, not the other signature.
        for signature in &self.signatures {
            let tags = [
                ("v", "1".to_owned()),
                ("a", signature.key.algorithm().to_owned()),
                ("c", "relaxed/relaxed".to_owned()),
                ("d", self.domain.clone()),
                ("s", signature.selector.clone()),
                ("t", now.to_string()),
                ("h", names.join(":")),
                ("bh", body_hash.clone()),
            ];
            let (unsigned, column) = fold_tags(&tags);
            let mut data = Vec::new();
            for (name, value) in selected(&fields, &names) {
                data.extend_from_slice(relaxed_header(name, value).as_bytes());
                data.extend_from_slice(b"\r\n");
            }
            let (name, value) = unsigned
                .split_once(':')
                .expect("the header starts with its name");
            data.extend_from_slice(relaxed_header(name, value).as_bytes());
            let b = STANDARD.encode(signature.key.sign(&data)?);
            out.extend_from_slice(unsigned.as_bytes());
            out.extend_from_slice(fold_base64(&b, column).0.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(message);
        Ok(out)
    }
}

/// An RSA key in PEM (PKCS#1 or PKCS#8), or an Ed25519 key.
fn read_key(text: &str) -> anyhow::Result<Key> {
    if text.contains("BEGIN RSA PRIVATE KEY") {
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(text)
            .map_err(|e| anyhow::anyhow!("not an RSA key in PKCS#1 PEM: {e}"))?;
        return Ok(Key::Rsa(Box::new(key)));
    }
    if text.contains("BEGIN PRIVATE KEY")
        && let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(text)
    {
        return Ok(Key::Rsa(Box::new(key)));
    }
    Ok(Key::Ed25519(Box::new(read_ed25519(text)?)))
}

/// An Ed25519 key: PKCS#8 PEM, or the 32-byte seed in base64 (what lettre took).
fn read_ed25519(text: &str) -> anyhow::Result<ed25519_dalek::SigningKey> {
    if text.contains("BEGIN PRIVATE KEY") {
        return ed25519_dalek::SigningKey::from_pkcs8_pem(text)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 key in PKCS#8 PEM: {e}"));
    }
    let seed = STANDARD
        .decode(text.trim())
        .map_err(|e| anyhow::anyhow!("not base64: {e}"))?;
    let seed: [u8; 32] = seed
        .try_into()
        .map_err(|_| anyhow::anyhow!("an Ed25519 seed is 32 bytes"))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// The header block (without the blank line) and the body.
fn split(message: &[u8]) -> (&[u8], &[u8]) {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&message[..at], &message[at + 4..]),
        None => (message, &[]),
    }
}

/// The header fields as (name, raw value with its folding), in order.
fn header_fields(head: &str) -> Vec<(&str, &str)> {
    let mut fields: Vec<(&str, &str)> = Vec::new();
    let mut start = 0;
    let bytes = head.as_bytes();
    let mut i = 0;
    while i <= bytes.len() {
        let at_end = i == bytes.len();
        let field_ends = at_end
            || (bytes[i..].starts_with(b"\r\n") && !matches!(bytes.get(i + 2), Some(b' ' | b'\t')));
        if field_ends {
            if let Some((name, value)) = head[start..i].split_once(':') {
                fields.push((name, value));
            }
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    fields
}

/// The `h=` list: every header the message has (as many times as it occurs) but those
/// relays change, and each oversigned header once more.
fn signed_names(fields: &[(&str, &str)]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (name, _) in fields {
        let name = name.trim();
        if UNSIGNED.iter().any(|u| u.eq_ignore_ascii_case(name)) {
            continue;
        }
        names.push(name.to_owned());
    }
    for extra in OVERSIGNED {
        names.push(extra.to_owned());
    }
    names
}

/// The header instances `names` select, bottom-up per name as RFC 6376 §5.4.2 says; a
/// name with no instance left selects nothing.
fn selected<'a>(fields: &[(&'a str, &'a str)], names: &[String]) -> Vec<(&'a str, &'a str)> {
    let mut used = vec![false; fields.len()];
    let mut out = Vec::new();
    for name in names {
        if let Some(i) = (0..fields.len())
            .rev()
            .find(|&i| !used[i] && fields[i].0.trim().eq_ignore_ascii_case(name))
        {
            used[i] = true;
            out.push(fields[i]);
        }
    }
    out
}

/// Relaxed header canonicalisation (RFC 6376 §3.4.2), without the line end.
fn relaxed_header(name: &str, value: &str) -> String {
    let unfolded = value.replace("\r\n", "");
    let value = unfolded
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!("{}:{}", name.trim().to_ascii_lowercase(), value)
}

/// Relaxed body canonicalisation (RFC 6376 §3.4.4).
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = body
        .split(|&b| b == b'\n')
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let mut out = Vec::with_capacity(line.len());
            let mut in_space = false;
            for &b in line {
                if b == b' ' || b == b'\t' {
                    in_space = true;
                } else {
                    if in_space {
                        out.push(b' ');
                        in_space = false;
                    }
                    out.push(b);
                }
            }
            out
        })
        .collect();
    while lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    let mut out = Vec::with_capacity(body.len());
    for line in lines {
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The DKIM-Signature header up to and including `b=`, folded to lines of at most
/// [`LINE`] characters (breaks between tags, before each `:` of `h=`, and anywhere in
/// base64), and the column it ends at.
fn fold_tags(tags: &[(&str, String)]) -> (String, usize) {
    let mut out = String::from("DKIM-Signature:");
    let mut column = out.len();
    let put = |piece: &str, out: &mut String, column: &mut usize, space: bool| {
        let needed = piece.len() + usize::from(space);
        if *column + needed > LINE {
            out.push_str("\r\n ");
            *column = 1;
        } else if space {
            out.push(' ');
            *column += 1;
        }
        out.push_str(piece);
        *column += piece.len();
    };
    for (name, value) in tags {
        match *name {
            "h" => {
                let mut first = true;
                for header in value.split(':') {
                    let piece = if first {
                        format!("h={header}")
                    } else {
                        format!(":{header}")
                    };
                    put(&piece, &mut out, &mut column, first);
                    first = false;
                }
                put(";", &mut out, &mut column, false);
            }
            "bh" => {
                put("bh=", &mut out, &mut column, true);
                let (rest, end) = fold_base64(value, column);
                out.push_str(&rest);
                column = end;
                put(";", &mut out, &mut column, false);
            }
            _ => put(&format!("{name}={value};"), &mut out, &mut column, true),
        }
    }
    put("b=", &mut out, &mut column, true);
    (out, column)
}

/// `value` (base64) continued from `column`, broken onto new lines at [`LINE`], and the
/// column it ends at.
fn fold_base64(value: &str, column: usize) -> (String, usize) {
    let mut out = String::new();
    let mut column = column;
    // Leave room for a `;` after the last piece.
    for c in value.chars() {
        if column + 2 > LINE {
            out.push_str("\r\n ");
            column = 1;
        }
        out.push(c);
        column += 1;
    }
    (out, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_canonicalisation_follows_the_rfc_examples() {
        // RFC 6376 §3.4.6.
        assert_eq!(relaxed_header("A", " X\r\n"), "a:X");
        assert_eq!(relaxed_header("B ", " Y\t\r\n\tZ  "), "b:Y Z");
        assert_eq!(relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n"), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(b""), b"");
    }

    #[test]
    fn oversigned_headers_are_listed_once_more_than_they_occur_and_signed_as_absent() {
        let head = "From: a@example.com\r\nSubject: one\r\n two\r\nReceived: x\r\nContent-Type: text/plain";
        let fields = header_fields(head);
        assert_eq!(fields.len(), 4);
        assert_eq!(fields[1], ("Subject", " one\r\n two"));
        let names = signed_names(&fields);
        let count = |n: &str| names.iter().filter(|h| h.eq_ignore_ascii_case(n)).count();
        assert_eq!(count("from"), 2);
        assert_eq!(count("subject"), 2);
        assert_eq!(count("reply-to"), 1);
        assert_eq!(count("content-type"), 1);
        assert_eq!(count("received"), 0);
        // The extra names select nothing, so the signed data holds each header once.
        assert_eq!(selected(&fields, &names).len(), 3);
    }

    #[test]
    fn the_signature_header_is_folded_to_78_characters() {
        let tags = [
            ("v", "1".to_owned()),
            ("a", "rsa-sha256".to_owned()),
            ("d", "news.astanatimes.example".to_owned()),
            ("h", OVERSIGNED.join(":").repeat(3)),
            ("bh", "A".repeat(44)),
        ];
        let (head, column) = fold_tags(&tags);
        let full = format!("{head}{}", fold_base64(&"B".repeat(344), column).0);
        for line in full.split("\r\n") {
            assert!(line.len() <= LINE, "{} > 78: {line}", line.len());
        }
        assert!(full.contains("bh="), "{full}");
        let unfolded: String = full.replace("\r\n ", "");
        assert!(
            unfolded.contains(&format!("b={}", "B".repeat(344))),
            "{full}"
        );
    }
}
