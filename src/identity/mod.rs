//! Identity resolution: from source person records to stable member ids.
//!
//! Built up by the identity issue in layers: normalizers (this far), comparisons with agreement levels (this
//! far), then blocking, the Fellegi-Sunter model, clustering, stable ids and survivorship. The nickname table
//! is shared with the synthetic generator, which writes the nicknames the matcher must recognize.

pub mod blocking;
pub mod cluster;
pub mod compare;
pub mod distributed;
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
pub mod time_zone;
