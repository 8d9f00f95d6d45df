//! Blocking: which record pairs are worth comparing.
//!
//! Each rule names fields whose normalized values must be equal (e.g. birth date and family-name soundex).
//! Rules are unioned without duplicate pairs, each pair remembering the first rule that found it. A block
//! larger than the cap (one value shared by too many records, such as a placeholder phone) is skipped and
//! reported rather than exploding the pair count; [`count_pairs`] gives the pairs per rule before any run.

use arrow::array::Array;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::prepare::PreparedRecords;
use crate::error::{CoreError, CoreResult};

/// A field a blocking rule can require to be equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockField {
    /// Valid SSN.
    Ssn,
    /// Birth date.
    BirthDate,
    /// Birth year.
    BirthYear,
    /// Formal given name (nicknames resolved).
    FirstName,
    /// First letter of the given name.
    FirstInitial,
    /// Soundex of the given name.
    FirstSoundex,
    /// Family name.
    LastName,
    /// Soundex of the family name.
    LastSoundex,
    /// Soundexes of the given and family names in either order: records whose names were entered the wrong
    /// way round share this key.
    NamesAnyOrder,
    /// Phone (E.164).
    Phone,
    /// Email match key.
    Email,
    /// Five-digit ZIP.
    Zip,
    /// House number and street.
    Address,
    /// Member number.
    MemberNumber,
}

/// One blocking rule: all its fields must be present and equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingRule {
    /// Name in reports and in identity_links.
    pub name: String,
    /// Fields that must agree.
    pub fields: Vec<BlockField>,
    /// A cap for this rule's blocks, below the global one: broad rules (birth year with name sounds) have
    /// blocks that grow with the population, and a tight cap keeps their pair count linear.
    #[serde(default)]
    pub max_block_size: Option<usize>,
}

/// Blocking rules and the block-size cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlockingConfig {
    /// Rules, in priority order.
    pub rules: Vec<BlockingRule>,
    /// Blocks with more records than this are skipped and reported.
    pub max_block_size: usize,
}

impl Default for BlockingConfig {
    fn default() -> Self {
        use BlockField::*;
        let rule = |name: &str, fields: &[BlockField]| BlockingRule {
            name: name.into(),
            fields: fields.to_vec(),
            max_block_size: None,
        };
        let capped = |name: &str, fields: &[BlockField], cap: usize| BlockingRule {
            max_block_size: Some(cap),
            ..rule(name, fields)
        };
        BlockingConfig {
            rules: vec![
                rule("ssn", &[Ssn]),
                rule("member_number", &[MemberNumber]),
                rule("birth_date+last_soundex", &[BirthDate, LastSoundex]),
                rule("birth_date+first_name", &[BirthDate, FirstName]),
                rule("phone", &[Phone]),
                // A block of more than 25 records on one email is a shared or placeholder address, not a
                // household: on 10M synthetic records such blocks held 28M of its 31M pairs, and skipping them
                // lost no true pair on 1M.
                capped("email", &[Email], 25),
                rule(
                    "zip+last_soundex+first_initial",
                    &[Zip, LastSoundex, FirstInitial],
                ),
                // Broad: common names share a birth year by the hundred in a large population.
                capped(
                    "birth_year+first_soundex+last_soundex",
                    &[BirthYear, FirstSoundex, LastSoundex],
                    25,
                ),
                rule("address+zip", &[Address, Zip]),
                // Catches names entered the wrong way round (or changed) at the same address when the ZIP is
                // missing or foreign.
                rule("birth_date+address", &[BirthDate, Address]),
                // Names swapped or misspelled beyond their soundex, at an address keyed differently.
                rule("birth_date+zip", &[BirthDate, Zip]),
                // Names entered the wrong way round, where the birth date or the ZIP still agrees (the
                // name-sound rules above key the given and family names apart).
                rule("birth_date+names_any_order", &[BirthDate, NamesAnyOrder]),
                rule("zip+names_any_order", &[Zip, NamesAnyOrder]),
                // The whole name, for records whose birth date, ZIP and identifiers all slipped. Capped like the
                // other broad rules: a common name is shared by hundreds in a large population.
                capped("first_name+last_name", &[FirstName, LastName], 10),
            ],
            max_block_size: 1_000,
        }
    }
}

/// What one rule produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleReport {
    /// Rule name.
    pub rule: String,
    /// Pairs the rule generates (before removing pairs that earlier rules found).
    pub pairs: u64,
    /// Pairs no earlier rule found.
    pub new_pairs: u64,
    /// Blocks skipped for exceeding the cap.
    pub oversized_blocks: u64,
    /// Records in the skipped blocks.
    pub records_in_oversized_blocks: u64,
    /// The largest block kept.
    pub largest_block: u64,
}

/// Candidate pairs: `(left, right, rule)` with left < right, sorted, each pair once.
#[derive(Debug, Clone, Default)]
pub struct CandidatePairs {
    /// Left record index.
    pub left: Vec<u32>,
    /// Right record index.
    pub right: Vec<u32>,
    /// Index of the first rule that found the pair.
    pub rule: Vec<u8>,
}

impl CandidatePairs {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.left.len()
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.left.is_empty()
    }
}

/// Records per native run: pairs are packed as 28-bit left and right indices and an 8-bit rule in one u64 (a
/// 10M-member plan has about 21M source records).
pub const MAX_RECORDS: usize = 1 << INDEX_BITS;

/// Bits of a record index in a packed pair.
const INDEX_BITS: u32 = 28;

/// Mask of one record index in a packed pair.
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h ^= 0xff; // field separator
    h.wrapping_mul(FNV_PRIME)
}

/// The blocking key of a record under a rule, or None when a field is missing.
pub(crate) fn key(records: &PreparedRecords, row: usize, fields: &[BlockField]) -> Option<u64> {
    let get = PreparedRecords::get;
    let mut h = FNV_OFFSET;
    for field in fields {
        let birth = || (!records.birth_date.is_null(row)).then(|| records.birth_date.value(row));
        h = match field {
            BlockField::Ssn => fnv(h, get(&records.ssn, row)?.as_bytes()),
            BlockField::BirthDate => fnv(h, &birth()?.to_le_bytes()),
            BlockField::BirthYear => {
                let date = crate::model::values::days_to_date(birth()?)?;
                fnv(h, &chrono::Datelike::year(&date).to_le_bytes())
            }
            BlockField::FirstName => fnv(h, get(&records.first_formal, row)?.as_bytes()),
            BlockField::FirstInitial => fnv(h, &get(&records.first, row)?.as_bytes()[..1]),
            BlockField::FirstSoundex => fnv(h, get(&records.first_soundex, row)?.as_bytes()),
            BlockField::LastName => fnv(h, get(&records.last, row)?.as_bytes()),
            BlockField::LastSoundex => fnv(h, get(&records.last_soundex, row)?.as_bytes()),
            BlockField::NamesAnyOrder => {
                let (first, last) = (
                    get(&records.first_soundex, row)?,
                    get(&records.last_soundex, row)?,
                );
                let (low, high) = if first <= last {
                    (first, last)
                } else {
                    (last, first)
                };
                fnv(fnv(h, low.as_bytes()), high.as_bytes())
            }
            BlockField::Phone => fnv(h, get(&records.phone, row)?.as_bytes()),
            BlockField::Email => fnv(h, get(&records.email, row)?.as_bytes()),
            BlockField::Zip => fnv(h, get(&records.zip, row)?.as_bytes()),
            BlockField::Address => {
                let h = fnv(h, get(&records.address_number, row)?.as_bytes());
                fnv(h, get(&records.street, row)?.as_bytes())
            }
            BlockField::MemberNumber => fnv(h, get(&records.member_number, row)?.as_bytes()),
        };
    }
    Some(h)
}

/// Records grouped by a rule's key: sorted (key, row) pairs.
fn keyed(records: &PreparedRecords, rule: &BlockingRule) -> Vec<(u64, u32)> {
    let mut keys: Vec<(u64, u32)> = (0..records.len())
        .into_par_iter()
        .filter_map(|row| key(records, row, &rule.fields).map(|k| (k, row as u32)))
        .collect();
    keys.par_sort_unstable();
    keys
}

/// Walk the blocks of sorted keys, calling `on_block` for each block within the cap.
fn for_each_block(
    keys: &[(u64, u32)],
    cap: usize,
    report: &mut RuleReport,
    mut on_block: impl FnMut(&[(u64, u32)]),
) {
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        while end < keys.len() && keys[end].0 == keys[start].0 {
            end += 1;
        }
        let size = (end - start) as u64;
        if size > cap as u64 {
            report.oversized_blocks += 1;
            report.records_in_oversized_blocks += size;
        } else if size > 1 {
            report.pairs += size * (size - 1) / 2;
            report.largest_block = report.largest_block.max(size);
            on_block(&keys[start..end]);
        }
        start = end;
    }
}

fn check(config: &BlockingConfig, records: &PreparedRecords) -> CoreResult<()> {
    if config.rules.is_empty() {
        return Err(CoreError::Config(
            "identity blocking needs at least one rule".into(),
        ));
    }
    if config.rules.len() > 250 {
        return Err(CoreError::Config(
            "identity blocking takes at most 250 rules".into(),
        ));
    }
    if records.len() >= MAX_RECORDS {
        return Err(CoreError::Input(format!(
            "the native engine resolves at most {MAX_RECORDS} records per run; use the spark engine for more"
        )));
    }
    Ok(())
}

/// A candidate pair as one u64: left index, right index, rule, so that sorting the packed values sorts by
/// (left, right, rule). Indices are below [`MAX_RECORDS`] (checked before blocking).
fn pack(left: u32, right: u32, rule: u8) -> u64 {
    (u64::from(left) << (INDEX_BITS + 8)) | (u64::from(right) << 8) | u64::from(rule)
}

/// The (left, right, rule) of a packed pair.
fn unpack(packed: u64) -> (u32, u32, u8) {
    (
        (packed >> (INDEX_BITS + 8)) as u32,
        ((packed >> 8) & INDEX_MASK) as u32,
        (packed & 0xFF) as u8,
    )
}

fn cap(config: &BlockingConfig, rule: &BlockingRule) -> usize {
    rule.max_block_size
        .map_or(config.max_block_size, |c| c.min(config.max_block_size))
}

/// Count the pairs each rule would generate, without materializing them.
pub fn count_pairs(records: &PreparedRecords, config: &BlockingConfig) -> CoreResult<Vec<RuleReport>> {
    check(config, records)?;
    Ok(config
        .rules
        .iter()
        .map(|rule| {
            let mut report = RuleReport {
                rule: rule.name.clone(),
                ..RuleReport::default()
            };
            let keys = keyed(records, rule);
            for_each_block(&keys, cap(config, rule), &mut report, |_| {});
            report
        })
        .collect())
}

/// Generate the candidate pairs of all rules, each pair once, with the first rule that found it.
pub fn block(
    records: &PreparedRecords,
    config: &BlockingConfig,
) -> CoreResult<(CandidatePairs, Vec<RuleReport>)> {
    check(config, records)?;
    let mut packed: Vec<u64> = Vec::new();
    let mut reports = Vec::with_capacity(config.rules.len());
    for (index, rule) in config.rules.iter().enumerate() {
        let mut report = RuleReport {
            rule: rule.name.clone(),
            ..RuleReport::default()
        };
        let keys = keyed(records, rule);
        let before = packed.len();
        for_each_block(&keys, cap(config, rule), &mut report, |block| {
            for (a, &(_, i)) in block.iter().enumerate() {
                for &(_, j) in &block[a + 1..] {
                    let (l, r) = if i < j { (i, j) } else { (j, i) };
                    packed.push(pack(l, r, index as u8));
                }
            }
        });
        report.new_pairs = (packed.len() - before) as u64;
        reports.push(report);
    }
    // Sort by (left, right, rule) and keep the first occurrence of each pair: the earliest rule wins.
    packed.par_sort_unstable();
    packed.dedup_by(|next, kept| *next >> 8 == *kept >> 8);
    let mut pairs = CandidatePairs {
        left: Vec::with_capacity(packed.len()),
        right: Vec::with_capacity(packed.len()),
        rule: Vec::with_capacity(packed.len()),
    };
    for &p in &packed {
        let (l, r, rule) = unpack(p);
        pairs.left.push(l);
        pairs.right.push(r);
        pairs.rule.push(rule);
    }
    // new_pairs so far counted pairs per rule including repeats found by earlier rules; recount exactly.
    count_new_pairs(&pairs.rule, &mut reports);
    Ok((pairs, reports))
}

/// Set each rule's `new_pairs` to the number of pairs it found first (`first_rule` holds, per pair, the index
/// of the first rule that found it).
pub fn count_new_pairs(first_rule: &[u8], reports: &mut [RuleReport]) {
    let mut first_found = vec![0u64; reports.len()];
    for &r in first_rule {
        if let Some(n) = first_found.get_mut(r as usize) {
            *n += 1;
        }
    }
    for (report, n) in reports.iter_mut().zip(first_found) {
        report.new_pairs = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_pairs_keep_indices_up_to_the_record_limit_and_sort_by_left_right_rule() {
        let top = (MAX_RECORDS - 1) as u32;
        for (l, r, rule) in [(0, 1, 0), (top - 1, top, 249), (16_777_216, 21_000_000, 3)] {
            assert_eq!(unpack(pack(l, r, rule)), (l, r, rule));
        }
        let mut packed = vec![pack(5, top, 0), pack(4, 9, 7), pack(5, 6, 2), pack(5, 6, 1)];
        packed.sort_unstable();
        let order: Vec<_> = packed.into_iter().map(unpack).collect();
        assert_eq!(order, [(4, 9, 7), (5, 6, 1), (5, 6, 2), (5, top, 0)]);
    }
}
