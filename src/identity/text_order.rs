//! Texts put in byte order by their positions: source keys before records are numbered, member ids before
//! member_profile and identity_changes are written.

use rayon::prelude::*;

/// Positions of `texts` in the texts' byte order. Sorting the strings themselves spends most of its time
/// following pointers and in memcmp over shared prefixes (a source system, `MBR-`); the first 16 bytes as one
/// big-endian integer order almost every pair, and only texts with equal prefixes are compared in full.
pub fn in_byte_order<T: AsRef<str> + Sync>(texts: &[T]) -> Vec<u32> {
    let prefix = |text: &str| {
        let mut bytes = [0u8; 16];
        let n = text.len().min(16);
        bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
        u128::from_be_bytes(bytes)
    };
    let mut order: Vec<(u128, u32)> = texts
        .par_iter()
        .enumerate()
        .map(|(i, text)| (prefix(text.as_ref()), i as u32))
        .collect();
    order.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| texts[a.1 as usize].as_ref().cmp(texts[b.1 as usize].as_ref()))
    });
    order.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_in_byte_order_beyond_the_sixteen_byte_prefix() {
        let texts: Vec<String> = [
            "claims\u{1f}CLM000000000000002",
            "claims\u{1f}CLM000000000000001",
            "ab",
            "ab\u{0}",
            "claims2\u{1f}A",
            "",
            "claims\u{1f}CLM00000000000000",
            "MBR-0123456789ab-z",
            "MBR-0123456789ab-a",
            "MBR-0123456789ab",
            "MBR-é",
        ]
        .map(String::from)
        .to_vec();
        let mut expected: Vec<u32> = (0..texts.len() as u32).collect();
        expected.sort_by(|a, b| texts[*a as usize].cmp(&texts[*b as usize]));
        assert_eq!(in_byte_order(&texts), expected);
        assert!(in_byte_order::<&str>(&[]).is_empty());
    }
}
