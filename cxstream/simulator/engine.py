"""The discrete-event core: background processes, scenarios, bad records and duplicates merged in time order.

Four arrival processes (journeys, conversations, context, outcomes) run on the event-time clock with
rates derived from the configured mix, so the share of each topic holds whatever the run length. Each
arrival plans its records into one priority queue ordered by event time; popping the queue is
emitting. The processes start a warm-up window before the run's start and their records from before
the start are dropped, so the first minute already looks like the hundredth (journeys in progress,
conversations mid-way) instead of ramping up from an empty world.

Independent random streams drive the world, the traffic, the disorder, the bad records and the
duplicates; switching bad records on does not change a single good record.

Outcomes come from one of two places (outcomes.py says why): on the simulated clock, from a
synthetic arrival process like the others; on the wall clock, as answers to the decisions job's
real triggers, handed in by a TriggerFeed (trigger_feed.py) that the engine drains between two
events without waiting. An answer is scheduled on the event-time queue like any record, a plausible
delay after the moment it is read, and is not part of the mix (it reacts to triggers; it is not an
arrival process with a share).
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cxstream import contracts
from cxstream.codec import Codec, key_bytes
from cxstream.simulator.bookings import P_BOOK, plan_booking
from cxstream.simulator.config import SimulatorConfig
from cxstream.simulator.context_events import plan_context
from cxstream.simulator.conversations import MEAN_TURNS, plan_conversation
from cxstream.simulator.disorder import Disorder
from cxstream.simulator.events import SimEvent
from cxstream.simulator.hostile import Hostile
from cxstream.simulator.ids import Mint
from cxstream.simulator.journeys import plan_journey
from cxstream.simulator.outcomes import answer, answer_record, plan_outcome
from cxstream.simulator.records import Record
from cxstream.simulator.scenarios import SCENARIOS, ScenarioKit, Step
from cxstream.simulator.world import World
from cxstream.validation import MAX_CLOCK_SKEW_MS

if TYPE_CHECKING:
    from cxstream.simulator.trigger_feed import TriggerFeed

_RECORD, _SCENARIO, _DUPLICATE, _SPAWN, _SCENARIO_START, _ANSWER = range(6)
# Answers waiting on the event-time queue at most: beyond it a trigger is counted as unanswered
# rather than growing the queue without bound (the feed's buffer is bounded the same way).
MAX_PENDING_ANSWERS = 10_000
WARMUP_MS = 10 * 60_000
# Pre-generating the warm-up costs about as much as generating live traffic; above this many warm-up
# events the window shrinks (only the very slow conversations, emails, then start out thinner).
WARMUP_EVENT_BUDGET = 100_000
SCENARIO_STAGGER_MS = 2_000
_PRIOR_JOURNEY_LENGTH = 17.0  # events per journey, refined by the running mean
# Share controller: journeys and conversations last minutes to an hour, so right after the start (and
# after a warm-up cut short by its budget) their topics are thinner than the mix says. Every process's
# arrival rate is scaled by (target/observed share)^gain, within these bounds, so the mix holds early.
_CONTROL_MIN, _CONTROL_MAX, _CONTROL_AFTER, _CONTROL_GAIN = 0.5, 3.0, 200, 3.0
_STANDALONE_INTENTS = (("order_status", 0.35), ("product_question", 0.3), ("payment", 0.15), ("refund", 0.2))
_STANDALONE_MOODS = (("neutral", 0.55), ("positive", 0.15), ("negative", 0.22), ("angry", 0.08))
_STANDALONE_CHANNELS = (("chat", 0.5), ("email", 0.2), ("social", 0.1), ("voice-transcript", 0.2))


def _choose(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([t[0] for t in table], weights=[t[1] for t in table])[0]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Engine:
    def __init__(self, cfg: SimulatorConfig, feed: TriggerFeed | None = None) -> None:
        self.cfg = cfg
        self.feed = feed
        # With the wall clock (by default), outcomes answer real triggers only: no synthetic process.
        self.answers_triggers = cfg.outcome_mode == "triggers"
        seed = cfg.seed
        world_seed = seed if cfg.world_seed is None else cfg.world_seed
        self.world = World.build(random.Random(f"{world_seed}/world"), cfg.customers)
        self._drift_rng = random.Random(f"{seed}/drift")
        self._drift_from: int | None = None  # event time from which drift is injected, set by events()
        self.rng = random.Random(f"{seed}/traffic")
        self.mint = Mint(self.rng)
        self.disorder = Disorder(random.Random(f"{seed}/disorder"), cfg.out_of_order_ms, cfg.late_share,
                                 cfg.lateness_ms)
        self._booking_rng = random.Random(f"{seed}/bookings")
        self._booking_mint = Mint(self._booking_rng)
        self._answer_rng = random.Random(f"{seed}/answers")
        self.pending_answers = 0
        self.answered = 0  # outcomes sent for real triggers
        self.unanswered = 0  # triggers refused because MAX_PENDING_ANSWERS were waiting
        self._now = 0  # event time of the latest event taken from the queue
        self._t0 = 2**63  # the run's start (event time), set by events()
        self._bad_rng = random.Random(f"{seed}/bad")
        self._dup_rng = random.Random(f"{seed}/duplicates")
        self.hostile = (Hostile(self._bad_rng, cfg.fmt, cfg.bad_kinds, cfg.huge_bytes) if cfg.bad_share
                        else None)
        # Insert a bad record before a good one with probability p/(1-p): then p of each topic is bad.
        self._bad_p = cfg.bad_share / (1 - cfg.bad_share)
        self.contracts = {name: contracts.load(name) for name in contracts.INPUTS}
        self.codecs = {name: Codec(c, cfg.fmt) for name, c in self.contracts.items()}
        self.topics = {name: cfg.topic_prefix + c.topic for name, c in self.contracts.items()}
        self.simulated = cfg.clock == "simulated"
        self._heap: list[tuple[int, int, int, Any]] = []
        self._seq = itertools.count()
        self._last_good: dict[str, Record] = {}
        mix = dict(cfg.mix)
        if self.answers_triggers:
            mix["outcome"] = 0.0  # outcomes react to triggers; the other shares keep their proportions
        total = sum(mix.values()) or 1.0
        self._share = {name: mix.get(name, 0.0) / total for name in contracts.INPUTS}
        self._journey_events = _PRIOR_JOURNEY_LENGTH * 50
        self._journeys = 50.0
        self._scenario_instances: dict[str, int] = {}
        self._emitted = dict.fromkeys(contracts.INPUTS, 0)  # background first sends, for the share controller
        self._emitted_total = 0

    # --- rates ------------------------------------------------------------------------------------

    def _rate(self, process: str) -> float:
        """Arrivals per second of event time for a process, from the mix and the events per arrival."""
        d = self.cfg.model_rate
        if process == "journey":
            per_journey = self._journey_events / self._journeys
            return d * self._share["interaction"] / per_journey * self._boost("interaction")
        if process == "conversation":
            return d * self._share["message"] / MEAN_TURNS * self._boost("message")
        contract = "context" if process == "context" else "outcome"
        return d * self._share[contract] * self._boost(contract)

    def _boost(self, contract: str) -> float:
        total = self._emitted_total
        if total < _CONTROL_AFTER:
            return 1.0
        target = self._share[contract]
        observed = self._emitted[contract] / total
        return min(_CONTROL_MAX, max(_CONTROL_MIN, ((target + 0.01) / (observed + 0.01)) ** _CONTROL_GAIN))

    def _push(self, t: int, kind: int, payload: Any) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), kind, payload))

    def _schedule(self, process: str, t: int) -> None:
        rate = self._rate(process)
        if rate > 0:
            self._push(t + max(1, int(self.rng.expovariate(rate) * 1000)), _SPAWN, process)

    # --- processes ----------------------------------------------------------------------------------

    def _spawn(self, process: str, t: int) -> None:
        w, rng = self.world, self.rng
        if process == "journey":
            idx = w.idle_customer(rng, t)
            # Not during the warm-up, whose records are never sent: a booking counts from its event on.
            if t >= self._t0 and w.wants_to_book(idx, t) and self._booking_rng.random() < P_BOOK:
                plan = plan_booking(self._booking_rng, w, self._booking_mint, idx, t)
            else:
                plan = plan_journey(rng, w, self.mint, idx, t)
            w.customers[idx].busy_until = plan.end
            for te, rec in plan.events:
                self._push(te, _RECORD, ("interaction", rec))
            w.recent_active.append((t, idx))
            if plan.purchase:
                order, _, item = plan.purchase
                w.recent_purchases.append((plan.end, idx, order, item))
            w.recent_cart_items.extend(plan.cart_items)
            for reason in plan.reasons:
                w.add_reason(reason)
            self._journey_events += len(plan.events)
            self._journeys += 1
        elif process == "conversation":
            reason = w.take_reason(t)
            if reason is not None:
                idx, intent, mood, slots = reason.customer, reason.intent, reason.mood, reason.slots
                channel = reason.channel or _choose(rng, _STANDALONE_CHANNELS)
            else:
                idx = rng.randrange(len(w.customers))
                intent, mood = _choose(rng, _STANDALONE_INTENTS), _choose(rng, _STANDALONE_MOODS)
                channel, slots = _choose(rng, _STANDALONE_CHANNELS), {}
            for te, rec in plan_conversation(rng, w, self.mint, w.customers[idx].id, intent, mood, channel, t,
                                             slots):
                self._push(te, _RECORD, ("message", rec))
            w.recent_active.append((t, idx))
        elif process == "context":
            self._push(t, _RECORD, ("context", plan_context(rng, w, self.mint, t)))
        else:
            self._push(t, _RECORD, ("outcome", plan_outcome(rng, w, self.mint, t)))
        self._schedule(process, t)

    def _answer_triggers(self, triggers: list[dict[str, Any]]) -> None:
        """Schedule one outcome per real trigger, a plausible delay after now."""
        for trig in triggers:
            if self.pending_answers >= MAX_PENDING_ANSWERS:
                self.unanswered += 1
                continue
            outcome, delay_ms = answer(self._answer_rng, trig, self.cfg.outcome_delay_scale)
            self._push(self._now + delay_ms, _ANSWER, ("outcome", answer_record(trig, outcome)))
            self.pending_answers += 1

    def _start_scenario(self, name: str, t: int) -> None:
        instance = self._scenario_instances.get(name, 0) + 1
        self._scenario_instances[name] = instance
        slug, script = SCENARIOS[name]
        kit_rng = random.Random(f"{self.cfg.seed}/scenario/{name}/{instance}")
        kit = ScenarioKit(slug, instance, t, kit_rng, self.world, Mint(kit_rng), self.cfg.scenario_time_scale)
        steps = script(kit)
        first = next(steps, None)
        if first is not None:
            self._push(t + self._scenario_offset(first), _SCENARIO, (name, t, steps, first))
        if self.cfg.scenario_every_s:
            self._push(t + int(self.cfg.scenario_every_s * 1000), _SCENARIO_START, name)

    def _scenario_offset(self, step: Step) -> int:
        """A step's offset from its scenario's start, in ms, as scenario_time_scale paces the story."""
        return round(step.at_ms * self.cfg.scenario_time_scale)

    # --- emission -----------------------------------------------------------------------------------

    def _good(self, contract: str, rec: Record, ts: int, late: bool, scenario: str | None) -> SimEvent:
        value = self.codecs[contract].encode(rec)
        key = key_bytes(self.contracts[contract], rec)
        return SimEvent(contract, self.topics[contract], key, value, ts, rec, late=late, scenario=scenario)

    def _inject_drift(self, rec: Record) -> None:
        cfg = self.cfg
        if rec.get("amount") is not None:
            rec["amount"] = round(rec["amount"] * cfg.drift_amount_factor, 2)
        if self._drift_rng.random() < cfg.drift_channel_share:
            rec["channel"] = cfg.drift_channel

    def _emit(self, t: int, kind: int, payload: Any) -> Iterator[SimEvent]:
        ts = t if self.simulated else _now_ms()
        if kind in (_RECORD, _ANSWER):
            contract, rec = payload
            if contract == "interaction" and self._drift_from is not None and t >= self._drift_from:
                self._inject_drift(rec)
            rec["event_time"], late = self.disorder.event_time(ts)
            if self.hostile is not None and self._bad_rng.random() < self._bad_p:
                bad = self.hostile.make(contract, rec, ts, self._last_good)
                yield SimEvent(contract, self.topics[contract], bad.key, bad.value, ts, bad.record, bad.kind,
                               bad.reason)
            self._last_good[contract] = rec
            if kind == _RECORD:  # answers are reactions, outside the mix the share controller holds
                self._emitted[contract] += 1
                self._emitted_total += 1
            else:
                self.pending_answers -= 1
                self.answered += 1
            ev = self._good(contract, rec, ts, late, None)
            yield ev
            if self.cfg.duplicate_share and self._dup_rng.random() < self.cfg.duplicate_share:
                self._push(t + self._dup_rng.randint(10, 5_000), _DUPLICATE, ev)
        elif kind == _SCENARIO:
            name, start, steps, step = payload
            step_: Step = step
            step_.record["event_time"] = ts
            yield self._good(step_.contract, step_.record, ts, False, name)
            following = next(steps, None)
            if following is not None:
                self._push(max(t, start + self._scenario_offset(following)), _SCENARIO,
                           (name, start, steps, following))
        else:  # a duplicate: the same bytes again, a little later, as an at-least-once producer would
            ev = payload
            assert ev.record is not None
            if abs(ev.record["event_time"] - ts) <= MAX_CLOCK_SKEW_MS:  # a late original must stay valid
                yield SimEvent(ev.contract, ev.topic, ev.key, ev.value, ts, ev.record, duplicate=True,
                               late=ev.late)

    def events(self) -> Iterator[SimEvent]:
        cfg = self.cfg
        if self.simulated:
            t0 = cfg.start_ms if cfg.start_ms is not None else _now_ms() // 1000 * 1000
        else:
            t0 = _now_ms()
        self._t0 = t0
        if cfg.drift_after_s is not None:
            self._drift_from = t0 + int(cfg.drift_after_s * 1000)
        warmup = int(min(WARMUP_MS, WARMUP_EVENT_BUDGET / cfg.model_rate * 1000))
        processes = ("journey", "conversation", "context") + (() if self.answers_triggers else ("outcome",))
        for process in processes:
            self._schedule(process, t0 - warmup)
        for i, name in enumerate(cfg.scenarios):
            self._push(t0 + int(cfg.scenario_delay_s * 1000) + i * SCENARIO_STAGGER_MS, _SCENARIO_START, name)
        t_end = t0 + int(cfg.duration_s * 1000) if (self.simulated and cfg.duration_s) else None
        wall_end: float | None = None  # set at the first emission: the warm-up does not eat the duration
        wall_duration = cfg.duration_s if not self.simulated else None
        limit = cfg.count
        emitted = 0
        heap = self._heap
        feed = self.feed
        while heap and (limit is None or emitted < limit):
            if feed is not None and self._now >= t0:
                self._answer_triggers(feed.drain())
            t, _, kind, payload = heapq.heappop(heap)
            self._now = max(self._now, t)
            if kind == _SPAWN:
                self._spawn(payload, t)
                continue
            if kind == _SCENARIO_START:
                self._start_scenario(payload, t)
                continue
            if t < t0:
                continue  # warm-up: the world was already busy before we started sending
            if wall_duration and wall_end is None:
                wall_end = time.monotonic() + wall_duration
            if (t_end is not None and t > t_end) or (wall_end is not None and time.monotonic() >= wall_end):
                return
            for ev in self._emit(t, kind, payload):
                if limit is not None and emitted >= limit:
                    return
                yield ev
                emitted += 1


def generate(config: SimulatorConfig, feed: TriggerFeed | None = None) -> Iterator[SimEvent]:
    """The run's events in sending order. Lazy: the wall clock is read as events are taken.

    Without Kafka unless a TriggerFeed is given (producer.run gives one on the wall clock): then the
    triggers it has read are answered with outcomes.
    """
    return Engine(config, feed).events()
