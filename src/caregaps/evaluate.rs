//! The care-gap engine: every measure for each member in one pass over the member's sorted events, members in
//! parallel chunks.
//!
//! For one member and measure: age and sex band; denominator condition (diabetes, hypertension); continuous
//! enrollment and product line; exclusions in order; then each rate (numerator criteria, most recent result,
//! or proportion of days covered). A member outside the age/sex band or without the denominator condition gets
//! no row; one inside it gets a row per rate with status open, closed, excluded or not_applicable.

use rayon::prelude::*;

use super::criteria::{age_on, resolve, ymd_days, Hit, Subject};
use super::definition::DateRef;
use super::enrollment::{institutional, latest_product_line, ProductLine, Span};
use super::events::{EvidenceStore, MemberEvent};
use super::measures::{Measure, MeasureSet, RateKind, ResultComponent, SexRule};
use crate::by_member::ByMember;
use crate::model::values::days_to_date;
use crate::pipeline::progress::Progress;

/// Gap status of a member for one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// In the denominator, numerator not met.
    Open,
    /// Numerator met.
    Closed,
    /// Denominator exclusion applies.
    Excluded,
    /// In the age/sex band (and denominator condition) but not in the measure's denominator.
    NotApplicable,
}

impl Status {
    /// The value written to `care_gaps.status`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
            Status::Excluded => "excluded",
            Status::NotApplicable => "not_applicable",
        }
    }
}

/// Everything the engine needs about the members, indexed by member number.
#[derive(Debug, Default)]
pub struct MemberData {
    /// carelake member ids.
    pub member_ids: Vec<String>,
    /// Birth dates (days).
    pub birth: Vec<Option<i32>>,
    /// Administrative sex: b'F', b'M', or 0 unknown.
    pub sex: Vec<u8>,
    /// Death dates (days).
    pub deceased: Vec<Option<i32>>,
    /// Matched events of each member, sorted by date.
    pub events: ByMember<MemberEvent>,
    /// Enrollment spans of each member, sorted by start.
    pub spans: ByMember<Span>,
    /// Details of matched events.
    pub evidence: EvidenceStore,
}

impl MemberData {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.member_ids.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.member_ids.is_empty()
    }
}

/// One output row: a member's status for one rate of one measure.
#[derive(Debug, Clone, PartialEq)]
pub struct GapRow {
    /// Member number.
    pub member: u32,
    /// Index of the measure in the [`MeasureSet`].
    pub measure: u16,
    /// Index of the rate in the measure.
    pub rate: u16,
    /// Product line (on the anchor date, else the latest).
    pub product_line: Option<ProductLine>,
    /// Index of the stratum in the measure, if the member's age falls in one.
    pub stratum: Option<u16>,
    /// Age at the end of the MP.
    pub age: i32,
    /// Status.
    pub status: Status,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable detail (rules and counts, never patient values).
    pub detail: String,
    /// The event behind the status, when there is one.
    pub evidence: Option<MemberEvent>,
    /// Value shown with the evidence (the result, or the proportion of days covered).
    pub value: Option<f64>,
    /// Day by which an open gap must close to count this MP.
    pub due_date: Option<i32>,
    /// Day since which the member is clinically due (the last qualifying service expired the day before).
    pub clinically_due_since: Option<i32>,
    /// Last day a closing service keeps the gap closed (None when it never expires or the gap is not closed).
    pub closed_through: Option<i32>,
}

/// Counts of what the engine skipped, for the run report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineCounts {
    /// Members without a birth date (cannot be placed in any age band).
    pub members_without_birth_date: u64,
    /// Members without an F/M sex (not placed in sex-specific measures).
    pub members_without_sex: u64,
}

/// Evaluate every measure for every member of `data` for measurement year `year`.
pub fn evaluate_all(
    measures: &MeasureSet,
    data: &MemberData,
    year: i32,
    progress: &dyn Progress,
) -> (Vec<GapRow>, EngineCounts) {
    const CHUNK: usize = 4096;
    progress.start("caregaps.members", data.len() as u64);
    let chunks: Vec<(Vec<GapRow>, EngineCounts)> = (0..data.len())
        .collect::<Vec<_>>()
        .par_chunks(CHUNK)
        .map(|members| {
            let mut rows = Vec::new();
            let mut counts = EngineCounts::default();
            for &m in members {
                evaluate_member(measures, data, m, year, &mut rows, &mut counts);
            }
            progress.advance(members.len() as u64);
            (rows, counts)
        })
        .collect();
    progress.finish();
    let mut counts = EngineCounts::default();
    let mut rows = Vec::with_capacity(chunks.iter().map(|(r, _)| r.len()).sum());
    for (r, c) in chunks {
        rows.extend(r);
        counts.members_without_birth_date += c.members_without_birth_date;
        counts.members_without_sex += c.members_without_sex;
    }
    (rows, counts)
}

/// Evaluate all measures for member `m`, appending rows.
pub fn evaluate_member(
    measures: &MeasureSet,
    data: &MemberData,
    m: usize,
    year: i32,
    rows: &mut Vec<GapRow>,
    counts: &mut EngineCounts,
) {
    let (mp_start, mp_end) = (ymd_days(year, 1, 1), ymd_days(year, 12, 31));
    let Some(birth) = data.birth[m] else {
        counts.members_without_birth_date += 1;
        return;
    };
    let age = match (days_to_date(birth), days_to_date(mp_end)) {
        (Some(b), Some(e)) => age_on(b, e),
        _ => {
            counts.members_without_birth_date += 1;
            return;
        }
    };
    let (events, spans) = (data.events.of(m as u32), data.spans.of(m as u32));
    let sex = data.sex[m];
    if sex == 0 {
        counts.members_without_sex += 1;
    }
    let base = Subject {
        events,
        year,
        age,
        birth: Some(birth),
        deceased: data.deceased[m],
        institutional: institutional(spans, mp_start, mp_end),
        denominator_date: None,
    };
    for (mi, measure) in measures.measures.iter().enumerate() {
        if age < measure.age.0 || age > measure.age.1 {
            continue;
        }
        let sex_ok = match measure.sex {
            SexRule::Any => true,
            SexRule::Female => sex == b'F',
            SexRule::Male => sex == b'M',
        };
        if !sex_ok {
            continue;
        }
        let mut subject = base;
        if let Some(denominator) = &measure.denominator {
            match denominator.evaluate(&subject) {
                Some(hit) => subject.denominator_date = Some(hit.date),
                None => continue,
            }
        }
        evaluate_measure(measure, mi as u16, m as u32, &subject, spans, rows);
    }
}

fn evaluate_measure(
    measure: &Measure,
    mi: u16,
    member: u32,
    s: &Subject<'_>,
    spans: &[Span],
    rows: &mut Vec<GapRow>,
) {
    let mp_end = ymd_days(s.year, 12, 31);
    let stratum = measure
        .strata
        .iter()
        .position(|(_, lo, hi)| s.age >= *lo && s.age <= *hi)
        .map(|i| i as u16);
    let row = |rate: usize, status: Status, reason: &str, detail: String| GapRow {
        member,
        measure: mi,
        rate: rate as u16,
        product_line: None,
        stratum,
        age: s.age,
        status,
        reason: reason.to_string(),
        detail,
        evidence: None,
        value: None,
        due_date: None,
        clinically_due_since: None,
        closed_through: None,
    };
    let product_line = match measure.enrollment.check(spans, s) {
        Ok(line) => line,
        Err(why) => {
            for r in 0..measure.rates.len() {
                let mut out = row(r, Status::NotApplicable, "not_continuously_enrolled", why.clone());
                out.product_line = latest_product_line(spans, mp_end);
                rows.push(out);
            }
            return;
        }
    };
    if !measure.product_lines.contains(&product_line) {
        for r in 0..measure.rates.len() {
            let mut out = row(
                r,
                Status::NotApplicable,
                "product_line_not_reported",
                format!("the measure is not reported for {}", product_line.name()),
            );
            out.product_line = Some(product_line);
            rows.push(out);
        }
        return;
    }
    for (reason, when) in &measure.exclusions {
        if let Some(hit) = when.evaluate(s) {
            for r in 0..measure.rates.len() {
                let mut out = row(
                    r,
                    Status::Excluded,
                    reason,
                    format!("denominator exclusion: {reason}"),
                );
                out.product_line = Some(product_line);
                out.evidence = hit.event.map(|e| s.events[e as usize]);
                out.value = out.evidence.filter(MemberEvent::has_value).map(|e| e.value);
                rows.push(out);
            }
            return;
        }
    }
    let first = rows.len();
    for (ri, rate) in measure.rates.iter().enumerate() {
        if let Some(required) = rate.requires {
            let status = rows[first + required].status;
            if status != Status::Closed {
                let mut out = row(
                    ri,
                    Status::NotApplicable,
                    "requires_other_rate",
                    format!(
                        "in this rate only when '{}' is closed",
                        measure.rates[required].id
                    ),
                );
                out.product_line = Some(product_line);
                rows.push(out);
                continue;
            }
        }
        let mut out = match &rate.kind {
            RateKind::Numerator(criterion) => numerator_row(criterion, s, ri, &row),
            RateKind::Result {
                from,
                not_settings,
                components,
            } => result_row(*from, not_settings, components, s, ri, &row),
            RateKind::Adherence { medications, min_pdc } => adherence_row(medications, *min_pdc, s, ri, &row),
        };
        out.product_line = Some(product_line);
        if out.status == Status::Open {
            out.due_date = Some(mp_end);
        }
        rows.push(out);
    }
}

type RowFn<'a> = dyn Fn(usize, Status, &str, String) -> GapRow + 'a;

fn numerator_row(
    criterion: &super::criteria::Criterion,
    s: &Subject<'_>,
    ri: usize,
    row: &RowFn<'_>,
) -> GapRow {
    match criterion.evaluate(s) {
        Some(hit) => {
            let arm = criterion.arm_of(s, &hit).unwrap_or_else(|| "numerator".into());
            let mut out = row(ri, Status::Closed, &arm, format!("numerator met: {arm}"));
            set_evidence(&mut out, s, &hit);
            out.closed_through = hit.expiry;
            out
        }
        None => match criterion.lapsed(s) {
            Some((event, expired)) => {
                let mut out = row(
                    ri,
                    Status::Open,
                    "service_expired",
                    "the last qualifying service is outside its look-back window".into(),
                );
                out.evidence = Some(s.events[event as usize]);
                out.clinically_due_since = Some(expired + 1);
                out
            }
            None => row(
                ri,
                Status::Open,
                "no_service",
                "no qualifying service in the look-back window".into(),
            ),
        },
    }
}

fn set_evidence(out: &mut GapRow, s: &Subject<'_>, hit: &Hit) {
    out.evidence = hit.event.map(|e| s.events[e as usize]);
    out.value = out.evidence.filter(MemberEvent::has_value).map(|e| e.value);
}

/// The most recent result date that has every component, and whether each component is in range there.
fn result_row(
    from: DateRef,
    not_settings: &[u16],
    components: &[ResultComponent],
    s: &Subject<'_>,
    ri: usize,
    row: &RowFn<'_>,
) -> GapRow {
    let (start, end) = (
        resolve(from, s).max(ymd_days(s.year, 1, 1)),
        ymd_days(s.year, 12, 31),
    );
    let counts = |e: &MemberEvent| {
        let d = e.result_date();
        d >= start && d <= end && !not_settings.contains(&e.setting)
    };
    let relevant = |e: &MemberEvent, c: &ResultComponent| {
        (c.values.contains(e.value_set) && e.has_value())
            || c.pass_codes.contains(e.value_set)
            || c.fail_codes.contains(e.value_set)
    };
    // Candidate dates, latest first.
    let mut dates: Vec<i32> = s
        .events
        .iter()
        .filter(|e| counts(e) && components.iter().any(|c| relevant(e, c)))
        .map(MemberEvent::result_date)
        .collect();
    dates.sort_unstable_by(|a, b| b.cmp(a));
    dates.dedup();
    for d in dates {
        let on_day: Vec<&MemberEvent> = s
            .events
            .iter()
            .filter(|e| e.result_date() == d && counts(e))
            .collect();
        let mut verdicts = Vec::with_capacity(components.len());
        for c in components {
            // The lowest value of the day: an in-range result code stands for a value below the threshold, so
            // it wins; otherwise the lowest numeric value; otherwise an out-of-range code.
            let lowest = on_day
                .iter()
                .filter(|e| c.values.contains(e.value_set) && e.has_value())
                .min_by(|a, b| a.value.total_cmp(&b.value));
            let pass_code = on_day.iter().find(|e| c.pass_codes.contains(e.value_set));
            let verdict = match (pass_code, lowest) {
                (_, Some(e)) if c.passes(e.value) => Some((true, **e)),
                (Some(e), _) => Some((true, **e)),
                (None, Some(e)) => Some((false, **e)),
                (None, None) => on_day
                    .iter()
                    .find(|e| c.fail_codes.contains(e.value_set))
                    .map(|e| (false, **e)),
            };
            match verdict {
                Some(v) => verdicts.push(v),
                None => break,
            }
        }
        if verdicts.len() < components.len() {
            continue; // not every component on this date
        }
        let failed = components.iter().zip(&verdicts).find(|(_, (pass, _))| !pass);
        let (status, reason, detail, evidence) = match failed {
            None => (
                Status::Closed,
                "result_in_range",
                "most recent result in range".to_string(),
                verdicts[0].1,
            ),
            Some((c, (_, e))) => (
                Status::Open,
                "result_out_of_range",
                format!("most recent result out of range: {}", c.name),
                *e,
            ),
        };
        let mut out = row(ri, status, reason, detail);
        out.evidence = Some(evidence);
        out.value = evidence.has_value().then_some(evidence.value);
        if status == Status::Closed {
            out.closed_through = Some(end);
        }
        return out;
    }
    row(
        ri,
        Status::Open,
        "no_result",
        "no result in the measurement period (counts as not in range)".into(),
    )
}

/// Proportion of days covered from the first dispensing in the MP to the MP's end; overlapping supplies are
/// shifted to start when the earlier one runs out.
fn adherence_row(
    medications: &super::criteria::ValueSetMask,
    min_pdc: f64,
    s: &Subject<'_>,
    ri: usize,
    row: &RowFn<'_>,
) -> GapRow {
    let (start, end) = (ymd_days(s.year, 1, 1), ymd_days(s.year, 12, 31));
    let fills: Vec<&MemberEvent> = s
        .events
        .iter()
        .filter(|e| medications.contains(e.value_set) && e.date >= start && e.date <= end)
        .collect();
    let Some(first) = fills.first() else {
        return row(
            ri,
            Status::Open,
            "no_dispensing",
            "no dispensing in the measurement period".into(),
        );
    };
    let period = end - first.date + 1;
    let mut covered = 0i64;
    let mut next_free = first.date;
    let mut without_supply = 0;
    for f in &fills {
        if f.days_supply <= 0 {
            without_supply += 1;
            continue;
        }
        let begin = f.date.max(next_free);
        let stop = (begin as i64 + f.days_supply as i64 - 1).min(end as i64);
        if stop >= begin as i64 {
            covered += stop - begin as i64 + 1;
            next_free = stop as i32 + 1;
        }
    }
    let pdc = covered as f64 / period as f64;
    let last = **fills.last().expect("non-empty");
    let (status, reason) = if pdc >= min_pdc {
        (Status::Closed, "adherent")
    } else {
        (Status::Open, "not_adherent")
    };
    let mut detail = format!(
        "proportion of days covered {} {:.0}%",
        if status == Status::Closed {
            "at least"
        } else {
            "below"
        },
        min_pdc * 100.0
    );
    if without_supply > 0 {
        detail.push_str(&format!(
            "; {without_supply} dispensing(s) without days supply not counted"
        ));
    }
    let mut out = row(ri, status, reason, detail);
    out.evidence = Some(last);
    out.value = Some((pdc * 1000.0).round() / 1000.0);
    if status == Status::Closed {
        out.closed_through = Some(end);
    }
    out
}
