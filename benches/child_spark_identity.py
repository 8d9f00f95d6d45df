"""Identity resolution on Spark local[2] and on the native engine, same lake, same process.

    python child_spark_identity.py LAKE OUT

Prints both times, the Spark engine's phases, and whether the two wrote the same identity_xref.
"""

from __future__ import annotations

import os
import sys
import time

import pyarrow.parquet as pq
from _child import report
from deltalake import DeltaTable

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

import carelake  # noqa: E402
from carelake import spark as carelake_spark  # noqa: E402

AS_OF = "2026-11-23"


def xref(path: str) -> list[tuple]:
    table = pq.read_table(DeltaTable(path).file_uris(), columns=["source_system", "source_record_id", "member_id"])
    return sorted(zip(*(table.column(i).to_pylist() for i in range(3))))


def main() -> None:
    lake, out = sys.argv[1], sys.argv[2]
    records = f"{lake}/person_records"
    started = time.perf_counter()
    native = carelake.identity(records, f"{out}/native", as_of=AS_OF)
    native_seconds = time.perf_counter() - started
    spark = carelake_spark.get_session("local[2]")
    spark.read.parquet(*DeltaTable(records).file_uris()).count()  # start the JVM and workers outside the timing
    started = time.perf_counter()
    on_spark = carelake_spark.identity(spark, records, f"{out}/spark", as_of=AS_OF)
    spark_seconds = time.perf_counter() - started
    report(
        {
            "records": native["records"],
            "native_seconds": native_seconds,
            "spark_seconds": spark_seconds,
            "phases": on_spark["phase_seconds"],
            "same_outputs": xref(f"{out}/native/identity_xref") == xref(f"{out}/spark/identity_xref"),
        }
    )
    spark.stop()


if __name__ == "__main__":
    main()
