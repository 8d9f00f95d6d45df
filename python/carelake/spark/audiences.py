"""Audiences on Spark: each audience's SQL runs as Spark SQL; consent, quiet hours, caps, channel, send time and
the per-destination diff run in the native kernels on the driver over the selected rows.

The SQL sees the same tables as on the native engine: ``member_profile``, ``care_gaps`` and ``measure_rates``
from the output, and ``appointments``, ``communications`` and ``consents`` from the lake with ``member_id``
resolved through ``identity_xref`` (a row's own member_id when it has one), each read where the pipeline file's
``sources`` puts it and conformed as the native engine conforms it (canonical names, types and spellings; rows
that fail to conform are left out). Write it in Spark SQL, and return
dates and timestamps as they are: carelake turns the selected columns into text itself, the same way on both
engines (a cast to text in SQL formats timestamps differently on DataFusion and Spark).
"""

from __future__ import annotations

from collections.abc import Iterator
from os import PathLike, fspath
from typing import TYPE_CHECKING

from carelake import _native
from carelake.exceptions import ConfigError
from carelake.spark.session import empty_batch, read_lake_table

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from carelake._native import Sources
    from carelake.api import AudienceReport, ProgressCallback

OUTPUT_TABLES = ["member_profile", "care_gaps", "measure_rates"]
RESOLVED_INPUTS = ["appointments", "communications", "consents"]


def _resolved(table: DataFrame, xref: DataFrame) -> DataFrame:
    """``table`` with member_id resolved through the xref: its own member_id when set, else the member of its
    (source_system, source_record_id)."""
    from pyspark.sql import functions as F

    ids = xref.select("source_system", "source_record_id", F.col("member_id").alias("_resolved_member_id"))
    joined = table.join(ids, ["source_system", "source_record_id"], "left")
    own = F.col("member_id") if "member_id" in table.columns else F.lit(None).cast("string")
    return joined.withColumn("member_id", F.coalesce(own, F.col("_resolved_member_id"))).drop("_resolved_member_id")


def _conformed(frame: DataFrame, table: str, mapping: Mapping[str, str] | None) -> DataFrame:
    """``frame`` conformed to canonical input ``table`` on the executors, by the native engine's own conform:
    mapped columns under their canonical names (found exactly, else ignoring case), values in their canonical
    types and spellings (an enumeration's ``BOOKED`` is ``booked``), rows that fail to conform left out (the
    driver's native stage quarantines them, once, with their reasons)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    chosen = dict(mapping) if mapping else None
    canonical = pa.table(_native.conform(table, pa.Table.from_batches([empty_batch(frame)]), chosen)[0]).schema

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from carelake import _native as kernels

        for batch in batches:
            rows, _ = kernels.conform(table, pa.Table.from_batches([batch]), chosen)
            yield from pa.table(rows).to_batches()

    return frame.mapInArrow(run, from_arrow_schema(canonical))


def register_views(spark: SparkSession, lake: str, out: str, sources: Sources | None = None) -> list[str]:
    """Register the tables audience SQL reads as temporary views; returns their names.

    Args:
        spark: The session.
        lake: The lake with the canonical inputs.
        out: The output folder with member_profile, care_gaps and identity_xref.
        sources: Per input table, ``(uri or None, {canonical column: source column})``: where a table is kept
            outside the lake and how its columns are named (as the pipeline file's ``sources:``).

    Returns:
        The names of the views registered.
    """
    from pathlib import Path

    def present(folder: str, table: str) -> str | None:
        # Object stores are not probed here: a missing table there fails when read, naming it.
        location = f"{folder.rstrip('/')}/{table}"
        return location if "://" in location or Path(location).exists() else None

    names = []
    for table in OUTPUT_TABLES:
        location = present(out, table)
        if location is not None:
            read_lake_table(spark, location).createOrReplaceTempView(table)
            names.append(table)
    xref = read_lake_table(spark, f"{out.rstrip('/')}/identity_xref")
    for table in RESOLVED_INPUTS:
        uri, mapping = (sources or {}).get(table, (None, {}))
        location = uri or present(lake, table)
        if location is not None:
            frame = _conformed(read_lake_table(spark, location), table, mapping)
            _resolved(frame, xref).createOrReplaceTempView(table)
            names.append(table)
    return names


def audiences(
    spark: SparkSession,
    config: str | PathLike[str],
    *,
    lake: str | None = None,
    out: str | None = None,
    as_of: str | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> AudienceReport:
    """Run the audiences of a pipeline file with their SQL on Spark; same outputs as :func:`carelake.audiences`.

    Args:
        spark: The session (see :func:`carelake.spark.get_session`).
        config: The pipeline YAML file with ``audiences`` and ``destinations``.
        lake: The lake (default: the file's ``lake``).
        out: The output folder with member_profile and care_gaps (default: the file's ``output``).
        as_of: ISO as-of date (default: the file's, else today).
        dry_run: Compute counts and a sample, write nothing.
        progress: Called as ``progress(event, task, units)``.

    Returns:
        The same report as :func:`carelake.audiences`.

    Raises:
        ConfigError: An audience's SQL fails on Spark or the file is invalid.
    """
    from pyspark.errors import PySparkException

    # Spark's planner checks the SQL here (the native engine's dialect is not Spark's).
    checked = _native.validate_config(fspath(config), False, False)
    lake = lake or checked["lake"]
    out = out or checked["output"]
    views = register_views(spark, lake, out, checked["sources"])
    selected: list[pa.Table] = []
    for name, sql in _native.audience_queries(fspath(config)):
        try:
            selected.append(spark.sql(sql).toArrow())
        except PySparkException as e:
            condition = e.getCondition() if hasattr(e, "getCondition") else None
            hint = ""
            if condition == "TABLE_OR_VIEW_NOT_FOUND":
                # Spark's message quotes the SQL; name what is there instead (a table not in the lake or output
                # has no view).
                hint = f" (the tables there are: {', '.join(views)})"
            raise ConfigError(f"audience '{name}': Spark SQL: {condition or type(e).__name__}{hint}") from None
    return _native.audiences(fspath(config), lake, out, as_of, dry_run, progress, selected)
