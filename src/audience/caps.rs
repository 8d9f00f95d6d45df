//! Frequency caps over a member's outreach history: how many messages may go out in a rolling period.
//!
//! Defaults: the FCC healthcare exemption's one message a day and three a week per provider on phone channels
//! (64.1200(a)(9)), and the Florida, Oklahoma and Maryland limit of three per 24 hours on one subject. Caps are
//! data ([`FrequencyCap`]) so a plan can add its own (for example two emails a week for marketing).

use std::num::NonZeroU32;

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

/// The subject of messages: an audience name, as the number a member's history gives it (numbered from 1, so an
/// optional subject takes four bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subject(NonZeroU32);

impl Subject {
    /// The `index`-th subject (from 0); None past the last number a subject can have.
    pub fn nth(index: usize) -> Option<Subject> {
        u32::try_from(index)
            .ok()
            .and_then(|i| i.checked_add(1))
            .and_then(NonZeroU32::new)
            .map(Subject)
    }
}

/// One outbound message already sent, or tried, to the member. Sixteen bytes: a ledger holds one for each of the
/// millions of messages in `communications`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentMessage {
    /// When it was sent, in microseconds since the epoch; taken from a `DateTime`, so it always converts back.
    at: i64,
    /// Subject (the audience it was sent for), if known.
    pub subject: Option<Subject>,
    /// Channel.
    pub channel: Channel,
    /// It counts against frequency caps: it was queued, delivered or replied to.
    pub counted: bool,
    /// Its delivery failed.
    pub failed: bool,
}

impl SentMessage {
    /// A message sent at `at` that counts against caps.
    pub fn new(at: DateTime<Utc>, channel: Channel, subject: Option<Subject>) -> Self {
        SentMessage {
            at: at.timestamp_micros(),
            subject,
            channel,
            counted: true,
            failed: false,
        }
    }

    /// When it was sent.
    pub fn at(&self) -> DateTime<Utc> {
        // Always Some: the value came from a DateTime (see `new`).
        DateTime::from_timestamp_micros(self.at).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// When it was sent, in microseconds since the epoch.
    pub fn at_micros(&self) -> i64 {
        self.at
    }

    /// Whether `cap` counts it toward a new message about `subject` (None: a subject no message was sent for) in
    /// the cap's window `(since, until]` (see [`window_micros`]).
    fn counts_for(&self, cap: &FrequencyCap, subject: Option<Subject>, (since, until): (i64, i64)) -> bool {
        self.counted
            && self.at > since
            && self.at <= until
            && cap.channels.contains(&self.channel)
            && (!cap.same_subject || (subject.is_some() && self.subject == subject))
    }
}

/// The window of `cap` that ends at `at`, `(start, end]` in microseconds: computed once per cap, not per message.
fn window_micros(cap: &FrequencyCap, at: DateTime<Utc>) -> (i64, i64) {
    ((at - cap.window).timestamp_micros(), at.timestamp_micros())
}

/// The first cap a new message on `channel` about `subject` at `at` would exceed, given the member's history and
/// state; None when every cap allows it. `subject` is the number the history gives the message's audience (None:
/// no message of the history was sent for it).
pub fn exceeded<'c>(
    caps: &'c [FrequencyCap],
    history: &[SentMessage],
    channel: Channel,
    subject: Option<Subject>,
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
        let window = window_micros(cap, at);
        let sent = history
            .iter()
            .filter(|m| m.counts_for(cap, subject, window))
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
    subject: Option<Subject>,
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
        let window = window_micros(cap, t);
        let oldest = history
            .iter()
            .filter(|m| m.counts_for(cap, subject, window))
            .map(SentMessage::at)
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

    /// The subject number of a name, as a ledger would give it.
    fn subject(name: &str) -> Option<Subject> {
        let names = ["recall", "reminder", "a", "b", "c", "d"];
        Subject::nth(names.iter().position(|n| *n == name)?)
    }

    fn sms(day: u32, hour: u32, name: &str) -> SentMessage {
        SentMessage::new(at(day, hour), Channel::Sms, subject(name))
    }

    /// The rule of the first cap a new message on `channel` about `name` in `state` at `at` would exceed.
    fn cap_hit<'c>(
        caps: &'c [FrequencyCap],
        history: &[SentMessage],
        channel: Channel,
        (name, state): (&str, Option<&str>),
        at: DateTime<Utc>,
    ) -> Option<&'c str> {
        exceeded(caps, history, channel, subject(name), state, at).map(|c| c.rule.as_str())
    }

    #[test]
    fn one_a_day_and_three_a_week() {
        let caps = default_caps();
        let history = vec![sms(20, 15, "recall")];
        let recall_ny = ("recall", Some("NY"));
        assert_eq!(
            cap_hit(&caps, &history, Channel::Sms, recall_ny, at(21, 10)),
            Some("CAP_HEALTHCARE_1_PER_DAY")
        );
        assert_eq!(
            cap_hit(&caps, &history, Channel::Sms, recall_ny, at(21, 16)),
            None
        );
        assert_eq!(
            cap_hit(&caps, &history, Channel::Email, recall_ny, at(21, 10)),
            None
        );
        let week = vec![sms(17, 9, "a"), sms(19, 9, "b"), sms(21, 9, "c")];
        assert_eq!(
            cap_hit(&caps, &week, Channel::Voice, ("d", None), at(23, 9)),
            Some("CAP_HEALTHCARE_3_PER_WEEK")
        );
        assert_eq!(
            earliest_allowed(&caps, &week, Channel::Voice, subject("d"), None, at(23, 9)),
            Some(at(24, 9) + Duration::microseconds(1))
        );
    }

    #[test]
    fn failed_messages_and_messages_without_a_subject_count_only_where_they_should() {
        let caps = default_caps();
        let mut failed = sms(20, 15, "recall");
        (failed.counted, failed.failed) = (false, true);
        assert_eq!(
            cap_hit(&caps, &[failed], Channel::Sms, ("recall", None), at(21, 10)),
            None
        );
        let mut state_caps = caps.clone();
        state_caps.retain(|c| c.same_subject);
        let untitled = vec![SentMessage::new(at(23, 9), Channel::Sms, None); 3];
        assert!(
            exceeded(&state_caps, &untitled, Channel::Sms, None, Some("FL"), at(23, 12)).is_none(),
            "messages without a subject share none"
        );
        assert!(exceeded(&caps, &untitled, Channel::Sms, None, Some("FL"), at(23, 12)).is_some());
        assert_eq!(untitled[0].at(), at(23, 9));
        assert_eq!(Subject::nth(u32::MAX as usize), None);
        assert_eq!(
            std::mem::size_of::<SentMessage>(),
            16,
            "one per message in a ledger"
        );
    }

    #[test]
    fn state_cap_counts_one_subject() {
        let mut caps = default_caps();
        caps.retain(|c| c.same_subject);
        let history = vec![sms(23, 9, "recall"), sms(23, 10, "recall"), sms(23, 11, "recall")];
        let noon = at(23, 12);
        assert!(cap_hit(&caps, &history, Channel::Sms, ("recall", Some("FL")), noon).is_some());
        assert_eq!(
            cap_hit(&caps, &history, Channel::Sms, ("reminder", Some("FL")), noon),
            None
        );
        assert_eq!(
            cap_hit(&caps, &history, Channel::Sms, ("recall", Some("NY")), noon),
            None
        );
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
                let subject = subject(if i % 2 == 0 { "recall" } else { "reminder" });
                let when = earliest_allowed(&caps, &history, channel, subject, Some(state), t).unwrap();
                assert!(exceeded(&caps, &history, channel, subject, Some(state), when).is_none());
                history.push(SentMessage::new(when, channel, subject));
                for cap in &caps {
                    for m in &history {
                        let n = history
                            .iter()
                            .filter(|x| {
                                x.at() > m.at() - cap.window
                                    && x.at() <= m.at()
                                    && cap.channels.contains(&x.channel)
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
