//! Items grouped by member number, for millions of members: [`MemberPairs`] collects (member, item) pairs as
//! rows are read, split by member range; [`ByMember`] holds them grouped, one flat array per range. The consent
//! ledger keeps consents, replies and sent messages this way (see [`crate::audience::ledger`]), and the care-gap
//! engine each member's matched events and enrollment spans (see [`crate::caregaps::member_data`]).

use rayon::prelude::*;

/// Member numbers per member range, as a power of two: a range's counts and slots stay in cache while its items
/// are placed.
const PARTITION_BITS: u32 = 14;

/// (member, item) pairs in the order they are added, split by member range as they come: rows arrive in table
/// order, their members scattered over millions of numbers, and a push is a sequential write to one of a few
/// hundred growing lists. No list of every pair is ever held besides these.
///
/// A range's list is a list of chunks, each new one as large as the range so far (up to `LARGEST_CHUNK`
/// pairs), so it grows without ever being copied: as one vector each, the 28M consents and messages at 10M
/// members were copied at every doubling, a tenth of the ledger's time.
#[derive(Debug)]
pub struct MemberPairs<T> {
    ranges: Vec<Vec<Vec<(u32, T)>>>,
}

/// The pairs of the first chunk of a member range.
const FIRST_CHUNK: usize = 256;

/// The most pairs a chunk of a member range holds: a chunk stays some 100-200 KB, memory the allocator hands out
/// again once the chunks are grouped (measured at 10M members: with chunks of 16,384 pairs, the larger blocks
/// went back to the system, and the policy phase after the ledger took 0.6-0.9 s longer on fresh pages).
const LARGEST_CHUNK: usize = 4_096;

impl<T> Default for MemberPairs<T> {
    fn default() -> Self {
        MemberPairs { ranges: Vec::new() }
    }
}

impl<T> MemberPairs<T> {
    /// Add an item of member `member`.
    pub fn push(&mut self, member: u32, item: T) {
        let range = (member >> PARTITION_BITS) as usize;
        if range >= self.ranges.len() {
            self.ranges.resize_with(range + 1, Vec::new);
        }
        let chunks = &mut self.ranges[range];
        match chunks.last_mut() {
            Some(chunk) if chunk.len() < chunk.capacity() => chunk.push((member, item)),
            _ => {
                let so_far: usize = chunks.iter().map(Vec::len).sum();
                let mut chunk = Vec::with_capacity(so_far.clamp(FIRST_CHUNK, LARGEST_CHUNK));
                chunk.push((member, item));
                chunks.push(chunk);
            }
        }
    }
}

impl<T> FromIterator<(u32, T)> for MemberPairs<T> {
    fn from_iter<I: IntoIterator<Item = (u32, T)>>(pairs: I) -> Self {
        let mut out = MemberPairs::default();
        for (member, item) in pairs {
            out.push(member, item);
        }
        out
    }
}

/// Items grouped by member number, each member's in the order they were added, one flat array per member range:
/// member `m`'s items are `items[starts[i]..starts[i + 1]]` of its range, `i` its place in the range.
#[derive(Debug)]
pub struct ByMember<T> {
    ranges: Vec<MemberRange<T>>,
}

/// The grouped items of one member range (see [`ByMember`]).
#[derive(Debug)]
struct MemberRange<T> {
    starts: Vec<u32>,
    items: Vec<T>,
}

impl<T> Default for ByMember<T> {
    fn default() -> Self {
        ByMember { ranges: Vec::new() }
    }
}

impl<T: Send> ByMember<T> {
    /// Group pairs by member, keeping their order within a member: each member range is counting-sorted on its
    /// own, in cache and in parallel, and its list of pairs is dropped once its items are placed. The ranges stay
    /// apart (no copy into one array): at 10M members the consents alone are 18M items.
    pub fn group(pairs: MemberPairs<T>) -> Self {
        Self::group_into(pairs, |_, item| item)
    }

    /// Group pairs by member as [`ByMember::group`] does, each item turned into another by `f(member, item)` as
    /// it is placed: member by member in each range, so that what `f` looks up is read in member order.
    pub fn group_into<U: Send>(pairs: MemberPairs<U>, f: impl Fn(u32, U) -> T + Sync) -> Self {
        let ranges = pairs
            .ranges
            .into_par_iter()
            .enumerate()
            .map(|(r, chunks)| {
                let first = (r as u32) << PARTITION_BITS;
                let pairs = || chunks.iter().flatten();
                let width = pairs().map(|(m, _)| (m - first) as usize + 1).max().unwrap_or(0);
                let len = chunks.iter().map(Vec::len).sum();
                let mut counts = vec![0u32; width];
                for (m, _) in pairs() {
                    counts[(m - first) as usize] += 1;
                }
                let mut starts = Vec::with_capacity(width + 1);
                let mut at = 0;
                starts.push(0);
                for &c in &counts {
                    at += c;
                    starts.push(at);
                }
                // The next free slot of each member, counted from its start.
                let mut next = counts;
                next.copy_from_slice(&starts[..width]);
                let mut slots: Vec<Option<U>> = Vec::with_capacity(len);
                slots.resize_with(len, || None);
                for (m, item) in chunks.into_iter().flatten() {
                    let slot = &mut next[(m - first) as usize];
                    slots[*slot as usize] = Some(item);
                    *slot += 1;
                }
                // Every slot was filled once; each member's are turned over in order.
                let mut items = Vec::with_capacity(slots.len());
                let mut slots = slots.into_iter();
                for (i, bounds) in starts.windows(2).enumerate() {
                    let m = first + i as u32;
                    let placed = slots.by_ref().take((bounds[1] - bounds[0]) as usize).flatten();
                    items.extend(placed.map(|item| f(m, item)));
                }
                MemberRange { starts, items }
            })
            .collect();
        ByMember { ranges }
    }
}

impl<T: Send> ByMember<T> {
    /// Sort each member's items by `key` (members' items stay apart; ranges are sorted in parallel).
    pub fn sort_each_by_key<K: Ord>(&mut self, key: impl Fn(&T) -> K + Sync) {
        self.sort_each_by(|a, b| key(a).cmp(&key(b)));
    }

    /// Sort each member's items by `order` (members' items stay apart; ranges are sorted in parallel): a few
    /// items per member sorted in cache, instead of every item sorted at once by member first.
    pub fn sort_each_by(&mut self, order: impl Fn(&T, &T) -> std::cmp::Ordering + Sync) {
        self.ranges.par_iter_mut().for_each(|range| {
            for bounds in range.starts.windows(2) {
                range.items[bounds[0] as usize..bounds[1] as usize].sort_unstable_by(&order);
            }
        });
    }

    /// Number of items of every member.
    pub fn len(&self) -> usize {
        self.ranges.iter().map(|r| r.items.len()).sum()
    }

    /// Whether no member has an item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> ByMember<T> {
    /// The items of member `m` (empty when it has none).
    pub fn of(&self, m: u32) -> &[T] {
        let Some(range) = self.ranges.get((m >> PARTITION_BITS) as usize) else {
            return &[];
        };
        let i = (m & ((1 << PARTITION_BITS) - 1)) as usize;
        match (range.starts.get(i), range.starts.get(i + 1)) {
            (Some(&from), Some(&to)) => &range.items[from as usize..to as usize],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_grouped_by_member_in_the_order_they_came() {
        let pairs = [(3, 'a'), (0, 'b'), (3, 'c'), (1, 'd'), (0, 'e'), (3, 'f')];
        let grouped = ByMember::group(pairs.into_iter().collect());
        assert_eq!(grouped.of(0), ['b', 'e']);
        assert_eq!(grouped.of(1), ['d']);
        assert_eq!(grouped.of(2), [] as [char; 0]);
        assert_eq!(grouped.of(3), ['a', 'c', 'f']);
        assert_eq!(grouped.of(4), [] as [char; 0], "past the last member");
        assert_eq!(ByMember::<u8>::group(MemberPairs::default()).of(0), [] as [u8; 0]);
    }

    #[test]
    fn each_members_items_are_sorted_apart_from_the_others() {
        let span = 1u32 << PARTITION_BITS;
        let pairs = [
            (span + 2, 9),
            (0, 5),
            (span + 2, 1),
            (0, 3),
            (1, 7),
            (0, 4),
            (span + 2, 8),
        ];
        let mut grouped = ByMember::group(pairs.into_iter().collect());
        grouped.sort_each_by_key(|&i| i);
        assert_eq!(grouped.of(0), [3, 4, 5]);
        assert_eq!(grouped.of(1), [7]);
        assert_eq!(grouped.of(span + 2), [1, 8, 9]);
        grouped.sort_each_by_key(|&i| std::cmp::Reverse(i));
        assert_eq!(grouped.of(0), [5, 4, 3]);
        assert_eq!(grouped.of(span + 2), [9, 8, 1]);
        // By an order of two keys: odd before even, then ascending.
        grouped.sort_each_by(|a, b| (a % 2 == 0, a).cmp(&(b % 2 == 0, b)));
        assert_eq!(grouped.of(0), [3, 5, 4]);
        assert_eq!(grouped.of(span + 2), [1, 9, 8]);
        assert_eq!((grouped.len(), grouped.is_empty()), (7, false));
        assert!(ByMember::<u8>::group(MemberPairs::default()).is_empty());
    }

    #[test]
    fn a_range_of_many_chunks_keeps_every_item_in_order() {
        // More pairs in one member range than its largest chunk holds, so they span chunks of every size.
        let pairs: Vec<(u32, usize)> = (0..3 * LARGEST_CHUNK + 5).map(|i| ((i % 7) as u32, i)).collect();
        let collected: MemberPairs<usize> = pairs.iter().copied().collect();
        assert!(collected.ranges[0].len() > 3, "several chunks");
        let grouped = ByMember::group(collected);
        for m in 0..7 {
            let expected: Vec<usize> = pairs.iter().filter(|(p, _)| *p == m).map(|(_, i)| *i).collect();
            assert_eq!(grouped.of(m), expected.as_slice(), "member {m}");
        }
    }

    #[test]
    fn members_in_different_partitions_are_grouped_alike() {
        // Members spread over several partitions, both ends of a partition among them, in a scattered order.
        let span = 1u32 << PARTITION_BITS;
        let members = [0, 1, span - 1, span, span + 7, 3 * span - 1, 3 * span + 2];
        let pairs: Vec<(u32, usize)> = (0..200)
            .map(|i| (members[(i * 5 + i / 7) % members.len()], i))
            .collect();
        let grouped = ByMember::group(pairs.iter().copied().collect());
        for m in 0..=3 * span + 3 {
            let expected: Vec<usize> = pairs.iter().filter(|(p, _)| *p == m).map(|(_, i)| *i).collect();
            assert_eq!(grouped.of(m), expected.as_slice(), "member {m}");
        }
        assert!(grouped.of(3 * span + 3).is_empty());
        // Turned into other items as they are placed, each item is given its own member, in the same order.
        let mapped = ByMember::group_into(pairs.iter().copied().collect(), |m, i| (m, i));
        for m in 0..=3 * span + 3 {
            let expected: Vec<(u32, usize)> = pairs
                .iter()
                .filter(|(p, _)| *p == m)
                .map(|&(p, i)| (p, i))
                .collect();
            assert_eq!(mapped.of(m), expected.as_slice(), "member {m}");
        }
    }
}
