"""Flight bookings as events: a short web or app session that ends in a purchase of the route.

A customer with a trip in mind (World: `route`) books it in one of their journeys. What a consumer
sees is the convention the decisions job's context fan-out relies on (schemas/interaction.avsc,
sql/decisions_inputs.sql, README "The decisions job"): **a flight booking is a `purchase` whose
`item_id` is the route key**, ORIGIN-DESTINATION in IATA codes (`LHR-JFK`), the same key a
route-keyed `flight_delay` carries as its `subject_key`. A real airline's web shop can send exactly
this (the product bought is the route; the fare is the amount), so the job needs no side channel and
no customer directory to know who is booked where. The booking is recorded in the World at the
purchase's event time, so route delays planned later reach the customers the events show as booked.
"""

from __future__ import annotations

import random

from cxstream.simulator import records
from cxstream.simulator.ids import Mint
from cxstream.simulator.journeys import JourneyPlan
from cxstream.simulator.world import CURRENCIES, ROUTES, World

# Share of a would-be traveller's journeys that are the booking (the others are ordinary shopping).
P_BOOK = 0.3
_SHORT_HAUL = frozenset({"ARN-LHR"})
_STEPS = (  # event type, carries the route as item_id, carries the fare, median pause after it (ms)
    ("page_view", False, False, 8_000),
    ("search", False, False, 20_000),
    ("product_view", True, False, 45_000),
    ("checkout_start", False, True, 60_000),
    ("purchase", True, True, 0),
)


def fare(rng: random.Random, route_code: str, currency: str) -> float:
    """A plausible economy fare in the customer's currency (EUR base: ~160 short-haul, ~480 long-haul)."""
    base = (160.0 if route_code in _SHORT_HAUL else 480.0) * rng.uniform(0.7, 1.6)
    rate = next(r for code, _, r in CURRENCIES if code == currency)
    return round(base * rate, 2)


def plan_booking(rng: random.Random, world: World, mint: Mint, customer: int, t0: int) -> JourneyPlan:
    """The booking session of a customer with a trip in mind; records the booking in the World."""
    cust = world.customers[customer]
    assert cust.route is not None
    code = ROUTES[cust.route][0]
    channel = cust.home_channel if cust.home_channel in ("web", "app") else rng.choice(("web", "app"))
    session = mint.short("ses")
    price = fare(rng, code, cust.currency)
    plan = JourneyPlan()
    t = t0
    for event_type, with_route, with_fare, pause_ms in _STEPS:
        rec = records.interaction(mint.uuid(), cust.id, session, channel, event_type, code if with_route else None,
                                  price if with_fare else None, cust.currency if with_fare else None, cust.segment)
        plan.events.append((t, rec))
        t += int(pause_ms * rng.uniform(0.5, 1.5))
    plan.end = plan.events[-1][0]
    world.book(customer, plan.end)
    return plan
