//! Text keys (member ids, source record ids) held inline in hash tables when short, as nearly all ids are.
//!
//! Loading members means millions of id lookups. With `String` keys every probe follows a pointer to the heap
//! and pays a cache miss for the comparison; an inline key is compared where the table holds it.

/// Longest key held inline.
const INLINE: usize = 23;

/// A text key: inline up to 23 bytes, on the heap beyond.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TextKey {
    /// Up to [`INLINE`] bytes, zero-padded, with their length.
    Inline {
        /// Bytes used.
        len: u8,
        /// The text, zero-padded.
        bytes: [u8; INLINE],
    },
    /// A longer key.
    Heap(Box<str>),
}

impl TextKey {
    /// The key for `text` (no allocation up to 23 bytes).
    pub fn new(text: &str) -> Self {
        let b = text.as_bytes();
        if b.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            TextKey::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            TextKey::Heap(text.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_equal_exactly_when_their_texts_are() {
        let texts = [
            "",
            "a",
            "a\0",
            "MBR-c0062f7f0660be8c",
            "x".repeat(23).as_str(),
            &"x".repeat(24),
            &"x".repeat(40),
        ]
        .map(str::to_string);
        for a in &texts {
            for b in &texts {
                assert_eq!(TextKey::new(a) == TextKey::new(b), a == b, "{a:?} vs {b:?}");
            }
        }
        assert!(matches!(TextKey::new(&"x".repeat(23)), TextKey::Inline { .. }));
        assert!(matches!(TextKey::new(&"x".repeat(24)), TextKey::Heap(_)));
    }
}
