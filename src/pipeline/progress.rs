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

/// Wall-clock seconds per phase of a stage, for the report's `phase_seconds`: where the time of a run went.
#[derive(Debug)]
pub struct PhaseClock {
    phases: Vec<(String, f64)>,
    since: std::time::Instant,
}

impl Default for PhaseClock {
    fn default() -> Self {
        PhaseClock {
            phases: Vec::new(),
            since: std::time::Instant::now(),
        }
    }
}

impl PhaseClock {
    /// A clock whose first phase starts now.
    pub fn start() -> Self {
        Self::default()
    }

    /// The phase `name` ends now; the next one starts.
    pub fn lap(&mut self, name: &str) {
        self.phases
            .push((name.to_string(), self.since.elapsed().as_secs_f64()));
        self.since = std::time::Instant::now();
    }

    /// Adds phases timed elsewhere (a kernel's own), in order, and restarts the current phase.
    pub fn extend(&mut self, phases: impl IntoIterator<Item = (String, f64)>) {
        self.phases.extend(phases);
        self.since = std::time::Instant::now();
    }

    /// The phases, in order.
    pub fn into_phases(self) -> Vec<(String, f64)> {
        self.phases
    }
}

/// A [`PhaseClock`] whose phases are the steps of a progress task: each lap advances the task by one, so a long
/// stage shows where it is rather than a bar over one of its parts. The task is finished when the clock is
/// done with, also when the stage stops early with an error (no bar is left drawn half way).
pub struct SteppedClock<'a> {
    clock: PhaseClock,
    progress: &'a dyn Progress,
}

impl<'a> SteppedClock<'a> {
    /// Start `task` with `steps` steps, and the clock of its first phase.
    pub fn start(progress: &'a dyn Progress, task: &str, steps: u64) -> Self {
        progress.start(task, steps);
        SteppedClock {
            clock: PhaseClock::start(),
            progress,
        }
    }

    /// The phase `name` ends now: one step more is done.
    pub fn lap(&mut self, name: &str) {
        self.clock.lap(name);
        self.progress.advance(1);
    }

    /// The phases, in order; the task is over (a dry run ends before its last steps).
    pub fn into_phases(mut self) -> Vec<(String, f64)> {
        std::mem::take(&mut self.clock).into_phases()
    }
}

impl Drop for SteppedClock<'_> {
    fn drop(&mut self) {
        self.progress.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Progress that records what it was told.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<String>>);

    impl Progress for Recorded {
        fn start(&self, task: &str, total: u64) {
            self.0.lock().unwrap().push(format!("start {task} {total}"));
        }
        fn advance(&self, units: u64) {
            self.0.lock().unwrap().push(format!("advance {units}"));
        }
        fn finish(&self) {
            self.0.lock().unwrap().push("finish".into());
        }
    }

    #[test]
    fn a_stepped_clock_advances_a_step_a_phase_and_finishes_once_even_when_stopped_early() {
        let progress = Recorded::default();
        let mut clock = SteppedClock::start(&progress, "audiences", 3);
        clock.lap("read");
        clock.lap("decide");
        let phases = clock.into_phases();
        assert_eq!(
            phases.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(),
            ["read", "decide"]
        );
        let told = std::mem::take(&mut *progress.0.lock().unwrap());
        assert_eq!(told, ["start audiences 3", "advance 1", "advance 1", "finish"]);

        // A stage that stops with an error drops its clock: the task is finished all the same.
        let stopped = || -> Result<(), ()> {
            let mut clock = SteppedClock::start(&progress, "audiences", 3);
            clock.lap("read");
            Err(())
        };
        assert!(stopped().is_err());
        let told = progress.0.lock().unwrap().clone();
        assert_eq!(told, ["start audiences 3", "advance 1", "finish"]);
    }
}
