//! The audience stage: each audience's SQL over the output tables (DataFusion), policy per member, and change
//! sets per destination diffed against the previous run's state.
//!
//! Tables the SQL sees: member_profile, care_gaps, measure_rates (from the output folder) and appointments,
//! communications, consents (the canonical inputs, with member_id resolved through identity_xref). Sends are
//! computed for the run instant (the as-of date at 12:00 UTC), so the same as-of date gives the same rows.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{DateTime, NaiveDate, Utc};
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::SessionContext;
use rayon::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::identity_stage::{read_xref, record_key};
use super::ingest::{open_input, InputSet};
use super::progress::Progress;
use super::run_log::{record_run, run_id, write_output, RunRecord};
use crate::audience::caps::default_caps;
use crate::audience::channel::Reachability;
use crate::audience::consent::Channel;
use crate::audience::definition::{Audience, Destination};
use crate::audience::destinations::{hashed_email, hashed_phone, DestinationKind};
use crate::audience::ledger::Ledger;
use crate::audience::policy::{decide, Decision, MemberContext};
use crate::audience::quiet_hours::parse_zone;
use crate::error::{CoreError, CoreResult};
use crate::lake::{read_table_if_present, Location, WriteMode};
use crate::model::{self, optional_text_column, text_column, text_value, BatchBuilder};

/// Counts for one audience.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AudienceSummary {
    /// Audience name.
    pub name: String,
    /// Members the SQL selected.
    pub selected: u64,
    /// Members sent to at least one destination.
    pub members: u64,
    /// Suppressions by rule.
    pub suppressed: BTreeMap<String, u64>,
    /// Per destination: (upserts, deletes) in this run's change set.
    pub changes: BTreeMap<String, (u64, u64)>,
}

/// What the audience stage did.
#[derive(Debug, Clone)]
pub struct AudienceReport {
    /// Run id.
    pub run_id: String,
    /// Nothing was written.
    pub dry_run: bool,
    /// Per audience.
    pub audiences: Vec<AudienceSummary>,
    /// A few (audience, member_id, channel, window start UTC) rows, for a dry run's preview.
    pub sample: Vec<(String, String, String, Option<String>)>,
    /// Where the outputs are.
    pub output: String,
    /// Wall seconds of each phase (load, sql, policy, diff, write), in order.
    pub phase_seconds: Vec<(String, f64)>,
}

fn register(ctx: &SessionContext, name: &str, batches: Vec<RecordBatch>) -> CoreResult<()> {
    let Some(schema) = batches.first().map(RecordBatch::schema) else {
        return Ok(());
    };
    let table = MemTable::try_new(schema, vec![batches])?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// Replace a batch's member_id column with the resolved member of each row; returns the batch and the members.
fn resolve_members(
    batch: &RecordBatch,
    xref: &HashMap<String, String>,
) -> CoreResult<(RecordBatch, Vec<Option<String>>)> {
    let col = |n: &str| optional_text_column(batch, n);
    let (member, sys, rec) = (col("member_id"), col("source_system"), col("source_record_id"));
    let resolved: Vec<Option<String>> = (0..batch.num_rows())
        .map(|i| match text_value(member, i) {
            Some(m) => Some(m.to_string()),
            None => xref
                .get(&record_key(text_value(sys, i)?, text_value(rec, i)?))
                .cloned(),
        })
        .collect();
    let index = batch
        .schema()
        .index_of("member_id")
        .map_err(|_| CoreError::Internal("conformed batch without member_id".into()))?;
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns[index] = Arc::new(StringArray::from(resolved.clone()));
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Ok((
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?,
        resolved,
    ))
}

/// One member's row in member_profile (by position: the strings stay in the Arrow batches) and the values policy
/// reads for every member.
#[derive(Debug, Clone, Copy, Default)]
struct Profile {
    batch: u32,
    row: u32,
    deceased: bool,
    time_zone: Option<chrono_tz::Tz>,
    reach: Reachability,
    preferred: Option<Channel>,
}

const PROFILE_FIELDS: [&str; 11] = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "preferred_language",
    "time_zone",
];

/// member_profile indexed by member id, its text columns kept as Arrow arrays.
#[derive(Debug, Default)]
struct Profiles {
    texts: Vec<Vec<Option<StringArray>>>,
    by_member: HashMap<String, Profile>,
}

impl Profiles {
    fn get(&self, member_id: &str) -> Option<&Profile> {
        self.by_member.get(member_id)
    }

    /// A profile text field (one of PROFILE_FIELDS), if present.
    fn field(&self, p: &Profile, name: &str) -> Option<&str> {
        let column = PROFILE_FIELDS.iter().position(|f| *f == name)?;
        let array = self.texts[p.batch as usize][column].as_ref()?;
        let row = p.row as usize;
        array.is_valid(row).then(|| array.value(row))
    }
}

fn profiles(batches: &[RecordBatch]) -> CoreResult<Profiles> {
    let mut out = Profiles::default();
    let mut zones: HashMap<String, Option<chrono_tz::Tz>> = HashMap::new();
    for (bi, b) in batches.iter().enumerate() {
        let ids = text_column(b, "member_profile", "member_id")?;
        let flag = |n: &str| b.column_by_name(n).and_then(|c| c.as_boolean_opt().cloned());
        let (phone, email, mail) = (
            flag("has_valid_phone"),
            flag("has_valid_email"),
            flag("has_mailing_address"),
        );
        let deceased = b.column_by_name("deceased_date");
        let preferred = b
            .column_by_name("preferred_channel")
            .and_then(|c| c.as_string_opt::<i32>().cloned());
        let texts: Vec<Option<StringArray>> = PROFILE_FIELDS
            .iter()
            .map(|f| {
                b.column_by_name(f)
                    .and_then(|c| c.as_string_opt::<i32>().cloned())
            })
            .collect();
        let zone_column = texts[PROFILE_FIELDS.len() - 1].clone();
        for i in 0..b.num_rows() {
            let on = |a: &Option<arrow::array::BooleanArray>| {
                a.as_ref().is_some_and(|a| a.is_valid(i) && a.value(i))
            };
            let time_zone = zone_column.as_ref().filter(|z| z.is_valid(i)).and_then(|z| {
                let name = z.value(i);
                *zones.entry(name.to_string()).or_insert_with(|| parse_zone(name))
            });
            let p = Profile {
                batch: bi as u32,
                row: i as u32,
                deceased: deceased.is_some_and(|d| d.is_valid(i)),
                time_zone,
                reach: Reachability {
                    phone: on(&phone),
                    email: on(&email),
                    mail: on(&mail),
                },
                preferred: preferred
                    .as_ref()
                    .filter(|a| a.is_valid(i))
                    .and_then(|a| Channel::parse(a.value(i))),
            };
            out.by_member.insert(ids.value(i).to_string(), p);
        }
        out.texts.push(texts);
    }
    Ok(out)
}

/// Where each audience's selected rows come from.
#[derive(Debug)]
pub enum AudienceSelection {
    /// Run each audience's SQL here (DataFusion) over the output tables and the resolved inputs.
    Sql,
    /// The rows an engine already selected (the Spark engine runs the SQL as Spark SQL), one list of batches
    /// per audience, in the order of the configuration.
    Given(Vec<Vec<RecordBatch>>),
}

/// Rows an audience's SQL selected: member id -> personalization fields (as text).
fn selected_rows(
    audience: &str,
    batches: &[RecordBatch],
) -> CoreResult<Vec<(String, BTreeMap<String, String>)>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for b in batches {
        let Ok(index) = b.schema().index_of("member_id") else {
            return Err(CoreError::Config(format!(
                "audience '{audience}': sql: the result has no member_id column"
            )));
        };
        let ids = arrow::compute::cast(b.column(index), &DataType::Utf8)?;
        let ids = ids.as_string::<i32>();
        let others: Vec<(String, ArrayRef)> = b
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != index)
            .map(|(j, f)| {
                Ok((
                    f.name().clone(),
                    arrow::compute::cast(b.column(j), &DataType::Utf8)?,
                ))
            })
            .collect::<CoreResult<_>>()?;
        for i in 0..b.num_rows() {
            if !ids.is_valid(i) || !seen.insert(ids.value(i).to_string()) {
                continue;
            }
            let fields = others
                .iter()
                .filter(|(_, a)| a.is_valid(i))
                .map(|(n, a)| (n.clone(), a.as_string::<i32>().value(i).to_string()))
                .collect();
            out.push((ids.value(i).to_string(), fields));
        }
    }
    Ok(out)
}

/// The payload of one destination: the allowed fields it asks for, from the SQL row first, then the profile.
fn payload(
    destination: &Destination,
    fields: &BTreeMap<String, String>,
    profiles: &Profiles,
    profile: &Profile,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for f in &destination.fields {
        let value = match f.as_str() {
            "hashed_email" => profiles.field(profile, "email").and_then(hashed_email),
            "hashed_phone" => profiles.field(profile, "phone").and_then(hashed_phone),
            name => fields
                .get(name)
                .cloned()
                .or_else(|| profiles.field(profile, name).map(str::to_string)),
        };
        if let Some(v) = value {
            out.insert(f.clone(), v);
        }
    }
    out
}

fn sha(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// A member an audience selected, with its fields and the policy outcome (or the suppression rule and detail).
type Outcome<'a> = (
    String,
    &'a BTreeMap<String, String>,
    Result<Decision, (String, String)>,
);

/// One change of a destination: (audience, member, op, the membership for upserts).
type Change<'a> = (String, String, &'static str, Option<&'a Membership>);

/// One member's row in one destination.
struct Membership {
    audience: String,
    destination: String,
    member_id: String,
    decision: Decision,
    payload: String,
    row_hash: String,
}

/// Write a change set as `<folder>/<destination>-<run id>.csv` for SFTP-style vendors (a retry rewrites the same
/// file with the same rows).
async fn write_file_drop(
    folder: &Location,
    destination: &str,
    run: &str,
    batch: &RecordBatch,
) -> CoreResult<()> {
    use object_store::ObjectStoreExt;
    let mut bytes = Vec::new();
    {
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut bytes);
        writer.write(batch)?;
    }
    let location = folder.join(&format!("{destination}-{run}.csv"));
    if let Some(dir) = folder.local_path() {
        std::fs::create_dir_all(&dir).map_err(|e| {
            CoreError::storage(format!("creating the file-drop folder {}", folder.redacted()), e)
        })?;
    }
    let (store, path) = location.object_store()?;
    store
        .put(&path, object_store::PutPayload::from(bytes))
        .await
        .map_err(|e| CoreError::storage(format!("writing the file drop {}", location.redacted()), e))?;
    Ok(())
}

/// Run the audiences, their rows selected by `selection`; with `dry_run`, compute everything and write nothing.
#[allow(clippy::too_many_arguments)]
pub async fn run_audiences(
    inputs: &InputSet,
    output: &Location,
    audiences: &[Audience],
    destinations: &[Destination],
    selection: AudienceSelection,
    as_of: NaiveDate,
    dry_run: bool,
    progress: &dyn Progress,
) -> CoreResult<AudienceReport> {
    if let AudienceSelection::Given(given) = &selection {
        if given.len() != audiences.len() {
            return Err(CoreError::Internal(format!(
                "{} audiences configured but {} selections given",
                audiences.len(),
                given.len()
            )));
        }
    }
    let started = Utc::now();
    let now: DateTime<Utc> = as_of.and_hms_opt(12, 0, 0).expect("noon").and_utc();
    let mut phases: Vec<(String, f64)> = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &str| {
        phases.push((name.to_string(), clock.elapsed().as_secs_f64()));
        clock = std::time::Instant::now();
    };
    let ctx = SessionContext::new();
    let profile_batches = read_table_if_present(&output.join("member_profile"), "member_profile", None)
        .await?
        .ok_or_else(|| {
            CoreError::Input(format!(
                "no member_profile at {}: run identity resolution first",
                output.redacted()
            ))
        })?;
    let profiles = profiles(&profile_batches)?;
    // The tables the SQL reads are loaded only when the SQL runs here; given selections were made elsewhere.
    let run_sql = matches!(selection, AudienceSelection::Sql);
    if run_sql {
        register(&ctx, "member_profile", profile_batches)?;
        for table in ["care_gaps", "measure_rates"] {
            if let Some(b) = read_table_if_present(&output.join(table), table, None).await? {
                register(&ctx, table, b)?;
            }
        }
    }
    let xref = read_xref(&output.join("identity_xref")).await?;
    let mut ledger = Ledger::default();
    let as_of_micros = now.timestamp_micros();
    let mut described = serde_json::Map::new();
    for table in ["appointments", "communications", "consents"] {
        let Some(mut stream) = open_input(inputs, table).await? else {
            continue;
        };
        described.insert(table.into(), stream.describe());
        if table == "appointments" && !run_sql {
            continue; // only the SQL reads appointments
        }
        let mut batches = Vec::new();
        while let Some((batch, _bad)) = stream.next().await? {
            let (batch, members) = resolve_members(&batch, &xref)?;
            match table {
                "consents" => ledger.add_consents(&batch, &members, as_of_micros)?,
                "communications" => ledger.add_communications(&batch, &members, as_of_micros)?,
                _ => {}
            }
            if run_sql {
                batches.push(batch);
            }
        }
        if run_sql {
            register(&ctx, table, batches)?;
        }
    }

    lap("load");
    // Each audience's SQL.
    progress.start("audiences", audiences.len() as u64);
    let mut selected: Vec<Vec<(String, BTreeMap<String, String>)>> = Vec::with_capacity(audiences.len());
    let mut given = match selection {
        AudienceSelection::Given(given) => given.into_iter(),
        AudienceSelection::Sql => Vec::new().into_iter(),
    };
    for a in audiences {
        let batches = match given.next() {
            Some(batches) => batches,
            None => ctx
                .sql(&a.sql)
                .await
                .map_err(|e| CoreError::Config(format!("audience '{}': sql: {e}", a.name)))?
                .collect()
                .await
                .map_err(|e| CoreError::Config(format!("audience '{}': sql: {e}", a.name)))?,
        };
        selected.push(selected_rows(&a.name, &batches)?);
        progress.advance(1);
    }
    progress.finish();

    lap("sql");
    // Exclusions and priority.
    let sets: Vec<HashSet<&str>> = selected
        .iter()
        .map(|rows| rows.iter().map(|(m, _)| m.as_str()).collect())
        .collect();
    let caps = default_caps();
    let mut summaries = Vec::new();
    let mut memberships: Vec<Membership> = Vec::new();
    let mut suppressions: Vec<(String, String, String, String)> = Vec::new();
    for (ai, a) in audiences.iter().enumerate() {
        let mut summary = AudienceSummary {
            name: a.name.clone(),
            selected: selected[ai].len() as u64,
            ..AudienceSummary::default()
        };
        let decided: Vec<Outcome<'_>> = selected[ai]
            .par_iter()
            .map(|(member, fields)| {
                let excluded_by = a.exclude.iter().find(|x| {
                    audiences
                        .iter()
                        .position(|o| &o.name == *x)
                        .is_some_and(|oi| sets[oi].contains(member.as_str()))
                });
                if let Some(x) = excluded_by {
                    return (
                        member.clone(),
                        fields,
                        Err((
                            "EXCLUDED_BY_AUDIENCE".into(),
                            format!("in excluded audience '{x}'"),
                        )),
                    );
                }
                if let Some(p) = a.priority {
                    let higher = audiences.iter().enumerate().find(|(oi, o)| {
                        *oi != ai
                            && o.priority.is_some_and(|op| op > p || (op == p && *oi < ai))
                            && sets[*oi].contains(member.as_str())
                    });
                    if let Some((_, o)) = higher {
                        return (
                            member.clone(),
                            fields,
                            Err(("LOWER_PRIORITY".into(), format!("goes to audience '{}'", o.name))),
                        );
                    }
                }
                let Some(profile) = profiles.get(member) else {
                    return (
                        member.clone(),
                        fields,
                        Err(("UNKNOWN_MEMBER".into(), "no member_profile row".into())),
                    );
                };
                let consents = ledger.consents_of(member);
                let context = MemberContext {
                    member_id: member,
                    deceased: profile.deceased,
                    do_not_contact: false,
                    state: profiles.field(profile, "state"),
                    time_zone: profile.time_zone,
                    reach: profile.reach,
                    preferred: profile.preferred,
                    consents: &consents,
                    history: ledger.history_of(member),
                };
                match decide(a, &context, &caps, now) {
                    Decision::Suppress { rule, detail } => (member.clone(), fields, Err((rule, detail))),
                    d => (member.clone(), fields, Ok(d)),
                }
            })
            .collect();
        for (member, fields, d) in decided {
            match d {
                Err((rule, detail)) => {
                    *summary.suppressed.entry(rule.clone()).or_default() += 1;
                    suppressions.push((a.name.clone(), member, rule, detail));
                }
                Ok(decision) => {
                    let Decision::Send { channel, .. } = &decision else {
                        unreachable!("sends only")
                    };
                    let profile = profiles.get(&member).expect("decided members have profiles");
                    let mut sent = false;
                    for dname in &a.destinations {
                        let dest = destinations
                            .iter()
                            .find(|d| &d.name == dname)
                            .expect("checked destination");
                        if dest.kind.channel().is_some_and(|c| c != *channel) {
                            continue;
                        }
                        let body = payload(dest, fields, &profiles, profile);
                        let text =
                            serde_json::to_string(&body).map_err(|e| CoreError::Internal(e.to_string()))?;
                        let row_hash = sha(&[&member, &text]);
                        memberships.push(Membership {
                            audience: a.name.clone(),
                            destination: dname.clone(),
                            member_id: member.clone(),
                            decision: decision.clone(),
                            payload: text,
                            row_hash,
                        });
                        sent = true;
                    }
                    if sent {
                        summary.members += 1;
                    } else {
                        let rule = "NO_DESTINATION_FOR_CHANNEL".to_string();
                        *summary.suppressed.entry(rule.clone()).or_default() += 1;
                        suppressions.push((
                            a.name.clone(),
                            member,
                            rule,
                            format!("no destination of the audience takes {channel}"),
                        ));
                    }
                }
            }
        }
        summaries.push(summary);
    }

    lap("policy");
    // Diff against the previous state.
    let previous: HashMap<(String, String, String), (String, i64)> = {
        let mut p = HashMap::new();
        for b in read_table_if_present(&output.join("audience_members"), "audience_members", None)
            .await?
            .unwrap_or_default()
        {
            let t = "audience_members";
            let (a, d, m, h) = (
                text_column(&b, t, "audience")?,
                text_column(&b, t, "destination")?,
                text_column(&b, t, "member_id")?,
                text_column(&b, t, "row_hash")?,
            );
            let emitted = crate::model::primitive_column::<arrow::datatypes::TimestampMicrosecondType>(
                &b,
                t,
                "emitted_at",
                "a timestamp",
            )?
            .clone();
            for i in 0..b.num_rows() {
                p.insert(
                    (a.value(i).into(), d.value(i).into(), m.value(i).into()),
                    (h.value(i).to_string(), emitted.value(i)),
                );
            }
        }
        p
    };
    let inputs_json = json!({"inputs": described, "previous_members": previous.len()});
    let settings = serde_json::to_string(
        &audiences
            .iter()
            .map(|a| (&a.name, &a.sql, &a.destinations))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    let run = run_id("audiences", as_of, &inputs_json, &settings);
    let current: HashSet<(String, String, String)> = memberships
        .iter()
        .map(|m| (m.audience.clone(), m.destination.clone(), m.member_id.clone()))
        .collect();
    let mut changes: BTreeMap<String, Vec<Change<'_>>> = BTreeMap::new();
    let mut emitted_at: HashMap<(String, String, String), i64> = HashMap::new();
    for m in &memberships {
        let key = (m.audience.clone(), m.destination.clone(), m.member_id.clone());
        // New or changed rows, and rows whose send failed after they were last emitted (retried once per
        // failure report, so re-running the same as-of date emits nothing new).
        let retry = |at: i64| ledger.failed_after(&m.member_id, &m.audience, at);
        let unchanged = previous
            .get(&key)
            .filter(|(hash, at)| hash == &m.row_hash && !retry(*at));
        if let Some((_, at)) = unchanged {
            emitted_at.insert(key, *at);
        } else {
            emitted_at.insert(key, as_of_micros);
            changes.entry(m.destination.clone()).or_default().push((
                m.audience.clone(),
                m.member_id.clone(),
                "upsert",
                Some(m),
            ));
        }
    }
    let mut events: Vec<(String, String, String, &'static str)> = Vec::new();
    for m in &memberships {
        if !previous.contains_key(&(m.audience.clone(), m.destination.clone(), m.member_id.clone())) {
            events.push((
                m.audience.clone(),
                m.destination.clone(),
                m.member_id.clone(),
                "enter",
            ));
        }
    }
    let mut gone: Vec<&(String, String, String)> =
        previous.keys().filter(|k| !current.contains(*k)).collect();
    gone.sort();
    for (a, d, m) in gone {
        // Only rows carelake sent before are removed.
        changes
            .entry(d.clone())
            .or_default()
            .push((a.clone(), m.clone(), "delete", None));
        events.push((a.clone(), d.clone(), m.clone(), "exit"));
    }
    for s in &mut summaries {
        for (dest, rows) in &changes {
            let (ups, dels) = rows.iter().filter(|r| r.0 == s.name).fold((0, 0), |(u, d), r| {
                if r.2 == "upsert" {
                    (u + 1, d)
                } else {
                    (u, d + 1)
                }
            });
            if ups + dels > 0 {
                s.changes.insert(dest.clone(), (ups, dels));
            }
        }
    }
    let mut sampled = HashSet::new();
    let sample = memberships
        .iter()
        .filter(|m| sampled.insert((m.audience.clone(), m.member_id.clone())))
        .take(5)
        .map(|m| {
            let (channel, start) = match &m.decision {
                Decision::Send { channel, window, .. } => (
                    channel.name().to_string(),
                    window.map(|w| w.utc_start.to_rfc3339()),
                ),
                _ => (String::new(), None),
            };
            (m.audience.clone(), m.member_id.clone(), channel, start)
        })
        .collect();
    lap("diff");
    let mut report = AudienceReport {
        run_id: run.clone(),
        dry_run,
        audiences: summaries,
        sample,
        output: output.redacted(),
        phase_seconds: Vec::new(),
    };
    if dry_run {
        report.phase_seconds = phases;
        return Ok(report);
    }

    // Write: change sets first (what tools read), then the state and the logs.
    for d in destinations {
        let spec = model::outreach(&d.name);
        let rows = changes.get(&d.name).map(Vec::as_slice).unwrap_or(&[]);
        let mut b = BatchBuilder::new(&spec, rows.len());
        for (audience, member, op, m) in rows {
            let (channel, window, date) = match m.map(|m| &m.decision) {
                Some(Decision::Send {
                    channel,
                    window,
                    local_send_date,
                    ..
                }) => (Some(channel.name()), *window, Some(*local_send_date)),
                _ => (None, None, None),
            };
            let date_text = date.map(|d| d.to_string()).unwrap_or_else(|| as_of.to_string());
            b.text(Some(&run))
                .text(Some(audience))
                .text(Some(member))
                .text(Some(op))
                .text(Some(&sha(&[member, audience, &d.name, &date_text, op])[..32]))
                .text(channel)
                .text(m.map(|m| m.payload.as_str()))
                .timestamp(window.map(|w| w.utc_start))
                .timestamp(window.map(|w| w.utc_end))
                .date(Some(as_of));
            b.end_row();
        }
        let batch = b.finish()?;
        let drop_folder = d.path.as_deref().filter(|_| d.kind == DestinationKind::FileDrop);
        if let (Some(folder), false) = (drop_folder, rows.is_empty()) {
            write_file_drop(&Location::parse(folder)?, &d.name, &run, &batch).await?;
        }
        write_output(output, &spec, WriteMode::Append, &run, [batch]).await?;
    }
    let spec = model::audience_members();
    let mut b = BatchBuilder::new(&spec, memberships.len());
    for m in &memberships {
        let Decision::Send {
            channel,
            basis,
            window,
            local_send_date,
        } = &m.decision
        else {
            continue;
        };
        let emitted = emitted_at
            .get(&(m.audience.clone(), m.destination.clone(), m.member_id.clone()))
            .copied()
            .and_then(DateTime::<Utc>::from_timestamp_micros);
        let audience = audiences.iter().find(|a| a.name == m.audience).expect("audience");
        b.text(Some(&m.audience))
            .text(Some(&m.destination))
            .text(Some(&m.member_id))
            .text(Some(channel.name()))
            .text(Some(audience.purpose.name()))
            .text(Some(match basis {
                crate::audience::consent::Basis::None => "none",
                crate::audience::consent::Basis::PriorExpress => "prior_express",
                crate::audience::consent::Basis::Written => "written",
            }))
            .text(window.map(|w| w.local_start.to_string()).as_deref())
            .text(window.map(|w| w.local_end.to_string()).as_deref())
            .timestamp(window.map(|w| w.utc_start))
            .timestamp(window.map(|w| w.utc_end))
            .text(window.map(|w| w.rule))
            .date(Some(*local_send_date))
            .text(Some(&m.row_hash))
            .timestamp(emitted)
            .text(Some(&run));
        b.end_row();
    }
    write_output(output, &spec, WriteMode::Overwrite, &run, [b.finish()?]).await?;
    let spec = model::audience_events();
    let mut b = BatchBuilder::new(&spec, events.len());
    for (a, d, m, e) in &events {
        b.text(Some(&run))
            .text(Some(a))
            .text(Some(d))
            .text(Some(m))
            .text(Some(e))
            .date(Some(as_of));
        b.end_row();
    }
    write_output(output, &spec, WriteMode::Append, &run, [b.finish()?]).await?;
    let spec = model::suppressions();
    let mut b = BatchBuilder::new(&spec, suppressions.len());
    for (a, m, rule, detail) in &suppressions {
        b.text(Some(&run))
            .text(Some(a))
            .text(Some(m))
            .text(Some(rule))
            .text(Some(detail))
            .date(Some(as_of));
        b.end_row();
    }
    write_output(output, &spec, WriteMode::Append, &run, [b.finish()?]).await?;
    let spec = model::sync_runs();
    let mut b = BatchBuilder::new(&spec, 16);
    let finished = Utc::now();
    // Members and (add, change, remove) per (audience, destination), counted in one pass each.
    let mut members_of: HashMap<(&str, &str), i64> = HashMap::new();
    for m in &memberships {
        *members_of
            .entry((m.audience.as_str(), m.destination.as_str()))
            .or_default() += 1;
    }
    let mut planned: HashMap<(&str, &str), (i64, i64, i64)> = HashMap::new();
    for (dname, rows) in &changes {
        for (audience, member, op, _) in rows {
            let counts = planned.entry((audience.as_str(), dname.as_str())).or_default();
            match *op {
                "delete" => counts.2 += 1,
                _ if previous.contains_key(&(audience.clone(), dname.clone(), member.clone())) => {
                    counts.1 += 1
                }
                _ => counts.0 += 1,
            }
        }
    }
    for a in audiences {
        for dname in &a.destinations {
            let dest = destinations
                .iter()
                .find(|d| &d.name == dname)
                .expect("checked destination");
            let key = (a.name.as_str(), dname.as_str());
            let members = members_of.get(&key).copied().unwrap_or(0);
            let (add, change, remove) = planned.get(&key).copied().unwrap_or_default();
            b.text(Some(&run))
                .text(Some(&a.name))
                .text(Some(dname))
                .text(Some(dest.kind.name()))
                .integer(Some(members))
                .integer(Some(add))
                .integer(Some(change))
                .integer(Some(remove))
                .text(Some("succeeded"))
                .timestamp(Some(started))
                .timestamp(Some(finished))
                .date(Some(as_of));
            b.end_row();
        }
    }
    write_output(output, &spec, WriteMode::Append, &run, [b.finish()?]).await?;
    lap("write");
    report.phase_seconds = phases;
    let selected_total: u64 = report.audiences.iter().map(|a| a.selected).sum();
    record_run(
        output,
        &RunRecord {
            run_id: run,
            stage: "audiences".into(),
            as_of,
            started_at: started,
            finished_at: Utc::now(),
            status: "succeeded".into(),
            inputs: inputs_json,
            rows_in: selected_total,
            rows_out: memberships.len() as u64,
            rows_quarantined: 0,
            message: Some(format!(
                "{} audiences: {} members selected, {} memberships, {} suppressed",
                audiences.len(),
                selected_total,
                memberships.len(),
                suppressions.len()
            )),
        },
    )
    .await?;
    Ok(report)
}
