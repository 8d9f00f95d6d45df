//! Comparing birth dates the way they go wrong in practice: day and month swapped, one digit mistyped, the
//! year off by one or with transposed digits.

use chrono::{Datelike, NaiveDate};

/// How two dates relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DateAgreement {
    /// Same date.
    Exact,
    /// Day and month swapped (05/03 vs 03/05).
    DayMonthSwap,
    /// One digit of the YYYYMMDD form differs, or two adjacent digits are transposed.
    Typo,
    /// Same year and month, or within 31 days.
    Close,
    /// Nothing in common worth a weight.
    Different,
}

/// Compare two dates.
pub fn compare_dates(a: NaiveDate, b: NaiveDate) -> DateAgreement {
    if a == b {
        return DateAgreement::Exact;
    }
    if a.year() == b.year() && a.day() == b.month() && a.month() == b.day() {
        return DateAgreement::DayMonthSwap;
    }
    let da = digits(a);
    let db = digits(b);
    let differing: Vec<usize> = (0..8).filter(|i| da[*i] != db[*i]).collect();
    let transposed = differing.len() == 2
        && differing[1] == differing[0] + 1
        && da[differing[0]] == db[differing[1]]
        && da[differing[1]] == db[differing[0]];
    if differing.len() == 1 || transposed {
        return DateAgreement::Typo;
    }
    if (a.year() == b.year() && a.month() == b.month()) || (a - b).num_days().abs() <= 31 {
        return DateAgreement::Close;
    }
    DateAgreement::Different
}

fn digits(d: NaiveDate) -> [u8; 8] {
    let s = format!("{:04}{:02}{:02}", d.year(), d.month(), d.day());
    let mut out = [0u8; 8];
    out.copy_from_slice(&s.as_bytes()[..8]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn agreement_levels() {
        assert_eq!(compare_dates(d(1975, 3, 5), d(1975, 3, 5)), DateAgreement::Exact);
        assert_eq!(
            compare_dates(d(1975, 3, 5), d(1975, 5, 3)),
            DateAgreement::DayMonthSwap
        );
        assert_eq!(compare_dates(d(1975, 3, 5), d(1957, 3, 5)), DateAgreement::Typo);
        assert_eq!(compare_dates(d(1975, 3, 5), d(1976, 3, 5)), DateAgreement::Typo);
        assert_eq!(compare_dates(d(1975, 3, 15), d(1975, 3, 25)), DateAgreement::Typo);
        assert_eq!(compare_dates(d(1975, 3, 5), d(1975, 3, 28)), DateAgreement::Close);
        assert_eq!(
            compare_dates(d(1975, 3, 5), d(1980, 9, 21)),
            DateAgreement::Different
        );
    }
}
