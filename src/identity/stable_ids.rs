//! Stable member ids across runs.
//!
//! Given the previous run's xref (source record -> member id), each cluster keeps the previous id that most of
//! its records carried. When clusters merge, the surviving id is the one held by the most records (ties: the
//! smaller id) and the others are recorded as merged into it. When a previous member splits, the piece with the
//! most of its records keeps the id and the other pieces get new ids, recorded as split from it. New ids are
//! derived from the cluster's smallest record key, so the same input always mints the same ids.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// One change of member ids in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChange {
    /// `new`, `merge` or `split`.
    pub kind: &'static str,
    /// The member id after the run.
    pub member_id: String,
    /// The previous member id involved (merged away, or split from); None for `new`.
    pub previous_member_id: Option<String>,
    /// Records of the cluster.
    pub records: u64,
}

/// Member ids for clusters, and what changed.
#[derive(Debug, Clone)]
pub struct AssignedIds {
    /// Member id per cluster number.
    pub of_cluster: Vec<String>,
    /// Changes relative to the previous run.
    pub changes: Vec<MemberChange>,
}

fn mint(seed_key: &str, attempt: u32) -> String {
    let mut h = Sha256::new();
    h.update(seed_key.as_bytes());
    h.update(attempt.to_le_bytes());
    format!("MBR-{}", &hex::encode(h.finalize())[..16])
}

/// Assign member ids to clusters.
///
/// `record_keys[i]` is record i's key (`source_system \u{1f} source_record_id`), `cluster_of[i]` its cluster,
/// `previous` the previous xref by record key.
pub fn assign_member_ids<S: std::hash::BuildHasher>(
    record_keys: &[String],
    cluster_of: &[u32],
    n_clusters: usize,
    previous: &HashMap<String, String, S>,
) -> AssignedIds {
    // Per cluster: previous ids with their record counts, the smallest record key, the size.
    let mut votes: Vec<BTreeMap<&str, u64>> = vec![BTreeMap::new(); n_clusters];
    let mut smallest: Vec<Option<&str>> = vec![None; n_clusters];
    let mut size = vec![0u64; n_clusters];
    for (key, &c) in record_keys.iter().zip(cluster_of) {
        let c = c as usize;
        size[c] += 1;
        if smallest[c].is_none_or(|s| key.as_str() < s) {
            smallest[c] = Some(key);
        }
        if let Some(id) = previous.get(key) {
            *votes[c].entry(id.as_str()).or_default() += 1;
        }
    }
    // Each previous id goes to the cluster holding most of its records (ties: the smaller cluster key).
    let mut claim: foldhash::HashMap<&str, (u64, &str, usize)> = foldhash::HashMap::default();
    for (c, v) in votes.iter().enumerate() {
        for (&id, &count) in v {
            let candidate = (count, smallest[c].unwrap_or(""), c);
            claim
                .entry(id)
                .and_modify(|best| {
                    if count > best.0 || (count == best.0 && candidate.1 < best.1) {
                        *best = candidate;
                    }
                })
                .or_insert(candidate);
        }
    }
    let previous_ids: foldhash::HashSet<&str> = previous.values().map(String::as_str).collect();
    // Candidate ids for every cluster, hashed in parallel; collisions are resolved in order below.
    let mut minted: Vec<String> = (0..n_clusters)
        .into_par_iter()
        .map(|c| mint(smallest[c].unwrap_or(""), 0))
        .collect();
    let mut used: foldhash::HashSet<String> = foldhash::HashSet::default();
    let mut of_cluster = vec![String::new(); n_clusters];
    let mut changes = Vec::new();
    for c in 0..n_clusters {
        // The cluster keeps the id with the most of its records among those it won.
        let won: Vec<(&str, u64)> = votes[c]
            .iter()
            .filter(|(id, _)| claim.get(*id).is_some_and(|w| w.2 == c))
            .map(|(id, n)| (*id, *n))
            .collect();
        let keep = won
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(id, _)| id.to_string());
        let id = match keep {
            Some(id) => id,
            None => {
                let seed = smallest[c].unwrap_or("");
                let mut attempt = 0;
                let mut id = std::mem::take(&mut minted[c]);
                while previous_ids.contains(id.as_str()) || used.contains(&id) {
                    attempt += 1;
                    id = mint(seed, attempt);
                }
                if votes[c].is_empty() {
                    changes.push(MemberChange {
                        kind: "new",
                        member_id: id.clone(),
                        previous_member_id: None,
                        records: size[c],
                    });
                }
                id
            }
        };
        for prev in votes[c].keys() {
            if *prev == id {
                continue;
            }
            let kind = if claim.get(prev).is_some_and(|w| w.2 == c) {
                "merge"
            } else {
                "split"
            };
            changes.push(MemberChange {
                kind,
                member_id: id.clone(),
                previous_member_id: Some(prev.to_string()),
                records: size[c],
            });
        }
        used.insert(id.clone());
        of_cluster[c] = id;
    }
    AssignedIds { of_cluster, changes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("src\u{1f}{i:03}")).collect()
    }

    #[test]
    fn first_run_mints_deterministic_ids() {
        let a = assign_member_ids(&keys(3), &[0, 0, 1], 2, &HashMap::new());
        let b = assign_member_ids(&keys(3), &[0, 0, 1], 2, &HashMap::new());
        assert_eq!(a.of_cluster, b.of_cluster);
        assert_ne!(a.of_cluster[0], a.of_cluster[1]);
        assert_eq!(a.changes.iter().filter(|c| c.kind == "new").count(), 2);
    }

    #[test]
    fn ids_survive_reruns_merges_and_splits() {
        let k = keys(5);
        let first = assign_member_ids(&k, &[0, 0, 1, 1, 2], 3, &HashMap::new());
        let previous: HashMap<String, String> = k
            .iter()
            .zip([0usize, 0, 1, 1, 2])
            .map(|(key, c)| (key.clone(), first.of_cluster[c].clone()))
            .collect();

        // Same clusters: same ids, no changes.
        let same = assign_member_ids(&k, &[0, 0, 1, 1, 2], 3, &previous);
        assert_eq!(same.of_cluster, first.of_cluster);
        assert!(same.changes.is_empty());

        // Clusters 1 and 2 merge: the id with more records survives, the other is merged into it.
        let merged = assign_member_ids(&k, &[0, 0, 1, 1, 1], 2, &previous);
        assert_eq!(merged.of_cluster[1], first.of_cluster[1]);
        assert_eq!(
            merged.changes,
            vec![MemberChange {
                kind: "merge",
                member_id: first.of_cluster[1].clone(),
                previous_member_id: Some(first.of_cluster[2].clone()),
                records: 3,
            }]
        );

        // Cluster 0 splits: the first piece keeps the id, the other gets a new one recorded as a split.
        let split = assign_member_ids(&k, &[0, 3, 1, 1, 2], 4, &previous);
        assert_eq!(split.of_cluster[0], first.of_cluster[0]);
        assert!(!first.of_cluster.contains(&split.of_cluster[3]));
        assert_eq!(split.changes.len(), 1);
        assert_eq!(split.changes[0].kind, "split");
        assert_eq!(
            split.changes[0].previous_member_id.as_deref(),
            Some(first.of_cluster[0].as_str())
        );
    }
}
