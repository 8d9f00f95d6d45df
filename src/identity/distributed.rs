//! Arrow kernels for engines that spread identity resolution over many processes (the Spark engine).
//!
//! Each kernel takes and returns Arrow batches and keeps no state between calls, so an executor can run it on
//! any slice of the data: normalize records, emit their blocking keys, compare the pairs a distributed join
//! found. The driver then maps the pairs back onto the records it resolves ([`pairs_from_batches`]). The
//! kernels call the same normalizers, keys and comparisons as the native engine, which is what makes the two
//! engines' results equal.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Builder, Int64Array, Int64Builder,
    RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Int64Type, Schema};
use rayon::prelude::*;

use super::blocking::{count_new_pairs, key, BlockingConfig, CandidatePairs, RuleReport};
use super::compare::{compare_records, jaro_winkler, CompareFields, Levels, N_COMPARISONS};
use super::model::MatchModel;
use super::prepare::{prepare, PreparedRecords};
use super::resolve::ComparedPairs;
use crate::error::{CoreError, CoreResult};
use crate::lake::ConformPlan;
use crate::model::{primitive_column, text_column};
use crate::pipeline::identity_stage::record_key;

/// Pack a comparison vector into one integer, four bits a level (Spark moves one long instead of nine bytes).
pub fn pack_levels(levels: &Levels) -> i64 {
    levels
        .iter()
        .enumerate()
        .fold(0i64, |acc, (k, &l)| acc | (i64::from(l & 0xF) << (4 * k)))
}

/// The comparison vector packed by [`pack_levels`].
pub fn unpack_levels(packed: i64) -> Levels {
    let mut levels = [0u8; N_COMPARISONS];
    for (k, level) in levels.iter_mut().enumerate() {
        *level = ((packed >> (4 * k)) & 0xF) as u8;
    }
    levels
}

/// Conform raw person_records rows with `plan` and normalize them: the prepared columns plus `record_key`.
/// Rows that fail to conform are left out here; the driver conforms the same rows with the same plan and
/// quarantines them with their reasons, so nothing is lost.
pub fn prepare_records(plan: &ConformPlan, raw: &RecordBatch) -> CoreResult<RecordBatch> {
    let conformed = plan.conform(raw, 0)?;
    let records = prepare(&[conformed.batch])?;
    let keys: StringArray = (0..records.len())
        .map(|i| {
            Some(record_key(
                records.source_system.value(i),
                records.source_record_id.value(i),
            ))
        })
        .collect();
    let prepared = records.to_batch()?;
    let mut fields: Vec<Arc<Field>> = vec![Arc::new(Field::new("record_key", DataType::Utf8, false))];
    fields.extend(prepared.schema().fields().iter().cloned());
    let mut columns: Vec<ArrayRef> = vec![Arc::new(keys)];
    columns.extend(prepared.columns().iter().cloned());
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

/// The schema [`blocking_keys`] returns.
pub fn blocking_keys_schema() -> Schema {
    Schema::new(vec![
        Field::new("rule", DataType::Int32, false),
        Field::new("block_key", DataType::Int64, false),
        Field::new("record_key", DataType::Utf8, false),
    ])
}

/// For every prepared record (as [`prepare_records`] returns them) and every blocking rule whose fields it
/// has: `(rule index, block key, record key)`. Records sharing a rule and key form a block.
pub fn blocking_keys(prepared: &RecordBatch, config: &BlockingConfig) -> CoreResult<RecordBatch> {
    let records = PreparedRecords::from_batch(prepared, "")?;
    let record_keys = text_column(prepared, "prepared_records", "record_key")?;
    let n = records.len();
    let mut rule_out = Int32Builder::with_capacity(n * config.rules.len());
    let mut key_out = Int64Builder::with_capacity(n * config.rules.len());
    let mut record_out = StringBuilder::with_capacity(n * config.rules.len(), n * 24);
    for (index, rule) in config.rules.iter().enumerate() {
        for row in 0..n {
            if let Some(k) = key(&records, row, &rule.fields) {
                rule_out.append_value(index as i32);
                // The bits of the 64-bit key, as Spark's signed long: only equality is ever asked of it.
                key_out.append_value(k as i64);
                record_out.append_value(record_keys.value(row));
            }
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(blocking_keys_schema()),
        vec![
            Arc::new(rule_out.finish()),
            Arc::new(key_out.finish()),
            Arc::new(record_out.finish()),
        ],
    )?)
}

/// The schema [`compare_batch`] returns.
pub fn compared_schema() -> Schema {
    Schema::new(vec![
        Field::new("left_key", DataType::Utf8, false),
        Field::new("right_key", DataType::Utf8, false),
        Field::new("rule", DataType::Int32, false),
        Field::new("levels", DataType::Int64, false),
    ])
}

/// The schema [`compare_batch`] returns when it scores the pairs: [`compared_schema`] plus each pair's total
/// match `weight` and match `probability`, as 32-bit floats exactly as the driver's scoring stores them.
pub fn scored_schema() -> Schema {
    let mut fields: Vec<Field> = compared_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("weight", DataType::Float32, false));
    fields.push(Field::new("probability", DataType::Float32, false));
    Schema::new(fields)
}

/// How executors score compared pairs, when a model is given: pairs whose match probability is below `keep`
/// can never become links, so they are dropped where they were compared instead of travelling to the driver.
#[derive(Debug, Clone)]
pub struct ExecutorScoring {
    /// The model.
    pub model: MatchModel,
    /// Links below this probability are not kept (the identity settings' `keep_links_above`).
    pub keep: f64,
}

/// Compare candidate pairs: a batch with `left_key`, `right_key`, `rule` and each side's prepared columns
/// prefixed `l_` and `r_`; returns the keys, the rule and the packed comparison vector. With `scoring`, the
/// batch also carries `l_tf_first` and `l_tf_last` (the left record's name frequencies among all records, null
/// when the name is null), only pairs at or above the keep threshold are returned, and with their weight and
/// probability ([`scored_schema`]).
pub fn compare_batch(batch: &RecordBatch, scoring: Option<&ExecutorScoring>) -> CoreResult<RecordBatch> {
    let left = PreparedRecords::from_batch(batch, "l_")?;
    let right = PreparedRecords::from_batch(batch, "r_")?;
    let n = left.len();
    let (left, right) = (CompareFields::new(&left), CompareFields::new(&right));
    let levels: Vec<Levels> = (0..n)
        .into_par_iter()
        .map(|p| compare_records(&left.record(p), &right.record(p)))
        .collect();
    let text = |name: &str| -> CoreResult<ArrayRef> {
        let column = text_column(batch, "candidate_pairs", name)?;
        Ok(Arc::new(column.clone()))
    };
    let rule = primitive_column::<Int32Type>(batch, "candidate_pairs", "rule", "a 32-bit integer")?;
    let mut columns = vec![
        text("left_key")?,
        text("right_key")?,
        Arc::new(rule.clone()) as ArrayRef,
        Arc::new(Int64Array::from_iter_values(levels.iter().map(pack_levels))),
    ];
    let Some(s) = scoring else {
        return Ok(RecordBatch::try_new(Arc::new(compared_schema()), columns)?);
    };
    let frequency = |name: &str| primitive_column::<Float64Type>(batch, "candidate_pairs", name, "a double");
    let (first, last) = (frequency("l_tf_first")?, frequency("l_tf_last")?);
    let value = |a: &Float64Array, i: usize| a.is_valid(i).then(|| a.value(i));
    // Stored as the driver's scoring stores them (f32), so both engines cluster on the same numbers.
    let scores: Vec<(f32, f32, bool)> = (0..n)
        .map(|p| {
            let weights = s.model.weights_with(&levels[p], value(first, p), value(last, p));
            let (weight, probability) = s.model.total(&weights);
            (weight as f32, probability as f32, probability >= s.keep)
        })
        .collect();
    columns.push(Arc::new(Float32Array::from_iter_values(
        scores.iter().map(|s| s.0),
    )));
    columns.push(Arc::new(Float32Array::from_iter_values(
        scores.iter().map(|s| s.1),
    )));
    let out = RecordBatch::try_new(Arc::new(scored_schema()), columns)?;
    let keep = BooleanArray::from_iter(scores.iter().map(|s| Some(s.2)));
    Ok(arrow::compute::filter_record_batch(&out, &keep)?)
}

/// Jaro-Winkler similarity of two string columns, row by row (null when either side is null): the string
/// kernel the name comparisons use, on its own for benchmarks against other implementations.
pub fn jaro_winkler_batch(left: &StringArray, right: &StringArray) -> CoreResult<Float64Array> {
    if left.len() != right.len() {
        return Err(CoreError::Input(format!(
            "jaro_winkler needs columns of equal length ({} and {})",
            left.len(),
            right.len()
        )));
    }
    Ok((0..left.len())
        .map(|i| (!left.is_null(i) && !right.is_null(i)).then(|| jaro_winkler(left.value(i), right.value(i))))
        .collect())
}

/// The index of the record with `key` among the driver's sorted record keys. A key the driver does not hold
/// means the executors read other data than it did: an internal error naming `what` held the key.
pub fn record_index(keys: &[String], key: &str, what: &str) -> CoreResult<u32> {
    keys.binary_search_by(|k| k.as_str().cmp(key))
        .map(|i| i as u32)
        .map_err(|_| {
            CoreError::Internal(format!(
                "{what} names a person record the driver does not hold; \
                 was person_records changed during the run?"
            ))
        })
}

/// Map compared pairs (by record key, as [`compare_batch`] returns them) onto records whose sorted keys are
/// `keys`, sorted by (left, right) as native blocking leaves them. A key the driver does not hold, a pair
/// out of order or a pair seen twice means the executors saw other data than the driver: an internal error.
///
/// `scored` is the number of candidate pairs compared in all when the executors scored them and sent only
/// those at or above the keep threshold (the blocking report then already counts each rule's new pairs).
pub fn pairs_from_batches(
    keys: &[String],
    batches: &[RecordBatch],
    mut blocking: Vec<RuleReport>,
    scored: Option<u64>,
) -> CoreResult<ComparedPairs> {
    let index = |key: &str| record_index(keys, key, "a compared pair");
    let mut rows: Vec<(u32, u32, u8, i64)> = Vec::new();
    for batch in batches {
        let left = text_column(batch, "compared_pairs", "left_key")?;
        let right = text_column(batch, "compared_pairs", "right_key")?;
        let rule = primitive_column::<Int32Type>(batch, "compared_pairs", "rule", "a 32-bit integer")?;
        let levels = primitive_column::<Int64Type>(batch, "compared_pairs", "levels", "a 64-bit integer")?;
        for i in 0..batch.num_rows() {
            let (l, r) = (index(left.value(i))?, index(right.value(i))?);
            if l >= r {
                return Err(CoreError::Internal(
                    "a compared pair is not ordered by record key".into(),
                ));
            }
            let rule = u8::try_from(rule.value(i))
                .ok()
                .filter(|r| usize::from(*r) < blocking.len())
                .ok_or_else(|| CoreError::Internal("a compared pair has an invalid rule index".into()))?;
            rows.push((l, r, rule, levels.value(i)));
        }
    }
    rows.par_sort_unstable();
    if rows.windows(2).any(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1)) {
        return Err(CoreError::Internal(
            "a candidate pair was compared twice; pairs must be unique".into(),
        ));
    }
    let mut pairs = CandidatePairs::default();
    let mut vectors = Vec::with_capacity(rows.len());
    for (l, r, rule, levels) in rows {
        pairs.left.push(l);
        pairs.right.push(r);
        pairs.rule.push(rule);
        vectors.push(unpack_levels(levels));
    }
    if scored.is_none() {
        count_new_pairs(&pairs.rule, &mut blocking);
    }
    let candidates = scored.unwrap_or(pairs.len() as u64);
    Ok(ComparedPairs {
        pairs,
        vectors,
        blocking,
        candidates,
        fields: None,
        clusters: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_pack_and_unpack() {
        let levels: Levels = [1, 6, 0, 5, 2, 4, 3, 6, 1];
        assert_eq!(unpack_levels(pack_levels(&levels)), levels);
        assert_eq!(unpack_levels(0), [0; N_COMPARISONS]);
    }

    #[test]
    fn jaro_winkler_nulls_and_lengths() {
        let a = StringArray::from(vec![Some("MARTHA"), None]);
        let b = StringArray::from(vec![Some("MARHTA"), Some("X")]);
        let out = jaro_winkler_batch(&a, &b).unwrap();
        assert!((out.value(0) - 0.961).abs() < 0.001);
        assert!(out.is_null(1));
        assert!(jaro_winkler_batch(&a, &StringArray::from(vec!["A"])).is_err());
    }
}
