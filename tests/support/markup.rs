//! Reading sanitised HTML back, for the property test (tests/properties.rs) and the fuzz
//! target (fuzz/fuzz_targets/sanitize_html.rs): what must never survive sanitising.

/// The elements in sanitised `html`: each tag's name and attributes, names lower-cased.
/// Outside tags the sanitiser writes `<` as `&lt;`, so every `<` there opens a tag;
/// attribute values are always double-quoted and may hold `<` and `>`.
pub fn elements(html: &str) -> Vec<(String, Vec<(String, String)>)> {
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
pub fn dangerous_markup(html: &str) -> Option<String> {
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
