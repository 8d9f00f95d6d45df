//! The true synthetic population: households of people with names, birth dates, contacts and addresses.
//!
//! Households make the hard negatives real: spouses and children share an address and a last name, some share
//! a landline, fathers and sons share a given name (Sr/Jr), and twins share a birth date.

use chrono::{Datelike, Duration, NaiveDate};

use super::names::NameSampler;
use super::places::{Place, AREA_CODES, EMAIL_DOMAINS, PLACES, STREETS, STREET_TYPES};
use super::rng::{cumulative, scramble40, Rng};

/// A postal address.
#[derive(Debug, Clone)]
pub struct Address {
    /// House number.
    pub number: u32,
    /// Street name index into [`STREETS`].
    pub street: usize,
    /// Street type index into [`STREET_TYPES`].
    pub street_type: usize,
    /// Unit (apartment) number, if any.
    pub unit: Option<String>,
    /// City, state and ZIP prefix.
    pub place: &'static Place,
    /// Five-digit ZIP.
    pub zip: String,
    /// ZIP+4 suffix.
    pub zip4: String,
}

/// Which records a person has in which source system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourcePresence {
    /// EHR registrations (0, 1, or 2 for a duplicate registration).
    pub ehr: u8,
    /// Has a claims (health plan) record, hence enrollment.
    pub claims: bool,
    /// Has a CRM record.
    pub crm: bool,
}

/// One true person.
#[derive(Debug, Clone)]
pub struct Person {
    /// Global index of the person (0-based), the basis of every id.
    pub index: u64,
    /// Household id.
    pub household: u64,
    /// Role in the household.
    pub relation: &'static str,
    /// Female (else male); a few records will say unknown.
    pub female: bool,
    /// Given name (formal).
    pub first: String,
    /// Middle name.
    pub middle: Option<String>,
    /// Current family name.
    pub last: String,
    /// Family name before marriage, when it changed.
    pub maiden: Option<String>,
    /// Jr, Sr, III.
    pub suffix: Option<&'static str>,
    /// Date of birth.
    pub birth: NaiveDate,
    /// Date of death, for the few who died recently.
    pub deceased: Option<NaiveDate>,
    /// Social Security number (9 digits, valid ranges).
    pub ssn: String,
    /// Personal email.
    pub email: Option<String>,
    /// Personal mobile phone (10 digits).
    pub mobile: String,
    /// Household landline, shared with the household.
    pub landline: Option<String>,
    /// Current address.
    pub address: Address,
    /// Address before a move, if the person moved in the last years.
    pub old_address: Option<Address>,
    /// Preferred language.
    pub language: &'static str,
    /// Preferred channel.
    pub channel: Option<&'static str>,
    /// Sources that hold records of this person.
    pub sources: SourcePresence,
}

impl Person {
    /// The person's id in the ground truth.
    pub fn person_id(&self) -> String {
        format!("P{:09}", self.index)
    }

    /// The household's id in the ground truth.
    pub fn household_id(&self) -> String {
        format!("H{:09}", self.household)
    }

    /// Age in whole years on a date.
    pub fn age_on(&self, date: NaiveDate) -> i32 {
        let mut age = date.year() - self.birth.year();
        if (date.month(), date.day()) < (self.birth.month(), self.birth.day()) {
            age -= 1;
        }
        age
    }
}

/// Shared lookup tables for drawing people.
#[derive(Debug, Clone)]
pub struct PopulationSampler {
    names: NameSampler,
    places: Vec<f64>,
    domains: Vec<f64>,
    household_sizes: Vec<f64>,
}

impl Default for PopulationSampler {
    fn default() -> Self {
        PopulationSampler {
            names: NameSampler::default(),
            places: cumulative(PLACES.iter().map(|p| p.weight)),
            domains: cumulative(EMAIL_DOMAINS.iter().map(|(_, w)| *w)),
            household_sizes: cumulative([28.0, 34.0, 16.0, 14.0, 8.0]),
        }
    }
}

impl PopulationSampler {
    /// People `first..first+count`, grouped into households, all drawn from `rng`.
    pub fn people(&self, rng: &mut Rng, first: u64, count: u64, as_of: NaiveDate) -> Vec<Person> {
        let mut out = Vec::with_capacity(count as usize);
        while (out.len() as u64) < count {
            let size = (rng.weighted(&self.household_sizes) + 1) as u64;
            let size = size.min(count - out.len() as u64);
            let household = first + out.len() as u64;
            self.household(rng, household, size, as_of, &mut out);
        }
        out
    }

    fn household(&self, rng: &mut Rng, household: u64, size: u64, as_of: NaiveDate, out: &mut Vec<Person>) {
        let address = self.address(rng, None);
        let family_name = self.names.surname(rng);
        let landline = rng.chance(0.3).then(|| phone_number(rng));
        // Head: an adult. Larger households skew younger (parents with children).
        let head_age = if size >= 3 {
            rng.range(26, 58)
        } else {
            adult_age(rng)
        };
        let head_female = rng.chance(0.5);
        let base = out.len();
        let head = self.person(
            rng,
            PersonDraft {
                index: household,
                household,
                relation: "head",
                female: head_female,
                age: head_age,
                last: family_name.clone(),
                address: address.clone(),
                landline: landline.clone(),
                as_of,
            },
        );
        out.push(head);
        let mut next = household + 1;
        if size >= 2 {
            let female = if rng.chance(0.9) {
                !head_female
            } else {
                head_female
            };
            let age = (head_age + rng.range(-6, 6)).clamp(18, 100);
            let shares_name = rng.chance(0.75);
            let last = if shares_name {
                family_name.clone()
            } else {
                self.names.surname(rng)
            };
            let mut spouse = self.person(
                rng,
                PersonDraft {
                    index: next,
                    household,
                    relation: "spouse",
                    female,
                    age,
                    last: last.clone(),
                    address: address.clone(),
                    landline: landline.clone(),
                    as_of,
                },
            );
            if shares_name && female && rng.chance(0.8) {
                // She took the family name at marriage; older records may still carry her maiden name.
                spouse.maiden = Some(self.names.surname(rng));
            } else if shares_name && female {
                spouse.last = format!("{}-{}", self.names.surname(rng), family_name);
            }
            out.push(spouse);
            next += 1;
        }
        let twins = size >= 4 && rng.chance(0.15);
        let mut twin_birth: Option<NaiveDate> = None;
        for k in 2..size {
            let age = (head_age - rng.range(20, 40)).clamp(0, 25);
            let female = rng.chance(0.49);
            let mut child = self.person(
                rng,
                PersonDraft {
                    index: next,
                    household,
                    relation: "child",
                    female,
                    age,
                    last: family_name.clone(),
                    address: address.clone(),
                    landline: landline.clone(),
                    as_of,
                },
            );
            if twins && k >= size - 2 {
                child.relation = "twin";
                match twin_birth {
                    None => twin_birth = Some(child.birth),
                    Some(b) => child.birth = b,
                }
            }
            // Junior: a son named after his father.
            let father = &out[base];
            if !father.female && !child.female && child.relation == "child" && rng.chance(0.08) {
                child.first = father.first.clone();
                child.middle = father.middle.clone();
                child.suffix = Some("Jr");
                out[base].suffix = Some("Sr");
            }
            out.push(child);
            next += 1;
        }
    }

    fn person(&self, rng: &mut Rng, d: PersonDraft) -> Person {
        let first = self.names.given_name(rng, d.female);
        let middle = rng.chance(0.7).then(|| {
            let m = self.names.given_name(rng, d.female);
            if rng.chance(0.3) {
                m[..1].to_string()
            } else {
                m
            }
        });
        let birth = d.as_of - Duration::days(d.age * 365 + rng.range(0, 364) + d.age / 4);
        let deceased =
            (d.age >= 60 && rng.chance(0.006)).then(|| d.as_of - Duration::days(rng.range(1, 300)));
        let email = rng
            .chance(if d.age < 13 { 0.05 } else { 0.8 })
            .then(|| self.email(rng, &first, &d.last, birth));
        let moved = rng.chance(0.12);
        let old_address = moved.then(|| self.address(rng, Some(d.address.place)));
        let language = match rng.below(100) {
            0..=83 => "en",
            84..=95 => "es",
            96..=97 => "zh",
            _ => "vi",
        };
        let channel = match rng.below(10) {
            0..=3 => Some("sms"),
            4..=6 => Some("email"),
            7 => Some("voice"),
            8 => Some("mail"),
            _ => None,
        };
        let ehr = if rng.chance(0.75) {
            if rng.chance(0.04) {
                2
            } else {
                1
            }
        } else {
            0
        };
        let claims = rng.chance(0.85);
        let crm = rng.chance(0.45) || (ehr == 0 && !claims);
        Person {
            index: d.index,
            household: d.household,
            relation: d.relation,
            female: d.female,
            first,
            middle,
            last: d.last,
            maiden: None,
            suffix: None,
            birth,
            deceased,
            ssn: ssn(rng),
            email,
            mobile: phone_number(rng),
            landline: d.landline,
            address: d.address,
            old_address,
            language,
            channel,
            sources: SourcePresence { ehr, claims, crm },
        }
    }

    fn address(&self, rng: &mut Rng, near: Option<&'static Place>) -> Address {
        let place = match near {
            Some(p) if rng.chance(0.7) => p,
            _ => &PLACES[rng.weighted(&self.places)],
        };
        Address {
            number: rng.range(1, 9_999) as u32,
            street: rng.below(STREETS.len() as u64) as usize,
            street_type: rng.below(STREET_TYPES.len() as u64) as usize,
            unit: rng.chance(0.25).then(|| {
                let floor = rng.range(1, 12);
                let letter = (b'A' + rng.below(6) as u8) as char;
                format!("{floor}{letter}")
            }),
            place,
            zip: format!("{}{:02}", place.zip3, rng.below(100)),
            zip4: format!("{:04}", rng.below(10_000)),
        }
    }

    fn email(&self, rng: &mut Rng, first: &str, last: &str, birth: NaiveDate) -> String {
        let domain = EMAIL_DOMAINS[rng.weighted(&self.domains)].0;
        let first = ascii_lower(first);
        let last = ascii_lower(last);
        let local = match rng.below(5) {
            0 => format!("{first}.{last}"),
            1 => format!("{}{last}", &first[..1.min(first.len())]),
            2 => format!("{first}{last}{}", birth.year() % 100),
            3 => format!("{first}_{last}{}", rng.range(1, 999)),
            _ => format!("{last}{first}{}", rng.range(1, 99)),
        };
        format!("{local}@{domain}")
    }
}

struct PersonDraft {
    index: u64,
    household: u64,
    relation: &'static str,
    female: bool,
    age: i64,
    last: String,
    address: Address,
    landline: Option<String>,
    as_of: NaiveDate,
}

fn adult_age(rng: &mut Rng) -> i64 {
    // Adult age mix of a health plan: many 25-64, a large Medicare-age group, few over 90.
    match rng.below(100) {
        0..=24 => rng.range(22, 39),
        25..=59 => rng.range(40, 64),
        60..=93 => rng.range(65, 85),
        _ => rng.range(86, 98),
    }
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A 10-digit US phone number with a real-looking area code and a valid exchange.
fn phone_number(rng: &mut Rng) -> String {
    let area = rng.pick(AREA_CODES);
    let exchange = rng.range(200, 999);
    let line = rng.range(0, 9_999);
    format!("{area}{exchange}{line:04}")
}

/// A 9-digit SSN within the valid ranges (area not 000, 666 or 9xx; group not 00; serial not 0000).
fn ssn(rng: &mut Rng) -> String {
    let mut area = rng.range(1, 899);
    if area == 666 {
        area = 667;
    }
    format!("{area:03}{:02}{:04}", rng.range(1, 99), rng.range(1, 9_999))
}

/// A record id of a source: unique, stable for a seed, and unrelated to the person's index.
pub fn record_id(prefix: &str, key: u64, salt: u64) -> String {
    format!("{prefix}{:012}", scramble40(key, salt))
}
