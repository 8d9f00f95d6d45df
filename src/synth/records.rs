//! Rendering a true person into the source records that EHR, claims and CRM systems hold about them.
//!
//! Each source formats data its own way (claims upper-cases names and abbreviates streets, the EHR writes
//! phones with parentheses, the CRM keeps nicknames) and each record may carry corruptions: nicknames, typos,
//! transpositions, maiden names, old addresses, day/month swaps, missing fields. The ground truth names every
//! corruption applied.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::places::{STREETS, STREET_TYPES};
use super::population::{record_id, Address, Person};
use super::rng::Rng;
use crate::identity::nicknames::nicknames_of;
use crate::model::BatchBuilder;

/// The source systems of the synthetic lake.
pub const EHR: &str = "ehr";
/// Claims (the health plan's member and claims system).
pub const CLAIMS: &str = "claims";
/// The CRM / patient-engagement system.
pub const CRM: &str = "crm";

const SALT_EHR: u64 = 0x0E4B;
const SALT_CLAIMS: u64 = 0xC1A1;
const SALT_CRM: u64 = 0xC4A0;
const SALT_MRN: u64 = 0x4D42;
const SALT_MEMBER: u64 = 0x3E3B;

/// The record keys of one person, for the tables that refer to a person by source key.
#[derive(Debug, Clone, Default)]
pub struct PersonKeys {
    /// EHR record ids (one, or two for a duplicate registration).
    pub ehr: Vec<String>,
    /// Claims record id.
    pub claims: Option<String>,
    /// CRM record id.
    pub crm: Option<String>,
}

impl PersonKeys {
    /// The key a clinical-care system would use: the EHR record, else claims, else CRM.
    pub fn care_key(&self) -> Option<(&'static str, &str)> {
        self.ehr
            .first()
            .map(|id| (EHR, id.as_str()))
            .or_else(|| self.claims.as_deref().map(|id| (CLAIMS, id)))
            .or_else(|| self.crm.as_deref().map(|id| (CRM, id)))
    }

    /// The key an engagement system would use: CRM, else EHR, else claims.
    pub fn engagement_key(&self) -> Option<(&'static str, &str)> {
        self.crm
            .as_deref()
            .map(|id| (CRM, id))
            .or_else(|| self.ehr.first().map(|id| (EHR, id.as_str())))
            .or_else(|| self.claims.as_deref().map(|id| (CLAIMS, id)))
    }
}

/// Write the person's source records and their ground truth.
pub fn render_person_records(
    person: &Person,
    rng: &mut Rng,
    as_of: NaiveDate,
    records: &mut BatchBuilder,
    truth: &mut BatchBuilder,
) -> PersonKeys {
    let mut keys = PersonKeys::default();
    let member_number = format!("M{:011}", super::rng::scramble40(person.index, SALT_MEMBER));
    for dup in 0..person.sources.ehr {
        let id = record_id("E", person.index * 2 + u64::from(dup), SALT_EHR);
        let mrn = format!(
            "{:012}",
            super::rng::scramble40(person.index * 2 + u64::from(dup), SALT_MRN)
        );
        let style = Style {
            source: EHR,
            upper: false,
            abbreviate: rng.chance(0.5),
            duplicate: dup == 1,
        };
        let extra = RecordExtras {
            mrn: Some(mrn),
            member_number: None,
        };
        render(person, rng, as_of, &style, &id, extra, records, truth);
        keys.ehr.push(id);
    }
    if person.sources.claims {
        let id = record_id("C", person.index, SALT_CLAIMS);
        let style = Style {
            source: CLAIMS,
            upper: true,
            abbreviate: true,
            duplicate: false,
        };
        let extra = RecordExtras {
            mrn: None,
            member_number: Some(member_number.clone()),
        };
        render(person, rng, as_of, &style, &id, extra, records, truth);
        keys.claims = Some(id);
    }
    if person.sources.crm {
        let id = record_id("R", person.index, SALT_CRM);
        let style = Style {
            source: CRM,
            upper: false,
            abbreviate: rng.chance(0.3),
            duplicate: false,
        };
        let member = (person.sources.claims && rng.chance(0.4)).then(|| member_number.clone());
        let extra = RecordExtras {
            mrn: None,
            member_number: member,
        };
        render(person, rng, as_of, &style, &id, extra, records, truth);
        keys.crm = Some(id);
    }
    keys
}

struct Style {
    source: &'static str,
    upper: bool,
    abbreviate: bool,
    duplicate: bool,
}

struct RecordExtras {
    mrn: Option<String>,
    member_number: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn render(
    person: &Person,
    rng: &mut Rng,
    as_of: NaiveDate,
    style: &Style,
    id: &str,
    extra: RecordExtras,
    records: &mut BatchBuilder,
    truth: &mut BatchBuilder,
) {
    let mut corruptions: Vec<&'static str> = Vec::new();
    let crm = style.source == CRM;
    let heavy = if style.duplicate { 3.0 } else { 1.0 };

    // Names.
    let mut first = person.first.clone();
    let nicks = nicknames_of(&first);
    if !nicks.is_empty() && rng.chance(if crm { 0.3 } else { 0.1 }) {
        first = rng.pick(nicks).to_string();
        corruptions.push("nickname");
    }
    if rng.chance(0.04 * heavy) {
        first = typo(rng, &first);
        corruptions.push("typo_first_name");
    }
    let old_record = !crm && rng.chance(0.4);
    let mut last = match &person.maiden {
        Some(maiden) if old_record => {
            corruptions.push("maiden_name");
            maiden.clone()
        }
        _ => person.last.clone(),
    };
    if rng.chance(0.04 * heavy) {
        last = typo(rng, &last);
        corruptions.push("typo_last_name");
    }
    let middle = match &person.middle {
        Some(m) if rng.chance(0.75) => Some(if rng.chance(0.3) {
            m[..1].to_string()
        } else {
            m.clone()
        }),
        Some(_) => {
            corruptions.push("missing_middle_name");
            None
        }
        None => None,
    };

    // Birth date.
    let mut birth = person.birth;
    if rng.chance(0.02 * heavy) {
        if let Some(swapped) = swap_day_month(birth) {
            birth = swapped;
            corruptions.push("birth_date_day_month_swap");
        }
    } else if rng.chance(0.02 * heavy) {
        birth = digit_typo_date(rng, birth);
        corruptions.push("birth_date_typo");
    }

    // Identifiers.
    let ssn_present = match style.source {
        CLAIMS => 0.85,
        EHR => 0.6,
        _ => 0.1,
    } / heavy;
    let ssn = rng.chance(ssn_present).then(|| {
        if rng.chance(0.02) {
            corruptions.push("ssn_transposition");
            transpose_digits(rng, &person.ssn)
        } else {
            format_ssn(rng, &person.ssn)
        }
    });

    // Contacts.
    let email = person.email.as_ref().and_then(|e| {
        let present = match style.source {
            CLAIMS => 0.35,
            EHR => 0.7,
            _ => 0.95,
        };
        if !rng.chance(present) {
            corruptions.push("missing_email");
            return None;
        }
        Some(if rng.chance(0.2) {
            corruptions.push("email_case");
            email_case_variant(e)
        } else {
            e.clone()
        })
    });
    let phone_digits = match &person.landline {
        Some(l) if rng.chance(0.35) => l.clone(),
        _ => person.mobile.clone(),
    };
    let phone = rng
        .chance(0.92)
        .then(|| format_phone(rng, &phone_digits, style.source));

    // Address: records last updated before a move still hold the old address.
    let moved_record = person.old_address.is_some() && !crm && rng.chance(0.5);
    let address = match (&person.old_address, moved_record) {
        (Some(old), true) => {
            corruptions.push("old_address");
            old
        }
        _ => &person.address,
    };
    let (line1, line2) = format_address(rng, address, style.abbreviate);
    let postal_code = if rng.chance(0.3) {
        format!("{}-{}", address.zip, address.zip4)
    } else {
        address.zip.clone()
    };
    let updated_at = record_time(rng, as_of, moved_record || old_record);

    let sex = match (style.source, person.female) {
        (CLAIMS, true) => Some("F"),
        (CLAIMS, false) => Some("M"),
        (EHR, true) => Some(if rng.chance(0.8) { "F" } else { "female" }),
        (EHR, false) => Some(if rng.chance(0.8) { "M" } else { "male" }),
        (_, true) => rng.chance(0.6).then_some("Female"),
        (_, false) => rng.chance(0.6).then_some("Male"),
    };
    let case = |s: &str| {
        if style.upper {
            s.to_uppercase()
        } else {
            s.to_string()
        }
    };
    let suffix = person.suffix.filter(|_| rng.chance(0.8));
    if person.suffix.is_some() && suffix.is_none() {
        corruptions.push("missing_suffix");
    }
    // Deaths reach claims (and the EHR) first; the CRM often does not know.
    let deceased = person.deceased.filter(|_| !crm || rng.chance(0.2));

    records
        .text(Some(style.source))
        .text(Some(id))
        .text(Some(&case(&first)))
        .text(middle.as_deref().map(case).as_deref())
        .text(Some(&case(&last)))
        .text(suffix.map(case).as_deref())
        .date(Some(birth))
        .date(deceased)
        .text(sex)
        .text(ssn.as_deref())
        .text(extra.member_number.as_deref())
        .text(extra.mrn.as_deref())
        .text(email.as_deref())
        .text(phone.as_deref())
        .text(Some(&case(&line1)))
        .text(line2.map(|l| case(&l)).as_deref())
        .text(Some(&case(address.place.city)))
        .text(Some(address.place.state))
        .text(Some(&postal_code))
        .text(Some(person.language))
        .text(person.channel)
        .timestamp(Some(updated_at));
    records.end_row();

    if style.duplicate {
        corruptions.insert(0, "duplicate_registration");
    }
    truth
        .text(Some(style.source))
        .text(Some(id))
        .text(Some(&person.person_id()))
        .text(Some(&person.household_id()))
        .text(Some(person.relation))
        .text(Some(&corruptions.join(",")));
    truth.end_row();
}

/// One keyboard-style edit: substitution, deletion, insertion or transposition.
pub fn typo(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 3 {
        return s.to_string();
    }
    let i = rng.range(1, chars.len() as i64 - 1) as usize;
    let letter = |rng: &mut Rng| (b'a' + rng.below(26) as u8) as char;
    match rng.below(4) {
        0 => chars[i] = letter(rng),
        1 => {
            chars.remove(i);
        }
        2 => chars.insert(i, letter(rng)),
        _ => chars.swap(i - 1, i),
    }
    chars.into_iter().collect()
}

fn swap_day_month(d: NaiveDate) -> Option<NaiveDate> {
    (d.day() <= 12 && d.day() != d.month())
        .then(|| NaiveDate::from_ymd_opt(d.year(), d.day(), d.month()))
        .flatten()
}

fn digit_typo_date(rng: &mut Rng, d: NaiveDate) -> NaiveDate {
    let changed = match rng.below(3) {
        0 => NaiveDate::from_ymd_opt(
            d.year() + if rng.chance(0.5) { 1 } else { -1 },
            d.month(),
            d.day(),
        ),
        1 => NaiveDate::from_ymd_opt(
            d.year(),
            d.month(),
            (d.day() % 10).max(1) + 10 * rng.range(0, 2) as u32,
        ),
        _ => {
            // Transposed year digits, e.g. 1975 -> 1957.
            let y = d.year();
            let swapped = (y / 100) * 100 + (y % 10) * 10 + (y / 10) % 10;
            NaiveDate::from_ymd_opt(swapped, d.month(), d.day())
        }
    };
    changed.filter(|c| *c != d).unwrap_or(d + Duration::days(1))
}

fn transpose_digits(rng: &mut Rng, digits: &str) -> String {
    let mut b: Vec<u8> = digits.bytes().collect();
    let i = rng.range(0, b.len() as i64 - 2) as usize;
    b.swap(i, i + 1);
    String::from_utf8(b).expect("digits are ASCII")
}

fn format_ssn(rng: &mut Rng, ssn: &str) -> String {
    if rng.chance(0.5) {
        format!("{}-{}-{}", &ssn[..3], &ssn[3..5], &ssn[5..])
    } else {
        ssn.to_string()
    }
}

fn format_phone(rng: &mut Rng, digits: &str, source: &str) -> String {
    let (a, e, l) = (&digits[..3], &digits[3..6], &digits[6..]);
    let style = match source {
        CLAIMS => {
            if rng.chance(0.8) {
                0
            } else {
                rng.below(6)
            }
        }
        EHR => {
            if rng.chance(0.7) {
                1
            } else {
                rng.below(6)
            }
        }
        _ => rng.below(6),
    };
    match style {
        0 => digits.to_string(),
        1 => format!("({a}) {e}-{l}"),
        2 => format!("{a}-{e}-{l}"),
        3 => format!("+1{digits}"),
        4 => format!("{a}.{e}.{l}"),
        _ => format!("1-{a}-{e}-{l}"),
    }
}

fn email_case_variant(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let mut local: Vec<char> = local.chars().collect();
    if let Some(c) = local.first_mut() {
        *c = c.to_ascii_uppercase();
    }
    format!(
        " {}@{} ",
        local.into_iter().collect::<String>(),
        domain.to_uppercase()
    )
}

fn format_address(rng: &mut Rng, a: &Address, abbreviate: bool) -> (String, Option<String>) {
    let (full, abbr) = STREET_TYPES[a.street_type];
    let street_type = if abbreviate { abbr } else { full };
    let line1 = format!("{} {} {}", a.number, STREETS[a.street], street_type);
    match &a.unit {
        None => (line1, None),
        Some(unit) => {
            let unit = match rng.below(3) {
                0 => format!("Apt {unit}"),
                1 => format!("#{unit}"),
                _ => format!("Unit {unit}"),
            };
            if rng.chance(0.5) {
                (format!("{line1} {unit}"), None)
            } else {
                (line1, Some(unit))
            }
        }
    }
}

fn record_time(rng: &mut Rng, as_of: NaiveDate, old: bool) -> DateTime<Utc> {
    let days = if old {
        rng.range(700, 1_800)
    } else {
        rng.range(1, 700)
    };
    let day = as_of - Duration::days(days);
    day.and_hms_opt(
        rng.range(0, 23) as u32,
        rng.range(0, 59) as u32,
        rng.range(0, 59) as u32,
    )
    .expect("valid time")
    .and_utc()
}
