//! Choosing the channel for one member: the member's preference first (when the audience offers it), then the
//! audience's channel order; a channel is used when the member is reachable on it and consent allows the purpose.
//! When none is left, every refusal is returned so the suppression row can say why.

use super::consent::{Basis, Channel, MemberConsents, Purpose};
use super::rules::BasisTable;

/// Where a member can be reached (from member_profile's contactability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reachability {
    /// A phone that normalizes to E.164.
    pub phone: bool,
    /// A valid email address.
    pub email: bool,
    /// A complete mailing address.
    pub mail: bool,
}

impl Reachability {
    /// Whether the member can be reached on `channel`; ads need a hashable phone or email.
    pub fn reaches(self, channel: Channel) -> bool {
        match channel {
            Channel::Sms | Channel::Voice => self.phone,
            Channel::Email => self.email,
            Channel::Mail => self.mail,
            Channel::Ads => self.phone || self.email,
        }
    }
}

/// The rule id for a channel the member cannot be reached on.
pub fn unreachable_rule(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms | Channel::Voice => "UNREACHABLE_NO_VALID_PHONE",
        Channel::Email => "UNREACHABLE_NO_VALID_EMAIL",
        Channel::Mail => "UNREACHABLE_NO_MAILING_ADDRESS",
        Channel::Ads => "UNREACHABLE_NO_HASHABLE_IDENTIFIER",
    }
}

/// A channel that may be used, with the consent basis on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelChoice {
    /// The channel.
    pub channel: Channel,
    /// The basis of the consent that allows it.
    pub basis: Basis,
    /// Whether it is the member's preferred channel.
    pub preferred: bool,
}

/// Choose a channel, or return each channel tried with the rule that refused it.
pub fn choose_channel(
    offered: &[Channel],
    preferred: Option<Channel>,
    reach: Reachability,
    consents: &MemberConsents,
    purpose: Purpose,
    basis: &BasisTable,
) -> Result<ChannelChoice, Vec<(Channel, &'static str)>> {
    let order = preferred
        .filter(|p| offered.contains(p))
        .into_iter()
        .chain(offered.iter().copied().filter(|c| Some(*c) != preferred));
    let mut refused = Vec::new();
    for channel in order {
        if !reach.reaches(channel) {
            refused.push((channel, unreachable_rule(channel)));
            continue;
        }
        let decision = consents.decide_requiring(channel, purpose, basis.required(channel, purpose));
        match (decision.rule(), decision) {
            (None, super::consent::ConsentDecision::Allowed(basis)) => {
                return Ok(ChannelChoice {
                    channel,
                    basis,
                    preferred: Some(channel) == preferred,
                })
            }
            (Some(rule), _) => refused.push((channel, rule)),
            (None, _) => unreachable!("only Allowed has no rule"),
        }
    }
    if refused.is_empty() {
        refused.push((Channel::Sms, "NO_CHANNEL_OFFERED"));
    }
    Err(refused)
}

#[cfg(test)]
mod tests {
    use super::super::consent::{ConsentEvent, ConsentScope};
    use super::*;

    fn consents(events: &[(Channel, bool, Basis)]) -> MemberConsents {
        let mut ev: Vec<ConsentEvent> = events
            .iter()
            .enumerate()
            .map(|(i, (channel, opt_in, basis))| ConsentEvent {
                channel: *channel,
                scope: ConsentScope::All,
                opt_in: *opt_in,
                basis: *basis,
                at: i as i64,
                other_contact: false,
            })
            .collect();
        MemberConsents::from_events(&mut ev)
    }

    const ALL_REACH: Reachability = Reachability {
        phone: true,
        email: true,
        mail: true,
    };

    #[test]
    fn preference_then_order_then_fallback() {
        let c = consents(&[
            (Channel::Sms, true, Basis::PriorExpress),
            (Channel::Email, true, Basis::None),
        ]);
        let offered = [Channel::Sms, Channel::Email];
        let got = choose_channel(
            &offered,
            Some(Channel::Email),
            ALL_REACH,
            &c,
            Purpose::CareGaps,
            &BasisTable::default(),
        )
        .unwrap();
        assert_eq!((got.channel, got.preferred), (Channel::Email, true));
        let got = choose_channel(
            &offered,
            None,
            ALL_REACH,
            &c,
            Purpose::CareGaps,
            &BasisTable::default(),
        )
        .unwrap();
        assert_eq!(got.channel, Channel::Sms);
        // No valid phone: falls back to email.
        let reach = Reachability {
            phone: false,
            ..ALL_REACH
        };
        let got = choose_channel(
            &offered,
            Some(Channel::Sms),
            reach,
            &c,
            Purpose::CareGaps,
            &BasisTable::default(),
        )
        .unwrap();
        assert_eq!((got.channel, got.preferred), (Channel::Email, false));
    }

    #[test]
    fn refusals_name_their_rules() {
        let c = consents(&[(Channel::Sms, false, Basis::None)]);
        let reach = Reachability {
            email: false,
            ..ALL_REACH
        };
        let refused = choose_channel(
            &[Channel::Sms, Channel::Email],
            None,
            reach,
            &c,
            Purpose::CareGaps,
            &BasisTable::default(),
        )
        .unwrap_err();
        assert_eq!(
            refused,
            [
                (Channel::Sms, "CONSENT_OPTED_OUT"),
                (Channel::Email, "UNREACHABLE_NO_VALID_EMAIL")
            ]
        );
    }

    #[test]
    fn an_opted_out_channel_is_never_chosen() {
        // Every combination of consent states and reachability: the chosen channel always has an allowing consent.
        let states = [
            None,
            Some((true, Basis::None)),
            Some((true, Basis::PriorExpress)),
            Some((true, Basis::Written)),
            Some((false, Basis::None)),
        ];
        for sms in states {
            for email in states {
                for phone in [false, true] {
                    let events: Vec<(Channel, bool, Basis)> = [(Channel::Sms, sms), (Channel::Email, email)]
                        .into_iter()
                        .filter_map(|(c, s)| s.map(|(o, b)| (c, o, b)))
                        .collect();
                    let c = consents(&events);
                    let reach = Reachability { phone, ..ALL_REACH };
                    for purpose in Purpose::ALL {
                        if let Ok(choice) = choose_channel(
                            &[Channel::Sms, Channel::Email],
                            None,
                            reach,
                            &c,
                            purpose,
                            &BasisTable::default(),
                        ) {
                            assert!(matches!(
                                c.decide(choice.channel, purpose),
                                super::super::consent::ConsentDecision::Allowed(_)
                            ));
                            assert!(reach.reaches(choice.channel));
                        }
                    }
                }
            }
        }
    }
}
