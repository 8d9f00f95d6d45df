//! Selecting each audience's members: the inputs the SQL reads (with member ids resolved through
//! identity_xref), and the selected rows as member id plus personalization fields.

use std::collections::BTreeMap;

use foldhash::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::SessionContext;

use super::profiles::Profiles;
use crate::error::{CoreError, CoreResult};
use crate::identity::person_keys::XrefIndex;
use crate::model::{optional_text_column, text_value};

/// Where each audience's selected rows come from.
#[derive(Debug)]
pub enum AudienceSelection {
    /// Run each audience's SQL here (DataFusion) over the output tables and the resolved inputs.
    Sql,
    /// The rows an engine already selected (the Spark engine runs the SQL as Spark SQL), one list of batches
    /// per audience, in the order of the configuration.
    Given(Vec<Vec<RecordBatch>>),
}

/// Rows an audience selected: member id and its personalization fields (as text).
pub(super) type SelectedRows = Vec<(String, BTreeMap<String, String>)>;

/// Register batches as a table the SQL can read (nothing when there are none).
pub(super) fn register(ctx: &SessionContext, name: &str, batches: Vec<RecordBatch>) -> CoreResult<()> {
    let Some(schema) = batches.first().map(RecordBatch::schema) else {
        return Ok(());
    };
    let table = MemTable::try_new(schema, vec![batches])?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
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
    let mut numbers = Vec::with_capacity(batch.num_rows());
    // A person's rows usually come together: the previous row's answer saves a hash-table probe.
    let mut last: Option<((&str, &str), Option<u32>)> = None;
    for i in 0..batch.num_rows() {
        numbers.push(match text_value(member, i) {
            Some(m) => profiles.number(m),
            None => text_value(sys, i)
                .zip(text_value(rec, i))
                .and_then(|key| match last {
                    Some((previous, found)) if previous == key => found,
                    _ => {
                        let found = xref.member(key.0, key.1);
                        last = Some((key, found));
                        found
                    }
                }),
        });
    }
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
    let mut out = Vec::new();
    let mut seen = HashSet::default();
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
