//! Tests of the consent ledger: the latest delivery of an audience deciding a retry, opt-ins counting for the
//! current phone or email only, and inputs read as dictionaries giving the same ledger as plain text.

use super::*;
use crate::audience::contact_points::NoContacts;

#[test]
fn the_latest_delivery_of_an_audience_decides_a_retry_and_a_failure_wins_a_tie() {
    let batch = outbound_texts(&[
        ("recall", "failed", "", 10),
        ("recall", "delivered", "", 20),
        ("reminder", "delivered", "", 30),
        ("reminder", "failed", "", 30),
        ("recall", "failed", "", 5),
        // The same tie read the other way round.
        ("reminder", "failed", "", 40),
        ("reminder", "delivered", "", 40),
    ]);
    let mut builder = LedgerBuilder::default();
    builder
        .add_communications(
            &batch,
            &[Some(7), Some(7), Some(7), Some(7), Some(2), Some(3), Some(3)],
            100,
        )
        .unwrap();
    let ledger = builder.finish(&NoContacts);
    assert!(!ledger.failed_after(7, "recall", 0), "delivered after it failed");
    assert!(
        ledger.failed_after(7, "reminder", 25),
        "a tie: the failure counts"
    );
    assert!(
        ledger.failed_after(3, "reminder", 35),
        "a tie read the other way: the failure still counts"
    );
    assert!(
        !ledger.failed_after(7, "reminder", 30),
        "not after the given time"
    );
    assert!(ledger.failed_after(2, "recall", 0));
    assert!(!ledger.failed_after(2, "reminder", 0));
    assert!(!ledger.failed_after(7, "unknown", 0));
    // Sent messages count against caps; failed ones do not. Members share the audience's number.
    let counted: Vec<_> = ledger
        .history_of(7)
        .iter()
        .filter(|m| m.counted)
        .map(|m| m.subject)
        .collect();
    assert_eq!(counted, [ledger.subject("recall"), ledger.subject("reminder")]);
    assert!(ledger.subject("recall").is_some() && ledger.subject("recall") != ledger.subject("reminder"));
    assert!(ledger.history_of(2).iter().all(|m| !m.counted && m.failed));
}

#[test]
fn communications_read_as_dictionaries_make_the_same_ledger_as_plain_text() {
    let rows: Vec<CommunicationRow<'static>> = (0..40)
        .map(|i: i64| {
            let pick = |options: &[&'static str]| options[i as usize % options.len()];
            let audience = [Some("recall"), None, Some("reminder"), Some(""), Some("recall")][i as usize % 5];
            let (direction, keyword) = match i % 7 {
                0 => ("inbound", pick(&["STOP", "stop all", "hello"])),
                _ => ("outbound", ""),
            };
            let status = pick(&["delivered", "failed", "queued", "opted_out", "replied", "sent"]);
            (
                pick(&["sms", "email", "fax", "voice"]),
                direction,
                status,
                audience,
                keyword,
                10 * i,
            )
        })
        .collect();
    let members: Vec<Option<u32>> = (0..rows.len() as u32)
        .map(|i| (i % 11 != 3).then_some(i % 10))
        .collect();
    let ledger = |as_dictionary: bool| {
        let mut builder = LedgerBuilder::default();
        let batch = communications_batch(&rows, as_dictionary);
        builder.add_communications(&batch, &members, 300).unwrap();
        builder.finish(&NoContacts)
    };
    let (plain, dictionary) = (ledger(false), ledger(true));
    for member in 0..10 {
        assert_eq!(
            plain.history_of(member),
            dictionary.history_of(member),
            "member {member}"
        );
        assert_eq!(
            plain.do_not_contact(member),
            dictionary.do_not_contact(member),
            "member {member}"
        );
        assert_eq!(
            format!("{:?}", plain.consents_of(member)),
            format!("{:?}", dictionary.consents_of(member)),
            "member {member}"
        );
    }
    for audience in ["recall", "reminder", ""] {
        assert_eq!(
            plain.subject(audience),
            dictionary.subject(audience),
            "{audience}"
        );
    }
    assert!(plain.subject("recall").is_some() && plain.subject("").is_none());
    assert!(
        (0..10).any(|m| !plain.history_of(m).is_empty()),
        "some messages count"
    );
}

/// Member 0 has a phone and an email; member 1 has neither.
struct Contacts;

impl CurrentContacts for Contacts {
    fn phone(&self, member: u32) -> Option<&str> {
        (member == 0).then_some("+15552345678")
    }
    fn email(&self, member: u32) -> Option<&str> {
        (member == 0).then_some("pat@example.org")
    }
}

/// A consents batch of (channel, purpose, status, contact point, captured at) rows with a prior express basis.
fn consents_batch(rows: &[(&str, &str, &str, Option<&str>, i64)]) -> RecordBatch {
    use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
    use std::sync::Arc;
    let text = |values: Vec<Option<&str>>| Arc::new(StringArray::from(values)) as ArrayRef;
    RecordBatch::try_from_iter([
        ("channel", text(rows.iter().map(|r| Some(r.0)).collect())),
        ("purpose", text(rows.iter().map(|r| Some(r.1)).collect())),
        ("status", text(rows.iter().map(|r| Some(r.2)).collect())),
        ("basis", text(vec![Some("prior_express"); rows.len()])),
        ("contact_point", text(rows.iter().map(|r| r.3).collect())),
        (
            "captured_at",
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|r| r.4),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
}

#[test]
fn an_opt_in_counts_for_the_current_phone_or_email_only_and_an_opt_out_for_any() {
    use super::super::consent::ConsentDecision;
    // The current number in another format, an old number, the current email in another case and padded,
    // an old email, and a voice opt-in with no contact point.
    let batch = consents_batch(&[
        ("sms", "care_gaps", "opt_in", Some("(555) 234-5678"), 10),
        ("sms", "care_reminders", "opt_in", Some("555-999-0000"), 10),
        ("email", "care_gaps", "opt_in", Some(" Pat@Example.ORG "), 10),
        (
            "email",
            "care_reminders",
            "opt_in",
            Some("pat@old.example.org"),
            10,
        ),
        ("voice", "all", "opt_in", None, 10),
        ("all", "all", "opt_in", Some("+1 555 234 5678"), 10),
        ("sms", "care_gaps", "opt_in", Some("5552345678"), 10),
    ]);
    let members = [Some(0), Some(0), Some(0), Some(0), Some(0), Some(1), Some(1)];
    let mut builder = LedgerBuilder::default();
    builder.add_consent_rows(ConsentRows::read(&batch, &members, 100).unwrap());
    let ledger = builder.finish(&Contacts);
    let c = ledger.consents_of(0);
    let allowed = ConsentDecision::Allowed(Basis::PriorExpress);
    assert_eq!(c.decide(Channel::Sms, Purpose::CareGaps), allowed);
    assert_eq!(
        c.decide(Channel::Sms, Purpose::CareReminders),
        ConsentDecision::OtherContactPoint
    );
    assert_eq!(c.decide(Channel::Email, Purpose::CareGaps), allowed);
    assert_eq!(
        c.decide(Channel::Email, Purpose::CareReminders),
        ConsentDecision::OtherContactPoint
    );
    assert_eq!(c.decide(Channel::Voice, Purpose::CareGaps), allowed);
    // A member with no phone or email: opt-ins naming one cover nothing that reaches by phone or email;
    // mail and ads are consented to as channels.
    let c = ledger.consents_of(1);
    for channel in [Channel::Sms, Channel::Voice, Channel::Email] {
        assert_eq!(
            c.decide(channel, Purpose::CareGaps),
            ConsentDecision::OtherContactPoint
        );
    }
    assert_eq!(
        c.decide(Channel::Mail, Purpose::CareGaps),
        ConsentDecision::Allowed(Basis::PriorExpress)
    );

    // An opt-out naming an old number still stops texts to the current one, and a do-not-contact request is
    // not lifted by a later opt-in for another number.
    let batch = consents_batch(&[
        ("sms", "care_gaps", "opt_in", Some("+15552345678"), 10),
        ("sms", "all", "opt_out", Some("555-999-0000"), 20),
        ("all", "all", "opt_out", None, 30),
        ("sms", "care_gaps", "opt_in", Some("555-999-0000"), 40),
    ]);
    let mut builder = LedgerBuilder::default();
    builder.add_consent_rows(ConsentRows::read(&batch, &[Some(0); 4], 100).unwrap());
    let ledger = builder.finish(&Contacts);
    assert_eq!(
        ledger.consents_of(0).decide(Channel::Sms, Purpose::CareGaps),
        ConsentDecision::OptedOut(30)
    );
    assert!(ledger.do_not_contact(0));
}

#[test]
fn consents_read_as_dictionaries_give_the_same_rows_as_plain_text() {
    use arrow::array::{Array, ArrayRef, StringArray, TimestampMicrosecondArray};
    use std::sync::Arc;
    let channels = ["sms", "all", "email", "voice", "mail", "ads"];
    let purposes = ["care_gaps", "all", "marketing", "care_reminders", "billing"];
    let statuses = ["opt_in", "opt_out"];
    let bases = [
        Some("written"),
        None,
        Some("prior_express"),
        Some(""),
        Some("none"),
    ];
    let contacts = [
        Some("+15552345678"),
        None,
        Some("pat@example.org"),
        Some("not a phone"),
    ];
    let rows = 60usize;
    let column = |values: Vec<Option<&str>>, as_dictionary: bool| -> ArrayRef {
        let plain: ArrayRef = Arc::new(StringArray::from(values));
        match as_dictionary {
            true => arrow::compute::cast(&plain, &crate::lake::text_dictionary_type()).unwrap(),
            false => plain,
        }
    };
    let batch = |channel: &[&str], as_dictionary: bool| {
        // Row i takes option i / every: purposes change every 12 rows, statuses every 6 (as channels cycle).
        let pick = |options: &[Option<&'static str>], every: usize| -> Vec<Option<&'static str>> {
            (0..rows).map(|i| options[(i / every) % options.len()]).collect()
        };
        let some = |options: &[&'static str]| options.iter().map(|&o| Some(o)).collect::<Vec<_>>();
        let channel: Vec<Option<&str>> = (0..rows).map(|i| Some(channel[i % channel.len()])).collect();
        RecordBatch::try_from_iter([
            ("channel", column(channel, as_dictionary)),
            ("purpose", column(pick(&some(&purposes), 12), as_dictionary)),
            ("status", column(pick(&some(&statuses), 6), as_dictionary)),
            ("basis", column(pick(&bases, 1), as_dictionary)),
            ("contact_point", column(pick(&contacts, 1), as_dictionary)),
            (
                "captured_at",
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    (0..rows as i64).map(|i| i * 10),
                )) as ArrayRef,
            ),
        ])
        .unwrap()
    };
    // Every ninth row is of no member; rows after 500 are after the as-of time.
    let members: Vec<Option<u32>> = (0..rows as u32).map(|i| (i % 9 != 4).then_some(i % 6)).collect();
    let read = |b: &RecordBatch| format!("{:?}", ConsentRows::read(b, &members, 500).unwrap());
    let plain = read(&batch(&channels, false));
    assert_eq!(plain, read(&batch(&channels, true)));
    assert!(
        plain.contains("do_not_contact: [("),
        "some opt-outs of all channels for all purposes: {plain}"
    );
    let without_basis = batch(&channels, false)
        .column_by_name("basis")
        .unwrap()
        .null_count();
    assert!(without_basis > 0, "some rows have no basis");

    // An unknown value is an error both ways, and only when a row of it is read.
    for as_dictionary in [false, true] {
        let err = ConsentRows::read(&batch(&["sms", "fax"], as_dictionary), &members, 500).unwrap_err();
        assert!(err.to_string().contains("unknown channel"), "{err}");
        let unread = [Some(0), None];
        let two = batch(&["sms", "fax"], as_dictionary).slice(0, 2);
        assert!(ConsentRows::read(&two, &unread, 500).is_ok());
    }
}
