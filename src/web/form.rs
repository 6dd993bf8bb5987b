//! Strict decoding of `application/x-www-form-urlencoded` bodies.
//!
//! The usual decoders are lenient: a broken `%ZZ` escape passes through as text and
//! invalid UTF-8 becomes U+FFFD, so garbage would be stored as if typed. Here either is
//! a 400.

/// Whether the request says its body is a form: `application/x-www-form-urlencoded`
/// exactly (in any case, parameters such as `; charset=UTF-8` allowed), not merely
/// something that starts like it.
pub fn is_form(req: &actix_web::HttpRequest) -> bool {
    use actix_web::HttpMessage;
    matches!(
        req.mime_type(),
        Ok(Some(mime)) if mime.essence_str() == "application/x-www-form-urlencoded"
    )
}

/// Decodes a form body into its `(name, value)` pairs, refusing malformed escapes and
/// invalid UTF-8.
pub fn decode(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode_component(name)?, decode_component(value)?))
        })
        .collect()
}

fn decode_component(raw: &[u8]) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or("a % escape is cut off")?;
                let text = std::str::from_utf8(hex).map_err(|_| "a % escape is not hexadecimal")?;
                bytes.push(
                    u8::from_str_radix(text, 16)
                        .map_err(|_| format!("`%{text}` is not a valid escape"))?,
                );
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| "the form is not valid UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn a_browser_encoded_form_decodes() {
        let pairs =
            decode(b"email=ant%C3%B3nio%40example.org&name=Ant%C3%B3nio+Guterres&empty=&flag")
                .unwrap();
        assert_eq!(
            pairs,
            [
                ("email".into(), "antónio@example.org".into()),
                ("name".into(), "António Guterres".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
            ]
        );
    }

    #[test]
    fn broken_escapes_and_invalid_utf8_are_refused() {
        for bad in [
            &b"email=%ZZ"[..],
            b"email=%4",
            b"name=%FF%FE",
            b"name=\xff",
            b"a=%",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
