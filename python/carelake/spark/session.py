"""Getting a Spark session and reading carelake's lake tables into it."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote

from carelake.exceptions import ConfigError, InputError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

# Spark settings every carelake session needs: Arrow batches with 32-bit string offsets (what the kernels
# read without a copy) and no large-variable-type conversion.
ARROW_SETTINGS = {
    "spark.sql.execution.arrow.useLargeVarTypes": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def _pyspark() -> object:
    try:
        import pyspark
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "the spark engine needs PySpark: pip install 'carelake[spark]' (Databricks runtimes have it)"
        ) from e
    return pyspark


def get_session(master: str | None = None, shuffle_partitions: int | None = None) -> SparkSession:
    """The active Spark session (on Databricks), or a local one.

    Args:
        master: Spark master for a new local session (default ``local[2]``); ignored when a session is active.
        shuffle_partitions: Shuffle partitions of a new local session (default: twice the local cores).

    Returns:
        A session with the Arrow settings the kernels need.
    """
    _pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in ARROW_SETTINGS.items():
            active.conf.set(key, value)
        return active
    # Executors must run this interpreter, where carelake is installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    master = master or "local[2]"
    cores = os.cpu_count() or 2
    builder = (
        SparkSession.builder.master(master)
        .appName("carelake")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions or 2 * cores))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.driver.memory", os.environ.get("CARELAKE_SPARK_DRIVER_MEMORY", "4g"))
    )
    for key, value in ARROW_SETTINGS.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def empty_batch(frame: DataFrame) -> pa.RecordBatch:
    """A batch of no rows with ``frame``'s columns as Arrow gives them: what the native kernels check a frame's
    schema against on the driver before its rows go to the executors.

    Args:
        frame: The DataFrame.

    Returns:
        An empty record batch of its Arrow schema.
    """
    import pyarrow as pa

    return pa.RecordBatch.from_pylist([], schema=frame.limit(0).toArrow().schema)


def read_lake_table(spark: SparkSession, uri: str) -> DataFrame:
    """A lake table as a Spark DataFrame.

    A Unity Catalog name (``catalog.schema.table``) is read with ``spark.read.table``. A Delta folder is read
    through its current Parquet files (local Spark has no Delta reader; the deltalake package lists the files
    of the table's current version). A Parquet or CSV path is read as such.

    Args:
        spark: The session.
        uri: Table name, Delta folder, or Parquet/CSV path (local or object store).

    Returns:
        The table.
    """
    if "://" not in uri and not uri.startswith("/") and uri.count(".") == 2 and not Path(uri).exists():
        return spark.read.table(uri)
    # A local path or file:// URL is looked at; an object-store URL is Delta unless it names a .csv or .parquet.
    scheme, _, rest = uri.partition("://") if "://" in uri else ("", "", uri)
    local = Path(unquote(rest)) if scheme in ("", "file") else None
    suffix = PurePosixPath(rest).suffix.lower()
    if (local is not None and (local / "_delta_log").is_dir()) or (local is None and suffix not in (".csv", ".parquet")):
        from deltalake import DeltaTable

        try:
            table = DeltaTable(uri)
            files = table.file_uris()
        except Exception as e:  # deltalake raises its own TableNotFoundError and OSError kinds
            raise InputError(f"cannot open the Delta table at {uri}: {type(e).__name__}") from None
        if not files:
            # A table without rows is there all the same, with its columns.
            import pyarrow as pa
            from pyspark.sql.pandas.types import from_arrow_schema

            return spark.createDataFrame([], from_arrow_schema(pa.schema(table.schema().to_arrow())))
        return spark.read.parquet(*files)
    if suffix == ".csv":
        return spark.read.option("header", "true").option("sep", _csv_delimiter(spark, uri)).csv(uri)
    if suffix == ".parquet" or (local is not None and local.exists()):
        return spark.read.parquet(uri)
    raise InputError(f"no table at {uri}")


def _csv_delimiter(spark: SparkSession, uri: str) -> str:
    """The delimiter of a CSV file, as the native engine finds it: a comma, unless the header holds no comma and
    holds semicolons, tabs or bars (spreadsheets in much of Europe, database exports): the one it holds most of."""
    first = spark.read.text(uri).limit(1).collect()
    header = first[0][0] if first else ""
    if "," in header:
        return ","
    counts = {d: header.count(d) for d in (";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
