//! The payload a destination gets for a member: the allowed fields it asks for, from the SQL row first, then the
//! profile, as JSON text. A payload is held from the policy phase until the run is written (3.5M of them at 10M
//! members), so it is held as its values alone ([`PayloadValues`]): the field names and the JSON punctuation,
//! the same for every payload of a destination, are most of the text. The JSON is rendered from the values when
//! the payload is hashed and again when it is written, by the same code, so both see the same text.

use super::profiles::{Profile, Profiles};
use super::selection::SelectedRow;
use crate::audience::definition::Destination;
use crate::audience::destinations::{hashed_email, hashed_phone};
use crate::error::{CoreError, CoreResult};

/// The fields of a destination's payloads: each once, in sorted order (the order of the JSON keys).
#[derive(Debug, Clone)]
pub(super) struct PayloadFields<'d> {
    names: Vec<&'d str>,
    /// Each name as a JSON key with its colon (`"name":`), rendered once: every payload of the destination
    /// repeats them (3.5M payloads, each rendered twice, at 10M members).
    keys: Vec<String>,
}

/// The values of one payload, in the order of its destination's [`PayloadFields`]: per field, its length plus
/// one as a LEB128 number (0: the field has no value), then its UTF-8 bytes. Held in an allocation of its
/// length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PayloadValues(Box<[u8]>);

impl<'d> PayloadFields<'d> {
    /// The payload fields of `destination` (its allowlist as configured, sorted, each once).
    pub(super) fn of(destination: &'d Destination) -> Self {
        let mut names: Vec<&str> = destination.fields.iter().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let keys = names
            .iter()
            .map(|name| format!("{}:", json_string(name)))
            .collect();
        PayloadFields { names, keys }
    }

    /// The values of a member's payload: each field from the SQL row, else from the profile; `hashed_email` and
    /// `hashed_phone` are the normalized profile email and phone, hashed.
    pub(super) fn values(
        &self,
        row: &SelectedRow<'_>,
        profiles: &Profiles,
        profile: &Profile,
    ) -> PayloadValues {
        let mut out: Vec<u8> = Vec::with_capacity(16 * self.names.len());
        for &name in &self.names {
            let hashed;
            let value = match name {
                "hashed_email" => {
                    hashed = profiles.field(profile, "email").and_then(hashed_email);
                    hashed.as_deref()
                }
                "hashed_phone" => {
                    hashed = profiles.field(profile, "phone").and_then(hashed_phone);
                    hashed.as_deref()
                }
                name => row.field(name).or_else(|| profiles.field(profile, name)),
            };
            match value {
                None => out.push(0),
                Some(v) => {
                    push_length(&mut out, v.len() as u64 + 1);
                    out.extend_from_slice(v.as_bytes());
                }
            }
        }
        PayloadValues(out.into_boxed_slice())
    }

    /// The JSON text of `values` (values of these fields), written into `buffer`: keys in sorted order, each once,
    /// fields without a value left out, no spaces. That is the text a sorted map of the fields serializes to,
    /// which earlier versions wrote and hashed, so the payload hashes of rows already sent stay the same.
    pub(super) fn json<'b>(&self, values: &PayloadValues, buffer: &'b mut String) -> CoreResult<&'b str> {
        let broken =
            || CoreError::Internal("a payload's values do not match its destination's fields".into());
        buffer.clear();
        buffer.push('{');
        let mut rest: &[u8] = &values.0;
        for key in &self.keys {
            let length = take_length(&mut rest).ok_or_else(broken)?;
            if length == 0 {
                continue;
            }
            let length = usize::try_from(length - 1).map_err(|_| broken())?;
            let value = rest.get(..length).ok_or_else(broken)?;
            rest = &rest[length..];
            let value = std::str::from_utf8(value).map_err(|_| broken())?;
            if buffer.len() > 1 {
                buffer.push(',');
            }
            buffer.push_str(key);
            push_json_string(buffer, value);
        }
        if !rest.is_empty() {
            return Err(broken());
        }
        buffer.push('}');
        Ok(buffer.as_str())
    }
}

/// `text` as a JSON string, escaped as serde_json escapes it (see [`push_json_string`]).
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_json_string(&mut out, text);
    out
}

/// Append `text` as a JSON string: quoted, with the quote, the backslash and control characters escaped, as
/// serde_json writes it (it leaves other characters, non-ASCII included, as they are). Almost every value needs
/// no escape and is copied as it is; the others go through serde_json itself.
fn push_json_string(out: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(text.len() + 2);
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        // Serializing a str cannot fail; the fallback is only for its signature.
        out.push_str(&serde_json::to_string(text).unwrap_or_default());
    }
}

/// Append `n` as LEB128: seven bits a byte, low bits first, the high bit set on every byte but the last.
fn push_length(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Read a LEB128 number off the front of `bytes` (None: it ends inside one, or it overflows).
fn take_length(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
    use rayon::prelude::*;

    use super::super::profiles::profiles;
    use super::super::selection::selected_rows;
    use super::*;
    use crate::audience::destinations::DestinationKind;

    #[test]
    fn lengths_round_trip_across_byte_boundaries() {
        for n in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            push_length(&mut out, n);
            let mut rest = out.as_slice();
            assert_eq!(take_length(&mut rest), Some(n), "{n}");
            assert!(rest.is_empty());
        }
        assert_eq!(
            take_length(&mut [0x80u8].as_slice()),
            None,
            "ends inside a number"
        );
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut texts: Vec<String> = (0u8..=0x7f).map(|b| format!("a{}b", b as char)).collect();
        texts.extend(
            [
                "",
                "plain",
                "\u{7f}",
                "\u{a0}\u{2028}\u{2029}",
                "\u{1F600}",
                "\"\"",
                "\\",
                "tab\tnew\nline\r",
            ]
            .map(String::from),
        );
        for text in &texts {
            let mut ours = String::from("x");
            push_json_string(&mut ours, text);
            assert_eq!(ours[1..], serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn payloads_are_the_text_a_sorted_map_of_the_fields_serializes_to() {
        let batch = RecordBatch::try_from_iter([
            (
                "member_id",
                Arc::new(StringArray::from(vec!["MBR-a", "MBR-b"])) as ArrayRef,
            ),
            (
                "has_valid_phone",
                Arc::new(BooleanArray::from(vec![true, true])) as ArrayRef,
            ),
        ])
        .unwrap();
        let profiles = profiles(&[batch]).unwrap();
        // Escapes, non-ASCII, a value longer than 127 bytes (two length bytes), a null, an empty text.
        let long = "\u{e9}".repeat(100);
        let topic: Vec<Option<&str>> = vec![Some("say \"hi\"\n\u{e9}\u{1F600}\\"), None, Some("x")];
        let result = RecordBatch::try_from_iter([
            (
                "member_id",
                Arc::new(StringArray::from(vec!["MBR-a", "MBR-b", "MBR-a"])) as ArrayRef,
            ),
            (
                "message_topic",
                Arc::new(StringArray::from(topic.clone())) as ArrayRef,
            ),
            (
                "due_date",
                Arc::new(StringArray::from(vec![long.as_str(), "", "x"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let selected = selected_rows("a", &[result], &profiles).unwrap();
        // Fields out of order and repeated; one the row does not have (null) and one nobody has.
        let destination = Destination {
            name: "texts".into(),
            kind: DestinationKind::Sms,
            fields: ["message_topic", "due_date", "first_name", "message_topic"]
                .map(String::from)
                .to_vec(),
            path: None,
            min_members: 0,
        };
        let fields = PayloadFields::of(&destination);
        let rows: Vec<_> = selected.rows(0..selected.len()).collect();
        assert_eq!(rows.len(), 2, "MBR-a's second row is not selected again");
        let mut buffer = String::new();
        for (k, row) in rows.iter().enumerate() {
            let profile = profiles.profile(row.number().unwrap()).unwrap();
            let values = fields.values(row, &profiles, profile);
            let text = fields.json(&values, &mut buffer).unwrap();
            let mut expected: BTreeMap<String, String> = BTreeMap::new();
            for f in &destination.fields {
                if let Some(v) = row.field(f) {
                    expected.insert(f.clone(), v.to_string());
                }
            }
            assert_eq!(text, serde_json::to_string(&expected).unwrap());
            assert_eq!(expected.contains_key("message_topic"), k == 0);
            assert!(values.0.len() < text.len(), "held without the names");
            // Values read against other fields are refused, not misread.
            let other = Destination {
                fields: vec!["due_date".into()],
                ..destination.clone()
            };
            assert!(PayloadFields::of(&other).json(&values, &mut buffer).is_err());
        }
    }
}
