//! Building record batches of a canonical table row by row.
//!
//! Values are pushed in column order (`text`, `date`, ... then `end_row`); the builder checks each push against
//! the column's canonical type, so a generator or kernel that drifts from the schema fails loudly in tests.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate, Utc};

use super::spec::{CanonicalType, TableSpec};
use super::values::date_to_days;
use crate::error::{CoreError, CoreResult};

enum Column {
    Text(StringBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Float(Float64Builder),
    Integer(Int64Builder),
    Boolean(BooleanBuilder),
}

/// Row-by-row builder of one canonical table's batches.
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<Column>,
    cursor: usize,
    rows: usize,
}

impl std::fmt::Debug for BatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchBuilder").field("rows", &self.rows).finish()
    }
}

impl BatchBuilder {
    /// A builder for `spec`, sized for about `capacity` rows.
    pub fn new(spec: &TableSpec, capacity: usize) -> Self {
        let columns = spec
            .columns
            .iter()
            .map(|c| match c.ty {
                CanonicalType::Text => Column::Text(StringBuilder::with_capacity(capacity, capacity * 12)),
                CanonicalType::Date => Column::Date(Date32Builder::with_capacity(capacity)),
                CanonicalType::Timestamp => {
                    Column::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity))
                }
                CanonicalType::Float => Column::Float(Float64Builder::with_capacity(capacity)),
                CanonicalType::Integer => Column::Integer(Int64Builder::with_capacity(capacity)),
                CanonicalType::Boolean => Column::Boolean(BooleanBuilder::with_capacity(capacity)),
            })
            .collect();
        BatchBuilder {
            schema: spec.arrow_schema(),
            columns,
            cursor: 0,
            rows: 0,
        }
    }

    fn next(&mut self) -> &mut Column {
        let i = self.cursor;
        self.cursor += 1;
        &mut self.columns[i]
    }

    /// Push a text value (or null).
    pub fn text(&mut self, v: Option<&str>) -> &mut Self {
        match self.next() {
            Column::Text(b) => b.append_option(v),
            _ => panic!("column {} is not text", self.cursor - 1),
        }
        self
    }

    /// Push a date (or null).
    pub fn date(&mut self, v: Option<NaiveDate>) -> &mut Self {
        match self.next() {
            Column::Date(b) => b.append_option(v.map(date_to_days)),
            _ => panic!("column {} is not a date", self.cursor - 1),
        }
        self
    }

    /// Push a timestamp (or null).
    pub fn timestamp(&mut self, v: Option<DateTime<Utc>>) -> &mut Self {
        match self.next() {
            Column::Timestamp(b) => b.append_option(v.map(|t| t.timestamp_micros())),
            _ => panic!("column {} is not a timestamp", self.cursor - 1),
        }
        self
    }

    /// Push a float (or null).
    pub fn float(&mut self, v: Option<f64>) -> &mut Self {
        match self.next() {
            Column::Float(b) => b.append_option(v),
            _ => panic!("column {} is not a float", self.cursor - 1),
        }
        self
    }

    /// Push an integer (or null).
    pub fn integer(&mut self, v: Option<i64>) -> &mut Self {
        match self.next() {
            Column::Integer(b) => b.append_option(v),
            _ => panic!("column {} is not an integer", self.cursor - 1),
        }
        self
    }

    /// Push a flag (or null).
    pub fn boolean(&mut self, v: Option<bool>) -> &mut Self {
        match self.next() {
            Column::Boolean(b) => b.append_option(v),
            _ => panic!("column {} is not a boolean", self.cursor - 1),
        }
        self
    }

    /// Close the current row; every column must have been pushed exactly once.
    pub fn end_row(&mut self) {
        assert_eq!(
            self.cursor,
            self.columns.len(),
            "row has the wrong number of values"
        );
        self.cursor = 0;
        self.rows += 1;
    }

    /// Rows built so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no rows were built.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Finish the rows built so far into a batch (the builder can be reused).
    pub fn finish(&mut self) -> CoreResult<RecordBatch> {
        if self.cursor != 0 {
            return Err(CoreError::Internal(
                "batch finished in the middle of a row".into(),
            ));
        }
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .zip(self.schema.fields())
            .map(|(c, field)| -> CoreResult<ArrayRef> {
                let array: ArrayRef = match c {
                    Column::Text(b) => Arc::new(b.finish()),
                    Column::Date(b) => Arc::new(b.finish()),
                    Column::Timestamp(b) => Arc::new(b.finish().with_timezone("UTC")),
                    Column::Float(b) => Arc::new(b.finish()),
                    Column::Integer(b) => Arc::new(b.finish()),
                    Column::Boolean(b) => Arc::new(b.finish()),
                };
                debug_assert_eq!(array.data_type(), field.data_type());
                Ok(array)
            })
            .collect::<CoreResult<_>>()?;
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}
