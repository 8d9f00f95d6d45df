"""Benchmark child: generate a synthetic lake. Args: OUT MEMBERS."""

import sys

import carelake
from _child import report

out, members = sys.argv[1], int(sys.argv[2])
summary = carelake.generate(out, members, seed=1, as_of="2026-11-23")
report({"rows": {t["table"]: t["rows"] for t in summary["tables"]}, "seconds": summary["seconds"]})
