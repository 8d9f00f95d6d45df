//! How the care-gap stage reads clinical events: from the lake (selectively where the table allows, else
//! streamed through the query engine) or as rows an engine's executors already kept, matched to members by the
//! member-data builder.
//!
//! A selective read needs only the value sets (which codes to keep), not the members, so it starts before the
//! members and enrollment are read and runs on the runtime's workers meanwhile: those phases had used 1.4-1.7 of
//! the 2 cores at 1M members, and the events' code columns (53M rows at 1M members) are the largest read of the
//! stage.

use arrow::record_batch::RecordBatch;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ingest::{conform_in_chunks, describe_source, open_input, InputSet, InputStream};
use super::progress::Progress;
use crate::caregaps::event_filter::EventFilter;
use crate::caregaps::member_data::MemberDataBuilder;
use crate::caregaps::{MeasureSet, ValueSetDirectory};
use crate::error::{CoreError, CoreResult};
use crate::lake::selective_read::{SelectedRows, SelectiveScan};
use crate::lake::{ConformPlan, QuarantinedRow, RowNumbers};

/// Where the stage's clinical events come from.
#[derive(Debug)]
pub enum EventSource {
    /// The lake's clinical_events table, read here.
    Lake,
    /// Rows an engine's executors kept (see [`crate::caregaps::event_filter`]): raw rows as stored, plus how many
    /// rows were read in all and a description of the table for the run log.
    Prefiltered {
        /// The rows kept, as stored.
        batches: Vec<RecordBatch>,
        /// Rows of the table in all (kept or not).
        rows_read: u64,
        /// The table's location and engine, for the run log.
        described: serde_json::Value,
    },
}

/// The clinical events of a run, their reading begun where it can be before members are known.
pub(super) enum PendingEvents {
    /// No clinical_events table.
    Absent,
    /// Rows an engine's executors kept (see [`EventSource::Prefiltered`]).
    Prefiltered {
        batches: Vec<RecordBatch>,
        rows_read: u64,
        described: serde_json::Value,
    },
    /// A selective read under way.
    Scanning(EventScan),
    /// A table the selective reader cannot take (CSV, column mapping, ...): streamed once members are known.
    Streamed,
}

/// A selective read of clinical_events running on the runtime's workers; dropped unfinished, it stops.
pub(super) struct EventScan {
    task: JoinHandle<CoreResult<Vec<SelectedRows>>>,
    /// Rows of each row group as it is read (for the progress bar).
    read: mpsc::UnboundedReceiver<u64>,
    /// Rows of the table.
    rows: u64,
    plan: ConformPlan,
    described: serde_json::Value,
}

impl Drop for EventScan {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PendingEvents {
    /// Begin reading `events`: a lake table that can be read selectively starts now, filtered by the codes of
    /// the value sets `measures` use.
    pub(super) async fn begin(
        events: EventSource,
        inputs: &InputSet,
        directory: &ValueSetDirectory,
        measures: &MeasureSet,
    ) -> CoreResult<Self> {
        match events {
            EventSource::Lake => Self::begin_in_lake(inputs, directory, measures).await,
            EventSource::Prefiltered {
                batches,
                rows_read,
                described,
            } => Ok(PendingEvents::Prefiltered {
                batches,
                rows_read,
                described,
            }),
        }
    }

    async fn begin_in_lake(
        inputs: &InputSet,
        directory: &ValueSetDirectory,
        measures: &MeasureSet,
    ) -> CoreResult<Self> {
        let Some(source) = inputs.locate("clinical_events").await? else {
            return Ok(PendingEvents::Absent);
        };
        let Some(scan) = SelectiveScan::plan(&source).await? else {
            return Ok(PendingEvents::Streamed);
        };
        let schema = scan.schema();
        let plan = inputs.conform_plan("clinical_events", &schema)?;
        let filter = EventFilter::new(directory, measures);
        let ([system, code], predicate) = filter.into_row_predicate(&plan, &schema)?;
        let (rows, described) = (scan.rows(), describe_source(&source, scan.version));
        let (sender, read) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            // A closed receiver only means the stage stopped; the abort on drop ends this task.
            let on_row_group = move |rows: u64| {
                let _ = sender.send(rows);
            };
            scan.select(&[&system, &code], predicate, &on_row_group).await
        });
        Ok(PendingEvents::Scanning(EventScan {
            task,
            read,
            rows,
            plan,
            described,
        }))
    }

    /// Match the events to the members `builder` holds (members and enrollment read); returns the builder, the
    /// rows quarantined and the table's description for the run log (None without a table).
    pub(super) async fn match_into(
        self,
        builder: MemberDataBuilder,
        inputs: &InputSet,
        directory: &ValueSetDirectory,
        measures: &MeasureSet,
        progress: &dyn Progress,
    ) -> CoreResult<(MemberDataBuilder, Vec<QuarantinedRow>, Option<serde_json::Value>)> {
        match self {
            PendingEvents::Absent => Ok((builder, Vec::new(), None)),
            PendingEvents::Prefiltered {
                batches,
                rows_read,
                described,
            } => {
                let kept: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
                let (mut builder, bad) = match batches.first() {
                    Some(first) => {
                        let plan = inputs.conform_plan("clinical_events", &first.schema())?;
                        let mut at = 0i64;
                        let numbered = batches.into_iter().map(|batch| {
                            let offset = at;
                            at += batch.num_rows() as i64;
                            (batch, RowNumbers::From(offset))
                        });
                        match_events(builder, &plan, numbered)?
                    }
                    None => (builder, Vec::new()),
                };
                // Rows the executors dropped were read too: they matched no value set.
                builder.counts.events_read += rows_read.saturating_sub(kept);
                Ok((builder, bad, Some(described)))
            }
            PendingEvents::Scanning(scan) => scan.match_into(builder, progress).await,
            PendingEvents::Streamed => match open_input(inputs, "clinical_events").await? {
                None => Ok((builder, Vec::new(), None)),
                Some(stream) => {
                    let described = stream.describe();
                    let filter = EventFilter::new(directory, measures);
                    let (builder, bad) = match_events_streaming(builder, stream, filter, progress).await?;
                    Ok((builder, bad, Some(described)))
                }
            },
        }
    }
}

impl EventScan {
    /// Wait for the read (reporting its progress from the rows read so far), then match the rows kept.
    async fn match_into(
        mut self,
        builder: MemberDataBuilder,
        progress: &dyn Progress,
    ) -> CoreResult<(MemberDataBuilder, Vec<QuarantinedRow>, Option<serde_json::Value>)> {
        progress.start("caregaps.events", self.rows);
        // The sender goes with the task, so the channel closes when the read is over (or failed).
        while let Some(rows) = self.read.recv().await {
            progress.advance(rows);
        }
        let selected = (&mut self.task)
            .await
            .map_err(|e| CoreError::Internal(format!("the clinical-event reader stopped: {e}")))??;
        progress.finish();
        let kept: u64 = selected.iter().map(|s| s.batch.num_rows() as u64).sum();
        let numbered = selected.into_iter().map(|s| (s.batch, s.row_numbers));
        let (mut builder, quarantined) = match_events(builder, &self.plan, numbered)?;
        // Rows the filter dropped were read too: they matched no value set.
        builder.counts.events_read += self.rows.saturating_sub(kept);
        let described = std::mem::take(&mut self.described);
        Ok((builder, quarantined, Some(described)))
    }
}

/// Conform and match event batches (with their rows' positions in the table) as they arrive, a few at a time in
/// parallel; returns the builder and the rows quarantined (by the schema check or by the matcher).
fn match_events(
    mut builder: MemberDataBuilder,
    plan: &ConformPlan,
    batches: impl IntoIterator<Item = (RecordBatch, RowNumbers)>,
) -> CoreResult<(MemberDataBuilder, Vec<QuarantinedRow>)> {
    let mut quarantined = Vec::new();
    conform_in_chunks(plan, batches, &mut quarantined, |good| builder.add_events(&good))?;
    Ok((builder, quarantined))
}

/// The clinical events of a table read in full (CSV, or tables the selective reader cannot take), kept by the
/// same filter as a selective read: this thread reads (the decoding), a worker conforms and matches batches in
/// parallel meanwhile, so the two overlap.
async fn match_events_streaming(
    builder: MemberDataBuilder,
    mut stream: InputStream,
    filter: EventFilter,
    progress: &dyn Progress,
) -> CoreResult<(MemberDataBuilder, Vec<QuarantinedRow>)> {
    progress.start("caregaps.events", 0);
    let plan = stream.plan().clone();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(RecordBatch, RowNumbers)>(16);
    let worker = std::thread::spawn(move || match_events(builder, &plan, rx));
    let mut kept = 0u64;
    while let Some((batch, offset)) = stream.next_raw().await? {
        progress.advance(batch.num_rows() as u64);
        let (batch, numbers) = filter.keep_numbered(&batch, stream.plan(), offset)?;
        kept += batch.num_rows() as u64;
        if tx.send((batch, numbers)).is_err() {
            break; // the worker stopped on an error; join below reports it
        }
    }
    drop(tx);
    let (mut builder, quarantined) = worker
        .join()
        .map_err(|_| CoreError::Internal("the event-matching worker panicked".into()))??;
    // Rows the filter dropped were read too: they matched no value set.
    builder.counts.events_read += stream.rows_read().saturating_sub(kept);
    progress.finish();
    Ok((builder, quarantined))
}
