//! Property tests of the normalizers: whatever text a source holds (any Unicode, or text shaped like the field),
//! a normalizer returns without panicking, its output has the documented form, and normalizing the output again
//! changes nothing (so records normalized in different runs, or twice, still compare equal). Phones written in
//! the usual US ways all give one E.164 number, and dates written in every accepted format read back the same.

use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;
use crate::model::values::{parse_bool, parse_date, parse_float, parse_integer, parse_timestamp};

/// Any text, or text made of the characters a phone, date, ZIP or SSN field holds (to reach deeper branches).
fn field_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9 ()+.x#/-]{0,24}",
        "[0-9A-Za-z .@_+-]{0,30}",
        "(ext|EXT|x)?[0-9]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn normalizers_never_panic_and_their_output_is_a_fixed_point(text in field_text()) {
        if let Some(p) = phone_e164(&text) {
            let digits = &p[1..];
            prop_assert!(p.starts_with('+') && digits.bytes().all(|b| b.is_ascii_digit()), "{p}");
            prop_assert!((8..=15).contains(&digits.len()), "{p}");
            prop_assert_eq!(phone_e164(&p), Some(p.clone()));
        }
        if let Some(e) = email_canonical(&text) {
            prop_assert_eq!(e.matches('@').count(), 1);
            prop_assert!(!e.bytes().any(|b| b.is_ascii_uppercase()));
            prop_assert_eq!(email_canonical(&e), Some(e.clone()));
            let key = email_match_key(&e);
            prop_assert_eq!(email_match_key(&key), key);
        }
        let folded = fold(&text);
        prop_assert!(folded.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' '));
        prop_assert!(!folded.starts_with(' ') && !folded.ends_with(' ') && !folded.contains("  "));
        prop_assert_eq!(fold(&folded), folded.clone());
        // A name's tokens are folded text (its suffix apart: "SMITH V V" keeps one V as the name).
        let name = normalize_name(&text);
        prop_assert_eq!(fold(&name.full), name.full.clone());
        prop_assert!(name.full.split_whitespace().all(|t| folded.split(' ').any(|f| f == t)), "{}", name.full);
        let code = soundex(&folded);
        prop_assert!(code.is_empty() || (code.len() == 4 && code.as_bytes()[0].is_ascii_uppercase()
            && code[1..].bytes().all(|b| b.is_ascii_digit())), "{code}");
        if let Some(z) = zip5(&text) {
            prop_assert!(z.len() == 5 && z.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(zip5(&z), Some(z.clone()));
        }
        if let Some(s) = ssn_digits(&text) {
            prop_assert!(s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(ssn_digits(&s), Some(s.clone()));
            prop_assert!(ssn_last4(&s).is_some());
        }
        if let Some(r) = record_number(&text) {
            prop_assert!(!r.is_empty() && r.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
            prop_assert_eq!(record_number(&r), Some(r.clone()));
        }
        let _ = (sex_code(&text), normalize_address(&text, Some(&text)));
        let _ = (parse_date(&text), parse_timestamp(&text), parse_bool(&text));
        if let Some(x) = parse_float(&text) {
            prop_assert!(x.is_finite());
        }
        if let Some(n) = parse_integer(&text) {
            prop_assert_eq!(parse_integer(&n.to_string()), Some(n));
        }
    }

    #[test]
    fn a_us_phone_written_any_usual_way_is_one_e164_number(
        area in 200u32..1000,
        exchange in 200u32..1000,
        line in 0u32..10_000,
        extension in prop::option::of(1u32..10_000),
    ) {
        let (a, e, l) = (area.to_string(), exchange.to_string(), format!("{line:04}"));
        let expected = format!("+1{a}{e}{l}");
        // A number of one repeated digit is refused as a placeholder.
        prop_assume!(!expected[2..].bytes().all(|b| b == expected.as_bytes()[2]));
        let ext = extension.map_or(String::new(), |x| format!(" x{x}"));
        for written in [
            format!("{a}{e}{l}"),
            format!("({a}) {e}-{l}"),
            format!("{a}.{e}.{l}"),
            format!("{a}-{e}-{l}{ext}"),
            format!("1-{a}-{e}-{l}"),
            format!("+1 {a} {e} {l}"),
            format!(" +1 ({a}) {e}-{l} ext {}", extension.unwrap_or(7)),
            format!("001{a}{e}{l}"),
        ] {
            prop_assert_eq!(phone_e164(&written), Some(expected.clone()), "{}", written);
        }
    }

    #[test]
    fn a_date_written_in_any_accepted_format_reads_back(days in 0i64..146_000) {
        let date = NaiveDate::from_ymd_opt(1800, 1, 1).unwrap() + chrono::Duration::days(days);
        for format in ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%m/%d/%Y", "%m-%d-%Y", "%d-%b-%Y", "%d %b %Y", "%Y.%m.%d"] {
            let written = date.format(format).to_string();
            prop_assert_eq!(parse_date(&written), Some(date), "{}", written);
            prop_assert_eq!(parse_date(&format!("  {written} ")), Some(date), "padded {}", written);
        }
        let timestamp = format!("{}T13:45:00Z", date.format("%Y-%m-%d"));
        prop_assert_eq!(parse_date(&timestamp), Some(date));
        prop_assert_eq!(parse_timestamp(&timestamp).map(|t| t.date_naive()), Some(date));
    }
}
