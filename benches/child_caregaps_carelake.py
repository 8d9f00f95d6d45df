"""Benchmark child: carelake care gaps on a resolved synthetic lake. Args: LAKE OUT [MEASURE ...].

With no measures named, all eight run; naming COL-E and CBP runs the same logic as the DuckDB anchor's SQL.
"""

import sys
import time

import carelake
from _child import report

lake, out = sys.argv[1], sys.argv[2]
measures = sys.argv[3:] or None
started = time.perf_counter()
result = carelake.caregaps(lake, out, value_sets="sample", as_of="2026-11-23", measures=measures)
seconds = time.perf_counter() - started
agreement = carelake.evaluate_caregaps(out, lake)
compared = sum(a["compared"] for a in agreement.values())
agreed = sum(a["agreed"] for a in agreement.values())
report(
    {
        "seconds": seconds,
        "members": result["members"],
        "events_read": result["events_read"],
        "events_matched": result["events_matched"],
        "rows": result["rows"],
        "phase_seconds": dict(result["phase_seconds"]),
        "rates": {f"{r['measure']}.{r['rate']}": r for r in result["rates"]},
        "agreement": agreed / compared if compared else None,
        "compared": compared,
    }
)
