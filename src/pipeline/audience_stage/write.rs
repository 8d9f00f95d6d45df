//! Writing the audience stage's outputs: change sets first (what outreach tools read, and CSV files for file
//! drops), then the state (audience_members), the enter/exit events, the suppressions and the sync log.

use foldhash::HashMap;

use arrow::array::RecordBatch;
use chrono::{DateTime, NaiveDate, Utc};
use rayon::prelude::*;

use super::decisions::Suppressions;
use super::diff::{ChangeSets, Membership};
use super::profiles::Profiles;
use crate::audience::definition::{Audience, Destination};
use crate::audience::destinations::DestinationKind;
use crate::audience::policy::Decision;
use crate::digest::Sha256Digest;
use crate::error::{CoreError, CoreResult};
use crate::lake::{writers_per_core, Location, WriteMode};
use crate::model::{self, BatchBuilder};
use crate::pipeline::run_log::{try_write_output, try_write_output_shares, write_output};

/// Suppression rows turned into Arrow at a time.
const SUPPRESSION_ROWS_PER_BATCH: usize = 1 << 20;

/// Write a change set as `<folder>/<destination>-<run id>.csv` for SFTP-style vendors (a retry rewrites the same
/// file with the same rows).
async fn write_file_drop(
    folder: &Location,
    destination: &str,
    run: &str,
    batch: &RecordBatch,
) -> CoreResult<()> {
    use object_store::ObjectStoreExt;
    let mut bytes = Vec::new();
    {
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut bytes);
        writer.write(batch)?;
    }
    let location = folder.join(&format!("{destination}-{run}.csv"));
    if let Some(dir) = folder.local_path() {
        std::fs::create_dir_all(&dir).map_err(|e| {
            CoreError::storage(format!("creating the file-drop folder {}", folder.redacted()), e)
        })?;
    }
    let (store, path) = location.object_store()?;
    store
        .put(&path, object_store::PutPayload::from(bytes))
        .await
        .map_err(|e| CoreError::storage(format!("writing the file drop {}", location.redacted()), e))?;
    Ok(())
}

/// Everything one run writes.
pub(super) struct RunOutputs<'a> {
    pub(super) output: &'a Location,
    pub(super) run: &'a str,
    pub(super) as_of: NaiveDate,
    pub(super) started: DateTime<Utc>,
    pub(super) audiences: &'a [Audience],
    pub(super) destinations: &'a [Destination],
    pub(super) memberships: &'a [Membership<'a>],
    pub(super) sets: &'a ChangeSets<'a>,
    /// (adds, changes, removes) per (audience, destination).
    pub(super) planned: &'a HashMap<(&'a str, &'a str), (i64, i64, i64)>,
    pub(super) suppressions: &'a Suppressions,
    /// Member ids by number.
    pub(super) profiles: &'a Profiles,
}

/// Write one table of the run on a runtime thread of its own (Parquet encoding is CPU work: tables written at
/// once use every core).
fn spawn_write(
    tasks: &mut tokio::task::JoinSet<CoreResult<()>>,
    output: &Location,
    spec: model::TableSpec,
    run: &str,
    batches: Vec<CoreResult<RecordBatch>>,
) {
    let (output, run) = (output.clone(), run.to_string());
    tasks.spawn(async move {
        try_write_output(&output, &spec, WriteMode::Append, &run, batches, 1).await?;
        Ok(())
    });
}

impl RunOutputs<'_> {
    /// Write the change sets, the enter/exit events and the suppressions (at once), then the state, then the
    /// sync log: the state never names a row whose change set is not written, and the sync log comes last.
    pub(super) async fn write(&self) -> CoreResult<()> {
        let (output, run) = (self.output, self.run);
        // The change sets and events are turned into Arrow on every core first; the suppressions (most of the
        // rows: 12.9M at 10M members) are built batch by batch as their writers take them, and the state once
        // those are written, so no two of these tables are in memory as Arrow at once.
        let (outreach, events) = rayon::join(
            || {
                self.destinations
                    .par_iter()
                    .map(|d| self.outreach_batch(d))
                    .collect::<CoreResult<Vec<_>>>()
            },
            || self.events_batch(),
        );
        let (outreach, events) = (outreach?, events?);
        for (d, batch) in self.destinations.iter().zip(&outreach) {
            let drop_folder = d.path.as_deref().filter(|_| d.kind == DestinationKind::FileDrop);
            if let (Some(folder), false) = (drop_folder, batch.num_rows() == 0) {
                write_file_drop(&Location::parse(folder)?, &d.name, run, batch).await?;
            }
        }
        // A task that fails ends the stage with its error; the others are stopped when the set is dropped, and
        // what they did not commit is not there (a retried run writes each table once).
        let mut tasks = tokio::task::JoinSet::new();
        for (d, batch) in self.destinations.iter().zip(outreach) {
            spawn_write(&mut tasks, output, model::outreach(&d.name), run, vec![Ok(batch)]);
        }
        spawn_write(
            &mut tasks,
            output,
            model::audience_events(),
            run,
            vec![Ok(events)],
        );
        // Suppressions: one Parquet writer per core, fed while the tables above are written.
        try_write_output_shares(
            output,
            &model::suppressions(),
            WriteMode::Append,
            run,
            self.suppression_shares(writers_per_core()),
        )
        .await?;
        while let Some(done) = tasks.join_next().await {
            done.map_err(|e| CoreError::Internal(format!("writing the audience outputs stopped: {e}")))??;
        }
        // The state is written alone (after the change sets), by one Parquet writer per core.
        let state = self.state_batch()?;
        try_write_output(
            output,
            &model::audience_members(),
            WriteMode::Overwrite,
            run,
            [Ok(state)],
            writers_per_core(),
        )
        .await?;
        self.write_sync_runs().await
    }

    /// The change set of one destination: upserts and deletes with their idempotency keys and payloads.
    fn outreach_batch(&self, d: &Destination) -> CoreResult<RecordBatch> {
        let (run, as_of) = (self.run, self.as_of);
        let spec = model::outreach(&d.name);
        let rows = self
            .sets
            .changes
            .get(d.name.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut b = BatchBuilder::new(&spec, rows.len());
        for c in rows {
            let (channel, window, date) = match c.membership.map(|m| &m.decision) {
                Some(Decision::Send {
                    channel,
                    window,
                    local_send_date,
                    ..
                }) => (Some(channel.name()), *window, Some(*local_send_date)),
                _ => (None, None, None),
            };
            let date_text = date.map(|d| d.to_string()).unwrap_or_else(|| as_of.to_string());
            let op = c.op.name();
            let idempotency = Sha256Digest::of_parts(&[c.member_id, c.audience, &d.name, &date_text, op]);
            b.text(Some(run))
                .text(Some(c.audience))
                .text(Some(c.member_id))
                .text(Some(op))
                .text(Some(&idempotency.hex().as_str()[..32]))
                .text(channel)
                .text(c.membership.map(|m| m.payload.as_str()))
                .timestamp(window.map(|w| w.utc_start))
                .timestamp(window.map(|w| w.utc_end))
                .date(Some(as_of));
            b.end_row();
        }
        b.finish()
    }

    /// A batch of a table whose rows are this run's id, four texts and the as-of date (audience_events,
    /// suppressions).
    fn run_rows_batch<'r>(
        &self,
        spec: &model::TableSpec,
        rows: impl ExactSizeIterator<Item = [&'r str; 4]>,
    ) -> CoreResult<RecordBatch> {
        let mut b = BatchBuilder::new(spec, rows.len());
        for [first, second, third, fourth] in rows {
            b.text(Some(self.run))
                .text(Some(first))
                .text(Some(second))
                .text(Some(third))
                .text(Some(fourth))
                .date(Some(self.as_of));
            b.end_row();
        }
        b.finish()
    }

    /// audience_events: enters and exits.
    fn events_batch(&self) -> CoreResult<RecordBatch> {
        let events = self.sets.events.iter().map(|&(a, d, m, e)| [a, d, m, e]);
        self.run_rows_batch(&model::audience_events(), events)
    }

    /// suppressions in `writers` shares of about equal rows, each share's batches of
    /// [`SUPPRESSION_ROWS_PER_BATCH`] rows built when its writer asks for them.
    fn suppression_shares(&self, writers: usize) -> Vec<impl Iterator<Item = CoreResult<RecordBatch>> + '_> {
        let rows = self.suppressions.len();
        let per_share = rows.div_ceil(writers.max(1)).max(1);
        (0..rows)
            .step_by(per_share)
            .map(move |share| {
                let end = rows.min(share + per_share);
                (share..end)
                    .step_by(SUPPRESSION_ROWS_PER_BATCH)
                    .map(move |first| {
                        let last = end.min(first + SUPPRESSION_ROWS_PER_BATCH);
                        let chunk = (first..last).map(|i| {
                            let (audience, member_id, rule, detail) =
                                self.suppressions.row(i, self.audiences, self.profiles);
                            [audience, member_id, rule, detail]
                        });
                        self.run_rows_batch(&model::suppressions(), chunk)
                    })
            })
            .collect()
    }

    /// audience_members: the state the next run diffs against.
    fn state_batch(&self) -> CoreResult<RecordBatch> {
        let spec = model::audience_members();
        let mut b = BatchBuilder::new(&spec, self.memberships.len());
        for (m, emitted) in self.memberships.iter().zip(&self.sets.emitted_at) {
            let Decision::Send {
                channel,
                basis,
                window,
                local_send_date,
            } = &m.decision
            else {
                continue;
            };
            let audience = self
                .audiences
                .iter()
                .find(|a| a.name == m.audience)
                .ok_or_else(|| CoreError::Internal("a membership of an unknown audience".into()))?;
            let row_hash = m.row_hash.hex();
            b.text(Some(m.audience))
                .text(Some(m.destination))
                .text(Some(m.member_id))
                .text(Some(channel.name()))
                .text(Some(audience.purpose.name()))
                .text(Some(basis.name()))
                .text(window.map(|w| w.local_start.to_string()).as_deref())
                .text(window.map(|w| w.local_end.to_string()).as_deref())
                .timestamp(window.map(|w| w.utc_start))
                .timestamp(window.map(|w| w.utc_end))
                .text(window.map(|w| w.rule))
                .date(Some(*local_send_date))
                .text(Some(row_hash.as_str()))
                .timestamp(DateTime::<Utc>::from_timestamp_micros(*emitted))
                .text(Some(self.run));
            b.end_row();
        }
        b.finish()
    }

    /// sync_runs: per audience and destination, the members and the planned adds, changes and removes.
    async fn write_sync_runs(&self) -> CoreResult<()> {
        let spec = model::sync_runs();
        let mut b = BatchBuilder::new(&spec, 16);
        let finished = Utc::now();
        let mut members_of: HashMap<(&str, &str), i64> = HashMap::default();
        for m in self.memberships {
            *members_of.entry((m.audience, m.destination)).or_default() += 1;
        }
        for a in self.audiences {
            for dname in &a.destinations {
                let dest = super::destination(self.destinations, dname)?;
                let key = (a.name.as_str(), dname.as_str());
                let members = members_of.get(&key).copied().unwrap_or(0);
                let (add, change, remove) = self.planned.get(&key).copied().unwrap_or_default();
                b.text(Some(self.run))
                    .text(Some(&a.name))
                    .text(Some(dname))
                    .text(Some(dest.kind.name()))
                    .integer(Some(members))
                    .integer(Some(add))
                    .integer(Some(change))
                    .integer(Some(remove))
                    .text(Some("succeeded"))
                    .timestamp(Some(self.started))
                    .timestamp(Some(finished))
                    .date(Some(self.as_of));
                b.end_row();
            }
        }
        write_output(self.output, &spec, WriteMode::Append, self.run, [b.finish()?]).await?;
        Ok(())
    }
}
