//! The JSON Schema of the pipeline file, published for editors (the YAML language server behind VS Code's and
//! JetBrains' YAML support completes keys and flags typos with it) and for linters in a deployment's CI.
//!
//! It is derived from the types the file is parsed into, so keys, defaults and descriptions cannot drift from
//! the parser; the value lists the derive cannot see (destination kinds, purposes, channels, bases, canonical
//! tables and their columns, payload fields) are added from the code that checks them. Draft 7, which every
//! editor reads. The published copy is `docs/pipeline.schema.json`; a test keeps it equal to this one. The
//! schema is a help, not the check: loading the file still runs every rule (a cap's channel, a basis weaker than
//! the law asks for, an ad audience named after a condition).

use serde_json::{json, Value};

use super::config::PipelineConfig;
use crate::audience::consent::{Basis, Channel, Purpose};
use crate::audience::destinations::DestinationKind;
use crate::error::{CoreError, CoreResult};
use crate::model::{canonical_input, CANONICAL_INPUTS};

/// Where the schema is published, relative to the repository (and how the example file names it).
pub const PUBLISHED_SCHEMA: &str = "docs/pipeline.schema.json";

/// The JSON Schema of the pipeline file.
pub fn pipeline_schema() -> CoreResult<Value> {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<PipelineConfig>().to_value();
    let channels: Vec<&str> = Channel::ALL.iter().map(|c| c.name()).collect();
    let purposes: Vec<&str> = Purpose::ALL.iter().map(|p| p.name()).collect();
    let bases: Vec<&str> = Basis::ALL.iter().map(|b| b.name()).collect();
    let kinds: Vec<&str> = DestinationKind::ALL.iter().map(|k| k.name()).collect();
    let mut fields: Vec<&str> = DestinationKind::ALL
        .iter()
        .flat_map(|k| k.allowed_fields().iter().copied())
        .collect();
    fields.sort_unstable();
    fields.dedup();

    let mut sources = serde_json::Map::new();
    for table in CANONICAL_INPUTS {
        let spec = canonical_input(table)
            .ok_or_else(|| CoreError::Internal(format!("canonical input {table} has no spec")))?;
        let columns: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
        sources.insert(
            table.to_string(),
            json!({"allOf": [
                {"$ref": "#/definitions/SourceConfig"},
                {"properties": {"columns": {"propertyNames": {"enum": columns}}}}
            ]}),
        );
    }
    let additions = [
        (
            "",
            json!({
                "title": "carelake pipeline file",
                "description": "Where the lake is, where outputs go, how sources map to the canonical inputs, the care-gap \
                                settings, audiences, destinations and outreach rules. Loading the file checks more than \
                                this schema can (see `carelake validate`).",
            }),
        ),
        ("/properties/version", json!({"enum": [1]})),
        (
            "/properties/sources",
            json!({"properties": sources, "additionalProperties": false}),
        ),
        (
            "/properties/destinations",
            json!({"propertyNames": {"pattern": "^[a-z0-9_]+$"}}),
        ),
        (
            "/definitions/DestinationConfig/properties/kind",
            json!({"enum": kinds}),
        ),
        (
            "/definitions/DestinationConfig/properties/fields",
            json!({"items": {"enum": fields}}),
        ),
        (
            "/definitions/AudienceConfig/properties/purpose",
            json!({"enum": purposes}),
        ),
        (
            "/definitions/AudienceConfig/properties/channels",
            json!({"items": {"enum": channels}, "minItems": 1}),
        ),
        (
            "/definitions/AudienceConfig/properties/destinations",
            json!({"minItems": 1}),
        ),
        (
            "/definitions/AudienceConfig/properties/holdout",
            json!({"minimum": 0, "exclusiveMaximum": 1}),
        ),
        (
            "/definitions/CapConfig/properties/rule",
            json!({"pattern": "^[A-Z0-9_]+$"}),
        ),
        (
            "/definitions/CapConfig/properties/window_hours",
            json!({"minimum": 1}),
        ),
        (
            "/definitions/CapConfig/properties/channels",
            json!({"items": {"enum": channels}, "minItems": 1}),
        ),
        (
            "/definitions/CapConfig/properties/states",
            json!({"items": {"pattern": "^\\s*[A-Za-z]{2}\\s*$"}}),
        ),
        (
            "/definitions/OutreachRulesConfig/properties/consent_basis",
            json!({
                "propertyNames": {"enum": purposes},
                "additionalProperties": {
                    "type": "object",
                    "propertyNames": {"enum": channels},
                    "additionalProperties": {"enum": bases},
                },
            }),
        ),
        (
            "/definitions/CareGapsConfig/properties/value_sets",
            json!({"minItems": 1}),
        ),
    ];
    for (pointer, added) in additions {
        let Some(Value::Object(at)) = schema.pointer_mut(pointer) else {
            return Err(CoreError::Internal(format!(
                "the pipeline schema has no object at {pointer}"
            )));
        };
        if let Value::Object(added) = added {
            at.extend(added);
        }
    }
    Ok(schema)
}

/// The schema as the published file holds it: pretty-printed, with a final newline.
pub fn pipeline_schema_text() -> CoreResult<String> {
    let schema = pipeline_schema()?;
    let text = serde_json::to_string_pretty(&schema)
        .map_err(|e| CoreError::Internal(format!("the pipeline schema does not serialize: {e}")))?;
    Ok(text + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_schema_is_the_one_the_code_derives() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PUBLISHED_SCHEMA);
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        let derived = pipeline_schema_text().unwrap();
        assert!(
            published == derived,
            "{PUBLISHED_SCHEMA} is out of date: regenerate it with `carelake validate --print-schema > {PUBLISHED_SCHEMA}`"
        );
    }

    #[test]
    fn the_schema_knows_every_section_and_its_value_lists() {
        let schema = pipeline_schema().unwrap();
        let root = &schema["properties"];
        for key in [
            "version",
            "lake",
            "output",
            "as_of",
            "sources",
            "caregaps",
            "audiences",
            "destinations",
            "outreach_rules",
        ] {
            assert!(root.get(key).is_some(), "{key}");
        }
        assert_eq!(schema["additionalProperties"], json!(false), "typos are flagged");
        assert_eq!(schema["required"], json!(["lake", "output"]));
        let destination = &schema["definitions"]["DestinationConfig"]["properties"];
        assert!(destination["kind"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("ads_google")));
        assert!(destination["fields"]["items"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("hashed_email")));
        assert!(destination.get("min_members").is_some());
        let columns = &root["sources"]["properties"]["consents"]["allOf"][1]["properties"]["columns"];
        assert!(columns["propertyNames"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("contact_point")));
    }
}
