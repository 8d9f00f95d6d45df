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


class MemorySampler:
    """Samples this process's resident memory (VmRSS) every 50 ms on a thread, to find the phase a peak falls in.

    ``peaks(phases)`` maps each ``(name, seconds)`` of a report's ``phase_seconds`` (laid end to end from when
    sampling started) to the largest RSS seen during it, in GiB.
    """

    def __init__(self) -> None:
        import threading
        import time

        self._time = time
        self._samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss_gib(self) -> float:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**20
        return float("nan")

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._samples.append((self._time.perf_counter() - self._started, self._rss_gib()))

    def peaks(self, phases: list) -> dict:
        self._stop.set()
        self._thread.join()
        out, start = {}, 0.0
        for name, seconds in phases:
            inside = [rss for t, rss in self._samples if start <= t <= start + seconds]
            out[name] = round(max(inside), 2) if inside else None
            start += seconds
        return out
