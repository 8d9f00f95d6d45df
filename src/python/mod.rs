//! The binding layer: the `carelake._native` extension module. Thin wrappers only; no logic lives here.

mod caregaps;
mod errors;
mod identity;
mod lake;
mod progress;
mod spark;
mod stages;

use pyo3::prelude::*;

/// The `carelake._native` module.
#[pymodule(gil_used = false)]
pub mod _native {
    use pyo3::prelude::*;

    #[pymodule_export]
    use super::caregaps::{caregaps, evaluate_caregaps, measure_definitions, sample_value_sets};
    #[pymodule_export]
    use super::errors::{
        CarelakeError, ConfigError, ConflictError, InputError, InternalError, SchemaError, StorageError,
    };
    #[pymodule_export]
    use super::identity::{count_pairs, evaluate_identity, identity};
    #[pymodule_export]
    use super::lake::{conform, read_table, write_delta};
    #[pymodule_export]
    use super::spark::{
        caregaps_event_filter, caregaps_from_events, identity_blocking_keys, identity_blocking_rules,
        identity_cluster_components, identity_clustering, identity_compare_batch, identity_from_pairs,
        identity_model_json, identity_prepare_batch, identity_prepared_columns, jaro_winkler,
    };
    #[pymodule_export]
    use super::stages::{audience_queries, audiences, generate, ingest, pipeline_schema, validate_config};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::allocator::tune();
        m.add("__version__", crate::VERSION)?;
        Ok(())
    }
}
