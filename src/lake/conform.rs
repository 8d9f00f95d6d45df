//! Conforming an input table to its canonical schema: column mapping, type checks, and quarantine.
//!
//! Two kinds of failure, kept apart on purpose:
//! - the *table* is wrong (a required column is missing, a column has a type that cannot hold the canonical
//!   type): a [`CoreError::Schema`] naming the table and column, before any row is read;
//! - a *row* is wrong (a null key, a date that does not parse, a value outside an enumeration): the row goes to
//!   quarantine with a reason code, and is counted. Nothing is dropped silently.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::compute::filter;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::conform_column::{check_type, convert, is_text_dictionary, reject, text_dictionary_type};
use super::rejected_rows::rows_as_json;
use crate::error::{CoreError, CoreResult};
use crate::model::{CanonicalType, ColumnSpec, TableSpec};

/// Canonical column name -> source column name.
pub type ColumnMapping = HashMap<String, String>;

/// Why a row was quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// A key column is null or empty.
    NullKey,
    /// Text that is not a date.
    BadDate,
    /// Text that is not a timestamp.
    BadTimestamp,
    /// Text that is not a number.
    BadNumber,
    /// A value that is not a whole number.
    BadInteger,
    /// Text that is not a yes/no flag.
    BadBoolean,
    /// A value outside the column's allowed set.
    NotAllowed,
    /// Neither source keys nor member_id.
    NoPersonKey,
    /// A date after the run's as-of date (an event in the future).
    DateAfterAsOf,
    /// An event dated before the person's birth.
    DateBeforeBirth,
    /// A span whose end is before its start.
    EndBeforeStart,
    /// The row's person is not known to identity resolution (no identity_xref or member_profile row).
    UnknownPerson,
}

impl RejectReason {
    /// Machine-readable code, stored in `quarantine.reason_code`.
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::NullKey => "null_key",
            RejectReason::BadDate => "bad_date",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::BadNumber => "bad_number",
            RejectReason::BadInteger => "bad_integer",
            RejectReason::BadBoolean => "bad_boolean",
            RejectReason::NotAllowed => "not_allowed",
            RejectReason::NoPersonKey => "no_person_key",
            RejectReason::DateAfterAsOf => "date_after_as_of",
            RejectReason::DateBeforeBirth => "date_before_birth",
            RejectReason::EndBeforeStart => "end_before_start",
            RejectReason::UnknownPerson => "unknown_person",
        }
    }

    /// The human-readable reason for a column (names the rule, never the value).
    pub fn describe(self, column: &ColumnSpec) -> String {
        match self {
            RejectReason::NullKey => format!("key column '{}' is null or empty", column.name),
            RejectReason::BadDate => format!(
                "'{}' is not a date in a known format (ISO YYYY-MM-DD, YYYYMMDD, MM/DD/YYYY, DD-Mon-YYYY)",
                column.name
            ),
            RejectReason::BadTimestamp => format!("'{}' is not a timestamp (ISO 8601 expected)", column.name),
            RejectReason::BadNumber => format!("'{}' is not a number", column.name),
            RejectReason::BadInteger => format!("'{}' is not a whole number", column.name),
            RejectReason::BadBoolean => format!("'{}' is not a yes/no flag", column.name),
            RejectReason::NotAllowed => format!(
                "'{}' is not one of the allowed values: {}",
                column.name,
                column.allowed.join(", ")
            ),
            RejectReason::NoPersonKey => {
                "row has neither source_system + source_record_id nor member_id".to_string()
            }
            RejectReason::DateAfterAsOf => format!("'{}' is after the run's as-of date", column.name),
            RejectReason::DateBeforeBirth => format!("'{}' is before the person's birth date", column.name),
            RejectReason::EndBeforeStart => format!("'{}' is before the start of the span", column.name),
            RejectReason::UnknownPerson => {
                "the row's person key matches no member of identity resolution".to_string()
            }
        }
    }
}

/// One quarantined row (without the run id, added when written).
#[derive(Debug, Clone)]
pub struct QuarantinedRow {
    /// Canonical table the row came from.
    pub table: String,
    /// Position of the row in the input as read (0-based).
    pub row_number: i64,
    /// First failing canonical column.
    pub column: String,
    /// Why.
    pub reason: RejectReason,
    /// Human-readable reason (no values).
    pub message: String,
    /// The raw row as JSON.
    pub record: String,
}

/// The result of conforming one batch.
#[derive(Debug)]
pub struct Conformed {
    /// Rows that passed, in canonical schema and column order.
    pub batch: RecordBatch,
    /// Rows that did not.
    pub quarantined: Vec<QuarantinedRow>,
}

/// Where the rows of a batch are in their table (for quarantine row numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowNumbers {
    /// Consecutive rows from this position on.
    From(i64),
    /// The position of each row (rows a filter kept, or rows left after others were quarantined).
    Listed(Vec<i64>),
}

impl RowNumbers {
    /// The position of row `row` of the batch.
    pub fn at(&self, row: usize) -> i64 {
        match self {
            RowNumbers::From(first) => first + row as i64,
            RowNumbers::Listed(listed) => listed[row],
        }
    }

    /// The positions of the `len` rows that remain when the rows at `removed` (ascending) are taken out.
    pub fn without(&self, removed: &[usize], len: usize) -> RowNumbers {
        if removed.is_empty() {
            return self.clone();
        }
        let mut next = removed.iter().peekable();
        let kept = (0..len)
            .filter(|row| {
                if next.peek() == Some(&row) {
                    next.next();
                    false
                } else {
                    true
                }
            })
            .map(|row| self.at(row))
            .collect();
        RowNumbers::Listed(kept)
    }
}

/// Where each canonical column comes from in the source, checked once per table against the source schema.
#[derive(Debug, Clone)]
pub struct ConformPlan {
    spec: TableSpec,
    target: SchemaRef,
    /// Source column index per canonical column (None: absent, all null).
    sources: Vec<Option<usize>>,
}

impl ConformPlan {
    /// Check the source schema against the canonical table; a missing or mistyped column is a schema error.
    pub fn new(spec: &TableSpec, source: &SchemaRef, mapping: &ColumnMapping) -> CoreResult<Self> {
        for canonical in mapping.keys() {
            if spec.column(canonical).is_none() {
                return Err(CoreError::Config(format!(
                    "column mapping for table '{}' names '{}', which is not a canonical column (known: {})",
                    spec.name,
                    canonical,
                    spec.columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let mut sources = Vec::with_capacity(spec.columns.len());
        for column in &spec.columns {
            let index = match mapping.get(column.name) {
                Some(source_name) => Some(find_column(source, source_name).ok_or_else(|| {
                    CoreError::schema(
                        spec.name,
                        column.name,
                        format!("mapped from source column '{source_name}', which the input does not have"),
                    )
                })?),
                None => find_column(source, column.name),
            };
            match index {
                Some(i) => check_type(spec, column, source.field(i).data_type())?,
                None if column.required => {
                    return Err(CoreError::schema(
                        spec.name,
                        column.name,
                        format!(
                            "missing (expected {}); add it to the input or map a source column to it under sources.{}.columns",
                            column.ty.name(),
                            spec.name
                        ),
                    ))
                }
                None => {}
            }
            sources.push(index);
        }
        if spec.person_key {
            let has = |name: &str| {
                spec.columns
                    .iter()
                    .zip(&sources)
                    .any(|(c, s)| c.name == name && s.is_some())
            };
            let has_source_keys = has("source_system") && has("source_record_id");
            if !has_source_keys && !has("member_id") {
                return Err(CoreError::schema(
                    spec.name,
                    "source_record_id",
                    "the table needs a person key: source_system and source_record_id, or member_id",
                ));
            }
        }
        // A text column read as a dictionary stays one once conformed (see [`super::conform_column`]).
        let canonical = spec.arrow_schema();
        let fields: Vec<Field> = canonical
            .fields()
            .iter()
            .zip(spec.columns.iter().zip(&sources))
            .map(|(field, (column, at))| {
                let dictionary = column.ty == CanonicalType::Text
                    && at.is_some_and(|i| is_text_dictionary(source.field(i).data_type()));
                let field = field.as_ref().clone();
                match dictionary {
                    true => field.with_data_type(text_dictionary_type()),
                    false => field,
                }
            })
            .collect();
        Ok(ConformPlan {
            spec: spec.clone(),
            target: Arc::new(Schema::new_with_metadata(fields, canonical.metadata().clone())),
            sources,
        })
    }

    /// The index of the source column a canonical column comes from (None: absent from the source).
    pub fn source_column(&self, canonical: &str) -> Option<usize> {
        let at = self.spec.columns.iter().position(|c| c.name == canonical)?;
        self.sources[at]
    }

    /// The positions of the source columns this plan reads, ascending.
    pub fn source_columns(&self) -> Vec<usize> {
        let mut positions: Vec<usize> = self.sources.iter().flatten().copied().collect();
        positions.sort_unstable();
        positions.dedup();
        positions
    }

    /// The canonical schema of conformed batches.
    pub fn schema(&self) -> SchemaRef {
        self.target.clone()
    }

    /// Conform a sequence of batches, numbering rows across them: the conforming batches, every quarantined row,
    /// and the number of rows read.
    pub fn conform_all<E>(
        &self,
        batches: impl IntoIterator<Item = Result<RecordBatch, E>>,
    ) -> CoreResult<(Vec<RecordBatch>, Vec<QuarantinedRow>, u64)>
    where
        CoreError: From<E>,
    {
        let mut good = Vec::new();
        let mut quarantined = Vec::new();
        let mut offset = 0i64;
        for batch in batches {
            let batch = batch?;
            let out = self.conform(&batch, offset)?;
            offset += batch.num_rows() as i64;
            good.push(out.batch);
            quarantined.extend(out.quarantined);
        }
        Ok((good, quarantined, offset as u64))
    }

    /// Conform one batch whose rows are at `numbers` in their table: the conformed batch, the rows it
    /// quarantined, and the positions of the conformed rows.
    pub fn conform_numbered(
        &self,
        batch: &RecordBatch,
        numbers: &RowNumbers,
    ) -> CoreResult<(Conformed, RowNumbers)> {
        let mut conformed = self.conform(batch, 0)?;
        let removed: Vec<usize> = conformed
            .quarantined
            .iter()
            .map(|q| q.row_number as usize)
            .collect();
        for q in &mut conformed.quarantined {
            q.row_number = numbers.at(q.row_number as usize);
        }
        let kept = numbers.without(&removed, batch.num_rows());
        Ok((conformed, kept))
    }

    /// Conform one batch; `row_offset` is the number of rows read before it (for quarantine row numbers).
    pub fn conform(&self, batch: &RecordBatch, row_offset: i64) -> CoreResult<Conformed> {
        let rows = batch.num_rows();
        let mut rejected: Vec<Option<(usize, RejectReason)>> = vec![None; rows];
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.spec.columns.len());
        for (ci, (column, source)) in self.spec.columns.iter().zip(&self.sources).enumerate() {
            let converted = match source {
                None => arrow::array::new_null_array(&column.ty.arrow_type(), rows),
                Some(i) => convert(column, batch.column(*i), ci, &mut rejected)?,
            };
            let nulls = column.key.then(|| converted.logical_nulls()).flatten();
            // Readers give a column a null buffer whenever the field may hold nulls, most often with none.
            if let Some(nulls) = nulls.filter(|n| n.null_count() > 0) {
                for row in (0..rows).filter(|row| nulls.is_null(*row)) {
                    reject(&mut rejected, row, ci, RejectReason::NullKey);
                }
            }
            columns.push(converted);
        }
        if self.spec.person_key {
            self.check_person_key(&columns, &mut rejected);
        }
        if rejected.iter().all(Option::is_none) {
            let batch = RecordBatch::try_new(self.target.clone(), columns)?;
            return Ok(Conformed {
                batch,
                quarantined: Vec::new(),
            });
        }
        // Filter before assembling: key columns are non-nullable, and rejected rows may hold their nulls.
        let keep = BooleanArray::from(rejected.iter().map(|r| r.is_none()).collect::<Vec<_>>());
        let kept: Vec<ArrayRef> = columns
            .iter()
            .map(|c| filter(c, &keep))
            .collect::<Result<_, _>>()?;
        let bad_rows: Vec<u32> = (0..rows as u32)
            .filter(|r| rejected[*r as usize].is_some())
            .collect();
        let records = rows_as_json(batch, &bad_rows)?;
        let quarantined = bad_rows
            .iter()
            .zip(records)
            .map(|(row, record)| {
                let (ci, reason) = rejected[*row as usize].expect("selected rows are rejected");
                let column = &self.spec.columns[ci];
                QuarantinedRow {
                    table: self.spec.name.to_string(),
                    row_number: row_offset + i64::from(*row),
                    column: column.name.to_string(),
                    reason,
                    message: reason.describe(column),
                    record,
                }
            })
            .collect();
        Ok(Conformed {
            batch: RecordBatch::try_new(self.target.clone(), kept)?,
            quarantined,
        })
    }

    fn check_person_key(&self, columns: &[ArrayRef], rejected: &mut [Option<(usize, RejectReason)>]) {
        let index = |name: &str| self.spec.columns.iter().position(|c| c.name == name);
        let (Some(sys), Some(rec), Some(member)) = (
            index("source_system"),
            index("source_record_id"),
            index("member_id"),
        ) else {
            return;
        };
        // Rows whose member_id is null and whose source system or record is: a few bitmap operations over the
        // batch, then only those rows (nearly always none).
        let Some(member_valid) = columns[member].logical_nulls().map(|n| n.inner().clone()) else {
            return;
        };
        let source_valid = [sys, rec]
            .iter()
            .filter_map(|&c| columns[c].logical_nulls().map(|n| n.inner().clone()))
            .reduce(|a, b| &a & &b);
        let Some(source_valid) = source_valid else {
            return;
        };
        let no_key = !&(&member_valid | &source_valid);
        for row in no_key.set_indices() {
            let slot = &mut rejected[row];
            if slot.is_none() {
                *slot = Some((rec, RejectReason::NoPersonKey));
            }
        }
    }
}

fn find_column(schema: &SchemaRef, name: &str) -> Option<usize> {
    schema.index_of(name).ok().or_else(|| {
        schema
            .fields()
            .iter()
            .position(|f| f.name().eq_ignore_ascii_case(name))
    })
}
