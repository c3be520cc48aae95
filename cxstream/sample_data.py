"""Plain, uniformly spaced interactions for benchmarks and connector tests.

The simulator (cxstream.simulator) models customers and journeys; this is deliberately simpler: a
fixed event-time step and independent random fields, so a benchmark's load and a connector test's
expectations do not depend on journey logic. Every record is valid under the interaction contract
and carries nulls and doubles where the contract allows them.
"""

from __future__ import annotations

import random

from cxstream.contracts import load

_CONTRACT = load("interaction")
CHANNELS = list(_CONTRACT.field("channel").allowed or ())
EVENT_TYPES = list(_CONTRACT.field("event_type").allowed or ())
_ITEM_EVENTS = {"product_view", "add_to_cart", "remove_from_cart", "purchase"}


def interactions(n: int, t0_ms: int, step_ms: float = 150, seed: int = 7, customers: int = 50) -> list[dict]:
    """n interactions with event times t0_ms, t0_ms + step_ms, …"""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        etype = rnd.choice(EVENT_TYPES)
        has_item = etype in _ITEM_EVENTS
        out.append({
            "event_id": f"e{i}",
            "customer_id": f"c{rnd.randrange(customers)}",
            "session_id": f"s{rnd.randrange(9)}",
            "channel": rnd.choice(CHANNELS),
            "event_type": etype,
            "item_id": f"i{rnd.randrange(30)}" if has_item else None,
            "amount": round(rnd.uniform(1, 500), 2) if has_item else None,
            "currency": "EUR" if has_item else None,
            "event_time": t0_ms + int(i * step_ms),
        })
    return out
