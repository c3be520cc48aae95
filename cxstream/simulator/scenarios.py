"""Scripted customer stories with known customer ids, for end-to-end tests of the decision job.

Each scenario is a function that yields its events in order, each at an offset from the scenario's start
(event time). The engine mixes them into the background traffic untouched: no jitter, no lateness, no
duplicates, so a test can state exactly what the decision job received. SimulatorConfig's
scenario_time_scale (`cxstream simulate --scenario-time-scale`) multiplies every offset: a live test
need not sit through a story's minutes of wall-clock pauses. Customer ids are
'cust-scn-<slug>-<instance>' (instance 1, 2, … when a scenario is repeated) and never collide with the
background population ('cust-000123').
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cxstream.simulator import corpus, records
from cxstream.simulator.context_events import flight_attributes, flight_severity
from cxstream.simulator.ids import Mint
from cxstream.simulator.records import Record
from cxstream.simulator.world import ROUTES, Item, World

SECOND = 1000
MINUTE = 60 * SECOND


@dataclass(frozen=True)
class Step:
    at_ms: int  # offset from the scenario's start
    contract: str
    record: Record


class ScenarioKit:
    """What a scenario script needs: its customer id, a seeded rng, the catalogue and record helpers."""

    def __init__(self, slug: str, instance: int, start_ms: int, rng: random.Random, world: World,
                 mint: Mint, time_scale: float = 1.0) -> None:
        self.slug = slug
        self.start_ms = start_ms  # event time of offset 0
        self.time_scale = time_scale  # the engine multiplies every step's offset by it
        self.instance = instance
        self.rng = rng
        self.world = world
        self.mint = mint
        self.customer_id = scenario_customer_id(slug, instance)
        self.currency = "EUR"
        self.segment = "regular"  # a scenario about another segment sets this before its first event

    def at(self, offset_ms: int) -> int:
        """Event time of a step at offset_ms, for absolute times inside a record's attributes: the
        engine sends the step at start + offset x time_scale, and the attributes must agree."""
        return self.start_ms + round(offset_ms * self.time_scale)

    def session(self) -> str:
        return self.mint.short("ses")

    def item(self, category: str | None = None) -> Item:
        pool = [it for it in self.world.items if category is None or it.category == category]
        return self.rng.choice(pool)

    def interaction(self, at_ms: int, session: str, channel: str, event_type: str, item: Item | None = None,
                    amount: float | None = None, item_id: str | None = None) -> Step:
        """An interaction; `item_id` names something outside the catalogue (a booked route's key)."""
        rec = records.interaction(self.mint.uuid(), self.customer_id, session, channel, event_type,
                                  item.id if item else item_id, round(amount, 2) if amount is not None else None,
                                  self.currency if amount is not None else None, self.segment)
        return Step(at_ms, "interaction", rec)

    def conversation(self, at_ms: int, channel: str, intent: str, script: list[tuple[str, str, int]],
                     slots: dict[str, str]) -> list[Step]:
        """Turns from a script of (sender, mood-or-stage, pause before the turn in ms).

        A customer entry names a mood (the first is an opening line, later ones follow-ups); a bot or
        agent entry names a stage ('greet', 'info', 'escalate', 'apologise', 'resolve', 'close').
        """
        conv = self.mint.short("conv")
        human = self.rng.choice(self.world.agents)
        bot = self.rng.choice(self.world.bots)
        slots = {"name": human.name, **slots}
        handler = None
        t = at_ms
        steps: list[Step] = []
        for i, (sender, what, pause) in enumerate(script):
            t += pause
            if sender == "customer":
                text = (corpus.customer_opening(self.rng, intent, what, slots) if i == 0
                        else corpus.customer_followup(self.rng, what, slots))
            elif sender == "bot":
                handler = bot
                text = corpus.bot_line(self.rng, what, intent, slots)
            else:
                handler = human
                text = corpus.agent_line(self.rng, what, intent, slots)
            rec = records.message(self.mint.uuid(), conv, self.customer_id, handler.id if handler else None,
                                  channel, sender, text)
            steps.append(Step(t, "message", rec))
        return steps


def scenario_customer_id(slug: str, instance: int) -> str:
    return f"cust-scn-{slug}-{instance:03d}"


def cart_abandon_negative_chat(kit: ScenarioKit) -> Iterator[Step]:
    """Two items in the cart, checkout started, then silence; three minutes later an unhappy chat."""
    s, ch = kit.session(), "web"
    a, b = kit.item("electronics"), kit.item("home")
    pa, pb = a.price(kit.currency), b.price(kit.currency)
    yield kit.interaction(0, s, ch, "page_view")
    yield kit.interaction(8 * SECOND, s, ch, "search")
    yield kit.interaction(20 * SECOND, s, ch, "product_view", a)
    yield kit.interaction(35 * SECOND, s, ch, "add_to_cart", a, pa)
    yield kit.interaction(50 * SECOND, s, ch, "product_view", b)
    yield kit.interaction(62 * SECOND, s, ch, "add_to_cart", b, pb)
    yield kit.interaction(80 * SECOND, s, ch, "checkout_start", None, pa + pb)
    yield from kit.conversation(80 * SECOND + 3 * MINUTE, "chat", "checkout_problem", [
        ("customer", "negative", 0), ("bot", "greet", 2 * SECOND), ("customer", "negative", 25 * SECOND),
        ("bot", "escalate", 2 * SECOND), ("customer", "angry", 20 * SECOND),
        ("agent", "apologise", 30 * SECOND),
    ], {"item": a.name})


def flight_delay_vip(kit: ScenarioKit) -> Iterator[Step]:
    """A VIP, high-value traveller on BA117 London–New York is told the flight is 3 hours late."""
    kit.segment = "vip"
    s, ch = kit.session(), "app"
    lounge = kit.item("travel")
    route = next(i for i, r in enumerate(ROUTES) if r[0] == "LHR-JFK")
    yield kit.interaction(0, s, ch, "page_view")
    yield kit.interaction(15 * SECOND, s, ch, "product_view", lounge)
    yield kit.interaction(30 * SECOND, s, ch, "click", lounge)
    attrs = flight_attributes(route, 180, kit.at(60 * SECOND), 4 * 3_600_000)
    attrs.update(booking_ref=f"SCN{kit.instance:03d}", customer_segment="vip", value_tier="high")
    ctx = records.context(kit.mint.short("ctx"), "flight_delay", "critical", attrs,
                          customer_id=kit.customer_id)
    yield Step(60 * SECOND, "context", ctx)
    s2 = kit.session()
    yield kit.interaction(60 * SECOND + 5 * MINUTE, s2, ch, "page_view")
    yield kit.interaction(60 * SECOND + 5 * MINUTE + 10 * SECOND, s2, ch, "search")
    yield from kit.conversation(60 * SECOND + 6 * MINUTE, "chat", "flight_delay", [
        ("customer", "negative", 0), ("bot", "info", 3 * SECOND), ("customer", "negative", 40 * SECOND),
    ], {"flight": ROUTES[route][1], "route": f"{ROUTES[route][2]} to {ROUTES[route][3]}", "delay": "3 hours"})


# A route of the scenario's own, which no background customer books and no background delay picks, so
# that this story is not mixed with the background's route delays (the end-to-end test checks those
# against its oracle separately). Repeated instances share it: a later instance's delay reaches the
# earlier instances' customers too, as their bookings are still in force.
SCENARIO_ROUTE = ("LCY-EDI", "BA8701", "London City", "Edinburgh")


def route_delay_booked(kit: ScenarioKit) -> Iterator[Step]:
    """Books London City–Edinburgh in the app; four minutes later the route (no customer named) is 2.5 h late."""
    s, ch = kit.session(), "app"
    code = SCENARIO_ROUTE[0]
    fare = 189.0
    yield kit.interaction(0, s, ch, "page_view")
    yield kit.interaction(10 * SECOND, s, ch, "search")
    yield kit.interaction(25 * SECOND, s, ch, "product_view", item_id=code)
    yield kit.interaction(50 * SECOND, s, ch, "checkout_start", None, fare)
    # The booking: a purchase whose item_id is the route key (the membership convention of the
    # decisions job's context fan-out, schemas/interaction.avsc).
    yield kit.interaction(80 * SECOND, s, ch, "purchase", None, fare, item_id=code)
    attrs = flight_attributes(SCENARIO_ROUTE, 150, kit.at(4 * MINUTE), 3 * 3_600_000)
    ctx = records.context(kit.mint.short("ctx"), "flight_delay", flight_severity(150), attrs, subject_key=code)
    yield Step(4 * MINUTE, "context", ctx)


def checkout_rage_clicks(kit: ScenarioKit) -> Iterator[Step]:
    """Checkout fails three times; each failure is followed by a burst of rage clicks. No purchase."""
    s, ch = kit.session(), "web"
    item = kit.item()
    price = item.price(kit.currency)
    yield kit.interaction(0, s, ch, "page_view")
    yield kit.interaction(10 * SECOND, s, ch, "product_view", item)
    yield kit.interaction(20 * SECOND, s, ch, "add_to_cart", item, price)
    yield kit.interaction(40 * SECOND, s, ch, "checkout_start", None, price)
    t = 55 * SECOND
    for clicks in (6, 5, 0):
        yield kit.interaction(t, s, ch, "error")
        for k in range(clicks):
            yield kit.interaction(t + 2 * SECOND + k * 300, s, ch, "rage_click")
        t += 10 * SECOND


def happy_customer(kit: ScenarioKit) -> Iterator[Step]:
    """Browses, buys, says thanks: the control case that should trigger nothing."""
    s, ch = kit.session(), "app"
    item = kit.item("fashion")
    price = item.price(kit.currency)
    yield kit.interaction(0, s, ch, "page_view")
    yield kit.interaction(10 * SECOND, s, ch, "search")
    yield kit.interaction(25 * SECOND, s, ch, "product_view", item)
    yield kit.interaction(40 * SECOND, s, ch, "add_to_cart", item, price)
    yield kit.interaction(60 * SECOND, s, ch, "checkout_start", None, price)
    yield kit.interaction(90 * SECOND, s, ch, "purchase", None, price)
    yield from kit.conversation(90 * SECOND + 10 * MINUTE, "chat", "praise", [
        ("customer", "thankful", 0), ("bot", "info", 2 * SECOND), ("customer", "thankful", 30 * SECOND),
    ], {"item": item.name})


ScenarioFn = Callable[[ScenarioKit], Iterator[Step]]
SCENARIOS: dict[str, tuple[str, ScenarioFn]] = {  # name → (customer id slug, script)
    "cart_abandon_negative_chat": ("cart-abandon", cart_abandon_negative_chat),
    "flight_delay_vip": ("flight-vip", flight_delay_vip),
    "checkout_rage_clicks": ("rage", checkout_rage_clicks),
    "happy_customer": ("happy", happy_customer),
    "route_delay_booked": ("route-booked", route_delay_booked),
}


def describe() -> list[tuple[str, str]]:
    return [(name, (fn.__doc__ or "").strip().splitlines()[0]) for name, (_, fn) in SCENARIOS.items()]
