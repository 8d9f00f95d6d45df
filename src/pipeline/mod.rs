//! The native engine: configuration, stages, outputs and the run log.

pub mod audience_stage;
pub mod caregaps_eval;
mod caregaps_events;
pub mod caregaps_stage;
pub mod config;
pub mod config_schema;
mod identity_outputs;
mod identity_records;
pub mod identity_stage;
pub mod ingest;
pub mod progress;
pub mod run_log;
