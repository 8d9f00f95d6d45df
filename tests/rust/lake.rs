//! Lake I/O: every input format, Delta writes with comments and change data feed, idempotent retries.

mod common;

use std::fs::File;

use _native::lake::{block_on, write_batches, TableFormat, WriteMode};
use _native::CoreError;
use arrow::array::RecordBatch;
use common::{find, loc, read_table, text_batch};

fn sample() -> RecordBatch {
    text_batch(&[
        ("source_system", vec![Some("ehr"), Some("ehr"), Some("crm")]),
        ("source_record_id", vec![Some("1"), Some("2"), Some("3")]),
    ])
}

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
    let schema = batch.schema();
    let first = block_on(write_batches(
        &table,
        schema.clone(),
        "test",
        WriteMode::Overwrite,
        Some("run-1"),
        [batch.clone()],
    ))
    .unwrap();
    assert!(!first.already_committed);
    assert_eq!(first.rows, 3);

    // A retry of the same run writes nothing and leaves the version where it was.
    let retry = block_on(write_batches(
        &table,
        schema.clone(),
        "test",
        WriteMode::Overwrite,
        Some("run-1"),
        [batch.clone()],
    ))
    .unwrap();
    assert!(retry.already_committed);
    assert_eq!(retry.version, first.version);
    assert_eq!(read_table(&find(&loc(&dir, ""), "t")).0, 3);

    // A new run appends; another overwrites.
    block_on(write_batches(
        &table,
        schema.clone(),
        "test",
        WriteMode::Append,
        Some("run-2"),
        [batch.clone()],
    ))
    .unwrap();
    assert_eq!(read_table(&find(&loc(&dir, ""), "t")).0, 6);
    block_on(write_batches(
        &table,
        schema.clone(),
        "test",
        WriteMode::Overwrite,
        Some("run-3"),
        [batch.slice(0, 1)],
    ))
    .unwrap();
    assert_eq!(read_table(&find(&loc(&dir, ""), "t")).0, 1);
}

#[test]
fn writing_other_columns_into_an_existing_table_is_a_clear_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let table = loc(&dir, "t");
    let batch = sample();
    block_on(write_batches(
        &table,
        batch.schema(),
        "test",
        WriteMode::Overwrite,
        None,
        [batch],
    ))
    .unwrap();
    let other = text_batch(&[("something_else", vec![Some("x")])]);
    let err = block_on(write_batches(
        &table,
        other.schema(),
        "test",
        WriteMode::Overwrite,
        None,
        [other],
    ))
    .unwrap_err();
    assert!(matches!(err, CoreError::Conflict(_)), "{err}");
}

#[test]
fn reads_parquet_files_parquet_folders_csv_and_delta() {
    let dir = tempfile::tempdir().unwrap();
    let batch = sample();
    // Parquet file.
    let mut w = parquet::arrow::ArrowWriter::try_new(
        File::create(dir.path().join("a.parquet")).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    // Parquet folder of two files.
    std::fs::create_dir(dir.path().join("b")).unwrap();
    for part in ["part-0.parquet", "part-1.parquet"] {
        let mut w = parquet::arrow::ArrowWriter::try_new(
            File::create(dir.path().join("b").join(part)).unwrap(),
            batch.schema(),
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
    // CSV.
    std::fs::write(
        dir.path().join("c.csv"),
        "source_system,source_record_id\nehr,1\ncrm,2\n",
    )
    .unwrap();
    // Delta.
    block_on(write_batches(
        &loc(&dir, "d"),
        batch.schema(),
        "",
        WriteMode::Overwrite,
        None,
        [batch.clone()],
    ))
    .unwrap();

    let lake = loc(&dir, "");
    let cases = [
        ("a", TableFormat::Parquet, 3),
        ("b", TableFormat::Parquet, 6),
        ("c", TableFormat::Csv, 2),
        ("d", TableFormat::Delta, 3),
    ];
    for (name, format, rows) in cases {
        let source = find(&lake, name);
        assert_eq!(source.format, format, "{name}");
        assert_eq!(read_table(&source).0, rows, "{name}");
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
