//! Preparing person records for matching: every field normalized once, stored column-wise.
//!
//! Normalized values live in Arrow string arrays (one buffer per column), so ten million records stay compact
//! and comparisons read contiguous memory. Batches are prepared in parallel and concatenated in input order.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, Int32Builder, RecordBatch, StringArray, StringBuilder,
};
use arrow::compute::concat;
use arrow::datatypes::{DataType, Date32Type, Field, Schema, TimestampMicrosecondType};
use rayon::prelude::*;

use super::normalize::{
    email_canonical, email_match_key, fold, formal_given_name, normalize_address, normalize_name, phone_e164,
    record_number, sex_code, soundex, ssn_digits, zip5,
};
use crate::error::{CoreError, CoreResult};
use crate::model::primitive_column;

/// The normalized fields of all records, column-wise, in input order.
#[derive(Debug, Clone)]
pub struct PreparedRecords {
    /// Source system (as given).
    pub source_system: StringArray,
    /// Record id within the source (as given).
    pub source_record_id: StringArray,
    /// First given-name token, folded (`BILL`).
    pub first: StringArray,
    /// The formal given name (`WILLIAM` for `BILL`).
    pub first_formal: StringArray,
    /// Family name, folded (`GARCIA LOPEZ`).
    pub last: StringArray,
    /// Middle name initial.
    pub middle_initial: StringArray,
    /// Suffix (JR, SR, III, ...).
    pub suffix: StringArray,
    /// Soundex of the first given name.
    pub first_soundex: StringArray,
    /// Soundex of the family name.
    pub last_soundex: StringArray,
    /// Birth date, days since the epoch.
    pub birth_date: Int32Array,
    /// F or M.
    pub sex: StringArray,
    /// Valid SSN, nine digits.
    pub ssn: StringArray,
    /// Phone in E.164.
    pub phone: StringArray,
    /// Email match key.
    pub email: StringArray,
    /// House number.
    pub address_number: StringArray,
    /// Street (USPS style).
    pub street: StringArray,
    /// Five-digit ZIP.
    pub zip: StringArray,
    /// Member number, canonical.
    pub member_number: StringArray,
    /// MRN, canonical.
    pub mrn: StringArray,
    /// When the source last updated the record (µs since the epoch).
    pub updated_at: arrow::array::Int64Array,
}

impl PreparedRecords {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.source_record_id.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of a string column at a row, None when null.
    pub fn get(column: &StringArray, row: usize) -> Option<&str> {
        (!column.is_null(row)).then(|| column.value(row))
    }
}

/// Column names of [`PreparedRecords::to_batch`], in order (the last two are Int32 and Int64, the rest text).
pub const PREPARED_COLUMNS: [&str; 20] = [
    "source_system",
    "source_record_id",
    "first",
    "first_formal",
    "last",
    "middle_initial",
    "suffix",
    "first_soundex",
    "last_soundex",
    "sex",
    "ssn",
    "phone",
    "email",
    "address_number",
    "street",
    "zip",
    "member_number",
    "mrn",
    "birth_date",
    "updated_at",
];

fn prepared_type(index: usize) -> DataType {
    match index {
        18 => DataType::Int32,
        19 => DataType::Int64,
        _ => DataType::Utf8,
    }
}

/// The Arrow schema of prepared records, each column name preceded by `prefix`.
pub fn prepared_schema(prefix: &str) -> Schema {
    Schema::new(
        PREPARED_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, name)| Field::new(format!("{prefix}{name}"), prepared_type(i), true))
            .collect::<Vec<_>>(),
    )
}

impl PreparedRecords {
    fn from_columns(columns: &[ArrayRef]) -> Self {
        let s = |i: usize| columns[i].as_string::<i32>().clone();
        PreparedRecords {
            source_system: s(0),
            source_record_id: s(1),
            first: s(2),
            first_formal: s(3),
            last: s(4),
            middle_initial: s(5),
            suffix: s(6),
            first_soundex: s(7),
            last_soundex: s(8),
            sex: s(9),
            ssn: s(10),
            phone: s(11),
            email: s(12),
            address_number: s(13),
            street: s(14),
            zip: s(15),
            member_number: s(16),
            mrn: s(17),
            birth_date: columns[18].as_primitive::<arrow::datatypes::Int32Type>().clone(),
            updated_at: columns[19].as_primitive::<arrow::datatypes::Int64Type>().clone(),
        }
    }

    /// The records as one Arrow batch with [`prepared_schema`]`("")`, for engines that move them between
    /// processes (the Spark engine's blocking and comparison steps).
    pub fn to_batch(&self) -> CoreResult<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.source_system.clone()),
            Arc::new(self.source_record_id.clone()),
            Arc::new(self.first.clone()),
            Arc::new(self.first_formal.clone()),
            Arc::new(self.last.clone()),
            Arc::new(self.middle_initial.clone()),
            Arc::new(self.suffix.clone()),
            Arc::new(self.first_soundex.clone()),
            Arc::new(self.last_soundex.clone()),
            Arc::new(self.sex.clone()),
            Arc::new(self.ssn.clone()),
            Arc::new(self.phone.clone()),
            Arc::new(self.email.clone()),
            Arc::new(self.address_number.clone()),
            Arc::new(self.street.clone()),
            Arc::new(self.zip.clone()),
            Arc::new(self.member_number.clone()),
            Arc::new(self.mrn.clone()),
            Arc::new(self.birth_date.clone()),
            Arc::new(self.updated_at.clone()),
        ];
        Ok(RecordBatch::try_new(Arc::new(prepared_schema("")), columns)?)
    }

    /// Records from the columns of `batch` named as [`prepared_schema`]`(prefix)`; a missing or mistyped
    /// column is a schema error naming it.
    pub fn from_batch(batch: &RecordBatch, prefix: &str) -> CoreResult<Self> {
        let columns = PREPARED_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let full = format!("{prefix}{name}");
                let column = batch
                    .column_by_name(&full)
                    .ok_or_else(|| CoreError::schema("prepared_records", &full, "missing from the batch"))?;
                let wanted = prepared_type(i);
                if column.data_type() == &wanted {
                    Ok(column.clone())
                } else if column.data_type() == &DataType::LargeUtf8 && wanted == DataType::Utf8 {
                    // Spark sends large strings when asked to; the kernels read 32-bit offsets.
                    Ok(arrow::compute::cast(column, &wanted)?)
                } else {
                    Err(CoreError::schema(
                        "prepared_records",
                        &full,
                        format!("is {} but must be {wanted}", column.data_type()),
                    ))
                }
            })
            .collect::<CoreResult<Vec<_>>>()?;
        Ok(Self::from_columns(&columns))
    }
}

fn text<'a>(batch: &'a RecordBatch, name: &str) -> CoreResult<&'a StringArray> {
    crate::model::text_column(batch, "person_records", name)
}

/// Normalize one conformed `person_records` batch.
fn prepare_batch(batch: &RecordBatch) -> CoreResult<Vec<ArrayRef>> {
    let n = batch.num_rows();
    let first_in = text(batch, "first_name")?;
    let middle_in = text(batch, "middle_name")?;
    let last_in = text(batch, "last_name")?;
    let suffix_in = text(batch, "suffix")?;
    let sex_in = text(batch, "sex")?;
    let ssn_in = text(batch, "ssn")?;
    let phone_in = text(batch, "phone")?;
    let email_in = text(batch, "email")?;
    let line1_in = text(batch, "address_line1")?;
    let line2_in = text(batch, "address_line2")?;
    let zip_in = text(batch, "postal_code")?;
    let member_in = text(batch, "member_number")?;
    let mrn_in = text(batch, "mrn")?;
    let birth = primitive_column::<Date32Type>(
        batch,
        "person_records",
        "birth_date",
        "a date in the conformed batch",
    )?;
    let updated = primitive_column::<TimestampMicrosecondType>(
        batch,
        "person_records",
        "updated_at",
        "a timestamp in the conformed batch",
    )?;

    let mut b: Vec<StringBuilder> = (0..16).map(|_| StringBuilder::with_capacity(n, n * 8)).collect();
    let mut birth_out = Int32Builder::with_capacity(n);
    let get = PreparedRecords::get;
    for i in 0..n {
        let first = get(first_in, i).map(normalize_name);
        let first_token = first
            .as_ref()
            .map(|f| f.first_token().to_string())
            .filter(|s| !s.is_empty());
        let last = get(last_in, i).map(normalize_name).filter(|l| !l.full.is_empty());
        let suffix = get(suffix_in, i)
            .and_then(super::normalize::canonical_suffix)
            .or(last.as_ref().and_then(|l| l.suffix))
            .or(first.as_ref().and_then(|f| f.suffix));
        let middle = get(middle_in, i)
            .map(fold)
            .and_then(|m| m.chars().next())
            .map(String::from);
        let address = get(line1_in, i).map(|l1| normalize_address(l1, get(line2_in, i)));
        let values: [Option<String>; 16] = [
            first_token.clone(),
            first_token.as_deref().map(formal_given_name),
            last.as_ref().map(|l| l.full.clone()),
            middle,
            suffix.map(str::to_string),
            first_token.as_deref().map(soundex).filter(|s| !s.is_empty()),
            last.as_ref().map(|l| soundex(&l.full)).filter(|s| !s.is_empty()),
            get(sex_in, i).and_then(sex_code).map(str::to_string),
            get(ssn_in, i).and_then(ssn_digits),
            get(phone_in, i).and_then(phone_e164),
            get(email_in, i)
                .and_then(email_canonical)
                .map(|e| email_match_key(&e)),
            address.as_ref().and_then(|a| a.number.clone()),
            address
                .as_ref()
                .map(|a| a.street.clone())
                .filter(|s| !s.is_empty()),
            get(zip_in, i).and_then(zip5),
            get(member_in, i).and_then(record_number),
            get(mrn_in, i).and_then(record_number),
        ];
        for (builder, value) in b.iter_mut().zip(values) {
            builder.append_option(value);
        }
        birth_out.append_option((!birth.is_null(i)).then(|| birth.value(i)));
    }
    let mut out: Vec<ArrayRef> = vec![
        Arc::new(text(batch, "source_system")?.clone()),
        Arc::new(text(batch, "source_record_id")?.clone()),
    ];
    out.extend(b.iter_mut().map(|x| Arc::new(x.finish()) as ArrayRef));
    out.push(Arc::new(birth_out.finish()));
    out.push(Arc::new(
        updated.reinterpret_cast::<arrow::datatypes::Int64Type>(),
    ));
    Ok(out)
}

/// Normalize conformed `person_records` batches (in parallel) into one column-wise set.
pub fn prepare(batches: &[RecordBatch]) -> CoreResult<PreparedRecords> {
    let parts: Vec<Vec<ArrayRef>> = batches.par_iter().map(prepare_batch).collect::<CoreResult<_>>()?;
    let columns: Vec<ArrayRef> = (0..PREPARED_COLUMNS.len())
        .map(|c| {
            let pieces: Vec<&dyn Array> = parts.iter().map(|p| p[c].as_ref()).collect();
            if pieces.is_empty() {
                Ok(arrow::array::new_empty_array(&prepared_type(c)))
            } else {
                concat(&pieces)
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(PreparedRecords::from_columns(&columns))
}
