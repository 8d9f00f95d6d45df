//! Compiling the criteria of measure definitions (YAML, see [`super::criteria`]) into [`Criterion`]s against a
//! value-set directory: value sets by name, filter vocabulary, named criteria and their cycles, clear errors
//! naming the file and field.

use std::collections::{BTreeMap, HashMap};

use serde_yaml::Value;

use super::criteria::{Criterion, EventFilter, ValueSetMask};
use super::definition::DateRef;
use super::events::{ValueSetId, Vocabulary};
use super::value_sets::ValueSetDirectory;
use crate::error::{CoreError, CoreResult};

/// What compiling needs: the directory (value-set names), the ids given to the value sets used so far, the
/// vocabulary of filter values, and the named criteria of the definition files.
#[derive(Debug)]
pub struct Compiler<'a> {
    /// The value-set directory.
    pub directory: &'a ValueSetDirectory,
    /// Directory index of each value set used, by [`ValueSetId`].
    pub used: Vec<usize>,
    ids: HashMap<usize, ValueSetId>,
    /// Settings, taxonomies and modifiers named by definitions.
    pub vocabulary: Vocabulary,
    /// Named criteria: name -> (origin file, YAML).
    pub definitions: BTreeMap<String, (String, Value)>,
    resolving: Vec<String>,
}

fn err(origin: &str, path: &str, message: impl std::fmt::Display) -> CoreError {
    CoreError::Config(format!("measure definition {origin}: {path}: {message}"))
}

const EVENT_KEYS: &[&str] = &[
    "events",
    "from",
    "to",
    "min_count",
    "settings",
    "not_settings",
    "taxonomies",
    "modifiers",
    "min_age_at_event",
    "with_value",
    "arm",
];

impl<'a> Compiler<'a> {
    /// A compiler over a directory.
    pub fn new(directory: &'a ValueSetDirectory) -> Self {
        Compiler {
            directory,
            used: Vec::new(),
            ids: HashMap::new(),
            vocabulary: Vocabulary::default(),
            definitions: BTreeMap::new(),
            resolving: Vec::new(),
        }
    }

    /// The id of a value set by name; an error names the file, field and the value-set files searched.
    pub fn value_set(&mut self, name: &str, origin: &str, path: &str) -> CoreResult<ValueSetId> {
        let Some(index) = self.directory.find(name) else {
            let files: Vec<&str> = self.directory.files.iter().map(|f| f.origin.as_str()).collect();
            return Err(err(
                origin,
                path,
                format!(
                    "value set '{name}' is not in the value-set file(s) {}",
                    files.join(", ")
                ),
            ));
        };
        let next = self.used.len();
        if next >= ValueSetId::MAX as usize {
            return Err(err(origin, path, "more value sets than carelake can index"));
        }
        let id = *self.ids.entry(index).or_insert_with(|| {
            self.used.push(index);
            next as ValueSetId
        });
        Ok(id)
    }

    /// Compile one criterion.
    pub fn compile(&mut self, value: &Value, origin: &str, path: &str) -> CoreResult<Criterion> {
        let Value::Mapping(map) = value else {
            return Err(err(
                origin,
                path,
                "a criterion must be a mapping such as {events: [...]}",
            ));
        };
        let key_of = |k: &Value| k.as_str().unwrap_or("").to_string();
        let keys: Vec<String> = map.keys().map(key_of).collect();
        let get = |k: &str| map.get(Value::String(k.to_string()));
        if keys.iter().any(|k| k == "events") {
            if let Some(bad) = keys.iter().find(|k| !EVENT_KEYS.contains(&k.as_str())) {
                return Err(err(
                    origin,
                    &format!("{path}.{bad}"),
                    format!("unknown key (allowed: {})", EVENT_KEYS.join(", ")),
                ));
            }
            return Ok(Criterion::Events(self.event_filter(map, origin, path)?));
        }
        if keys.len() != 1 {
            return Err(err(
                origin,
                path,
                "a criterion has exactly one of: events, any, all, not, ref, age, institutional, deceased, paired",
            ));
        }
        let key = keys[0].as_str();
        let inner = get(key).expect("key present");
        let here = format!("{path}.{key}");
        match key {
            "any" | "all" => {
                let Value::Sequence(items) = inner else {
                    return Err(err(origin, &here, "must be a list of criteria"));
                };
                if items.is_empty() {
                    return Err(err(origin, &here, "must not be empty"));
                }
                let children = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.compile(v, origin, &format!("{here}[{i}]")))
                    .collect::<CoreResult<Vec<_>>>()?;
                Ok(if key == "any" {
                    Criterion::Any(children)
                } else {
                    Criterion::All(children)
                })
            }
            "not" => Ok(Criterion::Not(Box::new(self.compile(inner, origin, &here)?))),
            "ref" => {
                let name = inner
                    .as_str()
                    .ok_or_else(|| err(origin, &here, "must be the name of a definition"))?;
                if self.resolving.iter().any(|r| r == name) {
                    return Err(err(
                        origin,
                        &here,
                        format!("definition '{name}' refers to itself"),
                    ));
                }
                let Some((def_origin, def)) = self.definitions.get(name).cloned() else {
                    let known: Vec<&str> = self.definitions.keys().map(String::as_str).collect();
                    return Err(err(
                        origin,
                        &here,
                        format!("no definition named '{name}' (known: {})", known.join(", ")),
                    ));
                };
                self.resolving.push(name.to_string());
                let compiled = self
                    .compile(&def, &def_origin, &format!("definitions.{name}"))
                    .map_err(|e| match e {
                        CoreError::Config(m) => CoreError::Config(format!("{m} (used by {origin}: {here})")),
                        other => other,
                    });
                self.resolving.pop();
                compiled
            }
            "age" => {
                let band: [i32; 2] = serde_yaml::from_value(inner.clone())
                    .map_err(|_| err(origin, &here, "must be [min, max]"))?;
                Ok(Criterion::Age(band[0], band[1]))
            }
            "institutional" | "deceased" => {
                if inner.as_bool() != Some(true) {
                    return Err(err(origin, &here, "must be true"));
                }
                Ok(if key == "institutional" {
                    Criterion::Institutional
                } else {
                    Criterion::Deceased
                })
            }
            "paired" => {
                let Value::Mapping(p) = inner else {
                    return Err(err(
                        origin,
                        &here,
                        "must be {first: ..., second: ..., max_days: N}",
                    ));
                };
                let part = |k: &str| {
                    p.get(Value::String(k.into()))
                        .ok_or_else(|| err(origin, &format!("{here}.{k}"), "is required"))
                };
                let max_days = part("max_days")?
                    .as_i64()
                    .filter(|d| (0..=366).contains(d))
                    .ok_or_else(|| err(origin, &format!("{here}.max_days"), "must be 0-366"))?;
                let mut leaf = |k: &str| -> CoreResult<EventFilter> {
                    match self.compile(part(k)?, origin, &format!("{here}.{k}"))? {
                        Criterion::Events(f) => Ok(f),
                        _ => Err(err(origin, &format!("{here}.{k}"), "must be an events criterion")),
                    }
                };
                let (first, second) = (leaf("first")?, leaf("second")?);
                Ok(Criterion::Paired(
                    Box::new(first),
                    Box::new(second),
                    max_days as i32,
                ))
            }
            other => Err(err(
                origin,
                &format!("{path}.{other}"),
                "unknown criterion (use events, any, all, not, ref, age, institutional, deceased or paired)",
            )),
        }
    }

    fn event_filter(
        &mut self,
        map: &serde_yaml::Mapping,
        origin: &str,
        path: &str,
    ) -> CoreResult<EventFilter> {
        let get = |k: &str| map.get(Value::String(k.to_string()));
        let strings = |k: &str| -> CoreResult<Vec<String>> {
            match get(k) {
                None => Ok(Vec::new()),
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(v) => serde_yaml::from_value(v.clone())
                    .map_err(|_| err(origin, &format!("{path}.{k}"), "must be a list of strings")),
            }
        };
        let names = strings("events")?;
        if names.is_empty() {
            return Err(err(origin, &format!("{path}.events"), "names no value set"));
        }
        let mut value_sets = ValueSetMask::default();
        for (i, name) in names.iter().enumerate() {
            value_sets.insert(self.value_set(name, origin, &format!("{path}.events[{i}]"))?);
        }
        let date = |k: &str, default: &str| -> CoreResult<DateRef> {
            let text = match get(k) {
                None => default.to_string(),
                Some(Value::String(s)) => s.clone(),
                Some(_) => {
                    return Err(err(
                        origin,
                        &format!("{path}.{k}"),
                        "must be a date reference string",
                    ))
                }
            };
            DateRef::parse(&text).map_err(|m| err(origin, &format!("{path}.{k}"), m))
        };
        let (from, to) = (date("from", "MP:01-01")?, date("to", "MP:12-31")?);
        if matches!(to, DateRef::Any | DateRef::Denominator) {
            return Err(err(
                origin,
                &format!("{path}.to"),
                "must be a date in the MP's calendar (MP-N:MM-DD)",
            ));
        }
        let number = |k: &str| -> CoreResult<Option<i64>> {
            match get(k) {
                None => Ok(None),
                Some(v) => v
                    .as_i64()
                    .filter(|n| *n >= 0)
                    .map(Some)
                    .ok_or_else(|| err(origin, &format!("{path}.{k}"), "must be a whole number >= 0")),
            }
        };
        let min_count = number("min_count")?.unwrap_or(1).max(1) as u32;
        let min_age_at_event = number("min_age_at_event")?.map(|n| n as i32);
        let with_value = match get("with_value") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| err(origin, &format!("{path}.with_value"), "must be true or false"))?,
        };
        let mut intern = |k: &str| -> CoreResult<Vec<u16>> {
            Ok(strings(k)?.iter().map(|s| self.vocabulary.intern(s)).collect())
        };
        let settings = intern("settings")?;
        let not_settings = intern("not_settings")?;
        let taxonomies = intern("taxonomies")?;
        let modifiers = intern("modifiers")?;
        let arm = strings("arm")?.into_iter().next();
        Ok(EventFilter {
            value_sets,
            names,
            from,
            to,
            min_count,
            settings,
            not_settings,
            taxonomies,
            modifiers,
            min_age_at_event,
            with_value,
            arm,
        })
    }
}
