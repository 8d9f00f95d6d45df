"""Identity resolution on Spark.

Executors: conform and normalize the records, emit each record's blocking keys, and compare candidate pairs,
all inside ``mapInArrow`` through the Rust kernels. Spark: size the blocks, drop those over the cap (the skew
guard: no block above the cap is ever joined, so no task sees more than cap x cap / 2 pairs from one key), join
the rest into pairs, keep each pair once with the first rule that found it, and bring both sides' normalized
fields to the pair. With a model, the executors also score the pairs; when more links reach the clustering
threshold than the settings' ``clustering.driver_max_links``, Spark finds their connected components and the
executors cluster each component (see ``cluster_labels``). Driver: train (unless a model is given), score,
cluster (unless the executors did), keep member ids stable and write the identity tables, through the same code
as the native engine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from carelake import _native
from carelake.spark.session import read_lake_table

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from carelake.api import IdentityReport, ProgressCallback

# The normalized columns the kernels exchange, as the Rust side defines them.
PREPARED = _native.identity_prepared_columns()
PREPARED_COLUMNS = [name for name, _ in PREPARED]
PREPARED_SCHEMA = "record_key string, " + ", ".join(f"{name} {kind}" for name, kind in PREPARED)
KEYS_SCHEMA = "rule int, block_key bigint, record_key string"
COMPARED_SCHEMA = "left_key string, right_key string, rule int, levels bigint"
# With a model the executors also score: each kept pair's total match weight and probability (32-bit, as stored).
SCORED_SCHEMA = COMPARED_SCHEMA + ", weight float, probability float"
LABELS_SCHEMA = "record_key string, cluster_key string, guard string, refused bigint"
GUARD_COLUMNS = ["ssn", "source_system", "mrn"]
# Links the clustering kernel takes at once on an executor (some 100 bytes each with the guard fields).
LINKS_PER_BUCKET = 250_000


def _prepare(columns: Mapping[str, str] | None):  # noqa: ANN202 - a mapInArrow function
    mapping = dict(columns) if columns else None

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from carelake import _native as kernels

        for batch in batches:
            yield kernels.identity_prepare_batch(batch, mapping)

    return run


def _blocking_keys(settings: str | None):  # noqa: ANN202 - a mapInArrow function
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from carelake import _native as kernels

        for batch in batches:
            yield kernels.identity_blocking_keys(batch, settings)

    return run


def _compare(model: str | None, settings: str | None):  # noqa: ANN202 - a mapInArrow function
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from carelake import _native as kernels

        for batch in batches:
            yield kernels.identity_compare_batch(batch, model, settings)

    return run


def _cluster_components(settings: str | None):  # noqa: ANN202 - an applyInArrow function
    def run(links: pa.Table) -> pa.Table:
        import pyarrow as pa

        from carelake import _native as kernels

        return pa.Table.from_batches([kernels.identity_cluster_components(links, settings)])

    return run


def name_frequencies(prepared: DataFrame, column: str) -> DataFrame:
    """Each value of a name column with its share of the records that have one (``tf_<column>``): the term
    frequencies the model's exact-name weights use, computed as the native engine does."""
    from pyspark.sql import functions as F

    present = prepared.where(F.col(column).isNotNull())
    total = present.count()
    counts = present.groupBy(column).count()
    return counts.select(column, (F.col("count") / F.lit(float(max(total, 1)))).alias(f"tf_{column}"))


def prepared_records(records: DataFrame, columns: Mapping[str, str] | None = None) -> DataFrame:
    """Conformed, normalized person records with their ``record_key`` (rows that fail to conform are left out
    here and quarantined by the driver)."""
    return records.mapInArrow(_prepare(columns), PREPARED_SCHEMA)


def candidate_pairs(
    spark: SparkSession, prepared: DataFrame, settings: str | None
) -> tuple[DataFrame, list[dict], list[DataFrame]]:
    """Candidate pairs ``(left_key, right_key, rule)``, each once with the first rule that found it, the
    blocking report per rule (pairs, oversized blocks and the records in them, largest block kept), and the
    cached frames the pairs are built from (blocking keys, block sizes: unpersist them once the pairs are
    materialized)."""
    from pyspark.sql import functions as F

    rules = _native.identity_blocking_rules(settings)
    # Cached: the block sizes and the pair join both read the keys, and the kernel should run once.
    keys = prepared.mapInArrow(_blocking_keys(settings), KEYS_SCHEMA).cache()
    caps = spark.createDataFrame([(i, cap) for i, (_, cap) in enumerate(rules)], "rule int, cap bigint")
    sizes = (
        keys.groupBy("rule", "block_key")
        .agg(F.count("*").alias("size"))
        .join(F.broadcast(caps), "rule")
        .cache()
    )
    kept = F.col("size") <= F.col("cap")
    pairs_of = F.col("size") * (F.col("size") - 1) / 2
    report_rows = {
        r["rule"]: r
        for r in sizes.groupBy("rule")
        .agg(
            F.sum(F.when(kept & (F.col("size") > 1), pairs_of).otherwise(0)).cast("bigint").alias("pairs"),
            F.sum(F.when(~kept, 1).otherwise(0)).cast("bigint").alias("oversized_blocks"),
            F.sum(F.when(~kept, F.col("size")).otherwise(0)).cast("bigint").alias("records_in_oversized_blocks"),
            F.max(F.when(kept & (F.col("size") > 1), F.col("size")).otherwise(0)).alias("largest_block"),
        )
        .collect()
    }
    report = []
    for i, (name, _) in enumerate(rules):
        row = report_rows.get(i)
        report.append(
            {
                "rule": name,
                "pairs": int(row["pairs"]) if row else 0,
                "new_pairs": 0,  # counted by the driver from the pairs' first rules
                "oversized_blocks": int(row["oversized_blocks"]) if row else 0,
                "records_in_oversized_blocks": int(row["records_in_oversized_blocks"]) if row else 0,
                "largest_block": int(row["largest_block"]) if row else 0,
            }
        )
    blocks = sizes.where(kept & (F.col("size") > 1)).select("rule", "block_key")
    members = keys.join(blocks, ["rule", "block_key"])
    left = members.select("rule", "block_key", F.col("record_key").alias("left_key"))
    right = members.select("rule", "block_key", F.col("record_key").alias("right_key"))
    pairs = (
        left.join(right, ["rule", "block_key"])
        .where(F.col("left_key") < F.col("right_key"))
        .groupBy("left_key", "right_key")
        .agg(F.min("rule").alias("rule"))
    )
    return pairs, report, [keys, sizes]


def compared_pairs(
    pairs: DataFrame, prepared: DataFrame, model: str | None = None, settings: str | None = None
) -> DataFrame:
    """Pairs with their packed comparison vectors, compared on the executors. With a model (its JSON text) the
    executors also score each pair and keep only those at or above the keep threshold."""
    from pyspark.sql import functions as F

    left_fields = prepared
    extra: list[str] = []
    if model is not None:
        for column in ("first", "last"):
            left_fields = left_fields.join(F.broadcast(name_frequencies(prepared, column)), column, "left")
        extra = ["tf_first", "tf_last"]

    def side(frame: DataFrame, prefix: str, key: str, more: list[str]) -> DataFrame:
        return frame.select(
            F.col("record_key").alias(key), *[F.col(c).alias(f"{prefix}{c}") for c in PREPARED_COLUMNS + more]
        )

    joined = pairs.join(side(left_fields, "l_", "left_key", extra), "left_key").join(
        side(prepared, "r_", "right_key", []), "right_key"
    )
    return joined.mapInArrow(_compare(model, settings), COMPARED_SCHEMA if model is None else SCORED_SCHEMA)


def cluster_labels(
    links: DataFrame, links_count: int, prepared: DataFrame, settings: str | None
) -> tuple[DataFrame, int]:
    """Cluster scored links on the executors: Spark finds the connected components of the links at or above
    the clustering threshold, and each component is clustered on its own by the native guarded clustering
    (strongest link first), which gives the clusters the driver would find from all links at once.

    Args:
        links: Scored pairs (``left_key``, ``right_key``, ``weight``, ``probability``) at or above the threshold.
        links_count: How many rows ``links`` has (it sizes the buckets the kernel clusters at once).
        prepared: The prepared records (their guard fields: SSN, source and MRN).
        settings: The identity settings as JSON.

    Returns:
        The cluster labels (see ``_native.identity_cluster_components``) and the connected-components rounds.
    """
    from pyspark.sql import functions as F

    from carelake.spark.components import connected_components

    components, rounds = connected_components(
        links.select(F.col("left_key").alias("src"), F.col("right_key").alias("dst"))
    )

    def side(prefix: str, key: str) -> DataFrame:
        return prepared.select(F.col("record_key").alias(key), *[F.col(c).alias(prefix + c) for c in GUARD_COLUMNS])

    grouped = (
        links.select("left_key", "right_key", "weight", "probability")
        .join(components.withColumnRenamed("node", "left_key"), "left_key")
        .join(side("l_", "left_key"), "left_key")
        .join(side("r_", "right_key"), "right_key")
    )
    # Most components are a handful of records: one Python call each would cost more than clustering them. The
    # kernel takes any number of whole components at once, so components are grouped into buckets of about
    # LINKS_PER_BUCKET links by a hash of their name, and the kernel runs once per bucket.
    buckets = max(1, -(-links_count // LINKS_PER_BUCKET))
    bucket = F.pmod(F.xxhash64("component"), F.lit(buckets))
    labels = grouped.groupBy(bucket.alias("bucket")).applyInArrow(_cluster_components(settings), LABELS_SCHEMA)
    return labels, rounds


def identity(
    spark: SparkSession,
    records: str | DataFrame,
    out: str,
    *,
    previous: str | None = None,
    model: str | None = None,
    settings: Mapping[str, object] | None = None,
    as_of: str | None = None,
    progress: ProgressCallback | None = None,
    columns: Mapping[str, str] | None = None,
) -> IdentityReport:
    """Resolve person records into members on Spark; same outputs as :func:`carelake.identity`.

    Args:
        spark: The session (see :func:`carelake.spark.get_session`).
        records: The ``person_records`` table: a DataFrame, a Unity Catalog name, or a Delta/Parquet/CSV path.
        out: Where the identity outputs go (Delta; a volume or external location on Databricks).
        previous: The previous run's ``identity_xref``; default: the one already in ``out``.
        model: A saved ``identity_model.json`` to reuse instead of training. With a model the executors also
            score the pairs and send the driver only those that can become links (the way to run populations
            whose candidate pairs do not fit the driver: train on a sample with the native engine first), and
            above ``clustering.driver_max_links`` links at the threshold they also cluster them.
        settings: Identity settings (``blocking``, ``training``, ``clustering``), as in the pipeline file.
        as_of: ISO as-of date of the run (default today).
        progress: Called as ``progress(event, task, units)`` for the driver's steps.
        columns: Canonical column name -> source column name.

    Returns:
        The same report as :func:`carelake.identity`; ``phase_seconds`` starts with the Spark phases (prepare,
        block, compare on the executors, collect) and goes on with the driver's (train, score, cluster, ...).
    """
    from pyspark.sql import functions as F

    encoded = json.dumps(settings) if settings is not None else None
    source = records if isinstance(records, str) else "dataframe"
    frame = read_lake_table(spark, records) if isinstance(records, str) else records
    phases: list[tuple[str, float]] = []
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases.append((f"spark_{phase}", round(now - clock, 3)))
        clock = now

    # Each phase is materialized before the next, so its time is its own (and nothing is computed twice).
    prepared = prepared_records(frame, columns).cache()
    try:
        prepared.count()
        lap("prepare")
        pairs, report, cached = candidate_pairs(spark, prepared, encoded)
        pairs = pairs.cache()
        candidates = pairs.count()
        for frame_used in cached:
            frame_used.unpersist()
        lap("block")
        model_json = _native.identity_model_json(model) if model is not None else None
        if model_json is not None:
            # Scored on the executors: only possible links travel, so the driver counts each rule's pairs here.
            found_first = {r["rule"]: r["count"] for r in pairs.groupBy("rule").count().collect()}
            for i, rule in enumerate(report):
                rule["new_pairs"] = int(found_first.get(i, 0))
        compared_frame = compared_pairs(pairs, prepared, model_json, encoded)
        labels: pa.Table | None = None
        if model_json is not None:
            # Cached: the links are counted, perhaps clustered, then collected; without a model they are only
            # collected, once.
            compared_frame = compared_frame.cache()
            # Chosen by size: links the driver can hold are clustered there, more in components on the executors.
            threshold, driver_max_links = _native.identity_clustering(encoded)
            links = compared_frame.where(F.col("probability") >= threshold)
            links_count = links.count()
            if links_count > driver_max_links:
                lap("compare")
                found, _ = cluster_labels(links, links_count, prepared, encoded)
                labels = found.toArrow()
                lap("cluster")
        compared: pa.Table = compared_frame.toArrow()
        compared_frame.unpersist()
        pairs.unpersist()
        lap("compare" if labels is None else "collect_pairs")
        raw: pa.Table = frame.toArrow()
        lap("collect")
    finally:
        prepared.unpersist()
    scored = candidates if model_json is not None else None
    result = _native.identity_from_pairs(
        raw,
        compared,
        json.dumps(report),
        out,
        source,
        previous,
        model,
        encoded,
        as_of,
        progress,
        columns,
        scored,
        labels,
    )
    result["phase_seconds"] = [*phases, *result["phase_seconds"]]
    return result
