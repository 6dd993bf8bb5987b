//! `SubscriberName::parse_optional` on any text: never panics; what it accepts is
//! trimmed, at most 100 characters and free of control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsletter::domain::SubscriberName;

fuzz_target!(|raw: &str| {
    match SubscriberName::parse_optional(raw) {
        Ok(Some(name)) => {
            let text = name.as_str();
            assert!(!text.is_empty());
            assert_eq!(text.trim(), text);
            assert!(text.chars().count() <= SubscriberName::MAX_CHARS);
            assert!(!text.chars().any(char::is_control), "{text:?}");
        }
        Ok(None) => assert!(raw.trim().is_empty(), "{raw:?}"),
        Err(_) => {}
    }
});
