//! The identity stage's output tables: member_profile, identity_xref, identity_changes and identity_links,
//! built from a resolution and written as Delta tables.
//!
//! The tables are built one after another and each is handed to its writer as soon as it is built, the
//! largest (identity_links) a few batches at a time while it is being written: each table's rows are held only
//! until they are encoded, and the conformed records go as soon as the golden record has read them. At 10M
//! records, building all four before writing any held some 5 GB more at once than this does.

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use rayon::prelude::*;
use tokio::task::JoinHandle;

use super::run_log::try_write_output;
use crate::error::{CoreError, CoreResult};
use crate::identity::compare::COMPARISONS;
use crate::identity::prepare::PreparedRecords;
use crate::identity::resolve::{IdentityConfig, Resolution, ScoredPair};
use crate::identity::stable_ids::{AssignedIds, MemberChange};
use crate::identity::survivorship::member_profiles;
use crate::identity::text_order::in_byte_order;
use crate::lake::{Location, WriteMode, WriteOutcome};
use crate::model::{self, level_column, weight_column, BatchBuilder, TableSpec};

/// Rows per identity_links and identity_xref batch.
const ROWS_PER_BATCH: usize = 65_536;

/// identity_links batches built at once (in parallel) before they are written.
const LINK_BATCHES_AT_ONCE: usize = 4;

/// What the outputs are built from. The conformed records (`profile_rows`, the columns the golden record
/// reads) are taken, and freed once member_profile is built.
pub(super) struct IdentityOutputs<'a> {
    /// The run id.
    pub run: &'a str,
    /// Where the tables go.
    pub output: &'a Location,
    /// Conformed person records, in the order of `records`.
    pub profile_rows: RecordBatch,
    /// Normalized person records.
    pub records: &'a PreparedRecords,
    /// Links, clusters and model.
    pub resolution: &'a Resolution,
    /// Member id of each cluster, and the changes of ids.
    pub ids: &'a AssignedIds,
    /// Settings (rule names and the clustering threshold for identity_links).
    pub config: &'a IdentityConfig,
    /// As-of date (ages in member_profile).
    pub as_of: NaiveDate,
}

impl IdentityOutputs<'_> {
    /// Build and write the four tables; each is committed as one Delta version keyed by the run.
    pub(super) async fn write(self) -> CoreResult<()> {
        let IdentityOutputs {
            run,
            output,
            profile_rows,
            records,
            resolution,
            ids,
            config,
            as_of,
        } = self;
        let profiles = member_profiles(
            run,
            &profile_rows,
            records,
            &resolution.clusters.of_record,
            &ids.of_cluster,
            as_of,
        )?;
        drop(profile_rows);
        let mut writes = vec![spawn_write(
            output,
            model::member_profile(),
            WriteMode::Overwrite,
            run,
            profiles,
        )];
        let xref = xref_batches(run, records, resolution, &ids.of_cluster)?;
        writes.push(spawn_write(
            output,
            model::identity_xref(),
            WriteMode::Overwrite,
            run,
            xref,
        ));
        let changes = changes_batch(run, &ids.changes)?;
        writes.push(spawn_write(
            output,
            model::identity_changes(),
            WriteMode::Append,
            run,
            vec![changes],
        ));
        write_links(output, run, records, &resolution.links, config).await?;
        for write in writes {
            write.await.map_err(|e| {
                CoreError::Internal(format!("an identity output write did not finish: {e}"))
            })??;
        }
        Ok(())
    }
}

/// Build and write identity_links a few batches at a time; nothing is committed unless every batch was built.
async fn write_links(
    output: &Location,
    run: &str,
    records: &PreparedRecords,
    links: &[ScoredPair],
    config: &IdentityConfig,
) -> CoreResult<WriteOutcome> {
    let batches = links
        .chunks(ROWS_PER_BATCH * LINK_BATCHES_AT_ONCE)
        .flat_map(|group| {
            let built = group
                .par_chunks(ROWS_PER_BATCH)
                .map(|chunk| links_batch(run, records, chunk, config))
                .collect::<CoreResult<Vec<RecordBatch>>>();
            match built {
                Ok(batches) => batches.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            }
        });
    write_table(
        output,
        model::identity_links(),
        WriteMode::Overwrite,
        run,
        batches,
    )
    .await
}

/// Write `batches` to the table `spec` under `output` on the I/O runtime's threads, beside the other tables.
fn spawn_write(
    output: &Location,
    spec: TableSpec,
    mode: WriteMode,
    run: &str,
    batches: Vec<RecordBatch>,
) -> JoinHandle<CoreResult<WriteOutcome>> {
    let (output, run) = (output.clone(), run.to_string());
    tokio::spawn(async move { write_table(&output, spec, mode, &run, batches.into_iter().map(Ok)).await })
}

/// Write the table `spec` under `output` (its columns laid out as the spec says), committed once under the
/// run's key.
async fn write_table(
    output: &Location,
    spec: TableSpec,
    mode: WriteMode,
    run: &str,
    batches: impl IntoIterator<Item = CoreResult<RecordBatch>, IntoIter: Send>,
) -> CoreResult<WriteOutcome> {
    try_write_output(output, &spec, mode, run, batches, 1).await
}

fn xref_batches(
    run: &str,
    records: &PreparedRecords,
    resolution: &Resolution,
    ids: &[String],
) -> CoreResult<Vec<RecordBatch>> {
    let clusters = &resolution.clusters;
    let mut size = vec![0i64; clusters.count];
    for &c in &clusters.of_record {
        size[c as usize] += 1;
    }
    let mut best = vec![None::<f32>; records.len()];
    for l in &resolution.links {
        if clusters.of_record[l.left as usize] == clusters.of_record[l.right as usize] {
            for r in [l.left as usize, l.right as usize] {
                best[r] = Some(best[r].map_or(l.probability, |b| b.max(l.probability)));
            }
        }
    }
    let spec = model::identity_xref();
    best.par_chunks(ROWS_PER_BATCH)
        .enumerate()
        .map(|(chunk, best)| {
            let mut b = BatchBuilder::new(&spec, best.len());
            for (k, best) in best.iter().enumerate() {
                let i = chunk * ROWS_PER_BATCH + k;
                let c = clusters.of_record[i] as usize;
                b.text(Some(records.source_system.value(i)))
                    .text(Some(records.source_record_id.value(i)))
                    .text(Some(&ids[c]))
                    .integer(Some(size[c]))
                    .float(if size[c] > 1 { best.map(f64::from) } else { None })
                    .text(Some(run));
                b.end_row();
            }
            b.finish()
        })
        .collect()
}

fn links_batch(
    run: &str,
    records: &PreparedRecords,
    links: &[ScoredPair],
    config: &IdentityConfig,
) -> CoreResult<RecordBatch> {
    let spec = model::identity_links();
    debug_assert!(spec.column(level_column(COMPARISONS[0].name)).is_some());
    debug_assert!(spec.column(weight_column(COMPARISONS[0].name)).is_some());
    let mut b = BatchBuilder::new(&spec, links.len());
    for l in links {
        let (i, j) = (l.left as usize, l.right as usize);
        b.text(Some(run))
            .text(Some(records.source_system.value(i)))
            .text(Some(records.source_record_id.value(i)))
            .text(Some(records.source_system.value(j)))
            .text(Some(records.source_record_id.value(j)))
            .text(Some(&config.blocking.rules[l.rule as usize].name))
            .float(Some(f64::from(l.weight)))
            .float(Some(f64::from(l.probability)))
            .boolean(Some(f64::from(l.probability) >= config.clustering.threshold));
        for (k, c) in COMPARISONS.iter().enumerate() {
            let level = l.levels[k];
            b.text((level > 0).then(|| c.levels[level as usize - 1]))
                .float((level > 0).then(|| f64::from(l.weights[k])));
        }
        b.end_row();
    }
    b.finish()
}

fn changes_batch(run: &str, changes: &[MemberChange]) -> CoreResult<RecordBatch> {
    let spec = model::identity_changes();
    let mut b = BatchBuilder::new(&spec, changes.len());
    // In member_id order, as member_profile: a member's changes are found from the row groups' statistics.
    let member_ids: Vec<&str> = changes.iter().map(|c| c.member_id.as_str()).collect();
    for i in in_byte_order(&member_ids) {
        let c = &changes[i as usize];
        b.text(Some(run))
            .text(Some(c.kind))
            .text(Some(&c.member_id))
            .text(c.previous_member_id.as_deref())
            .integer(Some(c.records as i64));
        b.end_row();
    }
    b.finish()
}
