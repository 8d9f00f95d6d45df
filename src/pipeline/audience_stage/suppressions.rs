//! The audience stage's suppressions: every member an audience selected and policy left out, with its rule and
//! detail, held small (a member by number, a reason by position) until the rows are written.

use std::borrow::Cow;

use foldhash::HashMap;

use super::profiles::Profiles;
use crate::audience::definition::Audience;

/// A suppression's rule or detail: mostly a fixed text (see [`Decision::Suppress`]).
pub(super) type Reason = Cow<'static, str>;

/// Who a suppression is for: a member by number, or a member id the profiles do not know.
#[derive(Debug, Clone, Copy)]
enum SuppressedMember {
    /// A member number (see the profiles).
    Known(u32),
    /// A position in [`Suppressions::unknown`].
    Unknown(u32),
}

/// A member left out of an audience: its audience (by position), member and reason (by position). Kept this
/// small because nearly every selected member of a marketing audience is suppressed (12.9M rows at 10M
/// members); the texts are looked up when the rows are written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Suppression {
    audience: u32,
    member: SuppressedMember,
    reason: u32,
}

/// Every member left out of an audience, with the rule that did it and a readable detail (no patient values).
/// The (rule, detail) pairs are held once each: an audience's suppressions share a handful of them.
#[derive(Debug, Default)]
pub(super) struct Suppressions {
    rows: Vec<Suppression>,
    /// (rule, detail) pairs, each once.
    reasons: Vec<(Reason, Reason)>,
    reason_of: HashMap<(Reason, Reason), u32>,
    /// The reason of the last suppression.
    last: Option<u32>,
    /// Selected member ids that are not members (no member_profile row, not in the xref).
    unknown: Vec<String>,
}

impl Suppressions {
    /// Number of suppressions.
    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Room for `more` suppressions without reallocating.
    pub(super) fn reserve(&mut self, more: usize) {
        self.rows.reserve(more);
    }

    /// Suppression `i` as (audience, member id, rule, detail).
    pub(super) fn row<'s>(
        &'s self,
        i: usize,
        audiences: &'s [Audience],
        profiles: &'s Profiles,
    ) -> (&'s str, &'s str, &'s str, &'s str) {
        let s = &self.rows[i];
        let member = match s.member {
            SuppressedMember::Known(n) => profiles.member_id(n),
            SuppressedMember::Unknown(k) => self.unknown[k as usize].as_str(),
        };
        let (rule, detail) = &self.reasons[s.reason as usize];
        (
            audiences[s.audience as usize].name.as_str(),
            member,
            rule.as_ref(),
            detail.as_ref(),
        )
    }

    /// The rule of the reason at position `reason`.
    pub(super) fn rule(&self, reason: usize) -> &str {
        &self.reasons[reason].0
    }

    /// Record that `member` (its number, else its id) is left out of audience `audience` by `rule`; returns
    /// the reason's position.
    pub(super) fn push(
        &mut self,
        audience: usize,
        member: Result<u32, &str>,
        rule: Reason,
        detail: Reason,
    ) -> usize {
        let reason = self.reason(rule, detail);
        self.push_row(audience, member, reason)
    }

    /// The position of the reason (`rule`, `detail`), added when it is new.
    pub(super) fn reason(&mut self, rule: Reason, detail: Reason) -> u32 {
        // Runs of one reason are common (most of a marketing audience lacks consent): the last reason is
        // compared before the texts are hashed.
        let same_as_last = self.last.filter(|&last| {
            let (r, d) = &self.reasons[last as usize];
            *r == rule && *d == detail
        });
        let reason = match same_as_last {
            Some(last) => last,
            None => {
                let next = self.reasons.len() as u32;
                *self.reason_of.entry((rule, detail)).or_insert_with_key(|key| {
                    self.reasons.push(key.clone());
                    next
                })
            }
        };
        self.last = Some(reason);
        reason
    }

    /// Record that `member` (its number, else its id) is left out of audience `audience` for the reason at
    /// position `reason`; returns that position.
    pub(super) fn push_row(&mut self, audience: usize, member: Result<u32, &str>, reason: u32) -> usize {
        let member = match member {
            Ok(n) => SuppressedMember::Known(n),
            Err(id) => {
                self.unknown.push(id.to_string());
                SuppressedMember::Unknown(self.unknown.len() as u32 - 1)
            }
        };
        self.rows.push(Suppression {
            audience: audience as u32,
            member,
            reason,
        });
        reason as usize
    }
}

#[cfg(test)]
mod tests {
    use super::super::profiles::profiles_of;
    use super::*;
    use crate::audience::consent::{Channel, Purpose};
    use crate::audience::definition::Audience;

    fn audience(name: &str) -> Audience {
        Audience {
            name: name.into(),
            sql: String::new(),
            purpose: Purpose::CareGaps,
            channels: vec![Channel::Sms],
            destinations: Vec::new(),
            exclude: Vec::new(),
            priority: None,
            holdout: 0.0,
        }
    }

    #[test]
    fn suppressions_keep_each_reason_once_and_give_back_every_row_in_order() {
        let profiles = profiles_of(&["MBR-a", "MBR-b"]);
        let audiences = [audience("recall"), audience("ads")];
        let mut s = Suppressions::default();
        let reason = |rule: &'static str, detail: &'static str| (Reason::from(rule), Reason::from(detail));
        let pushes = [
            (
                0,
                Ok(0),
                reason("CONSENT_NONE", "no channel allowed (sms: CONSENT_NONE)"),
            ),
            (
                0,
                Ok(1),
                reason("CONSENT_NONE", "no channel allowed (sms: CONSENT_NONE)"),
            ),
            (
                1,
                Err("MBR-zzz"),
                reason("UNKNOWN_MEMBER", "no member_profile row"),
            ),
            // Same rule, another detail: another reason.
            (
                1,
                Ok(1),
                reason("CONSENT_NONE", "no channel allowed (ads: CONSENT_NONE)"),
            ),
            // A reason seen before, not the last one.
            (
                1,
                Ok(0),
                reason("CONSENT_NONE", "no channel allowed (sms: CONSENT_NONE)"),
            ),
        ];
        let mut positions = Vec::new();
        for (a, member, (rule, detail)) in pushes.clone() {
            positions.push(s.push(a, member, rule, detail));
        }
        assert_eq!(positions, vec![0, 0, 1, 2, 0]);
        assert_eq!(s.len(), 5);
        assert_eq!(s.reasons.len(), 3);
        for (i, (a, member, (rule, detail))) in pushes.iter().enumerate() {
            let id = match member {
                Ok(n) => profiles.member_id(*n),
                Err(id) => id,
            };
            assert_eq!(
                s.row(i, &audiences, &profiles),
                (audiences[*a].name.as_str(), id, rule.as_ref(), detail.as_ref())
            );
        }
    }
}
