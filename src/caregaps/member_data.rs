//! Building the engine's member-level view from Arrow batches of the canonical tables (Arrow in: the native
//! engine feeds it from the lake; the Spark engine from a group's batches).
//!
//! Members come from identity resolution (`member_profile` + `identity_xref`), or, when care gaps run alone,
//! from `person_records` with each source record as its own member. Events are matched to the measures' value
//! sets as they arrive; events of no value set are counted and not kept (most claim lines are about nothing a
//! measure asks). Kept rows are checked: a date after the as-of date, before the member's birth, a span that ends
//! before it starts, or a person key no member has sends the row to quarantine with its reason.

use std::collections::HashMap;

use arrow::array::{Array, AsArray, Date32Array, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{Date32Type, Float64Type, Int64Type};
use rayon::prelude::*;

use super::codes::{is_normalized, normalize_code};
use super::enrollment::{ProductLine, Span};
use super::evaluate::MemberData;
use super::events::{data_source_name, EvidenceStore, MemberEvent, ValueSetId, Vocabulary};
use super::measures::MeasureSet;
use super::value_sets::ValueSetDirectory;
use crate::by_member::{ByMember, MemberPairs};
use crate::error::{CoreError, CoreResult};
use crate::identity::person_keys::{members_by_person_key, MemberIds, SourceKeys};
use crate::lake::{quarantine_rows, QuarantinedRow, RejectReason, RejectedRows, RowNumbers};
use crate::model::{
    self, optional_text_column, primitive_column, text_cells, text_column, text_value, TextColumn,
};

/// The value sets of a code, each with the index of the code in the directory.
type CodeSets = [(ValueSetId, u32)];

/// Normalized code -> (value set, index of the code in the directory), within one code system.
type CodesOfSystem = foldhash::HashMap<String, Vec<(ValueSetId, u32)>>;

/// Code -> value sets, per code system, for the value sets the measures use.
#[derive(Debug, Default)]
pub struct CodeIndex {
    /// A dozen code systems at most: a linear scan beats hashing the system name on every row.
    by_system: Vec<(String, CodesOfSystem)>,
}

impl CodeIndex {
    /// Index the codes of the value sets in `measures`.
    pub fn new(directory: &ValueSetDirectory, measures: &MeasureSet) -> Self {
        let mut id_of = HashMap::new();
        for (id, &dir_index) in measures.value_sets.iter().enumerate() {
            id_of.insert(dir_index, id as ValueSetId);
        }
        let mut by_system: HashMap<String, foldhash::HashMap<String, Vec<(ValueSetId, u32)>>> =
            HashMap::new();
        for (ci, code) in directory.codes.iter().enumerate() {
            if let Some(&id) = id_of.get(&code.value_set) {
                let entry = by_system
                    .entry(code.system.clone())
                    .or_default()
                    .entry(code.normalized.clone())
                    .or_default();
                if !entry.iter().any(|(v, _)| *v == id) {
                    entry.push((id, ci as u32));
                }
            }
        }
        CodeIndex {
            by_system: by_system.into_iter().collect(),
        }
    }

    /// The value sets of a code (as recorded: formatting is normalized here).
    pub fn lookup(&self, system: &str, code: &str) -> Option<&CodeSets> {
        let (_, codes) = self.by_system.iter().find(|(s, _)| s == system)?;
        if is_normalized(system, code) {
            return codes.get(code).map(Vec::as_slice);
        }
        let normalized = normalize_code(system, code)?;
        codes.get(&normalized).map(Vec::as_slice)
    }
}

/// What building the member data counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadCounts {
    /// Event rows read.
    pub events_read: u64,
    /// Event rows with a code in a measure's value set.
    pub events_matched: u64,
    /// Enrollment rows read.
    pub enrollment_read: u64,
}

/// Accumulates members, spans and matched events; [`MemberDataBuilder::finish`] groups and sorts them.
#[derive(Debug)]
pub struct MemberDataBuilder {
    index: CodeIndex,
    vocabulary: Vocabulary,
    as_of_day: i32,
    members: MemberIds,
    records: SourceKeys,
    data: MemberData,
    /// Matched events and enrollment spans by member, as read (grouped without ever being one growing vector:
    /// 4.9M spans at 1M members were copied at each doubling and faulted in twice over).
    events: MemberPairs<MemberEvent>,
    spans: MemberPairs<Span>,
    /// Counts so far.
    pub counts: LoadCounts,
}

fn date_column<'b>(batch: &'b RecordBatch, table: &str, name: &str) -> CoreResult<&'b Date32Array> {
    primitive_column::<Date32Type>(batch, table, name, "a date")
}

/// A batch's person key columns: member_id, source_system, source_record_id (each may be absent).
type PersonKeyColumns<'a> = (
    Option<TextColumn<'a>>,
    Option<TextColumn<'a>>,
    Option<TextColumn<'a>>,
);

/// A batch's person key columns.
fn person_key_columns(batch: &RecordBatch) -> PersonKeyColumns<'_> {
    (
        optional_text_column(batch, "member_id"),
        optional_text_column(batch, "source_system"),
        optional_text_column(batch, "source_record_id"),
    )
}

/// What matching one enrollment batch gives: (member, span) pairs and the rows quarantined.
type MatchedSpans = (Vec<(u32, Span)>, Vec<QuarantinedRow>);

/// What matching one events batch gives: (member, event) pairs, their evidence, rejected rows, rows matched.
type MatchedBatch = (Vec<(u32, MemberEvent)>, EvidenceStore, RejectedRows, u64);

impl MemberDataBuilder {
    /// A builder for the measures' value sets.
    pub fn new(directory: &ValueSetDirectory, measures: &MeasureSet, as_of: chrono::NaiveDate) -> Self {
        MemberDataBuilder {
            index: CodeIndex::new(directory, measures),
            vocabulary: measures.vocabulary.clone(),
            as_of_day: model::values::date_to_days(as_of),
            members: Default::default(),
            records: SourceKeys::default(),
            data: MemberData::default(),
            events: MemberPairs::default(),
            spans: MemberPairs::default(),
            counts: LoadCounts::default(),
        }
    }

    /// Number of members so far.
    pub fn member_count(&self) -> usize {
        self.data.member_ids.len()
    }

    fn add_member(&mut self, id: &str, birth: Option<i32>, sex: Option<&str>, deceased: Option<i32>) -> u32 {
        let (m, new) = self.members.get_or_insert(id, self.data.member_ids.len() as u32);
        if new {
            self.push_member(id, birth, sex, deceased);
        }
        m
    }

    fn push_member(&mut self, id: &str, birth: Option<i32>, sex: Option<&str>, deceased: Option<i32>) {
        self.data.member_ids.push(id.to_string());
        self.data.birth.push(birth);
        self.data.sex.push(match sex.map(str::trim) {
            Some("F" | "f" | "female" | "Female") => b'F',
            Some("M" | "m" | "male" | "Male") => b'M',
            _ => 0,
        });
        self.data.deceased.push(deceased);
    }

    /// Make room for `members` more members (saves rehashing a table of millions while loading).
    fn reserve_members(&mut self, members: usize) {
        self.members.reserve(members);
        self.data.member_ids.reserve(members);
        self.data.birth.reserve(members);
        self.data.sex.reserve(members);
        self.data.deceased.reserve(members);
    }

    /// Members from `member_profile` batches (identity resolution's golden records); the id table is filled
    /// by two threads.
    pub fn add_member_profiles(&mut self, batches: &[RecordBatch]) -> CoreResult<()> {
        let table = "member_profile";
        let mut columns = Vec::with_capacity(batches.len());
        let mut ids: Vec<&str> = Vec::new();
        let mut at: Vec<(usize, usize)> = Vec::new();
        for (b, batch) in batches.iter().enumerate() {
            let id = text_column(batch, table, "member_id")?;
            ids.extend((0..batch.num_rows()).map(|i| id.value(i)));
            at.extend((0..batch.num_rows()).map(|i| (b, i)));
            columns.push((
                date_column(batch, table, "birth_date")?,
                date_column(batch, table, "deceased_date")?,
                optional_text_column(batch, "sex"),
            ));
        }
        self.reserve_members(ids.len());
        let new = self
            .members
            .insert_new(&ids, self.data.member_ids.len() as u32)
            .new_rows;
        for row in new {
            let (b, i) = at[row];
            let (birth, deceased, sex) = &columns[b];
            self.push_member(
                ids[row],
                birth.is_valid(i).then(|| birth.value(i)),
                text_value(*sex, i),
                deceased.is_valid(i).then(|| deceased.value(i)),
            );
        }
        Ok(())
    }

    /// Source record -> member, from `identity_xref` batches (members must be added first). Member ids are
    /// looked up in parallel, and each source system's table is filled on its own thread: millions of random
    /// hash-table accesses are most of loading members.
    pub fn add_xref(&mut self, batches: &[RecordBatch]) -> CoreResult<()> {
        let table = "identity_xref";
        let mut rows = Vec::with_capacity(batches.len());
        for batch in batches {
            rows.push((
                text_column(batch, table, "source_system")?,
                text_column(batch, table, "source_record_id")?,
                text_column(batch, table, "member_id")?,
            ));
        }
        let members = &self.members;
        let found: Vec<Vec<Option<u32>>> = rows
            .par_iter()
            .map(|(_, _, ids)| members.get_each((0..ids.len()).map(|i| ids.value(i))))
            .collect();
        let keys: Vec<_> = rows.iter().map(|(sys, rec, _)| (*sys, *rec)).collect();
        self.records.insert_batches(&keys, &found);
        Ok(())
    }

    /// Without identity resolution: each conformed `person_records` row is its own member, with id
    /// `source_system:source_record_id`.
    pub fn add_person_records(&mut self, batch: &RecordBatch) -> CoreResult<()> {
        let sys = text_column(batch, "person_records", "source_system")?;
        let rec = text_column(batch, "person_records", "source_record_id")?;
        let birth = date_column(batch, "person_records", "birth_date")?;
        let deceased = date_column(batch, "person_records", "deceased_date")?;
        let sex = optional_text_column(batch, "sex");
        for i in 0..batch.num_rows() {
            let id = format!("{}:{}", sys.value(i), rec.value(i));
            let m = self.add_member(
                &id,
                birth.is_valid(i).then(|| birth.value(i)),
                text_value(sex, i),
                deceased.is_valid(i).then(|| deceased.value(i)),
            );
            self.records.insert(sys.value(i), rec.value(i), m);
        }
        Ok(())
    }

    /// The member of each of `rows` (positions in a batch with these person key columns), in order; None when
    /// no member has the row's key (see [`members_by_person_key`]: a member_id decides where a row has one).
    fn members_of_rows(
        &self,
        keys: &PersonKeyColumns<'_>,
        rows: impl Iterator<Item = usize>,
    ) -> Vec<Option<u32>> {
        let (ids, systems, records) = *keys;
        members_by_person_key(
            rows,
            |i| (text_value(ids, i), text_value(systems, i), text_value(records, i)),
            |ids| self.members.get_each(ids),
            |records| self.records.get_each(records),
        )
    }

    /// Add a conformed `enrollment` batch; returns the rows quarantined.
    pub fn add_enrollment(
        &mut self,
        batch: &RecordBatch,
        row_offset: i64,
    ) -> CoreResult<Vec<QuarantinedRow>> {
        self.add_enrollment_batches(&[(batch.clone(), RowNumbers::From(row_offset))])
    }

    /// Add conformed `enrollment` batches with their rows' positions in the table (matched to members in
    /// parallel); returns the rows quarantined.
    pub fn add_enrollment_batches(
        &mut self,
        batches: &[(RecordBatch, RowNumbers)],
    ) -> CoreResult<Vec<QuarantinedRow>> {
        let parts: Vec<CoreResult<MatchedSpans>> = batches
            .par_iter()
            .map(|(batch, numbers)| self.match_enrollment(batch, numbers))
            .collect();
        let mut out = Vec::new();
        for ((batch, _), part) in batches.iter().zip(parts) {
            let (spans, bad) = part?;
            self.counts.enrollment_read += batch.num_rows() as u64;
            for (m, span) in spans {
                self.spans.push(m, span);
            }
            out.extend(bad);
        }
        Ok(out)
    }

    fn match_enrollment(&self, batch: &RecordBatch, numbers: &RowNumbers) -> CoreResult<MatchedSpans> {
        let table = "enrollment";
        let start = date_column(batch, table, "start_date")?;
        let end = date_column(batch, table, "end_date")?;
        let line = text_cells(batch, table, "product_line")?;
        let members = self.members_of_rows(&person_key_columns(batch), 0..batch.num_rows());
        let flag = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_boolean_opt().cloned())
        };
        let (medical, pharmacy, lti) = (
            flag("medical_benefit"),
            flag("pharmacy_benefit"),
            flag("long_term_institution"),
        );
        let snp = optional_text_column(batch, "snp_type");
        let mut rejected: RejectedRows = Vec::new();
        let mut spans = Vec::with_capacity(batch.num_rows());
        for (i, member) in members.into_iter().enumerate() {
            let Some(m) = member else {
                rejected.push((i as u32, "member_id", RejectReason::UnknownPerson));
                continue;
            };
            let s = start.value(i);
            let e = if end.is_valid(i) { end.value(i) } else { i32::MAX };
            if e < s {
                rejected.push((i as u32, "end_date", RejectReason::EndBeforeStart));
                continue;
            }
            let Some(product_line) = ProductLine::parse(line.value(i)) else {
                return Err(CoreError::Internal(
                    "product_line passed conform but is unknown".into(),
                ));
            };
            let get = |a: &Option<arrow::array::BooleanArray>| {
                a.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i))
            };
            spans.push((
                m,
                Span {
                    start: s,
                    end: e,
                    product_line,
                    medical: get(&medical).unwrap_or(true),
                    pharmacy: get(&pharmacy).unwrap_or(true),
                    institutional: text_value(snp, i) == Some("I-SNP") || get(&lti) == Some(true),
                },
            ));
        }
        Ok((spans, quarantine_rows(batch, table, numbers, &rejected)?))
    }

    /// Add conformed `clinical_events` batches with their rows' positions in the table (matched in parallel);
    /// returns the rows quarantined.
    pub fn add_events(&mut self, batches: &[(RecordBatch, RowNumbers)]) -> CoreResult<Vec<QuarantinedRow>> {
        let parts: Vec<CoreResult<MatchedBatch>> = batches
            .par_iter()
            .map(|(batch, _)| self.match_events(batch))
            .collect();
        let mut out = Vec::new();
        for ((batch, numbers), part) in batches.iter().zip(parts) {
            let (events, evidence, rejected, matched) = part?;
            self.counts.events_read += batch.num_rows() as u64;
            self.counts.events_matched += matched;
            let base = self.data.evidence.append(evidence);
            for (m, mut e) in events {
                e.evidence += base;
                self.events.push(m, e);
            }
            out.extend(quarantine_rows(batch, "clinical_events", numbers, &rejected)?);
        }
        Ok(out)
    }

    fn match_events(&self, batch: &RecordBatch) -> CoreResult<MatchedBatch> {
        let table = "clinical_events";
        let date = date_column(batch, table, "event_date")?;
        let end = date_column(batch, table, "end_date")?;
        let system = text_column(batch, table, "code_system")?;
        let code = text_column(batch, table, "code")?;
        let value: &Float64Array = primitive_column::<Float64Type>(batch, table, "value_num", "a number")?;
        let supply: &Int64Array =
            primitive_column::<Int64Type>(batch, table, "days_supply", "a whole number")?;
        let (modifier, taxonomy, setting, claim, source) = (
            optional_text_column(batch, "modifier"),
            optional_text_column(batch, "provider_taxonomy"),
            optional_text_column(batch, "setting"),
            optional_text_column(batch, "claim_id"),
            optional_text_column(batch, "data_source"),
        );
        let mut events = Vec::new();
        let mut evidence = EvidenceStore::default();
        let mut rejected: RejectedRows = Vec::new();
        // Rows of a value set first, so only they are looked up by person key, all at once.
        let (rows, sets): (Vec<usize>, Vec<&CodeSets>) = (0..batch.num_rows())
            .filter_map(|i| Some((i, self.index.lookup(system.value(i), code.value(i))?)))
            .unzip();
        let matched = rows.len() as u64;
        let members = self.members_of_rows(&person_key_columns(batch), rows.iter().copied());
        for ((i, sets), member) in rows.into_iter().zip(sets).zip(members) {
            let Some(m) = member else {
                rejected.push((i as u32, "member_id", RejectReason::UnknownPerson));
                continue;
            };
            let d = date.value(i);
            if d > self.as_of_day {
                rejected.push((i as u32, "event_date", RejectReason::DateAfterAsOf));
                continue;
            }
            if self.data.birth[m as usize].is_some_and(|b| d < b) {
                rejected.push((i as u32, "event_date", RejectReason::DateBeforeBirth));
                continue;
            }
            let e = if end.is_valid(i) { end.value(i) } else { d };
            if e < d {
                rejected.push((i as u32, "end_date", RejectReason::EndBeforeStart));
                continue;
            }
            let vocab = |a: Option<TextColumn>| text_value(a, i).map_or(0, |t| self.vocabulary.get(t));
            let (setting_id, taxonomy_id, modifier_id) = (vocab(setting), vocab(taxonomy), vocab(modifier));
            let days_supply = if supply.is_valid(i) {
                supply.value(i).clamp(0, i32::MAX as i64) as i32
            } else {
                0
            };
            let result = if value.is_valid(i) {
                value.value(i)
            } else {
                f64::NAN
            };
            let ev = evidence.push(
                sets[0].1,
                text_value(source, i).and_then(data_source_name),
                text_value(claim, i),
            );
            for &(value_set, _) in sets {
                events.push((
                    m,
                    MemberEvent {
                        date: d,
                        end: e,
                        value_set,
                        setting: setting_id,
                        taxonomy: taxonomy_id,
                        modifier: modifier_id,
                        days_supply,
                        value: result,
                        evidence: ev,
                    },
                ));
            }
        }
        Ok((events, evidence, rejected, matched))
    }

    /// Group events and spans by member, sorted by date.
    ///
    /// Events of a member on one day in one value set are ordered by what they hold (result, supply, setting,
    /// code, claim id, source), never by the order they were read in: which one a rate shows as evidence must not
    /// change when the same table is read in another order (a property test found two same-day results of
    /// different values whose evidence swapped with the row order).
    pub fn finish(mut self) -> MemberData {
        let store = &self.data.evidence;
        let mut events = ByMember::group(self.events);
        events.sort_each_by(|a, b| {
            (a.date, a.end, a.value_set)
                .cmp(&(b.date, b.end, b.value_set))
                .then_with(|| a.value.total_cmp(&b.value))
                .then_with(|| {
                    (a.days_supply, a.setting, a.taxonomy, a.modifier).cmp(&(
                        b.days_supply,
                        b.setting,
                        b.taxonomy,
                        b.modifier,
                    ))
                })
                .then_with(|| store.compare(a.evidence, b.evidence))
        });
        // Spans by every field, so overlapping spans are read in one order whatever order they came in.
        let mut spans = ByMember::group(self.spans);
        spans.sort_each_by_key(|s| {
            (
                s.start,
                s.end,
                s.product_line,
                s.medical,
                s.pharmacy,
                s.institutional,
            )
        });
        self.data.events = events;
        self.data.spans = spans;
        self.data
    }
}
