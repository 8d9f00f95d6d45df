//! String similarity: Jaro, Jaro-Winkler, Levenshtein and Damerau-Levenshtein (optimal string alignment).
//!
//! Inputs are normalized names and identifiers (upper-case ASCII), so the functions work on bytes; non-ASCII
//! input still gives a correct answer by byte, just not by character.

/// Jaro similarity in [0, 1]. Half the out-of-order matches count as transpositions, rounded down, as in
/// Winkler's strcmp95 and rapidfuzz, so scores agree with the tools users compare against.
pub fn jaro(a: &str, b: &str) -> f64 {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    if a.len() <= 64 && b.len() <= 64 {
        return jaro_short(a, b, window);
    }
    jaro_long(a, b, window)
}

thread_local! {
    /// For each byte value, the positions in `b` where it occurs, for the pair being compared on this thread;
    /// every entry is zero between pairs (each pair clears what it set), so no pair pays to clear 2 KB. Boxed:
    /// a shared library loaded into Python gets only a small static TLS block, too small for the table itself.
    static POSITIONS: std::cell::RefCell<Box<[u64; 256]>> = std::cell::RefCell::new(Box::new([0; 256]));
}

/// Jaro of two strings of up to 64 bytes, bit-parallel: one mask per byte value gives the positions in `b` that
/// byte `a[i]` could match, so each `a[i]` finds its match (the first free position in its window, as in the
/// textbook loop) with a few word operations instead of a scan of the window.
fn jaro_short(a: &[u8], b: &[u8], window: usize) -> f64 {
    POSITIONS.with(|cell| {
        let mut positions = cell.borrow_mut();
        for (j, &c) in b.iter().enumerate() {
            positions[c as usize] |= 1 << j;
        }
        let (mut a_flags, mut b_flags) = (0u64, 0u64);
        let mut matches = 0u32;
        for (i, &ca) in a.iter().enumerate() {
            let lo = i.saturating_sub(window);
            let hi = (i + window + 1).min(b.len());
            if lo >= hi {
                // Windows only move right: no later byte of `a` has a window inside `b` either.
                break;
            }
            let in_window = (u64::MAX >> (64 - hi)) & (u64::MAX << lo);
            let free = positions[ca as usize] & !b_flags & in_window;
            // Without a branch: whether a byte matches is a coin toss the branch predictor loses.
            let first = free & free.wrapping_neg();
            let matched = u64::from(first != 0);
            b_flags |= first;
            a_flags |= matched << i;
            matches += matched as u32;
        }
        for &c in b {
            positions[c as usize] = 0;
        }
        if matches == 0 {
            return 0.0;
        }
        // Matched bytes of `a` and of `b` in order, pairwise: those that differ are out of order.
        let mut transpositions = 0u32;
        let (mut ai, mut bj) = (a_flags, b_flags);
        while ai != 0 {
            let (i, j) = (ai.trailing_zeros() as usize, bj.trailing_zeros() as usize);
            transpositions += u32::from(a[i] != b[j]);
            ai &= ai - 1;
            bj &= bj - 1;
        }
        let m = f64::from(matches);
        (m / a.len() as f64 + m / b.len() as f64 + (m - f64::from(transpositions / 2)) / m) / 3.0
    })
}

fn jaro_long(a: &[u8], b: &[u8], window: usize) -> f64 {
    let mut a_used = vec![false; a.len()];
    let mut b_used = vec![false; b.len()];
    let mut matches = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_used[j] && b[j] == ca {
                a_used[i] = true;
                b_used[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let a_matched = a.iter().zip(&a_used).filter(|(_, u)| **u).map(|(c, _)| c);
    let b_matched = b.iter().zip(&b_used).filter(|(_, u)| **u).map(|(c, _)| c);
    let transpositions = a_matched.zip(b_matched).filter(|(x, y)| x != y).count();
    let m = matches as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - (transpositions / 2) as f64) / m) / 3.0
}

/// Jaro-Winkler similarity in [0, 1] (prefix scale 0.1, prefix up to 4, boost only above a Jaro of 0.7 as in
/// Winkler's definition, so weak matches that share an initial are not lifted into the "close" levels).
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let j = jaro(a, b);
    if j <= 0.7 {
        return j;
    }
    let prefix = a
        .bytes()
        .zip(b.bytes())
        .take(4)
        .take_while(|(x, y)| x == y)
        .count();
    j + prefix as f64 * 0.1 * (1.0 - j)
}

/// Levenshtein edit distance (insertions, deletions, substitutions).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.is_empty() {
        return b.len();
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diag + usize::from(ca != cb));
            diag = above;
        }
    }
    row[b.len()]
}

/// Damerau-Levenshtein distance in its optimal-string-alignment form: Levenshtein plus adjacent transpositions
/// (each substring edited once), which is what data-entry errors look like.
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (n, m) = (a.len(), b.len());
    if n == 0 {
        return m;
    }
    if m == 0 {
        return n;
    }
    let width = m + 1;
    let mut d = vec![0usize; (n + 1) * width];
    for i in 0..=n {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(m + 1) {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = v;
        }
    }
    d[n * width + m]
}

/// True when the Damerau-Levenshtein (optimal string alignment) distance is exactly one: one substitution,
/// insertion, deletion or adjacent transposition. Linear and without allocating, for the identifier
/// comparisons that ask only this of every candidate pair.
pub fn is_one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let Some(i) = long.iter().zip(short).position(|(x, y)| x != y) else {
        // One is a prefix of the other: one edit when it is one byte shorter.
        return long.len() == short.len() + 1;
    };
    match long.len() - short.len() {
        0 => {
            long[i + 1..] == short[i + 1..]
                || (i + 1 < long.len()
                    && long[i] == short[i + 1]
                    && long[i + 1] == short[i]
                    && long[i + 2..] == short[i + 2..])
        }
        1 => long[i + 1..] == short[i..],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-3
    }

    #[test]
    fn jaro_winkler_reference_values() {
        assert!(close(jaro("MARTHA", "MARHTA"), 0.944));
        assert!(close(jaro_winkler("MARTHA", "MARHTA"), 0.961));
        assert!(close(jaro_winkler("DWAYNE", "DUANE"), 0.840));
        assert!(close(jaro_winkler("DIXON", "DICKSONX"), 0.813));
        // Three out-of-order matches count as one transposition (strcmp95, rapidfuzz), not 1.5.
        assert!(close(jaro_winkler("MARTINEZ", "MANTINEZ"), 0.8952));
        assert_eq!(jaro_winkler("", ""), 1.0);
        assert_eq!(jaro_winkler("ABC", ""), 0.0);
        assert_eq!(jaro_winkler("SAME", "SAME"), 1.0);
        // Below a Jaro of 0.7 the shared prefix adds nothing (rapidfuzz and Winkler agree).
        assert_eq!(
            jaro_winkler("ABCDEFGH", "ABCDWXYZQRST"),
            jaro("ABCDEFGH", "ABCDWXYZQRST")
        );
        let long_a = "A".repeat(70) + "B";
        let long_b = "A".repeat(70) + "C";
        assert!(jaro(&long_a, &long_b) > 0.9);
    }

    #[test]
    fn the_bit_parallel_jaro_agrees_with_the_textbook_loop() {
        // Pseudo-random strings over a small alphabet (many repeated bytes, the hard case for match order),
        // of every length up to 64 on both sides, against the scan of each window that long strings take.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let (n, m) = ((next() % 65) as usize, (next() % 65) as usize);
            let a: String = (0..n).map(|_| (b'A' + (next() % 5) as u8) as char).collect();
            let b: String = (0..m).map(|_| (b'A' + (next() % 5) as u8) as char).collect();
            if a.is_empty() || b.is_empty() {
                continue;
            }
            let window = (n.max(m) / 2).saturating_sub(1);
            let textbook = jaro_long(a.as_bytes(), b.as_bytes(), window);
            assert_eq!(jaro(&a, &b).to_bits(), textbook.to_bits(), "{a:?} {b:?}");
        }
        // Non-ASCII bytes index the table like any other.
        assert_eq!(
            jaro("ÉLODIE", "ELODIE"),
            jaro_long("ÉLODIE".as_bytes(), "ELODIE".as_bytes(), 2)
        );
    }

    #[test]
    fn edit_distances() {
        assert_eq!(levenshtein("KITTEN", "SITTING"), 3);
        assert_eq!(levenshtein("", "ABC"), 3);
        assert_eq!(damerau_levenshtein("CA", "AC"), 1);
        assert_eq!(levenshtein("CA", "AC"), 2);
        assert_eq!(damerau_levenshtein("SMITH", "SMTIH"), 1);
        assert_eq!(damerau_levenshtein("ABC", "ABC"), 0);
        assert_eq!(damerau_levenshtein("", "AB"), 2);
    }

    #[test]
    fn one_edit_apart_agrees_with_the_full_distance() {
        let words = [
            "",
            "A",
            "AB",
            "BA",
            "ABC",
            "ACB",
            "BAC",
            "ABD",
            "ABCD",
            "ABDC",
            "AXCD",
            "ACD",
            "ABCDE",
            "BACD",
            "123456789",
            "123456798",
            "213456789",
            "12345678",
            "1234567890",
            "123457689",
            "223456789",
            "12345689",
            "123456788",
            "ABBA",
            "BABA",
            "AABB",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    is_one_edit_apart(a, b),
                    damerau_levenshtein(a, b) == 1,
                    "{a:?} {b:?}"
                );
            }
        }
    }
}
