//! Output tables of the care-gap stage: care_gaps (member x measure x rate) and measure_rates.

use super::spec::{CanonicalType as T, ColumnSpec as C, TableSpec};

/// One row per member, measure and rate.
pub fn care_gaps() -> TableSpec {
    TableSpec {
        name: "care_gaps",
        comment: "HEDIS-style care gaps (not NCQA-certified): one row per member, measure and rate for members in the measure's age/sex band (and, for condition measures, with the condition). status is open (due), closed (met), excluded or not_applicable (not in the denominator, e.g. not continuously enrolled).",
        person_key: false,
        columns: vec![
            C::key("member_id", T::Text, "carelake member id (identity_xref / member_profile).").ordered(),
            C::key("measure", T::Text, "Measure id: BCS-E, COL-E, CCS-E, GSD, CBP, EED, KED, SPD (or a user-defined measure)."),
            C::required("measure_name", T::Text, "Measure name."),
            C::key("rate", T::Text, "Rate of the measure: total; GSD below_8 / above_9; SPD received_statin / adherence_80."),
            C::required("measurement_year", T::Integer, "Measurement period (calendar year) evaluated."),
            C::optional("product_line", T::Text, "Product line on the anchor date (commercial, medicaid, medicare, marketplace); for members not continuously enrolled, the latest one."),
            C::optional("stratum", T::Text, "Reporting stratum (age band) of the member, if the measure has strata."),
            C::required("age", T::Integer, "Age at the end of the measurement period."),
            C::key("status", T::Text, "open (gap: the member is due), closed (numerator met), excluded (denominator exclusion) or not_applicable."),
            C::required("reason", T::Text, "Machine-readable reason: the numerator arm (e.g. colonoscopy), the exclusion (e.g. hospice), no_service, service_expired, no_result, result_out_of_range, not_adherent, not_continuously_enrolled, ..."),
            C::required("detail", T::Text, "Human-readable explanation of the status (rules and counts only)."),
            C::optional("evidence_date", T::Date, "Date of the event behind the status (the latest qualifying service, the most recent result, the exclusion, or an expired service)."),
            C::optional("evidence_code", T::Text, "Code of that event, as the value-set file writes it."),
            C::optional("evidence_code_system", T::Text, "Code system of that code."),
            C::optional("evidence_value_set", T::Text, "Value set (VSD name) the code belongs to."),
            C::optional("evidence_claim_id", T::Text, "Claim id of the event, for claim lines."),
            C::optional("evidence_data_source", T::Text, "Kind of source: claim, lab, ehr or supplemental."),
            C::optional("evidence_value", T::Float, "Result value (HbA1c %, blood pressure mm Hg) or, for adherence, the proportion of days covered (0-1)."),
            C::optional("due_date", T::Date, "For open gaps: the date by which the gap must close to count this year (end of the measurement period)."),
            C::optional("clinically_due_since", T::Date, "For open gaps with an expired service: the day after the last qualifying service stopped counting."),
            C::optional("closed_through", T::Date, "For closed gaps: the last day the closing service keeps the gap closed (null if it never expires)."),
            C::required("as_of", T::Date, "As-of date of the run."),
            C::key("run_id", T::Text, "Run that computed the row."),
        ],
    }
}

/// Rates by measure, rate, product line and stratum.
pub fn measure_rates() -> TableSpec {
    TableSpec {
        name: "measure_rates",
        comment: "HEDIS-style measure rates (not NCQA-certified) by measure, rate, product line and stratum (stratum 'all' is the total). rate = numerator / denominator; for inverse rates (higher_is_better false, e.g. GSD above_9) the numerator counts open gaps.",
        person_key: false,
        columns: vec![
            C::key("measure", T::Text, "Measure id."),
            C::required("measure_name", T::Text, "Measure name."),
            C::key("rate", T::Text, "Rate id."),
            C::key("product_line", T::Text, "Product line."),
            C::key("stratum", T::Text, "Stratum (age band), or 'all'."),
            C::required("measurement_year", T::Integer, "Measurement period (calendar year)."),
            C::required("eligible", T::Integer, "Members in the age/sex band (and condition) with a row for this rate."),
            C::required("not_applicable", T::Integer, "Of those, members not in the denominator (enrollment, product line, rate prerequisites)."),
            C::required("initial_population", T::Integer, "Members in the initial population (eligible minus not_applicable)."),
            C::required("exclusions", T::Integer, "Members with a denominator exclusion."),
            C::required("denominator", T::Integer, "Initial population minus exclusions."),
            C::required("closed", T::Integer, "Members whose gap is closed."),
            C::required("open", T::Integer, "Members whose gap is open."),
            C::required("numerator", T::Integer, "HEDIS numerator: closed, or open for inverse rates."),
            C::optional("rate_value", T::Float, "numerator / denominator (null when the denominator is 0)."),
            C::required("higher_is_better", T::Boolean, "Whether a higher rate is better."),
            C::required("as_of", T::Date, "As-of date of the run."),
            C::key("run_id", T::Text, "Run that computed the rates."),
        ],
    }
}
