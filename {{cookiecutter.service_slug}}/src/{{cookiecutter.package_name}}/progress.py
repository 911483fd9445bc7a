"""Progress of a long run (many schemas, seeds): a bar on a terminal, log lines otherwise.

On a terminal the bar redraws one line on stderr. Elsewhere (CI, a container's
log) a line is logged every `interval` seconds and at the end, so a log
collector is not flooded with one line per item.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

BAR_WIDTH = 30

log = logging.getLogger(__name__)


class Progress:
    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        interval: float = 10.0,
    ) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._terminal = self._stream.isatty()
        self._interval = interval
        self._total = 0
        self._done = 0
        self._failed = 0
        self._last_report = time.monotonic()
        self._reported = -1

    def start(self, total: int) -> None:
        self._total = total
        self._draw()

    def advance(self, *, failed: bool = False) -> None:
        self._done += 1
        self._failed += int(failed)
        now = time.monotonic()
        if self._terminal:
            self._draw()
        elif now - self._last_report >= self._interval:
            self._last_report = now
            self._log()

    def finish(self) -> None:
        if self._terminal:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()
        elif self._total and self._reported != self._done:
            self._log()

    def _log(self) -> None:
        self._reported = self._done
        log.info("%s", self._summary())

    def _summary(self) -> str:
        failed = f", {self._failed} failed" if self._failed else ""
        return f"{self._label}: {self._done}/{self._total} done{failed}"

    def _draw(self) -> None:
        if not self._terminal:
            return
        filled = BAR_WIDTH * self._done // self._total if self._total else BAR_WIDTH
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self._stream.write(f"\r{self._label} [{bar}] {self._summary().split(': ', 1)[1]}")
        self._stream.flush()
