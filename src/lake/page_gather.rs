//! Reading a few scattered rows of one Parquet column chunk: its pages are decompressed as usual, but of their
//! values only those of the kept rows are decoded.
//!
//! Care gaps keep about one clinical event in sixty, spread over every page. The general reader, handed a row
//! selection, skips and reads run by run through several layers for each of a dozen columns (about a million
//! calls per row group), which was most of the time of the whole stage. Here a kept row's value is found
//! directly: at its offset in a plain page of fixed-width values, by its bit offset in a bit-packed run of
//! dictionary indices, or by walking the lengths of a plain page of byte arrays. Definition levels give each kept
//! row's place among the page's values the same way.
//!
//! It takes flat columns (no repetition, at most one definition level) of text, 32- and 64-bit integers, dates
//! and floats, in PLAIN or dictionary encoding, in data pages of either version. Any other column, or a page it
//! cannot read, is answered with [`Gathered::General`], and the caller reads that column with the general
//! reader, which also reports what is wrong with a damaged file.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float32Array, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::DataType;
use bytes::{Buf, Bytes};
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageReader};
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;
use parquet::schema::types::ColumnDescriptor;

use super::hybrid::{HybridCursor, Malformed};

/// What reading a column chunk's kept rows gave.
#[derive(Debug)]
pub(super) enum Gathered {
    /// The kept rows' values, in the order of the positions asked.
    Array(ArrayRef),
    /// This reader does not take the column, or could not read one of its pages: read it the general way.
    General,
}

/// The bytes of one column chunk, addressed by their offsets in the file (what the page reader asks for).
struct ChunkBytes {
    start: u64,
    data: Bytes,
}

impl Length for ChunkBytes {
    fn len(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

impl ChunkReader for ChunkBytes {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, Some(length))
    }
}

impl ChunkBytes {
    fn slice(&self, start: u64, length: Option<usize>) -> parquet::errors::Result<Bytes> {
        let outside = || parquet::errors::ParquetError::General("a page outside its column chunk".into());
        let from =
            usize::try_from(start.checked_sub(self.start).ok_or_else(outside)?).map_err(|_| outside())?;
        let to = match length {
            Some(length) => from.checked_add(length).ok_or_else(outside)?,
            None => self.data.len(),
        };
        if from > to || to > self.data.len() {
            return Err(outside());
        }
        Ok(self.data.slice(from..to))
    }
}

/// The kind of values gathered, from the column's physical type and the Arrow type asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int32,
    Int64,
    Float32,
    Float64,
}

impl Kind {
    fn of(physical: PhysicalType, target: &DataType) -> Option<Kind> {
        Some(match (physical, target) {
            (PhysicalType::BYTE_ARRAY, DataType::Utf8) => Kind::Text,
            (PhysicalType::INT32, DataType::Int32 | DataType::Date32) => Kind::Int32,
            (PhysicalType::INT64, DataType::Int64) => Kind::Int64,
            (PhysicalType::FLOAT, DataType::Float32) => Kind::Float32,
            (PhysicalType::DOUBLE, DataType::Float64) => Kind::Float64,
            _ => return None,
        })
    }

    /// Bytes per value of a fixed-width kind (None for text).
    fn width(self) -> Option<usize> {
        match self {
            Kind::Text => None,
            Kind::Int32 | Kind::Float32 => Some(4),
            Kind::Int64 | Kind::Float64 => Some(8),
        }
    }
}

/// A dictionary page's values: for text, each entry's byte range in `data`; for fixed widths, `data` itself.
struct Dictionary {
    data: Bytes,
    entries: Vec<(u32, u32)>,
    len: usize,
}

/// The kept rows' values as they are found: for text the bytes and offsets, for fixed widths the raw
/// little-endian values; and which rows are null.
struct Output {
    kind: Kind,
    bytes: Vec<u8>,
    offsets: Vec<i32>,
    valid: Vec<bool>,
    nulls: usize,
}

impl Output {
    fn new(kind: Kind, rows: usize) -> Self {
        let mut offsets = Vec::new();
        if kind == Kind::Text {
            offsets.reserve(rows + 1);
            offsets.push(0);
        }
        Output {
            kind,
            bytes: Vec::with_capacity(rows * kind.width().unwrap_or(12)),
            offsets,
            valid: Vec::with_capacity(rows),
            nulls: 0,
        }
    }

    fn push_value(&mut self, value: &[u8]) -> Result<(), Malformed> {
        self.bytes.extend_from_slice(value);
        if self.kind == Kind::Text {
            self.offsets
                .push(i32::try_from(self.bytes.len()).map_err(|_| Malformed)?);
        }
        self.valid.push(true);
        Ok(())
    }

    fn push_null(&mut self) {
        match self.kind.width() {
            Some(width) => self.bytes.extend(std::iter::repeat_n(0, width)),
            None => self.offsets.push(self.offsets.last().copied().unwrap_or(0)),
        }
        self.valid.push(false);
        self.nulls += 1;
    }

    fn finish(self, target: &DataType) -> Option<ArrayRef> {
        let nulls = (self.nulls > 0).then(|| NullBuffer::from(self.valid));
        let buffer = Buffer::from_vec(self.bytes);
        Some(match self.kind {
            Kind::Text => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
                // Checks that the text is UTF-8: a file holding other bytes goes to the general reader, which
                // reports it.
                Arc::new(StringArray::try_new(offsets, buffer, nulls).ok()?)
            }
            Kind::Int32 if target == &DataType::Date32 => {
                Arc::new(Date32Array::try_new(ScalarBuffer::from(buffer), nulls).ok()?)
            }
            Kind::Int32 => Arc::new(Int32Array::try_new(ScalarBuffer::from(buffer), nulls).ok()?),
            Kind::Int64 => Arc::new(Int64Array::try_new(ScalarBuffer::from(buffer), nulls).ok()?),
            Kind::Float32 => Arc::new(Float32Array::try_new(ScalarBuffer::from(buffer), nulls).ok()?),
            Kind::Float64 => Arc::new(Float64Array::try_new(ScalarBuffer::from(buffer), nulls).ok()?),
        })
    }
}

/// Whether [`gather_column`] takes a column stored as `descr`, read as `target`; a caller need not fetch the
/// column chunk of one it does not.
pub(super) fn takes(descr: &ColumnDescriptor, target: &DataType) -> bool {
    kind_taken(descr, target).is_some()
}

/// The kind of values gathered from a flat column (no repetition, at most one definition level) of a type
/// taken here.
fn kind_taken(descr: &ColumnDescriptor, target: &DataType) -> Option<Kind> {
    if descr.max_rep_level() != 0 || descr.max_def_level() > 1 {
        return None;
    }
    Kind::of(descr.physical_type(), target)
}

/// The values of the column chunk whose bytes are `data` (starting at the chunk's first byte) at `positions`
/// (ascending rows of the row group, which has `group_rows` rows), as `target` (the column's Arrow type).
pub(super) fn gather_column(
    data: Bytes,
    meta: &ColumnChunkMetaData,
    descr: &ColumnDescriptor,
    target: &DataType,
    group_rows: usize,
    positions: &[usize],
) -> Gathered {
    let Some(kind) = kind_taken(descr, target) else {
        return Gathered::General;
    };
    let (start, _) = meta.byte_range();
    let chunk = Arc::new(ChunkBytes { start, data });
    let Ok(mut pages) = SerializedPageReader::new(chunk, meta, group_rows, None) else {
        return Gathered::General;
    };
    let mut column = ColumnGather {
        kind,
        optional: descr.max_def_level() == 1,
        dictionary: None,
        out: Output::new(kind, positions.len()),
    };
    let mut first_row = 0usize;
    let mut next = 0usize;
    while next < positions.len() {
        let page = match pages.get_next_page() {
            Ok(Some(page)) => page,
            Ok(None) | Err(_) => return Gathered::General,
        };
        let outcome = match page {
            Page::DictionaryPage {
                buf,
                num_values,
                encoding,
                ..
            } => column.read_dictionary(buf, num_values as usize, encoding),
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                ..
            } => {
                let rows = num_values as usize;
                let kept = kept_in(positions, &mut next, first_row, rows);
                first_row += rows;
                column.read_v1(&buf, encoding, def_level_encoding, &kept)
            }
            Page::DataPageV2 {
                buf,
                num_rows,
                encoding,
                def_levels_byte_len,
                rep_levels_byte_len,
                ..
            } => {
                let rows = num_rows as usize;
                let kept = kept_in(positions, &mut next, first_row, rows);
                first_row += rows;
                let (rep, def) = (rep_levels_byte_len as usize, def_levels_byte_len as usize);
                match (buf.get(rep..rep + def), buf.get(rep + def..)) {
                    (Some(levels), Some(values)) => column.read_page(levels, values, encoding, &kept),
                    _ => Err(Unreadable::Malformed),
                }
            }
        };
        if outcome.is_err() {
            return Gathered::General;
        }
    }
    match column.out.finish(target) {
        Some(array) if array.len() == positions.len() => Gathered::Array(array),
        _ => Gathered::General,
    }
}

/// Why a page was not read here.
#[derive(Debug, Clone, Copy)]
enum Unreadable {
    Malformed,
    Encoding,
}

impl From<Malformed> for Unreadable {
    fn from(_: Malformed) -> Self {
        Unreadable::Malformed
    }
}

/// The kept rows of a page whose first row is `first_row`, relative to it; `next` moves past them.
fn kept_in(positions: &[usize], next: &mut usize, first_row: usize, rows: usize) -> Vec<usize> {
    let end = first_row + rows;
    let from = *next;
    while *next < positions.len() && positions[*next] < end {
        *next += 1;
    }
    positions[from..*next].iter().map(|p| p - first_row).collect()
}

/// One column chunk being read.
struct ColumnGather {
    kind: Kind,
    optional: bool,
    dictionary: Option<Dictionary>,
    out: Output,
}

impl ColumnGather {
    fn read_dictionary(&mut self, buf: Bytes, len: usize, encoding: Encoding) -> Result<(), Unreadable> {
        if !matches!(encoding, Encoding::PLAIN | Encoding::PLAIN_DICTIONARY) {
            return Err(Unreadable::Encoding);
        }
        let mut entries = Vec::new();
        match self.kind.width() {
            Some(width) => {
                if buf.len() < len * width {
                    return Err(Unreadable::Malformed);
                }
            }
            None => {
                entries.reserve(len);
                let mut at = 0usize;
                for _ in 0..len {
                    let (start, length) = byte_array_at(&buf, at)?;
                    entries.push((start as u32, length as u32));
                    at = start + length;
                }
            }
        }
        self.dictionary = Some(Dictionary {
            data: buf,
            entries,
            len,
        });
        Ok(())
    }

    /// A version 1 data page: the levels, with their byte length in front, then the values.
    fn read_v1(
        &mut self,
        buf: &[u8],
        encoding: Encoding,
        level_encoding: Encoding,
        kept: &[usize],
    ) -> Result<(), Unreadable> {
        if kept.is_empty() {
            return Ok(());
        }
        if !self.optional {
            return self.read_page(&[], buf, encoding, kept);
        }
        if level_encoding != Encoding::RLE {
            return Err(Unreadable::Encoding);
        }
        let length = length_at(buf, 0)?;
        let levels = buf.get(4..4 + length).ok_or(Malformed)?;
        let values = buf.get(4 + length..).ok_or(Malformed)?;
        self.read_page(levels, values, encoding, kept)
    }

    /// The kept rows (relative to the page) of a data page with these level and value bytes.
    fn read_page(
        &mut self,
        levels: &[u8],
        values: &[u8],
        encoding: Encoding,
        kept: &[usize],
    ) -> Result<(), Unreadable> {
        if kept.is_empty() {
            return Ok(());
        }
        let mut values = PageValues::new(values, encoding, self.kind, self.dictionary.as_ref())?;
        let mut levels = if self.optional {
            Some(HybridCursor::new(levels, 1)?)
        } else {
            None
        };
        // Each kept row's place among the page's values: the rows before it that are not null.
        let mut values_before = 0usize;
        let mut at = 0usize;
        for &row in kept {
            let present = match &mut levels {
                None => {
                    values_before = row;
                    true
                }
                Some(levels) => {
                    values_before += levels.count_ones(at, row)?;
                    at = row;
                    levels.value_at(row)? == 1
                }
            };
            if present {
                values.push(values_before, &mut self.out)?;
            } else {
                self.out.push_null();
            }
        }
        Ok(())
    }
}

/// The start and length of the byte array whose length prefix is at `at`.
fn byte_array_at(data: &[u8], at: usize) -> Result<(usize, usize), Malformed> {
    let length = length_at(data, at)?;
    let start = at + 4;
    if data.len() < start + length {
        return Err(Malformed);
    }
    Ok((start, length))
}

/// The 4-byte little-endian length at `at` (in front of a byte array, or of a version 1 page's levels).
fn length_at(data: &[u8], at: usize) -> Result<usize, Malformed> {
    let prefix = data
        .get(at..at.checked_add(4).ok_or(Malformed)?)
        .ok_or(Malformed)?;
    Ok(u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize)
}

/// The values of one data page, read at ascending value indices.
enum PageValues<'a> {
    /// Fixed-width values one after the other.
    Fixed { data: &'a [u8], width: usize },
    /// Byte arrays one after the other, each after its length: walked forwards.
    Arrays { data: &'a [u8], at: usize, index: usize },
    /// Indices into the chunk's dictionary.
    Indices {
        cursor: HybridCursor<'a>,
        dictionary: &'a Dictionary,
    },
}

impl<'a> PageValues<'a> {
    fn new(
        data: &'a [u8],
        encoding: Encoding,
        kind: Kind,
        dictionary: Option<&'a Dictionary>,
    ) -> Result<Self, Unreadable> {
        match encoding {
            Encoding::PLAIN => Ok(match kind.width() {
                Some(width) => PageValues::Fixed { data, width },
                None => PageValues::Arrays {
                    data,
                    at: 0,
                    index: 0,
                },
            }),
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY => {
                let dictionary = dictionary.ok_or(Malformed)?;
                let (&width, rest) = data.split_first().ok_or(Malformed)?;
                Ok(PageValues::Indices {
                    cursor: HybridCursor::new(rest, u32::from(width))?,
                    dictionary,
                })
            }
            _ => Err(Unreadable::Encoding),
        }
    }

    /// Append the value at `index` (indices asked never decrease) to `out`.
    fn push(&mut self, index: usize, out: &mut Output) -> Result<(), Malformed> {
        match self {
            PageValues::Fixed { data, width } => {
                let value = data.get(index * *width..(index + 1) * *width).ok_or(Malformed)?;
                out.push_value(value)
            }
            PageValues::Arrays {
                data,
                at,
                index: current,
            } => {
                while *current < index {
                    let (start, length) = byte_array_at(data, *at)?;
                    *at = start + length;
                    *current += 1;
                }
                let (start, length) = byte_array_at(data, *at)?;
                out.push_value(&data[start..start + length])
            }
            PageValues::Indices { cursor, dictionary } => {
                let key = cursor.value_at(index)? as usize;
                if key >= dictionary.len {
                    return Err(Malformed);
                }
                match out.kind.width() {
                    Some(width) => out.push_value(&dictionary.data[key * width..(key + 1) * width]),
                    None => {
                        let (start, length) = dictionary.entries[key];
                        out.push_value(&dictionary.data[start as usize..(start + length) as usize])
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "page_gather_tests.rs"]
mod tests;
