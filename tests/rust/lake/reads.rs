//! Reads: every input format, missing tables, selective reads by predicate, dictionaries, narrowed columns.

use super::*;

#[test]
fn reads_parquet_files_parquet_folders_csv_and_delta() {
    let dir = tempfile::tempdir().unwrap();
    let batch = sample();
    parquet_file(&dir.path().join("a.parquet"), &batch);
    // Parquet folder of two files.
    for part in ["part-0.parquet", "part-1.parquet"] {
        parquet_file(&dir.path().join("b").join(part), &batch);
    }
    // CSV.
    std::fs::write(
        dir.path().join("c.csv"),
        "source_system,source_record_id\nehr,1\ncrm,2\n",
    )
    .unwrap();
    // Delta.
    write_one(&loc(&dir, "d"), WriteMode::Overwrite, None, batch.clone()).unwrap();
    // "CSV" separated by semicolons (a European spreadsheet) and by tabs (a database export).
    std::fs::write(
        dir.path().join("e.csv"),
        "source_system;source_record_id\nehr;1\ncrm;2\nclaims;3\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("f.csv"),
        "source_system\tsource_record_id\nehr\t1, the first\n",
    )
    .unwrap();

    let lake = loc(&dir, "");
    let cases = [
        ("a", TableFormat::Parquet, 3),
        ("b", TableFormat::Parquet, 6),
        ("c", TableFormat::Csv, 2),
        ("d", TableFormat::Delta, 3),
        ("e", TableFormat::Csv, 3),
        ("f", TableFormat::Csv, 1),
    ];
    for (name, format, rows) in cases {
        let source = find(&lake, name);
        assert_eq!(source.format, format, "{name}");
        let (read, batches) = read_table(&source);
        assert_eq!(read, rows, "{name}");
        let columns: Vec<String> = batches[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(columns[..2], ["source_system", "source_record_id"], "{name}");
    }
}

/// `batch` as the Parquet file `path` (its folder made first).
fn parquet_file(path: &std::path::Path, batch: &RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

#[test]
fn a_parquet_folder_is_its_own_files_and_partition_folders_for_both_readers() {
    let dir = tempfile::tempdir().unwrap();
    let batch = sample();
    let folder = dir.path().join("events");
    parquet_file(&folder.join("part-0.parquet"), &batch);
    parquet_file(&folder.join("year=2026").join("part-1.parquet"), &batch);
    // Not the table's: a copy kept in a plain subfolder, as the query engine's listing leaves it.
    parquet_file(&folder.join("archive").join("part-2.parquet"), &batch);
    let source = block_on(_native::lake::detect(&loc(&dir, "events"), "events")).unwrap();
    assert_eq!(source.format, TableFormat::Parquet);
    assert_eq!(read_table(&source).0, 6, "the query engine's reader");
    let scan = block_on(_native::lake::selective_read::SelectiveScan::plan(&source))
        .unwrap()
        .expect("plain Parquet reads selectively");
    let selected: usize = every_batch(&scan).iter().map(|s| s.batch.num_rows()).sum();
    assert_eq!(selected, 6, "the selective reader takes the same files");
}

#[test]
fn a_lake_given_where_a_table_is_asked_for_is_an_input_error_naming_the_table_folder() {
    let dir = tempfile::tempdir().unwrap();
    let batch = sample();
    write_one(
        &loc(&dir, "person_records"),
        WriteMode::Overwrite,
        None,
        batch.clone(),
    )
    .unwrap();
    parquet_file(&dir.path().join("enrollment").join("part-0.parquet"), &batch);
    let lake = loc(&dir, "");
    let err = block_on(_native::lake::detect(&lake, "person_records")).unwrap_err();
    assert!(matches!(err, CoreError::Input(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("person_records/, enrollment/"), "{message}");
    assert!(
        message.contains(&format!("e.g. {}", lake.join("person_records"))),
        "{message}"
    );
    // An empty folder says only that nothing is there.
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let err = block_on(_native::lake::detect(&loc(&dir, "empty"), "person_records")).unwrap_err();
    assert!(!err.to_string().contains("folders"), "{err}");
}

#[test]
fn a_table_placed_where_nothing_is_names_the_field_that_placed_it() {
    use _native::pipeline::ingest::{InputOverride, InputSet};
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = InputSet::lake(loc(&dir, ""));
    let missing = dir.path().join("raw").join("members.csv");
    inputs.overrides.insert(
        "person_records".into(),
        InputOverride {
            uri: Some(missing.display().to_string()),
            columns: Default::default(),
        },
    );
    let err = block_on(inputs.locate("person_records")).unwrap_err();
    assert!(matches!(err, CoreError::Input(_)), "{err}");
    assert!(err.to_string().contains("sources.person_records.uri: "), "{err}");
    // A table the file does not place is simply absent from the lake.
    assert!(block_on(inputs.locate("enrollment")).unwrap().is_none());
}

#[test]
fn a_csv_file_that_is_not_utf8_or_has_ragged_rows_is_an_input_error_saying_which_line() {
    let dir = tempfile::tempdir().unwrap();
    let files: [(&str, &[u8], &str); 2] = [
        (
            "latin1.csv",
            b"source_system,source_record_id,first_name\nehr,1,Ann\nehr,2,Jos\xe9\n",
            "is not UTF-8 text",
        ),
        (
            "ragged.csv",
            b"source_system,source_record_id\nehr,1\nehr,2,Smith, Jr.\n",
            "has 4 fields where the header has 2",
        ),
    ];
    for (name, bytes, says) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let source = find(&loc(&dir, ""), name.trim_end_matches(".csv"));
        let err = block_on(async {
            let mut reader = _native::lake::TableReader::open(&source).await?;
            while reader.next_batch().await?.is_some() {}
            Ok::<_, CoreError>(())
        })
        .unwrap_err();
        assert!(matches!(err, CoreError::Input(_)), "{name}: {err}");
        let message = err.to_string();
        assert!(
            message.contains(says) && message.contains("line "),
            "{name}: {message}"
        );
        assert!(
            !message.contains("Jos") && !message.contains("Smith"),
            "no value in the message: {message}"
        );
    }
}

#[test]
fn a_missing_table_is_an_input_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = block_on(_native::lake::find_in_lake(&loc(&dir, ""), "person_records")).unwrap_err();
    assert!(matches!(err, CoreError::Input(_)));
    assert!(err.to_string().contains("person_records"));
    assert!(!err.is_user_error() || matches!(err, CoreError::Input(_)));
}

/// A Parquet file of `rows` rows in row groups of `group` rows: `n` (0..rows) and `code` ("keep" every fifth
/// row, else a number as text).
fn row_group_file(path: &std::path::Path, rows: i64, group: usize) {
    use arrow::array::{Int64Array, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    let n = Int64Array::from_iter_values(0..rows);
    let code = StringArray::from_iter_values((0..rows).map(|i| {
        if i % 5 == 0 {
            "keep".to_string()
        } else {
            i.to_string()
        }
    }));
    let batch = RecordBatch::try_from_iter([
        ("n", std::sync::Arc::new(n) as arrow::array::ArrayRef),
        ("code", std::sync::Arc::new(code) as arrow::array::ArrayRef),
    ])
    .unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// A plain Parquet folder `events` in `dir` of two files (`rows` each, in row groups of `group` rows: see
/// [`row_group_file`]), planned for a selective read.
fn events_scan(
    dir: &tempfile::TempDir,
    files: [(i64, usize); 2],
) -> _native::lake::selective_read::SelectiveScan {
    let folder = dir.path().join("events");
    std::fs::create_dir(&folder).unwrap();
    for (k, (rows, group)) in files.into_iter().enumerate() {
        row_group_file(&folder.join(format!("part-{k}.parquet")), rows, group);
    }
    let source = block_on(_native::lake::detect(&loc(dir, "events"), "events")).unwrap();
    assert_eq!(source.format, TableFormat::Parquet);
    block_on(_native::lake::selective_read::SelectiveScan::plan(&source))
        .unwrap()
        .expect("plain Parquet reads selectively")
}

/// Every batch a full read of `scan` hands on, in order.
fn every_batch(
    scan: &_native::lake::selective_read::SelectiveScan,
) -> Vec<_native::lake::selective_read::SelectedRows> {
    let mut batches = Vec::new();
    block_on(scan.read_each(|s| {
        batches.push(s);
        Ok(())
    }))
    .unwrap();
    batches
}

/// The table positions, `n` values and `code` values of the rows a selective read of [`events_scan`] kept.
fn kept_events(
    selected: &[_native::lake::selective_read::SelectedRows],
) -> (Vec<i64>, Vec<i64>, Vec<String>) {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    let (mut numbers, mut n, mut codes) = (Vec::new(), Vec::new(), Vec::new());
    for s in selected {
        numbers.extend((0..s.batch.num_rows()).map(|i| s.row_numbers.at(i)));
        n.extend(
            s.batch
                .column(0)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .copied(),
        );
        codes.extend(
            s.batch
                .column(1)
                .as_string::<i32>()
                .iter()
                .map(|c| c.expect("the files hold no null code").to_string()),
        );
    }
    (numbers, n, codes)
}

#[test]
fn a_selective_read_keeps_the_predicates_rows_with_their_table_positions() {
    use _native::lake::RowNumbers;
    use arrow::array::{AsArray, BooleanArray};
    let dir = tempfile::tempdir().unwrap();
    // Two files, several row groups each: positions run on across row groups and files, in file-name order.
    let scan = events_scan(&dir, [(30, 7), (23, 7)]);
    assert_eq!(scan.rows(), 53);
    let seen = std::sync::atomic::AtomicU64::new(0);
    let predicate: _native::lake::selective_read::RowPredicate =
        std::sync::Arc::new(|batch: &RecordBatch| {
            // The predicate's text column comes dictionary-encoded.
            let codes = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)?;
            Ok(codes
                .as_string::<i32>()
                .iter()
                .map(|c| Some(c == Some("keep")))
                .collect::<BooleanArray>())
        });
    let selected = block_on(scan.select(&["code"], predicate, &|rows| {
        seen.fetch_add(rows, std::sync::atomic::Ordering::Relaxed);
    }))
    .unwrap();
    assert_eq!(seen.into_inner(), 53, "every row group reports its rows");
    for s in &selected {
        assert!(matches!(&s.row_numbers, RowNumbers::Listed(l) if l.len() == s.batch.num_rows()));
        assert_eq!(
            s.batch.schema().field(1).data_type(),
            &arrow::datatypes::DataType::Utf8
        );
    }
    let (numbers, values, _) = kept_events(&selected);
    let expected: Vec<i64> = (0..30)
        .step_by(5)
        .chain((0..23).step_by(5).map(|i| 30 + i))
        .collect();
    assert_eq!(numbers, expected, "table positions of the kept rows");
    let in_file: Vec<i64> = (0..30).step_by(5).chain((0..23).step_by(5)).collect();
    assert_eq!(
        values, in_file,
        "the other columns are read for exactly the kept rows"
    );
}

#[test]
fn kept_rows_near_and_far_apart_and_groups_keeping_none_read_exactly_the_kept_rows() {
    use arrow::array::{AsArray, BooleanArray};
    use arrow::datatypes::Int64Type;
    let dir = tempfile::tempdir().unwrap();
    let scan = events_scan(&dir, [(3000, 1000), (2500, 700)]);
    // Runs of three rows 37 apart, lone rows between them, and no row at all from 1000 to 2000: runs are
    // read together over short gaps and apart over long ones, and some row groups keep nothing.
    let keeps = |n: i64| !(1000..2000).contains(&n) && (n % 37 < 3 || n % 100 == 50);
    let predicate: _native::lake::selective_read::RowPredicate =
        std::sync::Arc::new(move |batch: &RecordBatch| {
            let n = batch.column(0).as_primitive::<Int64Type>();
            Ok(n.iter().map(|n| n.map(keeps)).collect::<BooleanArray>())
        });
    let selected = block_on(scan.select(&["n"], predicate, &|_| {})).unwrap();
    let (numbers, _, codes) = kept_events(&selected);
    let mut expected_numbers = Vec::new();
    let mut expected_codes = Vec::new();
    for (offset, rows) in [(0, 3000), (3000, 2500)] {
        for n in (0..rows).filter(|&n| keeps(n)) {
            expected_numbers.push(offset + n);
            expected_codes.push(if n % 5 == 0 {
                "keep".to_string()
            } else {
                n.to_string()
            });
        }
    }
    assert_eq!(numbers, expected_numbers, "table positions of the kept rows");
    assert_eq!(
        codes, expected_codes,
        "the other column is read for exactly the kept rows"
    );
}

#[test]
fn a_full_read_hands_on_each_decoded_batch_with_its_table_position() {
    use _native::lake::RowNumbers;
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    let dir = tempfile::tempdir().unwrap();
    // Row groups larger than a decoded batch: each group comes in several batches, handed on as they are.
    let scan = events_scan(&dir, [(150_000, 100_000), (70_000, 100_000)]);
    let mut batches = 0;
    let mut next = 0i64;
    block_on(scan.read_each(|rows| {
        let RowNumbers::From(first) = rows.row_numbers else {
            panic!("a full read numbers rows from a position");
        };
        assert_eq!(first, next, "batches come in table order, none left out");
        let n = rows.batch.column(0).as_primitive::<Int64Type>();
        // `n` restarts at 0 in the second file; its table position runs on.
        let offset = if first >= 150_000 { 150_000 } else { 0 };
        for i in 0..n.len() {
            assert_eq!(n.value(i) + offset, first + i as i64);
        }
        next = first + n.len() as i64;
        batches += 1;
        Ok(())
    }))
    .unwrap();
    assert_eq!(next, 220_000);
    assert!(
        batches > 3,
        "the row groups came in more than one batch each: {batches}"
    );
}

#[test]
fn text_columns_asked_for_as_dictionaries_are_read_so_with_the_same_values() {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int32Type};
    let dir = tempfile::tempdir().unwrap();
    let scan = events_scan(&dir, [(30, 7), (23, 7)]);
    let plain = every_batch(&scan);
    // An unknown name and a column that is not text are left as they are.
    let scan = scan.with_text_dictionaries(&["code", "n", "no_such"]).unwrap();
    let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    assert_eq!(scan.schema().field(1).data_type(), &dictionary);
    assert_eq!(scan.schema().field(0).data_type(), &DataType::Int64);
    let encoded = every_batch(&scan);
    assert_eq!(kept_events(&plain).0, {
        let numbers: Vec<i64> = encoded
            .iter()
            .flat_map(|s| (0..s.batch.num_rows()).map(|i| s.row_numbers.at(i)))
            .collect();
        numbers
    });
    let codes = |batches: &[_native::lake::selective_read::SelectedRows]| -> Vec<String> {
        batches
            .iter()
            .flat_map(|s| {
                let column = arrow::compute::cast(s.batch.column(1), &DataType::Utf8).unwrap();
                let texts: Vec<String> = column
                    .as_string::<i32>()
                    .iter()
                    .map(|c| c.unwrap().to_string())
                    .collect();
                texts
            })
            .collect()
    };
    for s in &encoded {
        let values = s
            .batch
            .column(1)
            .as_dictionary::<Int32Type>()
            .values()
            .as_string::<i32>()
            .clone();
        let distinct: std::collections::HashSet<_> = values.iter().collect();
        assert_eq!(distinct.len(), values.len(), "a dictionary of the distinct codes");
    }
    assert_eq!(codes(&encoded), codes(&plain));
}

#[test]
fn a_read_narrowed_to_some_columns_hands_on_only_those_with_the_same_rows() {
    use arrow::array::AsArray;
    let dir = tempfile::tempdir().unwrap();
    let scan = events_scan(&dir, [(30, 7), (23, 7)]);
    let whole = every_batch(&scan);
    let columns = scan.schema().fields().len();
    assert!(columns > 1);
    let narrowed = scan.with_read_columns(vec![1, 1]).unwrap();
    assert_eq!(narrowed.schema().fields().len(), 1);
    assert_eq!(narrowed.schema().field(0).name(), "code");
    let codes = every_batch(&narrowed);
    assert!(codes.iter().all(|s| s.batch.num_columns() == 1));
    let texts = |batches: &[_native::lake::selective_read::SelectedRows], at: usize| -> Vec<(i64, String)> {
        batches
            .iter()
            .flat_map(|s| {
                let column = s.batch.column(at).as_string::<i32>().clone();
                (0..s.batch.num_rows())
                    .map(move |i| (s.row_numbers.at(i), column.value(i).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(texts(&codes, 0), texts(&whole, 1));
    assert!(events_scan(&tempfile::tempdir().unwrap(), [(3, 7), (2, 7)])
        .with_read_columns(vec![columns])
        .is_err());
}
