"""Benchmark child: carelake identity resolution on a synthetic lake, scored against its truth. Args: LAKE OUT.

Reports seconds, the peak resident memory of the run (before it is scored against the truth) and of each phase
(``phase_seconds`` of the report, sampled every 50 ms).
"""

import sys
import time

import carelake
from _child import MemorySampler, peak_rss_gib, report

lake, out = sys.argv[1], sys.argv[2]
memory = MemorySampler()
started = time.perf_counter()
result = carelake.identity(f"{lake}/person_records", out, as_of="2026-11-23")
seconds = time.perf_counter() - started
# The peak of the run itself; scoring against the truth below holds maps of its own.
run_peak = peak_rss_gib()
phases = result.get("phase_seconds", [])
peaks = memory.peaks(phases)
scores = carelake.evaluate_identity(out, f"{lake}/truth_person_records")
report(
    {
        "seconds": seconds,
        "records": result["records"],
        "members": result["members"],
        "candidate_pairs": result["candidate_pairs"],
        "pairwise_f1": scores["pairwise"]["f1"],
        "cluster_f1": scores["cluster"]["f1"],
        "phase_seconds": {name: round(s, 2) for name, s in phases},
        "phase_peak_rss_gib": peaks,
        "run_peak_rss_gib": run_peak,
    }
)
