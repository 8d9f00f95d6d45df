//! Output tables that are not owned by one kernel: the run log, the quarantine, and the synthetic ground truth.

use super::spec::{CanonicalType as T, ColumnSpec as C, TableSpec};

/// One row per stage run (the run log).
pub fn runs() -> TableSpec {
    TableSpec {
        name: "runs",
        comment: "carelake run log: one row per stage run, with its inputs, counts, duration and status.",
        person_key: false,
        columns: vec![
            C::key(
                "run_id",
                T::Text,
                "Deterministic id of the run: the same stage, as-of date and inputs give the same id.",
            ),
            C::key(
                "stage",
                T::Text,
                "Stage that ran (ingest, generate, identity, caregaps, audiences).",
            ),
            C::required("as_of", T::Date, "As-of date the stage ran for."),
            C::required("started_at", T::Timestamp, "When the run started (UTC)."),
            C::required("finished_at", T::Timestamp, "When the run finished (UTC)."),
            C::required("duration_ms", T::Integer, "Wall time of the run in milliseconds."),
            C::key("status", T::Text, "succeeded or failed."),
            C::required(
                "inputs",
                T::Text,
                "JSON: the inputs read, with their Delta versions or file fingerprints.",
            ),
            C::required("rows_in", T::Integer, "Rows read."),
            C::required(
                "rows_out",
                T::Integer,
                "Rows written to the stage's main outputs.",
            ),
            C::required("rows_quarantined", T::Integer, "Input rows sent to quarantine."),
            C::optional(
                "message",
                T::Text,
                "Summary or error message (never patient data).",
            ),
            C::required(
                "carelake_version",
                T::Text,
                "carelake version that ran the stage.",
            ),
        ],
    }
}

/// Input rows that could not be used, with the reason.
pub fn quarantine() -> TableSpec {
    TableSpec {
        name: "quarantine",
        comment: "Input rows that failed validation (null key, unparseable date, value outside the allowed set), with the reason. Nothing is dropped silently: every row left out of a stage is here.",
        person_key: false,
        columns: vec![
            C::key("run_id", T::Text, "Run that quarantined the row."),
            C::key("table_name", T::Text, "Canonical input table the row came from."),
            C::key("row_number", T::Integer, "Position of the row in the input as read (0-based)."),
            C::key("column_name", T::Text, "Canonical column that failed (the first failing column)."),
            C::key("reason_code", T::Text, "Machine-readable reason: null_key, bad_date, bad_timestamp, bad_number, bad_boolean, not_allowed, no_person_key, date_after_as_of, date_before_birth, end_before_start, unknown_person."),
            C::required("reason", T::Text, "Human-readable reason (describes the rule, never the value)."),
            C::required("record", T::Text, "The raw row as JSON (PHI: governed like the inputs)."),
        ],
    }
}

/// Ground truth of the synthetic generator: the true person behind each person record.
pub fn truth_person_records() -> TableSpec {
    TableSpec {
        name: "truth_person_records",
        comment: "Synthetic ground truth: the true person behind each synthetic person record, and the corruptions applied to it.",
        person_key: false,
        columns: vec![
            C::key("source_system", T::Text, "Source system of the record."),
            C::key("source_record_id", T::Text, "Record id within the source system."),
            C::key("person_id", T::Text, "The true person (identity resolution should put records of one person_id together)."),
            C::key("household_id", T::Text, "Household of the person: members of one household share an address."),
            C::required("relation", T::Text, "Role in the household: head, spouse, child, twin (twins are hard negatives)."),
            C::required("corruptions", T::Text, "Comma-separated corruptions applied to this record (nickname, typo, married_name, moved, ...)."),
        ],
    }
}

/// Ground truth of the synthetic generator: the care-gap scenario planted for each person and measure.
pub fn truth_care_gaps() -> TableSpec {
    TableSpec {
        name: "truth_care_gaps",
        comment: "Synthetic ground truth: the care-gap scenario the generator planted per person and measure (before enrollment rules apply).",
        person_key: false,
        columns: vec![
            C::key("person_id", T::Text, "The true person."),
            C::key("measure", T::Text, "Measure id (BCS-E, COL-E, CCS-E, GSD, CBP, EED, KED, SPD)."),
            C::key("rate", T::Text, "Rate of the measure: total, or below_8 / above_9 (GSD), received_statin / adherence_80 (SPD)."),
            C::key("scenario", T::Text, "What was planted, e.g. numerator_colonoscopy, open_expired, excluded_hospice."),
            C::required("expected_status", T::Text, "Status the scenario should yield if the person meets enrollment: open, closed, excluded, or not_applicable (SPD adherence without a statin)."),
        ],
    }
}
