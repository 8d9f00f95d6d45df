//! The comparison vector of a record pair: one agreement level per comparison.
//!
//! Level 0 means "cannot compare" (a value is missing) and carries no weight; levels 1.. run from the
//! strongest agreement to disagreement. The level names appear in the saved model and in identity_links.

use chrono::NaiveDate;

use super::{compare_dates, damerau_levenshtein, jaro_winkler, DateAgreement};
use crate::identity::nicknames::are_name_variants;
use crate::identity::prepare::PreparedRecords;
use crate::model::values::days_to_date;

/// A comparison and the names of its levels (level 1 is `levels[0]`).
#[derive(Debug, Clone, Copy)]
pub struct ComparisonSpec {
    /// Comparison name.
    pub name: &'static str,
    /// Level names, strongest agreement first.
    pub levels: &'static [&'static str],
}

/// Number of comparisons in a vector.
pub const N_COMPARISONS: usize = 9;

/// The comparisons, in vector order.
///
/// Address, ZIP and phone are one comparison with joint levels: household members share all three, and
/// counting them as independent evidence would link every spouse and sibling.
pub const COMPARISONS: [ComparisonSpec; N_COMPARISONS] = [
    ComparisonSpec {
        name: "first_name",
        levels: &[
            "exact",
            "nickname",
            "swapped_with_last_name",
            "jaro_winkler_0.92",
            "jaro_winkler_0.80",
            "initial",
            "different",
        ],
    },
    ComparisonSpec {
        name: "last_name",
        levels: &[
            "exact",
            "token_overlap",
            "swapped_with_first_name",
            "jaro_winkler_0.92",
            "jaro_winkler_0.80",
            "different",
        ],
    },
    ComparisonSpec {
        name: "suffix",
        levels: &["same", "one_missing", "conflict"],
    },
    ComparisonSpec {
        name: "birth_date",
        levels: &["exact", "day_month_swap", "typo", "close", "different"],
    },
    ComparisonSpec {
        name: "sex",
        levels: &["same", "different"],
    },
    ComparisonSpec {
        name: "ssn",
        levels: &["exact", "one_edit", "last4", "different"],
    },
    ComparisonSpec {
        name: "email",
        levels: &["exact", "same_local_part", "different"],
    },
    ComparisonSpec {
        name: "location",
        levels: &[
            "address_and_phone",
            "address",
            "phone",
            "zip",
            "zip3",
            "different",
        ],
    },
    ComparisonSpec {
        name: "member_number",
        levels: &["exact", "one_edit", "different"],
    },
];

/// Index of the first-name comparison (term-frequency adjusted).
pub const FIRST_NAME: usize = 0;
/// Index of the last-name comparison (term-frequency adjusted).
pub const LAST_NAME: usize = 1;

/// Agreement levels of one pair.
pub type Levels = [u8; N_COMPARISONS];

fn both(col: &arrow::array::StringArray, i: usize, j: usize) -> Option<(&str, &str)> {
    Some((PreparedRecords::get(col, i)?, PreparedRecords::get(col, j)?))
}

fn birth(r: &PreparedRecords, i: usize) -> Option<NaiveDate> {
    use arrow::array::Array;
    (!r.birth_date.is_null(i))
        .then(|| days_to_date(r.birth_date.value(i)))
        .flatten()
}

/// Whether the given and family names were entered the wrong way round (each close to the other's), while
/// they do not already agree the right way round.
fn names_swapped(r: &PreparedRecords, i: usize, j: usize) -> bool {
    let (Some((fa, fb)), Some((la, lb))) = (both(&r.first, i, j), both(&r.last, i, j)) else {
        return false;
    };
    let close = |x: &str, y: &str| x == y || (x.len() > 1 && y.len() > 1 && jaro_winkler(x, y) >= 0.92);
    fa != fb && la != lb && close(fa, lb) && close(la, fb)
}

/// Compare records `i` and `j`.
pub fn compare_pair(r: &PreparedRecords, i: usize, j: usize) -> Levels {
    let mut v = [0u8; N_COMPARISONS];
    let swapped = names_swapped(r, i, j);
    v[0] = match (both(&r.first, i, j), both(&r.first_formal, i, j)) {
        (Some((a, b)), Some((fa, fb))) => {
            if a == b {
                1
            } else if fa == fb || are_name_variants(a, b) {
                2
            } else if swapped {
                3
            } else {
                let s = jaro_winkler(a, b);
                if s >= 0.92 {
                    4
                } else if s >= 0.80 {
                    5
                } else if a.as_bytes()[0] == b.as_bytes()[0] && (a.len() == 1 || b.len() == 1) {
                    6
                } else {
                    7
                }
            }
        }
        _ => 0,
    };
    v[1] = match both(&r.last, i, j) {
        Some((a, b)) if a == b => 1,
        Some((a, b)) if a.split(' ').any(|t| t.len() > 1 && b.split(' ').any(|u| u == t)) => 2,
        Some(_) if swapped => 3,
        Some((a, b)) => {
            let s = jaro_winkler(a, b);
            if s >= 0.92 {
                4
            } else if s >= 0.80 {
                5
            } else {
                6
            }
        }
        None => 0,
    };
    v[2] = match (
        PreparedRecords::get(&r.suffix, i),
        PreparedRecords::get(&r.suffix, j),
    ) {
        (None, None) => 0,
        (Some(a), Some(b)) if a == b => 1,
        (Some(_), Some(_)) => 3,
        _ => 2,
    };
    v[3] = match (birth(r, i), birth(r, j)) {
        (Some(a), Some(b)) => match compare_dates(a, b) {
            DateAgreement::Exact => 1,
            DateAgreement::DayMonthSwap => 2,
            DateAgreement::Typo => 3,
            DateAgreement::Close => 4,
            DateAgreement::Different => 5,
        },
        _ => 0,
    };
    v[4] = both(&r.sex, i, j).map_or(0, |(a, b)| if a == b { 1 } else { 2 });
    v[5] = match both(&r.ssn, i, j) {
        Some((a, b)) if a == b => 1,
        Some((a, b)) if damerau_levenshtein(a, b) == 1 => 2,
        Some((a, b)) if a[5..] == b[5..] => 3,
        Some(_) => 4,
        None => 0,
    };
    v[6] = match both(&r.email, i, j) {
        Some((a, b)) if a == b => 1,
        Some((a, b)) if a.split('@').next() == b.split('@').next() => 2,
        Some(_) => 3,
        None => 0,
    };
    let phone = both(&r.phone, i, j).map(|(a, b)| a == b);
    let address = match (both(&r.address_number, i, j), both(&r.street, i, j)) {
        (Some((na, nb)), Some((sa, sb))) => Some(na == nb && (sa == sb || jaro_winkler(sa, sb) >= 0.9)),
        _ => None,
    };
    let zip = both(&r.zip, i, j).map(|(a, b)| {
        if a == b {
            2
        } else if a[..3] == b[..3] {
            1
        } else {
            0
        }
    });
    v[7] = match (address, phone, zip) {
        (Some(true), Some(true), _) => 1,
        (Some(true), _, _) => 2,
        (_, Some(true), _) => 3,
        (_, _, Some(2)) => 4,
        (_, _, Some(1)) => 5,
        (None, None, None) => 0,
        _ => 6,
    };
    // A one-character slip in a long member number (a keying error) is weaker evidence than an exact match.
    v[8] = both(&r.member_number, i, j).map_or(0, |(a, b)| {
        if a == b {
            1
        } else if a.len() >= 6 && b.len() >= 6 && damerau_levenshtein(a, b) == 1 {
            2
        } else {
            3
        }
    });
    v
}
