//! `sanitize_html` and `html_to_text` on any text: never panic; sanitised HTML carries
//! no script, event handler or `javascript:` link, and text is one trimmed line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsletter::domain::article::{html_to_text, sanitize_html};

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

/// The elements in sanitised `html`: each tag's name and attributes, names lower-cased.
/// Outside tags the sanitiser writes `<` as `&lt;`, so every `<` there opens a tag;
/// attribute values are always double-quoted and may hold `<` and `>`.
fn elements(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut elements = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = &rest[name_end..];
        let mut attributes = Vec::new();
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if let Some(after) = rest.strip_prefix('>') {
                rest = after;
                break;
            }
            if rest.is_empty() {
                break;
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '=' || c == '>')
                .unwrap_or(rest.len());
            let attribute = rest[..end].to_ascii_lowercase();
            rest = &rest[end..];
            let mut value = String::new();
            if let Some(quoted) = rest.strip_prefix("=\"") {
                let close = quoted.find('"').unwrap_or(quoted.len());
                value = quoted[..close].to_owned();
                rest = quoted.get(close + 1..).unwrap_or_default();
            }
            attributes.push((attribute, value));
        }
        elements.push((name, attributes));
    }
    elements
}

/// What must never survive sanitising, if `html` (sanitised) has it.
fn dangerous_markup(html: &str) -> Option<String> {
    for (name, attributes) in elements(html) {
        if name == "script" || name == "style" || name == "iframe" {
            return Some(format!("a <{name}> element"));
        }
        for (attribute, value) in attributes {
            if attribute.starts_with("on") {
                return Some(format!("an event handler {attribute}"));
            }
            let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            if value.to_ascii_lowercase().starts_with("javascript:") {
                return Some(format!("a javascript: link in {attribute}"));
            }
        }
    }
    None
}
