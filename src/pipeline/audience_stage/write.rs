//! Writing the audience stage's outputs: change sets first (what outreach tools read, and CSV files for file
//! drops), then the state (audience_members), the enter/exit events, the suppressions and the sync log.

use foldhash::HashMap;

use arrow::array::RecordBatch;
use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::decisions::Suppressions;
use super::diff::{ChangeSets, Membership};
use super::profiles::Profiles;
use crate::audience::definition::{Audience, Destination};
use crate::audience::destinations::DestinationKind;
use crate::audience::policy::Decision;
use crate::error::{CoreError, CoreResult};
use crate::lake::{Location, WriteMode};
use crate::model::{self, BatchBuilder};
use crate::pipeline::run_log::{try_write_output, write_output};

/// Suppression rows turned into Arrow at a time.
const SUPPRESSION_ROWS_PER_BATCH: usize = 1 << 20;

/// Hex SHA-256 of the parts, each followed by a unit separator (so `("ab", "c")` and `("a", "bc")` differ).
pub(super) fn sha(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

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

impl RunOutputs<'_> {
    /// Write the change sets, the state, the events, the suppressions and the sync log, in that order.
    pub(super) async fn write(&self) -> CoreResult<()> {
        let (output, run, as_of) = (self.output, self.run, self.as_of);
        for d in self.destinations {
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
                b.text(Some(run))
                    .text(Some(c.audience))
                    .text(Some(c.member_id))
                    .text(Some(op))
                    .text(Some(
                        &sha(&[c.member_id, c.audience, &d.name, &date_text, op])[..32],
                    ))
                    .text(channel)
                    .text(c.membership.map(|m| m.payload.as_str()))
                    .timestamp(window.map(|w| w.utc_start))
                    .timestamp(window.map(|w| w.utc_end))
                    .date(Some(as_of));
                b.end_row();
            }
            let batch = b.finish()?;
            let drop_folder = d.path.as_deref().filter(|_| d.kind == DestinationKind::FileDrop);
            if let (Some(folder), false) = (drop_folder, rows.is_empty()) {
                write_file_drop(&Location::parse(folder)?, &d.name, run, &batch).await?;
            }
            write_output(output, &spec, WriteMode::Append, run, [batch]).await?;
        }
        self.write_state().await?;
        let spec = model::audience_events();
        let mut b = BatchBuilder::new(&spec, self.sets.events.len());
        for (a, d, m, e) in &self.sets.events {
            b.text(Some(run))
                .text(Some(a))
                .text(Some(d))
                .text(Some(m))
                .text(Some(e))
                .date(Some(as_of));
            b.end_row();
        }
        write_output(output, &spec, WriteMode::Append, run, [b.finish()?]).await?;
        // Suppressions are most rows of a run: they are turned into Arrow a slice at a time as the table is
        // written, not all at once.
        let spec = model::suppressions();
        let mut rows = self.suppressions.rows(self.audiences, self.profiles);
        let batches = std::iter::from_fn(|| {
            let take = rows.len().min(SUPPRESSION_ROWS_PER_BATCH);
            (take > 0).then(|| {
                let mut b = BatchBuilder::new(&spec, take);
                for (audience, member_id, rule, detail) in rows.by_ref().take(take) {
                    b.text(Some(run))
                        .text(Some(audience))
                        .text(Some(member_id))
                        .text(Some(rule))
                        .text(Some(detail))
                        .date(Some(as_of));
                    b.end_row();
                }
                b.finish()
            })
        });
        try_write_output(output, &spec, WriteMode::Append, run, batches).await?;
        self.write_sync_runs().await
    }

    /// audience_members: the state the next run diffs against.
    async fn write_state(&self) -> CoreResult<()> {
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
                .text(Some(&m.row_hash))
                .timestamp(DateTime::<Utc>::from_timestamp_micros(*emitted))
                .text(Some(self.run));
            b.end_row();
        }
        write_output(self.output, &spec, WriteMode::Overwrite, self.run, [b.finish()?]).await?;
        Ok(())
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
