//! Text keys (member ids, source record ids) held inline in hash tables when short, as nearly all ids are, and
//! the table of them the person-key indexes are built on.
//!
//! Loading members means millions of id lookups. With `String` keys every probe follows a pointer to the heap
//! and pays a cache miss for the comparison; an inline key is compared where the table holds it. The table takes
//! the text's hash from its caller, so a caller that splits keys across tables by hash hashes each text once.

use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

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

    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            TextKey::Inline { len, bytes } => &bytes[..*len as usize],
            TextKey::Heap(text) => text.as_bytes(),
        }
    }
}

/// The hash of a text key's text, the one [`TextKeyTable`] expects. Fixed, so the same text hashes the same in
/// every table and every run.
pub fn text_hash(text: &[u8]) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6361_7265_6c61_6b65).hash_one(text)
}

/// Text keys -> u32 values, each operation given the key's [`text_hash`].
#[derive(Debug, Default)]
pub struct TextKeyTable {
    table: HashTable<(TextKey, u32)>,
}

fn rehash(entry: &(TextKey, u32)) -> u64 {
    text_hash(entry.0.as_bytes())
}

impl TextKeyTable {
    /// The value of `text` (`hash` is its [`text_hash`]).
    #[inline]
    pub fn get(&self, hash: u64, text: &[u8]) -> Option<u32> {
        self.table
            .find(hash, |(key, _)| key.as_bytes() == text)
            .map(|(_, value)| *value)
    }

    /// The entry of `text` (`hash` is its [`text_hash`]).
    #[inline]
    fn entry(&mut self, hash: u64, text: &str) -> Entry<'_, (TextKey, u32)> {
        self.table
            .entry(hash, |(key, _)| key.as_bytes() == text.as_bytes(), rehash)
    }

    /// The value of `text`, inserting `value` when it is new; true when it was inserted.
    #[inline]
    pub fn get_or_insert(&mut self, hash: u64, text: &str, value: u32) -> (u32, bool) {
        match self.entry(hash, text) {
            Entry::Occupied(found) => (found.get().1, false),
            Entry::Vacant(slot) => {
                slot.insert((TextKey::new(text), value));
                (value, true)
            }
        }
    }

    /// Set the value of `text`.
    pub fn insert(&mut self, hash: u64, text: &str, value: u32) {
        match self.entry(hash, text) {
            Entry::Occupied(mut found) => found.get_mut().1 = value,
            Entry::Vacant(slot) => {
                slot.insert((TextKey::new(text), value));
            }
        }
    }

    /// Make room for `n` more keys.
    pub fn reserve(&mut self, n: usize) {
        self.table.reserve(n, rehash);
    }

    /// No keys yet.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Every value, to be changed in place.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut u32> {
        self.table.iter_mut().map(|(_, value)| value)
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
        for t in &texts {
            assert_eq!(TextKey::new(t).as_bytes(), t.as_bytes());
        }
    }

    #[test]
    fn the_table_finds_what_was_inserted_inline_or_not_across_growth() {
        let mut table = TextKeyTable::default();
        let texts: Vec<String> = (0..5000)
            .map(|i| {
                if i % 3 == 0 {
                    format!("{i:0>30}")
                } else {
                    format!("R{i}")
                }
            })
            .collect();
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(
                table.get_or_insert(text_hash(t.as_bytes()), t, i as u32),
                (i as u32, true)
            );
        }
        assert_eq!(table.get_or_insert(text_hash(b"R1"), "R1", 99), (1, false));
        table.insert(text_hash(b"R2"), "R2", 7);
        for (i, t) in texts.iter().enumerate() {
            let expected = if i == 2 { 7 } else { i as u32 };
            assert_eq!(
                table.get(text_hash(t.as_bytes()), t.as_bytes()),
                Some(expected),
                "{t}"
            );
        }
        assert_eq!(table.get(text_hash(b"R5000"), b"R5000"), None);
    }
}
