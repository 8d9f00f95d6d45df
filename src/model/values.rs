//! Parsing text into canonical values: dates, timestamps, numbers, flags and enumeration keys; and writing dates
//! and local times back as text.
//!
//! Shared by the conform step (typing CSV and text columns) and the identity normalizers (birth dates in many
//! formats). Parsers return `None` for anything they cannot read with confidence; callers quarantine with a reason.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Utc};

/// Days between 0001-01-01 (CE) and 1970-01-01, for Arrow's Date32.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The Arrow Date32 value (days since 1970-01-01) of a date.
pub fn date_to_days(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// The date of an Arrow Date32 value; None outside the calendar (a Date32 near `i32::MAX` is no date).
pub fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?)
}

/// The Arrow Date32 value of a calendar date; None when it is no date (month 13, April 31, February 29 of a
/// common year) or is outside chrono's calendar, as `NaiveDate::from_ymd_opt` would say. Counted directly
/// (Hinnant's days-from-civil): care gaps resolve measurement-period dates for every member and criterion, and
/// going through `NaiveDate` there was 2% of the stage's CPU at 1M members.
pub fn days_of_date(year: i32, month: u32, day: u32) -> Option<i32> {
    let in_calendar = (NaiveDate::MIN.year()..=NaiveDate::MAX.year()).contains(&year);
    if !in_calendar || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    // Days since March 1 (the leap day falls at the end of such a year).
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    i32::try_from(era * 146_097 + day_of_era - 719_468).ok()
}

/// Whether an Arrow Date32 value is a day of chrono's calendar (one [`days_to_date`] gives a date for), without
/// making the date: outputs that hold day numbers write them as they are.
pub fn is_calendar_day(days: i32) -> bool {
    date_of_days(days).is_some()
}

/// The calendar date (year, month, day) of an Arrow Date32 value; None outside chrono's calendar, as
/// [`days_to_date`] would say. Counted directly (Hinnant's civil-from-days), for the same reason as
/// [`days_of_date`].
pub fn date_of_days(days: i32) -> Option<(i32, u32, u32)> {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let year = i32::try_from(year).ok()?;
    (NaiveDate::MIN.year()..=NaiveDate::MAX.year())
        .contains(&year)
        .then_some((year, month as u32, day as u32))
}

/// Days in a month of the Gregorian calendar (`month` 1-12).
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parse a calendar date written in one of the unambiguous common formats.
///
/// Accepted: `2024-03-05`, `2024/03/05`, `20240305`, US `03/05/2024`, `3/5/2024`, `03-05-2024`, `05-Mar-2024`,
/// `05 Mar 2024`, and the date as written of a date with a time of day (`2024-03-05T10:00:00Z`,
/// `2024-03-05 00:00:00` as databases export a date column, `3/5/2024 12:00:00 AM`). Two-digit years are
/// refused (the century is a guess).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let s = text.trim();
    if s.len() < 8 {
        return None;
    }
    if let Some(date_part) = s.get(..10).filter(|_| s.len() > 10 && s.as_bytes()[10] == b'T') {
        return NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok();
    }
    const FORMATS: [&str; 8] = [
        "%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%m/%d/%Y", "%m-%d-%Y", "%d-%b-%Y", "%d %b %Y", "%Y.%m.%d",
    ];
    let plausible = |d: &NaiveDate| (1800..=2200).contains(&d.year());
    FORMATS
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok().filter(plausible))
        .or_else(|| {
            let date = match date_and_time(s)? {
                Written::Zoned(t) => t.date_naive(),
                Written::Local(t) => t.date(),
            };
            Some(date).filter(plausible)
        })
}

/// A date with a time of day as written: with its offset from UTC, or without one.
enum Written {
    Zoned(DateTime<FixedOffset>),
    Local(NaiveDateTime),
}

/// Read a date with a time of day in one of the common formats (none: a bare date or no date at all).
fn date_and_time(s: &str) -> Option<Written> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(Written::Zoned(t));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(Written::Zoned(t));
        }
    }
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
        // The 12-hour clock of US exports (Excel, SQL Server, EHR reports): `11/23/2026 9:05:00 PM`.
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %I:%M %p",
        "%Y-%m-%d %I:%M:%S %p",
        "%Y-%m-%d %I:%M %p",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(Written::Local)
}

/// Parse an instant. Zone-less text is read as UTC; a bare date is midnight UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let s = text.trim();
    match date_and_time(s) {
        Some(Written::Zoned(t)) => Some(t.with_timezone(&Utc)),
        Some(Written::Local(t)) => Some(t.and_utc()),
        None => parse_date(s).map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()),
    }
}

/// Parse a yes/no flag: true/false, t/f, yes/no, y/n, 1/0 (any case).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Parse a decimal number (allowing surrounding spaces and a leading `+`).
pub fn parse_float(text: &str) -> Option<f64> {
    let s = text.trim().trim_start_matches('+');
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parse a whole number; `30.0` is accepted, `30.5` is not.
pub fn parse_integer(text: &str) -> Option<i64> {
    let s = text.trim().trim_start_matches('+');
    if let Ok(v) = s.parse::<i64>() {
        return Some(v);
    }
    let f = s.parse::<f64>().ok()?;
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// The key an enumeration value is matched on: letters and digits only, upper case.
/// `ICD-10-CM`, `icd10cm` and `ICD10CM` all give `ICD10CM`; `opt-in` and `Opt In` give `OPTIN`.
pub fn enum_key(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Append `date` as chrono writes it (`2026-11-23`), without going through the formatting machinery: the
/// audience stage writes one or two per row of its outputs (millions at 10M members).
pub fn push_date_text(out: &mut String, date: NaiveDate) {
    use chrono::Datelike;
    let year = date.year();
    if !(0..=9999).contains(&year) {
        // chrono writes a sign and at least four digits outside these years.
        out.push_str(&date.to_string());
        return;
    }
    let mut text = [0u8; 10];
    put_digits(&mut text[..4], year as u32);
    text[4] = b'-';
    put_digits(&mut text[5..7], date.month());
    text[7] = b'-';
    put_digits(&mut text[8..], date.day());
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// Append a local date and time as chrono writes it (`2026-11-23 09:00:00`, fractions of a second after a dot).
pub fn push_local_time_text(out: &mut String, time: NaiveDateTime) {
    use chrono::Timelike;
    if time.nanosecond() != 0 {
        // A fraction (or a leap second) is written as chrono chooses; send windows start on the minute.
        out.push_str(&time.to_string());
        return;
    }
    push_date_text(out, time.date());
    let mut text = [0u8; 9];
    text[0] = b' ';
    put_digits(&mut text[1..3], time.hour());
    text[3] = b':';
    put_digits(&mut text[4..6], time.minute());
    text[6] = b':';
    put_digits(&mut text[7..], time.second());
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// Write `n` in decimal into all of `digits`, zero-padded on the left (its high digits dropped if it is longer).
fn put_digits(digits: &mut [u8], mut n: u32) {
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_counted_as_chrono_counts_them_over_centuries_and_at_the_calendar_edges() {
        // Every day from 1600 to 2400 (leap rules of 4, 100 and 400 years), both ways.
        let (first, last) = (
            date_to_days(NaiveDate::from_ymd_opt(1600, 1, 1).unwrap()),
            date_to_days(NaiveDate::from_ymd_opt(2400, 12, 31).unwrap()),
        );
        for days in first..=last {
            let date = days_to_date(days).unwrap();
            let ymd = (date.year(), date.month(), date.day());
            assert_eq!(date_of_days(days), Some(ymd), "{days}");
            assert_eq!(days_of_date(ymd.0, ymd.1, ymd.2), Some(days), "{date}");
        }
        // No such dates, as from_ymd_opt says.
        for (y, m, d) in [
            (2023, 2, 29),
            (1900, 2, 29),
            (2024, 4, 31),
            (2024, 13, 1),
            (2024, 0, 1),
            (2024, 1, 0),
            (2024, 1, 32),
            (i32::MAX, 1, 1),
        ] {
            assert_eq!(days_of_date(y, m, d), None, "{y}-{m}-{d}");
            assert!(NaiveDate::from_ymd_opt(y, m, d).is_none());
        }
        assert_eq!(days_of_date(2000, 2, 29), Some(11_016));
        // The edges of chrono's calendar, and past them.
        for date in [NaiveDate::MIN, NaiveDate::MAX] {
            let days = date_to_days(date);
            assert_eq!(date_of_days(days), Some((date.year(), date.month(), date.day())));
            assert_eq!(days_of_date(date.year(), date.month(), date.day()), Some(days));
        }
        for days in [
            date_to_days(NaiveDate::MIN) - 1,
            date_to_days(NaiveDate::MAX) + 1,
            i32::MIN,
            i32::MAX,
        ] {
            assert_eq!(date_of_days(days), None, "{days}");
            assert!(days_to_date(days).is_none());
        }
    }

    #[test]
    fn dates_in_common_formats() {
        let d = NaiveDate::from_ymd_opt(1970, 3, 5).unwrap();
        for s in [
            "1970-03-05",
            "1970/03/05",
            "19700305",
            "03/05/1970",
            "3/5/1970",
            "03-05-1970",
            "05-Mar-1970",
            " 1970-03-05 ",
            "1970-03-05T10:00:00Z",
        ] {
            assert_eq!(parse_date(s), Some(d), "{s}");
        }
        for s in [
            "",
            "3/5/70",
            "1970-13-01",
            "1970-02-30",
            "not a date",
            "0000-01-01",
        ] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }

    #[test]
    fn date32_round_trip() {
        let d = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!(date_to_days(d), 0);
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(days_to_date(date_to_days(d)), Some(d));
    }

    #[test]
    fn timestamps_with_and_without_zone() {
        let a = parse_timestamp("2026-01-02T03:04:05+01:00").unwrap();
        assert_eq!(a.to_rfc3339(), "2026-01-02T02:04:05+00:00");
        let b = parse_timestamp("2026-01-02 03:04:05").unwrap();
        assert_eq!(b.to_rfc3339(), "2026-01-02T03:04:05+00:00");
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn timestamps_on_the_twelve_hour_clock_of_us_exports() {
        let utc = |text: &str| parse_timestamp(text).map(|t| t.to_rfc3339());
        assert_eq!(
            utc("11/23/2026 9:05:00 PM").as_deref(),
            Some("2026-11-23T21:05:00+00:00")
        );
        assert_eq!(
            utc("11/23/2026 09:05 am").as_deref(),
            Some("2026-11-23T09:05:00+00:00")
        );
        assert_eq!(
            utc("11/23/2026 12:00:00 AM").as_deref(),
            Some("2026-11-23T00:00:00+00:00")
        );
        assert_eq!(
            utc("2026-11-23 12:30 PM").as_deref(),
            Some("2026-11-23T12:30:00+00:00")
        );
        // An hour past 12 on the 12-hour clock is not a time.
        assert_eq!(utc("11/23/2026 13:05 PM"), None);
    }

    #[test]
    fn a_date_exported_with_a_time_of_day_is_the_date_as_written() {
        let day = NaiveDate::from_ymd_opt(1978, 7, 20);
        assert_eq!(parse_date("1978-07-20 00:00:00"), day);
        assert_eq!(parse_date("7/20/1978 12:00:00 AM"), day);
        assert_eq!(parse_date("1978-07-20 00:00:00.000"), day);
        // The date as written, not as it falls in UTC.
        assert_eq!(parse_date("1978-07-20T23:30:00-05:00"), day);
        assert_eq!(parse_date("1978-07-20 23:30:00 -0500"), day);
        assert_eq!(
            parse_date("1778-07-20 00:00:00"),
            None,
            "outside the years a date of care can be"
        );
        assert_eq!(parse_date("1978-07-20 25:00:00"), None);
    }

    #[test]
    fn numbers_and_flags() {
        assert_eq!(parse_integer("30.0"), Some(30));
        assert_eq!(parse_integer("30.5"), None);
        assert_eq!(parse_float(" 7.2 "), Some(7.2));
        assert_eq!(parse_float("NaN"), None);
        assert_eq!(parse_bool("Y"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(enum_key("ICD-10-CM"), "ICD10CM");
    }

    #[test]
    fn dates_and_local_times_are_written_as_chrono_writes_them() {
        let dates = [
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(999, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(-1, 6, 15).unwrap(),
            NaiveDate::from_ymd_opt(0, 2, 29).unwrap(),
        ];
        for date in dates {
            let mut text = String::from("x");
            push_date_text(&mut text, date);
            assert_eq!(text[1..], date.to_string());
            for (h, m, s, nano) in [
                (0, 0, 0, 0),
                (9, 5, 7, 0),
                (23, 59, 59, 0),
                (12, 0, 0, 500_000_000),
                (23, 59, 59, 1_500_000_000),
            ] {
                let time = date.and_hms_nano_opt(h, m, s, nano).unwrap();
                let mut text = String::new();
                push_local_time_text(&mut text, time);
                assert_eq!(text, time.to_string());
            }
        }
    }
}
