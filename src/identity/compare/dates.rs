//! Comparing birth dates the way they go wrong in practice: day and month swapped, one digit mistyped, the
//! year off by one or with transposed digits.

use chrono::{Datelike, NaiveDate};

use crate::model::values::days_to_date;

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
    let (da, db) = (digits(a), digits(b));
    let mut differing = (0..8).filter(|&i| da[i] != db[i]);
    let (first, second, third) = (differing.next(), differing.next(), differing.next());
    let typo = match (first, second, third) {
        (Some(_), None, _) => true,
        // Two adjacent digits transposed.
        (Some(i), Some(j), None) => j == i + 1 && da[i] == db[j] && da[j] == db[i],
        _ => false,
    };
    if typo {
        return DateAgreement::Typo;
    }
    if (a.year() == b.year() && a.month() == b.month()) || (a - b).num_days().abs() <= 31 {
        return DateAgreement::Close;
    }
    DateAgreement::Different
}

/// Compare two birth dates given as days since the epoch; None when either is outside the calendar.
pub fn compare_birth_dates(a: i32, b: i32) -> Option<DateAgreement> {
    if a == b {
        return Some(DateAgreement::Exact);
    }
    Some(compare_dates(days_to_date(a)?, days_to_date(b)?))
}

/// The digits of the date's YYYYMMDD form.
fn digits(d: NaiveDate) -> [u8; 8] {
    let (year, month, day) = (d.year(), d.month(), d.day());
    if !(0..=9999).contains(&year) {
        // Outside four-digit years: the written form, as far as its first eight characters go.
        let s = format!("{year:04}{month:02}{day:02}");
        let mut out = [0u8; 8];
        out.copy_from_slice(&s.as_bytes()[..8]);
        return out;
    }
    let mut out = [0u8; 8];
    let mut fill = |at: usize, width: usize, mut value: u32| {
        for k in (at..at + width).rev() {
            out[k] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    fill(0, 4, year as u32);
    fill(4, 2, month);
    fill(6, 2, day);
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
        // Three digits apart, or two apart but not side by side: not a typo.
        assert_eq!(
            compare_dates(d(1975, 3, 5), d(1957, 3, 7)),
            DateAgreement::Different
        );
        assert_eq!(
            compare_dates(d(1975, 3, 5), d(1965, 3, 6)),
            DateAgreement::Different
        );
        assert_eq!(digits(d(1975, 3, 5)), *b"19750305");
        let day = |date: NaiveDate| (date - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32;
        assert_eq!(
            compare_birth_dates(day(d(1975, 3, 5)), day(d(1975, 5, 3))),
            Some(DateAgreement::DayMonthSwap)
        );
        assert_eq!(compare_birth_dates(i32::MAX, 0), None);
    }
}
