//! Accuracy of care_gaps against the synthetic generator's ground truth (`truth_care_gaps`).
//!
//! Members are mapped to true persons through identity_xref and truth_person_records (the person most of a
//! member's records belong to). A row is compared when the engine put the member in the denominator (open,
//! closed or excluded) and the generator planted a scenario for that person, measure and rate; the truth is
//! written before enrollment rules, so rows the engine marks not_applicable are counted apart, not compared.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet};

use super::identity_stage::{persons_of_records, TRUTH_COLUMNS, XREF_COLUMNS};
use crate::error::CoreResult;
use crate::lake::{read_table, Location};
use crate::model::text_column;

/// The columns of truth_care_gaps compared: the planted status of a person, measure and rate.
const PLANTED_COLUMNS: [&str; 4] = ["person_id", "measure", "rate", "expected_status"];

/// The columns of care_gaps compared (its evidence and dates are not).
const GAP_COLUMNS: [&str; 4] = ["member_id", "measure", "rate", "status"];

/// Agreement for one measure rate.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RateAgreement {
    /// Rows compared.
    pub compared: u64,
    /// Rows whose status equals the planted one.
    pub agreed: u64,
    /// Engine rows marked not_applicable for planted scenarios (enrollment rules), not compared.
    pub not_applicable: u64,
    /// Planted scenarios with no engine row at all.
    pub missing: u64,
    /// Engine rows (open/closed/excluded) for which nothing was planted.
    pub unplanted: u64,
}

impl RateAgreement {
    /// agreed / compared (1.0 when nothing was compared).
    pub fn accuracy(&self) -> f64 {
        if self.compared == 0 {
            1.0
        } else {
            self.agreed as f64 / self.compared as f64
        }
    }
}

/// Compare `<output>/care_gaps` with `<lake>/truth_care_gaps`; keys are `MEASURE.rate`. `identity` holds
/// identity_xref (default: `output`).
pub async fn evaluate_caregaps(
    output: &Location,
    lake: &Location,
    identity: Option<&Location>,
) -> CoreResult<BTreeMap<String, RateAgreement>> {
    let truth_records = read_table(
        &lake.join("truth_person_records"),
        "truth_person_records",
        Some(&TRUTH_COLUMNS),
    )
    .await?;
    // Every text is borrowed from the batches read, which live to the end: at 1M members, owned keys for the
    // 2.1M records and 1.3M rows cost more than the comparison itself.
    let person_of_record = persons_of_records(&truth_records, "truth_person_records")?;
    let identity = identity.unwrap_or(output);
    let xref = read_table(
        &identity.join("identity_xref"),
        "identity_xref",
        Some(&XREF_COLUMNS),
    )
    .await?;
    let mut votes: HashMap<&str, HashMap<&str, u32>> = HashMap::default();
    for b in &xref {
        let t = "identity_xref";
        let (s, r, m) = (
            text_column(b, t, "source_system")?,
            text_column(b, t, "source_record_id")?,
            text_column(b, t, "member_id")?,
        );
        for i in 0..b.num_rows() {
            if let Some(&p) = person_of_record.get(&(s.value(i), r.value(i))) {
                *votes.entry(m.value(i)).or_default().entry(p).or_default() += 1;
            }
        }
    }
    // A member is the person most of its records belong to (on a tie, the smallest person id).
    let person_of_member: HashMap<&str, &str> = votes
        .into_iter()
        .filter_map(|(m, v)| {
            v.into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(p, _)| (m, p))
        })
        .collect();

    let planted_batches = read_table(
        &lake.join("truth_care_gaps"),
        "truth_care_gaps",
        Some(&PLANTED_COLUMNS),
    )
    .await?;
    let mut planted: HashMap<(&str, &str, &str), &str> = HashMap::default();
    for b in &planted_batches {
        let t = "truth_care_gaps";
        let (p, m, r, s) = (
            text_column(b, t, "person_id")?,
            text_column(b, t, "measure")?,
            text_column(b, t, "rate")?,
            text_column(b, t, "expected_status")?,
        );
        for i in 0..b.num_rows() {
            planted.insert((p.value(i), m.value(i), r.value(i)), s.value(i));
        }
    }
    let gaps = read_table(&output.join("care_gaps"), "care_gaps", Some(&GAP_COLUMNS)).await?;
    let mut by_rate: BTreeMap<(&str, &str), RateAgreement> = BTreeMap::new();
    let mut seen: HashSet<(&str, &str, &str)> = HashSet::default();
    for b in &gaps {
        let t = "care_gaps";
        let (member, measure, rate, status) = (
            text_column(b, t, "member_id")?,
            text_column(b, t, "measure")?,
            text_column(b, t, "rate")?,
            text_column(b, t, "status")?,
        );
        for i in 0..b.num_rows() {
            let entry = by_rate.entry((measure.value(i), rate.value(i))).or_default();
            let Some(&person) = person_of_member.get(member.value(i)) else {
                continue;
            };
            let k = (person, measure.value(i), rate.value(i));
            match (planted.get(&k).copied(), status.value(i)) {
                (Some(expected), "not_applicable") if expected != "not_applicable" => {
                    entry.not_applicable += 1
                }
                (Some(expected), got) => {
                    entry.compared += 1;
                    if expected == got {
                        entry.agreed += 1;
                    }
                }
                (None, "not_applicable") => {}
                (None, _) => entry.unplanted += 1,
            }
            seen.insert(k);
        }
    }
    for k in planted.keys().filter(|k| !seen.contains(*k)) {
        by_rate.entry((k.1, k.2)).or_default().missing += 1;
    }
    let out = by_rate
        .into_iter()
        .map(|((measure, rate), agreement)| (format!("{measure}.{rate}"), agreement))
        .collect();
    Ok(out)
}
