//! The one error type of the Rust core.
//!
//! Every kernel returns `Result<_, CoreError>`. Variants are chosen by what the *user* must do about the error
//! (fix a config, fix an input, retry), because that is what the binding layer maps onto the Python exception
//! tree and what the command line maps onto exit codes. Messages name tables, columns, rows and rules; they never
//! carry a value from a patient record.

use thiserror::Error;

/// Result type of the Rust core.
pub type CoreResult<T> = Result<T, CoreError>;

/// What went wrong, grouped by who has to act on it.
#[derive(Debug, Error)]
pub enum CoreError {
    /// An input table does not have the shape of its canonical schema (missing or mistyped column).
    #[error("schema error in table '{table}', column '{column}': {message}")]
    Schema {
        /// Canonical table name, e.g. `person_records`.
        table: String,
        /// Canonical column name (or the source column it was mapped from).
        column: String,
        /// What is wrong, without any value from the data.
        message: String,
    },

    /// The pipeline configuration or a command-line option is invalid.
    #[error("config error: {0}")]
    Config(String),

    /// An input cannot be used as given (not found, unknown format, empty where rows are needed).
    #[error("input error: {0}")]
    Input(String),

    /// A write conflicted with a concurrent writer, or a table is in a state that forbids the operation.
    #[error("conflict: {0}")]
    Conflict(String),

    /// Reading or writing storage failed (local disk or object store).
    #[error("storage error: {context}")]
    Storage {
        /// What we were doing, e.g. "reading Delta table at s3://bucket/lake/person_records".
        context: String,
        /// The underlying cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// An Arrow computation failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    /// A bug or an unexpected state inside carelake.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    /// A schema error for `table.column`.
    pub fn schema(table: &str, column: &str, message: impl Into<String>) -> Self {
        CoreError::Schema {
            table: table.to_string(),
            column: column.to_string(),
            message: message.into(),
        }
    }

    /// A storage error with a description of what was being done.
    pub fn storage(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        CoreError::Storage {
            context: context.into(),
            source: source.into(),
        }
    }

    /// True when the error is the user's to fix (bad input or config): the command line exits with 2.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            CoreError::Schema { .. } | CoreError::Config(_) | CoreError::Input(_)
        )
    }
}

/// Every problem a check of a file finds, so one error names them all (fixing a file one error per run is slow).
#[derive(Debug, Default)]
pub struct Problems(Vec<String>);

impl Problems {
    /// Note a problem (a config error's own message; any other error as it reads).
    pub fn add(&mut self, error: CoreError) {
        self.0.push(match error {
            CoreError::Config(message) => message,
            other => other.to_string(),
        });
    }

    /// Keep `result`'s value, or note its error.
    pub fn keep<T>(&mut self, result: CoreResult<T>) -> Option<T> {
        result.map_err(|e| self.add(e)).ok()
    }

    /// How many problems were noted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Ok without problems; else a config error of one problem as it is, or of several counted, one per line.
    pub fn into_result(self) -> CoreResult<()> {
        self.into_result_in("")
    }

    /// [`Problems::into_result`], the message led by `origin` (the file's name).
    pub fn into_result_in(self, origin: &str) -> CoreResult<()> {
        let lead = if origin.is_empty() {
            String::new()
        } else {
            format!("{origin}: ")
        };
        match self.0.len() {
            0 => Ok(()),
            1 => Err(CoreError::Config(format!("{lead}{}", self.0[0]))),
            n => Err(CoreError::Config(format!(
                "{lead}{n} problems:\n  - {}",
                self.0.join("\n  - ")
            ))),
        }
    }
}

impl From<parquet::errors::ParquetError> for CoreError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        CoreError::storage("parquet", e)
    }
}

impl From<deltalake::DeltaTableError> for CoreError {
    fn from(e: deltalake::DeltaTableError) -> Self {
        use deltalake::DeltaTableError as D;
        match e {
            D::VersionAlreadyExists(v) => {
                CoreError::Conflict(format!("Delta version {v} was written by another writer"))
            }
            D::Transaction { source } => CoreError::Conflict(format!("Delta commit failed: {source}")),
            other => CoreError::storage("Delta table", other),
        }
    }
}

impl From<object_store::Error> for CoreError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => CoreError::Input(format!("not found: {path}")),
            other => CoreError::storage("object store", other),
        }
    }
}

impl From<deltalake::datafusion::error::DataFusionError> for CoreError {
    fn from(e: deltalake::datafusion::error::DataFusionError) -> Self {
        use deltalake::datafusion::error::DataFusionError as F;
        match e {
            F::ArrowError(a, _) => CoreError::Arrow(*a),
            F::ObjectStore(o) => CoreError::from(*o),
            F::External(inner) => CoreError::storage("query engine", inner),
            other => CoreError::storage("query engine", other),
        }
    }
}

impl From<std::io::Error> for CoreError {
    fn from(e: std::io::Error) -> Self {
        CoreError::storage("local file", e)
    }
}
