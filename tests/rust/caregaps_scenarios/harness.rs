//! A small harness for named care-gap scenarios: one member, their enrollment and events, the built-in measures
//! and the shipped sample value sets; run the engine and read back one measure's rows.

#![allow(dead_code)]

use std::sync::OnceLock;

use _native::caregaps::evaluate::{evaluate_member, EngineCounts, GapRow, Status};
use _native::caregaps::{MeasureSet, MemberDataBuilder, ValueSetDirectory};
use _native::lake::RowNumbers;
use _native::model::{self, BatchBuilder};
use chrono::NaiveDate;

/// The measurement year of every scenario.
pub const YEAR: i32 = 2026;

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn fixtures() -> &'static (ValueSetDirectory, MeasureSet) {
    static F: OnceLock<(ValueSetDirectory, MeasureSet)> = OnceLock::new();
    F.get_or_init(|| {
        let dir = ValueSetDirectory::sample().unwrap();
        let measures = MeasureSet::load(&dir, None, &[]).unwrap();
        (dir, measures)
    })
}

/// One event of a scenario.
#[derive(Clone, Debug)]
pub struct Ev {
    pub date: NaiveDate,
    pub end: Option<NaiveDate>,
    pub system: &'static str,
    pub code: &'static str,
    pub modifier: Option<&'static str>,
    pub value: Option<f64>,
    pub taxonomy: Option<&'static str>,
    pub setting: &'static str,
    pub days_supply: Option<i64>,
}

pub fn ev(date: NaiveDate, system: &'static str, code: &'static str) -> Ev {
    Ev {
        date,
        end: None,
        system,
        code,
        modifier: None,
        value: None,
        taxonomy: None,
        setting: "outpatient",
        days_supply: None,
    }
}

impl Ev {
    pub fn modifier(mut self, m: &'static str) -> Self {
        self.modifier = Some(m);
        self
    }
    pub fn value(mut self, v: f64) -> Self {
        self.value = Some(v);
        self
    }
    pub fn taxonomy(mut self, t: &'static str) -> Self {
        self.taxonomy = Some(t);
        self
    }
    pub fn setting(mut self, s: &'static str) -> Self {
        self.setting = s;
        self
    }
    pub fn supply(mut self, days: i64) -> Self {
        self.days_supply = Some(days);
        self
    }
    pub fn until(mut self, end: NaiveDate) -> Self {
        self.end = Some(end);
        self
    }
}

/// One enrollment span.
#[derive(Clone, Debug)]
pub struct Enr {
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub line: &'static str,
    pub pharmacy: bool,
    pub snp: Option<&'static str>,
}

pub fn enr(start: NaiveDate, end: Option<NaiveDate>) -> Enr {
    Enr {
        start,
        end,
        line: "commercial",
        pharmacy: true,
        snp: None,
    }
}

/// A member in a scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub birth: NaiveDate,
    pub sex: &'static str,
    pub deceased: Option<NaiveDate>,
    pub spans: Vec<Enr>,
    pub events: Vec<Ev>,
}

impl Scenario {
    /// Someone of `age` at Dec 31 of the MP (born Jul 1), enrolled since years before, with no events.
    pub fn aged(age: i32, sex: &'static str) -> Self {
        Scenario {
            birth: d(YEAR - age, 7, 1),
            sex,
            deceased: None,
            spans: vec![enr(d(2015, 1, 1), None)],
            events: Vec::new(),
        }
    }
    pub fn born(mut self, birth: NaiveDate) -> Self {
        self.birth = birth;
        self
    }
    pub fn with(mut self, e: Ev) -> Self {
        self.events.push(e);
        self
    }
    pub fn enrolled(mut self, spans: Vec<Enr>) -> Self {
        self.spans = spans;
        self
    }
    pub fn line(mut self, line: &'static str) -> Self {
        for s in &mut self.spans {
            s.line = line;
        }
        self
    }
    pub fn died(mut self, on: NaiveDate) -> Self {
        self.deceased = Some(on);
        self
    }
    pub fn diabetic(self) -> Self {
        self.with(ev(d(YEAR, 2, 1), "ICD10CM", "E11.9"))
            .with(ev(d(YEAR, 5, 1), "ICD10CM", "E119"))
    }
    pub fn hypertensive(self) -> Self {
        self.with(ev(d(YEAR - 1, 9, 1), "ICD10CM", "I10"))
            .with(ev(d(YEAR, 3, 1), "ICD10CM", "I10"))
    }

    /// Rows of one measure: (rate, status, reason, row).
    pub fn run(&self, measure: &str) -> Vec<(String, Status, String, GapRow)> {
        // A misspelt measure would otherwise pass every "no row" expectation.
        assert!(
            fixtures().1.measures.iter().any(|m| m.id == measure),
            "measure {measure} is not defined"
        );
        self.run_all()
            .into_iter()
            .filter(|(m, ..)| m == measure)
            .map(|(_, rate, row)| (rate, row.status, row.reason.clone(), row))
            .collect()
    }

    /// Rows of every measure, in the measures' order: (measure, rate, row).
    pub fn run_all(&self) -> Vec<(String, String, GapRow)> {
        let (dir, measures) = fixtures();
        let as_of = d(YEAR, 12, 31);
        let mut b = MemberDataBuilder::new(dir, measures, as_of);
        let person = super::common::one_person_record("ehr", "1", self.birth, Some(self.sex), self.deceased);
        b.add_person_records(&person).unwrap();
        let spec = model::enrollment();
        let mut e = BatchBuilder::new(&spec, self.spans.len());
        for s in &self.spans {
            e.text(Some("ehr"))
                .text(Some("1"))
                .text(None)
                .date(Some(s.start))
                .date(s.end)
                .text(Some(s.line))
                .text(Some("P1"))
                .boolean(Some(true))
                .boolean(Some(s.pharmacy))
                .text(s.snp)
                .boolean(None);
            e.end_row();
        }
        let bad = b.add_enrollment(&e.finish().unwrap(), 0).unwrap();
        assert!(bad.is_empty(), "enrollment rows quarantined");
        let spec = model::clinical_events();
        let mut c = BatchBuilder::new(&spec, self.events.len());
        for x in &self.events {
            c.text(Some("ehr"))
                .text(Some("1"))
                .text(None)
                .date(Some(x.date))
                .date(x.end)
                .text(Some(x.system))
                .text(Some(x.code))
                .text(x.modifier)
                .float(x.value)
                .text(None)
                .text(x.taxonomy)
                .text(Some(x.setting))
                .integer(x.days_supply)
                .text(Some("CL1"))
                .text(Some("claim"));
            c.end_row();
        }
        let bad = b
            .add_events(&[(c.finish().unwrap(), RowNumbers::From(0))])
            .unwrap();
        assert!(
            bad.is_empty(),
            "events quarantined: {:?}",
            bad.iter().map(|q| q.reason).collect::<Vec<_>>()
        );
        let data = b.finish();
        let mut rows = Vec::new();
        let mut counts = EngineCounts::default();
        evaluate_member(measures, &data, 0, YEAR, &mut rows, &mut counts);
        rows.into_iter()
            .map(|r| {
                let m = &measures.measures[r.measure as usize];
                (m.id.clone(), m.rates[r.rate as usize].id.clone(), r)
            })
            .collect()
    }

    /// The status of the measure's only (or named) rate; None when the member has no row.
    pub fn status(&self, measure: &str, rate: &str) -> Option<(Status, String)> {
        self.run(measure)
            .into_iter()
            .find(|(r, ..)| r == rate)
            .map(|(_, s, reason, _)| (s, reason))
    }
}

/// Assert a status and reason for a measure's rate.
#[track_caller]
pub fn expect(s: &Scenario, measure: &str, rate: &str, status: Status, reason: &str) {
    let got = s.status(measure, rate);
    assert_eq!(
        got,
        Some((status, reason.to_string())),
        "{measure} {rate}: expected {status:?} ({reason}), got {got:?}"
    );
}

/// Assert that the member has no row for the measure (outside the age/sex band or without the condition).
#[track_caller]
pub fn expect_no_row(s: &Scenario, measure: &str) {
    let rows = s.run(measure);
    assert!(
        rows.is_empty(),
        "{measure}: expected no row, got {:?}",
        rows.iter().map(|r| (&r.0, r.1)).collect::<Vec<_>>()
    );
}
