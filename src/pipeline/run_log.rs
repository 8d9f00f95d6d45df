//! The run log: one row per stage run in the `runs` table, and the deterministic run id.
//!
//! A run id is a hash of the stage, the as-of date, the versions of the inputs read and the settings: re-running
//! a stage on the same inputs gives the same id, and every output write of the run is keyed by it, so a retry
//! writes nothing twice.

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::error::CoreResult;
use crate::lake::{
    try_write_batches_to, try_write_shares, write_batches, Location, TableTarget, WriteMode, WriteOutcome,
};
use crate::model::{self, BatchBuilder};

/// One row of the `runs` table.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Deterministic run id.
    pub run_id: String,
    /// Stage name.
    pub stage: String,
    /// As-of date.
    pub as_of: NaiveDate,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time.
    pub finished_at: DateTime<Utc>,
    /// succeeded or failed.
    pub status: String,
    /// The inputs read (JSON).
    pub inputs: serde_json::Value,
    /// Rows read.
    pub rows_in: u64,
    /// Rows written to the stage's main outputs.
    pub rows_out: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// Summary or error (never patient data).
    pub message: Option<String>,
}

/// The run id of a stage run: 16 hex digits of SHA-256 over the stage, as-of date, inputs and settings.
pub fn run_id(stage: &str, as_of: NaiveDate, inputs: &serde_json::Value, settings: &str) -> String {
    let mut h = Sha256::new();
    h.update(stage.as_bytes());
    h.update([0]);
    h.update(as_of.to_string().as_bytes());
    h.update([0]);
    h.update(inputs.to_string().as_bytes());
    h.update([0]);
    h.update(settings.as_bytes());
    let digest = crate::digest::sha256_hex(h.finalize());
    format!("{stage}-{}", &digest[..16])
}

/// Write one output table of a stage run to `<output>/<table>`, keyed by the run (a retried run writes nothing
/// twice).
pub async fn write_output(
    output: &Location,
    spec: &crate::model::TableSpec,
    mode: WriteMode,
    run: &str,
    batches: impl IntoIterator<Item = arrow::record_batch::RecordBatch, IntoIter: Send>,
) -> CoreResult<WriteOutcome> {
    try_write_output(output, spec, mode, run, batches.into_iter().map(Ok), 1).await
}

/// [`write_output`] for batches built while the table is written: the first that fails to build ends the write
/// with its error, and nothing is committed. `writers` Parquet writers write it (more than one for a large
/// table: see [`crate::lake::try_write_batches`]).
pub async fn try_write_output(
    output: &Location,
    spec: &crate::model::TableSpec,
    mode: WriteMode,
    run: &str,
    batches: impl IntoIterator<Item = CoreResult<arrow::record_batch::RecordBatch>, IntoIter: Send>,
    writers: usize,
) -> CoreResult<WriteOutcome> {
    let (location, key) = output_table(output, spec, run);
    let layouts = spec.column_layouts();
    let target = output_target(spec, mode, &location, &key, &layouts);
    try_write_batches_to(target, batches, writers).await
}

/// [`try_write_output`] for a large table written as shares of batches built as the writers take them, one
/// Parquet writer a share (see [`crate::lake::try_write_shares`]): its rows are never all in memory at once.
pub async fn try_write_output_shares<I>(
    output: &Location,
    spec: &crate::model::TableSpec,
    mode: WriteMode,
    run: &str,
    shares: Vec<I>,
) -> CoreResult<WriteOutcome>
where
    I: Iterator<Item = CoreResult<arrow::record_batch::RecordBatch>> + Send,
{
    let (location, key) = output_table(output, spec, run);
    let layouts = spec.column_layouts();
    let target = output_target(spec, mode, &location, &key, &layouts);
    try_write_shares(target, shares).await
}

/// Where and how an output table of `spec` is written: its columns, comment and column layouts, keyed by the
/// run.
fn output_target<'a>(
    spec: &'a crate::model::TableSpec,
    mode: WriteMode,
    location: &'a Location,
    run_key: &'a str,
    layouts: &'a [(&'a str, crate::model::ColumnLayout)],
) -> TableTarget<'a> {
    TableTarget {
        location,
        schema: spec.arrow_schema(),
        comment: spec.comment,
        mode,
        run_key: Some(run_key),
        layouts,
    }
}

/// Where a stage's output table is, and the run key that makes a run write it once.
fn output_table(output: &Location, spec: &crate::model::TableSpec, run: &str) -> (Location, String) {
    (output.join(spec.name), format!("{}/{run}", spec.name))
}

/// Append a run to `<output>/runs` (once per run id and status).
pub async fn record_run(output: &Location, run: &RunRecord) -> CoreResult<WriteOutcome> {
    let spec = model::runs();
    let mut b = BatchBuilder::new(&spec, 1);
    b.text(Some(&run.run_id))
        .text(Some(&run.stage))
        .date(Some(run.as_of))
        .timestamp(Some(run.started_at))
        .timestamp(Some(run.finished_at))
        .integer(Some((run.finished_at - run.started_at).num_milliseconds()))
        .text(Some(&run.status))
        .text(Some(&run.inputs.to_string()))
        .integer(Some(run.rows_in as i64))
        .integer(Some(run.rows_out as i64))
        .integer(Some(run.rows_quarantined as i64))
        .text(run.message.as_deref())
        .text(Some(crate::VERSION));
    b.end_row();
    let key = format!("runs/{}/{}", run.run_id, run.status);
    write_batches(
        &output.join(spec.name),
        spec.arrow_schema(),
        spec.comment,
        WriteMode::Append,
        Some(&key),
        [b.finish()?],
    )
    .await
}

/// Run a stage whose outputs go to `output`, and when it fails, append a `failed` row to `<output>/runs` with the
/// error as its message (errors never carry patient data), so the run log shows every attempt, not only the
/// runs that succeeded. The row is best effort: when it cannot be written either (the output is what failed),
/// the stage's own error is the one returned.
pub async fn logging_failure<T>(
    output: &Location,
    stage: &str,
    as_of: NaiveDate,
    run: impl std::future::Future<Output = CoreResult<T>>,
) -> CoreResult<T> {
    let started_at = Utc::now();
    let result = run.await;
    if let Err(error) = &result {
        let attempt = serde_json::json!({ "failed_at": started_at.to_rfc3339() });
        let record = RunRecord {
            // A failed attempt has no inputs read to key it by: its start keeps each attempt's row.
            run_id: run_id(stage, as_of, &attempt, ""),
            stage: stage.to_string(),
            as_of,
            started_at,
            finished_at: Utc::now(),
            status: "failed".into(),
            inputs: serde_json::json!({}),
            rows_in: 0,
            rows_out: 0,
            rows_quarantined: 0,
            message: Some(error.to_string()),
        };
        let _ = record_run(output, &record).await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_stage_is_logged_with_its_error_and_returns_it() {
        let dir = tempfile::tempdir().unwrap();
        let output = Location::parse(dir.path().to_str().unwrap()).unwrap();
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let failing =
            async { CoreResult::<()>::Err(crate::CoreError::Config("audience 'a': sql: bad".into())) };
        let err = crate::lake::block_on(logging_failure(&output, "audiences", as_of, failing)).unwrap_err();
        assert_eq!(err.to_string(), "config error: audience 'a': sql: bad");
        let ok = crate::lake::block_on(logging_failure(&output, "audiences", as_of, async { Ok(7) }));
        assert_eq!(ok.unwrap(), 7);
        let source = crate::lake::block_on(crate::lake::detect(&output.join("runs"), "runs")).unwrap();
        let (_, batches) = crate::lake::read_all(&source).unwrap();
        let rows: Vec<(String, String, String)> = batches
            .iter()
            .flat_map(|b| {
                let text = |name: &str| crate::model::text_column(b, "runs", name).unwrap();
                let (stage, status, message) = (text("stage"), text("status"), text("message"));
                (0..b.num_rows())
                    .map(move |i| {
                        (
                            stage.value(i).to_string(),
                            status.value(i).to_string(),
                            message.value(i).to_string(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            rows,
            vec![(
                "audiences".into(),
                "failed".into(),
                "config error: audience 'a': sql: bad".into()
            )],
            "one row for the failure, none for the success (the stage records its own)"
        );
    }

    #[test]
    fn run_ids_are_deterministic_and_input_sensitive() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let a = run_id("ingest", d, &serde_json::json!({"t": 1}), "");
        assert_eq!(a, run_id("ingest", d, &serde_json::json!({"t": 1}), ""));
        assert_ne!(a, run_id("ingest", d, &serde_json::json!({"t": 2}), ""));
        assert!(a.starts_with("ingest-"));
    }
}
