//! Contact points: phones to E.164 (US by default), emails to a canonical lower-case form.

/// A phone number in E.164 (`+15551234567`), or None when it cannot be a dialable number.
///
/// Ten digits are a US/NANP number (area code and exchange must not start with 0 or 1); eleven starting with 1
/// likewise; a leading `+` or `00` keeps another country code (8 to 15 digits). Extensions (`x123`, `ext 123`)
/// are dropped.
pub fn phone_e164(text: &str) -> Option<String> {
    let lower = text.trim().to_ascii_lowercase();
    let main = lower
        .split(['x', '#'])
        .next()
        .unwrap_or("")
        .split("ext")
        .next()
        .unwrap_or("");
    let international = main.trim_start().starts_with('+') || main.trim_start().starts_with("00");
    let mut digits: String = main.chars().filter(char::is_ascii_digit).collect();
    if international && !main.trim_start().starts_with('+') {
        digits = digits.trim_start_matches("00").to_string();
    }
    if international && !digits.starts_with('1') {
        return (8..=15).contains(&digits.len()).then(|| format!("+{digits}"));
    }
    let national = match digits.len() {
        10 => digits.as_str(),
        11 if digits.starts_with('1') => &digits[1..],
        _ => return None,
    };
    let b = national.as_bytes();
    let valid = b[0] >= b'2' && b[3] >= b'2' && !national.bytes().all(|d| d == b[0]);
    valid.then(|| format!("+1{national}"))
}

/// An email address trimmed and lower-cased, or None when it is not `local@domain.tld`.
pub fn email_canonical(text: &str) -> Option<String> {
    let e = text.trim().to_ascii_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok_local = !local.is_empty() && !local.contains(char::is_whitespace);
    let ok_domain = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    (ok_local && ok_domain).then_some(e)
}

/// The matching key of an email: for Gmail, dots and `+tags` in the local part do not change the mailbox.
pub fn email_match_key(canonical: &str) -> String {
    match canonical.split_once('@') {
        Some((local, domain @ ("gmail.com" | "googlemail.com"))) => {
            let local = local.split('+').next().unwrap_or(local).replace('.', "");
            format!(
                "{local}@{}",
                if domain == "googlemail.com" {
                    "gmail.com"
                } else {
                    domain
                }
            )
        }
        _ => canonical.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_in_many_formats_become_e164() {
        for s in [
            "(212) 555-0143",
            "212-555-0143",
            "2125550143",
            "+1 212 555 0143",
            "1-212-555-0143",
            "212.555.0143",
            "212 555 0143 x12",
        ] {
            assert_eq!(phone_e164(s).as_deref(), Some("+12125550143"), "{s}");
        }
        assert_eq!(phone_e164("+44 20 7946 0958").as_deref(), Some("+442079460958"));
        for s in [
            "555-0143",
            "(012) 555-0143",
            "212-055-0143",
            "0000000000",
            "",
            "not a phone",
            "1234567890123456",
        ] {
            assert_eq!(phone_e164(s), None, "{s}");
        }
    }

    #[test]
    fn emails_are_canonical_and_gmail_keys_ignore_dots_and_tags() {
        assert_eq!(
            email_canonical(" John.Smith@GMAIL.com ").as_deref(),
            Some("john.smith@gmail.com")
        );
        assert_eq!(
            email_match_key("john.smith+news@gmail.com"),
            "johnsmith@gmail.com"
        );
        assert_eq!(email_match_key("john.smith@yahoo.com"), "john.smith@yahoo.com");
        for s in [
            "john",
            "john@",
            "@x.com",
            "a@b",
            "a b@c.com",
            "a@@b.com",
            "a@.com",
        ] {
            assert_eq!(email_canonical(s), None, "{s}");
        }
    }
}
