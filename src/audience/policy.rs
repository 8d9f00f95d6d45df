//! The policy decision for one member in one audience: send (on which channel, in which window) or suppress
//! (with the rule that did it). Rules apply in a fixed order so the recorded rule is the first that bites:
//! deceased, do-not-contact, holdout, channel (reachability and consent), time zone, quiet hours and caps.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Write as _;

use foldhash::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::caps::{earliest_allowed, exceeded, SentMessage, Subject};
use super::channel::{choose_channel, Reachability};
use super::consent::{Basis, Channel, MemberConsents};
use super::definition::{held_out, Audience};
use super::quiet_hours::{allowed_hours, next_window, SendWindow};
use super::rules::OutreachRules;

/// What the policy knows about a member.
#[derive(Debug, Clone, Copy)]
pub struct MemberContext<'a> {
    /// carelake member id.
    pub member_id: &'a str,
    /// A death is on record.
    pub deceased: bool,
    /// The member asked never to be contacted (an opt-out of every channel and purpose counts too).
    pub do_not_contact: bool,
    /// State of the address (two letters).
    pub state: Option<&'a str>,
    /// Time zone of the address.
    pub time_zone: Option<Tz>,
    /// Where the member can be reached.
    pub reach: Reachability,
    /// Preferred channel.
    pub preferred: Option<Channel>,
    /// Consents.
    pub consents: &'a MemberConsents,
    /// Messages already sent.
    pub history: &'a [SentMessage],
    /// The number the history gives messages of the audience decided for (None: none was ever sent).
    pub subject: Option<Subject>,
}

/// The outcome for one member.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Send on this channel.
    Send {
        /// Channel.
        channel: Channel,
        /// Consent basis on record.
        basis: Basis,
        /// The send window (phone channels; None: no quiet hours apply).
        window: Option<SendWindow>,
        /// The local date the message goes out on (part of the idempotency key).
        local_send_date: NaiveDate,
    },
    /// Leave the member out.
    Suppress {
        /// Rule id (e.g. CONSENT_OPTED_OUT, QUIET_HOURS_FL, CAP_HEALTHCARE_1_PER_DAY).
        rule: Cow<'static, str>,
        /// Readable detail (rules and channels only, no patient values).
        detail: Cow<'static, str>,
    },
}

/// A suppression. Most rules and details are fixed texts, borrowed: nearly every member of a marketing audience
/// is suppressed (10M at 10M members), and an allocation for each would be most of deciding.
fn suppress(rule: impl Into<Cow<'static, str>>, detail: impl Into<Cow<'static, str>>) -> Decision {
    Decision::Suppress {
        rule: rule.into(),
        detail: detail.into(),
    }
}

/// "no channel allowed (sms: CONSENT_NONE; email: UNREACHABLE_NO_VALID_EMAIL)": every channel offered and the
/// rule that refused it. The same few lists come back for millions of members (nearly every member of a
/// marketing audience without ad consent), so each thread writes a list's text once and borrows it after: the
/// formatting and an allocation per member were a tenth of deciding at 10M members.
fn refusal_detail(refused: &[(Channel, &'static str)]) -> Cow<'static, str> {
    /// Lists whose text a thread keeps: far more than audiences' channels and rules can combine to in one run;
    /// past it, texts are written afresh (nothing grows without bound in a long-lived process).
    const KEPT: usize = 256;
    thread_local! {
        static WRITTEN: RefCell<HashMap<Vec<(Channel, &'static str)>, &'static str>> =
            RefCell::new(HashMap::default());
    }
    WRITTEN.with_borrow_mut(|written| {
        if let Some(text) = written.get(refused) {
            return Cow::Borrowed(*text);
        }
        let text = write_refusal(refused);
        if written.len() >= KEPT {
            return Cow::Owned(text);
        }
        let text: &'static str = Box::leak(text.into_boxed_str());
        written.insert(refused.to_vec(), text);
        Cow::Borrowed(text)
    })
}

/// The text of [`refusal_detail`].
fn write_refusal(refused: &[(Channel, &'static str)]) -> String {
    let mut detail = String::with_capacity(24 + 28 * refused.len());
    detail.push_str("no channel allowed (");
    for (i, (channel, rule)) in refused.iter().enumerate() {
        let separator = if i == 0 { "" } else { "; " };
        let _ = write!(detail, "{separator}{channel}: {rule}");
    }
    detail.push(')');
    detail
}

/// Decide for one member of `audience` at `now`.
pub fn decide(
    audience: &Audience,
    member: &MemberContext<'_>,
    rules: &OutreachRules,
    now: DateTime<Utc>,
) -> Decision {
    if member.deceased {
        return suppress("DECEASED", "a date of death is on record");
    }
    if member.do_not_contact {
        return suppress("DO_NOT_CONTACT", "the member asked not to be contacted");
    }
    if held_out(&audience.name, member.member_id, audience.holdout) {
        return suppress(
            "HOLDOUT",
            format!("in the audience's {:.0}% holdout group", audience.holdout * 100.0),
        );
    }
    let choice = match choose_channel(
        &audience.channels,
        member.preferred,
        member.reach,
        member.consents,
        audience.purpose,
        &rules.basis,
    ) {
        Ok(c) => c,
        Err(refused) => return suppress(refused[0].1, refusal_detail(&refused)),
    };
    if !choice.channel.is_phone() {
        // No quiet hours off the phone, but a plan's own caps (two emails a week, say) still apply.
        if let Some(cap) = exceeded(
            &rules.caps,
            member.history,
            choice.channel,
            member.subject,
            member.state,
            now,
        ) {
            return suppress(
                cap.rule.clone(),
                format!(
                    "{} already reached the cap of {} in its window",
                    choice.channel, cap.max
                ),
            );
        }
        let local = member
            .time_zone
            .map_or(now.date_naive(), |tz| now.with_timezone(&tz).date_naive());
        return Decision::Send {
            channel: choice.channel,
            basis: choice.basis,
            window: None,
            local_send_date: local,
        };
    }
    let Some(tz) = member.time_zone else {
        return suppress(
            "TIME_ZONE_UNKNOWN",
            format!(
                "no time zone for the address, so quiet hours cannot be kept on {}",
                choice.channel
            ),
        );
    };
    let hours = allowed_hours(member.state);
    let mut window = next_window(now, &tz, hours);
    // Move past frequency caps: the first window in which no cap blocks the message (a few days at most).
    let mut clear = false;
    for _ in 0..16 {
        match earliest_allowed(
            &rules.caps,
            member.history,
            choice.channel,
            member.subject,
            member.state,
            window.utc_start,
        ) {
            None => {
                return suppress(
                    "CAP_ZERO",
                    format!("a frequency cap allows no {} message", choice.channel),
                )
            }
            Some(t) if t < window.utc_end => {
                window = next_window(t, &tz, hours);
                clear = true;
                break;
            }
            Some(t) => window = next_window(t, &tz, hours),
        }
    }
    if !clear {
        return suppress(
            "CAP_NO_WINDOW",
            format!(
                "frequency caps leave no {} window in the next days",
                choice.channel
            ),
        );
    }
    Decision::Send {
        channel: choice.channel,
        basis: choice.basis,
        window: Some(window),
        local_send_date: window.local_start.date(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::consent::{ConsentEvent, ConsentScope, Purpose};
    use super::super::quiet_hours::{is_allowed, parse_zone};
    use super::*;
    use chrono::{Duration, TimeZone};

    fn audience(holdout: f64) -> Audience {
        Audience {
            name: "colorectal_recall".into(),
            sql: "select member_id from care_gaps".into(),
            purpose: Purpose::CareGaps,
            channels: vec![Channel::Sms, Channel::Email],
            destinations: vec!["text".into()],
            exclude: Vec::new(),
            priority: None,
            holdout,
        }
    }

    fn opted_in(channels: &[Channel]) -> MemberConsents {
        let mut events: Vec<ConsentEvent> = channels
            .iter()
            .map(|c| ConsentEvent {
                channel: *c,
                scope: ConsentScope::All,
                opt_in: true,
                basis: Basis::PriorExpress,
                at: 0,
                other_contact: false,
            })
            .collect();
        MemberConsents::from_events(&mut events)
    }

    fn member<'a>(consents: &'a MemberConsents, history: &'a [SentMessage]) -> MemberContext<'a> {
        MemberContext {
            member_id: "MBR-1",
            deceased: false,
            do_not_contact: false,
            state: Some("FL"),
            time_zone: parse_zone("America/New_York"),
            reach: Reachability {
                phone: true,
                email: true,
                mail: true,
            },
            preferred: None,
            consents,
            history,
            subject: recall(),
        }
    }

    /// The subject number of the test audience's messages.
    fn recall() -> Option<Subject> {
        Subject::nth(0)
    }

    #[test]
    fn sends_inside_the_state_window_after_caps() {
        let consents = opted_in(&[Channel::Sms]);
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 2, 0, 0).unwrap(); // 21:00 in New York
        let history = vec![SentMessage::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap(),
            Channel::Sms,
            Subject::nth(1),
        )];
        let d = decide(
            &audience(0.0),
            &member(&consents, &history),
            &OutreachRules::default(),
            now,
        );
        let Decision::Send {
            channel,
            window: Some(w),
            ..
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(channel, Channel::Sms);
        // Next morning 8:00 is less than 24 h after the last text (15:00 UTC): the window starts at 15:00 UTC.
        assert!(w.utc_start > Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap());
        assert_eq!(w.rule, "QUIET_HOURS_FL");
        assert!(is_allowed(
            w.utc_start,
            &parse_zone("America/New_York").unwrap(),
            allowed_hours(Some("FL"))
        ));
    }

    #[test]
    fn a_refusal_names_every_channel_offered_and_its_rule_in_order() {
        let none = MemberConsents::default();
        let mut m = member(&none, &[]);
        m.reach.email = false;
        let d = decide(&audience(0.0), &m, &OutreachRules::default(), Utc::now());
        let Decision::Suppress { rule, detail } = d else {
            panic!("{d:?}")
        };
        assert_eq!(rule, "CONSENT_NONE");
        assert_eq!(
            detail,
            "no channel allowed (sms: CONSENT_NONE; email: UNREACHABLE_NO_VALID_EMAIL)"
        );
        assert_eq!(
            refusal_detail(&[(Channel::Ads, "CONSENT_NONE")]),
            "no channel allowed (ads: CONSENT_NONE)"
        );
    }

    #[test]
    fn refusal_texts_are_written_once_per_list_and_right_past_the_kept_ones() {
        let first = [
            (Channel::Sms, "CONSENT_NONE"),
            (Channel::Email, "CONSENT_OPTED_OUT"),
        ];
        let (a, b) = (refusal_detail(&first), refusal_detail(&first));
        assert!(matches!((&a, &b), (Cow::Borrowed(x), Cow::Borrowed(y)) if std::ptr::eq(*x, *y)));
        assert_eq!(
            a,
            "no channel allowed (sms: CONSENT_NONE; email: CONSENT_OPTED_OUT)"
        );
        // More lists than a thread keeps: each still gets its own text.
        const RULES: [&str; 8] = ["R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7"];
        for c in Channel::ALL {
            for r in RULES {
                for d in Channel::ALL {
                    for q in RULES {
                        let list = [(c, r), (d, q)];
                        assert_eq!(refusal_detail(&list), write_refusal(&list));
                        assert_eq!(
                            refusal_detail(&list),
                            format!("no channel allowed ({c}: {r}; {d}: {q})")
                        );
                    }
                }
            }
        }
        assert!(matches!(refusal_detail(&first), Cow::Borrowed(_)));
    }

    #[test]
    fn suppression_rules_in_order() {
        let consents = opted_in(&[Channel::Sms]);
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        let rule = |m: &MemberContext<'_>, a: &Audience| match decide(a, m, &OutreachRules::default(), now) {
            Decision::Suppress { rule, .. } => rule,
            other => panic!("{other:?}"),
        };
        let mut m = member(&consents, &[]);
        m.deceased = true;
        assert_eq!(rule(&m, &audience(0.0)), "DECEASED");
        let mut m = member(&consents, &[]);
        m.time_zone = None;
        assert_eq!(rule(&m, &audience(0.0)), "TIME_ZONE_UNKNOWN");
        let none = MemberConsents::default();
        assert_eq!(rule(&member(&none, &[]), &audience(0.0)), "CONSENT_NONE");
        // A holdout of 99.99% holds this member out.
        assert_eq!(rule(&member(&consents, &[]), &audience(0.9999)), "HOLDOUT");
    }

    #[test]
    fn configured_caps_and_bases_apply_off_the_phone_too() {
        let consents = opted_in(&[Channel::Email]);
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        let mut email_only = audience(0.0);
        email_only.channels = vec![Channel::Email];
        let sent = |days: i64| SentMessage::new(now - Duration::days(days), Channel::Email, None);
        let history = vec![sent(1), sent(3)];
        let m = member(&consents, &history);
        let defaults = OutreachRules::default();
        assert!(matches!(
            decide(&email_only, &m, &defaults, now),
            Decision::Send { .. }
        ));
        let rules = serde_yaml::from_str::<crate::audience::rules::OutreachRulesConfig>(
            "frequency_caps: [{rule: CAP_EMAIL_2_PER_WEEK, max: 2, window_hours: 168, channels: [email]}]",
        )
        .unwrap()
        .rules()
        .unwrap();
        let Decision::Suppress { rule, .. } = decide(&email_only, &m, &rules, now) else {
            panic!("the email cap should bite");
        };
        assert_eq!(rule, "CAP_EMAIL_2_PER_WEEK");
        assert!(matches!(
            decide(&email_only, &member(&consents, &[sent(1), sent(9)]), &rules, now),
            Decision::Send { .. }
        ));
        // The consent on record is prior express; a plan asking for written consent on email refuses it.
        let written = serde_yaml::from_str::<crate::audience::rules::OutreachRulesConfig>(
            "consent_basis: {care_gaps: {email: written}}",
        )
        .unwrap()
        .rules()
        .unwrap();
        let Decision::Suppress { rule, .. } = decide(&email_only, &member(&consents, &[]), &written, now)
        else {
            panic!("the stricter basis should bite");
        };
        assert_eq!(rule, "CONSENT_BASIS_INSUFFICIENT");
        let mut m = member(&consents, &[]);
        m.do_not_contact = true;
        let Decision::Suppress { rule, .. } = decide(&email_only, &m, &defaults, now) else {
            panic!("do not contact");
        };
        assert_eq!(rule, "DO_NOT_CONTACT");
    }

    #[test]
    fn windows_always_respect_quiet_hours_and_caps() {
        let consents = opted_in(&[Channel::Sms, Channel::Voice]);
        let rules = OutreachRules::default();
        let tz = parse_zone("America/Chicago").unwrap();
        let mut history: Vec<SentMessage> = Vec::new();
        let mut now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        for step in 0..300 {
            let mut m = member(&consents, &history);
            m.time_zone = Some(tz);
            m.state = Some(if step % 2 == 0 { "OK" } else { "TX" });
            let Decision::Send {
                window: Some(w),
                channel,
                ..
            } = decide(&audience(0.0), &m, &rules, now)
            else {
                panic!("expected a send");
            };
            assert!(is_allowed(w.utc_start, &tz, allowed_hours(m.state)));
            assert!(super::super::caps::exceeded(
                &rules.caps,
                &history,
                channel,
                recall(),
                m.state,
                w.utc_start
            )
            .is_none());
            history.push(SentMessage::new(w.utc_start, channel, recall()));
            now += Duration::minutes(391);
        }
    }
}
