//! A digest's subject as an editor gives it (admin page, `POST /api/digests`).

use super::text::is_invisible_or_bidi;

/// An editor's subject for a digest: trimmed, not empty, at most
/// [`DigestSubject::MAX_CHARS`] characters, one line without control characters (a CR/LF
/// could otherwise add a header), no invisible or text-direction characters. Non-ASCII
/// text is fine: the message builder encodes the header per RFC 2047.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSubject(String);

impl DigestSubject {
    /// Past about 150 characters every client cuts a subject; 200 leaves room.
    pub const MAX_CHARS: usize = 200;

    /// Parses what the editor typed; the error is a sentence for them.
    pub fn parse(raw: &str) -> Result<DigestSubject, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(
                "the subject is empty; write one, or leave the field out to use the usual subject"
                    .into(),
            );
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "the subject is longer than {} characters",
                Self::MAX_CHARS
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(
                "the subject must be one line, without line breaks or control characters".into(),
            );
        }
        if trimmed.chars().any(is_invisible_or_bidi) {
            return Err("the subject cannot contain invisible or text-direction characters".into());
        }
        Ok(DigestSubject(trimmed.to_owned()))
    }

    /// An optional field: empty (or only spaces) means "the usual subject".
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<DigestSubject>, String> {
        match raw {
            Some(raw) if !raw.trim().is_empty() => DigestSubject::parse(raw).map(Some),
            _ => Ok(None),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::DigestSubject;

    #[test]
    fn a_subject_is_trimmed_and_keeps_its_accents() {
        let subject =
            DigestSubject::parse("  Guterres’s visit: what Astana expects — “our” take ").unwrap();
        assert_eq!(
            subject.as_str(),
            "Guterres’s visit: what Astana expects — “our” take"
        );
    }

    #[test]
    fn empty_multi_line_and_overlong_subjects_are_refused() {
        assert!(DigestSubject::parse("   ").is_err());
        assert!(DigestSubject::parse("News\r\nBcc: victim@example.com").is_err());
        assert!(DigestSubject::parse("News\tof the day").is_err());
        assert!(DigestSubject::parse("\u{202e}sweN").is_err());
        assert!(DigestSubject::parse(&"a".repeat(DigestSubject::MAX_CHARS)).is_ok());
        assert!(DigestSubject::parse(&"a".repeat(DigestSubject::MAX_CHARS + 1)).is_err());
        assert_eq!(DigestSubject::parse_optional(Some("  ")), Ok(None));
        assert_eq!(DigestSubject::parse_optional(None), Ok(None));
    }
}
