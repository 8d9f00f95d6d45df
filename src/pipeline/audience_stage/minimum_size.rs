//! Destinations an audience is too small for: an ad audience of a few members is held back.
//!
//! Ad platforms match hashed identifiers into an audience that is only usable from about a hundred people on
//! (Meta asks advertisers to avoid smaller custom audiences; Google serves Customer Match from 100 matched
//! users), and a short list of hashed identifiers next to a campaign is a short list of identifiable patients.
//! So each ad destination has a minimum (`min_members`, 100 by default). When an audience would have fewer
//! members there, none of them is sent: the destination's memberships of the run are dropped, so the diff adds
//! nobody and removes the members sent before (the platform never holds a list below the minimum). A member
//! left with no destination at all is suppressed with [`BELOW_MINIMUM_RULE`].

use std::fmt::Write;

use super::diff::{Membership, Memberships};
use crate::audience::definition::Destination;

/// The suppression rule of a member whose every destination was held back.
pub(super) const BELOW_MINIMUM_RULE: &str = "AUDIENCE_BELOW_MINIMUM_SIZE";

/// What was held back of one audience.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct HeldBack<'a> {
    /// Each destination held back, with the members the audience would have had there.
    pub(super) destinations: Vec<(&'a str, u64)>,
    /// Members left with no destination at all (by number, in the order they were decided).
    pub(super) members: Vec<u32>,
    /// The suppression detail for those members: each destination, its count and its minimum (no patient
    /// values).
    pub(super) detail: String,
}

/// Hold back the memberships at positions `from..` (one audience's, each member's rows together) in every
/// destination of `destinations` (the audience's) where they are fewer than its minimum.
pub(super) fn hold_back_small<'a>(
    memberships: &mut Memberships<'a>,
    from: usize,
    destinations: &[&'a Destination],
) -> HeldBack<'a> {
    let mut held = HeldBack::default();
    let with_minimum: Vec<&'a Destination> = destinations
        .iter()
        .copied()
        .filter(|d| d.min_members > 0)
        .collect();
    if with_minimum.is_empty() {
        return held;
    }
    let mut counts = vec![0u64; with_minimum.len()];
    for m in memberships.range(from..memberships.len()) {
        if let Some(k) = with_minimum.iter().position(|d| d.name == m.destination) {
            counts[k] += 1;
        }
    }
    let small: Vec<usize> = (0..with_minimum.len())
        .filter(|&k| counts[k] > 0 && counts[k] < with_minimum[k].min_members)
        .collect();
    if small.is_empty() {
        return held;
    }
    for &k in &small {
        let d = with_minimum[k];
        held.destinations.push((d.name.as_str(), counts[k]));
        let separator = if held.detail.is_empty() { "" } else { "; " };
        let _ = write!(
            held.detail,
            "{separator}{} destination '{}' would get {} members, fewer than its min_members {}",
            d.kind.name(),
            d.name,
            counts[k],
            d.min_members
        );
    }
    let is_held = |m: &Membership<'_>| small.iter().any(|&k| with_minimum[k].name == m.destination);
    let tail = memberships.split_off(from);
    let mut kept = Vec::with_capacity(tail.len());
    // (member, whether any of its rows is kept) of the member whose rows are being gone through.
    let mut current: Option<(u32, bool)> = None;
    for m in tail {
        if current.is_some_and(|(member, _)| member != m.member) {
            if let Some((member, false)) = current {
                held.members.push(member);
            }
            current = None;
        }
        let keep = !is_held(&m);
        let (_, any_kept) = current.get_or_insert((m.member, false));
        *any_kept |= keep;
        if keep {
            kept.push(m);
        }
    }
    if let Some((member, false)) = current {
        held.members.push(member);
    }
    memberships.extend(kept);
    held
}

#[cfg(test)]
mod tests {
    use super::super::diff::tests::membership as stand_in_membership;
    use super::*;
    use crate::audience::destinations::DestinationKind;

    fn destination(name: &str, kind: DestinationKind, min_members: u64) -> Destination {
        Destination {
            name: name.into(),
            kind,
            fields: Vec::new(),
            path: None,
            min_members,
        }
    }

    /// A row of `member` in `destination` (the diff tests' stand-in row, moved there).
    fn membership(destination: &str, member: u32) -> Membership<'_> {
        Membership {
            destination,
            ..stand_in_membership("seasonal", "MBR-x", member, destination)
        }
    }

    fn rows<'a>(memberships: &Memberships<'a>) -> Vec<(&'a str, u32)> {
        memberships.iter().map(|m| (m.destination, m.member)).collect()
    }

    #[test]
    fn a_destination_below_its_minimum_loses_the_audience_and_members_with_nothing_left_are_named() {
        let meta = destination("meta", DestinationKind::AdsMeta, 3);
        let google = destination("google", DestinationKind::AdsGoogle, 2);
        let crm = destination("crm", DestinationKind::Crm, 0);
        // An earlier audience's rows (positions 0-1) are not touched; this one's start at 2.
        let mut memberships: Memberships<'_> = [membership("meta", 9), membership("meta", 8)]
            .into_iter()
            .collect();
        memberships.extend([
            membership("meta", 1),
            membership("google", 1),
            membership("meta", 2),
            membership("crm", 2),
            membership("google", 3),
        ]);
        let held = hold_back_small(&mut memberships, 2, &[&meta, &google, &crm]);
        // meta has 2 of 3: held. google has 2 of 2: kept. crm has no minimum.
        assert_eq!(held.destinations, vec![("meta", 2)]);
        assert_eq!(
            held.members,
            Vec::<u32>::new(),
            "every member keeps a destination"
        );
        assert_eq!(
            held.detail,
            "ads_meta destination 'meta' would get 2 members, fewer than its min_members 3"
        );
        assert_eq!(
            rows(&memberships),
            vec![("meta", 9), ("meta", 8), ("google", 1), ("crm", 2), ("google", 3)]
        );

        // Both ad destinations below their minimum: members 1 and 3 have nothing left, member 2 keeps the crm.
        let strict = destination("google", DestinationKind::AdsGoogle, 10);
        let mut memberships: Memberships<'_> = [
            membership("meta", 1),
            membership("google", 1),
            membership("meta", 2),
            membership("crm", 2),
            membership("google", 3),
        ]
        .into_iter()
        .collect();
        let held = hold_back_small(&mut memberships, 0, &[&meta, &strict, &crm]);
        assert_eq!(held.destinations, vec![("meta", 2), ("google", 2)]);
        assert_eq!(held.members, vec![1, 3]);
        assert!(held.detail.contains("'meta'") && held.detail.contains("'google' would get 2"));
        assert_eq!(rows(&memberships), vec![("crm", 2)]);
        assert_eq!(memberships.len(), 1);
    }

    #[test]
    fn an_audience_at_its_minimum_or_without_one_is_left_as_it_is() {
        let meta = destination("meta", DestinationKind::AdsMeta, 2);
        let off = destination("meta", DestinationKind::AdsMeta, 0);
        for d in [&meta, &off] {
            let mut memberships: Memberships<'_> = [membership("meta", 1), membership("meta", 2)]
                .into_iter()
                .collect();
            assert_eq!(hold_back_small(&mut memberships, 0, &[d]), HeldBack::default());
            assert_eq!(rows(&memberships), vec![("meta", 1), ("meta", 2)]);
        }
        // No rows at all: nothing to hold.
        let mut none = Memberships::default();
        assert_eq!(hold_back_small(&mut none, 0, &[&meta]), HeldBack::default());
    }
}
