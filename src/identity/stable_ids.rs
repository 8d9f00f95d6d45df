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

/// A member id derived from a cluster's smallest record key: `MBR-` and the first 8 bytes of a SHA-256, in hex.
fn mint(seed_key: &str, attempt: u32) -> String {
    let digest = Sha256::new()
        .chain_update(seed_key.as_bytes())
        .chain_update(attempt.to_le_bytes())
        .finalize();
    // Hex written into a buffer on the stack: no hex string of the whole digest per cluster.
    let mut hex = [0u8; 16];
    hex::encode_to_slice(&digest[..8], &mut hex).expect("8 bytes are 16 hex digits");
    let mut id = String::with_capacity(20);
    id.push_str("MBR-");
    id.push_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"));
    id
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
    // The id a cluster keeps: among the previous ids it won, the one with the most of its records.
    let kept: Vec<Option<&str>> = (0..n_clusters)
        .into_par_iter()
        .map(|c| {
            votes[c]
                .iter()
                .filter(|(id, _)| claim.get(*id).is_some_and(|w| w.2 == c))
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(id, _)| *id)
        })
        .collect();
    // Each cluster's first choice, in parallel: its kept id, else its first minted id.
    let first_choice: Vec<String> = (0..n_clusters)
        .into_par_iter()
        .map(|c| match kept[c] {
            Some(id) => id.to_string(),
            None => mint(smallest[c].unwrap_or(""), 0),
        })
        .collect();
    // A minted id that is some previous id, or two clusters with the same id, are (astronomically rare)
    // collisions: only then are the ids assigned one cluster at a time, re-minting where one is taken. Without
    // any, that walk would keep every first choice, so the result is the same either way.
    let collides = {
        let mut sorted: Vec<&str> = first_choice.iter().map(String::as_str).collect();
        sorted.par_sort_unstable();
        sorted.windows(2).any(|w| w[0] == w[1])
            || (0..n_clusters)
                .into_par_iter()
                .any(|c| kept[c].is_none() && previous_ids.contains(first_choice[c].as_str()))
    };
    let of_cluster = if collides {
        assign_one_by_one(&kept, first_choice, &smallest, &previous_ids)
    } else {
        first_choice
    };
    // What changed, cluster by cluster in order: new members, and the previous ids merged into or split from
    // each cluster's id.
    let (claim, size) = (&claim, &size);
    let changes = (0..n_clusters)
        .into_par_iter()
        .flat_map_iter(|c| {
            let id = &of_cluster[c];
            let new = (kept[c].is_none() && votes[c].is_empty()).then(|| MemberChange {
                kind: "new",
                member_id: id.clone(),
                previous_member_id: None,
                records: size[c],
            });
            let moved = votes[c]
                .keys()
                .filter(move |prev| **prev != id.as_str())
                .map(move |prev| {
                    let kind = if claim.get(prev).is_some_and(|w| w.2 == c) {
                        "merge"
                    } else {
                        "split"
                    };
                    MemberChange {
                        kind,
                        member_id: id.clone(),
                        previous_member_id: Some(prev.to_string()),
                        records: size[c],
                    }
                });
            new.into_iter().chain(moved)
        })
        .collect();
    AssignedIds { of_cluster, changes }
}

/// Assign ids one cluster at a time, in cluster order: a cluster keeps its kept id, else takes its minted id
/// unless a previous id or an earlier cluster has it, minting again (attempt 1, 2, ...) until one is free.
fn assign_one_by_one(
    kept: &[Option<&str>],
    mut minted: Vec<String>,
    smallest: &[Option<&str>],
    previous_ids: &foldhash::HashSet<&str>,
) -> Vec<String> {
    let mut used: foldhash::HashSet<String> = foldhash::HashSet::default();
    let mut of_cluster = vec![String::new(); kept.len()];
    for c in 0..kept.len() {
        let id = match kept[c] {
            Some(id) => id.to_string(),
            None => {
                let seed = smallest[c].unwrap_or("");
                let mut attempt = 0;
                let mut id = std::mem::take(&mut minted[c]);
                while previous_ids.contains(id.as_str()) || used.contains(&id) {
                    attempt += 1;
                    id = mint(seed, attempt);
                }
                id
            }
        };
        used.insert(id.clone());
        of_cluster[c] = id;
    }
    of_cluster
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("src\u{1f}{i:03}")).collect()
    }

    #[test]
    fn minted_ids_are_the_first_16_hex_digits_of_the_sha256_of_key_and_attempt() {
        let mut h = Sha256::new();
        h.update("ehr\u{1f}42".as_bytes());
        h.update(3u32.to_le_bytes());
        let full = format!("{:x}", h.finalize());
        assert_eq!(mint("ehr\u{1f}42", 3), format!("MBR-{}", &full[..16]));
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
    fn a_minted_id_that_a_previous_member_had_is_minted_again() {
        let k = keys(2);
        // A member of the previous run, whose records are gone, had the id record 000's cluster would mint.
        let taken = mint(&k[0], 0);
        let previous: HashMap<String, String> = [("gone\u{1f}1".to_string(), taken.clone())].into();
        let ids = assign_member_ids(&k, &[0, 1], 2, &previous);
        assert_eq!(ids.of_cluster[0], mint(&k[0], 1));
        assert_eq!(ids.of_cluster[1], mint(&k[1], 0));
        assert_eq!(ids.changes.iter().filter(|c| c.kind == "new").count(), 2);
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
