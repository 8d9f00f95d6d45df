//! Audience and destination definitions (the `audiences:` and `destinations:` sections of the pipeline file),
//! checked on load with errors that name the audience or destination and the field.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::consent::{Channel, Purpose};
use super::destinations::{check_ads_audience_name, check_field, DestinationKind};
use crate::error::{CoreError, CoreResult, Problems};

/// One audience as configured.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceConfig {
    /// Audience name (used in outputs, and as the ad audience's name: keep it neutral).
    pub name: String,
    /// A SQL SELECT over the output tables yielding `member_id` plus personalization fields.
    pub sql: String,
    /// Why: care_reminders, care_gaps, marketing or billing (decides consent and rules).
    pub purpose: String,
    /// Channels in order of preference (the member's own preference goes first when offered).
    pub channels: Vec<String>,
    /// Destinations (names from the `destinations` section).
    pub destinations: Vec<String>,
    /// Audiences whose members are left out of this one.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Higher wins: a member in several audiences with a priority goes only to the highest.
    #[serde(default)]
    pub priority: Option<i32>,
    /// Share of members held out (0-1), split by a stable hash of member and audience.
    #[serde(default)]
    pub holdout: f64,
}

/// One destination as configured.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    /// Kind: sms, email, voice, crm, file_drop, ads_meta, ads_google.
    pub kind: String,
    /// Payload fields sent (must be allowed for the kind).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Where a file drop writes its CSV files.
    #[serde(default)]
    pub path: Option<String>,
    /// Ad destinations only: the fewest members an audience may have there (default 100; 0 turns the check
    /// off). An audience with fewer is held back: nobody is added and the members sent before are removed.
    #[serde(default)]
    pub min_members: Option<u64>,
}

/// The fewest members an ad audience gets by default. Meta asks advertisers to avoid custom audiences under 100
/// and Google serves Customer Match lists only from 100 matched users on; a list of a few hashed identifiers is
/// also a list of a few identifiable patients.
pub const DEFAULT_MIN_AD_AUDIENCE_MEMBERS: u64 = 100;

/// A checked audience.
#[derive(Debug, Clone)]
pub struct Audience {
    /// Name.
    pub name: String,
    /// SQL.
    pub sql: String,
    /// Purpose.
    pub purpose: Purpose,
    /// Channels in order.
    pub channels: Vec<Channel>,
    /// Destination names.
    pub destinations: Vec<String>,
    /// Excluded audiences.
    pub exclude: Vec<String>,
    /// Priority.
    pub priority: Option<i32>,
    /// Holdout share.
    pub holdout: f64,
}

/// A checked destination.
#[derive(Debug, Clone)]
pub struct Destination {
    /// Name (the outreach table is `outreach_<name>`).
    pub name: String,
    /// Kind.
    pub kind: DestinationKind,
    /// Payload fields.
    pub fields: Vec<String>,
    /// File-drop path.
    pub path: Option<String>,
    /// The fewest members an audience may have in this destination (0: no minimum). An audience with fewer is
    /// held back there: nobody is added and the members sent before are removed.
    pub min_members: u64,
}

fn bad(what: &str, name: &str, field: &str, message: impl std::fmt::Display) -> CoreError {
    CoreError::Config(format!("{what} '{name}': {field}: {message}"))
}

/// Check destinations and audiences together (audiences refer to destinations and to each other). The error
/// names every problem found, each with its audience or destination and field.
pub fn check(
    audiences: &[AudienceConfig],
    destinations: &BTreeMap<String, DestinationConfig>,
) -> CoreResult<(Vec<Audience>, Vec<Destination>)> {
    let mut problems = Problems::default();
    let checked = check_into(audiences, destinations, &mut problems);
    problems.into_result()?;
    Ok(checked)
}

/// [`check`], its problems noted in `problems` (what it gives back is complete only without any).
pub fn check_into(
    audiences: &[AudienceConfig],
    destinations: &BTreeMap<String, DestinationConfig>,
    problems: &mut Problems,
) -> (Vec<Audience>, Vec<Destination>) {
    let checked_destinations: Vec<Destination> = destinations
        .iter()
        .filter_map(|(name, d)| check_destination(name, d, problems))
        .collect();
    let names: Vec<&str> = audiences.iter().map(|a| a.name.as_str()).collect();
    let mut out = Vec::new();
    for (i, a) in audiences.iter().enumerate() {
        if a.name.trim().is_empty() {
            problems.add(bad("audience", &format!("#{i}"), "name", "must not be empty"));
        }
        if names[..i].contains(&a.name.as_str()) {
            problems.add(bad("audience", &a.name, "name", "defined twice"));
        }
        let purpose = Purpose::parse(&a.purpose).ok_or_else(|| {
            bad(
                "audience",
                &a.name,
                "purpose",
                "use care_reminders, care_gaps, marketing or billing",
            )
        });
        let purpose = problems.keep(purpose);
        let mut channels = Vec::new();
        for c in &a.channels {
            match Channel::parse(c) {
                Some(channel) => channels.push(channel),
                None => problems.add(bad(
                    "audience",
                    &a.name,
                    "channels",
                    format!("unknown channel '{c}'"),
                )),
            }
        }
        if a.channels.is_empty() {
            problems.add(bad("audience", &a.name, "channels", "name at least one channel"));
        }
        if a.destinations.is_empty() {
            problems.add(bad(
                "audience",
                &a.name,
                "destinations",
                "name at least one destination",
            ));
        }
        for d in &a.destinations {
            // A destination with problems of its own is still known, and still an ad platform by its kind.
            match destinations.get(d) {
                None => problems.add(bad(
                    "audience",
                    &a.name,
                    "destinations",
                    format!("unknown destination '{d}'"),
                )),
                Some(dest) if DestinationKind::parse(&dest.kind).is_some_and(|k| k.is_ads()) => {
                    problems.keep(check_ads_audience_name(d, &a.name));
                }
                Some(_) => {}
            }
        }
        for x in &a.exclude {
            if !names.contains(&x.as_str()) || x == &a.name {
                problems.add(bad(
                    "audience",
                    &a.name,
                    "exclude",
                    format!("'{x}' is not another audience"),
                ));
            }
        }
        if !(0.0..1.0).contains(&a.holdout) {
            problems.add(bad(
                "audience",
                &a.name,
                "holdout",
                "must be at least 0 and below 1",
            ));
        }
        let statement = a.sql.trim_start().to_lowercase();
        if !statement.starts_with("select") && !statement.starts_with("with") {
            problems.add(bad(
                "audience",
                &a.name,
                "sql",
                "must be a SELECT (or WITH ... SELECT) statement",
            ));
        }
        if let Some(purpose) = purpose {
            out.push(Audience {
                name: a.name.clone(),
                sql: a.sql.clone(),
                purpose,
                channels,
                destinations: a.destinations.clone(),
                exclude: a.exclude.clone(),
                priority: a.priority,
                holdout: a.holdout,
            });
        }
    }
    (out, checked_destinations)
}

/// One destination checked, its problems noted in `problems` (None when it has any).
fn check_destination(name: &str, d: &DestinationConfig, problems: &mut Problems) -> Option<Destination> {
    let before = problems.len();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        problems.add(bad(
            "destination",
            name,
            "name",
            "use lower-case letters, digits and _ (it names a table)",
        ));
    }
    let Some(kind) = DestinationKind::parse(&d.kind) else {
        problems.add(bad(
            "destination",
            name,
            "kind",
            format!(
                "'{}' is not one of {}",
                d.kind,
                DestinationKind::ALL.map(DestinationKind::name).join(", ")
            ),
        ));
        return None;
    };
    for field in &d.fields {
        problems.keep(check_field(name, kind, field));
    }
    if kind == DestinationKind::FileDrop && d.path.is_none() {
        problems.add(bad(
            "destination",
            name,
            "path",
            "a file_drop needs a path (folder or volume)",
        ));
    }
    let min_members = match (d.min_members, kind.is_ads()) {
        (Some(n), true) => n,
        (None, true) => DEFAULT_MIN_AD_AUDIENCE_MEMBERS,
        (None, false) => 0,
        (Some(_), false) => {
            problems.add(bad(
                "destination",
                name,
                "min_members",
                "applies to ad destinations (ads_meta, ads_google) only",
            ));
            0
        }
    };
    (problems.len() == before).then(|| Destination {
        name: name.to_string(),
        kind,
        fields: d.fields.clone(),
        path: d.path.clone(),
        min_members,
    })
}

/// Whether a member is held out of an audience: a stable hash of (audience, member) below the share.
pub fn held_out(audience: &str, member_id: &str, share: f64) -> bool {
    if share <= 0.0 {
        return false;
    }
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(audience.as_bytes());
    h.update([0]);
    h.update(member_id.as_bytes());
    let digest = h.finalize();
    let x = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    (x as f64 / u64::MAX as f64) < share
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> CoreResult<(Vec<Audience>, Vec<Destination>)> {
        #[derive(Deserialize)]
        struct Doc {
            audiences: Vec<AudienceConfig>,
            destinations: BTreeMap<String, DestinationConfig>,
        }
        let doc: Doc = serde_yaml::from_str(yaml).map_err(|e| CoreError::Config(e.to_string()))?;
        check(&doc.audiences, &doc.destinations)
    }

    const BASE: &str = "destinations:\n  text: {kind: sms, fields: [phone, first_name, message_topic]}\n  meta: {kind: ads_meta, fields: [hashed_email]}\naudiences:\n";

    #[test]
    fn a_valid_pair_of_audiences() {
        let yaml = format!(
            "{BASE}  - {{name: colorectal_recall, sql: 'select member_id from care_gaps', purpose: care_gaps, channels: [sms], destinations: [text], holdout: 0.1}}\n  - {{name: spring_wellness, sql: 'select member_id from member_profile', purpose: marketing, channels: [ads], destinations: [meta], exclude: [colorectal_recall]}}\n"
        );
        let (a, d) = parse(&yaml).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(d.len(), 2);
        // Ad destinations have a minimum audience size unless told otherwise; the others have none.
        let min_of = |d: &[Destination], name: &str| d.iter().find(|x| x.name == name).unwrap().min_members;
        assert_eq!(
            (min_of(&d, "meta"), min_of(&d, "text")),
            (DEFAULT_MIN_AD_AUDIENCE_MEMBERS, 0)
        );
        let (_, d) = parse(&yaml.replace(
            "fields: [hashed_email]}",
            "fields: [hashed_email], min_members: 0}",
        ))
        .unwrap();
        assert_eq!(min_of(&d, "meta"), 0);
    }

    #[test]
    fn errors_name_the_audience_and_field() {
        let cases = [
            ("{name: x, sql: 'select 1', purpose: fun, channels: [sms], destinations: [text]}", "purpose"),
            ("{name: x, sql: 'select 1', purpose: care_gaps, channels: [fax], destinations: [text]}", "fax"),
            ("{name: x, sql: 'select 1', purpose: care_gaps, channels: [sms], destinations: [pager]}", "pager"),
            ("{name: x, sql: 'delete from t', purpose: care_gaps, channels: [sms], destinations: [text]}", "SELECT"),
            ("{name: diabetes recall, sql: 'select 1', purpose: care_gaps, channels: [ads], destinations: [meta]}", "diabetes"),
            ("{name: x, sql: 'select 1', purpose: care_gaps, channels: [sms], destinations: [text], holdout: 1.5}", "holdout"),
            ("{name: x, sql: 'select 1', purpose: care_gaps, channels: [sms], destinations: [text], exclude: [y]}", "exclude"),
        ];
        for (audience, word) in cases {
            let err = parse(&format!("{BASE}  - {audience}\n")).unwrap_err().to_string();
            assert!(err.contains(word), "{audience}: {err}");
        }
        let err = parse("destinations:\n  t: {kind: sms, fields: [measure]}\naudiences: []\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("'t'") && err.contains("measure"), "{err}");
        let err = parse("destinations:\n  t: {kind: sms, fields: [phone], min_members: 10}\naudiences: []\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("'t'") && err.contains("min_members"), "{err}");
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let yaml = "destinations:\n  text: {kind: sms, fields: [phone, measure]}\n  meta: {kind: ads_meta, fields: [hashed_email, first_name]}\n  fax: {kind: fax, fields: []}\naudiences:\n  - {name: diabetes_ads, sql: 'select member_id from care_gaps', purpose: marketing, channels: [ads], destinations: [meta]}\n  - {name: recall, sql: 'selec member_id', purpose: care_gaps, channels: [sms, pigeon], destinations: [text, pager]}\n";
        let err = parse(yaml).unwrap_err().to_string();
        for expected in [
            "7 problems:",
            "'text' (sms): field 'measure'",
            "'meta' (ads_meta): field 'first_name'",
            "destination 'fax': kind",
            "'diabetes_ads' contains 'diabetes'",
            "unknown channel 'pigeon'",
            "unknown destination 'pager'",
            "audience 'recall': sql",
        ] {
            assert!(err.contains(expected), "{expected}: {err}");
        }
        // Each problem on a line of its own; an audience sent to a destination with its own problems is not
        // told the destination is unknown.
        assert_eq!(err.lines().count(), 8, "{err}");
        assert!(!err.contains("unknown destination 'text'") && !err.contains("unknown destination 'meta'"));
    }

    #[test]
    fn holdout_is_stable_and_close_to_its_share() {
        let n = 20_000;
        let held = (0..n)
            .filter(|i| held_out("recall", &format!("MBR-{i}"), 0.1))
            .count();
        assert!((1_800..2_200).contains(&held), "{held}");
        assert_eq!(held_out("recall", "MBR-7", 0.1), held_out("recall", "MBR-7", 0.1));
        assert!(!held_out("recall", "MBR-7", 0.0));
    }
}
