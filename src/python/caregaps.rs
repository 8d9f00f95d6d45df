//! Thin wrappers over the care-gap stage and its evaluation against ground truth.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::errors::run_detached;
use super::progress::PyProgress;
use super::stages::{input_set, parse_as_of, SourceOverrides};
use crate::caregaps::{MeasureSet, ValueSetDirectory};
use crate::error::CoreError;
use crate::lake::{block_on, Location};
use crate::pipeline::caregaps_eval::evaluate_caregaps as run_evaluate;
use crate::pipeline::caregaps_stage::{run_caregaps, CareGapsReport, EventSource};

/// Evaluate the measures for every member; writes care_gaps, measure_rates, quarantine and a runs row.
#[pyfunction]
#[pyo3(signature = (lake, out, value_sets, year=None, identity=None, measures_dir=None, measures=None, as_of=None, progress=None, sources=None))]
#[allow(clippy::too_many_arguments)]
pub fn caregaps<'py>(
    py: Python<'py>,
    lake: String,
    out: String,
    value_sets: Vec<String>,
    year: Option<i32>,
    identity: Option<String>,
    measures_dir: Option<PathBuf>,
    measures: Option<Vec<String>>,
    as_of: Option<String>,
    progress: Option<Py<PyAny>>,
    sources: Option<SourceOverrides>,
) -> PyResult<Bound<'py, PyDict>> {
    let args = CareGapsArgs {
        lake,
        out,
        value_sets,
        year,
        identity,
        measures_dir,
        measures,
        as_of,
        sources,
    };
    run_stage(py, args, progress, || Ok(EventSource::Lake))
}

/// The arguments every care-gap entry point takes.
pub(super) struct CareGapsArgs {
    pub lake: String,
    pub out: String,
    pub value_sets: Vec<String>,
    pub year: Option<i32>,
    pub identity: Option<String>,
    pub measures_dir: Option<PathBuf>,
    pub measures: Option<Vec<String>>,
    pub as_of: Option<String>,
    /// Per input table: an explicit location and a column mapping (as the pipeline file's `sources:`).
    pub sources: Option<SourceOverrides>,
}

/// Run the care-gap stage with events from `events` (called on the I/O side, without the GIL).
pub(super) fn run_stage<'py>(
    py: Python<'py>,
    args: CareGapsArgs,
    progress: Option<Py<PyAny>>,
    events: impl FnOnce() -> Result<EventSource, CoreError> + Send,
) -> PyResult<Bound<'py, PyDict>> {
    let as_of = parse_as_of(args.as_of.as_deref())?;
    let _kept = crate::allocator::PurgeDelay::hold(crate::allocator::CARE_GAPS_PURGE_DELAY_MS);
    let r = PyProgress::run(py, progress, move |p| {
        let (directory, set) = load_measures(&args.value_sets, args.measures_dir.as_deref(), args.measures)?;
        let inputs = input_set(&args.lake, args.sources)?;
        let output = Location::parse(&args.out)?;
        let identity = args.identity.as_deref().map(Location::parse).transpose()?;
        let events = events()?;
        let run = run_caregaps(
            &inputs,
            events,
            identity.as_ref(),
            &output,
            &directory,
            &set,
            args.year,
            as_of,
            p,
        );
        block_on(crate::pipeline::run_log::logging_failure(
            &output, "caregaps", as_of, run,
        ))
    })?;
    report_dict(py, &r)
}

/// The value-set directory and the compiled measures.
pub(super) fn load_measures(
    value_sets: &[String],
    measures_dir: Option<&std::path::Path>,
    measures: Option<Vec<String>>,
) -> Result<(ValueSetDirectory, MeasureSet), CoreError> {
    let directory = ValueSetDirectory::load(value_sets)?;
    let set = MeasureSet::load(&directory, measures_dir, &measures.unwrap_or_default())?;
    Ok((directory, set))
}

/// The care-gap report as the dict `caregaps()` returns.
pub(super) fn report_dict<'py>(py: Python<'py>, r: &CareGapsReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("run_id", &r.run_id)?;
    d.set_item("year", r.year)?;
    d.set_item("members_from", &r.members_from)?;
    d.set_item("members", r.members)?;
    d.set_item("events_read", r.load.events_read)?;
    d.set_item("events_matched", r.load.events_matched)?;
    d.set_item("enrollment_read", r.load.enrollment_read)?;
    d.set_item("members_without_birth_date", r.engine.members_without_birth_date)?;
    d.set_item("members_without_sex", r.engine.members_without_sex)?;
    d.set_item("rows", r.rows)?;
    d.set_item("quarantined", r.quarantined.clone())?;
    d.set_item("output", &r.output)?;
    d.set_item("phase_seconds", r.phase_seconds.to_vec())?;
    let rates = PyList::empty(py);
    for s in &r.rates {
        let x = PyDict::new(py);
        x.set_item("measure", &s.measure)?;
        x.set_item("rate", &s.rate)?;
        x.set_item("eligible", s.eligible)?;
        x.set_item("not_applicable", s.not_applicable)?;
        x.set_item("excluded", s.excluded)?;
        x.set_item("closed", s.closed)?;
        x.set_item("open", s.open)?;
        x.set_item("rate_value", s.rate_value)?;
        x.set_item("higher_is_better", s.higher_is_better)?;
        rates.append(x)?;
    }
    d.set_item("rates", rates)?;
    let files = PyList::empty(py);
    for f in &r.value_set_files {
        let x = PyDict::new(py);
        x.set_item("origin", &f.origin)?;
        x.set_item("sha256", &f.sha256)?;
        x.set_item("rows", f.rows)?;
        x.set_item("versions", f.versions.iter().cloned().collect::<Vec<_>>())?;
        files.append(x)?;
    }
    d.set_item("value_set_files", files)?;
    Ok(d)
}

/// Agreement of care_gaps in `out` with the synthetic truth in `lake`, by `MEASURE.rate`.
#[pyfunction]
#[pyo3(signature = (out, lake, identity=None))]
pub fn evaluate_caregaps<'py>(
    py: Python<'py>,
    out: String,
    lake: String,
    identity: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let e = run_detached(py, || {
        let identity = identity.as_deref().map(Location::parse).transpose()?;
        block_on(run_evaluate(
            &Location::parse(&out)?,
            &Location::parse(&lake)?,
            identity.as_ref(),
        ))
    })?;
    let d = PyDict::new(py);
    for (key, a) in &e {
        let x = PyDict::new(py);
        x.set_item("compared", a.compared)?;
        x.set_item("agreed", a.agreed)?;
        x.set_item("accuracy", a.accuracy())?;
        x.set_item("not_applicable", a.not_applicable)?;
        x.set_item("missing", a.missing)?;
        x.set_item("unplanted", a.unplanted)?;
        d.set_item(key, x)?;
    }
    Ok(d)
}

/// The shipped sample value sets (public codes only) as csv text, in the VSD's layout.
#[pyfunction]
pub fn sample_value_sets() -> &'static str {
    crate::caregaps::value_sets::SAMPLE_VALUE_SETS
}

/// The built-in measure definition files: {file name: YAML text}.
#[pyfunction]
pub fn measure_definitions() -> std::collections::BTreeMap<&'static str, &'static str> {
    crate::caregaps::definition::BUILT_IN.iter().copied().collect()
}
