//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::sync::Arc;

use _native::lake::{block_on, Location, TableSource};
use _native::model::TableSpec;
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

/// A location for a path inside a temp dir.
pub fn loc(dir: &tempfile::TempDir, name: &str) -> Location {
    Location::parse(dir.path().join(name).to_str().unwrap()).unwrap()
}

/// A batch of text columns.
pub fn text_batch(columns: &[(&str, Vec<Option<&str>>)]) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, _)| Field::new(*n, DataType::Utf8, true))
        .collect();
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|(_, v)| Arc::new(StringArray::from(v.clone())) as ArrayRef)
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

/// Read a whole table into one batch.
pub fn read_table(source: &TableSource) -> (usize, Vec<RecordBatch>) {
    let (_, batches) = _native::lake::read_all(source).unwrap();
    (batches.iter().map(RecordBatch::num_rows).sum(), batches)
}

/// Find a table in a lake.
pub fn find(lake: &Location, table: &str) -> TableSource {
    block_on(_native::lake::find_in_lake(lake, table)).unwrap()
}

/// The spec's Arrow schema.
pub fn schema_of(spec: &TableSpec) -> arrow::datatypes::SchemaRef {
    spec.arrow_schema()
}
