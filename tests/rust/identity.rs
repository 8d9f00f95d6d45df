//! Identity resolution on synthetic records with ground truth: accuracy, guards, and the saved model.

use _native::identity::cluster::{cluster, ClusterConfig};
use _native::identity::evaluate::{evaluate, Evaluation};
use _native::identity::model::{MatchModel, TermFrequencies};
use _native::identity::prepare::prepare;
use _native::identity::resolve::{block_and_compare, resolve, IdentityConfig, Resolution};
use _native::identity::scoring::score;
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

/// The links at the default clustering threshold, and their pairwise and cluster scores against `truth`.
fn evaluate_at_default_threshold(result: &Resolution, truth: &[String]) -> (Vec<(u32, u32)>, Evaluation) {
    let threshold = IdentityConfig::default().clustering.threshold as f32;
    let links: Vec<(u32, u32)> = result
        .links
        .iter()
        .filter(|l| l.probability >= threshold)
        .map(|l| (l.left, l.right))
        .collect();
    let e = evaluate(truth, &links, &result.clusters.of_record);
    (links, e)
}

#[test]
fn resolves_synthetic_people_accurately() {
    let (batches, truth) = synthetic(2, 5);
    let records = prepare(&batches).unwrap();
    let result = resolve(&records, &config(), None, &NoProgress).unwrap();
    let (links, e) = evaluate_at_default_threshold(&result, &truth);
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
fn tabulated_scoring_gives_the_models_weights_to_the_bit() {
    let (batches, _) = synthetic(1, 11);
    let records = prepare(&batches).unwrap();
    let compared = block_and_compare(&records, &config()).unwrap();
    let result = resolve(&records, &config(), None, &NoProgress).unwrap();
    let model = &result.model;
    let keep = 0.01;
    let scored = score(&records, &compared.pairs, &compared.vectors, model, keep);
    let tf = TermFrequencies::from_records(&records);
    let mut expected = Vec::new();
    for p in 0..compared.pairs.len() {
        let i = compared.pairs.left[p] as usize;
        let (first, last) = tf.of_record(&records, i);
        let weights = model.weights_with(&compared.vectors[p], first, last);
        let (total, probability) = model.total(&weights);
        if probability >= keep {
            expected.push((p, weights, total as f32, probability as f32));
        }
    }
    assert!(expected.len() > 100 && expected.len() < compared.pairs.len());
    assert_eq!(scored.len(), expected.len());
    for (link, (p, weights, total, probability)) in scored.iter().zip(expected) {
        assert_eq!(
            (link.left, link.right),
            (compared.pairs.left[p], compared.pairs.right[p])
        );
        assert_eq!(link.weights.map(f32::to_bits), weights.map(f32::to_bits));
        assert_eq!(link.weight.to_bits(), total.to_bits());
        assert_eq!(link.probability.to_bits(), probability.to_bits());
    }
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
    let format = format!("\"format\": {}", _native::identity::model::MODEL_FORMAT);
    assert!(json.contains(&format));
    assert!(MatchModel::from_json(&json.replace(&format, "\"format\": 99")).is_err());
}

#[test]
fn packed_compare_fields_hold_every_prepared_value() {
    use _native::identity::compare::{CompareField::*, CompareFields};
    use _native::identity::prepare::PreparedRecords;
    use arrow::array::Array;
    // Enough records for several packing chunks (65,536 records each).
    let (batches, _) = synthetic(24, 3);
    let records = prepare(&batches).unwrap();
    let fields = CompareFields::new(&records);
    assert_eq!(fields.len(), records.len());
    assert!(records.len() > 2 * 65_536);
    let get = PreparedRecords::get;
    let (mut present, mut missing) = (0usize, 0usize);
    for i in 0..records.len() {
        let packed = fields.record(i);
        for (field, column) in [
            (First, &records.first),
            (FirstFormal, &records.first_formal),
            (Last, &records.last),
            (Suffix, &records.suffix),
            (Sex, &records.sex),
            (Ssn, &records.ssn),
            (Email, &records.email),
            (Phone, &records.phone),
            (AddressNumber, &records.address_number),
            (Street, &records.street),
            (Zip, &records.zip),
            (MemberNumber, &records.member_number),
        ] {
            assert_eq!(packed.get(field), get(column, i), "{field:?} of record {i}");
            if packed.get(field).is_some() {
                present += 1;
            } else {
                missing += 1;
            }
        }
        let birth = records
            .birth_date
            .is_valid(i)
            .then(|| records.birth_date.value(i));
        assert_eq!(packed.birth, birth);
    }
    assert!(
        present > 0 && missing > 0,
        "the synthetic records have values and gaps"
    );
}

/// Conformed person records of the EHR (`R0`, `R1`, ...), each with the given column values and defaults for
/// the rest (born 1950-03-04).
fn person_records(rows: &[&[(&str, &str)]]) -> RecordBatch {
    let spec = _native::model::person_records();
    let mut p = _native::model::BatchBuilder::new(&spec, rows.len());
    for (k, row) in rows.iter().enumerate() {
        let id = format!("R{k}");
        let given = |name: &str| row.iter().find(|(c, _)| *c == name).map(|(_, v)| *v);
        for c in &spec.columns {
            match c.name {
                "source_system" => p.text(Some("ehr")),
                "source_record_id" => p.text(Some(&id)),
                "birth_date" => p.date(NaiveDate::from_ymd_opt(1950, 3, 4)),
                "deceased_date" => p.date(None),
                "updated_at" => p.timestamp(Some(chrono::Utc::now())),
                name => p.text(given(name)),
            };
        }
        p.end_row();
    }
    p.finish().unwrap()
}

/// Conformed person records with the given (first, last, member number).
fn named_records(rows: &[(&str, &str, &str)]) -> RecordBatch {
    let rows: Vec<[(&str, &str); 3]> = rows
        .iter()
        .map(|(first, last, number)| {
            [
                ("first_name", *first),
                ("last_name", *last),
                ("member_number", *number),
            ]
        })
        .collect();
    person_records(&rows.iter().map(|r| r.as_slice()).collect::<Vec<_>>())
}

#[test]
fn clusters_refuse_a_link_that_would_join_different_ssns_but_not_one_digit_slips() {
    // R0..R2 carry one SSN with one-digit slips along a chain (R2 is two digits from R0), R3 none, R4 another.
    let ssns = ["301-22-4589", "301-22-4580", "301-22-4510", "", "512-73-9046"];
    let rows: Vec<Vec<(&str, &str)>> = ssns
        .iter()
        .map(|ssn| {
            let mut row = vec![("first_name", "Ann"), ("last_name", "Lee")];
            if !ssn.is_empty() {
                row.push(("ssn", *ssn));
            }
            row
        })
        .collect();
    let records = prepare(&[person_records(
        &rows.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    )])
    .unwrap();
    // Strongest first: R0-R1, R1-R2, R2-R3 join; R3-R4 would bring a different SSN into that person.
    let links = [
        (3, 4, 7.0, 0.99),
        (0, 1, 10.0, 0.99),
        (2, 3, 8.0, 0.99),
        (1, 2, 9.0, 0.99),
    ];
    let clusters = cluster(&records, &links, &ClusterConfig::default());
    assert_eq!(clusters.of_record, vec![0, 0, 0, 0, 1]);
    assert_eq!(clusters.count, 2);
    assert_eq!(clusters.refused.get("conflicting_ssn"), Some(&1));
}

#[test]
fn names_entered_the_wrong_way_round_share_a_block() {
    use _native::identity::blocking::{block, BlockField, BlockingConfig, BlockingRule};
    let records = prepare(&[named_records(&[
        ("Barnaby", "Siggins", "1"),
        ("Siggins", "Barnaby", "2"),
        ("Barnaby", "Smith", "3"),
        ("Sigins", "Barnabie", "4"),
    ])])
    .unwrap();
    let config = BlockingConfig {
        rules: vec![BlockingRule {
            name: "birth_date+names_any_order".into(),
            fields: vec![BlockField::BirthDate, BlockField::NamesAnyOrder],
            max_block_size: None,
        }],
        max_block_size: 1_000,
    };
    let (pairs, _) = block(&records, &config).unwrap();
    let mut found: Vec<(u32, u32)> = pairs
        .left
        .iter()
        .zip(&pairs.right)
        .map(|(&l, &r)| (l, r))
        .collect();
    found.sort_unstable();
    // The same name sounds in either field, typos within the soundex included; a shared given name alone is not.
    assert_eq!(found, vec![(0, 1), (0, 3), (1, 3)]);
}

#[test]
fn swapped_names_and_a_slipped_member_number_have_levels_of_their_own() {
    use _native::identity::compare::{compare_pair, CompareFields, COMPARISONS};
    let records = prepare(&[named_records(&[
        ("Ashleigh", "Quilliam", "6408479"),
        ("Quilliam", "Ashleigh", "6408579"),
        ("Quillam", "Ashleigh", "6408479"),
        ("Ashleigh", "Quilliam", "6408479"),
        ("Ann", "Lee", "12345"),
        ("Lee", "Ann", "12346"),
        ("Cambell", "De La Cruz", "1"),
        ("De La Cruz", "Cambell", "2"),
        ("Amber", "Neumann", "3"),
        ("Neumann", "Amner", "4"),
        ("John", "Smith", "5"),
        ("Smith", "Brown", "6"),
        ("Mary", "Jones", "7"),
    ])])
    .unwrap();
    let level = |i, j, k: usize| {
        let l = compare_pair(&CompareFields::new(&records), i, j)[k];
        COMPARISONS[k].levels[l as usize - 1]
    };
    assert_eq!(level(0, 1, 0), "swapped_with_last_name");
    assert_eq!(level(0, 1, 1), "swapped_with_first_name");
    assert_eq!(
        level(0, 2, 0),
        "swapped_with_last_name",
        "a typo in a swapped name still counts"
    );
    assert_eq!(level(0, 3, 0), "exact");
    assert_eq!(level(0, 1, 8), "one_edit");
    assert_eq!(level(0, 3, 8), "exact");
    // Short numbers: one edit apart is simply different.
    assert_eq!(level(4, 5, 8), "different");
    assert_eq!(level(4, 5, 0), "swapped_with_last_name");
    // A compound surname typed into the given-name field keeps only its first token there.
    assert_eq!(level(6, 7, 0), "swapped_with_last_name");
    assert_eq!(level(6, 7, 1), "swapped_with_first_name");
    // One name swapped exactly, the other with a typo that Jaro-Winkler puts below 0.92.
    assert_eq!(level(8, 9, 1), "swapped_with_first_name");
    // The family name moved to the given-name field with a new family name beside it: one name crossed, the
    // other different (not a swap, which would count on both comparisons).
    assert_eq!(level(10, 11, 0), "one_name_in_the_other_field");
    assert_eq!(level(10, 11, 1), "different");
    assert_eq!(level(10, 12, 0), "different");
}

#[test]
fn without_ssns_the_other_rules_train_what_the_ssn_session_would_have() {
    use arrow::array::new_null_array;
    let (batches, truth) = synthetic(1, 11);
    // A source with no SSNs at all: the default "ssn" training session finds no pairs.
    let without_ssn: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let i = b.schema().index_of("ssn").unwrap();
            let mut columns = b.columns().to_vec();
            columns[i] = new_null_array(columns[i].data_type(), b.num_rows());
            RecordBatch::try_new(b.schema(), columns).unwrap()
        })
        .collect();
    let records = prepare(&without_ssn).unwrap();
    let result = resolve(&records, &config(), None, &NoProgress).unwrap();
    // Given name and birth date are held out by the one session that ran; a fallback session must train them,
    // so their m is no longer the starting guess (0.9 for exact, the rest spread evenly).
    for name in ["first_name", "birth_date"] {
        let c = result.model.comparisons.iter().find(|c| c.name == name).unwrap();
        let start = 0.1 / (c.m.len() - 1) as f64;
        assert!(
            (c.m[0] - 0.9).abs() > 1e-6 || c.m[1..].iter().any(|m| (m - start).abs() > 1e-6),
            "{name} m {:?} was never trained",
            c.m
        );
    }
    let (_, e) = evaluate_at_default_threshold(&result, &truth);
    assert!(e.cluster.f1 > 0.97, "cluster F1 without SSNs {}", e.cluster.f1);
}
