"""A customer's shopping session as a small state machine: browse → cart → checkout → purchase or abandon.

The whole journey is planned when it starts (its events lie in the future of the event-time clock and
wait in the engine's queue). What the journey leaves behind — a purchase, a reason to complain, an
item in a cart — is recorded in the World so later conversations and context events refer to it.
Friction (errors, rage-click bursts) rises during an outage of the journey's channel or of payments,
and friction lowers the chance to buy; that is the correlation the decision job is meant to find.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from cxstream.simulator import records
from cxstream.simulator.ids import Mint
from cxstream.simulator.records import Record
from cxstream.simulator.world import CHANNELS, Reason, World

_BROWSE = {  # channel → (event types, weights) a browsing step draws from
    "web": (("page_view", "search", "product_view", "click"), (0.33, 0.2, 0.37, 0.1)),
    "app": (("page_view", "search", "product_view", "click"), (0.3, 0.2, 0.4, 0.1)),
    "kiosk": (("page_view", "search", "product_view", "click"), (0.25, 0.35, 0.3, 0.1)),
    "store": (("product_view",), (1.0,)),
    "call": (("product_view", "search"), (0.7, 0.3)),
}
_GAP_MEDIAN_MS = {"web": 12_000, "app": 9_000, "kiosk": 15_000, "store": 45_000, "call": 30_000}
_P_ADD = {"new": 0.12, "regular": 0.18, "vip": 0.25}
_P_BUY = {"new": 0.5, "regular": 0.65, "vip": 0.8}
_SWITCH_TO = {  # likely channel switches: web↔app mostly, then to a call or a store
    "web": (("app", 0.6), ("call", 0.2), ("store", 0.2)),
    "app": (("web", 0.6), ("call", 0.25), ("store", 0.15)),
    "kiosk": (("app", 0.5), ("store", 0.5)),
    "store": (("app", 0.5), ("web", 0.3), ("call", 0.2)),
    "call": (("web", 0.5), ("app", 0.5)),
}
MAX_EVENTS = 60


@dataclass
class JourneyPlan:
    events: list[tuple[int, Record]] = field(default_factory=list)
    end: int = 0
    purchase: tuple[str, float, int] | None = None  # order id, amount, first item index
    abandoned_checkout: bool = False
    errors: int = 0
    rage_clicks: int = 0
    cart_items: list[int] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)


def _choose(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([t[0] for t in table], weights=[t[1] for t in table])[0]


def _gap(rng: random.Random, channel: str) -> int:
    return min(300_000, int(rng.lognormvariate(math.log(_GAP_MEDIAN_MS[channel]), 0.8)))


def message_channel_for(rng: random.Random, channel: str) -> str:
    """Where a customer coming from an interaction channel would talk to us."""
    if channel == "call":
        return "voice-transcript"
    r = rng.random()
    return "chat" if r < 0.75 else "email" if r < 0.9 else "social"


def plan_journey(rng: random.Random, world: World, mint: Mint, customer: int, t0: int) -> JourneyPlan:
    cust = world.customers[customer]
    plan = JourneyPlan()
    channel = cust.home_channel if rng.random() < 0.8 else _choose(rng, CHANNELS)
    session = mint.short("ses")
    t = t0
    base_friction = 0.03 if cust.segment == "new" else 0.015
    cart: list[int] = []
    last_item: int | None = None

    def emit(event_type: str, item: int | None = None, amount: float | None = None) -> None:
        rec = records.interaction(mint.uuid(), cust.id, session, channel, event_type,
                                  world.items[item].id if item is not None else None,
                                  round(amount, 2) if amount is not None else None,
                                  cust.currency if amount is not None else None, cust.segment)
        plan.events.append((t, rec))

    def friction() -> float:
        return base_friction + (0.25 if world.in_outage(channel, t) else 0.0)

    def trouble() -> None:
        """An error, often followed by a burst of rage clicks a moment later."""
        nonlocal t
        emit("error")
        plan.errors += 1
        if channel in ("web", "app", "kiosk") and rng.random() < 0.6:
            t += rng.randint(800, 3000)
            for _ in range(rng.randint(3, 8)):
                emit("rage_click")
                plan.rage_clicks += 1
                t += rng.randint(120, 500)

    state = "browse"
    while len(plan.events) < MAX_EVENTS:
        if plan.events and rng.random() < 0.04:  # the same customer carries on elsewhere: a new session
            channel = _choose(rng, _SWITCH_TO[channel])
            session = mint.short("ses")
        if state == "browse":
            types, weights = _BROWSE[channel]
            event_type = rng.choices(types, weights)[0]
            item = None
            if event_type == "product_view" or (event_type == "click" and rng.random() < 0.5):
                item = world.popular_item(rng)
                last_item = item if event_type == "product_view" else last_item
            emit(event_type, item)
            if rng.random() < friction():
                t += rng.randint(200, 2000)
                trouble()
            if last_item is not None and rng.random() < _P_ADD[cust.segment]:
                state = "add"
            elif rng.random() < (0.12 if cart else 0.09):
                break
        elif state == "add":
            assert last_item is not None
            emit("add_to_cart", last_item, world.items[last_item].price(cust.currency))
            cart.append(last_item)
            r = rng.random()
            if r < 0.07:
                t += _gap(rng, channel)
                removed = cart.pop(rng.randrange(len(cart)))
                emit("remove_from_cart", removed, world.items[removed].price(cust.currency))
                state = "browse" if not cart or rng.random() < 0.5 else "checkout"
            elif r < 0.40:
                state = "browse"
            elif r < 0.88:
                state = "checkout"
            else:
                break  # left with a full cart, before checkout
        else:  # checkout
            total = sum(world.items[i].price(cust.currency) for i in cart)
            emit("checkout_start", None, total)
            p_error = friction() * 4 + (0.5 if world.in_outage("payments", t) else 0.0)
            for _ in range(3):
                if rng.random() >= p_error:
                    break
                t += rng.randint(2000, 15_000)
                trouble()
            p_buy = _P_BUY[cust.segment] * (0.4 if plan.errors else 1.0)
            t += rng.randint(15_000, 120_000)
            if rng.random() < p_buy:
                order = mint.order()
                emit("purchase", None, total)
                plan.purchase = (order, round(total, 2), cart[0])
            else:
                plan.abandoned_checkout = True
            break
        t += _gap(rng, channel)
    plan.end = plan.events[-1][0] if plan.events else t0
    plan.cart_items = cart
    _leave_reasons(rng, world, customer, channel, plan)
    return plan


def _leave_reasons(rng: random.Random, world: World, customer: int, channel: str, plan: JourneyPlan) -> None:
    """What this journey makes the customer want to talk about, and when."""
    item = world.items[plan.cart_items[0]].name if plan.cart_items else None
    slots = {"item": item} if item else {}
    msg_channel = message_channel_for(rng, channel)

    def reason(after_ms: tuple[int, int], intent: str, mood: str,
               extra: dict[str, str] | None = None) -> None:
        at = plan.end + rng.randint(*after_ms)
        plan.reasons.append(Reason(at, customer, intent, mood, msg_channel, {**slots, **(extra or {})}))

    if plan.errors and (plan.abandoned_checkout or plan.purchase is None):
        if rng.random() < 0.6:
            reason((60_000, 600_000), "checkout_problem", "angry" if plan.rage_clicks else "negative")
    elif plan.abandoned_checkout and rng.random() < 0.1:
        reason((60_000, 900_000), rng.choice(("payment", "product_question")), "neutral")
    elif plan.purchase:
        order, amount, _ = plan.purchase
        facts = {"order": order, "amount": f"{amount:.2f} {world.customers[customer].currency}"}
        r = rng.random()
        if r < 0.06:
            reason((300_000, 1_800_000), "praise", rng.choice(("thankful", "positive")), facts)
        elif r < 0.14:
            mood = rng.choice(("neutral", "neutral", "positive"))
            reason((1_800_000, 7_200_000), "order_status", mood, facts)
    elif plan.errors and rng.random() < 0.2:
        reason((30_000, 300_000), "product_question", "negative")
