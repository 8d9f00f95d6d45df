//! Person records as both engines resolve them: conformed, put in record-key order, and normalized.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, StringBuilder, UInt32Array};
use rayon::prelude::*;

use super::identity_stage::record_key;
use super::progress::PhaseClock;
use crate::error::{CoreError, CoreResult};
use crate::identity::prepare::{prepare, PreparedRecords};
use crate::identity::survivorship::PROFILE_SOURCE_COLUMNS;
use crate::identity::text_order::in_byte_order;
use crate::lake::QuarantinedRow;
use crate::model::{self, text_column};
use crate::prefetch::prefetch;

/// Conformed person records in the order both engines resolve them in: sorted by record key, so that the
/// training sample, tie breaks and cluster numbers do not depend on how the input files were laid out.
pub(super) struct ConformedRecords {
    /// All usable rows, conformed, sorted by record key: the columns the golden record reads
    /// ([`PROFILE_SOURCE_COLUMNS`]).
    pub(super) rows: RecordBatch,
    /// Their record keys, sorted.
    pub(super) keys: Vec<String>,
    /// Their normalized fields, row for row.
    pub(super) records: PreparedRecords,
    /// Rows that failed to conform.
    pub(super) quarantined: Vec<QuarantinedRow>,
    /// Rows read.
    pub(super) rows_read: u64,
}

impl ConformedRecords {
    /// Takes the conformed batches and drops them once their rows are copied out in key order, so that the
    /// records are held once, not twice, for the rest of the run.
    pub(super) fn new(
        batches: Vec<RecordBatch>,
        quarantined: Vec<QuarantinedRow>,
        rows_read: u64,
        clock: &mut PhaseClock,
    ) -> CoreResult<Self> {
        // Each batch goes in key order on its own first, where the rows it moves stay in cache. Putting all
        // rows in order below then reads every batch front to back instead of at random: at 10M records that
        // turns a random read per row and column into a few sequential streams.
        let (batches, batch_keys): (Vec<RecordBatch>, Vec<Vec<String>>) = batches
            .into_par_iter()
            .map(in_key_order)
            .collect::<CoreResult<Vec<_>>>()?
            .into_iter()
            .unzip();
        let mut places: Vec<(usize, usize)> = Vec::new();
        let mut unsorted: Vec<String> = Vec::new();
        for (b, keys) in batch_keys.into_iter().enumerate() {
            places.extend((0..keys.len()).map(|i| (b, i)));
            unsorted.extend(keys);
        }
        let order = in_byte_order(&unsorted);
        let keys: Vec<String> = order
            .iter()
            .map(|&i| std::mem::take(&mut unsorted[i as usize]))
            .collect();
        drop(unsorted);
        let sorted_places: Vec<(usize, usize)> = order.iter().map(|&i| places[i as usize]).collect();
        drop(places);
        let rows = if batches.is_empty() {
            RecordBatch::new_empty(model::person_records().arrow_schema())
        } else {
            // Column by column (two at a time), each input column freed once copied: the records are held
            // about once while they are put in order, not twice.
            let schema = batches[0].schema();
            let inputs: Vec<Vec<ArrayRef>> = (0..schema.fields().len())
                .map(|c| batches.iter().map(|b| b.column(c).clone()).collect())
                .collect();
            drop(batches);
            let columns = inputs
                .into_par_iter()
                .map(|arrays| gather(&arrays, &sorted_places))
                .collect::<CoreResult<Vec<ArrayRef>>>()?;
            RecordBatch::try_new(schema, columns)?
        };
        clock.lap("sort");
        // Prepare in slices so the normalizers run on every core.
        let slices: Vec<RecordBatch> = (0..rows.num_rows())
            .step_by(PREPARE_SLICE)
            .map(|at| rows.slice(at, PREPARE_SLICE.min(rows.num_rows() - at)))
            .collect();
        let records = prepare(&slices)?;
        drop(slices);
        // The golden record reads only some of the conformed columns; the others are normalized now and take
        // a gigabyte at 10M records.
        let kept = PROFILE_SOURCE_COLUMNS
            .iter()
            .map(|name| rows.schema().index_of(name))
            .collect::<Result<Vec<usize>, _>>()?;
        let rows = rows.project(&kept)?;
        clock.lap("normalize");
        if records.len() < 2 {
            return Err(CoreError::Input(format!(
                "identity resolution needs at least two usable person records; {} usable, {} quarantined",
                records.len(),
                quarantined.len()
            )));
        }
        Ok(ConformedRecords {
            rows,
            keys,
            records,
            quarantined,
            rows_read,
        })
    }
}

const PREPARE_SLICE: usize = 65_536;

/// One batch with its rows in record-key order, and their record keys in that order.
fn in_key_order(batch: RecordBatch) -> CoreResult<(RecordBatch, Vec<String>)> {
    let system = text_column(&batch, "person_records", "source_system")?;
    let id = text_column(&batch, "person_records", "source_record_id")?;
    let mut keys: Vec<String> = (0..batch.num_rows())
        .map(|i| record_key(system.value(i), id.value(i)))
        .collect();
    let order = in_byte_order(&keys);
    let keys = order
        .iter()
        .map(|&i| std::mem::take(&mut keys[i as usize]))
        .collect();
    let rows = arrow::compute::take_record_batch(&batch, &UInt32Array::from(order))?;
    Ok((rows, keys))
}

/// How many rows ahead [`gather_text`] prefetches a row's offsets; its bytes are prefetched half as far ahead.
const GATHER_AHEAD: usize = 16;

/// One column of the output, in `places` order (batch, row), from the column's array in each input batch.
fn gather(arrays: &[ArrayRef], places: &[(usize, usize)]) -> CoreResult<ArrayRef> {
    let texts: Option<Vec<&StringArray>> = arrays.iter().map(|a| a.as_string_opt::<i32>()).collect();
    match texts {
        Some(texts) => Ok(Arc::new(gather_text(&texts, places))),
        None => {
            let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
            Ok(arrow::compute::interleave(&refs, places)?)
        }
    }
}

/// [`arrow::compute::interleave`] for text columns, in one pass and with the rows' offsets and bytes prefetched
/// a few rows ahead: the rows of a record-key order are random reads among gigabytes at 10M records, and
/// without the prefetch each waits on main memory in turn (a third of the time of putting records in order).
fn gather_text(arrays: &[&StringArray], places: &[(usize, usize)]) -> StringArray {
    let bytes: usize = arrays
        .iter()
        .map(|a| {
            let offsets = a.value_offsets();
            (offsets[offsets.len() - 1] - offsets[0]) as usize
        })
        .sum();
    let mut out = StringBuilder::with_capacity(places.len(), bytes);
    for (k, &(batch, row)) in places.iter().enumerate() {
        if let Some(&(b, r)) = places.get(k + GATHER_AHEAD) {
            prefetch(&arrays[b].value_offsets()[r]);
        }
        if let Some(&(b, r)) = places.get(k + GATHER_AHEAD / 2) {
            let start = arrays[b].value_offsets()[r] as usize;
            if let Some(first) = arrays[b].value_data().get(start) {
                prefetch(first);
            }
        }
        let array = arrays[batch];
        if array.is_null(row) {
            out.append_null();
        } else {
            out.append_value(array.value(row));
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, Int32Array, StringArray};

    use super::gather;

    #[test]
    fn gathering_text_gives_what_interleave_gives() {
        let first = StringArray::from(vec![Some("ANNA"), None, Some(""), Some("JOSÉ")]);
        // A slice, so the offsets do not start at zero.
        let second = StringArray::from(vec![Some("SKIPPED"), Some("LI"), None, Some("O'NEIL")]).slice(1, 3);
        let arrays: Vec<ArrayRef> = vec![Arc::new(first), Arc::new(second)];
        let places: Vec<(usize, usize)> = (0..40).map(|k| ((k * 7) % 2, (k * 5) % 3)).collect();
        let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
        let expected = arrow::compute::interleave(&refs, &places).unwrap();
        assert_eq!(gather(&arrays, &places).unwrap().as_ref(), expected.as_ref());

        let numbers: Vec<ArrayRef> = vec![Arc::new(Int32Array::from(vec![Some(1), None]))];
        let places = [(0, 1), (0, 0), (0, 1)];
        let gathered = gather(&numbers, &places).unwrap();
        assert_eq!(
            gathered.as_ref(),
            &Int32Array::from(vec![None, Some(1), None]) as &dyn Array
        );
    }
}
