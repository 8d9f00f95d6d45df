//! Accuracy against a truth column: pairwise precision, recall and F1 of links and of clusters.

use std::collections::HashMap;

use serde::Serialize;

/// Precision, recall and F1 of one kind of prediction.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Scores {
    /// Predicted pairs that are true.
    pub true_positives: u64,
    /// Predicted pairs that are false.
    pub false_positives: u64,
    /// True pairs not predicted.
    pub false_negatives: u64,
    /// TP / (TP + FP).
    pub precision: f64,
    /// TP / (TP + FN).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

impl Scores {
    fn new(tp: u64, fp: u64, fn_: u64) -> Self {
        let precision = if tp + fp == 0 {
            1.0
        } else {
            tp as f64 / (tp + fp) as f64
        };
        let recall = if tp + fn_ == 0 {
            1.0
        } else {
            tp as f64 / (tp + fn_) as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Scores {
            true_positives: tp,
            false_positives: fp,
            false_negatives: fn_,
            precision,
            recall,
            f1,
        }
    }
}

/// Accuracy of links (pairs scored at or above the threshold) and of clusters (all pairs within a cluster).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Evaluation {
    /// Pairwise scores of the links.
    pub pairwise: Scores,
    /// Pairwise scores of the clusters.
    pub cluster: Scores,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Evaluate links and clusters against `truth` (the true entity of each record; all pairs of one entity match).
pub fn evaluate<T: std::hash::Hash + Eq>(truth: &[T], links: &[(u32, u32)], clusters: &[u32]) -> Evaluation {
    let mut per_entity: HashMap<&T, u64> = HashMap::new();
    for t in truth {
        *per_entity.entry(t).or_default() += 1;
    }
    let true_pairs: u64 = per_entity.values().map(|&n| pairs(n)).sum();

    let tp_links = links
        .iter()
        .filter(|(a, b)| truth[*a as usize] == truth[*b as usize])
        .count() as u64;
    let pairwise = Scores::new(tp_links, links.len() as u64 - tp_links, true_pairs - tp_links);

    let mut per_cluster: HashMap<u32, u64> = HashMap::new();
    let mut per_cluster_entity: HashMap<(u32, &T), u64> = HashMap::new();
    for (c, t) in clusters.iter().zip(truth) {
        *per_cluster.entry(*c).or_default() += 1;
        *per_cluster_entity.entry((*c, t)).or_default() += 1;
    }
    let predicted: u64 = per_cluster.values().map(|&n| pairs(n)).sum();
    let tp: u64 = per_cluster_entity.values().map(|&n| pairs(n)).sum();
    let cluster = Scores::new(tp, predicted - tp, true_pairs - tp);
    Evaluation { pairwise, cluster }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_imperfect_predictions() {
        let truth = ["a", "a", "a", "b", "b", "c"];
        let perfect = evaluate(&truth, &[(0, 1), (1, 2), (0, 2), (3, 4)], &[0, 0, 0, 1, 1, 2]);
        assert_eq!(perfect.pairwise.f1, 1.0);
        assert_eq!(perfect.cluster.f1, 1.0);
        // Clusters {a,a} {a} {b,b,c}: TP = 1 + 1 = 2 of 4 true pairs; predicted 1 + 3 = 4.
        let e = evaluate(&truth, &[(0, 1), (4, 5)], &[0, 0, 1, 2, 2, 2]);
        assert_eq!(e.cluster.true_positives, 2);
        assert_eq!(e.cluster.false_positives, 2);
        assert_eq!(e.cluster.false_negatives, 2);
        assert!((e.pairwise.precision - 0.5).abs() < 1e-9);
    }
}
