//! Thin wrappers over the stages: generate, ingest, validate.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use chrono::NaiveDate;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3_arrow::PyRecordBatchReader;

use super::errors::{run_detached, ConfigError};
use super::progress::PyProgress;
use crate::audience::definition::{Audience, Destination};
use crate::audience::rules::OutreachRules;
use crate::error::CoreError;
use crate::lake::{block_on, Location};
use crate::model::CANONICAL_INPUTS;
use crate::pipeline::audience_stage::AudienceSelection;
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::ingest::{ingest as run_ingest, open_input, InputOverride, InputSet};
use crate::pipeline::run_log::logging_failure;
use crate::synth::{generate as run_generate, GenerateOptions};

/// The as-of date argument: an ISO date, or today.
pub fn parse_as_of(as_of: Option<&str>) -> PyResult<NaiveDate> {
    match as_of {
        None => Ok(chrono::Local::now().date_naive()),
        Some(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| ConfigError::new_err(format!("as_of must be an ISO date (YYYY-MM-DD), got '{s}'"))),
    }
}

/// Generate a synthetic lake (every canonical input table, plus ground truth) under `out`.
#[pyfunction]
#[pyo3(signature = (out, members, seed=42, as_of=None, progress=None, visit_scale=1))]
pub fn generate<'py>(
    py: Python<'py>,
    out: String,
    members: u64,
    seed: u64,
    as_of: Option<String>,
    progress: Option<Py<PyAny>>,
    visit_scale: u32,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = GenerateOptions {
        members,
        seed,
        as_of: parse_as_of(as_of.as_deref())?,
        visit_scale,
    };
    let summary = PyProgress::run(py, progress, |p| {
        let location = Location::parse(&out)?;
        run_generate(&location, &opts, p)
    })?;
    let d = PyDict::new(py);
    let tables = PyList::empty(py);
    for (name, location, rows) in &summary.tables {
        let t = PyDict::new(py);
        t.set_item("table", name)?;
        t.set_item("location", location)?;
        t.set_item("rows", rows)?;
        tables.append(t)?;
    }
    d.set_item("tables", tables)?;
    d.set_item("seconds", summary.seconds)?;
    d.set_item("already_present", summary.already_present)?;
    d.set_item("as_of", opts.as_of.to_string())?;
    Ok(d)
}

/// Per-table source overrides as Python passes them: `{table: (uri or None, {canonical: source column})}`.
pub(super) type SourceOverrides = HashMap<String, (Option<String>, HashMap<String, String>)>;

/// The lake's inputs, with each table's explicit location and column mapping where given.
pub(super) fn input_set(lake: &str, sources: Option<SourceOverrides>) -> Result<InputSet, CoreError> {
    let mut set = InputSet::lake(Location::parse(lake)?);
    for (table, (uri, columns)) in sources.unwrap_or_default() {
        set.overrides.insert(table, InputOverride { uri, columns });
    }
    Ok(set)
}

/// Read every canonical input of a lake, check schemas, quarantine bad rows, and record the run.
///
/// `sources` maps a table name to `(uri or None, {canonical column: source column})`.
#[pyfunction]
#[pyo3(signature = (lake, output, as_of=None, sources=None, progress=None))]
pub fn ingest<'py>(
    py: Python<'py>,
    lake: String,
    output: String,
    as_of: Option<String>,
    sources: Option<SourceOverrides>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let as_of = parse_as_of(as_of.as_deref())?;
    let report = PyProgress::run(py, progress, |p| {
        let inputs = input_set(&lake, sources)?;
        let output = Location::parse(&output)?;
        block_on(logging_failure(
            &output,
            "ingest",
            as_of,
            run_ingest(&inputs, &output, as_of, p),
        ))
    })?;
    let d = PyDict::new(py);
    d.set_item("run_id", &report.run_id)?;
    d.set_item("quarantine_location", &report.quarantine_location)?;
    d.set_item("runs_location", &report.runs_location)?;
    d.set_item("already_recorded", report.already_recorded)?;
    let tables = PyList::empty(py);
    for check in &report.tables {
        let t = PyDict::new(py);
        t.set_item("table", &check.table)?;
        t.set_item("location", &check.location)?;
        t.set_item("rows_read", check.rows_read)?;
        t.set_item("rows_ok", check.rows_ok)?;
        t.set_item(
            "quarantined",
            check.quarantined.clone().into_iter().collect::<BTreeMap<_, _>>(),
        )?;
        tables.append(t)?;
    }
    d.set_item("tables", tables)?;
    Ok(d)
}

/// The JSON Schema of the pipeline file, as JSON text (the same as the published docs/pipeline.schema.json).
#[pyfunction]
pub fn pipeline_schema() -> PyResult<String> {
    crate::pipeline::config_schema::pipeline_schema_text().map_err(super::errors::to_py_err)
}

/// Check a pipeline configuration file; with `check_sources`, also open every input and check its schema; with
/// `check_sql`, plan each audience's SQL on the native engine's SQL engine (no rows read).
#[pyfunction]
#[pyo3(signature = (path, check_sources=true, check_sql=true))]
pub fn validate_config<'py>(
    py: Python<'py>,
    path: PathBuf,
    check_sources: bool,
    check_sql: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let checked = run_detached(py, || {
        let config = PipelineConfig::from_file(&path)?;
        let mut tables = Vec::new();
        // The inputs as the run reads them: their schemas here, the tables the audience SQL reads below.
        let inputs = match check_sources {
            true => Some(config.input_set(config.lake()?)),
            false => None,
        };
        if let Some(inputs) = &inputs {
            for table in CANONICAL_INPUTS {
                let found = block_on(open_input(inputs, table))?;
                tables.push((table.to_string(), found.map(|s| s.describe().to_string())));
            }
        }
        if let Some(gaps) = &config.caregaps {
            // The value sets and measure definitions must load and compile, as the run would.
            let directory = crate::caregaps::ValueSetDirectory::load(&gaps.value_sets)?;
            crate::caregaps::MeasureSet::load(
                &directory,
                gaps.measures_dir.as_deref().map(std::path::Path::new),
                &gaps.measures,
            )?;
        }
        // What the audiences and outreach rules come to, checked as a run would check them; each audience's
        // SQL planned over the tables it can read (no rows read), where the native engine runs it.
        let (audiences, destinations) = config.audiences()?;
        let rules = config.outreach_rules()?;
        if check_sql {
            let origin = path.display().to_string();
            let plans = block_on(crate::pipeline::audience_stage::plan_sql(&audiences, &origin))?;
            if let Some(inputs) = &inputs {
                // The tables the SQL reads must be in the lake, and in the output unless the run makes them.
                let output = config.output()?;
                let made = config.caregaps.is_some();
                block_on(crate::pipeline::audience_stage::check_sql_tables(
                    inputs,
                    (!made).then_some(&output),
                    &audiences,
                    &plans,
                ))?;
            }
        }
        Ok((config, tables, audiences, destinations, rules))
    })?;
    let (config, tables, audiences, destinations, rules) = checked;
    let d = PyDict::new(py);
    d.set_item("lake", &config.lake)?;
    d.set_item("output", &config.output)?;
    d.set_item("as_of", config.as_of.map(|d| d.to_string()))?;
    let t = PyDict::new(py);
    for (table, found) in tables {
        t.set_item(table, found)?;
    }
    d.set_item("inputs", t)?;
    let (mappings, sources) = (PyDict::new(py), PyDict::new(py));
    for table in CANONICAL_INPUTS {
        mappings.set_item(table, config.mapping(table))?;
        sources.set_item(table, (config.source_uri(table), config.mapping(table)))?;
    }
    d.set_item("columns", mappings)?;
    // The same, as the stages take it (`sources=`): every stage of a run reads each table where the file says.
    d.set_item("sources", sources)?;
    match &config.caregaps {
        Some(g) => {
            let x = PyDict::new(py);
            x.set_item("value_sets", g.value_sets.clone())?;
            x.set_item("measures", g.measures.clone())?;
            x.set_item("measures_dir", g.measures_dir.clone())?;
            x.set_item("year", g.year)?;
            d.set_item("caregaps", x)?;
        }
        None => d.set_item("caregaps", py.None())?,
    }
    d.set_item("audiences", audience_plans(py, &audiences, &rules)?)?;
    d.set_item("destinations", destination_plans(py, &destinations)?)?;
    d.set_item("frequency_caps", frequency_caps(py, &rules)?)?;
    Ok(d)
}

/// Each audience as checked: purpose, channels with the least consent basis each needs for the purpose,
/// destinations, exclusions, priority and holdout.
fn audience_plans<'py>(
    py: Python<'py>,
    audiences: &[Audience],
    rules: &OutreachRules,
) -> PyResult<Bound<'py, PyList>> {
    let plans = PyList::empty(py);
    for a in audiences {
        let p = PyDict::new(py);
        p.set_item("name", &a.name)?;
        p.set_item("purpose", a.purpose.name())?;
        let channels = PyList::empty(py);
        for &channel in &a.channels {
            let c = PyDict::new(py);
            c.set_item("channel", channel.name())?;
            c.set_item("consent_basis", rules.basis.required(channel, a.purpose).name())?;
            channels.append(c)?;
        }
        p.set_item("channels", channels)?;
        p.set_item("destinations", &a.destinations)?;
        p.set_item("exclude", &a.exclude)?;
        p.set_item("priority", a.priority)?;
        p.set_item("holdout", a.holdout)?;
        plans.append(p)?;
    }
    Ok(plans)
}

/// Each destination by name: kind, payload fields (minimum necessary), file-drop path and least audience size.
fn destination_plans<'py>(py: Python<'py>, destinations: &[Destination]) -> PyResult<Bound<'py, PyDict>> {
    let plans = PyDict::new(py);
    for d in destinations {
        let p = PyDict::new(py);
        p.set_item("kind", d.kind.name())?;
        p.set_item("fields", &d.fields)?;
        p.set_item("path", &d.path)?;
        p.set_item("min_members", d.min_members)?;
        plans.set_item(&d.name, p)?;
    }
    Ok(plans)
}

/// The frequency caps policy applies, the defaults first.
fn frequency_caps<'py>(py: Python<'py>, rules: &OutreachRules) -> PyResult<Bound<'py, PyList>> {
    let caps = PyList::empty(py);
    for cap in &rules.caps {
        let c = PyDict::new(py);
        c.set_item("rule", &cap.rule)?;
        c.set_item("max", cap.max)?;
        c.set_item("window_hours", cap.window.num_hours())?;
        c.set_item(
            "channels",
            cap.channels.iter().map(|ch| ch.name()).collect::<Vec<_>>(),
        )?;
        c.set_item("same_subject", cap.same_subject)?;
        c.set_item("states", &cap.states)?;
        caps.append(c)?;
    }
    Ok(caps)
}

/// The audiences of a pipeline file as `(name, sql)`, in order (the Spark engine runs the SQL as Spark SQL).
#[pyfunction]
pub fn audience_queries(config: PathBuf) -> PyResult<Vec<(String, String)>> {
    let cfg = PipelineConfig::from_file(&config).map_err(super::errors::to_py_err)?;
    let (audiences, _) = cfg.audiences().map_err(super::errors::to_py_err)?;
    Ok(audiences.into_iter().map(|a| (a.name, a.sql)).collect())
}

/// Run the audiences of a pipeline file: SQL, policy, change sets per destination (or only count, with dry_run).
/// With `selected` (one Arrow stream per audience, in order), those rows stand for the audiences' SQL results.
#[pyfunction]
#[pyo3(signature = (config, lake=None, out=None, as_of=None, dry_run=false, progress=None, selected=None))]
#[allow(clippy::too_many_arguments)]
pub fn audiences<'py>(
    py: Python<'py>,
    config: PathBuf,
    lake: Option<String>,
    out: Option<String>,
    as_of: Option<String>,
    dry_run: bool,
    progress: Option<Py<PyAny>>,
    selected: Option<Vec<PyRecordBatchReader>>,
) -> PyResult<Bound<'py, PyDict>> {
    let selected = selected
        .map(|streams| {
            streams
                .into_iter()
                .map(|s| s.into_reader())
                .collect::<PyResult<Vec<_>>>()
        })
        .transpose()?;
    let _kept = crate::allocator::PurgeDelay::hold(crate::allocator::AUDIENCES_PURGE_DELAY_MS);
    let r = PyProgress::run(py, progress, move |p| {
        let selection = match selected {
            Some(readers) => AudienceSelection::Given(
                readers
                    .into_iter()
                    .map(|r| r.collect::<Result<Vec<_>, _>>())
                    .collect::<Result<_, _>>()?,
            ),
            None => AudienceSelection::Sql,
        };
        let cfg = PipelineConfig::from_file(&config)?;
        let (audiences, destinations) = cfg.audiences()?;
        let rules = cfg.outreach_rules()?;
        if audiences.is_empty() {
            return Err(CoreError::Config(format!(
                "{}: no audiences configured",
                config.display()
            )));
        }
        let as_of = match as_of.as_deref() {
            Some(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| CoreError::Config(format!("as_of must be an ISO date, got '{s}'")))?,
            None => cfg.as_of.unwrap_or_else(|| chrono::Local::now().date_naive()),
        };
        let lake = Location::parse(lake.as_deref().unwrap_or(&cfg.lake))?;
        let output = Location::parse(out.as_deref().unwrap_or(&cfg.output))?;
        let inputs = cfg.input_set(lake);
        let run = crate::pipeline::audience_stage::run_audiences(
            &inputs,
            &output,
            &audiences,
            &destinations,
            &rules,
            selection,
            as_of,
            dry_run,
            p,
        );
        // A dry run writes nothing, not even its failure.
        match dry_run {
            true => block_on(run),
            false => block_on(logging_failure(&output, "audiences", as_of, run)),
        }
    })?;
    let d = PyDict::new(py);
    d.set_item("run_id", &r.run_id)?;
    d.set_item("dry_run", r.dry_run)?;
    d.set_item("output", &r.output)?;
    let list = PyList::empty(py);
    for a in &r.audiences {
        let x = PyDict::new(py);
        x.set_item("name", &a.name)?;
        x.set_item("selected", a.selected)?;
        x.set_item("without_member_id", a.without_member_id)?;
        x.set_item("members", a.members)?;
        x.set_item("suppressed", a.suppressed.clone())?;
        x.set_item("changes", a.changes.clone())?;
        x.set_item("below_minimum", a.below_minimum.clone())?;
        list.append(x)?;
    }
    d.set_item("audiences", list)?;
    d.set_item("sample", r.sample.clone())?;
    d.set_item("quarantined", r.quarantined.clone())?;
    d.set_item("phase_seconds", r.phase_seconds.to_vec())?;
    Ok(d)
}
