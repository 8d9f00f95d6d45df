//! Keeping only the clinical events a measure can use, before they are decoded in full or cross the network.
//!
//! Most claim lines carry no code of any measure's value set. Both engines drop them by looking at two columns
//! only, code_system and code: the native engine while it reads the Parquet files (the other columns are
//! decoded only for the rows kept), the Spark engine's executors before anything crosses the network. Kept rows
//! are conformed and matched in full by the same code in both engines, so their results stay equal. A row is
//! kept when its code is in a value set, and also when its code or code system is blank or its code system is
//! not one conforming accepts: such rows are quarantined downstream with their reason. A row whose code is in
//! no value set is counted as read and not checked further: none of its fields can change a measure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{Array, ArrayData, ArrayRef, AsArray, BooleanArray, DictionaryArray, RecordBatch};
use arrow::buffer::{BooleanBuffer, Buffer};
use arrow::compute::cast;
use arrow::datatypes::{Int32Type, SchemaRef};

use super::measures::MeasureSet;
use super::member_data::CodeIndex;
use super::value_sets::ValueSetDirectory;
use crate::error::{CoreError, CoreResult};
use crate::lake::selective_read::RowPredicate;
use crate::lake::{text_dictionary_type, ColumnMapping, ConformPlan, EnumSpelling, RowNumbers};
use crate::model::{canonical_input, canonical_spec};

/// The value-set codes of a measure set, ready to test event rows against.
#[derive(Debug)]
pub struct EventFilter {
    index: CodeIndex,
    systems: EnumSpelling,
    allowed_systems: &'static [&'static str],
    /// What was decided for the dictionaries of the last few column chunks (see [`DictionaryDecisions`]).
    recent: Mutex<Vec<RememberedPair>>,
}

/// A pair of code_system and code dictionaries decided for lately. The arrays are held, so that their memory
/// cannot be reused by other dictionaries while they are compared by address.
#[derive(Debug)]
struct RememberedPair {
    system_values: ArrayData,
    code_values: ArrayData,
    decisions: Arc<Mutex<DictionaryDecisions>>,
}

/// The decisions for one pair of code_system and code dictionaries. A Parquet reader hands on the same
/// dictionary with every batch of a column chunk, so a row group of 16 batches looks up each distinct pair once,
/// not once per batch (a code dictionary holds thousands of entries, a batch 65k rows).
#[derive(Debug)]
struct DictionaryDecisions {
    /// Per system entry, its row in `known`: the position of its canonical system among the allowed ones, or
    /// the last row (a blank system, or one conforming does not accept: kept for quarantine).
    system_rows: Vec<u32>,
    /// Code entries (the width of a row of `known`).
    width: usize,
    /// Per allowed system and code entry, and a last row for systems kept whatever their code: [`UNKNOWN`],
    /// [`DROP`] or [`KEEP`]. Null or blank codes are [`KEEP`] from the start (kept for quarantine), and so is the
    /// last row, so that a row is decided by one look-up (at 53M events, two tests and a look-up per row were
    /// 6% of the care-gap stage's CPU).
    known: Vec<u8>,
}

/// Dictionary pairs remembered: a few row groups are read at once, each with its own dictionaries.
const RECENT_DICTIONARIES: usize = 8;

/// What a dictionary entry pair is known to be: not looked up yet, dropped, kept.
const UNKNOWN: u8 = 0;
const DROP: u8 = 1;
const KEEP: u8 = 2;

impl EventFilter {
    /// Index the codes of the value sets `measures` use.
    pub fn new(directory: &ValueSetDirectory, measures: &MeasureSet) -> Self {
        let allowed_systems = canonical_input("clinical_events")
            .and_then(|spec| spec.column("code_system").map(|c| c.allowed))
            .unwrap_or(&[]);
        EventFilter {
            index: CodeIndex::new(directory, measures),
            systems: EnumSpelling::new(allowed_systems),
            allowed_systems,
            recent: Mutex::default(),
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

    /// Which rows to keep, given the raw code_system and code columns (text, or dictionary-encoded text as
    /// Parquet stores it). Each distinct (system, code) pair of a dictionary is looked up once.
    pub fn keep_mask(&self, system: &dyn Array, code: &dyn Array) -> CoreResult<BooleanArray> {
        let system = as_dictionary(system)?;
        let code = as_dictionary(code)?;
        let decisions = self.decisions_for(system.values(), code.values())?;
        let mut decisions = decisions
            .lock()
            .map_err(|_| CoreError::Internal("the event filter's decisions are poisoned".into()))?;
        let DictionaryDecisions {
            system_rows,
            width,
            known,
        } = &mut *decisions;
        let width = *width;
        let code_values = code.values().as_string::<i32>();
        let (system_keys, code_keys) = (system.keys(), code.keys());
        let (system_valid, code_valid) = (system_keys.nulls(), code_keys.nulls());
        let (system_keys, code_keys) = (system_keys.values(), code_keys.values());
        // A key outside its dictionary (negative, or past its end) keeps the row: conforming reports it.
        let mut decide = |sk: i32, ck: i32| -> bool {
            let ck = ck as usize;
            let Some(&at) = system_rows.get(sk as usize) else {
                return true;
            };
            if ck >= width {
                return true;
            }
            let slot = &mut known[at as usize * width + ck];
            if *slot == UNKNOWN {
                // Only an allowed system's row holds unknown entries.
                let found = self
                    .index
                    .lookup(self.allowed_systems[at as usize], code_values.value(ck))
                    .is_some();
                *slot = if found { KEEP } else { DROP };
            }
            *slot == KEEP
        };
        // Sixty-four rows to a word of the mask; the rows with a null key are added after, a word at a time (the
        // keys under a null are decided too, harmlessly: they are in the dictionary or keep the row).
        let mut words = Vec::with_capacity(system_keys.len().div_ceil(64));
        for (systems, codes) in system_keys.chunks(64).zip(code_keys.chunks(64)) {
            let mut word = 0u64;
            for (i, (&sk, &ck)) in systems.iter().zip(codes).enumerate() {
                word |= u64::from(decide(sk, ck)) << i;
            }
            words.push(word);
        }
        let mut keep = BooleanBuffer::new(Buffer::from_vec(words), 0, system_keys.len());
        for nulls in [system_valid, code_valid].into_iter().flatten() {
            keep = &keep | &!nulls.inner();
        }
        Ok(BooleanArray::new(keep, None))
    }

    /// The decisions for this pair of dictionaries: remembered ones when the same pair was seen lately (the
    /// same arrays, not equal ones), else new ones, remembered in place of the oldest.
    fn decisions_for(
        &self,
        system_values: &ArrayRef,
        code_values: &ArrayRef,
    ) -> CoreResult<Arc<Mutex<DictionaryDecisions>>> {
        let poisoned = || CoreError::Internal("the event filter's dictionary list is poisoned".into());
        let (system_data, code_data) = (system_values.to_data(), code_values.to_data());
        {
            let recent = self.recent.lock().map_err(|_| poisoned())?;
            let seen = recent
                .iter()
                .find(|r| r.system_values.ptr_eq(&system_data) && r.code_values.ptr_eq(&code_data));
            if let Some(seen) = seen {
                return Ok(seen.decisions.clone());
            }
        }
        let systems = system_values.as_string::<i32>();
        let codes = code_values.as_string::<i32>();
        let keep_row = self.allowed_systems.len();
        let system_rows = (0..systems.len())
            .map(|k| {
                let allowed = systems
                    .is_valid(k)
                    .then(|| self.systems.canonical(systems.value(k)));
                let at = allowed
                    .flatten()
                    .and_then(|c| self.allowed_systems.iter().position(|a| *a == c))
                    .unwrap_or(keep_row);
                at as u32
            })
            .collect();
        let width = codes.len();
        let mut known = vec![UNKNOWN; (keep_row + 1) * width];
        known[keep_row * width..].fill(KEEP);
        for k in 0..width {
            if codes.is_null(k) || codes.value(k).trim().is_empty() {
                for row in 0..keep_row {
                    known[row * width + k] = KEEP;
                }
            }
        }
        let decisions = Arc::new(Mutex::new(DictionaryDecisions {
            system_rows,
            width,
            known,
        }));
        let mut recent = self.recent.lock().map_err(|_| poisoned())?;
        if recent.len() == RECENT_DICTIONARIES {
            recent.remove(0);
        }
        recent.push(RememberedPair {
            system_values: system_data,
            code_values: code_data,
            decisions: decisions.clone(),
        });
        Ok(decisions)
    }

    /// Which rows of a raw `clinical_events` batch (as stored, read by `plan`) to keep.
    pub fn mask_of(&self, raw: &RecordBatch, plan: &ConformPlan) -> CoreResult<BooleanArray> {
        let (system, code) = code_columns(plan)?;
        self.keep_mask(raw.column(system), raw.column(code))
    }

    /// This filter as a row predicate for a table stored with `schema` (read by `plan`): the stored names of
    /// the two columns it reads, and the predicate over a batch of just those columns.
    pub fn into_row_predicate(
        self,
        plan: &ConformPlan,
        schema: &SchemaRef,
    ) -> CoreResult<([String; 2], RowPredicate)> {
        let (system, code) = code_columns(plan)?;
        let names = [
            schema.field(system).name().clone(),
            schema.field(code).name().clone(),
        ];
        let (system, code) = (names[0].clone(), names[1].clone());
        let predicate: RowPredicate = Arc::new(move |batch: &RecordBatch| {
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| CoreError::Internal(format!("the row filter did not get column '{name}'")))
            };
            self.keep_mask(column(&system)?, column(&code)?)
        });
        Ok((names, predicate))
    }

    /// The rows of a raw `clinical_events` batch (as stored, mapped by `columns`) that [`Self::keep_mask`]
    /// keeps, in their original schema and order.
    pub fn keep(&self, raw: &RecordBatch, columns: &ColumnMapping) -> CoreResult<RecordBatch> {
        let spec = canonical_spec("clinical_events")?;
        let plan = ConformPlan::new(&spec, &raw.schema(), columns)?;
        let mask = self.mask_of(raw, &plan)?;
        Ok(arrow::compute::filter_record_batch(raw, &mask)?)
    }

    /// [`Self::keep`] for a batch whose first row is at `first_row` in its table: the rows kept and their
    /// positions.
    pub fn keep_numbered(
        &self,
        raw: &RecordBatch,
        plan: &ConformPlan,
        first_row: i64,
    ) -> CoreResult<(RecordBatch, RowNumbers)> {
        let mask = self.mask_of(raw, plan)?;
        let numbers = mask
            .values()
            .set_indices()
            .map(|i| first_row + i as i64)
            .collect();
        Ok((
            arrow::compute::filter_record_batch(raw, &mask)?,
            RowNumbers::Listed(numbers),
        ))
    }
}

/// The source positions of code_system and code in a clinical_events plan.
fn code_columns(plan: &ConformPlan) -> CoreResult<(usize, usize)> {
    let column = |name: &str| {
        plan.source_column(name).ok_or_else(|| {
            CoreError::Internal(format!("clinical_events.{name} passed the plan but is absent"))
        })
    };
    Ok((column("code_system")?, column("code")?))
}

/// A text column as a dictionary with 32-bit keys and Utf8 values (plain text columns are encoded here).
fn as_dictionary(array: &dyn Array) -> CoreResult<DictionaryArray<Int32Type>> {
    let target = text_dictionary_type();
    let array = if array.data_type() == &target {
        arrow::array::make_array(array.to_data())
    } else {
        cast(&arrow::array::make_array(array.to_data()), &target)?
    };
    Ok(array.as_dictionary::<Int32Type>().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    fn filter() -> EventFilter {
        let directory = ValueSetDirectory::sample().unwrap();
        let measures = MeasureSet::load(&directory, None, &[]).unwrap();
        EventFilter::new(&directory, &measures)
    }

    #[test]
    fn rows_with_a_value_set_code_or_a_row_to_quarantine_are_kept() {
        let rows: [(Option<&str>, Option<&str>, bool); 9] = [
            (Some("CPT"), Some("77067"), true),     // a mammogram
            (Some("cpt"), Some(" 77067 "), true),   // spelled loosely: conforming fixes both
            (Some("CPT"), Some("99999"), false),    // in no value set
            (Some("ICD10CM"), Some("e11.9"), true), // ICD-10 without the dot rule applied
            (Some("ICD9CM"), Some("250.00"), true), // a system conforming refuses: quarantined downstream
            (None, Some("77067"), true),            // null key: quarantined downstream
            (Some("CPT"), Some("  "), true),        // blank code: quarantined downstream
            (Some("CPT"), None, true),              // null code: quarantined downstream
            (Some("LOINC"), Some("77067"), false),  // the code of another system
        ];
        let system: StringArray = rows.iter().map(|r| r.0).collect();
        let code: StringArray = rows.iter().map(|r| r.1).collect();
        let expected: Vec<bool> = rows.iter().map(|r| r.2).collect();
        let f = filter();
        let plain = f.keep_mask(&system, &code).unwrap();
        assert_eq!(plain.iter().map(Option::unwrap).collect::<Vec<_>>(), expected);
        // Dictionary-encoded columns (as Parquet gives them) decide the same.
        let dict = text_dictionary_type();
        let (system, code) = (cast(&system, &dict).unwrap(), cast(&code, &dict).unwrap());
        let encoded = f.keep_mask(&system, &code).unwrap();
        assert_eq!(encoded, plain);
    }

    #[test]
    fn masks_longer_than_a_word_with_nulls_anywhere_and_sliced_inputs_decide_each_row() {
        // 200 rows (three full words of the mask and part of a fourth): a kept code, a code in no value set, a
        // null code every seventh row and a null system every eleventh.
        let code = |i: usize| match i % 3 {
            _ if i % 7 == 0 => None,
            0 => Some("77067"),
            _ => Some("99999"),
        };
        let system = |i: usize| (i % 11 != 0).then_some("CPT");
        let expected = |i: usize| i % 7 == 0 || i % 11 == 0 || i % 3 == 0;
        let systems: StringArray = (0..200).map(system).collect();
        let codes: StringArray = (0..200).map(code).collect();
        let dict = text_dictionary_type();
        let (systems, codes) = (cast(&systems, &dict).unwrap(), cast(&codes, &dict).unwrap());
        let f = filter();
        let keep = f.keep_mask(&systems, &codes).unwrap();
        let want: Vec<bool> = (0..200).map(expected).collect();
        assert_eq!(keep.iter().map(Option::unwrap).collect::<Vec<_>>(), want);
        // A slice that starts inside a word: its own rows, from its first.
        let (systems, codes) = (systems.slice(70, 100), codes.slice(70, 100));
        let keep = f.keep_mask(&systems, &codes).unwrap();
        assert_eq!(keep.len(), 100);
        assert_eq!(keep.iter().map(Option::unwrap).collect::<Vec<_>>(), want[70..170]);
    }

    /// Batches of one column chunk: their own keys over shared dictionaries (as a Parquet reader hands them on).
    fn chunk_batch(
        systems: &ArrayRef,
        codes: &ArrayRef,
        system_keys: &[i32],
        code_keys: &[i32],
    ) -> (DictionaryArray<Int32Type>, DictionaryArray<Int32Type>) {
        let keys = |k: &[i32]| arrow::array::Int32Array::from(k.to_vec());
        (
            DictionaryArray::try_new(keys(system_keys), systems.clone()).unwrap(),
            DictionaryArray::try_new(keys(code_keys), codes.clone()).unwrap(),
        )
    }

    #[test]
    fn batches_over_the_same_dictionaries_share_decisions_and_other_dictionaries_get_their_own() {
        let f = filter();
        let systems: ArrayRef = Arc::new(StringArray::from(vec!["CPT", "LOINC"]));
        let codes: ArrayRef = Arc::new(StringArray::from(vec!["77067", "99999"]));
        // A second chunk whose dictionaries hold the same texts in the other order: equal texts, other arrays.
        let systems_2: ArrayRef = Arc::new(StringArray::from(vec!["LOINC", "CPT"]));
        let codes_2: ArrayRef = Arc::new(StringArray::from(vec!["99999", "77067"]));
        let mask = |(s, c): (DictionaryArray<Int32Type>, DictionaryArray<Int32Type>)| {
            let keep = f.keep_mask(&s, &c).unwrap();
            keep.iter().map(Option::unwrap).collect::<Vec<_>>()
        };
        let first = mask(chunk_batch(&systems, &codes, &[0, 0, 1], &[0, 1, 0]));
        assert_eq!(first, [true, false, false], "CPT 77067 only");
        let other = mask(chunk_batch(&systems_2, &codes_2, &[1, 1, 0], &[0, 1, 1]));
        assert_eq!(
            other,
            [false, true, false],
            "keys point elsewhere in the second chunk's dictionaries"
        );
        let again = mask(chunk_batch(&systems, &codes, &[1, 0, 0], &[1, 1, 0]));
        assert_eq!(
            again,
            [false, false, true],
            "the first chunk's decisions, by its own dictionaries"
        );
        assert_eq!(f.recent.lock().unwrap().len(), 2, "one remembered pair per chunk");
        for _ in 0..RECENT_DICTIONARIES + 3 {
            let systems: ArrayRef = Arc::new(StringArray::from(vec!["CPT"]));
            let codes: ArrayRef = Arc::new(StringArray::from(vec!["77067"]));
            assert_eq!(mask(chunk_batch(&systems, &codes, &[0], &[0])), [true]);
        }
        assert_eq!(
            f.recent.lock().unwrap().len(),
            RECENT_DICTIONARIES,
            "only the latest are held"
        );
    }

    #[test]
    fn codes_stored_as_numbers_or_as_an_all_null_column_are_read_as_text() {
        let f = filter();
        let system = StringArray::from(vec![Some("CPT"), Some("CPT"), Some("CPT")]);
        let numeric = arrow::array::Int64Array::from(vec![Some(77067), Some(99999), None]);
        let keep = f.keep_mask(&system, &numeric).unwrap();
        assert_eq!(keep, BooleanArray::from(vec![true, false, true]));
        let nothing = arrow::array::NullArray::new(3);
        let keep = f.keep_mask(&nothing, &numeric).unwrap();
        assert_eq!(
            keep,
            BooleanArray::from(vec![true, true, true]),
            "null systems go on to quarantine"
        );
    }
}
