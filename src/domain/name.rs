//! A subscriber's optional display name.

use super::text::is_invisible_or_bidi;

/// A display name: trimmed, at most [`SubscriberName::MAX_CHARS`] characters, no control
/// characters (so a CR/LF can never reach a mail header), no bidirectional overrides or
/// invisible characters (so a name shows as it is stored). Markup is allowed here and
/// escaped wherever the name is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberName(String);

impl SubscriberName {
    pub const MAX_CHARS: usize = 100;

    /// Parses user input; `Ok(None)` for an empty name, since the name is optional.
    pub fn parse_optional(raw: &str) -> Result<Option<SubscriberName>, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "Please keep your name under {} characters.",
                Self::MAX_CHARS
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err("A name cannot contain line breaks or control characters.".into());
        }
        // Names are shown to admins and put into every digest's `To:`; a web address
        // there is how sign-up forms get used to carry spam.
        let lower = trimmed.to_lowercase();
        if lower.contains("://") || lower.contains("www.") {
            return Err("A name cannot contain a web address.".into());
        }
        if trimmed.chars().any(is_invisible_or_bidi) {
            return Err("A name cannot contain invisible or text-direction characters.".into());
        }
        Ok(Some(SubscriberName(trimmed.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::SubscriberName;

    #[test]
    fn accented_names_and_curly_quotes_are_kept() {
        let name = SubscriberName::parse_optional("  António “Toni” Guterres ")
            .unwrap()
            .unwrap();
        assert_eq!(name.as_str(), "António “Toni” Guterres");
    }

    #[test]
    fn an_empty_name_is_no_name() {
        assert_eq!(SubscriberName::parse_optional("   ").unwrap(), None);
    }

    #[test]
    fn line_breaks_and_nul_are_rejected() {
        for bad in [
            "Eve\r\nBcc: x@example.com",
            "Eve\nX",
            "Eve\0",
            "Tab\there",
            "Eve \u{202E}gpj.exe",
            "\u{2067}Eve",
            "Ev\u{00AD}e",
            "WIN $500 gift card: claim at https://evil.example/claim today",
            "Visit WWW.evil.example",
        ] {
            assert!(SubscriberName::parse_optional(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_over_the_limit_are_rejected_but_the_limit_itself_is_fine() {
        assert!(
            SubscriberName::parse_optional(&"é".repeat(100))
                .unwrap()
                .is_some()
        );
        assert!(SubscriberName::parse_optional(&"é".repeat(101)).is_err());
    }
}
