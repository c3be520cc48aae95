"""Event-time disorder: bounded out-of-orderness and a share of late events.

The Kafka timestamp stays the moment of sending; only `event_time` moves back. Jitter exercises the
watermark's bounded-out-of-orderness; lateness beyond it exercises late-data handling. Both are capped
by the configuration at the clock skew validation.py allows, so a disordered record is still a good one.
A separate random stream drives this, so turning disorder on does not change what is generated.
"""

from __future__ import annotations

import random


class Disorder:
    def __init__(self, rng: random.Random, out_of_order_ms: int, late_share: float, lateness_ms: int) -> None:
        self._rng = rng
        self._jitter = out_of_order_ms
        self._late_share = late_share
        self._lateness = lateness_ms

    @property
    def active(self) -> bool:
        return bool(self._jitter or (self._late_share and self._lateness))

    def event_time(self, kafka_timestamp_ms: int) -> tuple[int, bool]:
        """(event time, is_late) for an event sent at kafka_timestamp_ms."""
        if self._late_share and self._rng.random() < self._late_share:
            return kafka_timestamp_ms - self._lateness, True
        if self._jitter:
            return kafka_timestamp_ms - self._rng.randint(0, self._jitter), False
        return kafka_timestamp_ms, False
