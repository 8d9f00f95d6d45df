//! Typed access to the columns of a batch, with a schema error naming the table and column when the column is
//! missing or of another type.

use arrow::array::{Array, AsArray, Int32Array, PrimitiveArray, RecordBatch, StringArray};
use arrow::datatypes::{ArrowPrimitiveType, Int32Type};

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

/// A text column as read: plain text, or dictionary-encoded text as Parquet stores low-cardinality columns
/// (read so, a column of a few distinct values is not copied out value by value for every row).
#[derive(Debug, Clone, Copy)]
pub enum TextColumn<'a> {
    /// Each row's text in place.
    Plain(&'a StringArray),
    /// Each row's key into `values`.
    Dictionary {
        /// Row -> entry of `values` (null: the row is null).
        keys: &'a Int32Array,
        /// The distinct texts.
        values: &'a StringArray,
    },
}

impl<'a> TextColumn<'a> {
    /// The column as text cells, if it is text (plain, or a dictionary of 32-bit keys over plain text).
    pub fn of(array: &'a dyn Array) -> Option<Self> {
        if let Some(plain) = array.as_string_opt::<i32>() {
            return Some(TextColumn::Plain(plain));
        }
        let dictionary = array.as_dictionary_opt::<Int32Type>()?;
        let values = dictionary.values().as_string_opt::<i32>()?;
        Some(TextColumn::Dictionary {
            keys: dictionary.keys(),
            values,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            TextColumn::Plain(a) => a.len(),
            TextColumn::Dictionary { keys, .. } => keys.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` holds a value.
    pub fn is_valid(&self, i: usize) -> bool {
        match self {
            TextColumn::Plain(a) => a.is_valid(i),
            TextColumn::Dictionary { keys, values } => {
                keys.is_valid(i) && values.is_valid(keys.value(i) as usize)
            }
        }
    }

    /// The text of row `i` (empty for a null row, as Arrow's own accessor gives).
    pub fn value(&self, i: usize) -> &'a str {
        match self {
            TextColumn::Plain(a) => a.value(i),
            TextColumn::Dictionary { keys, values } => values.value(keys.value(i) as usize),
        }
    }

    /// What `f` gives for each row's text (as [`Self::value`] reads it), worked out once per distinct value of a
    /// dictionary column: a column of a few values over millions of rows is then parsed a few times, not per row.
    pub fn mapped<T: Copy>(&self, f: impl Fn(&'a str) -> T) -> MappedText<'a, T> {
        match self {
            TextColumn::Plain(a) => MappedText {
                keys: None,
                mapped: (0..a.len()).map(|i| f(a.value(i))).collect(),
            },
            TextColumn::Dictionary { keys, values } => MappedText {
                keys: Some(keys),
                mapped: (0..values.len()).map(|v| f(values.value(v))).collect(),
            },
        }
    }

    /// The row's position among the column's distinct values (a dictionary's key), or among its rows (plain):
    /// rows with the same position hold the same text.
    pub fn value_position(&self, i: usize) -> usize {
        match self {
            TextColumn::Plain(_) => i,
            TextColumn::Dictionary { keys, .. } => keys.value(i) as usize,
        }
    }

    /// How many positions [`Self::value_position`] gives.
    pub fn value_positions(&self) -> usize {
        match self {
            TextColumn::Plain(a) => a.len(),
            TextColumn::Dictionary { values, .. } => values.len(),
        }
    }
}

/// A function's result for each row of a text column (see [`TextColumn::mapped`]).
#[derive(Debug)]
pub struct MappedText<'a, T> {
    /// A dictionary column's keys (None: `mapped` is by row).
    keys: Option<&'a Int32Array>,
    mapped: Vec<T>,
}

impl<T: Copy> MappedText<'_, T> {
    /// The result for row `i`.
    pub fn get(&self, i: usize) -> T {
        match self.keys {
            Some(keys) => self.mapped[keys.value(i) as usize],
            None => self.mapped[i],
        }
    }
}

/// The text column `column` of a batch of `table`, plain or dictionary-encoded.
pub fn text_cells<'a>(batch: &'a RecordBatch, table: &str, column: &str) -> CoreResult<TextColumn<'a>> {
    batch
        .column_by_name(column)
        .and_then(|c| TextColumn::of(c.as_ref()))
        .ok_or_else(|| CoreError::schema(table, column, "missing or not text"))
}

/// The text column `column` of a batch, if it has one (optional canonical columns), plain or
/// dictionary-encoded.
pub fn optional_text_column<'a>(batch: &'a RecordBatch, column: &str) -> Option<TextColumn<'a>> {
    batch
        .column_by_name(column)
        .and_then(|c| TextColumn::of(c.as_ref()))
}

/// Row `i` of an optional text column: None when the column is absent, or the value null or empty.
pub fn text_value(column: Option<TextColumn<'_>>, i: usize) -> Option<&str> {
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
