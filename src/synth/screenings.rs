//! Cancer screening scenarios: BCS-E (mammography), COL-E (colonoscopy, FOBT, sDNA-FIT, sigmoidoscopy, CT
//! colonography) and CCS-E (cytology, hrHPV), each with in-window, expired, absent and excluded cases.

use chrono::Duration;

use super::codes as c;
use super::events::{ymd, CommonExclusions, Events, Truth};
use super::rng::Rng;

pub(super) fn breast_cancer_screening(
    ev: &mut Events<'_>,
    truth: &mut Truth<'_>,
    rng: &mut Rng,
    my: i32,
    common: &CommonExclusions,
) {
    let window_start = ymd(my - 2, 10, 1);
    let excl = common.applies(true, false);
    let (scenario, status) = match rng.below(100) {
        0..=57 => {
            let d = ev.date_in(rng, window_start, ymd(my, 12, 31));
            ev.claim(d, "CPT", rng.pick(c::MAMMOGRAPHY), None, None, "outpatient");
            ("closed_mammogram", "closed")
        }
        58..=71 => {
            let d = ev.date_in(rng, ymd(my - 4, 1, 1), window_start - Duration::days(1));
            ev.claim(d, "CPT", rng.pick(c::MAMMOGRAPHY), None, None, "outpatient");
            ("open_expired", "open")
        }
        72..=74 => {
            let d = ev.date_in(rng, ymd(my - 1, 1, 1), ymd(my, 12, 31));
            ev.claim(d, "CPT", c::BREAST_MRI, None, None, "outpatient");
            ("open_mri_only", "open")
        }
        75..=95 => ("open_no_service", "open"),
        96..=97 => {
            let d = ev.date_in(rng, ymd(my - 10, 1, 1), ymd(my, 12, 31));
            if rng.chance(0.5) {
                ev.claim(
                    d,
                    "ICD10CM",
                    c::HISTORY_BILATERAL_MASTECTOMY,
                    None,
                    None,
                    "outpatient",
                );
            } else {
                ev.claim(
                    d,
                    "ICD10PCS",
                    c::BILATERAL_MASTECTOMY_PCS,
                    None,
                    None,
                    "inpatient",
                );
            }
            ("excluded_bilateral_mastectomy", "excluded")
        }
        98 => {
            let d1 = ev.date_in(rng, ymd(my - 12, 1, 1), ymd(my - 6, 12, 31));
            let d2 = ev.date_in(rng, ymd(my - 5, 1, 1), ymd(my, 12, 31));
            ev.claim(d1, "CPT", c::UNILATERAL_MASTECTOMY, Some("LT"), None, "inpatient");
            ev.claim(d2, "CPT", c::UNILATERAL_MASTECTOMY, Some("RT"), None, "inpatient");
            ("excluded_two_unilateral_mastectomies", "excluded")
        }
        _ => {
            let d = ev.date_in(rng, ymd(my - 8, 1, 1), ymd(my - 1, 12, 31));
            ev.claim(d, "CPT", c::UNILATERAL_MASTECTOMY, Some("LT"), None, "inpatient");
            ("open_one_unilateral_mastectomy", "open")
        }
    };
    truth.record("BCS-E", "total", scenario, status, excl);
}

pub(super) fn colorectal_cancer_screening(
    ev: &mut Events<'_>,
    truth: &mut Truth<'_>,
    rng: &mut Rng,
    my: i32,
    common: &CommonExclusions,
) {
    let excl = common.applies(true, false);
    let dec31 = ymd(my, 12, 31);
    let (scenario, status) = match rng.below(100) {
        0..=32 => {
            let d = ev.date_in(rng, ymd(my - 9, 1, 1), dec31);
            if rng.chance(0.85) {
                ev.claim(d, "CPT", rng.pick(c::COLONOSCOPY), None, None, "outpatient");
            } else {
                ev.claim(d, "HCPCS", c::COLONOSCOPY_HCPCS, None, None, "outpatient");
            }
            ("closed_colonoscopy", "closed")
        }
        33..=41 => {
            let d = ev.date_in(rng, ymd(my, 1, 1), dec31);
            ev.claim(d, "CPT", rng.pick(c::FOBT), None, None, "outpatient");
            ("closed_fobt", "closed")
        }
        42..=45 => {
            let d = ev.date_in(rng, ymd(my - 2, 1, 1), dec31);
            ev.claim(d, "CPT", c::SDNA_FIT, None, None, "outpatient");
            ("closed_sdna_fit", "closed")
        }
        46..=48 => {
            let d = ev.date_in(rng, ymd(my - 4, 1, 1), dec31);
            ev.claim(d, "CPT", c::FLEX_SIG, None, None, "outpatient");
            ("closed_flexible_sigmoidoscopy", "closed")
        }
        49..=50 => {
            let d = ev.date_in(rng, ymd(my - 4, 1, 1), dec31);
            ev.claim(d, "CPT", c::CT_COLONOGRAPHY, None, None, "outpatient");
            ("closed_ct_colonography", "closed")
        }
        51..=62 => {
            if rng.chance(0.6) {
                let d = ev.date_in(rng, ymd(my - 14, 1, 1), ymd(my - 10, 12, 31));
                ev.claim(d, "CPT", rng.pick(c::COLONOSCOPY), None, None, "outpatient");
            } else {
                let d = ev.date_in(rng, ymd(my - 1, 1, 1), ymd(my - 1, 12, 31));
                ev.claim(d, "CPT", rng.pick(c::FOBT), None, None, "outpatient");
            }
            ("open_expired", "open")
        }
        63..=96 => ("open_no_service", "open"),
        97..=98 => {
            let d = ev.date_in(rng, ymd(my - 6, 1, 1), dec31);
            ev.claim(
                d,
                "ICD10CM",
                rng.pick(c::COLORECTAL_CANCER),
                None,
                None,
                "outpatient",
            );
            ("excluded_colorectal_cancer", "excluded")
        }
        _ => {
            let d = ev.date_in(rng, ymd(my - 8, 1, 1), dec31);
            ev.claim(d, "CPT", c::TOTAL_COLECTOMY, None, None, "inpatient");
            ("excluded_total_colectomy", "excluded")
        }
    };
    truth.record("COL-E", "total", scenario, status, excl);
}

pub(super) fn cervical_cancer_screening(
    ev: &mut Events<'_>,
    truth: &mut Truth<'_>,
    rng: &mut Rng,
    my: i32,
    age: i32,
    common: &CommonExclusions,
) {
    // No AI&F rule: the measure stops at 64.
    let excl = common.applies(false, false);
    let dec31 = ymd(my, 12, 31);
    let roll = rng.below(100);
    let (scenario, status) = match roll {
        // Cytology in the 3-year window, at age 21 or older.
        0..=39 => {
            let from = ymd(my - 2, 1, 1).max(ev.birth + Duration::days(21 * 366));
            let d = ev.date_in(rng, from, dec31);
            ev.claim(d, "CPT", rng.pick(c::CERVICAL_CYTOLOGY), None, None, "outpatient");
            ("closed_cervical_cytology", "closed")
        }
        40..=57 if age >= 31 => {
            let from = ymd(my - 4, 1, 1).max(ev.birth + Duration::days(30 * 366));
            let d = ev.date_in(rng, from, dec31);
            ev.claim(d, "CPT", rng.pick(c::HPV_TEST), None, None, "outpatient");
            ("closed_hpv_test", "closed")
        }
        58..=69 => {
            let d = ev.date_in(rng, ymd(my - 6, 1, 1), ymd(my - 3, 12, 31));
            ev.claim(d, "CPT", rng.pick(c::CERVICAL_CYTOLOGY), None, None, "outpatient");
            ("open_expired", "open")
        }
        70..=96 => ("open_no_service", "open"),
        97..=99 => {
            let d = ev.date_in(rng, ymd(my - 10, 1, 1), dec31);
            ev.claim(
                d,
                "ICD10CM",
                rng.pick(c::ABSENCE_OF_CERVIX),
                None,
                None,
                "outpatient",
            );
            ("excluded_absence_of_cervix", "excluded")
        }
        _ => ("open_no_service", "open"),
    };
    truth.record("CCS-E", "total", scenario, status, excl);
}
