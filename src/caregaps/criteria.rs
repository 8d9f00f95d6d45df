//! The criteria language of measure definitions, compiled against a value-set directory (by
//! [`super::compile`]) and evaluated over one member's sorted events.
//!
//! A criterion is a YAML mapping of one of these forms:
//! - `{events: [value set, ...], from: MP-9:01-01, to: MP:12-31, min_count: 2, settings: [...],
//!   not_settings: [...], taxonomies: [...], modifiers: [...], min_age_at_event: 21, with_value: true,
//!   arm: colonoscopy}`: events of those value sets in the window (an event with a date range counts when the
//!   range overlaps the window); with `min_count` > 1, on that many different dates;
//! - `{any: [criteria]}`, `{all: [criteria]}`, `{not: criterion}`;
//! - `{ref: name}`: a named criterion from a definitions file;
//! - `{age: [min, max]}`: age at the end of the MP;
//! - `{institutional: true}`: Medicare I-SNP or long-term institution during the MP;
//! - `{deceased: true}`: died on or before the MP's end;
//! - `{paired: {first: events, second: events, max_days: 4}}`: an event of each within N days of each other.
//!
//! Evaluation returns a [`Hit`]: the date the criterion was met, the latest event behind it (the evidence), and
//! when it expires (the last day of the last MP in which that event still counts), which gives due dates.

use super::definition::DateRef;
use super::events::{MemberEvent, ValueSetId};
use crate::model::values::{date_of_days, days_of_date, days_to_date};

/// A set of value-set ids, as bits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueSetMask(Vec<u64>);

impl ValueSetMask {
    /// Add an id.
    pub fn insert(&mut self, id: ValueSetId) {
        let (word, bit) = (id as usize / 64, id % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    /// Whether the id is in the set.
    #[inline]
    pub fn contains(&self, id: ValueSetId) -> bool {
        self.0
            .get(id as usize / 64)
            .is_some_and(|w| (w >> (id % 64)) & 1 == 1)
    }
}

/// Events of some value sets in a window, with optional filters.
#[derive(Debug, Clone)]
pub struct EventFilter {
    /// The value sets.
    pub value_sets: ValueSetMask,
    /// Names of the value sets (for reasons).
    pub names: Vec<String>,
    /// Window start.
    pub from: DateRef,
    /// Window end.
    pub to: DateRef,
    /// Events needed, on different dates.
    pub min_count: u32,
    /// Only these settings (empty: any).
    pub settings: Vec<u16>,
    /// Not these settings.
    pub not_settings: Vec<u16>,
    /// Only these provider taxonomies (empty: any).
    pub taxonomies: Vec<u16>,
    /// Only with one of these modifiers (empty: any).
    pub modifiers: Vec<u16>,
    /// Least age on the event date.
    pub min_age_at_event: Option<i32>,
    /// Only events with a numeric value.
    pub with_value: bool,
    /// Name of the numerator arm (evidence label).
    pub arm: Option<String>,
}

/// A compiled criterion.
#[derive(Debug, Clone)]
pub enum Criterion {
    /// Events in a window.
    Events(EventFilter),
    /// Any one applies (the one that lasts longest is the evidence).
    Any(Vec<Criterion>),
    /// All apply.
    All(Vec<Criterion>),
    /// Does not apply.
    Not(Box<Criterion>),
    /// Age at the end of the MP.
    Age(i32, i32),
    /// I-SNP or long-term institution during the MP.
    Institutional,
    /// Died on or before the end of the MP.
    Deceased,
    /// An event of each filter, at most `max_days` apart.
    Paired(Box<EventFilter>, Box<EventFilter>, i32),
}

/// What a criterion is evaluated against: one member in one measurement period.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The member's events, sorted by date.
    pub events: &'a [MemberEvent],
    /// Measurement year.
    pub year: i32,
    /// Age at the end of the MP.
    pub age: i32,
    /// Birth date (days), if known.
    pub birth: Option<i32>,
    /// Death date (days), if any.
    pub deceased: Option<i32>,
    /// I-SNP or long-term institution in the MP.
    pub institutional: bool,
    /// The day the denominator condition was met, once known.
    pub denominator_date: Option<i32>,
}

/// A criterion that is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The day it was met (for `min_count` > 1, the day of the last event needed).
    pub date: i32,
    /// Index (in the subject's events) of the latest qualifying event, when events are behind it.
    pub event: Option<u32>,
    /// Last day it still counts (end of the last MP whose window holds the event); None: never expires.
    pub expiry: Option<i32>,
}

/// The day number of a date, the largest for no date (a window's end that cannot be met, a year outside the
/// calendar).
pub(super) fn ymd_days(year: i32, month: u32, day: u32) -> i32 {
    days_of_date(year, month, day).unwrap_or(i32::MAX)
}

/// Day number of a date reference for a subject (`Any` is the smallest day; an unmet `Denominator` the largest).
pub fn resolve(r: DateRef, s: &Subject<'_>) -> i32 {
    match r {
        DateRef::Any => i32::MIN,
        DateRef::Mp { years, month, day } => ymd_days(s.year + years, month, day),
        DateRef::Denominator => s.denominator_date.unwrap_or(i32::MAX),
    }
}

/// The last day an event on `date` counts for a window starting at `from`: Dec 31 of the last MP whose window
/// still holds it (a mammogram in Oct-Dec of Y lasts through Y+2, one in Jan-Sep through Y+1).
pub fn expiry(from: DateRef, date: i32, year: i32) -> Option<i32> {
    match from {
        DateRef::Any => None,
        DateRef::Denominator => Some(ymd_days(year, 12, 31)),
        DateRef::Mp { years, month, day } => {
            let (event_year, event_month, event_day) = date_of_days(date)?;
            let last_year = if (event_month, event_day) >= (month, day) {
                event_year - years
            } else {
                event_year - years - 1
            };
            Some(ymd_days(last_year, 12, 31))
        }
    }
}

fn later_expiry(a: Option<i32>, b: Option<i32>) -> Option<i32> {
    match (a, b) {
        (None, _) | (_, None) => None,
        (Some(x), Some(y)) => Some(x.max(y)),
    }
}

fn earlier_expiry(a: Option<i32>, b: Option<i32>) -> Option<i32> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => Some(x.min(y)),
    }
}

impl EventFilter {
    #[inline]
    fn matches(&self, e: &MemberEvent, s: &Subject<'_>) -> bool {
        self.value_sets.contains(e.value_set)
            && (self.settings.is_empty() || self.settings.contains(&e.setting))
            && !self.not_settings.contains(&e.setting)
            && (self.taxonomies.is_empty() || self.taxonomies.contains(&e.taxonomy))
            && (self.modifiers.is_empty() || self.modifiers.contains(&e.modifier))
            && (!self.with_value || e.has_value())
            && self.min_age_at_event.is_none_or(|min| {
                s.birth
                    .and_then(days_to_date)
                    .zip(days_to_date(e.date))
                    .is_some_and(|(b, d)| age_on(b, d) >= min)
            })
    }

    /// Events that match, inside the window, in date order (indices into the subject's events).
    fn in_window<'s>(&'s self, s: &'s Subject<'_>) -> impl Iterator<Item = usize> + 's {
        let (from, to) = (resolve(self.from, s), resolve(self.to, s));
        s.events
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.end >= from && e.date <= to && self.matches(e, s))
            .map(|(i, _)| i)
    }

    fn evaluate(&self, s: &Subject<'_>) -> Option<Hit> {
        let mut dates = 0u32;
        let mut last_date = i32::MIN;
        let mut met_on = None;
        let mut latest = None;
        for i in self.in_window(s) {
            let d = s.events[i].date;
            if d != last_date {
                dates += 1;
                last_date = d;
            }
            if dates >= self.min_count && met_on.is_none() {
                met_on = Some(d);
            }
            latest = Some(i);
        }
        let (date, latest) = (met_on?, latest?);
        Some(Hit {
            date,
            event: Some(latest as u32),
            expiry: expiry(self.from, s.events[latest].date, s.year),
        })
    }

    /// The latest matching event before the window (an expired service) and when it expired.
    fn lapsed(&self, s: &Subject<'_>) -> Option<(u32, i32)> {
        let from = resolve(self.from, s);
        if from == i32::MIN || self.min_count > 1 {
            return None;
        }
        let i = s
            .events
            .iter()
            .rposition(|e| e.end < from && self.matches(e, s))?;
        Some((i as u32, expiry(self.from, s.events[i].date, s.year)?))
    }
}

/// Whole years between two dates.
pub fn age_on(birth: chrono::NaiveDate, on: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

impl Criterion {
    /// Evaluate for one subject.
    pub fn evaluate(&self, s: &Subject<'_>) -> Option<Hit> {
        // Only the arms without events of their own need the end of the measurement period.
        let mp_end = || ymd_days(s.year, 12, 31);
        let plain = |date| {
            Some(Hit {
                date,
                event: None,
                expiry: None,
            })
        };
        match self {
            Criterion::Events(f) => f.evaluate(s),
            Criterion::Any(children) => {
                let mut best: Option<Hit> = None;
                for hit in children.iter().filter_map(|c| c.evaluate(s)) {
                    best = Some(match best {
                        None => hit,
                        Some(b) => {
                            let longer = later_expiry(hit.expiry, b.expiry) == hit.expiry
                                && (hit.expiry != b.expiry || hit.date > b.date);
                            if longer {
                                hit
                            } else {
                                b
                            }
                        }
                    });
                }
                best
            }
            Criterion::All(children) => {
                let mut out: Option<Hit> = None;
                for c in children {
                    let hit = c.evaluate(s)?;
                    out = Some(match out {
                        None => hit,
                        Some(o) => Hit {
                            date: o.date.max(hit.date),
                            event: if hit.date >= o.date {
                                hit.event.or(o.event)
                            } else {
                                o.event.or(hit.event)
                            },
                            expiry: earlier_expiry(o.expiry, hit.expiry),
                        },
                    });
                }
                out
            }
            Criterion::Not(inner) => match inner.evaluate(s) {
                Some(_) => None,
                None => plain(mp_end()),
            },
            Criterion::Age(min, max) => (s.age >= *min && s.age <= *max)
                .then(|| plain(mp_end()))
                .flatten(),
            Criterion::Institutional => s.institutional.then(|| plain(mp_end())).flatten(),
            Criterion::Deceased => s.deceased.filter(|d| *d <= mp_end()).and_then(plain),
            Criterion::Paired(a, b, max_days) => {
                let firsts: Vec<usize> = a.in_window(s).collect();
                let mut best: Option<(usize, usize)> = None;
                for j in b.in_window(s) {
                    let dj = s.events[j].date;
                    for &i in &firsts {
                        if (s.events[i].date - dj).abs() <= *max_days {
                            let later = if s.events[i].date >= dj { i } else { j };
                            if best.is_none_or(|(_, l)| s.events[later].date >= s.events[l].date) {
                                best = Some((i.min(j), later));
                            }
                        }
                    }
                }
                let (_, latest) = best?;
                Some(Hit {
                    date: s.events[latest].date,
                    event: Some(latest as u32),
                    expiry: earlier_expiry(
                        expiry(a.from, s.events[latest].date, s.year),
                        expiry(b.from, s.events[latest].date, s.year),
                    ),
                })
            }
        }
    }

    /// For a criterion that is not met: the most recent service that once met it and has expired, with the
    /// day it expired (for `clinically_due_since`).
    pub fn lapsed(&self, s: &Subject<'_>) -> Option<(u32, i32)> {
        match self {
            Criterion::Events(f) => f.lapsed(s),
            Criterion::Any(children) => children
                .iter()
                .filter_map(|c| c.lapsed(s))
                .max_by_key(|(_, expired)| *expired),
            // An arm with conditions (e.g. age 30+ for hrHPV): lapsed when the conditions still hold.
            Criterion::All(children) => {
                let services = |c: &&Criterion| matches!(c, Criterion::Events(_) | Criterion::Any(_));
                if children
                    .iter()
                    .filter(|c| !services(c))
                    .all(|c| c.evaluate(s).is_some())
                {
                    children
                        .iter()
                        .filter(services)
                        .filter_map(|c| c.lapsed(s))
                        .max_by_key(|(_, expired)| *expired)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The numerator arm that a hit came from (the `arm` label of the leaf behind the evidence event).
    pub fn arm_of(&self, s: &Subject<'_>, hit: &Hit) -> Option<String> {
        let event = s.events.get(hit.event? as usize)?;
        self.leaves()
            .into_iter()
            .find(|f| {
                f.arm.is_some()
                    && f.matches(event, s)
                    && event.end >= resolve(f.from, s)
                    && event.date <= resolve(f.to, s)
            })
            .and_then(|f| f.arm.clone())
    }

    fn leaves(&self) -> Vec<&EventFilter> {
        match self {
            Criterion::Events(f) => vec![f],
            Criterion::Any(c) | Criterion::All(c) => c.iter().flat_map(Criterion::leaves).collect(),
            Criterion::Not(c) => c.leaves(),
            Criterion::Paired(a, b, _) => vec![a, b],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_follows_the_window_start() {
        let d = |y, m, dd| ymd_days(y, m, dd);
        let bcs = DateRef::Mp {
            years: -2,
            month: 10,
            day: 1,
        };
        // A mammogram in Oct-Dec of Y lasts through Y+2; in Jan-Sep through Y+1.
        assert_eq!(expiry(bcs, d(2024, 10, 1), 2026), Some(d(2026, 12, 31)));
        assert_eq!(expiry(bcs, d(2024, 9, 30), 2026), Some(d(2025, 12, 31)));
        let colonoscopy = DateRef::Mp {
            years: -9,
            month: 1,
            day: 1,
        };
        assert_eq!(expiry(colonoscopy, d(2017, 1, 1), 2026), Some(d(2026, 12, 31)));
        assert_eq!(expiry(DateRef::Any, d(2017, 1, 1), 2026), None);
    }
}
