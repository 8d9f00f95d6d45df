//! Typed access to the columns of a batch, with a schema error naming the table and column when the column is
//! missing or of another type.

use arrow::array::{AsArray, RecordBatch, StringArray};

use crate::error::{CoreError, CoreResult};

/// The text column `column` of a batch of `table`.
pub fn text_column<'a>(batch: &'a RecordBatch, table: &str, column: &str) -> CoreResult<&'a StringArray> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| CoreError::schema(table, column, "missing or not text"))
}
