//! Building record batches of a canonical table row by row.
//!
//! Values are pushed in column order (`text`, `date`, ... then `end_row`); the builder checks each push against
//! the column's canonical type, so a generator or kernel that drifts from the schema fails loudly in tests.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate, Utc};

use super::spec::{CanonicalType, TableSpec};
use super::values::{date_to_days, is_calendar_day};
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
    /// Rows each batch is sized for.
    capacity: usize,
    /// After a batch is finished: the text bytes to size each column for when the next row starts.
    next_text_bytes: Option<Vec<usize>>,
    cursor: usize,
    rows: usize,
}

impl Column {
    /// An empty column of canonical type `ty` with room for `rows` values (`text_bytes` bytes of text).
    fn of(ty: CanonicalType, rows: usize, text_bytes: usize) -> Self {
        match ty {
            CanonicalType::Text => Column::Text(StringBuilder::with_capacity(rows, text_bytes)),
            CanonicalType::Date => Column::Date(Date32Builder::with_capacity(rows)),
            CanonicalType::Timestamp => Column::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows)),
            CanonicalType::Float => Column::Float(Float64Builder::with_capacity(rows)),
            CanonicalType::Integer => Column::Integer(Int64Builder::with_capacity(rows)),
            CanonicalType::Boolean => Column::Boolean(BooleanBuilder::with_capacity(rows)),
        }
    }

    /// The canonical type of the column.
    fn ty(&self) -> CanonicalType {
        match self {
            Column::Text(_) => CanonicalType::Text,
            Column::Date(_) => CanonicalType::Date,
            Column::Timestamp(_) => CanonicalType::Timestamp,
            Column::Float(_) => CanonicalType::Float,
            Column::Integer(_) => CanonicalType::Integer,
            Column::Boolean(_) => CanonicalType::Boolean,
        }
    }
}

impl std::fmt::Debug for BatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchBuilder").field("rows", &self.rows).finish()
    }
}

impl BatchBuilder {
    /// A builder for `spec`, sized for about `capacity` rows (a dozen bytes a text value, until a finished batch
    /// tells better: see [`BatchBuilder::finish`]).
    pub fn new(spec: &TableSpec, capacity: usize) -> Self {
        let columns = spec
            .columns
            .iter()
            .map(|c| Column::of(c.ty, capacity, capacity * 12))
            .collect();
        BatchBuilder {
            schema: spec.arrow_schema(),
            columns,
            capacity,
            next_text_bytes: None,
            cursor: 0,
            rows: 0,
        }
    }

    fn next(&mut self) -> &mut Column {
        let i = self.cursor;
        if i == 0 && self.rows == 0 {
            if let Some(sizes) = self.next_text_bytes.take() {
                for (c, bytes) in self.columns.iter_mut().zip(sizes) {
                    *c = Column::of(c.ty(), self.capacity, bytes);
                }
            }
        }
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

    /// Push a date as its Arrow Date32 day number (or null; a number outside the calendar is null too, as
    /// [`BatchBuilder::date`] of [`days_to_date`](super::values::days_to_date) would push), for rows that hold
    /// day numbers: no round trip through a calendar date and back.
    pub fn days(&mut self, v: Option<i32>) -> &mut Self {
        match self.next() {
            Column::Date(b) => b.append_option(v.filter(|&d| is_calendar_day(d))),
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

    /// Finish the rows built so far into a batch. The builder can be reused: when the next row starts, its columns
    /// are sized again for its capacity, each text column at the bytes a row this batch's took (the next batch
    /// of a table is usually like the last), so a reused builder does not grow its buffers from nothing by
    /// doubling, copying them each time (a builder finished and dropped allocates nothing more).
    pub fn finish(&mut self) -> CoreResult<RecordBatch> {
        if self.cursor != 0 {
            return Err(CoreError::Internal(
                "batch finished in the middle of a row".into(),
            ));
        }
        let (rows, capacity) = (self.rows, self.capacity);
        let mut sizes = Vec::with_capacity(self.columns.len());
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
                // An eighth more than this batch took a row, for the rows that run longer.
                sizes.push(match (array.as_string_opt::<i32>(), rows) {
                    (Some(text), 1..) => {
                        let per_row = text.value_data().len().div_ceil(rows);
                        capacity * (per_row + per_row / 8 + 1)
                    }
                    _ => capacity * 12,
                });
                Ok(array)
            })
            .collect::<CoreResult<_>>()?;
        self.rows = 0;
        self.next_text_bytes = Some(sizes);
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};

    use super::*;

    #[test]
    fn day_numbers_are_pushed_as_the_dates_they_are_and_days_outside_the_calendar_as_nulls() {
        use crate::model::values::days_to_date;
        let spec = crate::model::outreach("texts");
        let edges = [
            date_to_days(NaiveDate::MIN),
            date_to_days(NaiveDate::MAX),
            date_to_days(NaiveDate::MIN) - 1,
            date_to_days(NaiveDate::MAX) + 1,
            i32::MIN,
            i32::MAX,
        ];
        let days: Vec<Option<i32>> = [None, Some(0), Some(-1), Some(20_415), Some(-719_162)]
            .into_iter()
            .chain(edges.into_iter().map(Some))
            .collect();
        // The same rows twice: as day numbers, and as the dates days_to_date makes of them.
        let mut by_days = BatchBuilder::new(&spec, days.len());
        let mut by_dates = BatchBuilder::new(&spec, days.len());
        for &d in &days {
            for (b, as_days) in [(&mut by_days, true), (&mut by_dates, false)] {
                b.text(Some("run"))
                    .text(Some("recall"))
                    .text(Some("m"))
                    .text(Some("upsert"))
                    .text(Some("key"))
                    .text(None)
                    .text(None)
                    .timestamp(None)
                    .timestamp(None);
                match as_days {
                    true => b.days(d),
                    false => b.date(d.and_then(days_to_date)),
                };
                b.end_row();
            }
        }
        let (by_days, by_dates) = (by_days.finish().unwrap(), by_dates.finish().unwrap());
        assert_eq!(by_days.column(9), by_dates.column(9));
        // None, the two calendar edges' neighbours and the two extremes are null; the rest are kept.
        assert_eq!(by_days.column(9).null_count(), 5);
    }

    #[test]
    fn a_reused_builder_gives_each_batch_its_own_rows_whatever_their_lengths() {
        let spec = crate::model::outreach("texts");
        let mut b = BatchBuilder::new(&spec, 4);
        // Short texts first, then far longer ones than the sizing from the first batch allows for, then none.
        let batches: Vec<Vec<String>> = vec![
            (0..4).map(|i| format!("m{i}")).collect(),
            (0..6)
                .map(|i| format!("member-{i}-{}", "x".repeat(100 * i)))
                .collect(),
            Vec::new(),
            vec!["again".into()],
        ];
        for rows in &batches {
            for id in rows {
                b.text(Some("run"))
                    .text(Some("recall"))
                    .text(Some(id))
                    .text(Some("upsert"))
                    .text(Some("key"))
                    .text(None)
                    .text(Some(id))
                    .timestamp(None)
                    .timestamp(None)
                    .date(NaiveDate::from_ymd_opt(2026, 11, 23));
                b.end_row();
            }
            let batch = b.finish().unwrap();
            assert_eq!(batch.num_rows(), rows.len());
            let want: Vec<&str> = rows.iter().map(String::as_str).collect();
            for column in [2, 6] {
                let ids = batch.column(column).as_string::<i32>();
                let got: Vec<&str> = ids.iter().map(|v| v.unwrap()).collect();
                assert_eq!(got, want);
            }
            assert_eq!(batch.column(5).null_count(), rows.len());
            assert!(b.is_empty());
        }
    }
}
