//! Frequency caps over a member's outreach history: how many messages may go out in a rolling period.
//!
//! Defaults: the FCC healthcare exemption's one message a day and three a week per provider on phone channels
//! (64.1200(a)(9)), and the Florida, Oklahoma and Maryland limit of three per 24 hours on one subject. Caps are
//! data ([`FrequencyCap`]) so a plan can add its own (for example two emails a week for marketing).

use chrono::{DateTime, Duration, Utc};

use super::consent::Channel;

/// One cap: at most `max` messages within a rolling `window`, counted over some channels and, optionally, only
/// messages on the same subject (audience).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrequencyCap {
    /// Rule id recorded with suppressions.
    pub rule: String,
    /// Most messages allowed in the window (the new one included).
    pub max: u32,
    /// Rolling window.
    pub window: Duration,
    /// Channels counted (and capped).
    pub channels: Vec<Channel>,
    /// Count only messages of the same subject (audience).
    pub same_subject: bool,
    /// States the cap applies to (empty: everywhere).
    pub states: Vec<String>,
}

/// The default caps.
pub fn default_caps() -> Vec<FrequencyCap> {
    let phone = vec![Channel::Sms, Channel::Voice];
    vec![
        FrequencyCap {
            rule: "CAP_HEALTHCARE_1_PER_DAY".into(),
            max: 1,
            window: Duration::hours(24),
            channels: phone.clone(),
            same_subject: false,
            states: Vec::new(),
        },
        FrequencyCap {
            rule: "CAP_HEALTHCARE_3_PER_WEEK".into(),
            max: 3,
            window: Duration::days(7),
            channels: phone.clone(),
            same_subject: false,
            states: Vec::new(),
        },
        FrequencyCap {
            rule: "CAP_STATE_3_PER_24H_SAME_SUBJECT".into(),
            max: 3,
            window: Duration::hours(24),
            channels: phone,
            same_subject: true,
            states: vec!["FL".into(), "OK".into(), "MD".into()],
        },
    ]
}

/// One message already sent to the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// Channel.
    pub channel: Channel,
    /// Subject (the audience it was sent for), if known.
    pub subject: Option<std::sync::Arc<str>>,
}

/// The first cap a new message on `channel` about `subject` at `at` would exceed, given the member's history and
/// state; None when every cap allows it.
pub fn exceeded<'c>(
    caps: &'c [FrequencyCap],
    history: &[SentMessage],
    channel: Channel,
    subject: &str,
    state: Option<&str>,
    at: DateTime<Utc>,
) -> Option<&'c FrequencyCap> {
    caps.iter().find(|cap| {
        if !cap.channels.contains(&channel) {
            return false;
        }
        if !cap.states.is_empty()
            && !state.is_some_and(|s| cap.states.iter().any(|c| c.eq_ignore_ascii_case(s.trim())))
        {
            return false;
        }
        let since = at - cap.window;
        let sent = history
            .iter()
            .filter(|m| {
                m.at > since
                    && m.at <= at
                    && cap.channels.contains(&m.channel)
                    && (!cap.same_subject || m.subject.as_deref() == Some(subject))
            })
            .count() as u32;
        sent + 1 > cap.max
    })
}

/// The earliest time at or after `at` when no cap blocks a new message (history is what it is: nothing new is
/// sent meanwhile), or None if a cap's `max` is 0.
pub fn earliest_allowed(
    caps: &[FrequencyCap],
    history: &[SentMessage],
    channel: Channel,
    subject: &str,
    state: Option<&str>,
    at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut t = at;
    // Each step moves past the oldest message that still counts for a blocking cap: at most one step per message.
    for _ in 0..=history.len() {
        let Some(cap) = exceeded(caps, history, channel, subject, state, t) else {
            return Some(t);
        };
        if cap.max == 0 {
            return None;
        }
        let since = t - cap.window;
        let oldest = history
            .iter()
            .filter(|m| {
                m.at > since
                    && m.at <= t
                    && cap.channels.contains(&m.channel)
                    && (!cap.same_subject || m.subject.as_deref() == Some(subject))
            })
            .map(|m| m.at)
            .min()?;
        t = oldest + cap.window + Duration::microseconds(1);
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    fn sms(day: u32, hour: u32, subject: &str) -> SentMessage {
        SentMessage {
            at: at(day, hour),
            channel: Channel::Sms,
            subject: Some(subject.into()),
        }
    }

    #[test]
    fn one_a_day_and_three_a_week() {
        let caps = default_caps();
        let history = vec![sms(20, 15, "recall")];
        let hit = exceeded(&caps, &history, Channel::Sms, "recall", Some("NY"), at(21, 10));
        assert_eq!(hit.map(|c| c.rule.as_str()), Some("CAP_HEALTHCARE_1_PER_DAY"));
        assert!(exceeded(&caps, &history, Channel::Sms, "recall", Some("NY"), at(21, 16)).is_none());
        assert!(exceeded(&caps, &history, Channel::Email, "recall", Some("NY"), at(21, 10)).is_none());
        let week = vec![sms(17, 9, "a"), sms(19, 9, "b"), sms(21, 9, "c")];
        let hit = exceeded(&caps, &week, Channel::Voice, "d", None, at(23, 9));
        assert_eq!(hit.map(|c| c.rule.as_str()), Some("CAP_HEALTHCARE_3_PER_WEEK"));
        assert_eq!(
            earliest_allowed(&caps, &week, Channel::Voice, "d", None, at(23, 9)),
            Some(at(24, 9) + Duration::microseconds(1))
        );
    }

    #[test]
    fn state_cap_counts_one_subject() {
        let mut caps = default_caps();
        caps.retain(|c| c.same_subject);
        let history = vec![sms(23, 9, "recall"), sms(23, 10, "recall"), sms(23, 11, "recall")];
        assert!(exceeded(&caps, &history, Channel::Sms, "recall", Some("FL"), at(23, 12)).is_some());
        assert!(exceeded(&caps, &history, Channel::Sms, "reminder", Some("FL"), at(23, 12)).is_none());
        assert!(exceeded(&caps, &history, Channel::Sms, "recall", Some("NY"), at(23, 12)).is_none());
    }

    #[test]
    fn sending_at_the_earliest_allowed_time_never_exceeds_a_cap() {
        // Simulate greedy sending: each message goes out at the earliest allowed time; no cap is ever exceeded.
        let caps = default_caps();
        for state in ["FL", "TX"] {
            let mut history: Vec<SentMessage> = Vec::new();
            let mut t = at(1, 8);
            for i in 0..40 {
                let channel = if i % 3 == 0 { Channel::Voice } else { Channel::Sms };
                let subject = if i % 2 == 0 { "recall" } else { "reminder" };
                let when = earliest_allowed(&caps, &history, channel, subject, Some(state), t).unwrap();
                assert!(exceeded(&caps, &history, channel, subject, Some(state), when).is_none());
                history.push(SentMessage {
                    at: when,
                    channel,
                    subject: Some(subject.into()),
                });
                for cap in &caps {
                    for m in &history {
                        let n = history
                            .iter()
                            .filter(|x| {
                                x.at > m.at - cap.window && x.at <= m.at && cap.channels.contains(&x.channel)
                            })
                            .filter(|x| !cap.same_subject || x.subject == m.subject)
                            .count() as u32;
                        let applies = cap.states.is_empty() || cap.states.iter().any(|s| s == state);
                        assert!(
                            !applies || !cap.channels.contains(&m.channel) || n <= cap.max,
                            "{} broken",
                            cap.rule
                        );
                    }
                }
                t = when + Duration::hours(3);
            }
        }
    }
}
