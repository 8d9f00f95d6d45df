//! Identity resolution end to end on prepared records: block, compare, train (or reuse) the model, score,
//! cluster. Returns everything the output tables need, plus the blocking report.

use serde::{Deserialize, Serialize};

use super::blocking::{block, BlockingConfig, CandidatePairs, RuleReport};
use super::cluster::{cluster, ClusterConfig, Clusters};
use super::compare::{compare_pairs, CompareFields, Levels, N_COMPARISONS};
use super::model::{MatchModel, TrainingConfig};
use super::prepare::PreparedRecords;
use super::scoring::score;
use crate::error::{CoreError, CoreResult};
use crate::pipeline::progress::{PhaseClock, Progress};

/// All identity settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Blocking rules and cap.
    pub blocking: BlockingConfig,
    /// Model training.
    pub training: TrainingConfig,
    /// Clustering.
    pub clustering: ClusterConfig,
    /// Links below this probability are not kept in identity_links.
    pub keep_links_above: Option<f64>,
}

/// Links below this match probability are not kept in identity_links unless the settings say otherwise.
pub const DEFAULT_KEEP_LINKS_ABOVE: f64 = 0.01;

/// One scored candidate pair.
#[derive(Debug, Clone)]
pub struct ScoredPair {
    /// Left record.
    pub left: u32,
    /// Right record.
    pub right: u32,
    /// Blocking rule that found the pair.
    pub rule: u8,
    /// Agreement levels.
    pub levels: Levels,
    /// Per-comparison match weights.
    pub weights: [f32; N_COMPARISONS],
    /// Total match weight (prior included).
    pub weight: f32,
    /// Match probability.
    pub probability: f32,
}

/// The result of a resolution run.
#[derive(Debug)]
pub struct Resolution {
    /// The model used (trained in this run, or given).
    pub model: MatchModel,
    /// Scored pairs at or above the keep threshold.
    pub links: Vec<ScoredPair>,
    /// Clusters.
    pub clusters: Clusters,
    /// Blocking report per rule.
    pub blocking: Vec<RuleReport>,
    /// Candidate pairs compared.
    pub candidate_pairs: u64,
    /// Seconds spent training, scoring and clustering.
    pub phase_seconds: Vec<(String, f64)>,
}

/// Candidate pairs with their comparison vectors and the blocking report: the part of a resolution that
/// grows with the pair count, which the Spark engine computes on its executors.
#[derive(Debug, Default)]
pub struct ComparedPairs {
    /// Candidate pairs, sorted by (left, right).
    pub pairs: CandidatePairs,
    /// Comparison vector of each pair, in the same order.
    pub vectors: Vec<Levels>,
    /// Blocking report per rule.
    pub blocking: Vec<RuleReport>,
    /// Candidate pairs compared in all: more than `pairs` holds when the executors scored the pairs and sent
    /// only those a link could come from.
    pub candidates: u64,
    /// The records' compared fields, when this process packed them to compare the pairs (training reuses
    /// them for its random pairs).
    pub fields: Option<CompareFields>,
    /// The clusters, when they were found elsewhere from these pairs' links (by the Spark engine's executors,
    /// component by component, see [`super::distributed_cluster`]); the links are then only scored here.
    pub clusters: Option<Clusters>,
}

/// Block and compare on this machine.
pub fn block_and_compare(records: &PreparedRecords, config: &IdentityConfig) -> CoreResult<ComparedPairs> {
    let (pairs, blocking) = block(records, &config.blocking)?;
    Ok(compare_candidates(records, pairs, blocking))
}

/// Compare the candidate pairs that blocking found on this machine.
pub fn compare_candidates(
    records: &PreparedRecords,
    pairs: CandidatePairs,
    blocking: Vec<RuleReport>,
) -> ComparedPairs {
    let fields = CompareFields::new(records);
    let vectors = compare_pairs(&fields, &pairs.left, &pairs.right);
    let candidates = pairs.len() as u64;
    ComparedPairs {
        pairs,
        vectors,
        blocking,
        candidates,
        fields: Some(fields),
        clusters: None,
    }
}

/// Resolve prepared records into clusters. With `model`, reuse it; otherwise train one on these records.
pub fn resolve(
    records: &PreparedRecords,
    config: &IdentityConfig,
    model: Option<MatchModel>,
    progress: &dyn Progress,
) -> CoreResult<Resolution> {
    progress.start("identity", 7);
    let compared = block_and_compare(records, config)?;
    progress.advance(2);
    resolve_compared(records, compared, config, model, progress)
}

/// Train (unless `model` is given), score and cluster pairs already blocked and compared.
pub fn resolve_compared(
    records: &PreparedRecords,
    compared: ComparedPairs,
    config: &IdentityConfig,
    model: Option<MatchModel>,
    progress: &dyn Progress,
) -> CoreResult<Resolution> {
    let ComparedPairs {
        pairs,
        vectors,
        blocking,
        candidates,
        fields,
        clusters: clustered,
    } = compared;
    let mut clock = PhaseClock::start();
    let model = match model {
        Some(m) => {
            // Only training reads the packed fields again: free them before scoring and clustering.
            drop(fields);
            m.validate()?;
            m
        }
        None if candidates > pairs.len() as u64 => {
            return Err(CoreError::Internal(
                "pairs were scored before resolution, so a model must be given".into(),
            ))
        }
        None => {
            let fields = fields.unwrap_or_else(|| CompareFields::new(records));
            MatchModel::train(
                records,
                &fields,
                &pairs,
                &vectors,
                &config.blocking,
                &config.training,
            )?
        }
    };
    clock.lap("train");
    progress.advance(1);
    let links = score(
        records,
        &pairs,
        &vectors,
        &model,
        config.keep_links_above.unwrap_or(DEFAULT_KEEP_LINKS_ABOVE),
    );
    // The candidate pairs and their vectors (some 1.4 GB at 10M records) are done with once scored.
    drop((pairs, vectors));
    clock.lap("score");
    let clusters = clustered.unwrap_or_else(|| {
        let edges: Vec<(u32, u32, f32, f32)> = links
            .iter()
            .map(|l| (l.left, l.right, l.weight, l.probability))
            .collect();
        cluster(records, &edges, &config.clustering)
    });
    clock.lap("cluster");
    progress.advance(1);
    Ok(Resolution {
        model,
        links,
        clusters,
        blocking,
        candidate_pairs: candidates,
        phase_seconds: clock.into_phases(),
    })
}
