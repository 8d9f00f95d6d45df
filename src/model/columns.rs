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

/// The batch with only the columns named in `names`, in the batch's order (names it lacks are ignored): what a
/// later step keeps of a batch once it knows which columns it reads, so the others are freed.
pub fn only_columns<S: AsRef<str>>(batch: &RecordBatch, names: &[S]) -> CoreResult<RecordBatch> {
    let kept: Vec<usize> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| names.iter().any(|n| n.as_ref() == f.name()))
        .map(|(i, _)| i)
        .collect();
    Ok(batch.project(&kept)?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array};

    use super::*;

    #[test]
    fn only_the_named_columns_are_kept_in_the_batch_order() {
        let column = |v: i64| Arc::new(Int64Array::from(vec![v])) as ArrayRef;
        let batch =
            RecordBatch::try_from_iter([("a", column(1)), ("b", column(2)), ("c", column(3))]).unwrap();
        let kept = only_columns(&batch, &["c", "a", "not_there"]).unwrap();
        let names: Vec<&str> = kept
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(kept.num_rows(), 1);
        assert_eq!(only_columns(&batch, &[] as &[&str]).unwrap().num_columns(), 0);
    }
}
