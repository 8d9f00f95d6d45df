//! Writing the audience stage's outputs: change sets first (what outreach tools read, and CSV files for file
//! drops), then the enter/exit events, the suppressions, the state (audience_members) and the sync log.

use std::ops::Range;

use foldhash::HashMap;

use arrow::array::RecordBatch;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::diff::{Change, ChangeSets, Memberships};
use super::payload::PayloadFields;
use super::profiles::Profiles;
use super::suppressions::Suppressions;
use super::AudienceSummary;
use crate::audience::definition::{Audience, Destination};
use crate::audience::destinations::DestinationKind;
use crate::audience::policy::Decision;
use crate::digest::Sha256Digest;
use crate::error::{CoreError, CoreResult};
use crate::lake::{writers_per_core, Location, WriteMode};
use crate::model::values::{push_date_text, push_local_time_text};
use crate::model::{self, BatchBuilder};
use crate::pipeline::run_log::{try_write_output_shares, write_output};

/// Rows turned into Arrow at a time: a table's writers hold a few such batches, never the table.
const ROWS_PER_BATCH: usize = 1 << 16;

/// `rows` rows in `writers` shares of about equal rows, each share's batches of [`ROWS_PER_BATCH`] rows of
/// table `spec` built by `build` (from the rows' range, into the share's one builder, which sizes each batch by
/// the last) when its writer asks for them.
fn lazy_shares<'s, F>(
    rows: usize,
    writers: usize,
    spec: &model::TableSpec,
    build: F,
) -> Vec<impl Iterator<Item = CoreResult<RecordBatch>> + 's>
where
    F: Fn(&mut BatchBuilder, Range<usize>) -> CoreResult<()> + Clone + 's,
{
    let per_share = rows.div_ceil(writers.max(1)).max(1);
    (0..rows)
        .step_by(per_share)
        .map(move |share| {
            let end = rows.min(share + per_share);
            let build = build.clone();
            let mut builder = BatchBuilder::new(spec, ROWS_PER_BATCH.min(end - share));
            (share..end).step_by(ROWS_PER_BATCH).map(move |first| {
                build(&mut builder, first..end.min(first + ROWS_PER_BATCH))?;
                builder.finish()
            })
        })
        .collect()
}

/// `time` as text in `buffer` (its text before is dropped): the buffer serves every row of a batch.
fn local_text(buffer: &mut String, time: NaiveDateTime) -> &str {
    buffer.clear();
    push_local_time_text(buffer, time);
    buffer
}

/// Write a change set as `<folder>/<destination>-<run id>.csv` for SFTP-style vendors (a retry rewrites the same
/// file with the same rows). The CSV is uploaded in parts as its batches are written, so a drop of millions of
/// rows is never whole in memory; the file appears only once it is complete (the upload is aborted on an error).
async fn write_file_drop(
    folder: &Location,
    destination: &str,
    run: &str,
    batches: impl Iterator<Item = CoreResult<RecordBatch>>,
) -> CoreResult<()> {
    use object_store::{ObjectStoreExt, WriteMultipart};
    let location = folder.join(&format!("{destination}-{run}.csv"));
    let failed = |e: object_store::Error| {
        CoreError::storage(format!("writing the file drop {}", location.redacted()), e)
    };
    if let Some(dir) = folder.local_path() {
        std::fs::create_dir_all(&dir).map_err(|e| {
            CoreError::storage(format!("creating the file-drop folder {}", folder.redacted()), e)
        })?;
    }
    let (store, path) = location.object_store()?;
    let mut upload = WriteMultipart::new(store.put_multipart(&path).await.map_err(failed)?);
    let streamed: CoreResult<()> = async {
        let mut csv = Vec::new();
        for (i, batch) in batches.enumerate() {
            let batch = batch?;
            csv.clear();
            // The header is written once, before the first batch.
            arrow::csv::WriterBuilder::new()
                .with_header(i == 0)
                .build(&mut csv)
                .write(&batch)?;
            upload
                .wait_for_capacity(FILE_DROP_PARTS_IN_FLIGHT)
                .await
                .map_err(failed)?;
            upload.write(&csv);
        }
        Ok(())
    }
    .await;
    match streamed {
        Ok(()) => upload.finish().await.map(|_| ()).map_err(failed),
        Err(e) => {
            // The batch's error is the one to report; a failed abort leaves only unlisted parts behind.
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

/// Parts of a file drop uploading at once (5 MB each).
const FILE_DROP_PARTS_IN_FLIGHT: usize = 4;

/// Everything one run writes.
pub(super) struct RunOutputs<'a> {
    pub(super) output: &'a Location,
    pub(super) run: &'a str,
    pub(super) as_of: NaiveDate,
    pub(super) started: DateTime<Utc>,
    pub(super) audiences: &'a [Audience],
    pub(super) destinations: &'a [Destination],
    pub(super) memberships: &'a Memberships<'a>,
    pub(super) sets: &'a ChangeSets<'a>,
    /// (adds, changes, removes) per (audience, destination).
    pub(super) planned: &'a HashMap<(&'a str, &'a str), (i64, i64, i64)>,
    pub(super) suppressions: &'a Suppressions,
    /// Per audience, in order: its counts (which destinations it was held back from among them).
    pub(super) summaries: &'a [AudienceSummary],
    /// Member ids by number.
    pub(super) profiles: &'a Profiles,
}

impl RunOutputs<'_> {
    /// Write the change sets, the enter/exit events and the suppressions, then the state, then the sync log: the
    /// state never names a row whose change set is not written, and the sync log comes last. Each table is
    /// written by one Parquet writer per core, its rows turned into Arrow a batch at a time as the writers take
    /// them, so no table is ever in memory as Arrow (at 10M members the change sets and events alone were
    /// 1.8 GB when built whole).
    pub(super) async fn write(&self) -> CoreResult<()> {
        let (output, run, writers) = (self.output, self.run, writers_per_core());
        for d in self.destinations {
            let rows = self.changes_of(d).len();
            let spec = model::outreach(&d.name);
            let drop_folder = d.path.as_deref().filter(|_| d.kind == DestinationKind::FileDrop);
            if let (Some(folder), true) = (drop_folder, rows > 0) {
                let batches = lazy_shares(rows, 1, &spec, |b, range| self.outreach_batch(b, d, range))
                    .into_iter()
                    .flatten();
                write_file_drop(&Location::parse(folder)?, &d.name, run, batches).await?;
            }
            let shares = lazy_shares(rows, writers, &spec, |b, range| self.outreach_batch(b, d, range));
            try_write_output_shares(output, &spec, WriteMode::Append, run, shares).await?;
        }
        let spec = model::audience_events();
        let events = lazy_shares(self.sets.events.len(), writers, &spec, |b, range| {
            self.events_batch(b, range)
        });
        try_write_output_shares(output, &spec, WriteMode::Append, run, events).await?;
        let spec = model::suppressions();
        let suppressions = lazy_shares(self.suppressions.len(), writers, &spec, |b, range| {
            self.suppressions_batch(b, range)
        });
        try_write_output_shares(output, &spec, WriteMode::Append, run, suppressions).await?;
        let spec = model::audience_members();
        let state = lazy_shares(self.memberships.len(), writers, &spec, |b, range| {
            self.state_batch(b, range)
        });
        try_write_output_shares(output, &spec, WriteMode::Overwrite, run, state).await?;
        self.write_sync_runs().await
    }

    /// The change set of destination `d`: upserts in membership order, then deletes.
    fn changes_of(&self, d: &Destination) -> &[Change<'_>] {
        self.sets
            .changes
            .get(d.name.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Rows `range` of destination `d`'s change set: upserts and deletes with their idempotency keys and
    /// payloads.
    fn outreach_batch(&self, b: &mut BatchBuilder, d: &Destination, range: Range<usize>) -> CoreResult<()> {
        let (run, as_of) = (self.run, self.as_of);
        let rows = &self.changes_of(d)[range];
        let fields = PayloadFields::of(d);
        let (mut json, mut date_text) = (String::new(), String::new());
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
            date_text.clear();
            push_date_text(&mut date_text, date.unwrap_or(as_of));
            let op = c.op.name();
            let idempotency = Sha256Digest::of_parts(&[c.member_id, c.audience, &d.name, &date_text, op]);
            let payload = match c.membership {
                Some(m) => Some(fields.json(&m.payload, &mut json)?),
                None => None,
            };
            b.text(Some(run))
                .text(Some(c.audience))
                .text(Some(c.member_id))
                .text(Some(op))
                .text(Some(idempotency.hex().key()))
                .text(channel)
                .text(payload)
                .timestamp(window.map(|w| w.utc_start))
                .timestamp(window.map(|w| w.utc_end))
                .date(Some(as_of));
            b.end_row();
        }
        Ok(())
    }

    /// Rows of a table whose rows are this run's id, four texts and the as-of date (audience_events,
    /// suppressions), into `b`.
    fn run_rows<'r>(&self, b: &mut BatchBuilder, rows: impl Iterator<Item = [&'r str; 4]>) {
        for [first, second, third, fourth] in rows {
            b.text(Some(self.run))
                .text(Some(first))
                .text(Some(second))
                .text(Some(third))
                .text(Some(fourth))
                .date(Some(self.as_of));
            b.end_row();
        }
    }

    /// Rows `range` of audience_events: enters and exits.
    fn events_batch(&self, b: &mut BatchBuilder, range: Range<usize>) -> CoreResult<()> {
        let events = self.sets.events[range].iter().map(|&(a, d, m, e)| [a, d, m, e]);
        self.run_rows(b, events);
        Ok(())
    }

    /// Rows `range` of suppressions.
    fn suppressions_batch(&self, b: &mut BatchBuilder, range: Range<usize>) -> CoreResult<()> {
        let rows = range.map(|i| {
            let (audience, member_id, rule, detail) = self.suppressions.row(i, self.audiences, self.profiles);
            [audience, member_id, rule, detail]
        });
        self.run_rows(b, rows);
        Ok(())
    }

    /// audience_members, from memberships `range`: the state the next run diffs against (members sent to).
    fn state_batch(&self, b: &mut BatchBuilder, range: Range<usize>) -> CoreResult<()> {
        let emitted_at = &self.sets.emitted_at[range.clone()];
        let (mut local_start, mut local_end) = (String::new(), String::new());
        for (m, emitted) in self.memberships.range(range).zip(emitted_at) {
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
                .text(window.map(|w| local_text(&mut local_start, w.local_start)))
                .text(window.map(|w| local_text(&mut local_end, w.local_end)))
                .timestamp(window.map(|w| w.utc_start))
                .timestamp(window.map(|w| w.utc_end))
                .text(window.map(|w| w.rule))
                .date(Some(*local_send_date))
                .text(Some(row_hash.key()))
                .timestamp(DateTime::<Utc>::from_timestamp_micros(*emitted))
                .text(Some(self.run));
            b.end_row();
        }
        Ok(())
    }

    /// sync_runs: per audience and destination, the members and the planned adds, changes and removes.
    async fn write_sync_runs(&self) -> CoreResult<()> {
        let spec = model::sync_runs();
        let mut b = BatchBuilder::new(&spec, 16);
        let finished = Utc::now();
        let mut members_of: HashMap<(&str, &str), i64> = HashMap::default();
        for m in self.memberships.iter() {
            *members_of.entry((m.audience, m.destination)).or_default() += 1;
        }
        for (a, summary) in self.audiences.iter().zip(self.summaries) {
            for dname in &a.destinations {
                let dest = super::destination(self.destinations, dname)?;
                let key = (a.name.as_str(), dname.as_str());
                let members = members_of.get(&key).copied().unwrap_or(0);
                let (add, change, remove) = self.planned.get(&key).copied().unwrap_or_default();
                let status = match summary.below_minimum.contains_key(dname) {
                    true => "below_minimum",
                    false => "succeeded",
                };
                b.text(Some(self.run))
                    .text(Some(&a.name))
                    .text(Some(dname))
                    .text(Some(dest.kind.name()))
                    .integer(Some(members))
                    .integer(Some(add))
                    .integer(Some(change))
                    .integer(Some(remove))
                    .text(Some(status))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, StringArray};

    use super::*;

    fn batch(values: &[&str]) -> CoreResult<RecordBatch> {
        let column: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        Ok(RecordBatch::try_from_iter([("message_topic", column)])?)
    }

    #[test]
    fn a_file_drop_has_one_header_and_every_batch_and_no_file_when_a_batch_fails() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Location::parse(dir.path().join("drops").to_str().unwrap()).unwrap();
        let batches = vec![batch(&["a", "b"]), batch(&["c"]), batch(&["d, with a comma"])];
        crate::lake::block_on(write_file_drop(&folder, "vendor", "run1", batches.into_iter())).unwrap();
        let text = std::fs::read_to_string(dir.path().join("drops/vendor-run1.csv")).unwrap();
        assert_eq!(text, "message_topic\na\nb\nc\n\"d, with a comma\"\n");

        let failing = vec![
            batch(&["a"]),
            Err(CoreError::Internal("a batch that cannot be built".into())),
        ];
        let err = crate::lake::block_on(write_file_drop(&folder, "vendor", "run2", failing.into_iter()))
            .unwrap_err();
        assert!(err.to_string().contains("cannot be built"), "{err}");
        let files: Vec<_> = std::fs::read_dir(dir.path().join("drops"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files, vec!["vendor-run1.csv"], "no partial file is left");
    }
}
