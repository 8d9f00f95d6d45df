//! Change sets: this run's memberships against the last written state (audience_members), per destination.
//!
//! A row is upserted when it is new, its payload hash changed, or its last send failed after it was last
//! emitted; a row of the previous state that is gone is deleted (only rows carelake sent are ever removed).
//! Enter and exit events follow the same comparison.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet};
use rayon::prelude::*;

use arrow::array::{Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::TimestampMicrosecondType;

use super::payload::PayloadValues;
use super::profiles::Profiles;
use crate::audience::ledger::Ledger;
use crate::audience::policy::Decision;
use crate::digest::{Sha256Digest, KEY_HEX};
use crate::error::CoreResult;
use crate::lake::{read_table_in_parallel_if_present, Location};
use crate::model::{primitive_column, text_column};

/// One member's row in one destination (names borrowed from the configuration, the id from the profiles).
#[derive(Debug)]
pub(super) struct Membership<'a> {
    pub(super) audience: &'a str,
    pub(super) destination: &'a str,
    pub(super) member_id: &'a str,
    /// The member's number in this run (see the profiles).
    pub(super) member: u32,
    pub(super) decision: Decision,
    /// The values of the fields the destination gets (written as JSON).
    pub(super) payload: PayloadValues,
    /// SHA-256 of the member id and the payload (written as hex; the state keeps it so).
    pub(super) row_hash: Sha256Digest,
}

/// The run's memberships in the order they were decided, in blocks: each block is a vector the policy filled
/// (one part of selected rows), taken over as it is, so adding memberships never moves those already there (a
/// single vector of 3.5M at 10M members copied itself each time it doubled, both copies held at once) and
/// gathering them copies nothing.
#[derive(Debug, Default)]
pub(super) struct Memberships<'a> {
    blocks: Vec<Vec<Membership<'a>>>,
    /// The position of each block's first membership.
    starts: Vec<usize>,
    len: usize,
}

impl<'a> Memberships<'a> {
    /// Add a block of memberships at the end, as it is.
    pub(super) fn append(&mut self, block: Vec<Membership<'a>>) {
        if block.is_empty() {
            return;
        }
        self.starts.push(self.len);
        self.len += block.len();
        self.blocks.push(block);
    }

    /// Add memberships at the end (one block).
    pub(super) fn extend(&mut self, rows: impl IntoIterator<Item = Membership<'a>>) {
        self.append(rows.into_iter().collect());
    }

    /// The block holding position `at` (< len) and the position within it.
    fn locate(&self, at: usize) -> (usize, usize) {
        let block = self.starts.partition_point(|&s| s <= at) - 1;
        (block, at - self.starts[block])
    }

    /// Take out the memberships at positions `at..`, in order (the blocks before keep their places).
    pub(super) fn split_off(&mut self, at: usize) -> Vec<Membership<'a>> {
        let at = at.min(self.len);
        let mut tail = Vec::with_capacity(self.len - at);
        if at < self.len {
            let (block, offset) = self.locate(at);
            let later = self.blocks.split_off(block + 1);
            tail.extend(self.blocks[block].split_off(offset));
            tail.extend(later.into_iter().flatten());
            let emptied = usize::from(offset == 0);
            self.blocks.truncate(block + 1 - emptied);
            self.starts.truncate(block + 1 - emptied);
        }
        self.len = at;
        tail
    }

    /// How many.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Every membership, in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Membership<'a>> {
        self.blocks.iter().flatten()
    }

    /// Every membership, on every core (collected, they keep their order).
    pub(super) fn par_iter(&self) -> impl ParallelIterator<Item = &Membership<'a>> + '_ {
        self.blocks.par_iter().flat_map_iter(|b| b.iter())
    }

    /// The memberships at positions `range`, in order.
    pub(super) fn range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = &Membership<'a>> {
        let count = range.end.min(self.len).saturating_sub(range.start);
        let (block, offset) = match count {
            0 => (self.blocks.len(), 0),
            _ => self.locate(range.start),
        };
        let first = self.blocks.get(block).map_or(&[][..], |b| &b[offset..]);
        let later = self.blocks.get(block + 1..).unwrap_or_default();
        first.iter().chain(later.iter().flatten()).take(count)
    }
}

impl<'a> FromIterator<Membership<'a>> for Memberships<'a> {
    fn from_iter<I: IntoIterator<Item = Membership<'a>>>(rows: I) -> Self {
        let mut out = Memberships::default();
        out.extend(rows);
        out
    }
}

/// Upsert or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Upsert,
    Delete,
}

impl Op {
    pub(super) fn name(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Delete => "delete",
        }
    }
}

/// One change of a destination: audience, member, op, and the membership for upserts.
#[derive(Debug)]
pub(super) struct Change<'a> {
    pub(super) audience: &'a str,
    pub(super) member_id: &'a str,
    pub(super) op: Op,
    pub(super) membership: Option<&'a Membership<'a>>,
    /// The row was in the previous state (an upsert of it is a change, not an add).
    pub(super) existed: bool,
}

/// One batch of the last written state: audience, destination, member id, row hash, emitted at.
#[derive(Debug)]
struct StateBatch {
    audience: StringArray,
    destination: StringArray,
    member_id: StringArray,
    row_hash: StringArray,
    emitted_at: TimestampMicrosecondArray,
}

/// The columns of audience_members the diff reads (the windows, channels and the rest are not compared).
const STATE_COLUMNS: [&str; 5] = ["audience", "destination", "member_id", "row_hash", "emitted_at"];

/// Where a row of the previous state is: (batch, row).
type StateRow = (u32, u32);

/// The last written state (audience_members), kept as read and indexed by (audience, destination, member
/// number): the diff looks rows up by number, as the memberships carry it, not by three id strings.
#[derive(Debug, Default)]
pub(super) struct PreviousState {
    batches: Vec<StateBatch>,
    /// Audience and destination names of the state, each once (the key holds their positions).
    names: Vec<String>,
    /// (audience, destination, member number) -> its row (the last one when a key is repeated).
    by_member: HashMap<(u32, u32, u32), StateRow>,
    /// Rows of member ids this run does not know: they can only be gone.
    unknown: Vec<StateRow>,
    /// Rows in the state (each key once).
    pub(super) len: usize,
}

impl PreviousState {
    /// Read audience_members from the output folder (empty when there is none yet); member ids are numbered by
    /// `profiles`, batches on every core.
    pub(super) async fn read(output: &Location, profiles: &Profiles) -> CoreResult<Self> {
        let t = "audience_members";
        let batches = read_table_in_parallel_if_present(&output.join(t), t, Some(&STATE_COLUMNS))
            .await?
            .unwrap_or_default();
        Self::from_batches(&batches, profiles)
    }

    /// The state in audience_members batches, member ids numbered by `profiles`.
    fn from_batches(batches: &[RecordBatch], profiles: &Profiles) -> CoreResult<Self> {
        let t = "audience_members";
        let mut state = PreviousState::default();
        for b in batches {
            state.batches.push(StateBatch {
                audience: text_column(b, t, "audience")?.clone(),
                destination: text_column(b, t, "destination")?.clone(),
                member_id: text_column(b, t, "member_id")?.clone(),
                row_hash: text_column(b, t, "row_hash")?.clone(),
                emitted_at: primitive_column::<TimestampMicrosecondType>(b, t, "emitted_at", "a timestamp")?
                    .clone(),
            });
        }
        let numbers: Vec<Vec<Option<u32>>> = state
            .batches
            .par_iter()
            .map(|b| profiles.numbers((0..b.member_id.len()).map(|i| b.member_id.value(i))))
            .collect();
        let mut unknown_keys: HashSet<(&str, &str, &str)> = HashSet::default();
        let mut unknown = Vec::new();
        for (bi, (b, numbers)) in state.batches.iter().zip(&numbers).enumerate() {
            for (i, number) in numbers.iter().enumerate() {
                let row = (bi as u32, i as u32);
                let Some(n) = number else {
                    let key = (b.audience.value(i), b.destination.value(i), b.member_id.value(i));
                    if unknown_keys.insert(key) {
                        unknown.push(row);
                    }
                    continue;
                };
                let a = name_slot(&mut state.names, b.audience.value(i));
                let d = name_slot(&mut state.names, b.destination.value(i));
                state.by_member.insert((a, d, *n), row);
            }
        }
        state.len = state.by_member.len() + unknown.len();
        state.unknown = unknown;
        Ok(state)
    }

    /// The previous (row hash, emitted at) of (audience, destination, member number), and its row.
    fn get(&self, audience: &str, destination: &str, member: u32) -> Option<(&str, i64, StateRow)> {
        let slot = |name: &str| self.names.iter().position(|n| n == name).map(|p| p as u32);
        let row = *self
            .by_member
            .get(&(slot(audience)?, slot(destination)?, member))?;
        let b = &self.batches[row.0 as usize];
        let i = row.1 as usize;
        Some((b.row_hash.value(i), b.emitted_at.value(i), row))
    }

    /// (audience, destination, member id) of a row.
    fn key(&self, (batch, row): StateRow) -> (&str, &str, &str) {
        let b = &self.batches[batch as usize];
        let i = row as usize;
        (b.audience.value(i), b.destination.value(i), b.member_id.value(i))
    }
}

/// The position of `name` in `names`, added if new (a handful of audiences and destinations).
fn name_slot(names: &mut Vec<String>, name: &str) -> u32 {
    match names.iter().position(|n| n == name) {
        Some(p) => p as u32,
        None => {
            names.push(name.to_string());
            names.len() as u32 - 1
        }
    }
}

/// What changed since the previous state.
#[derive(Debug, Default)]
pub(super) struct ChangeSets<'a> {
    /// Per destination, in order: upserts in membership order, then deletes sorted.
    pub(super) changes: BTreeMap<&'a str, Vec<Change<'a>>>,
    /// (audience, destination, member, enter|exit).
    pub(super) events: Vec<(&'a str, &'a str, &'a str, &'static str)>,
    /// When each current membership was last emitted (this run for upserts), aligned with the memberships.
    pub(super) emitted_at: Vec<i64>,
}

/// Compare the memberships with the previous state; `now` is this run's emit time (microseconds).
pub(super) fn change_sets<'a>(
    memberships: &'a Memberships<'a>,
    previous: &'a PreviousState,
    ledger: &Ledger,
    now: i64,
) -> ChangeSets<'a> {
    let mut sets = ChangeSets {
        emitted_at: Vec::with_capacity(memberships.len()),
        ..ChangeSets::default()
    };
    let befores: Vec<Option<(&str, i64, StateRow)>> = memberships
        .par_iter()
        .map(|m| previous.get(m.audience, m.destination, m.member))
        .collect();
    // The state's rows still current, by batch and row.
    let mut current: Vec<Vec<bool>> = previous
        .batches
        .iter()
        .map(|b| vec![false; b.member_id.len()])
        .collect();
    for (m, before) in memberships.iter().zip(befores) {
        if let Some((_, _, (batch, row))) = before {
            current[batch as usize][row as usize] = true;
        }
        // New or changed rows, and rows whose send failed after they were last emitted (retried once per
        // failure report, so re-running the same as-of date emits nothing new).
        // State written before row hashes were cut to their key (64 characters) compares by its first part, so
        // an upgrade does not resend every member.
        let unchanged = before.filter(|(hash, at, _)| {
            hash.get(..KEY_HEX) == Some(m.row_hash.hex().key())
                && !ledger.failed_after(m.member, m.audience, *at)
        });
        match unchanged {
            Some((_, at, _)) => sets.emitted_at.push(at),
            None => {
                sets.emitted_at.push(now);
                sets.changes.entry(m.destination).or_default().push(Change {
                    audience: m.audience,
                    member_id: m.member_id,
                    op: Op::Upsert,
                    membership: Some(m),
                    existed: before.is_some(),
                });
            }
        }
        if before.is_none() {
            sets.events
                .push((m.audience, m.destination, m.member_id, "enter"));
        }
    }
    let mut gone: Vec<(&str, &str, &str)> = previous
        .by_member
        .values()
        .filter(|(batch, row)| !current[*batch as usize][*row as usize])
        .chain(&previous.unknown)
        .map(|&row| previous.key(row))
        .collect();
    gone.sort_unstable();
    for (a, d, m) in gone {
        // Only rows carelake sent before are removed.
        sets.changes.entry(d).or_default().push(Change {
            audience: a,
            member_id: m,
            op: Op::Delete,
            membership: None,
            existed: true,
        });
        sets.events.push((a, d, m, "exit"));
    }
    sets
}

impl ChangeSets<'_> {
    /// Per (audience, destination): (adds, changes, removes), an upsert of a row already in the state being a
    /// change.
    pub(super) fn planned(&self) -> HashMap<(&str, &str), (i64, i64, i64)> {
        let mut planned: HashMap<(&str, &str), (i64, i64, i64)> = HashMap::default();
        for (&destination, rows) in &self.changes {
            for c in rows {
                let counts = planned.entry((c.audience, destination)).or_default();
                match c.op {
                    Op::Delete => counts.2 += 1,
                    Op::Upsert if c.existed => counts.1 += 1,
                    Op::Upsert => counts.0 += 1,
                }
            }
        }
        planned
    }
}

#[cfg(test)]
#[path = "diff_properties.rs"]
mod properties;

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, TimestampMicrosecondArray};

    use super::*;
    use crate::audience::consent::{Basis, Channel};
    use crate::audience::contact_points::NoContacts;
    use crate::audience::ledger::LedgerBuilder;

    fn texts(values: &[&str]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    /// A stand-in row hash named by `name`.
    fn digest(name: &str) -> Sha256Digest {
        Sha256Digest::of_parts(&[name])
    }

    /// The state's row hashes of the stand-in hashes, as written (their keys), except those named in `whole`:
    /// written whole, as before row hashes were cut to their key.
    fn hex_texts(names: &[&str], whole: &[&str]) -> ArrayRef {
        let hex: Vec<String> = names
            .iter()
            .map(|n| match whole.contains(n) {
                true => digest(n).hex().as_str().to_owned(),
                false => digest(n).hex().key().to_owned(),
            })
            .collect();
        Arc::new(StringArray::from(hex))
    }

    /// A stand-in send of `member` to the `texts` destination, its row hash named by `hash`.
    pub(in super::super) fn membership<'a>(
        audience: &'a str,
        member_id: &'a str,
        member: u32,
        hash: &str,
    ) -> Membership<'a> {
        Membership {
            audience,
            destination: "texts",
            member_id,
            member,
            decision: Decision::Send {
                channel: Channel::Sms,
                basis: Basis::PriorExpress,
                window: None,
                local_send_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            },
            payload: PayloadValues::default(),
            row_hash: digest(hash),
        }
    }

    /// Memberships 0..n in blocks of the given sizes.
    fn in_blocks(sizes: &[usize]) -> Memberships<'static> {
        let mut memberships = Memberships::default();
        let mut next = 0u32;
        for &size in sizes {
            memberships.append(
                (next..next + size as u32)
                    .map(|i| membership("recall", "MBR-a", i, "h"))
                    .collect(),
            );
            next += size as u32;
        }
        memberships
    }

    #[test]
    fn memberships_in_blocks_of_any_size_keep_their_order_in_every_way_they_are_read() {
        let sizes = [3, 0, 1, 4096, 2, 70_000, 5];
        let memberships = in_blocks(&sizes);
        let n: usize = sizes.iter().sum();
        assert_eq!(memberships.len(), n);
        assert_eq!(memberships.blocks.len(), 6, "an empty block is not kept");
        let order: Vec<u32> = memberships.iter().map(|m| m.member).collect();
        assert_eq!(order, (0..n as u32).collect::<Vec<_>>());
        let parallel: Vec<u32> = memberships.par_iter().map(|m| m.member).collect();
        assert_eq!(parallel, order);
        for range in [
            0..0,
            0..3,
            2..5,
            3..4,
            4..4100,
            4099..4102,
            4100..n,
            n - 1..n,
            n..n,
            10..n + 7,
        ] {
            let across: Vec<u32> = memberships.range(range.clone()).map(|m| m.member).collect();
            let expected: Vec<u32> = (range.start.min(n)..range.end.min(n)).map(|i| i as u32).collect();
            assert_eq!(across, expected, "{range:?}");
        }
    }

    #[test]
    fn splitting_off_across_blocks_keeps_the_order_and_lets_rows_be_added_again() {
        let sizes = [7, 4096, 1, 9000];
        let n: usize = sizes.iter().sum();
        let mut memberships = in_blocks(&sizes);
        // At the end, at a block's start, inside a block, in a block of one, at the very start.
        for at in [n, 4103, 9, 4104, 0, 3] {
            let tail = memberships.split_off(at);
            assert_eq!(memberships.len(), at);
            assert!(tail
                .iter()
                .map(|m| m.member)
                .eq(at as u32..memberships.len() as u32 + tail.len() as u32));
            memberships.extend(tail);
            assert_eq!(memberships.len(), n);
            assert!(memberships.iter().map(|m| m.member).eq(0..n as u32));
            assert!(memberships
                .par_iter()
                .map(|m| m.member)
                .collect::<Vec<_>>()
                .into_iter()
                .eq(0..n as u32));
        }
    }

    #[test]
    fn the_diff_upserts_new_and_changed_rows_and_deletes_rows_that_are_gone_or_of_unknown_members() {
        let profiles = super::super::profiles::profiles_of(&["MBR-a", "MBR-b", "MBR-c"]);
        // The state: a unchanged (its row hash written whole, by a version before they were cut to their key),
        // b changed, c gone from the audience, x no longer a member at all.
        let state = RecordBatch::try_from_iter([
            ("audience", texts(&["recall", "recall", "recall", "recall"])),
            ("destination", texts(&["texts", "texts", "texts", "texts"])),
            ("member_id", texts(&["MBR-a", "MBR-b", "MBR-c", "MBR-x"])),
            ("row_hash", hex_texts(&["h-a", "h-b", "h-c", "h-x"], &["h-a"])),
            (
                "emitted_at",
                Arc::new(TimestampMicrosecondArray::from(vec![10, 20, 30, 40])) as ArrayRef,
            ),
        ])
        .unwrap();
        let previous = PreviousState::from_batches(&[state], &profiles).unwrap();
        assert_eq!(previous.len, 4);
        let memberships: Memberships = [
            membership("recall", "MBR-a", 0, "h-a"),
            membership("recall", "MBR-b", 1, "h-b2"),
            // The same member in another audience is a new row.
            membership("wellness", "MBR-a", 0, "h-a"),
        ]
        .into_iter()
        .collect();
        let ledger = LedgerBuilder::default().finish(&NoContacts);
        let sets = change_sets(&memberships, &previous, &ledger, 99);
        assert_eq!(sets.emitted_at, vec![10, 99, 99]);
        let changes: Vec<(&str, &str, &str, bool)> = sets.changes["texts"]
            .iter()
            .map(|c| (c.audience, c.member_id, c.op.name(), c.existed))
            .collect();
        assert_eq!(
            changes,
            vec![
                ("recall", "MBR-b", "upsert", true),
                ("wellness", "MBR-a", "upsert", false),
                ("recall", "MBR-c", "delete", true),
                ("recall", "MBR-x", "delete", true),
            ]
        );
        assert_eq!(
            sets.events,
            vec![
                ("wellness", "texts", "MBR-a", "enter"),
                ("recall", "texts", "MBR-c", "exit"),
                ("recall", "texts", "MBR-x", "exit"),
            ]
        );
        let planned = sets.planned();
        assert_eq!(planned[&("recall", "texts")], (0, 1, 2));
        assert_eq!(planned[&("wellness", "texts")], (1, 0, 0));
    }
}
