//! member_profile as the audience stage reads it: members numbered once, each member's policy values, its text
//! columns kept as Arrow arrays (the strings are never copied per member). Everything later (the xref, the
//! ledger, the policy, the payloads) looks members up by number.

use foldhash::HashMap;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use rayon::prelude::*;

use crate::audience::channel::Reachability;
use crate::audience::consent::Channel;
use crate::audience::contact_points::CurrentContacts;
use crate::audience::definition::{Audience, Destination};
use crate::audience::quiet_hours::parse_zone;
use crate::error::CoreResult;
use crate::identity::person_keys::{MemberIds, XrefIndex};
use crate::model::text_column;

/// One member's row in member_profile (by position: the strings stay in the Arrow batches) and the values policy
/// reads for every member.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Profile {
    batch: u32,
    row: u32,
    pub(super) deceased: bool,
    pub(super) time_zone: Option<chrono_tz::Tz>,
    pub(super) reach: Reachability,
    pub(super) preferred: Option<Channel>,
}

/// The text fields kept for payloads and the policy (as Arrow arrays, for the whole run).
const PROFILE_FIELDS: [&str; 10] = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "preferred_language",
];

/// The member_profile columns the profiles read besides the text fields: the id and what the policy checks,
/// parsed into each [`Profile`] and not kept (the time zone text alone is some 190 MB at 10M members).
const POLICY_COLUMNS: [&str; 7] = [
    "member_id",
    "deceased_date",
    "preferred_channel",
    "has_valid_phone",
    "has_valid_email",
    "has_mailing_address",
    "time_zone",
];

/// The member_profile columns the profiles read: the policy's, and of the text fields only those the policy
/// reads (state; the phone or email when a phone or email channel is used, to check an opt-in's contact point)
/// or a destination asks for (minimum necessary: an address nobody is sent is not read). A table without some
/// of them gives profiles without them.
pub(super) fn profile_columns(destinations: &[Destination], audiences: &[Audience]) -> Vec<&'static str> {
    let asked = |field: &str| {
        destinations.iter().any(|d| {
            d.fields.iter().any(|f| match f.as_str() {
                "hashed_email" => field == "email",
                "hashed_phone" => field == "phone",
                f => f == field,
            })
        })
    };
    let channels = destinations
        .iter()
        .filter_map(|d| d.kind.channel())
        .chain(audiences.iter().flat_map(|a| a.channels.iter().copied()));
    let (mut phone, mut email) = (false, false);
    for channel in channels {
        phone |= channel.is_phone();
        email |= channel == Channel::Email;
    }
    let for_consent = |field: &str| (field == "phone" && phone) || (field == "email" && email);
    let texts = PROFILE_FIELDS
        .into_iter()
        .filter(|&f| f == "state" || for_consent(f) || asked(f));
    POLICY_COLUMNS.into_iter().chain(texts).collect()
}

/// member_profile by member number (the member's first row in member_profile), its text columns kept as Arrow
/// arrays. Members found only in identity_xref are numbered after the profiles, with no profile.
#[derive(Debug, Default)]
pub(super) struct Profiles {
    texts: Vec<Vec<Option<StringArray>>>,
    ids: Vec<StringArray>,
    numbers: MemberIds,
    members: Vec<Profile>,
    /// Member ids numbered after the profiles: in the xref, not in member_profile.
    without_profile: Vec<String>,
}

impl Profiles {
    /// The member number of each member id, in order (the look-ups run ahead of each other).
    pub(super) fn numbers<'k>(&self, member_ids: impl Iterator<Item = &'k str>) -> Vec<Option<u32>> {
        self.numbers.get_each(member_ids)
    }

    /// How many member numbers there are: the profiles', then the xref's members without a profile.
    pub(super) fn len(&self) -> usize {
        self.members.len() + self.without_profile.len()
    }

    /// The profile of member number `n` (None: the member has no member_profile row).
    pub(super) fn profile(&self, n: u32) -> Option<&Profile> {
        self.members.get(n as usize)
    }

    /// The member id of member number `n`.
    pub(super) fn member_id(&self, n: u32) -> &str {
        match self.members.get(n as usize) {
            Some(p) => self.ids[p.batch as usize].value(p.row as usize),
            None => &self.without_profile[n as usize - self.members.len()],
        }
    }

    /// A profile text field (one of PROFILE_FIELDS), if present.
    pub(super) fn field(&self, p: &Profile, name: &str) -> Option<&str> {
        self.text(p, PROFILE_FIELDS.iter().position(|f| *f == name)?)
    }

    /// The profile text field at `column` of PROFILE_FIELDS, if present.
    fn text(&self, p: &Profile, column: usize) -> Option<&str> {
        let array = self.texts[p.batch as usize][column].as_ref()?;
        let row = p.row as usize;
        array.is_valid(row).then(|| array.value(row))
    }

    /// Add identity_xref batches to `index` in this numbering (a table can be added batch by batch as it is
    /// read): its members without a profile are numbered after the profiles and those numbered before.
    pub(super) fn index_xref(&mut self, index: &mut XrefIndex, batches: &[RecordBatch]) -> CoreResult<()> {
        let next = self.len() as u32;
        let added = index.add_batches(batches, &mut self.numbers, next)?;
        self.without_profile.extend(added);
        Ok(())
    }
}

/// Where the phone and email are in PROFILE_FIELDS: they are looked up for every consent row.
const EMAIL: usize = 2;
const PHONE: usize = 3;

impl CurrentContacts for Profiles {
    fn phone(&self, member: u32) -> Option<&str> {
        self.profile(member).and_then(|p| self.text(p, PHONE))
    }

    fn email(&self, member: u32) -> Option<&str> {
        self.profile(member).and_then(|p| self.text(p, EMAIL))
    }
}

/// The policy values of each row of one member_profile batch.
fn batch_profiles(bi: usize, b: &RecordBatch) -> Vec<Profile> {
    let mut zones: HashMap<String, Option<chrono_tz::Tz>> = HashMap::default();
    let flag = |n: &str| b.column_by_name(n).and_then(|c| c.as_boolean_opt().cloned());
    let (phone, email, mail) = (
        flag("has_valid_phone"),
        flag("has_valid_email"),
        flag("has_mailing_address"),
    );
    let deceased = b.column_by_name("deceased_date");
    let preferred = b
        .column_by_name("preferred_channel")
        .and_then(|c| c.as_string_opt::<i32>().cloned());
    let zone_column = b
        .column_by_name("time_zone")
        .and_then(|c| c.as_string_opt::<i32>());
    (0..b.num_rows())
        .map(|i| {
            let on = |a: &Option<arrow::array::BooleanArray>| {
                a.as_ref().is_some_and(|a| a.is_valid(i) && a.value(i))
            };
            let time_zone = zone_column.filter(|z| z.is_valid(i)).and_then(|z| {
                let name = z.value(i);
                // Few distinct zones: a name is copied only the first time it is seen.
                match zones.get(name) {
                    Some(zone) => *zone,
                    None => *zones.entry(name.to_string()).or_insert(parse_zone(name)),
                }
            });
            Profile {
                batch: bi as u32,
                row: i as u32,
                deceased: deceased.is_some_and(|d| d.is_valid(i)),
                time_zone,
                reach: Reachability {
                    phone: on(&phone),
                    email: on(&email),
                    mail: on(&mail),
                },
                preferred: preferred
                    .as_ref()
                    .filter(|a| a.is_valid(i))
                    .and_then(|a| Channel::parse(a.value(i))),
            }
        })
        .collect()
}

/// Index member_profile batches: members numbered in row order (a repeated member id keeps its first row),
/// batches read on every core.
pub(super) fn profiles(batches: &[RecordBatch]) -> CoreResult<Profiles> {
    let mut out = Profiles::default();
    for b in batches {
        out.ids
            .push(text_column(b, "member_profile", "member_id")?.clone());
        out.texts.push(
            PROFILE_FIELDS
                .iter()
                .map(|f| {
                    b.column_by_name(f)
                        .and_then(|c| c.as_string_opt::<i32>().cloned())
                })
                .collect(),
        );
    }
    let rows: Vec<Profile> = batches
        .par_iter()
        .enumerate()
        .flat_map_iter(|(bi, b)| batch_profiles(bi, b))
        .collect();
    let ids: Vec<&str> = out
        .ids
        .iter()
        .flat_map(|a| (0..a.len()).map(move |i| a.value(i)))
        .collect();
    let first_rows = out.numbers.insert_new(&ids, 0).new_rows;
    out.members = first_rows.iter().map(|&row| rows[row]).collect();
    Ok(out)
}

/// Profiles of members with these ids and no other field, numbered in order (for tests).
#[cfg(test)]
pub(super) fn profiles_of(member_ids: &[&str]) -> Profiles {
    let ids: arrow::array::ArrayRef = std::sync::Arc::new(StringArray::from(member_ids.to_vec()));
    profiles(&[RecordBatch::try_from_iter([("member_id", ids)]).expect("one column")]).expect("member ids")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, BooleanArray};

    use super::*;

    fn profile_batch(ids: &[&str], phone: &[bool]) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("member_id", Arc::new(StringArray::from(ids.to_vec())) as ArrayRef),
            (
                "has_valid_phone",
                Arc::new(BooleanArray::from(phone.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn members_are_numbered_by_first_row_and_xref_only_members_after_them() {
        let batches = [
            profile_batch(&["MBR-a", "MBR-b"], &[true, false]),
            profile_batch(&["MBR-c", "MBR-a"], &[false, false]),
        ];
        let mut profiles = profiles(&batches).unwrap();
        assert_eq!(profiles.numbers(["MBR-a"].into_iter())[0], Some(0));
        assert_eq!(profiles.numbers(["MBR-c"].into_iter())[0], Some(2));
        // A repeated member id keeps its first row.
        assert!(profiles.profile(0).unwrap().reach.phone);
        assert_eq!(profiles.member_id(2), "MBR-c");

        let xref = |systems: Vec<&str>, records: Vec<&str>, members: Vec<&str>| {
            RecordBatch::try_from_iter([
                ("source_system", Arc::new(StringArray::from(systems)) as ArrayRef),
                (
                    "source_record_id",
                    Arc::new(StringArray::from(records)) as ArrayRef,
                ),
                ("member_id", Arc::new(StringArray::from(members)) as ArrayRef),
            ])
            .unwrap()
        };
        let mut index = XrefIndex::default();
        profiles
            .index_xref(
                &mut index,
                &[xref(vec!["ehr", "crm"], vec!["1", "1"], vec!["MBR-b", "MBR-x"])],
            )
            .unwrap();
        assert_eq!(index.member("ehr", "1"), Some(1));
        // In the xref but without a profile: numbered after the profiles, its id kept, no profile.
        let x = index.member("crm", "1").unwrap();
        assert_eq!(x, 3);
        assert_eq!(profiles.member_id(x), "MBR-x");
        assert!(profiles.profile(x).is_none());
        // A later batch of the table: new members numbered after those before, known ones keep their number.
        profiles
            .index_xref(
                &mut index,
                &[xref(
                    vec!["crm", "ehr", "claims"],
                    vec!["2", "2", "1"],
                    vec!["MBR-y", "MBR-x", "MBR-a"],
                )],
            )
            .unwrap();
        assert_eq!(index.member("crm", "2"), Some(4));
        assert_eq!(profiles.member_id(4), "MBR-y");
        assert_eq!(index.member("ehr", "2"), Some(3));
        assert_eq!(index.member("claims", "1"), Some(0));
        assert_eq!(
            index.member("ehr", "1"),
            Some(1),
            "the first batch's rows are still there"
        );
        assert_eq!(profiles.numbers(["MBR-zzz"].into_iter())[0], None);
    }

    #[test]
    fn the_contact_columns_are_where_their_names_say() {
        assert_eq!((PROFILE_FIELDS[PHONE], PROFILE_FIELDS[EMAIL]), ("phone", "email"));
    }

    #[test]
    fn only_the_text_fields_the_policy_reads_or_a_destination_asks_for_are_read() {
        use crate::audience::destinations::DestinationKind;
        let destination = |kind, fields: &[&str]| Destination {
            name: "d".into(),
            kind,
            fields: fields.iter().map(|f| f.to_string()).collect(),
            path: None,
            min_members: 0,
        };
        let columns = profile_columns(
            &[
                destination(DestinationKind::Sms, &["phone", "first_name", "message_topic"]),
                destination(DestinationKind::AdsMeta, &["hashed_email"]),
            ],
            &[],
        );
        for c in [
            "member_id",
            "has_valid_phone",
            "state",
            "time_zone",
            "phone",
            "first_name",
            "email",
        ] {
            assert!(columns.contains(&c), "{c}");
        }
        for c in ["last_name", "address_line1", "postal_code", "message_topic"] {
            assert!(!columns.contains(&c), "{c}");
        }
        // A phone channel reads the phone, asked for or not: an opt-in's contact point is checked against it.
        let texts_first = Audience {
            name: "a".into(),
            sql: "select member_id from member_profile".into(),
            purpose: crate::audience::consent::Purpose::CareGaps,
            channels: vec![Channel::Voice],
            destinations: vec!["d".into()],
            exclude: Vec::new(),
            priority: None,
            holdout: 0.0,
        };
        let columns = profile_columns(
            &[destination(DestinationKind::Crm, &["first_name"])],
            &[texts_first],
        );
        assert!(columns.contains(&"phone") && !columns.contains(&"email"));
    }
}
