"""One status line a second on stderr, so a person (or the suite's log) can see the simulator is alive.

On a terminal the line is rewritten in place; in a log file each second gets its own line.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from cxstream.simulator.events import SimulationStats, short_topic


class Progress:
    def __init__(self, stats: SimulationStats, stream: TextIO | None = None, interval_s: float = 1.0) -> None:
        self._stats = stats
        self._stream = stream or sys.stderr
        self._interval = interval_s
        self._tty = self._stream.isatty()
        self._last_t = time.monotonic()
        self._last_sent = 0
        self._printed = False

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last_t >= self._interval:
            self._print(now)

    def _print(self, now: float) -> None:
        s = self._stats
        sent = s.sent
        rate = (sent - self._last_sent) / max(now - self._last_t, 1e-9)
        self._last_t, self._last_sent = now, sent
        shares = "  ".join(f"{short_topic(name)} {t.sent / sent:.0%}" for name, t in sorted(s.topics.items())
                           if sent)
        line = (f"sent {sent:,} (good {s.good:,}, bad {s.bad:,}, dup {s.duplicates:,}) {rate:,.0f}/s  "
                f"acked {s.acked:,}  {shares}")
        if self._tty:
            self._stream.write("\r\x1b[K" + line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
        self._printed = True

    def close(self) -> None:
        if self._tty and self._printed:
            self._stream.write("\n")
            self._stream.flush()
