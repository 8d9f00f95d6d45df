//! Enrollment spans, clinical events and the planted care-gap scenarios of one person.
//!
//! For each measure whose age and sex band the person falls in, one scenario is drawn (screened in the window,
//! screened too long ago, never screened, excluded, controlled, not controlled, ...) and the events that make it
//! are written. The scenario and the status it should give are recorded in the ground truth. Enrollment gaps
//! are drawn independently, so some planted gaps fall out of the denominator exactly as real members do.

use chrono::{Datelike, NaiveDate};

use super::chronic::{blood_pressure, diabetes};
use super::codes as c;
use super::enrollment::enrollment;
use super::events::{ymd, CommonExclusions, Events, Truth};
use super::population::Person;
use super::records::PersonKeys;
use super::rng::Rng;
use super::screenings::{breast_cancer_screening, cervical_cancer_screening, colorectal_cancer_screening};
use crate::model::BatchBuilder;

/// Writers for one chunk's clinical tables.
pub struct ClinicalSinks<'a> {
    /// enrollment rows.
    pub enrollment: &'a mut BatchBuilder,
    /// clinical_events rows.
    pub events: &'a mut BatchBuilder,
    /// truth_care_gaps rows.
    pub truth: &'a mut BatchBuilder,
}

/// Write enrollment, events and care-gap truth for one person.
pub fn plant_clinical(
    person: &Person,
    keys: &PersonKeys,
    rng: &mut Rng,
    as_of: NaiveDate,
    visit_scale: u32,
    sinks: ClinicalSinks<'_>,
) {
    let my = as_of.year();
    let dec31 = ymd(my, 12, 31);
    let age = person.age_on(dec31);
    let mut ev = Events {
        out: sinks.events,
        claims: keys.claims.as_deref(),
        ehr: keys.ehr.first().map(String::as_str),
        claim_seq: 0,
        person: person.index,
        birth: person.birth,
        as_of,
    };
    if ev.claims.is_none() && ev.ehr.is_none() {
        return; // CRM-only people have no clinical data.
    }
    let coverage = keys
        .claims
        .as_ref()
        .map(|id| enrollment(id, rng, as_of, age, sinks.enrollment));
    let mut truth = Truth {
        out: sinks.truth,
        person_id: person.person_id(),
    };

    background(&mut ev, rng, age, visit_scale as i64);

    // Person-level exclusions (common to most measures).
    let hospice = rng.chance(if age >= 66 { 0.012 } else { 0.002 });
    if hospice {
        let d = ev.date_in(rng, ymd(my, 1, 1), as_of);
        ev.claim(d, "HCPCS", rng.pick(c::HOSPICE), None, None, "hospice");
    }
    let palliative = age >= 50 && rng.chance(0.008);
    if palliative {
        let d = ev.date_in(rng, ymd(my, 1, 1), as_of);
        ev.claim(d, "ICD10CM", c::PALLIATIVE, None, None, "outpatient");
    }
    let frail = age >= 66 && rng.chance(0.08);
    let advanced_illness = frail && rng.chance(0.6);
    if frail {
        for _ in 0..2 {
            let d = ev.date_in(rng, ymd(my, 1, 1), as_of);
            ev.claim(d, "ICD10CM", rng.pick(c::FRAILTY), None, None, "outpatient");
        }
    }
    if advanced_illness {
        for _ in 0..2 {
            let d = ev.date_in(rng, ymd(my - 1, 1, 1), as_of);
            ev.claim(
                d,
                "ICD10CM",
                rng.pick(c::ADVANCED_ILLNESS),
                None,
                None,
                "outpatient",
            );
        }
    }
    let died = person.deceased.is_some_and(|d| d.year() == my);
    let institutional = coverage.is_some_and(|c| c.institutional) && age >= 66;
    let diabetic = rng.chance(adult_prevalence(age, [0.04, 0.14, 0.22]));
    let hypertensive = rng.chance(adult_prevalence(age, [0.08, 0.32, 0.55]));
    // Conditions that exclude several measures at once are drawn per person, so every measure's truth agrees.
    let esrd = (diabetic || hypertensive) && rng.chance(0.025);
    if esrd {
        // Within the MP or the year before: SPD's ESRD exclusion looks back only that far.
        let d = ev.date_in(rng, ymd(my - 1, 1, 1), as_of);
        ev.claim(d, "ICD10CM", rng.pick(c::ESRD), None, None, "outpatient");
    }
    let pregnant =
        person.female && (18..=49).contains(&age) && (diabetic || hypertensive) && rng.chance(0.04);
    if pregnant {
        let d = ev.date_in(rng, ymd(my, 1, 1), as_of);
        ev.claim(d, "ICD10CM", c::PREGNANCY, None, None, "outpatient");
    }
    let common = CommonExclusions {
        hospice,
        palliative,
        died,
        ai_f: advanced_illness && age >= 66,
        frail_81: frail && age >= 81,
        institutional,
        esrd,
        pregnant,
    };

    if person.female && (42..=74).contains(&age) {
        breast_cancer_screening(&mut ev, &mut truth, rng, my, &common);
    }
    if (46..=75).contains(&age) {
        colorectal_cancer_screening(&mut ev, &mut truth, rng, my, &common);
    }
    if person.female && (24..=64).contains(&age) {
        cervical_cancer_screening(&mut ev, &mut truth, rng, my, age, &common);
    }
    if diabetic {
        diabetes(&mut ev, &mut truth, rng, my, age, &common);
    } else if age >= 18 && rng.chance(0.01) {
        // One diagnosis only: not enough to enter the diabetes denominators.
        let d = ev.date_in(rng, ymd(my, 1, 1), as_of);
        ev.claim(d, "ICD10CM", rng.pick(c::DIABETES), None, None, "outpatient");
    }
    if hypertensive {
        blood_pressure(&mut ev, &mut truth, rng, my, age, &common);
    }
}

/// Prevalence of a chronic condition by adult age band (18-44, 45-64, 65-85); none outside 18-85.
fn adult_prevalence(age: i32, by_band: [f64; 3]) -> f64 {
    match age {
        18..=44 => by_band[0],
        45..=64 => by_band[1],
        65..=85 => by_band[2],
        _ => 0.0,
    }
}

/// Everyday visits and labs that are not about any measure (they make the haystack).
fn background(ev: &mut Events<'_>, rng: &mut Rng, age: i32, scale: i64) {
    let my = ev.as_of.year();
    let visits_per_year = scale
        * if age >= 65 {
            3
        } else if age >= 40 {
            2
        } else {
            1
        };
    for year in (my - 2)..=my {
        let n = rng.range(0, visits_per_year * 2 - 1);
        for _ in 0..n {
            let d = ev.date_in(rng, ymd(year, 1, 1), ymd(year, 12, 31));
            ev.claim(
                d,
                "CPT",
                rng.pick(c::OFFICE_VISIT),
                None,
                Some(c::FAMILY_MEDICINE),
                "outpatient",
            );
            if rng.chance(0.004) {
                // Legacy feeds still send retired ICD-9 codes: the ingest step quarantines them.
                ev.claim(d, "ICD9CM", "250.00", None, None, "outpatient");
            } else {
                ev.claim(
                    d,
                    "ICD10CM",
                    rng.pick(c::COMMON_DIAGNOSES),
                    None,
                    None,
                    "outpatient",
                );
            }
            if rng.chance(0.3) {
                let (loinc, lo, hi, unit) = rng.pick(c::COMMON_LABS);
                let v = rng.float(lo, hi);
                ev.lab(d, loinc, v, unit);
            }
        }
    }
}
