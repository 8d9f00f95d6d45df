//! The policy phase of the audience stage: for every member each audience selected, exclusions and priority
//! across audiences, then the per-member policy decision; a send becomes one membership per destination that
//! takes the chosen channel, with its minimum-necessary payload and the payload's hash.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use super::diff::{Membership, Memberships};
use super::minimum_size::{hold_back_small, BELOW_MINIMUM_RULE};
use super::payload::PayloadFields;
use super::profiles::Profiles;
use super::selection::{MemberSet, SelectedRow, SelectedRows};
use super::suppressions::{Reason, Suppressions};
use super::AudienceSummary;
use crate::audience::definition::{Audience, Destination};
use crate::audience::ledger::Ledger;
use crate::audience::policy::{decide, Decision, MemberContext};
use crate::audience::rules::OutreachRules;
use crate::digest::Sha256Digest;
use crate::error::CoreResult;

/// What the policy phase decided.
#[derive(Debug, Default)]
pub(super) struct Decided<'a> {
    pub(super) summaries: Vec<AudienceSummary>,
    pub(super) memberships: Memberships<'a>,
    pub(super) suppressions: Suppressions,
}

/// Everything the decisions read (the memberships borrow names and ids for `'a`; the ledger and the rules are
/// only read while deciding).
pub(super) struct PolicyInputs<'a, 'r> {
    pub(super) audiences: &'a [Audience],
    pub(super) destinations: &'a [Destination],
    pub(super) profiles: &'a Profiles,
    pub(super) ledger: &'r Ledger,
    pub(super) rules: &'r OutreachRules,
    pub(super) now: DateTime<Utc>,
}

/// Selected rows decided at once (on every core) before their outcomes are gathered: the outcomes of a
/// 10M-member audience (some 60 bytes each) are never all held together, only those of the chunk being decided
/// and of the one before it, being gathered.
const DECIDE_AT_ONCE: usize = if cfg!(test) {
    // Small in unit tests, so that a test audience spans chunks.
    2 * DECIDED_TOGETHER
} else {
    1 << 20
};

/// A member's outcome in one audience: how many memberships it has, or the position of its suppression's rule
/// and detail (both in its [`DecidedRows`]).
type Outcome = Result<usize, u32>;

/// Selected rows decided together on one core: the outcome of each, the memberships of those sent to, in
/// order, and the reasons of those suppressed, each once. One vector holds the memberships of a few thousand
/// members, rather than one vector each, and the core that decided a reason drops its copies: only the
/// positions of the few reasons of a part are gathered, not millions of texts.
struct DecidedRows<'a> {
    outcomes: Vec<CoreResult<Outcome>>,
    memberships: Vec<Membership<'a>>,
    /// (rule, detail) pairs, each once.
    reasons: Vec<(Reason, Reason)>,
    /// Where each payload's JSON is rendered to be hashed.
    json: String,
}

impl DecidedRows<'_> {
    /// The position of the reason (`rule`, `detail`) among the part's, added when it is new (a part has a
    /// handful, the one of the last row most often).
    fn reason(&mut self, rule: Reason, detail: Reason) -> u32 {
        let known = self
            .reasons
            .iter()
            .rev()
            .position(|(r, d)| *r == rule && *d == detail);
        match known {
            Some(from_end) => (self.reasons.len() - 1 - from_end) as u32,
            None => {
                self.reasons.push((rule, detail));
                self.reasons.len() as u32 - 1
            }
        }
    }
}

/// Selected rows one core decides together (see [`DecidedRows`]).
const DECIDED_TOGETHER: usize = 4096;

/// Count a suppression of reason `reason` in `by_reason` (suppressions of an audience by reason position).
fn count_reason(by_reason: &mut Vec<u64>, reason: usize) {
    if by_reason.len() <= reason {
        by_reason.resize(reason + 1, 0);
    }
    by_reason[reason] += 1;
}

/// Gather the decided parts of some selected rows of audience `ai` (`members`: those rows' member numbers and
/// ids, in order) into `out`: the memberships of the members sent to, a suppression for each other, counted in
/// the audience's summary and by reason.
fn gather<'a, 'm>(
    out: &mut Decided<'a>,
    (summary, by_reason): (&mut AudienceSummary, &mut Vec<u64>),
    ai: usize,
    mut members: impl Iterator<Item = (Option<u32>, &'m str)>,
    parts: Vec<DecidedRows<'a>>,
) -> CoreResult<()> {
    for part in parts {
        let reasons: Vec<u32> = (part.reasons.into_iter())
            .map(|(rule, detail)| out.suppressions.reason(rule, detail))
            .collect();
        // The part's outcomes lead: zip asks its first iterator first, so the rows of the next part are not
        // taken when this part's outcomes run out.
        for (outcome, (number, member)) in part.outcomes.into_iter().zip(members.by_ref()) {
            match outcome? {
                Err(reason) => {
                    let reason = reasons[reason as usize];
                    count_reason(
                        by_reason,
                        out.suppressions.push_row(ai, number.ok_or(member), reason),
                    );
                }
                Ok(_) => summary.members += 1,
            }
        }
        // The memberships of the members sent to, in their order: the part's vector becomes a block as it is.
        out.memberships.append(part.memberships);
    }
    Ok(())
}

impl<'a> PolicyInputs<'a, '_> {
    /// Decide for every selected member of every audience (members in parallel, results in selection order).
    pub(super) fn decide_all(&self, selected: &[SelectedRows]) -> CoreResult<Decided<'a>> {
        // The member sets of audiences another one excludes or that take part in priority; empty for the rest.
        let prioritized = self.audiences.iter().filter(|a| a.priority.is_some()).count();
        let needed: Vec<bool> = self
            .audiences
            .iter()
            .map(|a| {
                (a.priority.is_some() && prioritized > 1)
                    || self.audiences.iter().any(|o| o.exclude.contains(&a.name))
            })
            .collect();
        let sets: Vec<MemberSet<'_>> = selected
            .par_iter()
            .zip(&needed)
            .map(|(rows, &needed)| match needed {
                true => rows.member_set(self.profiles.len()),
                false => MemberSet::default(),
            })
            .collect();
        let fields: Vec<PayloadFields<'a>> = self.destinations.iter().map(PayloadFields::of).collect();
        let mut out = Decided::default();
        out.suppressions
            .reserve(selected.iter().map(SelectedRows::len).sum());
        for (ai, a) in self.audiences.iter().enumerate() {
            let mut summary = AudienceSummary {
                name: a.name.clone(),
                selected: selected[ai].len() as u64,
                without_member_id: selected[ai].without_member_id(),
                ..AudienceSummary::default()
            };
            // Suppressions of this audience by reason.
            let mut by_reason: Vec<u64> = Vec::new();
            let picked = &selected[ai];
            let first_membership = out.memberships.len();
            // Each chunk is decided on every core while the one before is gathered: the gathering is one thread's
            // work, which the cores would otherwise wait for.
            let chunks = (0..picked.len())
                .step_by(DECIDE_AT_ONCE)
                .map(|start| start..picked.len().min(start + DECIDE_AT_ONCE));
            let mut decided: Option<(Range<usize>, Vec<DecidedRows<'a>>)> = None;
            for chunk in chunks.map(Some).chain([None]) {
                let (parts, gathered) = rayon::join(
                    || (chunk.clone()).map(|c| self.decide_chunk(ai, picked, c, &sets, &fields)),
                    || match decided.take() {
                        Some((c, parts)) => {
                            let tally = (&mut summary, &mut by_reason);
                            gather(&mut out, tally, ai, picked.members(c), parts)
                        }
                        None => Ok(()),
                    },
                );
                gathered?;
                decided = chunk.zip(parts);
            }
            let mut count = |reason: usize| count_reason(&mut by_reason, reason);
            let own: Vec<&Destination> = a
                .destinations
                .iter()
                .map(|d| super::destination(self.destinations, d))
                .collect::<CoreResult<_>>()?;
            let held = hold_back_small(&mut out.memberships, first_membership, &own);
            for (destination, members) in held.destinations {
                summary.below_minimum.insert(destination.to_string(), members);
            }
            summary.members -= held.members.len() as u64;
            let detail = Reason::from(held.detail);
            for member in held.members {
                count(
                    out.suppressions
                        .push(ai, Ok(member), BELOW_MINIMUM_RULE.into(), detail.clone()),
                );
            }
            for (reason, &count) in by_reason.iter().enumerate().filter(|(_, &n)| n > 0) {
                let rule = out.suppressions.rule(reason);
                *summary.suppressed.entry(rule.to_string()).or_default() += count;
            }
            out.summaries.push(summary);
        }
        Ok(out)
    }

    /// The outcome of each selected row of audience `ai` in `chunk`, in order, decided on every core a few
    /// thousand rows at a time (`fields`: the payload fields of each destination).
    fn decide_chunk(
        &self,
        ai: usize,
        picked: &SelectedRows,
        chunk: Range<usize>,
        sets: &[MemberSet<'_>],
        fields: &[PayloadFields<'a>],
    ) -> Vec<DecidedRows<'a>> {
        let a = &self.audiences[ai];
        // A part's memberships are sized from the last part's (parts of one audience are alike), so the vector
        // (kept as a block of the run's memberships) seldom grows, copying itself, while it is filled.
        let last_part = AtomicUsize::new(0);
        let start = || {
            let guess = last_part.load(Ordering::Relaxed);
            DecidedRows {
                outcomes: Vec::with_capacity(DECIDED_TOGETHER),
                memberships: Vec::with_capacity(guess + guess / 8),
                reasons: Vec::new(),
                json: String::new(),
            }
        };
        picked
            .rows(chunk)
            .fold_chunks(DECIDED_TOGETHER, start, |mut part, row| {
                let outcome = match self.across_audiences(ai, &row, sets) {
                    Some((rule, detail)) => Ok(Err(part.reason(rule, detail))),
                    None => self.decide_member(a, &row, fields, &mut part),
                };
                part.outcomes.push(outcome);
                part
            })
            .inspect(|part| last_part.store(part.memberships.len(), Ordering::Relaxed))
            .collect()
    }

    /// Exclusion by another audience, or a higher-priority audience that takes the member.
    fn across_audiences(
        &self,
        ai: usize,
        row: &SelectedRow<'_>,
        sets: &[MemberSet<'_>],
    ) -> Option<(Reason, Reason)> {
        let (number, member) = (row.number(), row.member_id());
        let audiences = self.audiences;
        let a = &audiences[ai];
        let excluded_by = a.exclude.iter().find(|x| {
            audiences
                .iter()
                .position(|o| &o.name == *x)
                .is_some_and(|oi| sets[oi].contains(number, member))
        });
        if let Some(x) = excluded_by {
            return Some((
                "EXCLUDED_BY_AUDIENCE".into(),
                format!("in excluded audience '{x}'").into(),
            ));
        }
        let p = a.priority?;
        let higher = audiences.iter().enumerate().find(|(oi, o)| {
            *oi != ai
                && o.priority.is_some_and(|op| op > p || (op == p && *oi < ai))
                && sets[*oi].contains(number, member)
        });
        higher.map(|(_, o)| {
            (
                "LOWER_PRIORITY".into(),
                format!("goes to audience '{}'", o.name).into(),
            )
        })
    }

    /// The policy decision for one selected member; when it is a send, its memberships are added to those of
    /// `part` and counted (`fields`: the payload fields of each destination).
    fn decide_member(
        &self,
        a: &'a Audience,
        row: &SelectedRow<'_>,
        fields: &[PayloadFields<'a>],
        part: &mut DecidedRows<'a>,
    ) -> CoreResult<Outcome> {
        let profiles = self.profiles;
        let Some((number, profile)) = row.number().and_then(|n| Some((n, profiles.profile(n)?))) else {
            let reason = part.reason("UNKNOWN_MEMBER".into(), "no member_profile row".into());
            return Ok(Err(reason));
        };
        // The profiles' copy of the id, which outlives the selected rows.
        let member = profiles.member_id(number);
        let consents = self.ledger.consents_of(number);
        let context = MemberContext {
            member_id: member,
            deceased: profile.deceased,
            do_not_contact: self.ledger.do_not_contact(number),
            state: profiles.field(profile, "state"),
            time_zone: profile.time_zone,
            reach: profile.reach,
            preferred: profile.preferred,
            consents: &consents,
            history: self.ledger.history_of(number),
            subject: self.ledger.subject(&a.name),
        };
        let decision = decide(a, &context, self.rules, self.now);
        let channel = match decision {
            Decision::Suppress { rule, detail } => return Ok(Err(part.reason(rule, detail))),
            Decision::Send { channel, .. } => channel,
        };
        let before = part.memberships.len();
        for dname in &a.destinations {
            // `fields` is in the order of the destinations.
            let at = super::destination_position(self.destinations, dname)?;
            let (dest, fields) = (&self.destinations[at], &fields[at]);
            if dest.kind.channel().is_some_and(|c| c != channel) {
                continue;
            }
            let payload = fields.values(row, profiles, profile);
            let row_hash = Sha256Digest::of_parts(&[member, fields.json(&payload, &mut part.json)?]);
            part.memberships.push(Membership {
                audience: &a.name,
                destination: &dest.name,
                member_id: member,
                member: number,
                decision: decision.clone(),
                row_hash,
                payload,
            });
        }
        let rows = part.memberships.len() - before;
        if rows == 0 {
            return Ok(Err(part.reason(
                "NO_DESTINATION_FOR_CHANNEL".into(),
                format!("no destination of the audience takes {channel}").into(),
            )));
        }
        Ok(Ok(rows))
    }
}

#[cfg(test)]
mod decide_all_tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, RecordBatch, StringArray};

    use super::super::profiles::profiles_of;
    use super::super::selection::selected_rows;
    use super::super::selection::tests::audience;
    use super::*;
    use crate::audience::destinations::DestinationKind;
    use crate::audience::ledger::LedgerBuilder;

    #[test]
    fn every_selected_member_of_a_large_audience_is_suppressed_once_under_its_own_reason() {
        // More rows than one core decides together, and than are decided at once, so outcomes are gathered across
        // parts and chunks (each chunk while the next is decided): known members (no consent) and ids nobody has
        // (unknown) alternate, and each suppression must name its own member.
        let rows = DECIDE_AT_ONCE + DECIDED_TOGETHER + 17;
        let known: Vec<String> = (0..rows).map(|i| format!("MBR-k{i:06}")).collect();
        let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
        let profiles = profiles_of(&known_refs);
        let selected: Vec<String> = (0..rows)
            .map(|i| match i % 3 {
                0 => format!("MBR-u{i:06}"),
                _ => known[i].clone(),
            })
            .collect();
        let ids: ArrayRef = Arc::new(StringArray::from(selected.clone()));
        let batch = RecordBatch::try_from_iter([("member_id", ids)]).unwrap();
        let picked = selected_rows("a", &[batch], &profiles).unwrap();
        // An sms audience sent to "texts", no holdout.
        let audiences = [audience("")];
        let destinations = [Destination {
            name: "texts".into(),
            kind: DestinationKind::Sms,
            fields: vec!["phone".into()],
            path: None,
            min_members: 0,
        }];
        let ledger = LedgerBuilder::default().finish(&profiles);
        let rules = OutreachRules::default();
        let inputs = PolicyInputs {
            audiences: &audiences,
            destinations: &destinations,
            profiles: &profiles,
            ledger: &ledger,
            rules: &rules,
            now: "2026-11-23T12:00:00Z".parse().unwrap(),
        };
        let decided = inputs.decide_all(&[picked]).unwrap();
        assert_eq!(decided.memberships.len(), 0, "nobody has consent");
        assert_eq!(decided.suppressions.len(), rows);
        let mut named: Vec<&str> = Vec::with_capacity(rows);
        for i in 0..rows {
            let (_, member, rule, _) = decided.suppressions.row(i, &audiences, &profiles);
            let unknown = member.starts_with("MBR-u");
            assert_eq!(
                rule == "UNKNOWN_MEMBER",
                unknown,
                "suppression {i} ({rule}) names the wrong member"
            );
            named.push(member);
        }
        named.sort_unstable();
        let mut expected: Vec<&str> = selected.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(named, expected, "each selected member once");
    }
}
