//! HEDIS-style care gaps: which members are due for which care, with evidence and due dates.
//!
//! Not NCQA-certified. The rules follow `shared/reference/hedis-measures.md`; measures are data (YAML
//! definitions in `measures/`, one file per measure) that name value sets as NCQA's Value Set Directory does;
//! the value sets themselves come from the user's licensed VSD file (or the shipped sample of public codes).
//!
//! - [`value_sets`]: load the VSD / MLD (xlsx or csv, columns by header), normalize codes ([`codes`]).
//! - [`definition`], [`criteria`], [`compile`], [`measures`]: parse, check and compile measure definitions.
//! - [`member_data`]: Arrow batches of members, enrollment and events -> the engine's member-level view.
//! - [`enrollment`]: continuous enrollment and product lines; [`evaluate`]: the engine; [`output`]: tables.

pub mod codes;
pub mod compile;
pub mod criteria;
pub mod definition;
pub mod enrollment;
pub mod evaluate;
pub mod event_filter;
pub mod events;
pub mod measures;
pub mod member_data;
pub mod output;
pub mod value_sets;

pub use evaluate::{evaluate_all, GapRow, MemberData, Status};
pub use measures::MeasureSet;
pub use member_data::MemberDataBuilder;
pub use value_sets::ValueSetDirectory;
