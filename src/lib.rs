//! carelake: a composable patient-engagement engine for the lakehouse.
//!
//! The crate is a pure-Rust core (Arrow in, Arrow out, `Result<_, CoreError>`) with an optional binding layer
//! behind the `python` feature. `cargo test` builds and tests the core without Python.

#![warn(missing_docs)]

pub mod audience;
pub mod by_member;
pub mod caregaps;
pub mod digest;
pub mod error;
pub mod identity;
pub mod lake;
pub mod model;
pub mod pipeline;
pub mod prefetch;
pub mod synth;

#[cfg(feature = "python")]
mod python;

#[cfg(feature = "python")]
mod allocator;

pub use error::{CoreError, CoreResult};

/// The carelake version (the crate version, shared with the Python package).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
