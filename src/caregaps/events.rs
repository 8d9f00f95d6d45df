//! The member-level view the engine evaluates: each member's coded events, sorted by date, already matched to
//! the value sets the measures use; plus the vocabularies (settings, taxonomies, modifiers) they are filtered by.

use std::collections::HashMap;

/// Index of a value set among those the loaded measures use (not the directory's index).
pub type ValueSetId = u16;

/// One event of a member that belongs to a value set the measures use. An event in two value sets appears
/// twice (once per value set); `evidence` points at the shared details.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemberEvent {
    /// Date of service or result (days since 1970-01-01).
    pub date: i32,
    /// Last date of service (spans, CGM ranges); equals `date` for one-day events.
    pub end: i32,
    /// The value set this row stands for.
    pub value_set: ValueSetId,
    /// Care setting (vocabulary id; 0 unknown).
    pub setting: u16,
    /// Provider taxonomy (vocabulary id; 0 unknown).
    pub taxonomy: u16,
    /// Procedure modifier (vocabulary id; 0 none).
    pub modifier: u16,
    /// Days supplied, for dispensings (0 unknown).
    pub days_supply: i32,
    /// Numeric result (NaN when none).
    pub value: f64,
    /// Index of the event's evidence (code, claim id, source) in the [`EvidenceStore`].
    pub evidence: u32,
}

impl MemberEvent {
    /// The day a result counts on: the end of a range (a GMI is dated by the end of its CGM period).
    pub fn result_date(&self) -> i32 {
        self.end
    }

    /// Whether the event carries a numeric value.
    pub fn has_value(&self) -> bool {
        !self.value.is_nan()
    }
}

/// Setting spellings folded into the canonical value definitions use (key form -> canonical).
const ALIASES: [(&str, &str); 8] = [
    ("emergency", "ed"),
    ("er", "ed"),
    ("emergency_department", "ed"),
    ("acute_inpatient", "inpatient"),
    ("inpatient_acute", "inpatient"),
    ("virtual", "telehealth"),
    ("telephone", "telehealth"),
    ("e_visit", "telehealth"),
];

fn alias(key: &str) -> Option<&'static str> {
    ALIASES.iter().find(|(from, _)| *from == key).map(|(_, to)| *to)
}

/// Strings that filters compare against (settings, taxonomies, modifiers), as small ids. Id 0 means
/// unknown or absent; lookups never insert, so values no definition names all map to 0.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    ids: HashMap<String, u16>,
}

impl Vocabulary {
    /// The key a value is compared on: trimmed, lower case, with common aliases folded.
    pub fn key(text: &str) -> String {
        let k = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        match alias(&k) {
            Some(canonical) => canonical.into(),
            None => k,
        }
    }

    /// The id of `text`, adding it if new (used while compiling definitions).
    pub fn intern(&mut self, text: &str) -> u16 {
        let next = self.ids.len() as u16 + 1;
        *self.ids.entry(Self::key(text)).or_insert(next)
    }

    /// The id of `text`, or 0 if no definition names it.
    pub fn get(&self, text: &str) -> u16 {
        if self.ids.is_empty() {
            return 0;
        }
        // Values already in key form (the common case) are looked up without building the key.
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let key_form = text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if key_form && alias(text).is_none() {
            return 0;
        }
        self.ids.get(&Self::key(text)).copied().unwrap_or(0)
    }
}

/// Details of matched events, kept apart from [`MemberEvent`] because only the rows that end up as evidence
/// need them.
#[derive(Debug, Default)]
pub struct EvidenceStore {
    /// Index of the code in the value-set directory's codes (gives code, code system).
    pub code: Vec<u32>,
    /// Data source (claim, lab, ehr, supplemental) as written.
    pub data_source: Vec<Option<&'static str>>,
    claim_offsets: Vec<u32>,
    claim_text: String,
}

impl EvidenceStore {
    /// Add one event's details; returns its index.
    pub fn push(&mut self, code: u32, data_source: Option<&'static str>, claim_id: Option<&str>) -> u32 {
        if self.claim_offsets.is_empty() {
            self.claim_offsets.push(0);
        }
        self.code.push(code);
        self.data_source.push(data_source);
        self.claim_text.push_str(claim_id.unwrap_or(""));
        self.claim_offsets.push(self.claim_text.len() as u32);
        (self.code.len() - 1) as u32
    }

    /// Order two events' details by what they hold (code, claim id, data source), then by index.
    pub fn compare(&self, a: u32, b: u32) -> std::cmp::Ordering {
        let details = |i: u32| {
            (
                self.code[i as usize],
                self.claim_id(i),
                self.data_source[i as usize],
            )
        };
        details(a).cmp(&details(b)).then(a.cmp(&b))
    }

    /// Append another store; returns the offset added to its indices.
    pub fn append(&mut self, other: EvidenceStore) -> u32 {
        let base = self.code.len() as u32;
        if self.claim_offsets.is_empty() {
            self.claim_offsets.push(0);
        }
        let text_base = self.claim_text.len() as u32;
        self.code.extend(other.code);
        self.data_source.extend(other.data_source);
        self.claim_text.push_str(&other.claim_text);
        self.claim_offsets
            .extend(other.claim_offsets.iter().skip(1).map(|o| o + text_base));
        base
    }

    /// The claim id of an event (None when it had none).
    pub fn claim_id(&self, i: u32) -> Option<&str> {
        let (a, b) = (
            self.claim_offsets[i as usize] as usize,
            self.claim_offsets[i as usize + 1] as usize,
        );
        (b > a).then(|| &self.claim_text[a..b])
    }

    /// Number of events stored.
    pub fn len(&self) -> usize {
        self.code.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }
}

/// The data_source values the canonical schema allows, as static strings (evidence stores no copies).
pub fn data_source_name(text: &str) -> Option<&'static str> {
    match text {
        "claim" => Some("claim"),
        "lab" => Some("lab"),
        "ehr" => Some("ehr"),
        "supplemental" => Some("supplemental"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_store_appends() {
        let mut a = EvidenceStore::default();
        a.push(1, Some("claim"), Some("C1"));
        let mut b = EvidenceStore::default();
        b.push(2, None, None);
        b.push(3, Some("lab"), Some("C3"));
        let base = a.append(b);
        assert_eq!(base, 1);
        assert_eq!(a.claim_id(0), Some("C1"));
        assert_eq!(a.claim_id(1), None);
        assert_eq!(a.claim_id(2), Some("C3"));
        assert_eq!(a.code, [1, 2, 3]);
    }

    #[test]
    fn vocabulary_folds_aliases() {
        let mut v = Vocabulary::default();
        let ed = v.intern("ed");
        assert_eq!(v.get("Emergency"), ed);
        assert_eq!(v.get("ER"), ed);
        assert_eq!(v.get("outpatient"), 0);
    }
}
