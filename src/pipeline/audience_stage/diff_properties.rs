//! Property tests of the change sets: random previous states (some rows of members no longer known) against
//! random memberships, checked against set arithmetic on the keys. Removals are only ever rows of the previous
//! state, each once; upserts are exactly the new and changed rows and the rows whose latest send failed after
//! they were emitted (a failed row is retried); enter and exit events mirror them; and a second run over the
//! state the first one wrote emits nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use proptest::prelude::*;

use super::super::payload::PayloadValues;
use super::super::profiles::{profiles_of, Profiles};
use super::*;
use crate::audience::consent::{Basis, Channel};
use crate::audience::contact_points::NoContacts;
use crate::audience::ledger::{outbound_texts, Ledger, LedgerBuilder};

const AUDIENCES: [&str; 2] = ["recall", "wellness"];
const DESTINATIONS: [&str; 2] = ["texts", "emails"];
/// Members the run knows, by number.
const KNOWN: [&str; 6] = ["MBR-0", "MBR-1", "MBR-2", "MBR-3", "MBR-4", "MBR-5"];
/// Members of an earlier run that this run does not know (merged away by identity resolution, say).
const UNKNOWN: [&str; 2] = ["MBR-merged-a", "MBR-merged-b"];
/// This run's emit time.
const NOW: i64 = 1_000_000;

/// (audience, destination, member id) of a row.
type Key = (&'static str, &'static str, &'static str);

fn key(members: &'static [&'static str]) -> impl Strategy<Value = Key> {
    (
        prop::sample::select(AUDIENCES.to_vec()),
        prop::sample::select(DESTINATIONS.to_vec()),
        prop::sample::select(members.to_vec()),
    )
}

/// The previous state: key -> (payload version, emitted at); rows of known and unknown members.
fn previous_rows() -> impl Strategy<Value = BTreeMap<Key, (u8, i64)>> {
    let any_member = prop_oneof![4 => key(&KNOWN), 1 => key(&UNKNOWN)];
    prop::collection::btree_map(any_member, (0u8..3, 1i64..NOW), 0..20)
}

/// This run's memberships: key -> payload version.
fn current_rows() -> impl Strategy<Value = BTreeMap<Key, u8>> {
    prop::collection::btree_map(key(&KNOWN), 0u8..3, 0..20)
}

/// Outbound messages the outreach tools reported: (audience, member, sent at, failed), sent before this run.
fn reports() -> impl Strategy<Value = Vec<(&'static str, &'static str, i64, bool)>> {
    let report = (
        prop::sample::select(AUDIENCES.to_vec()),
        prop::sample::select(KNOWN.to_vec()),
        // Coarse times, so reports at the same time come up.
        (1i64..8).prop_map(|k| k * (NOW / 8)),
        any::<bool>(),
    );
    prop::collection::vec(report, 0..24)
}

/// The ledger of those reports (communications rows, all of known members).
fn ledger_of(reports: &[(&str, &str, i64, bool)], profiles: &Profiles) -> Ledger {
    let rows: Vec<(&str, &str, &str, i64)> = reports
        .iter()
        .map(|r| (r.0, if r.3 { "failed" } else { "delivered" }, "", r.2))
        .collect();
    let batch = outbound_texts(&rows);
    let members = profiles.numbers(reports.iter().map(|r| r.1));
    let mut ledger = LedgerBuilder::default();
    ledger
        .add_communications(&batch, &members, NOW)
        .expect("communications");
    ledger.finish(&NoContacts)
}

/// Whether the latest report of (audience, member) is a failure later than `since` (of reports at the same time,
/// a failure counts).
fn failed_since(reports: &[(&str, &str, i64, bool)], audience: &str, member: &str, since: i64) -> bool {
    let latest = reports
        .iter()
        .filter(|r| r.0 == audience && r.1 == member)
        .map(|r| (r.2, r.3))
        .max();
    latest.is_some_and(|(at, failed)| failed && at > since)
}

/// The row hash of a payload version.
fn hash_of(version: u8) -> Sha256Digest {
    Sha256Digest::of_parts(&[&format!("payload-{version}")])
}

/// audience_members as a run writes it: (key, row hash, emitted at).
fn state_batch(rows: &[(Key, Sha256Digest, i64)]) -> RecordBatch {
    let texts = |f: &dyn Fn(&(Key, Sha256Digest, i64)) -> String| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    RecordBatch::try_from_iter([
        ("audience", texts(&|r| r.0 .0.to_string())),
        ("destination", texts(&|r| r.0 .1.to_string())),
        ("member_id", texts(&|r| r.0 .2.to_string())),
        ("row_hash", texts(&|r| r.1.hex().key().to_string())),
        (
            "emitted_at",
            Arc::new(TimestampMicrosecondArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ])
    .expect("a state batch")
}

fn memberships<'p>(rows: &BTreeMap<Key, u8>, profiles: &'p Profiles) -> Memberships<'p> {
    rows.iter()
        .map(|(&(audience, destination, member_id), &version)| {
            let member = profiles.numbers(std::iter::once(member_id))[0].expect("a known member");
            Membership {
                audience,
                destination,
                member_id: profiles.member_id(member),
                member,
                decision: Decision::Send {
                    channel: Channel::Sms,
                    basis: Basis::PriorExpress,
                    window: None,
                    local_send_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date"),
                },
                payload: PayloadValues::default(),
                row_hash: hash_of(version),
            }
        })
        .collect()
}

/// (audience, destination, member id, op, existed) of every change, by destination.
fn changes_of<'s>(sets: &'s ChangeSets<'_>) -> Vec<(&'s str, &'s str, &'s str, Op, bool)> {
    sets.changes
        .iter()
        .flat_map(|(d, rows)| {
            rows.iter()
                .map(move |c| (c.audience, *d, c.member_id, c.op, c.existed))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn the_diff_is_set_arithmetic_on_keys_and_a_rerun_emits_nothing(
        previous in previous_rows(),
        current in current_rows(),
        (reports, shuffled) in reports().prop_flat_map(|r| (Just(r.clone()), Just(r).prop_shuffle())),
    ) {
        let profiles = profiles_of(&KNOWN);
        let state: Vec<(Key, Sha256Digest, i64)> =
            previous.iter().map(|(k, &(v, at))| (*k, hash_of(v), at)).collect();
        let before = PreviousState::from_batches(&[state_batch(&state)], &profiles).expect("a state");
        prop_assert_eq!(before.len, previous.len());
        let rows = memberships(&current, &profiles);
        let ledger = ledger_of(&reports, &profiles);
        let sets = change_sets(&rows, &before, &ledger, NOW);
        let changes = changes_of(&sets);
        // The same reports read in another order change nothing.
        let reread = ledger_of(&shuffled, &profiles);
        let again = change_sets(&rows, &before, &reread, NOW);
        prop_assert_eq!(changes_of(&again), changes.clone());
        prop_assert_eq!(&again.events, &sets.events);

        // Keys compared as owned texts: the changes borrow from this run's values, the expectations are static.
        let owned = |(a, d, m): (&str, &str, &str)| (a.to_string(), d.to_string(), m.to_string());
        let keys = |ks: &mut dyn Iterator<Item = &Key>| ks.map(|k| owned(*k)).collect::<BTreeSet<_>>();

        // Removals: exactly the previous rows that are gone, each once; never a row carelake did not send.
        let removed: Vec<_> = changes.iter().filter(|c| c.3 == Op::Delete).map(|c| owned((c.0, c.1, c.2))).collect();
        let gone = keys(&mut previous.keys().filter(|k| !current.contains_key(*k)));
        prop_assert_eq!(removed.len(), gone.len(), "each gone row removed once");
        prop_assert_eq!(removed.into_iter().collect::<BTreeSet<_>>(), gone.clone());
        prop_assert!(changes.iter().filter(|c| c.3 == Op::Delete).all(|c| c.4));

        // Upserts: the new rows, the rows whose payload changed and the rows whose send failed since they were
        // emitted, in membership order; an upsert of a row already sent is a change.
        let unchanged = |k: &Key, v: u8| {
            previous.get(k).is_some_and(|&(pv, at)| pv == v && !failed_since(&reports, k.0, k.2, at))
        };
        let upserted: Vec<_> = changes
            .iter()
            .filter(|c| c.3 == Op::Upsert)
            .map(|c| (owned((c.0, c.1, c.2)), c.4))
            .collect();
        let mut expected: Vec<_> = current
            .iter()
            .filter(|(k, v)| !unchanged(k, **v))
            .map(|(k, _)| (owned(*k), previous.contains_key(k)))
            .collect();
        // Changes are grouped by destination (in name order), memberships in order within each.
        expected.sort_by(|((_, a, _), _), ((_, b, _), _)| a.cmp(b));
        prop_assert_eq!(upserted, expected);

        // Enter for rows new to the state, exit for rows gone from it.
        let events = |kind: &str| -> BTreeSet<_> {
            sets.events.iter().filter(|e| e.3 == kind).map(|e| owned((e.0, e.1, e.2))).collect()
        };
        let new = keys(&mut current.keys().filter(|k| !previous.contains_key(*k)));
        prop_assert_eq!(sets.events.len(), new.len() + gone.len());
        prop_assert_eq!(events("enter"), new);
        prop_assert_eq!(events("exit"), gone);

        // A row kept as it was keeps its emit time; an upserted one is emitted now.
        let emitted: Vec<i64> = current
            .iter()
            .map(|(k, v)| match previous.get(k) {
                Some(&(_, at)) if unchanged(k, *v) => at,
                _ => NOW,
            })
            .collect();
        prop_assert_eq!(&sets.emitted_at, &emitted);

        // The state this run writes, diffed again at the same time: nothing to send, nothing to remove.
        // (The memberships were made from `current` in its order.)
        let written: Vec<(Key, Sha256Digest, i64)> = current
            .keys()
            .zip(rows.iter())
            .zip(&sets.emitted_at)
            .map(|((k, m), &at)| (*k, m.row_hash, at))
            .collect();
        let after = PreviousState::from_batches(&[state_batch(&written)], &profiles).expect("a state");
        let rerun = change_sets(&rows, &after, &ledger, NOW + 1);
        prop_assert!(rerun.changes.values().all(Vec::is_empty), "{:?}", changes_of(&rerun));
        prop_assert!(rerun.events.is_empty());
        prop_assert_eq!(&rerun.emitted_at, &sets.emitted_at);
    }
}
