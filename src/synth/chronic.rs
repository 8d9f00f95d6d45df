//! Chronic-condition scenarios: diabetes (identification, GSD results, EED eye exams, KED kidney tests, SPD
//! statin fills with adherence) and hypertension (CBP readings, including same-day and most-recent cases).

use chrono::{Duration, NaiveDate};

use super::codes as c;
use super::events::{ymd, CommonExclusions, Events, Truth};
use super::rng::Rng;

pub(super) fn diabetes(
    ev: &mut Events<'_>,
    truth: &mut Truth<'_>,
    rng: &mut Rng,
    my: i32,
    age: i32,
    common: &CommonExclusions,
) {
    let dec31 = ymd(my, 12, 31);
    // Identification: two diagnoses on different dates, or one plus a diabetes medication.
    let d1 = ev.date_in(rng, ymd(my - 1, 1, 1), ymd(my, 6, 30));
    ev.claim(
        d1,
        "CPT",
        rng.pick(c::OFFICE_VISIT),
        None,
        Some(c::FAMILY_MEDICINE),
        "outpatient",
    );
    ev.claim(d1, "ICD10CM", rng.pick(c::DIABETES), None, None, "outpatient");
    if rng.chance(0.8) || ev.claims.is_none() {
        let d2 = d1 + Duration::days(rng.range(20, 200));
        ev.claim(
            d2.min(ev.as_of),
            "ICD10CM",
            rng.pick(c::DIABETES),
            None,
            None,
            "outpatient",
        );
    } else {
        ev.fill(d1 + Duration::days(3), rng.pick(c::DIABETES_MEDICATIONS), 30);
    }

    if age <= 75 {
        let excl = common.applies(true, false);
        let roll = rng.below(100);
        let last = ev.date_in(rng, ymd(my, 3, 1), ev.as_of);
        let (scenario, lt8, gt9) = match roll {
            0..=51 => {
                if rng.chance(0.3) {
                    // An earlier high value: only the most recent result counts.
                    let early = ev.date_in(rng, ymd(my, 1, 1), last - Duration::days(30));
                    let v = rng.float(8.5, 10.5);
                    hba1c(ev, rng, early, v);
                }
                let v = rng.float(5.8, 7.9);
                hba1c(ev, rng, last, v);
                ("closed_hba1c_below_8", "closed", "closed")
            }
            52..=65 => {
                let v = rng.float(8.0, 8.9);
                hba1c(ev, rng, last, v);
                ("open_hba1c_8_to_9", "open", "closed")
            }
            66..=77 => {
                let v = rng.float(9.1, 13.5);
                hba1c(ev, rng, last, v);
                ("open_hba1c_above_9", "open", "open")
            }
            78..=81 => {
                ev.claim(
                    last,
                    "CPT-II",
                    if rng.chance(0.5) {
                        c::HBA1C_LT7
                    } else {
                        c::HBA1C_7_8
                    },
                    None,
                    None,
                    "outpatient",
                );
                ("closed_hba1c_cpt2_below_8", "closed", "closed")
            }
            82..=83 => {
                ev.claim(last, "CPT-II", c::HBA1C_GT9, None, None, "outpatient");
                ("open_hba1c_cpt2_above_9", "open", "open")
            }
            _ => ("open_no_test", "open", "open"),
        };
        truth.record("GSD", "below_8", scenario, lt8, excl);
        truth.record("GSD", "above_9", scenario, gt9, excl);

        // Eye exam.
        let (scenario, status) = match rng.below(100) {
            0..=44 => {
                let d = ev.date_in(rng, ymd(my, 1, 1), dec31);
                let tax = if rng.chance(0.6) {
                    c::OPHTHALMOLOGY
                } else {
                    c::OPTOMETRIST
                };
                ev.claim(d, "CPT", rng.pick(c::EYE_EXAM), None, Some(tax), "outpatient");
                ("closed_eye_exam", "closed")
            }
            45..=52 => {
                let d = ev.date_in(rng, ymd(my - 1, 1, 1), ymd(my - 1, 12, 31));
                ev.claim(
                    d,
                    "CPT-II",
                    c::EYE_EXAM_NEGATIVE,
                    None,
                    Some(c::OPTOMETRIST),
                    "outpatient",
                );
                ("closed_negative_exam_prior_year", "closed")
            }
            53..=56 => {
                let d = ev.date_in(rng, ymd(my, 1, 1), dec31);
                ev.claim(
                    d,
                    "CPT",
                    rng.pick(c::EYE_EXAM),
                    None,
                    Some(c::FAMILY_MEDICINE),
                    "outpatient",
                );
                ("open_exam_not_by_eye_care_professional", "open")
            }
            _ => ("open_no_exam", "open"),
        };
        truth.record("EED", "total", scenario, status, excl);
    }

    // Kidney health evaluation (18-85).
    let excl = common.applies_with(age <= 80, true, true, false);
    let (scenario, status) = match rng.below(100) {
        0..=34 => {
            let d = ev.date_in(rng, ymd(my, 1, 1), dec31);
            ev.lab(d, rng.pick(c::EGFR), rng.float(30.0, 110.0), "mL/min/1.73m2");
            let d2 = ev.date_in(rng, ymd(my, 1, 1), dec31);
            ev.lab(d2, rng.pick(c::UACR), rng.float(5.0, 300.0), "mg/g");
            ("closed_egfr_and_uacr", "closed")
        }
        35..=39 => {
            let d = ev.date_in(rng, ymd(my, 1, 1), dec31 - Duration::days(10));
            ev.lab(d, rng.pick(c::EGFR), rng.float(30.0, 110.0), "mL/min/1.73m2");
            ev.lab(d, c::URINE_ALBUMIN, rng.float(5.0, 200.0), "mg/L");
            ev.lab(
                d + Duration::days(rng.range(0, 4)),
                c::URINE_CREATININE,
                rng.float(20.0, 300.0),
                "mg/dL",
            );
            ("closed_egfr_albumin_creatinine_within_4_days", "closed")
        }
        40..=41 => {
            let d = ev.date_in(rng, ymd(my, 1, 1), dec31 - Duration::days(20));
            ev.lab(d, rng.pick(c::EGFR), rng.float(30.0, 110.0), "mL/min/1.73m2");
            ev.lab(d, c::URINE_ALBUMIN, rng.float(5.0, 200.0), "mg/L");
            ev.lab(
                d + Duration::days(10),
                c::URINE_CREATININE,
                rng.float(20.0, 300.0),
                "mg/dL",
            );
            ("open_albumin_creatinine_too_far_apart", "open")
        }
        42..=71 => {
            let d = ev.date_in(rng, ymd(my, 1, 1), dec31);
            ev.lab(d, rng.pick(c::EGFR), rng.float(30.0, 110.0), "mL/min/1.73m2");
            ("open_egfr_only", "open")
        }
        _ => ("open_no_tests", "open"),
    };
    truth.record("KED", "total", scenario, status, excl);

    // Statin therapy (40-75).
    if (40..=75).contains(&age) {
        let excl = common.applies_with(true, false, true, true);
        let (scenario, received, adherent) = match rng.below(100) {
            0..=41 => {
                statin_fills(ev, rng, my, 0.97);
                ("closed_statin_adherent", "closed", "closed")
            }
            42..=59 => {
                statin_fills(ev, rng, my, 0.5);
                ("open_statin_not_adherent", "closed", "open")
            }
            // Adherence is only measured for members who received a statin.
            60..=96 => ("open_no_statin", "open", "not_applicable"),
            _ => {
                let d = ev.date_in(rng, ymd(my, 1, 1), dec31);
                ev.claim(d, "ICD10CM", c::MYALGIA, None, None, "outpatient");
                ("excluded_myalgia", "excluded", "excluded")
            }
        };
        if ev.claims.is_some() {
            truth.record("SPD", "received_statin", scenario, received, excl);
            truth.record("SPD", "adherence_80", scenario, adherent, excl);
        }
    }
}

/// Statin fills from an index date in the first half of the year; `coverage` is the share of days covered.
fn statin_fills(ev: &mut Events<'_>, rng: &mut Rng, my: i32, coverage: f64) {
    let ndc = rng.pick(c::STATINS);
    let mut d = ev.date_in(rng, ymd(my, 1, 1), ymd(my, 4, 30));
    // Fills continue to the end of the year even when the as-of date is earlier (a 90-day fill covers it).
    let stop = ymd(my, 12, 31).min(ev.as_of);
    while d <= stop {
        let supply = if rng.chance(0.5) { 90 } else { 30 };
        ev.fill(d, ndc, supply);
        // Refill late by a gap near the one that realizes the intended coverage.
        let late = (supply as f64 * (1.0 / coverage - 1.0)) as i64;
        d += Duration::days(supply + rng.range(late / 2, late + late / 2));
    }
}

pub(super) fn blood_pressure(
    ev: &mut Events<'_>,
    truth: &mut Truth<'_>,
    rng: &mut Rng,
    my: i32,
    age: i32,
    common: &CommonExclusions,
) {
    let dec31 = ymd(my, 12, 31);
    // Two outpatient visits with hypertension between Jan 1 of the prior year and Jun 30.
    let d1 = ev.date_in(rng, ymd(my - 1, 1, 1), ymd(my - 1, 12, 31));
    let d2 = ev.date_in(rng, ymd(my, 1, 1), ymd(my, 6, 30));
    for d in [d1, d2] {
        ev.claim(
            d,
            "CPT",
            rng.pick(c::OFFICE_VISIT),
            None,
            Some(c::FAMILY_MEDICINE),
            "outpatient",
        );
        ev.claim(d, "ICD10CM", c::HYPERTENSION, None, None, "outpatient");
    }
    if age > 85 {
        return;
    }
    let excl = common.applies_with(age <= 80, true, true, true);
    let reading_day = |ev: &Events<'_>, rng: &mut Rng| ev.date_in(rng, d2 + Duration::days(1), dec31);
    let (scenario, status) = match rng.below(100) {
        0..=44 => {
            let d = reading_day(ev, rng);
            let (s, di) = (rng_range(rng, 105, 139), rng_range(rng, 60, 89));
            bp(ev, rng, d, s, di);
            ("closed_controlled", "closed")
        }
        45..=49 => {
            // Two readings on the same day: the lowest systolic and lowest diastolic combine to controlled.
            let d = reading_day(ev, rng);
            bp(ev, rng, d, 150.0, 82.0);
            bp(ev, rng, d, 134.0, 95.0);
            ("closed_lowest_of_day", "closed")
        }
        50..=71 => {
            let d = reading_day(ev, rng);
            let (s, di) = if rng.chance(0.5) {
                (rng_range(rng, 140, 175), rng_range(rng, 70, 95))
            } else {
                (rng_range(rng, 120, 139), rng_range(rng, 90, 104))
            };
            bp(ev, rng, d, s, di);
            ("open_not_controlled", "open")
        }
        72..=76 => {
            let d = reading_day(ev, rng);
            let earlier = ev.date_in(rng, d2 + Duration::days(1), d - Duration::days(1));
            if earlier < d {
                bp(ev, rng, earlier, 124.0, 78.0);
            }
            let (s, di) = (rng_range(rng, 142, 170), rng_range(rng, 85, 99));
            bp(ev, rng, d, s, di);
            ("open_most_recent_not_controlled", "open")
        }
        _ => ("open_no_reading", "open"),
    };
    truth.record("CBP", "total", scenario, status, excl);
}

fn rng_range(rng: &mut Rng, lo: i64, hi: i64) -> f64 {
    rng.range(lo, hi) as f64
}

/// One blood-pressure reading: EHR vitals with values, or CPT-II result codes on a claim.
fn bp(ev: &mut Events<'_>, rng: &mut Rng, date: NaiveDate, systolic: f64, diastolic: f64) {
    if ev.ehr.is_some() && (ev.claims.is_none() || rng.chance(0.7)) {
        ev.lab(date, c::SYSTOLIC, systolic, "mm[Hg]");
        ev.lab(date, c::DIASTOLIC, diastolic, "mm[Hg]");
    } else {
        let s = if systolic < 130.0 {
            0
        } else if systolic < 140.0 {
            1
        } else {
            2
        };
        let d = if diastolic < 80.0 {
            0
        } else if diastolic < 90.0 {
            1
        } else {
            2
        };
        ev.claim(date, "CPT-II", c::SYSTOLIC_CPT2[s], None, None, "outpatient");
        ev.claim(date, "CPT-II", c::DIASTOLIC_CPT2[d], None, None, "outpatient");
    }
}

/// An HbA1c result: a lab value from the EHR, or (claims-only people) the CPT II code of its range.
fn hba1c(ev: &mut Events<'_>, rng: &mut Rng, date: NaiveDate, value: f64) {
    if ev.ehr.is_some() {
        ev.lab(date, rng.pick(c::HBA1C), value, "%");
    } else {
        let code = if value < 7.0 {
            c::HBA1C_LT7
        } else if value < 8.0 {
            c::HBA1C_7_8
        } else if value <= 9.0 {
            c::HBA1C_8_9
        } else {
            c::HBA1C_GT9
        };
        ev.claim(date, "CPT-II", code, None, None, "outpatient");
    }
}
