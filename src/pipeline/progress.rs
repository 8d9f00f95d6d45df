//! Progress reporting for long stages, decoupled from how it is shown.
//!
//! Kernels report units of work; the command line shows a progress bar on a terminal and structured log lines
//! elsewhere; tests report nowhere.

/// Receives progress of a long task. Implementations must be cheap: they are called once per batch.
pub trait Progress: Send + Sync {
    /// A task starts with `total` units of work (rows, members, ...).
    fn start(&self, task: &str, total: u64);
    /// `units` more units are done.
    fn advance(&self, units: u64);
    /// The task is over.
    fn finish(&self);
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _task: &str, _total: u64) {}
    fn advance(&self, _units: u64) {}
    fn finish(&self) {}
}
