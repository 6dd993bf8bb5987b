//! A subscriber's email address, normalised so one mailbox is one subscriber.

use validator::ValidateEmail;

/// A syntactically valid email address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The longest address SMTP can carry (RFC 5321's 254-octet path limit).
    pub const MAX_LEN: usize = 254;

    /// Parses user input; the error is a sentence to show beside the field.
    pub fn parse(raw: &str) -> Result<EmailAddress, String> {
        // Checked in the form it is stored in: lower-casing can lengthen an address
        // ("İ" is two bytes, its lower case "i̇" three).
        let candidate = raw.trim().to_lowercase();
        if candidate.is_empty() {
            return Err("Please enter your email address.".into());
        }
        if candidate.len() > Self::MAX_LEN {
            return Err("That email address is too long.".into());
        }
        if candidate
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err("An email address cannot contain spaces or line breaks.".into());
        }
        // validator accepts some forms (quoted local parts, IP literals) that mail
        // servers and our own headers handle badly; keep to the common shape.
        if candidate.contains(['"', '[', ']', '<', '>', '(', ')', ',', ';', '\\'])
            || !candidate.validate_email()
        {
            return Err("That doesn’t look like an email address, e.g. name@example.com.".into());
        }
        // What our mailer can actually address (it refuses e.g. `a..b@x.com`, which
        // validator lets through): better said at the form than failed at sending.
        if candidate.parse::<lettre::Address>().is_err() {
            return Err("That doesn’t look like an email address, e.g. name@example.com.".into());
        }
        let (_, domain) = candidate
            .rsplit_once('@')
            .ok_or("An email address needs an @.")?;
        if !domain.contains('.') {
            return Err("The part after the @ needs a dot, e.g. example.com.".into());
        }
        Ok(EmailAddress(candidate))
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::EmailAddress;

    #[test]
    fn a_plain_address_is_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  Aigerim.N@Astana-Times.KZ ").unwrap();
        assert_eq!(email.as_str(), "aigerim.n@astana-times.kz");
    }

    #[test]
    fn plus_addressing_and_subdomains_are_accepted() {
        assert!(EmailAddress::parse("reader+news@mail.example.co.uk").is_ok());
    }

    #[test]
    fn things_that_are_not_addresses_are_rejected() {
        for bad in [
            "",
            "   ",
            "plainaddress",
            "@example.com",
            "reader@",
            "reader@localhost",
            "two@@example.com",
            "spaced out@example.com",
            "reader@example.com\r\nBcc: victim@example.com",
            "reader@example.com\0",
            "\"quoted\"@example.com",
            "<reader@example.com>",
            "a@b.c,d@e.f",
            "two..dots@example.com",
            ".leading@example.com",
            "trailing.@example.com",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn overlong_addresses_are_rejected() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn the_length_limit_applies_to_the_lower_cased_address_that_is_stored() {
        // "İ" is two bytes and its lower case "i̇" three: 235 bytes as typed, 345 stored.
        let typed = format!("a@{}kz", "İİİİİİİİİİ.".repeat(11));
        assert!(typed.len() <= EmailAddress::MAX_LEN);
        assert_eq!(
            EmailAddress::parse(&typed),
            Err("That email address is too long.".to_owned())
        );
        let short = EmailAddress::parse("a@İİİ.kz").unwrap();
        assert_eq!(short.as_str(), "a@i\u{307}i\u{307}i\u{307}.kz");
        assert_eq!(EmailAddress::parse(short.as_str()), Ok(short.clone()));
    }
}
