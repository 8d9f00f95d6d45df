//! Quiet hours: the local hours in which a member may be called or texted, and the next send window.
//!
//! Federally, 8am to 9pm in the called party's local time (64.1200(c)(1)); Florida, Oklahoma, Maryland and
//! Washington allow only 8am to 8pm. Healthcare senders apply the windows to informational messages too, so
//! carelake applies them to every phone message; email, mail and ads have no quiet hours. Windows are computed in
//! the member's IANA time zone (member_profile.time_zone), so daylight-saving changes are handled by the zone.

use std::cell::RefCell;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use foldhash::HashMap;

/// Local hours a phone message may be sent in: [start_hour, end_hour), and the rule id that sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedHours {
    /// First allowed local hour (inclusive).
    pub start_hour: u32,
    /// First local hour no longer allowed (exclusive).
    pub end_hour: u32,
    /// Rule id recorded with suppressions and windows.
    pub rule: &'static str,
}

/// States whose telephone-solicitation windows end at 8pm (the federal window ends at 9pm).
const EIGHT_PM_STATES: [(&str, &str); 4] = [
    ("FL", "QUIET_HOURS_FL"),
    ("OK", "QUIET_HOURS_OK"),
    ("MD", "QUIET_HOURS_MD"),
    ("WA", "QUIET_HOURS_WA"),
];

/// The allowed hours for a member in `state` (two-letter code; unknown or absent: the federal window).
pub fn allowed_hours(state: Option<&str>) -> AllowedHours {
    let state = state.map(str::trim);
    match EIGHT_PM_STATES
        .iter()
        .find(|(code, _)| state.is_some_and(|s| s.eq_ignore_ascii_case(code)))
    {
        Some((_, rule)) => AllowedHours {
            start_hour: 8,
            end_hour: 20,
            rule,
        },
        None => AllowedHours {
            start_hour: 8,
            end_hour: 21,
            rule: "QUIET_HOURS_FEDERAL",
        },
    }
}

/// A window in which a message may go out, in the member's local time and in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWindow {
    /// Local start.
    pub local_start: NaiveDateTime,
    /// Local end (exclusive).
    pub local_end: NaiveDateTime,
    /// Start in UTC.
    pub utc_start: DateTime<Utc>,
    /// End in UTC (exclusive).
    pub utc_end: DateTime<Utc>,
    /// The rule that set the hours.
    pub rule: &'static str,
}

/// A thread's remembered values by key.
type Kept<K, V> = RefCell<HashMap<K, V>>;

/// Values a thread keeps in one of its caches before it starts over (a run needs a few dozen).
const KEPT: usize = 4096;

/// `compute(key)`, remembered in this thread's `cache` (cleared when it holds [`KEPT`] values, so nothing grows
/// without bound in a long-lived process).
fn remembered<K: std::hash::Hash + Eq + Copy + 'static, V: Copy + 'static>(
    cache: &'static std::thread::LocalKey<Kept<K, V>>,
    key: K,
    compute: impl FnOnce() -> V,
) -> V {
    cache.with_borrow_mut(|kept| {
        if let Some(&value) = kept.get(&key) {
            return value;
        }
        if kept.len() >= KEPT {
            kept.clear();
        }
        let value = compute();
        kept.insert(key, value);
        value
    })
}

/// [`resolve_local`], remembered: members share a handful of zones and the run's day or two, so each thread
/// resolves each (zone, day, hour) once instead of searching the zone's transitions for every member.
fn resolve_local_cached(tz: &Tz, day: NaiveDate, hour: u32) -> DateTime<Utc> {
    thread_local! {
        static RESOLVED: Kept<(Tz, NaiveDate, u32), DateTime<Utc>> = RefCell::new(HashMap::default());
    }
    remembered(&RESOLVED, (*tz, day, hour), || resolve_local(tz, day, hour))
}

/// A local time on a day, resolved in `tz`: the earliest instant for an ambiguous time (autumn), the first valid
/// instant after a skipped one (spring forward).
fn resolve_local(tz: &Tz, day: NaiveDate, hour: u32) -> DateTime<Utc> {
    let mut local = day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).expect("hour < 24"));
    for _ in 0..4 {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => return earliest.with_timezone(&Utc),
            LocalResult::None => local += Duration::minutes(30),
        }
    }
    tz.from_utc_datetime(&local).with_timezone(&Utc)
}

/// The next window at or after `now` in which a message on `hours` may be sent to someone in `tz`: today's
/// remaining allowed hours if `now` is inside them, else the next day's whole window.
///
/// Remembered per thread: a run decides millions of members at one `now`, in a handful of zones and windows.
pub fn next_window(now: DateTime<Utc>, tz: &Tz, hours: AllowedHours) -> SendWindow {
    thread_local! {
        static WINDOWS: Kept<(DateTime<Utc>, Tz, u32, u32), SendWindow> = RefCell::new(HashMap::default());
    }
    let key = (now, *tz, hours.start_hour, hours.end_hour);
    SendWindow {
        rule: hours.rule,
        ..remembered(&WINDOWS, key, || next_window_at(now, tz, hours))
    }
}

/// [`next_window`], computed.
fn next_window_at(now: DateTime<Utc>, tz: &Tz, hours: AllowedHours) -> SendWindow {
    let local_now = now.with_timezone(tz).naive_local();
    let mut day = local_now.date();
    loop {
        let start = resolve_local_cached(tz, day, hours.start_hour);
        let end = resolve_local_cached(tz, day, hours.end_hour);
        if now < end {
            let utc_start = start.max(now);
            return SendWindow {
                local_start: utc_start.with_timezone(tz).naive_local(),
                local_end: end.with_timezone(tz).naive_local(),
                utc_start,
                utc_end: end,
                rule: hours.rule,
            };
        }
        day = day.succ_opt().expect("dates before year 262143");
    }
}

/// Whether `at` is inside the allowed hours in `tz`.
pub fn is_allowed(at: DateTime<Utc>, tz: &Tz, hours: AllowedHours) -> bool {
    use chrono::Timelike;
    let local = at.with_timezone(tz);
    local.hour() >= hours.start_hour && local.hour() < hours.end_hour
}

/// Parse an IANA zone name (member_profile.time_zone); None when it is not a zone.
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn remembered_windows_are_the_windows_computed() {
        let zones = [
            "America/New_York",
            "America/Phoenix",
            "Europe/Berlin",
            "Australia/Lord_Howe",
        ];
        // Every 17 minutes over two weeks around a daylight-saving change, twice: more windows than a thread
        // keeps, so hits, misses and fresh starts.
        let first = utc(2026, 10, 25, 0, 0);
        for _ in 0..2 {
            for zone in zones {
                let tz = parse_zone(zone).unwrap();
                for step in 0..(14 * 24 * 60 / 17) {
                    let now = first + Duration::minutes(17 * step);
                    for state in [Some("FL"), Some("OK"), None] {
                        let hours = allowed_hours(state);
                        assert_eq!(
                            next_window(now, &tz, hours),
                            next_window_at(now, &tz, hours),
                            "{zone} {now}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn remembered_instants_are_the_instants_resolved() {
        let zones = [
            "America/New_York",
            "America/Phoenix",
            "Pacific/Honolulu",
            "Australia/Lord_Howe",
        ];
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        // More (zone, day, hour) triples than a thread keeps, twice over: hits, misses and fresh starts.
        for _ in 0..2 {
            for zone in zones {
                let tz = parse_zone(zone).unwrap();
                for day in first.iter_days().take(366) {
                    for hour in [0, 2, 8, 21] {
                        assert_eq!(
                            resolve_local_cached(&tz, day, hour),
                            resolve_local(&tz, day, hour)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn stricter_states_end_at_eight() {
        assert_eq!(allowed_hours(Some("FL")).end_hour, 20);
        assert_eq!(allowed_hours(Some(" md ")).rule, "QUIET_HOURS_MD");
        assert_eq!(allowed_hours(Some("NY")).end_hour, 21);
        assert_eq!(allowed_hours(None).rule, "QUIET_HOURS_FEDERAL");
    }

    #[test]
    fn windows_in_local_time() {
        let ny = parse_zone("America/New_York").unwrap();
        // 23:30 UTC on Nov 23 is 18:30 in New York: inside today's window, which ends at 21:00 local.
        let w = next_window(utc(2026, 11, 23, 23, 30), &ny, allowed_hours(Some("NY")));
        assert_eq!(w.utc_start, utc(2026, 11, 23, 23, 30));
        assert_eq!(w.utc_end, utc(2026, 11, 24, 2, 0));
        // Florida ends at 20:00: 01:30 UTC (20:30 local) waits for 08:00 next morning.
        let w = next_window(utc(2026, 11, 24, 1, 30), &ny, allowed_hours(Some("FL")));
        assert_eq!(w.local_start.to_string(), "2026-11-24 08:00:00");
        assert_eq!(w.utc_start, utc(2026, 11, 24, 13, 0));
        // Honolulu is ten hours behind UTC.
        let hi = parse_zone("Pacific/Honolulu").unwrap();
        let w = next_window(utc(2026, 11, 23, 12, 0), &hi, allowed_hours(Some("HI")));
        assert_eq!(w.local_start.to_string(), "2026-11-23 08:00:00");
        assert_eq!(w.utc_start, utc(2026, 11, 23, 18, 0));
        assert!(parse_zone("Mars/Olympus").is_none());
    }

    #[test]
    fn no_window_falls_outside_the_allowed_hours() {
        // Every 17 minutes over two years, in zones with and without daylight saving, federal and state rules.
        let zones = [
            "America/New_York",
            "America/Chicago",
            "America/Phoenix",
            "Pacific/Honolulu",
            "America/Anchorage",
        ];
        for zone in zones {
            let tz = parse_zone(zone).unwrap();
            for state in [Some("FL"), Some("TX"), None] {
                let hours = allowed_hours(state);
                let mut now = utc(2026, 1, 1, 0, 0);
                while now < utc(2028, 1, 1, 0, 0) {
                    let w = next_window(now, &tz, hours);
                    assert!(w.utc_start >= now && w.utc_start < w.utc_end, "{zone} {now}");
                    assert!(
                        is_allowed(w.utc_start, &tz, hours),
                        "{zone} {now} start {}",
                        w.local_start
                    );
                    assert!(
                        is_allowed(w.utc_end - Duration::seconds(1), &tz, hours),
                        "{zone} {now} end"
                    );
                    assert!(
                        w.utc_start - now < Duration::hours(36),
                        "{zone} {now}: window too far"
                    );
                    now += Duration::minutes(17 * 60 + 17);
                }
            }
        }
    }
}
