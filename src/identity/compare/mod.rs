//! Comparison functions with agreement levels: strings (exact, Jaro-Winkler, edit distances), dates, and the
//! comparison vector of a record pair.

mod dates;
mod strings;
mod vector;

pub use dates::{compare_dates, DateAgreement};
pub use strings::{damerau_levenshtein, jaro, jaro_winkler, levenshtein};
pub use vector::{compare_pair, ComparisonSpec, Levels, COMPARISONS, FIRST_NAME, LAST_NAME, N_COMPARISONS};
