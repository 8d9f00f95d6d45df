//! Accuracy of care_gaps against the synthetic generator's ground truth (`truth_care_gaps`).
//!
//! Members are mapped to true persons through identity_xref and truth_person_records (the person most of a
//! member's records belong to). A row is compared when the engine put the member in the denominator (open,
//! closed or excluded) and the generator planted a scenario for that person, measure and rate; the truth is
//! written before enrollment rules, so rows the engine marks not_applicable are counted apart, not compared.

use std::collections::{BTreeMap, HashMap};

use super::identity_stage::{TRUTH_COLUMNS, XREF_COLUMNS};
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
    let mut person_of_record: HashMap<(String, String), String> = HashMap::new();
    for b in &truth_records {
        let t = "truth_person_records";
        let (s, r, p) = (
            text_column(b, t, "source_system")?,
            text_column(b, t, "source_record_id")?,
            text_column(b, t, "person_id")?,
        );
        for i in 0..b.num_rows() {
            person_of_record.insert((s.value(i).into(), r.value(i).into()), p.value(i).into());
        }
    }
    let mut votes: HashMap<String, HashMap<String, u32>> = HashMap::new();
    let identity = identity.unwrap_or(output);
    for b in &read_table(
        &identity.join("identity_xref"),
        "identity_xref",
        Some(&XREF_COLUMNS),
    )
    .await?
    {
        let t = "identity_xref";
        let (s, r, m) = (
            text_column(b, t, "source_system")?,
            text_column(b, t, "source_record_id")?,
            text_column(b, t, "member_id")?,
        );
        for i in 0..b.num_rows() {
            if let Some(p) = person_of_record.get(&(s.value(i).to_string(), r.value(i).to_string())) {
                *votes
                    .entry(m.value(i).into())
                    .or_default()
                    .entry(p.clone())
                    .or_default() += 1;
            }
        }
    }
    let person_of_member: HashMap<String, String> = votes
        .into_iter()
        .filter_map(|(m, v)| {
            v.into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(p, _)| (m, p))
        })
        .collect();

    let mut planted: HashMap<(String, String, String), String> = HashMap::new();
    for b in &read_table(
        &lake.join("truth_care_gaps"),
        "truth_care_gaps",
        Some(&PLANTED_COLUMNS),
    )
    .await?
    {
        let t = "truth_care_gaps";
        let (p, m, r, s) = (
            text_column(b, t, "person_id")?,
            text_column(b, t, "measure")?,
            text_column(b, t, "rate")?,
            text_column(b, t, "expected_status")?,
        );
        for i in 0..b.num_rows() {
            planted.insert(
                (p.value(i).into(), m.value(i).into(), r.value(i).into()),
                s.value(i).into(),
            );
        }
    }
    let mut out: BTreeMap<String, RateAgreement> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for b in &read_table(&output.join("care_gaps"), "care_gaps", Some(&GAP_COLUMNS)).await? {
        let t = "care_gaps";
        let (member, measure, rate, status) = (
            text_column(b, t, "member_id")?,
            text_column(b, t, "measure")?,
            text_column(b, t, "rate")?,
            text_column(b, t, "status")?,
        );
        for i in 0..b.num_rows() {
            let key = format!("{}.{}", measure.value(i), rate.value(i));
            let entry = out.entry(key).or_default();
            let Some(person) = person_of_member.get(member.value(i)) else {
                continue;
            };
            let k = (
                person.clone(),
                measure.value(i).to_string(),
                rate.value(i).to_string(),
            );
            match (planted.get(&k), status.value(i)) {
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
    for (k, _) in planted.iter().filter(|(k, _)| !seen.contains(*k)) {
        out.entry(format!("{}.{}", k.1, k.2)).or_default().missing += 1;
    }
    Ok(out)
}
