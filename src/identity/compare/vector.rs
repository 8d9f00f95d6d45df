//! The comparison vector of a record pair: one agreement level per comparison.
//!
//! Level 0 means "cannot compare" (a value is missing) and carries no weight; levels 1.. run from the
//! strongest agreement to disagreement. The level names appear in the saved model and in identity_links.

use rayon::prelude::*;

use super::fields::{CompareField, CompareField::*, CompareFields, RecordFields};
use super::{compare_birth_dates, is_one_edit_apart, jaro_winkler, DateAgreement};
use crate::identity::nicknames::are_name_variants;

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
            "one_name_in_the_other_field",
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

fn both<'a>(a: &RecordFields<'a>, b: &RecordFields<'a>, field: CompareField) -> Option<(&'a str, &'a str)> {
    Some((a.get(field)?, b.get(field)?))
}

/// How close two different names are by Jaro-Winkler, at the thresholds of the name comparisons' levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closeness {
    /// 0.92 or above.
    Close,
    /// 0.80 or above.
    Loose,
    /// Below 0.80.
    Far,
}

fn name_closeness(a: &str, b: &str) -> Closeness {
    let s = jaro_winkler(a, b);
    if s >= 0.92 {
        Closeness::Close
    } else if s >= 0.80 {
        Closeness::Loose
    } else {
        Closeness::Far
    }
}

/// How two records' given and family names relate across the fields, when they do not already agree the
/// right way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameCrossing {
    /// Neither name turns up in the other field.
    None,
    /// Both names entered the wrong way round.
    Swapped,
    /// One record's given name is the other's family name (or the reverse) while the remaining names differ:
    /// the names were entered the wrong way round and one of them was then replaced or lost.
    OneName,
}

/// How the given and family names cross between two records.
///
/// Each record's given name is held against the other's family name. A cross pair agrees strongly when the
/// names are equal or the given name is the family name's first token (a compound surname typed into the given
/// name field keeps only its first token there: `DE` for `DE LA CRUZ`), closely at Jaro-Winkler 0.92, loosely
/// at 0.80. The names count as swapped when one cross pair agrees strongly and the other at least loosely, or
/// both closely: a typo in one of two swapped names is the common case.
fn name_crossing(a: &RecordFields, b: &RecordFields) -> NameCrossing {
    let (Some((fa, fb)), Some((la, lb))) = (both(a, b, First), both(a, b, Last)) else {
        return NameCrossing::None;
    };
    if fa == fb || la == lb {
        return NameCrossing::None;
    }
    let cross = |given: &str, family: &str| -> u8 {
        if given.len() < 2 || family.len() < 2 {
            0
        } else if given == family || family.split(' ').next() == Some(given) {
            3
        } else {
            match name_closeness(given, family) {
                Closeness::Close => 2,
                Closeness::Loose => 1,
                Closeness::Far => 0,
            }
        }
    };
    let (x, y) = (cross(fa, lb), cross(fb, la));
    if x.min(y) > 0 && x + y >= 4 {
        NameCrossing::Swapped
    } else if x.max(y) >= 2 {
        NameCrossing::OneName
    } else {
        NameCrossing::None
    }
}

/// Compare records `i` and `j`.
pub fn compare_pair(fields: &CompareFields, i: usize, j: usize) -> Levels {
    compare_records(&fields.record(i), &fields.record(j))
}

/// Pairs compared per parallel task.
const PAIRS_PER_TASK: usize = 16_384;
/// How many pairs ahead the records' heads are prefetched; their text is prefetched half as far ahead, once
/// the head (which says where the text is) has arrived.
const PREFETCH_AHEAD: usize = 16;

/// Compare record `left[p]` with record `right[p]` for every p, in parallel, in order.
///
/// Candidate pairs are sorted by their left record, so the right one is a random read among all records:
/// prefetching both a few pairs ahead overlaps those reads with the comparisons in between.
pub fn compare_pairs(fields: &CompareFields, left: &[u32], right: &[u32]) -> Vec<Levels> {
    assert_eq!(
        left.len(),
        right.len(),
        "every pair has a left and a right record"
    );
    let mut vectors = vec![[0u8; N_COMPARISONS]; left.len()];
    vectors
        .par_chunks_mut(PAIRS_PER_TASK)
        .enumerate()
        .for_each(|(task, out)| {
            let at = task * PAIRS_PER_TASK;
            let (left, right) = (&left[at..at + out.len()], &right[at..at + out.len()]);
            for (p, vector) in out.iter_mut().enumerate() {
                for side in [left, right] {
                    if let Some(&far) = side.get(p + PREFETCH_AHEAD) {
                        fields.prefetch_head(far as usize);
                    }
                    if let Some(&near) = side.get(p + PREFETCH_AHEAD / 2) {
                        fields.prefetch_text(near as usize);
                    }
                }
                *vector = compare_pair(fields, left[p] as usize, right[p] as usize);
            }
        });
    vectors
}

/// Compare two records' fields.
pub fn compare_records(x: &RecordFields, y: &RecordFields) -> Levels {
    let mut v = [0u8; N_COMPARISONS];
    let crossing = name_crossing(x, y);
    let swapped = crossing == NameCrossing::Swapped;
    v[0] = match (both(x, y, First), both(x, y, FirstFormal)) {
        (Some((a, b)), Some((fa, fb))) => {
            if a == b {
                1
            } else if fa == fb || are_name_variants(a, b) {
                2
            } else if swapped {
                3
            } else {
                match name_closeness(a, b) {
                    Closeness::Close => 4,
                    Closeness::Loose => 5,
                    Closeness::Far
                        if a.as_bytes()[0] == b.as_bytes()[0] && (a.len() == 1 || b.len() == 1) =>
                    {
                        6
                    }
                    Closeness::Far if crossing == NameCrossing::OneName => 7,
                    Closeness::Far => 8,
                }
            }
        }
        _ => 0,
    };
    v[1] = match both(x, y, Last) {
        Some((a, b)) if a == b => 1,
        Some((a, b)) if a.split(' ').any(|t| t.len() > 1 && b.split(' ').any(|u| u == t)) => 2,
        Some(_) if swapped => 3,
        Some((a, b)) => match name_closeness(a, b) {
            Closeness::Close => 4,
            Closeness::Loose => 5,
            Closeness::Far => 6,
        },
        None => 0,
    };
    v[2] = match (x.get(Suffix), y.get(Suffix)) {
        (None, None) => 0,
        (Some(a), Some(b)) if a == b => 1,
        (Some(_), Some(_)) => 3,
        _ => 2,
    };
    v[3] = match x.birth.zip(y.birth).and_then(|(a, b)| compare_birth_dates(a, b)) {
        Some(DateAgreement::Exact) => 1,
        Some(DateAgreement::DayMonthSwap) => 2,
        Some(DateAgreement::Typo) => 3,
        Some(DateAgreement::Close) => 4,
        Some(DateAgreement::Different) => 5,
        None => 0,
    };
    v[4] = both(x, y, Sex).map_or(0, |(a, b)| if a == b { 1 } else { 2 });
    v[5] = match both(x, y, Ssn) {
        Some((a, b)) if a == b => 1,
        Some((a, b)) if is_one_edit_apart(a, b) => 2,
        Some((a, b)) if a[5..] == b[5..] => 3,
        Some(_) => 4,
        None => 0,
    };
    v[6] = match both(x, y, Email) {
        Some((a, b)) if a == b => 1,
        Some((a, b)) if a.split('@').next() == b.split('@').next() => 2,
        Some(_) => 3,
        None => 0,
    };
    let phone = both(x, y, Phone).map(|(a, b)| a == b);
    let address = match (both(x, y, AddressNumber), both(x, y, Street)) {
        (Some((na, nb)), Some((sa, sb))) => Some(na == nb && (sa == sb || jaro_winkler(sa, sb) >= 0.9)),
        _ => None,
    };
    let zip = both(x, y, Zip).map(|(a, b)| {
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
    v[8] = both(x, y, MemberNumber).map_or(0, |(a, b)| {
        if a == b {
            1
        } else if a.len() >= 6 && b.len() >= 6 && is_one_edit_apart(a, b) {
            2
        } else {
            3
        }
    });
    v
}
