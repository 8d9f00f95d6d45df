//! Thin wrappers over the kernels the Spark engine calls inside `mapInArrow` on its executors (identity's
//! normalize, blocking keys and comparisons, clustering of link components; care gaps' event filter), and over
//! the driver's steps.

use std::collections::HashMap;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::{PyArray, PyRecordBatch, PyRecordBatchReader};

use super::caregaps::{load_measures, run_stage, CareGapsArgs};
use super::errors::run_detached;
use super::identity::{identity_config, report_dict, RunPlaces};
use super::progress::PyProgress;
use super::stages::parse_as_of;
use super::stages::SourceOverrides;
use crate::caregaps::event_filter::EventFilter;
use crate::error::CoreError;
use crate::identity::blocking::RuleReport;
use crate::identity::model::MatchModel;
use crate::identity::{distributed, distributed_cluster};
use crate::lake::{block_on, ConformPlan};
use crate::pipeline::caregaps_stage::EventSource;
use crate::pipeline::identity_stage::{load_model, run_identity_from_pairs};

/// Conform and normalize one batch of raw person_records: the prepared columns plus `record_key`.
#[pyfunction]
#[pyo3(signature = (batch, columns=None))]
pub fn identity_prepare_batch(
    py: Python<'_>,
    batch: PyRecordBatch,
    columns: Option<HashMap<String, String>>,
) -> PyResult<Bound<'_, PyAny>> {
    let batch = batch.into_inner();
    let out = run_detached(py, move || {
        let plan = ConformPlan::new(
            &crate::model::person_records(),
            &batch.schema(),
            &columns.unwrap_or_default(),
        )?;
        distributed::prepare_records(&plan, &batch)
    })?;
    PyRecordBatch::new(out).into_pyarrow(py)
}

/// The prepared columns the identity kernels exchange, as `(name, Spark SQL type)`, in order.
#[pyfunction]
pub fn identity_prepared_columns() -> Vec<(String, &'static str)> {
    crate::identity::prepare::prepared_schema("")
        .fields()
        .iter()
        .map(|f| {
            let kind = match f.data_type() {
                arrow::datatypes::DataType::Int32 => "int",
                arrow::datatypes::DataType::Int64 => "bigint",
                _ => "string",
            };
            (f.name().clone(), kind)
        })
        .collect()
}

/// Blocking keys `(rule, block_key, record_key)` of one batch of prepared records.
#[pyfunction]
#[pyo3(signature = (batch, settings=None))]
pub fn identity_blocking_keys(
    py: Python<'_>,
    batch: PyRecordBatch,
    settings: Option<String>,
) -> PyResult<Bound<'_, PyAny>> {
    let batch = batch.into_inner();
    let out = run_detached(py, move || {
        let config = identity_config(settings.as_deref())?;
        distributed::blocking_keys(&batch, &config.blocking)
    })?;
    PyRecordBatch::new(out).into_pyarrow(py)
}

/// The blocking rules as `(name, block-size cap)`, in priority order.
#[pyfunction]
#[pyo3(signature = (settings=None))]
pub fn identity_blocking_rules(settings: Option<String>) -> PyResult<Vec<(String, usize)>> {
    let config = identity_config(settings.as_deref()).map_err(super::errors::to_py_err)?;
    let global = config.blocking.max_block_size;
    Ok(config
        .blocking
        .rules
        .iter()
        .map(|r| (r.name.clone(), r.max_block_size.map_or(global, |c| c.min(global))))
        .collect())
}

/// Compare one batch of candidate pairs (both sides' prepared columns, prefixed `l_` and `r_`); with a model
/// (its JSON text), score them too and return only those at or above the settings' keep threshold.
#[pyfunction]
#[pyo3(signature = (batch, model=None, settings=None))]
pub fn identity_compare_batch(
    py: Python<'_>,
    batch: PyRecordBatch,
    model: Option<String>,
    settings: Option<String>,
) -> PyResult<Bound<'_, PyAny>> {
    let batch = batch.into_inner();
    let out = run_detached(py, move || {
        let scoring = match model {
            Some(text) => Some(distributed::ExecutorScoring {
                model: MatchModel::from_json(&text)?,
                keep: identity_config(settings.as_deref())?
                    .keep_links_above
                    .unwrap_or(crate::identity::resolve::DEFAULT_KEEP_LINKS_ABOVE),
            }),
            None => None,
        };
        distributed::compare_batch(&batch, scoring.as_ref())
    })?;
    PyRecordBatch::new(out).into_pyarrow(py)
}

/// The clustering settings the Spark engine decides by: `(threshold, driver_max_links)`.
#[pyfunction]
#[pyo3(signature = (settings=None))]
pub fn identity_clustering(settings: Option<String>) -> PyResult<(f64, u64)> {
    let config = identity_config(settings.as_deref()).map_err(super::errors::to_py_err)?;
    Ok((config.clustering.threshold, config.clustering.driver_max_links))
}

/// Cluster whole connected components of links (one `applyInArrow` group: a bucket of components) with the
/// guards: the rows naming each record's cluster and the links each guard refused.
#[pyfunction]
#[pyo3(signature = (links, settings=None))]
pub fn identity_cluster_components(
    py: Python<'_>,
    links: PyRecordBatchReader,
    settings: Option<String>,
) -> PyResult<Bound<'_, PyAny>> {
    let links = links.into_reader()?;
    let out = run_detached(py, move || {
        let config = identity_config(settings.as_deref())?;
        let schema = links.schema();
        let batches: Vec<_> = links.collect::<Result<_, _>>()?;
        let links = arrow::compute::concat_batches(&schema, &batches)?;
        distributed_cluster::cluster_components(&links, &config.clustering)
    })?;
    PyRecordBatch::new(out).into_pyarrow(py)
}

/// The JSON text of a saved identity model (local path or object store), checked.
#[pyfunction]
pub fn identity_model_json(py: Python<'_>, uri: String) -> PyResult<String> {
    run_detached(py, move || {
        let model = block_on(load_model(&crate::lake::Location::parse(&uri)?))?;
        Ok(model.to_json())
    })
}

/// Jaro-Winkler similarity of two string arrays, row by row.
#[pyfunction]
pub fn jaro_winkler(py: Python<'_>, left: PyArray, right: PyArray) -> PyResult<Bound<'_, PyAny>> {
    let (left, _) = left.into_inner();
    let (right, _) = right.into_inner();
    let out = run_detached(py, move || {
        let as_text = |a: &arrow::array::ArrayRef| {
            arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8)
                .map_err(CoreError::from)
                .map(|a| arrow::array::AsArray::as_string::<i32>(&a).clone())
        };
        distributed::jaro_winkler_batch(&as_text(&left)?, &as_text(&right)?)
    })?;
    let field = arrow::datatypes::Field::new("jaro_winkler", arrow::datatypes::DataType::Float64, true);
    let array = PyArray::new(std::sync::Arc::new(out), field.into());
    let pyarrow: Py<PyAny> = array.to_pyarrow(py)?.unbind();
    Ok(pyarrow.into_bound(py))
}

/// The driver's step of the Spark engine: conform the person records, map the compared pairs onto them, then
/// train, score, cluster and write the outputs exactly as the native engine does.
#[pyfunction]
#[pyo3(signature = (records, compared, blocking, out, source, previous=None, model=None, settings=None, as_of=None, progress=None, columns=None, scored=None, cluster_labels=None))]
#[allow(clippy::too_many_arguments)]
pub fn identity_from_pairs<'py>(
    py: Python<'py>,
    records: PyRecordBatchReader,
    compared: PyRecordBatchReader,
    blocking: String,
    out: String,
    source: String,
    previous: Option<String>,
    model: Option<String>,
    settings: Option<String>,
    as_of: Option<String>,
    progress: Option<Py<PyAny>>,
    columns: Option<HashMap<String, String>>,
    scored: Option<u64>,
    cluster_labels: Option<PyRecordBatchReader>,
) -> PyResult<Bound<'py, PyDict>> {
    let as_of = parse_as_of(as_of.as_deref())?;
    let records = records.into_reader()?;
    let compared = compared.into_reader()?;
    let cluster_labels = cluster_labels.map(|l| l.into_reader()).transpose()?;
    let r = PyProgress::run(py, progress, move |p| {
        let config = identity_config(settings.as_deref())?;
        let blocking: Vec<RuleReport> = serde_json::from_str(&blocking)
            .map_err(|e| CoreError::Config(format!("blocking report: {e}")))?;
        let raw: Vec<_> = records.collect::<Result<_, _>>()?;
        let compared: Vec<_> = compared.collect::<Result<_, _>>()?;
        let cluster_labels: Option<Vec<_>> =
            cluster_labels.map(|l| l.collect::<Result<_, _>>()).transpose()?;
        let described = serde_json::json!({"engine": "spark", "location": source});
        block_on(async {
            let places = RunPlaces::open(&out, previous.as_deref(), model.as_deref()).await?;
            let run = places.run(&config, as_of);
            run_identity_from_pairs(
                &raw,
                &columns.unwrap_or_default(),
                &compared,
                blocking,
                scored,
                cluster_labels.as_deref(),
                described,
                run,
                p,
            )
            .await
        })
    })?;
    report_dict(py, &r)
}

/// Keep the rows of one raw clinical_events batch that carry a measure's value-set code, or a blank or unknown code
/// system or code (quarantined by the driver); see `caregaps::event_filter`.
#[pyfunction]
#[pyo3(signature = (batch, value_sets, measures_dir=None, measures=None, columns=None))]
pub fn caregaps_event_filter(
    py: Python<'_>,
    batch: PyRecordBatch,
    value_sets: Vec<String>,
    measures_dir: Option<PathBuf>,
    measures: Option<Vec<String>>,
    columns: Option<HashMap<String, String>>,
) -> PyResult<Bound<'_, PyAny>> {
    let batch = batch.into_inner();
    let out = run_detached(py, move || {
        let key = serde_json::json!([value_sets, measures_dir, measures]).to_string();
        let filter = EventFilter::cached(&key, || {
            let (directory, set) = load_measures(&value_sets, measures_dir.as_deref(), measures)?;
            Ok(EventFilter::new(&directory, &set))
        })?;
        filter.keep(&batch, &columns.unwrap_or_default())
    })?;
    PyRecordBatch::new(out).into_pyarrow(py)
}

/// The Spark engine's care-gap driver step: the stage over clinical events its executors kept.
#[pyfunction]
#[pyo3(signature = (lake, out, events, events_read, source, value_sets, year=None, identity=None, measures_dir=None, measures=None, as_of=None, progress=None, sources=None))]
#[allow(clippy::too_many_arguments)]
pub fn caregaps_from_events<'py>(
    py: Python<'py>,
    lake: String,
    out: String,
    events: PyRecordBatchReader,
    events_read: u64,
    source: String,
    value_sets: Vec<String>,
    year: Option<i32>,
    identity: Option<String>,
    measures_dir: Option<PathBuf>,
    measures: Option<Vec<String>>,
    as_of: Option<String>,
    progress: Option<Py<PyAny>>,
    sources: Option<SourceOverrides>,
) -> PyResult<Bound<'py, PyDict>> {
    let events = events.into_reader()?;
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
    run_stage(py, args, progress, move || {
        Ok(EventSource::Prefiltered {
            batches: events.collect::<Result<_, _>>()?,
            rows_read: events_read,
            described: serde_json::json!({"engine": "spark", "location": source}),
        })
    })
}
