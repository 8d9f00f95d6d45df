//! Reading only the rows a predicate keeps from a Delta or Parquet table (late materialization).
//!
//! The predicate's columns are decoded for every row, as dictionaries where Parquet stores them so (a code
//! column holds a few thousand distinct values over millions of rows); the other columns are decoded only for the
//! rows kept. Care gaps use it for clinical events, where about one row in thirty carries a value-set code.
//! Row groups are read concurrently, and results come back in table order with each kept row's position in the
//! table, so quarantine row numbers are the same as a full read's.
//!
//! Only plain tables take this path: a Delta table with column mapping, deletion vectors or partition columns,
//! or files whose schemas differ, needs the query engine's reader ([`SelectiveScan::plan`] says None).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use super::conform::RowNumbers;
use super::conform_column::text_dictionary_type;
use super::kept_rows::read_kept_rows;
use super::location::register_cloud_stores;
use super::read::{open_delta_table, plain_schema};
use super::source::{TableFormat, TableSource};
use crate::error::{CoreError, CoreResult};

/// The predicate: given the batch of its columns (by their stored names), which rows to keep.
pub type RowPredicate = Arc<dyn Fn(&RecordBatch) -> CoreResult<BooleanArray> + Send + Sync>;

/// Rows of one row group: all the rows a filter kept from it, or one batch of an unfiltered read as decoded.
#[derive(Debug)]
pub struct SelectedRows {
    /// The rows kept, with every column, in the table's plain schema.
    pub batch: RecordBatch,
    /// Each kept row's position in the table (0-based, in table order).
    pub row_numbers: RowNumbers,
}

/// One Parquet file of the table, with its footer.
#[derive(Debug, Clone)]
struct ScanFile {
    path: StorePath,
    size: u64,
    metadata: ArrowReaderMetadata,
    /// Position of the file's first row in the table.
    first_row: i64,
}

/// A table whose files can be read selectively.
#[derive(Debug)]
pub struct SelectiveScan {
    store: Arc<dyn ObjectStore>,
    files: Vec<ScanFile>,
    schema: SchemaRef,
    /// The columns [`Self::read_each`] reads (positions in `schema`, ascending) and their schema (None: all).
    read_columns: Option<(Vec<usize>, SchemaRef)>,
    /// Delta version read (None for Parquet).
    pub version: Option<i64>,
}

/// How many row groups are read at once: enough to keep every core decoding while another waits on storage.
const CONCURRENT_ROW_GROUPS: usize = 4;

/// How many file footers are fetched at once when a table is opened (small reads, mostly waiting on storage).
const CONCURRENT_FOOTERS: usize = 8;

impl SelectiveScan {
    /// Open the files of `source` for selective reading; None when the table needs the query engine's reader
    /// (CSV, a Delta table with column mapping, deletion vectors or partition columns, files whose schemas differ).
    pub async fn plan(source: &TableSource) -> CoreResult<Option<Self>> {
        register_cloud_stores();
        let (store, root) = source.location.object_store()?;
        let (paths, version) = match source.format {
            TableFormat::Csv => return Ok(None),
            TableFormat::Delta => match delta_files(source, &root).await? {
                Some(found) => found,
                None => return Ok(None),
            },
            TableFormat::Parquet => (parquet_files(source, &store, &root).await?, None),
        };
        // Footers are fetched concurrently (each is a round trip on object storage), kept in table order.
        let footers: Vec<(StorePath, u64, ArrowReaderMetadata)> = futures::stream::iter(paths)
            .map(|(path, size)| {
                let mut reader = StoreFile {
                    store: store.clone(),
                    path: path.clone(),
                    size,
                };
                async move {
                    let metadata =
                        ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new()).await;
                    metadata.map(|m| (path, size, m))
                }
            })
            .buffered(CONCURRENT_FOOTERS)
            .try_collect()
            .await
            .map_err(|e| {
                CoreError::storage(format!("reading the footer of a file of '{}'", source.name), e)
            })?;
        let mut files = Vec::with_capacity(footers.len());
        let mut schema: Option<SchemaRef> = None;
        let mut first_row = 0i64;
        for (path, size, metadata) in footers {
            let plain = plain_schema(metadata.schema());
            match &schema {
                None => schema = Some(plain),
                Some(first) if first.fields() == plain.fields() => {}
                Some(_) => return Ok(None),
            }
            let rows = metadata.metadata().file_metadata().num_rows();
            files.push(ScanFile {
                path,
                size,
                metadata,
                first_row,
            });
            first_row += rows;
        }
        let Some(schema) = schema else {
            return Ok(None); // no files: the query engine reports the empty table with its schema
        };
        Ok(Some(SelectiveScan {
            store,
            files,
            schema,
            read_columns: None,
            version,
        }))
    }

    /// Read the text columns named (stored names; others are ignored) as dictionaries: 32-bit keys over each
    /// column chunk's distinct values, as Parquet stores a column of few distinct values, instead of a copy of
    /// the text for every row. The schema says so.
    pub fn with_text_dictionaries(mut self, columns: &[&str]) -> CoreResult<Self> {
        let hint = |schema: &Schema| -> SchemaRef {
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .map(|f| {
                    let text = matches!(
                        f.data_type(),
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    );
                    match text && columns.contains(&f.name().as_str()) {
                        true => f.as_ref().clone().with_data_type(text_dictionary_type()),
                        false => f.as_ref().clone(),
                    }
                })
                .collect();
            Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
        };
        for file in &mut self.files {
            let options = ArrowReaderOptions::new().with_schema(hint(file.metadata.schema()));
            file.metadata = ArrowReaderMetadata::try_new(file.metadata.metadata().clone(), options)?;
        }
        self.schema = hint(&self.schema);
        if let Some((positions, _)) = self.read_columns.take() {
            return self.with_read_columns(positions);
        }
        Ok(self)
    }

    /// Read only the columns at these positions of the table's schema with [`Self::read_each`] (the others are
    /// neither fetched nor decoded); [`Self::schema`] is then theirs, in table order. Other reads are not
    /// narrowed.
    pub fn with_read_columns(mut self, mut positions: Vec<usize>) -> CoreResult<Self> {
        positions.sort_unstable();
        positions.dedup();
        let schema = Arc::new(self.schema.project(&positions)?);
        self.read_columns = Some((positions, schema));
        Ok(self)
    }

    /// The table's schema, with view and large string types as plain Utf8 (and the text columns read as
    /// dictionaries as such, see [`Self::with_text_dictionaries`]); only the columns read, when narrowed (see
    /// [`Self::with_read_columns`]).
    pub fn schema(&self) -> SchemaRef {
        match &self.read_columns {
            None => self.schema.clone(),
            Some((_, schema)) => schema.clone(),
        }
    }

    /// At most how many rows hold each value of the text column `column`, from the row groups' statistics: a
    /// row group holds values between its minimum and maximum, so its rows count for each value seen as a
    /// minimum or maximum in that range. In a table written in that column's order nearly every row group holds
    /// one value and the bounds are nearly exact; None when a row group has no exact statistics or nulls, or when
    /// the bounds together exceed the rows by more than a quarter (a table in no such order).
    pub fn rows_by_value(&self, column: &str) -> Option<Vec<(String, u64)>> {
        let mut groups: Vec<(&[u8], &[u8], u64)> = Vec::new();
        for file in &self.files {
            let metadata = file.metadata.metadata();
            let schema = metadata.file_metadata().schema_descr();
            let index = schema
                .columns()
                .iter()
                .position(|c| c.path().string() == column)?;
            for group in metadata.row_groups() {
                let statistics = group.column(index).statistics()?;
                let exact = statistics.min_is_exact() && statistics.max_is_exact();
                if statistics.null_count_opt() != Some(0) || !exact {
                    return None;
                }
                let (min, max) = (statistics.min_bytes_opt()?, statistics.max_bytes_opt()?);
                groups.push((min, max, group.num_rows().max(0) as u64));
            }
        }
        let mut values: Vec<&[u8]> = groups.iter().flat_map(|&(min, max, _)| [min, max]).collect();
        values.sort_unstable();
        values.dedup();
        let mut counts = Vec::with_capacity(values.len());
        for value in values {
            let rows: u64 = groups
                .iter()
                .filter(|(min, max, _)| *min <= value && value <= *max)
                .map(|(_, _, rows)| rows)
                .sum();
            counts.push((std::str::from_utf8(value).ok()?.to_string(), rows));
        }
        let (bounds, rows) = (counts.iter().map(|(_, n)| n).sum::<u64>(), self.rows());
        (bounds <= rows + rows / 4).then_some(counts)
    }

    /// Rows in the table.
    pub fn rows(&self) -> u64 {
        self.files
            .iter()
            .map(|f| f.metadata.metadata().file_metadata().num_rows().max(0) as u64)
            .sum()
    }

    /// The rows `predicate` keeps, by row group in table order; `columns` are the stored names of the columns
    /// the predicate reads (text columns among them are handed to it dictionary-encoded). `on_row_group` is
    /// called with the rows of each row group read.
    pub async fn select(
        &self,
        columns: &[&str],
        predicate: RowPredicate,
        on_row_group: &(dyn Fn(u64) + Sync),
    ) -> CoreResult<Vec<SelectedRows>> {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        self.scan_all(Some((columns, predicate)), None, on_row_group)
            .await
    }

    /// Every row, each decoded batch handed to `take` in table order as it is read (row groups decoded a few at a
    /// time), so a caller that keeps less than the rows never holds the whole table.
    pub async fn read_each(&self, take: impl FnMut(SelectedRows) -> CoreResult<()>) -> CoreResult<()> {
        let positions = self.read_columns.as_ref().map(|(p, _)| p.clone());
        self.scan(None, positions, &|_| {}, take).await
    }

    /// Every row of the named columns (in that order; None: all of them), each batch handed to `take` in table
    /// order as it is read (row groups decoded a few at a time); a column the table does not have is a schema
    /// error.
    pub async fn read_columns_each(
        &self,
        table: &str,
        columns: Option<&[&str]>,
        mut take: impl FnMut(RecordBatch) -> CoreResult<()>,
    ) -> CoreResult<()> {
        let Some(columns) = columns else {
            return self.scan(None, None, &|_| {}, |rows| take(rows.batch)).await;
        };
        let mut indices = Vec::with_capacity(columns.len());
        for name in columns {
            let at = self
                .schema
                .index_of(name)
                .map_err(|_| CoreError::schema(table, name, "column not found"))?;
            indices.push(at);
        }
        // Parquet gives a projection's columns in file order; put them in the order asked for.
        let mut sorted = indices.clone();
        sorted.sort_unstable();
        let order: Vec<usize> = indices
            .iter()
            .map(|i| sorted.iter().position(|s| s == i).unwrap_or(0))
            .collect();
        self.scan(None, Some(sorted), &|_| {}, |rows| {
            take(rows.batch.project(&order)?)
        })
        .await
    }

    /// [`Self::scan`], the rows collected in table order.
    async fn scan_all(
        &self,
        filter: Option<(Vec<String>, RowPredicate)>,
        projection: Option<Vec<usize>>,
        on_row_group: &(dyn Fn(u64) + Sync),
    ) -> CoreResult<Vec<SelectedRows>> {
        let mut out = Vec::new();
        self.scan(filter, projection, on_row_group, |g| {
            out.push(g);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Read by row group, handing each group's rows to `take` in table order (see [`SelectedRows`]);
    /// `projection` (column positions in ascending order, the order Parquet returns them) limits the columns
    /// read.
    async fn scan(
        &self,
        filter: Option<(Vec<String>, RowPredicate)>,
        projection: Option<Vec<usize>>,
        on_row_group: &(dyn Fn(u64) + Sync),
        mut take: impl FnMut(SelectedRows) -> CoreResult<()>,
    ) -> CoreResult<()> {
        let mut units = Vec::new();
        for file in &self.files {
            let mut first_row = file.first_row;
            for (index, group) in file.metadata.metadata().row_groups().iter().enumerate() {
                units.push((file.clone(), index, first_row));
                first_row += group.num_rows();
            }
        }
        let schema = match &projection {
            None => self.schema.clone(),
            Some(indices) => Arc::new(self.schema.project(indices)?),
        };
        let results = futures::stream::iter(units)
            .map(|(file, index, first_row)| {
                let (store, filter, schema, projection) = (
                    self.store.clone(),
                    filter.clone(),
                    schema.clone(),
                    projection.clone(),
                );
                tokio::spawn(async move {
                    let rows = file.metadata.metadata().row_group(index).num_rows().max(0) as u64;
                    let selected =
                        read_row_group(store, &file, index, first_row, filter, projection, &schema).await;
                    (selected, rows)
                })
            })
            .buffered(CONCURRENT_ROW_GROUPS);
        futures::pin_mut!(results);
        while let Some(joined) = results.next().await {
            let (selected, rows) =
                joined.map_err(|e| CoreError::Internal(format!("a row-group reader stopped: {e}")))?;
            for part in selected? {
                take(part)?;
            }
            on_row_group(rows);
        }
        Ok(())
    }
}

/// Read one row group: with a filter, the predicate's columns first, then the other columns for the rows it
/// keeps (one batch, see [`read_kept_rows`]); without, every row, in the batches the reader decoded. Without a
/// filter the batches are not concatenated: copying a whole row group into fresh memory once more cost more than
/// the decoding.
async fn read_row_group(
    store: Arc<dyn ObjectStore>,
    file: &ScanFile,
    index: usize,
    first_row: i64,
    filter: Option<(Vec<String>, RowPredicate)>,
    projection: Option<Vec<usize>>,
    plain: &SchemaRef,
) -> CoreResult<Vec<SelectedRows>> {
    let stored = file.metadata.schema();
    let reader = StoreFile {
        store,
        path: file.path.clone(),
        size: file.size,
    };
    let Some((columns, predicate)) = filter else {
        let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, file.metadata.clone());
        let builder = match projection {
            None => builder,
            Some(indices) => {
                let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
                builder.with_projection(mask)
            }
        };
        let stream = builder
            .with_row_groups(vec![index])
            .with_batch_size(65_536)
            .build()?;
        let batches: Vec<RecordBatch> = stream.try_collect().await?;
        let mut at = first_row;
        let mut parts = Vec::with_capacity(batches.len());
        for batch in batches.into_iter().filter(|b| b.num_rows() > 0) {
            let rows = batch.num_rows() as i64;
            parts.push(SelectedRows {
                batch: as_plain(batch, plain)?,
                row_numbers: RowNumbers::From(at),
            });
            at += rows;
        }
        return Ok(parts);
    };
    let mut roots = Vec::with_capacity(columns.len());
    for name in &columns {
        let at = stored
            .index_of(name)
            .map_err(|_| CoreError::Internal(format!("predicate column '{name}' is not in the file")))?;
        roots.push(at);
    }
    // Text columns the predicate reads come as dictionaries: it decides once per distinct value.
    let hinted: Vec<Field> = stored
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let text = matches!(
                f.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            );
            if roots.contains(&i) && text {
                f.as_ref().clone().with_data_type(text_dictionary_type())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let hinted = Arc::new(Schema::new_with_metadata(hinted, stored.metadata().clone()));
    let metadata = ArrowReaderMetadata::try_new(
        file.metadata.metadata().clone(),
        ArrowReaderOptions::new().with_schema(hinted),
    )?;
    let open = || reader.clone();
    let Some((batch, positions)) = read_kept_rows(open, metadata, index, &roots, &predicate).await? else {
        return Ok(Vec::new());
    };
    Ok(vec![SelectedRows {
        batch: as_plain(batch, plain)?,
        row_numbers: RowNumbers::Listed(positions.into_iter().map(|p| first_row + p as i64).collect()),
    }])
}

/// A batch as read, in the table's plain schema (view and large string types cast to Utf8).
fn as_plain(batch: RecordBatch, plain: &SchemaRef) -> CoreResult<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(plain.fields())
        .map(|(c, f)| -> Result<ArrayRef, ArrowError> {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                cast(c, f.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(plain.clone(), columns)?)
}

/// A Parquet file in an object store, read by byte ranges.
#[derive(Clone)]
struct StoreFile {
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    size: u64,
}

impl AsyncFileReader for StoreFile {
    fn get_bytes(&mut self, range: std::ops::Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_page_index_policy(PageIndexPolicy::Skip)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// The data files of a plain Delta table (with their sizes) and its version; None when the table needs the
/// query engine's reader.
async fn delta_files(
    source: &TableSource,
    root: &StorePath,
) -> CoreResult<Option<(Vec<(StorePath, u64)>, Option<i64>)>> {
    let table = open_delta_table(source).await?;
    let state = table
        .snapshot()
        .map_err(|e| CoreError::storage(format!("reading the state of Delta table '{}'", source.name), e))?;
    // deltalake does not re-export the kernel's mode type; its Debug name is the mode (None, Id, Name).
    let mapped = state
        .table_config()
        .column_mapping_mode
        .is_some_and(|mode| format!("{mode:?}") != "None");
    if mapped {
        return Ok(None);
    }
    let mut files = Vec::new();
    for file in state.log_data() {
        if file.deletion_vector_descriptor().is_some() || !file.partition_values_map().is_empty() {
            return Ok(None);
        }
        let relative = file.object_store_path();
        let path = StorePath::from_iter(root.parts().chain(relative.parts()));
        files.push((path, file.size().max(0) as u64));
    }
    Ok(Some((files, table.version().map(|v| v as i64))))
}

/// The Parquet files of a Parquet table (one file, or a folder's files in name order) with their sizes.
async fn parquet_files(
    source: &TableSource,
    store: &Arc<dyn ObjectStore>,
    root: &StorePath,
) -> CoreResult<Vec<(StorePath, u64)>> {
    if source
        .location
        .url()
        .path()
        .to_ascii_lowercase()
        .ends_with(".parquet")
    {
        let meta = store
            .head(root)
            .await
            .map_err(|e| CoreError::storage(format!("reading '{}'", source.name), e))?;
        return Ok(vec![(meta.location, meta.size)]);
    }
    // The files the query engine's reader takes as the table (see `source::is_table_file`).
    let mut files: Vec<(StorePath, u64)> = store
        .list(Some(root))
        .try_filter(|m| futures::future::ready(super::source::is_table_file(root, &m.location)))
        .map_ok(|m| (m.location, m.size))
        .try_collect()
        .await
        .map_err(|e| CoreError::storage(format!("listing the files of '{}'", source.name), e))?;
    files.sort();
    Ok(files)
}
