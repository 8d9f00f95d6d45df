//! member_profile as the audience stage reads it: each member's policy values, its text columns kept as Arrow
//! arrays (the strings are never copied per member), and the payload a destination gets from them.

use std::collections::BTreeMap;

use foldhash::HashMap;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};

use crate::audience::channel::Reachability;
use crate::audience::consent::Channel;
use crate::audience::definition::Destination;
use crate::audience::destinations::{hashed_email, hashed_phone};
use crate::audience::quiet_hours::parse_zone;
use crate::error::CoreResult;
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

const PROFILE_FIELDS: [&str; 11] = [
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
    "time_zone",
];

/// member_profile indexed by member id, its text columns kept as Arrow arrays.
#[derive(Debug, Default)]
pub(super) struct Profiles {
    texts: Vec<Vec<Option<StringArray>>>,
    by_member: HashMap<String, Profile>,
}

impl Profiles {
    pub(super) fn get(&self, member_id: &str) -> Option<&Profile> {
        self.by_member.get(member_id)
    }

    /// A profile text field (one of PROFILE_FIELDS), if present.
    pub(super) fn field(&self, p: &Profile, name: &str) -> Option<&str> {
        let column = PROFILE_FIELDS.iter().position(|f| *f == name)?;
        let array = self.texts[p.batch as usize][column].as_ref()?;
        let row = p.row as usize;
        array.is_valid(row).then(|| array.value(row))
    }
}

pub(super) fn profiles(batches: &[RecordBatch]) -> CoreResult<Profiles> {
    let mut out = Profiles::default();
    let mut zones: HashMap<String, Option<chrono_tz::Tz>> = HashMap::default();
    for (bi, b) in batches.iter().enumerate() {
        let ids = text_column(b, "member_profile", "member_id")?;
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
        let texts: Vec<Option<StringArray>> = PROFILE_FIELDS
            .iter()
            .map(|f| {
                b.column_by_name(f)
                    .and_then(|c| c.as_string_opt::<i32>().cloned())
            })
            .collect();
        let zone_column = texts[PROFILE_FIELDS.len() - 1].clone();
        for i in 0..b.num_rows() {
            let on = |a: &Option<arrow::array::BooleanArray>| {
                a.as_ref().is_some_and(|a| a.is_valid(i) && a.value(i))
            };
            let time_zone = zone_column.as_ref().filter(|z| z.is_valid(i)).and_then(|z| {
                let name = z.value(i);
                *zones.entry(name.to_string()).or_insert_with(|| parse_zone(name))
            });
            let p = Profile {
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
            };
            out.by_member.insert(ids.value(i).to_string(), p);
        }
        out.texts.push(texts);
    }
    Ok(out)
}

/// The payload of one destination: the allowed fields it asks for, from the SQL row first, then the profile.
pub(super) fn payload(
    destination: &Destination,
    fields: &BTreeMap<String, String>,
    profiles: &Profiles,
    profile: &Profile,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for f in &destination.fields {
        let value = match f.as_str() {
            "hashed_email" => profiles.field(profile, "email").and_then(hashed_email),
            "hashed_phone" => profiles.field(profile, "phone").and_then(hashed_phone),
            name => fields
                .get(name)
                .cloned()
                .or_else(|| profiles.field(profile, name).map(str::to_string)),
        };
        if let Some(v) = value {
            out.insert(f.clone(), v);
        }
    }
    out
}
