//! The consent ledger: the latest consent decision per member, channel and purpose, and the basis each purpose
//! needs before carelake may reach out.
//!
//! Events are applied in time order: an opt-in or opt-out for one purpose sets that purpose; one for `all` sets
//! every purpose (a later purpose-specific opt-in re-opens that purpose only). An inbound reply whose keyword is a
//! revocation per se (STOP, QUIT, END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE) revokes every purpose on that channel:
//! carelake does not know which program the reply was about, so it takes the stricter reading (the FCC's
//! "revoke-all" rule is delayed to 2027, not repealed). Every revocation captured by the as-of date is honored in
//! that run, well inside the 10-business-day limit.
//!
//! Consent is given for a contact point. An opt-in that names a phone number or email address covers a phone or
//! email channel only while that is still the member's current one (member_profile's phone, E.164, or email):
//! consent to text an old number is not consent to text the new one (the TCPA's consent is the called party's,
//! and numbers are reassigned). Such an opt-in is kept only to say why the member was not reached
//! ([`ConsentDecision::OtherContactPoint`]). An opt-out counts whatever contact point it names: the person asked
//! not to be reached on the channel, and a new number does not undo that (a later opt-in for it does). Mail and
//! ads consents are to the channel; their contact points are not compared. A consent without a contact point
//! covers the channel.

use std::fmt;

/// An outreach channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Text message.
    Sms,
    /// Phone call (live or prerecorded).
    Voice,
    /// Email.
    Email,
    /// Postal mail.
    Mail,
    /// Paid-media audiences (hashed identifiers only).
    Ads,
}

impl Channel {
    /// All channels.
    pub const ALL: [Channel; 5] = [
        Channel::Sms,
        Channel::Voice,
        Channel::Email,
        Channel::Mail,
        Channel::Ads,
    ];

    /// Parse the canonical value (`sms`, `voice`, `email`, `mail`, `ads`).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "sms" => Channel::Sms,
            "voice" => Channel::Voice,
            "email" => Channel::Email,
            "mail" => Channel::Mail,
            "ads" => Channel::Ads,
            _ => return None,
        })
    }

    /// The canonical value.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::Email => "email",
            Channel::Mail => "mail",
            Channel::Ads => "ads",
        }
    }

    /// Whether the TCPA governs the channel (calls and texts to phones).
    pub fn is_phone(self) -> bool {
        matches!(self, Channel::Sms | Channel::Voice)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why carelake reaches out; decides which consent and rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// Appointment reminders, pre-visit instructions, follow-up (healthcare messages).
    CareReminders,
    /// Recall for preventive care and open care gaps (healthcare messages).
    CareGaps,
    /// Marketing (needs written consent and, under HIPAA, the patient's authorization).
    Marketing,
    /// Billing (never under the healthcare exemption).
    Billing,
}

impl Purpose {
    /// All purposes.
    pub const ALL: [Purpose; 4] = [
        Purpose::CareReminders,
        Purpose::CareGaps,
        Purpose::Marketing,
        Purpose::Billing,
    ];

    /// Parse the canonical value; `all` is not a purpose (see [`ConsentScope`]).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "care_reminders" => Purpose::CareReminders,
            "care_gaps" => Purpose::CareGaps,
            "marketing" => Purpose::Marketing,
            "billing" => Purpose::Billing,
            _ => return None,
        })
    }

    /// The canonical value.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::CareReminders => "care_reminders",
            Purpose::CareGaps => "care_gaps",
            Purpose::Marketing => "marketing",
            Purpose::Billing => "billing",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The legal basis recorded with a consent, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Basis {
    /// No basis recorded.
    None,
    /// Prior express consent (may be oral; giving the number for that purpose).
    PriorExpress,
    /// Prior express written consent.
    Written,
}

impl Basis {
    /// Every basis, weakest first.
    pub const ALL: [Basis; 3] = [Basis::None, Basis::PriorExpress, Basis::Written];

    /// Parse the canonical value (`none`, `prior_express`, `written`); a missing basis is `None`.
    pub fn parse(text: Option<&str>) -> Option<Self> {
        Some(match text {
            None | Some("none") => Basis::None,
            Some("prior_express") => Basis::PriorExpress,
            Some("written") => Basis::Written,
            _ => return None,
        })
    }

    /// The canonical value.
    pub fn name(self) -> &'static str {
        match self {
            Basis::None => "none",
            Basis::PriorExpress => "prior_express",
            Basis::Written => "written",
        }
    }
}

/// The least basis a purpose needs on a channel under the TCPA and HIPAA (a pipeline file may ask for more:
/// [`super::rules::OutreachRules`]).
pub fn required_basis(channel: Channel, purpose: Purpose) -> Basis {
    match (channel, purpose) {
        // Telemarketing by call or text, and marketing anywhere (HIPAA authorization), need written consent.
        (_, Purpose::Marketing) => Basis::Written,
        (c, _) if c.is_phone() => Basis::PriorExpress,
        // Email and mail: no TCPA basis, but an opt-in must exist and opt-outs are honored.
        _ => Basis::None,
    }
}

/// Which purposes a consent event covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentScope {
    /// One purpose.
    Purpose(Purpose),
    /// Every purpose.
    All,
}

/// One consent or revocation of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentEvent {
    /// Channel.
    pub channel: Channel,
    /// Purposes covered.
    pub scope: ConsentScope,
    /// Opt-in (true) or opt-out (false).
    pub opt_in: bool,
    /// Legal basis of an opt-in.
    pub basis: Basis,
    /// When it was captured (microseconds since the epoch, UTC).
    pub at: i64,
    /// An opt-in for another phone or email than the member's current one: it allows nothing (see the module
    /// comment), and only explains a refusal.
    pub other_contact: bool,
}

impl ConsentEvent {
    /// The order events are applied in: by time; at equal times an opt-out last (it wins), and of opt-ins the
    /// weakest basis last. Events equal in this order write the same value to the same places, so their order
    /// among themselves never changes the outcome.
    pub fn order(&self) -> (i64, bool, std::cmp::Reverse<Basis>) {
        (self.at, !self.opt_in, std::cmp::Reverse(self.basis))
    }

    /// The opt-out of every purpose on `channel` that a STOP-style reply at `at` stands for.
    pub fn revocation(channel: Channel, at: i64) -> Self {
        ConsentEvent {
            channel,
            scope: ConsentScope::All,
            opt_in: false,
            basis: Basis::None,
            at,
            other_contact: false,
        }
    }
}

/// Reply keywords that revoke consent per se (47 CFR 64.1200(a)(12)); compared after trimming, upper-casing and
/// removing spaces and punctuation.
pub const REVOCATION_KEYWORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "QUIT",
    "END",
    "REVOKE",
    "OPTOUT",
    "CANCEL",
    "UNSUBSCRIBE",
];

/// Whether an inbound reply's keyword is a revocation per se.
pub fn is_revocation(keyword: &str) -> bool {
    let key: String = keyword
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    REVOCATION_KEYWORDS.contains(&key.as_str())
}

/// The outcome of a consent check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentDecision {
    /// Allowed, with the basis on record.
    Allowed(Basis),
    /// The member opted out (or replied STOP) at this time.
    OptedOut(i64),
    /// No opt-in on record.
    NoConsent,
    /// An opt-in exists but with a weaker basis than the purpose needs.
    InsufficientBasis(Basis),
    /// No opt-in covers the member's current phone or email; one exists for another.
    OtherContactPoint,
}

impl ConsentDecision {
    /// The suppression rule id of a refusal (None when allowed).
    pub fn rule(self) -> Option<&'static str> {
        match self {
            ConsentDecision::Allowed(_) => None,
            ConsentDecision::OptedOut(_) => Some("CONSENT_OPTED_OUT"),
            ConsentDecision::NoConsent => Some("CONSENT_NONE"),
            ConsentDecision::InsufficientBasis(_) => Some("CONSENT_BASIS_INSUFFICIENT"),
            ConsentDecision::OtherContactPoint => Some("CONSENT_OTHER_CONTACT_POINT"),
        }
    }
}

/// The consent state of one member: per channel and purpose, the latest opt-in/opt-out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberConsents {
    /// (channel, purpose) -> (opt_in, basis, at), indexed by channel then purpose.
    state: [[Option<(bool, Basis, i64)>; 4]; 5],
    /// (channel, purpose) with an opt-in for another contact point, indexed alike.
    elsewhere: [[bool; 4]; 5],
}

impl MemberConsents {
    /// Build from events in any order, applied by time. At equal times an opt-out wins, and of opt-ins the
    /// weakest basis: the outcome never depends on the order the records were read in, and a tie grants no more
    /// than the least of what was recorded.
    pub fn from_events(events: &mut [ConsentEvent]) -> Self {
        events.sort_by_key(ConsentEvent::order);
        Self::from_ordered(events)
    }

    /// Build from events already in [`ConsentEvent::order`].
    pub fn from_ordered(events: &[ConsentEvent]) -> Self {
        let mut out = MemberConsents::default();
        for e in events {
            out.apply(e);
        }
        out
    }

    /// Apply one event (events must come in time order).
    pub fn apply(&mut self, e: &ConsentEvent) {
        if e.opt_in && e.other_contact {
            let row = &mut self.elsewhere[e.channel as usize];
            match e.scope {
                ConsentScope::Purpose(p) => row[p.index()] = true,
                ConsentScope::All => *row = [true; 4],
            }
            return;
        }
        let row = &mut self.state[e.channel as usize];
        let value = Some((e.opt_in, e.basis, e.at));
        match e.scope {
            ConsentScope::Purpose(p) => row[p.index()] = value,
            ConsentScope::All => row.iter_mut().for_each(|slot| *slot = value),
        }
    }

    /// Revoke every purpose on a channel (a STOP reply) at `at`.
    pub fn revoke_channel(&mut self, channel: Channel, at: i64) {
        self.apply(&ConsentEvent::revocation(channel, at));
    }

    /// May carelake reach the member on `channel` for `purpose`, under the law's least basis?
    pub fn decide(&self, channel: Channel, purpose: Purpose) -> ConsentDecision {
        self.decide_requiring(channel, purpose, required_basis(channel, purpose))
    }

    /// May carelake reach the member on `channel` for `purpose` when the purpose needs at least `required`?
    pub fn decide_requiring(&self, channel: Channel, purpose: Purpose, required: Basis) -> ConsentDecision {
        match self.state[channel as usize][purpose.index()] {
            None if self.elsewhere[channel as usize][purpose.index()] => ConsentDecision::OtherContactPoint,
            None => ConsentDecision::NoConsent,
            Some((false, _, at)) => ConsentDecision::OptedOut(at),
            Some((true, basis, _)) if basis >= required => ConsentDecision::Allowed(basis),
            Some((true, basis, _)) => ConsentDecision::InsufficientBasis(basis),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(channel: Channel, scope: ConsentScope, opt_in: bool, basis: Basis, at: i64) -> ConsentEvent {
        ConsentEvent {
            channel,
            scope,
            opt_in,
            basis,
            at,
            other_contact: false,
        }
    }

    #[test]
    fn an_opt_in_for_another_contact_point_allows_nothing_and_says_why() {
        let gaps = ConsentScope::Purpose(Purpose::CareGaps);
        let elsewhere = |opt_in, at| ConsentEvent {
            other_contact: true,
            ..event(Channel::Sms, gaps, opt_in, Basis::Written, at)
        };
        let c = MemberConsents::from_events(&mut [elsewhere(true, 10)]);
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareGaps),
            ConsentDecision::OtherContactPoint
        );
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareGaps).rule(),
            Some("CONSENT_OTHER_CONTACT_POINT")
        );
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareReminders),
            ConsentDecision::NoConsent
        );
        // An opt-in for the current number holds, before or after the other number's.
        for at in [5, 15] {
            let mut events = [
                elsewhere(true, 10),
                event(Channel::Sms, gaps, true, Basis::PriorExpress, at),
            ];
            let c = MemberConsents::from_events(&mut events);
            assert_eq!(
                c.decide(Channel::Sms, Purpose::CareGaps),
                ConsentDecision::Allowed(Basis::PriorExpress)
            );
        }
        // An opt-out for another number still counts; a later opt-in for the current one lifts it.
        let mut events = [
            event(Channel::Sms, gaps, true, Basis::PriorExpress, 5),
            elsewhere(false, 10),
        ];
        let c = MemberConsents::from_events(&mut events);
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareGaps),
            ConsentDecision::OptedOut(10)
        );
        let mut events = [
            elsewhere(false, 10),
            event(Channel::Sms, gaps, true, Basis::PriorExpress, 15),
        ];
        let c = MemberConsents::from_events(&mut events);
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareGaps),
            ConsentDecision::Allowed(Basis::PriorExpress)
        );
    }

    #[test]
    fn latest_event_wins_and_all_covers_every_purpose() {
        let gaps = ConsentScope::Purpose(Purpose::CareGaps);
        let mut events = vec![
            event(Channel::Sms, gaps, true, Basis::PriorExpress, 10),
            event(Channel::Sms, ConsentScope::All, false, Basis::None, 20),
        ];
        let c = MemberConsents::from_events(&mut events);
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareGaps),
            ConsentDecision::OptedOut(20)
        );
        assert_eq!(
            c.decide(Channel::Sms, Purpose::Billing),
            ConsentDecision::OptedOut(20)
        );
        assert_eq!(
            c.decide(Channel::Email, Purpose::CareGaps),
            ConsentDecision::NoConsent
        );
        // A later purpose-specific opt-in re-opens that purpose only.
        events.push(event(Channel::Sms, gaps, true, Basis::Written, 30));
        let c = MemberConsents::from_events(&mut events);
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareGaps),
            ConsentDecision::Allowed(Basis::Written)
        );
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareReminders),
            ConsentDecision::OptedOut(20)
        );
    }

    #[test]
    fn opt_out_wins_a_tie_and_stop_revokes_the_channel() {
        let all = ConsentScope::All;
        let mut events = vec![
            event(Channel::Sms, all, true, Basis::Written, 5),
            event(Channel::Sms, all, false, Basis::None, 5),
        ];
        let mut c = MemberConsents::from_events(&mut events);
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareGaps),
            ConsentDecision::OptedOut(5)
        );
        let mut events = vec![event(Channel::Voice, all, true, Basis::Written, 1)];
        c = MemberConsents::from_events(&mut events);
        c.revoke_channel(Channel::Voice, 9);
        assert_eq!(
            c.decide(Channel::Voice, Purpose::CareReminders),
            ConsentDecision::OptedOut(9)
        );
    }

    #[test]
    fn marketing_needs_written_consent_and_phones_need_prior_express() {
        let mut events = vec![event(
            Channel::Sms,
            ConsentScope::All,
            true,
            Basis::PriorExpress,
            1,
        )];
        let c = MemberConsents::from_events(&mut events);
        assert_eq!(
            c.decide(Channel::Sms, Purpose::CareGaps),
            ConsentDecision::Allowed(Basis::PriorExpress)
        );
        assert_eq!(
            c.decide(Channel::Sms, Purpose::Marketing),
            ConsentDecision::InsufficientBasis(Basis::PriorExpress)
        );
        let mut events = vec![event(Channel::Voice, ConsentScope::All, true, Basis::None, 1)];
        let c = MemberConsents::from_events(&mut events);
        assert_eq!(
            c.decide(Channel::Voice, Purpose::CareGaps).rule(),
            Some("CONSENT_BASIS_INSUFFICIENT")
        );
        let mut events = vec![event(Channel::Email, ConsentScope::All, true, Basis::None, 1)];
        let c = MemberConsents::from_events(&mut events);
        assert_eq!(
            c.decide(Channel::Email, Purpose::CareGaps),
            ConsentDecision::Allowed(Basis::None)
        );
    }

    #[test]
    fn revocation_keywords() {
        for k in [
            "STOP",
            "stop",
            " Stop ",
            "opt out",
            "OPT-OUT",
            "Unsubscribe",
            "cancel",
            "STOPALL",
        ] {
            assert!(is_revocation(k), "{k}");
        }
        for k in ["HELP", "YES", "stopped", "please stop calling"] {
            assert!(!is_revocation(k), "{k}");
        }
    }
}
