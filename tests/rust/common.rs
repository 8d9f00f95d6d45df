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

/// A conformed person_records batch of one record (synthetic name; the given birth, sex and death dates).
pub fn one_person_record(
    system: &str,
    id: &str,
    birth: chrono::NaiveDate,
    sex: Option<&str>,
    deceased: Option<chrono::NaiveDate>,
) -> RecordBatch {
    let spec = _native::model::person_records();
    let mut p = _native::model::BatchBuilder::new(&spec, 1);
    for c in &spec.columns {
        match c.name {
            "source_system" => p.text(Some(system)),
            "source_record_id" => p.text(Some(id)),
            "first_name" | "last_name" => p.text(Some("Test")),
            "birth_date" => p.date(Some(birth)),
            "deceased_date" => p.date(deceased),
            "sex" => p.text(sex),
            "updated_at" => p.timestamp(Some(chrono::Utc::now())),
            _ => p.text(None),
        };
    }
    p.end_row();
    p.finish().unwrap()
}
