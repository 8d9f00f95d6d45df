//! Mapping core errors onto the `carelake.exceptions` tree, and keeping panics out of Python.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError};
use pyo3::prelude::*;

use crate::error::CoreError;

create_exception!(
    carelake.exceptions,
    CarelakeError,
    PyException,
    "Base class of every carelake error."
);
create_exception!(
    carelake.exceptions,
    SchemaError,
    CarelakeError,
    "An input table is missing a column or has a column of the wrong type."
);
create_exception!(
    carelake.exceptions,
    ConfigError,
    CarelakeError,
    "The pipeline configuration or an argument is invalid."
);
create_exception!(
    carelake.exceptions,
    InputError,
    CarelakeError,
    "An input cannot be used as given (not found, unknown format, empty)."
);
create_exception!(
    carelake.exceptions,
    ConflictError,
    CarelakeError,
    "A write conflicted with another writer or the table's state."
);
create_exception!(
    carelake.exceptions,
    StorageError,
    CarelakeError,
    "Reading or writing storage (local disk or object store) failed."
);
create_exception!(
    carelake.exceptions,
    InternalError,
    CarelakeError,
    "A bug in carelake; please report it."
);

/// Convert a core error into the matching Python exception, with the Rust cause chain as `__cause__`.
pub fn to_py_err(err: CoreError) -> PyErr {
    let message = err.to_string();
    let py_err = match &err {
        CoreError::Schema { .. } => SchemaError::new_err(message),
        CoreError::Config(_) => ConfigError::new_err(message),
        CoreError::Input(_) => InputError::new_err(message),
        CoreError::Conflict(_) => ConflictError::new_err(message),
        CoreError::Storage { .. } | CoreError::Arrow(_) => StorageError::new_err(message),
        CoreError::Internal(_) => InternalError::new_err(message),
    };
    // Keep the cause: the first source error becomes __cause__ (an OSError with the full chain).
    let mut chain = Vec::new();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    if !chain.is_empty() {
        Python::attach(|py| py_err.set_cause(py, Some(PyOSError::new_err(chain.join(": ")))));
    }
    py_err
}

/// Run a kernel with the GIL released, turning core errors and panics into Python exceptions.
pub fn run_detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, CoreError> + Send,
{
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(f)));
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(to_py_err(e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(InternalError::new_err(format!(
                "internal error (a bug in carelake): {what}"
            )))
        }
    }
}
