//! US postal addresses in USPS style: street suffixes and directionals abbreviated, units apart, ZIP to five.

use super::text::fold;

/// Street suffixes (USPS Publication 28, the common ones) -> standard abbreviation.
const SUFFIXES: &[(&str, &str)] = &[
    ("STREET", "ST"),
    ("STR", "ST"),
    ("ST", "ST"),
    ("AVENUE", "AVE"),
    ("AV", "AVE"),
    ("AVE", "AVE"),
    ("ROAD", "RD"),
    ("RD", "RD"),
    ("DRIVE", "DR"),
    ("DR", "DR"),
    ("LANE", "LN"),
    ("LN", "LN"),
    ("BOULEVARD", "BLVD"),
    ("BLVD", "BLVD"),
    ("COURT", "CT"),
    ("CT", "CT"),
    ("PLACE", "PL"),
    ("PL", "PL"),
    ("CIRCLE", "CIR"),
    ("CIR", "CIR"),
    ("TERRACE", "TER"),
    ("TER", "TER"),
    ("PARKWAY", "PKWY"),
    ("PKWY", "PKWY"),
    ("HIGHWAY", "HWY"),
    ("HWY", "HWY"),
    ("SQUARE", "SQ"),
    ("SQ", "SQ"),
    ("TRAIL", "TRL"),
    ("TRL", "TRL"),
    ("WAY", "WAY"),
    ("ALLEY", "ALY"),
    ("CROSSING", "XING"),
    ("EXPRESSWAY", "EXPY"),
];
const DIRECTIONALS: &[(&str, &str)] = &[
    ("NORTH", "N"),
    ("SOUTH", "S"),
    ("EAST", "E"),
    ("WEST", "W"),
    ("NORTHEAST", "NE"),
    ("NORTHWEST", "NW"),
    ("SOUTHEAST", "SE"),
    ("SOUTHWEST", "SW"),
];
const UNIT_WORDS: &[&str] = &[
    "APT",
    "APARTMENT",
    "UNIT",
    "STE",
    "SUITE",
    "FL",
    "FLOOR",
    "RM",
    "ROOM",
    "BLDG",
    "LOT",
];

/// A normalized street address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NormalizedAddress {
    /// House number (digits and an optional letter), if any.
    pub number: Option<String>,
    /// Street name with USPS abbreviations, without the number and unit (`N MAIN ST`).
    pub street: String,
    /// Unit designator value (`4B`), without the word (APT, #, UNIT).
    pub unit: Option<String>,
}

impl NormalizedAddress {
    /// The address as one comparable line: `123 N MAIN ST #4B`.
    pub fn line(&self) -> String {
        let mut s = String::new();
        if let Some(n) = &self.number {
            s.push_str(n);
            s.push(' ');
        }
        s.push_str(&self.street);
        if let Some(u) = &self.unit {
            s.push_str(" #");
            s.push_str(u);
        }
        s
    }
}

/// Normalize address lines 1 and 2 into number, street and unit.
pub fn normalize_address(line1: &str, line2: Option<&str>) -> NormalizedAddress {
    // `#` is a unit marker: keep it as a token before folding removes punctuation.
    let joined = format!("{} {}", line1, line2.unwrap_or("")).replace('#', " UNIT ");
    let folded = fold(&joined);
    let tokens: Vec<&str> = folded.split(' ').filter(|t| !t.is_empty()).collect();
    let mut out = NormalizedAddress::default();
    let mut street: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        if UNIT_WORDS.contains(&t) {
            if let Some(value) = tokens.get(i + 1) {
                out.unit = Some((*value).to_string());
                i += 2;
                continue;
            }
        } else if i == 0 && t.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            out.number = Some(t.to_string());
        } else if let Some((_, abbr)) = DIRECTIONALS.iter().find(|(k, _)| *k == t) {
            street.push(abbr);
        } else if let Some((_, abbr)) = SUFFIXES.iter().find(|(k, _)| *k == t) {
            street.push(abbr);
        } else {
            street.push(t);
        }
        i += 1;
    }
    out.street = street.join(" ");
    out
}

/// The five-digit ZIP of a ZIP or ZIP+4 (`02134-1234` -> `02134`), or None.
///
/// A ZIP of four digits (or a ZIP+4 of eight) gets its leading zero back: spreadsheets drop it from the ZIPs of
/// New England, New Jersey and Puerto Rico (`2134` -> `02134`), and those records must still block and compare
/// with the ones that kept it.
pub fn zip5(text: &str) -> Option<String> {
    let (zip, plus4) = text.split_once('-').unwrap_or((text, ""));
    let digits: String = zip.chars().filter(char::is_ascii_digit).collect();
    let plus4_digits = plus4.chars().filter(char::is_ascii_digit).count();
    match (digits.len(), plus4_digits) {
        (5, _) | (9, 0) => Some(digits[..5].to_string()),
        (4, _) | (8, 0) => Some(format!("0{}", &digits[..4])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_different_styles_normalize_alike() {
        let a = normalize_address("123 North Main Street Apt 4B", None);
        let b = normalize_address("123 N. MAIN ST", Some("#4B"));
        let c = normalize_address("123 n main st", Some("Unit 4b"));
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(a.line(), "123 N MAIN ST #4B");
        assert_eq!(normalize_address("PO Box 12", None).street, "PO BOX 12");
    }

    #[test]
    fn zip_codes() {
        assert_eq!(zip5("02134-1234").as_deref(), Some("02134"));
        assert_eq!(zip5("021341234").as_deref(), Some("02134"));
        assert_eq!(zip5("2134").as_deref(), Some("02134"));
        assert_eq!(zip5("2134-1234").as_deref(), Some("02134"));
        assert_eq!(zip5("21341234").as_deref(), Some("02134"));
        assert_eq!(zip5("213"), None);
        assert_eq!(zip5("1234567"), None);
        assert_eq!(zip5(""), None);
    }
}
