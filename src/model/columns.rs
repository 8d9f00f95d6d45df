//! Typed access to the columns of a batch, with a schema error naming the table and column when the column is
//! missing or of another type.

use arrow::array::{Array, AsArray, PrimitiveArray, RecordBatch, StringArray};
use arrow::datatypes::ArrowPrimitiveType;

use crate::error::{CoreError, CoreResult};

/// The text column `column` of a batch of `table`.
pub fn text_column<'a>(batch: &'a RecordBatch, table: &str, column: &str) -> CoreResult<&'a StringArray> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| CoreError::schema(table, column, "missing or not text"))
}

/// The column `column` of a batch of `table` as a primitive array of `T`; `what` names the type for the error
/// ("a date", "a timestamp", ...).
pub fn primitive_column<'a, T: ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    table: &str,
    column: &str,
    what: &str,
) -> CoreResult<&'a PrimitiveArray<T>> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_primitive_opt::<T>())
        .ok_or_else(|| CoreError::schema(table, column, format!("missing or not {what}")))
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
