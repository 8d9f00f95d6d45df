"""HEDIS-style care gaps on Spark.

Executors read ``clinical_events`` and keep only the rows that carry a code of a measure's value set (or fail to
conform, so the driver can quarantine them with their reasons), through the same code index as the native
engine; on synthetic and claims-like data that is about a sixth of the rows. The driver then runs the care-gap
stage over the kept rows: the same conform, match, enrollment and measure logic as the native engine, so the
outputs are the same.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from os import PathLike, fspath
from typing import TYPE_CHECKING

from carelake import _native
from carelake.api import with_columns
from carelake.spark.session import empty_batch, read_lake_table

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from carelake._native import Sources
    from carelake.api import CareGapsReport, ProgressCallback


def _event_filter(
    value_sets: list[str],
    measures_dir: str | None,
    measures: list[str] | None,
    columns: Mapping[str, str] | None,
):  # noqa: ANN202 - a mapInArrow function
    mapping = dict(columns) if columns else None

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from carelake import _native as kernels

        for batch in batches:
            yield kernels.caregaps_event_filter(batch, value_sets, measures_dir, measures, mapping)

    return run


def caregaps(
    spark: SparkSession,
    lake: str,
    out: str,
    *,
    events: str | DataFrame | None = None,
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
    """Compute HEDIS-style care gaps with the event scan on Spark; same outputs as :func:`carelake.caregaps`.

    Args:
        spark: The session (see :func:`carelake.spark.get_session`).
        lake: The lake holding ``enrollment`` (and ``person_records`` when identity has not run).
        out: Where the outputs go.
        events: The ``clinical_events`` table: a DataFrame, a Unity Catalog name or a path (default: its place
            in ``sources``, else the lake's).
        value_sets: Value Set Directory files (``.xlsx``/``.csv``) every executor can read, or ``"sample"``.
        year: Measurement year (default: the as-of date's year).
        identity: Where ``identity_xref`` and ``member_profile`` are (default: ``out``).
        measures_dir: A folder of extra measure definitions, readable by every executor.
        measures: Run only these measure ids (default: all).
        as_of: ISO as-of date (default today).
        progress: Called as ``progress(event, task, units)`` for the driver's steps.
        columns: Per canonical table, canonical column name -> source column name.
        sources: Per canonical table, ``(uri or None, {canonical column: source column})``, as
            :func:`carelake.caregaps` takes it.

    Returns:
        The same report as :func:`carelake.caregaps`; ``phase_seconds`` starts with the Spark scan.
    """
    files = [value_sets] if isinstance(value_sets, str) else list(value_sets)
    chosen = list(measures) if measures is not None else None
    folder = fspath(measures_dir) if measures_dir is not None else None
    places = with_columns(sources, columns) or {}
    events_uri, mapping = places.get("clinical_events", (None, None))
    mapping = mapping or None
    if events is None or isinstance(events, str):
        source = events or events_uri or f"{lake.rstrip('/')}/clinical_events"
        frame = read_lake_table(spark, source)
    else:
        source, frame = "dataframe", events
    # Check the value sets and measures on the driver first: a bad file fails here, once, with its message.
    _native.caregaps_event_filter(empty_batch(frame), files, folder, chosen, mapping)
    started = time.perf_counter()
    rows_read = frame.count()
    kept: pa.Table = frame.mapInArrow(_event_filter(files, folder, chosen, mapping), frame.schema).toArrow()
    scan = time.perf_counter() - started
    result = _native.caregaps_from_events(
        lake, out, kept, rows_read, source, files, year, identity, folder, chosen, as_of, progress, places or None
    )
    result["phase_seconds"] = [("spark_event_scan", round(scan, 3)), *result["phase_seconds"]]
    return result

