"""The simulated population and catalogue, plus the little shared state that couples the event streams.

Coupling is what makes the traffic useful for the decision job: an outage on a channel raises the error
rate of journeys on it, a journey that ends in rage clicks leaves a reason for an angry chat, a purchase
can later get an `order_delayed` context event and a "where is my order" email, a route's flight delay
reaches the customers booked on it. All of it lives here so the generators stay stateless functions.

Bookings are events, not prior knowledge: some customers have a trip in mind from the start (`route`),
but they count as booked on it only from the moment their booking purchase is sent (bookings.py), and
for BOOKING_VALID_MS after it. Context planning picks flight delays among those bookings, so what
the simulator's world knows about membership is what the events show a consumer.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from dataclasses import dataclass, field
from itertools import accumulate

SEGMENTS = (("new", 0.30), ("regular", 0.55), ("vip", 0.15))
TIER_BY_SEGMENT = {
    "new": (("low", 0.6), ("mid", 0.35), ("high", 0.05)),
    "regular": (("low", 0.3), ("mid", 0.5), ("high", 0.2)),
    "vip": (("mid", 0.25), ("high", 0.75)),
}
CHANNELS = (("web", 0.45), ("app", 0.35), ("kiosk", 0.05), ("store", 0.10), ("call", 0.05))
CURRENCIES = (("EUR", 0.5, 1.0), ("GBP", 0.25, 0.86), ("USD", 0.25, 1.08))  # code, share, rate from EUR
MESSAGE_CHANNELS = ("chat", "email", "voice-transcript", "social")
# A booking concerns its customer this long: the membership bound of sql/decisions_inputs.sql (a
# route-keyed delay reaches customers who booked the route in the 7 days before it).
BOOKING_VALID_MS = 7 * 24 * 3_600_000

ROUTES = (
    ("LHR-JFK", "BA117", "London", "New York"), ("CDG-JFK", "AF006", "Paris", "New York"),
    ("FRA-SFO", "LH454", "Frankfurt", "San Francisco"), ("AMS-DXB", "KL427", "Amsterdam", "Dubai"),
    ("MAD-MEX", "IB6403", "Madrid", "Mexico City"), ("LHR-SIN", "BA011", "London", "Singapore"),
    ("DUB-BOS", "EI135", "Dublin", "Boston"), ("MUC-ORD", "LH430", "Munich", "Chicago"),
    ("FCO-JFK", "AZ610", "Rome", "New York"), ("ZRH-BKK", "LX180", "Zurich", "Bangkok"),
    ("LHR-DXB", "EK004", "London", "Dubai"), ("CPH-EWR", "SK909", "Copenhagen", "Newark"),
    ("LIS-GRU", "TP089", "Lisbon", "Sao Paulo"), ("VIE-NRT", "OS051", "Vienna", "Tokyo"),
    ("BCN-LAX", "LV4900", "Barcelona", "Los Angeles"), ("ARN-LHR", "BA777", "Stockholm", "London"),
)

_PRODUCTS = {  # category → (product, typical EUR price)
    "electronics": (("wireless earbuds", 89), ("noise-cancelling headphones", 249), ("smartwatch", 199),
                    ("4K monitor", 329), ("bluetooth speaker", 79), ("e-reader", 139), ("USB-C charger", 29),
                    ("gaming mouse", 59), ("mechanical keyboard", 119), ("tablet", 399),
                    ("action camera", 279)),
    "fashion": (("running shoes", 119), ("rain jacket", 149), ("wool scarf", 39), ("denim jeans", 79),
                ("leather belt", 45), ("linen shirt", 59), ("winter coat", 229), ("sneakers", 99),
                ("backpack", 69)),
    "home": (("coffee grinder", 69), ("cast-iron pan", 55), ("desk lamp", 49), ("espresso machine", 449),
             ("duvet set", 89), ("air purifier", 189), ("electric kettle", 39), ("chef's knife", 75),
             ("robot vacuum", 299)),
    "travel": (("cabin suitcase", 159), ("travel pillow", 25), ("lounge pass", 45), ("seat upgrade", 120),
               ("extra baggage", 60), ("priority boarding", 15), ("travel adapter", 19)),
    "sports": (("yoga mat", 35), ("dumbbell set", 89), ("cycling helmet", 79), ("water bottle", 19),
               ("fitness tracker", 99), ("tennis racket", 139)),
}
_BRANDS = ("Nordic", "Aero", "Luma", "Pico", "Vela", "Orbit", "Terra", "Kilo", "Zephyr", "Mosaic")

HUMAN_AGENT_NAMES = ("Sam", "Priya", "Lukas", "Maria", "Tom", "Aisha", "Jonas", "Chloe", "Diego", "Hannah",
                     "Kenji", "Fatima", "Oliver", "Sofia", "Marek", "Lea", "Noah", "Ines", "Ravi", "Emma")
BOTS = ("bot-orders", "bot-payments", "bot-travel", "bot-faq")


@dataclass(slots=True)
class Customer:
    id: str
    segment: str
    tier: str
    home_channel: str
    currency: str
    route: int | None  # index into ROUTES when the customer has a trip in mind (booked or not yet)
    booking_ref: str | None
    busy_until: int = 0  # end of the journey in progress (event time), so one customer runs one at a time
    booked_at: int | None = None  # event time of the booking purchase, once it was planned


@dataclass(slots=True)
class Item:
    id: str
    name: str
    category: str
    base_price: float  # EUR

    def price(self, currency: str) -> float:
        rate = next(r for code, _, r in CURRENCIES if code == currency)
        return max(0.99, round(self.base_price * rate) - 0.01)


@dataclass(slots=True)
class Agent:
    id: str
    name: str
    bot: bool


@dataclass(slots=True)
class Reason:
    """Why a customer is about to start a conversation, left behind by a journey or a context event."""

    available_at: int
    customer: int
    intent: str
    mood: str
    channel: str | None = None
    slots: dict[str, str] = field(default_factory=dict)


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([t[0] for t in table], weights=[t[1] for t in table])[0]


@dataclass
class World:
    customers: list[Customer]
    items: list[Item]
    agents: list[Agent]
    bots: list[Agent]
    booked_by_route: dict[int, list[int]]  # route → customers who booked it (see booked_on for when)
    item_cum_weights: list[float]
    outage_until: dict[str, int] = field(default_factory=dict)  # channel or 'payments' → end (event time)
    pending_reasons: list[tuple[int, int, Reason]] = field(default_factory=list)  # heap by available_at
    ready_reasons: deque[Reason] = field(default_factory=lambda: deque(maxlen=500))
    recent_purchases: deque[tuple[int, int, str, int]] = field(default_factory=lambda: deque(maxlen=2000))
    recent_active: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=2000))
    recent_cart_items: deque[int] = field(default_factory=lambda: deque(maxlen=500))
    _reason_seq: itertools.count = field(default_factory=itertools.count)

    @classmethod
    def build(cls, rng: random.Random, n_customers: int) -> World:
        currencies = tuple((c, s) for c, s, _ in CURRENCIES)
        customers: list[Customer] = []
        for i in range(n_customers):
            segment = _pick(rng, SEGMENTS)
            p_booked = 0.35 if segment == "vip" else 0.12
            route = rng.randrange(len(ROUTES)) if rng.random() < p_booked else None
            ref = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=6)) if route is not None else None
            customers.append(Customer(f"cust-{i:06d}", segment, _pick(rng, TIER_BY_SEGMENT[segment]),
                                      _pick(rng, CHANNELS), _pick(rng, currencies), route, ref))
        items: list[Item] = []
        sku = rng.randrange(10_000, 20_000)
        for brand in _BRANDS:
            for category, products in _PRODUCTS.items():
                for product, price in products:
                    sku += rng.randrange(1, 40)
                    factor = rng.uniform(0.7, 1.5)
                    items.append(Item(f"sku-{sku}", f"{brand} {product}", category, round(price * factor, 2)))
        rng.shuffle(items)  # popularity rank below is by position: no brand is systematically the best seller
        weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(items))]
        agents = [Agent(f"agent-{i + 1:03d}", name, False) for i, name in enumerate(HUMAN_AGENT_NAMES)]
        bots = [Agent(b, "assistant", True) for b in BOTS]
        return cls(customers, items, agents, bots, {}, list(accumulate(weights)))

    def popular_item(self, rng: random.Random) -> int:
        return rng.choices(range(len(self.items)), cum_weights=self.item_cum_weights)[0]

    def wants_to_book(self, idx: int, t: int) -> bool:
        """Has a trip in mind and no booking in force at t (a booking older than a week has flown)."""
        cust = self.customers[idx]
        return cust.route is not None and (cust.booked_at is None or t - cust.booked_at > BOOKING_VALID_MS)

    def book(self, idx: int, at: int) -> None:
        """Record the booking purchase planned for event time `at` on the customer's route."""
        cust = self.customers[idx]
        assert cust.route is not None
        cust.booked_at = at
        members = self.booked_by_route.setdefault(cust.route, [])
        if idx not in members:
            members.append(idx)

    def booked_on(self, route: int, t: int) -> list[int]:
        """Customers whose booking of the route was sent by t and is still in force at t."""
        out = []
        for idx in self.booked_by_route.get(route, ()):
            at = self.customers[idx].booked_at
            if at is not None and at <= t and t - at <= BOOKING_VALID_MS:
                out.append(idx)
        return out

    def booked_routes(self, t: int) -> list[int]:
        """Routes with at least one booking in force at t, in a stable order."""
        return [r for r in sorted(self.booked_by_route) if self.booked_on(r, t)]

    def in_outage(self, key: str, t: int) -> bool:
        return self.outage_until.get(key, 0) > t

    def idle_customer(self, rng: random.Random, t: int) -> int:
        """A random customer without a journey in progress (after a few tries, anyone)."""
        n = len(self.customers)
        idx = rng.randrange(n)
        for _ in range(8):
            if self.customers[idx].busy_until <= t:
                break
            idx = rng.randrange(n)
        return idx

    def add_reason(self, reason: Reason) -> None:
        heapq.heappush(self.pending_reasons, (reason.available_at, next(self._reason_seq), reason))

    def take_reason(self, t: int, max_age_ms: int = 30 * 60_000) -> Reason | None:
        """The newest reason already available at t; stale ones are dropped (no chat about last month)."""
        pending, ready = self.pending_reasons, self.ready_reasons
        while pending and pending[0][0] <= t:
            ready.append(heapq.heappop(pending)[2])
        while ready and ready[0].available_at < t - max_age_ms:
            ready.popleft()
        return ready.pop() if ready else None

    def recent_customer(self, rng: random.Random, t: int) -> int:
        """Someone active lately (outcomes follow triggers, and triggers follow activity)."""
        for _ in range(4):
            if not self.recent_active:
                break
            at, idx = self.recent_active[rng.randrange(len(self.recent_active))]
            if at <= t:
                return idx
        return rng.randrange(len(self.customers))
