"""Operational context: flight delays, late orders, low stock, price changes, outages.

Each event both is emitted and acts on the World: an outage raises friction for journeys on that channel
(or at every checkout, for payments), a price change moves the item's price, a flight delay or a late
order gives affected customers a reason to get in touch. Severity follows the size of the problem.
"""

from __future__ import annotations

import random

from cxstream.codec import iso_millis
from cxstream.simulator import records
from cxstream.simulator.ids import Mint
from cxstream.simulator.records import Record
from cxstream.simulator.world import ROUTES, Reason, World

CONTEXT_TYPES = (("flight_delay", 0.25), ("order_delayed", 0.25), ("stock_low", 0.2), ("price_change", 0.2),
                 ("outage", 0.1))
_OUTAGE_TARGETS = (("web", 0.3), ("app", 0.3), ("payments", 0.25), ("kiosk", 0.15))
_CARRIERS = ("DHL", "UPS", "DPD", "FedEx", "GLS")
_WAREHOUSES = ("AMS-1", "FRA-2", "MAD-1", "DUB-1")


def flight_severity(delay_minutes: int) -> str:
    if delay_minutes >= 180:
        return "critical"
    if delay_minutes >= 90:
        return "high"
    return "medium" if delay_minutes >= 30 else "low"


def flight_attributes(route: int | tuple[str, str, str, str], delay_minutes: int, t: int,
                      departs_in_ms: int) -> dict[str, str]:
    """A delayed flight's attributes; `route` is an index into ROUTES or a (code, flight, origin,
    destination) tuple of its own (a scenario's private route)."""
    code, flight, origin, destination = ROUTES[route] if isinstance(route, int) else route
    scheduled = t + departs_in_ms
    return {"flight": flight, "route": code, "origin": origin, "destination": destination,
            "delay_minutes": str(delay_minutes), "scheduled_departure": iso_millis(scheduled),
            "new_departure": iso_millis(scheduled + delay_minutes * 60_000)}


def _choose(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([t[0] for t in table], weights=[t[1] for t in table])[0]


def plan_context(rng: random.Random, world: World, mint: Mint, t: int) -> Record:
    kind = _choose(rng, CONTEXT_TYPES)
    if kind == "flight_delay":
        return _flight_delay(rng, world, mint, t)
    if kind == "order_delayed":
        return _order_delayed(rng, world, mint, t)
    if kind == "stock_low":
        return _stock_low(rng, world, mint)
    if kind == "price_change":
        return _price_change(rng, world, mint)
    return _outage(rng, world, mint, t)


def _flight_delay(rng: random.Random, world: World, mint: Mint, t: int) -> Record:
    delay = max(15, min(480, int(rng.lognormvariate(4.2, 0.7))))  # median ~67 min
    severity = flight_severity(delay)
    # Delays are drawn among routes someone has booked (as the events show it), so that they matter.
    routes = world.booked_routes(t)
    if routes and rng.random() < 0.5:  # one booking: about a customer
        route = rng.choice(routes)
        idx = rng.choice(world.booked_on(route, t))
        cust = world.customers[idx]
        attrs = flight_attributes(route, delay, t, rng.randint(1, 12) * 3_600_000)
        attrs.update(booking_ref=cust.booking_ref or "", customer_segment=cust.segment, value_tier=cust.tier)
        _flight_reason(rng, world, idx, t, attrs, delay, p=0.5)
        return records.context(mint.short("ctx"), "flight_delay", severity, attrs, customer_id=cust.id)
    # About the route (subject_key = its key): the decisions job fans it out to every customer whose
    # booking purchase of that route it has seen (sql/decisions_inputs.sql).
    route = rng.choice(routes) if routes else rng.randrange(len(ROUTES))
    attrs = flight_attributes(route, delay, t, rng.randint(1, 12) * 3_600_000)
    for idx in world.booked_on(route, t)[: rng.randint(0, 3)]:
        _flight_reason(rng, world, idx, t, attrs, delay, p=0.6)
    return records.context(mint.short("ctx"), "flight_delay", severity, attrs, subject_key=ROUTES[route][0])


def _flight_reason(rng: random.Random, world: World, idx: int, t: int, attrs: dict[str, str], delay: int,
                   p: float) -> None:
    if rng.random() >= p:
        return
    vip = world.customers[idx].segment == "vip"
    if delay >= 120 and (vip or rng.random() < 0.3):
        mood = "angry"
    else:
        mood = "negative" if delay >= 45 else "neutral"
    hours = delay / 60
    slots = {"flight": attrs["flight"], "route": f"{attrs['origin']} to {attrs['destination']}",
             "delay": f"{hours:.0f} hours" if delay >= 120 else f"{delay} minutes"}
    channel = rng.choice(("chat", "chat", "voice-transcript", "social"))
    at = t + rng.randint(120_000, 1_200_000)
    world.add_reason(Reason(at, idx, "flight_delay", mood, channel, slots))


def _order_delayed(rng: random.Random, world: World, mint: Mint, t: int) -> Record:
    purchase = None
    for _ in range(4):
        if not world.recent_purchases:
            break
        candidate = world.recent_purchases[rng.randrange(len(world.recent_purchases))]
        if candidate[0] <= t:
            purchase = candidate
            break
    if purchase:
        _, idx, order, item = purchase
    else:
        idx, order, item = rng.randrange(len(world.customers)), mint.order(), world.popular_item(rng)
    days = min(14, 1 + int(rng.expovariate(0.4)))
    severity = "low" if days <= 1 else "medium" if days <= 3 else "high" if days <= 6 else "critical"
    carrier = rng.choice(_CARRIERS)
    attrs = {"order_id": order, "days_late": str(days), "carrier": carrier, "item_id": world.items[item].id,
             "reason": rng.choice(("carrier backlog", "weather", "customs hold", "warehouse capacity",
                                   "address issue"))}
    if rng.random() < 0.4:
        mood = "angry" if days >= 5 else "negative"
        slots = {"order": order, "carrier": carrier, "item": world.items[item].name,
                 "days": f"{days} days" if days > 1 else "a day"}
        channel = rng.choice(("email", "chat", "chat", "social"))
        at = t + rng.randint(600_000, 3_600_000)
        world.add_reason(Reason(at, idx, "delivery_delay", mood, channel, slots))
    return records.context(mint.short("ctx"), "order_delayed", severity, attrs,
                           customer_id=world.customers[idx].id)


def _stock_low(rng: random.Random, world: World, mint: Mint) -> Record:
    if world.recent_cart_items and rng.random() < 0.7:
        item = world.recent_cart_items[rng.randrange(len(world.recent_cart_items))]
    else:
        item = world.popular_item(rng)
    units = rng.randint(0, 12)
    severity = "high" if units <= 2 else "medium" if units <= 5 else "low"
    attrs = {"item_id": world.items[item].id, "units_left": str(units), "warehouse": rng.choice(_WAREHOUSES)}
    return records.context(mint.short("ctx"), "stock_low", severity, attrs, subject_key=world.items[item].id)


def _price_change(rng: random.Random, world: World, mint: Mint) -> Record:
    it = world.items[world.popular_item(rng)]
    pct = rng.choice((-30, -25, -20, -15, -10, -5, 5, 8, 10, 15))
    old = it.base_price
    it.base_price = round(old * (1 + pct / 100), 2)
    severity = "high" if abs(pct) >= 20 else "medium" if abs(pct) >= 10 else "low"
    attrs = {"item_id": it.id, "old_price": f"{old:.2f}", "new_price": f"{it.base_price:.2f}",
             "currency": "EUR", "change_pct": str(pct)}
    return records.context(mint.short("ctx"), "price_change", severity, attrs, subject_key=it.id)


def _outage(rng: random.Random, world: World, mint: Mint, t: int) -> Record:
    target = _choose(rng, _OUTAGE_TARGETS)
    status = "down" if rng.random() < 0.4 else "degraded"
    minutes = rng.randint(5, 30)
    world.outage_until[target] = max(world.outage_until.get(target, 0), t + minutes * 60_000)
    if status == "degraded":
        severity = "medium"
    else:
        severity = "critical" if target in ("web", "app", "payments") else "high"
    attrs = {"service": target, "status": status, "expected_minutes": str(minutes),
             "region": rng.choice(("eu-west", "eu-central", "us-east"))}
    return records.context(mint.short("ctx"), "outage", severity, attrs, subject_key=target)
