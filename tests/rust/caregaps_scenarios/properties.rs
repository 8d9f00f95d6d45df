//! Property tests of the care-gap engine over random members: ages, sexes, enrollment histories with gaps,
//! overlaps and product lines, and events drawn from the sample value sets' public codes (screenings, diagnoses,
//! exclusions, results with values, dispensings; a systolic reading brings its diastolic) on random days since
//! 2015 or on a few visit days. proptest shrinks a failure to a minimal member before it reports it.
//!
//! What must hold whatever the member: the rows do not depend on the order events and enrollment spans arrive
//! in (same-day readings and overlapping spans included); events whose codes are in no value set change
//! nothing; a screening in the measurement year closes an open gap and leaves every other status as it was
//! (exclusions and eligibility come first); hospice care in the year excludes every member who is eligible; an
//! open gap is due on December 31 and only an open gap has a due date.

use proptest::prelude::*;

use super::harness::{d, ev, Enr, Ev, Scenario, YEAR};
use _native::caregaps::evaluate::GapRow;
use _native::caregaps::Status;

/// A code of the sample value sets: (system, code, value range of a result).
type PoolCode = (&'static str, &'static str, Option<(f64, f64)>);

/// Codes of the sample value sets a member's history may hold.
const POOL: [PoolCode; 26] = [
    ("CPT", "77067", None),                    // mammography
    ("CPT", "45378", None),                    // colonoscopy
    ("CPT", "82270", None),                    // FOBT
    ("CPT", "81528", None),                    // sDNA FIT
    ("CPT", "45330", None),                    // flexible sigmoidoscopy
    ("CPT", "88141", None),                    // cervical cytology
    ("CPT", "87624", None),                    // high-risk HPV
    ("CPT", "92002", None),                    // retinal eye exam
    ("ICD10CM", "I10", None),                  // essential hypertension
    ("ICD10CM", "E11.9", None),                // diabetes
    ("ICD10CM", "R54", None),                  // frailty
    ("ICD10CM", "F03.90", None),               // advanced illness (dementia)
    ("HCPCS", "G9473", None),                  // hospice
    ("ICD10CM", "Z51.5", None),                // palliative care
    ("ICD10CM", "N18.6", None),                // ESRD
    ("ICD10CM", "C18.0", None),                // colorectal cancer
    ("LOINC", "4548-4", Some((4.5, 13.0))),    // HbA1c
    ("LOINC", "8480-6", Some((95.0, 175.0))),  // systolic
    ("LOINC", "8462-4", Some((55.0, 105.0))),  // diastolic
    ("LOINC", "48642-3", Some((10.0, 120.0))), // eGFR
    ("LOINC", "9318-7", Some((2.0, 400.0))),   // urine albumin-creatinine ratio
    ("NDC", "00071015523", None),              // statin
    ("NDC", "00093104801", None),              // diabetes medication
    ("CPT-II", "3074F", None),                 // systolic < 130
    ("CPT-II", "3080F", None),                 // diastolic >= 90
    ("CPT-II", "2023F", None),                 // eye exam without retinopathy
];

/// Codes in no value set of the sample (checked against the shipped file below).
const NOISE: [(&str, &str); 4] = [
    ("CPT", "99213"),
    ("ICD10CM", "J06.9"),
    ("LOINC", "2345-7"),
    ("NDC", "00002322730"),
];

/// The day `offset` days after 2015-01-01, at most December 31 of the measurement year.
fn day(offset: i64) -> chrono::NaiveDate {
    let last = d(YEAR, 12, 31);
    (d(2015, 1, 1) + chrono::Duration::days(offset)).min(last)
}

const DAYS_SINCE_2015: i64 = 4382;

/// When an event happened: on one of the member's visit days (so same-day readings and same-day services come
/// up often), or on any day.
#[derive(Debug, Clone, Copy)]
enum When {
    Visit(usize),
    Day(i64),
}

/// Visit days per member.
const VISITS: usize = 5;

/// An event, dated once the member's visit days are known: a systolic reading comes with a diastolic one of the
/// same day, as a blood-pressure measurement does.
fn event() -> impl Strategy<Value = (When, Vec<Ev>)> {
    let when = prop_oneof![
        (0..VISITS).prop_map(When::Visit),
        (0..DAYS_SINCE_2015).prop_map(When::Day),
    ];
    // Readings are drawn most often, so members with two readings of one kind on a day come up; exclusions
    // least, so most members stay in the denominators.
    let weight = |code: &str| match code {
        "8480-6" => 8,
        "4548-4" => 5,
        "R54" | "F03.90" | "G9473" | "Z51.5" | "N18.6" | "C18.0" => 1,
        _ => 3,
    };
    let weighted: Vec<usize> = (0..POOL.len())
        .flat_map(|i| std::iter::repeat_n(i, weight(POOL[i].1)))
        .collect();
    (
        prop::sample::select(weighted),
        when,
        (0.0f64..1.0, 0.0f64..1.0),
        prop::sample::select(vec![
            "outpatient",
            "outpatient",
            "outpatient",
            "inpatient",
            "ed",
            "telehealth",
        ]),
        prop::sample::select(vec![30i64, 90]),
    )
        .prop_map(|(i, when, (unit, other_unit), setting, supply)| {
            let drawn = |(system, code, range): (&'static str, &'static str, Option<(f64, f64)>),
                         unit: f64| {
                let mut e = ev(day(0), system, code).setting(setting);
                if let Some((lo, hi)) = range {
                    // Whole readings, so a draw lands on the thresholds (140, 90, 8.0 ...) now and then.
                    e = e.value((lo + unit * (hi - lo)).round());
                }
                if system == "NDC" {
                    e = e.supply(supply);
                }
                e
            };
            let mut events = vec![drawn(POOL[i], unit)];
            if POOL[i].1 == "8480-6" {
                let diastolic = POOL.iter().find(|p| p.1 == "8462-4").expect("in the pool");
                events.push(drawn(*diastolic, other_unit));
            }
            (when, events)
        })
}

fn span() -> impl Strategy<Value = Enr> {
    (
        0..DAYS_SINCE_2015,
        prop::option::weighted(0.7, 1i64..2000),
        prop::sample::select(vec!["commercial", "medicaid", "medicare", "marketplace"]),
        any::<bool>(),
        prop::option::weighted(0.1, Just("I-SNP")),
    )
        .prop_map(|(offset, length, line, pharmacy, snp)| {
            let start = day(offset);
            Enr {
                start,
                end: length.map(|n| start + chrono::Duration::days(n)),
                line,
                pharmacy,
                snp: snp.filter(|_| line == "medicare"),
            }
        })
}

fn member() -> impl Strategy<Value = Scenario> {
    let spans = prop_oneof![
        // Mostly members enrolled for years on one line; the rest with random spans, gaps and overlaps.
        3 => prop::sample::select(vec!["commercial", "medicaid", "medicare"]).prop_map(|line| {
            vec![Enr { start: d(2015, 1, 1), end: None, line, pharmacy: true, snp: None }]
        }),
        1 => prop::collection::vec(span(), 1..4),
    ];
    (
        18i32..=90,
        prop::sample::select(vec!["F", "M"]),
        0u32..365,
        spans,
        prop::collection::vec(event(), 0..25),
        // Visits cluster in the last 500 days, where most measures look.
        prop::array::uniform5(DAYS_SINCE_2015 - 500..DAYS_SINCE_2015),
        // Hypertension and diabetes (two diagnoses each), which put members in CBP and the diabetes measures.
        (prop::bool::weighted(0.4), prop::bool::weighted(0.4)),
    )
        .prop_map(
            |(age, sex, birthday, spans, events, visits, (hypertensive, diabetic))| {
                let birth = d(YEAR - age, 1, 1) + chrono::Duration::days(i64::from(birthday));
                let mut s = Scenario::aged(age, sex).born(birth).enrolled(spans);
                s.events = events
                    .into_iter()
                    .flat_map(|(when, events)| {
                        let date = day(match when {
                            When::Visit(v) => visits[v],
                            When::Day(offset) => offset,
                        });
                        events.into_iter().map(move |e| Ev { date, ..e })
                    })
                    .collect();
                if hypertensive {
                    s = s.hypertensive();
                }
                if diabetic {
                    s = s.diabetic();
                }
                s
            },
        )
}

/// A row as text for comparison: everything but the evidence's position in the evidence store (which is the
/// order events were read in).
fn shown(rows: &[(String, String, GapRow)]) -> Vec<String> {
    rows.iter()
        .map(|(measure, rate, r)| {
            let evidence = r
                .evidence
                .map(|e| (e.date, e.end, e.value_set, e.value.to_bits(), e.days_supply));
            format!(
                "{measure} {rate} {:?} {} [{}] {evidence:?} {:?} {:?} {:?} {:?} {:?} {:?} {}",
                r.status,
                r.reason,
                r.detail,
                r.value.map(f64::to_bits),
                r.due_date,
                r.clinically_due_since,
                r.closed_through,
                r.product_line,
                r.stratum,
                r.age
            )
        })
        .collect()
}

/// The screening each screening measure counts, dated in the middle of the measurement year.
const SCREENINGS: [(&str, &str, &str); 3] = [
    ("BCS-E", "CPT", "77067"),
    ("COL-E", "CPT", "45378"),
    ("CCS-E", "CPT", "88141"),
];

#[test]
fn the_noise_codes_are_in_no_sample_value_set() {
    let sample = include_str!("../../../src/caregaps/sample_value_sets.csv");
    for (_, code) in NOISE {
        assert!(!sample.contains(&format!(",{code},")), "{code} is in the sample");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn rows_do_not_depend_on_the_order_of_events_and_spans_or_on_codes_in_no_value_set(
        (m, events, spans) in member().prop_flat_map(|m| {
            let (events, spans) = (m.events.clone(), m.spans.clone());
            (Just(m), Just(events).prop_shuffle(), Just(spans).prop_shuffle())
        }),
        noise in prop::collection::vec((0..NOISE.len(), 0..DAYS_SINCE_2015), 0..6),
    ) {
        let rows = shown(&m.run_all());
        // The same events and spans in another order.
        let mut reordered = m.clone();
        (reordered.events, reordered.spans) = (events, spans);
        prop_assert_eq!(&shown(&reordered.run_all()), &rows);
        let mut noisy = m.clone();
        for (i, offset) in noise {
            let (system, code) = NOISE[i];
            noisy.events.push(ev(day(offset), system, code));
        }
        prop_assert_eq!(&shown(&noisy.run_all()), &rows);
    }

    #[test]
    fn a_screening_in_the_year_closes_an_open_gap_and_changes_no_other_status(m in member()) {
        let before = m.run_all();
        for (measure, system, code) in SCREENINGS {
            let screened = m.clone().with(ev(d(YEAR, 6, 15), system, code));
            let after: Vec<_> = screened.run_all().into_iter().filter(|(id, ..)| id == measure).collect();
            let was: Vec<_> = before.iter().filter(|(id, ..)| id == measure).collect();
            prop_assert_eq!(after.len(), was.len(), "{} rows", measure);
            for ((_, rate, old), (_, _, new)) in was.iter().zip(&after) {
                let expected = match old.status {
                    Status::Open => Status::Closed,
                    other => other,
                };
                prop_assert_eq!(new.status, expected, "{} {}: {} -> {}", measure, rate, old.reason, new.reason);
            }
        }
    }

    #[test]
    fn hospice_in_the_year_excludes_every_member_the_measures_cover(m in member()) {
        let before = m.run_all();
        let after = m.clone().with(ev(d(YEAR, 6, 15), "HCPCS", "G9473")).run_all();
        prop_assert_eq!(after.len(), before.len());
        for ((measure, rate, old), (_, _, new)) in before.iter().zip(&after) {
            // Eligibility (enrollment, product line) comes before exclusions; everyone eligible is excluded.
            let eligible = !matches!(old.reason.as_str(), "not_continuously_enrolled" | "product_line_not_reported");
            let expected = if eligible { Status::Excluded } else { old.status };
            prop_assert_eq!(new.status, expected, "{} {}: {} -> {}", measure, rate, old.reason, new.reason);
        }
    }

    #[test]
    fn only_an_open_gap_has_a_due_date_and_it_is_the_end_of_the_year(m in member()) {
        let mp_end = _native::model::values::date_to_days(d(YEAR, 12, 31));
        for (measure, rate, r) in m.run_all() {
            prop_assert!(!r.reason.is_empty());
            match r.status {
                Status::Open => prop_assert_eq!(r.due_date, Some(mp_end), "{} {}", measure, rate),
                _ => prop_assert_eq!(r.due_date, None, "{} {}", measure, rate),
            }
            if r.status != Status::Closed {
                prop_assert_eq!(r.closed_through, None, "{} {}", measure, rate);
            }
        }
    }
}
