//! The audience stage: each audience's SQL over the output tables (DataFusion), policy per member, and change
//! sets per destination diffed against the previous run's state.
//!
//! Tables the SQL sees: member_profile, care_gaps, measure_rates (from the output folder) and appointments,
//! communications, consents (the canonical inputs, with member_id resolved through identity_xref). Sends are
//! computed for the run instant (the as-of date at 12:00 UTC), so the same as-of date gives the same rows.
//!
//! Phases, one file each: [`selection`] (inputs and selected rows), [`profiles`] (member_profile and payloads),
//! [`decisions`] (exclusions, priority, policy), [`diff`] (change sets against the last state), [`write`].

mod decisions;
mod diff;
mod minimum_size;
mod payload;
mod profiles;
mod selection;
mod sql_rows;
mod write;

use std::collections::BTreeMap;

use foldhash::HashSet;

use arrow::array::RecordBatch;
use chrono::{DateTime, NaiveDate, Utc};
use deltalake::datafusion::prelude::SessionContext;
use rayon::prelude::*;
use serde_json::json;

pub use selection::AudienceSelection;

use super::identity_stage::XREF_COLUMNS;
use super::ingest::{
    open_input, read_conformed_columns, read_conformed_each, write_quarantine, BackgroundRead,
    ConformedInput, InputSet,
};
use super::progress::{Progress, SteppedClock};
use super::run_log::{record_run, run_id, RunRecord};
use crate::audience::definition::{Audience, Destination};
use crate::audience::ledger::{ConsentRows, LedgerBuilder};
use crate::audience::policy::Decision;
use crate::audience::rules::OutreachRules;
use crate::error::{CoreError, CoreResult};
use crate::identity::person_keys::XrefIndex;
use crate::lake::{
    quarantine_counts, quarantine_rows, read_columns_each_counted_if_present,
    read_columns_in_parallel_if_present, Columns, Location, QuarantinedRow, RejectReason, RejectedRows,
    RowNumbers,
};
use crate::model::only_columns;
use decisions::PolicyInputs;
use diff::{change_sets, PreviousState};
use profiles::Profiles;
use selection::{
    all_columns_read, columns_read, planned_sql, register, resolve_members, selected_rows, ColumnsRead,
    SelectedRows, ENGAGEMENT_TABLES, OUTPUT_TABLES,
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

/// The columns of few distinct values of an engagement input that only the ledger reads: read as dictionaries,
/// conformed once per value (at 10M members, copying their text out for each of 28M rows and checking it was a
/// seventh of the ledger phase).
fn ledger_dictionaries(table: &str) -> &'static [&'static str] {
    match table {
        "consents" => &["source_system", "channel", "purpose", "status", "basis"],
        "communications" => &[
            "source_system",
            "channel",
            "direction",
            "audience",
            "status",
            "body_keyword",
        ],
        _ => &[],
    }
}

/// The columns that resolve an engagement input's rows to members: kept until they are resolved.
const RESOLVING_COLUMNS: [&str; 3] = ["member_id", "source_system", "source_record_id"];

/// The columns of an engagement input the ledger reads, when it alone reads the input: only these are read and
/// conformed. A STOP reply or a consent whose other columns (message_id, template, source) are missing or
/// malformed still counts: an opt-out is honored however the rest of its row was recorded (ingest's checks
/// still report such rows). Leaving out communications' message_id, unique per row, spares decoding and
/// checking 10M texts at 10M members.
fn ledger_columns(table: &str) -> Option<&'static [&'static str]> {
    const PERSON: [&str; 3] = RESOLVING_COLUMNS;
    match table {
        "consents" => Some(&[
            PERSON[0],
            PERSON[1],
            PERSON[2],
            "channel",
            "purpose",
            "status",
            "basis",
            "contact_point",
            "captured_at",
        ]),
        "communications" => Some(&[
            PERSON[0],
            PERSON[1],
            PERSON[2],
            "channel",
            "direction",
            "audience",
            "sent_at",
            "status",
            "body_keyword",
        ]),
        _ => None,
    }
}

/// Read and conform an engagement input whole (None: the lake has no such table), keeping the columns in
/// `keep` (None: all); without `rows_wanted`, only open it (its schema is checked and it is described in the run
/// log).
async fn read_engagement(
    inputs: &InputSet,
    table: &str,
    rows_wanted: bool,
    keep: Option<Vec<String>>,
) -> CoreResult<Option<ConformedInput>> {
    if rows_wanted {
        return read_conformed_columns(inputs, table, keep.as_deref()).await;
    }
    Ok(open_input(inputs, table).await?.map(|stream| ConformedInput {
        described: stream.describe(),
        batches: Vec::new(),
        quarantined: Vec::new(),
        rows_read: 0,
    }))
}

/// An engagement batch resolved on some core: the batch for the SQL (its member_id resolved; None when the SQL
/// does not read the table), each row's member number, and for consents the events read.
struct ResolvedBatch {
    for_sql: Option<RecordBatch>,
    members: Vec<Option<u32>>,
    consents: Option<ConsentRows>,
}

/// What resolves the batches of one engagement input and adds them to the consent ledger.
struct LedgerInput<'a> {
    table: &'a str,
    xref: &'a XrefIndex,
    profiles: &'a Profiles,
    /// Which rows the SQL can select, of the inputs it reads.
    sql_rows: &'a SqlRowFilters,
    as_of_micros: i64,
}

/// Whether the rows of an engagement input go into the consent ledger (every row of it is resolved then).
fn feeds_ledger(table: &str) -> bool {
    matches!(table, "consents" | "communications")
}

impl LedgerInput<'_> {
    /// Resolve conformed batches on every core (a hash probe a row), then add them to the ledger one by one in
    /// table order, as they were read; rows of no known member go to `quarantined`. Returns the batches for the
    /// SQL (with `for_sql`; none otherwise).
    fn add(
        &self,
        ledger: &mut LedgerBuilder,
        batches: &[(RecordBatch, RowNumbers)],
        for_sql: bool,
        quarantined: &mut Vec<QuarantinedRow>,
    ) -> CoreResult<Vec<RecordBatch>> {
        let resolved = batches
            .par_iter()
            .map(|(batch, _)| self.resolve(batch, for_sql))
            .collect::<CoreResult<Vec<_>>>()?;
        let mut for_sql = Vec::new();
        for (mut resolved, (batch, numbers)) in resolved.into_iter().zip(batches) {
            quarantined.extend(self.add_resolved(ledger, (batch, numbers), &mut resolved)?);
            for_sql.extend(resolved.for_sql);
        }
        Ok(for_sql)
    }

    /// Resolve a batch to members and read what the ledger needs that can be read apart from it (called on
    /// every core, batch by batch).
    fn resolve(&self, batch: &RecordBatch, for_sql: bool) -> CoreResult<ResolvedBatch> {
        let sql_rows = for_sql.then(|| self.sql_rows.rows(self.table, batch)).flatten();
        if let (Some(keep), false) = (&sql_rows, feeds_ledger(self.table)) {
            // Only the SQL reads this input: the rows it cannot select are not resolved at all.
            let kept = arrow::compute::filter_record_batch(batch, keep)?;
            let (for_sql, members) = resolve_members(&kept, self.xref, self.profiles, true)?;
            return Ok(ResolvedBatch {
                for_sql,
                members,
                consents: None,
            });
        }
        let (mut for_sql, members) = resolve_members(batch, self.xref, self.profiles, for_sql)?;
        if let (Some(b), Some(keep)) = (&for_sql, &sql_rows) {
            for_sql = Some(arrow::compute::filter_record_batch(b, keep)?);
        }
        let consents = (self.table == "consents")
            .then(|| ConsentRows::read(batch, &members, self.as_of_micros))
            .transpose()?;
        Ok(ResolvedBatch {
            for_sql,
            members,
            consents,
        })
    }

    /// Add a resolved batch to the consent ledger (appointments add nothing); returns its rows whose person no
    /// member has, quarantined: a consent or a STOP reply that reaches no member is shown to the user, not lost
    /// (an opt-out for a source record identity resolution has not seen cannot be honored).
    fn add_resolved(
        &self,
        ledger: &mut LedgerBuilder,
        (batch, numbers): (&RecordBatch, &RowNumbers),
        resolved: &mut ResolvedBatch,
    ) -> CoreResult<Vec<QuarantinedRow>> {
        let members = &resolved.members;
        match self.table {
            "consents" => ledger.add_consent_rows(resolved.consents.take().ok_or_else(|| {
                CoreError::Internal("a consents batch was resolved without its consent rows".into())
            })?),
            "communications" => ledger.add_communications(batch, members, self.as_of_micros)?,
            _ => return Ok(Vec::new()),
        }
        let unknown: RejectedRows = (0..batch.num_rows())
            .filter(|&i| members.get(i).is_none_or(Option::is_none))
            .map(|i| (i as u32, "member_id", RejectReason::UnknownPerson))
            .collect();
        quarantine_rows(batch, self.table, numbers, &unknown)
    }
}

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
    let mut clock = SteppedClock::start(progress, "audiences", PHASES);
    let ctx = SessionContext::new();
    // The tables the SQL reads are loaded only when the SQL runs here; given selections were made elsewhere.
    let run_sql = matches!(selection, AudienceSelection::Sql);
    // Which columns of which tables each audience's SQL reads (None: not known, so every table it may read is
    // read whole, and all the SQL runs once every table is loaded).
    let plans = match run_sql {
        true => planned_sql(audiences).await,
        false => None,
    };
    let audience_reads = match run_sql {
        true => plans.as_deref().and_then(columns_read),
        false => Some(vec![ColumnsRead::new(); audiences.len()]),
    };
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
