//! Contact points: the phone and email a member is reached at now, and whether a consent's contact point is
//! theirs. An opt-in that names a phone or email covers texts, calls or email only while it is the member's
//! current one (see [`super::consent`]); here a named contact point becomes a number (`ContactKey`) as consents
//! are read, and is compared with the member's once the ledger groups them by member.

use super::consent::Channel;
use crate::identity::normalize::E164;

/// The phone and email a member is reached at now (member_profile's), against which an opt-in's contact point
/// is checked (see [`super::consent`]).
pub trait CurrentContacts: Sync {
    /// The member's phone, E.164.
    fn phone(&self, member: u32) -> Option<&str>;
    /// The member's email, lower case.
    fn email(&self, member: u32) -> Option<&str>;
}

/// Members with no phone or email on record (for ledgers whose consents name no contact point).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoContacts;

impl CurrentContacts for NoContacts {
    fn phone(&self, _: u32) -> Option<&str> {
        None
    }
    fn email(&self, _: u32) -> Option<&str> {
        None
    }
}

/// The contact point a consent names, as the number it is compared by on its channel (so that 18M consents
/// need not keep their text until the members' current contact points are looked up in member order):
/// [`NOT_COMPARED`] for none (no contact point, an opt-out, mail or ads), a phone's E.164 digits for texts and
/// calls, a 64-bit hash of the trimmed lower-case address for email, [`NAMES_NOTHING`] for text that is no phone.
pub(super) type ContactKey = u64;

/// Nothing to compare: the consent covers the channel.
pub(super) const NOT_COMPARED: ContactKey = 0;
/// Text that is not a phone number, named for texts or calls: it is not the member's phone.
const NAMES_NOTHING: ContactKey = u64::MAX;

/// The key of a contact point named for `channel` (see [`ContactKey`]).
pub(super) fn contact_key(channel: Channel, named: &str) -> ContactKey {
    let named = named.trim();
    if named.is_empty() {
        return NOT_COMPARED;
    }
    match channel {
        Channel::Sms | Channel::Voice => E164::parse(named).map_or(NAMES_NOTHING, phone_key),
        Channel::Email => email_key(named),
        Channel::Mail | Channel::Ads => NOT_COMPARED,
    }
}

/// A phone's key: its digits and their count (at most 15 digits, so exact: two keys are equal only for one
/// number, and never 0 or [`NAMES_NOTHING`]).
fn phone_key(phone: E164) -> ContactKey {
    digits_key(phone.digits())
}

/// The key of up to 15 ASCII digits.
fn digits_key(digits: &[u8]) -> ContactKey {
    let value = digits.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    value * 16 + digits.len() as u64
}

/// The key of the member's phone as member_profile holds it (E.164 already: read, not parsed again).
fn profile_phone_key(phone: &str) -> Option<ContactKey> {
    match phone.as_bytes() {
        [b'+', digits @ ..] if (8..=15).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) => {
            Some(digits_key(digits))
        }
        _ => E164::parse(phone).map(phone_key),
    }
}

/// An email's key: FNV-1a over its trimmed, lower-case bytes (two addresses share a key about once in 2^64
/// comparisons), never 0 or [`NAMES_NOTHING`].
fn email_key(email: &str) -> ContactKey {
    let hash = email.trim().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x100_0000_01b3)
    });
    hash.clamp(1, NAMES_NOTHING - 1)
}

/// Whether a consent whose contact point has key `key` covers `channel` to `member`: nothing was named, or the
/// channel's current contact point of the member (phone for texts and calls, email for email) is the one named.
pub(super) fn names_current_contact(
    channel: Channel,
    key: ContactKey,
    member: u32,
    contacts: &dyn CurrentContacts,
) -> bool {
    if key == NOT_COMPARED {
        return true;
    }
    let current = match channel {
        Channel::Sms | Channel::Voice => contacts.phone(member).and_then(profile_phone_key),
        Channel::Email => contacts.email(member).map(email_key),
        Channel::Mail | Channel::Ads => return true,
    };
    current == Some(key)
}
