//! Tests of gathering kept rows from column chunks: every page layout the writer makes, compared with the general
//! reader's full read and take; columns it does not take and damaged chunks go to the general reader.

use super::*;
use arrow::array::{Array, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{Field, Schema};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

/// A batch of every kind the gatherer takes, with nulls, repeats (dictionaries) and unique text.
fn batch(rows: usize) -> RecordBatch {
    let pick = |i: usize, m: usize| (i.wrapping_mul(2_654_435_761) >> 7) % m;
    let codes: StringArray = (0..rows)
        .map(|i| (pick(i, 7) != 0).then(|| format!("code-{}", pick(i, 300))))
        .collect();
    let claims: StringArray = (0..rows)
        .map(|i| (pick(i, 11) != 3).then(|| format!("claim-{i:09}-{}", "x".repeat(pick(i, 9)))))
        .collect();
    let dates: Date32Array = (0..rows).map(|i| Some(19_000 + pick(i, 2_000) as i32)).collect();
    let supply: Int64Array = (0..rows)
        .map(|i| (i % 97 < 3 || (1_000..1_400).contains(&i)).then_some(i as i64 * 3))
        .collect();
    let values: Float64Array = (0..rows)
        .map(|i| (i % 5 == 0).then_some(i as f64 / 4.0))
        .collect();
    let small: Float32Array = (0..rows).map(|i| Some(pick(i, 13) as f32)).collect();
    let counts: Int32Array = (0..rows).map(|i| Some(i as i32)).collect();
    let schema = Schema::new(vec![
        Field::new("code", DataType::Utf8, true),
        Field::new("claim_id", DataType::Utf8, true),
        Field::new("event_date", DataType::Date32, false),
        Field::new("days_supply", DataType::Int64, true),
        Field::new("value_num", DataType::Float64, true),
        Field::new("small", DataType::Float32, true),
        Field::new("count", DataType::Int32, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(codes),
        Arc::new(claims),
        Arc::new(dates),
        Arc::new(supply),
        Arc::new(values),
        Arc::new(small),
        Arc::new(counts),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

fn write(batch: &RecordBatch, props: WriterProperties) -> Bytes {
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
    Bytes::from(out)
}

/// Gather `positions` from every column of row group 0 and compare with the general reader's rows.
fn check(file: &Bytes, positions: &[usize], expect_fast: bool) {
    let metadata = ArrowReaderMetadata::load(file, ArrowReaderOptions::new()).unwrap();
    let all = ParquetRecordBatchReaderBuilder::try_new(file.clone())
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let group = metadata.metadata().row_group(0);
    let indices = UInt32Array::from(positions.iter().map(|&p| p as u32).collect::<Vec<_>>());
    let descr = metadata.metadata().file_metadata().schema_descr_ptr();
    for (c, field) in metadata.schema().fields().iter().enumerate() {
        let (start, length) = group.column(c).byte_range();
        let chunk = file.slice(start as usize..(start + length) as usize);
        let gathered = gather_column(
            chunk,
            group.column(c),
            &descr.column(c),
            field.data_type(),
            group.num_rows() as usize,
            positions,
        );
        let expected = take(all.column(c), &indices, None).unwrap();
        match gathered {
            Gathered::Array(array) => assert_eq!(&array, &expected, "column {}", field.name()),
            Gathered::General => assert!(!expect_fast, "column {} was not gathered", field.name()),
        }
    }
}

fn positions(rows: usize, every: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..rows).filter(|i| (i * 7919) % every == 0).collect();
    p.extend([0, 1, rows - 1]);
    p.sort_unstable();
    p.dedup();
    p
}

#[test]
fn kept_rows_equal_the_general_readers_rows_in_every_page_layout() {
    let rows = 20_000;
    let data = batch(rows);
    let layouts = [
        WriterProperties::builder().build(),
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
        WriterProperties::builder().set_dictionary_enabled(false).build(),
        WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_compression(Compression::ZSTD(Default::default()))
            .build(),
        // Small pages and a small dictionary: many pages, and text that falls back to plain mid-chunk.
        WriterProperties::builder()
            .set_data_page_size_limit(2_000)
            .set_data_page_row_count_limit(700)
            .set_dictionary_page_size_limit(4_000)
            .set_write_batch_size(128)
            .set_statistics_enabled(EnabledStatistics::None)
            .build(),
    ];
    // Version 2 pages without a dictionary: DELTA encodings, which the general reader takes.
    let delta = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_dictionary_enabled(false)
        .build();
    let layouts = layouts.into_iter().map(|p| (p, true)).chain([(delta, false)]);
    for (props, fast) in layouts {
        let file = write(&data, props);
        for every in [1, 3, 60, 5_000] {
            check(&file, &positions(rows, every), fast);
        }
    }
}

#[test]
fn other_types_and_damaged_chunks_go_to_the_general_reader() {
    let rows = 1_000;
    let data = batch(rows);
    let file = write(&data, WriterProperties::builder().build());
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).unwrap();
    let group = metadata.metadata().row_group(0);
    let descr = metadata.metadata().file_metadata().schema_descr_ptr();
    let (start, length) = group.column(1).byte_range();
    let chunk = file.slice(start as usize..(start + length) as usize);
    let at = [3, 500];
    // Text asked as a number.
    let asked = gather_column(
        chunk.clone(),
        group.column(1),
        &descr.column(1),
        &DataType::Int64,
        rows,
        &at,
    );
    assert!(matches!(asked, Gathered::General));
    // The chunk cut short, or its data pages overwritten: never a panic, never wrong values.
    let short = chunk.slice(..chunk.len() / 2);
    let cut = gather_column(
        short,
        group.column(1),
        &descr.column(1),
        &DataType::Utf8,
        rows,
        &at,
    );
    assert!(matches!(cut, Gathered::General));
    for flip in (40..chunk.len()).step_by(97) {
        let mut damaged = chunk.to_vec();
        damaged[flip] ^= 0x5a;
        let got = gather_column(
            Bytes::from(damaged),
            group.column(1),
            &descr.column(1),
            &DataType::Utf8,
            rows,
            &at,
        );
        if let Gathered::Array(array) = got {
            assert_eq!(array.len(), at.len());
        }
    }
}
