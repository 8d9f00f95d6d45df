//! Property tests of the outreach policy: randomized members, consents, histories, time zones and clocks,
//! checked against oracles written here from the rules themselves (not from the code under test), so a wrong
//! rule in the policy and the same wrong rule in a check cannot agree by construction. proptest shrinks a failure
//! to a minimal member before it reports it.
//!
//! The properties are those the outreach rules promise: an opted-out member is never sent to; a send goes out on
//! the first channel (preference first, then the audience's order) the member can be reached on and has
//! consented to; no phone send window falls outside the local hours of the member's state; no frequency cap is
//! exceeded by the message sent at the start of its window; a suppression names a rule that really applies and
//! never a patient value; hashed identifiers do not depend on case or surrounding spaces.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::caps::{SentMessage, Subject};
use super::channel::Reachability;
use super::consent::{Basis, Channel, ConsentEvent, ConsentScope, MemberConsents, Purpose};
use super::definition::Audience;
use super::destinations::{hashed_email, hashed_phone};
use super::policy::{decide, Decision, MemberContext};
use super::quiet_hours::{allowed_hours, next_window, parse_zone};
use super::rules::OutreachRules;

/// Zones with the offsets that trip time arithmetic: US zones with and without daylight saving, half- and
/// quarter-hour offsets, a 30-minute daylight shift (Lord Howe), a negative one (Dublin in the tz database) and
/// transitions at midnight (Santiago).
const ZONES: [&str; 14] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Europe/Dublin",
    "America/Santiago",
    "Pacific/Chatham",
];

/// States as member_profile may hold them (spaces and case included), the four with 8pm windows among them.
const STATES: [&str; 9] = ["FL", "OK", "MD", "WA", "TX", "CA", "NY", " fl ", "wa"];

/// The last local hour (exclusive) phone messages may go out in `state`, by the rule book: 8pm in Florida,
/// Oklahoma, Maryland and Washington, 9pm elsewhere; the day starts at 8am everywhere.
fn oracle_end_hour(state: Option<&str>) -> u32 {
    let strict = ["FL", "OK", "MD", "WA"];
    match state.map(|s| s.trim().to_ascii_uppercase()) {
        Some(s) if strict.contains(&s.as_str()) => 20,
        _ => 21,
    }
}

/// Whether `at` is inside the allowed local hours of `state` in `tz`.
fn oracle_allowed_at(at: DateTime<Utc>, tz: &Tz, state: Option<&str>) -> bool {
    let hour = at.with_timezone(tz).hour();
    (8..oracle_end_hour(state)).contains(&hour)
}

/// The least basis a purpose needs on a channel (TCPA and HIPAA): written for marketing, prior express for
/// other phone messages, an opt-in of any basis otherwise.
fn oracle_least_basis(channel: Channel, purpose: Purpose) -> Basis {
    match (channel, purpose) {
        (_, Purpose::Marketing) => Basis::Written,
        (Channel::Sms | Channel::Voice, _) => Basis::PriorExpress,
        _ => Basis::None,
    }
}

/// The events about `channel` and `purpose`: an opt-in for another contact point is about no one's current
/// phone or email, so it is not among them; an opt-out is, whatever contact point it named.
fn oracle_covering(events: &[ConsentEvent], channel: Channel, purpose: Purpose) -> Vec<&ConsentEvent> {
    events
        .iter()
        .filter(|e| e.channel == channel)
        .filter(|e| matches!(e.scope, ConsentScope::All) || e.scope == ConsentScope::Purpose(purpose))
        .filter(|e| !(e.opt_in && e.other_contact))
        .collect()
}

/// The basis of the consent in force for `channel` and `purpose`, or None when the latest event covering them is
/// an opt-out (an opt-out wins a tie) or there is none. Of opt-ins at the same time, the weakest basis holds.
fn oracle_consent(events: &[ConsentEvent], channel: Channel, purpose: Purpose) -> Option<Basis> {
    let covering = oracle_covering(events, channel, purpose);
    let latest = covering.iter().map(|e| e.at).max()?;
    let at_latest: Vec<&&ConsentEvent> = covering.iter().filter(|e| e.at == latest).collect();
    if at_latest.iter().any(|e| !e.opt_in) {
        return None;
    }
    at_latest.iter().map(|e| e.basis).min()
}

/// Whether `channel` may carry a message of `purpose` to the member: reachable, and consent with enough basis.
fn oracle_channel_allowed(c: &Case, channel: Channel, purpose: Purpose) -> Option<Basis> {
    let reachable = match channel {
        Channel::Sms | Channel::Voice => c.reach.phone,
        Channel::Email => c.reach.email,
        Channel::Mail => c.reach.mail,
        Channel::Ads => c.reach.phone || c.reach.email,
    };
    let basis = oracle_consent(&c.events, channel, purpose)?;
    (reachable && basis >= oracle_least_basis(channel, purpose)).then_some(basis)
}

/// Counted phone messages in the `window` that ends at `at` (`at` included).
fn oracle_phone_messages(history: &[SentMessage], at: DateTime<Utc>, window: Duration) -> usize {
    history
        .iter()
        .filter(|m| m.counted && m.channel.is_phone())
        .filter(|m| m.at() > at - window && m.at() <= at)
        .count()
}

/// Lower-case hex SHA-256 of `text`.
fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One randomized member in one audience at one moment.
#[derive(Debug, Clone)]
struct Case {
    member_id: String,
    deceased: bool,
    do_not_contact: bool,
    state: Option<&'static str>,
    zone: Option<&'static str>,
    reach: Reachability,
    preferred: Option<Channel>,
    events: Vec<ConsentEvent>,
    history: Vec<SentMessage>,
    subject: Option<Subject>,
    channels: Vec<Channel>,
    purpose: Purpose,
    holdout: f64,
    now: DateTime<Utc>,
}

fn channel() -> impl Strategy<Value = Channel> {
    prop::sample::select(Channel::ALL.to_vec())
}

fn purpose() -> impl Strategy<Value = Purpose> {
    prop::sample::select(Purpose::ALL.to_vec())
}

fn basis() -> impl Strategy<Value = Basis> {
    prop::sample::select(vec![Basis::None, Basis::PriorExpress, Basis::Written])
}

fn subject() -> impl Strategy<Value = Option<Subject>> {
    prop::option::of((0usize..3).prop_map(|i| Subject::nth(i).expect("small")))
}

/// Instants from 2024 to 2028, a quarter of them within two days of a US daylight-saving change.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap().timestamp();
    let end = Utc.with_ymd_and_hms(2028, 12, 31, 0, 0, 0).unwrap().timestamp();
    let changes = [(2026, 3, 8), (2026, 11, 1), (2027, 3, 14), (2027, 11, 7)];
    let near_change =
        (prop::sample::select(changes.to_vec()), -172_800i64..172_800).prop_map(|((y, m, d), s)| {
            let day = NaiveDate::from_ymd_opt(y, m, d).expect("a date");
            day.and_hms_opt(7, 0, 0).expect("a time").and_utc() + Duration::seconds(s)
        });
    prop_oneof![
        3 => (start..end).prop_map(|s| DateTime::from_timestamp(s, 0).expect("in range")),
        1 => near_change,
    ]
}

fn event() -> impl Strategy<Value = ConsentEvent> {
    let scope = prop_oneof![Just(ConsentScope::All), purpose().prop_map(ConsentScope::Purpose)];
    // Few distinct times, so ties (an opt-in and an opt-out at once) come up.
    // One in four names a contact point that is not the member's current one.
    let other_contact = prop_oneof![3 => Just(false), 1 => Just(true)];
    (channel(), scope, any::<bool>(), basis(), 0i64..6, other_contact).prop_map(
        |(channel, scope, opt_in, basis, at, other_contact)| ConsentEvent {
            channel,
            scope,
            opt_in,
            basis,
            at: at * 1_000_000,
            other_contact,
        },
    )
}

/// Messages sent in the ten days before `now`, most counted against caps.
fn history(now: DateTime<Utc>) -> impl Strategy<Value = Vec<SentMessage>> {
    let message = (0i64..864_000, channel(), subject(), prop::bool::weighted(0.85)).prop_map(
        move |(ago, channel, subject, counted)| {
            let mut m = SentMessage::new(now - Duration::seconds(ago), channel, subject);
            m.counted = counted;
            m
        },
    );
    prop::collection::vec(message, 0..8)
}

fn case() -> impl Strategy<Value = Case> {
    let who = (
        "[A-Z0-9]{6,12}",
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.05),
        prop::option::weighted(0.9, prop::sample::select(STATES.to_vec())),
        prop::option::weighted(0.9, prop::sample::select(ZONES.to_vec())),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        prop::option::of(channel()),
    );
    let audience = (
        prop::sample::subsequence(Channel::ALL.to_vec(), 1..=Channel::ALL.len()).prop_shuffle(),
        purpose(),
        prop_oneof![4 => Just(0.0), 1 => Just(0.3)],
    );
    (
        who,
        prop::collection::vec(event(), 0..8),
        subject(),
        audience,
        instant(),
    )
        .prop_flat_map(|(who, events, subject, audience, now)| {
            (Just((who, events, subject, audience, now)), history(now))
        })
        .prop_map(|((who, events, subject, audience, now), history)| {
            let (member_id, deceased, do_not_contact, state, zone, (phone, email, mail), preferred) = who;
            let (channels, purpose, holdout) = audience;
            Case {
                member_id: format!("MBR-{member_id}"),
                deceased,
                do_not_contact,
                state,
                zone,
                reach: Reachability { phone, email, mail },
                preferred,
                events,
                history,
                subject,
                channels,
                purpose,
                holdout,
                now,
            }
        })
}

/// The policy's decision for a case, under the default rules.
fn decide_case(c: &Case) -> Decision {
    let audience = Audience {
        name: "care_recall".into(),
        sql: "select member_id from care_gaps".into(),
        purpose: c.purpose,
        channels: c.channels.clone(),
        destinations: vec!["texts".into()],
        exclude: Vec::new(),
        priority: None,
        holdout: c.holdout,
    };
    let consents = MemberConsents::from_events(&mut c.events.clone());
    let member = MemberContext {
        member_id: &c.member_id,
        deceased: c.deceased,
        do_not_contact: c.do_not_contact,
        state: c.state,
        time_zone: c.zone.and_then(parse_zone),
        reach: c.reach,
        preferred: c.preferred,
        consents: &consents,
        history: &c.history,
        subject: c.subject,
    };
    decide(&audience, &member, &OutreachRules::default(), c.now)
}

/// The channels in the order the policy must try them: the preferred one first when the audience offers it.
fn oracle_order(c: &Case) -> Vec<Channel> {
    let preferred = c.preferred.filter(|p| c.channels.contains(p));
    preferred
        .into_iter()
        .chain(c.channels.iter().copied().filter(|ch| Some(*ch) != preferred))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_send_obeys_consent_channel_order_quiet_hours_and_caps(c in case()) {
        let first_allowed = oracle_order(&c)
            .into_iter()
            .find_map(|ch| oracle_channel_allowed(&c, ch, c.purpose).map(|b| (ch, b)));
        match decide_case(&c) {
            Decision::Send { channel, basis, window, local_send_date } => {
                prop_assert!(!c.deceased && !c.do_not_contact);
                // The first channel, in preference order, that reaches the member with consent: an opted-out
                // channel is never used.
                prop_assert_eq!(Some((channel, basis)), first_allowed);
                let tz = c.zone.and_then(parse_zone);
                match window {
                    None => {
                        prop_assert!(!channel.is_phone(), "a phone send has a window");
                        let local = tz.map_or(c.now.date_naive(), |tz| c.now.with_timezone(&tz).date_naive());
                        prop_assert_eq!(local_send_date, local);
                    }
                    Some(w) => {
                        prop_assert!(channel.is_phone(), "only phone sends have quiet hours");
                        let tz = tz.expect("a window needs a zone");
                        prop_assert!(w.utc_start >= c.now && w.utc_start < w.utc_end);
                        prop_assert!(oracle_allowed_at(w.utc_start, &tz, c.state), "start {w:?}");
                        prop_assert!(
                            oracle_allowed_at(w.utc_end - Duration::seconds(1), &tz, c.state),
                            "last second {w:?}"
                        );
                        prop_assert_eq!(local_send_date, w.utc_start.with_timezone(&tz).date_naive());
                        // The message sent at the window's start breaks no cap: one phone message a day, three a
                        // week, and in the strict states three a day on one subject (implied by one a day).
                        prop_assert_eq!(oracle_phone_messages(&c.history, w.utc_start, Duration::hours(24)), 0);
                        prop_assert!(oracle_phone_messages(&c.history, w.utc_start, Duration::days(7)) <= 2);
                    }
                }
            }
            Decision::Suppress { rule, detail } => {
                prop_assert!(!rule.is_empty());
                prop_assert!(rule.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'));
                prop_assert!(!detail.contains(&c.member_id), "a suppression detail names the member");
                match rule.as_ref() {
                    "DECEASED" => prop_assert!(c.deceased),
                    "DO_NOT_CONTACT" => prop_assert!(c.do_not_contact && !c.deceased),
                    "HOLDOUT" => prop_assert!(c.holdout > 0.0),
                    "TIME_ZONE_UNKNOWN" => {
                        prop_assert!(c.zone.is_none());
                        prop_assert!(first_allowed.is_some_and(|(ch, _)| ch.is_phone()));
                    }
                    r if r.starts_with("CONSENT_") || r.starts_with("UNREACHABLE_") => {
                        prop_assert!(!c.deceased && !c.do_not_contact);
                        prop_assert_eq!(first_allowed, None, "refused though a channel was allowed");
                    }
                    // Histories are under ten days old: the caps clear within the windows the policy looks at,
                    // so a member who may be reached is never left out for a cap.
                    other => prop_assert!(false, "unexpected suppression {other}: {detail}"),
                }
            }
        }
    }

    #[test]
    fn the_next_window_is_the_first_allowed_moment_and_stays_allowed(
        now in instant(),
        zone in prop::sample::select(ZONES.to_vec()),
        state in prop::option::of(prop::sample::select(STATES.to_vec())),
    ) {
        let tz = parse_zone(zone).expect("a zone");
        let w = next_window(now, &tz, allowed_hours(state));
        prop_assert!(w.utc_start >= now && w.utc_start < w.utc_end);
        prop_assert_eq!(w.local_start, w.utc_start.with_timezone(&tz).naive_local());
        prop_assert_eq!(w.local_end, w.utc_end.with_timezone(&tz).naive_local());
        // Every minute of the window is allowed, and no minute between now and its start is.
        let mut t = w.utc_start;
        while t < w.utc_end {
            prop_assert!(oracle_allowed_at(t, &tz, state), "{t} inside {w:?}");
            t += Duration::minutes(1);
        }
        let mut t = now;
        while t < w.utc_start {
            prop_assert!(!oracle_allowed_at(t, &tz, state), "{t} allowed before {w:?}");
            t += Duration::minutes(1);
        }
        // The window runs to the end of the allowed hours: the moment it ends is not allowed.
        prop_assert!(!oracle_allowed_at(w.utc_end, &tz, state));
    }

    #[test]
    fn consent_in_force_is_the_latest_event_with_opt_outs_winning_ties(
        (events, shuffled) in prop::collection::vec(event(), 0..12)
            .prop_flat_map(|events| (Just(events.clone()), Just(events).prop_shuffle())),
        ch in channel(),
        p in purpose(),
    ) {
        let consents = MemberConsents::from_events(&mut events.clone());
        // The same records read in another order.
        prop_assert_eq!(&MemberConsents::from_events(&mut shuffled.clone()), &consents);
        let decided = match consents.decide(ch, p) {
            super::consent::ConsentDecision::Allowed(b) | super::consent::ConsentDecision::InsufficientBasis(b) => {
                Some(b)
            }
            _ => None,
        };
        prop_assert_eq!(decided, oracle_consent(&events, ch, p));
        // With no event about the member's current contact point, the refusal says whether one exists for another.
        if oracle_covering(&events, ch, p).is_empty() {
            let elsewhere = events.iter().any(|e| {
                e.channel == ch
                    && e.opt_in
                    && e.other_contact
                    && (matches!(e.scope, ConsentScope::All) || e.scope == ConsentScope::Purpose(p))
            });
            let expected = if elsewhere { "CONSENT_OTHER_CONTACT_POINT" } else { "CONSENT_NONE" };
            prop_assert_eq!(consents.decide(ch, p).rule(), Some(expected));
        }
        // A STOP reply after every event revokes every purpose on that channel.
        let mut stopped = consents.clone();
        stopped.revoke_channel(ch, 10_000_000);
        for q in Purpose::ALL {
            prop_assert_eq!(stopped.decide(ch, q).rule(), Some("CONSENT_OPTED_OUT"));
        }
    }

    #[test]
    fn hashed_identifiers_ignore_case_and_spaces_and_hide_the_value(
        local in "[a-z0-9][a-z0-9._+-]{0,15}",
        domain in "[a-z0-9-]{1,12}\\.[a-z]{2,6}",
        pad in "[ \t]{0,3}",
        upper in any::<bool>(),
        digits in "[1-9][0-9]{7,14}",
    ) {
        let email = format!("{local}@{domain}");
        let variant = if upper { email.to_ascii_uppercase() } else { email.clone() };
        let hashed = hashed_email(&format!("{pad}{variant}{pad}")).expect("a valid email hashes");
        // What the ad platforms match on: SHA-256 of the trimmed lower-case address, in lower-case hex.
        prop_assert_eq!(&hashed, &sha256_hex(&email));
        let phone = hashed_phone(&format!("{pad}+{digits}{pad}")).expect("an E.164 phone hashes");
        // And of the phone's digits with the country code, without the plus sign.
        prop_assert_eq!(&phone, &sha256_hex(&digits));
        // Not E.164: no plus sign, or a leading zero.
        prop_assert_eq!(hashed_phone(&digits), None);
        prop_assert_eq!(hashed_phone(&format!("+0{digits}")), None);
    }
}
