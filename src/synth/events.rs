//! Writers shared by the clinical generators: events (claim lines, labs, fills), the care-gap truth, and the
//! person-level exclusions every measure consults.

use chrono::{Duration, NaiveDate};

use super::records::{CLAIMS, EHR};
use super::rng::Rng;
use crate::model::BatchBuilder;

pub(super) fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

pub(super) struct CommonExclusions {
    pub(super) hospice: bool,
    pub(super) palliative: bool,
    pub(super) died: bool,
    /// Advanced illness with frailty, 66+.
    pub(super) ai_f: bool,
    /// Frailty alone at 81+ (CBP, KED).
    pub(super) frail_81: bool,
    pub(super) institutional: bool,
    /// ESRD or dialysis (excludes CBP, KED and SPD alike).
    pub(super) esrd: bool,
    /// Pregnant in the measurement year (excludes CBP and SPD).
    pub(super) pregnant: bool,
}

impl CommonExclusions {
    /// The first common exclusion that applies, given whether the measure uses AI&F (66+) and frailty-only (81+).
    pub(super) fn applies(&self, ai_f_rule: bool, frailty_81_rule: bool) -> Option<&'static str> {
        if self.died {
            Some("excluded_death")
        } else if self.hospice {
            Some("excluded_hospice")
        } else if self.palliative {
            Some("excluded_palliative")
        } else if ai_f_rule && self.ai_f {
            Some("excluded_advanced_illness_frailty")
        } else if frailty_81_rule && self.frail_81 {
            Some("excluded_frailty_81_plus")
        } else if self.institutional {
            Some("excluded_institutional")
        } else {
            None
        }
    }

    /// [`Self::applies`], then the conditions that exclude the kidney and statin measures and CBP.
    pub(super) fn applies_with(
        &self,
        ai_f_rule: bool,
        frailty_81_rule: bool,
        esrd_rule: bool,
        pregnancy_rule: bool,
    ) -> Option<&'static str> {
        self.applies(ai_f_rule, frailty_81_rule)
            .or(if esrd_rule && self.esrd {
                Some("excluded_esrd")
            } else if pregnancy_rule && self.pregnant {
                Some("excluded_pregnancy")
            } else {
                None
            })
    }
}

pub(super) struct Truth<'a> {
    pub(super) out: &'a mut BatchBuilder,
    pub(super) person_id: String,
}

impl Truth<'_> {
    pub(super) fn record(
        &mut self,
        measure: &str,
        rate: &str,
        scenario: &str,
        status: &str,
        common: Option<&'static str>,
    ) {
        let (scenario, status) = match common {
            Some(excl) => (format!("{excl}+{scenario}"), "excluded"),
            None => (scenario.to_string(), status),
        };
        self.out
            .text(Some(&self.person_id))
            .text(Some(measure))
            .text(Some(rate))
            .text(Some(&scenario))
            .text(Some(status));
        self.out.end_row();
    }
}

pub(super) struct Events<'a> {
    pub(super) out: &'a mut BatchBuilder,
    pub(super) claims: Option<&'a str>,
    pub(super) ehr: Option<&'a str>,
    pub(super) claim_seq: u32,
    pub(super) person: u64,
    pub(super) birth: NaiveDate,
    pub(super) as_of: NaiveDate,
}

impl Events<'_> {
    /// A date uniformly in [from, to], clipped to [birth, as_of].
    pub(super) fn date_in(&self, rng: &mut Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let from = from.max(self.birth);
        let to = to.min(self.as_of).max(from);
        from + Duration::days(rng.range(0, (to - from).num_days()))
    }

    /// A claim line (falls back to an EHR entry for people without a claims record).
    pub(super) fn claim(
        &mut self,
        date: NaiveDate,
        system: &str,
        code: &str,
        modifier: Option<&str>,
        taxonomy: Option<&str>,
        setting: &str,
    ) {
        match (self.claims, self.ehr) {
            (Some(id), _) => {
                self.claim_seq += 1;
                let claim_id = format!("CL{:010}{:03}", self.person, self.claim_seq);
                self.row(
                    CLAIMS,
                    id,
                    date,
                    system,
                    code,
                    modifier,
                    None,
                    taxonomy,
                    setting,
                    None,
                    Some(&claim_id),
                    "claim",
                );
            }
            (None, Some(id)) => self.row(
                EHR, id, date, system, code, modifier, None, taxonomy, setting, None, None, "ehr",
            ),
            (None, None) => {}
        }
    }

    /// A lab result with a value (from the EHR; claims-only people get the test billed without a value).
    pub(super) fn lab(&mut self, date: NaiveDate, loinc: &str, value: f64, unit: &str) {
        match (self.ehr, self.claims) {
            (Some(id), _) => self.row(
                EHR,
                id,
                date,
                "LOINC",
                loinc,
                None,
                Some((value, unit)),
                None,
                "outpatient",
                None,
                None,
                "lab",
            ),
            (None, Some(_)) => self.claim(date, "LOINC", loinc, None, None, "outpatient"),
            _ => {}
        }
    }

    /// A pharmacy fill (claims).
    pub(super) fn fill(&mut self, date: NaiveDate, ndc: &str, days_supply: i64) {
        if let Some(id) = self.claims {
            self.claim_seq += 1;
            let claim_id = format!("RX{:010}{:03}", self.person, self.claim_seq);
            self.row(
                CLAIMS,
                id,
                date,
                "NDC",
                ndc,
                None,
                None,
                None,
                "pharmacy",
                Some(days_supply),
                Some(&claim_id),
                "claim",
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        source: &str,
        id: &str,
        date: NaiveDate,
        system: &str,
        code: &str,
        modifier: Option<&str>,
        value: Option<(f64, &str)>,
        taxonomy: Option<&str>,
        setting: &str,
        days_supply: Option<i64>,
        claim_id: Option<&str>,
        data_source: &str,
    ) {
        self.out
            .text(Some(source))
            .text(Some(id))
            .text(None)
            .date(Some(date))
            .date(None)
            .text(Some(system))
            .text(Some(code))
            .text(modifier)
            .float(value.map(|v| (v.0 * 10.0).round() / 10.0))
            .text(value.map(|v| v.1))
            .text(taxonomy)
            .text(Some(setting))
            .integer(days_supply)
            .text(claim_id)
            .text(Some(data_source));
        self.out.end_row();
    }
}
