//! Destinations: what each kind of outreach tool may receive (minimum necessary), and the identifier hygiene ad
//! platforms require.
//!
//! Every destination kind has an allowlist of payload fields; a configured field outside it is a configuration
//! error naming the destination and field. Ad platforms (Meta Custom Audiences, Google Customer Match) receive
//! only SHA-256 hashes of the normalized email (trimmed, lower case) and E.164 phone (digits with the country
//! code, no `+`, as Meta asks), in audiences whose names must not reveal a condition or a care gap.

use super::consent::Channel;
use crate::error::{CoreError, CoreResult};

/// The kinds of destination carelake writes change sets for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationKind {
    /// An SMS vendor.
    Sms,
    /// An email service.
    Email,
    /// A voice / IVR vendor.
    Voice,
    /// A CRM (care coordinators' work queue).
    Crm,
    /// CSV files for SFTP-style vendors.
    FileDrop,
    /// Meta Custom Audiences.
    AdsMeta,
    /// Google Customer Match.
    AdsGoogle,
}

impl DestinationKind {
    /// Every kind.
    pub const ALL: [DestinationKind; 7] = [
        DestinationKind::Sms,
        DestinationKind::Email,
        DestinationKind::Voice,
        DestinationKind::Crm,
        DestinationKind::FileDrop,
        DestinationKind::AdsMeta,
        DestinationKind::AdsGoogle,
    ];

    /// Parse the configured kind.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == text)
    }

    /// The configured name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            DestinationKind::Sms => "sms",
            DestinationKind::Email => "email",
            DestinationKind::Voice => "voice",
            DestinationKind::Crm => "crm",
            DestinationKind::FileDrop => "file_drop",
            DestinationKind::AdsMeta => "ads_meta",
            DestinationKind::AdsGoogle => "ads_google",
        }
    }

    /// The channel a destination delivers on (CRM and file drops carry whichever channel was chosen).
    pub fn channel(self) -> Option<Channel> {
        match self {
            DestinationKind::Sms => Some(Channel::Sms),
            DestinationKind::Email => Some(Channel::Email),
            DestinationKind::Voice => Some(Channel::Voice),
            DestinationKind::AdsMeta | DestinationKind::AdsGoogle => Some(Channel::Ads),
            DestinationKind::Crm | DestinationKind::FileDrop => None,
        }
    }

    /// Whether the destination is an ad platform.
    pub fn is_ads(self) -> bool {
        matches!(self, DestinationKind::AdsMeta | DestinationKind::AdsGoogle)
    }

    /// The payload fields this kind may ever receive.
    pub fn allowed_fields(self) -> &'static [&'static str] {
        match self {
            DestinationKind::Sms | DestinationKind::Voice => {
                const F: &[&str] = &[
                    "phone",
                    "first_name",
                    "preferred_language",
                    "message_topic",
                    "due_date",
                    "appointment_at",
                ];
                F
            }
            DestinationKind::Email => {
                const F: &[&str] = &[
                    "email",
                    "first_name",
                    "preferred_language",
                    "message_topic",
                    "due_date",
                    "appointment_at",
                ];
                F
            }
            DestinationKind::Crm | DestinationKind::FileDrop => {
                const F: &[&str] = &[
                    "phone",
                    "email",
                    "first_name",
                    "last_name",
                    "address_line1",
                    "address_line2",
                    "city",
                    "state",
                    "postal_code",
                    "preferred_language",
                    "message_topic",
                    "due_date",
                    "appointment_at",
                    "measure",
                    "gap_reason",
                ];
                F
            }
            DestinationKind::AdsMeta | DestinationKind::AdsGoogle => &["hashed_email", "hashed_phone"],
        }
    }
}

/// Words that must not appear in an audience name sent to an ad platform (they reveal a condition, a treatment or
/// a care gap). Checked on whole words of the name, case-insensitively.
pub const SENSITIVE_NAME_WORDS: &[&str] = &[
    "diabetes",
    "diabetic",
    "a1c",
    "hba1c",
    "cancer",
    "oncology",
    "mammogram",
    "mammography",
    "colonoscopy",
    "colorectal",
    "cervical",
    "hpv",
    "pregnancy",
    "pregnant",
    "hypertension",
    "blood",
    "pressure",
    "kidney",
    "renal",
    "statin",
    "cholesterol",
    "hiv",
    "mental",
    "depression",
    "opioid",
    "substance",
    "glp1",
    "glp",
    "ozempic",
    "obesity",
    "gap",
    "gaps",
    "hedis",
    "screening",
    "diagnosis",
    "condition",
    "disease",
    "patient",
    "patients",
    "bcs",
    "col",
    "ccs",
    "gsd",
    "cbp",
    "eed",
    "ked",
    "spd",
];

/// Check that an audience name is neutral enough for an ad platform; the error names the audience and the word.
pub fn check_ads_audience_name(destination: &str, audience_name: &str) -> CoreResult<()> {
    let lower = audience_name.to_lowercase();
    for word in lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if SENSITIVE_NAME_WORDS.contains(&word) {
            return Err(CoreError::Config(format!(
                "destination '{destination}': the ad audience name '{audience_name}' contains '{word}', which reveals \
                 health information; use a neutral name (ad platforms block such audiences and HIPAA forbids it)"
            )));
        }
    }
    Ok(())
}

/// SHA-256 (lower-case hex) of an email normalized as Meta and Google ask: trimmed and lower case. None when the
/// text is not an email address.
pub fn hashed_email(email: &str) -> Option<String> {
    let normalized = email.trim().to_lowercase();
    let (local, domain) = normalized.split_once('@')?;
    if local.is_empty() || !domain.contains('.') || normalized.contains(char::is_whitespace) {
        return None;
    }
    Some(crate::digest::sha256_of(normalized.as_bytes()))
}

/// SHA-256 of a phone in E.164 digits (country code, no `+`, no leading zeros). The input must already be E.164
/// (`+15551234567`, as member_profile stores it); None otherwise.
pub fn hashed_phone(e164: &str) -> Option<String> {
    let digits = e164.trim().strip_prefix('+')?;
    if digits.len() < 8
        || digits.len() > 15
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some(crate::digest::sha256_of(digits.as_bytes()))
}

/// A destination's payload field must be one its kind may receive (minimum necessary).
pub fn check_field(destination: &str, kind: DestinationKind, field: &str) -> CoreResult<()> {
    if kind.allowed_fields().contains(&field) {
        return Ok(());
    }
    Err(CoreError::Config(format!(
        "destination '{destination}' ({}): field '{field}' is not allowed (minimum necessary: {})",
        kind.name(),
        kind.allowed_fields().join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ads_get_hashes_only() {
        for kind in [DestinationKind::AdsMeta, DestinationKind::AdsGoogle] {
            assert!(check_field("meta", kind, "hashed_email").is_ok());
            for f in ["email", "phone", "first_name", "measure", "due_date"] {
                let err = check_field("meta", kind, f).unwrap_err().to_string();
                assert!(err.contains("meta") && err.contains(f), "{err}");
            }
        }
        assert!(check_field("sms", DestinationKind::Sms, "measure").is_err());
        assert!(check_field("crm", DestinationKind::Crm, "measure").is_ok());
    }

    #[test]
    fn identifier_hygiene() {
        use sha2::Digest;
        // Meta's documented example: the hash of the normalized email.
        let a = hashed_email("  John.Doe@Example.COM ").unwrap();
        assert_eq!(a, hashed_email("john.doe@example.com").unwrap());
        assert_eq!(a.len(), 64);
        assert!(hashed_email("not an email").is_none());
        assert_eq!(
            hashed_phone("+15551234567").unwrap(),
            hex::encode(sha2::Sha256::digest(b"15551234567"))
        );
        assert!(hashed_phone("5551234567").is_none(), "country code required");
        assert!(hashed_phone("+0551234567").is_none());
    }

    #[test]
    fn ad_audience_names_must_be_neutral() {
        assert!(check_ads_audience_name("meta", "Spring wellness outreach").is_ok());
        for name in [
            "Diabetes A1C recall",
            "colonoscopy-due",
            "HEDIS gaps Q3",
            "COL-E open",
        ] {
            let err = check_ads_audience_name("meta", name).unwrap_err().to_string();
            assert!(err.contains("reveals health information"), "{name}: {err}");
        }
    }
}
