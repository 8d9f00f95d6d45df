//! Reading tables as streams of Arrow record batches, with the query engine (DataFusion) doing the I/O.
//!
//! CSV is read with every column as text so that a malformed value becomes a quarantined row in the conform
//! step (with a reason) instead of failing the whole read.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use deltalake::datafusion::execution::SendableRecordBatchStream;
use deltalake::datafusion::prelude::{
    CsvReadOptions, DataFrame, ParquetReadOptions, SessionConfig, SessionContext,
};
use futures::StreamExt;
use url::Url;

use super::location::{register_cloud_stores, Location};
use super::runtime::block_on;
use super::source::{TableFormat, TableSource};
use crate::error::{CoreError, CoreResult};

/// An open table: its schema, the Delta version read (if Delta), and a stream of batches.
pub struct TableReader {
    /// The table read.
    pub source: TableSource,
    /// Delta table version read, for the run log (None for Parquet and CSV).
    pub version: Option<i64>,
    schema: SchemaRef,
    stream: SendableRecordBatchStream,
}

impl std::fmt::Debug for TableReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableReader")
            .field("source", &self.source)
            .field("version", &self.version)
            .finish()
    }
}

/// Which columns a read returns.
#[derive(Debug, Clone, Copy)]
pub enum Columns<'a> {
    /// Every column.
    All,
    /// These, in this order; a column the table lacks is a schema error.
    Named(&'a [&'a str]),
    /// Those of these the table has, in this order: for optional columns, and for projections worked out
    /// against a canonical schema that an older table may not have in full.
    Present(&'a [&'a str]),
}

impl<'a> From<Option<&'a [&'a str]>> for Columns<'a> {
    fn from(columns: Option<&'a [&'a str]>) -> Self {
        columns.map_or(Columns::All, Columns::Named)
    }
}

impl Columns<'_> {
    /// The names to read from a table of this schema (None: every column); `table` names it in errors.
    pub(crate) fn resolve(&self, table: &str, schema: &Schema) -> CoreResult<Option<Vec<&str>>> {
        let has = |name: &&str| schema.field_with_name(name).is_ok();
        match *self {
            Columns::All => Ok(None),
            Columns::Named(names) => match names.iter().find(|n| !has(n)) {
                Some(missing) => Err(CoreError::schema(table, missing, "column not found")),
                None => Ok(Some(names.to_vec())),
            },
            Columns::Present(names) => Ok(Some(names.iter().copied().filter(has).collect())),
        }
    }
}

impl TableReader {
    /// Open a table for reading.
    pub async fn open(source: &TableSource) -> CoreResult<Self> {
        Self::open_columns(source, None).await
    }

    /// Open a table for reading only some of its columns (all when None); a missing column is a schema error.
    pub async fn open_columns(source: &TableSource, columns: Option<&[&str]>) -> CoreResult<Self> {
        Self::open_selected(source, Columns::from(columns)).await
    }

    /// Open a table for reading the given columns.
    async fn open_selected(source: &TableSource, columns: Columns<'_>) -> CoreResult<Self> {
        register_cloud_stores();
        // One partition, files in table order: rows come out in a stable order, so quarantine row numbers and
        // everything computed from a read are reproducible. (Kernels parallelize after the read.)
        let config = SessionConfig::new()
            .with_target_partitions(1)
            .with_repartition_file_scans(false)
            .set_bool("datafusion.execution.parquet.schema_force_view_types", false);
        let ctx = SessionContext::new_with_config(config);
        let location = &source.location;
        if !location.is_local() {
            let (store, _) = location.object_store()?;
            ctx.runtime_env()
                .register_object_store(&store_root(location.url()), store);
        }
        let (frame, version) = match source.format {
            TableFormat::Delta => open_delta(&ctx, source).await?,
            TableFormat::Parquet => (open_parquet(&ctx, location).await?, None),
            TableFormat::Csv => (open_csv(&ctx, location).await?, None),
        };
        let frame = match columns.resolve(&source.name, frame.schema().as_arrow())? {
            None => frame,
            Some(names) => frame
                .select_columns(&names)
                .map_err(|e| CoreError::storage(format!("selecting columns of '{}'", source.name), e))?,
        };
        let schema = plain_schema(frame.schema().as_arrow());
        let stream = frame
            .execute_stream()
            .await
            .map_err(|e| CoreError::storage(format!("reading table '{}' at {location}", source.name), e))?;
        Ok(TableReader {
            source: source.clone(),
            version,
            schema,
            stream,
        })
    }

    /// The schema of the batches, as stored (before conforming to the canonical schema).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch, or None at the end.
    pub async fn next_batch(&mut self) -> CoreResult<Option<RecordBatch>> {
        match self.stream.next().await {
            None => Ok(None),
            Some(Ok(batch)) if batch.schema() == self.schema => Ok(Some(batch)),
            Some(Ok(batch)) => {
                let columns = batch
                    .columns()
                    .iter()
                    .zip(self.schema.fields())
                    .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(RecordBatch::try_new(self.schema.clone(), columns)?))
            }
            Some(Err(e)) => {
                let table = format!("table '{}' at {}", self.source.name, self.source.location);
                let csv = self.source.format == TableFormat::Csv;
                match csv.then(|| csv_problem(&e.to_string())).flatten() {
                    Some(problem) => Err(CoreError::Input(format!("{table}: {problem}"))),
                    None => Err(CoreError::storage(format!("reading {table}"), e)),
                }
            }
        }
    }

    /// Read the rest of the table into memory.
    pub async fn collect(mut self) -> CoreResult<Vec<RecordBatch>> {
        let mut out = Vec::new();
        while let Some(batch) = self.next_batch().await? {
            out.push(batch);
        }
        Ok(out)
    }

    /// A synchronous reader over the same stream (for kernels and the Python binding).
    pub fn into_blocking(self) -> BlockingTableReader {
        BlockingTableReader { inner: self }
    }
}

/// A synchronous [`RecordBatchReader`] over a [`TableReader`].
#[derive(Debug)]
pub struct BlockingTableReader {
    inner: TableReader,
}

impl Iterator for BlockingTableReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        block_on(self.inner.next_batch())
            .map_err(|e| ArrowError::ExternalError(Box::new(e)))
            .transpose()
    }
}

impl RecordBatchReader for BlockingTableReader {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

/// Read all of the table at `location` (`name` names it in errors); only `columns` when given.
pub async fn read_table(
    location: &Location,
    name: &str,
    columns: Option<&[&str]>,
) -> CoreResult<Vec<RecordBatch>> {
    let source = super::source::detect(location, name).await?;
    TableReader::open_columns(&source, columns).await?.collect().await
}

/// [`read_table`], or None when there is no table at `location` (an optional input or a first run).
pub async fn read_table_if_present(
    location: &Location,
    name: &str,
    columns: Option<&[&str]>,
) -> CoreResult<Option<Vec<RecordBatch>>> {
    if_present(read_table(location, name, columns).await)
}

/// A read's result, with "there is no such table" (an input error) as None.
fn if_present<T>(read: CoreResult<T>) -> CoreResult<Option<T>> {
    match read {
        Ok(value) => Ok(Some(value)),
        Err(CoreError::Input(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// [`read_table_if_present`], with the table's row groups decoded concurrently when it is a plain Delta or
/// Parquet table (see [`SelectiveScan::plan`](super::selective_read::SelectiveScan::plan)); other tables go
/// through the query engine's reader. `columns`, when given, are read in that order.
pub async fn read_table_in_parallel_if_present(
    location: &Location,
    name: &str,
    columns: Option<&[&str]>,
) -> CoreResult<Option<Vec<RecordBatch>>> {
    read_columns_in_parallel_if_present(location, name, Columns::from(columns)).await
}

/// [`read_table_in_parallel_if_present`] for any choice of [`Columns`]: [`read_columns_each_if_present`], the
/// batches collected.
pub async fn read_columns_in_parallel_if_present(
    location: &Location,
    name: &str,
    columns: Columns<'_>,
) -> CoreResult<Option<Vec<RecordBatch>>> {
    let mut batches = Vec::new();
    let present = read_columns_each_if_present(location, name, columns, |batch| {
        batches.push(batch);
        Ok(())
    })
    .await?;
    Ok(present.then_some(batches))
}

/// [`read_columns_in_parallel_if_present`] with each batch handed to `take` in table order as it is read, not
/// all of them returned: a caller that keeps less than the rows (an index of them) never holds the table. False
/// when there is no table at `location`.
pub async fn read_columns_each_if_present(
    location: &Location,
    name: &str,
    columns: Columns<'_>,
    take: impl FnMut(RecordBatch) -> CoreResult<()>,
) -> CoreResult<bool> {
    read_columns_each_counted_if_present(location, name, columns, None, take).await
}

/// What [`read_columns_each_counted_if_present`] counts: a text column, and where its rows per value go.
pub type CountBy<'a> = (&'a str, &'a mut dyn FnMut(Vec<(String, u64)>));

/// [`read_columns_each_if_present`], first handing `count`'s function at most how many rows hold each value of
/// its column, when the files' statistics tell (a table written in that column's order: see
/// [`super::selective_read::SelectiveScan::rows_by_value`]), so an index of the rows can be sized once before
/// they come.
pub async fn read_columns_each_counted_if_present(
    location: &Location,
    name: &str,
    columns: Columns<'_>,
    count: Option<CountBy<'_>>,
    mut take: impl FnMut(RecordBatch) -> CoreResult<()>,
) -> CoreResult<bool> {
    let Some(source) = if_present(super::source::detect(location, name).await)? else {
        return Ok(false);
    };
    match super::selective_read::SelectiveScan::plan(&source).await? {
        Some(scan) => {
            let columns = columns.resolve(name, &scan.schema())?;
            if let Some((column, counted)) = count {
                if let Some(rows) = scan.rows_by_value(column) {
                    counted(rows);
                }
            }
            scan.read_columns_each(name, columns.as_deref(), take).await?;
        }
        None => {
            // The query engine's reader, on the table already found.
            let Some(mut reader) = if_present(TableReader::open_selected(&source, columns).await)? else {
                return Ok(false);
            };
            while let Some(batch) = reader.next_batch().await? {
                take(batch)?;
            }
        }
    }
    Ok(true)
}

/// Open a table and read all of it (blocking).
pub fn read_all(source: &TableSource) -> CoreResult<(SchemaRef, Vec<RecordBatch>)> {
    block_on(async {
        let reader = TableReader::open(source).await?;
        let schema = reader.schema();
        Ok((schema, reader.collect().await?))
    })
}

/// The schema with view and large string types replaced by plain Utf8 (and binary likewise) and dictionaries by
/// their values, which is what Spark, Delta writers and older pyarrow versions expect from carelake.
pub(crate) fn plain_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let plain = match f.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
                DataType::Dictionary(_, values) => match values.as_ref() {
                    DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                    DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
                    other => other.clone(),
                },
                other => other.clone(),
            };
            f.as_ref().clone().with_data_type(plain)
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn store_root(url: &Url) -> Url {
    let mut root = url.clone();
    root.set_path("/");
    root.set_query(None);
    root
}

/// Open the Delta table of `source` at its latest version.
pub(crate) async fn open_delta_table(source: &TableSource) -> CoreResult<deltalake::DeltaTable> {
    deltalake::open_table(source.location.url().clone())
        .await
        .map_err(|e| {
            CoreError::storage(
                format!("opening Delta table '{}' at {}", source.name, source.location),
                e,
            )
        })
}

async fn open_delta(ctx: &SessionContext, source: &TableSource) -> CoreResult<(DataFrame, Option<i64>)> {
    let table = open_delta_table(source).await?;
    let version = table.version().map(|v| v as i64);
    table.update_datafusion_session(&ctx.state())?;
    let provider = table.table_provider().await?;
    Ok((ctx.read_table(provider)?, version))
}

async fn open_parquet(ctx: &SessionContext, location: &Location) -> CoreResult<DataFrame> {
    let mut url = location.url().to_string();
    if !url.to_ascii_lowercase().ends_with(".parquet") && !url.ends_with('/') {
        url.push('/');
    }
    Ok(ctx.read_parquet(url, ParquetReadOptions::default()).await?)
}

async fn open_csv(ctx: &SessionContext, location: &Location) -> CoreResult<DataFrame> {
    let url = location.url().to_string();
    // First pass: the header names alone (no row is read: a row of another delimiter would not parse). Second
    // pass: every column as text.
    let header = |delimiter: u8| {
        let options = CsvReadOptions::new()
            .has_header(true)
            .delimiter(delimiter)
            .schema_infer_max_records(0);
        ctx.read_csv(url.clone(), options)
    };
    let mut delimiter = b',';
    let mut inferred = header(delimiter).await?;
    if let Some(other) = other_delimiter(inferred.schema().fields()) {
        delimiter = other;
        inferred = header(delimiter).await?;
    }
    let text_schema = Schema::new(
        inferred
            .schema()
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    );
    let options = CsvReadOptions::new()
        .has_header(true)
        .delimiter(delimiter)
        .schema(&text_schema);
    Ok(ctx.read_csv(url, options).await?)
}

/// What is wrong with a CSV file, from the CSV reader's message, in words a user can act on; None for other
/// errors. Only the reader's line, field and count numbers are taken from the message (never a value).
fn csv_problem(message: &str) -> Option<String> {
    let number_after = |marker: &str| -> Option<u64> {
        let rest = &message[message.find(marker)? + marker.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    if let Some(line) = number_after("invalid UTF-8 data for line ") {
        return Some(format!(
            "line {line} is not UTF-8 text: save the file as UTF-8 (in Excel: CSV UTF-8)"
        ));
    }
    // The reader says it in two ways: while reading ("incorrect number of fields for line 3, expected 2 got 4",
    // or "got more than 2") and while looking at the first rows ("unequal lengths ... Expected 2 records, found 4
    // records at line 3").
    let (line, expected, found) = if message.contains("incorrect number of fields for line ") {
        let found = number_after(" got more than ").map(|n| format!("more than {n}"));
        (
            number_after("fields for line ")?,
            number_after(", expected ")?,
            found.or_else(|| number_after(" got ").map(|n| n.to_string()))?,
        )
    } else if message.contains("unequal lengths between records") {
        let found = number_after("found ")?.to_string();
        (number_after("at line ")?, number_after("Expected ")?, found)
    } else {
        return None;
    };
    Some(format!(
        "line {line} has {found} fields where the header has {expected}: a separator inside a value that is not \
         quoted, or a row cut short"
    ))
}

/// The delimiter of a "CSV" whose header read with commas is one column holding semicolons, tabs or bars (as
/// spreadsheets in much of Europe and database exports write them): the one it holds most of.
fn other_delimiter(fields: &arrow::datatypes::Fields) -> Option<u8> {
    let [only] = &fields[..] else {
        return None;
    };
    let count = |d: u8| only.name().bytes().filter(|&b| b == d).count();
    [b';', b'\t', b'|']
        .into_iter()
        .filter(|&d| count(d) > 0)
        .max_by_key(|&d| count(d))
}
