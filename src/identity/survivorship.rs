//! The golden record of each member (member_profile): which value survives, field by field.
//!
//! - Stable facts (birth date, sex, SSN) take the most frequent normalized value among the member's records; a
//!   tie goes to the more trusted source. Birth dates after the as-of date are not taken.
//! - Names take the most complete spelling from the most trusted source (the EHR's registration before the
//!   CRM, before claims' upper-cased feed), the most recent record breaking ties.
//! - Contact points and the address change over time: the most recent valid value wins. Without any street
//!   address, the most recent record with a state or ZIP gives the city, state and ZIP (and so the time zone).
//! - Death: any recorded date of death survives (the latest, if they differ).
//!
//! Derived: age at the as-of date, the address's time zone, and contactability (valid phone, valid email,
//! complete mailing address). Only the SSN's last four digits are kept (minimum necessary).

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::datatypes::{Date32Type, TimestampMicrosecondType};
use chrono::{DateTime, NaiveDate};
use rayon::prelude::*;

use super::normalize::email_canonical;
use super::prepare::PreparedRecords;
use super::text_order::in_byte_order;
use super::time_zone::time_zone;
use crate::error::CoreResult;
use crate::model::primitive_column;
use crate::model::values::days_to_date;
use crate::model::{self, BatchBuilder};
use crate::prefetch::prefetch;

/// Trust order of source systems for names (lower is more trusted); unknown sources come last.
fn source_rank(source: &str) -> u8 {
    ["ehr", "crm", "claims"]
        .iter()
        .position(|known| source.eq_ignore_ascii_case(known))
        .map_or(3, |p| p as u8)
}

/// The person_records columns [`member_profiles`] reads. The identity stage keeps only these of the conformed
/// records once they are normalized: the rest (identifiers, phone, ZIP) survive from their normalized values.
pub const PROFILE_SOURCE_COLUMNS: [&str; 15] = [
    "source_system",
    "first_name",
    "middle_name",
    "last_name",
    "suffix",
    "birth_date",
    "deceased_date",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "preferred_language",
    "preferred_channel",
    "updated_at",
    "email",
];

struct Columns<'a> {
    source: &'a StringArray,
    first: &'a StringArray,
    middle: &'a StringArray,
    last: &'a StringArray,
    suffix: &'a StringArray,
    birth: &'a arrow::array::PrimitiveArray<Date32Type>,
    deceased: &'a arrow::array::PrimitiveArray<Date32Type>,
    line1: &'a StringArray,
    line2: &'a StringArray,
    city: &'a StringArray,
    state: &'a StringArray,
    language: &'a StringArray,
    channel: &'a StringArray,
    updated: &'a arrow::array::PrimitiveArray<TimestampMicrosecondType>,
}

fn text<'a>(batch: &'a RecordBatch, name: &str) -> CoreResult<&'a StringArray> {
    crate::model::text_column(batch, "person_records", name)
}

fn get(a: &StringArray, i: usize) -> Option<&str> {
    (!a.is_null(i))
        .then(|| a.value(i))
        .filter(|v| !v.chars().all(char::is_whitespace))
}

/// The most frequent value; ties go to the smallest rank, then to the later record.
///
/// A member has a handful of records, so the tally is a short list searched in place rather than a hash map.
fn most_frequent<T: Eq + Clone>(values: impl Iterator<Item = (T, u8, i64)>) -> Option<T> {
    let mut tally: Vec<(T, (u32, u8, i64))> = Vec::new();
    for (v, rank, updated) in values {
        let at = match tally.iter().position(|(t, _)| *t == v) {
            Some(at) => at,
            None => {
                tally.push((v, (0, u8::MAX, i64::MIN)));
                tally.len() - 1
            }
        };
        let e = &mut tally[at].1;
        e.0 += 1;
        e.1 = e.1.min(rank);
        e.2 = e.2.max(updated);
    }
    tally
        .into_iter()
        .max_by(|a, b| {
            a.1 .0
                .cmp(&b.1 .0)
                .then(b.1 .1.cmp(&a.1 .1))
                .then(a.1 .2.cmp(&b.1 .2))
        })
        .map(|(v, _)| v)
}

/// Members per member_profile batch.
const PROFILES_PER_BATCH: usize = 65_536;

/// How many members ahead member_profile's builder asks for a member's places in memory.
const MEMBERS_AHEAD: usize = 16;

/// Build member_profile from the conformed person_records (one batch, aligned with `prepared`), the cluster of
/// each record, and the member id of each cluster: batches of up to 65,536 members, in member_id order (the
/// stages after follow that order, so every output keyed by member holds narrow member_id ranges per file).
pub fn member_profiles(
    run_id: &str,
    records: &RecordBatch,
    prepared: &PreparedRecords,
    cluster_of: &[u32],
    member_ids: &[String],
    as_of: NaiveDate,
) -> CoreResult<Vec<RecordBatch>> {
    let dates = |name: &str| primitive_column::<Date32Type>(records, "person_records", name, "a date");
    let c = Columns {
        source: text(records, "source_system")?,
        first: text(records, "first_name")?,
        middle: text(records, "middle_name")?,
        last: text(records, "last_name")?,
        suffix: text(records, "suffix")?,
        birth: dates("birth_date")?,
        deceased: dates("deceased_date")?,
        line1: text(records, "address_line1")?,
        line2: text(records, "address_line2")?,
        city: text(records, "city")?,
        state: text(records, "state")?,
        language: text(records, "preferred_language")?,
        channel: text(records, "preferred_channel")?,
        updated: primitive_column::<TimestampMicrosecondType>(
            records,
            "person_records",
            "updated_at",
            "a timestamp",
        )?,
    };
    let email_raw = text(records, "email")?;
    // Group rows by cluster with a counting sort: rows of cluster k are order[offsets[k]..offsets[k + 1]].
    let n_clusters = member_ids.len();
    let mut offsets = vec![0usize; n_clusters + 1];
    for &k in cluster_of {
        offsets[k as usize + 1] += 1;
    }
    for k in 0..n_clusters {
        offsets[k + 1] += offsets[k];
    }
    let mut next = offsets.clone();
    let mut order = vec![0usize; cluster_of.len()];
    for (i, &k) in cluster_of.iter().enumerate() {
        order[next[k as usize]] = i;
        next[k as usize] += 1;
    }
    // Members in chunks, in parallel: the surviving values of each chunk's members, then its batch.
    let spec = model::member_profile();
    // Members in member_id order: the stages after number members in member_profile's order and write their rows
    // in that order (care_gaps, the audience tables), so each file and row group holds a narrow range of member
    // ids, and a look-up of one member (an analyst's "what is open for this member", "why was this member not
    // sent to") reads only those whose min/max statistics hold it. In cluster order every one held the whole
    // range.
    let members_in_order = in_byte_order(member_ids);
    members_in_order
        .par_chunks(PROFILES_PER_BATCH)
        .map(|members| {
            let mut b = BatchBuilder::new(&spec, members.len());
            for (i, &k) in members.iter().enumerate() {
                // In member_id order a member's place in `offsets`, its records' rows in `order` and its id lie
                // anywhere in memory: they are asked for a few members ahead (the rows once their place is in).
                if let Some(&ahead) = members.get(i + MEMBERS_AHEAD) {
                    prefetch(&offsets[ahead as usize]);
                    prefetch(&member_ids[ahead as usize]);
                }
                if let Some(&ahead) = members.get(i + MEMBERS_AHEAD / 2) {
                    if let Some(row) = order.get(offsets[ahead as usize]) {
                        prefetch(row);
                    }
                    if let Some(first_byte) = member_ids[ahead as usize].as_bytes().first() {
                        prefetch(first_byte);
                    }
                }
                let k = k as usize;
                let v = survive(&c, prepared, email_raw, &order[offsets[k]..offsets[k + 1]], as_of);
                b.text(Some(&member_ids[k]))
                    .text(v.name_row.and_then(|i| get(c.first, i)))
                    .text(v.name_row.and_then(|i| get(c.middle, i)))
                    .text(v.name_row.and_then(|i| get(c.last, i)))
                    .text(v.name_row.and_then(|i| get(c.suffix, i)))
                    .date(v.birth_date)
                    .integer(v.age)
                    .text(v.sex)
                    .days(v.deceased)
                    .text(v.ssn.map(|s| &s[5..]))
                    .text(v.email.as_deref())
                    .text(v.phone)
                    .text(v.address_row.and_then(|i| get(c.line1, i)))
                    .text(v.address_row.and_then(|i| get(c.line2, i)))
                    .text(v.place_row.and_then(|i| get(c.city, i)))
                    .text(v.state.map(str::trim))
                    .text(v.zip)
                    .text(time_zone(v.state, v.zip))
                    .text(v.language)
                    .text(v.channel)
                    .boolean(Some(v.phone.is_some()))
                    .boolean(Some(v.email.is_some()))
                    .boolean(Some(v.has_address))
                    .integer(Some(v.records))
                    .text(Some(&v.sources))
                    .timestamp(v.last_updated.and_then(DateTime::from_timestamp_micros))
                    .text(Some(run_id));
                b.end_row();
            }
            b.finish()
        })
        .collect()
}

/// The surviving values of one member: row indices into the records, or values borrowed from them.
struct Survivor<'a> {
    name_row: Option<usize>,
    address_row: Option<usize>,
    /// The address row, or without one the most recent row with a state or ZIP (city, state, ZIP, time zone).
    place_row: Option<usize>,
    birth_date: Option<NaiveDate>,
    age: Option<i64>,
    sex: Option<&'a str>,
    ssn: Option<&'a str>,
    deceased: Option<i32>,
    email: Option<String>,
    phone: Option<&'a str>,
    language: Option<&'a str>,
    channel: Option<&'a str>,
    state: Option<&'a str>,
    zip: Option<&'a str>,
    has_address: bool,
    records: i64,
    sources: String,
    last_updated: Option<i64>,
}

fn survive<'a>(
    c: &Columns<'a>,
    prepared: &'a PreparedRecords,
    email_raw: &'a StringArray,
    rows: &[usize],
    as_of: NaiveDate,
) -> Survivor<'a> {
    let updated = |i: usize| {
        if c.updated.is_null(i) {
            i64::MIN
        } else {
            c.updated.value(i)
        }
    };
    // Each row's update time and source rank, read once: the sorts and tallies below compare them often.
    let meta: Vec<(usize, i64, u8)> = rows
        .iter()
        .map(|&i| (i, updated(i), source_rank(c.source.value(i))))
        .collect();
    // Most recent first (a stable sort: ties keep the rows' order).
    let mut by_recency = meta.clone();
    by_recency.sort_by_key(|m| std::cmp::Reverse(m.1));
    let recent: Vec<usize> = by_recency.iter().map(|m| m.0).collect();
    // Most trusted first, then most complete (has a middle name), then most recent.
    let mut by_trust: Vec<(u8, bool, std::cmp::Reverse<i64>, usize)> = by_recency
        .iter()
        .map(|&(i, at, rank)| (rank, get(c.middle, i).is_none(), std::cmp::Reverse(at), i))
        .collect();
    by_trust.sort_by_key(|t| (t.0, t.1, t.2));
    let name_row = by_trust
        .iter()
        .map(|t| t.3)
        .find(|&i| get(c.first, i).is_some() && get(c.last, i).is_some());
    // A birth date after the as-of date is one nobody can have at that date (a typo, or a record of someone
    // born later when an earlier date is rerun): it is not the member's. With no other, the member has no birth
    // date and no age (care gaps count such members), never a negative age.
    let latest_birth = crate::model::values::date_to_days(as_of);
    let birth = most_frequent(
        meta.iter()
            .filter(|m| !c.birth.is_null(m.0) && c.birth.value(m.0) <= latest_birth)
            .map(|&(i, at, rank)| (c.birth.value(i), rank, at)),
    );
    let sex = most_frequent(
        meta.iter()
            .filter_map(|&(i, at, rank)| PreparedRecords::get(&prepared.sex, i).map(|s| (s, rank, at))),
    );
    let ssn = most_frequent(
        meta.iter()
            .filter_map(|&(i, at, rank)| PreparedRecords::get(&prepared.ssn, i).map(|s| (s, rank, at))),
    );
    let address_row = recent.iter().copied().find(|&i| get(c.line1, i).is_some());
    // Without a street address, the most recent record with a state or ZIP still places the member: its city,
    // state and ZIP give the time zone and the state's rules that quiet hours need (a member with no zone is
    // suppressed). An address is never pieced together from two records.
    let place_row = address_row.or_else(|| {
        recent
            .iter()
            .copied()
            .find(|&i| get(c.state, i).is_some() || PreparedRecords::get(&prepared.zip, i).is_some())
    });
    let zip = place_row.and_then(|i| PreparedRecords::get(&prepared.zip, i));
    let state = place_row.and_then(|i| get(c.state, i));
    let birth_date = birth.and_then(days_to_date);
    let age = birth_date.map(|d| {
        use chrono::Datelike;
        let mut a = as_of.year() - d.year();
        if (as_of.month(), as_of.day()) < (d.month(), d.day()) {
            a -= 1;
        }
        i64::from(a)
    });
    let mut sources: Vec<&str> = rows.iter().map(|&i| c.source.value(i)).collect();
    sources.sort_unstable();
    sources.dedup();
    Survivor {
        name_row,
        address_row,
        place_row,
        birth_date,
        age,
        sex,
        ssn,
        deceased: rows
            .iter()
            .filter(|&&i| !c.deceased.is_null(i))
            .map(|&i| c.deceased.value(i))
            .max(),
        email: recent
            .iter()
            .find_map(|&i| get(email_raw, i).and_then(email_canonical)),
        phone: recent
            .iter()
            .find_map(|&i| PreparedRecords::get(&prepared.phone, i)),
        language: recent.iter().find_map(|&i| get(c.language, i)),
        channel: recent.iter().find_map(|&i| get(c.channel, i)),
        state,
        zip,
        has_address: address_row
            .is_some_and(|i| get(c.city, i).is_some() && state.is_some() && zip.is_some()),
        records: rows.len() as i64,
        sources: sources.join(","),
        last_updated: meta.iter().map(|m| m.1).max().filter(|u| *u != i64::MIN),
    }
}
