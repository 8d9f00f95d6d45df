//! Rows that failed a check after conforming (a person no member has, an end before its start), turned into
//! quarantine rows: each with its table, position, column and reason, and the raw row as JSON for the quarantine
//! table (a governed table: the row's values go there and nowhere else, never into a message or a log).

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use arrow::compute::take_record_batch;

use super::conform::{QuarantinedRow, RejectReason, RowNumbers};
use crate::error::{CoreError, CoreResult};
use crate::model;

/// Rows of one batch that failed a check: (row index in the batch, column, reason).
pub type RejectedRows = Vec<(u32, &'static str, RejectReason)>;

/// The given rows of a batch as JSON objects (one string per row), for the quarantine table.
pub fn rows_as_json(batch: &RecordBatch, rows: &[u32]) -> CoreResult<Vec<String>> {
    let indices = arrow::array::UInt32Array::from(rows.to_vec());
    let selected = take_record_batch(batch, &indices)?;
    let mut buffer = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut buffer);
        writer.write(&selected)?;
        writer.finish()?;
    }
    let text = String::from_utf8(buffer).map_err(|e| CoreError::Internal(format!("JSON encoding: {e}")))?;
    Ok(text.lines().map(str::to_string).collect())
}

/// The quarantine rows of a conformed batch of canonical input `table` for the `rejected` rows, their positions
/// in the table given by `numbers`.
pub fn quarantine_rows(
    batch: &RecordBatch,
    table: &str,
    numbers: &RowNumbers,
    rejected: &RejectedRows,
) -> CoreResult<Vec<QuarantinedRow>> {
    if rejected.is_empty() {
        return Ok(Vec::new());
    }
    let spec = model::canonical_spec(table)?;
    let rows: Vec<u32> = rejected.iter().map(|(r, _, _)| *r).collect();
    let records = rows_as_json(batch, &rows)?;
    Ok(rejected
        .iter()
        .zip(records)
        .map(|((row, column, reason), record)| {
            let column_spec = spec.column(column).cloned().unwrap_or(spec.columns[0]);
            QuarantinedRow {
                table: table.to_string(),
                row_number: numbers.at(*row as usize),
                column: column.to_string(),
                reason: *reason,
                message: reason.describe(&column_spec),
                record,
            }
        })
        .collect())
}

/// Quarantined rows counted by table and reason code (`consents.unknown_person`), for a stage's report.
pub fn quarantine_counts(rows: &[QuarantinedRow]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for q in rows {
        *counts
            .entry(format!("{}.{}", q.table, q.reason.code()))
            .or_default() += 1;
    }
    counts
}
