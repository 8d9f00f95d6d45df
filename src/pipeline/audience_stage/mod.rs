//! The audience stage: each audience's SQL over the output tables (DataFusion), policy per member, and change
//! sets per destination diffed against the previous run's state.
//!
//! Tables the SQL sees: member_profile, care_gaps, measure_rates (from the output folder) and appointments,
//! communications, consents (the canonical inputs, with member_id resolved through identity_xref). Sends are
//! computed for the run instant (the as-of date at 12:00 UTC), so the same as-of date gives the same rows.
//!
//! Phases, one file each: `selection` (inputs and selected rows), `profiles` (member_profile and payloads),
//! `engagement` (engagement inputs into the consent ledger), `decisions` (exclusions, priority, policy;
//! `suppressions`: who it left out), `diff` (change sets against the last state), `write`.

mod decisions;
mod diff;
mod engagement;
mod minimum_size;
mod payload;
mod profiles;
mod selection;
mod sql_rows;
mod suppressions;
mod write;

use std::collections::BTreeMap;

use foldhash::HashSet;

use arrow::array::RecordBatch;
use chrono::{DateTime, NaiveDate, Utc};
use deltalake::datafusion::logical_expr::LogicalPlan;
use deltalake::datafusion::prelude::SessionContext;
use rayon::prelude::*;
use serde_json::json;

pub use selection::{plan_sql, AudienceSelection};

use super::identity_stage::XREF_COLUMNS;
use super::ingest::{read_conformed_each, write_quarantine, BackgroundRead, InputSet};
use super::progress::{Progress, SteppedClock};
use super::run_log::{record_run, run_id, RunRecord};
use crate::audience::definition::{Audience, Destination};
use crate::audience::ledger::LedgerBuilder;
use crate::audience::policy::Decision;
use crate::audience::rules::OutreachRules;
use crate::error::Problems;
use crate::error::{CoreError, CoreResult};
use crate::identity::person_keys::XrefIndex;
use crate::lake::{
    find_in_lake, quarantine_counts, read_columns_each_counted_if_present,
    read_columns_in_parallel_if_present, Columns, Location, QuarantinedRow,
};
use crate::model::only_columns;
use decisions::PolicyInputs;
use diff::{change_sets, PreviousState};
use engagement::{ledger_columns, ledger_dictionaries, read_engagement, LedgerInput, RESOLVING_COLUMNS};
use selection::{
    all_columns_read, columns_read, optimized, register, selected_rows, ColumnsRead, SelectedRows,
    ENGAGEMENT_TABLES, OUTPUT_TABLES,
};
use sql_rows::SqlRowFilters;

/// Counts for one audience.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AudienceSummary {
    /// Audience name.
    pub name: String,
    /// Members the SQL selected.
    pub selected: u64,
    /// Rows the SQL returned with a null member_id (they name nobody, so nobody is sent to or suppressed).
    pub without_member_id: u64,
    /// Members sent to at least one destination.
    pub members: u64,
    /// Suppressions by rule.
    pub suppressed: BTreeMap<String, u64>,
    /// Per destination: (upserts, deletes) in this run's change set.
    pub changes: BTreeMap<String, (u64, u64)>,
    /// Ad destinations the audience was held back from because it had fewer members there than the
    /// destination's `min_members`, with the members it would have had (nobody was added; those sent before
    /// are removed).
    pub below_minimum: BTreeMap<String, u64>,
}

/// What the audience stage did.
#[derive(Debug, Clone)]
pub struct AudienceReport {
    /// Run id.
    pub run_id: String,
    /// Nothing was written.
    pub dry_run: bool,
    /// Per audience.
    pub audiences: Vec<AudienceSummary>,
    /// A few (audience, member_id, channel, window start UTC) rows, for a dry run's preview.
    pub sample: Vec<(String, String, String, Option<String>)>,
    /// Where the outputs are.
    pub output: String,
    /// Engagement rows quarantined, by table and reason code (`consents.unknown_person`); a dry run counts
    /// them and writes none.
    pub quarantined: BTreeMap<String, u64>,
    /// Wall seconds of each phase (profiles, sql_outputs: the SQL over output tables alone, xref, ledger: with
    /// the SQL that reads an engagement input as soon as the tables it reads are loaded, sql: the rest of the SQL,
    /// policy, diff, write), in order.
    pub phase_seconds: Vec<(String, f64)>,
}

/// The phases of a run (see [`AudienceReport::phase_seconds`]): the steps its progress is reported in.
const PHASES: u64 = 8;

/// The configured destination of this name (audience definitions are checked against them on load).
fn destination<'a>(destinations: &'a [Destination], name: &str) -> CoreResult<&'a Destination> {
    Ok(&destinations[destination_position(destinations, name)?])
}

/// Where the configured destination of this name is among `destinations` (see [`destination`]).
fn destination_position(destinations: &[Destination], name: &str) -> CoreResult<usize> {
    destinations
        .iter()
        .position(|d| d.name == name)
        .ok_or_else(|| CoreError::Internal("an unchecked destination".into()))
}

/// Every table the SQL of `audiences` reads (planned by [`plan_sql`]) is there (one without rows is: the SQL
/// selects nobody from it); one error names each that is not, with the audiences that read it. `output` is None
/// where the run makes care_gaps and measure_rates before its audiences (`carelake validate` of a pipeline file
/// with a caregaps section).
pub async fn check_sql_tables(
    inputs: &InputSet,
    output: Option<&Location>,
    audiences: &[Audience],
    plans: &[LogicalPlan],
) -> CoreResult<()> {
    match optimized(plans).as_deref().and_then(columns_read) {
        Some(reads) => check_tables_read(inputs, output, audiences, &reads).await,
        None => Ok(()),
    }
}

/// Every table an audience's SQL reads must be there (one without rows is: the SQL selects nobody from it);
/// one error names each that is not, with the audiences that read it, before anything is read. The output's
/// tables are looked for only with an `output`; member_profile is left to its own error (every run needs it).
async fn check_tables_read(
    inputs: &InputSet,
    output: Option<&Location>,
    audiences: &[Audience],
    reads: &[ColumnsRead],
) -> CoreResult<()> {
    let mut problems = Problems::default();
    for table in ["care_gaps", "measure_rates"]
        .into_iter()
        .chain(ENGAGEMENT_TABLES)
    {
        let readers: Vec<String> = audiences
            .iter()
            .zip(reads)
            .filter(|(_, read)| read.contains_key(table))
            .map(|(a, _)| format!("'{}'", a.name))
            .collect();
        if readers.is_empty() {
            continue;
        }
        let missing = match (ENGAGEMENT_TABLES.contains(&table), output) {
            (true, _) => inputs.locate(table).await?.is_none().then(|| {
                format!(
                    "which is not in the lake at {}: add it (a table without rows selects nobody) or give its place \
                     under sources.{table}.uri",
                    inputs.lake.join(table).redacted()
                )
            }),
            (false, Some(output)) => match find_in_lake(output, table).await {
                Ok(_) => None,
                Err(CoreError::Input(_)) => Some(format!(
                    "which is not in the output at {}: run care gaps first (a caregaps section in the pipeline file)",
                    output.redacted()
                )),
                Err(e) => return Err(e),
            },
            // The run makes it before its audiences.
            (false, None) => None,
        };
        if let Some(missing) = missing {
            let (audience, verb) = match readers.len() {
                1 => ("audience", "reads"),
                _ => ("audiences", "read"),
            };
            problems.add(CoreError::Config(format!(
                "{audience} {} {verb} {table}, {missing}",
                readers.join(", ")
            )));
        }
    }
    problems.into_result()
}

/// Run the SQL of the audiences at positions `which`, each result put in its place in `results`.
async fn run_each_sql(
    ctx: &SessionContext,
    audiences: &[Audience],
    which: &[usize],
    results: &mut [Option<Vec<RecordBatch>>],
) -> CoreResult<()> {
    for &i in which {
        let a = &audiences[i];
        let sql_error = |e| CoreError::Config(format!("audience '{}': sql: {e}", a.name));
        let frame = ctx.sql(&a.sql).await.map_err(sql_error)?;
        results[i] = Some(frame.collect().await.map_err(sql_error)?);
    }
    Ok(())
}

/// Run the SQL of each audience still to run whose tables are all `loaded`, then let go of the loaded tables
/// that no SQL still to run reads: a table is held only until the last SQL that reads it has run. Without the
/// tables each SQL reads (None), nothing runs before every table is loaded.
async fn run_ready_sql(
    ctx: &SessionContext,
    audiences: &[Audience],
    reads: Option<&[ColumnsRead]>,
    loaded: &[&str],
    results: &mut [Option<Vec<RecordBatch>>],
) -> CoreResult<()> {
    let Some(reads) = reads else {
        return Ok(());
    };
    let ready: Vec<usize> = (0..audiences.len())
        .filter(|&i| results[i].is_none() && reads[i].keys().all(|t| loaded.contains(&t.as_str())))
        .collect();
    run_each_sql(ctx, audiences, &ready, results).await?;
    for &table in loaded {
        if !(0..audiences.len()).any(|i| results[i].is_none() && reads[i].contains_key(table)) {
            ctx.deregister_table(table)?;
        }
    }
    Ok(())
}

/// Run the audiences, their rows selected by `selection`; with `dry_run`, compute everything and write nothing.
#[allow(clippy::too_many_arguments)]
pub async fn run_audiences(
    inputs: &InputSet,
    output: &Location,
    audiences: &[Audience],
    destinations: &[Destination],
    rules: &OutreachRules,
    selection: AudienceSelection,
    as_of: NaiveDate,
    dry_run: bool,
    progress: &dyn Progress,
) -> CoreResult<AudienceReport> {
    if let AudienceSelection::Given(given) = &selection {
        if given.len() != audiences.len() {
            return Err(CoreError::Internal(format!(
                "{} audiences configured but {} selections given",
                audiences.len(),
                given.len()
            )));
        }
    }
    let started = Utc::now();
    let now: DateTime<Utc> = as_of.and_hms_opt(12, 0, 0).expect("noon").and_utc();
    // A dry run has every phase but the write.
    let steps = if dry_run { PHASES - 1 } else { PHASES };
    let mut clock = SteppedClock::start(progress, "audiences", steps);
    let ctx = SessionContext::new();
    // The tables the SQL reads are loaded only when the SQL runs here; given selections were made elsewhere.
    let run_sql = matches!(selection, AudienceSelection::Sql);
    // Which columns of which tables each audience's SQL reads (None: not known, so every table it may read is
    // read whole, and all the SQL runs once every table is loaded). Every SQL that cannot run is named here,
    // before anything is read (at 10M members its error came after the profiles, the xref and the ledger: some
    // 20 s).
    let plans = match run_sql {
        true => optimized(&plan_sql(audiences, "").await?),
        false => None,
    };
    let audience_reads = match run_sql {
        true => plans.as_deref().and_then(columns_read),
        false => Some(vec![ColumnsRead::new(); audiences.len()]),
    };
    if let Some(reads) = audience_reads.as_deref() {
        check_tables_read(inputs, Some(output), audiences, reads).await?;
    }
    // The rows of an engagement input that the SQL's filters can pass: only those are resolved for it.
    let sql_rows = plans.as_deref().map(SqlRowFilters::of).unwrap_or_default();
    let sql_reads = audience_reads.as_deref().map(all_columns_read);
    let reads_table = |table: &str| match &sql_reads {
        Some(reads) => reads.contains_key(table),
        // Unquoted names are lower case to the SQL, so a name it does not contain is one it cannot read.
        None => audiences.iter().any(|a| a.sql.to_lowercase().contains(table)),
    };
    let columns_of = |table: &str| -> Vec<&str> {
        sql_reads
            .as_ref()
            .and_then(|reads| reads.get(table))
            .map(|c| c.iter().map(String::as_str).collect())
            .unwrap_or_default()
    };
    // The columns of a table the SQL reads that are kept for it (None: not known, so all).
    let sql_columns = |table: &str| -> Option<Vec<String>> {
        sql_reads
            .as_ref()
            .map(|_| columns_of(table).into_iter().map(String::from).collect())
    };
    // The engagement inputs the SQL reads are read and conformed whole in the background while the outputs are
    // read and indexed, keeping the columns the SQL reads and those that resolve members; appointments are only
    // opened when the SQL does not read them. Consents and communications that only the ledger reads are
    // streamed into it once the xref is indexed (None here): the ledger keeps a few values a row, not the rows.
    let engagement: Vec<(&str, bool, Option<BackgroundRead>)> = ENGAGEMENT_TABLES
        .into_iter()
        .map(|table| {
            let for_sql = reads_table(table);
            // The ledger reads consents and communications whole.
            let keep = sql_columns(table)
                .filter(|_| table == "appointments")
                .map(|columns| {
                    let resolving = RESOLVING_COLUMNS.iter().map(|c| c.to_string());
                    resolving.chain(columns).collect::<Vec<_>>()
                });
            let inputs = inputs.clone();
            let background = (for_sql || table == "appointments").then(|| {
                BackgroundRead::spawn(table, async move {
                    read_engagement(&inputs, table, for_sql, keep).await
                })
            });
            (table, for_sql, background)
        })
        .collect();
    // The output tables are read at once (each by row group on every core), only the columns used.
    let sql_outputs = async {
        let mut tables = Vec::new();
        for table in ["care_gaps", "measure_rates"] {
            if !reads_table(table) {
                continue;
            }
            let wanted = columns_of(table);
            let columns = match sql_reads {
                Some(_) => Columns::Present(&wanted),
                None => Columns::All,
            };
            if let Some(b) = read_columns_in_parallel_if_present(&output.join(table), table, columns).await? {
                tables.push((table, b));
            }
        }
        CoreResult::Ok(tables)
    };
    // member_profile: the profiles' columns (for the configured destinations) and those the SQL reads.
    let mut profile_columns: Vec<&str> = profiles::profile_columns(destinations, audiences);
    for column in columns_of("member_profile") {
        if !profile_columns.contains(&column) {
            profile_columns.push(column);
        }
    }
    let profile_read = match sql_reads {
        Some(_) => Columns::Present(&profile_columns),
        None => Columns::All,
    };
    let profile_location = output.join("member_profile");
    let (profile_batches, sql_outputs) = tokio::try_join!(
        read_columns_in_parallel_if_present(&profile_location, "member_profile", profile_read),
        sql_outputs,
    )?;
    let profile_batches = profile_batches.ok_or_else(|| {
        CoreError::Input(format!(
            "no member_profile at {}: run identity resolution first",
            output.redacted()
        ))
    })?;
    let mut profiles = profiles::profiles(&profile_batches)?;
    // The SQL gets the columns it reads (all when that is not known); the rest, the policy's columns the
    // profiles have parsed, go now rather than when the SQL is done or at the end of the run.
    if reads_table("member_profile") {
        let batches = match sql_columns("member_profile") {
            Some(keep) => profile_batches
                .iter()
                .map(|b| only_columns(b, &keep))
                .collect::<CoreResult<Vec<_>>>()?,
            None => profile_batches.clone(),
        };
        register(&ctx, "member_profile", batches)?;
    }
    drop(profile_batches);
    for (table, batches) in sql_outputs {
        register(&ctx, table, batches)?;
    }
    clock.lap("profiles");
    // Each audience's selected rows: given, or its SQL's result.
    let mut results: Vec<Option<Vec<RecordBatch>>> = match selection {
        AudienceSelection::Given(given) => given.into_iter().map(Some).collect(),
        AudienceSelection::Sql => audiences.iter().map(|_| None).collect(),
    };
    // The SQL that reads only output tables runs now, before the xref and the ledger are built, and the output
    // tables no other SQL reads are let go: care_gaps is not held through the phases that hold the most.
    let mut loaded: Vec<&str> = OUTPUT_TABLES.to_vec();
    let reads = audience_reads.as_deref();
    run_ready_sql(&ctx, audiences, reads, &loaded, &mut results).await?;
    clock.lap("sql_outputs");
    // identity_xref is indexed batch by batch as it is read (its members numbered after the profiles'), so the
    // table (21M rows at 10M members) is never held beside its index.
    let mut xref = XrefIndex::default();
    let xref_location = output.join("identity_xref");
    // identity_xref is written in source-system order, so its row groups' statistics bound each system's rows and
    // each system's table is sized once (21M rows at 10M members: grown by doubling, every key held was
    // re-hashed at each step).
    let per_system = std::cell::RefCell::new(None);
    read_columns_each_counted_if_present(
        &xref_location,
        "identity_xref",
        Columns::Named(&XREF_COLUMNS),
        Some(("source_system", &mut |rows| *per_system.borrow_mut() = Some(rows))),
        |batch| {
            if let Some(rows) = per_system.borrow_mut().take() {
                xref.reserve_systems(&rows);
            }
            profiles.index_xref(&mut xref, &[batch])
        },
    )
    .await?;
    clock.lap("xref");
    let mut ledger = LedgerBuilder::default();
    let as_of_micros = now.timestamp_micros();
    let mut described = serde_json::Map::new();
    // Rows of the engagement inputs that failed to conform: left out of the run, written to the quarantine table
    // with their reason, and counted in the run's record.
    let mut quarantined: Vec<QuarantinedRow> = Vec::new();
    for (table, for_sql, reading) in engagement {
        let into = LedgerInput {
            table,
            xref: &xref,
            profiles: &profiles,
            sql_rows: &sql_rows,
            as_of_micros,
        };
        let Some(reading) = reading else {
            // Streamed: each few conformed batches are resolved on every core and added to the ledger in table
            // order, then dropped.
            let mut unknown = Vec::new();
            let read = read_conformed_each(
                inputs,
                table,
                ledger_dictionaries(table),
                ledger_columns(table),
                |good| into.add(&mut ledger, &good, false, &mut unknown).map(drop),
            )
            .await?;
            if let Some(read) = read {
                described.insert(table.into(), read.described);
                quarantined.extend(read.quarantined);
            }
            quarantined.extend(unknown);
            continue;
        };
        let Some(read) = reading.finish().await? else {
            continue;
        };
        described.insert(table.into(), read.described);
        quarantined.extend(read.quarantined);
        let resolved = into.add(&mut ledger, &read.batches, for_sql, &mut quarantined)?;
        // Once resolved, the SQL's batches keep only the columns it reads.
        let keep = sql_columns(table);
        let mut batches = Vec::new();
        for b in resolved {
            batches.push(match &keep {
                Some(keep) => only_columns(&b, keep)?,
                None => b,
            });
        }
        if for_sql {
            register(&ctx, table, batches)?;
            // The SQL over what is loaded so far runs at once, and lets go of the tables no other SQL reads.
            loaded.push(table);
            run_ready_sql(&ctx, audiences, reads, &loaded, &mut results).await?;
        }
    }
    drop(xref);
    let ledger = ledger.finish(&profiles);

    clock.lap("ledger");
    // The rest of the SQL, over the engagement inputs as well.
    let rest: Vec<usize> = (0..audiences.len()).filter(|&i| results[i].is_none()).collect();
    run_each_sql(&ctx, audiences, &rest, &mut results).await?;
    let results: Vec<Vec<RecordBatch>> = results.into_iter().map(Option::unwrap_or_default).collect();
    // Each audience's rows are read out of its result on a core of their own.
    let selected: Vec<SelectedRows> = audiences
        .par_iter()
        .zip(results.par_iter())
        .map(|(a, batches)| selected_rows(&a.name, batches, &profiles))
        .collect::<CoreResult<_>>()?;
    drop(results);
    // The tables the SQL read (care_gaps, appointments, ...) are not needed again.
    drop(ctx);
    clock.lap("sql");

    let decided = PolicyInputs {
        audiences,
        destinations,
        profiles: &profiles,
        ledger: &ledger,
        rules,
        now,
    }
    .decide_all(&selected)?;
    drop(selected);
    let (mut summaries, memberships, suppressions) =
        (decided.summaries, decided.memberships, decided.suppressions);
    clock.lap("policy");

    let previous = PreviousState::read(output, &profiles).await?;
    let inputs_json = json!({"inputs": described, "previous_members": previous.len});
    let settings = serde_json::to_string(
        &audiences
            .iter()
            .map(|a| (&a.name, &a.sql, &a.destinations))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    let run = run_id("audiences", as_of, &inputs_json, &settings);
    let sets = change_sets(&memberships, &previous, &ledger, as_of_micros);
    drop(ledger);
    // Adds, changes and removes per (audience, destination), counted once for the report and the sync log.
    let planned = sets.planned();
    for (&(audience, destination), &(add, change, remove)) in &planned {
        if let Some(s) = summaries.iter_mut().find(|s| s.name == audience) {
            s.changes
                .insert(destination.to_string(), ((add + change) as u64, remove as u64));
        }
    }
    let mut sampled = HashSet::default();
    let sample = memberships
        .iter()
        .filter(|m| sampled.insert((m.audience, m.member_id)))
        .take(5)
        .map(|m| {
            let (channel, start) = match &m.decision {
                Decision::Send { channel, window, .. } => (
                    channel.name().to_string(),
                    window.map(|w| w.utc_start.to_rfc3339()),
                ),
                Decision::Suppress { .. } => (String::new(), None),
            };
            (m.audience.to_string(), m.member_id.to_string(), channel, start)
        })
        .collect();
    clock.lap("diff");
    let mut report = AudienceReport {
        run_id: run.clone(),
        dry_run,
        audiences: summaries,
        sample,
        output: output.redacted(),
        quarantined: quarantine_counts(&quarantined),
        phase_seconds: Vec::new(),
    };
    if dry_run {
        report.phase_seconds = clock.into_phases();
        return Ok(report);
    }

    write::RunOutputs {
        output,
        run: &run,
        as_of,
        started,
        audiences,
        destinations,
        memberships: &memberships,
        sets: &sets,
        planned: &planned,
        suppressions: &suppressions,
        summaries: &report.audiences,
        profiles: &profiles,
    }
    .write()
    .await?;
    write_quarantine(output, &run, &quarantined).await?;
    clock.lap("write");
    report.phase_seconds = clock.into_phases();
    let selected_total: u64 = report.audiences.iter().map(|a| a.selected).sum();
    record_run(
        output,
        &RunRecord {
            run_id: run,
            stage: "audiences".into(),
            as_of,
            started_at: started,
            finished_at: Utc::now(),
            status: "succeeded".into(),
            inputs: inputs_json,
            rows_in: selected_total,
            rows_out: memberships.len() as u64,
            rows_quarantined: quarantined.len() as u64,
            message: Some(format!(
                "{} audiences: {} members selected, {} memberships, {} suppressed",
                audiences.len(),
                selected_total,
                memberships.len(),
                suppressions.len()
            )),
        },
    )
    .await?;
    Ok(report)
}
