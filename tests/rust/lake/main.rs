//! Lake I/O: every input format, Delta writes with comments and change data feed, idempotent retries.
//! Writes and reads are in files of their own.

#[path = "../common.rs"]
mod common;
mod reads;
mod writes;

use std::fs::File;

use _native::lake::{
    block_on, read_columns_each_counted_if_present, try_write_batches, try_write_shares, write_batches,
    Columns, Location, TableFormat, TableTarget, WriteMode, WriteOutcome,
};
use _native::model::ColumnLayout;
use _native::{CoreError, CoreResult};
use arrow::array::RecordBatch;
use common::{find, loc, read_table, text_batch};

/// Three source keys, the rows most tests write.
fn sample() -> RecordBatch {
    text_batch(&[
        ("source_system", vec![Some("ehr"), Some("ehr"), Some("crm")]),
        ("source_record_id", vec![Some("1"), Some("2"), Some("3")]),
    ])
}

/// Write `batch` to `table` in `mode`, as run `run` (None: no run key, no retry check): how most tests write.
fn write_one(
    table: &Location,
    mode: WriteMode,
    run: Option<&str>,
    batch: RecordBatch,
) -> CoreResult<WriteOutcome> {
    block_on(write_batches(table, batch.schema(), "test", mode, run, [batch]))
}
