//! The envelope sender that names its delivery (VERP): with `BOUNCE_ADDRESS` set, each
//! message goes out from `local+TAG@domain`, TAG a signed reference to the digest or
//! one-off mail and its reader, so a bounce that keeps nothing but the envelope still
//! says whom it is about, and a forged TAG is refused.

use crate::config::BounceAddress;
use crate::domain::Signer;

/// What a tag refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// A digest delivery.
    Digest { digest: i64, reader: i64 },
    /// A one-off mail (a confirmation) from the queue.
    Mail { mail: i64, reader: i64 },
}

/// The local part's prefix of the `List-Unsubscribe` mailto address: `local+unsubscribe-TAG`.
pub const UNSUBSCRIBE_PREFIX: &str = "unsubscribe-";

impl Sent {
    pub fn reader(self) -> i64 {
        match self {
            Sent::Digest { reader, .. } | Sent::Mail { reader, .. } => reader,
        }
    }

    pub fn digest(self) -> Option<i64> {
        match self {
            Sent::Digest { digest, .. } => Some(digest),
            Sent::Mail { .. } => None,
        }
    }

    /// `d12-…` or `m34-…`: the digest or mail id as it is (the archive shows digest
    /// ids anyway), the reader masked and signed together with it.
    pub fn tag(self, signer: &Signer) -> String {
        let (kind, id) = self.kind_and_id();
        let purpose = format!("verp:{kind}{id}");
        format!("{kind}{id}-{}", signer.sign_hex(&purpose, self.reader()))
    }

    fn kind_and_id(self) -> (char, i64) {
        match self {
            Sent::Digest { digest, .. } => ('d', digest),
            Sent::Mail { mail, .. } => ('m', mail),
        }
    }

    /// What a tag refers to; `None` for anything not made by [`Sent::tag`] with this
    /// secret.
    pub fn verify(signer: &Signer, tag: &str) -> Option<Sent> {
        let tag = tag.trim().to_ascii_lowercase();
        let (head, signed) = tag.split_once('-')?;
        let mut chars = head.chars();
        let kind = chars.next()?;
        let digits = chars.as_str();
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id: i64 = digits.parse().ok()?;
        if digits != id.to_string() {
            return None;
        }
        let reader = signer
            .verify_hex(&format!("verp:{kind}{id}"), signed)
            .ok()?;
        match kind {
            'd' => Some(Sent::Digest { digest: id, reader }),
            'm' => Some(Sent::Mail { mail: id, reader }),
            _ => None,
        }
    }
}

/// The envelope sender of a message: `local+TAG@domain`.
pub fn return_path(bounce: &BounceAddress, signer: &Signer, sent: Sent) -> String {
    bounce.with_tag(&sent.tag(signer))
}

/// The `mailto:` address of `List-Unsubscribe`: `local+unsubscribe-TAG@domain`.
pub fn unsubscribe_address(bounce: &BounceAddress, signer: &Signer, sent: Sent) -> String {
    bounce.with_tag(&format!("{UNSUBSCRIBE_PREFIX}{}", sent.tag(signer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_names_its_delivery_and_a_changed_or_foreign_one_is_refused() {
        let signer = Signer::new("0123456789abcdef0123456789abcdef");
        let sent = Sent::Digest {
            digest: 12,
            reader: 3456,
        };
        let tag = sent.tag(&signer);
        assert!(tag.starts_with("d12-"), "{tag}");
        assert!(!tag.contains("3456"), "the reader's id is masked: {tag}");
        assert_eq!(Sent::verify(&signer, &tag), Some(sent));
        assert_eq!(Sent::verify(&signer, &tag.to_ascii_uppercase()), Some(sent));
        // Another digest, another kind, another secret, a changed digit: refused.
        assert_eq!(Sent::verify(&signer, &tag.replacen("d12", "d13", 1)), None);
        assert_eq!(Sent::verify(&signer, &tag.replacen("d12", "m12", 1)), None);
        let other = Signer::new("fedcba9876543210fedcba9876543210");
        assert_eq!(Sent::verify(&other, &tag), None);
        let mut flipped = tag.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            Sent::verify(&signer, &String::from_utf8(flipped).unwrap()),
            None
        );
        for junk in ["", "d", "d-", "d12", "d012-00", "x1-00", &"d1-".repeat(50)] {
            assert_eq!(Sent::verify(&signer, junk), None, "{junk}");
        }
        let bounce = BounceAddress::parse("bounces@news.example.org").unwrap();
        let unsubscribe = unsubscribe_address(&bounce, &signer, sent);
        assert!(
            unsubscribe.len() - "@news.example.org".len() <= 64,
            "{unsubscribe}"
        );
        assert_eq!(
            bounce.tag_of(&return_path(&bounce, &signer, sent)),
            Some(tag.as_str())
        );
    }
}
