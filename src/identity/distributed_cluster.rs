//! Clustering spread over many processes, for links that should not all come to one machine.
//!
//! The Spark engine finds the connected components of the links at or above the clustering threshold with
//! Spark, hands the links of whole components, many at a time, to [`cluster_components`] (the native guarded
//! clustering, strongest link first), and the driver turns the labels every component returned into the run's clusters
//! ([`clusters_from_labels`]). A guard's decision on a link reads only the two clusters the link would join,
//! and those lie in the link's component, so clustering the components one by one, each with its links in the
//! global order (weight, then record keys), gives exactly the clusters of clustering everything at once.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Float32Type, Int64Type, Schema};

use super::cluster::{cluster_guarded, number_by_first_record, ClusterConfig, Clusters, GuardFields, GUARDS};
use super::distributed::record_index;
use super::prepare::PreparedRecords;
use crate::error::{CoreError, CoreResult};
use crate::model::{primitive_column, text_column};

const TABLE: &str = "component_links";

/// The schema [`cluster_components`] returns: a row per record whose cluster is named after another record
/// (`record_key`, `cluster_key`: the smallest record key of its cluster), and a row per guard that refused
/// links (`guard`, `refused`), the other columns null.
pub fn cluster_labels_schema() -> Schema {
    Schema::new(vec![
        Field::new("record_key", DataType::Utf8, true),
        Field::new("cluster_key", DataType::Utf8, true),
        Field::new("guard", DataType::Utf8, true),
        Field::new("refused", DataType::Int64, true),
    ])
}

/// Cluster one or more whole connected components of links. The batch holds each link once with `left_key`
/// < `right_key`, its `weight` and `probability` (32-bit floats, as the scoring kernel returns them) and both
/// records' guard fields `l_ssn`, `r_ssn`, `l_source_system`, `r_source_system`, `l_mrn`, `r_mrn`. A record
/// that no link names is a cluster of its own and needs no row.
pub fn cluster_components(batch: &RecordBatch, config: &ClusterConfig) -> CoreResult<RecordBatch> {
    let left = text_column(batch, TABLE, "left_key")?;
    let right = text_column(batch, TABLE, "right_key")?;
    let weight = primitive_column::<Float32Type>(batch, TABLE, "weight", "a 32-bit float")?;
    let probability = primitive_column::<Float32Type>(batch, TABLE, "probability", "a 32-bit float")?;
    for (name, column) in [("weight", weight), ("probability", probability)] {
        if column.null_count() > 0 {
            return Err(CoreError::Internal(format!("a link to cluster has no {name}")));
        }
    }
    let side = |prefix: &str, name: &str| text_column(batch, TABLE, &format!("{prefix}{name}"));
    let sides = [
        (
            left,
            side("l_", "ssn")?,
            side("l_", "source_system")?,
            side("l_", "mrn")?,
        ),
        (
            right,
            side("r_", "ssn")?,
            side("r_", "source_system")?,
            side("r_", "mrn")?,
        ),
    ];
    // The records, in key order: the order the driver numbers records in, so ties break the same way.
    let mut nodes: Vec<&str> = left.iter().chain(right.iter()).flatten().collect();
    if nodes.len() != 2 * batch.num_rows() {
        return Err(CoreError::Internal("a link to cluster has no record key".into()));
    }
    nodes.sort_unstable();
    nodes.dedup();
    let index: HashMap<&str, u32> = nodes.iter().enumerate().map(|(i, k)| (*k, i as u32)).collect();
    let mut guards = GuardFields {
        ssn: vec![None; nodes.len()],
        mrns: match config.distinct_mrn_within_source {
            true => vec![Vec::new(); nodes.len()],
            false => Vec::new(),
        },
    };
    let mut links: Vec<(u32, u32, f32, f32)> = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        for (keys, ssn, source, mrn) in &sides {
            let i = index[keys.value(row)] as usize;
            guards.ssn[i] = PreparedRecords::get(ssn, row);
            if config.distinct_mrn_within_source {
                guards.mrns[i] = PreparedRecords::get(source, row)
                    .zip(PreparedRecords::get(mrn, row))
                    .into_iter()
                    .collect();
            }
        }
        let (l, r) = (index[left.value(row)], index[right.value(row)]);
        if l >= r {
            return Err(CoreError::Internal(
                "a link to cluster is not ordered by record key".into(),
            ));
        }
        links.push((l, r, weight.value(row), probability.value(row)));
    }
    // Link order: by the record keys, as the driver holds its links; the clustering then sorts by weight.
    links.sort_unstable_by_key(|&(l, r, _, _)| (l, r));
    let clusters = cluster_guarded(guards, &links, config);
    labels_batch(&nodes, &clusters)
}

/// The rows [`cluster_components`] returns for its clusters.
fn labels_batch(nodes: &[&str], clusters: &Clusters) -> CoreResult<RecordBatch> {
    // Clusters are numbered by their first record, so the first record seen of each is its smallest key.
    let mut first: Vec<Option<usize>> = vec![None; clusters.count];
    let mut record_key = StringBuilder::new();
    let mut cluster_key = StringBuilder::new();
    let mut guard = StringBuilder::new();
    let mut refused: Vec<Option<i64>> = Vec::new();
    for (i, &c) in clusters.of_record.iter().enumerate() {
        let root = *first[c as usize].get_or_insert(i);
        if root != i {
            record_key.append_value(nodes[i]);
            cluster_key.append_value(nodes[root]);
            guard.append_null();
            refused.push(None);
        }
    }
    let mut refusals: Vec<(&&str, &u64)> = clusters.refused.iter().collect();
    refusals.sort();
    for (name, count) in refusals {
        record_key.append_null();
        cluster_key.append_null();
        guard.append_value(name);
        refused.push(Some(*count as i64));
    }
    Ok(RecordBatch::try_new(
        Arc::new(cluster_labels_schema()),
        vec![
            Arc::new(record_key.finish()),
            Arc::new(cluster_key.finish()),
            Arc::new(guard.finish()),
            Arc::new(Int64Array::from(refused)),
        ],
    )?)
}

/// The clusters of records whose sorted keys are `keys`, from the labels [`cluster_components`] returned for
/// every component: records without a label are clusters of their own; clusters are numbered by their first
/// record, as [`super::cluster::cluster`] numbers them. Labels naming records the driver does not hold, or a
/// cluster key that is not its cluster's smallest, mean the executors saw other data: an internal error.
pub fn clusters_from_labels(keys: &[String], labels: &[RecordBatch]) -> CoreResult<Clusters> {
    let index = |key: &str| record_index(keys, key, "a cluster label");
    let mut root: Vec<u32> = (0..keys.len() as u32).collect();
    let mut refused: HashMap<&'static str, u64> = HashMap::new();
    for batch in labels {
        let record = text_column(batch, "cluster_labels", "record_key")?;
        let cluster = text_column(batch, "cluster_labels", "cluster_key")?;
        let guard = text_column(batch, "cluster_labels", "guard")?;
        let count = primitive_column::<Int64Type>(batch, "cluster_labels", "refused", "a 64-bit integer")?;
        for row in 0..batch.num_rows() {
            if record.is_valid(row) && cluster.is_valid(row) {
                let (i, c) = (index(record.value(row))?, index(cluster.value(row))?);
                if c >= i {
                    return Err(CoreError::Internal(
                        "a cluster label is not its cluster's smallest record key".into(),
                    ));
                }
                root[i as usize] = c;
            } else if guard.is_valid(row) && count.is_valid(row) {
                let name = GUARDS
                    .iter()
                    .find(|g| **g == guard.value(row))
                    .ok_or_else(|| CoreError::Internal("a cluster label names an unknown guard".into()))?;
                *refused.entry(name).or_default() += count.value(row) as u64;
            } else {
                return Err(CoreError::Internal("a cluster label row is incomplete".into()));
            }
        }
    }
    if root.iter().any(|&r| root[r as usize] != r) {
        return Err(CoreError::Internal(
            "a cluster label points at a record that is labelled itself".into(),
        ));
    }
    let (of_record, count) = number_by_first_record(keys.len(), |i| root[i] as usize);
    Ok(Clusters {
        of_record,
        count,
        refused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Array, StringArray};

    /// A link: left key, right key, weight, probability.
    type Link<'a> = (&'a str, &'a str, f32, f32);

    /// Links as a component batch; `ssn` of each record by key.
    fn component(links: &[Link], ssn: &HashMap<&str, &str>) -> RecordBatch {
        let text = |f: &dyn Fn(&Link) -> Option<String>| -> Arc<dyn Array> {
            Arc::new(links.iter().map(f).collect::<StringArray>())
        };
        let schema = Schema::new(
            [
                "left_key",
                "right_key",
                "l_ssn",
                "r_ssn",
                "l_source_system",
                "r_source_system",
                "l_mrn",
                "r_mrn",
            ]
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .chain([
                Field::new("weight", DataType::Float32, false),
                Field::new("probability", DataType::Float32, false),
            ])
            .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                text(&|l| Some(l.0.to_string())),
                text(&|l| Some(l.1.to_string())),
                text(&|l| ssn.get(l.0).map(|s| s.to_string())),
                text(&|l| ssn.get(l.1).map(|s| s.to_string())),
                text(&|_| Some("ehr".into())),
                text(&|_| Some("ehr".into())),
                text(&|_| None),
                text(&|_| None),
                Arc::new(Float32Array::from_iter_values(links.iter().map(|l| l.2))),
                Arc::new(Float32Array::from_iter_values(links.iter().map(|l| l.3))),
            ],
        )
        .unwrap()
    }

    #[test]
    fn components_clustered_apart_give_the_clusters_of_clustering_at_once() {
        // Two components. In the first, the strongest links join a-b and c-d; the a-c link would join
        // two different SSNs and is refused; b-e ties with d-e, and the earlier link in key order wins,
        // after which the other would make a cluster of 5, above the cap of 4.
        let keys: Vec<String> = ["a", "b", "c", "d", "e", "f", "g", "h", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let ssn: HashMap<&str, &str> = [("a", "111223333"), ("c", "999887777"), ("e", "111223333")]
            .into_iter()
            .collect();
        let first = [
            ("a", "b", 20.0, 0.99),
            ("c", "d", 19.0, 0.99),
            ("a", "c", 18.0, 0.98),
            ("b", "e", 10.0, 0.95),
            ("d", "e", 10.0, 0.95),
        ];
        let second = [
            ("f", "g", 12.0, 0.97),
            ("g", "h", 11.0, 0.96),
            ("f", "h", 9.0, 0.93),
        ];
        let config = ClusterConfig {
            max_cluster_size: 4,
            ..ClusterConfig::default()
        };
        let labels = [
            cluster_components(&component(&first, &ssn), &config).unwrap(),
            cluster_components(&component(&second, &ssn), &config).unwrap(),
        ];
        let spread = clusters_from_labels(&keys, &labels).unwrap();

        // The same links clustered at once over all records.
        let ssns: Vec<Option<&str>> = keys.iter().map(|k| ssn.get(k.as_str()).copied()).collect();
        let at = |k: &str| keys.iter().position(|x| x == k).unwrap() as u32;
        let all: Vec<(u32, u32, f32, f32)> = first
            .iter()
            .chain(second.iter())
            .map(|&(l, r, w, p)| (at(l), at(r), w, p))
            .collect::<Vec<_>>();
        let mut sorted = all.clone();
        sorted.sort_by_key(|&(l, r, _, _)| (l, r));
        let together = cluster_guarded(
            GuardFields {
                ssn: ssns,
                mrns: Vec::new(),
            },
            &sorted,
            &config,
        );
        assert_eq!(spread.of_record, together.of_record);
        assert_eq!(spread.count, together.count);
        assert_eq!(spread.refused, together.refused);
        // a, b, e | c, d | f, g, h | x.
        assert_eq!(spread.of_record, vec![0, 0, 1, 1, 0, 2, 2, 2, 3]);
        assert_eq!(spread.refused.get("conflicting_ssn"), Some(&1));
        assert_eq!(spread.refused.get("max_cluster_size"), Some(&1));
    }

    #[test]
    fn random_graphs_clustered_in_buckets_of_components_equal_clustering_at_once() {
        // A small linear congruential generator: the graphs are the same on every run.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % bound
        };
        for _ in 0..20 {
            let keys: Vec<String> = (0..60).map(|i| format!("r{i:03}")).collect();
            let ssn_values = ["111223333", "111223334", "999887777"];
            let mut ssn: HashMap<&str, &str> = HashMap::new();
            for k in &keys {
                if next(3) == 0 {
                    ssn.insert(k, ssn_values[next(3) as usize]);
                }
            }
            let mut links: Vec<Link> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for _ in 0..90 {
                let (a, b) = (next(60) as usize, next(60) as usize);
                if a == b || !seen.insert((a.min(b), a.max(b))) {
                    continue;
                }
                // Few distinct weights, so ties are common and their order matters.
                let weight = next(4) as f32 + 10.0;
                links.push((&keys[a.min(b)], &keys[a.max(b)], weight, 0.95));
            }
            let config = ClusterConfig {
                max_cluster_size: 1 + next(6) as usize,
                ..ClusterConfig::default()
            };
            // Components by a plain union-find; links in scrambled order.
            let at = |k: &str| keys.iter().position(|x| x == k).unwrap();
            let mut parent: Vec<usize> = (0..keys.len()).collect();
            fn root(parent: &mut [usize], mut x: usize) -> usize {
                while parent[x] != x {
                    x = parent[x];
                }
                x
            }
            for l in &links {
                let (a, b) = (root(&mut parent, at(l.0)), root(&mut parent, at(l.1)));
                parent[a] = b;
            }
            // Whole components in three buckets, as the Spark engine groups them.
            let mut buckets: HashMap<usize, Vec<Link>> = HashMap::new();
            for l in links.iter().rev() {
                buckets
                    .entry(root(&mut parent, at(l.0)) % 3)
                    .or_default()
                    .push(*l);
            }
            let labels: Vec<RecordBatch> = buckets
                .values()
                .map(|c| cluster_components(&component(c, &ssn), &config).unwrap())
                .collect();
            let spread = clusters_from_labels(&keys, &labels).unwrap();
            let mut indexed: Vec<(u32, u32, f32, f32)> = links
                .iter()
                .map(|l| (at(l.0) as u32, at(l.1) as u32, l.2, l.3))
                .collect();
            indexed.sort_by_key(|&(l, r, _, _)| (l, r));
            let guards = GuardFields {
                ssn: keys.iter().map(|k| ssn.get(k.as_str()).copied()).collect(),
                mrns: Vec::new(),
            };
            let together = cluster_guarded(guards, &indexed, &config);
            assert_eq!(spread.of_record, together.of_record);
            assert_eq!(spread.refused, together.refused);
        }
    }

    #[test]
    fn labels_from_other_data_are_refused() {
        let keys = vec!["a".to_string(), "b".to_string()];
        let ssn = HashMap::new();
        let labels = cluster_components(
            &component(&[("a", "z", 9.0, 0.99)], &ssn),
            &ClusterConfig::default(),
        )
        .unwrap();
        assert!(clusters_from_labels(&keys, &[labels]).is_err());
        let reversed = component(&[("b", "a", 9.0, 0.99)], &ssn);
        assert!(cluster_components(&reversed, &ClusterConfig::default()).is_err());
    }
}
