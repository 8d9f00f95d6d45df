//! Typed access to the columns of a batch, with a schema error naming the table and column when the column is
//! missing or of another type.

use arrow::array::{Array, AsArray, RecordBatch, StringArray};

use crate::error::{CoreError, CoreResult};

/// The text column `column` of a batch of `table`.
pub fn text_column<'a>(batch: &'a RecordBatch, table: &str, column: &str) -> CoreResult<&'a StringArray> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| CoreError::schema(table, column, "missing or not text"))
}

/// The text column `column` of a batch, if it has one (optional canonical columns).
pub fn optional_text_column<'a>(batch: &'a RecordBatch, column: &str) -> Option<&'a StringArray> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_string_opt::<i32>())
}

/// Row `i` of an optional text column: None when the column is absent, or the value null or empty.
pub fn text_value(column: Option<&StringArray>, i: usize) -> Option<&str> {
    column
        .filter(|a| a.is_valid(i))
        .map(|a| a.value(i))
        .filter(|s| !s.is_empty())
}
