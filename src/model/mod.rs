//! Canonical schemas: the one place where carelake's input and output tables are described.
//!
//! Every table has a [`TableSpec`]: its columns, their canonical Arrow types, whether each is required or a key,
//! and the comments that end up on the Delta table for Genie and SQL users.

mod audience_outputs;
mod builder;
mod caregaps_outputs;
mod columns;
mod identity_outputs;
mod inputs;
mod outputs;
mod spec;
pub mod values;

pub use audience_outputs::{audience_events, audience_members, outreach, suppressions, sync_runs};
pub use builder::BatchBuilder;
pub use caregaps_outputs::{care_gaps, measure_rates};
pub use columns::{
    only_columns, optional_text_column, primitive_column, text_cells, text_column, text_value, TextColumn,
};
pub use identity_outputs::{
    identity_changes, identity_links, identity_xref, level_column, member_profile, weight_column,
};
pub use inputs::{
    appointments, canonical_input, canonical_spec, clinical_events, communications, consents, enrollment,
    person_records, CANONICAL_INPUTS,
};
pub use outputs::{quarantine, runs, truth_care_gaps, truth_person_records};
pub use spec::{CanonicalType, ColumnLayout, ColumnSpec, TableSpec};
