//! The pipeline configuration file (YAML): where the lake is, where outputs go, and how sources map to the
//! canonical input tables. Unknown keys are errors, so a typo never silently falls back to a default.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::{CoreError, CoreResult, Problems};
use crate::lake::{ColumnMapping, Location};
use crate::model::{canonical_input, CANONICAL_INPUTS};

/// A parsed and checked pipeline configuration.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Config format version (1).
    #[serde(default = "default_version")]
    pub version: u32,
    /// Where the canonical input tables are (a folder or prefix; local path or object-store URL).
    pub lake: String,
    /// Where output tables are written.
    pub output: String,
    /// The as-of date of the run (ISO date); defaults to today.
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// Per-table overrides: an explicit location and a column mapping.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// The care-gap stage (run after identity when present).
    #[serde(default)]
    pub caregaps: Option<CareGapsConfig>,
    /// Audiences (run after care gaps when present).
    #[serde(default)]
    pub audiences: Vec<crate::audience::definition::AudienceConfig>,
    /// Destinations the audiences write change sets for.
    #[serde(default)]
    pub destinations: BTreeMap<String, crate::audience::definition::DestinationConfig>,
    /// Caps and consent bases added to the defaults (only ever stricter).
    #[serde(default)]
    pub outreach_rules: crate::audience::rules::OutreachRulesConfig,
}

/// Settings of the care-gap stage.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CareGapsConfig {
    /// Value-set files (NCQA VSD / MLD as .xlsx or .csv), or `sample`.
    pub value_sets: Vec<String>,
    /// Measure ids to run (default: all defined).
    #[serde(default)]
    pub measures: Vec<String>,
    /// A folder of extra measure definition files.
    #[serde(default)]
    pub measures_dir: Option<String>,
    /// Measurement year (default: the as-of date's year).
    #[serde(default)]
    pub year: Option<i32>,
}

/// Where one canonical input comes from and how its columns are named there.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Explicit location of the table (default: found in the lake by its canonical name).
    #[serde(default)]
    pub uri: Option<String>,
    /// Canonical column name -> source column name.
    #[serde(default)]
    pub columns: HashMap<String, String>,
}

fn default_version() -> u32 {
    1
}

impl PipelineConfig {
    /// Parse a configuration from YAML text; `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: &str) -> CoreResult<Self> {
        let config: PipelineConfig =
            serde_yaml::from_str(text).map_err(|e| CoreError::Config(format!("{origin}: {e}")))?;
        config.check(origin)?;
        Ok(config)
    }

    /// Read and parse a configuration file.
    pub fn from_file(path: &Path) -> CoreResult<Self> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CoreError::Config(format!("cannot read config file {origin}: {e}")))?;
        Self::from_yaml(&text, &origin)
    }

    /// Check what parsing cannot: the error names every problem of the file.
    fn check(&self, origin: &str) -> CoreResult<()> {
        let mut problems = Problems::default();
        let config = |message: String| CoreError::Config(message);
        if self.version != 1 {
            problems.add(config(format!(
                "version {} is not supported (use 1)",
                self.version
            )));
        }
        if let Err(e) = Location::parse(&self.lake) {
            problems.add(config(format!("lake: {e}")));
        }
        if let Err(e) = Location::parse(&self.output) {
            problems.add(config(format!("output: {e}")));
        }
        crate::audience::definition::check_into(&self.audiences, &self.destinations, &mut problems);
        problems.keep(self.outreach_rules.rules());
        if self
            .caregaps
            .as_ref()
            .is_some_and(|gaps| gaps.value_sets.is_empty())
        {
            problems.add(config(
                "caregaps.value_sets: name your Value Set Directory file(s), or 'sample'".into(),
            ));
        }
        for (table, source) in &self.sources {
            match canonical_input(table) {
                None => problems.add(config(format!(
                    "sources.{table}: not a canonical input table (known: {})",
                    CANONICAL_INPUTS.join(", ")
                ))),
                Some(spec) => {
                    for canonical in source.columns.keys() {
                        if spec.column(canonical).is_none() {
                            problems.add(config(format!(
                                "sources.{table}.columns.{canonical}: not a column of {table}"
                            )));
                        }
                    }
                }
            }
            if let Some(uri) = &source.uri {
                if let Err(e) = Location::parse(uri) {
                    problems.add(config(format!("sources.{table}.uri: {e}")));
                }
            }
        }
        problems.into_result_in(origin)
    }

    /// The lake location.
    pub fn lake(&self) -> CoreResult<Location> {
        Location::parse(&self.lake)
    }

    /// The output location.
    pub fn output(&self) -> CoreResult<Location> {
        Location::parse(&self.output)
    }

    /// The column mapping for a canonical table (empty when none is configured).
    pub fn mapping(&self, table: &str) -> ColumnMapping {
        self.sources
            .get(table)
            .map(|s| s.columns.clone())
            .unwrap_or_default()
    }

    /// The explicit location of a table, if configured.
    pub fn source_uri(&self, table: &str) -> Option<&str> {
        self.sources.get(table).and_then(|s| s.uri.as_deref())
    }
}

impl PipelineConfig {
    /// The inputs of a run: `lake` with every configured location and column mapping.
    pub fn input_set(&self, lake: Location) -> super::ingest::InputSet {
        let mut inputs = super::ingest::InputSet::lake(lake);
        for table in CANONICAL_INPUTS {
            inputs.overrides.insert(
                table.to_string(),
                super::ingest::InputOverride {
                    uri: self.source_uri(table).map(str::to_string),
                    columns: self.mapping(table),
                },
            );
        }
        inputs
    }

    /// The checked audiences and destinations.
    pub fn audiences(
        &self,
    ) -> CoreResult<(
        Vec<crate::audience::definition::Audience>,
        Vec<crate::audience::definition::Destination>,
    )> {
        crate::audience::definition::check(&self.audiences, &self.destinations)
    }

    /// The outreach rules: the defaults with the file's additions.
    pub fn outreach_rules(&self) -> CoreResult<crate::audience::rules::OutreachRules> {
        self.outreach_rules.rules()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_minimal_config() {
        let c = PipelineConfig::from_yaml("lake: ./lake\noutput: ./out\n", "t.yml").unwrap();
        assert_eq!(c.version, 1);
        assert!(c.mapping("person_records").is_empty());
    }

    #[test]
    fn unknown_keys_and_tables_are_errors() {
        let e = PipelineConfig::from_yaml("lake: a\noutput: b\nlakes: c\n", "t.yml").unwrap_err();
        assert!(e.to_string().contains("lakes"), "{e}");
        let e =
            PipelineConfig::from_yaml("lake: a\noutput: b\nsources:\n  people: {}\n", "t.yml").unwrap_err();
        assert!(e.to_string().contains("sources.people"), "{e}");
        let e = PipelineConfig::from_yaml(
            "lake: a\noutput: b\nsources:\n  person_records:\n    columns: {given: FNAME}\n",
            "t.yml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("columns.given"), "{e}");
    }

    #[test]
    fn every_problem_of_a_file_is_named_in_one_error() {
        let text = "version: 2\nlake: a\noutput: b\nsources:\n  people: {}\n  person_records:\n    columns: {given: FNAME}\ncaregaps: {value_sets: []}\ndestinations:\n  t: {kind: sms, fields: [measure]}\naudiences: []\n";
        let e = PipelineConfig::from_yaml(text, "t.yml").unwrap_err().to_string();
        assert!(e.starts_with("config error: t.yml: 5 problems:\n  - "), "{e}");
        for expected in [
            "version 2",
            "caregaps.value_sets",
            "sources.people",
            "sources.person_records.columns.given",
            "destination 't' (sms): field 'measure'",
        ] {
            assert!(e.contains(expected), "{expected}: {e}");
        }
        // One problem reads as before: the file, then the problem.
        let e = PipelineConfig::from_yaml("version: 2\nlake: a\noutput: b\n", "t.yml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config error: t.yml: version 2 is not supported (use 1)"
        );
    }

    #[test]
    fn bad_dates_are_errors() {
        let e = PipelineConfig::from_yaml("lake: a\noutput: b\nas_of: 2026-13-01\n", "t.yml").unwrap_err();
        assert!(matches!(e, CoreError::Config(_)));
    }
}
