//! Reading the rows a predicate keeps from one Parquet row group, in two passes: the predicate's columns for
//! every row, then the other columns for the kept rows only.
//!
//! In the second pass, flat columns are gathered from their column chunks page by page ([`super::page_gather`]),
//! decoding only the kept rows' values. Any other column goes to the general reader with a row selection of
//! runs. Kept rows are sparse and scattered (care gaps keep about one clinical event in sixty), and each run costs
//! a skip and a read call per column, so there runs a few rows apart are merged: the rows between them are decoded
//! too and dropped afterwards, which is cheaper than the calls.

use std::ops::Range;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::{concat_batches, filter_record_batch, prep_null_mask_filter};
use futures::TryStreamExt;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, RowSelection, RowSelectionPolicy, RowSelector};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};

use parquet::schema::types::SchemaDescriptor;

use super::page_gather::{gather_column, takes, Gathered};
use super::selective_read::RowPredicate;
use crate::error::{CoreError, CoreResult};

/// Runs of kept rows at most this many rows apart are read as one run. Measured on the care-gap events of 1M
/// members (1.7% of rows kept, million-row groups), in interleaved runs: 8 to 32 were alike and fastest; reading
/// every run apart (0) or merging over 64 rows and more was slower.
const MERGED_GAP_ROWS: usize = 16;

/// Rows decoded at a time by either pass.
const BATCH_ROWS: usize = 65_536;

/// The kept rows of one row group, every column in the file's order (as `metadata`'s schema gives them, so text
/// columns of the predicate come dictionary-encoded), with their positions in the group; None when no row is
/// kept. `predicate_columns` are the root positions of the columns the predicate reads.
pub(super) async fn read_kept_rows<R: AsyncFileReader + Unpin + Send + 'static>(
    open: impl Fn() -> R,
    metadata: ArrowReaderMetadata,
    row_group: usize,
    predicate_columns: &[usize],
    predicate: &RowPredicate,
) -> CoreResult<Option<(RecordBatch, Vec<usize>)>> {
    let mut roots = predicate_columns.to_vec();
    roots.sort_unstable();
    roots.dedup();
    let schema = metadata.schema().clone();
    let group_rows = metadata.metadata().row_group(row_group).num_rows().max(0) as usize;

    // Pass 1: the predicate's columns, every row.
    let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(open(), metadata.clone());
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let stream = builder
        .with_row_groups(vec![row_group])
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()?;
    let decided: Vec<RecordBatch> = stream.try_collect().await?;
    let mut kept_parts = Vec::with_capacity(decided.len());
    let mut positions = Vec::new();
    let mut at = 0usize;
    for batch in &decided {
        let keep = predicate(batch)?;
        if keep.len() != batch.num_rows() {
            return Err(CoreError::Internal(format!(
                "a row predicate decided {} rows of a batch of {}",
                keep.len(),
                batch.num_rows()
            )));
        }
        let keep = if keep.null_count() > 0 {
            prep_null_mask_filter(&keep)
        } else {
            keep
        };
        positions.extend(keep.values().set_indices().map(|i| at + i));
        at += batch.num_rows();
        kept_parts.push(filter_record_batch(batch, &keep)?);
    }
    let (Some(first), false) = (decided.first(), positions.is_empty()) else {
        return Ok(None);
    };
    let predicate_rows = concat_batches(&first.schema(), &kept_parts)?;

    // Pass 2: the other columns, for the kept rows. Flat columns of the types page_gather takes are read
    // from their column chunks directly; the rest by the general reader, for the runs of kept rows.
    let others: Vec<usize> = (0..schema.fields().len())
        .filter(|i| !roots.contains(i))
        .collect();
    let mut other_columns: Vec<Option<ArrayRef>> = vec![None; others.len()];
    let parquet_schema = metadata.metadata().file_metadata().schema_descr_ptr();
    let group = metadata.metadata().row_group(row_group);
    // Only the chunks page_gather takes are fetched here: the general reader fetches its own.
    let leaves: Vec<Option<usize>> = others
        .iter()
        .map(|&root| {
            only_leaf(&parquet_schema, root)
                .filter(|&leaf| takes(&parquet_schema.column(leaf), schema.field(root).data_type()))
        })
        .collect();
    let ranges: Vec<Range<u64>> = leaves
        .iter()
        .flatten()
        .map(|&leaf| {
            let (start, length) = group.column(leaf).byte_range();
            start..start + length
        })
        .collect();
    if !ranges.is_empty() {
        let mut chunks = open().get_byte_ranges(ranges).await?.into_iter();
        for (k, leaf) in leaves.iter().enumerate() {
            let Some(leaf) = *leaf else { continue };
            let Some(chunk) = chunks.next() else {
                return Err(CoreError::Internal("a column chunk was not fetched".into()));
            };
            let target = schema.field(others[k]).data_type();
            let descr = parquet_schema.column(leaf);
            if let Gathered::Array(values) =
                gather_column(chunk, group.column(leaf), &descr, target, group_rows, &positions)
            {
                other_columns[k] = Some(values);
            }
        }
    }
    let general: Vec<usize> = (0..others.len())
        .filter(|&k| other_columns[k].is_none())
        .collect();
    if !general.is_empty() {
        let runs = kept_runs(&positions, MERGED_GAP_ROWS);
        let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(open(), metadata);
        let mask = ProjectionMask::roots(builder.parquet_schema(), general.iter().map(|&k| others[k]));
        let stream = builder
            .with_row_groups(vec![row_group])
            .with_projection(mask)
            .with_row_selection(selection(&runs, group_rows))
            // Decoding every row and masking, which the default policy picks for short runs, is slower here.
            .with_row_selection_policy(RowSelectionPolicy::Selectors)
            .with_batch_size(BATCH_ROWS)
            .build()?;
        let batches: Vec<RecordBatch> = stream.try_collect().await?;
        let Some(first) = batches.first() else {
            return Err(CoreError::Internal(
                "a row group's kept rows were not read".into(),
            ));
        };
        let read = concat_batches(&first.schema(), &batches)?;
        let rows = match kept_within(&runs, &positions) {
            Some(keep) => filter_record_batch(&read, &keep)?,
            None => read,
        };
        if rows.num_rows() != positions.len() {
            return Err(CoreError::Internal(format!(
                "a row group gave {} rows where its filter kept {}",
                rows.num_rows(),
                positions.len()
            )));
        }
        for (j, &k) in general.iter().enumerate() {
            other_columns[k] = Some(rows.column(j).clone());
        }
    }

    // Both passes' columns, back in the file's order.
    let columns: Vec<ArrayRef> = (0..schema.fields().len())
        .map(|i| match roots.binary_search(&i) {
            Ok(k) => Ok(predicate_rows.column(k).clone()),
            Err(_) => match others
                .binary_search(&i)
                .ok()
                .and_then(|k| other_columns[k].clone())
            {
                Some(column) => Ok(column),
                None => Err(CoreError::Internal(format!(
                    "column {i} was read by neither pass"
                ))),
            },
        })
        .collect::<CoreResult<_>>()?;
    Ok(Some((RecordBatch::try_new(schema, columns)?, positions)))
}

/// The leaf column of root column `root` when it has only one (None for a struct of several).
fn only_leaf(schema: &SchemaDescriptor, root: usize) -> Option<usize> {
    let mut leaves = (0..schema.num_columns()).filter(|&leaf| schema.get_column_root_idx(leaf) == root);
    let leaf = leaves.next()?;
    leaves.next().is_none().then_some(leaf)
}

/// Runs of the ascending `positions`, runs at most `gap` rows apart merged into one.
fn kept_runs(positions: &[usize], gap: usize) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    for &p in positions {
        match runs.last_mut() {
            Some(run) if p <= run.end + gap => run.end = p + 1,
            _ => runs.push(p..p + 1),
        }
    }
    runs
}

/// The row selection that reads `runs` of a row group of `group_rows` rows and skips the rest.
fn selection(runs: &[Range<usize>], group_rows: usize) -> RowSelection {
    let mut selectors = Vec::with_capacity(runs.len() * 2 + 1);
    let mut next = 0;
    for run in runs {
        if run.start > next {
            selectors.push(RowSelector::skip(run.start - next));
        }
        selectors.push(RowSelector::select(run.len()));
        next = run.end;
    }
    if group_rows > next {
        selectors.push(RowSelector::skip(group_rows - next));
    }
    RowSelection::from(selectors)
}

/// Which rows read for `runs` are kept `positions` (None when every one is: no run was merged over a gap).
fn kept_within(runs: &[Range<usize>], positions: &[usize]) -> Option<BooleanArray> {
    let read: usize = runs.iter().map(|r| r.len()).sum();
    if read == positions.len() {
        return None;
    }
    let mut keep = vec![false; read];
    let mut offset = 0;
    let mut kept = positions.iter().peekable();
    for run in runs {
        while let Some(&&p) = kept.peek() {
            if p >= run.end {
                break;
            }
            keep[offset + p - run.start] = true;
            kept.next();
        }
        offset += run.len();
    }
    Some(BooleanArray::from(keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_closer_than_the_gap_merge_and_the_rows_between_are_marked_dropped() {
        let positions = [3, 4, 5, 9, 40, 41, 60];
        assert_eq!(kept_runs(&positions, 0), vec![3..6, 9..10, 40..42, 60..61]);
        // Gaps of 3 (6..9) and 18 (42..60) rows: only the first is bridged at 4.
        let runs = kept_runs(&positions, 4);
        assert_eq!(runs, vec![3..10, 40..42, 60..61]);
        let keep = kept_within(&runs, &positions).expect("a run was merged over a gap");
        let keep: Vec<bool> = keep.values().iter().collect();
        assert_eq!(
            keep,
            [true, true, true, false, false, false, true, true, true, true]
        );
        assert!(kept_within(&kept_runs(&positions, 0), &positions).is_none());
        assert!(kept_runs(&[], 16).is_empty());
    }

    #[test]
    fn the_selection_skips_before_between_and_after_the_runs() {
        let selection = selection(&[3..10, 40..42], 50);
        let selectors: Vec<RowSelector> = selection.into();
        assert_eq!(
            selectors,
            vec![
                RowSelector::skip(3),
                RowSelector::select(7),
                RowSelector::skip(30),
                RowSelector::select(2),
                RowSelector::skip(8),
            ]
        );
        let whole: Vec<RowSelector> = super::selection(&[0..5, 5..8], 8).into();
        // Adjacent runs are one read, and with no rows after the last nothing is skipped.
        assert_eq!(whole, vec![RowSelector::select(8)]);
    }
}
