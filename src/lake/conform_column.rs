//! Conforming one column of an input batch: the type check of a source column against its canonical type, and
//! the conversion of its values, marking the rows whose value cannot be converted (see [`super::conform`]).
//!
//! Dictionary-encoded text (how Parquet stores a column of few distinct values, read so when a stage asks) is
//! conformed once per distinct value and stays dictionary-encoded: the rows only point at their conformed value.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, DictionaryArray, Float64Builder, Int64Builder,
    StringArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int32Type};

use super::canonical_text::{is_canonical, EnumSpelling};
use super::conform::RejectReason;
use crate::error::{CoreError, CoreResult};
use crate::model::values::{
    date_to_days, parse_bool, parse_date, parse_float, parse_integer, parse_timestamp,
};
use crate::model::{CanonicalType, ColumnSpec, TableSpec};

pub(super) fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The type of a dictionary-encoded text column as conformed: 32-bit keys over plain text (what the Parquet
/// reader gives when asked for dictionaries).
pub(crate) fn text_dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Whether a source column is dictionary-encoded text that conforming keeps dictionary-encoded.
pub(super) fn is_text_dictionary(t: &DataType) -> bool {
    matches!(t, DataType::Dictionary(key, value) if **key == DataType::Int32 && is_text(value))
}

pub(super) fn check_type(spec: &TableSpec, column: &ColumnSpec, found: &DataType) -> CoreResult<()> {
    let ok = matches!(found, DataType::Null)
        || is_text(found)
        || (column.ty == CanonicalType::Text && is_text_dictionary(found))
        || match column.ty {
            CanonicalType::Text => found.is_integer(),
            CanonicalType::Date | CanonicalType::Timestamp => matches!(
                found,
                DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
            ),
            CanonicalType::Float | CanonicalType::Integer => found.is_numeric(),
            CanonicalType::Boolean => matches!(found, DataType::Boolean) || found.is_integer(),
        };
    if ok {
        Ok(())
    } else {
        Err(CoreError::schema(
            spec.name,
            column.name,
            format!(
                "has type {found}; expected {} (or text that parses as one)",
                column.ty.name()
            ),
        ))
    }
}

/// The widths in digits of the codes a source may store as whole numbers, which lose their leading zeros there
/// (a ZIP of 02134 becomes 2134, an SSN of 012-34-5678 becomes 12345678): ZIP or ZIP+4, and SSN.
fn code_widths(column: &str) -> Option<&'static [usize]> {
    match column {
        "postal_code" => Some(&[5, 9]),
        "ssn" => Some(&[9]),
        _ => None,
    }
}

/// Whole numbers as text with the leading zeros of the narrowest width that holds them; a number wider than
/// every width, or negative, is written as it is (the normalizers judge it).
fn zero_padded(numbers: &ArrayRef, widths: &[usize]) -> StringArray {
    numbers
        .as_primitive::<arrow::datatypes::Int64Type>()
        .iter()
        .map(|v| {
            v.map(|v| {
                let digits = v.to_string();
                match widths.iter().find(|&&w| digits.len() <= w) {
                    Some(&w) if v >= 0 => format!("{digits:0>w$}"),
                    _ => digits,
                }
            })
        })
        .collect()
}

pub(super) type Rejections<'a> = &'a mut [Option<(usize, RejectReason)>];

pub(super) fn reject(rejected: Rejections<'_>, row: usize, ci: usize, reason: RejectReason) {
    if rejected[row].is_none() {
        rejected[row] = Some((ci, reason));
    }
}

/// Convert one source column to its canonical type, marking rows that cannot be converted.
pub(super) fn convert(
    column: &ColumnSpec,
    source: &ArrayRef,
    ci: usize,
    rejected: Rejections<'_>,
) -> CoreResult<ArrayRef> {
    let target = column.ty.arrow_type();
    if matches!(source.data_type(), DataType::Null) {
        return Ok(arrow::array::new_null_array(&target, source.len()));
    }
    if column.ty == CanonicalType::Text && is_text_dictionary(source.data_type()) {
        return conform_dictionary(column, source, ci, rejected);
    }
    if column.ty == CanonicalType::Text && source.data_type().is_integer() {
        if let Some(widths) = code_widths(column.name) {
            let padded = zero_padded(&cast(source, &DataType::Int64)?, widths);
            return Ok(from_text(column, &padded, ci, rejected));
        }
    }
    if is_text(source.data_type()) || (column.ty == CanonicalType::Text) {
        let text = cast(source, &DataType::Utf8)?;
        let text = text.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        return Ok(from_text(column, text, ci, rejected));
    }
    if column.ty == CanonicalType::Integer && source.data_type().is_floating() {
        let floats = cast(source, &DataType::Float64)?;
        let floats = floats
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .expect("f64");
        let mut out = Int64Builder::with_capacity(floats.len());
        for (row, v) in floats.iter().enumerate() {
            match v {
                Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => out.append_value(v as i64),
                Some(_) => {
                    reject(rejected, row, ci, RejectReason::BadInteger);
                    out.append_null();
                }
                None => out.append_null(),
            }
        }
        return Ok(Arc::new(out.finish()));
    }
    if column.ty == CanonicalType::Boolean && source.data_type().is_integer() {
        let ints = cast(source, &DataType::Int64)?;
        let ints = ints
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .expect("i64");
        let mut out = BooleanBuilder::with_capacity(ints.len());
        for (row, v) in ints.iter().enumerate() {
            match v {
                Some(0) => out.append_value(false),
                Some(1) => out.append_value(true),
                Some(_) => {
                    reject(rejected, row, ci, RejectReason::BadBoolean);
                    out.append_null();
                }
                None => out.append_null(),
            }
        }
        return Ok(Arc::new(out.finish()));
    }
    // Typed source of a compatible type: Arrow's cast (naive timestamps are read as UTC).
    Ok(cast(source, &target)?)
}

/// Conform a dictionary-encoded text column: its distinct values once, then each row marked by its value's
/// rejection; the rows keep their keys, now into the conformed values (a rejected or blank value is null there,
/// so its rows are null).
fn conform_dictionary(
    column: &ColumnSpec,
    source: &ArrayRef,
    ci: usize,
    rejected: Rejections<'_>,
) -> CoreResult<ArrayRef> {
    let dictionary = source
        .as_dictionary_opt::<Int32Type>()
        .ok_or_else(|| CoreError::Internal("a text dictionary without 32-bit keys".into()))?;
    let values = cast(dictionary.values(), &DataType::Utf8)?;
    let values = values.as_string::<i32>();
    let mut value_rejected: Vec<Option<(usize, RejectReason)>> = vec![None; values.len()];
    let conformed = from_text(column, values, ci, &mut value_rejected);
    let keys = dictionary.keys();
    if value_rejected.iter().any(Option::is_some) {
        for (row, key) in keys.iter().enumerate() {
            if let Some(Some((_, reason))) = key.map(|k| value_rejected[k as usize]) {
                reject(rejected, row, ci, reason);
            }
        }
    }
    Ok(Arc::new(DictionaryArray::try_new(keys.clone(), conformed)?))
}

/// Typed values from text. Empty and blank strings are nulls.
fn from_text(column: &ColumnSpec, text: &StringArray, ci: usize, rejected: Rejections<'_>) -> ArrayRef {
    let values = text.iter().map(|v| v.map(str::trim).filter(|v| !v.is_empty()));
    macro_rules! parse_into {
        ($builder:expr, $parse:expr, $reason:expr) => {{
            let mut out = $builder;
            for (row, v) in values.enumerate() {
                match v.map(|v| ($parse)(v)) {
                    Some(Some(parsed)) => out.append_value(parsed),
                    Some(None) => {
                        reject(rejected, row, ci, $reason);
                        out.append_null();
                    }
                    None => out.append_null(),
                }
            }
            Arc::new(out.finish()) as ArrayRef
        }};
    }
    let n = text.len();
    match column.ty {
        // Fast path: nothing to trim, no blank to turn into a null and, for an enumeration, every value already
        // spelled canonically, so the column is kept as it is (no copy).
        CanonicalType::Text if is_canonical(text, column.allowed) => Arc::new(text.clone()),
        CanonicalType::Text if column.allowed.is_empty() => {
            let mut out = StringBuilder::with_capacity(n, text.value_data().len());
            for v in values {
                out.append_option(v);
            }
            Arc::new(out.finish())
        }
        CanonicalType::Text => {
            let canonical = EnumSpelling::new(column.allowed);
            parse_into!(
                StringBuilder::with_capacity(n, n * 8),
                |v: &str| canonical.canonical(v),
                RejectReason::NotAllowed
            )
        }
        CanonicalType::Date => parse_into!(
            Date32Builder::with_capacity(n),
            |v: &str| parse_date(v).map(date_to_days),
            RejectReason::BadDate
        ),
        CanonicalType::Timestamp => {
            let out = parse_into!(
                TimestampMicrosecondBuilder::with_capacity(n),
                |v: &str| parse_timestamp(v).map(|t| t.timestamp_micros()),
                RejectReason::BadTimestamp
            );
            cast(&out, &column.ty.arrow_type()).expect("µs timestamp to µs UTC is a relabel")
        }
        CanonicalType::Float => parse_into!(
            Float64Builder::with_capacity(n),
            parse_float,
            RejectReason::BadNumber
        ),
        CanonicalType::Integer => parse_into!(
            Int64Builder::with_capacity(n),
            parse_integer,
            RejectReason::BadInteger
        ),
        CanonicalType::Boolean => parse_into!(
            BooleanBuilder::with_capacity(n),
            parse_bool,
            RejectReason::BadBoolean
        ),
    }
}
