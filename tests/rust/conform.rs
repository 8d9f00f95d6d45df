//! Conforming inputs to canonical schemas: clear schema errors, and quarantine with reasons for bad rows.

mod common;

use std::collections::HashMap;

use _native::lake::{ConformPlan, RejectReason};
use _native::model;
use _native::CoreError;
use arrow::array::{Array, AsArray};
use arrow::datatypes::Date32Type;
use common::text_batch;

/// `batch` with column `name` replaced by `values` (its type with it), or added at the end.
fn with_column(
    batch: &arrow::array::RecordBatch,
    name: &str,
    values: arrow::array::ArrayRef,
) -> arrow::array::RecordBatch {
    let field = arrow::datatypes::Field::new(name, values.data_type().clone(), true);
    let mut fields: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns = batch.columns().to_vec();
    match batch.schema().index_of(name) {
        Ok(at) => (fields[at], columns[at]) = (field, values),
        Err(_) => {
            fields.push(field);
            columns.push(values);
        }
    }
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(fields));
    arrow::array::RecordBatch::try_new(schema, columns).expect("columns of one length")
}

fn person_rows(birth_dates: Vec<Option<&str>>, ids: Vec<Option<&str>>) -> arrow::array::RecordBatch {
    let n = ids.len();
    text_batch(&[
        ("source_system", vec![Some("ehr"); n]),
        ("source_record_id", ids),
        ("first_name", vec![Some("Ann"); n]),
        ("last_name", vec![Some("Lee"); n]),
        ("birth_date", birth_dates),
        ("updated_at", vec![Some("2026-01-02T03:04:05Z"); n]),
    ])
}

#[test]
fn malformed_rows_go_to_quarantine_with_a_reason_and_nothing_is_dropped() {
    let batch = person_rows(
        vec![
            Some("1970-03-05"),
            Some("spring of seventy"),
            Some("03/05/1970"),
            Some("1970-02-30"),
            None,
        ],
        vec![Some("1"), Some("2"), Some("3"), Some("4"), Some("  ")],
    );
    let plan = ConformPlan::new(&model::person_records(), &batch.schema(), &HashMap::new()).unwrap();
    let out = plan.conform(&batch, 100).unwrap();
    assert_eq!(out.batch.num_rows() + out.quarantined.len(), batch.num_rows());
    assert_eq!(out.batch.num_rows(), 2);
    let reasons: Vec<_> = out.quarantined.iter().map(|q| (q.row_number, q.reason)).collect();
    assert_eq!(
        reasons,
        vec![
            (101, RejectReason::BadDate),
            (103, RejectReason::BadDate),
            (104, RejectReason::NullKey)
        ]
    );
    // The reason names the rule, never the value; the raw row is kept for the data steward.
    let q = &out.quarantined[0];
    assert!(!q.message.contains("spring of seventy"), "{}", q.message);
    assert!(q.record.contains("spring of seventy"));
    // Both accepted formats parse to the same date.
    let dates = out
        .batch
        .column_by_name("birth_date")
        .unwrap()
        .as_primitive::<Date32Type>();
    assert_eq!(dates.value(0), dates.value(1));
}

#[test]
fn a_missing_required_column_is_a_schema_error_naming_table_and_column() {
    let batch = text_batch(&[
        ("source_system", vec![Some("ehr")]),
        ("source_record_id", vec![Some("1")]),
    ]);
    let err = ConformPlan::new(&model::person_records(), &batch.schema(), &HashMap::new()).unwrap_err();
    match &err {
        CoreError::Schema { table, column, .. } => {
            assert_eq!(table, "person_records");
            assert_eq!(column, "first_name");
        }
        other => panic!("expected a schema error, got {other}"),
    }
    assert!(err.is_user_error());
}

#[test]
fn a_mistyped_column_is_a_schema_error() {
    let people = person_rows(vec![Some("1970-01-01")], vec![Some("1")]);
    let flags = std::sync::Arc::new(arrow::array::BooleanArray::from(vec![true]));
    let batch = with_column(&people, "birth_date", flags);
    let err = ConformPlan::new(&model::person_records(), &batch.schema(), &HashMap::new()).unwrap_err();
    assert!(err.to_string().contains("birth_date"), "{err}");
    assert!(err.to_string().contains("Boolean"), "{err}");
}

#[test]
fn column_mapping_renames_source_columns_and_checks_them() {
    let batch = text_batch(&[
        ("SRC", vec![Some("ehr")]),
        ("ID", vec![Some("1")]),
        ("FNAME", vec![Some("Ann")]),
        ("last_name", vec![Some("Lee")]),
        ("DOB", vec![Some("19700305")]),
        ("updated_at", vec![Some("2026-01-01 10:00:00")]),
    ]);
    let mapping: HashMap<String, String> = [
        ("source_system", "SRC"),
        ("source_record_id", "ID"),
        ("first_name", "FNAME"),
        ("birth_date", "DOB"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let plan = ConformPlan::new(&model::person_records(), &batch.schema(), &mapping).unwrap();
    let out = plan.conform(&batch, 0).unwrap();
    assert_eq!(out.batch.num_rows(), 1);
    assert_eq!(out.batch.schema(), model::person_records().arrow_schema());

    let mut bad = mapping.clone();
    bad.insert("last_name".into(), "SURNAME".into());
    let err = ConformPlan::new(&model::person_records(), &batch.schema(), &bad).unwrap_err();
    assert!(err.to_string().contains("SURNAME"), "{err}");
}

#[test]
fn enumerations_are_normalized_and_unknown_values_quarantined() {
    let batch = text_batch(&[
        ("source_system", vec![Some("claims"); 4]),
        ("source_record_id", vec![Some("1"); 4]),
        ("event_date", vec![Some("2026-01-01"); 4]),
        (
            "code_system",
            vec![
                Some("icd-10-cm"),
                Some("CPT-CAT-II"),
                Some("ICD9CM"),
                Some("loinc"),
            ],
        ),
        (
            "code",
            vec![Some("E11.9"), Some("3044F"), Some("250.00"), Some("4548-4")],
        ),
    ]);
    let plan = ConformPlan::new(&model::clinical_events(), &batch.schema(), &HashMap::new()).unwrap();
    let out = plan.conform(&batch, 0).unwrap();
    let systems = out
        .batch
        .column_by_name("code_system")
        .unwrap()
        .as_string::<i32>();
    let got: Vec<_> = systems.iter().map(|s| s.unwrap()).collect();
    assert_eq!(got, vec!["ICD10CM", "CPT-II", "LOINC"]);
    assert_eq!(out.quarantined.len(), 1);
    assert_eq!(out.quarantined[0].reason, RejectReason::NotAllowed);
    assert!(out.quarantined[0].message.contains("code_system"));
}

#[test]
fn a_row_needs_a_member_id_or_both_source_keys() {
    // Each combination of the three keys present (Some) or missing (None).
    let (m, s, r) = (Some("M1"), Some("ehr"), Some("r1"));
    let rows = [
        (m, s, r, true),
        (m, None, None, true),
        (None, s, r, true),
        (None, s, None, false),
        (None, None, r, false),
        (None, None, None, false),
        (m, None, r, true),
    ];
    let batch = text_batch(&[
        ("member_id", rows.iter().map(|k| k.0).collect()),
        ("source_system", rows.iter().map(|k| k.1).collect()),
        ("source_record_id", rows.iter().map(|k| k.2).collect()),
        ("start_date", vec![Some("2026-01-01"); rows.len()]),
        ("end_date", vec![None; rows.len()]),
        ("product_line", vec![Some("Medicare"); rows.len()]),
    ]);
    let plan = ConformPlan::new(&model::enrollment(), &batch.schema(), &HashMap::new()).unwrap();
    // Conformed from the third row on too (a slice: the bitmaps start inside their buffers).
    for first in [0, 2] {
        let out = plan.conform(&batch.slice(first, rows.len() - first), 0).unwrap();
        let expected: Vec<i64> = (first..rows.len())
            .filter(|&i| !rows[i].3)
            .map(|i| (i - first) as i64)
            .collect();
        let quarantined: Vec<i64> = out.quarantined.iter().map(|q| q.row_number).collect();
        assert_eq!(quarantined, expected);
        assert!(out
            .quarantined
            .iter()
            .all(|q| q.reason == RejectReason::NoPersonKey));
        assert_eq!(out.batch.num_rows(), rows.len() - first - expected.len());
    }
}

#[test]
fn rows_without_any_person_key_are_quarantined() {
    let batch = text_batch(&[
        ("member_id", vec![Some("M1"), None]),
        ("source_system", vec![None, None]),
        ("source_record_id", vec![None, Some("x")]),
        ("start_date", vec![Some("2026-01-01"); 2]),
        ("end_date", vec![None, None]),
        ("product_line", vec![Some("Medicare"), Some("commercial")]),
    ]);
    let plan = ConformPlan::new(&model::enrollment(), &batch.schema(), &HashMap::new()).unwrap();
    let out = plan.conform(&batch, 0).unwrap();
    assert_eq!(out.batch.num_rows(), 1);
    assert_eq!(out.quarantined[0].reason, RejectReason::NoPersonKey);
    assert_eq!(
        out.batch
            .column_by_name("product_line")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "medicare"
    );
    assert_eq!(out.batch.column_by_name("end_date").unwrap().null_count(), 1);
}

#[test]
fn numbered_rows_keep_their_table_positions_through_quarantine() {
    use _native::lake::RowNumbers;
    let batch = person_rows(
        vec![
            Some("1970-03-05"),
            Some("not a date"),
            Some("1980-01-01"),
            Some("1990-01-01"),
        ],
        vec![Some("a"), Some("b"), Some("c"), None],
    );
    let plan = ConformPlan::new(&model::person_records(), &batch.schema(), &HashMap::new()).unwrap();
    // Rows a filter kept from positions 10, 42, 43 and 99 of their table.
    let numbers = RowNumbers::Listed(vec![10, 42, 43, 99]);
    let (conformed, kept) = plan.conform_numbered(&batch, &numbers).unwrap();
    let bad: Vec<_> = conformed
        .quarantined
        .iter()
        .map(|q| (q.row_number, q.reason))
        .collect();
    assert_eq!(bad, [(42, RejectReason::BadDate), (99, RejectReason::NullKey)]);
    assert_eq!(conformed.batch.num_rows(), 2);
    assert_eq!(
        kept,
        RowNumbers::Listed(vec![10, 43]),
        "positions of the rows that passed"
    );
    assert_eq!(
        RowNumbers::From(5).without(&[1], 3),
        RowNumbers::Listed(vec![5, 7])
    );
    assert_eq!(RowNumbers::From(5).without(&[], 3), RowNumbers::From(5));
}

#[test]
fn text_loses_white_space_of_any_kind_at_its_ends_and_blank_text_becomes_null() {
    let names = vec![Some("Ann"), Some("\tAnn"), Some("Ann\u{a0}"), Some("\n"), None];
    let mut batch = person_rows(
        vec![Some("1970-03-05"); 5],
        vec![Some("1"), Some("2"), Some("3"), Some("4"), Some("5")],
    );
    let first_name = batch.schema().index_of("first_name").unwrap();
    batch = {
        let mut columns = batch.columns().to_vec();
        columns[first_name] = std::sync::Arc::new(arrow::array::StringArray::from(names));
        arrow::array::RecordBatch::try_new(batch.schema(), columns).unwrap()
    };
    let plan = ConformPlan::new(&model::person_records(), &batch.schema(), &HashMap::new()).unwrap();
    let out = plan.conform(&batch, 0).unwrap();
    let got: Vec<_> = out
        .batch
        .column_by_name("first_name")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .collect();
    assert_eq!(got, vec![Some("Ann"), Some("Ann"), Some("Ann"), None, None]);
}

mod properties {
    //! Whatever text a source's cells hold (valid values in their usual spellings, garbage, nulls), conforming a
    //! batch keeps or quarantines every row, never both and never neither; a quarantined row's message is the
    //! rule's fixed text for its column (never a value); kept rows have their keys and canonical enumeration
    //! spellings; and kept rows conform again unchanged.

    use std::collections::{BTreeSet, HashMap};

    use _native::lake::{ConformPlan, Conformed};
    use _native::model::{canonical_input, CanonicalType, ColumnSpec, TableSpec, CANONICAL_INPUTS};
    use arrow::array::{Array, AsArray, RecordBatch, StringArray};
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, Field, Schema};
    use proptest::prelude::*;
    use std::sync::Arc;

    /// One cell's draw, turned into text once its column is known.
    #[derive(Debug, Clone)]
    struct Cell {
        kind: u8,
        garbage: String,
        n: u32,
        shout: bool,
    }

    fn cell() -> impl Strategy<Value = Cell> {
        (0u8..6, any::<String>(), any::<u32>(), any::<bool>()).prop_map(|(kind, garbage, n, shout)| Cell {
            kind,
            garbage,
            n,
            shout,
        })
    }

    /// A valid value of the column, in one of the spellings sources use.
    fn valid(column: &ColumnSpec, c: &Cell) -> String {
        let n = c.n as usize;
        if !column.allowed.is_empty() {
            let v = column.allowed[n % column.allowed.len()];
            return if c.shout {
                v.to_uppercase().replace('_', " ")
            } else {
                v.to_string()
            };
        }
        let date = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()
            + chrono::Duration::days((n % 27_000) as i64);
        match column.ty {
            CanonicalType::Text => format!("v{}", n % 1000),
            CanonicalType::Date => date
                .format(["%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%d-%b-%Y"][n % 4])
                .to_string(),
            CanonicalType::Timestamp => {
                format!("{}T{:02}:{:02}:00Z", date.format("%Y-%m-%d"), n % 24, n % 60)
            }
            CanonicalType::Float => format!("{}.{}", n % 500, n % 10),
            CanonicalType::Integer => ["30", "90", "30.0", "+7"][n % 4].to_string(),
            CanonicalType::Boolean => ["true", "no", "1", "N", "Yes"][n % 5].to_string(),
        }
    }

    /// The cell's text: in a clean row, a valid value or (off the keys and the source key that names the person)
    /// a null; in any other row, anything.
    fn text(column: &ColumnSpec, c: &Cell, clean: bool) -> Option<String> {
        let names_person = matches!(column.name, "source_system" | "source_record_id");
        match (c.kind, clean) {
            (0, true) if !column.key && !names_person => None,
            (0, false) => None,
            (1, false) => Some(c.garbage.clone()),
            _ => Some(valid(column, c)),
        }
    }

    /// A source batch of `table` whose cells are drawn by `rows` (each with whether the row is clean).
    fn source_batch(table: &str, rows: &[(bool, Vec<Cell>)]) -> (TableSpec, RecordBatch) {
        let spec = canonical_input(table).expect("a canonical input");
        let fields: Vec<Field> = spec
            .columns
            .iter()
            .map(|c| Field::new(c.name, DataType::Utf8, true))
            .collect();
        let arrays = spec
            .columns
            .iter()
            .enumerate()
            .map(|(ci, column)| {
                let values: Vec<Option<String>> = rows
                    .iter()
                    .map(|(clean, r)| text(column, &r[ci % r.len()], *clean))
                    .collect();
                Arc::new(StringArray::from(values)) as _
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
        (spec, batch)
    }

    /// The batch with each of its columns of canonical type text dictionary-encoded, and those columns'
    /// positions.
    fn as_dictionaries(spec: &TableSpec, batch: &RecordBatch) -> (RecordBatch, Vec<usize>) {
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let texts: Vec<usize> = (0..spec.columns.len())
            .filter(|&i| spec.columns[i].ty == CanonicalType::Text)
            .collect();
        let columns = batch
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| match texts.contains(&i) {
                true => cast(c, &dictionary).unwrap(),
                false => c.clone(),
            })
            .collect();
        let fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| match texts.contains(&i) {
                true => f.as_ref().clone().with_data_type(dictionary.clone()),
                false => f.as_ref().clone(),
            })
            .collect();
        (
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap(),
            texts,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn dictionary_encoded_text_conforms_as_plain_text_does(
            table in prop::sample::select(CANONICAL_INPUTS.to_vec()),
            rows in prop::collection::vec((any::<bool>(), prop::collection::vec(cell(), 16)), 0..40),
        ) {
            let (spec, plain) = source_batch(table, &rows);
            let (encoded, texts) = as_dictionaries(&spec, &plain);
            let conform = |batch: &RecordBatch| {
                ConformPlan::new(&spec, &batch.schema(), &HashMap::new()).unwrap().conform(batch, 0).unwrap()
            };
            let (want, got) = (conform(&plain), conform(&encoded));
            let rejected = |out: &Conformed| -> Vec<_> {
                out.quarantined.iter().map(|q| (q.row_number, q.column.clone(), q.reason)).collect()
            };
            prop_assert_eq!(rejected(&got), rejected(&want));
            prop_assert_eq!(got.batch.num_rows(), want.batch.num_rows());
            for ci in 0..spec.columns.len() {
                let column = got.batch.column(ci);
                if texts.contains(&ci) {
                    prop_assert!(matches!(column.data_type(), DataType::Dictionary(_, _)));
                    let decoded = cast(column, &DataType::Utf8).unwrap();
                    prop_assert_eq!(&decoded, want.batch.column(ci), "{} {}", table, spec.columns[ci].name);
                } else {
                    prop_assert_eq!(column, want.batch.column(ci));
                }
            }
        }

        #[test]
        fn every_row_is_kept_or_quarantined_with_a_fixed_reason(
            table in prop::sample::select(CANONICAL_INPUTS.to_vec()),
            rows in prop::collection::vec((any::<bool>(), prop::collection::vec(cell(), 16)), 0..40),
            offset in 0i64..1_000_000,
        ) {
            let (spec, batch) = source_batch(table, &rows);
            let plan = ConformPlan::new(&spec, &batch.schema(), &HashMap::new()).unwrap();
            let out = plan.conform(&batch, offset).unwrap();

            // Nothing dropped, nothing twice; clean rows are kept.
            prop_assert_eq!(out.batch.num_rows() + out.quarantined.len(), rows.len());
            prop_assert!(out.batch.num_rows() >= rows.iter().filter(|(clean, _)| *clean).count());
            let numbers: BTreeSet<i64> = out.quarantined.iter().map(|q| q.row_number).collect();
            prop_assert_eq!(numbers.len(), out.quarantined.len());
            prop_assert!(numbers.iter().all(|n| (offset..offset + rows.len() as i64).contains(n)));
            // The message is the rule's text for the column, so no value can be in it.
            for q in &out.quarantined {
                let column = spec.columns.iter().find(|c| c.name == q.column).expect("a canonical column");
                prop_assert_eq!(&q.message, &q.reason.describe(column));
                prop_assert_eq!(&q.table, table);
            }
            // Kept rows: keys present, enumerations in their canonical spelling.
            for (ci, column) in spec.columns.iter().enumerate() {
                let values = out.batch.column(ci);
                if column.key {
                    prop_assert_eq!(values.null_count(), 0, "{} {}", table, column.name);
                }
                if !column.allowed.is_empty() {
                    let texts = values.as_string::<i32>();
                    for v in texts.iter().flatten() {
                        prop_assert!(column.allowed.contains(&v), "{} {} {:?}", table, column.name, v);
                    }
                }
            }
            // Conformed rows conform again unchanged.
            let again_plan = ConformPlan::new(&spec, &out.batch.schema(), &HashMap::new()).unwrap();
            let again = again_plan.conform(&out.batch, 0).unwrap();
            prop_assert!(again.quarantined.is_empty());
            prop_assert_eq!(&again.batch, &out.batch);
        }
    }
}

#[test]
fn zips_and_ssns_stored_as_numbers_get_their_leading_zeros_back() {
    use arrow::array::{ArrayRef, Int64Array};
    use std::sync::Arc;
    let people = person_rows(
        vec![Some("1970-03-05"); 4],
        vec![Some("1"), Some("2"), Some("3"), Some("4")],
    );
    let numbers = |v: Vec<Option<i64>>| Arc::new(Int64Array::from(v)) as ArrayRef;
    let zips = numbers(vec![Some(2134), Some(21341234), Some(90210), None]);
    let ssns = numbers(vec![Some(12345678), Some(123456789), Some(-5), Some(1234567890)]);
    let batch = with_column(&with_column(&people, "postal_code", zips), "ssn", ssns);
    let plan = ConformPlan::new(&model::person_records(), &batch.schema(), &HashMap::new()).unwrap();
    let out = plan.conform(&batch, 0).unwrap();
    let text = |name: &str| -> Vec<Option<String>> {
        let column = out.batch.column_by_name(name).unwrap().as_string::<i32>();
        column.iter().map(|v| v.map(str::to_string)).collect()
    };
    let some = |v: &str| Some(v.to_string());
    assert_eq!(
        text("postal_code"),
        vec![some("02134"), some("021341234"), some("90210"), None]
    );
    // Wider than an SSN or negative: left as stored, for the SSN normalizer to refuse.
    assert_eq!(
        text("ssn"),
        vec![
            some("012345678"),
            some("123456789"),
            some("-5"),
            some("1234567890")
        ]
    );
}
