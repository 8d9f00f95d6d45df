"""Benchmark child: carelake identity resolution on a synthetic lake, scored against its truth. Args: LAKE OUT."""

import sys
import time

import carelake
from _child import report

lake, out = sys.argv[1], sys.argv[2]
started = time.perf_counter()
result = carelake.identity(f"{lake}/person_records", out, as_of="2026-11-23")
seconds = time.perf_counter() - started
scores = carelake.evaluate_identity(out, f"{lake}/truth_person_records")
report(
    {
        "seconds": seconds,
        "records": result["records"],
        "members": result["members"],
        "candidate_pairs": result["candidate_pairs"],
        "pairwise_f1": scores["pairwise"]["f1"],
        "cluster_f1": scores["cluster"]["f1"],
    }
)
