//! Code systems and code normalization, shared by the value-set loader and the event matcher.
//!
//! The same code arrives in many spellings: ICD-10 with or without the dot (`E11.9`, `E119`), NDCs as 10-digit
//! hyphenated labeler-product-package codes or 11-digit strings, revenue codes with or without the leading zero,
//! lower-case HCPCS, stray spaces. Both sides (the value-set file and the events) go through [`normalize_code`],
//! so a match does not depend on formatting.

use crate::model::values::enum_key;

/// The canonical code-system name of a label as written in a Value Set Directory or an events feed
/// (`CPT-CAT-II` -> `CPT-II`, `SNOMED CT US Edition` -> `SNOMED`, `ICD-10-CM` -> `ICD10CM`). Labels carelake
/// does not know keep their letters-and-digits key (they can load, but no canonical event carries them).
pub fn code_system_key(label: &str) -> String {
    let key = enum_key(label);
    match key.as_str() {
        "CPTCATII" | "CPTII" | "CPT2" | "CPTCAT2" => "CPT-II".into(),
        "SNOMEDCTUSEDITION" | "SNOMEDCT" | "SNOMED" | "SNOMEDUS" => "SNOMED".into(),
        "ICD10" | "ICD10CM" => "ICD10CM".into(),
        "HCPCS" | "HCPCSLEVELII" | "HCPCSII" => "HCPCS".into(),
        "UBREV" | "REV" | "REVENUECODE" => "UBREV".into(),
        "NDC" | "NDC11" => "NDC".into(),
        "RXNORM" | "RXCUI" => "RXNORM".into(),
        _ => key,
    }
}

/// The normalized form of `code` in `system` (a canonical system name from [`code_system_key`]).
///
/// Returns None when nothing is left after trimming. Normalization only removes formatting; it never guesses
/// (a 10-digit NDC without hyphens is ambiguous and is left as it is, so it will not match an 11-digit code).
pub fn normalize_code(system: &str, code: &str) -> Option<String> {
    let code = code.trim();
    if code.is_empty() {
        return None;
    }
    let out = match system {
        "ICD10CM" | "ICD10PCS" | "ICD9CM" | "ICD9PCS" => code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        "NDC" => normalize_ndc(code),
        "UBREV" => pad_digits(code, 4),
        "POS" => pad_digits(code, 2),
        "LOINC" | "SNOMED" | "RXNORM" => code.chars().filter(|c| !c.is_whitespace()).collect(),
        _ => code
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    };
    (!String::is_empty(&out)).then_some(out)
}

/// Whether `code` is already in its normalized form (the common case: checked without allocating).
pub fn is_normalized(system: &str, code: &str) -> bool {
    let b = code.as_bytes();
    if b.is_empty() || b[0] == b' ' || b[b.len() - 1] == b' ' {
        return false;
    }
    match system {
        "ICD10CM" | "ICD10PCS" | "ICD9CM" | "ICD9PCS" => {
            b.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        }
        "NDC" => b.len() == 11 && b.iter().all(u8::is_ascii_digit),
        "UBREV" => b.len() >= 4 || !b.iter().all(u8::is_ascii_digit),
        "POS" => b.len() >= 2 || !b.iter().all(u8::is_ascii_digit),
        "LOINC" | "SNOMED" | "RXNORM" => !b.contains(&b' '),
        _ => b
            .iter()
            .all(|c| !c.is_ascii_whitespace() && !c.is_ascii_lowercase()),
    }
}

/// NDC to the 11-digit 5-4-2 form: hyphenated 4-4-2, 5-3-2 and 5-4-1 codes are zero-padded in the short segment.
fn normalize_ndc(code: &str) -> String {
    let parts: Vec<&str> = code.split(['-', ' ']).filter(|p| !p.is_empty()).collect();
    if parts.len() == 3 && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())) {
        return format!("{:0>5}{:0>4}{:0>2}", parts[0], parts[1], parts[2]);
    }
    code.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// Digits left-padded with zeros to `width` (revenue codes `115` -> `0115`); other text is kept, upper-cased.
fn pad_digits(code: &str, width: usize) -> String {
    let trimmed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit()) && trimmed.len() < width {
        format!("{trimmed:0>width$}")
    } else {
        trimmed.to_ascii_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_systems_from_vsd_labels() {
        assert_eq!(code_system_key("CPT-CAT-II"), "CPT-II");
        assert_eq!(code_system_key("SNOMED CT US Edition"), "SNOMED");
        assert_eq!(code_system_key("ICD-10-CM"), "ICD10CM");
        assert_eq!(code_system_key("icd10pcs"), "ICD10PCS");
        assert_eq!(code_system_key("CVX"), "CVX");
    }

    #[test]
    fn codes_normalize_formatting_only() {
        assert_eq!(normalize_code("ICD10CM", " e11.9 ").as_deref(), Some("E119"));
        assert_eq!(normalize_code("ICD10CM", "W19.XXXA").as_deref(), Some("W19XXXA"));
        assert_eq!(
            normalize_code("NDC", "0071-0155-23").as_deref(),
            Some("00071015523")
        );
        assert_eq!(
            normalize_code("NDC", "00071-155-23").as_deref(),
            Some("00071015523")
        );
        assert_eq!(
            normalize_code("NDC", "00071-0155-3").as_deref(),
            Some("00071015503")
        );
        assert_eq!(
            normalize_code("NDC", "00071015523").as_deref(),
            Some("00071015523")
        );
        assert_eq!(normalize_code("NDC", "0071015523").as_deref(), Some("0071015523"));
        assert_eq!(normalize_code("UBREV", "115").as_deref(), Some("0115"));
        assert_eq!(normalize_code("HCPCS", "g0121").as_deref(), Some("G0121"));
        assert_eq!(normalize_code("CPT-II", "3044f ").as_deref(), Some("3044F"));
        assert_eq!(normalize_code("LOINC", "4548-4").as_deref(), Some("4548-4"));
        assert_eq!(normalize_code("CPT", "   "), None);
        for (system, code) in [
            ("ICD10CM", "E119"),
            ("ICD10CM", "E11.9"),
            ("NDC", "00071015523"),
            ("NDC", "0071-0155-23"),
            ("UBREV", "115"),
            ("HCPCS", "g0121"),
            ("LOINC", "4548-4"),
            ("CPT", " 77067"),
        ] {
            let normalized = normalize_code(system, code).unwrap();
            assert_eq!(is_normalized(system, code), normalized == code, "{system} {code}");
        }
    }
}
