//! Thin wrappers over the identity stage.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::errors::run_detached;
use super::progress::PyProgress;
use super::stages::parse_as_of;
use crate::error::CoreError;
use crate::identity::model::MatchModel;
use crate::identity::resolve::IdentityConfig;
use crate::lake::{block_on, Location};
use crate::pipeline::identity_stage::{
    count_identity_pairs, evaluate_identity as run_evaluate, load_model, run_identity, IdentityReport,
    IdentityRun,
};
use crate::pipeline::ingest::{InputOverride, InputSet};

/// Resolve person records into members; writes identity_xref, identity_links, identity_changes and the model.
#[pyfunction]
#[pyo3(signature = (records, out, previous=None, model=None, settings=None, as_of=None, progress=None, columns=None))]
#[allow(clippy::too_many_arguments)]
pub fn identity<'py>(
    py: Python<'py>,
    records: String,
    out: String,
    previous: Option<String>,
    model: Option<String>,
    settings: Option<String>,
    as_of: Option<String>,
    progress: Option<Py<PyAny>>,
    columns: Option<std::collections::HashMap<String, String>>,
) -> PyResult<Bound<'py, PyDict>> {
    let as_of = parse_as_of(as_of.as_deref())?;
    let _huge_pages = crate::allocator::HugePages::allow();
    let r = PyProgress::run(py, progress, |p| {
        let config = identity_config(settings.as_deref())?;
        let location = Location::parse(&records)?;
        let mut inputs = InputSet::lake(location);
        inputs.overrides.insert(
            "person_records".into(),
            InputOverride {
                uri: Some(records.clone()),
                columns: columns.unwrap_or_default(),
            },
        );
        let output = Location::parse(&out)?;
        let run = async {
            let places = RunPlaces::open(&out, previous.as_deref(), model.as_deref()).await?;
            run_identity(&inputs, places.run(&config, as_of), p).await
        };
        block_on(crate::pipeline::run_log::logging_failure(
            &output, "identity", as_of, run,
        ))
    })?;
    report_dict(py, &r)
}

/// Where an identity run writes, the xref it keeps ids stable against, and the model it reuses, from the
/// bindings' arguments.
pub(super) struct RunPlaces {
    output: Location,
    previous: Option<Location>,
    model: Option<MatchModel>,
}

impl RunPlaces {
    /// Parse the locations and load the model when a path is given.
    pub(super) async fn open(
        out: &str,
        previous: Option<&str>,
        model: Option<&str>,
    ) -> Result<Self, CoreError> {
        let model = match model {
            Some(uri) => Some(load_model(&Location::parse(uri)?).await?),
            None => None,
        };
        Ok(RunPlaces {
            output: Location::parse(out)?,
            previous: previous.map(Location::parse).transpose()?,
            model,
        })
    }

    /// The run over these places with `config` on `as_of`.
    pub(super) fn run<'a>(&'a self, config: &'a IdentityConfig, as_of: chrono::NaiveDate) -> IdentityRun<'a> {
        IdentityRun {
            output: &self.output,
            previous: self.previous.as_ref(),
            config,
            model: self.model.as_ref(),
            as_of,
        }
    }
}

/// Identity settings from their JSON text (the config file's `identity:` section), defaults when absent.
pub(super) fn identity_config(settings: Option<&str>) -> Result<IdentityConfig, CoreError> {
    match settings {
        Some(json) => {
            serde_json::from_str(json).map_err(|e| CoreError::Config(format!("identity settings: {e}")))
        }
        None => Ok(IdentityConfig::default()),
    }
}

/// The identity report as the dict `identity()` returns.
pub(super) fn report_dict<'py>(py: Python<'py>, r: &IdentityReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("run_id", &r.run_id)?;
    d.set_item("records", r.records)?;
    d.set_item("quarantined", r.quarantined)?;
    d.set_item("members", r.members)?;
    d.set_item("candidate_pairs", r.candidate_pairs)?;
    d.set_item("links", r.links)?;
    d.set_item("changes", r.changes.clone())?;
    d.set_item("refused_links", r.refused_links.clone())?;
    d.set_item("output", &r.output)?;
    d.set_item("phase_seconds", r.phase_seconds.to_vec())?;
    let rules = PyList::empty(py);
    for rule in &r.blocking {
        let x = PyDict::new(py);
        x.set_item("rule", &rule.rule)?;
        x.set_item("pairs", rule.pairs)?;
        x.set_item("new_pairs", rule.new_pairs)?;
        x.set_item("oversized_blocks", rule.oversized_blocks)?;
        x.set_item("records_in_oversized_blocks", rule.records_in_oversized_blocks)?;
        x.set_item("largest_block", rule.largest_block)?;
        rules.append(x)?;
    }
    d.set_item("blocking", rules)?;
    Ok(d)
}

/// Pairwise and cluster precision, recall and F1 of identity outputs against a truth table.
#[pyfunction]
pub fn evaluate_identity<'py>(py: Python<'py>, out: String, truth: String) -> PyResult<Bound<'py, PyDict>> {
    let e = run_detached(py, || {
        block_on(run_evaluate(&Location::parse(&out)?, &Location::parse(&truth)?))
    })?;
    let d = PyDict::new(py);
    for (name, s) in [("pairwise", e.pairwise), ("cluster", e.cluster)] {
        let x = PyDict::new(py);
        x.set_item("precision", s.precision)?;
        x.set_item("recall", s.recall)?;
        x.set_item("f1", s.f1)?;
        x.set_item("true_positives", s.true_positives)?;
        x.set_item("false_positives", s.false_positives)?;
        x.set_item("false_negatives", s.false_negatives)?;
        d.set_item(name, x)?;
    }
    Ok(d)
}

/// The candidate pairs each blocking rule would generate, counted without comparing or writing anything.
#[pyfunction]
#[pyo3(signature = (records, settings=None, columns=None))]
pub fn count_pairs<'py>(
    py: Python<'py>,
    records: String,
    settings: Option<String>,
    columns: Option<std::collections::HashMap<String, String>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (usable, quarantined, reports) = run_detached(py, || {
        let config = identity_config(settings.as_deref())?;
        let mut inputs = InputSet::lake(Location::parse(&records)?);
        inputs.overrides.insert(
            "person_records".into(),
            InputOverride {
                uri: Some(records.clone()),
                columns: columns.unwrap_or_default(),
            },
        );
        block_on(count_identity_pairs(&inputs, &config))
    })?;
    let d = PyDict::new(py);
    d.set_item("records", usable)?;
    d.set_item("quarantined", quarantined)?;
    let rules = PyList::empty(py);
    for rule in &reports {
        let x = PyDict::new(py);
        x.set_item("rule", &rule.rule)?;
        x.set_item("pairs", rule.pairs)?;
        x.set_item("oversized_blocks", rule.oversized_blocks)?;
        x.set_item("records_in_oversized_blocks", rule.records_in_oversized_blocks)?;
        x.set_item("largest_block", rule.largest_block)?;
        rules.append(x)?;
    }
    d.set_item("rules", rules)?;
    Ok(d)
}
