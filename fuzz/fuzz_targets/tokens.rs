//! Tokens from links: a confirmation token parses exactly when it is 43 base64url
//! characters, and no string verifies as a signed unsubscribe token without the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsletter::domain::{ConfirmationToken, Signer};

fuzz_target!(|raw: &str| {
    let well_formed = raw.len() == 43
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    assert_eq!(
        ConfirmationToken::parse(raw).is_ok(),
        well_formed,
        "{raw:?}"
    );

    // Only the tokens the signer made verify. (The fuzzer learns the real token from the
    // comparison below and tries it, so it is the one exception.)
    let signer = Signer::new("0123456789abcdef0123456789abcdef");
    let token = signer.sign("unsubscribe", 42);
    match signer.verify("unsubscribe", raw) {
        Ok(id) => assert!(raw == token && id == 42, "{raw:?} verified as {id}"),
        Err(_) => assert_ne!(raw, token),
    }
    // A real token with the fuzz input spliced in is rejected unless it is unchanged.
    let spliced = format!("{}{raw}", &token[..token.len().min(raw.len())]);
    if spliced != token {
        assert!(
            signer.verify("unsubscribe", &spliced).is_err(),
            "{spliced:?}"
        );
    }
});
