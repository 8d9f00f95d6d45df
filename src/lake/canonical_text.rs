//! Text cells as conforming wants them: the check that a whole text column is already canonical (trimmed, and
//! for an enumeration spelled as allowed), and the canonical spelling of enumeration values.
//!
//! The check runs over every text cell of every input table (about 400M cells at 10M members), and almost every
//! column passes it, so it reads Arrow's offsets and value bytes directly instead of going through the per-value
//! accessors, which check nulls and bounds one value at a time and were most of conforming's time.

use std::collections::HashMap;

use arrow::array::{Array, StringArray};

use crate::model::values::enum_key;

/// Whether every non-null value of `text` is already canonical: not blank, with no blank at either end, and,
/// when `allowed` is not empty, spelled exactly as one of the allowed values.
pub(crate) fn is_canonical(text: &StringArray, allowed: &[&str]) -> bool {
    if allowed.is_empty() {
        all_values(text, is_trimmed)
    } else {
        all_values(text, |v| allowed.iter().any(|a| a.as_bytes() == v))
    }
}

/// Whether `ok` holds for the bytes of every non-null value of `text`.
fn all_values(text: &StringArray, ok: impl Fn(&[u8]) -> bool) -> bool {
    let bytes = text.value_data();
    let nulls = text.nulls().filter(|n| n.null_count() > 0);
    text.value_offsets().windows(2).enumerate().all(|(row, ends)| {
        nulls.is_some_and(|n| n.is_null(row)) || ok(&bytes[ends[0] as usize..ends[1] as usize])
    })
}

/// Whether a UTF-8 value is not empty and `str::trim` would leave it as it is.
fn is_trimmed(value: &[u8]) -> bool {
    match (value.first(), value.last()) {
        (Some(&first), Some(&last)) if first.is_ascii() && last.is_ascii() => {
            !(first as char).is_whitespace() && !(last as char).is_whitespace()
        }
        // A multi-byte character at an end may be Unicode white space (a no-break space, say).
        (Some(_), Some(_)) => std::str::from_utf8(value).is_ok_and(|v| v.trim().len() == v.len()),
        _ => false,
    }
}

/// The canonical spelling of an enumeration's values, as conforming rewrites them.
#[derive(Debug, Clone)]
pub struct EnumSpelling {
    allowed: &'static [&'static str],
    by_key: HashMap<String, &'static str>,
}

impl EnumSpelling {
    /// The spellings of a column's allowed values (matched case- and punctuation-insensitively, plus known
    /// aliases such as CPT-CAT-II for CPT-II).
    pub fn new(allowed: &'static [&'static str]) -> Self {
        let by_key = allowed
            .iter()
            .map(|a| (enum_key(a), *a))
            .chain(enum_aliases())
            .collect();
        EnumSpelling { allowed, by_key }
    }

    /// The canonical value `text` stands for (surrounding blanks ignored), or None when it is not allowed.
    pub fn canonical(&self, text: &str) -> Option<&'static str> {
        let text = text.trim();
        match self.allowed.iter().find(|a| **a == text) {
            Some(a) => Some(*a),
            None => self.by_key.get(&enum_key(text)).copied(),
        }
    }
}

/// Spellings seen in the wild that mean a canonical enumeration value (NCQA VSD code-system names and the like).
fn enum_aliases() -> impl Iterator<Item = (String, &'static str)> {
    [
        ("CPTCATII", "CPT-II"),
        ("CPT2", "CPT-II"),
        ("SNOMEDCT", "SNOMED"),
        ("SNOMEDCTUSEDITION", "SNOMED"),
        ("ISNP", "I-SNP"),
        ("DSNP", "D-SNP"),
        ("CSNP", "C-SNP"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: &[Option<&str>]) -> StringArray {
        StringArray::from(values.to_vec())
    }

    #[test]
    fn a_column_is_canonical_only_when_no_value_needs_trimming_or_is_blank() {
        assert!(is_canonical(
            &column(&[Some("a"), None, Some("b c"), Some("é")]),
            &[]
        ));
        assert!(is_canonical(&column(&[]), &[]));
        assert!(is_canonical(&column(&[None, None]), &[]));
        for needs_work in ["", " a", "a ", "\ta", "a\n", "\u{a0}a", "a\u{3000}"] {
            assert!(
                !is_canonical(&column(&[Some("x"), Some(needs_work)]), &[]),
                "{needs_work:?}"
            );
        }
    }

    #[test]
    fn a_sliced_column_is_checked_on_its_own_rows_only() {
        let whole = column(&[Some(" a"), Some("b"), None, Some("c "), Some("")]);
        assert!(is_canonical(&whole.slice(1, 2), &[]));
        assert!(!is_canonical(&whole.slice(1, 3), &[]));
        assert!(!is_canonical(&whole.slice(0, 2), &[]));
    }

    #[test]
    fn an_enumeration_is_canonical_only_when_every_value_is_spelled_as_allowed() {
        let allowed = ["sms", "email"];
        assert!(is_canonical(
            &column(&[Some("sms"), None, Some("email")]),
            &allowed
        ));
        assert!(!is_canonical(&column(&[Some("sms"), Some("SMS")]), &allowed));
        assert!(!is_canonical(&column(&[Some("sm")]), &allowed));
        assert!(!is_canonical(&column(&[Some("")]), &allowed));
    }

    #[test]
    fn enum_spellings_are_matched_loosely_and_by_alias() {
        let systems = EnumSpelling::new(&["CPT-II", "SNOMED", "ICD10CM"]);
        assert_eq!(systems.canonical(" cpt-ii "), Some("CPT-II"));
        assert_eq!(systems.canonical("CPT-CAT-II"), Some("CPT-II"));
        assert_eq!(systems.canonical("SNOMED CT US Edition"), Some("SNOMED"));
        assert_eq!(systems.canonical("icd-10-cm"), Some("ICD10CM"));
        assert_eq!(systems.canonical("LOINC"), None);
    }
}
