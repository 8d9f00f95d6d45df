"""The Spark engine: carelake's Rust kernels inside PySpark, with Spark doing the joins and shuffles.

Identity resolution runs its record-sized and pair-sized work on the executors (``mapInArrow`` over the same
normalizers, blocking keys and comparisons as the native engine; blocks are formed by a Spark join with the
block-size cap as the skew guard), and its last step (training, scoring, clustering, stable ids, survivorship,
writes) on the driver through the same code as the native engine, so both engines give the same tables. Care
gaps scan ``clinical_events`` on the executors, keeping only rows with a measure's value-set code, and evaluate
the members on the driver. Audiences run their SQL as Spark SQL; policy and the diff run in the kernels.

Use :func:`get_session` for a session with the Arrow settings the kernels need (the active one on Databricks).
PySpark is an optional dependency (``pip install carelake[spark]``); Databricks runtimes have it.
"""

from carelake.spark.audiences import audiences
from carelake.spark.caregaps import caregaps
from carelake.spark.identity import identity
from carelake.spark.session import get_session, read_lake_table

__all__ = ["audiences", "caregaps", "get_session", "identity", "read_lake_table"]
