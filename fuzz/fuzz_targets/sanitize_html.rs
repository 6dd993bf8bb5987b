//! `sanitize_html` and `html_to_text` on any text: never panic; sanitised HTML carries
//! no script, event handler or `javascript:` link, and text is one trimmed line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsletter::domain::article::{html_to_text, sanitize_html};

#[path = "../../tests/support/markup.rs"]
mod markup;
use markup::dangerous_markup;

fuzz_target!(|html: &str| {
    let clean = sanitize_html(html);
    if let Some(danger) = dangerous_markup(&clean) {
        panic!("{danger} survived: {clean}");
    }
    let text = html_to_text(html);
    assert_eq!(text.trim(), text);
    assert!(
        !text.contains(['\n', '\r', '\t']) && !text.contains("  "),
        "{text:?}"
    );
});
