//! The fields the comparison vector reads, packed record by record.
//!
//! Candidate pairs join records far apart in key order, so comparing a pair reads two records at random.
//! Read from the Arrow columns of [`PreparedRecords`], that touches an offset and a value buffer per field,
//! some thirty cache lines a record; packed here, a record is a 24-byte head and its text side by side, so a
//! comparison touches a handful. Built once per run (in parallel) and dropped after training.

use rayon::prelude::*;

use crate::identity::prepare::PreparedRecords;
use crate::prefetch::prefetch;

/// A text field the comparisons read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum CompareField {
    /// First given-name token.
    First,
    /// Formal given name.
    FirstFormal,
    /// Family name.
    Last,
    /// Suffix.
    Suffix,
    /// Sex code.
    Sex,
    /// SSN, nine digits.
    Ssn,
    /// Email match key.
    Email,
    /// Phone, E.164.
    Phone,
    /// House number.
    AddressNumber,
    /// Street.
    Street,
    /// Five-digit ZIP.
    Zip,
    /// Member number.
    MemberNumber,
}

const N_FIELDS: usize = 12;

/// Length byte of a missing value.
const NULL: u8 = u8::MAX;
/// Longest value kept whole; a longer one (no real name, street or email is) compares by its first bytes.
const MAX_LEN: usize = NULL as usize - 1;

/// Bytes in a cache line on the CPUs we run on (x86_64, and the common aarch64 cores).
const CACHE_LINE: usize = 64;

/// Birth date of a record without one (no real date is this far from the epoch).
const NO_BIRTH: i32 = i32::MIN;

/// Where a record's text starts, its birth date ([`NO_BIRTH`] when missing) and its field lengths: 24 bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Head {
    start: u64,
    birth: i32,
    lengths: [u8; N_FIELDS],
}

/// The compared fields of every record, packed.
#[derive(Debug, Clone, Default)]
pub struct CompareFields {
    heads: Vec<Head>,
    text: String,
}

/// One record's compared fields.
#[derive(Debug, Clone, Copy)]
pub struct RecordFields<'a> {
    /// Birth date, days since the epoch.
    pub birth: Option<i32>,
    values: [Option<&'a str>; N_FIELDS],
}

impl<'a> RecordFields<'a> {
    /// The value of a field, None when missing.
    #[inline]
    pub fn get(&self, field: CompareField) -> Option<&'a str> {
        self.values[field as usize]
    }
}

fn columns(r: &PreparedRecords) -> [&arrow::array::StringArray; N_FIELDS] {
    [
        &r.first,
        &r.first_formal,
        &r.last,
        &r.suffix,
        &r.sex,
        &r.ssn,
        &r.email,
        &r.phone,
        &r.address_number,
        &r.street,
        &r.zip,
        &r.member_number,
    ]
}

/// The longest prefix of `value` of at most [`MAX_LEN`] bytes that ends on a character boundary.
fn clipped(value: &str) -> &str {
    let mut end = value.len().min(MAX_LEN);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

impl CompareFields {
    /// Pack the compared fields of `records`.
    pub fn new(records: &PreparedRecords) -> Self {
        use arrow::array::Array;
        const CHUNK: usize = 1 << 16;
        let cols = columns(records);
        let n = records.len();
        let parts: Vec<(Vec<Head>, String)> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let rows = c * CHUNK..((c + 1) * CHUNK).min(n);
                let mut heads = Vec::with_capacity(rows.len());
                let mut text = String::with_capacity(rows.len() * 64);
                for row in rows {
                    let mut head = Head {
                        start: text.len() as u64,
                        birth: if records.birth_date.is_valid(row) {
                            records.birth_date.value(row)
                        } else {
                            NO_BIRTH
                        },
                        lengths: [NULL; N_FIELDS],
                    };
                    for (k, col) in cols.iter().enumerate() {
                        if col.is_valid(row) {
                            let value = clipped(col.value(row));
                            head.lengths[k] = value.len() as u8;
                            text.push_str(value);
                        }
                    }
                    heads.push(head);
                }
                (heads, text)
            })
            .collect();
        let mut heads = Vec::with_capacity(n);
        let mut text = String::with_capacity(parts.iter().map(|p| p.1.len()).sum());
        for (part_heads, part_text) in parts {
            let base = text.len() as u64;
            heads.extend(part_heads.into_iter().map(|h| Head {
                start: h.start + base,
                ..h
            }));
            text.push_str(&part_text);
        }
        CompareFields { heads, text }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.heads.is_empty()
    }

    /// Start bringing record `row`'s head into cache (see [`crate::prefetch`]); a row out of range is ignored.
    #[inline]
    pub fn prefetch_head(&self, row: usize) {
        if let Some(head) = self.heads.get(row) {
            prefetch(head);
        }
    }

    /// Start bringing record `row`'s text into cache. Reads its head, so prefetch that a few rows earlier.
    #[inline]
    pub fn prefetch_text(&self, row: usize) {
        let Some(head) = self.heads.get(row) else {
            return;
        };
        let length: usize = head
            .lengths
            .iter()
            .filter(|&&l| l != NULL)
            .map(|&l| l as usize)
            .sum();
        let text = self.text.as_bytes();
        let start = head.start as usize;
        // A record's text is under 128 bytes but rarely starts on a cache line: fetch each line it spans.
        let mut at = start;
        while at < start + length {
            if let Some(byte) = text.get(at) {
                prefetch(byte);
            }
            at = (at | (CACHE_LINE - 1)) + 1;
        }
    }

    /// The compared fields of record `row`.
    #[inline]
    pub fn record(&self, row: usize) -> RecordFields<'_> {
        let head = &self.heads[row];
        let mut values = [None; N_FIELDS];
        let mut at = head.start as usize;
        for (value, &length) in values.iter_mut().zip(&head.lengths) {
            if length != NULL {
                let end = at + length as usize;
                *value = Some(&self.text[at..end]);
                at = end;
            }
        }
        RecordFields {
            birth: (head.birth != NO_BIRTH).then_some(head.birth),
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Head>(), 24);
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clipped("SMITH"), "SMITH");
        let long = "É".repeat(200);
        let kept = clipped(&long);
        assert!(kept.len() <= MAX_LEN);
        assert_eq!(kept.len() % 2, 0);
        assert!(long.starts_with(kept));
    }
}
