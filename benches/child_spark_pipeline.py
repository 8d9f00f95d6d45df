"""The whole pipeline (identity, care gaps, audiences) on Spark local[2] and on the native engine, same lake.

    python child_spark_pipeline.py LAKE OUT

Prints each engine's time per stage, the Spark engine's phases (executor work vs driver work), and whether the
two wrote the same identity_xref, care_gaps and audience_members. Then Spark identity again with the native
run's model (the executors score the pairs), once clustering on the driver and once on the executors (connected
components, then each component clustered there), with its phases and whether identity_xref is still the same.
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
AUDIENCES = """
destinations:
  texts: {kind: sms, fields: [phone, first_name, message_topic, due_date]}
audiences:
  - name: preventive_recall
    purpose: care_gaps
    sql: >-
      select member_id, 'screening' as message_topic, min(due_date) as due_date
      from care_gaps where status = 'open' group by member_id
    channels: [sms]
    destinations: [texts]
  - name: upcoming_visits
    purpose: care_reminders
    sql: >-
      select member_id, 'appointment' as message_topic from appointments
      where status in ('booked', 'confirmed') group by member_id
    channels: [sms]
    destinations: [texts]
    priority: 2
"""


def rows(path: str, columns: list[str]) -> list[tuple]:
    table = pq.read_table(DeltaTable(path).file_uris(), columns=columns)
    return sorted(zip(*(table.column(c).to_pylist() for c in columns)))


def run(engine: str, lake: str, out: str, spark=None) -> dict:
    os.makedirs(os.path.dirname(out), exist_ok=True)
    config = f"{out}.yml"
    with open(config, "w") as f:
        f.write(f"lake: {lake}\noutput: {out}\nas_of: {AS_OF}\n" + AUDIENCES)
    times = {}
    started = time.perf_counter()
    if engine == "spark":
        identity = carelake_spark.identity(spark, f"{lake}/person_records", out, as_of=AS_OF)
    else:
        identity = carelake.identity(f"{lake}/person_records", out, as_of=AS_OF)
    times["identity"] = time.perf_counter() - started
    started = time.perf_counter()
    if engine == "spark":
        gaps = carelake_spark.caregaps(spark, lake, out, as_of=AS_OF)
    else:
        gaps = carelake.caregaps(lake, out, as_of=AS_OF)
    times["caregaps"] = time.perf_counter() - started
    started = time.perf_counter()
    if engine == "spark":
        carelake_spark.audiences(spark, config, as_of=AS_OF)
    else:
        carelake.audiences(config, as_of=AS_OF)
    times["audiences"] = time.perf_counter() - started
    return {
        "times": times,
        "records": identity["records"],
        "identity_phases": dict(identity["phase_seconds"]),
        "caregaps_phases": dict(gaps["phase_seconds"]),
    }


def main() -> None:
    lake, out = sys.argv[1], sys.argv[2]
    native = run("native", lake, f"{out}/native")
    spark = carelake_spark.get_session("local[2]")
    spark.read.parquet(*DeltaTable(f"{lake}/person_records").file_uris()).count()  # JVM up before timing
    on_spark = run("spark", lake, f"{out}/spark", spark)
    same = all(
        rows(f"{out}/native/{t}", cols) == rows(f"{out}/spark/{t}", cols)
        for t, cols in [
            ("identity_xref", ["source_system", "source_record_id", "member_id"]),
            ("care_gaps", ["member_id", "measure", "rate", "status", "reason"]),
            ("audience_members", ["audience", "destination", "member_id", "channel"]),
        ]
    )
    xref = ["source_system", "source_record_id", "member_id"]
    with_model = {}
    for where, limit in (("driver", None), ("executors", 0)):
        settings = None if limit is None else {"clustering": {"driver_max_links": limit}}
        started = time.perf_counter()
        result = carelake_spark.identity(
            spark,
            f"{lake}/person_records",
            f"{out}/spark_model_{where}",
            model=f"{out}/native/identity_model.json",
            settings=settings,
            as_of=AS_OF,
        )
        with_model[where] = {
            "seconds": round(time.perf_counter() - started, 2),
            "phases": dict(result["phase_seconds"]),
            "links": result["links"],
            "same_xref": rows(f"{out}/native/identity_xref", xref)
            == rows(f"{out}/spark_model_{where}/identity_xref", xref),
        }
    report(
        {
            "records": native["records"],
            "native": native,
            "spark": on_spark,
            "same_outputs": same,
            "identity_with_model": with_model,
        }
    )
    spark.stop()


if __name__ == "__main__":
    main()
