//! Selecting each audience's members: the inputs the SQL reads (with member ids resolved through
//! identity_xref), and the selected rows as member id plus personalization fields.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

use foldhash::HashSet;
use rayon::prelude::*;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::datafusion::common::tree_node::TreeNodeRecursion;
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::logical_expr::LogicalPlan;
use deltalake::datafusion::prelude::SessionContext;

use super::profiles::Profiles;
use crate::audience::definition::Audience;
use crate::error::{CoreError, CoreResult, Problems};
use crate::identity::person_keys::{members_by_person_key, XrefIndex};
use crate::identity::text_key::PROBES_AT_ONCE;
use crate::model::{self, canonical_input, optional_text_column, text_value};

/// Where each audience's selected rows come from.
#[derive(Debug)]
pub enum AudienceSelection {
    /// Run each audience's SQL here (DataFusion) over the output tables and the resolved inputs.
    Sql,
    /// The rows an engine already selected (the Spark engine runs the SQL as Spark SQL), one list of batches
    /// per audience, in the order of the configuration.
    Given(Vec<Vec<RecordBatch>>),
}

/// Rows an audience selected: each member once (its first row) with its member number and its personalization
/// fields as text, held in the SQL result's own columns rather than copied out row by row (1.5M small maps at
/// 1M members).
#[derive(Debug, Default)]
pub(super) struct SelectedRows {
    /// The personalization columns' names, in result order.
    names: Vec<String>,
    /// Per result batch: the member ids and each personalization column, as text.
    batches: Vec<(StringArray, Vec<StringArray>)>,
    /// The rows kept, in result order.
    rows: Vec<KeptRow>,
    /// Result rows whose member_id is null: they name nobody, so they are counted rather than kept.
    without_member_id: u64,
}

/// A row kept: where it is in the result, and its member's number (12 bytes: 15M rows at 10M members).
#[derive(Debug, Clone, Copy)]
struct KeptRow {
    batch: u32,
    row: u32,
    /// The member number, or [`NOT_A_MEMBER`].
    number: u32,
}

/// The number of a kept row whose member id the profiles do not know.
const NOT_A_MEMBER: u32 = u32::MAX;

/// One selected row: its member id, member number and personalization fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct SelectedRow<'a> {
    selected: &'a SelectedRows,
    kept: KeptRow,
}

impl SelectedRows {
    /// Number of members selected.
    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Number of result rows with a null member_id.
    pub(super) fn without_member_id(&self) -> u64 {
        self.without_member_id
    }

    /// The selected rows in `range`, in result order.
    pub(super) fn rows(
        &self,
        range: Range<usize>,
    ) -> impl IndexedParallelIterator<Item = SelectedRow<'_>> + '_ {
        self.rows[range]
            .par_iter()
            .map(move |&kept| SelectedRow { selected: self, kept })
    }

    /// The member numbers and ids of the selected rows in `range`, in result order.
    pub(super) fn members(&self, range: Range<usize>) -> impl Iterator<Item = (Option<u32>, &str)> + '_ {
        self.rows[range].iter().map(|&kept| {
            let row = SelectedRow { selected: self, kept };
            (row.number(), row.member_id())
        })
    }

    /// The members selected, as a set (`members`: how many member numbers the profiles give).
    pub(super) fn member_set(&self, members: usize) -> MemberSet<'_> {
        let mut set = MemberSet::for_members(members);
        for (number, id) in self.members(0..self.len()) {
            set.insert(number, id);
        }
        set
    }
}

impl<'a> SelectedRow<'a> {
    /// The member id.
    pub(super) fn member_id(&self) -> &'a str {
        self.selected.batches[self.kept.batch as usize]
            .0
            .value(self.kept.row as usize)
    }

    /// The member number (None: the profiles do not know the member id).
    pub(super) fn number(&self) -> Option<u32> {
        (self.kept.number != NOT_A_MEMBER).then_some(self.kept.number)
    }

    /// The personalization field of this name, when the SQL returned one and it is not null.
    pub(super) fn field(&self, name: &str) -> Option<&'a str> {
        let column = self.selected.names.iter().position(|n| n == name)?;
        let values = &self.selected.batches[self.kept.batch as usize].1[column];
        let row = self.kept.row as usize;
        values.is_valid(row).then(|| values.value(row))
    }
}

/// The word of a [`MemberSet`]'s bit set that holds member number `n`, and its bit there.
fn bit_of(n: u32) -> (usize, u64) {
    (n as usize / 64, 1u64 << (n % 64))
}

/// A set of selected members: members by number in a bit set (a bit per member, 1.25 MB at 10M members, where
/// a hash set of their ids took some 30 bytes a member and hashed each id), ids the profiles do not know by text.
#[derive(Debug, Default)]
pub(super) struct MemberSet<'a> {
    numbers: Vec<u64>,
    unknown: HashSet<&'a str>,
}

impl<'a> MemberSet<'a> {
    /// An empty set able to hold `members` member numbers.
    fn for_members(members: usize) -> Self {
        MemberSet {
            numbers: vec![0; members.div_ceil(64)],
            unknown: HashSet::default(),
        }
    }

    /// Add a member (its number, else its id); whether it was not in the set before.
    fn insert(&mut self, number: Option<u32>, id: &'a str) -> bool {
        match number {
            Some(n) => {
                let (word, bit) = bit_of(n);
                if word >= self.numbers.len() {
                    self.numbers.resize(word + 1, 0);
                }
                let new = self.numbers[word] & bit == 0;
                self.numbers[word] |= bit;
                new
            }
            None => self.unknown.insert(id),
        }
    }

    /// Whether a member (its number, else its id) is in the set.
    pub(super) fn contains(&self, number: Option<u32>, id: &str) -> bool {
        match number {
            Some(n) => {
                let (word, bit) = bit_of(n);
                self.numbers.get(word).is_some_and(|w| w & bit != 0)
            }
            None => self.unknown.contains(id),
        }
    }
}

/// Register batches as a table the SQL can read (nothing when there are none).
pub(super) fn register(ctx: &SessionContext, name: &str, batches: Vec<RecordBatch>) -> CoreResult<()> {
    // A table without rows is there all the same: the SQL over it selects nobody from it.
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => planning_schema(name)?,
    };
    let table = MemTable::try_new(schema, vec![batches])?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// The output tables an audience's SQL can read.
pub(super) const OUTPUT_TABLES: [&str; 3] = ["member_profile", "care_gaps", "measure_rates"];

/// The engagement inputs an audience's SQL can read (member ids resolved through identity_xref).
pub(super) const ENGAGEMENT_TABLES: [&str; 3] = ["appointments", "communications", "consents"];

/// The columns read of each table read, by one SQL or by several.
pub(super) type ColumnsRead = BTreeMap<String, BTreeSet<String>>;

/// The tables audience SQL can read, registered without rows under their canonical schemas: the SQL planned
/// here is planned as a run plans it over the real tables.
fn planning_context() -> CoreResult<SessionContext> {
    let ctx = SessionContext::new();
    for table in OUTPUT_TABLES.into_iter().chain(ENGAGEMENT_TABLES) {
        let empty = MemTable::try_new(planning_schema(table)?, vec![vec![]])?;
        ctx.register_table(table, Arc::new(empty))?;
    }
    Ok(ctx)
}

/// The schema a table audience SQL can read has to the SQL: its canonical one.
fn planning_schema(table: &str) -> CoreResult<SchemaRef> {
    let spec = match table {
        "member_profile" => model::member_profile(),
        "care_gaps" => model::care_gaps(),
        "measure_rates" => model::measure_rates(),
        input => canonical_input(input)
            .ok_or_else(|| CoreError::Internal(format!("no canonical schema for '{input}'")))?,
    };
    Ok(spec.arrow_schema())
}

/// Each audience's SQL planned over the tables audiences can read, reading none of them (what `carelake
/// validate` checks, and what a run does before it reads anything): the SQL must plan (known tables and columns,
/// valid syntax) and its result must have a member_id column. One config error names every audience whose SQL
/// fails, one a line, led by `origin` (the file) when it is not empty.
pub async fn plan_sql(audiences: &[Audience], origin: &str) -> CoreResult<Vec<LogicalPlan>> {
    let state = planning_context()?.state();
    let mut problems = Problems::default();
    let mut plans = Vec::with_capacity(audiences.len());
    for a in audiences {
        let problem = |message: String| CoreError::Config(format!("audience '{}': sql: {message}", a.name));
        match state.create_logical_plan(&a.sql).await {
            // The query engine's message names tables and columns (never rows: none are read); on one line.
            Err(e) => problems.add(problem(
                e.to_string().split_whitespace().collect::<Vec<_>>().join(" "),
            )),
            Ok(plan) => {
                if !plan.schema().fields().iter().any(|f| f.name() == "member_id") {
                    problems.add(problem(
                        "the result has no member_id column (select the member_id of each member)".into(),
                    ));
                }
                plans.push(plan);
            }
        }
    }
    problems.into_result_in(origin)?;
    Ok(plans)
}

/// The plans of [`plan_sql`] optimized, in the order of the audiences: what each SQL reads is known before any
/// table is. None when some plan cannot be optimized; then every table is read whole.
pub(super) fn optimized(plans: &[LogicalPlan]) -> Option<Vec<LogicalPlan>> {
    let state = SessionContext::new().state();
    plans.iter().map(|plan| state.optimize(plan).ok()).collect()
}

/// The columns each planned SQL reads from each table it reads (see [`optimized`]): only those columns need
/// reading (care_gaps' evidence columns, most of its bytes, are rarely selected), and a table is needed only
/// until the last SQL that reads it has run.
pub(super) fn columns_read(plans: &[LogicalPlan]) -> Option<Vec<ColumnsRead>> {
    let mut read = Vec::with_capacity(plans.len());
    for plan in plans {
        let mut used = ColumnsRead::new();
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                let columns = used.entry(scan.table_name.table().to_string()).or_default();
                columns.extend(scan.projected_schema.fields().iter().map(|f| f.name().clone()));
                // A count of rows reads no column; the table's first keeps its row count.
                if columns.is_empty() {
                    if let Some(first) = scan.source.schema().fields().first() {
                        columns.insert(first.name().clone());
                    }
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .ok()?;
        read.push(used);
    }
    Some(read)
}

/// The columns that any of the SQL reads, table by table.
pub(super) fn all_columns_read(read: &[ColumnsRead]) -> ColumnsRead {
    let mut all = ColumnsRead::new();
    for (table, columns) in read.iter().flatten() {
        all.entry(table.clone())
            .or_default()
            .extend(columns.iter().cloned());
    }
    all
}

/// Each row's member number: its member_id when the source gave one, else its source record's member in the
/// xref (None: unknown). With `for_sql`, also the batch with its member_id column replaced by those members' ids.
pub(super) fn resolve_members(
    batch: &RecordBatch,
    xref: &XrefIndex,
    profiles: &Profiles,
    for_sql: bool,
) -> CoreResult<(Option<RecordBatch>, Vec<Option<u32>>)> {
    let col = |n: &str| optional_text_column(batch, n);
    let (member, sys, rec) = (col("member_id"), col("source_system"), col("source_record_id"));
    // Rows with a member_id are numbered by it, the others by their source record.
    let numbers = members_by_person_key(
        0..batch.num_rows(),
        |i| (text_value(member, i), text_value(sys, i), text_value(rec, i)),
        |ids| profiles.numbers(ids),
        |records| xref.members(records),
    );
    if !for_sql {
        return Ok((None, numbers));
    }
    // A given member_id stays as given (known or not); the others are their resolved members' ids.
    let mut resolved = StringBuilder::with_capacity(batch.num_rows(), batch.num_rows() * 20);
    for (i, n) in numbers.iter().enumerate() {
        resolved.append_option(text_value(member, i).or_else(|| n.map(|n| profiles.member_id(n))));
    }
    let index = batch
        .schema()
        .index_of("member_id")
        .map_err(|_| CoreError::Internal("conformed batch without member_id".into()))?;
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns[index] = Arc::new(resolved.finish());
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Ok((
        Some(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?),
        numbers,
    ))
}

/// The rows an audience's SQL selected, each member once (its first row), with their member numbers.
pub(super) fn selected_rows(
    audience: &str,
    batches: &[RecordBatch],
    profiles: &Profiles,
) -> CoreResult<SelectedRows> {
    let mut out = SelectedRows::default();
    for b in batches {
        let Ok(index) = b.schema().index_of("member_id") else {
            return Err(CoreError::Config(format!(
                "audience '{audience}': sql: the result has no member_id column"
            )));
        };
        let as_text = |j: usize| -> CoreResult<StringArray> {
            Ok(arrow::compute::cast(b.column(j), &DataType::Utf8)?
                .as_string::<i32>()
                .clone())
        };
        let others: Vec<usize> = (0..b.num_columns()).filter(|j| *j != index).collect();
        let names: Vec<String> = others
            .iter()
            .map(|&j| b.schema().field(j).name().clone())
            .collect();
        if out.batches.is_empty() {
            out.names = names;
        } else if names != out.names {
            return Err(CoreError::Config(format!(
                "audience '{audience}': the selected rows' batches have different columns"
            )));
        }
        let columns = others.iter().map(|&j| as_text(j)).collect::<CoreResult<_>>()?;
        let ids = as_text(index)?;
        out.without_member_id += ids.null_count() as u64;
        out.batches.push((ids, columns));
    }
    // Every row with a member id, numbered on every core; then each member once, with its first row. The
    // numbers serve both, so each id is hashed once.
    let with_id: Vec<(u32, u32)> = out
        .batches
        .iter()
        .enumerate()
        .flat_map(|(k, (ids, _))| {
            (0..ids.len())
                .filter(|&i| ids.is_valid(i))
                .map(move |i| (k as u32, i as u32))
        })
        .collect();
    let id = |&(batch, row): &(u32, u32)| out.batches[batch as usize].0.value(row as usize);
    let numbers: Vec<Option<u32>> = with_id
        .par_chunks(PROBES_AT_ONCE)
        .flat_map_iter(|chunk| profiles.numbers(chunk.iter().map(id)))
        .collect();
    let mut seen = MemberSet::for_members(profiles.len());
    for (at, number) in with_id.iter().zip(numbers) {
        if seen.insert(number, id(at)) {
            out.rows.push(KeptRow {
                batch: at.0,
                row: at.1,
                number: number.unwrap_or(NOT_A_MEMBER),
            });
        }
    }
    // Policy reads each member's profile, consents, history and id by number, and the writers read ids the same
    // way: in member order those reads walk memory forward instead of jumping around tables far larger than the
    // caches (a grouped SQL result comes in hash order). Members the profiles do not know come last, in result
    // order; the key is unique, so the order is the same on every run.
    out.rows.par_sort_unstable_by_key(|k| (k.number, k.batch, k.row));
    Ok(out)
}

#[cfg(test)]
pub(super) mod tests {
    use arrow::array::ArrayRef;

    use super::*;
    use crate::audience::consent::{Channel, Purpose};

    /// An audience of this SQL (for tests of what the SQL reads).
    pub(in crate::pipeline::audience_stage) fn audience(sql: &str) -> Audience {
        Audience {
            name: "a".into(),
            sql: sql.into(),
            purpose: Purpose::CareGaps,
            channels: vec![Channel::Sms],
            destinations: vec!["texts".into()],
            exclude: Vec::new(),
            priority: None,
            holdout: 0.0,
        }
    }

    /// The audiences' SQL planned and optimized as a run plans it (None when some SQL cannot be).
    pub(in crate::pipeline::audience_stage) fn planned_sql(
        audiences: &[Audience],
    ) -> Option<Vec<LogicalPlan>> {
        optimized(&crate::lake::block_on(plan_sql(audiences, "")).ok()?)
    }

    fn read_by(sqls: &[&str]) -> Option<ColumnsRead> {
        let audiences: Vec<Audience> = sqls.iter().map(|s| audience(s)).collect();
        let plans = planned_sql(&audiences)?;
        columns_read(&plans).map(|read| all_columns_read(&read))
    }

    #[test]
    fn sql_is_checked_without_rows_naming_each_audience_with_a_problem() {
        let sqls = [
            "select member_id, min(due_date) as due_date from care_gaps where status = 'open' group by member_id",
            "select p.member_id from member_profile p join consents c on c.member_id = p.member_id",
            "select measure from care_gaps",
            "select member_id, nosuch from care_gaps",
            "select member_id from claims",
            "selec member_id frm care_gaps",
        ];
        let audiences: Vec<Audience> = sqls
            .iter()
            .enumerate()
            .map(|(i, sql)| Audience {
                name: format!("a{i}"),
                ..audience(sql)
            })
            .collect();
        let err = crate::lake::block_on(plan_sql(&audiences, ""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("4 problems:"), "{err}");
        assert!(!err.contains("'a0'") && !err.contains("'a1'"), "{err}");
        assert!(
            err.contains("audience 'a2': sql: the result has no member_id column"),
            "{err}"
        );
        assert!(
            err.contains("audience 'a3': sql:") && err.contains("nosuch"),
            "{err}"
        );
        assert!(
            err.contains("audience 'a4': sql:") && err.contains("claims"),
            "{err}"
        );
        assert!(err.contains("audience 'a5': sql:"), "{err}");
        assert_eq!(err.lines().count(), 5, "one line a problem: {err}");
    }

    fn names(columns: &[&str]) -> BTreeSet<String> {
        columns.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn only_the_columns_the_sql_reads_are_read() {
        let read = read_by(&[
            "select member_id, min(due_date) as due from care_gaps \
             where status = 'open' and measure in ('COL-E') group by member_id",
            "select member_id from member_profile where age >= 65",
            "select p.member_id, a.start_at from member_profile p \
             join appointments a on a.member_id = p.member_id \
             where p.member_id not in (select member_id from consents where status = 'revoked')",
        ])
        .expect("plans against the canonical schemas");
        assert_eq!(
            read["care_gaps"],
            names(&["due_date", "measure", "member_id", "status"])
        );
        assert_eq!(read["member_profile"], names(&["age", "member_id"]));
        assert_eq!(read["appointments"], names(&["member_id", "start_at"]));
        // A subquery's table counts too.
        assert!(read["consents"].contains("status"));
        assert!(!read.contains_key("measure_rates") && !read.contains_key("communications"));
    }

    #[test]
    fn each_audience_has_the_tables_its_own_sql_reads() {
        let audiences: Vec<Audience> = [
            "select member_id from care_gaps where status = 'open'",
            "select member_id from appointments a where exists \
             (select 1 from member_profile p where p.member_id = a.member_id)",
        ]
        .iter()
        .map(|s| audience(s))
        .collect();
        let plans = planned_sql(&audiences).expect("plans");
        let read = columns_read(&plans).expect("columns");
        let tables = |i: usize| read[i].keys().map(String::as_str).collect::<Vec<_>>();
        assert_eq!(tables(0), ["care_gaps"]);
        assert_eq!(tables(1), ["appointments", "member_profile"]);
        assert_eq!(
            all_columns_read(&read)["care_gaps"],
            names(&["member_id", "status"])
        );
    }

    #[test]
    fn a_count_keeps_one_column_and_an_unplannable_sql_reads_everything() {
        let read = read_by(&["select count(*) as n, 'x' as member_id from measure_rates"]).unwrap();
        assert_eq!(read["measure_rates"], names(&["measure"]));
        assert!(read_by(&["select member_id, no_such_column from care_gaps"]).is_none());
        assert!(read_by(&["this is not sql"]).is_none());
    }

    #[test]
    fn each_member_is_selected_once_with_its_first_row_and_number() {
        let profiles = super::super::profiles::profiles_of(&["MBR-a", "MBR-b"]);
        let batch = |ids: Vec<Option<&str>>, topic: Vec<&str>| {
            RecordBatch::try_from_iter([
                ("topic", Arc::new(StringArray::from(topic)) as ArrayRef),
                ("member_id", Arc::new(StringArray::from(ids)) as ArrayRef),
            ])
            .unwrap()
        };
        let result = [
            batch(vec![Some("MBR-b"), Some("MBR-x"), None], vec!["b1", "x1", "none"]),
            batch(
                vec![Some("MBR-x"), Some("MBR-b"), Some("MBR-w"), Some("MBR-a")],
                vec!["x2", "b2", "w1", "a1"],
            ),
        ];
        let selected = selected_rows("a", &result, &profiles).unwrap();
        assert_eq!(
            selected.without_member_id(),
            1,
            "the row without a member id is counted"
        );
        let rows: Vec<_> = selected
            .rows(0..selected.len())
            .map(|r| (r.member_id(), r.number(), r.field("topic")))
            .collect::<Vec<_>>();
        let b = profiles.numbers(["MBR-b"].into_iter())[0];
        let a = profiles.numbers(["MBR-a"].into_iter())[0];
        // In member order; ids the profiles do not know last, in result order.
        assert_eq!(
            rows,
            vec![
                ("MBR-a", a, Some("a1")),
                ("MBR-b", b, Some("b1")),
                ("MBR-x", None, Some("x1")),
                ("MBR-w", None, Some("w1")),
            ]
        );
        let set = selected.member_set(profiles.len());
        assert!(set.contains(a, "MBR-a") && set.contains(b, "MBR-b") && set.contains(None, "MBR-x"));
        assert!(!set.contains(None, "MBR-y"));
        let first_batch = selected_rows("b", &result[..1], &profiles).unwrap();
        let only_b = first_batch.member_set(profiles.len());
        assert!(only_b.contains(b, "MBR-b") && !only_b.contains(a, "MBR-a"));
        assert!(
            !MemberSet::default().contains(a, "MBR-a"),
            "an empty set holds no number"
        );
    }

    #[test]
    fn a_result_without_member_id_names_the_audience() {
        let profiles = Profiles::default();
        let result =
            RecordBatch::try_from_iter([("id", Arc::new(StringArray::from(vec!["MBR-a"])) as ArrayRef)])
                .unwrap();
        let err = selected_rows("recall", &[result], &profiles)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("audience 'recall'") && err.contains("member_id"),
            "{err}"
        );
    }
}
