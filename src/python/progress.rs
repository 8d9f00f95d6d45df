//! A [`Progress`] that calls a Python callable: `callback(event, task, units)` with event "start",
//! "advance" or "finish". The first exception the callback raises (e.g. KeyboardInterrupt) is kept and
//! re-raised when the kernel returns.

use std::sync::Mutex;

use pyo3::prelude::*;

use super::errors::run_detached;
use crate::error::CoreResult;
use crate::pipeline::progress::{NoProgress, Progress};

/// Progress reported to a Python callable.
pub struct PyProgress {
    callback: Option<Py<PyAny>>,
    error: Mutex<Option<PyErr>>,
}

impl PyProgress {
    /// Wrap an optional callable.
    pub fn new(callback: Option<Py<PyAny>>) -> Self {
        PyProgress {
            callback,
            error: Mutex::new(None),
        }
    }

    fn call(&self, event: &str, task: &str, units: u64) {
        let Some(cb) = &self.callback else { return };
        let mut error = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if error.is_some() {
            return;
        }
        Python::attach(|py| {
            if let Err(e) = cb.call1(py, (event, task, units)) {
                *error = Some(e);
            }
        });
    }

    /// Run a kernel with the GIL released, reporting to `callback`; an exception the callback raised (such as
    /// KeyboardInterrupt) takes precedence over the kernel's result.
    pub fn run<T, F>(py: Python<'_>, callback: Option<Py<PyAny>>, kernel: F) -> PyResult<T>
    where
        T: Send,
        F: FnOnce(&dyn Progress) -> CoreResult<T> + Send,
    {
        let reporter = PyProgress::new(callback);
        let result = run_detached(py, || kernel(reporter.as_progress()));
        match reporter.take_error() {
            Some(e) => Err(e),
            None => result,
        }
    }

    /// The exception the callback raised, if any.
    pub fn take_error(&self) -> Option<PyErr> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// A progress that goes nowhere when no callable was given.
    pub fn as_progress(&self) -> &dyn Progress {
        if self.callback.is_some() {
            self
        } else {
            &NoProgress
        }
    }
}

impl Progress for PyProgress {
    fn start(&self, task: &str, total: u64) {
        self.call("start", task, total);
    }
    fn advance(&self, units: u64) {
        self.call("advance", "", units);
    }
    fn finish(&self) {
        self.call("finish", "", 0);
    }
}
