//! Characters that must not reach a stored address or name: invisible ones that make
//! two spellings of one thing look alike, and the bidirectional controls that make
//! text display in another order than it is stored (U+202E turns `gpj.exe` into
//! what looks like `exe.jpg`).

/// Whether `c` is a bidirectional control or an invisible formatting character.
/// Zero-width (non-)joiners are not among them: Persian, Arabic and Indic names need
/// them.
pub fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' // soft hyphen
            | '\u{061C}' // Arabic letter mark
            | '\u{180E}' // Mongolian vowel separator
            | '\u{200B}' // zero-width space
            | '\u{200E}'..='\u{200F}' // left-to-right and right-to-left marks
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner and invisible operators
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{FEFF}' // byte-order mark
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
    )
}

#[cfg(test)]
mod tests {
    use super::is_invisible_or_bidi;

    #[test]
    fn overrides_isolates_and_invisible_characters_are_caught_and_letters_are_not() {
        for c in [
            '\u{202E}', '\u{2066}', '\u{200F}', '\u{00AD}', '\u{FEFF}', '\u{200B}',
        ] {
            assert!(is_invisible_or_bidi(c), "{:?}", c);
        }
        for c in ['a', 'ä', 'Ж', 'ғ', '\u{200C}', '\u{200D}', ' '] {
            assert!(!is_invisible_or_bidi(c), "{:?}", c);
        }
    }
}
