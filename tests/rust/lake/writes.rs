//! Delta writes: comments, change data feed, overwrite, append and idempotent retries, several writers at once,
//! schema changes, row-group sizes.

use super::*;

fn delta_log_text(dir: &std::path::Path) -> String {
    let log = dir.join("_delta_log");
    let mut text = String::new();
    let mut entries: Vec<_> = std::fs::read_dir(&log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for e in entries {
        if e.extension().is_some_and(|x| x == "json") {
            text.push_str(&std::fs::read_to_string(e).unwrap());
        }
    }
    text
}

#[test]
fn delta_write_stores_comments_and_change_data_feed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = _native::model::runs();
    let table = loc(&dir, "runs");
    let empty = RecordBatch::new_empty(spec.arrow_schema());
    block_on(write_batches(
        &table,
        spec.arrow_schema(),
        spec.comment,
        WriteMode::Append,
        None,
        [empty],
    ))
    .unwrap();
    let log = delta_log_text(&dir.path().join("runs"));
    assert!(
        log.contains("\"description\":\"carelake run log"),
        "table description missing: {log}"
    );
    assert!(
        log.contains("\\\"comment\\\":\\\"Deterministic id of the run"),
        "column comment missing"
    );
    assert!(
        log.contains("\"delta.enableChangeDataFeed\":\"true\""),
        "change data feed not enabled"
    );
}

#[test]
fn overwrite_append_and_idempotent_retry() {
    let dir = tempfile::tempdir().unwrap();
    let table = loc(&dir, "t");
    let batch = sample();
    let first = write_one(&table, WriteMode::Overwrite, Some("run-1"), batch.clone()).unwrap();
    assert!(!first.already_committed);
    assert_eq!(first.rows, 3);

    // A retry of the same run writes nothing and leaves the version where it was.
    let retry = write_one(&table, WriteMode::Overwrite, Some("run-1"), batch.clone()).unwrap();
    assert!(retry.already_committed);
    assert_eq!(retry.version, first.version);
    assert_eq!(read_table(&find(&loc(&dir, ""), "t")).0, 3);

    // A new run appends; another overwrites.
    write_one(&table, WriteMode::Append, Some("run-2"), batch.clone()).unwrap();
    assert_eq!(read_table(&find(&loc(&dir, ""), "t")).0, 6);
    write_one(&table, WriteMode::Overwrite, Some("run-3"), batch.slice(0, 1)).unwrap();
    assert_eq!(read_table(&find(&loc(&dir, ""), "t")).0, 1);
}

#[test]
fn a_table_written_by_several_writers_at_once_is_one_version_in_batch_order() {
    use arrow::array::AsArray;
    let dir = tempfile::tempdir().unwrap();
    let table = loc(&dir, "t");
    let batches: Vec<RecordBatch> = (0..5)
        .map(|b| {
            let ids: Vec<String> = (0..1000).map(|i| format!("{}", b * 1000 + i)).collect();
            text_batch(&[
                ("source_system", vec![Some("ehr"); 1000]),
                ("source_record_id", ids.iter().map(|s| Some(s.as_str())).collect()),
            ])
        })
        .collect();
    let schema = batches[0].schema();
    let write = |batches: Vec<RecordBatch>| {
        block_on(try_write_batches(
            &table,
            schema.clone(),
            "test",
            WriteMode::Append,
            Some("run-1"),
            batches.into_iter().map(Ok),
            2,
        ))
        .unwrap()
    };
    let first = write(batches.clone());
    assert_eq!(
        (first.rows, first.files, first.already_committed),
        (5000, 2, false)
    );
    let (rows, read) = read_table(&find(&loc(&dir, ""), "t"));
    assert_eq!(rows, 5000);
    let ids: Vec<String> = read
        .iter()
        .flat_map(|b| {
            b.column(1)
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let expected: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
    assert_eq!(
        ids, expected,
        "the writers' files are committed in the order of the batches"
    );
    // One version: a retry of the run writes nothing.
    let retry = write(batches.clone());
    assert!(retry.already_committed);
    assert_eq!(retry.version, first.version);
    // A single batch is sliced so that each writer has a share.
    let one = block_on(try_write_batches(
        &loc(&dir, "u"),
        schema.clone(),
        "test",
        WriteMode::Append,
        Some("run-1"),
        [Ok(batches[0].clone())],
        3,
    ))
    .unwrap();
    assert_eq!((one.rows, one.files), (1000, 3));
    assert_eq!(read_table(&find(&loc(&dir, ""), "u")).0, 1000);
}

#[test]
fn shares_built_as_their_writers_take_them_are_one_version_in_share_order_and_a_failed_batch_commits_nothing()
{
    use arrow::array::AsArray;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let batch_of = |first: usize| {
        let ids: Vec<String> = (first..first + 100).map(|i| i.to_string()).collect();
        let hashes: Vec<String> = (first..first + 100)
            .map(|i| format!("{:016x}", i * 7919))
            .collect();
        text_batch(&[
            ("source_system", vec![Some("ehr"); 100]),
            ("source_record_id", ids.iter().map(|s| Some(s.as_str())).collect()),
            ("row_hash", hashes.iter().map(|s| Some(s.as_str())).collect()),
        ])
    };
    let schema = batch_of(0).schema();
    let location = loc(&dir, "t");
    let target = |run_key: &'static str| TableTarget {
        location: &location,
        schema: schema.clone(),
        comment: "test",
        mode: WriteMode::Append,
        run_key: Some(run_key),
        layouts: &[
            ("source_record_id", ColumnLayout::Scattered),
            ("row_hash", ColumnLayout::Digest),
        ],
    };
    // Three shares of unequal length; each batch is built when its share's turn comes.
    let built = AtomicUsize::new(0);
    let shares: Vec<_> = [(0, 4), (400, 1), (500, 3)]
        .into_iter()
        .map(|(first, batches)| {
            let built = &built;
            (0..batches).map(move |b| {
                built.fetch_add(1, Ordering::Relaxed);
                Ok(batch_of(first + b * 100))
            })
        })
        .collect();
    let written = block_on(try_write_shares(target("run-1"), shares)).unwrap();
    assert_eq!(
        (written.rows, written.files, built.load(Ordering::Relaxed)),
        (800, 3, 8)
    );
    let (rows, read) = read_table(&find(&loc(&dir, ""), "t"));
    assert_eq!(rows, 800);
    let ids: Vec<String> = read
        .iter()
        .flat_map(|b| {
            let ids = b.column(1).as_string::<i32>();
            ids.iter().map(|v| v.unwrap().to_string()).collect::<Vec<_>>()
        })
        .collect();
    let expected: Vec<String> = (0..800).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "files are committed in the order of the shares");
    // The scattered columns are written without a dictionary or statistics, the digest uncompressed too; the
    // other column keeps all three.
    for file in std::fs::read_dir(dir.path().join("t")).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let reader = parquet::file::reader::SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        use parquet::file::reader::FileReader;
        for group in reader.metadata().row_groups() {
            let (system, record, digest) = (group.column(0), group.column(1), group.column(2));
            assert!(system.dictionary_page_offset().is_some() && system.statistics().is_some());
            for scattered in [record, digest] {
                assert!(scattered.dictionary_page_offset().is_none() && scattered.statistics().is_none());
            }
            use parquet::basic::Compression;
            assert_eq!(system.compression(), Compression::SNAPPY);
            assert_eq!(record.compression(), Compression::SNAPPY);
            assert_eq!(digest.compression(), Compression::UNCOMPRESSED);
        }
    }

    // A batch that fails to build in the second share ends the write: its error comes back, nothing is
    // committed, and the next share's batches after it are not built.
    let built = AtomicUsize::new(0);
    let shares: Vec<Box<dyn Iterator<Item = CoreResult<RecordBatch>> + Send>> = vec![
        Box::new((0..3).map(|b| {
            built.fetch_add(1, Ordering::Relaxed);
            Ok(batch_of(b * 100))
        })),
        Box::new([Ok(batch_of(900)), Err(CoreError::Input("batch 2 failed".into()))].into_iter()),
    ];
    let failed = block_on(try_write_shares(target("run-2"), shares)).unwrap_err();
    assert!(failed.to_string().contains("batch 2 failed"), "{failed}");
    assert!(
        built.load(Ordering::Relaxed) < 3,
        "the first share was not built to its end"
    );
    assert_eq!(read_table(&find(&loc(&dir, ""), "t")).0, 800);
}

#[test]
fn rows_per_value_are_bounded_from_row_group_statistics_when_the_table_is_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let batch = |systems: &[(&str, usize)]| {
        let values: Vec<Option<&str>> = systems
            .iter()
            .flat_map(|&(s, n)| std::iter::repeat_n(Some(s), n))
            .collect();
        let ids: Vec<String> = (0..values.len()).map(|i| i.to_string()).collect();
        text_batch(&[
            ("source_system", values),
            ("source_record_id", ids.iter().map(|s| Some(s.as_str())).collect()),
        ])
    };
    let write = |table: &str, shares: Vec<RecordBatch>| {
        let location = loc(&dir, table);
        let target = TableTarget {
            location: &location,
            schema: shares[0].schema(),
            comment: "test",
            mode: WriteMode::Append,
            run_key: None,
            layouts: &[],
        };
        let shares: Vec<_> = shares.into_iter().map(|b| std::iter::once(Ok(b))).collect();
        block_on(try_write_shares(target, shares)).unwrap();
        location
    };
    let counted = |location: &Location| {
        let mut found = None;
        let mut rows = 0;
        block_on(read_columns_each_counted_if_present(
            location,
            "t",
            Columns::All,
            Some(("source_system", &mut |c| found = Some(c))),
            |b| {
                rows += b.num_rows();
                Ok(())
            },
        ))
        .unwrap();
        (found, rows)
    };
    // In system order, one file (one row group) a share: the mixed group counts for both of its systems.
    let sorted = write(
        "sorted",
        vec![
            batch(&[("crm", 400)]),
            batch(&[("crm", 50), ("ehr", 50)]),
            batch(&[("ehr", 400)]),
        ],
    );
    let (found, rows) = counted(&sorted);
    assert_eq!(rows, 900, "every row is still read");
    assert_eq!(
        found,
        Some(vec![("crm".to_string(), 500), ("ehr".to_string(), 500)])
    );
    // In no order: every group holds every system, and the bounds would be twice the rows.
    let mixed = write(
        "mixed",
        vec![
            batch(&[("crm", 200), ("ehr", 200)]),
            batch(&[("crm", 200), ("ehr", 200)]),
        ],
    );
    assert_eq!(counted(&mixed), (None, 800));
}

#[test]
fn writing_other_columns_into_an_existing_table_is_a_clear_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let table = loc(&dir, "t");
    let batch = sample();
    write_one(&table, WriteMode::Overwrite, None, batch).unwrap();
    let other = text_batch(&[("something_else", vec![Some("x")])]);
    let err = write_one(&table, WriteMode::Overwrite, None, other).unwrap_err();
    assert!(matches!(err, CoreError::Conflict(_)), "{err}");
}

#[test]
fn new_columns_after_the_existing_ones_are_added_to_an_existing_table() {
    let dir = tempfile::tempdir().unwrap();
    let table = loc(&dir, "t");
    let first = sample();
    write_one(&table, WriteMode::Append, None, first).unwrap();
    // A newer writer adds a column at the end: the table takes it, and older rows read it as null.
    let second = text_batch(&[
        ("source_system", vec![Some("ehr")]),
        ("source_record_id", vec![Some("9")]),
        ("status", vec![Some("succeeded")]),
    ]);
    write_one(&table, WriteMode::Append, None, second).unwrap();
    let (rows, batches) = read_table(&find(&loc(&dir, ""), "t"));
    assert_eq!(rows, 4);
    let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let status = all.column_by_name("status").expect("the new column");
    assert_eq!(
        status.null_count(),
        3,
        "rows written before the column existed have no value"
    );
    // A column in another place (or of another type) is still refused.
    let reordered = text_batch(&[("status", vec![Some("x")]), ("source_system", vec![Some("ehr")])]);
    let err = write_one(&table, WriteMode::Append, None, reordered).unwrap_err();
    assert!(matches!(err, CoreError::Conflict(_)), "{err}");
}

/// The row counts of the row groups of every Parquet file of a table folder.
fn row_groups(dir: &std::path::Path) -> Vec<i64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut groups = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "parquet") {
            let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
            groups.extend(reader.metadata().row_groups().iter().map(|g| g.num_rows()));
        }
    }
    groups
}

#[test]
fn wide_tables_are_written_in_row_groups_readers_can_share_out_and_narrow_ones_are_not_split() {
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let rows = 300_000i64;
    // About 60 bytes of text a row that neither a dictionary nor Snappy shrinks much: about 18 MB encoded.
    let text = StringArray::from_iter_values((0..rows).map(|i| {
        let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!(
            "{h:016x}{:016x}{:016x}{i:012}",
            h.rotate_left(21),
            h.rotate_left(42)
        )
    }));
    let wide = RecordBatch::try_from_iter([
        ("n", Arc::new(Int64Array::from_iter_values(0..rows)) as ArrayRef),
        ("text", Arc::new(text) as ArrayRef),
    ])
    .unwrap();
    let narrow = wide.project(&[0]).unwrap();
    for (name, batch) in [("wide", wide), ("narrow", narrow)] {
        block_on(write_batches(
            &loc(&dir, name),
            batch.schema(),
            name,
            WriteMode::Overwrite,
            None,
            [batch],
        ))
        .unwrap();
    }
    let wide = row_groups(&dir.path().join("wide"));
    assert_eq!(wide.iter().sum::<i64>(), rows);
    assert!(wide.len() >= 2, "row groups: {wide:?}");
    assert_eq!(row_groups(&dir.path().join("narrow")), [rows]);
}
