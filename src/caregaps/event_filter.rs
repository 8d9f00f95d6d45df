//! Keeping only the clinical events a measure can use, where the events are (the Spark engine's executors).
//!
//! Most claim lines carry no code of any measure's value set; an executor drops them before anything crosses
//! the network, so the driver receives about a sixth of the rows. Rows pass through unchanged (the driver
//! conforms and matches them again with the same code, which keeps both engines' results equal), and rows that
//! fail to conform pass too, so the driver quarantines them with their reasons: nothing is dropped unseen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{RecordBatch, UInt32Array};

use super::measures::MeasureSet;
use super::member_data::CodeIndex;
use super::value_sets::ValueSetDirectory;
use crate::error::{CoreError, CoreResult};
use crate::lake::{ColumnMapping, ConformPlan};
use crate::model::{canonical_input, text_column};

/// The value-set codes of a measure set, ready to test event rows against.
#[derive(Debug)]
pub struct EventFilter {
    index: CodeIndex,
}

impl EventFilter {
    /// Index the codes of the value sets `measures` use.
    pub fn new(directory: &ValueSetDirectory, measures: &MeasureSet) -> Self {
        EventFilter {
            index: CodeIndex::new(directory, measures),
        }
    }

    /// The filter for `key` (the value-set sources and measure selection), built by `build` the first time a
    /// process asks: executors run many batches, and loading a Value Set Directory once per batch would
    /// dominate their time.
    pub fn cached(
        key: &str,
        build: impl FnOnce() -> CoreResult<EventFilter>,
    ) -> CoreResult<Arc<EventFilter>> {
        static CACHE: OnceLock<Mutex<HashMap<String, Arc<EventFilter>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(found) = cache
            .lock()
            .map_err(|_| CoreError::Internal("the event filter cache is poisoned".into()))?
            .get(key)
        {
            return Ok(found.clone());
        }
        let built = Arc::new(build()?);
        cache
            .lock()
            .map_err(|_| CoreError::Internal("the event filter cache is poisoned".into()))?
            .insert(key.to_string(), built.clone());
        Ok(built)
    }

    /// The rows of a raw `clinical_events` batch (as stored, mapped by `columns`) that fail to conform or carry
    /// a code of one of the value sets, in their original schema and order.
    pub fn keep(&self, raw: &RecordBatch, columns: &ColumnMapping) -> CoreResult<RecordBatch> {
        let spec = canonical_input("clinical_events")
            .ok_or_else(|| CoreError::Internal("clinical_events is not canonical".into()))?;
        let plan = ConformPlan::new(&spec, &raw.schema(), columns)?;
        let conformed = plan.conform(raw, 0)?;
        let mut failed: Vec<u32> = conformed
            .quarantined
            .iter()
            .map(|q| q.row_number as u32)
            .collect();
        failed.sort_unstable();
        failed.dedup();
        let system = text_column(&conformed.batch, "clinical_events", "code_system")?;
        let code = text_column(&conformed.batch, "clinical_events", "code")?;
        // Conformed row k is the k-th raw row that did not fail.
        let mut keep = Vec::new();
        let mut next_failed = failed.iter().peekable();
        let mut k = 0usize;
        for row in 0..raw.num_rows() as u32 {
            if next_failed.peek() == Some(&&row) {
                next_failed.next();
                keep.push(row);
                continue;
            }
            if self.index.lookup(system.value(k), code.value(k)).is_some() {
                keep.push(row);
            }
            k += 1;
        }
        Ok(arrow::compute::take_record_batch(raw, &UInt32Array::from(keep))?)
    }
}
