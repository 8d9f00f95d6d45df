//! Identity resolution: from source person records to stable member ids.
//!
//! This module grows with the identity issue (normalize, block, compare, Fellegi-Sunter, cluster, stable ids,
//! survivorship). The nickname table is here already because the synthetic generator writes nicknames that the
//! matcher must later recognize: one table serves both.

pub mod nicknames;
