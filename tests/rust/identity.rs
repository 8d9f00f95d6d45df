//! Identity resolution on synthetic records with ground truth: accuracy, guards, and the saved model.

use _native::identity::evaluate::evaluate;
use _native::identity::model::MatchModel;
use _native::identity::prepare::prepare;
use _native::identity::resolve::{resolve, IdentityConfig};
use _native::pipeline::progress::NoProgress;
use _native::synth::population::PopulationSampler;
use _native::synth::{generate_chunk, GenerateOptions};
use arrow::array::{AsArray, RecordBatch};
use chrono::NaiveDate;

fn synthetic(chunks: u64, seed: u64) -> (Vec<RecordBatch>, Vec<String>) {
    let opts = GenerateOptions {
        members: chunks * 4096,
        seed,
        as_of: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        visit_scale: 1,
    };
    let sampler = PopulationSampler::default();
    let mut records = Vec::new();
    let mut truth = Vec::new();
    for chunk in 0..chunks {
        let b = generate_chunk(&sampler, &opts, chunk).unwrap();
        truth.extend(
            b[6].column_by_name("person_id")
                .unwrap()
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string()),
        );
        records.push(b[0].clone());
    }
    (records, truth)
}

/// Default settings with a smaller random sample for u (the tests' populations are small).
fn config() -> IdentityConfig {
    let mut c = IdentityConfig::default();
    c.training.u_sample_pairs = 300_000;
    c
}

#[test]
fn resolves_synthetic_people_accurately() {
    let (batches, truth) = synthetic(2, 5);
    let records = prepare(&batches).unwrap();
    let result = resolve(&records, &config(), None, &NoProgress).unwrap();
    let threshold = IdentityConfig::default().clustering.threshold as f32;
    let links: Vec<(u32, u32)> = result
        .links
        .iter()
        .filter(|l| l.probability >= threshold)
        .map(|l| (l.left, l.right))
        .collect();
    let e = evaluate(&truth, &links, &result.clusters.of_record);
    eprintln!(
        "records {} pairs {} links {} clusters {}",
        records.len(),
        result.candidate_pairs,
        links.len(),
        result.clusters.count
    );
    eprintln!("pairwise {:?}", e.pairwise);
    eprintln!("cluster  {:?}", e.cluster);
    eprintln!("refused {:?}", result.clusters.refused);
    eprintln!("prior {}", result.model.prior);
    for c in &result.model.comparisons {
        eprintln!(
            "{:<14} m {:?}\n{:<14} u {:?}",
            c.name,
            c.m.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>(),
            "",
            c.u.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>()
        );
    }
    // Splink 5 scores 0.981 (pairs) and 0.996 (clusters) on easier synthetic data (reference/identity-resolution.md).
    assert!(e.pairwise.f1 > 0.98, "pairwise F1 {}", e.pairwise.f1);
    assert!(e.cluster.f1 > 0.99, "cluster F1 {}", e.cluster.f1);
}

#[test]
fn the_trained_model_round_trips_through_json() {
    let (batches, _) = synthetic(1, 9);
    let records = prepare(&batches).unwrap();
    let result = resolve(&records, &config(), None, &NoProgress).unwrap();
    let json = result.model.to_json();
    let loaded = MatchModel::from_json(&json).unwrap();
    // JSON keeps every probability to within a unit in the last place.
    assert!((loaded.prior - result.model.prior).abs() <= 1e-15 * result.model.prior);
    for (a, b) in loaded.comparisons.iter().zip(&result.model.comparisons) {
        assert_eq!(a.name, b.name);
        for (x, y) in a.m.iter().chain(&a.u).zip(b.m.iter().chain(&b.u)) {
            assert!((x - y).abs() <= 1e-12 * y.abs(), "{x} {y}");
        }
    }
    let again = resolve(&records, &config(), Some(loaded), &NoProgress).unwrap();
    assert_eq!(again.clusters.of_record, result.clusters.of_record);
    assert!(MatchModel::from_json(&json.replace("\"format\": 1", "\"format\": 99")).is_err());
}
