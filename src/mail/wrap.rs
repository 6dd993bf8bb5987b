//! The text part's lines: wrapped at 78 characters (RFC 5322's advice), each link whole on
//! a line of its own, so that no client breaks a line inside a URL.

/// The longest line the text part is wrapped to, in characters.
pub const TEXT_WIDTH: usize = 78;

/// `text` with every line longer than [`TEXT_WIDTH`] wrapped at spaces, its
/// continuation lines indented as it was; a link (see [`is_link`]) is moved to a line of
/// its own and never broken, however long. Lines that fit and hold no link stay as written.
pub fn wrap_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        wrap_line(line.strip_suffix('\r').unwrap_or(line), &mut out);
        if lines.peek().is_some() {
            out.push('\n');
        }
    }
    out
}

/// Whether `word` is a link to keep whole on its own line: an address with a scheme, or
/// the placeholders a stored digest holds for the reader's unsubscribe and preferences
/// links.
pub fn is_link(word: &str) -> bool {
    let word = word.trim_start_matches(['<', '(']);
    word.starts_with("https://")
        || word.starts_with("http://")
        || word.starts_with("mailto:")
        || word.starts_with(crate::digest::compose::UNSUBSCRIBE_PLACEHOLDER_PREFIX)
        || word.starts_with(crate::digest::compose::PREFERENCES_PLACEHOLDER_PREFIX)
}

fn wrap_line(line: &str, out: &mut String) {
    let words = line.split_whitespace();
    let fits = line.chars().count() <= TEXT_WIDTH;
    if fits
        && words
            .clone()
            .filter(|w| is_link(w))
            .all(|w| w == line.trim())
    {
        out.push_str(line);
        return;
    }
    let indent = &line[..line.len() - line.trim_start().len()];
    // A list item ("12. Title", "- Title") continues under its text, not its marker.
    let hanging = format!("{indent}{}", " ".repeat(list_marker(line.trim_start())));
    // The first line has the marker in its text; the next ones are indented past it.
    let room = |pieces: usize| {
        let indent = if pieces == 0 {
            indent
        } else {
            hanging.as_str()
        };
        TEXT_WIDTH.saturating_sub(indent.chars().count())
    };
    let mut wrapped: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in words {
        if is_link(word) {
            if !current.is_empty() {
                wrapped.push(std::mem::take(&mut current));
            }
            wrapped.push(word.to_owned());
            continue;
        }
        if !current.is_empty()
            && current.chars().count() + 1 + word.chars().count() > room(wrapped.len())
        {
            wrapped.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        wrapped.push(current);
    }
    for (i, piece) in wrapped.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&hanging);
        } else {
            out.push_str(indent);
        }
        out.push_str(piece);
    }
}

/// How many characters the list marker `text` starts with takes ("12. " is 4, "- " is
/// 2), or 0.
fn list_marker(text: &str) -> usize {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && text[digits..].starts_with(". ") {
        digits + 2
    } else if text.starts_with("- ") || text.starts_with("* ") {
        2
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_at_78_and_keep_their_indent() {
        let summary = format!(
            "   {}",
            "Akan Rakhmetullin underscored the role of the UN. ".repeat(6)
        );
        let wrapped = wrap_text(&summary);
        assert!(wrapped.lines().count() > 3, "{wrapped}");
        for line in wrapped.lines() {
            assert!(line.chars().count() <= TEXT_WIDTH, "{line:?}");
            assert!(
                line.starts_with("   ") && !line.starts_with("    "),
                "{line:?}"
            );
        }
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(words(&wrapped), words(&summary), "no word lost or split");
    }

    #[test]
    fn every_link_stands_whole_on_its_own_line() {
        let url = format!(
            "https://astanatimes.example/2026/11/{}",
            "very-long-slug-".repeat(8)
        );
        let text = format!(
            "1. Title\n   Read: {url}\nUnsubscribe with one click: NEWSLETTER-UNSUBSCRIBE-abc\n\n-- \nshort line"
        );
        let wrapped = wrap_text(&text);
        assert_eq!(
            wrapped,
            format!(
                "1. Title\n   Read:\n   {url}\nUnsubscribe with one click:\nNEWSLETTER-UNSUBSCRIBE-abc\n\n-- \nshort line"
            )
        );
    }

    #[test]
    fn a_list_items_long_title_continues_under_its_text() {
        let title = "12. Almaty to Host UN Regional Center for Sustainable Development for Central Asia & Afghanistan";
        assert_eq!(
            wrap_text(title),
            "12. Almaty to Host UN Regional Center for Sustainable Development for Central\n    Asia & Afghanistan"
        );
    }

    #[test]
    fn short_lines_are_left_as_written() {
        let text = "Hello,\n\n  two  spaces kept\n-- \n";
        assert_eq!(wrap_text(text), text);
    }
}
