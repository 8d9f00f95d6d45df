//! Comparison functions with agreement levels: strings (exact, Jaro-Winkler, edit distances), dates, and the
//! comparison vector of a record pair.

mod dates;
mod fields;
mod strings;
mod vector;

pub use dates::{compare_birth_dates, compare_dates, DateAgreement};
pub use fields::{CompareField, CompareFields, RecordFields};
pub use strings::{damerau_levenshtein, is_one_edit_apart, jaro, jaro_winkler, levenshtein};
pub use vector::{
    compare_pair, compare_pairs, compare_records, ComparisonSpec, Levels, COMPARISONS, FIRST_NAME, LAST_NAME,
    N_COMPARISONS,
};
