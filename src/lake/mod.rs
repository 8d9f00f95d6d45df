//! Lake I/O: locating tables, reading Delta/Parquet/CSV from local disk or object storage, conforming inputs
//! to the canonical schemas (with quarantine), and writing Delta tables idempotently.

mod canonical_text;
pub mod conform;
mod conform_column;
pub mod delta_write;
mod hybrid;
mod kept_rows;
pub mod location;
mod page_gather;
pub mod read;
mod rejected_rows;
mod runtime;
pub mod selective_read;
pub mod source;

pub use canonical_text::EnumSpelling;
pub use conform::{ColumnMapping, ConformPlan, Conformed, QuarantinedRow, RejectReason, RowNumbers};
pub(crate) use conform_column::text_dictionary_type;
pub use delta_write::{
    try_write_batches, try_write_batches_to, try_write_shares, write_batches, writers_per_core,
    DeltaTableWriter, OpenedWrite, TableTarget, WriteMode, WriteOutcome,
};
pub use location::Location;
pub use read::{
    read_all, read_columns_each_counted_if_present, read_columns_each_if_present,
    read_columns_in_parallel_if_present, read_table, read_table_if_present,
    read_table_in_parallel_if_present, BlockingTableReader, Columns, TableReader,
};
pub use rejected_rows::{quarantine_counts, quarantine_rows, RejectedRows};
pub use runtime::block_on;
pub use source::{detect, find_in_lake, TableFormat, TableSource};
