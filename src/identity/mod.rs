//! Identity resolution: from source person records to stable member ids.
//!
//! In layers: normalizers, comparisons with agreement levels, blocking, the Fellegi-Sunter model, scoring,
//! clustering, stable ids and survivorship; `distributed` and `distributed_cluster` are the same steps as
//! stateless Arrow kernels for the Spark engine. The nickname table is shared with the synthetic generator,
//! which writes the nicknames the matcher must recognize.

pub mod blocking;
pub mod cluster;
pub mod compare;
pub mod distributed;
pub mod distributed_cluster;
pub mod evaluate;
pub mod model;
pub mod nicknames;
pub mod normalize;
pub mod person_keys;
pub mod prepare;
pub mod resolve;
pub mod scoring;
pub mod stable_ids;
pub mod survivorship;
pub mod text_key;
pub mod text_order;
pub mod time_zone;
