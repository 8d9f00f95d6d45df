//! SHA-256 digests as lower-case hex text: row hashes of change sets, hashed identifiers for ad platforms, and
//! the fingerprints of value-set files and runs.
//!
//! A run hashes tens of millions of rows. `hex::encode` builds its string a character at a time, which cost as
//! much as the hashing itself; encoding into a fixed buffer first is a table look-up per byte.

use sha2::{Digest, Sha256};

/// Lower-case hex of a digest (64 characters for SHA-256; longer input is encoded the slow way).
pub fn sha256_hex(digest: impl AsRef<[u8]>) -> String {
    let digest = digest.as_ref();
    let mut text = [0u8; 64];
    let Some(text) = text.get_mut(..digest.len() * 2) else {
        return hex::encode(digest);
    };
    match hex::encode_to_slice(digest, text) {
        Ok(()) => String::from_utf8_lossy(text).into_owned(),
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
        assert_eq!(
            sha256_hex([0xABu8, 0x01]),
            "ab01",
            "shorter input is encoded whole"
        );
    }
}
