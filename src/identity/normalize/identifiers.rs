//! Government and institutional identifiers: SSNs with their validity rules, member numbers and MRNs.

/// A US Social Security number as nine digits, or None when it cannot be a real SSN.
///
/// Invalid: not nine digits, area 000, 666 or 900-999, group 00, serial 0000, and the numbers known to be
/// misused (the Woolworth wallet card 078-05-1120, 219-09-9999, and placeholder runs like 123-45-6789).
pub fn ssn_digits(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 9 || text.chars().any(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let area: u32 = digits[..3].parse().ok()?;
    let group: u32 = digits[3..5].parse().ok()?;
    let serial: u32 = digits[5..].parse().ok()?;
    let known_bad = ["078051120", "219099999", "123456789", "987654321"];
    let repeated = digits.bytes().all(|b| b == digits.as_bytes()[0]);
    let valid = area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
    (valid && !repeated && !known_bad.contains(&digits.as_str())).then_some(digits)
}

/// The last four digits of a valid SSN.
pub fn ssn_last4(digits: &str) -> Option<&str> {
    digits.get(5..9)
}

/// A member number or MRN for matching: upper-case letters and digits only, leading zeros of an all-digit
/// identifier removed (`00012345` and `12345` are the same record number). None when nothing is left.
pub fn record_number(text: &str) -> Option<String> {
    let cleaned: String = text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let key = if cleaned.bytes().all(|b| b.is_ascii_digit()) {
        cleaned.trim_start_matches('0').to_string()
    } else {
        cleaned
    };
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssn_validity_rules() {
        assert_eq!(ssn_digits("123-45-6780").as_deref(), Some("123456780"));
        assert_eq!(ssn_digits("123 45 6780").as_deref(), Some("123456780"));
        for s in [
            "000-12-3456",
            "666-12-3456",
            "912-12-3456",
            "123-00-4567",
            "123-45-0000",
            "078-05-1120",
            "111-11-1111",
            "123-45-678",
            "12a-45-6780",
        ] {
            assert_eq!(ssn_digits(s), None, "{s}");
        }
        assert_eq!(ssn_last4("123456780"), Some("6780"));
    }

    #[test]
    fn record_numbers_ignore_punctuation_case_and_leading_zeros() {
        assert_eq!(record_number("000123-45").as_deref(), Some("12345"));
        assert_eq!(record_number("m-00042").as_deref(), Some("M00042"));
        assert_eq!(record_number(" -- "), None);
    }
}
