//! The engagement inputs (consents, communications, appointments) of the audience stage: which of their columns
//! are read, and their rows resolved to members on every core and added to the consent ledger in table order.

use arrow::array::RecordBatch;
use rayon::prelude::*;

use super::profiles::Profiles;
use super::selection::resolve_members;
use super::sql_rows::SqlRowFilters;
use crate::audience::ledger::{ConsentRows, LedgerBuilder};
use crate::error::{CoreError, CoreResult};
use crate::identity::person_keys::XrefIndex;
use crate::lake::{quarantine_rows, QuarantinedRow, RejectReason, RejectedRows, RowNumbers};
use crate::pipeline::ingest::{open_input, read_conformed_columns, ConformedInput, InputSet};

/// The columns of few distinct values of an engagement input that only the ledger reads: read as dictionaries,
/// conformed once per value (at 10M members, copying their text out for each of 28M rows and checking it was a
/// seventh of the ledger phase).
pub(super) fn ledger_dictionaries(table: &str) -> &'static [&'static str] {
    match table {
        "consents" => &["source_system", "channel", "purpose", "status", "basis"],
        "communications" => &[
            "source_system",
            "channel",
            "direction",
            "audience",
            "status",
            "body_keyword",
        ],
        _ => &[],
    }
}

/// The columns that resolve an engagement input's rows to members: kept until they are resolved.
pub(super) const RESOLVING_COLUMNS: [&str; 3] = ["member_id", "source_system", "source_record_id"];

/// The columns of an engagement input the ledger reads, when it alone reads the input: only these are read and
/// conformed. A STOP reply or a consent whose other columns (message_id, template, source) are missing or
/// malformed still counts: an opt-out is honored however the rest of its row was recorded (ingest's checks
/// still report such rows). Leaving out communications' message_id, unique per row, spares decoding and
/// checking 10M texts at 10M members.
pub(super) fn ledger_columns(table: &str) -> Option<&'static [&'static str]> {
    const PERSON: [&str; 3] = RESOLVING_COLUMNS;
    match table {
        "consents" => Some(&[
            PERSON[0],
            PERSON[1],
            PERSON[2],
            "channel",
            "purpose",
            "status",
            "basis",
            "contact_point",
            "captured_at",
        ]),
        "communications" => Some(&[
            PERSON[0],
            PERSON[1],
            PERSON[2],
            "channel",
            "direction",
            "audience",
            "sent_at",
            "status",
            "body_keyword",
        ]),
        _ => None,
    }
}

/// Read and conform an engagement input whole (None: the lake has no such table), keeping the columns in
/// `keep` (None: all); without `rows_wanted`, only open it (its schema is checked and it is described in the run
/// log).
pub(super) async fn read_engagement(
    inputs: &InputSet,
    table: &str,
    rows_wanted: bool,
    keep: Option<Vec<String>>,
) -> CoreResult<Option<ConformedInput>> {
    if rows_wanted {
        return read_conformed_columns(inputs, table, keep.as_deref()).await;
    }
    Ok(open_input(inputs, table).await?.map(|stream| ConformedInput {
        described: stream.describe(),
        batches: Vec::new(),
        quarantined: Vec::new(),
        rows_read: 0,
    }))
}

/// An engagement batch resolved on some core: the batch for the SQL (its member_id resolved; None when the SQL
/// does not read the table), each row's member number, and for consents the events read.
struct ResolvedBatch {
    for_sql: Option<RecordBatch>,
    members: Vec<Option<u32>>,
    consents: Option<ConsentRows>,
}

/// What resolves the batches of one engagement input and adds them to the consent ledger.
pub(super) struct LedgerInput<'a> {
    pub(super) table: &'a str,
    pub(super) xref: &'a XrefIndex,
    pub(super) profiles: &'a Profiles,
    /// Which rows the SQL can select, of the inputs it reads.
    pub(super) sql_rows: &'a SqlRowFilters,
    pub(super) as_of_micros: i64,
}

/// Whether the rows of an engagement input go into the consent ledger (every row of it is resolved then).
fn feeds_ledger(table: &str) -> bool {
    matches!(table, "consents" | "communications")
}

impl LedgerInput<'_> {
    /// Resolve conformed batches on every core (a hash probe a row), then add them to the ledger one by one in
    /// table order, as they were read; rows of no known member go to `quarantined`. Returns the batches for the
    /// SQL (with `for_sql`; none otherwise).
    pub(super) fn add(
        &self,
        ledger: &mut LedgerBuilder,
        batches: &[(RecordBatch, RowNumbers)],
        for_sql: bool,
        quarantined: &mut Vec<QuarantinedRow>,
    ) -> CoreResult<Vec<RecordBatch>> {
        let resolved = batches
            .par_iter()
            .map(|(batch, _)| self.resolve(batch, for_sql))
            .collect::<CoreResult<Vec<_>>>()?;
        let mut for_sql = Vec::new();
        for (mut resolved, (batch, numbers)) in resolved.into_iter().zip(batches) {
            quarantined.extend(self.add_resolved(ledger, (batch, numbers), &mut resolved)?);
            for_sql.extend(resolved.for_sql);
        }
        Ok(for_sql)
    }

    /// Resolve a batch to members and read what the ledger needs that can be read apart from it (called on
    /// every core, batch by batch).
    fn resolve(&self, batch: &RecordBatch, for_sql: bool) -> CoreResult<ResolvedBatch> {
        let sql_rows = for_sql.then(|| self.sql_rows.rows(self.table, batch)).flatten();
        if let (Some(keep), false) = (&sql_rows, feeds_ledger(self.table)) {
            // Only the SQL reads this input: the rows it cannot select are not resolved at all.
            let kept = arrow::compute::filter_record_batch(batch, keep)?;
            let (for_sql, members) = resolve_members(&kept, self.xref, self.profiles, true)?;
            return Ok(ResolvedBatch {
                for_sql,
                members,
                consents: None,
            });
        }
        let (mut for_sql, members) = resolve_members(batch, self.xref, self.profiles, for_sql)?;
        if let (Some(b), Some(keep)) = (&for_sql, &sql_rows) {
            for_sql = Some(arrow::compute::filter_record_batch(b, keep)?);
        }
        let consents = (self.table == "consents")
            .then(|| ConsentRows::read(batch, &members, self.as_of_micros))
            .transpose()?;
        Ok(ResolvedBatch {
            for_sql,
            members,
            consents,
        })
    }

    /// Add a resolved batch to the consent ledger (appointments add nothing); returns its rows whose person no
    /// member has, quarantined: a consent or a STOP reply that reaches no member is shown to the user, not lost
    /// (an opt-out for a source record identity resolution has not seen cannot be honored).
    fn add_resolved(
        &self,
        ledger: &mut LedgerBuilder,
        (batch, numbers): (&RecordBatch, &RowNumbers),
        resolved: &mut ResolvedBatch,
    ) -> CoreResult<Vec<QuarantinedRow>> {
        let members = &resolved.members;
        match self.table {
            "consents" => ledger.add_consent_rows(resolved.consents.take().ok_or_else(|| {
                CoreError::Internal("a consents batch was resolved without its consent rows".into())
            })?),
            "communications" => ledger.add_communications(batch, members, self.as_of_micros)?,
            _ => return Ok(Vec::new()),
        }
        let unknown: RejectedRows = (0..batch.num_rows())
            .filter(|&i| members.get(i).is_none_or(Option::is_none))
            .map(|i| (i as u32, "member_id", RejectReason::UnknownPerson))
            .collect();
        quarantine_rows(batch, self.table, numbers, &unknown)
    }
}
