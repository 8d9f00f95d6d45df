//! The consent ledger and outreach history of every member, built from conformed `consents` and
//! `communications` batches (Arrow in), with each row's member already resolved to its member number (the
//! caller's numbering: the audience stage numbers members once, so no look-up here hashes an id string).
//!
//! Consents apply in time order; an inbound reply whose keyword is a revocation per se revokes its channel; only
//! rows captured at or before the run's as-of time count, so an opt-out is honored by the next run. Outbound
//! messages that were queued, delivered or replied to count against frequency caps; the latest message of an
//! audience to a member tells whether its delivery failed (the row is sent again). One record of 16 bytes serves
//! both ([`SentMessage`]), its audience a number ([`Subject`]).
//!
//! A [`LedgerBuilder`] collects rows as they are read, split by member range ([`MemberPairs`]);
//! [`LedgerBuilder::finish`] groups them by member number into flat arrays per kind and range ([`ByMember`]).
//! Ten million members would otherwise mean ten million small vectors in hash tables that grow by rehashing: most
//! of the time of building them went to allocating and zeroing memory, and every look-up was a probe into a
//! table far larger than the caches.

use foldhash::HashMap;

use arrow::array::RecordBatch;
use arrow::datatypes::TimestampMicrosecondType;
use chrono::{DateTime, Utc};

use super::caps::{SentMessage, Subject};
use super::consent::{is_revocation, Basis, Channel, ConsentEvent, ConsentScope, MemberConsents, Purpose};
use super::contact_points::{contact_key, names_current_contact, ContactKey, CurrentContacts, NOT_COMPARED};
use crate::by_member::{ByMember, MemberPairs};
use crate::error::{CoreError, CoreResult};
use crate::model::{optional_text_column, text_cells, text_value};

/// Rows of the ledger as they are read, before they are grouped by member.
#[derive(Debug, Default)]
pub struct LedgerBuilder {
    /// Consents with the key of the contact point they name, checked in [`LedgerBuilder::finish`].
    /// Consents with the key of the contact point they name, checked in [`LedgerBuilder::finish`]; STOP-style
    /// replies among them as revocations.
    consents: MemberPairs<(ConsentEvent, ContactKey)>,
    do_not_contact: HashMap<u32, i64>,
    /// Outbound messages: the ones that count against caps, and every one of an audience (its delivery status
    /// decides a retry).
    history: MemberPairs<SentMessage>,
    /// The subject number of each audience name of communications.
    audiences: HashMap<String, Subject>,
}

/// Per member: consents and the messages already sent.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Each member's consents and revocations, in the order they are applied ([`ConsentEvent::order`]).
    consents: ByMember<ConsentEvent>,
    /// Latest do-not-contact request per member (an opt-out of every channel for every purpose).
    do_not_contact: HashMap<u32, i64>,
    history: ByMember<SentMessage>,
    audiences: HashMap<String, Subject>,
}

fn timestamps<'a>(
    batch: &'a RecordBatch,
    table: &str,
    column: &str,
) -> CoreResult<&'a arrow::array::TimestampMicrosecondArray> {
    crate::model::primitive_column::<TimestampMicrosecondType>(batch, table, column, "a timestamp")
}

/// The consent events of one conformed consents batch, by member, ready to be added to a ledger: read apart
/// from the ledger so that batches are read on every core (a row's contact point is parsed into its key).
#[derive(Debug, Default)]
pub struct ConsentRows {
    events: Vec<(u32, (ConsentEvent, ContactKey))>,
    /// (member, time) of each do-not-contact request.
    do_not_contact: Vec<(u32, i64)>,
}

impl ConsentRows {
    /// Read a conformed consents batch; `member` gives each row's member number (None: unknown, left out for
    /// the caller to quarantine). Rows captured after `as_of` are left for a later run.
    pub fn read(batch: &RecordBatch, member: &[Option<u32>], as_of: i64) -> CoreResult<ConsentRows> {
        let t = "consents";
        // Channel, purpose, status and basis take a few values: each is parsed once per distinct value (a
        // dictionary column's values), then looked up by row.
        let channels = text_cells(batch, t, "channel")?.mapped(|c| match c {
            "all" => Some(&Channel::ALL[..]),
            c => Channel::parse(c)
                .and_then(|parsed| Channel::ALL.iter().position(|&known| known == parsed))
                .map(|at| &Channel::ALL[at..=at]),
        });
        let scopes = text_cells(batch, t, "purpose")?.mapped(|p| match p {
            "all" => Some(ConsentScope::All),
            p => Purpose::parse(p).map(ConsentScope::Purpose),
        });
        let opt_ins = text_cells(batch, t, "status")?.mapped(|s| s == "opt_in");
        // The basis column (optional) with each row's parsed basis.
        let bases = optional_text_column(batch, "basis").map(|b| {
            (
                b,
                b.mapped(|text| Basis::parse(Some(text).filter(|s| !s.is_empty()))),
            )
        });
        let contact = optional_text_column(batch, "contact_point");
        let at = timestamps(batch, t, "captured_at")?;
        let mut out = ConsentRows {
            events: Vec::with_capacity(batch.num_rows()),
            do_not_contact: Vec::new(),
        };
        for (i, &m) in member.iter().enumerate().take(batch.num_rows()) {
            let Some(m) = m else {
                continue;
            };
            if at.value(i) > as_of {
                continue; // captured after the as-of time: a later run honors it
            }
            let channels = channels.get(i).ok_or_else(|| {
                CoreError::Internal("a conformed consent row has an unknown channel".into())
            })?;
            let basis = match &bases {
                Some((column, parsed)) if column.is_valid(i) => parsed.get(i),
                _ => Basis::parse(None),
            };
            let Some(b) = basis else {
                return Err(CoreError::Internal(
                    "a conformed consent row has an unknown basis".into(),
                ));
            };
            let scope = scopes
                .get(i)
                .ok_or_else(|| CoreError::Internal("unknown conformed purpose".into()))?;
            let opt_in = opt_ins.get(i);
            if !opt_in && channels.len() > 1 && scope == ConsentScope::All {
                out.do_not_contact.push((m, at.value(i)));
            }
            // Only an opt-in's contact point matters (an opt-out counts whatever it names).
            let named = text_value(contact, i).filter(|_| opt_in);
            for &channel in channels {
                let event = ConsentEvent {
                    channel,
                    scope,
                    opt_in,
                    basis: b,
                    at: at.value(i),
                    other_contact: false,
                };
                out.events.push((
                    m,
                    (event, named.map_or(NOT_COMPARED, |n| contact_key(channel, n))),
                ));
            }
        }
        Ok(out)
    }
}

impl LedgerBuilder {
    /// Add the consent events read from a batch, in the order of the batches' rows.
    pub fn add_consent_rows(&mut self, rows: ConsentRows) {
        for (m, at) in rows.do_not_contact {
            let latest = self.do_not_contact.entry(m).or_insert(i64::MIN);
            *latest = (*latest).max(at);
        }
        for (m, event) in rows.events {
            self.consents.push(m, event);
        }
    }

    /// Add a conformed communications batch (revocations from inbound replies, history from outbound messages).
    pub fn add_communications(
        &mut self,
        batch: &RecordBatch,
        member: &[Option<u32>],
        as_of: i64,
    ) -> CoreResult<()> {
        let t = "communications";
        let (channel, direction, status) = (
            text_cells(batch, t, "channel")?,
            text_cells(batch, t, "direction")?,
            text_cells(batch, t, "status")?,
        );
        let (keyword, audience) = (
            optional_text_column(batch, "body_keyword"),
            optional_text_column(batch, "audience"),
        );
        let at = timestamps(batch, t, "sent_at")?;
        // The few-valued columns come as dictionaries: each distinct value is parsed once, not on each of 10M rows.
        let channels = channel.mapped(Channel::parse);
        let directions = direction.mapped(|d| (d == "inbound", d == "outbound"));
        // (opted out, counted toward caps, failed)
        let statuses = status.mapped(|s| {
            let counted = matches!(s, "queued" | "delivered" | "replied");
            (s == "opted_out", counted, s == "failed")
        });
        // Each distinct audience's subject, numbered the first time a row needs it.
        let mut subjects: Vec<Option<Option<Subject>>> =
            vec![None; audience.map_or(0, |a| a.value_positions())];
        for (i, &m) in member.iter().enumerate().take(batch.num_rows()) {
            let Some(m) = m else {
                continue; // no member: the caller quarantines the row
            };
            if at.value(i) > as_of {
                continue;
            }
            let Some(channel) = channels.get(i) else {
                continue;
            };
            let ((inbound, outbound), (opted_out, counted, failed)) = (directions.get(i), statuses.get(i));
            if inbound {
                let kw = text_value(keyword, i);
                if kw.is_some_and(is_revocation) || opted_out {
                    let revocation = ConsentEvent::revocation(channel, at.value(i));
                    self.consents.push(m, (revocation, NOT_COMPARED));
                }
                continue;
            }
            let subject = match audience.filter(|a| a.is_valid(i)) {
                None => None,
                Some(a) => match subjects[a.value_position(i)] {
                    Some(known) => known,
                    None => {
                        let subject = text_value(audience, i).map(|a| self.subject(a)).transpose()?;
                        subjects[a.value_position(i)] = Some(subject);
                        subject
                    }
                },
            };
            let Some(sent) = DateTime::<Utc>::from_timestamp_micros(at.value(i)) else {
                continue; // no date and time: outside every cap window and no later than any delivery
            };
            let counted = outbound && counted;
            if counted || subject.is_some() {
                let mut message = SentMessage::new(sent, channel, subject);
                (message.counted, message.failed) = (counted, failed);
                self.history.push(m, message);
            }
        }
        Ok(())
    }

    /// The subject number of an audience of communications.
    fn subject(&mut self, name: &str) -> CoreResult<Subject> {
        if let Some(subject) = self.audiences.get(name) {
            return Ok(*subject);
        }
        let subject = Subject::nth(self.audiences.len()).ok_or_else(|| {
            CoreError::Internal("communications name more audiences than a ledger can number".into())
        })?;
        self.audiences.insert(name.to_string(), subject);
        Ok(subject)
    }

    /// Group everything added by member, and check each opt-in's contact point against the member's current
    /// phone or email in `contacts` (member by member: their profiles are looked up in order, not at random).
    pub fn finish(self, contacts: &dyn CurrentContacts) -> Ledger {
        // The kinds are grouped at once: consents (the most rows) on one core, the others on the other.
        // Each member's consents are put in the order they apply once here, not each time a member is decided
        // (15.4M times at 10M members, for 18M consents).
        let (consents, history) = rayon::join(
            || {
                let mut consents = ByMember::group_into(self.consents, |m, (event, key)| ConsentEvent {
                    other_contact: event.opt_in && !names_current_contact(event.channel, key, m, contacts),
                    ..event
                });
                consents.sort_each_by_key(ConsentEvent::order);
                consents
            },
            || ByMember::group(self.history),
        );
        Ledger {
            consents,
            do_not_contact: self.do_not_contact,
            history,
            audiences: self.audiences,
        }
    }
}

impl Ledger {
    /// The consents of a member, with revocations applied in time order.
    pub fn consents_of(&self, member: u32) -> MemberConsents {
        MemberConsents::from_ordered(self.consents.of(member))
    }

    /// Whether the member's latest consent record is a do-not-contact request (every channel, every purpose);
    /// any later opt-in lifts it, for what that opt-in covers (one for another contact point covers nothing).
    pub fn do_not_contact(&self, member: u32) -> bool {
        self.do_not_contact.get(&member).is_some_and(|&since| {
            !self
                .consents
                .of(member)
                .iter()
                .any(|e| e.opt_in && !e.other_contact && e.at > since)
        })
    }

    /// Whether the latest outbound message of an audience to a member failed after `since` (microseconds): the
    /// row is sent again.
    pub fn failed_after(&self, member: u32, audience: &str, since: i64) -> bool {
        let Some(subject) = self.subject(audience) else {
            return false;
        };
        // The latest message of the audience; of several at the same time a failure, whatever order the
        // reports were read in (the row is sent again; its idempotency key lets the tool drop a duplicate).
        let latest = self
            .history
            .of(member)
            .iter()
            .filter(|d| d.subject == Some(subject))
            .max_by_key(|d| (d.at_micros(), d.failed));
        latest.is_some_and(|d| d.failed && d.at_micros() > since)
    }

    /// The outbound messages already sent, or tried, to a member (see [`SentMessage::counted`]).
    pub fn history_of(&self, member: u32) -> &[SentMessage] {
        self.history.of(member)
    }

    /// The number the ledger gives messages of an audience (None: communications name no message of it).
    pub fn subject(&self, audience: &str) -> Option<Subject> {
        self.audiences.get(audience).copied()
    }
}

/// A communications row for tests: (channel, direction, status, audience, body keyword, sent at).
#[cfg(test)]
pub(crate) type CommunicationRow<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, &'a str, i64);

/// A communications batch of these rows, for tests; its text columns dictionary-encoded with `as_dictionary`.
#[cfg(test)]
pub(crate) fn communications_batch(rows: &[CommunicationRow<'_>], as_dictionary: bool) -> RecordBatch {
    use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
    use std::sync::Arc;
    let text = |k: usize| -> ArrayRef {
        let plain: ArrayRef = Arc::new(StringArray::from_iter(rows.iter().map(|r| match k {
            0 => Some(r.0),
            1 => Some(r.1),
            2 => Some(r.2),
            3 => r.3,
            _ => Some(r.4),
        })));
        match as_dictionary {
            true => arrow::compute::cast(&plain, &crate::lake::text_dictionary_type())
                .expect("text casts to a dictionary"),
            false => plain,
        }
    };
    RecordBatch::try_from_iter([
        ("channel", text(0)),
        ("direction", text(1)),
        ("status", text(2)),
        ("audience", text(3)),
        ("body_keyword", text(4)),
        (
            "sent_at",
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|r| r.5),
            )) as ArrayRef,
        ),
    ])
    .expect("communications columns")
}

/// A communications batch of outbound texts, a row per (audience, status, body keyword, sent at), for tests.
#[cfg(test)]
pub(crate) fn outbound_texts(rows: &[(&str, &str, &str, i64)]) -> RecordBatch {
    let rows: Vec<CommunicationRow<'_>> = rows
        .iter()
        .map(|&(audience, status, keyword, at)| ("sms", "outbound", status, Some(audience), keyword, at))
        .collect();
    communications_batch(&rows, false)
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
