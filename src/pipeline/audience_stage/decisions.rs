//! The policy phase of the audience stage: for every member each audience selected, exclusions and priority
//! across audiences, then the per-member policy decision; a send becomes one membership per destination that
//! takes the chosen channel, with its minimum-necessary payload and the payload's hash.

use foldhash::HashSet;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use super::diff::Membership;
use super::profiles::{payload, Profiles};
use super::selection::{SelectedRow, SelectedRows};
use super::write::sha;
use super::{AudienceSummary, Suppression};
use crate::audience::definition::{Audience, Destination};
use crate::audience::ledger::Ledger;
use crate::audience::policy::{decide, Decision, MemberContext};
use crate::audience::rules::OutreachRules;
use crate::error::CoreResult;

/// What the policy phase decided.
#[derive(Debug, Default)]
pub(super) struct Decided<'a> {
    pub(super) summaries: Vec<AudienceSummary>,
    pub(super) memberships: Vec<Membership>,
    pub(super) suppressions: Vec<Suppression<'a>>,
}

/// Everything the decisions read.
pub(super) struct PolicyInputs<'a> {
    pub(super) audiences: &'a [Audience],
    pub(super) destinations: &'a [Destination],
    pub(super) profiles: &'a Profiles,
    pub(super) ledger: &'a Ledger,
    pub(super) rules: &'a OutreachRules,
    pub(super) now: DateTime<Utc>,
}

/// A member's outcome in one audience: memberships, or the suppression rule and detail.
type Outcome = Result<Vec<Membership>, (String, String)>;

impl<'a> PolicyInputs<'a> {
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
        let sets: Vec<HashSet<&str>> = selected
            .par_iter()
            .zip(&needed)
            .map(|(rows, &needed)| match needed {
                true => rows.member_ids().collect(),
                false => HashSet::default(),
            })
            .collect();
        let mut out = Decided::default();
        out.suppressions
            .reserve(selected.iter().map(SelectedRows::len).sum());
        for (ai, a) in self.audiences.iter().enumerate() {
            let mut summary = AudienceSummary {
                name: a.name.clone(),
                selected: selected[ai].len() as u64,
                ..AudienceSummary::default()
            };
            let outcomes: Vec<CoreResult<Outcome>> = selected[ai]
                .rows()
                .map(|row| {
                    if let Some(refusal) = self.across_audiences(ai, row.member_id(), &sets) {
                        return Ok(Err(refusal));
                    }
                    self.decide_member(a, &row)
                })
                .collect();
            for (member, outcome) in selected[ai].member_ids().zip(outcomes) {
                match outcome? {
                    Err((rule, detail)) => {
                        match summary.suppressed.get_mut(&rule) {
                            Some(count) => *count += 1,
                            None => {
                                summary.suppressed.insert(rule.clone(), 1);
                            }
                        }
                        out.suppressions.push(Suppression {
                            audience: &a.name,
                            member_id: member.to_string(),
                            rule,
                            detail,
                        });
                    }
                    Ok(rows) => {
                        summary.members += 1;
                        out.memberships.extend(rows);
                    }
                }
            }
            out.summaries.push(summary);
        }
        Ok(out)
    }

    /// Exclusion by another audience, or a higher-priority audience that takes the member.
    fn across_audiences(&self, ai: usize, member: &str, sets: &[HashSet<&str>]) -> Option<(String, String)> {
        let audiences = self.audiences;
        let a = &audiences[ai];
        let excluded_by = a.exclude.iter().find(|x| {
            audiences
                .iter()
                .position(|o| &o.name == *x)
                .is_some_and(|oi| sets[oi].contains(member))
        });
        if let Some(x) = excluded_by {
            return Some((
                "EXCLUDED_BY_AUDIENCE".into(),
                format!("in excluded audience '{x}'"),
            ));
        }
        let p = a.priority?;
        let higher = audiences.iter().enumerate().find(|(oi, o)| {
            *oi != ai
                && o.priority.is_some_and(|op| op > p || (op == p && *oi < ai))
                && sets[*oi].contains(member)
        });
        higher.map(|(_, o)| ("LOWER_PRIORITY".into(), format!("goes to audience '{}'", o.name)))
    }

    /// The policy decision for one member, and its memberships when it is a send.
    fn decide_member(&self, a: &Audience, row: &SelectedRow<'_>) -> CoreResult<Outcome> {
        let member = row.member_id();
        let profiles = self.profiles;
        let Some((number, profile)) = profiles
            .number(member)
            .and_then(|n| Some((n, profiles.profile(n)?)))
        else {
            return Ok(Err(("UNKNOWN_MEMBER".into(), "no member_profile row".into())));
        };
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
        };
        let decision = decide(a, &context, self.rules, self.now);
        let channel = match decision {
            Decision::Suppress { rule, detail } => return Ok(Err((rule, detail))),
            Decision::Send { channel, .. } => channel,
        };
        let mut rows = Vec::new();
        for dname in &a.destinations {
            let dest = super::destination(self.destinations, dname)?;
            if dest.kind.channel().is_some_and(|c| c != channel) {
                continue;
            }
            let text = payload(dest, row, profiles, profile)?;
            rows.push(Membership {
                audience: a.name.clone(),
                destination: dname.clone(),
                member_id: member.to_string(),
                member: number,
                decision: decision.clone(),
                row_hash: sha(&[member, &text]),
                payload: text,
            });
        }
        if rows.is_empty() {
            return Ok(Err((
                "NO_DESTINATION_FOR_CHANNEL".into(),
                format!("no destination of the audience takes {channel}"),
            )));
        }
        Ok(Ok(rows))
    }
}
