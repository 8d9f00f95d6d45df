//! The care-gap stage end to end on a synthetic lake (agreement with the planted scenarios), and its answers to
//! bad input: value-set files without the needed columns, definitions naming absent value sets, future events,
//! spans that end before they start, events of unknown people.

mod common;

use _native::caregaps::definition::parse_file;
use _native::caregaps::{MeasureSet, MemberDataBuilder, ValueSetDirectory};
use _native::lake::Location;
use _native::lake::{block_on, RejectReason, RowNumbers};
use _native::model::{self, BatchBuilder};
use _native::pipeline::caregaps_eval::evaluate_caregaps;
use _native::pipeline::caregaps_stage::{run_caregaps, CareGapsReport, EventSource};
use _native::pipeline::identity_stage::{run_identity, IdentityRun};
use _native::pipeline::ingest::InputSet;
use _native::pipeline::progress::NoProgress;
use _native::synth::{generate, GenerateOptions};
use chrono::NaiveDate;
use common::{find, loc, read_table};

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// A synthetic lake of `members` at `lake`, with identity resolution's outputs at `identity`.
fn resolved_lake(lake: &Location, members: u64, seed: u64, identity: &Location) {
    generate(
        lake,
        &GenerateOptions {
            members,
            seed,
            as_of: as_of(),
            visit_scale: 1,
        },
        &NoProgress,
    )
    .unwrap();
    let run = IdentityRun {
        output: identity,
        previous: None,
        config: &Default::default(),
        model: None,
        as_of: as_of(),
    };
    block_on(run_identity(&InputSet::lake(lake.clone()), run, &NoProgress)).unwrap();
}

/// `inputs` with `table` read from `uri` instead of the lake.
fn with_table_at(mut inputs: InputSet, table: &str, uri: &str) -> InputSet {
    inputs.overrides.insert(
        table.into(),
        _native::pipeline::ingest::InputOverride {
            uri: Some(uri.to_string()),
            columns: Default::default(),
        },
    );
    inputs
}

/// Batches as CSV text with a header.
fn csv_text(batches: &[arrow::array::RecordBatch]) -> String {
    let mut csv = Vec::new();
    {
        let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut csv);
        for b in batches {
            writer.write(b).unwrap();
        }
    }
    String::from_utf8(csv).unwrap()
}

/// The care-gap stage over `inputs` with the members at `identity`, writing to `out`.
fn care_gaps(
    inputs: &InputSet,
    identity: &Location,
    out: &Location,
    directory: &ValueSetDirectory,
    measures: &MeasureSet,
) -> CareGapsReport {
    block_on(run_caregaps(
        inputs,
        EventSource::Lake,
        Some(identity),
        out,
        directory,
        measures,
        None,
        as_of(),
        &NoProgress,
    ))
    .unwrap()
}

#[test]
fn synthetic_lake_agrees_with_the_planted_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, out) = (loc(&dir, "lake"), loc(&dir, "out"));
    resolved_lake(&lake, 3000, 7, &out);
    let inputs = InputSet::lake(lake.clone());
    let directory = ValueSetDirectory::sample().unwrap();
    let measures = MeasureSet::load(&directory, None, &[]).unwrap();
    let run = || care_gaps(&inputs, &out, &out, &directory, &measures);
    let report = run();
    assert_eq!(report.members_from, "identity");
    assert_eq!(report.year, 2026);
    assert!(report.rows > 2000, "{} rows", report.rows);
    assert!(report.load.events_matched > 0 && report.load.events_matched < report.load.events_read);
    // Retired ICD-9 rows are quarantined by the schema check; they never reach the engine.
    assert!(report.quarantined.contains_key("clinical_events.not_allowed"));
    for rate in &report.rates {
        assert!(
            rate.closed > 0 && rate.open > 0,
            "{}.{} has no open or no closed gaps",
            rate.measure,
            rate.rate
        );
    }

    let agreement = block_on(evaluate_caregaps(&out, &lake, None)).unwrap();
    let (compared, agreed) = agreement
        .values()
        .fold((0, 0), |(c, a), r| (c + r.compared, a + r.agreed));
    assert!(compared > 2000, "{compared} rows compared");
    let share = agreed as f64 / compared as f64;
    assert!(share >= 0.99, "agreement {share:.4} ({agreed} of {compared})");
    for (rate, a) in &agreement {
        assert!(a.accuracy() >= 0.97, "{rate}: {:.3} ({a:?})", a.accuracy());
    }

    // The outputs: care_gaps rows carry evidence and due dates; measure_rates has a row per product line.
    let (rows, batches) = read_table(&find(&out, "care_gaps"));
    assert_eq!(rows as u64, report.rows);
    let gaps = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let col = |n: &str| gaps.column_by_name(n).unwrap().clone();
    let status = col("status");
    let status = arrow::array::AsArray::as_string::<i32>(&status);
    let due = col("due_date");
    let evidence = col("evidence_code");
    let (mut open_with_due, mut closed_with_evidence) = (0, 0);
    for i in 0..gaps.num_rows() {
        match status.value(i) {
            "open" => open_with_due += usize::from(due.is_valid(i)),
            "closed" => closed_with_evidence += usize::from(evidence.is_valid(i)),
            _ => {}
        }
    }
    let open = (0..gaps.num_rows())
        .filter(|&i| status.value(i) == "open")
        .count();
    let closed = (0..gaps.num_rows())
        .filter(|&i| status.value(i) == "closed")
        .count();
    assert_eq!(open_with_due, open, "every open gap has a due date");
    assert_eq!(closed_with_evidence, closed, "every closed gap has evidence");
    let (rate_rows, _) = read_table(&find(&out, "measure_rates"));
    assert!(rate_rows >= 10 * 2, "{rate_rows} measure_rates rows");

    // The same run again writes nothing twice (idempotent commits keyed by the run).
    let again = run();
    assert_eq!(again.run_id, report.run_id);
    let (rows_after, _) = read_table(&find(&out, "care_gaps"));
    assert_eq!(rows_after, rows);
}

#[test]
fn value_set_file_problems_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vsd.csv");
    std::fs::write(&path, "Value Set Name,Code\nMammography,77067\n").unwrap();
    let err = ValueSetDirectory::load(&[path.display().to_string()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("vsd.csv") && err.contains("Code System"), "{err}");

    let err = ValueSetDirectory::load(&["values.json".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("values.json"), "{err}");

    // A directory missing a value set a definition names: the error names the file, field and value set.
    std::fs::write(&path, "Value Set Name,Code System,Code\nMammography,CPT,77067\n").unwrap();
    let small = ValueSetDirectory::load(&[path.display().to_string()]).unwrap();
    let err = MeasureSet::load(&small, None, &["COL-E".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("COL-E.yaml") && err.contains("value set '"), "{err}");
    // BCS-E needs more than mammography too (exclusions).
    let err = MeasureSet::load(&small, None, &["BCS-E".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("BCS-E.yaml") && err.contains("exclusions"), "{err}");
    let err = MeasureSet::load(&small, None, &["NOPE".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no measure 'NOPE'"), "{err}");
}

#[test]
fn definition_problems_are_named() {
    let directory = ValueSetDirectory::sample().unwrap();
    let compile = |yaml: &str| {
        let file = parse_file(yaml, "custom.yaml").map_err(|e| e.to_string())?;
        MeasureSet::compile(&directory, &[("custom.yaml".into(), file)], &[])
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let base = |numerator: &str| {
        format!(
            "measure:\n  id: X\n  name: X\n  population:\n    age: [18, 75]\n    product_lines: [commercial]\n    \
             enrollment: {{from: 'MP:01-01'}}\n  rates:\n    - id: total\n      numerator: {numerator}\n"
        )
    };
    assert!(compile(&base("{events: [Mammography]}")).is_ok());
    let err = compile(&base("{events: [Mammograms]}")).unwrap_err();
    assert!(
        err.contains("custom.yaml")
            && err.contains("rates[0].numerator.events[0]")
            && err.contains("Mammograms"),
        "{err}"
    );
    let err = compile(&base("{events: [Mammography], frm: 'MP:01-01'}")).unwrap_err();
    assert!(
        err.contains("numerator.frm") && err.contains("unknown key"),
        "{err}"
    );
    let err = compile(&base("{events: [Mammography], from: 'last year'}")).unwrap_err();
    assert!(
        err.contains("numerator.from") && err.contains("date reference"),
        "{err}"
    );
    let err = compile(&base("{ref: nothing}")).unwrap_err();
    assert!(err.contains("no definition named 'nothing'"), "{err}");
    let err = compile(&base("{anyof: []}")).unwrap_err();
    assert!(err.contains("unknown criterion"), "{err}");
    let err = compile("measure:\n  id: X\n  name: X\n  populaton: {}\n").unwrap_err();
    assert!(err.contains("custom.yaml") && err.contains("populaton"), "{err}");
}

#[test]
fn future_events_unknown_people_and_backwards_spans_are_quarantined() {
    let directory = ValueSetDirectory::sample().unwrap();
    let measures = MeasureSet::load(&directory, None, &[]).unwrap();
    let mut b = MemberDataBuilder::new(&directory, &measures, as_of());
    let person = common::one_person_record(
        "ehr",
        "1",
        NaiveDate::from_ymd_opt(1960, 1, 1).unwrap(),
        None,
        None,
    );
    b.add_person_records(&person).unwrap();

    let spec = model::enrollment();
    let mut e = BatchBuilder::new(&spec, 2);
    let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
    for (who, start, end) in [("1", d(2026, 5, 1), d(2026, 4, 1)), ("2", d(2026, 1, 1), None)] {
        e.text(Some("ehr"))
            .text(Some(who))
            .text(None)
            .date(start)
            .date(end);
        e.text(Some("commercial"))
            .text(None)
            .boolean(None)
            .boolean(None)
            .text(None)
            .boolean(None);
        e.end_row();
    }
    let bad = b.add_enrollment(&e.finish().unwrap(), 0).unwrap();
    let reasons: Vec<_> = bad.iter().map(|q| q.reason).collect();
    assert_eq!(
        reasons,
        [RejectReason::EndBeforeStart, RejectReason::UnknownPerson]
    );

    let spec = model::clinical_events();
    let mut c = BatchBuilder::new(&spec, 7);
    // A row's member_id, where it has one, decides its member over its source record.
    for (who, member_id, date, code) in [
        ("1", None, d(2027, 1, 1), "77067"),
        ("1", None, d(1950, 1, 1), "77067"),
        ("9", None, d(2026, 1, 1), "77067"),
        ("1", None, d(2026, 1, 1), "99213"),
        ("1", None, d(2026, 2, 1), " 77067 "),
        ("9", Some("ehr:1"), d(2026, 3, 1), "77067"),
        ("1", Some("nobody"), d(2026, 3, 1), "77067"),
    ] {
        c.text(Some("ehr"))
            .text(Some(who))
            .text(member_id)
            .date(date)
            .date(None);
        c.text(Some("CPT"))
            .text(Some(code))
            .text(None)
            .float(None)
            .text(None)
            .text(None);
        c.text(Some("outpatient"))
            .integer(None)
            .text(None)
            .text(Some("claim"));
        c.end_row();
    }
    let bad = b
        .add_events(&[(c.finish().unwrap(), RowNumbers::From(100))])
        .unwrap();
    let got: Vec<_> = bad.iter().map(|q| (q.row_number, q.reason)).collect();
    assert_eq!(
        got,
        [
            (100, RejectReason::DateAfterAsOf),
            (101, RejectReason::DateBeforeBirth),
            (102, RejectReason::UnknownPerson),
            (106, RejectReason::UnknownPerson)
        ]
    );
    for q in &bad {
        assert!(
            !q.message.contains("77067") && !q.message.contains("2027"),
            "reasons carry no values"
        );
    }
    assert_eq!(b.counts.events_read, 7);
    assert_eq!(
        b.counts.events_matched, 6,
        "the office visit is in no measure's value set"
    );
    let data = b.finish();
    assert_eq!(
        data.events.len(),
        2,
        "the mammogram with stray spaces and the one by member_id matched"
    );
}

/// A table's rows as sorted text lines, without the columns named in `skip`.
fn rows_as_text(batches: &[arrow::array::RecordBatch], skip: &[&str]) -> Vec<String> {
    let mut lines = Vec::new();
    for batch in batches {
        for i in 0..batch.num_rows() {
            let mut line = String::new();
            for (f, column) in batch.schema().fields().iter().zip(batch.columns()) {
                if skip.contains(&f.name().as_str()) {
                    continue;
                }
                let value = arrow::util::display::array_value_to_string(column, i).unwrap();
                line.push_str(&format!("{}={value};", f.name()));
            }
            lines.push(line);
        }
    }
    lines.sort();
    lines
}

#[test]
fn events_read_selectively_from_delta_and_in_full_from_csv_give_the_same_gaps_and_quarantine() {
    use _native::lake::{write_batches, WriteMode};
    use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let (lake, identity) = (loc(&dir, "lake"), loc(&dir, "identity"));
    resolved_lake(&lake, 400, 11, &identity);

    // The lake's events with some codes blanked (null keys to quarantine), as Delta and as CSV.
    let (_, batches) = read_table(&find(&lake, "clinical_events"));
    let events = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let code_at = events.schema().index_of("code").unwrap();
    let codes = events.column(code_at).as_string::<i32>();
    let blanked: StringArray = (0..events.num_rows())
        .map(|i| {
            if i % 97 == 5 {
                Some("  ")
            } else {
                codes.is_valid(i).then(|| codes.value(i))
            }
        })
        .collect();
    let mut columns: Vec<ArrayRef> = events.columns().to_vec();
    columns[code_at] = Arc::new(blanked);
    let events = RecordBatch::try_new(events.schema(), columns).unwrap();
    let delta = loc(&dir, "events_delta");
    block_on(write_batches(
        &delta,
        events.schema(),
        "events",
        WriteMode::Overwrite,
        None,
        [events.clone()],
    ))
    .unwrap();
    let csv_path = dir.path().join("events.csv");
    std::fs::write(&csv_path, csv_text(std::slice::from_ref(&events))).unwrap();

    let directory = ValueSetDirectory::sample().unwrap();
    let measures = MeasureSet::load(&directory, None, &[]).unwrap();
    let run_with = |events_uri: String, out: &Location| {
        let inputs = with_table_at(InputSet::lake(lake.clone()), "clinical_events", &events_uri);
        care_gaps(&inputs, &identity, out, &directory, &measures)
    };
    let (out_delta, out_csv) = (loc(&dir, "out_delta"), loc(&dir, "out_csv"));
    let a = run_with(delta.url().to_string(), &out_delta);
    let b = run_with(csv_path.to_str().unwrap().to_string(), &out_csv);
    assert_eq!(a.load, b.load, "same rows read and matched");
    assert!(
        a.quarantined
            .get("clinical_events.null_key")
            .copied()
            .unwrap_or(0)
            > 0
    );
    assert_eq!(a.quarantined, b.quarantined);
    for (table, skip) in [
        ("care_gaps", &["run_id"][..]),
        ("quarantine", &["run_id", "record"][..]),
    ] {
        let (_, left) = read_table(&find(&out_delta, table));
        let (_, right) = read_table(&find(&out_csv, table));
        assert_eq!(rows_as_text(&left, skip), rows_as_text(&right, skip), "{table}");
    }
}

#[test]
fn enrollment_streamed_past_bad_rows_quarantines_each_with_its_reason_and_changes_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, identity) = (loc(&dir, "lake"), loc(&dir, "identity"));
    resolved_lake(&lake, 300, 5, &identity);

    // The lake's enrollment as CSV, then three bad copies of its first span: one ending before it starts, one of
    // a source record nobody has, one with a product line outside the enumeration.
    let (_, batches) = read_table(&find(&lake, "enrollment"));
    let clean_rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut text = csv_text(&batches);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let first: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let variant = |changes: &[(&str, &str)]| {
        let mut row = first.clone();
        for (column, value) in changes {
            row[at(column)] = value.to_string();
        }
        row.join(",")
    };
    let bad = [
        variant(&[("start_date", "2026-05-01"), ("end_date", "2026-04-01")]),
        variant(&[("source_record_id", "no-such-record"), ("member_id", "")]),
        variant(&[("product_line", "gold-plated")]),
    ];
    for line in bad {
        text.push_str(&line);
        text.push('\n');
    }
    let csv_path = dir.path().join("enrollment.csv");
    std::fs::write(&csv_path, text).unwrap();

    let directory = ValueSetDirectory::sample().unwrap();
    let measures = MeasureSet::load(&directory, None, &[]).unwrap();
    let (out_clean, out_bad) = (loc(&dir, "out_clean"), loc(&dir, "out_bad"));
    let clean = care_gaps(
        &InputSet::lake(lake.clone()),
        &identity,
        &out_clean,
        &directory,
        &measures,
    );
    let inputs = with_table_at(
        InputSet::lake(lake.clone()),
        "enrollment",
        csv_path.to_str().unwrap(),
    );
    let with_bad = care_gaps(&inputs, &identity, &out_bad, &directory, &measures);

    let enrollment: Vec<(&str, u64)> = with_bad
        .quarantined
        .iter()
        .filter(|(k, _)| k.starts_with("enrollment."))
        .map(|(k, &n)| (k.as_str(), n))
        .collect();
    assert_eq!(
        enrollment,
        [
            ("enrollment.end_before_start", 1),
            ("enrollment.not_allowed", 1),
            ("enrollment.unknown_person", 1)
        ]
    );
    assert!(!clean.quarantined.keys().any(|k| k.starts_with("enrollment.")));
    // Rows that conform are read into the matcher (the two it then refuses included); the third never is.
    assert_eq!(clean.load.enrollment_read, clean_rows as u64);
    assert_eq!(with_bad.load.enrollment_read, clean_rows as u64 + 2);
    let (_, left) = read_table(&find(&out_clean, "care_gaps"));
    let (_, right) = read_table(&find(&out_bad, "care_gaps"));
    assert_eq!(
        rows_as_text(&left, &["run_id"]),
        rows_as_text(&right, &["run_id"])
    );
}

#[test]
fn identity_and_care_gaps_do_not_depend_on_the_order_input_rows_are_stored_in() {
    use _native::lake::{write_batches, WriteMode};
    use arrow::array::{RecordBatch, UInt32Array};
    let dir = tempfile::tempdir().unwrap();
    let lake = loc(&dir, "lake");
    generate(
        &lake,
        &GenerateOptions {
            members: 400,
            seed: 23,
            as_of: as_of(),
            visit_scale: 1,
        },
        &NoProgress,
    )
    .unwrap();
    // The same rows of person_records, enrollment and clinical_events in a scrambled order (a fixed permutation).
    let mut inputs = InputSet::lake(lake.clone());
    for table in ["person_records", "enrollment", "clinical_events"] {
        let (_, batches) = read_table(&find(&lake, table));
        let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let n = all.num_rows() as u64;
        let order: UInt32Array = (0..n).map(|i| ((i * 7919 + 13) % n) as u32).collect();
        let mut seen = vec![false; n as usize];
        order.values().iter().for_each(|&i| seen[i as usize] = true);
        assert!(seen.iter().all(|&s| s), "a permutation of {table}");
        let columns = all
            .columns()
            .iter()
            .map(|c| arrow::compute::take(c, &order, None).unwrap())
            .collect();
        let scrambled = RecordBatch::try_new(all.schema(), columns).unwrap();
        let at = loc(&dir, &format!("scrambled_{table}"));
        block_on(write_batches(
            &at,
            all.schema(),
            table,
            WriteMode::Overwrite,
            None,
            [scrambled],
        ))
        .unwrap();
        inputs = with_table_at(inputs, table, at.url().as_str());
    }
    let directory = ValueSetDirectory::sample().unwrap();
    let measures = MeasureSet::load(&directory, None, &[]).unwrap();
    let mut outputs = Vec::new();
    for (name, inputs) in [("stored", InputSet::lake(lake.clone())), ("scrambled", inputs)] {
        let identity = loc(&dir, &format!("identity_{name}"));
        let run = IdentityRun {
            output: &identity,
            previous: None,
            config: &Default::default(),
            model: None,
            as_of: as_of(),
        };
        block_on(run_identity(&inputs, run, &NoProgress)).unwrap();
        let out = loc(&dir, &format!("out_{name}"));
        care_gaps(&inputs, &identity, &out, &directory, &measures);
        let (_, xref) = read_table(&find(&identity, "identity_xref"));
        let (_, gaps) = read_table(&find(&out, "care_gaps"));
        outputs.push((rows_as_text(&xref, &["run_id"]), rows_as_text(&gaps, &["run_id"])));
    }
    assert!(!outputs[0].0.is_empty() && !outputs[0].1.is_empty());
    assert_eq!(outputs[0].0, outputs[1].0, "identity_xref: the same member ids");
    assert_eq!(outputs[0].1, outputs[1].1, "care_gaps, evidence included");
}
