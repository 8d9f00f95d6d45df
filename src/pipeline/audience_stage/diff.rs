//! Change sets: this run's memberships against the last written state (audience_members), per destination.
//!
//! A row is upserted when it is new, its payload hash changed, or its last send failed after it was last
//! emitted; a row of the previous state that is gone is deleted (only rows carelake sent are ever removed).
//! Enter and exit events follow the same comparison.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet};

use arrow::datatypes::TimestampMicrosecondType;

use crate::audience::ledger::Ledger;
use crate::audience::policy::Decision;
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
    pub(super) payload: String,
    pub(super) row_hash: String,
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
}

/// Per member of one (audience, destination): (row hash, emitted at).
type MemberRows = HashMap<String, (String, i64)>;

/// The last written state: audience -> destination -> member -> (row hash, emitted at).
#[derive(Debug, Default)]
pub(super) struct PreviousState {
    rows: HashMap<String, HashMap<String, MemberRows>>,
    /// Rows in the state.
    pub(super) len: usize,
}

impl PreviousState {
    /// Read audience_members from the output folder (empty when there is none yet).
    pub(super) async fn read(output: &Location) -> CoreResult<Self> {
        let mut state = PreviousState::default();
        let t = "audience_members";
        for b in read_table_in_parallel_if_present(&output.join(t), t, None)
            .await?
            .unwrap_or_default()
        {
            let (a, d, m, h) = (
                text_column(&b, t, "audience")?,
                text_column(&b, t, "destination")?,
                text_column(&b, t, "member_id")?,
                text_column(&b, t, "row_hash")?,
            );
            let emitted = primitive_column::<TimestampMicrosecondType>(&b, t, "emitted_at", "a timestamp")?;
            for i in 0..b.num_rows() {
                let members = state
                    .rows
                    .entry(a.value(i).to_string())
                    .or_default()
                    .entry(d.value(i).to_string())
                    .or_default();
                if members
                    .insert(m.value(i).to_string(), (h.value(i).to_string(), emitted.value(i)))
                    .is_none()
                {
                    state.len += 1;
                }
            }
        }
        Ok(state)
    }

    /// The previous row of (audience, destination, member), if any.
    pub(super) fn get(&self, audience: &str, destination: &str, member_id: &str) -> Option<&(String, i64)> {
        self.rows.get(audience)?.get(destination)?.get(member_id)
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
    memberships: &'a [Membership<'a>],
    previous: &'a PreviousState,
    ledger: &Ledger,
    now: i64,
) -> ChangeSets<'a> {
    let mut sets = ChangeSets {
        emitted_at: Vec::with_capacity(memberships.len()),
        ..ChangeSets::default()
    };
    for m in memberships {
        let before = previous.get(m.audience, m.destination, m.member_id);
        // New or changed rows, and rows whose send failed after they were last emitted (retried once per
        // failure report, so re-running the same as-of date emits nothing new).
        let unchanged = before
            .filter(|(hash, at)| hash == &m.row_hash && !ledger.failed_after(m.member, m.audience, *at));
        match unchanged {
            Some((_, at)) => sets.emitted_at.push(*at),
            None => {
                sets.emitted_at.push(now);
                sets.changes.entry(m.destination).or_default().push(Change {
                    audience: m.audience,
                    member_id: m.member_id,
                    op: Op::Upsert,
                    membership: Some(m),
                });
            }
        }
        if before.is_none() {
            sets.events
                .push((m.audience, m.destination, m.member_id, "enter"));
        }
    }
    let current: HashSet<(&str, &str, &str)> = memberships
        .iter()
        .map(|m| (m.audience, m.destination, m.member_id))
        .collect();
    let mut gone: Vec<(&str, &str, &str)> = previous
        .rows
        .iter()
        .flat_map(|(a, by_destination)| {
            by_destination.iter().flat_map(move |(d, members)| {
                members.keys().map(move |m| (a.as_str(), d.as_str(), m.as_str()))
            })
        })
        .filter(|k| !current.contains(k))
        .collect();
    gone.sort_unstable();
    for (a, d, m) in gone {
        // Only rows carelake sent before are removed.
        sets.changes.entry(d).or_default().push(Change {
            audience: a,
            member_id: m,
            op: Op::Delete,
            membership: None,
        });
        sets.events.push((a, d, m, "exit"));
    }
    sets
}

impl ChangeSets<'_> {
    /// Per (audience, destination): (adds, changes, removes), an upsert of a row already in the state being a
    /// change.
    pub(super) fn planned(&self, previous: &PreviousState) -> HashMap<(&str, &str), (i64, i64, i64)> {
        let mut planned: HashMap<(&str, &str), (i64, i64, i64)> = HashMap::default();
        for (&destination, rows) in &self.changes {
            for c in rows {
                let counts = planned.entry((c.audience, destination)).or_default();
                match c.op {
                    Op::Delete => counts.2 += 1,
                    Op::Upsert if previous.get(c.audience, destination, c.member_id).is_some() => {
                        counts.1 += 1
                    }
                    Op::Upsert => counts.0 += 1,
                }
            }
        }
        planned
    }
}
