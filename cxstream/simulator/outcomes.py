"""Synthetic outcomes of next-best-action triggers.

Until outcomes react to the decision job's real triggers, they are a plausible background stream:
trigger ids shaped like the real ones ('trg-…'), customers who were active lately, and the rough
shape of a campaign funnel (most actions are ignored or dismissed, few convert).
"""

from __future__ import annotations

import random

from cxstream.simulator import records
from cxstream.simulator.ids import Mint
from cxstream.simulator.records import Record
from cxstream.simulator.world import World

OUTCOMES = (("ignored", 0.38), ("dismissed", 0.27), ("accepted", 0.25), ("converted", 0.10))


def plan_outcome(rng: random.Random, world: World, mint: Mint, t: int) -> Record:
    idx = world.recent_customer(rng, t)
    outcome = rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]
    return records.outcome(mint.short("trg"), world.customers[idx].id, outcome)
