"""Identifiers drawn from a seeded generator, so a run's ids are reproducible and still look like real ones.

Event and message ids are UUID-shaped (128 random bits: a collision would fake an at-least-once
duplicate, which the simulator counts separately); session, conversation and other ids are shorter.
"""

from __future__ import annotations

import random


class Mint:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def uuid(self) -> str:
        """A version-4 UUID string (formatted by hand: uuid.UUID costs three times as much)."""
        h = f"{self._rng.getrandbits(128):032x}"
        variant = "89ab"[int(h[16], 16) & 3]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"

    def short(self, prefix: str) -> str:
        return f"{prefix}-{self._rng.getrandbits(64):016x}"

    def order(self) -> str:
        return f"#{self._rng.choice('ABCDEFGH')}{self._rng.randrange(100000, 999999)}"
