//! `EmailAddress::parse` on any text: never panics; what it accepts is one clean,
//! lower-case address within the SMTP limit that parses to itself again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsletter::domain::EmailAddress;

fuzz_target!(|raw: &str| {
    if let Ok(email) = EmailAddress::parse(raw) {
        let text = email.as_str();
        assert_eq!(text.matches('@').count(), 1, "{text:?}");
        assert!(
            !text.chars().any(|c| c.is_whitespace() || c.is_control()),
            "{text:?}"
        );
        assert_eq!(text.to_lowercase(), text);
        assert!(text.len() <= EmailAddress::MAX_LEN, "{text:?}");
        assert_eq!(EmailAddress::parse(text), Ok(email.clone()));
    }
});
