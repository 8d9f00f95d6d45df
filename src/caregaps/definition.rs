//! Measure definitions as data: the YAML files that say who is in a measure, who is excluded and what closes it.
//!
//! One file per measure, plus definition files that hold named criteria shared by several measures (hospice,
//! frailty, diabetes, ...). carelake ships the eight measures in `src/caregaps/measures/`; users add or replace
//! measures with a folder of their own files. Files are checked on load: an unknown key, a malformed date
//! reference, an unknown `ref` or a value set that the value-set file lacks is an error naming the file and the
//! field (see `criteria.rs` for the criteria language).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{CoreError, CoreResult};

/// The definition files shipped with carelake: (file name, text).
pub const BUILT_IN: &[(&str, &str)] = &[
    ("common.yaml", include_str!("measures/common.yaml")),
    ("BCS-E.yaml", include_str!("measures/BCS-E.yaml")),
    ("COL-E.yaml", include_str!("measures/COL-E.yaml")),
    ("CCS-E.yaml", include_str!("measures/CCS-E.yaml")),
    ("GSD.yaml", include_str!("measures/GSD.yaml")),
    ("CBP.yaml", include_str!("measures/CBP.yaml")),
    ("EED.yaml", include_str!("measures/EED.yaml")),
    ("KED.yaml", include_str!("measures/KED.yaml")),
    ("SPD.yaml", include_str!("measures/SPD.yaml")),
];

/// A date relative to the measurement period (MP): `MP-9:01-01` is Jan 1 nine years before the MP's year,
/// `MP:12-31` the MP's last day, `any` no bound, `denominator` the day the denominator condition was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRef {
    /// No bound (any time before).
    Any,
    /// A calendar date relative to the MP's year.
    Mp {
        /// Years relative to the MP (0 or negative).
        years: i32,
        /// Month 1-12.
        month: u32,
        /// Day of month.
        day: u32,
    },
    /// The date on which the measure's denominator condition was met (e.g. the second hypertension diagnosis).
    Denominator,
}

impl DateRef {
    /// Parse `MP[-N]:MM-DD`, `any` or `denominator`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        match t {
            "any" => return Ok(DateRef::Any),
            "denominator" => return Ok(DateRef::Denominator),
            _ => {}
        }
        let bad =
            || format!("'{t}' is not a date reference (use MP:MM-DD, MP-N:MM-DD, 'any' or 'denominator')");
        let rest = t.strip_prefix("MP").ok_or_else(bad)?;
        let (years, md) = rest.split_once(':').ok_or_else(bad)?;
        let years: i32 = if years.is_empty() {
            0
        } else {
            years.parse().map_err(|_| bad())?
        };
        if years > 0 {
            return Err(format!(
                "'{t}': references after the measurement period are not supported"
            ));
        }
        let (m, d) = md.split_once('-').ok_or_else(bad)?;
        let (month, day): (u32, u32) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
        if chrono::NaiveDate::from_ymd_opt(2000, month, day).is_none() {
            return Err(bad());
        }
        Ok(DateRef::Mp { years, month, day })
    }
}

/// A whole definition file: either a measure or a set of shared named criteria.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionFile {
    /// Named criteria other files refer to with `{ref: name}`.
    #[serde(default)]
    pub definitions: BTreeMap<String, serde_yaml::Value>,
    /// The measure, when the file defines one.
    #[serde(default)]
    pub measure: Option<MeasureDefinition>,
}

/// One measure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureDefinition {
    /// Measure id as NCQA abbreviates it (BCS-E, COL-E, ...).
    pub id: String,
    /// Full name.
    pub name: String,
    /// What the measure checks, in one or two sentences.
    #[serde(default)]
    pub description: String,
    /// Choices made where the public sources were unclear (the reference's \[verify\] lines).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Who is in the initial population.
    pub population: Population,
    /// Reporting strata (by age band); every member also counts in the stratum `all`.
    #[serde(default)]
    pub strata: Vec<Stratum>,
    /// Denominator exclusions, checked in order; the first that applies is the reason.
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
    /// The measure's rates.
    pub rates: Vec<RateDefinition>,
}

/// Initial population.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Age at the end of the MP, [min, max] inclusive.
    pub age: [i32; 2],
    /// `any`, `female` or `male`.
    #[serde(default = "any_sex")]
    pub sex: String,
    /// Product lines the measure is reported for.
    pub product_lines: Vec<String>,
    /// Continuous enrollment rule.
    pub enrollment: EnrollmentRule,
    /// Condition a member must meet to be in the denominator (criteria language), e.g. diabetes.
    #[serde(default)]
    pub denominator: Option<serde_yaml::Value>,
}

fn any_sex() -> String {
    "any".into()
}

/// Continuous enrollment: the period, the allowed gaps and the anchor date.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRule {
    /// First day of the CE period.
    pub from: String,
    /// Last day of the CE period.
    #[serde(default = "mp_end")]
    pub to: String,
    /// The day the member must be enrolled on.
    #[serde(default = "mp_end")]
    pub anchor: String,
    /// Gaps allowed in each full calendar year of the period.
    #[serde(default = "one")]
    pub max_gaps_per_year: u32,
    /// Longest gap allowed, in days.
    #[serde(default = "forty_five")]
    pub max_gap_days: i32,
    /// Gaps allowed in a partial calendar year at the start of the period (BCS-E's Oct-Dec).
    #[serde(default)]
    pub partial_year_gaps: u32,
    /// The pharmacy benefit is required too (its gaps count as gaps).
    #[serde(default)]
    pub pharmacy_benefit: bool,
}

fn mp_end() -> String {
    "MP:12-31".into()
}
fn one() -> u32 {
    1
}
fn forty_five() -> i32 {
    45
}

/// A reporting stratum.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stratum {
    /// Stratum name as reported (e.g. `50-75`).
    pub id: String,
    /// Age band at the end of the MP, inclusive.
    pub age: [i32; 2],
}

/// One denominator exclusion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// Reason code written to `care_gaps.reason` (e.g. `hospice`, `bilateral_mastectomy`).
    pub reason: String,
    /// The condition (criteria language).
    pub when: serde_yaml::Value,
}

/// One rate of a measure: exactly one of `numerator`, `result` or `adherence`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateDefinition {
    /// Rate id (`total`, `below_8`, ...).
    pub id: String,
    /// What the rate counts.
    #[serde(default)]
    pub description: String,
    /// Whether a higher rate is better (false for inverse rates such as GSD >9.0).
    #[serde(default = "yes")]
    pub higher_is_better: bool,
    /// Only members whose status for this other rate is `closed` are in this rate's denominator.
    #[serde(default)]
    pub requires: Option<String>,
    /// Screening-style numerator: criteria that close the gap.
    #[serde(default)]
    pub numerator: Option<serde_yaml::Value>,
    /// Result-based numerator: the most recent result must be in range.
    #[serde(default)]
    pub result: Option<ResultRule>,
    /// Adherence numerator: proportion of days covered.
    #[serde(default)]
    pub adherence: Option<AdherenceRule>,
}

fn yes() -> bool {
    true
}

/// The most recent result (on the latest date that has every component) decides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultRule {
    /// First day results count (default: start of the MP). `denominator` = on or after the denominator date.
    #[serde(default = "mp_start")]
    pub from: String,
    /// Settings whose results do not count (e.g. inpatient, ed).
    #[serde(default)]
    pub not_settings: Vec<String>,
    /// The parts of one result (one for HbA1c; systolic and diastolic for blood pressure).
    pub components: Vec<ResultComponent>,
}

fn mp_start() -> String {
    "MP:01-01".into()
}

/// One component of a result. Several values on one day: the lowest counts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultComponent {
    /// Name shown in reasons (`hba1c`, `systolic`).
    pub name: String,
    /// Value sets of tests that carry a numeric value.
    #[serde(default)]
    pub values: Vec<String>,
    /// In range when the value is below this (strictly).
    #[serde(default)]
    pub below: Option<f64>,
    /// In range when the value is at most this.
    #[serde(default)]
    pub at_most: Option<f64>,
    /// Result codes (e.g. CPT-II) that mean in range.
    #[serde(default)]
    pub pass_codes: Vec<String>,
    /// Result codes that mean out of range.
    #[serde(default)]
    pub fail_codes: Vec<String>,
}

/// Proportion of days covered by dispensings, from the first dispensing in the MP to the MP's end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdherenceRule {
    /// Medication lists (MLD names).
    pub medications: Vec<String>,
    /// Least proportion of days covered (0-1).
    pub min_pdc: f64,
}

/// Parse one definition file's text; `origin` names it in errors.
pub fn parse_file(text: &str, origin: &str) -> CoreResult<DefinitionFile> {
    let file: DefinitionFile = serde_yaml::from_str(text)
        .map_err(|e| CoreError::Config(format!("measure definition {origin}: {e}")))?;
    if file.measure.is_none() && file.definitions.is_empty() {
        return Err(CoreError::Config(format!(
            "measure definition {origin}: has neither 'measure' nor 'definitions'"
        )));
    }
    Ok(file)
}

/// The built-in definition files, plus every `.yaml`/`.yml` file of `extra` (a folder); a measure in `extra`
/// with the id of a built-in one replaces it.
pub fn load_definitions(extra: Option<&Path>) -> CoreResult<Vec<(String, DefinitionFile)>> {
    let mut files = Vec::new();
    for (name, text) in BUILT_IN {
        files.push((format!("built-in {name}"), parse_file(text, name)?));
    }
    if let Some(dir) = extra {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            CoreError::Config(format!("cannot read the measures folder {}: {e}", dir.display()))
        })?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(CoreError::Config(format!(
                "the measures folder {} has no .yaml files",
                dir.display()
            )));
        }
        for path in paths {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CoreError::Config(format!("cannot read measure definition {origin}: {e}")))?;
            let file = parse_file(&text, &origin)?;
            if let Some(m) = &file.measure {
                files.retain(|(_, f)| f.measure.as_ref().is_none_or(|b| b.id != m.id));
            }
            files.push((origin, file));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_references() {
        assert_eq!(
            DateRef::parse("MP-9:01-01").unwrap(),
            DateRef::Mp {
                years: -9,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            DateRef::parse("MP:12-31").unwrap(),
            DateRef::Mp {
                years: 0,
                month: 12,
                day: 31
            }
        );
        assert_eq!(DateRef::parse("any").unwrap(), DateRef::Any);
        for bad in ["MP+1:01-01", "MP:13-01", "2026-01-01", "MP-2:02-30", "MP-x:01-01"] {
            assert!(DateRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn built_in_files_parse() {
        let files = load_definitions(None).unwrap();
        let ids: Vec<_> = files
            .iter()
            .filter_map(|(_, f)| f.measure.as_ref().map(|m| m.id.clone()))
            .collect();
        assert_eq!(
            ids,
            ["BCS-E", "COL-E", "CCS-E", "GSD", "CBP", "EED", "KED", "SPD"]
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = parse_file("measure:\n  id: X\n  nme: typo\n", "x.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.yaml") && err.contains("nme"), "{err}");
    }
}
