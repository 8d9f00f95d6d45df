//! Contact points: phones to E.164 (US by default), emails to a canonical lower-case form.

/// A phone number in E.164 (`+15551234567`), or None when it cannot be a dialable number.
///
/// Ten digits are a US/NANP number (area code and exchange must not start with 0 or 1); eleven starting with 1
/// likewise; a leading `+` or `00` keeps another country code (8 to 15 digits). Extensions (`x123`, `ext 123`)
/// are dropped.
pub fn phone_e164(text: &str) -> Option<String> {
    E164::parse(text).map(|e| e.as_str().to_string())
}

/// A phone number in E.164 held on the stack: [`phone_e164`] without allocating, for comparing many numbers
/// (every consent's contact point against the member's phone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E164 {
    /// `+` and up to 15 digits.
    text: [u8; 16],
    len: u8,
}

impl E164 {
    /// Parse a phone number as [`phone_e164`] does.
    pub fn parse(text: &str) -> Option<E164> {
        let text = text.trim().as_bytes();
        // An extension starts at the first x (`x123`, `ext 123`) or #.
        let main = &text[..text
            .iter()
            .position(|b| matches!(b, b'x' | b'X' | b'#'))
            .unwrap_or(text.len())];
        let plus = main.starts_with(b"+");
        let international = plus || main.starts_with(b"00");
        let mut digits = main.iter().copied().filter(u8::is_ascii_digit).peekable();
        // Up to 16 digits (more is never a number): `00` before another country code is dropped, each pair of
        // leading zeros.
        let mut kept = [0u8; 16];
        let mut n = 0;
        if international && !plus {
            let mut zeros = 0usize;
            while digits.next_if_eq(&b'0').is_some() {
                zeros += 1;
            }
            if zeros % 2 == 1 {
                kept[0] = b'0';
                n = 1;
            }
        }
        for d in digits {
            if n == kept.len() {
                return None;
            }
            kept[n] = d;
            n += 1;
        }
        let digits = &kept[..n];
        if international && digits.first() != Some(&b'1') {
            return (8..=15).contains(&n).then(|| E164::with_plus(digits));
        }
        let national = match n {
            10 => digits,
            11 if digits[0] == b'1' => &digits[1..],
            _ => return None,
        };
        let valid = national[0] >= b'2' && national[3] >= b'2' && !national.iter().all(|&d| d == national[0]);
        valid.then(|| {
            let mut with_one = [b'1'; 11];
            with_one[1..].copy_from_slice(national);
            E164::with_plus(&with_one)
        })
    }

    /// `+` and the digits (at most 15).
    fn with_plus(digits: &[u8]) -> E164 {
        let mut text = [0u8; 16];
        text[0] = b'+';
        text[1..=digits.len()].copy_from_slice(digits);
        E164 {
            text,
            len: digits.len() as u8 + 1,
        }
    }

    /// The digits, without the `+`.
    pub fn digits(&self) -> &[u8] {
        &self.text[1..self.len as usize]
    }

    /// The number as text (`+15551234567`).
    pub fn as_str(&self) -> &str {
        // Only `+` and ASCII digits are ever written.
        std::str::from_utf8(&self.text[..self.len as usize]).unwrap_or_default()
    }
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
