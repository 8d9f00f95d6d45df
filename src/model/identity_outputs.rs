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
            C::key("member_id", T::Text, "Member id after the run."),
            C::optional("previous_member_id", T::Text, "The previous member id merged away or split from."),
            C::required("records", T::Integer, "Source records of member_id after the run."),
        ],
    }
}
