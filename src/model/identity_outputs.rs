//! Output tables of identity resolution.

use super::spec::{CanonicalType as T, ColumnSpec as C, TableSpec};
use crate::identity::compare::COMPARISONS;

/// Source record -> member id.
pub fn identity_xref() -> TableSpec {
    TableSpec {
        name: "identity_xref",
        comment: "Identity resolution: the member id of every source person record. Member ids are stable across runs (merges keep the surviving id, splits mint new ids; see identity_changes).",
        person_key: false,
        columns: vec![
            C::key("source_system", T::Text, "Source system of the record."),
            C::key("source_record_id", T::Text, "Record id within the source system."),
            C::key("member_id", T::Text, "carelake member id: one per resolved person, stable across runs."),
            C::required("cluster_size", T::Integer, "Number of source records resolved to this member."),
            C::optional("match_probability", T::Float, "Highest match probability of a link that joined this record to its member (null for a member with one record)."),
            C::key("run_id", T::Text, "Run that resolved the record."),
        ],
    }
}

/// Scored candidate pairs with the weight of every comparison.
pub fn identity_links() -> TableSpec {
    let mut columns = vec![
        C::key("run_id", T::Text, "Run that scored the pair."),
        C::key("left_source_system", T::Text, "Source system of the first record."),
        C::key("left_source_record_id", T::Text, "Record id of the first record."),
        C::key("right_source_system", T::Text, "Source system of the second record."),
        C::key("right_source_record_id", T::Text, "Record id of the second record."),
        C::key("blocking_rule", T::Text, "The blocking rule that made the pair a candidate."),
        C::key("match_weight", T::Float, "Total match weight in bits (log2 Bayes factor, prior included): the sum of the comparison weights."),
        C::key("match_probability", T::Float, "Probability that both records are the same person."),
        C::key("linked", T::Boolean, "True when the pair is at or above the clustering threshold."),
    ];
    for c in COMPARISONS {
        columns.push(C::optional(
            level_column(c.name),
            T::Text,
            "Agreement level of this comparison (null: a value was missing).",
        ));
        columns.push(C::optional(
            weight_column(c.name),
            T::Float,
            "Match weight of this comparison in bits (what Splink's waterfall chart shows).",
        ));
    }
    TableSpec {
        name: "identity_links",
        comment: "Identity resolution: scored candidate record pairs, with the agreement level and match weight of each comparison (the explanation of every link).",
        person_key: false,
        columns,
    }
}

/// (comparison, level column, weight column) for every comparison, built once: column names of a table spec
/// are `&'static str`, and these are derived from the comparison names.
fn comparison_columns() -> &'static [(&'static str, &'static str, &'static str)] {
    static COLUMNS: std::sync::OnceLock<Vec<(&'static str, &'static str, &'static str)>> =
        std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        COMPARISONS
            .iter()
            .map(|c| {
                (
                    c.name,
                    leak(format!("{}_level", c.name)),
                    leak(format!("{}_weight", c.name)),
                )
            })
            .collect()
    })
}

fn columns_of(comparison: &str) -> (&'static str, &'static str, &'static str) {
    *comparison_columns()
        .iter()
        .find(|(n, _, _)| *n == comparison)
        .expect("a known comparison")
}

/// Column name of a comparison's level in identity_links.
pub fn level_column(comparison: &str) -> &'static str {
    columns_of(comparison).1
}

/// Column name of a comparison's weight in identity_links.
pub fn weight_column(comparison: &str) -> &'static str {
    columns_of(comparison).2
}

/// Merges and splits of member ids in a run.
pub fn identity_changes() -> TableSpec {
    TableSpec {
        name: "identity_changes",
        comment: "Identity resolution: member ids created, merged and split in each run.",
        person_key: false,
        columns: vec![
            C::key("run_id", T::Text, "Run in which the change happened."),
            C::key("change", T::Text, "new (a member first seen), merge (previous_member_id was merged into member_id) or split (member_id was split off previous_member_id)."),
            C::key("member_id", T::Text, "Member id after the run (each run's rows are in member_id order).").ordered(),
            C::optional("previous_member_id", T::Text, "The previous member id merged away or split from."),
            C::required("records", T::Integer, "Source records of member_id after the run."),
        ],
    }
}

/// The golden record of each member.
pub fn member_profile() -> TableSpec {
    TableSpec {
        name: "member_profile",
        comment: "Identity resolution: the golden record of each member (survivorship across source records), with age, time zone and contactability.",
        person_key: false,
        columns: vec![
            C::key("member_id", T::Text, "carelake member id (the table is in member_id order).").ordered(),
            C::optional("first_name", T::Text, "Given name (from the most trusted, most complete record)."),
            C::optional("middle_name", T::Text, "Middle name or initial."),
            C::optional("last_name", T::Text, "Family name."),
            C::optional("suffix", T::Text, "Name suffix."),
            C::optional("birth_date", T::Date, "Date of birth (the value most records agree on)."),
            C::optional("age", T::Integer, "Age in whole years at the run's as-of date."),
            C::optional("sex", T::Text, "Administrative sex: F or M (most frequent)."),
            C::optional("deceased_date", T::Date, "Date of death, if any source recorded one."),
            C::optional("ssn_last4", T::Text, "Last four digits of the SSN (the full SSN is not copied: minimum necessary)."),
            C::optional("email", T::Text, "Most recent valid email, lower case (PHI)."),
            C::optional("phone", T::Text, "Most recent valid phone in E.164 (PHI)."),
            C::optional("address_line1", T::Text, "Most recent street address (PHI)."),
            C::optional("address_line2", T::Text, "Address line 2."),
            C::optional("city", T::Text, "City of the most recent address (without any street address: of the most recent record with a state or ZIP)."),
            C::optional("state", T::Text, "State of the most recent address, or without one of the most recent record with a state or ZIP (two letters)."),
            C::optional("postal_code", T::Text, "Five-digit ZIP of the most recent address, or without one of the most recent record with a state or ZIP."),
            C::optional("time_zone", T::Text, "IANA time zone of that state and ZIP (for quiet hours in local time)."),
            C::optional("preferred_language", T::Text, "Most recent preferred language."),
            C::optional("preferred_channel", T::Text, "Most recent preferred channel."),
            C::required("has_valid_phone", T::Boolean, "A phone number that normalizes to E.164."),
            C::required("has_valid_email", T::Boolean, "A syntactically valid email address."),
            C::required("has_mailing_address", T::Boolean, "Street, city, state and ZIP are all known."),
            C::required("record_count", T::Integer, "Source records resolved to this member."),
            C::required("sources", T::Text, "Source systems holding records of this member (comma-separated)."),
            C::optional("last_updated_at", T::Timestamp, "Latest update of any of the member's records."),
            C::key("run_id", T::Text, "Run that built the record."),
        ],
    }
}
