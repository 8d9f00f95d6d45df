//! Selecting each audience's members: the inputs the SQL reads (with member ids resolved through
//! identity_xref), and the selected rows as member id plus personalization fields.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

use foldhash::HashSet;
use rayon::prelude::*;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use deltalake::datafusion::common::tree_node::TreeNodeRecursion;
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::logical_expr::LogicalPlan;
use deltalake::datafusion::prelude::SessionContext;

use super::profiles::Profiles;
use crate::audience::definition::Audience;
use crate::error::{CoreError, CoreResult};
use crate::identity::person_keys::XrefIndex;
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

/// Rows an audience selected: each member once (its first row) with its personalization fields as text, held
/// in the SQL result's own columns rather than copied out row by row (1.5M small maps at 1M members).
#[derive(Debug, Default)]
pub(super) struct SelectedRows {
    /// The personalization columns' names, in result order.
    names: Vec<String>,
    /// Per result batch: the member ids and each personalization column, as text.
    batches: Vec<(StringArray, Vec<StringArray>)>,
    /// The rows kept, as (batch, row), in result order.
    rows: Vec<(u32, u32)>,
}

/// One selected row: its member id and personalization fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct SelectedRow<'a> {
    selected: &'a SelectedRows,
    batch: usize,
    row: usize,
}

impl SelectedRows {
    /// Number of members selected.
    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The member ids of the selected rows in `range`, in result order, in chunks to take on every core.
    pub(super) fn member_id_chunks(
        &self,
        range: Range<usize>,
    ) -> impl IndexedParallelIterator<Item = impl Iterator<Item = &str>> + '_ {
        self.rows[range].par_chunks(PROBES_AT_ONCE).map(move |chunk| {
            chunk
                .iter()
                .map(move |&(batch, row)| self.batches[batch as usize].0.value(row as usize))
        })
    }

    /// The selected rows in `range`, in result order.
    pub(super) fn rows(
        &self,
        range: Range<usize>,
    ) -> impl IndexedParallelIterator<Item = SelectedRow<'_>> + '_ {
        self.rows[range].par_iter().map(move |&(batch, row)| SelectedRow {
            selected: self,
            batch: batch as usize,
            row: row as usize,
        })
    }

    /// The member ids of the selected rows in `range`, in result order.
    pub(super) fn member_ids(&self, range: Range<usize>) -> impl Iterator<Item = &str> + '_ {
        self.rows[range]
            .iter()
            .map(|&(batch, row)| self.batches[batch as usize].0.value(row as usize))
    }
}

impl<'a> SelectedRow<'a> {
    /// The member id.
    pub(super) fn member_id(&self) -> &'a str {
        self.selected.batches[self.batch].0.value(self.row)
    }

    /// The personalization field of this name, when the SQL returned one and it is not null.
    pub(super) fn field(&self, name: &str) -> Option<&'a str> {
        let column = self.selected.names.iter().position(|n| n == name)?;
        let values = &self.selected.batches[self.batch].1[column];
        values.is_valid(self.row).then(|| values.value(self.row))
    }
}

/// Register batches as a table the SQL can read (nothing when there are none).
pub(super) fn register(ctx: &SessionContext, name: &str, batches: Vec<RecordBatch>) -> CoreResult<()> {
    let Some(schema) = batches.first().map(RecordBatch::schema) else {
        return Ok(());
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

/// The columns each audience's SQL reads from each table it reads (in the order of the audiences), found by
/// planning every SQL against the tables' canonical schemas without rows: only those columns need reading
/// (care_gaps' evidence columns, most of its bytes, are rarely selected), and a table is needed only until the
/// last SQL that reads it has run. None when some SQL cannot be planned so; then every table is read whole and
/// the SQL's own error, if it has one, comes when it runs over the real tables.
pub(super) async fn columns_read(audiences: &[Audience]) -> Option<Vec<ColumnsRead>> {
    let ctx = SessionContext::new();
    for table in OUTPUT_TABLES.into_iter().chain(ENGAGEMENT_TABLES) {
        let spec = match table {
            "member_profile" => model::member_profile(),
            "care_gaps" => model::care_gaps(),
            "measure_rates" => model::measure_rates(),
            input => canonical_input(input)?,
        };
        let empty = MemTable::try_new(spec.arrow_schema(), vec![vec![]]).ok()?;
        ctx.register_table(table, Arc::new(empty)).ok()?;
    }
    let state = ctx.state();
    let mut read = Vec::with_capacity(audiences.len());
    for a in audiences {
        let mut used = ColumnsRead::new();
        let plan = state.create_logical_plan(&a.sql).await.ok()?;
        let plan = state.optimize(&plan).ok()?;
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
    let given: Vec<Option<&str>> = (0..batch.num_rows()).map(|i| text_value(member, i)).collect();
    let by_id = profiles.numbers(given.iter().flatten().copied());
    let by_record = xref.members((0..batch.num_rows()).map(|i| match given[i] {
        Some(_) => None,
        None => text_value(sys, i).zip(text_value(rec, i)),
    }));
    let mut by_id = by_id.into_iter();
    let numbers: Vec<Option<u32>> = given
        .iter()
        .zip(by_record)
        .map(|(id, by_record)| match id {
            Some(_) => by_id.next().flatten(),
            None => by_record,
        })
        .collect();
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

/// The rows an audience's SQL selected, each member once (its first row).
pub(super) fn selected_rows(audience: &str, batches: &[RecordBatch]) -> CoreResult<SelectedRows> {
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
        out.batches.push((as_text(index)?, columns));
    }
    // Each member once, with its first row.
    let mut seen = HashSet::default();
    for (k, (ids, _)) in out.batches.iter().enumerate() {
        for i in 0..ids.len() {
            if ids.is_valid(i) && seen.insert(ids.value(i)) {
                out.rows.push((k as u32, i as u32));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audience::consent::{Channel, Purpose};

    fn audience(sql: &str) -> Audience {
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

    fn read_by(sqls: &[&str]) -> Option<ColumnsRead> {
        let audiences: Vec<Audience> = sqls.iter().map(|s| audience(s)).collect();
        crate::lake::block_on(columns_read(&audiences)).map(|read| all_columns_read(&read))
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
        let read = crate::lake::block_on(columns_read(&audiences)).expect("plans");
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
}
