//! Normalizers for healthcare identity data: names, dates, sex, SSNs, phones, emails, addresses, record numbers.
//!
//! Each takes what a source recorded and returns a canonical form for comparison, or None when the value cannot
//! be used (an impossible SSN, a phone with too few digits). They never fail and never log values.

mod address;
mod contact;
mod identifiers;
mod name;
mod text;

#[cfg(test)]
mod properties;

pub use address::{normalize_address, zip5, NormalizedAddress};
pub use contact::{email_canonical, email_match_key, phone_e164, E164};
pub use identifiers::{record_number, ssn_digits, ssn_last4};
pub use name::{canonical_suffix, formal_given_name, normalize_name, soundex, NormalizedName};
pub use text::fold;

/// Administrative sex as F, M or None (unknown): accepts F/M, female/male, woman/man, and 1/2 (claims coding).
pub fn sex_code(text: &str) -> Option<&'static str> {
    match fold(text).as_str() {
        "F" | "FEMALE" | "WOMAN" | "W" | "2" => Some("F"),
        "M" | "MALE" | "MAN" | "1" => Some("M"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::sex_code;

    #[test]
    fn sex_codes() {
        assert_eq!(sex_code("female"), Some("F"));
        assert_eq!(sex_code(" M "), Some("M"));
        assert_eq!(sex_code("U"), None);
        assert_eq!(sex_code(""), None);
    }
}
