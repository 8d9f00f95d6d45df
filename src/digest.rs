//! SHA-256 digests as lower-case hex text: row hashes of change sets, hashed identifiers for ad platforms, and
//! the fingerprints of value-set files and runs.
//!
//! A run hashes tens of millions of rows. `hex::encode` builds its string a character at a time, which cost as
//! much as the hashing itself; encoding into a fixed buffer first is a table look-up per byte.

use sha2::{Digest, Sha256};

/// A SHA-256 digest as its 32 bytes: what a value held for every row keeps (the row hash of each of millions of
/// memberships), 32 bytes in place instead of a 64-character string on the heap; written out as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sha256Digest(pub [u8; 32]);

/// The 64 lower-case hex characters of a [`Sha256Digest`], on the stack.
#[derive(Debug, Clone, Copy)]
pub struct Sha256Text([u8; 64]);

impl Sha256Digest {
    /// The digest of `parts`, each followed by a unit separator (so `("ab", "c")` and `("a", "bc")` differ).
    pub fn of_parts(parts: &[&str]) -> Self {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p.as_bytes());
            h.update([0x1f]);
        }
        Sha256Digest(h.finalize().into())
    }

    /// Lower-case hex.
    pub fn hex(&self) -> Sha256Text {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 64];
        for (pair, byte) in text.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        Sha256Text(text)
    }
}

/// Hex characters of a [`Sha256Text::key`]: the digest's first 128 bits.
pub const KEY_HEX: usize = 32;

impl Sha256Text {
    /// The hex text.
    pub fn as_str(&self) -> &str {
        // Hex digits are ASCII, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The first [`KEY_HEX`] characters: what keys a row among millions (a change set's idempotency key, an
    /// audience member's row hash). 128 bits leave a collision among a billion rows at about 1e-21, and half
    /// the characters halve what each run writes and the next run reads of them.
    pub fn key(&self) -> &str {
        &self.as_str()[..KEY_HEX]
    }
}

/// Lower-case hex of a digest (64 characters for SHA-256; other lengths are encoded the slow way).
pub fn sha256_hex(digest: impl AsRef<[u8]>) -> String {
    let digest = digest.as_ref();
    match <[u8; 32]>::try_from(digest) {
        Ok(bytes) => Sha256Digest(bytes).hex().as_str().to_owned(),
        Err(_) => hex::encode(digest),
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_of(bytes: impl AsRef<[u8]>) -> String {
    sha256_hex(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_the_lower_case_hex_hex_encode_gives() {
        for text in ["", "15551234567", "jane.doe@example.com"] {
            let digest = Sha256::digest(text.as_bytes());
            assert_eq!(sha256_hex(digest), hex::encode(digest));
            assert_eq!(sha256_of(text), hex::encode(digest));
        }
        assert_eq!(
            sha256_of("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let parts = Sha256Digest::of_parts(&["ab", "c"]);
        assert_eq!(parts.hex().as_str(), sha256_of("ab\u{1f}c\u{1f}"));
        assert_ne!(parts, Sha256Digest::of_parts(&["a", "bc"]));
        // A key is the hex of the first 16 bytes.
        assert_eq!(parts.hex().key(), hex::encode(&parts.0[..16]));
        assert_eq!(
            sha256_hex([0xABu8, 0x01]),
            "ab01",
            "shorter input is encoded whole"
        );
    }
}
