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
            "no Delta table, Parquet or CSV data at {location}{}",
            folders_hint(location, name).await
        ))),
    }
}

/// Why a folder with no data of its own was not taken, when it holds folders: most often a lake given where a
/// table was asked for (its tables are named, the one asked for first). Empty when there is nothing to say.
async fn folders_hint(location: &Location, name: &str) -> String {
    let Ok((store, path)) = location.object_store() else {
        return String::new();
    };
    let Ok(listing) = store.list_with_delimiter(Some(&path)).await else {
        return String::new();
    };
    let mut folders: Vec<String> = listing
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_string))
        .filter(|f| !f.starts_with(['_', '.']) && !f.contains('='))
        .collect();
    if folders.is_empty() {
        return String::new();
    }
    folders.sort_by_key(|f| f != name);
    let shown: Vec<String> = folders.iter().take(3).map(|f| format!("{f}/")).collect();
    let more = if folders.len() > 3 { ", ..." } else { "" };
    format!(
        ": it holds only folders ({}{more}), not a table's files (a Parquet table's are in its folder or its \
         key=value partition folders); give the table's own folder, e.g. {}",
        shown.join(", "),
        location.join(&folders[0])
    )
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
    // The Parquet files the query engine reads as the folder's table: its own and those in `key=value`
    // partition folders. A lake folder (tables in subfolders) is not one Parquet table.
    let mut listing = store.list(Some(&path));
    while let Some(meta) = listing
        .try_next()
        .await
        .map_err(|e| CoreError::storage(format!("listing {location}"), e))?
    {
        if is_table_file(&path, &meta.location) {
            return Ok(Some(TableFormat::Parquet));
        }
    }
    Ok(None)
}

/// A data file of the Parquet folder `root`, as the query engine's listing takes them (its default of ignoring
/// subfolders): `*.parquet` in the folder itself or below it in `key=value` partition folders only.
pub(crate) fn is_table_file(root: &object_store::path::Path, file: &object_store::path::Path) -> bool {
    let Some(parts) = file.prefix_match(root) else {
        return false;
    };
    let parts: Vec<_> = parts.collect();
    match parts.split_last() {
        Some((name, folders)) => {
            name.as_ref().ends_with(".parquet") && folders.iter().all(|f| f.as_ref().contains('='))
        }
        None => false,
    }
}
