//! Table and column specifications, and their translation into Arrow schemas with comments.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The canonical logical type of a column. Each maps to exactly one Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanonicalType {
    /// UTF-8 text.
    Text,
    /// A calendar date (Arrow Date32).
    Date,
    /// An instant, stored in UTC (Arrow Timestamp(µs, "UTC")).
    Timestamp,
    /// A 64-bit float (results, values).
    Float,
    /// A 64-bit integer (counts, days).
    Integer,
    /// A boolean flag.
    Boolean,
}

impl CanonicalType {
    /// The Arrow type that stores this logical type.
    pub fn arrow_type(self) -> DataType {
        match self {
            CanonicalType::Text => DataType::Utf8,
            CanonicalType::Date => DataType::Date32,
            CanonicalType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            CanonicalType::Float => DataType::Float64,
            CanonicalType::Integer => DataType::Int64,
            CanonicalType::Boolean => DataType::Boolean,
        }
    }

    /// A short name for error messages and docs.
    pub fn name(self) -> &'static str {
        match self {
            CanonicalType::Text => "text",
            CanonicalType::Date => "date",
            CanonicalType::Timestamp => "timestamp",
            CanonicalType::Float => "float",
            CanonicalType::Integer => "integer",
            CanonicalType::Boolean => "boolean",
        }
    }
}

/// One column of a canonical table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Canonical column name.
    pub name: &'static str,
    /// Canonical type.
    pub ty: CanonicalType,
    /// The column must be present in the source (after mapping).
    pub required: bool,
    /// A null in this column makes the row unusable: the row is quarantined.
    pub key: bool,
    /// Allowed values in their canonical spelling, if the column is an enumeration. Values are matched
    /// case- and punctuation-insensitively ([`crate::model::values::enum_key`]) and rewritten to this spelling;
    /// other values are quarantined.
    pub allowed: &'static [&'static str],
    /// The comment stored on the Delta column.
    pub comment: &'static str,
    /// Output columns only: how the values are laid out in Parquet (see [`ColumnLayout`]).
    pub layout: ColumnLayout,
}

/// How an output column's values are laid out in Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnLayout {
    /// A dictionary where it pays, min/max statistics, Snappy.
    Default,
    /// Nearly every value differs and the rows are in no order of it (payloads): no dictionary or min/max
    /// statistics, which cost a hash and two comparisons a value and would neither shrink the file nor let a
    /// reader skip any of it.
    Scattered,
    /// Hex digits of a hash: scattered, and not compressed either. Snappy finds next to nothing to shrink in
    /// hex digits (2% of audience_members) but spent 0.4 s of a 10M-member audience run on them.
    Digest,
    /// Nearly every value differs, but the rows come in its order (member ids: member_profile is written in
    /// member_id order and the stages after it write their rows in that order): no dictionary, which would
    /// not shrink the file, but min/max statistics, which let a reader looking for one member skip every row
    /// group and file whose range does not hold it.
    Ordered,
}

impl ColumnSpec {
    /// A required key column (present, never null).
    pub const fn key(name: &'static str, ty: CanonicalType, comment: &'static str) -> Self {
        ColumnSpec {
            name,
            ty,
            required: true,
            key: true,
            allowed: &[],
            comment,
            layout: ColumnLayout::Default,
        }
    }
    /// A column that must be present but may hold nulls.
    pub const fn required(name: &'static str, ty: CanonicalType, comment: &'static str) -> Self {
        ColumnSpec {
            name,
            ty,
            required: true,
            key: false,
            allowed: &[],
            comment,
            layout: ColumnLayout::Default,
        }
    }
    /// A column that may be absent (then all null).
    pub const fn optional(name: &'static str, ty: CanonicalType, comment: &'static str) -> Self {
        ColumnSpec {
            name,
            ty,
            required: false,
            key: false,
            allowed: &[],
            comment,
            layout: ColumnLayout::Default,
        }
    }
    /// Restrict the column to an enumeration of values (canonical spelling).
    pub const fn one_of(mut self, allowed: &'static [&'static str]) -> Self {
        self.allowed = allowed;
        self
    }
    /// Mark an output column as scattered (see [`ColumnLayout::Scattered`]).
    pub const fn scattered(mut self) -> Self {
        self.layout = ColumnLayout::Scattered;
        self
    }
    /// Mark an output column as written in its own order (see [`ColumnLayout::Ordered`]).
    pub const fn ordered(mut self) -> Self {
        self.layout = ColumnLayout::Ordered;
        self
    }
    /// Mark an output column as the hex digits of a hash (see [`ColumnLayout::Digest`]).
    pub const fn digest(mut self) -> Self {
        self.layout = ColumnLayout::Digest;
        self
    }
}

/// A canonical table: name, description and columns.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// Table name in the lake and in Unity Catalog.
    pub name: &'static str,
    /// The table comment.
    pub comment: &'static str,
    /// Rows name their person either by source keys (`source_system`, `source_record_id`) or by `member_id`;
    /// a row with neither is quarantined, and a table with neither column is a schema error.
    pub person_key: bool,
    /// Columns in canonical order.
    pub columns: Vec<ColumnSpec>,
}

impl TableSpec {
    /// The column with this canonical name.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The table with only the columns named (in canonical order; names it does not have are ignored): what a
    /// reader that uses a few columns conforms, so a row is not held back for a column that reader never reads.
    pub fn only(&self, columns: &[&str]) -> TableSpec {
        TableSpec {
            columns: self
                .columns
                .iter()
                .filter(|c| columns.contains(&c.name))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// The columns laid out otherwise than by default, with their layout (see [`ColumnLayout`]).
    pub fn column_layouts(&self) -> Vec<(&'static str, ColumnLayout)> {
        self.columns
            .iter()
            .filter(|c| c.layout != ColumnLayout::Default)
            .map(|c| (c.name, c.layout))
            .collect()
    }

    /// The Arrow schema of the table, each field carrying its comment under the metadata key `comment`
    /// (where Spark and Unity Catalog read column comments from a Delta schema).
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| {
                Field::new(c.name, c.ty.arrow_type(), !c.key)
                    .with_metadata(HashMap::from([("comment".to_string(), c.comment.to_string())]))
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}
