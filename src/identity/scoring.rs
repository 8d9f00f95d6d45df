//! Scoring candidate pairs with a trained model, fast: the same match weights and probabilities as
//! [`MatchModel::weights`] and [`MatchModel::total`], from tables computed once per run.
//!
//! Per pair, the model's formulas take a logarithm per comparison, two name-frequency look-ups by string, the
//! prior's logarithm and an exponential for the probability: at 78M candidate pairs that was most of the
//! scoring time. Here each level's weight is computed once, each record's name-frequency weights once, and
//! the probability only for pairs whose weight can reach the kept threshold. The expressions are the same, so
//! the values are identical to the bit.

use rayon::prelude::*;

use super::blocking::CandidatePairs;
use super::compare::{Levels, FIRST_NAME, LAST_NAME, N_COMPARISONS};
use super::model::{probability, MatchModel, TermFrequencies, FLOOR};
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
            .map(|c| c.m.iter().zip(&c.u).map(|(m, u)| (m / u).log2() as f32).collect())
            .collect();
        let tf = TermFrequencies::from_records(records);
        let exact = |k: usize| model.comparisons[k].m[0];
        let weight =
            |frequency: Option<&f64>, k: usize| frequency.map(|f| (exact(k) / f.max(FLOOR)).log2() as f32);
        let names = (0..records.len())
            .into_par_iter()
            .map(|i| {
                let first = PreparedRecords::get(&records.first, i).and_then(|v| tf.first.get(v));
                let last = PreparedRecords::get(&records.last, i).and_then(|v| tf.last.get(v));
                [weight(first, FIRST_NAME), weight(last, LAST_NAME)]
            })
            .collect();
        Scorer {
            levels,
            names,
            prior: model.prior_weight(),
        }
    }

    /// The same weights as [`MatchModel::weights`] for the pair of left record `i` with `levels`.
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
            let total = scorer.prior + weights.iter().map(|w| f64::from(*w)).sum::<f64>();
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
