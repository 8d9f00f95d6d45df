//! The synthetic generator: deterministic for a seed, with ground truth, and realistic enough to be hard.

mod common;

use std::collections::{HashMap, HashSet};

use _native::lake::{block_on, Location};
use _native::pipeline::ingest::{ingest, InputSet};
use _native::pipeline::progress::NoProgress;
use _native::synth::population::PopulationSampler;
use _native::synth::{generate, generate_chunk, GenerateOptions};
use arrow::array::{AsArray, RecordBatch};
use arrow::compute::concat_batches;
use chrono::NaiveDate;
use common::{find, loc, read_table};

fn opts(members: u64, seed: u64) -> GenerateOptions {
    GenerateOptions {
        members,
        seed,
        as_of: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        visit_scale: 1,
    }
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    batch
        .column_by_name(column)
        .unwrap()
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

fn whole(lake: &Location, table: &str) -> RecordBatch {
    let (_, batches) = read_table(&find(lake, table));
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

#[test]
fn a_seed_gives_the_same_chunk_and_another_seed_a_different_one() {
    let sampler = PopulationSampler::default();
    let a = generate_chunk(&sampler, &opts(3_000, 7), 0).unwrap();
    let b = generate_chunk(&sampler, &opts(3_000, 7), 0).unwrap();
    let c = generate_chunk(&sampler, &opts(3_000, 8), 0).unwrap();
    assert_eq!(a, b);
    assert_ne!(a[0], c[0]);
}

#[test]
fn every_record_has_exactly_one_truth_row() {
    let batches = generate_chunk(&PopulationSampler::default(), &opts(2_000, 1), 0).unwrap();
    let (records, truth) = (&batches[0], &batches[6]);
    assert_eq!(records.num_rows(), truth.num_rows());
    assert_eq!(
        strings(records, "source_record_id"),
        strings(truth, "source_record_id")
    );
    let people: HashSet<_> = strings(truth, "person_id").into_iter().collect();
    assert_eq!(people.len(), 2_000);
}

#[test]
fn generated_lake_is_realistic_deterministic_and_ingests_with_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    let lake = loc(&dir, "lake");
    let summary = generate(&lake, &opts(5_000, 42), &NoProgress).unwrap();
    assert!(!summary.already_present);
    let again = generate(&lake, &opts(5_000, 42), &NoProgress).unwrap();
    assert!(
        again.already_present,
        "a retried generate must not rewrite the lake"
    );

    let records = whole(&lake, "person_records");
    let truth = whole(&lake, "truth_person_records");
    let n = records.num_rows();
    assert!(
        (8_000..16_000).contains(&n),
        "records per member out of range: {n}"
    );

    // Duplicates: several records per true person, in all three sources.
    let persons = strings(&truth, "person_id");
    let mut per_person: HashMap<&str, usize> = HashMap::new();
    for p in persons.iter().flatten() {
        *per_person.entry(p).or_default() += 1;
    }
    assert_eq!(per_person.len(), 5_000);
    assert!(per_person.values().filter(|c| **c >= 2).count() > 3_000);
    let sources: HashSet<_> = strings(&records, "source_system").into_iter().flatten().collect();
    assert_eq!(
        sources,
        HashSet::from(["ehr".to_string(), "claims".into(), "crm".into()])
    );

    // Corruptions that make matching hard are all present.
    let corruptions: String = strings(&truth, "corruptions")
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(",");
    for kind in [
        "nickname",
        "typo_first_name",
        "typo_last_name",
        "maiden_name",
        "old_address",
        "birth_date_day_month_swap",
        "missing_email",
        "duplicate_registration",
    ] {
        assert!(corruptions.contains(kind), "no {kind} in the synthetic records");
    }
    // Hard negatives: twins and juniors in the same household.
    let relations: HashSet<_> = strings(&truth, "relation").into_iter().flatten().collect();
    assert!(relations.contains("twin"), "no twins generated");
    let suffixes: HashSet<_> = strings(&records, "suffix")
        .into_iter()
        .flatten()
        .map(|s| s.to_lowercase())
        .collect();
    assert!(suffixes.contains("jr") && suffixes.contains("sr"));

    // Phones come in different formats.
    let phones = strings(&records, "phone");
    assert!(phones.iter().flatten().any(|p| p.starts_with('(')));
    assert!(phones
        .iter()
        .flatten()
        .any(|p| p.chars().all(|c| c.is_ascii_digit())));

    // Enrollment, care-gap scenarios, consents and STOP replies.
    let lines: HashSet<_> = strings(&whole(&lake, "enrollment"), "product_line")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let gaps = whole(&lake, "truth_care_gaps");
    let mut statuses: HashMap<(String, String), usize> = HashMap::new();
    for (m, s) in strings(&gaps, "measure")
        .into_iter()
        .zip(strings(&gaps, "expected_status"))
    {
        *statuses.entry((m.unwrap(), s.unwrap())).or_default() += 1;
    }
    for measure in ["BCS-E", "COL-E", "CCS-E", "GSD", "CBP", "EED", "KED", "SPD"] {
        for status in ["open", "closed", "excluded"] {
            assert!(
                statuses.contains_key(&(measure.to_string(), status.to_string())),
                "no {status} {measure} scenario"
            );
        }
    }
    assert!(strings(&whole(&lake, "consents"), "status")
        .iter()
        .flatten()
        .any(|s| s == "opt_out"));
    assert!(strings(&whole(&lake, "communications"), "body_keyword")
        .iter()
        .flatten()
        .any(|s| s == "STOP"));

    // The same seed in another folder gives the same rows.
    let other = loc(&dir, "other");
    generate(&other, &opts(5_000, 42), &NoProgress).unwrap();
    assert_eq!(whole(&other, "person_records"), records);
    assert_eq!(whole(&other, "clinical_events"), whole(&lake, "clinical_events"));

    // Ingest: the legacy ICD-9 codes and unknown vendor statuses are quarantined and counted.
    let out = loc(&dir, "out");
    let report = block_on(ingest(
        &InputSet::lake(lake.clone()),
        &out,
        opts(1, 1).as_of,
        &NoProgress,
    ))
    .unwrap();
    let events = report
        .tables
        .iter()
        .find(|t| t.table == "clinical_events")
        .unwrap();
    assert!(events.quarantined.get("not_allowed").copied().unwrap_or(0) > 0);
    assert_eq!(
        events.rows_ok + events.quarantined.values().sum::<u64>(),
        events.rows_read
    );
    let quarantine = whole(&out, "quarantine");
    let total: u64 = report
        .tables
        .iter()
        .map(|t| t.quarantined.values().sum::<u64>())
        .sum();
    assert_eq!(quarantine.num_rows() as u64, total);
    // Re-running the same ingest records nothing new.
    let rerun = block_on(ingest(&InputSet::lake(lake), &out, opts(1, 1).as_of, &NoProgress)).unwrap();
    assert!(rerun.already_recorded);
    assert_eq!(whole(&out, "quarantine").num_rows() as u64, total);
    assert_eq!(whole(&out, "runs").num_rows(), 1);
}
