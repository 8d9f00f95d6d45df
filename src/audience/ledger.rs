//! The consent ledger and outreach history of every member, built from conformed `consents` and
//! `communications` batches (Arrow in), with each row's member already resolved to its member number (the
//! caller's numbering: the audience stage numbers members once, so no look-up here hashes an id string).
//!
//! Consents apply in time order; an inbound reply whose keyword is a revocation per se revokes its channel; only
//! rows captured at or before the run's as-of time count, so an opt-out is honored by the next run. Outbound
//! messages that were queued, delivered or replied to count against frequency caps.

use foldhash::HashMap;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use chrono::{DateTime, Utc};

use super::caps::SentMessage;
use super::consent::{is_revocation, Basis, Channel, ConsentEvent, ConsentScope, MemberConsents, Purpose};
use crate::error::{CoreError, CoreResult};
use crate::identity::text_key::TextKey;
use crate::model::{optional_text_column, text_column, text_value};

/// Per member: consents and the messages already sent.
#[derive(Debug, Default)]
pub struct Ledger {
    consents: HashMap<u32, Vec<ConsentEvent>>,
    /// Latest do-not-contact request per member (an opt-out of every channel for every purpose).
    do_not_contact: HashMap<u32, i64>,
    revocations: HashMap<u32, Vec<(Channel, i64)>>,
    history: HashMap<u32, Vec<SentMessage>>,
    /// Latest outbound status per (member, audience): (time, failed?).
    delivery: HashMap<(u32, TextKey), (i64, bool)>,
    /// Rows left out because their member is unknown.
    pub unknown_member_rows: u64,
}

fn timestamps<'a>(
    batch: &'a RecordBatch,
    table: &str,
    column: &str,
) -> CoreResult<&'a arrow::array::TimestampMicrosecondArray> {
    crate::model::primitive_column::<TimestampMicrosecondType>(batch, table, column, "a timestamp")
}

impl Ledger {
    /// Add a conformed consents batch; `member` gives each row's member number (None: unknown).
    pub fn add_consents(
        &mut self,
        batch: &RecordBatch,
        member: &[Option<u32>],
        as_of: i64,
    ) -> CoreResult<()> {
        let t = "consents";
        let (channel, purpose, status) = (
            text_column(batch, t, "channel")?,
            text_column(batch, t, "purpose")?,
            text_column(batch, t, "status")?,
        );
        let basis = optional_text_column(batch, "basis");
        let at = timestamps(batch, t, "captured_at")?;
        for (i, &m) in member.iter().enumerate().take(batch.num_rows()) {
            let Some(m) = m else {
                self.unknown_member_rows += 1;
                continue;
            };
            if at.value(i) > as_of {
                continue; // captured after the as-of time: a later run honors it
            }
            let one;
            let channels: &[Channel] = match channel.value(i) {
                "all" => &Channel::ALL,
                c => {
                    one = [Channel::parse(c).ok_or_else(|| {
                        CoreError::Internal("a conformed consent row has an unknown channel".into())
                    })?];
                    &one
                }
            };
            let Some(b) = Basis::parse(text_value(basis, i)) else {
                return Err(CoreError::Internal(
                    "a conformed consent row has an unknown basis".into(),
                ));
            };
            let scope = match purpose.value(i) {
                "all" => ConsentScope::All,
                p => ConsentScope::Purpose(
                    Purpose::parse(p)
                        .ok_or_else(|| CoreError::Internal("unknown conformed purpose".into()))?,
                ),
            };
            let opt_in = status.value(i) == "opt_in";
            if !opt_in && channels.len() > 1 && scope == ConsentScope::All {
                let latest = self.do_not_contact.entry(m).or_insert(i64::MIN);
                *latest = (*latest).max(at.value(i));
            }
            let events = self.consents.entry(m).or_default();
            for &channel in channels {
                events.push(ConsentEvent {
                    channel,
                    scope,
                    opt_in,
                    basis: b,
                    at: at.value(i),
                });
            }
        }
        Ok(())
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
            text_column(batch, t, "channel")?,
            text_column(batch, t, "direction")?,
            text_column(batch, t, "status")?,
        );
        let (keyword, audience) = (
            optional_text_column(batch, "body_keyword"),
            optional_text_column(batch, "audience"),
        );
        let at = timestamps(batch, t, "sent_at")?;
        for (i, &m) in member.iter().enumerate().take(batch.num_rows()) {
            let Some(m) = m else {
                self.unknown_member_rows += 1;
                continue;
            };
            if at.value(i) > as_of {
                continue;
            }
            let Some(channel) = Channel::parse(channel.value(i)) else {
                continue;
            };
            if direction.value(i) == "inbound" {
                let kw = text_value(keyword, i);
                if kw.is_some_and(is_revocation) || status.value(i) == "opted_out" {
                    self.revocations
                        .entry(m)
                        .or_default()
                        .push((channel, at.value(i)));
                }
            } else {
                if let Some(a) = audience.filter(|a| a.is_valid(i)) {
                    let key = (m, TextKey::new(a.value(i)));
                    let entry = self.delivery.entry(key).or_insert((i64::MIN, false));
                    if at.value(i) >= entry.0 {
                        *entry = (at.value(i), status.value(i) == "failed");
                    }
                }
            }
            if direction.value(i) == "outbound"
                && matches!(status.value(i), "queued" | "delivered" | "replied")
            {
                let Some(sent) = DateTime::<Utc>::from_timestamp_micros(at.value(i)) else {
                    continue;
                };
                self.history.entry(m).or_default().push(SentMessage {
                    at: sent,
                    channel,
                    subject: text_value(audience, i).map(str::to_string),
                });
            }
        }
        Ok(())
    }

    /// The consents of a member, with revocations applied in time order.
    pub fn consents_of(&self, member: u32) -> MemberConsents {
        let mut events = self.consents.get(&member).cloned().unwrap_or_default();
        for (channel, at) in self.revocations.get(&member).into_iter().flatten() {
            events.push(ConsentEvent {
                channel: *channel,
                scope: ConsentScope::All,
                opt_in: false,
                basis: Basis::None,
                at: *at,
            });
        }
        MemberConsents::from_events(&mut events)
    }

    /// Whether the member's latest consent record is a do-not-contact request (every channel, every purpose);
    /// any later opt-in lifts it, for what that opt-in covers.
    pub fn do_not_contact(&self, member: u32) -> bool {
        self.do_not_contact.get(&member).is_some_and(|&since| {
            !self
                .consents
                .get(&member)
                .into_iter()
                .flatten()
                .any(|e| e.opt_in && e.at > since)
        })
    }

    /// Whether the latest outbound message of an audience to a member failed after `since` (microseconds): the
    /// row is sent again.
    pub fn failed_after(&self, member: u32, audience: &str, since: i64) -> bool {
        self.delivery
            .get(&(member, TextKey::new(audience)))
            .is_some_and(|(at, failed)| *failed && *at > since)
    }

    /// The messages already sent to a member.
    pub fn history_of(&self, member: u32) -> &[SentMessage] {
        self.history.get(&member).map_or(&[], Vec::as_slice)
    }
}
