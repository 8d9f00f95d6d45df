"""The Python API of carelake: thin, typed wrappers over the Rust core.

Every function releases the GIL while the Rust core works. Arrow data crosses without copies through the Arrow
PyCapsule protocol: pass any object with ``__arrow_c_stream__`` (a pyarrow Table or RecordBatchReader, a Polars
DataFrame, an arro3 Table); results implement it too, so ``pyarrow.table(result)`` or ``polars.from_arrow``
take them as they are.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from carelake import _native

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from os import PathLike

    from carelake._native import (
        ArrowStreamExportable,
        AudienceReport,
        CareGapsReport,
        ConfigCheck,
        GenerateSummary,
        IdentityEvaluation,
        IdentityReport,
        IngestReport,
        Sources,
        PairCounts,
        ProgressCallback,
        RateAgreement,
        WriteOutcome,
    )

__all__ = [
    "audiences",
    "caregaps",
    "conform",
    "count_pairs",
    "evaluate_caregaps",
    "evaluate_identity",
    "generate",
    "identity",
    "ingest",
    "measure_definitions",
    "pipeline_schema",
    "read_table",
    "sample_value_sets",
    "validate_config",
    "write_delta",
]


def read_table(uri: str, table: str | None = None) -> ArrowStreamExportable:
    """Open a table as a stream of Arrow record batches.

    Args:
        uri: A local path or an object-store URL (``s3://``, ``abfss://``, ``gs://``). With ``table``, the lake
            folder that holds it.
        table: A table name to find in the lake ``uri``: ``<uri>/<table>`` (Delta or Parquet folder),
            ``<table>.parquet`` or ``<table>.csv``.

    Returns:
        A stream of record batches (``pyarrow.table(...)`` reads it all).

    Raises:
        InputError: No table at the location.
        StorageError: The storage could not be read.

    Example:
        >>> import pyarrow as pa  # doctest: +SKIP
        >>> pa.table(read_table("carelake-demo/lake", "person_records")).num_rows  # doctest: +SKIP
        21034
    """
    return _native.read_table(uri, table)


def write_delta(
    uri: str,
    data: ArrowStreamExportable,
    *,
    mode: str = "overwrite",
    comment: str | None = None,
    run_key: str | None = None,
) -> WriteOutcome:
    """Write Arrow data to a Delta table.

    A new table gets ``comment`` as its description, each column the ``comment`` key of its field metadata,
    and ``delta.enableChangeDataFeed = true``.

    Args:
        uri: Where the Delta table is (created when missing).
        data: The rows to write.
        mode: ``"overwrite"`` or ``"append"``.
        comment: The table description.
        run_key: Makes the write idempotent: a second write with the same key changes nothing.

    Returns:
        The table version, rows and files written, and whether the run key was already committed.
    """
    return _native.write_delta(uri, data, mode, comment, run_key)


def conform(
    table: str, data: ArrowStreamExportable, columns: Mapping[str, str] | None = None
) -> tuple[ArrowStreamExportable, ArrowStreamExportable]:
    """Check data against a canonical input table and split it into usable and quarantined rows.

    Args:
        table: The canonical table name, e.g. ``"person_records"``.
        data: The source rows.
        columns: Canonical column name -> source column name, for sources named differently.

    Returns:
        ``(rows, quarantine)``: the rows in canonical schema, and one quarantine row per rejected row with its
        reason code and the raw row as JSON.

    Raises:
        SchemaError: A required column is missing or has a type that cannot hold the canonical type.
    """
    return _native.conform(table, data, columns)


def generate(
    out: str,
    members: int,
    *,
    seed: int = 42,
    as_of: str | None = None,
    progress: ProgressCallback | None = None,
    visit_scale: int = 1,
) -> GenerateSummary:
    """Generate a synthetic lake: every canonical input table as Delta, with ground truth.

    Args:
        out: The lake folder or prefix.
        members: Number of true people.
        seed: The same seed, members and ``as_of`` give the same lake.
        as_of: ISO date the data is as of (default today); its year is the measurement year.
        progress: Called as ``progress(event, task, units)`` while generating.
        visit_scale: Multiplies everyday background visits (1: about 10 clinical events per member; 5: about 50).

    Returns:
        The tables written with their row counts and the wall time.
    """
    return _native.generate(out, members, seed, as_of, progress, visit_scale)


def ingest(
    lake: str,
    output: str,
    *,
    as_of: str | None = None,
    sources: Sources | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Read every canonical input of a lake, check schemas, quarantine bad rows, and record the run.

    Args:
        lake: The lake folder or prefix.
        output: Where the ``quarantine`` and ``runs`` tables go.
        as_of: ISO as-of date of the run (default today).
        sources: Per table: ``(explicit uri or None, {canonical column: source column})``.
        progress: Called as ``progress(event, task, units)``.

    Returns:
        The run id and, per table, rows read, rows usable and rows quarantined by reason.
    """
    return _native.ingest(lake, output, as_of, sources, progress)


def validate_config(path: str | PathLike[str], *, check_sources: bool = True, check_sql: bool = True) -> ConfigCheck:
    """Check a pipeline configuration file, and optionally the schema of every input it names.

    Every problem of the file is named in one :class:`~carelake.exceptions.ConfigError`.

    Args:
        path: The YAML file.
        check_sources: Also open each input and check its columns (reads no rows).
        check_sql: Also plan each audience's SQL as the native engine runs it, over the tables audiences read
            (reads no rows): SQL that does not parse, names an unknown table or column, or yields no member_id is
            an error. Turn it off where the SQL runs on Spark only, whose own planner checks it.

    Returns:
        The lake, output and as-of settings, each input's location, format and version, each input's place and
        column mapping as the stages take them (``sources``: ``(uri or None, {canonical: source column})``), the
        care-gap settings,
        and what the audiences come to: each audience's purpose, its channels with the least consent basis the
        purpose needs on each, destinations, exclusions, priority and holdout; each destination's kind, payload
        fields and least audience size; the frequency caps policy applies.
    """
    return _native.validate_config(path, check_sources, check_sql)


def identity(
    records: str,
    out: str,
    *,
    previous: str | None = None,
    model: str | None = None,
    settings: Mapping[str, object] | None = None,
    as_of: str | None = None,
    progress: ProgressCallback | None = None,
    columns: Mapping[str, str] | None = None,
) -> IdentityReport:
    """Resolve person records into members with stable member ids.

    Writes ``identity_xref`` (record -> member id), ``identity_links`` (scored pairs with the weight of every
    comparison), ``identity_changes`` (new, merged and split members) and ``identity_model.json`` under ``out``.

    Args:
        records: The ``person_records`` table (Delta, Parquet or CSV; local or object store).
        out: Where the identity outputs go.
        previous: The previous run's ``identity_xref``; default: the one already in ``out``, so member ids stay
            stable from run to run.
        model: A saved ``identity_model.json`` to reuse instead of training on these records.
        settings: Identity settings (``blocking``, ``training``, ``clustering``), as in the pipeline file.
        as_of: ISO as-of date of the run (default today).
        progress: Called as ``progress(event, task, units)``.
        columns: Canonical column name -> source column name, when ``records`` names its columns differently.

    Returns:
        Counts (records, members, candidate pairs, links, changes) and the blocking report per rule.
    """
    import json

    encoded = json.dumps(settings) if settings is not None else None
    return _native.identity(records, out, previous, model, encoded, as_of, progress, columns)


def evaluate_identity(out: str, truth: str) -> IdentityEvaluation:
    """Pairwise and cluster precision, recall and F1 of identity outputs against ground truth.

    Args:
        out: The folder holding ``identity_xref`` and ``identity_links``.
        truth: A table with ``source_system``, ``source_record_id`` and ``person_id`` (the synthetic lake's
            ``truth_person_records``).

    Returns:
        ``{"pairwise": scores, "cluster": scores}`` with precision, recall, F1 and counts.
    """
    return _native.evaluate_identity(out, truth)


def caregaps(
    lake: str,
    out: str,
    *,
    value_sets: str | Sequence[str] = "sample",
    year: int | None = None,
    identity: str | None = None,
    measures_dir: str | PathLike[str] | None = None,
    measures: Sequence[str] | None = None,
    as_of: str | None = None,
    progress: ProgressCallback | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    sources: Sources | None = None,
) -> CareGapsReport:
    """Compute HEDIS-style care gaps (not NCQA-certified) for every member.

    Writes ``care_gaps`` (member x measure x rate: open, closed, excluded or not_applicable, with the reason,
    evidence and due dates) and ``measure_rates`` (by measure, rate, product line and stratum) under ``out``, plus
    quarantined rows and a ``runs`` row.

    Args:
        lake: The lake holding ``enrollment``, ``clinical_events`` (and ``person_records`` when identity has not
            run).
        out: Where the outputs go.
        value_sets: Your NCQA Value Set Directory and Medication List Directory files (``.xlsx`` or ``.csv``,
            local or object store), or ``"sample"`` for the shipped public-code sample.
        year: Measurement year (default: the as-of date's year).
        identity: Where ``identity_xref`` and ``member_profile`` are (default: ``out``). Without them, each
            ``person_records`` row is its own member.
        measures_dir: A folder of extra measure definition files (a measure with a built-in id replaces it).
        measures: Run only these measure ids (default: all).
        as_of: ISO as-of date (default today); events after it are quarantined.
        progress: Called as ``progress(event, task, units)``.
        columns: Per canonical table, canonical column name -> source column name.
        sources: Per canonical table, ``(uri or None, {canonical column: source column})``: a table kept
            somewhere other than ``<lake>/<table>`` (as the pipeline file's ``sources:``, which
            :func:`validate_config` returns in this shape); ``columns`` adds to its mappings.

    Returns:
        Counts (members, events read and matched, rows), quarantine reasons, the value-set files used (with
        SHA-256) and a summary per measure rate.

    Raises:
        ConfigError: A measure definition or value-set file is invalid, or names a value set the file lacks.
        SchemaError: An input lacks a required column.
    """
    files = [value_sets] if isinstance(value_sets, str) else list(value_sets)
    return _native.caregaps(
        lake,
        out,
        files,
        year,
        identity,
        measures_dir,
        list(measures) if measures is not None else None,
        as_of,
        progress,
        with_columns(sources, columns),
    )


def with_columns(
    sources: Sources | None, columns: Mapping[str, Mapping[str, str]] | None
) -> dict[str, tuple[str | None, dict[str, str]]] | None:
    """``sources`` with each table's mapping in ``columns`` added (a table named only there keeps the lake's place).

    Args:
        sources: Per table, ``(uri or None, {canonical column: source column})``.
        columns: Per table, ``{canonical column: source column}``.

    Returns:
        The merged per-table sources, or None when both are empty.
    """
    merged = {table: (uri, dict(mapping)) for table, (uri, mapping) in (sources or {}).items()}
    for table, mapping in (columns or {}).items():
        uri, known = merged.get(table, (None, {}))
        merged[table] = (uri, {**known, **mapping})
    return merged or None


def evaluate_caregaps(out: str, lake: str, *, identity: str | None = None) -> dict[str, RateAgreement]:
    """Agreement of ``care_gaps`` with the synthetic lake's planted scenarios, by ``MEASURE.rate``.

    Args:
        out: The folder holding ``care_gaps``.
        lake: The synthetic lake (``truth_person_records``, ``truth_care_gaps``).
        identity: The folder holding ``identity_xref`` (default: ``out``).

    Returns:
        Per rate: rows compared and agreed, accuracy, and rows left out (not_applicable, missing, unplanted).
    """
    return _native.evaluate_caregaps(out, lake, identity)


def pipeline_schema() -> dict[str, Any]:
    """The JSON Schema (draft 7) of the pipeline file, for editors and linters.

    It is derived from the parser's own types, with the value lists (destination kinds, purposes, channels,
    canonical tables and columns, payload fields) the checks use. The repository publishes the same schema as
    ``docs/pipeline.schema.json``; ``carelake validate --print-schema`` prints it. Loading a file checks more than
    the schema can (see :func:`validate_config`).

    Returns:
        The schema as a dict.
    """
    return json.loads(_native.pipeline_schema())


def sample_value_sets() -> str:
    """The shipped sample value sets (public codes only), as csv text in the VSD's layout."""
    return _native.sample_value_sets()


def measure_definitions() -> dict[str, str]:
    """The built-in measure definition files, ``{file name: YAML text}``; copy one to start a new measure."""
    return _native.measure_definitions()


def count_pairs(
    records: str,
    *,
    settings: Mapping[str, object] | None = None,
    columns: Mapping[str, str] | None = None,
) -> PairCounts:
    """Count the candidate pairs each blocking rule would generate, before running identity resolution.

    Nothing is compared or written; use it to check that a rule does not explode (oversized blocks are skipped and
    reported, as the full run would).

    Args:
        records: The ``person_records`` table.
        settings: Identity settings (``blocking`` rules and caps), as for :func:`identity`.
        columns: Canonical column name -> source column name.

    Returns:
        Usable and quarantined record counts, and per rule the pairs, oversized blocks and the largest block.
    """
    import json

    encoded = json.dumps(settings) if settings is not None else None
    return _native.count_pairs(records, encoded, columns)


def audiences(
    config: str | PathLike[str],
    *,
    lake: str | None = None,
    out: str | None = None,
    as_of: str | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> AudienceReport:
    """Run the audiences of a pipeline file: SQL, consent and policy, and change sets per destination.

    Writes ``audience_members``, ``audience_events``, ``suppressions`` and ``outreach_<destination>`` under the
    output folder (nothing with ``dry_run``).

    Args:
        config: The pipeline YAML file with ``audiences`` and ``destinations``.
        lake: The lake (default: the file's ``lake``).
        out: The output folder with member_profile and care_gaps (default: the file's ``output``).
        as_of: ISO as-of date; sends are planned from noon UTC of that day (default: the file's, else today).
        dry_run: Compute counts and a sample, write nothing.
        progress: Called as ``progress(event, task, units)``.

    Returns:
        Per audience: members selected and kept, result rows without a member_id (counted, not sent or
        suppressed), suppressions by rule, upserts and deletes per destination, and the ad destinations the
        audience was held back from (``below_minimum``: fewer members than the destination's ``min_members``).

    Raises:
        ConfigError: An audience or destination is invalid, or an audience's SQL fails or lacks member_id.
    """
    return _native.audiences(config, lake, out, as_of, dry_run, progress)
