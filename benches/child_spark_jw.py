"""Jaro-Winkler comparisons per second on Spark local[2]: carelake's kernel inside mapInArrow, beside rapidfuzz
in Arrow UDFs (a per-pair loop, as Splink-on-Spark users wrote it, and rapidfuzz's vectorized cpdist).

    python child_spark_jw.py PAIRS

Every contender scores the same cached DataFrame of name pairs (names with typos, nicknames and swaps from
the synthetic generator's name lists) and the job sums the scores, so Spark runs every comparison. Each is
timed three times; the fastest run counts (the first warms the Python workers). A pass-through function that computes
nothing measures Spark's own cost of moving the batches to Python and back; the time above it is the scoring.
"""

from __future__ import annotations

import os
import random
import sys
import time

import pyarrow as pa
from _child import report

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from pyspark.sql import functions as F  # noqa: E402

from carelake import spark as carelake_spark  # noqa: E402

GIVEN = "JAMES MARY ROBERT PATRICIA JOHN JENNIFER MICHAEL LINDA DAVID ELIZABETH WILLIAM BARBARA RICHARD SUSAN JOSEPH".split()
FAMILY = "SMITH JOHNSON WILLIAMS BROWN JONES GARCIA MILLER DAVIS RODRIGUEZ MARTINEZ HERNANDEZ LOPEZ GONZALEZ".split()


def typo(rng: random.Random, name: str) -> str:
    i = rng.randrange(len(name))
    kind = rng.randrange(4)
    if kind == 0:
        return name[:i] + name[i + 1 :]
    if kind == 1 and i + 1 < len(name):
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    if kind == 2:
        return name[:i] + rng.choice("AEIOUNRST") + name[i + 1 :]
    return name


def pairs_table(n: int) -> pa.Table:
    rng = random.Random(7)
    names = GIVEN + FAMILY
    left, right = [], []
    for _ in range(n):
        a = rng.choice(names) + ("" if rng.random() < 0.7 else " " + rng.choice(FAMILY))
        b = typo(rng, a) if rng.random() < 0.6 else rng.choice(names)
        left.append(a)
        right.append(b)
    return pa.table({"left": left, "right": right})


def passthrough(batches):
    """Spark's own cost: the same batches to Python and a column of the same size back, nothing computed."""
    for b in batches:
        yield pa.RecordBatch.from_arrays([pa.nulls(b.num_rows, pa.float64()).fill_null(0.0)], names=["score"])


def carelake_map_in_arrow(batches):
    from carelake import _native

    for b in batches:
        yield pa.RecordBatch.from_arrays([_native.jaro_winkler(b.column(0), b.column(1))], names=["score"])


def rapidfuzz_loop(batches):
    from rapidfuzz.distance import JaroWinkler

    for b in batches:
        scores = [JaroWinkler.similarity(x, y) for x, y in zip(b.column(0).to_pylist(), b.column(1).to_pylist())]
        yield pa.RecordBatch.from_arrays([pa.array(scores, pa.float64())], names=["score"])


def rapidfuzz_cpdist(batches):
    from rapidfuzz.distance import JaroWinkler
    from rapidfuzz.process import cpdist

    for b in batches:
        scores = cpdist(b.column(0).to_pylist(), b.column(1).to_pylist(), scorer=JaroWinkler.similarity, workers=1)
        yield pa.RecordBatch.from_arrays([pa.array(scores, pa.float64())], names=["score"])


def timed(frame, fn) -> tuple[float, float]:
    best, total = float("inf"), 0.0
    for _ in range(3):
        started = time.perf_counter()
        total = frame.mapInArrow(fn, "score double").agg(F.sum("score")).collect()[0][0]
        best = min(best, time.perf_counter() - started)
    return best, total


def main() -> None:
    n = int(sys.argv[1])
    spark = carelake_spark.get_session("local[2]", shuffle_partitions=4)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "50000")
    frame = spark.createDataFrame(pairs_table(n)).repartition(4).cache()
    frame.count()
    overhead, _ = timed(frame, passthrough)
    ours, ours_sum = timed(frame, carelake_map_in_arrow)
    loop, loop_sum = timed(frame, rapidfuzz_loop)
    vectorized, vectorized_sum = timed(frame, rapidfuzz_cpdist)
    report(
        {
            "pairs": n,
            "overhead_seconds": overhead,
            "carelake_seconds": ours,
            "rapidfuzz_loop_seconds": loop,
            "rapidfuzz_cpdist_seconds": vectorized,
            # Same scores: the sums over every pair agree to rounding.
            "score_sum_difference": max(abs(ours_sum - loop_sum), abs(ours_sum - vectorized_sum)),
        }
    )
    spark.stop()


if __name__ == "__main__":
    main()
