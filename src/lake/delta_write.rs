//! Writing Delta tables: streamed, commented, change-data-feed enabled, and idempotent per run.
//!
//! A [`DeltaTableWriter`] streams batches into Parquet files as they come (memory stays bounded) and commits
//! them once, at [`DeltaTableWriter::finish`], in a single Delta version. When a run key is given, the commit
//! carries a Delta application transaction (`txn` action) for it; opening a writer for a run key the table has
//! already committed yields nothing to do, so a retried write of the same run changes nothing.
//!
//! Comments go where Spark and Unity Catalog read them: the table description (`metaData.description`) and each
//! column's `comment` metadata in the Delta schema.

use std::collections::HashMap;

use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableBuilder, TableProperty};
use futures::TryStreamExt;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use super::location::{register_cloud_stores, Location};
use crate::error::{CoreError, CoreResult};
use crate::model::ColumnLayout;

/// How a write treats rows already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace the table's rows (the schema must stay the same).
    Overwrite,
    /// Add rows.
    Append,
}

/// What a finished (or skipped) write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Table version after the write.
    pub version: i64,
    /// Rows written by this call (0 when skipped).
    pub rows: u64,
    /// Data files added.
    pub files: usize,
    /// True when the run key had already been committed and nothing was written.
    pub already_committed: bool,
}

/// Application id of the Delta `txn` action that marks a run as written.
fn app_id(run_key: &str) -> String {
    format!("carelake/{run_key}")
}

/// Flush Parquet files to storage every this many buffered bytes, so memory stays bounded.
const FLUSH_BYTES: usize = 128 * 1024 * 1024;

/// Encoded bytes per Parquet row group, at most. A row group is the unit readers decode in parallel (ours,
/// DuckDB's, Spark's): at the Parquet default of about a million rows, a 1M-member member_profile (about 80 MB
/// encoded) was one group that one core decoded while the other waited. Narrow tables such as clinical_events
/// (about 8 MB per million rows) keep million-row groups: smaller ones there only multiplied the per-group work of
/// selective reads (dictionaries decoded and codes looked up again per group; measured: care-gap events 2.4 ->
/// 3.5 s at 128k-row groups).
const ROW_GROUP_BYTES: usize = 16 * 1024 * 1024;

/// Rows handed to the Parquet writer at a time (see [`DeltaTableWriter::write`]).
const WRITE_SLICE_ROWS: usize = 64 * 1024;

/// The Parquet settings of every file we write: Snappy (what Delta writers use by default) and row groups bounded
/// in bytes as well as rows; the columns of `layouts` laid out as they say (see [`ColumnLayout`]).
fn writer_properties(layouts: &[(&str, ColumnLayout)]) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_created_by(format!("carelake {}", env!("CARGO_PKG_VERSION")))
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES));
    for &(column, layout) in layouts {
        let path = ColumnPath::from(column);
        let unique = |b: WriterPropertiesBuilder| b.set_column_dictionary_enabled(path.clone(), false);
        let unordered = |b| unique(b).set_column_statistics_enabled(path.clone(), EnabledStatistics::None);
        builder = match layout {
            ColumnLayout::Default => builder,
            ColumnLayout::Ordered => unique(builder),
            ColumnLayout::Scattered => unordered(builder),
            ColumnLayout::Digest => {
                unordered(builder).set_column_compression(path.clone(), Compression::UNCOMPRESSED)
            }
        };
    }
    builder.build()
}

/// A streaming writer of one Delta table.
pub struct DeltaTableWriter {
    table: DeltaTable,
    writer: RecordBatchWriter,
    /// The Parquet settings of its files.
    properties: WriterProperties,
    mode: WriteMode,
    run_key: Option<String>,
    adds: Vec<Add>,
    rows: u64,
    location: Location,
}

impl std::fmt::Debug for DeltaTableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaTableWriter")
            .field("location", &self.location)
            .field("mode", &self.mode)
            .field("rows", &self.rows)
            .finish()
    }
}

/// Either a writer, or the outcome of a run that was already committed.
#[derive(Debug)]
pub enum OpenedWrite {
    /// Write batches, then finish.
    Writer(Box<DeltaTableWriter>),
    /// The run key is already in the table: nothing to write.
    AlreadyCommitted(WriteOutcome),
}

impl DeltaTableWriter {
    /// Open (creating if needed) the Delta table at `location` for a write of `schema`.
    ///
    /// `comment` becomes the table description; column comments come from the schema's field metadata
    /// (`comment`). A new table gets `delta.enableChangeDataFeed = true`.
    pub async fn open(
        location: &Location,
        schema: SchemaRef,
        comment: &str,
        mode: WriteMode,
        run_key: Option<&str>,
    ) -> CoreResult<OpenedWrite> {
        register_cloud_stores();
        if let Some(path) = location.local_path() {
            std::fs::create_dir_all(&path).map_err(|e| {
                CoreError::storage(format!("creating the folder of the Delta table at {location}"), e)
            })?;
        }
        let context = |what: &str| format!("{what} Delta table at {location}");
        let mut table = DeltaTableBuilder::from_url(location.url().clone())
            .map_err(|e| CoreError::storage(context("opening"), e))?
            .build()
            .map_err(|e| CoreError::storage(context("opening"), e))?;
        let exists = table
            .verify_deltatable_existence()
            .await
            .map_err(|e| CoreError::storage(context("checking"), e))?;
        if exists {
            table
                .load()
                .await
                .map_err(|e| CoreError::storage(context("loading"), e))?;
            if let Some(key) = run_key {
                let snapshot = table.snapshot()?;
                if let Some(_v) = snapshot
                    .transaction_version(table.log_store().as_ref(), app_id(key))
                    .await?
                {
                    return Ok(OpenedWrite::AlreadyCommitted(WriteOutcome {
                        version: table.version().unwrap_or(0) as i64,
                        rows: 0,
                        files: 0,
                        already_committed: true,
                    }));
                }
            }
            table = add_new_columns(table, &schema, location).await?;
        } else {
            let columns: StructType = schema.as_ref().try_into_kernel()?;
            table = table
                .create()
                .with_columns(columns.fields().cloned())
                .with_comment(comment)
                .with_configuration_property(TableProperty::EnableChangeDataFeed, Some("true"))
                .with_configuration_property(
                    TableProperty::SetTransactionRetentionDuration,
                    Some("interval 90 days"),
                )
                .await
                .map_err(|e| CoreError::storage(context("creating"), e))?;
        }
        let properties = writer_properties(&[]);
        let writer = RecordBatchWriter::for_table(&table)?.with_writer_properties(properties.clone());
        Ok(OpenedWrite::Writer(Box::new(DeltaTableWriter {
            table,
            writer,
            properties,
            mode,
            run_key: run_key.map(str::to_string),
            adds: Vec::new(),
            rows: 0,
            location: location.clone(),
        })))
    }

    /// Write the columns of `layouts` as their layout says (see [`ColumnLayout`]); before the first batch.
    pub fn lay_out_columns(&mut self, layouts: &[(&str, ColumnLayout)]) -> CoreResult<()> {
        if self.rows > 0 {
            return Err(CoreError::Internal(
                "the Parquet settings of a table changed after its first rows".into(),
            ));
        }
        self.properties = writer_properties(layouts);
        self.writer =
            RecordBatchWriter::for_table(&self.table)?.with_writer_properties(self.properties.clone());
        Ok(())
    }

    /// Stream one batch into the table's files (not yet visible to readers).
    pub async fn write(&mut self, batch: RecordBatch) -> CoreResult<()> {
        self.rows += batch.num_rows() as u64;
        write_sliced(&mut self.writer, batch, &self.location, &mut self.adds).await
    }

    /// Write each share (batches in table order, built as they are asked for) with a Parquet writer of its own,
    /// the writers at once on the runtime's threads; the files are committed in the order of the shares. The
    /// batches are built in rounds, the next batch of every share at once on the compute pool (a round blocks
    /// the calling thread: shares of more than one are written from the stages' threads, not the runtime's),
    /// each handed to its writer as that writer takes it: no more than two batches a writer are held, however
    /// large the table. The first batch that fails to build ends the write with its error (the writers are
    /// stopped and nothing is committed).
    pub async fn write_shares<I>(&mut self, shares: Vec<I>) -> CoreResult<()>
    where
        I: Iterator<Item = CoreResult<RecordBatch>> + Send,
    {
        // Each share with the channel to its writer; a share that is done (or whose writer stopped) is dropped
        // with its sender, which closes the channel and lets the writer flush.
        let mut feeds = Vec::with_capacity(shares.len());
        let mut tasks = Vec::with_capacity(shares.len());
        for share in shares {
            let (send, mut receive) = tokio::sync::mpsc::channel::<RecordBatch>(1);
            let mut writer =
                RecordBatchWriter::for_table(&self.table)?.with_writer_properties(self.properties.clone());
            let location = self.location.clone();
            feeds.push(Some((share, send)));
            tasks.push(tokio::spawn(async move {
                let (mut adds, mut rows) = (Vec::new(), 0u64);
                while let Some(batch) = receive.recv().await {
                    rows += batch.num_rows() as u64;
                    write_sliced(&mut writer, batch, &location, &mut adds).await?;
                }
                adds.extend(writer.flush().await?);
                CoreResult::Ok((adds, rows))
            }));
        }
        let stop = |tasks: &[tokio::task::JoinHandle<_>]| tasks.iter().for_each(|t| t.abort());
        while feeds.iter().any(Option::is_some) {
            // The next batch of every share still going, built at once on the compute pool (building a batch is
            // a third of a write's work: built here one after the other, they kept the writers waiting).
            // One share (a small table, or one written from a runtime task) is built here, never blocking a
            // runtime thread on the pool.
            let next = |feed: &mut Option<(I, _)>| feed.as_mut().and_then(|(batches, _)| batches.next());
            let built: Vec<Option<CoreResult<RecordBatch>>> = match feeds.len() {
                1 => feeds.iter_mut().map(next).collect(),
                _ => feeds.par_iter_mut().map(next).collect(),
            };
            for (feed, next) in feeds.iter_mut().zip(built) {
                let Some((_, send)) = feed else { continue };
                match next {
                    Some(Ok(batch)) => {
                        if send.send(batch).await.is_err() {
                            // The writer stopped on an error, which its task gives back below.
                            *feed = None;
                        }
                    }
                    Some(Err(e)) => {
                        stop(&tasks);
                        return Err(e);
                    }
                    None => *feed = None,
                }
            }
        }
        for (i, task) in tasks.iter_mut().enumerate() {
            let written = task
                .await
                .map_err(|e| CoreError::Internal(format!("a Parquet writer stopped: {e}")))
                .and_then(|written| written);
            match written {
                Ok((adds, rows)) => {
                    self.adds.extend(adds);
                    self.rows += rows;
                }
                Err(e) => {
                    stop(&tasks[i..]);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Commit everything written, as one Delta version.
    pub async fn finish(mut self) -> CoreResult<WriteOutcome> {
        self.adds.extend(self.writer.flush().await?);
        let snapshot = self.table.snapshot()?;
        let log_store = self.table.log_store();
        let mut actions: Vec<Action> = Vec::with_capacity(self.adds.len() + 1);
        if self.mode == WriteMode::Overwrite {
            let removals: Vec<_> = snapshot
                .snapshot()
                .file_views(log_store.as_ref(), None)
                .map_ok(|file| Action::Remove(file.remove_action(true)))
                .try_collect()
                .await?;
            actions.extend(removals);
        }
        let files = self.adds.len();
        actions.extend(self.adds.drain(..).map(Action::Add));
        let mut properties = CommitProperties::default().with_metadata(HashMap::from([(
            "carelake_version".to_string(),
            serde_json::Value::String(crate::VERSION.to_string()),
        )]));
        if let Some(key) = &self.run_key {
            properties = properties.with_application_transaction(Transaction::new(app_id(key), 0));
        }
        let operation = DeltaOperation::Write {
            mode: match self.mode {
                WriteMode::Overwrite => SaveMode::Overwrite,
                WriteMode::Append => SaveMode::Append,
            },
            partition_by: None,
            predicate: None,
        };
        let finalized = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(snapshot), log_store.clone(), operation)
            .await?;
        Ok(WriteOutcome {
            version: finalized.version() as i64,
            rows: self.rows,
            files,
            already_committed: false,
        })
    }
}

/// Parquet writers for a large table written at once: one per core.
pub fn writers_per_core() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The rows of `batches` in order, split into at most `writers` shares of about equal rows (batches are sliced
/// where a share ends: no copies).
fn shares(batches: Vec<RecordBatch>, writers: usize) -> Vec<Vec<RecordBatch>> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let per_share = total.div_ceil(writers.max(1)).max(1);
    let mut shares: Vec<Vec<RecordBatch>> = vec![Vec::new()];
    let mut room = per_share;
    for batch in batches {
        let mut at = 0;
        while at < batch.num_rows() {
            if room == 0 {
                shares.push(Vec::new());
                room = per_share;
            }
            let take = room.min(batch.num_rows() - at);
            if let Some(share) = shares.last_mut() {
                share.push(batch.slice(at, take));
            }
            at += take;
            room -= take;
        }
    }
    shares
}

/// Write one batch through `writer` in slices, flushing files into `adds` as the buffer fills. The Parquet
/// writer bounds a row group's bytes by the average row size of the rows it already holds, so it cannot split
/// the batch that starts a group: it is handed slices (no copies).
async fn write_sliced(
    writer: &mut RecordBatchWriter,
    batch: RecordBatch,
    location: &Location,
    adds: &mut Vec<Add>,
) -> CoreResult<()> {
    let mut at = 0;
    while at < batch.num_rows() {
        let len = WRITE_SLICE_ROWS.min(batch.num_rows() - at);
        writer
            .write(batch.slice(at, len))
            .await
            .map_err(|e| CoreError::storage(format!("writing Delta table at {location}"), e))?;
        at += len;
        if writer.buffer_len() >= FLUSH_BYTES {
            adds.extend(writer.flush().await?);
        }
    }
    Ok(())
}

/// An existing table must have the columns we write (same names and types, in order). Columns a newer
/// carelake writes after them are added to the table first (nullable: older rows have no value), so a lake
/// written by an earlier version takes new output columns. Anything else is refused with a clear error instead
/// of producing a table Spark cannot read.
async fn add_new_columns(
    table: DeltaTable,
    schema: &SchemaRef,
    location: &Location,
) -> CoreResult<DeltaTable> {
    let existing: StructType = table.snapshot()?.schema().as_ref().clone();
    let wanted: StructType = schema.as_ref().try_into_kernel()?;
    let columns = |s: &StructType| {
        s.fields()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect::<Vec<_>>()
    };
    let (have, want) = (columns(&existing), columns(&wanted));
    if have == want {
        return Ok(table);
    }
    if want.len() <= have.len() || want[..have.len()] != have[..] {
        return Err(CoreError::Conflict(format!(
            "the Delta table at {location} exists with different columns (carelake only adds new columns after \
             the existing ones); write to a new location or remove it"
        )));
    }
    let added: Vec<Field> = schema.fields()[have.len()..]
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    let added: StructType = (&Schema::new(added)).try_into_kernel()?;
    table
        .add_columns()
        .with_fields(added.fields().cloned().collect::<Vec<_>>())
        .await
        .map_err(|e| CoreError::storage(format!("adding new columns to the Delta table at {location}"), e))
}

/// Write a whole table in one call (for small outputs).
pub async fn write_batches(
    location: &Location,
    schema: SchemaRef,
    comment: &str,
    mode: WriteMode,
    run_key: Option<&str>,
    batches: impl IntoIterator<Item = RecordBatch, IntoIter: Send>,
) -> CoreResult<WriteOutcome> {
    try_write_batches(
        location,
        schema,
        comment,
        mode,
        run_key,
        batches.into_iter().map(Ok),
        1,
    )
    .await
}

/// [`write_batches`] for batches built while the table is written (a lazy iterator): the first that fails to
/// build ends the write with its error, and nothing is committed. With one writer the batches stream through it
/// as they are built; with more (a large table, see [`writers_per_core`]) they are gathered, split into that
/// many shares of about equal rows and written at once ([`try_write_shares`]). Either way the write is one
/// version.
pub async fn try_write_batches(
    location: &Location,
    schema: SchemaRef,
    comment: &str,
    mode: WriteMode,
    run_key: Option<&str>,
    batches: impl IntoIterator<Item = CoreResult<RecordBatch>, IntoIter: Send>,
    writers: usize,
) -> CoreResult<WriteOutcome> {
    let target = TableTarget {
        location,
        schema,
        comment,
        mode,
        run_key,
        layouts: &[],
    };
    try_write_batches_to(target, batches, writers).await
}

/// [`try_write_batches`] to a [`TableTarget`] (its column layouts among what it says).
pub async fn try_write_batches_to(
    target: TableTarget<'_>,
    batches: impl IntoIterator<Item = CoreResult<RecordBatch>, IntoIter: Send>,
    writers: usize,
) -> CoreResult<WriteOutcome> {
    if writers <= 1 {
        return try_write_shares(target, vec![batches.into_iter()]).await;
    }
    let held = batches.into_iter().collect::<CoreResult<Vec<_>>>()?;
    let shares = shares(held, writers)
        .into_iter()
        .map(|share| share.into_iter().map(Ok))
        .collect();
    try_write_shares(target, shares).await
}

/// The Delta table a write goes to: where, its columns and comment, how it treats the rows there, and the run
/// key that makes the write happen once.
#[derive(Debug, Clone)]
pub struct TableTarget<'a> {
    /// Where the table is.
    pub location: &'a Location,
    /// Its columns (with their comments).
    pub schema: SchemaRef,
    /// The table's description.
    pub comment: &'a str,
    /// Overwrite or append.
    pub mode: WriteMode,
    /// The run key (see [`DeltaTableWriter::open`]).
    pub run_key: Option<&'a str>,
    /// Columns laid out otherwise than by default, with their layout (see [`ColumnLayout`]).
    pub layouts: &'a [(&'a str, ColumnLayout)],
}

/// Write a table as shares of lazily built batches, one Parquet writer a share, at once, as one version (see
/// [`DeltaTableWriter::write_shares`]): a large table is written on every core without its batches being built
/// first.
pub async fn try_write_shares<I>(target: TableTarget<'_>, shares: Vec<I>) -> CoreResult<WriteOutcome>
where
    I: Iterator<Item = CoreResult<RecordBatch>> + Send,
{
    let TableTarget {
        location,
        schema,
        comment,
        mode,
        run_key,
        layouts,
    } = target;
    match DeltaTableWriter::open(location, schema, comment, mode, run_key).await? {
        OpenedWrite::AlreadyCommitted(outcome) => Ok(outcome),
        OpenedWrite::Writer(mut writer) => {
            writer.lay_out_columns(layouts)?;
            writer.write_shares(shares).await?;
            writer.finish().await
        }
    }
}
