//! The ingest stage: read every canonical input, check it against its schema, and quarantine bad rows.
//!
//! Later stages read their inputs through [`open_input`] and [`InputStream`], so every stage applies the same
//! mapping, type checks and quarantine rules. The ingest stage itself runs them over all six inputs, writes the
//! quarantined rows and a run-log row, and reports counts per table and reason.

use std::collections::BTreeMap;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::{NaiveDate, Utc};
use rayon::prelude::*;
use serde_json::json;

use super::progress::Progress;
use super::run_log::{record_run, run_id, write_output, RunRecord};
use crate::error::{CoreError, CoreResult};
use crate::lake::selective_read::SelectiveScan;
use crate::lake::{
    detect, find_in_lake, ColumnMapping, ConformPlan, DeltaTableWriter, Location, OpenedWrite,
    QuarantinedRow, RowNumbers, TableReader, TableSource, WriteMode,
};
use crate::model::{self, only_columns, BatchBuilder, CANONICAL_INPUTS};

/// Where one canonical input is, and how its columns map.
#[derive(Debug, Clone, Default)]
pub struct InputOverride {
    /// Explicit location (else found in the lake).
    pub uri: Option<String>,
    /// Column mapping.
    pub columns: ColumnMapping,
}

/// The inputs of a run: a lake plus per-table overrides.
#[derive(Debug, Clone)]
pub struct InputSet {
    /// The lake folder.
    pub lake: Location,
    /// Overrides by canonical table name.
    pub overrides: BTreeMap<String, InputOverride>,
}

impl InputSet {
    /// Inputs found in a lake by their canonical names, without mappings.
    pub fn lake(lake: Location) -> Self {
        InputSet {
            lake,
            overrides: BTreeMap::new(),
        }
    }

    /// Locate a canonical input (None if the lake does not have it).
    pub async fn locate(&self, table: &str) -> CoreResult<Option<TableSource>> {
        match self.overrides.get(table).and_then(|o| o.uri.as_deref()) {
            // A table placed by the pipeline file: its error names the field that placed it.
            Some(uri) => match detect(&Location::parse(uri)?, table).await {
                Ok(source) => Ok(Some(source)),
                Err(CoreError::Input(m)) => Err(CoreError::Input(format!("sources.{table}.uri: {m}"))),
                Err(e) => Err(e),
            },
            None => match find_in_lake(&self.lake, table).await {
                Ok(source) => Ok(Some(source)),
                Err(CoreError::Input(_)) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// The conform plan of canonical input `table` stored with `schema`, with the mapping given for it (a
    /// missing or mistyped column fails here, before any row).
    pub(crate) fn conform_plan(&self, table: &str, schema: &SchemaRef) -> CoreResult<ConformPlan> {
        ConformPlan::new(&model::canonical_spec(table)?, schema, &self.mapping(table))
    }

    /// The conform plan of the canonical columns in `only` of `table` (see [`crate::model::TableSpec::only`]): rows are
    /// conformed (and quarantined) on those columns alone and come out with them alone. The schema is checked
    /// for those columns only: check it whole with [`Self::conform_plan`] first.
    pub(crate) fn conform_plan_of(
        &self,
        table: &str,
        schema: &SchemaRef,
        only: &[&str],
    ) -> CoreResult<ConformPlan> {
        let mut mapping = self.mapping(table);
        mapping.retain(|canonical, _| only.contains(&canonical.as_str()));
        ConformPlan::new(&model::canonical_spec(table)?.only(only), schema, &mapping)
    }

    /// The column mapping given for `table` (empty when none).
    pub(crate) fn mapping(&self, table: &str) -> ColumnMapping {
        self.overrides
            .get(table)
            .map(|o| o.columns.clone())
            .unwrap_or_default()
    }
}

/// A table's location, format and version, for the run log.
pub fn describe_source(source: &TableSource, version: Option<i64>) -> serde_json::Value {
    json!({
        "location": source.location.redacted(),
        "format": source.format.name(),
        "version": version,
    })
}

/// An open canonical input: conformed batches come out, quarantined rows are collected.
#[derive(Debug)]
pub struct InputStream {
    reader: TableReader,
    plan: ConformPlan,
    rows_read: i64,
}

/// Open a canonical input and check its schema (a missing or mistyped column fails here, before any row).
pub async fn open_input(inputs: &InputSet, table: &str) -> CoreResult<Option<InputStream>> {
    let Some(source) = inputs.locate(table).await? else {
        return Ok(None);
    };
    let reader = TableReader::open(&source).await?;
    let plan = inputs.conform_plan(table, &reader.schema())?;
    Ok(Some(InputStream {
        reader,
        plan,
        rows_read: 0,
    }))
}

impl InputStream {
    /// The table's location, format and version, for the run log.
    pub fn describe(&self) -> serde_json::Value {
        describe_source(&self.reader.source, self.reader.version)
    }

    /// The next conformed batch and the rows it quarantined; None at the end.
    pub async fn next(
        &mut self,
    ) -> CoreResult<Option<(arrow::record_batch::RecordBatch, Vec<QuarantinedRow>)>> {
        let Some(batch) = self.reader.next_batch().await? else {
            return Ok(None);
        };
        let conformed = self.plan.conform(&batch, self.rows_read)?;
        self.rows_read += batch.num_rows() as i64;
        Ok(Some((conformed.batch, conformed.quarantined)))
    }

    /// The next batch as stored (not yet conformed) and the number of rows read before it, for callers that
    /// conform on other threads with [`InputStream::plan`]; None at the end.
    pub async fn next_raw(&mut self) -> CoreResult<Option<(arrow::record_batch::RecordBatch, i64)>> {
        let Some(batch) = self.reader.next_batch().await? else {
            return Ok(None);
        };
        let offset = self.rows_read;
        self.rows_read += batch.num_rows() as i64;
        Ok(Some((batch, offset)))
    }

    /// Conform only the canonical columns in `only` (see `InputSet::conform_plan_of`); the schema was
    /// checked whole when the input was opened.
    pub(crate) fn with_only_columns(
        mut self,
        inputs: &InputSet,
        table: &str,
        only: &[&str],
    ) -> CoreResult<Self> {
        self.plan = inputs.conform_plan_of(table, &self.reader.schema(), only)?;
        Ok(self)
    }

    /// The conform plan of this input.
    pub fn plan(&self) -> &ConformPlan {
        &self.plan
    }

    /// Rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read as u64
    }
}

/// A canonical input read whole and conformed.
#[derive(Debug)]
pub struct ConformedInput {
    /// The table's location, format and version, for the run log.
    pub described: serde_json::Value,
    /// Conformed batches in table order, with the table positions of their rows.
    pub batches: Vec<(RecordBatch, RowNumbers)>,
    /// Rows that failed to conform, with their reasons.
    pub quarantined: Vec<QuarantinedRow>,
    /// Rows read in all.
    pub rows_read: u64,
}

/// Raw batches conformed at once, on every core.
const CONFORM_AT_ONCE: usize = 16;

/// Conform batches (with their rows' positions in the table) in parallel: the conformed batches with the
/// positions of their rows, and the rows quarantined added to `quarantined`.
fn conform_in_parallel(
    plan: &ConformPlan,
    batches: &[(RecordBatch, RowNumbers)],
    quarantined: &mut Vec<QuarantinedRow>,
) -> CoreResult<Vec<(RecordBatch, RowNumbers)>> {
    let conformed = batches
        .par_iter()
        .map(|(batch, numbers)| plan.conform_numbered(batch, numbers))
        .collect::<CoreResult<Vec<_>>>()?;
    let mut good = Vec::with_capacity(conformed.len());
    for (c, numbers) in conformed {
        quarantined.extend(c.quarantined);
        good.push((c.batch, numbers));
    }
    Ok(good)
}

/// Raw batches gathered and conformed [`CONFORM_AT_ONCE`] at a time on every core, each chunk's conformed
/// batches handed to `take` (which returns any rows it quarantines in turn) before the next chunk is gathered,
/// so raw batches are dropped chunk by chunk. The plan is given per call: a stream's plan is borrowed from the
/// stream between reads.
struct ConformChunks<F> {
    pending: Vec<(RecordBatch, RowNumbers)>,
    take: F,
}

impl<F> ConformChunks<F>
where
    F: FnMut(Vec<(RecordBatch, RowNumbers)>) -> CoreResult<Vec<QuarantinedRow>>,
{
    fn new(take: F) -> Self {
        ConformChunks {
            pending: Vec::with_capacity(CONFORM_AT_ONCE),
            take,
        }
    }

    /// Add a raw batch; a full chunk is conformed and handed on.
    fn push(
        &mut self,
        plan: &ConformPlan,
        raw: (RecordBatch, RowNumbers),
        quarantined: &mut Vec<QuarantinedRow>,
    ) -> CoreResult<()> {
        self.pending.push(raw);
        if self.pending.len() >= CONFORM_AT_ONCE {
            self.flush(plan, quarantined)?;
        }
        Ok(())
    }

    /// Conform what is gathered and hand it on. Rows quarantined by either step are added to `quarantined`.
    fn flush(&mut self, plan: &ConformPlan, quarantined: &mut Vec<QuarantinedRow>) -> CoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let good = conform_in_parallel(plan, &self.pending, quarantined)?;
        self.pending.clear();
        quarantined.extend((self.take)(good)?);
        Ok(())
    }
}

/// Conform batches [`CONFORM_AT_ONCE`] at a time on every core, handing each chunk's conformed batches to
/// `take` (which returns any rows it quarantines in turn) before the next chunk is conformed, so raw batches
/// are dropped chunk by chunk. Rows quarantined by either step are added to `quarantined`, chunk by chunk.
pub(crate) fn conform_in_chunks(
    plan: &ConformPlan,
    batches: impl IntoIterator<Item = (RecordBatch, RowNumbers)>,
    quarantined: &mut Vec<QuarantinedRow>,
    take: impl FnMut(Vec<(RecordBatch, RowNumbers)>) -> CoreResult<Vec<QuarantinedRow>>,
) -> CoreResult<()> {
    let mut chunks = ConformChunks::new(take);
    for raw in batches {
        chunks.push(plan, raw, quarantined)?;
    }
    chunks.flush(plan, quarantined)
}

/// Read a canonical input whole, conformed on every core (None when the input is absent). See
/// [`read_conformed_each`].
pub async fn read_conformed(inputs: &InputSet, table: &str) -> CoreResult<Option<ConformedInput>> {
    read_conformed_columns(inputs, table, None).await
}

/// [`read_conformed`], keeping of each conformed batch only the columns in `keep` (None: all). Rows are
/// conformed (and quarantined) on all their columns as ever; the others are dropped chunk by chunk, so a reader
/// of a few columns never holds the rest.
pub async fn read_conformed_columns(
    inputs: &InputSet,
    table: &str,
    keep: Option<&[String]>,
) -> CoreResult<Option<ConformedInput>> {
    let mut batches = Vec::new();
    let read = read_conformed_each(inputs, table, &[], None, |good| {
        match keep {
            Some(keep) => {
                for (batch, numbers) in good {
                    batches.push((only_columns(&batch, keep)?, numbers));
                }
            }
            None => batches.extend(good),
        }
        Ok(())
    })
    .await?;
    Ok(read.map(|read| ConformedInput { batches, ..read }))
}

/// Read a canonical input and conform it on every core, handing the conformed batches (with their rows'
/// positions) to `take` a few at a time in table order; the input's description, quarantined rows and row count
/// come back (None when the input is absent, and `take` is not called). Plain Delta and Parquet tables are read
/// by row group, several at once; other sources stream through the query engine. Raw batches are conformed
/// `CONFORM_AT_ONCE` at a time and dropped once conformed, so a `take` that keeps less than the rows never
/// holds the whole table. The canonical text columns named in `dictionaries` come dictionary-encoded when the
/// table is read by row group (see [`SelectiveScan::with_text_dictionaries`]): columns of few distinct values,
/// conformed once per value, whose reader takes [`crate::model::TextColumn`]s. With `only`, the schema is
/// checked whole but only those canonical columns are read and conformed (see `InputSet::conform_plan_of`).
pub async fn read_conformed_each(
    inputs: &InputSet,
    table: &str,
    dictionaries: &[&str],
    only: Option<&[&str]>,
    mut take: impl FnMut(Vec<(RecordBatch, RowNumbers)>) -> CoreResult<()>,
) -> CoreResult<Option<ConformedInput>> {
    let Some(source) = inputs.locate(table).await? else {
        return Ok(None);
    };
    let mut read = ConformedInput {
        described: serde_json::Value::Null,
        batches: Vec::new(),
        quarantined: Vec::new(),
        rows_read: 0,
    };
    let mut chunks = ConformChunks::new(|good| take(good).map(|()| Vec::new()));
    if let Some(mut scan) = SelectiveScan::plan(&source).await? {
        let mut plan = inputs.conform_plan(table, &scan.schema())?;
        if !dictionaries.is_empty() {
            // The source columns the canonical ones come from (a mapping may rename them).
            let schema = scan.schema();
            let stored: Vec<&str> = dictionaries
                .iter()
                .filter_map(|c| plan.source_column(c))
                .map(|i| schema.field(i).name().as_str())
                .collect();
            scan = scan.with_text_dictionaries(&stored)?;
            plan = inputs.conform_plan(table, &scan.schema())?;
        }
        if let Some(only) = only {
            // The source columns of the canonical ones asked for, alone, fetched and decoded.
            let read = inputs
                .conform_plan_of(table, &scan.schema(), only)?
                .source_columns();
            scan = scan.with_read_columns(read)?;
            plan = inputs.conform_plan_of(table, &scan.schema(), only)?;
        }
        read.described = describe_source(&source, scan.version);
        let (rows_read, quarantined) = (&mut read.rows_read, &mut read.quarantined);
        scan.read_each(|g| {
            *rows_read += g.batch.num_rows() as u64;
            chunks.push(&plan, (g.batch, g.row_numbers), quarantined)
        })
        .await?;
        chunks.flush(&plan, &mut read.quarantined)?;
        return Ok(Some(read));
    }
    let mut stream = open_input(inputs, table)
        .await?
        .ok_or_else(|| CoreError::Internal(format!("{table} was located but did not open")))?;
    if let Some(only) = only {
        stream = stream.with_only_columns(inputs, table, only)?;
    }
    read.described = stream.describe();
    while let Some((batch, offset)) = stream.next_raw().await? {
        chunks.push(
            stream.plan(),
            (batch, RowNumbers::From(offset)),
            &mut read.quarantined,
        )?;
    }
    chunks.flush(stream.plan(), &mut read.quarantined)?;
    read.rows_read = stream.rows_read();
    Ok(Some(read))
}

/// An input being read and conformed on the runtime's threads while the stage does other work. Dropped
/// unfinished (the stage failed early), the read is stopped.
pub(crate) struct BackgroundRead {
    table: &'static str,
    task: tokio::task::JoinHandle<CoreResult<Option<ConformedInput>>>,
}

impl BackgroundRead {
    /// Start a read of `table` done by `read`.
    pub(crate) fn spawn(
        table: &'static str,
        read: impl std::future::Future<Output = CoreResult<Option<ConformedInput>>> + Send + 'static,
    ) -> Self {
        BackgroundRead {
            table,
            task: tokio::spawn(read),
        }
    }

    /// Wait for the read to finish.
    pub(crate) async fn finish(mut self) -> CoreResult<Option<ConformedInput>> {
        (&mut self.task)
            .await
            .map_err(|e| CoreError::Internal(format!("reading {} stopped: {e}", self.table)))?
    }
}

impl Drop for BackgroundRead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts for one input table.
#[derive(Debug, Clone, Default)]
pub struct TableCheck {
    /// Canonical table name.
    pub table: String,
    /// Where it was found (redacted), or None when absent.
    pub location: Option<String>,
    /// Rows read.
    pub rows_read: u64,
    /// Rows that conform.
    pub rows_ok: u64,
    /// Rows quarantined, by reason code.
    pub quarantined: BTreeMap<String, u64>,
}

/// What the ingest stage found.
#[derive(Debug, Clone)]
pub struct IngestReport {
    /// The run id.
    pub run_id: String,
    /// Per-table counts, in canonical order.
    pub tables: Vec<TableCheck>,
    /// Where quarantined rows were written.
    pub quarantine_location: String,
    /// Where the run log is.
    pub runs_location: String,
    /// True when this exact run had already been recorded (nothing was written again).
    pub already_recorded: bool,
}

/// Write quarantined rows of a run into a quarantine batch.
pub fn quarantine_batch(
    run_id: &str,
    rows: &[QuarantinedRow],
) -> CoreResult<arrow::record_batch::RecordBatch> {
    let spec = model::quarantine();
    let mut b = BatchBuilder::new(&spec, rows.len());
    for r in rows {
        b.text(Some(run_id))
            .text(Some(&r.table))
            .integer(Some(r.row_number))
            .text(Some(&r.column))
            .text(Some(r.reason.code()))
            .text(Some(&r.message))
            .text(Some(&r.record));
        b.end_row();
    }
    b.finish()
}

/// Append a stage run's quarantined rows to `<output>/quarantine`, keyed by the run (a retried run writes them
/// once); nothing is written when there are none.
pub async fn write_quarantine(output: &Location, run_id: &str, rows: &[QuarantinedRow]) -> CoreResult<()> {
    if !rows.is_empty() {
        write_output(
            output,
            &model::quarantine(),
            WriteMode::Append,
            run_id,
            [quarantine_batch(run_id, rows)?],
        )
        .await?;
    }
    Ok(())
}

/// Run the ingest stage over all canonical inputs; `person_records` must exist, the others may be absent.
pub async fn ingest(
    inputs: &InputSet,
    output: &Location,
    as_of: NaiveDate,
    progress: &dyn Progress,
) -> CoreResult<IngestReport> {
    let started = Utc::now();
    let mut streams = Vec::new();
    let mut described = serde_json::Map::new();
    for table in CANONICAL_INPUTS {
        let stream = open_input(inputs, table).await?;
        if stream.is_none() && table == "person_records" {
            return Err(CoreError::Input(format!(
                "table 'person_records' not found in lake {} (it is required; other inputs are optional)",
                inputs.lake
            )));
        }
        described.insert(
            table.to_string(),
            stream
                .as_ref()
                .map_or(serde_json::Value::Null, InputStream::describe),
        );
        streams.push((table, stream));
    }
    let inputs_json = serde_json::Value::Object(described);
    let run = run_id("ingest", as_of, &inputs_json, "");
    let quarantine_spec = model::quarantine();
    let quarantine_location = output.join(quarantine_spec.name);
    let mut quarantine = DeltaTableWriter::open(
        &quarantine_location,
        quarantine_spec.arrow_schema(),
        quarantine_spec.comment,
        WriteMode::Append,
        Some(&format!("quarantine/{run}")),
    )
    .await?;

    progress.start("ingest", CANONICAL_INPUTS.len() as u64);
    let mut checks = Vec::new();
    for (table, stream) in streams {
        let mut check = TableCheck {
            table: table.to_string(),
            ..TableCheck::default()
        };
        if let Some(mut stream) = stream {
            check.location = Some(stream.reader.source.location.redacted());
            while let Some((batch, bad)) = stream.next().await? {
                check.rows_ok += batch.num_rows() as u64;
                for row in &bad {
                    *check
                        .quarantined
                        .entry(row.reason.code().to_string())
                        .or_default() += 1;
                }
                if let (OpenedWrite::Writer(writer), false) = (&mut quarantine, bad.is_empty()) {
                    writer.write(quarantine_batch(&run, &bad)?).await?;
                }
            }
            check.rows_read = stream.rows_read();
        }
        checks.push(check);
        progress.advance(1);
    }
    let already_recorded = matches!(quarantine, OpenedWrite::AlreadyCommitted(_));
    if let OpenedWrite::Writer(writer) = quarantine {
        writer.finish().await?;
    }
    progress.finish();

    let rows_in: u64 = checks.iter().map(|c| c.rows_read).sum();
    let rows_quarantined: u64 = checks.iter().map(|c| c.quarantined.values().sum::<u64>()).sum();
    let record = RunRecord {
        run_id: run.clone(),
        stage: "ingest".into(),
        as_of,
        started_at: started,
        finished_at: Utc::now(),
        status: "succeeded".into(),
        inputs: inputs_json,
        rows_in,
        rows_out: rows_in - rows_quarantined,
        rows_quarantined,
        message: Some(format!("{rows_quarantined} of {rows_in} input rows quarantined")),
    };
    record_run(output, &record).await?;
    Ok(IngestReport {
        run_id: run,
        tables: checks,
        quarantine_location: quarantine_location.redacted(),
        runs_location: output.join(model::runs().name).redacted(),
        already_recorded,
    })
}
