//! Thin wrappers over the lake layer: read any table, write a Delta table, conform a table to its canonical schema.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::{PyRecordBatchReader, PyTable};

use super::errors::{run_detached, ConfigError};
use crate::error::CoreError;
use crate::lake::{self, block_on, Location, WriteMode};
use crate::model::canonical_input;
use crate::pipeline::ingest::quarantine_batch;

/// Open a table (Delta, Parquet or CSV; local or object store) as a stream of Arrow batches.
#[pyfunction]
#[pyo3(signature = (uri, table=None))]
pub fn read_table(py: Python<'_>, uri: String, table: Option<String>) -> PyResult<PyRecordBatchReader> {
    let reader = run_detached(py, move || {
        block_on(async {
            let location = Location::parse(&uri)?;
            let source = match &table {
                Some(name) => lake::find_in_lake(&location, name).await?,
                None => lake::detect(&location, "table").await?,
            };
            Ok(lake::TableReader::open(&source).await?.into_blocking())
        })
    })?;
    Ok(PyRecordBatchReader::new(Box::new(reader)))
}

/// Write Arrow data to a Delta table (created with comments and change data feed when new).
#[pyfunction]
#[pyo3(signature = (uri, data, mode="overwrite", comment=None, run_key=None))]
pub fn write_delta<'py>(
    py: Python<'py>,
    uri: String,
    data: PyRecordBatchReader,
    mode: &str,
    comment: Option<String>,
    run_key: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let mode = match mode {
        "overwrite" => WriteMode::Overwrite,
        "append" => WriteMode::Append,
        other => {
            return Err(ConfigError::new_err(format!(
                "mode must be 'overwrite' or 'append', got '{other}'"
            )))
        }
    };
    let reader = data.into_reader()?;
    let outcome = run_detached(py, move || {
        let schema = reader.schema();
        let batches: Vec<_> = reader.collect::<Result<_, _>>()?;
        let location = Location::parse(&uri)?;
        block_on(lake::write_batches(
            &location,
            schema,
            comment.as_deref().unwrap_or(""),
            mode,
            run_key.as_deref(),
            batches,
        ))
    })?;
    let d = PyDict::new(py);
    d.set_item("version", outcome.version)?;
    d.set_item("rows", outcome.rows)?;
    d.set_item("files", outcome.files)?;
    d.set_item("already_committed", outcome.already_committed)?;
    Ok(d)
}

/// Conform Arrow data to a canonical input table; returns (conforming rows, quarantined rows).
#[pyfunction]
#[pyo3(signature = (table, data, columns=None))]
pub fn conform(
    py: Python<'_>,
    table: String,
    data: PyRecordBatchReader,
    columns: Option<HashMap<String, String>>,
) -> PyResult<(PyTable, PyTable)> {
    let reader = data.into_reader()?;
    let (rows, bad) = run_detached(py, move || {
        let spec = canonical_input(&table)
            .ok_or_else(|| CoreError::Config(format!("'{table}' is not a canonical input table")))?;
        let plan = lake::ConformPlan::new(&spec, &reader.schema(), &columns.unwrap_or_default())?;
        let (good, quarantined, _) = plan.conform_all(reader)?;
        Ok((good, plan.schema(), quarantine_batch("adhoc", &quarantined)?))
    })
    .map(|(good, schema, bad)| (PyTable::try_new(good, schema), bad))?;
    let bad_schema = bad.schema();
    Ok((rows?, PyTable::try_new(vec![bad], bad_schema)?))
}
