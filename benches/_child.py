"""Helpers for benchmark child processes: each reports its result and its own peak memory as a JSON line."""

from __future__ import annotations

import json


def peak_rss_gib() -> float:
    """This process's peak resident set size (VmHWM) in GiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def report(result: dict) -> None:
    """Print the result with the peak RSS as the last stdout line."""
    print(json.dumps({**result, "peak_rss_gib": peak_rss_gib()}))
