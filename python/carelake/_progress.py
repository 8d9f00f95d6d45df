"""Progress and log output of the command line.

On a terminal, long stages draw a progress bar on stderr. Elsewhere (CI, Databricks job logs) they write plain
structured log lines, ``key=value`` pairs, at most every few seconds. Neither ever prints patient data.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import datetime, timezone

LOGGER = logging.getLogger("carelake")


class StructuredFormatter(logging.Formatter):
    """``2026-11-23T01:02:03Z level=info event=generate.start members=10000``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        fields = getattr(record, "fields", {})
        extra = "".join(f" {k}={_quote(v)}" for k, v in fields.items())
        return f"{stamp} level={record.levelname.lower()} event={record.getMessage()}{extra}"


_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _quote(value: object) -> str:
    """A logfmt value: quoted when it has spaces, quotes, ``=`` or line breaks, which are escaped, so a message of
    several lines (a config error naming every problem) stays one log line."""
    text = str(value)
    if text and not any(c in text for c in ' "=\\\n\r\t'):
        return text
    return f'"{text.translate(_ESCAPES)}"'


def setup_logging(verbose: bool = False) -> None:
    """Send carelake's log lines to stderr in the structured format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(logging.DEBUG if verbose else logging.INFO)
    LOGGER.propagate = False


def log(event: str, **fields: object) -> None:
    """Log one structured event (at level info)."""
    LOGGER.info(event, extra={"fields": fields})


def log_error(event: str, **fields: object) -> None:
    """Log one structured event at level error."""
    LOGGER.error(event, extra={"fields": fields})


class ProgressReporter:
    """Callable handed to the Rust core: ``reporter(event, task, units)``."""

    def __init__(self, unit: str = "rows", stream=None, interactive: bool | None = None) -> None:
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.task = ""
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self.last_draw = 0.0

    def __call__(self, event: str, task: str, units: int) -> None:
        now = time.monotonic()
        if event == "start":
            self.task, self.total, self.done, self.started, self.last_draw = task, units, 0, now, 0.0
            if not self.interactive:
                log(f"{task}.start", total=units, unit=self.unit)
        elif event == "advance":
            self.done += units
            if self.interactive and now - self.last_draw >= 0.1:
                self._draw(now)
                self.last_draw = now
            elif not self.interactive and now - self.last_draw >= 5.0:
                log(f"{self.task}.progress", done=self.done, total=self.total, unit=self.unit)
                self.last_draw = now
        elif event == "finish":
            seconds = round(now - self.started, 2)
            if self.interactive:
                self._draw(now)
                self.stream.write("\n")
                self.stream.flush()
            else:
                log(f"{self.task}.finish", done=self.done, seconds=seconds)

    def _draw(self, now: float) -> None:
        elapsed = now - self.started
        if self.total:
            share = min(self.done / self.total, 1.0)
            filled = int(share * 30)
            bar = "#" * filled + "-" * (30 - filled)
            line = f"\r{self.task:<10} [{bar}] {share:6.1%} {self.done:>12,}/{self.total:,} {self.unit} {elapsed:6.1f}s"
        else:
            line = f"\r{self.task:<10} {self.done:>12,} {self.unit} {elapsed:6.1f}s"
        self.stream.write(line)
        self.stream.flush()
