"""Benchmark child: generate a synthetic lake. Args: OUT MEMBERS [VISIT_SCALE]."""

import sys

import carelake
from _child import report

out, members = sys.argv[1], int(sys.argv[2])
visit_scale = int(sys.argv[3]) if len(sys.argv) > 3 else 1
summary = carelake.generate(out, members, seed=1, as_of="2026-11-23", visit_scale=visit_scale)
report({"rows": {t["table"]: t["rows"] for t in summary["tables"]}, "seconds": summary["seconds"]})
