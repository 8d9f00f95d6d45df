//! The care-gap stage: members (from identity resolution, or person_records when run alone), enrollment and
//! clinical events in; care_gaps, measure_rates, quarantine and a run-log row out.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Utc};
use serde_json::json;

pub use super::caregaps_events::EventSource;
use super::caregaps_events::PendingEvents;
use super::identity_stage::read_xref_batches;
use super::ingest::{open_input, read_conformed_each, write_quarantine, InputSet};
use super::progress::{PhaseClock, Progress};
use super::run_log::{record_run, run_id, try_write_output, write_output, RunRecord};
use crate::caregaps::evaluate::{evaluate_all, EngineCounts, Status};
use crate::caregaps::member_data::{LoadCounts, MemberDataBuilder};
use crate::caregaps::output::{care_gap_batches, measure_rates_batch, RowContext};
use crate::caregaps::value_sets::ValueSetFile;
use crate::caregaps::{MeasureSet, ValueSetDirectory};
use crate::error::{CoreError, CoreResult};
use crate::lake::{
    quarantine_counts, read_table_in_parallel_if_present, writers_per_core, Location, QuarantinedRow,
    WriteMode,
};
use crate::model;

/// Counts of one measure rate over all product lines (the summary printed by the command line).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RateSummary {
    /// Measure id.
    pub measure: String,
    /// Rate id.
    pub rate: String,
    /// Rows (members in the band).
    pub eligible: u64,
    /// not_applicable.
    pub not_applicable: u64,
    /// excluded.
    pub excluded: u64,
    /// closed.
    pub closed: u64,
    /// open.
    pub open: u64,
    /// HEDIS rate (numerator / denominator), None with an empty denominator.
    pub rate_value: Option<f64>,
    /// Whether higher is better.
    pub higher_is_better: bool,
}

/// What the care-gap stage did.
#[derive(Debug, Clone)]
pub struct CareGapsReport {
    /// Run id.
    pub run_id: String,
    /// Measurement year.
    pub year: i32,
    /// Where members came from: `identity` or `person_records` (each record its own member).
    pub members_from: String,
    /// Members.
    pub members: u64,
    /// Loading counts.
    pub load: LoadCounts,
    /// Engine counts.
    pub engine: EngineCounts,
    /// care_gaps rows written.
    pub rows: u64,
    /// Rows quarantined, by table and reason code.
    pub quarantined: BTreeMap<String, u64>,
    /// Per measure rate.
    pub rates: Vec<RateSummary>,
    /// Value-set files used.
    pub value_set_files: Vec<ValueSetFile>,
    /// Where the outputs are.
    pub output: String,
    /// Wall seconds of each phase (members, enrollment, events, evaluate, write), in order.
    pub phase_seconds: Vec<(String, f64)>,
}

/// Run the care-gap stage with its clinical events from `events`. `identity` is where identity_xref and
/// member_profile are (default: `output`).
#[allow(clippy::too_many_arguments)]
pub async fn run_caregaps(
    inputs: &InputSet,
    events: EventSource,
    identity: Option<&Location>,
    output: &Location,
    directory: &ValueSetDirectory,
    measures: &MeasureSet,
    year: Option<i32>,
    as_of: NaiveDate,
    progress: &dyn Progress,
) -> CoreResult<CareGapsReport> {
    let started = Utc::now();
    let year = year.unwrap_or(as_of.year());
    if year > as_of.year() {
        return Err(CoreError::Config(format!(
            "measurement year {year} is after the as-of date's year {}",
            as_of.year()
        )));
    }
    let mut clock = PhaseClock::start();
    // The events' read starts first: it needs only the value sets and runs while members are read.
    let events = PendingEvents::begin(events, inputs, directory, measures).await?;
    let mut builder = MemberDataBuilder::new(directory, measures, as_of);
    let mut quarantined: Vec<QuarantinedRow> = Vec::new();
    let mut described = serde_json::Map::new();

    // Members first: the two identity tables are read at once (a table in few row groups leaves cores idle that
    // the other's read can use), by row group in parallel.
    let identity = identity.cloned().unwrap_or_else(|| output.clone());
    let (profile_location, xref_location) = (identity.join("member_profile"), identity.join("identity_xref"));
    let (profiles, xref) = tokio::try_join!(
        read_table_in_parallel_if_present(
            &profile_location,
            "member_profile",
            Some(&["member_id", "birth_date", "sex", "deceased_date"]),
        ),
        read_xref_batches(&xref_location),
    )?;
    let members_from = match (profiles, xref) {
        (Some(profiles), Some(xref)) => {
            builder.add_member_profiles(&profiles)?;
            builder.add_xref(&xref)?;
            described.insert("identity".into(), json!(identity.redacted()));
            "identity"
        }
        (None, None) => {
            let mut stream = open_input(inputs, "person_records").await?.ok_or_else(|| {
                CoreError::Input(format!(
                    "no identity outputs (member_profile, identity_xref) at {} and no person_records in lake {}",
                    identity.redacted(),
                    inputs.lake
                ))
            })?;
            described.insert("person_records".into(), stream.describe());
            while let Some((batch, bad)) = stream.next().await? {
                builder.add_person_records(&batch)?;
                quarantined.extend(bad);
            }
            "person_records"
        }
        _ => {
            return Err(CoreError::Input(format!(
                "identity outputs at {} are incomplete: member_profile and identity_xref must both be there",
                identity.redacted()
            )))
        }
    };

    clock.lap("members");
    // Enrollment (optional: providers without enrollment data see everyone as not continuously enrolled) is
    // matched to members a few conformed batches at a time, on every core, and each batch is dropped once its
    // spans are taken, so the table (4.9M rows at 1M members) is never held whole. Measured at 1M members against
    // reading it whole beside the identity tables: members and enrollment peaked at 0.6 instead of 1.1 GB and
    // took 0.9-1.1 instead of 1.1-1.9 s (fresh memory is slow to fault in on a small VM).
    let mut unmatched: Vec<QuarantinedRow> = Vec::new();
    // Enrollment's columns of few values come as dictionaries (see `read_conformed_each`).
    let dictionaries = ["source_system", "product_line", "snp_type"];
    let enrollment = read_conformed_each(inputs, "enrollment", &dictionaries, None, |good| {
        unmatched.extend(builder.add_enrollment_batches(&good)?);
        Ok(())
    })
    .await?;
    if let Some(read) = enrollment {
        described.insert("enrollment".into(), read.described);
        quarantined.extend(read.quarantined);
        quarantined.extend(unmatched);
    }

    clock.lap("enrollment");
    let (builder, bad, about) = events
        .match_into(builder, inputs, directory, measures, progress)
        .await?;
    if let Some(about) = about {
        described.insert("clinical_events".into(), about);
    }
    quarantined.extend(bad);
    let load = builder.counts.clone();
    let data = builder.finish();
    clock.lap("events");

    let files: Vec<_> = directory
        .files
        .iter()
        .map(|f| json!({"origin": f.origin, "sha256": f.sha256, "rows": f.rows, "versions": f.versions}))
        .collect();
    described.insert("value_sets".into(), json!(files));
    let inputs_json = serde_json::Value::Object(described);
    let ids: Vec<&str> = measures.measures.iter().map(|m| m.id.as_str()).collect();
    let run = run_id(
        "caregaps",
        as_of,
        &inputs_json,
        &format!("year={year};measures={}", ids.join(",")),
    );

    let (rows, engine) = evaluate_all(measures, &data, year, progress);
    clock.lap("evaluate");
    let cx = RowContext {
        measures,
        data: &data,
        directory,
        year,
        as_of,
        run_id: &run,
    };
    let gap_batches = care_gap_batches(&rows, cx)?;
    let rates_batch = measure_rates_batch(&rows, cx)?;
    // care_gaps is a row per member and measure: one Parquet writer per core.
    try_write_output(
        output,
        &model::care_gaps(),
        WriteMode::Overwrite,
        &run,
        gap_batches.into_iter().map(Ok),
        writers_per_core(),
    )
    .await?;
    write_output(
        output,
        &model::measure_rates(),
        WriteMode::Overwrite,
        &run,
        [rates_batch],
    )
    .await?;
    clock.lap("write");
    let by_reason = quarantine_counts(&quarantined);
    write_quarantine(output, &run, &quarantined).await?;

    // One pass over the rows: every row counts, including those without a product line (not in measure_rates).
    let mut first_rate = Vec::with_capacity(measures.measures.len());
    let mut rates: Vec<RateSummary> = Vec::new();
    for measure in &measures.measures {
        first_rate.push(rates.len());
        rates.extend(measure.rates.iter().map(|rate| RateSummary {
            measure: measure.id.clone(),
            rate: rate.id.clone(),
            eligible: 0,
            not_applicable: 0,
            excluded: 0,
            closed: 0,
            open: 0,
            rate_value: None,
            higher_is_better: rate.higher_is_better,
        }));
    }
    for row in &rows {
        let s = &mut rates[first_rate[row.measure as usize] + row.rate as usize];
        s.eligible += 1;
        match row.status {
            Status::NotApplicable => s.not_applicable += 1,
            Status::Excluded => s.excluded += 1,
            Status::Closed => s.closed += 1,
            Status::Open => s.open += 1,
        }
    }
    for s in &mut rates {
        let denominator = s.closed + s.open;
        let numerator = if s.higher_is_better { s.closed } else { s.open };
        s.rate_value = (denominator > 0).then(|| numerator as f64 / denominator as f64);
    }
    let open = rows.iter().filter(|r| r.status == Status::Open).count();
    let report = CareGapsReport {
        run_id: run.clone(),
        year,
        members_from: members_from.to_string(),
        members: data.len() as u64,
        load,
        engine,
        rows: rows.len() as u64,
        quarantined: by_reason,
        rates,
        value_set_files: directory.files.clone(),
        output: output.redacted(),
        phase_seconds: clock.into_phases(),
    };
    let rows_quarantined = quarantined.len() as u64;
    record_run(
        output,
        &RunRecord {
            run_id: run,
            stage: "caregaps".into(),
            as_of,
            started_at: started,
            finished_at: Utc::now(),
            status: "succeeded".into(),
            inputs: inputs_json,
            rows_in: report.load.events_read + report.load.enrollment_read,
            rows_out: report.rows,
            rows_quarantined,
            message: Some(format!(
                "{} members, {} measures, measurement year {year}: {} care_gaps rows, {open} open",
                report.members,
                measures.measures.len(),
                report.rows
            )),
        },
    )
    .await?;
    Ok(report)
}
