//! Person names: titles and suffixes apart, compound surnames, nicknames to formal names, phonetic keys.

use super::text::fold;
use crate::identity::nicknames::formal_names_of;

const TITLES: &[&str] = &["MR", "MRS", "MS", "MISS", "DR", "PROF", "REV", "SIR", "MX"];
const SUFFIXES: &[(&str, &str)] = &[
    ("JR", "JR"),
    ("JNR", "JR"),
    ("JUNIOR", "JR"),
    ("SR", "SR"),
    ("SNR", "SR"),
    ("SENIOR", "SR"),
    ("II", "II"),
    ("2ND", "II"),
    ("III", "III"),
    ("3RD", "III"),
    ("IV", "IV"),
    ("4TH", "IV"),
    ("V", "V"),
    ("MD", "MD"),
    ("PHD", "PHD"),
    ("DDS", "DDS"),
    ("RN", "RN"),
];

/// A name part folded for matching: upper-case ASCII tokens, titles removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NormalizedName {
    /// The tokens joined by single spaces (e.g. `GARCIA LOPEZ`).
    pub full: String,
    /// Generational or professional suffix found in the name (JR, SR, III, ...).
    pub suffix: Option<&'static str>,
}

impl NormalizedName {
    /// The tokens of the name.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.full.split(' ').filter(|t| !t.is_empty())
    }

    /// The first token (the given name proper, for a first-name field).
    pub fn first_token(&self) -> &str {
        self.tokens().next().unwrap_or("")
    }
}

/// The canonical spelling of a name suffix, if `token` is one.
pub fn canonical_suffix(token: &str) -> Option<&'static str> {
    let t = fold(token).replace(' ', "");
    SUFFIXES.iter().find(|(k, _)| *k == t).map(|(_, v)| *v)
}

/// Normalize a name field: fold, drop titles, split off a trailing suffix.
pub fn normalize_name(text: &str) -> NormalizedName {
    let folded = fold(text);
    let mut tokens: Vec<&str> = folded.split(' ').filter(|t| !t.is_empty()).collect();
    while tokens.len() > 1 && TITLES.contains(&tokens[0]) {
        tokens.remove(0);
    }
    let mut suffix = None;
    if tokens.len() > 1 {
        if let Some(s) = tokens.last().and_then(|t| canonical_suffix(t)) {
            suffix = Some(s);
            tokens.pop();
        }
    }
    NormalizedName {
        full: tokens.join(" "),
        suffix,
    }
}

/// The formal given name for matching: `BILL` -> `WILLIAM`; a name with several formal forms (PAT) or none
/// stays as it is.
pub fn formal_given_name(normalized_first: &str) -> String {
    let formal = formal_names_of(normalized_first);
    if formal.len() == 1 {
        fold(formal[0])
    } else {
        normalized_first.to_string()
    }
}

/// American Soundex of the letters of a name (`ROBERT` -> `R163`); empty for a name without letters.
pub fn soundex(name: &str) -> String {
    fn code(c: u8) -> u8 {
        match c {
            b'B' | b'F' | b'P' | b'V' => b'1',
            b'C' | b'G' | b'J' | b'K' | b'Q' | b'S' | b'X' | b'Z' => b'2',
            b'D' | b'T' => b'3',
            b'L' => b'4',
            b'M' | b'N' => b'5',
            b'R' => b'6',
            _ => b'0', // vowels, H, W, Y
        }
    }
    let letters: Vec<u8> = name
        .bytes()
        .filter(u8::is_ascii_alphabetic)
        .map(|b| b.to_ascii_uppercase())
        .collect();
    let Some(&first) = letters.first() else {
        return String::new();
    };
    let mut out = vec![first];
    let mut last = code(first);
    for &c in &letters[1..] {
        let k = code(c);
        if k != b'0' && k != last {
            out.push(k);
            if out.len() == 4 {
                break;
            }
        }
        // H and W do not separate equal codes; vowels do.
        if c != b'H' && c != b'W' {
            last = k;
        }
    }
    out.resize(4, b'0');
    String::from_utf8(out).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_titles_and_keep_suffixes_apart() {
        let n = normalize_name("Dr. José Núñez-García Jr.");
        assert_eq!(n.full, "JOSE NUNEZ GARCIA");
        assert_eq!(n.suffix, Some("JR"));
        assert_eq!(normalize_name("John Smith III").suffix, Some("III"));
        assert_eq!(normalize_name("Mr").full, "MR");
        assert_eq!(normalize_name("de la Cruz").full, "DE LA CRUZ");
    }

    #[test]
    fn nicknames_map_to_formal_names_when_unambiguous() {
        assert_eq!(formal_given_name("BILL"), "WILLIAM");
        assert_eq!(formal_given_name("PEGGY"), "MARGARET");
        assert_eq!(formal_given_name("PAT"), "PAT");
        assert_eq!(formal_given_name("ZEBEDIAH"), "ZEBEDIAH");
    }

    #[test]
    fn soundex_matches_the_reference_examples() {
        for (name, code) in [
            ("Robert", "R163"),
            ("Rupert", "R163"),
            ("Ashcraft", "A261"),
            ("Tymczak", "T522"),
            ("Pfister", "P236"),
            ("Honeyman", "H555"),
            ("Lee", "L000"),
        ] {
            assert_eq!(soundex(name), code, "{name}");
        }
        assert_eq!(soundex("123"), "");
    }
}
