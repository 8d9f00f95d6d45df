//! The consent ledger and outreach history of every member, built from conformed `consents` and
//! `communications` batches (Arrow in), with each row's member already resolved to its member number (the
//! caller's numbering: the audience stage numbers members once, so no look-up here hashes an id string).
//!
//! Consents apply in time order; an inbound reply whose keyword is a revocation per se revokes its channel; only
//! rows captured at or before the run's as-of time count, so an opt-out is honored by the next run. Outbound
//! messages that were queued, delivered or replied to count against frequency caps; the latest message of an
//! audience to a member tells whether its delivery failed (the row is sent again). One record of 16 bytes serves
//! both ([`SentMessage`]), its audience a number ([`Subject`]).
//!
//! A [`LedgerBuilder`] collects rows as they are read, split by member range ([`MemberPairs`]);
//! [`LedgerBuilder::finish`] groups them by member number into flat arrays per kind and range ([`ByMember`]).
//! Ten million members would otherwise mean ten million small vectors in hash tables that grow by rehashing: most
//! of the time of building them went to allocating and zeroing memory, and every look-up was a probe into a
//! table far larger than the caches.

use foldhash::HashMap;
use rayon::prelude::*;

use arrow::array::RecordBatch;
use arrow::datatypes::TimestampMicrosecondType;
use chrono::{DateTime, Utc};

use super::caps::{SentMessage, Subject};
use super::consent::{is_revocation, Basis, Channel, ConsentEvent, ConsentScope, MemberConsents, Purpose};
use crate::error::{CoreError, CoreResult};
use crate::identity::normalize::E164;
use crate::model::{optional_text_column, text_column, text_value};

/// Member numbers per member range, as a power of two: a range's counts and slots stay in cache while its items
/// are placed.
const PARTITION_BITS: u32 = 14;

/// (member, item) pairs in the order they are added, split by member range as they come: rows arrive in table
/// order, their members scattered over millions of numbers, and a push is a sequential write to one of a few
/// hundred growing lists. No list of every pair is ever held besides these.
#[derive(Debug)]
pub struct MemberPairs<T> {
    ranges: Vec<Vec<(u32, T)>>,
}

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
        self.ranges[range].push((member, item));
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
            .map(|(r, pairs)| {
                let first = (r as u32) << PARTITION_BITS;
                let width = pairs
                    .iter()
                    .map(|(m, _)| (m - first) as usize + 1)
                    .max()
                    .unwrap_or(0);
                let mut counts = vec![0u32; width];
                for (m, _) in &pairs {
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
                let mut slots: Vec<Option<U>> = Vec::with_capacity(pairs.len());
                slots.resize_with(pairs.len(), || None);
                for (m, item) in pairs {
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

/// The phone and email a member is reached at now (member_profile's), against which an opt-in's contact point
/// is checked (see [`super::consent`]).
pub trait CurrentContacts: Sync {
    /// The member's phone, E.164.
    fn phone(&self, member: u32) -> Option<&str>;
    /// The member's email, lower case.
    fn email(&self, member: u32) -> Option<&str>;
}

/// Members with no phone or email on record (for ledgers whose consents name no contact point).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoContacts;

impl CurrentContacts for NoContacts {
    fn phone(&self, _: u32) -> Option<&str> {
        None
    }
    fn email(&self, _: u32) -> Option<&str> {
        None
    }
}

/// The contact point a consent names, as the number it is compared by on its channel (so that 18M consents
/// need not keep their text until the members' current contact points are looked up in member order):
/// [`NOT_COMPARED`] for none (no contact point, an opt-out, mail or ads), a phone's E.164 digits for texts and
/// calls, a 64-bit hash of the trimmed lower-case address for email, [`NAMES_NOTHING`] for text that is no phone.
type ContactKey = u64;

/// Nothing to compare: the consent covers the channel.
const NOT_COMPARED: ContactKey = 0;
/// Text that is not a phone number, named for texts or calls: it is not the member's phone.
const NAMES_NOTHING: ContactKey = u64::MAX;

/// The key of a contact point named for `channel` (see [`ContactKey`]).
fn contact_key(channel: Channel, named: &str) -> ContactKey {
    let named = named.trim();
    if named.is_empty() {
        return NOT_COMPARED;
    }
    match channel {
        Channel::Sms | Channel::Voice => E164::parse(named).map_or(NAMES_NOTHING, phone_key),
        Channel::Email => email_key(named),
        Channel::Mail | Channel::Ads => NOT_COMPARED,
    }
}

/// A phone's key: its digits and their count (at most 15 digits, so exact: two keys are equal only for one
/// number, and never 0 or [`NAMES_NOTHING`]).
fn phone_key(phone: E164) -> ContactKey {
    digits_key(phone.digits())
}

/// The key of up to 15 ASCII digits.
fn digits_key(digits: &[u8]) -> ContactKey {
    let value = digits.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    value * 16 + digits.len() as u64
}

/// The key of the member's phone as member_profile holds it (E.164 already: read, not parsed again).
fn profile_phone_key(phone: &str) -> Option<ContactKey> {
    match phone.as_bytes() {
        [b'+', digits @ ..] if (8..=15).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) => {
            Some(digits_key(digits))
        }
        _ => E164::parse(phone).map(phone_key),
    }
}

/// An email's key: FNV-1a over its trimmed, lower-case bytes (two addresses share a key about once in 2^64
/// comparisons), never 0 or [`NAMES_NOTHING`].
fn email_key(email: &str) -> ContactKey {
    let hash = email.trim().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x100_0000_01b3)
    });
    hash.clamp(1, NAMES_NOTHING - 1)
}

/// Whether a consent whose contact point has key `key` covers `channel` to `member`: nothing was named, or the
/// channel's current contact point of the member (phone for texts and calls, email for email) is the one named.
fn names_current_contact(
    channel: Channel,
    key: ContactKey,
    member: u32,
    contacts: &dyn CurrentContacts,
) -> bool {
    if key == NOT_COMPARED {
        return true;
    }
    let current = match channel {
        Channel::Sms | Channel::Voice => contacts.phone(member).and_then(profile_phone_key),
        Channel::Email => contacts.email(member).map(email_key),
        Channel::Mail | Channel::Ads => return true,
    };
    current == Some(key)
}

/// Rows of the ledger as they are read, before they are grouped by member.
#[derive(Debug, Default)]
pub struct LedgerBuilder {
    /// Consents with the key of the contact point they name, checked in [`LedgerBuilder::finish`].
    consents: MemberPairs<(ConsentEvent, ContactKey)>,
    do_not_contact: HashMap<u32, i64>,
    revocations: MemberPairs<(Channel, i64)>,
    /// Outbound messages: the ones that count against caps, and every one of an audience (its delivery status
    /// decides a retry).
    history: MemberPairs<SentMessage>,
    /// The subject number of each audience name of communications.
    audiences: HashMap<String, Subject>,
}

/// Per member: consents and the messages already sent.
#[derive(Debug, Default)]
pub struct Ledger {
    consents: ByMember<ConsentEvent>,
    /// Latest do-not-contact request per member (an opt-out of every channel for every purpose).
    do_not_contact: HashMap<u32, i64>,
    revocations: ByMember<(Channel, i64)>,
    history: ByMember<SentMessage>,
    audiences: HashMap<String, Subject>,
}

fn timestamps<'a>(
    batch: &'a RecordBatch,
    table: &str,
    column: &str,
) -> CoreResult<&'a arrow::array::TimestampMicrosecondArray> {
    crate::model::primitive_column::<TimestampMicrosecondType>(batch, table, column, "a timestamp")
}

/// The consent events of one conformed consents batch, by member, ready to be added to a ledger: read apart
/// from the ledger so that batches are read on every core (a row's contact point is parsed into its key).
#[derive(Debug, Default)]
pub struct ConsentRows {
    events: Vec<(u32, (ConsentEvent, ContactKey))>,
    /// (member, time) of each do-not-contact request.
    do_not_contact: Vec<(u32, i64)>,
}

impl ConsentRows {
    /// Read a conformed consents batch; `member` gives each row's member number (None: unknown, left out for
    /// the caller to quarantine). Rows captured after `as_of` are left for a later run.
    pub fn read(batch: &RecordBatch, member: &[Option<u32>], as_of: i64) -> CoreResult<ConsentRows> {
        let t = "consents";
        let (channel, purpose, status) = (
            text_column(batch, t, "channel")?,
            text_column(batch, t, "purpose")?,
            text_column(batch, t, "status")?,
        );
        let (basis, contact) = (
            optional_text_column(batch, "basis"),
            optional_text_column(batch, "contact_point"),
        );
        let at = timestamps(batch, t, "captured_at")?;
        let mut out = ConsentRows {
            events: Vec::with_capacity(batch.num_rows()),
            do_not_contact: Vec::new(),
        };
        for (i, &m) in member.iter().enumerate().take(batch.num_rows()) {
            let Some(m) = m else {
                continue;
            };
            if at.value(i) > as_of {
                continue; // captured after the as-of time: a later run honors it
            }
            let one;
            let channels: &[Channel] = match channel.value(i) {
                "all" => &Channel::ALL,
                c => {
                    one = [Channel::parse(c).ok_or_else(|| {
                        CoreError::Internal("a conformed consent row has an unknown channel".into())
                    })?];
                    &one
                }
            };
            let Some(b) = Basis::parse(text_value(basis, i)) else {
                return Err(CoreError::Internal(
                    "a conformed consent row has an unknown basis".into(),
                ));
            };
            let scope = match purpose.value(i) {
                "all" => ConsentScope::All,
                p => ConsentScope::Purpose(
                    Purpose::parse(p)
                        .ok_or_else(|| CoreError::Internal("unknown conformed purpose".into()))?,
                ),
            };
            let opt_in = status.value(i) == "opt_in";
            if !opt_in && channels.len() > 1 && scope == ConsentScope::All {
                out.do_not_contact.push((m, at.value(i)));
            }
            // Only an opt-in's contact point matters (an opt-out counts whatever it names).
            let named = text_value(contact, i).filter(|_| opt_in);
            for &channel in channels {
                let event = ConsentEvent {
                    channel,
                    scope,
                    opt_in,
                    basis: b,
                    at: at.value(i),
                    other_contact: false,
                };
                out.events.push((
                    m,
                    (event, named.map_or(NOT_COMPARED, |n| contact_key(channel, n))),
                ));
            }
        }
        Ok(out)
    }
}

impl LedgerBuilder {
    /// Add a conformed consents batch (see [`ConsentRows::read`]).
    pub fn add_consents(
        &mut self,
        batch: &RecordBatch,
        member: &[Option<u32>],
        as_of: i64,
    ) -> CoreResult<()> {
        self.add_consent_rows(ConsentRows::read(batch, member, as_of)?);
        Ok(())
    }

    /// Add the consent events read from a batch, in the order of the batches' rows.
    pub fn add_consent_rows(&mut self, rows: ConsentRows) {
        for (m, at) in rows.do_not_contact {
            let latest = self.do_not_contact.entry(m).or_insert(i64::MIN);
            *latest = (*latest).max(at);
        }
        for (m, event) in rows.events {
            self.consents.push(m, event);
        }
    }

    /// Add a conformed communications batch (revocations from inbound replies, history from outbound messages).
    pub fn add_communications(
        &mut self,
        batch: &RecordBatch,
        member: &[Option<u32>],
        as_of: i64,
    ) -> CoreResult<()> {
        let t = "communications";
        let (channel, direction, status) = (
            text_column(batch, t, "channel")?,
            text_column(batch, t, "direction")?,
            text_column(batch, t, "status")?,
        );
        let (keyword, audience) = (
            optional_text_column(batch, "body_keyword"),
            optional_text_column(batch, "audience"),
        );
        let at = timestamps(batch, t, "sent_at")?;
        for (i, &m) in member.iter().enumerate().take(batch.num_rows()) {
            let Some(m) = m else {
                continue; // no member: the caller quarantines the row
            };
            if at.value(i) > as_of {
                continue;
            }
            let Some(channel) = Channel::parse(channel.value(i)) else {
                continue;
            };
            if direction.value(i) == "inbound" {
                let kw = text_value(keyword, i);
                if kw.is_some_and(is_revocation) || status.value(i) == "opted_out" {
                    self.revocations.push(m, (channel, at.value(i)));
                }
                continue;
            }
            let subject = text_value(audience, i).map(|a| self.subject(a)).transpose()?;
            let Some(sent) = DateTime::<Utc>::from_timestamp_micros(at.value(i)) else {
                continue; // no date and time: outside every cap window and no later than any delivery
            };
            let counted = direction.value(i) == "outbound"
                && matches!(status.value(i), "queued" | "delivered" | "replied");
            if counted || subject.is_some() {
                let mut message = SentMessage::new(sent, channel, subject);
                (message.counted, message.failed) = (counted, status.value(i) == "failed");
                self.history.push(m, message);
            }
        }
        Ok(())
    }

    /// The subject number of an audience of communications.
    fn subject(&mut self, name: &str) -> CoreResult<Subject> {
        if let Some(subject) = self.audiences.get(name) {
            return Ok(*subject);
        }
        let subject = Subject::nth(self.audiences.len()).ok_or_else(|| {
            CoreError::Internal("communications name more audiences than a ledger can number".into())
        })?;
        self.audiences.insert(name.to_string(), subject);
        Ok(subject)
    }

    /// Group everything added by member, and check each opt-in's contact point against the member's current
    /// phone or email in `contacts` (member by member: their profiles are looked up in order, not at random).
    pub fn finish(self, contacts: &dyn CurrentContacts) -> Ledger {
        // The kinds are grouped at once: consents (the most rows) on one core, the others on the other.
        let (consents, (history, revocations)) = rayon::join(
            || {
                ByMember::group_into(self.consents, |m, (event, key)| ConsentEvent {
                    other_contact: event.opt_in && !names_current_contact(event.channel, key, m, contacts),
                    ..event
                })
            },
            || {
                rayon::join(
                    || ByMember::group(self.history),
                    || ByMember::group(self.revocations),
                )
            },
        );
        Ledger {
            consents,
            do_not_contact: self.do_not_contact,
            revocations,
            history,
            audiences: self.audiences,
        }
    }
}

impl Ledger {
    /// The consents of a member, with revocations applied in time order.
    pub fn consents_of(&self, member: u32) -> MemberConsents {
        let mut events = self.consents.of(member).to_vec();
        for (channel, at) in self.revocations.of(member) {
            events.push(ConsentEvent {
                channel: *channel,
                scope: ConsentScope::All,
                opt_in: false,
                basis: Basis::None,
                at: *at,
                other_contact: false,
            });
        }
        MemberConsents::from_events(&mut events)
    }

    /// Whether the member's latest consent record is a do-not-contact request (every channel, every purpose);
    /// any later opt-in lifts it, for what that opt-in covers (one for another contact point covers nothing).
    pub fn do_not_contact(&self, member: u32) -> bool {
        self.do_not_contact.get(&member).is_some_and(|&since| {
            !self
                .consents
                .of(member)
                .iter()
                .any(|e| e.opt_in && !e.other_contact && e.at > since)
        })
    }

    /// Whether the latest outbound message of an audience to a member failed after `since` (microseconds): the
    /// row is sent again.
    pub fn failed_after(&self, member: u32, audience: &str, since: i64) -> bool {
        let Some(subject) = self.subject(audience) else {
            return false;
        };
        // The latest message of the audience; of several at the same time a failure, whatever order the
        // reports were read in (the row is sent again; its idempotency key lets the tool drop a duplicate).
        let latest = self
            .history
            .of(member)
            .iter()
            .filter(|d| d.subject == Some(subject))
            .max_by_key(|d| (d.at_micros(), d.failed));
        latest.is_some_and(|d| d.failed && d.at_micros() > since)
    }

    /// The outbound messages already sent, or tried, to a member (see [`SentMessage::counted`]).
    pub fn history_of(&self, member: u32) -> &[SentMessage] {
        self.history.of(member)
    }

    /// The number the ledger gives messages of an audience (None: communications name no message of it).
    pub fn subject(&self, audience: &str) -> Option<Subject> {
        self.audiences.get(audience).copied()
    }
}

/// A communications batch of outbound texts, a row per (audience, status, body keyword, sent at), for tests.
#[cfg(test)]
pub(crate) fn outbound_texts(rows: &[(&str, &str, &str, i64)]) -> RecordBatch {
    use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
    use std::sync::Arc;
    let text = |k: usize| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| match k {
            0 => r.0,
            1 => r.1,
            _ => r.2,
        })))
    };
    RecordBatch::try_from_iter([
        (
            "channel",
            Arc::new(StringArray::from(vec!["sms"; rows.len()])) as ArrayRef,
        ),
        (
            "direction",
            Arc::new(StringArray::from(vec!["outbound"; rows.len()])) as ArrayRef,
        ),
        ("status", text(1)),
        ("audience", text(0)),
        ("body_keyword", text(2)),
        (
            "sent_at",
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|r| r.3),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
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

    #[test]
    fn the_latest_delivery_of_an_audience_decides_a_retry_and_a_failure_wins_a_tie() {
        let batch = outbound_texts(&[
            ("recall", "failed", "", 10),
            ("recall", "delivered", "", 20),
            ("reminder", "delivered", "", 30),
            ("reminder", "failed", "", 30),
            ("recall", "failed", "", 5),
            // The same tie read the other way round.
            ("reminder", "failed", "", 40),
            ("reminder", "delivered", "", 40),
        ]);
        let mut builder = LedgerBuilder::default();
        builder
            .add_communications(
                &batch,
                &[Some(7), Some(7), Some(7), Some(7), Some(2), Some(3), Some(3)],
                100,
            )
            .unwrap();
        let ledger = builder.finish(&NoContacts);
        assert!(!ledger.failed_after(7, "recall", 0), "delivered after it failed");
        assert!(
            ledger.failed_after(7, "reminder", 25),
            "a tie: the failure counts"
        );
        assert!(
            ledger.failed_after(3, "reminder", 35),
            "a tie read the other way: the failure still counts"
        );
        assert!(
            !ledger.failed_after(7, "reminder", 30),
            "not after the given time"
        );
        assert!(ledger.failed_after(2, "recall", 0));
        assert!(!ledger.failed_after(2, "reminder", 0));
        assert!(!ledger.failed_after(7, "unknown", 0));
        // Sent messages count against caps; failed ones do not. Members share the audience's number.
        let counted: Vec<_> = ledger
            .history_of(7)
            .iter()
            .filter(|m| m.counted)
            .map(|m| m.subject)
            .collect();
        assert_eq!(counted, [ledger.subject("recall"), ledger.subject("reminder")]);
        assert!(ledger.subject("recall").is_some() && ledger.subject("recall") != ledger.subject("reminder"));
        assert!(ledger.history_of(2).iter().all(|m| !m.counted && m.failed));
    }

    /// Member 0 has a phone and an email; member 1 has neither.
    struct Contacts;

    impl CurrentContacts for Contacts {
        fn phone(&self, member: u32) -> Option<&str> {
            (member == 0).then_some("+15552345678")
        }
        fn email(&self, member: u32) -> Option<&str> {
            (member == 0).then_some("pat@example.org")
        }
    }

    /// A consents batch of (channel, purpose, status, contact point, captured at) rows with a prior express basis.
    fn consents_batch(rows: &[(&str, &str, &str, Option<&str>, i64)]) -> RecordBatch {
        use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
        use std::sync::Arc;
        let text = |values: Vec<Option<&str>>| Arc::new(StringArray::from(values)) as ArrayRef;
        RecordBatch::try_from_iter([
            ("channel", text(rows.iter().map(|r| Some(r.0)).collect())),
            ("purpose", text(rows.iter().map(|r| Some(r.1)).collect())),
            ("status", text(rows.iter().map(|r| Some(r.2)).collect())),
            ("basis", text(vec![Some("prior_express"); rows.len()])),
            ("contact_point", text(rows.iter().map(|r| r.3).collect())),
            (
                "captured_at",
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|r| r.4),
                )) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn an_opt_in_counts_for_the_current_phone_or_email_only_and_an_opt_out_for_any() {
        use super::super::consent::ConsentDecision;
        // The current number in another format, an old number, the current email in another case and padded,
        // an old email, and a voice opt-in with no contact point.
        let batch = consents_batch(&[
            ("sms", "care_gaps", "opt_in", Some("(555) 234-5678"), 10),
            ("sms", "care_reminders", "opt_in", Some("555-999-0000"), 10),
            ("email", "care_gaps", "opt_in", Some(" Pat@Example.ORG "), 10),
            (
                "email",
                "care_reminders",
                "opt_in",
                Some("pat@old.example.org"),
                10,
            ),
            ("voice", "all", "opt_in", None, 10),
            ("all", "all", "opt_in", Some("+1 555 234 5678"), 10),
            ("sms", "care_gaps", "opt_in", Some("5552345678"), 10),
        ]);
        let members = [Some(0), Some(0), Some(0), Some(0), Some(0), Some(1), Some(1)];
        let mut builder = LedgerBuilder::default();
        builder.add_consents(&batch, &members, 100).unwrap();
        let ledger = builder.finish(&Contacts);
        let c = ledger.consents_of(0);
        let allowed = ConsentDecision::Allowed(Basis::PriorExpress);
        assert_eq!(c.decide(Channel::Sms, Purpose::CareGaps), allowed);
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareReminders),
            ConsentDecision::OtherContactPoint
        );
        assert_eq!(c.decide(Channel::Email, Purpose::CareGaps), allowed);
        assert_eq!(
            c.decide(Channel::Email, Purpose::CareReminders),
            ConsentDecision::OtherContactPoint
        );
        assert_eq!(c.decide(Channel::Voice, Purpose::CareGaps), allowed);
        // A member with no phone or email: opt-ins naming one cover nothing that reaches by phone or email;
        // mail and ads are consented to as channels.
        let c = ledger.consents_of(1);
        for channel in [Channel::Sms, Channel::Voice, Channel::Email] {
            assert_eq!(
                c.decide(channel, Purpose::CareGaps),
                ConsentDecision::OtherContactPoint
            );
        }
        assert_eq!(
            c.decide(Channel::Mail, Purpose::CareGaps),
            ConsentDecision::Allowed(Basis::PriorExpress)
        );

        // An opt-out naming an old number still stops texts to the current one, and a do-not-contact request is
        // not lifted by a later opt-in for another number.
        let batch = consents_batch(&[
            ("sms", "care_gaps", "opt_in", Some("+15552345678"), 10),
            ("sms", "all", "opt_out", Some("555-999-0000"), 20),
            ("all", "all", "opt_out", None, 30),
            ("sms", "care_gaps", "opt_in", Some("555-999-0000"), 40),
        ]);
        let mut builder = LedgerBuilder::default();
        builder.add_consents(&batch, &[Some(0); 4], 100).unwrap();
        let ledger = builder.finish(&Contacts);
        assert_eq!(
            ledger.consents_of(0).decide(Channel::Sms, Purpose::CareGaps),
            ConsentDecision::OptedOut(30)
        );
        assert!(ledger.do_not_contact(0));
    }
}
