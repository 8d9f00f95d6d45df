//! Clustering scored links into people: connected components, built strongest link first, with guards.
//!
//! Links are added in order of decreasing match weight (like Kruskal's algorithm). A link that would join two
//! clusters is refused when the union would exceed the size cap, or would put two different valid SSNs in one
//! person (a one-digit slip is not a conflict), or, when enabled, two different MRNs of the same source. A
//! refused link is counted: guards keep one bad link from chaining two people together.

use std::collections::HashMap;

use rayon::prelude::*;

use super::compare::is_one_edit_apart;
use super::prepare::PreparedRecords;

/// Guard name of a link refused because the union would exceed the size cap.
pub const MAX_CLUSTER_SIZE: &str = "max_cluster_size";
/// Guard name of a link refused because it would join two different SSNs.
pub const CONFLICTING_SSN: &str = "conflicting_ssn";
/// Guard name of a link refused because it would join two MRNs of one source.
pub const DISTINCT_MRN_WITHIN_SOURCE: &str = "distinct_mrn_within_source";
/// Every guard's name, as the clusters' `refused` counts name them.
pub const GUARDS: [&str; 3] = [MAX_CLUSTER_SIZE, CONFLICTING_SSN, DISTINCT_MRN_WITHIN_SOURCE];

/// Clustering settings.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Links at or above this match probability join clusters.
    pub threshold: f64,
    /// Largest cluster allowed.
    pub max_cluster_size: usize,
    /// Refuse clusters holding two different MRNs of one source (off by default: duplicate registrations in
    /// one EHR are exactly what resolution should merge).
    pub distinct_mrn_within_source: bool,
    /// Spark engine only: up to this many links at or above the threshold are clustered on the driver; above
    /// it, Spark finds the links' connected components on the executors and each component is clustered there
    /// (the same clusters either way). The native engine always clusters in its one process.
    pub driver_max_links: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            threshold: 0.9,
            max_cluster_size: 100,
            distinct_mrn_within_source: false,
            driver_max_links: 10_000_000,
        }
    }
}

/// Result of clustering.
#[derive(Debug, Clone)]
pub struct Clusters {
    /// Cluster number of each record (0..n_clusters), numbered by the cluster's first record.
    pub of_record: Vec<u32>,
    /// Number of clusters.
    pub count: usize,
    /// Links refused by a guard, by guard name.
    pub refused: HashMap<&'static str, u64>,
}

struct Guarded<'a> {
    parent: Vec<u32>,
    size: Vec<u32>,
    /// The first SSN of each root's cluster (None for records that are not roots or have none). Nearly every
    /// cluster has at most one distinct SSN, so the others live in `more_ssns` and no record needs a list of
    /// its own (ten million small allocations at 10M records).
    ssn: Vec<Option<&'a str>>,
    /// The further distinct SSNs of the roots whose clusters have more than one.
    more_ssns: HashMap<u32, Vec<&'a str>>,
    /// (source, MRN) of each root's cluster (empty unless the distinct-MRN guard is on).
    mrns: Vec<Vec<(&'a str, &'a str)>>,
}

impl<'a> Guarded<'a> {
    /// The distinct SSNs of root `root`'s cluster.
    fn ssns(&self, root: u32) -> impl Iterator<Item = &'a str> + '_ {
        self.ssn[root as usize]
            .into_iter()
            .chain(self.more_ssns.get(&root).into_iter().flatten().copied())
    }

    /// Move the SSNs of root `child`'s cluster into root `root`'s, each distinct SSN once.
    fn merge_ssns(&mut self, root: u32, child: u32) {
        let first = self.ssn[child as usize].take();
        let more = self.more_ssns.remove(&child).unwrap_or_default();
        for s in first.into_iter().chain(more) {
            if self.ssns(root).any(|t| t == s) {
                continue;
            }
            match self.ssn[root as usize] {
                None => self.ssn[root as usize] = Some(s),
                Some(_) => self.more_ssns.entry(root).or_default().push(s),
            }
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }
}

/// The fields the guards read, per record: its valid SSN, and its (source, MRN) when the distinct-MRN guard is on.
#[derive(Debug, Default)]
pub struct GuardFields<'a> {
    /// Each record's SSN (None when it has none).
    pub ssn: Vec<Option<&'a str>>,
    /// Each record's (source system, MRN) when the distinct-MRN guard is on; empty (no entry per record) when
    /// it is off.
    pub mrns: Vec<Vec<(&'a str, &'a str)>>,
}

impl<'a> GuardFields<'a> {
    /// The guard fields of prepared records.
    pub fn of_records(records: &'a PreparedRecords, config: &ClusterConfig) -> Self {
        let n = records.len();
        GuardFields {
            ssn: (0..n).map(|i| PreparedRecords::get(&records.ssn, i)).collect(),
            // Kept only when the guard is on.
            mrns: match config.distinct_mrn_within_source {
                true => (0..n)
                    .map(|i| {
                        PreparedRecords::get(&records.source_system, i)
                            .zip(PreparedRecords::get(&records.mrn, i))
                            .into_iter()
                            .collect()
                    })
                    .collect(),
                false => Vec::new(),
            },
        }
    }
}

/// Cluster records given links `(left, right, weight, probability)`.
pub fn cluster(
    records: &PreparedRecords,
    links: &[(u32, u32, f32, f32)],
    config: &ClusterConfig,
) -> Clusters {
    cluster_guarded(GuardFields::of_records(records, config), links, config)
}

/// Cluster the records whose guard fields are `guards` given links `(left, right, weight, probability)`
/// between them. The decisions on a link read only the clusters of its two records, so clustering each
/// connected component of the links on its own, with its links in the same relative order, gives the same
/// clusters as clustering all records at once (what the Spark engine's per-component step relies on).
pub fn cluster_guarded(
    guards: GuardFields<'_>,
    links: &[(u32, u32, f32, f32)],
    config: &ClusterConfig,
) -> Clusters {
    let n = guards.ssn.len();
    let mut g = Guarded {
        parent: (0..n as u32).collect(),
        size: vec![1; n],
        ssn: guards.ssn,
        more_ssns: HashMap::new(),
        mrns: guards.mrns,
    };
    let mut order: Vec<usize> = (0..links.len())
        .filter(|&k| f64::from(links[k].3) >= config.threshold)
        .collect();
    // Strongest first; ties in link order, so the parallel sort gives one order.
    order.par_sort_unstable_by(|&a, &b| links[b].2.total_cmp(&links[a].2).then(a.cmp(&b)));
    let mut refused: HashMap<&'static str, u64> = HashMap::new();
    for k in order {
        let (a, b) = (g.find(links[k].0), g.find(links[k].1));
        if a == b {
            continue;
        }
        if (g.size[a as usize] + g.size[b as usize]) as usize > config.max_cluster_size {
            *refused.entry(MAX_CLUSTER_SIZE).or_default() += 1;
            continue;
        }
        let ssn_conflict = g.ssn[a as usize].is_some()
            && g.ssn[b as usize].is_some()
            && !g
                .ssns(a)
                .any(|s| g.ssns(b).any(|t| s == t || is_one_edit_apart(s, t)));
        if ssn_conflict {
            *refused.entry(CONFLICTING_SSN).or_default() += 1;
            continue;
        }
        let mrn_conflict = config.distinct_mrn_within_source && {
            let (x, y) = (&g.mrns[a as usize], &g.mrns[b as usize]);
            x.iter().any(|(s, m)| y.iter().any(|(t, n)| s == t && m != n))
        };
        if mrn_conflict {
            *refused.entry(DISTINCT_MRN_WITHIN_SOURCE).or_default() += 1;
            continue;
        }
        // Union by size; merge the guard sets into the new root.
        let (root, child) = if g.size[a as usize] >= g.size[b as usize] {
            (a, b)
        } else {
            (b, a)
        };
        g.parent[child as usize] = root;
        g.size[root as usize] += g.size[child as usize];
        g.merge_ssns(root, child);
        if config.distinct_mrn_within_source {
            let moved = std::mem::take(&mut g.mrns[child as usize]);
            g.mrns[root as usize].extend(moved);
        }
    }
    let (of_record, count) = number_by_first_record(n, |i| g.find(i as u32) as usize);
    Clusters {
        count,
        of_record,
        refused,
    }
}

/// Cluster numbers 0, 1, ... in the order of each cluster's first record, given each record's cluster root
/// (`root_of`, called for records 0..n in order); with the count of clusters.
pub(crate) fn number_by_first_record(n: usize, mut root_of: impl FnMut(usize) -> usize) -> (Vec<u32>, usize) {
    let mut number = vec![u32::MAX; n];
    let mut count = 0u32;
    let mut of_record = Vec::with_capacity(n);
    for i in 0..n {
        let root = root_of(i);
        if number[root] == u32::MAX {
            number[root] = count;
            count += 1;
        }
        of_record.push(number[root]);
    }
    (of_record, count as usize)
}
