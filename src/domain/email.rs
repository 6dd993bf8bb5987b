//! A subscriber's email address, normalised so one mailbox is one subscriber: this is
//! the one place an address from outside (the form, a CSV file, the admin pages)
//! becomes the form we store, compare, limit and send to.

use validator::ValidateEmail;

use super::text::is_invisible_or_bidi;

/// A syntactically valid email address in its one stored form: trimmed, lower-cased,
/// and its domain in ASCII as UTS #46 (IDNA) maps it, so `bob@exämple.com`,
/// `bob@xn--exmple-cua.com`, `bob@ｅｘａｍｐｌｅ.com` and `bob@exam\u{ad}ple.com` are
/// each one address, not several.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

const NOT_AN_ADDRESS: &str = "That doesn’t look like an email address, e.g. name@example.com.";

impl EmailAddress {
    /// The longest address SMTP can carry (RFC 5321's 254-octet path limit).
    pub const MAX_LEN: usize = 254;

    /// Parses user input; the error is a sentence to show beside the field.
    pub fn parse(raw: &str) -> Result<EmailAddress, String> {
        let typed = raw.trim();
        if typed.is_empty() {
            return Err("Please enter your email address.".into());
        }
        // Bounds the work below; the stored form is checked again.
        if typed.len() > 4 * Self::MAX_LEN {
            return Err("That email address is too long.".into());
        }
        if typed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("An email address cannot contain spaces or line breaks.".into());
        }
        let (local, domain) = typed.rsplit_once('@').ok_or(NOT_AN_ADDRESS)?;
        if local.chars().any(is_invisible_or_bidi) {
            return Err("An email address cannot contain invisible characters.".into());
        }
        // UTS #46: maps full-width letters, ligatures and case, drops soft hyphens, and
        // writes the result in ASCII (punycode), the form every mail server takes.
        let domain = idna::domain_to_ascii_strict(domain)
            .map_err(|_| "The part after the @ is not a valid domain name.".to_owned())?;
        // Checked in the form it is stored in: lower-casing ("İ" is two bytes, its
        // lower case "i̇" three) and punycode change the length.
        let candidate = format!("{}@{domain}", local.to_lowercase());
        if candidate.len() > Self::MAX_LEN {
            return Err("That email address is too long.".into());
        }
        // validator accepts some forms (quoted local parts, IP literals) that mail
        // servers and our own headers handle badly; keep to the common shape.
        if candidate.contains(['"', '[', ']', '<', '>', '(', ')', ',', ';', '\\'])
            || !candidate.validate_email()
        {
            return Err(NOT_AN_ADDRESS.into());
        }
        // What our mailer can actually address (it refuses e.g. `a..b@x.com`, which
        // validator lets through): better said at the form than failed at sending.
        if candidate.parse::<lettre::Address>().is_err() {
            return Err(NOT_AN_ADDRESS.into());
        }
        // A host name, not an address: `a@127.0.0.1`, `a@0x7f.1` and `a@example.123`
        // are IP addresses to a resolver. Top-level domains are letters (or an IDN's
        // `xn--` form).
        let Some((_, top)) = domain.rsplit_once('.') else {
            return Err("The part after the @ needs a dot, e.g. example.com.".into());
        };
        if !(top.bytes().all(|b| b.is_ascii_lowercase()) || top.starts_with("xn--")) {
            return Err("The part after the @ must end in a name such as .com or .kz.".into());
        }
        Ok(EmailAddress(candidate))
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address with its domain in Unicode, as its owner typed it: for pages, never
    /// for comparing or sending.
    pub fn to_unicode(&self) -> String {
        match self.0.rsplit_once('@') {
            Some((local, domain)) => format!("{local}@{}", idna::domain_to_unicode(domain).0),
            None => self.0.clone(),
        }
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
        // "İ" is two bytes and its lower case "i̇" three: 253 bytes as typed, 312 stored.
        let typed = format!("{}@{}kz", "İ".repeat(59), "abcdefghij.".repeat(12));
        assert!(typed.len() <= EmailAddress::MAX_LEN);
        assert_eq!(
            EmailAddress::parse(&typed),
            Err("That email address is too long.".to_owned())
        );
        let short = EmailAddress::parse("a@İİİ.kz").unwrap();
        assert!(short.as_str().starts_with("a@xn--"), "{}", short.as_str());
        assert_eq!(EmailAddress::parse(short.as_str()), Ok(short.clone()));
    }

    #[test]
    fn every_spelling_of_one_domain_is_one_address() {
        let stored = |raw: &str| EmailAddress::parse(raw).unwrap().as_str().to_owned();
        let plain = stored("bob@example.com");
        for spelling in [
            "bob@exam\u{00AD}ple.com", // soft hyphen
            "bob@ｅｘａｍｐｌｅ.com",  // full-width letters
            "bob@EXAMPLE.COM",
            "bob@example\u{3002}com", // ideographic full stop
        ] {
            assert_eq!(stored(spelling), plain, "{spelling:?}");
        }
        assert_eq!(
            stored("bob@ﬁsh.example"),
            stored("bob@fish.example"),
            "ligature"
        );
        assert_eq!(stored("bob@exämple.com"), "bob@xn--exmple-cua.com");
        assert_eq!(stored("bob@xn--exmple-cua.com"), "bob@xn--exmple-cua.com");
        assert_eq!(
            EmailAddress::parse("bob@xn--exmple-cua.com")
                .unwrap()
                .to_unicode(),
            "bob@exämple.com"
        );
    }

    #[test]
    fn ip_addresses_and_numeric_domains_are_not_host_names() {
        for bad in [
            "a@127.0.0.1",
            "a@0x7f.1",
            "a@example.123",
            "a@10.0.0.1",
            "a@example.c0m",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            EmailAddress::parse("a@mail.xn--80ao21a").is_ok(),
            "an IDN top-level domain"
        );
    }

    #[test]
    fn invisible_and_text_direction_characters_are_refused_with_a_sentence_that_says_so() {
        for bad in [
            "b\u{00AD}ob@example.com",
            "bob\u{202E}@example.com",
            "\u{200B}bob@example.com",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err("An email address cannot contain invisible characters.".to_owned()),
                "{bad:?}"
            );
        }
    }
}
