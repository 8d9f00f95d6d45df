//! Scoring candidate pairs with a trained model, fast: the same match weights and probabilities as
//! [`MatchModel::weights_with`] and [`MatchModel::total`], from tables computed once per run.
//!
//! Per pair, the model's formulas take a logarithm per comparison, two name-frequency look-ups by string, the
//! prior's logarithm and an exponential for the probability: at 78M candidate pairs that was most of the
//! scoring time. Here each level's weight is computed once, each record's name-frequency weights once, and
//! the probability only for pairs whose weight can reach the kept threshold. The tables hold what the model's
//! own weight functions return, so the values are identical to the bit.

use rayon::prelude::*;

use super::blocking::CandidatePairs;
use super::compare::{Levels, FIRST_NAME, LAST_NAME, N_COMPARISONS};
use super::model::{probability, total_weight, MatchModel, TermFrequencies};
use super::prepare::PreparedRecords;
use super::resolve::ScoredPair;

/// A model's weights, tabulated for the records of one run.
struct Scorer {
    /// Weight of each level of each comparison, without term-frequency adjustment.
    levels: Vec<Vec<f32>>,
    /// Per record, the exact-agreement weight of its first and last name adjusted for how common the name is
    /// (None when the name is missing or has no frequency).
    names: Vec<[Option<f32>; 2]>,
    /// The prior as a match weight.
    prior: f64,
}

impl Scorer {
    fn new(model: &MatchModel, records: &PreparedRecords) -> Self {
        let levels = model
            .comparisons
            .iter()
            .enumerate()
            .map(|(k, c)| (1..=c.m.len() as u8).map(|l| model.level_weight(k, l)).collect())
            .collect();
        let tf = TermFrequencies::from_records(records);
        let names = (0..records.len())
            .into_par_iter()
            .map(|i| {
                let (first, last) = tf.of_record(records, i);
                [
                    first.map(|f| model.exact_name_weight(FIRST_NAME, f)),
                    last.map(|f| model.exact_name_weight(LAST_NAME, f)),
                ]
            })
            .collect();
        Scorer {
            levels,
            names,
            prior: model.prior_weight(),
        }
    }

    /// The same weights as [`MatchModel::weights_with`] for the pair of left record `i` with `levels`.
    fn weights(&self, i: usize, levels: &Levels) -> [f32; N_COMPARISONS] {
        let mut w = [0f32; N_COMPARISONS];
        for (k, &l) in levels.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let adjusted = match k {
                FIRST_NAME if l == 1 => self.names[i][0],
                LAST_NAME if l == 1 => self.names[i][1],
                _ => None,
            };
            w[k] = adjusted.unwrap_or(self.levels[k][l as usize - 1]);
        }
        w
    }
}

/// Score every candidate pair with `model` and keep those with a match probability of at least `keep`, in pair
/// order.
pub fn score(
    records: &PreparedRecords,
    pairs: &CandidatePairs,
    vectors: &[Levels],
    model: &MatchModel,
    keep: f64,
) -> Vec<ScoredPair> {
    let scorer = Scorer::new(model, records);
    // A pair below this weight cannot reach `keep` (the margin absorbs rounding near the boundary; the
    // probability of the pairs above it is then checked exactly).
    let lowest = (keep / (1.0 - keep)).log2() - 1e-6;
    (0..pairs.len())
        .into_par_iter()
        .filter_map(|p| {
            let (i, j) = (pairs.left[p], pairs.right[p]);
            let weights = scorer.weights(i as usize, &vectors[p]);
            let total = total_weight(scorer.prior, &weights);
            if total < lowest {
                return None;
            }
            let prob = probability(total);
            (prob >= keep).then(|| ScoredPair {
                left: i,
                right: j,
                rule: pairs.rule[p],
                levels: vectors[p],
                weights,
                weight: total as f32,
                probability: prob as f32,
            })
        })
        .collect()
}
