//! The hash table the person-key indexes are built on: text keys (member ids, source record ids) to u32 values,
//! with look-ups that can run ahead of themselves.
//!
//! Loading members and resolving engagement rows means tens of millions of probes into tables far larger than
//! the caches; each probe waits on main memory twice (its slot, then its entry). The table is open addressing
//! with linear probing, so where a key's slot is follows from its hash alone: [`get_all`] asks for the slot of
//! the key some probes ahead, and for the entry of a key half as far ahead, so those waits overlap instead of
//! adding up (about twice as fast as probing one key at a time).
//!
//! Keys up to 27 bytes, as nearly all ids are, are held inline in their 32-byte entry, so a probe compares
//! where it already is; longer keys live in a side list. The table takes each text's hash from its caller, so a
//! caller that splits keys across tables by hash hashes each text once.

use std::hash::BuildHasher;

use crate::prefetch::prefetch;

/// Longest key held inline.
const INLINE: usize = 27;

/// `len` of an entry whose key is in the side list (its index in the first four bytes).
const LONG: u8 = u8::MAX;

/// One key and its value, 32 bytes, aligned so no entry straddles two cache lines.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
struct Entry {
    value: u32,
    /// Bytes used inline, or [`LONG`].
    len: u8,
    bytes: [u8; INLINE],
}

/// The hash of a key's text, the one [`TextKeyTable`] expects. Fixed, so the same text hashes the same in
/// every table and every run.
pub fn text_hash(text: &[u8]) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6361_7265_6c61_6b65).hash_one(text)
}

/// Text keys -> u32 values, each operation given the key's [`text_hash`].
#[derive(Debug, Default)]
pub struct TextKeyTable {
    /// Per position: 0 when free, else the hash's upper 32 bits (a tag that spares most entry reads) and the
    /// entry's index + 1.
    slots: Vec<u64>,
    entries: Vec<Entry>,
    /// Keys longer than [`INLINE`].
    long: Vec<Box<str>>,
}

/// Probes a look-up runs ahead of the one it answers: far enough for memory to answer in time, near enough
/// that what was fetched is still in cache.
pub const AHEAD: usize = 16;

/// One look-up for [`get_all`]: the table, the text and its [`text_hash`].
#[derive(Debug, Clone, Copy)]
pub struct Probe<'t, 'k> {
    /// The table to look in.
    pub table: &'t TextKeyTable,
    /// The text's [`text_hash`].
    pub hash: u64,
    /// The text.
    pub text: &'k [u8],
}

/// The value of each probe's text, in order, appended to `out`, with the slots and entries of later probes
/// requested early.
pub fn get_all(probes: &[Probe<'_, '_>], out: &mut Vec<Option<u32>>) {
    for p in probes.iter().take(AHEAD) {
        p.table.prefetch_slot(p.hash);
    }
    out.extend((0..probes.len()).map(|i| {
        if let Some(p) = probes.get(i + AHEAD) {
            p.table.prefetch_slot(p.hash);
        }
        if let Some(p) = probes.get(i + AHEAD / 2) {
            p.table.prefetch_entry(p.hash);
        }
        let p = &probes[i];
        p.table.get(p.hash, p.text)
    }));
}

/// Probes gathered before [`get_all`] answers them: enough to run ahead, few enough to stay in cache.
pub const PROBES_AT_ONCE: usize = 4096;

/// Where the probe for `hash` starts, in a table of `slots` positions (a power of two).
#[inline]
fn home(hash: u64, slots: usize) -> usize {
    hash as usize & (slots - 1)
}

/// The tag of a hash, or of a slot: the upper 32 bits.
#[inline]
fn tag(hash_or_slot: u64) -> u64 {
    hash_or_slot & !0xFFFF_FFFF
}

/// The slot of the entry at `index` whose key has `hash`.
#[inline]
fn slot_of(hash: u64, index: usize) -> u64 {
    tag(hash) | (index as u64 + 1)
}

/// The entry index a taken slot holds.
#[inline]
fn entry_of(slot: u64) -> usize {
    (slot as u32 - 1) as usize
}

impl TextKeyTable {
    /// The text of an entry.
    #[inline]
    fn key<'a>(&'a self, entry: &'a Entry) -> &'a [u8] {
        if entry.len == LONG {
            let mut index = [0u8; 4];
            index.copy_from_slice(&entry.bytes[..4]);
            self.long[u32::from_le_bytes(index) as usize].as_bytes()
        } else {
            &entry.bytes[..entry.len as usize]
        }
    }

    /// The position of `text`'s slot: Ok when it is there, Err (the free slot it would take) when it is not.
    #[inline]
    fn find(&self, hash: u64, text: &[u8]) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut at = home(hash, self.slots.len());
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return Err(at);
            }
            if tag(slot) == tag(hash) {
                let entry = &self.entries[entry_of(slot)];
                if self.key(entry) == text {
                    return Ok(at);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// The value of `text` (`hash` is its [`text_hash`]).
    #[inline]
    pub fn get(&self, hash: u64, text: &[u8]) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let at = self.find(hash, text).ok()?;
        Some(self.entries[entry_of(self.slots[at])].value)
    }

    /// Ask for the slot of `hash` to be brought into cache.
    #[inline]
    pub fn prefetch_slot(&self, hash: u64) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[home(hash, self.slots.len())]);
        }
    }

    /// Ask for the entry in the slot of `hash` to be brought into cache (reads the slot: ask for it first).
    #[inline]
    pub fn prefetch_entry(&self, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        let slot = self.slots[home(hash, self.slots.len())];
        if slot != 0 {
            prefetch(&self.entries[entry_of(slot)]);
        }
    }

    /// The value of `text`, inserting `value` when it is new; true when it was inserted.
    #[inline]
    pub fn get_or_insert(&mut self, hash: u64, text: &str, value: u32) -> (u32, bool) {
        self.reserve(1);
        match self.find(hash, text.as_bytes()) {
            Ok(at) => (self.entries[entry_of(self.slots[at])].value, false),
            Err(free) => {
                self.add(free, hash, text, value);
                (value, true)
            }
        }
    }

    /// Set the value of `text`.
    pub fn insert(&mut self, hash: u64, text: &str, value: u32) {
        self.reserve(1);
        match self.find(hash, text.as_bytes()) {
            Ok(at) => self.entries[entry_of(self.slots[at])].value = value,
            Err(free) => self.add(free, hash, text, value),
        }
    }

    /// Add a key at the free slot `at`.
    fn add(&mut self, at: usize, hash: u64, text: &str, value: u32) {
        let mut bytes = [0u8; INLINE];
        let len = if text.len() <= INLINE {
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            text.len() as u8
        } else {
            bytes[..4].copy_from_slice(&(self.long.len() as u32).to_le_bytes());
            self.long.push(text.into());
            LONG
        };
        self.slots[at] = slot_of(hash, self.entries.len());
        self.entries.push(Entry { value, len, bytes });
    }

    /// Make room for `n` more keys: the table grows (doubling) to keep at most five slots in eight in use, so
    /// probe runs stay short.
    pub fn reserve(&mut self, n: usize) {
        let wanted = self.entries.len() + n;
        if wanted * 8 <= self.slots.len() * 5 {
            return;
        }
        assert!(wanted < u32::MAX as usize, "more than 2^32 keys in one table");
        let size = (wanted * 8 / 5 + 1).next_power_of_two().max(16);
        self.entries.reserve(wanted - self.entries.len());
        let mut slots = written_zeros(size);
        for (index, entry) in self.entries.iter().enumerate() {
            let hash = text_hash(self.key(entry));
            let mut at = home(hash, size);
            while slots[at] != 0 {
                at = (at + 1) & (size - 1);
            }
            slots[at] = slot_of(hash, index);
        }
        self.slots = slots;
    }

    /// No keys yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The values of the keys added from the `first`-th on (keys are numbered in the order they were added), to
    /// be changed in place.
    pub fn values_mut_from(&mut self, first: usize) -> impl Iterator<Item = &mut u32> {
        self.entries.iter_mut().skip(first).map(|e| &mut e.value)
    }
}

/// `size` zeroed slots, each page of them written once now. Zeroed memory fresh from the system is not mapped
/// until touched, and a table's first touch of a page is a probe, a read, which maps the kernel's shared zero
/// page; the insert after it then faults again to get a page of its own and flushes the mapping from every
/// core's TLB (at 10M members those second faults and flushes were a fifth of the samples while identity_xref
/// was indexed, filled from two threads). A page written first faults once.
fn written_zeros(size: usize) -> Vec<u64> {
    let mut slots = vec![0u64; size];
    for slot in slots.iter_mut().step_by(4096 / std::mem::size_of::<u64>()) {
        // SAFETY: `slot` is a valid, aligned, exclusive reference. Volatile, so the write is not elided as one
        // of a zero over a zero.
        unsafe { std::ptr::write_volatile(slot, 0) };
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_written_in_advance_are_all_free() {
        for size in [0, 1, 511, 512, 513, 70_000] {
            let slots = written_zeros(size);
            assert_eq!(slots.len(), size);
            assert!(slots.iter().all(|&s| s == 0), "{size} slots");
        }
    }

    #[test]
    fn the_table_finds_what_was_inserted_inline_or_not_across_growth() {
        let mut table = TextKeyTable::default();
        let texts: Vec<String> = (0..5000)
            .map(|i| {
                if i % 3 == 0 {
                    format!("{i:0>30}")
                } else {
                    format!("R{i}")
                }
            })
            .collect();
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(
                table.get_or_insert(text_hash(t.as_bytes()), t, i as u32),
                (i as u32, true)
            );
        }
        assert_eq!(table.get_or_insert(text_hash(b"R1"), "R1", 99), (1, false));
        table.insert(text_hash(b"R2"), "R2", 7);
        for (i, t) in texts.iter().enumerate() {
            let expected = if i == 2 { 7 } else { i as u32 };
            assert_eq!(
                table.get(text_hash(t.as_bytes()), t.as_bytes()),
                Some(expected),
                "{t}"
            );
        }
        assert_eq!(table.get(text_hash(b"R5000"), b"R5000"), None);
        // Prefixes, a key one byte longer, and texts with the same bytes as a long key's index are other keys.
        for missing in ["R", "R12a", &format!("{:0>31}", 3), &format!("{:0>29}", 0)] {
            assert_eq!(
                table.get(text_hash(missing.as_bytes()), missing.as_bytes()),
                None,
                "{missing}"
            );
        }
        let unknown = "R5000".to_string();
        let probes: Vec<Probe> = texts
            .iter()
            .chain([&unknown])
            .map(|t| Probe {
                table: &table,
                hash: text_hash(t.as_bytes()),
                text: t.as_bytes(),
            })
            .collect();
        let mut all = vec![Some(99)];
        get_all(&probes, &mut all);
        let all = &all[1..];
        assert_eq!(all.len(), texts.len() + 1);
        for (i, found) in all.iter().enumerate().take(texts.len()) {
            assert_eq!(*found, Some(if i == 2 { 7 } else { i as u32 }));
        }
        assert_eq!(all[texts.len()], None, "an unknown key in a run of look-ups");
    }

    #[test]
    fn an_empty_table_finds_nothing_and_keys_at_the_inline_limit_round_trip() {
        let table = TextKeyTable::default();
        assert_eq!(table.get(text_hash(b"x"), b"x"), None);
        table.prefetch_slot(1);
        table.prefetch_entry(1);
        let mut table = TextKeyTable::default();
        let texts = ["", &"y".repeat(INLINE), &"y".repeat(INLINE + 1), "\u{e9}t\u{e9}"];
        for (i, t) in texts.iter().enumerate() {
            table.insert(text_hash(t.as_bytes()), t, i as u32);
        }
        for (i, t) in texts.iter().enumerate() {
            assert_eq!(
                table.get(text_hash(t.as_bytes()), t.as_bytes()),
                Some(i as u32),
                "{t:?}"
            );
        }
        assert!(!table.is_empty());
        assert_eq!(table.len(), texts.len());
        for v in table.values_mut_from(1) {
            *v += 10;
        }
        assert_eq!(
            table.get(text_hash(b""), b""),
            Some(0),
            "added before the first changed"
        );
        assert_eq!(table.get(text_hash(b"y"), b"y"), None);
        for (i, t) in texts.iter().enumerate().skip(1) {
            assert_eq!(
                table.get(text_hash(t.as_bytes()), t.as_bytes()),
                Some(i as u32 + 10)
            );
        }
    }
}
