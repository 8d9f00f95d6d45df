//! Finding a table and its format: Delta, Parquet (file or folder) or CSV.
//!
//! A lake is a folder (or prefix) holding one table per canonical name: `<lake>/<table>` as a Delta table or a
//! Parquet folder, or `<lake>/<table>.parquet` / `<lake>/<table>.csv`.

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};

use super::location::Location;
use crate::error::{CoreError, CoreResult};

/// The storage format of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// A Delta Lake table (a folder with `_delta_log/`).
    Delta,
    /// One Parquet file or a folder of them.
    Parquet,
    /// One CSV file with a header row.
    Csv,
}

impl TableFormat {
    /// Lower-case name for logs and the run log.
    pub fn name(self) -> &'static str {
        match self {
            TableFormat::Delta => "delta",
            TableFormat::Parquet => "parquet",
            TableFormat::Csv => "csv",
        }
    }
}

/// A located table: where it is and in which format.
#[derive(Debug, Clone)]
pub struct TableSource {
    /// Table name (canonical name when found in a lake).
    pub name: String,
    /// Where the table is.
    pub location: Location,
    /// Its format.
    pub format: TableFormat,
}

/// Find `table` in a lake, trying `<lake>/<table>` (Delta or Parquet folder), then `.parquet`, then `.csv`.
pub async fn find_in_lake(lake: &Location, table: &str) -> CoreResult<TableSource> {
    let candidates = [
        lake.join(table),
        lake.join(&format!("{table}.parquet")),
        lake.join(&format!("{table}.csv")),
    ];
    for location in candidates {
        if let Some(format) = probe(&location).await? {
            return Ok(TableSource {
                name: table.to_string(),
                location,
                format,
            });
        }
    }
    Err(CoreError::Input(format!(
        "table '{table}' not found in lake {lake}: expected {table}/ (Delta or Parquet), {table}.parquet or {table}.csv"
    )))
}

/// Detect the format of a table given by its own URI.
pub async fn detect(location: &Location, name: &str) -> CoreResult<TableSource> {
    match probe(location).await? {
        Some(format) => Ok(TableSource {
            name: name.to_string(),
            location: location.clone(),
            format,
        }),
        None => Err(CoreError::Input(format!(
            "no Delta table, Parquet or CSV data at {location}"
        ))),
    }
}

/// Does a table exist at `location`, and in which format?
async fn probe(location: &Location) -> CoreResult<Option<TableFormat>> {
    let (store, path) = location.object_store()?;
    let lower = location.url().path().to_ascii_lowercase();
    // A single file is identified by its extension.
    if lower.ends_with(".csv") || lower.ends_with(".parquet") {
        match store.head(&path).await {
            Ok(_) => {
                return Ok(Some(if lower.ends_with(".csv") {
                    TableFormat::Csv
                } else {
                    TableFormat::Parquet
                }))
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(CoreError::storage(format!("probing {location}"), e)),
        }
    }
    // A folder: a Delta log makes it Delta, otherwise Parquet files make it a Parquet dataset.
    let log = path.clone().join("_delta_log");
    let mut log_listing = store.list(Some(&log));
    if log_listing
        .try_next()
        .await
        .map_err(|e| CoreError::storage(format!("listing {location}"), e))?
        .is_some()
    {
        return Ok(Some(TableFormat::Delta));
    }
    let mut listing = store.list(Some(&path));
    while let Some(meta) = listing
        .try_next()
        .await
        .map_err(|e| CoreError::storage(format!("listing {location}"), e))?
    {
        if meta.location.as_ref().ends_with(".parquet") {
            return Ok(Some(TableFormat::Parquet));
        }
    }
    Ok(None)
}
