//! The rows of an engagement input that any audience's SQL can select, known before its rows are resolved to
//! members: the SQL's own filters on its scans of the table, evaluated on the conformed batches.
//!
//! Resolving a row (its member through identity_xref, and its member_id written out for the SQL) is most of the
//! cost of an input the SQL reads, and a reminder audience keeps a sliver of appointments: those booked in the
//! coming week. Rows that no scan of any SQL can pass are left out before they are resolved. The SQL still
//! applies its filters itself, so the rows it sees and its results are the same.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use deltalake::datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use deltalake::datafusion::common::{Column, DFSchema};
use deltalake::datafusion::logical_expr::execution_props::ExecutionProps;
use deltalake::datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use deltalake::datafusion::logical_expr::utils::{conjunction, disjunction, split_conjunction};
use deltalake::datafusion::logical_expr::{Expr, LogicalPlan};
use deltalake::datafusion::physical_expr::create_physical_expr;

/// Per table, a condition that every row some SQL can select from it meets; tables a scan reads without a
/// usable filter have none.
#[derive(Debug, Default, Clone)]
pub(super) struct SqlRowFilters {
    by_table: BTreeMap<String, Expr>,
}

/// A filter found on one scan of a table: its usable conjuncts (None: the scan may read every row).
type ScanFilter = Option<Expr>;

impl SqlRowFilters {
    /// The filters of every scan of every table in `plans` (optimized plans, whose filters sit right above the
    /// scans they apply to). A table's condition is the OR of its scans' filters; one scan without a usable
    /// filter leaves the table without a condition.
    pub(super) fn of(plans: &[LogicalPlan]) -> Self {
        let mut scans: BTreeMap<String, Vec<ScanFilter>> = BTreeMap::new();
        for plan in plans {
            // The filter right above each scan, by the scan's node (the walk visits a parent before its input).
            let mut above: Vec<(*const LogicalPlan, Expr)> = Vec::new();
            let walked = plan.apply_with_subqueries(|node| {
                match node {
                    LogicalPlan::Filter(filter) => {
                        if let LogicalPlan::TableScan(_) = filter.input.as_ref() {
                            above.push((std::sync::Arc::as_ptr(&filter.input), filter.predicate.clone()));
                        }
                    }
                    LogicalPlan::TableScan(scan) => {
                        let at = node as *const LogicalPlan;
                        let filter = above.iter().find(|(p, _)| *p == at).map(|(_, e)| e.clone());
                        // Filters a source took on are applied by the scan: they bound its rows as well.
                        let all = filter.into_iter().chain(scan.filters.iter().cloned());
                        // A scan that stops after some rows must see them all: which rows come first would change.
                        let usable = match scan.fetch {
                            Some(_) => None,
                            None => conjunction(all.flat_map(|e| usable_conjuncts(&e))),
                        };
                        scans
                            .entry(scan.table_name.table().to_string())
                            .or_default()
                            .push(usable);
                    }
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            });
            if walked.is_err() {
                return SqlRowFilters::default();
            }
        }
        let by_table = scans
            .into_iter()
            .filter_map(|(table, filters)| {
                let filters: Option<Vec<Expr>> = filters.into_iter().collect();
                Some((table, disjunction(filters?)?))
            })
            .collect();
        SqlRowFilters { by_table }
    }

    /// Which rows of a conformed batch of `table` some SQL can select (None: every row, also when the condition
    /// cannot be evaluated on this batch: the SQL then sees every row, as without a filter). A row whose
    /// condition is null is one no filter passes.
    pub(super) fn rows(&self, table: &str, batch: &RecordBatch) -> Option<BooleanArray> {
        let condition = self.by_table.get(table)?;
        let schema = DFSchema::try_from(batch.schema().as_ref().clone()).ok()?;
        let evaluated = create_physical_expr(
            condition,
            &schema,
            &ExecutionProps::new(),
            &PhysicalPlanningContext::default(),
        )
        .and_then(|e| e.evaluate(batch))
        .and_then(|v| v.into_array(batch.num_rows()))
        .ok()?;
        let kept = evaluated.as_boolean_opt()?;
        Some(match kept.nulls() {
            // Null counts as not kept, as in a WHERE clause.
            Some(nulls) => BooleanArray::new(kept.values() & nulls.inner(), None),
            None => kept.clone(),
        })
    }
}

/// The conjuncts of `predicate` that can be evaluated on the conformed rows before they are resolved: not on
/// member_id (resolved later), deterministic, without subqueries or parameters, their columns unqualified (the
/// conformed batch knows no table alias).
fn usable_conjuncts(predicate: &Expr) -> Vec<Expr> {
    split_conjunction(predicate)
        .into_iter()
        .filter(|e| {
            !e.is_volatile()
                && !e.column_refs().iter().any(|c| c.name == "member_id")
                && !e
                    .exists(|x| {
                        Ok(matches!(
                            x,
                            Expr::ScalarSubquery(_)
                                | Expr::Exists(_)
                                | Expr::InSubquery(_)
                                | Expr::OuterReferenceColumn(..)
                                | Expr::Placeholder(_)
                        ))
                    })
                    .unwrap_or(true)
        })
        .filter_map(|e| {
            e.clone()
                .transform(|x| {
                    Ok(match x {
                        Expr::Column(c) => Transformed::yes(Expr::Column(Column::new_unqualified(c.name))),
                        other => Transformed::no(other),
                    })
                })
                .ok()
                .map(|t| t.data)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};

    use super::super::selection::tests::{audience, planned_sql};
    use super::*;
    use crate::audience::definition::Audience;

    fn filters(sqls: &[&str]) -> SqlRowFilters {
        let audiences: Vec<Audience> = sqls.iter().map(|sql| audience(sql)).collect();
        SqlRowFilters::of(&planned_sql(&audiences).expect("plans"))
    }

    /// Appointments as conformed: ids, statuses and start times (days after 2026-11-23).
    fn appointments(rows: &[(Option<&str>, &str, i64)]) -> RecordBatch {
        let day = 86_400_000_000i64;
        let start = 1_795_392_000_000_000i64; // 2026-11-23T00:00:00Z
        RecordBatch::try_from_iter([
            (
                "member_id",
                Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())) as ArrayRef,
            ),
            (
                "status",
                Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())) as ArrayRef,
            ),
            (
                "start_at",
                Arc::new(
                    TimestampMicrosecondArray::from(
                        rows.iter().map(|r| start + r.2 * day).collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    fn kept(f: &SqlRowFilters, batch: &RecordBatch) -> Option<Vec<bool>> {
        f.rows("appointments", batch)
            .map(|k| k.iter().map(|v| v == Some(true)).collect())
    }

    #[test]
    fn the_rows_of_a_filtered_scan_are_those_its_filter_passes_but_not_by_member_id() {
        let f = filters(&["select member_id, min(start_at) as at from appointments \
             where status in ('booked', 'confirmed') and member_id <> 'MBR-x' \
             and start_at >= timestamp '2026-11-23 00:00:00' \
             and start_at < timestamp '2026-11-23 00:00:00' + interval '8 days' group by member_id"]);
        assert!(f.by_table.contains_key("appointments") && !f.by_table.contains_key("member_profile"));
        let batch = appointments(&[
            (Some("MBR-a"), "booked", 1),
            (Some("MBR-x"), "booked", 2),
            (None, "confirmed", 7),
            (Some("MBR-a"), "cancelled", 1),
            (Some("MBR-b"), "booked", 8),
            (Some("MBR-b"), "booked", -1),
        ]);
        // The member_id condition is left to the SQL: MBR-x's row is kept here.
        assert_eq!(
            kept(&f, &batch),
            Some(vec![true, true, true, false, false, false])
        );
    }

    #[test]
    fn a_table_is_filtered_only_when_every_scan_of_it_is() {
        let either = filters(&[
            "select member_id from appointments where status = 'booked'",
            "select member_id from appointments a where a.status = 'confirmed'",
        ]);
        let batch = appointments(&[
            (Some("MBR-a"), "booked", 1),
            (Some("MBR-b"), "confirmed", 1),
            (Some("MBR-c"), "cancelled", 1),
        ]);
        assert_eq!(kept(&either, &batch), Some(vec![true, true, false]));
        let one_unfiltered = filters(&[
            "select member_id from appointments where status = 'booked'",
            "select member_id from appointments",
        ]);
        assert_eq!(kept(&one_unfiltered, &batch), None);
        let only_by_member = filters(&["select member_id from appointments where member_id = 'MBR-a'"]);
        assert_eq!(kept(&only_by_member, &batch), None);
        let random = filters(&["select member_id from appointments where random() < 0.5"]);
        assert_eq!(kept(&random, &batch), None);
        // The first rows of the table, then filtered (whatever shape the optimizer gives the plan): every row
        // may be one of the first.
        let first_rows = filters(&["select member_id from \
             (select member_id, status from appointments limit 2) t where status = 'booked'"]);
        assert_eq!(kept(&first_rows, &batch), None);
    }

    #[test]
    fn a_condition_on_a_column_the_batch_lacks_keeps_every_row() {
        let f = filters(&["select member_id from appointments where appointment_type = 'screening'"]);
        assert!(f.by_table.contains_key("appointments"));
        let batch = appointments(&[(Some("MBR-a"), "booked", 1)]);
        assert_eq!(kept(&f, &batch), None);
    }
}
