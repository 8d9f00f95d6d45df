//! From engine rows to the output tables: care_gaps batches (built in parallel) and measure_rates.

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use rayon::prelude::*;

use super::evaluate::{GapRow, MemberData, Status};
use super::measures::MeasureSet;
use super::value_sets::ValueSetDirectory;
use crate::error::CoreResult;
use crate::model::{care_gaps, measure_rates, BatchBuilder};

/// Everything the rows refer to by index.
#[derive(Debug, Clone, Copy)]
pub struct RowContext<'a> {
    /// Measures (names, rates, strata).
    pub measures: &'a MeasureSet,
    /// Members and evidence.
    pub data: &'a MemberData,
    /// Value-set directory (codes and names of the evidence).
    pub directory: &'a ValueSetDirectory,
    /// Measurement year.
    pub year: i32,
    /// As-of date.
    pub as_of: NaiveDate,
    /// Run id.
    pub run_id: &'a str,
}

/// Rows of a care_gaps batch.
const ROWS_PER_BATCH: usize = 65_536;

/// care_gaps batches of up to `ROWS_PER_BATCH` rows, built in parallel. A builder serves the batches of each
/// rayon job, so each batch after the first is sized by the one before: a builder sized afresh for every batch
/// grew its longer texts (reason, detail) by doubling, a tenth of the batches' samples in a profile of eight
/// measures at 1M members (the write phase's wall time, 0.4-0.6 s, did not move measurably).
pub fn care_gap_batches(rows: &[GapRow], cx: RowContext<'_>) -> CoreResult<Vec<RecordBatch>> {
    let spec = care_gaps();
    rows.par_chunks(ROWS_PER_BATCH)
        .map_init(
            || BatchBuilder::new(&spec, ROWS_PER_BATCH.min(rows.len())),
            |b, chunk| care_gap_batch(b, chunk, cx),
        )
        .collect()
}

/// care_gaps rows `rows` as one batch, built in `b`.
fn care_gap_batch(b: &mut BatchBuilder, rows: &[GapRow], cx: RowContext<'_>) -> CoreResult<RecordBatch> {
    for r in rows {
        let measure = &cx.measures.measures[r.measure as usize];
        let evidence = r.evidence.map(|e| {
            let code = &cx.directory.codes[cx.data.evidence.code[e.evidence as usize] as usize];
            let set = &cx.directory.sets[cx.measures.value_sets[e.value_set as usize]];
            (e, code, set)
        });
        b.text(Some(&cx.data.member_ids[r.member as usize]))
            .text(Some(&measure.id))
            .text(Some(&measure.name))
            .text(Some(&measure.rates[r.rate as usize].id))
            .integer(Some(i64::from(cx.year)))
            .text(r.product_line.map(|p| p.name()))
            .text(r.stratum.map(|s| measure.strata[s as usize].0.as_str()))
            .integer(Some(i64::from(r.age)))
            .text(Some(r.status.name()))
            .text(Some(&r.reason))
            .text(Some(&r.detail))
            .days(evidence.map(|(e, _, _)| e.date))
            .text(evidence.map(|(_, c, _)| c.code.as_str()))
            .text(evidence.map(|(_, c, _)| c.system.as_str()))
            .text(evidence.map(|(_, _, s)| s.name.as_str()))
            .text(evidence.and_then(|(e, _, _)| cx.data.evidence.claim_id(e.evidence)))
            .text(evidence.and_then(|(e, _, _)| cx.data.evidence.data_source[e.evidence as usize]))
            .float(r.value)
            .days(r.due_date)
            .days(r.clinically_due_since)
            .days(r.closed_through)
            .date(Some(cx.as_of))
            .text(Some(cx.run_id));
        b.end_row();
    }
    b.finish()
}

/// Counts for one (measure, rate, product line, stratum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateCounts {
    /// Rows.
    pub eligible: u64,
    /// not_applicable rows.
    pub not_applicable: u64,
    /// excluded rows.
    pub excluded: u64,
    /// closed rows.
    pub closed: u64,
    /// open rows.
    pub open: u64,
}

/// Rate counts keyed by (measure index, rate index, product line, stratum; "all" for the total).
pub fn rate_counts(
    rows: &[GapRow],
    measures: &MeasureSet,
) -> BTreeMap<(u16, u16, String, String), RateCounts> {
    let mut out: BTreeMap<(u16, u16, String, String), RateCounts> = BTreeMap::new();
    for r in rows {
        let Some(line) = r.product_line else { continue };
        let measure = &measures.measures[r.measure as usize];
        let mut strata = vec!["all".to_string()];
        if let Some(s) = r.stratum {
            strata.push(measure.strata[s as usize].0.clone());
        }
        for stratum in strata {
            let c = out
                .entry((r.measure, r.rate, line.name().to_string(), stratum))
                .or_default();
            c.eligible += 1;
            match r.status {
                Status::NotApplicable => c.not_applicable += 1,
                Status::Excluded => c.excluded += 1,
                Status::Closed => c.closed += 1,
                Status::Open => c.open += 1,
            }
        }
    }
    out
}

/// The measure_rates table.
pub fn measure_rates_batch(rows: &[GapRow], cx: RowContext<'_>) -> CoreResult<RecordBatch> {
    let counts = rate_counts(rows, cx.measures);
    let spec = measure_rates();
    let mut b = BatchBuilder::new(&spec, counts.len());
    for ((mi, ri, line, stratum), c) in &counts {
        let measure = &cx.measures.measures[*mi as usize];
        let rate = &measure.rates[*ri as usize];
        let denominator = c.closed + c.open;
        let numerator = if rate.higher_is_better { c.closed } else { c.open };
        b.text(Some(&measure.id))
            .text(Some(&measure.name))
            .text(Some(&rate.id))
            .text(Some(line))
            .text(Some(stratum))
            .integer(Some(i64::from(cx.year)))
            .integer(Some(c.eligible as i64))
            .integer(Some(c.not_applicable as i64))
            .integer(Some((c.eligible - c.not_applicable) as i64))
            .integer(Some(c.excluded as i64))
            .integer(Some(denominator as i64))
            .integer(Some(c.closed as i64))
            .integer(Some(c.open as i64))
            .integer(Some(numerator as i64))
            .float((denominator > 0).then(|| numerator as f64 / denominator as f64))
            .boolean(Some(rate.higher_is_better))
            .date(Some(cx.as_of))
            .text(Some(cx.run_id));
        b.end_row();
    }
    b.finish()
}
