//! Measures compiled from their definition files against a value-set directory: what the engine evaluates.

use std::collections::BTreeMap;
use std::path::Path;

use super::compile::Compiler;
use super::criteria::{Criterion, ValueSetMask};
use super::definition::{load_definitions, DateRef, DefinitionFile, MeasureDefinition, RateDefinition};
use super::enrollment::{CeRule, ProductLine};
use super::events::Vocabulary;
use super::value_sets::ValueSetDirectory;
use crate::error::{CoreError, CoreResult};

/// Which sex a measure's population has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SexRule {
    /// Anyone.
    Any,
    /// Administrative sex F.
    Female,
    /// Administrative sex M.
    Male,
}

/// One component of a result-based rate.
#[derive(Debug, Clone)]
pub struct ResultComponent {
    /// Name (for reasons).
    pub name: String,
    /// Tests with numeric values.
    pub values: ValueSetMask,
    /// In range below this value (strictly).
    pub below: Option<f64>,
    /// In range at or below this value.
    pub at_most: Option<f64>,
    /// Codes meaning in range.
    pub pass_codes: ValueSetMask,
    /// Codes meaning out of range.
    pub fail_codes: ValueSetMask,
}

impl ResultComponent {
    /// Whether a numeric value is in range.
    pub fn passes(&self, value: f64) -> bool {
        self.below.is_none_or(|b| value < b) && self.at_most.is_none_or(|m| value <= m)
    }
}

/// How a rate's numerator is decided.
#[derive(Debug, Clone)]
pub enum RateKind {
    /// Criteria that close the gap.
    Numerator(Criterion),
    /// The most recent result must be in range.
    Result {
        /// First day results count.
        from: DateRef,
        /// Settings whose results do not count.
        not_settings: Vec<u16>,
        /// The components.
        components: Vec<ResultComponent>,
    },
    /// Proportion of days covered.
    Adherence {
        /// Medication lists.
        medications: ValueSetMask,
        /// Least proportion of days covered.
        min_pdc: f64,
    },
}

/// One compiled rate.
#[derive(Debug, Clone)]
pub struct Rate {
    /// Rate id.
    pub id: String,
    /// Whether higher is better.
    pub higher_is_better: bool,
    /// Index of a rate that must be closed for this one to apply.
    pub requires: Option<usize>,
    /// The numerator.
    pub kind: RateKind,
}

/// One compiled measure.
#[derive(Debug, Clone)]
pub struct Measure {
    /// Measure id.
    pub id: String,
    /// Measure name.
    pub name: String,
    /// The file it came from.
    pub origin: String,
    /// Age band at the end of the MP.
    pub age: (i32, i32),
    /// Sex.
    pub sex: SexRule,
    /// Product lines reported.
    pub product_lines: Vec<ProductLine>,
    /// Continuous enrollment.
    pub enrollment: CeRule,
    /// Denominator condition.
    pub denominator: Option<Criterion>,
    /// Strata: (id, min age, max age).
    pub strata: Vec<(String, i32, i32)>,
    /// Exclusions in order: (reason, condition).
    pub exclusions: Vec<(String, Criterion)>,
    /// Rates.
    pub rates: Vec<Rate>,
}

/// The measures of a run, with the value sets and vocabulary they use.
#[derive(Debug, Clone)]
pub struct MeasureSet {
    /// Measures, in definition order.
    pub measures: Vec<Measure>,
    /// Directory index of each value set the measures use, by value-set id.
    pub value_sets: Vec<usize>,
    /// Settings, taxonomies and modifiers the measures filter on.
    pub vocabulary: Vocabulary,
}

impl MeasureSet {
    /// Load the built-in definitions (plus those in `extra`), keep the measures in `only` (all when empty), and
    /// compile them against `directory`.
    pub fn load(directory: &ValueSetDirectory, extra: Option<&Path>, only: &[String]) -> CoreResult<Self> {
        let files = load_definitions(extra)?;
        Self::compile(directory, &files, only)
    }

    /// Compile parsed definition files.
    pub fn compile(
        directory: &ValueSetDirectory,
        files: &[(String, DefinitionFile)],
        only: &[String],
    ) -> CoreResult<Self> {
        let mut compiler = Compiler::new(directory);
        let mut definitions = BTreeMap::new();
        for (origin, file) in files {
            for (name, value) in &file.definitions {
                definitions.insert(name.clone(), (origin.clone(), value.clone()));
            }
        }
        compiler.definitions = definitions;
        let available: Vec<&str> = files
            .iter()
            .filter_map(|(_, f)| f.measure.as_ref().map(|m| m.id.as_str()))
            .collect();
        if let Some(unknown) = only.iter().find(|id| !available.contains(&id.as_str())) {
            return Err(CoreError::Config(format!(
                "no measure '{unknown}' (defined: {})",
                available.join(", ")
            )));
        }
        let mut measures = Vec::new();
        for (origin, file) in files {
            let Some(def) = &file.measure else { continue };
            if !only.is_empty() && !only.contains(&def.id) {
                continue;
            }
            measures.push(compile_measure(&mut compiler, def, origin)?);
        }
        if measures.is_empty() {
            return Err(CoreError::Config("no measure to run".into()));
        }
        Ok(MeasureSet {
            measures,
            value_sets: compiler.used.clone(),
            vocabulary: compiler.vocabulary.clone(),
        })
    }
}

fn compile_measure(c: &mut Compiler<'_>, def: &MeasureDefinition, origin: &str) -> CoreResult<Measure> {
    let bad = |path: &str, message: &str| {
        CoreError::Config(format!("measure definition {origin}: {path}: {message}"))
    };
    let p = &def.population;
    if p.age[0] > p.age[1] || p.age[0] < 0 {
        return Err(bad("population.age", "must be [min, max] with 0 <= min <= max"));
    }
    let sex = match p.sex.as_str() {
        "any" => SexRule::Any,
        "female" => SexRule::Female,
        "male" => SexRule::Male,
        _ => return Err(bad("population.sex", "must be any, female or male")),
    };
    let product_lines = p
        .product_lines
        .iter()
        .map(|l| {
            ProductLine::parse(l).ok_or_else(|| {
                bad(
                    "population.product_lines",
                    "use commercial, medicaid, medicare, marketplace",
                )
            })
        })
        .collect::<CoreResult<Vec<_>>>()?;
    let denominator = p
        .denominator
        .as_ref()
        .map(|v| c.compile(v, origin, "population.denominator"))
        .transpose()?;
    let exclusions = def
        .exclusions
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok((
                e.reason.clone(),
                c.compile(&e.when, origin, &format!("exclusions[{i}].when"))?,
            ))
        })
        .collect::<CoreResult<Vec<_>>>()?;
    if def.rates.is_empty() {
        return Err(bad("rates", "a measure needs at least one rate"));
    }
    let mut rates = Vec::new();
    for (i, r) in def.rates.iter().enumerate() {
        rates.push(compile_rate(c, def, r, i, origin)?);
    }
    Ok(Measure {
        id: def.id.clone(),
        name: def.name.clone(),
        origin: origin.to_string(),
        age: (p.age[0], p.age[1]),
        sex,
        product_lines,
        enrollment: CeRule::compile(&p.enrollment, origin)?,
        denominator,
        strata: def
            .strata
            .iter()
            .map(|s| (s.id.clone(), s.age[0], s.age[1]))
            .collect(),
        exclusions,
        rates,
    })
}

fn compile_rate(
    c: &mut Compiler<'_>,
    def: &MeasureDefinition,
    r: &RateDefinition,
    i: usize,
    origin: &str,
) -> CoreResult<Rate> {
    let path = format!("rates[{i}]");
    let bad = |field: &str, message: &str| {
        CoreError::Config(format!("measure definition {origin}: {path}{field}: {message}"))
    };
    let requires = match &r.requires {
        None => None,
        Some(id) => Some(
            def.rates[..i]
                .iter()
                .position(|o| &o.id == id)
                .ok_or_else(|| bad(".requires", "must name an earlier rate of the measure"))?,
        ),
    };
    let mut mask = |names: &[String], field: &str| -> CoreResult<ValueSetMask> {
        let mut m = ValueSetMask::default();
        for (k, name) in names.iter().enumerate() {
            m.insert(c.value_set(name, origin, &format!("{path}{field}[{k}]"))?);
        }
        Ok(m)
    };
    let kinds = [r.numerator.is_some(), r.result.is_some(), r.adherence.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(bad("", "a rate has exactly one of numerator, result, adherence"));
    }
    let kind = if let Some(n) = &r.numerator {
        RateKind::Numerator(c.compile(n, origin, &format!("{path}.numerator"))?)
    } else if let Some(res) = &r.result {
        let from = DateRef::parse(&res.from).map_err(|m| bad(".result.from", &m))?;
        if res.components.is_empty() {
            return Err(bad(".result.components", "needs at least one component"));
        }
        let mut components = Vec::new();
        for (k, comp) in res.components.iter().enumerate() {
            let field = format!(".result.components[{k}]");
            if comp.values.is_empty() && comp.pass_codes.is_empty() {
                return Err(bad(&field, "needs values or pass_codes"));
            }
            if !comp.values.is_empty() && comp.below.is_none() && comp.at_most.is_none() {
                return Err(bad(&field, "numeric values need 'below' or 'at_most'"));
            }
            components.push(ResultComponent {
                name: comp.name.clone(),
                values: mask(&comp.values, &format!("{field}.values"))?,
                below: comp.below,
                at_most: comp.at_most,
                pass_codes: mask(&comp.pass_codes, &format!("{field}.pass_codes"))?,
                fail_codes: mask(&comp.fail_codes, &format!("{field}.fail_codes"))?,
            });
        }
        let not_settings = res.not_settings.iter().map(|s| c.vocabulary.intern(s)).collect();
        RateKind::Result {
            from,
            not_settings,
            components,
        }
    } else {
        let a = r.adherence.as_ref().expect("checked above");
        if !(0.0..=1.0).contains(&a.min_pdc) {
            return Err(bad(".adherence.min_pdc", "must be between 0 and 1"));
        }
        RateKind::Adherence {
            medications: mask(&a.medications, ".adherence.medications")?,
            min_pdc: a.min_pdc,
        }
    };
    Ok(Rate {
        id: r.id.clone(),
        higher_is_better: r.higher_is_better,
        requires,
        kind,
    })
}
