//! Person keys to member numbers: member ids, and source records per source system.
//!
//! Loading a million members means millions of random hash-table probes, which wait on memory rather than
//! compute. Both tables are split so two threads can fill them at once: member ids in two halves by hash,
//! source records by source system and each system's in two halves by hash.

use arrow::array::{Array, RecordBatch, StringArray};
use rayon::prelude::*;

use super::text_key::{get_all, text_hash, Probe, TextKeyTable, AHEAD, PROBES_AT_ONCE};
use crate::error::CoreResult;
use crate::model::text_column;

/// Marks a value that is still a row position while a bulk insert numbers its new members.
const PENDING: u32 = 1 << 31;

/// Member id -> member number, in two halves by hash.
#[derive(Debug, Default)]
pub struct MemberIds {
    halves: [TextKeyTable; 2],
}

/// The half of a table split in two by hash ([`MemberIds`], each system's of [`SourceKeys`]) a text of this hash
/// goes to: a bit the tables do not use (they take the low bits, below their size, for the slot and the upper 32
/// for a tag), so each half stays evenly filled and its tags keep all their bits.
fn half_of(hash: u64) -> usize {
    ((hash >> 31) & 1) as usize
}

/// Make room for `n` more keys in a table split in two by [`half_of`]: each half is sized for its share and a
/// margin far above how unevenly a hash bit splits millions of keys, so neither half grows (re-hashing every key
/// it holds) as the keys come.
fn reserve_halves(halves: &mut [TextKeyTable; 2], n: usize) {
    let half = n / 2;
    for table in halves {
        table.reserve(half + half / 64 + 1024);
    }
}

/// What a bulk insert did: the rows of the ids it added, and every row's member number.
#[derive(Debug, Default)]
pub struct InsertedIds {
    /// The rows (positions in the ids) of the new members, in the order they were numbered.
    pub new_rows: Vec<usize>,
    /// Each row's member number, new or known.
    pub numbers: Vec<u32>,
}

impl MemberIds {
    /// The member number of `id`.
    pub fn get(&self, id: &str) -> Option<u32> {
        let hash = text_hash(id.as_bytes());
        self.halves[half_of(hash)].get(hash, id.as_bytes())
    }

    /// The member number of each id, in order; the look-ups run ahead of each other (see [`get_all`]).
    pub fn get_each<'k>(&self, ids: impl Iterator<Item = &'k str>) -> Vec<Option<u32>> {
        let mut out = Vec::with_capacity(ids.size_hint().0);
        let mut probes = Vec::with_capacity(PROBES_AT_ONCE);
        for id in ids {
            let hash = text_hash(id.as_bytes());
            probes.push(Probe {
                table: &self.halves[half_of(hash)],
                hash,
                text: id.as_bytes(),
            });
            if probes.len() == PROBES_AT_ONCE {
                get_all(&probes, &mut out);
                probes.clear();
            }
        }
        get_all(&probes, &mut out);
        out
    }

    /// The member number of `id`, inserting `next` when it is new; true when it was inserted.
    pub fn get_or_insert(&mut self, id: &str, next: u32) -> (u32, bool) {
        let hash = text_hash(id.as_bytes());
        self.halves[half_of(hash)].get_or_insert(hash, id, next)
    }

    /// Make room for `n` more ids.
    pub fn reserve(&mut self, n: usize) {
        reserve_halves(&mut self.halves, n);
    }

    /// Insert the ids not yet known, two threads at once; the new ones are numbered from `first` in the order
    /// of their first row. Each text is hashed once, and every row's number comes back with the insert, so a
    /// caller needs no second look-up per row.
    pub fn insert_new(&mut self, ids: &[&str], first: u32) -> InsertedIds {
        assert!(
            ids.len() < PENDING as usize,
            "more than 2^31 member rows in one load"
        );
        let hashes: Vec<u64> = ids.par_iter().map(|id| text_hash(id.as_bytes())).collect();
        // Only the ids added by this insert hold pending values: each half's entries from here on.
        let known = [self.halves[0].len(), self.halves[1].len()];
        // Each half takes its own keys in row order, so the first row of an id is the one that stays. A new id
        // holds its first row (marked pending) until the new ids are numbered.
        let halves: Vec<(Vec<usize>, Vec<u32>)> = self
            .halves
            .par_iter_mut()
            .enumerate()
            .map(|(h, table)| {
                // A first load sizes its table once instead of growing it by rehashing (each rehash allocates
                // and touches a table twice the size).
                if table.is_empty() {
                    table.reserve(hashes.iter().filter(|&&x| half_of(x) == h).count());
                }
                let (mut new, mut values) = (Vec::new(), Vec::new());
                for (row, (&hash, id)) in hashes.iter().zip(ids).enumerate() {
                    // The slots of rows ahead are asked for early, as in look-ups (`get_all`).
                    if let Some(&ahead) = hashes.get(row + AHEAD) {
                        if half_of(ahead) == h {
                            table.prefetch_slot(ahead);
                        }
                    }
                    if half_of(hash) != h {
                        continue;
                    }
                    let (value, inserted) = table.get_or_insert(hash, id, PENDING | row as u32);
                    if inserted {
                        new.push(row);
                    }
                    values.push(value);
                }
                (new, values)
            })
            .collect();
        let mut new_rows: Vec<usize> = halves.iter().flat_map(|(new, _)| new.iter().copied()).collect();
        new_rows.sort_unstable();
        let mut number = vec![0u32; ids.len()];
        for (k, &row) in new_rows.iter().enumerate() {
            number[row] = first + k as u32;
        }
        let settle = |value: u32| match value & PENDING {
            0 => value,
            _ => number[(value & !PENDING) as usize],
        };
        // Rows in order again: each half's values were taken in row order.
        let mut next = [0usize; 2];
        let numbers = hashes
            .iter()
            .map(|&hash| {
                let h = half_of(hash);
                next[h] += 1;
                settle(halves[h].1[next[h] - 1])
            })
            .collect();
        self.halves.par_iter_mut().zip(known).for_each(|(table, known)| {
            for value in table.values_mut_from(known) {
                *value = settle(*value);
            }
        });
        InsertedIds { new_rows, numbers }
    }
}

/// Source record -> member, per source system, each system's records in two halves by hash (as [`MemberIds`]):
/// a table such as identity_xref lists one system's records together, so tables by system alone were filled one
/// at a time. A handful of systems: a linear scan over their names beats hashing the name on every row.
#[derive(Debug, Default)]
pub struct SourceKeys {
    /// Each system's name and the halves of its table.
    by_system: Vec<(String, [TextKeyTable; 2])>,
}

impl SourceKeys {
    /// The position of `system`'s tables, added if new.
    fn add_system(&mut self, system: &str) -> usize {
        match self.by_system.iter().position(|(s, _)| s == system) {
            Some(at) => at,
            None => {
                self.by_system.push((system.to_string(), Default::default()));
                self.by_system.len() - 1
            }
        }
    }

    /// The halves of `system`'s table, if it has one.
    fn system(&self, system: &str) -> Option<&[TextKeyTable; 2]> {
        self.by_system.iter().find(|(s, _)| s == system).map(|(_, t)| t)
    }

    /// Make room for the given rows of each system (from [`crate::lake::read_columns_each_counted_if_present`]):
    /// a table sized once does not grow, re-hashing every key it holds, as its rows come (each half with a
    /// margin, see `reserve_halves`).
    pub fn reserve_systems(&mut self, rows: &[(String, u64)]) {
        for (system, rows) in rows {
            let at = self.add_system(system);
            reserve_halves(&mut self.by_system[at].1, *rows as usize);
        }
    }

    /// Record that `record` of `system` belongs to `member`.
    pub fn insert(&mut self, system: &str, record: &str, member: u32) {
        let at = self.add_system(system);
        let hash = text_hash(record.as_bytes());
        self.by_system[at].1[half_of(hash)].insert(hash, record, member);
    }

    /// Record the members of source records given as (source_system, source_record_id) columns, batch by batch,
    /// with each row's member (None: left out). The halves of the systems' tables are filled on threads of
    /// their own.
    pub fn insert_batches(&mut self, keys: &[(&StringArray, &StringArray)], members: &[Vec<Option<u32>>]) {
        // Each record is hashed once, on every core.
        let hashes: Vec<Vec<u64>> = keys
            .iter()
            .map(|(_, rec)| {
                (0..rec.len())
                    .into_par_iter()
                    .map(|i| text_hash(rec.value(i).as_bytes()))
                    .collect()
            })
            .collect();
        // Each table's rows (system position * 2 + half), in row order.
        let mut rows: Vec<Vec<(u64, &str, u32)>> = Vec::new();
        for (((sys, rec), found), hashes) in keys.iter().zip(members).zip(&hashes) {
            let mut last: Option<(&str, usize)> = None;
            for (i, (&member, &hash)) in found.iter().zip(hashes).enumerate() {
                let Some(member) = member else { continue };
                let system = sys.value(i);
                let at = match last {
                    Some((s, at)) if s == system => at,
                    _ => {
                        let at = self.add_system(system);
                        last = Some((system, at));
                        at
                    }
                };
                let table = at * 2 + half_of(hash);
                if rows.len() <= table {
                    rows.resize_with(self.by_system.len() * 2, Vec::new);
                }
                rows[table].push((hash, rec.value(i), member));
            }
        }
        let tables: Vec<&mut TextKeyTable> = self
            .by_system
            .iter_mut()
            .flat_map(|(_, t)| t.iter_mut())
            .collect();
        tables.into_par_iter().zip(rows).for_each(|(records, rows)| {
            records.reserve(rows.len());
            for (i, &(hash, record, member)) in rows.iter().enumerate() {
                // The slots of rows ahead are asked for early, as in look-ups (`get_all`).
                if let Some(&(ahead, _, _)) = rows.get(i + AHEAD) {
                    records.prefetch_slot(ahead);
                }
                records.insert(hash, record, member);
            }
        });
    }

    /// The member of `record` of `system`.
    pub fn get(&self, system: &str, record: &str) -> Option<u32> {
        let hash = text_hash(record.as_bytes());
        self.system(system)?[half_of(hash)].get(hash, record.as_bytes())
    }

    /// The member of each (system, record) key, in order (None: no key, or not known). A person's rows usually
    /// come together, so a row with the previous key's key takes its answer; the other look-ups run ahead of
    /// each other (see [`get_all`]).
    pub fn get_each<'k>(&self, keys: impl Iterator<Item = Option<(&'k str, &'k str)>>) -> Vec<Option<u32>> {
        /// A row's answer: known at once, or that of a probe.
        #[derive(Clone, Copy)]
        enum Answer {
            Known(Option<u32>),
            Probe(usize),
        }
        let mut rows: Vec<Answer> = Vec::with_capacity(keys.size_hint().0);
        let mut probes = Vec::new();
        let mut last: Option<((&str, &str), Answer)> = None;
        let mut system_table: Option<(&str, Option<&[TextKeyTable; 2]>)> = None;
        for key in keys {
            let Some((system, record)) = key else {
                rows.push(Answer::Known(None));
                continue;
            };
            if let Some((previous, answer)) = last {
                if previous == (system, record) {
                    rows.push(answer);
                    continue;
                }
            }
            let table = match system_table {
                Some((s, table)) if s == system => table,
                _ => {
                    let table = self.system(system);
                    system_table = Some((system, table));
                    table
                }
            };
            let answer = match table {
                None => Answer::Known(None),
                Some(halves) => {
                    let hash = text_hash(record.as_bytes());
                    probes.push(Probe {
                        table: &halves[half_of(hash)],
                        hash,
                        text: record.as_bytes(),
                    });
                    Answer::Probe(probes.len() - 1)
                }
            };
            last = Some(((system, record), answer));
            rows.push(answer);
        }
        let mut found = Vec::with_capacity(probes.len());
        get_all(&probes, &mut found);
        rows.into_iter()
            .map(|answer| match answer {
                Answer::Known(member) => member,
                Answer::Probe(at) => found[at],
            })
            .collect()
    }
}

/// A row's person keys: member_id, source_system, source_record_id (None where blank).
pub type PersonKey<'k> = (Option<&'k str>, Option<&'k str>, Option<&'k str>);

/// The member of each of `rows` from its person keys (`key`): a row with a member_id is that id's member
/// (`by_id`), the others their source record's (`by_record`, given None for a row without both parts). Each
/// look-up gets all its rows at once, so they run ahead of each other (see [`get_all`]): one at a time, each
/// waited on memory.
pub fn members_by_person_key<'k>(
    rows: impl Iterator<Item = usize>,
    key: impl Fn(usize) -> PersonKey<'k>,
    by_id: impl FnOnce(&mut dyn Iterator<Item = &'k str>) -> Vec<Option<u32>>,
    by_record: impl FnOnce(&mut dyn Iterator<Item = Option<(&'k str, &'k str)>>) -> Vec<Option<u32>>,
) -> Vec<Option<u32>> {
    // Each row's keys are read once: the rows with a member_id are noted (position among `rows`, id) on the way.
    let mut with_id: Vec<(usize, &'k str)> = Vec::new();
    let mut members = by_record(&mut rows.enumerate().map(|(at, i)| match key(i) {
        (Some(id), _, _) => {
            with_id.push((at, id));
            None
        }
        (None, system, record) => system.zip(record),
    }));
    if !with_id.is_empty() {
        let found = by_id(&mut with_id.iter().map(|&(_, id)| id));
        for (&(at, _), member) in with_id.iter().zip(found) {
            members[at] = member;
        }
    }
    members
}

/// identity_xref as an index: a source record's member number, in a numbering the caller owns (the audience
/// stage numbers members by their member_profile row, so every later look-up is by number, not by id).
#[derive(Debug, Default)]
pub struct XrefIndex {
    records: SourceKeys,
}

impl XrefIndex {
    /// Make room for the given xref rows of each source system (see [`SourceKeys::reserve_systems`]).
    pub fn reserve_systems(&mut self, rows: &[(String, u64)]) {
        self.records.reserve_systems(rows);
    }

    /// Add `identity_xref` batches (source_system, source_record_id, member_id) to the index, two threads at
    /// once; a table can be indexed batch by batch as it is read. Members are numbered by `numbers`; ids it does
    /// not know yet are added, numbered from `next` on in the order of their first row, and returned in that
    /// order.
    pub fn add_batches(
        &mut self,
        batches: &[RecordBatch],
        numbers: &mut MemberIds,
        next: u32,
    ) -> CoreResult<Vec<String>> {
        let table = "identity_xref";
        let mut keys = Vec::with_capacity(batches.len());
        let mut ids: Vec<&str> = Vec::new();
        for batch in batches {
            let member = text_column(batch, table, "member_id")?;
            ids.extend((0..batch.num_rows()).map(|i| member.value(i)));
            keys.push((
                text_column(batch, table, "source_system")?,
                text_column(batch, table, "source_record_id")?,
            ));
        }
        let inserted = numbers.insert_new(&ids, next);
        let added = inserted
            .new_rows
            .iter()
            .map(|&row| ids[row].to_string())
            .collect();
        let mut at = 0;
        let mut members = Vec::with_capacity(keys.len());
        for (sys, _) in &keys {
            members.push(
                inserted.numbers[at..at + sys.len()]
                    .iter()
                    .map(|&n| Some(n))
                    .collect::<Vec<_>>(),
            );
            at += sys.len();
        }
        self.records.insert_batches(&keys, &members);
        Ok(added)
    }

    /// The member number of record `record` of source `system`.
    pub fn member(&self, system: &str, record: &str) -> Option<u32> {
        self.records.get(system, record)
    }

    /// The member number of each (source system, record) key, in order: [`SourceKeys::get_each`].
    pub fn members<'k>(&self, keys: impl Iterator<Item = Option<(&'k str, &'k str)>>) -> Vec<Option<u32>> {
        self.records.get_each(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_insert_numbers_new_ids_by_their_first_row_and_keeps_known_ones() {
        let mut ids = MemberIds::default();
        assert_eq!(ids.get_or_insert("known", 0), (0, true));
        let many: Vec<String> = (0..1000).map(|i| format!("M{}", i % 700)).collect();
        let mut rows: Vec<&str> = many.iter().map(String::as_str).collect();
        rows.insert(500, "known");
        let inserted = ids.insert_new(&rows, 1);
        let new = inserted.new_rows;
        assert_eq!(new.len(), 700, "each distinct new id once");
        // Every row's number comes back with the insert, known or new.
        for (row, id) in rows.iter().enumerate() {
            assert_eq!(Some(inserted.numbers[row]), ids.get(id), "{id}");
        }
        assert_eq!(
            new,
            (0..700)
                .map(|i| if i < 500 { i } else { i + 1 })
                .collect::<Vec<_>>()
        );
        assert_eq!(ids.get("known"), Some(0));
        for i in 0..700 {
            assert_eq!(ids.get(&format!("M{i}")), Some(1 + i as u32), "M{i}");
        }
        assert_eq!(ids.get("M700"), None);
        assert_eq!(ids.get_or_insert("M3", 999), (4, false));

        // Mostly known ids, over more rows than one round of look-ups: the new ones still numbered by first row.
        let again: Vec<String> = (0..10_000).map(|i| format!("M{}", i % 900)).collect();
        let rows: Vec<&str> = again.iter().map(String::as_str).collect();
        let inserted = ids.insert_new(&rows, 701);
        assert_eq!(inserted.new_rows, (700..900).collect::<Vec<_>>());
        for (row, id) in rows.iter().enumerate() {
            assert_eq!(Some(inserted.numbers[row]), ids.get(id), "{id}");
        }
        assert_eq!(ids.get("M3"), Some(4));
        assert_eq!(ids.get("M899"), Some(900));
    }

    #[test]
    fn a_member_id_decides_a_rows_member_and_other_rows_go_by_source_record() {
        let mut ids = MemberIds::default();
        ids.get_or_insert("MBR-a", 0);
        ids.get_or_insert("MBR-b", 1);
        let mut records = SourceKeys::default();
        records.insert("ehr", "1", 1);
        records.insert("ehr", "2", 0);
        let keys: [PersonKey; 6] = [
            (None, Some("ehr"), Some("1")),
            (Some("MBR-a"), Some("ehr"), Some("1")),
            (Some("MBR-x"), Some("ehr"), Some("2")),
            (None, Some("ehr"), None),
            (None, Some("ehr"), Some("9")),
            (Some("MBR-b"), None, None),
        ];
        let members = members_by_person_key(
            0..keys.len(),
            |i| keys[i],
            |by_id| ids.get_each(by_id),
            |by_record| records.get_each(by_record),
        );
        assert_eq!(members, [Some(1), Some(0), None, None, None, Some(1)]);
        // Only some rows, in the order given.
        let some = members_by_person_key(
            [5, 0, 4].into_iter(),
            |i| keys[i],
            |by_id| ids.get_each(by_id),
            |by_record| records.get_each(by_record),
        );
        assert_eq!(some, [Some(1), Some(1), None]);
    }

    #[test]
    fn the_xref_index_gives_each_source_records_member() {
        let xref = arrow::array::RecordBatch::try_from_iter([
            (
                "source_system",
                std::sync::Arc::new(arrow::array::StringArray::from(vec!["ehr", "claims", "ehr"])) as _,
            ),
            (
                "source_record_id",
                std::sync::Arc::new(arrow::array::StringArray::from(vec!["1", "1", "2"])) as _,
            ),
            (
                "member_id",
                std::sync::Arc::new(arrow::array::StringArray::from(vec!["MBR-a", "MBR-b", "MBR-a"])) as _,
            ),
        ])
        .unwrap();
        // MBR-b is known already (number 0); MBR-a is new and numbered from 5 on.
        let mut numbers = MemberIds::default();
        numbers.get_or_insert("MBR-b", 0);
        let mut index = XrefIndex::default();
        let added = index.add_batches(&[xref], &mut numbers, 5).unwrap();
        assert_eq!(added, vec!["MBR-a".to_string()]);
        assert_eq!(index.member("ehr", "1"), Some(5));
        assert_eq!(index.member("claims", "1"), Some(0));
        assert_eq!(index.member("ehr", "2"), Some(5));
        assert_eq!(index.member("crm", "1"), None);
        assert_eq!(index.member("ehr", "3"), None);
        // In bulk: repeated keys take the previous answer, and a row without a key does not break a run.
        let keys = [
            Some(("ehr", "1")),
            Some(("ehr", "1")),
            None,
            Some(("ehr", "1")),
            Some(("claims", "1")),
            Some(("crm", "1")),
            Some(("crm", "1")),
            Some(("ehr", "3")),
            Some(("ehr", "2")),
        ];
        assert_eq!(
            index.members(keys.into_iter()),
            vec![
                Some(5),
                Some(5),
                None,
                Some(5),
                Some(0),
                None,
                None,
                None,
                Some(5)
            ]
        );
        let many: Vec<Option<(&str, &str)>> = (0..10_000)
            .map(|i| Some(["ehr", "claims"][i % 2]).zip(Some("1")))
            .collect();
        let found = index.members(many.into_iter());
        assert!(
            found.iter().enumerate().all(|(i, m)| *m == Some([5, 0][i % 2])),
            "more keys than one run of probes"
        );
        assert_eq!(
            numbers.get_each(["MBR-a", "MBR-x", "MBR-b"].into_iter()),
            vec![Some(5), None, Some(0)]
        );
    }

    #[test]
    fn records_of_systems_mixed_across_batches_each_find_their_member() {
        let record = |i: usize| format!("R{i}");
        let system = |i: usize| ["ehr", "claims", "crm"][i % 3 / 2 + i / 5_000 % 2];
        let batch = |from: usize, to: usize, shift: u32| {
            let systems: Vec<&str> = (from..to).map(system).collect();
            let records: Vec<String> = (from..to).map(record).collect();
            let members: Vec<Option<u32>> = (from..to)
                .map(|i| (i % 7 != 0).then_some(i as u32 + shift))
                .collect();
            (StringArray::from(systems), StringArray::from(records), members)
        };
        let mut keys = SourceKeys::default();
        // Sized for some systems only, and too small for them: the halves must still take every row.
        keys.reserve_systems(&[("ehr".to_string(), 100)]);
        let (a, b) = (batch(0, 6_000, 0), batch(6_000, 12_000, 0));
        keys.insert_batches(&[(&a.0, &a.1), (&b.0, &b.1)], &[a.2.clone(), b.2.clone()]);
        // A later batch gives some records again with other members: the later member holds.
        let c = batch(3_000, 4_000, 1_000_000);
        keys.insert_batches(&[(&c.0, &c.1)], std::slice::from_ref(&c.2));
        let expected = |i: usize| match (i % 7 != 0, (3_000..4_000).contains(&i)) {
            (false, _) => None,
            (true, true) => Some(i as u32 + 1_000_000),
            (true, false) => Some(i as u32),
        };
        let records: Vec<String> = (0..12_000).map(record).collect();
        for i in (0..12_000).step_by(97) {
            assert_eq!(keys.get(system(i), &records[i]), expected(i), "row {i}");
        }
        let found = keys.get_each((0..12_000).map(|i| Some((system(i), records[i].as_str()))));
        assert!(
            found.iter().enumerate().all(|(i, m)| *m == expected(i)),
            "every record, in bulk"
        );
        // A record under another system is not found.
        assert_eq!(keys.get("lab", "R1"), None);
        assert_eq!(
            keys.get(if system(1) == "ehr" { "crm" } else { "ehr" }, "R1"),
            None
        );
    }
}
