//! The identity stage: person_records in; identity_xref, identity_links, identity_changes and the trained model
//! out. Member ids stay stable against the previous xref (by default the one already in the output).

use std::collections::HashMap;

use arrow::array::{AsArray, RecordBatch};
use chrono::{NaiveDate, Utc};
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::json;

use super::identity_outputs::IdentityOutputs;
use super::identity_records::ConformedRecords;
use super::ingest::{read_conformed, write_quarantine, ConformedInput, InputSet};
use super::progress::{PhaseClock, Progress};
use super::run_log::{record_run, run_id, RunRecord};
use crate::error::{CoreError, CoreResult};
use crate::identity::blocking::block;
use crate::identity::blocking::RuleReport;
use crate::identity::distributed::pairs_from_batches;
use crate::identity::distributed_cluster::clusters_from_labels;
use crate::identity::evaluate::{evaluate, Evaluation};
use crate::identity::model::MatchModel;
use crate::identity::prepare::prepare;
use crate::identity::resolve::{compare_candidates, resolve_compared, ComparedPairs, IdentityConfig};
use crate::identity::stable_ids::assign_member_ids;
use crate::lake::{read_table, read_table_in_parallel_if_present, Location};
use crate::lake::{ColumnMapping, ConformPlan};
use crate::model::{self, text_column};

/// What the identity stage did.
#[derive(Debug, Clone)]
pub struct IdentityReport {
    /// Run id.
    pub run_id: String,
    /// Person records read.
    pub records: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Members (clusters).
    pub members: u64,
    /// Candidate pairs compared.
    pub candidate_pairs: u64,
    /// Links at or above the clustering threshold.
    pub links: u64,
    /// Changes by kind (new, merge, split).
    pub changes: HashMap<String, u64>,
    /// Blocking report.
    pub blocking: Vec<RuleReport>,
    /// Links refused by clustering guards.
    pub refused_links: HashMap<String, u64>,
    /// Where the outputs are.
    pub output: String,
    /// Wall-clock seconds per phase, in order.
    pub phase_seconds: Vec<(String, f64)>,
}

const KEY_SEPARATOR: char = '\u{1f}';

/// The key of a source record in maps: source system and record id joined by a unit separator.
pub(crate) fn record_key(system: &str, id: &str) -> String {
    format!("{system}{KEY_SEPARATOR}{id}")
}

/// The identity_xref table's source key and member id columns (source_system, source_record_id, member_id),
/// or None when there is no identity_xref at `location`.
pub(crate) async fn read_xref_batches(location: &Location) -> CoreResult<Option<Vec<RecordBatch>>> {
    read_table_in_parallel_if_present(location, "identity_xref", Some(&XREF_COLUMNS)).await
}

/// The identity_xref columns that map a source record to its member.
pub(crate) const XREF_COLUMNS: [&str; 3] = ["source_system", "source_record_id", "member_id"];

/// The columns of a truth table of source records (`truth_person_records`) that evaluations compare.
pub(crate) const TRUTH_COLUMNS: [&str; 3] = ["source_system", "source_record_id", "person_id"];

/// The true person of each source record, from the batches of truth table `table` (read with
/// [`TRUTH_COLUMNS`]). Texts are borrowed from the batches: owned keys for millions of records cost more than
/// the evaluations that use them.
pub(crate) fn persons_of_records<'b>(
    batches: &'b [RecordBatch],
    table: &str,
) -> CoreResult<foldhash::HashMap<(&'b str, &'b str), &'b str>> {
    let mut person: foldhash::HashMap<(&str, &str), &str> = Default::default();
    for b in batches {
        let (system, record, id) = (
            text_column(b, table, "source_system")?,
            text_column(b, table, "source_record_id")?,
            text_column(b, table, "person_id")?,
        );
        for i in 0..b.num_rows() {
            person.insert((system.value(i), record.value(i)), id.value(i));
        }
    }
    Ok(person)
}

/// Read an identity_xref (record key, see [`record_key`] -> member id); empty when there is none.
pub(crate) async fn read_xref(location: &Location) -> CoreResult<foldhash::HashMap<String, String>> {
    let batches = read_xref_batches(location).await?.unwrap_or_default();
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let mut out = foldhash::HashMap::with_capacity_and_hasher(rows, Default::default());
    for b in &batches {
        let col = |name: &str| text_column(b, "identity_xref", name);
        let (sys, id, member) = (col("source_system")?, col("source_record_id")?, col("member_id")?);
        for i in 0..b.num_rows() {
            out.insert(record_key(sys.value(i), id.value(i)), member.value(i).to_string());
        }
    }
    Ok(out)
}

/// Where an identity run writes, what it keeps member ids stable against, and how it resolves.
#[derive(Debug, Clone, Copy)]
pub struct IdentityRun<'a> {
    /// Where the outputs go.
    pub output: &'a Location,
    /// The previous identity_xref (default: the one already in `output`).
    pub previous: Option<&'a Location>,
    /// Blocking, training and clustering settings.
    pub config: &'a IdentityConfig,
    /// A model to reuse instead of training one.
    pub model: Option<&'a MatchModel>,
    /// As-of date of the run.
    pub as_of: NaiveDate,
}

/// Run identity resolution over the lake's person_records and write the identity outputs.
pub async fn run_identity(
    inputs: &InputSet,
    run: IdentityRun<'_>,
    progress: &dyn Progress,
) -> CoreResult<IdentityReport> {
    let started = Utc::now();
    let mut clock = PhaseClock::start();
    let read = read_person_records(inputs).await?;
    clock.lap("read");
    let batches = read.batches.into_iter().map(|(batch, _)| batch).collect();
    let conformed = ConformedRecords::new(batches, read.quarantined, read.rows_read, &mut clock)?;
    progress.start("identity", 7);
    let (pairs, blocking) = block(&conformed.records, &run.config.blocking)?;
    clock.lap("block");
    let compared = compare_candidates(&conformed.records, pairs, blocking);
    clock.lap("compare");
    progress.advance(2);
    finish_identity(run, read.described, started, clock, conformed, compared, progress).await
}

/// Read and conform the lake's person_records whole, on every core.
async fn read_person_records(inputs: &InputSet) -> CoreResult<ConformedInput> {
    read_conformed(inputs, "person_records").await?.ok_or_else(|| {
        CoreError::Input(format!(
            "table 'person_records' not found in lake {}",
            inputs.lake
        ))
    })
}

/// Resolve person records whose candidate pairs were blocked and compared elsewhere (by the Spark engine's
/// executors), then train, score, cluster and write exactly as [`run_identity`] does.
///
/// `raw` are the person_records rows as stored (conformed here with `columns`), `compared` batches carry
/// `left_key`, `right_key` (record keys, left < right), `rule` (index of the first rule that found the pair)
/// and `levels` (see [`crate::identity::distributed::pack_levels`]); `described` names the input in the run log.
/// `scored` is the count of all candidate pairs when the executors scored them with the run's model and sent
/// only possible links (see [`crate::identity::distributed::pairs_from_batches`]). `cluster_labels`, when
/// given, are the clusters the executors found from the same links, component by component (see
/// [`crate::identity::distributed_cluster`]); the driver then does not cluster.
#[allow(clippy::too_many_arguments)]
pub async fn run_identity_from_pairs(
    raw: &[RecordBatch],
    columns: &ColumnMapping,
    compared: &[RecordBatch],
    blocking: Vec<RuleReport>,
    scored: Option<u64>,
    cluster_labels: Option<&[RecordBatch]>,
    described: serde_json::Value,
    run: IdentityRun<'_>,
    progress: &dyn Progress,
) -> CoreResult<IdentityReport> {
    let started = Utc::now();
    let mut clock = PhaseClock::start();
    let spec = model::person_records();
    let Some(first) = raw.first() else {
        return Err(CoreError::Input(
            "identity resolution needs person records; the input is empty".into(),
        ));
    };
    let plan = ConformPlan::new(&spec, &first.schema(), columns)?;
    let (batches, quarantined, rows_read) = plan.conform_all(raw.iter().cloned().map(CoreResult::Ok))?;
    let conformed = ConformedRecords::new(batches, quarantined, rows_read, &mut clock)?;
    progress.start("identity", 7);
    let mut compared = pairs_from_batches(&conformed.keys, compared, blocking, scored)?;
    if let Some(labels) = cluster_labels {
        if scored.is_none() {
            return Err(CoreError::Internal(
                "clusters found on the executors need the pairs scored there, with a model".into(),
            ));
        }
        compared.clusters = Some(clusters_from_labels(&conformed.keys, labels)?);
    }
    clock.lap("collect_pairs");
    progress.advance(2);
    finish_identity(run, described, started, clock, conformed, compared, progress).await
}

/// Everything after blocking and comparison, shared by both engines: train or reuse the model, score, cluster,
/// keep member ids stable, write the outputs and record the run.
async fn finish_identity(
    run: IdentityRun<'_>,
    described: serde_json::Value,
    started: chrono::DateTime<Utc>,
    mut clock: PhaseClock,
    conformed: ConformedRecords,
    compared: ComparedPairs,
    progress: &dyn Progress,
) -> CoreResult<IdentityReport> {
    let IdentityRun {
        output,
        previous,
        config,
        model,
        as_of,
    } = run;
    let ConformedRecords {
        rows: all_records,
        keys,
        records,
        quarantined,
        rows_read,
    } = conformed;
    let settings = serde_json::to_string(config).unwrap_or_default();
    let run = run_id(
        "identity",
        as_of,
        &json!({"person_records": described}),
        &settings,
    );
    let mut resolution = resolve_compared(&records, compared, config, model.cloned(), progress)?;
    clock.extend(resolution.phase_seconds.iter().cloned());
    let previous_location = previous.cloned().unwrap_or_else(|| output.join("identity_xref"));
    let previous = read_xref(&previous_location).await?;
    let mut ids = assign_member_ids(
        &keys,
        &resolution.clusters.of_record,
        resolution.clusters.count,
        &previous,
    );
    drop(previous);
    clock.lap("member_ids");

    let linked = resolution
        .links
        .iter()
        .filter(|l| f64::from(l.probability) >= config.clustering.threshold)
        .count() as u64;
    drop(keys);
    IdentityOutputs {
        run: &run,
        output,
        profile_rows: all_records,
        records: &records,
        resolution: &resolution,
        ids: &ids,
        config,
        as_of,
    }
    .write()
    .await?;
    drop(records);
    resolution.links = Vec::new();
    ids.of_cluster = Vec::new();
    write_quarantine(output, &run, &quarantined).await?;
    save_model(output, &resolution.model).await?;
    // Building and writing overlap (see IdentityOutputs): one phase.
    clock.lap("outputs");
    progress.advance(3);
    progress.finish();

    let mut change_counts: HashMap<String, u64> = HashMap::new();
    for c in &ids.changes {
        *change_counts.entry(c.kind.to_string()).or_default() += 1;
    }
    let report = IdentityReport {
        run_id: run.clone(),
        records: rows_read,
        quarantined: quarantined.len() as u64,
        members: resolution.clusters.count as u64,
        candidate_pairs: resolution.candidate_pairs,
        links: linked,
        changes: change_counts,
        blocking: resolution.blocking.clone(),
        refused_links: resolution
            .clusters
            .refused
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        output: output.redacted(),
        phase_seconds: clock.into_phases(),
    };
    record_run(
        output,
        &RunRecord {
            run_id: run,
            stage: "identity".into(),
            as_of,
            started_at: started,
            finished_at: Utc::now(),
            status: "succeeded".into(),
            inputs: json!({"person_records": described}),
            rows_in: report.records,
            rows_out: report.records - report.quarantined,
            rows_quarantined: report.quarantined,
            message: Some(format!(
                "{} records resolved to {} members ({} candidate pairs, {} links)",
                report.records - report.quarantined,
                report.members,
                report.candidate_pairs,
                report.links
            )),
        },
    )
    .await?;
    Ok(report)
}

async fn save_model(output: &Location, model: &MatchModel) -> CoreResult<()> {
    let location = output.join("identity_model.json");
    if let Some(dir) = output.local_path() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| CoreError::storage(format!("creating the output folder {output}"), e))?;
    }
    let (store, path) = location.object_store()?;
    store
        .put(&path, PutPayload::from(model.to_json().into_bytes()))
        .await
        .map_err(|e| CoreError::storage(format!("writing the identity model to {location}"), e))?;
    Ok(())
}

/// Count the candidate pairs each blocking rule would generate over the person_records, without comparing or
/// writing anything: (usable records, quarantined records, one report per rule).
pub async fn count_identity_pairs(
    inputs: &InputSet,
    config: &IdentityConfig,
) -> CoreResult<(u64, u64, Vec<RuleReport>)> {
    let read = read_person_records(inputs).await?;
    let batches: Vec<RecordBatch> = read.batches.into_iter().map(|(batch, _)| batch).collect();
    let records = prepare(&batches)?;
    let reports = crate::identity::blocking::count_pairs(&records, &config.blocking)?;
    Ok((records.len() as u64, read.quarantined.len() as u64, reports))
}

/// Read a saved model (`identity_model.json`).
pub async fn load_model(location: &Location) -> CoreResult<MatchModel> {
    let (store, path) = location.object_store()?;
    let bytes = store
        .get(&path)
        .await
        .map_err(|e| CoreError::Input(format!("cannot read the identity model at {location}: {e}")))?
        .bytes()
        .await
        .map_err(|e| CoreError::storage(format!("reading the identity model at {location}"), e))?;
    MatchModel::from_json(&String::from_utf8_lossy(&bytes))
}

/// Accuracy of the identity outputs in `output` against a ground-truth table with `source_system`,
/// `source_record_id` and `person_id` (as the synthetic generator writes in `truth_person_records`).
pub async fn evaluate_identity(output: &Location, truth: &Location) -> CoreResult<Evaluation> {
    // Only the columns compared are read (identity_links' features and the xref's scores are not).
    let truth_batches = read_table(truth, "truth", Some(&TRUTH_COLUMNS)).await?;
    let xref = read_table(
        &output.join("identity_xref"),
        "identity_xref",
        Some(&XREF_COLUMNS),
    )
    .await?;
    let links = read_table(
        &output.join("identity_links"),
        "identity_links",
        Some(&[
            "linked",
            "left_source_system",
            "left_source_record_id",
            "right_source_system",
            "right_source_record_id",
        ]),
    )
    .await?;
    let text = text_column;
    // Texts are borrowed from the batches read, which live to the end.
    let person = persons_of_records(&truth_batches, "truth")?;
    let mut index: foldhash::HashMap<(&str, &str), u32> = Default::default();
    let mut truth_of = Vec::new();
    let mut member_of: foldhash::HashMap<&str, u32> = Default::default();
    let mut clusters = Vec::new();
    for b in &xref {
        let (sys, id, m) = (
            text(b, "identity_xref", "source_system")?,
            text(b, "identity_xref", "source_record_id")?,
            text(b, "identity_xref", "member_id")?,
        );
        for i in 0..b.num_rows() {
            let key = (sys.value(i), id.value(i));
            let Some(&p) = person.get(&key) else {
                return Err(CoreError::Input(
                    "the truth table has no row for a resolved record".into(),
                ));
            };
            index.insert(key, truth_of.len() as u32);
            truth_of.push(p);
            let next = member_of.len() as u32;
            clusters.push(*member_of.entry(m.value(i)).or_insert(next));
        }
    }
    let mut linked = Vec::new();
    for b in &links {
        let flag = b
            .column_by_name("linked")
            .and_then(|c| c.as_boolean_opt().cloned())
            .ok_or_else(|| CoreError::schema("identity_links", "linked", "missing or not boolean"))?;
        let (ls, li) = (
            text(b, "identity_links", "left_source_system")?,
            text(b, "identity_links", "left_source_record_id")?,
        );
        let (rs, ri) = (
            text(b, "identity_links", "right_source_system")?,
            text(b, "identity_links", "right_source_record_id")?,
        );
        for i in 0..b.num_rows() {
            if flag.value(i) {
                if let (Some(a), Some(c)) = (
                    index.get(&(ls.value(i), li.value(i))),
                    index.get(&(rs.value(i), ri.value(i))),
                ) {
                    linked.push((*a, *c));
                }
            }
        }
    }
    Ok(evaluate(&truth_of, &linked, &clusters))
}
