//! The Fellegi-Sunter model: m and u probabilities per comparison level, the prior, and match weights.
//!
//! Training follows the method Splink made standard:
//! - **u** (how often non-matches agree) from comparisons of random record pairs, nearly all non-matches;
//! - **the prior** (probability that two random records match) from deterministic rules: pairs that agree
//!   on strong identifiers, divided by an assumed recall of those rules;
//! - **m** (how often matches agree) by expectation-maximization over the pairs of a training blocking rule,
//!   with the comparisons that rule blocks on held out (inside the rule they agree by construction). Several
//!   sessions with different rules give every comparison an estimate; estimates are averaged.
//!
//! Exact name matches are term-frequency adjusted: agreeing on a rare family name is stronger evidence than
//! agreeing on "Smith". The trained model is saved as versioned JSON and can be reused.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::blocking::{key, BlockField, BlockingConfig, CandidatePairs};
use super::compare::{
    compare_pairs, CompareFields, Levels, COMPARISONS, FIRST_NAME, LAST_NAME, N_COMPARISONS,
};
use super::prepare::PreparedRecords;
use crate::error::{CoreError, CoreResult};
use crate::synth::rng::Rng;

/// Format version of the saved model. Format 2 added the first-name level `one_name_in_the_other_field`.
pub const MODEL_FORMAT: u32 = 2;

/// Smallest probability used, so that no level has zero weight-of-evidence denominators.
const FLOOR: f64 = 1e-6;

/// m and u of one comparison, per level (index 0 is level 1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ComparisonParameters {
    /// Comparison name.
    pub name: String,
    /// Level names.
    pub levels: Vec<String>,
    /// P(level | match).
    pub m: Vec<f64>,
    /// P(level | non-match).
    pub u: Vec<f64>,
}

/// A trained model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MatchModel {
    /// Format version ([`MODEL_FORMAT`]).
    pub format: u32,
    /// carelake version that trained it.
    pub carelake_version: String,
    /// Probability that two random records match.
    pub prior: f64,
    /// Per comparison parameters, in vector order.
    pub comparisons: Vec<ComparisonParameters>,
    /// Records the model was trained on.
    pub trained_on_records: u64,
}

/// Training settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// Random pairs compared to estimate u.
    pub u_sample_pairs: usize,
    /// Assumed recall of the deterministic rules used for the prior.
    pub deterministic_recall: f64,
    /// Blocking rules (by name) whose pairs train m, one EM session each.
    pub training_rules: Vec<String>,
    /// EM iterations at most per session.
    pub max_iterations: usize,
    /// Seed of the random pair sample.
    pub seed: u64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            u_sample_pairs: 1_000_000,
            deterministic_recall: 0.7,
            // Sessions whose pairs are nearly all true matches, so m is learned from matches and not from
            // household members who share an address: SSN (holds out only the SSN) and birth date with given
            // name (gives the SSN its m).
            training_rules: vec!["ssn".into(), "birth_date+first_name".into()],
            max_iterations: 25,
            seed: 42,
        }
    }
}

/// Term frequencies of exact values, for the first- and last-name comparisons (borrowing the values).
#[derive(Debug, Clone, Default)]
pub struct TermFrequencies<'a> {
    first: foldhash::HashMap<&'a str, f64>,
    last: foldhash::HashMap<&'a str, f64>,
}

impl<'a> TermFrequencies<'a> {
    /// Count value frequencies over all records.
    pub fn from_records(r: &'a PreparedRecords) -> Self {
        let count = |col: &'a arrow::array::StringArray| {
            let mut m: foldhash::HashMap<&'a str, f64> = foldhash::HashMap::default();
            let mut total: f64 = 0.0;
            for v in col.iter().flatten() {
                *m.entry(v).or_default() += 1.0;
                total += 1.0;
            }
            m.values_mut().for_each(|c| *c /= total.max(1.0));
            m
        };
        TermFrequencies {
            first: count(&r.first),
            last: count(&r.last),
        }
    }

    /// The frequencies of record `i`'s first and last names (None: missing, or not among the counted records).
    pub fn of_record(&self, r: &PreparedRecords, i: usize) -> (Option<f64>, Option<f64>) {
        let frequency = |col: &arrow::array::StringArray, table: &foldhash::HashMap<&str, f64>| {
            PreparedRecords::get(col, i).and_then(|v| table.get(v).copied())
        };
        (frequency(&r.first, &self.first), frequency(&r.last, &self.last))
    }
}

fn levels_of(k: usize) -> usize {
    COMPARISONS[k].levels.len()
}

/// Fewest candidate pairs an EM session trains on.
const MIN_SESSION_PAIRS: usize = 10;

fn comparisons_blocked_by(fields: &[BlockField]) -> Vec<usize> {
    fields
        .iter()
        .flat_map(|f| match f {
            BlockField::Ssn => vec![5],
            BlockField::BirthDate | BlockField::BirthYear => vec![3],
            BlockField::FirstName | BlockField::FirstInitial | BlockField::FirstSoundex => vec![FIRST_NAME],
            BlockField::LastName | BlockField::LastSoundex => vec![LAST_NAME],
            // The name sounds agree in one order or the other: both name comparisons are biased.
            BlockField::NamesAnyOrder => vec![FIRST_NAME, LAST_NAME],
            BlockField::Email => vec![6],
            BlockField::Phone | BlockField::Zip | BlockField::Address => vec![7],
            BlockField::MemberNumber => vec![8],
        })
        .collect()
}

/// Frequencies of each level among comparison vectors (level 0 ignored), smoothed.
fn level_frequencies(vectors: &[Levels]) -> Vec<Vec<f64>> {
    let mut counts: Vec<Vec<f64>> = (0..N_COMPARISONS).map(|k| vec![0.0; levels_of(k)]).collect();
    for v in vectors {
        for (k, &l) in v.iter().enumerate() {
            if l > 0 {
                counts[k][l as usize - 1] += 1.0;
            }
        }
    }
    counts
        .into_iter()
        .map(|c| {
            let total: f64 = c.iter().sum::<f64>() + c.len() as f64 * 0.5;
            c.iter().map(|x| ((x + 0.5) / total).max(FLOOR)).collect()
        })
        .collect()
}

impl MatchModel {
    /// Train a model on prepared records and their blocked candidate pairs.
    /// `fields` are the records' compared fields (for the random pairs u comes from); `vectors` are the
    /// comparison vectors of `pairs`, in the same order.
    pub fn train(
        records: &PreparedRecords,
        fields: &CompareFields,
        pairs: &CandidatePairs,
        vectors: &[Levels],
        blocking: &BlockingConfig,
        config: &TrainingConfig,
    ) -> CoreResult<Self> {
        let n = records.len();
        if n < 2 {
            return Err(CoreError::Input(
                "identity resolution needs at least two person records".into(),
            ));
        }
        // u: random pairs.
        let mut rng = Rng::new(config.seed, &[0x0517]);
        let total_pairs = n as f64 * (n as f64 - 1.0) / 2.0;
        let sample = config.u_sample_pairs.min(total_pairs as usize).max(1);
        let (mut left, mut right) = (Vec::with_capacity(sample), Vec::with_capacity(sample));
        for _ in 0..sample {
            let i = rng.below(n as u64) as u32;
            let mut j = rng.below(n as u64 - 1) as u32;
            if j >= i {
                j += 1;
            }
            left.push(i);
            right.push(j);
        }
        let random_vectors = compare_pairs(fields, &left, &right);
        let u = level_frequencies(&random_vectors);

        // Prior from deterministic rules: exact SSN and birth date, or exact full name and birth date.
        let deterministic = vectors
            .iter()
            .filter(|v| (v[5] == 1 && v[3] == 1) || (v[FIRST_NAME] == 1 && v[LAST_NAME] == 1 && v[3] == 1))
            .count() as f64;
        let prior =
            ((deterministic / config.deterministic_recall.clamp(0.05, 1.0)) / total_pairs).clamp(1e-12, 0.5);

        // m: EM sessions, each on the candidate pairs of one training rule, with that rule's fields held out.
        let mut m_sum: Vec<Vec<f64>> = (0..N_COMPARISONS).map(|k| vec![0.0; levels_of(k)]).collect();
        let mut m_count = [0usize; N_COMPARISONS];
        let session = |rule_index: usize| -> Option<(Vec<usize>, Vec<Vec<f64>>)> {
            let fields = &blocking.rules[rule_index].fields;
            let held_out = comparisons_blocked_by(fields);
            // Every candidate pair that satisfies the rule, not only those it found first: a pair found first by
            // another rule still agrees on this rule's fields, and leaving it out would bias m.
            let keys: Vec<Option<u64>> = (0..n)
                .into_par_iter()
                .map(|row| key(records, row, fields))
                .collect();
            let session: Vec<&Levels> = (0..pairs.len())
                .into_par_iter()
                .filter(|&p| {
                    let (l, r) = (keys[pairs.left[p] as usize], keys[pairs.right[p] as usize]);
                    l.is_some() && l == r
                })
                .map(|p| &vectors[p])
                .collect();
            if session.len() < MIN_SESSION_PAIRS {
                return None;
            }
            let m = expectation_maximization(&session, &u, &held_out, config.max_iterations);
            Some((held_out, m))
        };
        // Adds a session's estimates for the comparisons it does not hold out.
        let mut add = |held_out: &[usize], m: &[Vec<f64>], m_count: &mut [usize]| {
            for k in (0..N_COMPARISONS).filter(|k| !held_out.contains(k)) {
                for (acc, x) in m_sum[k].iter_mut().zip(&m[k]) {
                    *acc += x;
                }
                m_count[k] += 1;
            }
        };
        let mut configured = Vec::with_capacity(config.training_rules.len());
        for rule_name in &config.training_rules {
            let Some(rule_index) = blocking.rules.iter().position(|r| &r.name == rule_name) else {
                return Err(CoreError::Config(format!(
                    "identity training rule '{rule_name}' is not one of the blocking rules"
                )));
            };
            configured.push(rule_index);
            if let Some((held_out, m)) = session(rule_index) {
                add(&held_out, &m, &mut m_count);
            }
        }
        // A training rule can find too few pairs in some data (no SSNs at all, say), which would leave the
        // comparisons the other sessions hold out at their starting values. Then the other blocking rules, in
        // their order, run sessions until each comparison has been trained by at least one.
        let mut untrained: Vec<usize> = (0..N_COMPARISONS).filter(|&k| m_count[k] == 0).collect();
        for rule_index in (0..blocking.rules.len()).filter(|i| !configured.contains(i)) {
            if untrained.is_empty() {
                break;
            }
            let trains_some = untrained
                .iter()
                .any(|k| !comparisons_blocked_by(&blocking.rules[rule_index].fields).contains(k));
            if !trains_some {
                continue;
            }
            if let Some((held_out, m)) = session(rule_index) {
                add(&held_out, &m, &mut m_count);
                untrained.retain(|k| held_out.contains(k));
            }
        }
        let comparisons = (0..N_COMPARISONS)
            .map(|k| {
                let m = if m_count[k] > 0 {
                    m_sum[k]
                        .iter()
                        .map(|x| (x / m_count[k] as f64).max(FLOOR))
                        .collect()
                } else {
                    default_m(levels_of(k))
                };
                ComparisonParameters {
                    name: COMPARISONS[k].name.into(),
                    levels: COMPARISONS[k].levels.iter().map(|s| s.to_string()).collect(),
                    m,
                    u: u[k].clone(),
                }
            })
            .collect();
        Ok(MatchModel {
            format: MODEL_FORMAT,
            carelake_version: crate::VERSION.into(),
            prior,
            comparisons,
            trained_on_records: n as u64,
        })
    }

    /// Check a loaded model against this version's comparisons.
    pub fn validate(&self) -> CoreResult<()> {
        if self.format != MODEL_FORMAT {
            return Err(CoreError::Config(format!(
                "identity model format {} is not supported (this carelake reads format {MODEL_FORMAT}): \
                 run once without --model to train one (the run saves identity_model.json)",
                self.format
            )));
        }
        if self.comparisons.len() != N_COMPARISONS {
            return Err(CoreError::Config(
                "identity model has a different set of comparisons".into(),
            ));
        }
        for (c, spec) in self.comparisons.iter().zip(COMPARISONS) {
            if c.name != spec.name || c.m.len() != spec.levels.len() || c.u.len() != spec.levels.len() {
                return Err(CoreError::Config(format!(
                    "identity model comparison '{}' does not match",
                    c.name
                )));
            }
            if c.m.iter().chain(&c.u).any(|p| !(*p > 0.0 && *p <= 1.0)) {
                return Err(CoreError::Config(format!(
                    "identity model comparison '{}' has invalid probabilities",
                    c.name
                )));
            }
        }
        if !(self.prior > 0.0 && self.prior < 1.0) {
            return Err(CoreError::Config(
                "identity model prior must be between 0 and 1".into(),
            ));
        }
        Ok(())
    }

    /// Serialize as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the model serializes")
    }

    /// Parse and validate a saved model.
    pub fn from_json(text: &str) -> CoreResult<Self> {
        let model: MatchModel =
            serde_json::from_str(text).map_err(|e| CoreError::Config(format!("identity model JSON: {e}")))?;
        model.validate()?;
        Ok(model)
    }

    /// Per-comparison match weights (log2 Bayes factors) of a comparison vector, adjusted by the term
    /// frequencies of the left record's first and last names (None: not known; see
    /// [`TermFrequencies::of_record`]). Engines without every record bring the frequencies to the pair.
    pub fn weights_with(
        &self,
        levels: &Levels,
        first_frequency: Option<f64>,
        last_frequency: Option<f64>,
    ) -> [f32; N_COMPARISONS] {
        let mut w = [0f32; N_COMPARISONS];
        for (k, &l) in levels.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let frequency = match k {
                FIRST_NAME if l == 1 => first_frequency,
                LAST_NAME if l == 1 => last_frequency,
                _ => None,
            };
            w[k] = match frequency {
                Some(f) => self.exact_name_weight(k, f),
                None => self.level_weight(k, l),
            };
        }
        w
    }

    /// The weight of level `level` (1-based) of comparison `k`, without term-frequency adjustment.
    pub fn level_weight(&self, k: usize, level: u8) -> f32 {
        let c = &self.comparisons[k];
        let l = usize::from(level) - 1;
        (c.m[l] / c.u[l]).log2() as f32
    }

    /// The weight of exact agreement on name comparison `k` for a value with term frequency `frequency`.
    pub fn exact_name_weight(&self, k: usize, frequency: f64) -> f32 {
        (self.comparisons[k].m[0] / frequency.max(FLOOR)).log2() as f32
    }

    /// The total match weight (prior included) and match probability of per-comparison weights.
    pub fn total(&self, weights: &[f32; N_COMPARISONS]) -> (f64, f64) {
        let total = total_weight(self.prior_weight(), weights);
        (total, probability(total))
    }

    /// The prior as a match weight.
    pub fn prior_weight(&self) -> f64 {
        (self.prior / (1.0 - self.prior)).log2()
    }
}

/// The prior's weight plus the per-comparison weights, summed in comparison order.
pub fn total_weight(prior_weight: f64, weights: &[f32; N_COMPARISONS]) -> f64 {
    prior_weight + weights.iter().map(|w| f64::from(*w)).sum::<f64>()
}

/// Match weight to probability.
pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

fn default_m(levels: usize) -> Vec<f64> {
    // Most matches agree exactly; the rest spread over the other levels.
    let rest = 0.1 / (levels.saturating_sub(1).max(1)) as f64;
    (0..levels).map(|l| if l == 0 { 0.9 } else { rest }).collect()
}

/// EM over comparison vectors with u fixed; returns m per comparison (held-out comparisons keep defaults).
fn expectation_maximization(
    vectors: &[&Levels],
    u: &[Vec<f64>],
    held_out: &[usize],
    iterations: usize,
) -> Vec<Vec<f64>> {
    // Compress to distinct patterns: EM cost is then per pattern, not per pair.
    let mut patterns: HashMap<Levels, f64> = HashMap::new();
    for v in vectors {
        *patterns.entry(**v).or_default() += 1.0;
    }
    let patterns: Vec<(Levels, f64)> = patterns.into_iter().collect();
    let mut m: Vec<Vec<f64>> = (0..N_COMPARISONS).map(|k| default_m(levels_of(k))).collect();
    let mut lambda: f64 = 0.5;
    for _ in 0..iterations {
        let mut m_acc: Vec<Vec<f64>> = (0..N_COMPARISONS).map(|k| vec![0.0; levels_of(k)]).collect();
        let mut matched = 0.0;
        let mut total = 0.0;
        for (v, count) in &patterns {
            let mut log_odds = (lambda / (1.0 - lambda)).ln();
            for (k, &l) in v.iter().enumerate() {
                if l > 0 && !held_out.contains(&k) {
                    log_odds += (m[k][l as usize - 1] / u[k][l as usize - 1]).ln();
                }
            }
            let p = 1.0 / (1.0 + (-log_odds).exp());
            matched += p * count;
            total += count;
            for (k, &l) in v.iter().enumerate() {
                if l > 0 {
                    m_acc[k][l as usize - 1] += p * count;
                }
            }
        }
        let new_lambda = (matched / total).clamp(1e-6, 1.0 - 1e-6);
        let mut change: f64 = (new_lambda - lambda).abs();
        lambda = new_lambda;
        for k in (0..N_COMPARISONS).filter(|k| !held_out.contains(k)) {
            let sum: f64 = m_acc[k].iter().sum::<f64>() + m_acc[k].len() as f64 * 0.01;
            for (l, acc) in m_acc[k].iter().enumerate() {
                let next = ((acc + 0.01) / sum).max(FLOOR);
                change = change.max((next - m[k][l]).abs());
                m[k][l] = next;
            }
        }
        if change < 1e-5 {
            break;
        }
    }
    m
}
