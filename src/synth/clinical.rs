//! Enrollment spans, clinical events and the planted care-gap scenarios of one person.
//!
//! For each measure whose age and sex band the person falls in, one scenario is drawn (screened in the window,
//! screened too long ago, never screened, excluded, controlled, not controlled, ...) and the events that make it
//! are written. The scenario and the status it should give are recorded in the ground truth. Enrollment gaps
//! are drawn independently, so some planted gaps fall out of the denominator exactly as real members do.

use chrono::{Datelike, Duration, NaiveDate};

use super::codes as c;
use super::population::Person;
use super::records::{PersonKeys, CLAIMS, EHR};
use super::rng::Rng;
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

    background(&mut ev, rng, age);

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
    let common = CommonExclusions {
        hospice,
        palliative,
        died,
        ai_f: advanced_illness && age >= 66,
        frail_81: frail && age >= 81,
        institutional,
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
    let diabetes_rate = match age {
        18..=44 => 0.04,
        45..=64 => 0.14,
        65..=85 => 0.22,
        _ => 0.0,
    };
    if rng.chance(diabetes_rate) {
        diabetes(&mut ev, &mut truth, rng, my, age, &common);
    } else if age >= 18 && rng.chance(0.01) {
        // One diagnosis only: not enough to enter the diabetes denominators.
        let d = ev.date_in(rng, ymd(my, 1, 1), as_of);
        ev.claim(d, "ICD10CM", rng.pick(c::DIABETES), None, None, "outpatient");
    }
    let hypertension_rate = match age {
        18..=44 => 0.08,
        45..=64 => 0.32,
        65..=85 => 0.55,
        _ => 0.0,
    };
    if rng.chance(hypertension_rate) {
        blood_pressure(&mut ev, &mut truth, rng, my, age, person.female, &common);
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

struct CommonExclusions {
    hospice: bool,
    palliative: bool,
    died: bool,
    /// Advanced illness with frailty, 66+.
    ai_f: bool,
    /// Frailty alone at 81+ (CBP, KED).
    frail_81: bool,
    institutional: bool,
}

impl CommonExclusions {
    /// The first common exclusion that applies, given whether the measure uses AI&F (66+) and frailty-only (81+).
    fn applies(&self, ai_f_rule: bool, frailty_81_rule: bool) -> Option<&'static str> {
        if self.died {
            Some("excluded_death")
        } else if self.hospice {
            Some("excluded_hospice")
        } else if self.palliative {
            Some("excluded_palliative")
        } else if ai_f_rule && self.ai_f {
            Some("excluded_advanced_illness_frailty")
        } else if frailty_81_rule && self.frail_81 {
            Some("excluded_frailty_81_plus")
        } else if self.institutional {
            Some("excluded_institutional")
        } else {
            None
        }
    }
}

struct Truth<'a> {
    out: &'a mut BatchBuilder,
    person_id: String,
}

impl Truth<'_> {
    fn record(
        &mut self,
        measure: &str,
        rate: &str,
        scenario: &str,
        status: &str,
        common: Option<&'static str>,
    ) {
        let (scenario, status) = match common {
            Some(excl) => (format!("{excl}+{scenario}"), "excluded"),
            None => (scenario.to_string(), status),
        };
        self.out
            .text(Some(&self.person_id))
            .text(Some(measure))
            .text(Some(rate))
            .text(Some(&scenario))
            .text(Some(status));
        self.out.end_row();
    }
}

struct Events<'a> {
    out: &'a mut BatchBuilder,
    claims: Option<&'a str>,
    ehr: Option<&'a str>,
    claim_seq: u32,
    person: u64,
    birth: NaiveDate,
    as_of: NaiveDate,
}

impl Events<'_> {
    /// A date uniformly in [from, to], clipped to [birth, as_of].
    fn date_in(&self, rng: &mut Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let from = from.max(self.birth);
        let to = to.min(self.as_of).max(from);
        from + Duration::days(rng.range(0, (to - from).num_days()))
    }

    /// A claim line (falls back to an EHR entry for people without a claims record).
    fn claim(
        &mut self,
        date: NaiveDate,
        system: &str,
        code: &str,
        modifier: Option<&str>,
        taxonomy: Option<&str>,
        setting: &str,
    ) {
        match (self.claims, self.ehr) {
            (Some(id), _) => {
                self.claim_seq += 1;
                let claim_id = format!("CL{:010}{:03}", self.person, self.claim_seq);
                self.row(
                    CLAIMS,
                    id,
                    date,
                    system,
                    code,
                    modifier,
                    None,
                    taxonomy,
                    setting,
                    None,
                    Some(&claim_id),
                    "claim",
                );
            }
            (None, Some(id)) => self.row(
                EHR, id, date, system, code, modifier, None, taxonomy, setting, None, None, "ehr",
            ),
            (None, None) => {}
        }
    }

    /// A lab result with a value (from the EHR; claims-only people get the test billed without a value).
    fn lab(&mut self, date: NaiveDate, loinc: &str, value: f64, unit: &str) {
        match (self.ehr, self.claims) {
            (Some(id), _) => self.row(
                EHR,
                id,
                date,
                "LOINC",
                loinc,
                None,
                Some((value, unit)),
                None,
                "outpatient",
                None,
                None,
                "lab",
            ),
            (None, Some(_)) => self.claim(date, "LOINC", loinc, None, None, "outpatient"),
            _ => {}
        }
    }

    /// A pharmacy fill (claims).
    fn fill(&mut self, date: NaiveDate, ndc: &str, days_supply: i64) {
        if let Some(id) = self.claims {
            self.claim_seq += 1;
            let claim_id = format!("RX{:010}{:03}", self.person, self.claim_seq);
            self.row(
                CLAIMS,
                id,
                date,
                "NDC",
                ndc,
                None,
                None,
                None,
                "pharmacy",
                Some(days_supply),
                Some(&claim_id),
                "claim",
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        source: &str,
        id: &str,
        date: NaiveDate,
        system: &str,
        code: &str,
        modifier: Option<&str>,
        value: Option<(f64, &str)>,
        taxonomy: Option<&str>,
        setting: &str,
        days_supply: Option<i64>,
        claim_id: Option<&str>,
        data_source: &str,
    ) {
        self.out
            .text(Some(source))
            .text(Some(id))
            .text(None)
            .date(Some(date))
            .date(None)
            .text(Some(system))
            .text(Some(code))
            .text(modifier)
            .float(value.map(|v| (v.0 * 10.0).round() / 10.0))
            .text(value.map(|v| v.1))
            .text(taxonomy)
            .text(Some(setting))
            .integer(days_supply)
            .text(claim_id)
            .text(Some(data_source));
        self.out.end_row();
    }
}

/// What the enrollment drawn for a person implies for the measures.
#[derive(Debug, Clone, Copy)]
struct Coverage {
    /// Medicare I-SNP or long-term institution (excluded from most measures at 66+).
    institutional: bool,
}

/// Enrollment spans with realistic gaps.
fn enrollment(
    claims_id: &str,
    rng: &mut Rng,
    as_of: NaiveDate,
    age: i32,
    out: &mut BatchBuilder,
) -> Coverage {
    let my = as_of.year();
    let product_line = if age >= 65 {
        if rng.chance(0.88) {
            "medicare"
        } else {
            "commercial"
        }
    } else if age < 19 {
        if rng.chance(0.45) {
            "medicaid"
        } else {
            "commercial"
        }
    } else {
        match rng.below(100) {
            0..=61 => "commercial",
            62..=89 => "medicaid",
            _ => "marketplace",
        }
    };
    let plan_id = match product_line {
        "medicare" => {
            if rng.chance(0.7) {
                "MCR-ADV-01"
            } else {
                "MCR-ADV-02"
            }
        }
        "medicaid" => "MCD-HMO-01",
        "marketplace" => "MKT-SLV-01",
        _ => {
            if rng.chance(0.6) {
                "COM-PPO-01"
            } else {
                "COM-HMO-02"
            }
        }
    };
    let snp_type = (product_line == "medicare")
        .then(|| match rng.below(100) {
            0..=2 => Some("I-SNP"),
            3..=10 => Some("D-SNP"),
            11..=13 => Some("C-SNP"),
            _ => None,
        })
        .flatten();
    let lti = product_line == "medicare" && age >= 75 && rng.chance(0.03);
    let pharmacy = rng.chance(0.92);

    // Coverage as a list of (start, end) spans over MY-2 .. MY.
    let start = ymd(my - 2, 1, 1);
    let end = ymd(my, 12, 31);
    let mut spans: Vec<(NaiveDate, Option<NaiveDate>)> = Vec::new();
    let scenario = rng.below(100);
    let gap = |rng: &mut Rng, lo: i64, hi: i64| {
        let len = rng.range(lo, hi);
        let gap_start = ymd(my, 2, 1) + Duration::days(rng.range(0, 200));
        (gap_start, gap_start + Duration::days(len - 1))
    };
    match scenario {
        0..=77 => spans.push((
            start - Duration::days(rng.range(0, 2_000)),
            if rng.chance(0.3) { None } else { Some(end) },
        )),
        78..=85 => {
            let (g0, g1) = gap(rng, 15, 44);
            spans.push((start, Some(g0 - Duration::days(1))));
            spans.push((g1 + Duration::days(1), Some(end)));
        }
        86..=90 => {
            let (g0, g1) = gap(rng, 46, 120);
            spans.push((start, Some(g0 - Duration::days(1))));
            spans.push((g1 + Duration::days(1), Some(end)));
        }
        91..=94 => {
            // Two short gaps in one year: not continuously enrolled.
            spans.push((start, Some(ymd(my, 2, 28))));
            spans.push((ymd(my, 3, 31), Some(ymd(my, 7, 31))));
            spans.push((ymd(my, 8, 31), Some(end)));
        }
        95..=97 => spans.push((ymd(my - 1, 1, 1) + Duration::days(rng.range(30, 300)), Some(end))),
        _ => spans.push((start, Some(ymd(my, 10, 31)))), // disenrolled before the anchor date
    }
    // Medicaid eligibility is often recorded month by month.
    let monthly = product_line == "medicaid" && rng.chance(0.5);
    for (span_start, span_end) in spans {
        if monthly {
            let mut month = NaiveDate::from_ymd_opt(span_start.year(), span_start.month(), 1)
                .expect("month start")
                .max(start);
            let last = span_end.unwrap_or(end);
            while month <= last {
                let next = month
                    .checked_add_months(chrono::Months::new(1))
                    .expect("next month");
                let s = month.max(span_start);
                let e = (next - Duration::days(1)).min(last);
                write_span(
                    out,
                    claims_id,
                    s,
                    Some(e),
                    product_line,
                    plan_id,
                    pharmacy,
                    snp_type,
                    lti,
                );
                month = next;
            }
        } else {
            write_span(
                out,
                claims_id,
                span_start,
                span_end,
                product_line,
                plan_id,
                pharmacy,
                snp_type,
                lti,
            );
        }
    }
    Coverage {
        institutional: snp_type == Some("I-SNP") || lti,
    }
}

#[allow(clippy::too_many_arguments)]
fn write_span(
    out: &mut BatchBuilder,
    claims_id: &str,
    start: NaiveDate,
    end: Option<NaiveDate>,
    product_line: &str,
    plan_id: &str,
    pharmacy: bool,
    snp_type: Option<&str>,
    lti: bool,
) {
    out.text(Some(CLAIMS))
        .text(Some(claims_id))
        .text(None)
        .date(Some(start))
        .date(end)
        .text(Some(product_line))
        .text(Some(plan_id))
        .boolean(Some(true))
        .boolean(Some(pharmacy))
        .text(snp_type)
        .boolean(Some(lti));
    out.end_row();
}

/// Everyday visits and labs that are not about any measure (they make the haystack).
fn background(ev: &mut Events<'_>, rng: &mut Rng, age: i32) {
    let my = ev.as_of.year();
    let visits_per_year = if age >= 65 {
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

fn breast_cancer_screening(
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

fn colorectal_cancer_screening(
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

fn cervical_cancer_screening(
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

fn diabetes(
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
                    ev.lab(early, rng.pick(c::HBA1C), v, "%");
                }
                let v = rng.float(5.8, 7.9);
                ev.lab(last, rng.pick(c::HBA1C), v, "%");
                ("closed_hba1c_below_8", "closed", "closed")
            }
            52..=65 => {
                let v = rng.float(8.0, 9.0);
                ev.lab(last, rng.pick(c::HBA1C), v, "%");
                ("open_hba1c_8_to_9", "open", "closed")
            }
            66..=77 => {
                let v = rng.float(9.1, 13.5);
                ev.lab(last, rng.pick(c::HBA1C), v, "%");
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
    let excl = common.applies(age <= 80, true);
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
        72..=97 => ("open_no_tests", "open"),
        _ => {
            let d = ev.date_in(rng, ymd(my - 1, 1, 1), dec31);
            ev.claim(d, "ICD10CM", rng.pick(c::ESRD), None, None, "outpatient");
            ("excluded_esrd", "excluded")
        }
    };
    truth.record("KED", "total", scenario, status, excl);

    // Statin therapy (40-75).
    if (40..=75).contains(&age) {
        let excl = common.applies(true, false);
        let (scenario, received, adherent) = match rng.below(100) {
            0..=41 => {
                statin_fills(ev, rng, my, 0.9);
                ("closed_statin_adherent", "closed", "closed")
            }
            42..=59 => {
                statin_fills(ev, rng, my, 0.5);
                ("open_statin_not_adherent", "closed", "open")
            }
            60..=94 => ("open_no_statin", "open", "open"),
            95..=97 => {
                let d = ev.date_in(rng, ymd(my, 1, 1), dec31);
                ev.claim(d, "ICD10CM", c::MYALGIA, None, None, "outpatient");
                ("excluded_myalgia", "excluded", "excluded")
            }
            _ => {
                let d = ev.date_in(rng, ymd(my - 1, 1, 1), dec31);
                ev.claim(d, "ICD10CM", rng.pick(c::ESRD), None, None, "outpatient");
                ("excluded_esrd", "excluded", "excluded")
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
    let stop = ymd(my, 12, 31).min(ev.as_of);
    while d <= stop {
        let supply = if rng.chance(0.5) { 90 } else { 30 };
        ev.fill(d, ndc, supply);
        // Refill late by a gap that realizes the intended coverage on average.
        let late = (supply as f64 * (1.0 / coverage - 1.0)) as i64;
        d += Duration::days(supply + rng.range(0, late.max(0) * 2));
    }
}

fn blood_pressure(
    ev: &mut Events<'_>,
    truth: &mut Truth<'_>,
    rng: &mut Rng,
    my: i32,
    age: i32,
    female: bool,
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
    let excl = common.applies(age <= 80, true);
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
        77..=95 => ("open_no_reading", "open"),
        96..=97 => {
            let d = ev.date_in(rng, ymd(my - 2, 1, 1), dec31);
            ev.claim(d, "ICD10CM", rng.pick(c::ESRD), None, None, "outpatient");
            ("excluded_esrd", "excluded")
        }
        _ if female && age < 50 => {
            let d = ev.date_in(rng, ymd(my, 1, 1), dec31);
            ev.claim(d, "ICD10CM", c::PREGNANCY, None, None, "outpatient");
            ("excluded_pregnancy", "excluded")
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
