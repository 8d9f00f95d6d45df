//! Person keys to member numbers: member ids, and source records per source system.
//!
//! Loading a million members means millions of random hash-table probes, which wait on memory rather than
//! compute. Both tables are split so two threads can fill them at once: member ids in two halves by hash,
//! source records by source system.

use std::hash::BuildHasher;

use arrow::array::{Array, RecordBatch, StringArray};
use rayon::prelude::*;

use super::text_key::TextKey;
use crate::error::CoreResult;
use crate::model::text_column;

/// Marks a value that is still a row position while a bulk insert numbers its new members.
const PENDING: u32 = 1 << 31;

/// Member id -> member number, in two halves by hash.
#[derive(Debug, Default)]
pub struct MemberIds {
    halves: [foldhash::HashMap<TextKey, u32>; 2],
}

fn half_of(key: &TextKey) -> usize {
    // A fixed seed independent of the tables' own hashing, so each half's table stays evenly filled.
    (foldhash::fast::FixedState::with_seed(0x6361_7265_6c61_6b65).hash_one(key) >> 63) as usize
}

impl MemberIds {
    /// The member number of `id`.
    pub fn get(&self, id: &str) -> Option<u32> {
        let key = TextKey::new(id);
        self.halves[half_of(&key)].get(&key).copied()
    }

    /// The member number of `id`, inserting `next` when it is new; true when it was inserted.
    pub fn get_or_insert(&mut self, id: &str, next: u32) -> (u32, bool) {
        let key = TextKey::new(id);
        match self.halves[half_of(&key)].entry(key) {
            std::collections::hash_map::Entry::Occupied(found) => (*found.get(), false),
            std::collections::hash_map::Entry::Vacant(slot) => (*slot.insert(next), true),
        }
    }

    /// Make room for `n` more ids.
    pub fn reserve(&mut self, n: usize) {
        for half in &mut self.halves {
            half.reserve(n / 2 + 1);
        }
    }

    /// Insert the ids not yet known, two threads at once; the new ones are numbered from `first` in the order
    /// of their first row. Returns the rows (positions in `ids`) of the new members, in that order.
    pub fn insert_new(&mut self, ids: &[&str], first: u32) -> Vec<usize> {
        assert!(
            ids.len() < PENDING as usize,
            "more than 2^31 member rows in one load"
        );
        let keys: Vec<TextKey> = ids.par_iter().map(|id| TextKey::new(id)).collect();
        let halves: Vec<u8> = keys.par_iter().map(|k| half_of(k) as u8).collect();
        // Each half takes its own keys in row order, so the first row of an id is the one that stays.
        let new_rows: Vec<Vec<usize>> = self
            .halves
            .par_iter_mut()
            .enumerate()
            .map(|(h, table)| {
                // A first load sizes its table once instead of growing it by rehashing (each rehash allocates
                // and touches a table twice the size).
                if table.is_empty() {
                    table.reserve(halves.iter().filter(|&&x| x as usize == h).count());
                }
                let mut new = Vec::new();
                for (row, key) in keys.iter().enumerate() {
                    if halves[row] as usize != h {
                        continue;
                    }
                    if let std::collections::hash_map::Entry::Vacant(slot) = table.entry(key.clone()) {
                        slot.insert(PENDING | row as u32);
                        new.push(row);
                    }
                }
                new
            })
            .collect();
        let mut order: Vec<usize> = new_rows.into_iter().flatten().collect();
        order.sort_unstable();
        let mut number = vec![0u32; ids.len()];
        for (k, &row) in order.iter().enumerate() {
            number[row] = first + k as u32;
        }
        self.halves.par_iter_mut().for_each(|table| {
            for value in table.values_mut() {
                if *value & PENDING != 0 {
                    *value = number[(*value & !PENDING) as usize];
                }
            }
        });
        order
    }
}

/// Source record -> member, per source system. A handful of systems: a linear scan over their names beats
/// hashing the name on every row.
#[derive(Debug, Default)]
pub struct SourceKeys {
    /// Each system's name and table.
    pub by_system: Vec<(String, foldhash::HashMap<TextKey, u32>)>,
}

impl SourceKeys {
    /// The position of `system`'s table, added if new.
    pub fn add_system(&mut self, system: &str) -> usize {
        match self.by_system.iter().position(|(s, _)| s == system) {
            Some(at) => at,
            None => {
                self.by_system.push((system.to_string(), Default::default()));
                self.by_system.len() - 1
            }
        }
    }

    /// Record that `record` of `system` belongs to `member`.
    pub fn insert(&mut self, system: &str, record: &str, member: u32) {
        let at = self.add_system(system);
        self.by_system[at].1.insert(TextKey::new(record), member);
    }

    /// Record the members of source records given as (source_system, source_record_id) columns, batch by batch,
    /// with each row's member (None: left out). Each source system's table is filled on its own thread.
    pub fn insert_batches(&mut self, keys: &[(&StringArray, &StringArray)], members: &[Vec<Option<u32>>]) {
        // Each system and its rows, counted so each table is sized once.
        let mut systems: Vec<(&str, usize)> = Vec::new();
        for (sys, _) in keys {
            for i in 0..sys.len() {
                match systems.iter_mut().find(|(s, _)| *s == sys.value(i)) {
                    Some((_, rows)) => *rows += 1,
                    None => systems.push((sys.value(i), 1)),
                }
            }
        }
        for (system, _) in &systems {
            self.add_system(system);
        }
        self.by_system.par_iter_mut().for_each(|(system, records)| {
            if let Some((_, rows)) = systems.iter().find(|(s, _)| *s == system.as_str()) {
                records.reserve(*rows);
            }
            for ((sys, rec), found) in keys.iter().zip(members) {
                for (i, member) in found.iter().enumerate() {
                    if let Some(m) = member {
                        if sys.value(i) == system.as_str() {
                            records.insert(TextKey::new(rec.value(i)), *m);
                        }
                    }
                }
            }
        });
    }

    /// The member of `record` of `system`.
    pub fn get(&self, system: &str, record: &str) -> Option<u32> {
        let (_, records) = self.by_system.iter().find(|(s, _)| s == system)?;
        records.get(&TextKey::new(record)).copied()
    }
}

/// identity_xref as an index: a source record's member number, in a numbering the caller owns (the audience
/// stage numbers members by their member_profile row, so every later look-up is by number, not by id).
#[derive(Debug, Default)]
pub struct XrefIndex {
    records: SourceKeys,
}

impl XrefIndex {
    /// Index `identity_xref` batches (source_system, source_record_id, member_id), two threads at once. Members
    /// are numbered by `numbers`; ids it does not know yet are added, numbered from `next` on in the order of
    /// their first row, and returned in that order.
    pub fn from_batches(
        batches: &[RecordBatch],
        numbers: &mut MemberIds,
        next: u32,
    ) -> CoreResult<(Self, Vec<String>)> {
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
        let new = numbers.insert_new(&ids, next);
        let added = new.iter().map(|&row| ids[row].to_string()).collect();
        let numbers = &*numbers;
        let mut at = 0;
        let mut members = Vec::with_capacity(keys.len());
        for (sys, _) in &keys {
            let rows = &ids[at..at + sys.len()];
            members.push(rows.par_iter().map(|id| numbers.get(id)).collect::<Vec<_>>());
            at += sys.len();
        }
        let mut index = XrefIndex::default();
        index.records.insert_batches(&keys, &members);
        Ok((index, added))
    }

    /// The member number of record `record` of source `system`.
    pub fn member(&self, system: &str, record: &str) -> Option<u32> {
        self.records.get(system, record)
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
        let new = ids.insert_new(&rows, 1);
        assert_eq!(new.len(), 700, "each distinct new id once");
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
        let (index, added) = XrefIndex::from_batches(&[xref], &mut numbers, 5).unwrap();
        assert_eq!(added, vec!["MBR-a".to_string()]);
        assert_eq!(index.member("ehr", "1"), Some(5));
        assert_eq!(index.member("claims", "1"), Some(0));
        assert_eq!(index.member("ehr", "2"), Some(5));
        assert_eq!(index.member("crm", "1"), None);
        assert_eq!(index.member("ehr", "3"), None);
    }
}
