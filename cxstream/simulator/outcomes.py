"""Outcomes of next-best-action triggers: what customers do with the actions they are offered.

Which outcomes a run sends depends on its mode (SimulatorConfig.outcomes, `cxstream simulate
--outcomes`):

- ``triggers`` — the default on the wall clock, i.e. `cxstream simulate` as `./cx run` starts it.
  A background thread (trigger_feed.TriggerFeed) reads the decisions job's real `cx.nba.triggers`
  topic from its end (with the run's topic prefix, value format and the suite's Kafka security
  settings) into a bounded buffer; the engine drains it without waiting, and answers each trigger
  once, with one outcome drawn from the table below, after the delay the table gives. That closes
  the loop: the decisions job joins the outcomes to its triggers (`cx.nba.feedback`) and lengthens
  the customer's cool-down after a dismissal. No synthetic outcomes are sent in this mode, and with
  no decisions job running there are no triggers and so no outcomes at all.
- ``synthetic`` — the default on the simulated clock (the tests, the bench, `reference build`). No
  Kafka topic is read, so a run stays a pure function of its seed. Outcomes are a background stream
  (`plan_outcome`): trigger ids shaped like the real ones ('trg-…') for customers active lately, in
  the rough shape of a campaign funnel; they answer no real trigger, so the decisions job attributes
  none of them (its feedback stays empty).

How customers answer is data, in one place (the tables below): a weight per outcome for each action,
tilted by the route that delivered the action and by the customer's segment, then normalised.
"""

from __future__ import annotations

import math
import random
from typing import Any

from cxstream.simulator import records
from cxstream.simulator.ids import Mint
from cxstream.simulator.records import Record
from cxstream.simulator.world import World

OUTCOMES = (("ignored", 0.38), ("dismissed", 0.27), ("accepted", 0.25), ("converted", 0.10))

# Weights of each outcome per action (rules/nba.yaml's actions). Offers nobody asked for are mostly
# ignored or dismissed; help that arrives while the customer is stuck (a late flight, a failing
# checkout, an unhappy chat handed to a person) is taken up more often.
OUTCOME_WEIGHTS: dict[str, dict[str, float]] = {
    "proactive_rebooking": {"accepted": 0.45, "converted": 0.20, "dismissed": 0.15, "ignored": 0.20},
    "escalate_to_agent": {"accepted": 0.55, "converted": 0.05, "dismissed": 0.20, "ignored": 0.20},
    "offer_checkout_help": {"accepted": 0.30, "converted": 0.20, "dismissed": 0.30, "ignored": 0.20},
    "delivery_delay_update": {"accepted": 0.30, "converted": 0.05, "dismissed": 0.20, "ignored": 0.45},
    "cart_recovery": {"accepted": 0.12, "converted": 0.10, "dismissed": 0.28, "ignored": 0.50},
}
DEFAULT_WEIGHTS: dict[str, float] = dict(OUTCOMES)  # an action the table does not know yet
# Multipliers by route: a person persuades more and is brushed off less than a bot.
ROUTE_TILT: dict[str, dict[str, float]] = {
    "human": {"accepted": 1.3, "converted": 1.2, "dismissed": 0.7, "ignored": 0.8},
    "specialist_ai": {},
    "bot": {"accepted": 0.9, "dismissed": 1.1, "ignored": 1.2},
}
# Multipliers by segment. A modest gap on purpose, and a simulated one, not a finding: new customers
# dismiss more and VIPs accept more. Each dismissal triples the customer's cool-down for that action
# (rules/nba.yaml feedback), so new customers who are offered an action repeatedly are offered it
# less often than others, which is what the alerts job's fairness rule (triggers per active customer
# by segment, the four-fifths rule) exists to show.
SEGMENT_TILT: dict[str, dict[str, float]] = {
    "new": {"dismissed": 1.4, "accepted": 0.85},
    "regular": {},
    "vip": {"accepted": 1.2, "dismissed": 0.8},
}
# Seconds from the trigger's emission to its outcome: (median, lognormal sigma, cap). Accepting or
# dismissing is a tap on the offer; converting takes a purchase; `ignored` is recorded when the
# offer expires unanswered, about a minute and a half later. SimulatorConfig.outcome_delay_scale
# (`cxstream simulate --outcome-delay-scale`) multiplies them, caps included.
RESPONSE_DELAY_S: dict[str, tuple[float, float, float]] = {
    "accepted": (15.0, 0.6, 300.0),
    "dismissed": (8.0, 0.6, 120.0),
    "converted": (60.0, 0.5, 600.0),
    "ignored": (90.0, 0.2, 180.0),
}


def outcome_weights(action: str, route: str | None, segment: str | None) -> dict[str, float]:
    """Probabilities of each outcome for an action delivered on a route to a customer of a segment."""
    weights = dict(OUTCOME_WEIGHTS.get(action, DEFAULT_WEIGHTS))
    for tilt in (ROUTE_TILT.get(route or "", {}), SEGMENT_TILT.get(segment or "", {})):
        for outcome, factor in tilt.items():
            weights[outcome] *= factor
    total = sum(weights.values())
    return {outcome: w / total for outcome, w in weights.items()}


def answer(rng: random.Random, trigger: dict[str, Any], delay_scale: float = 1.0) -> tuple[str, int]:
    """(outcome, delay in ms after the trigger's emission) for one real trigger of the decisions job.

    delay_scale stretches or shrinks the delay only: the same random draws give the same outcomes,
    so a run with short delays answers like a plausible one, just sooner.
    """
    weights = outcome_weights(trigger.get("action") or "", trigger.get("route"), trigger.get("segment"))
    outcome = rng.choices(list(weights), weights=list(weights.values()))[0]
    median, sigma, cap = RESPONSE_DELAY_S[outcome]
    delay_s = min(cap, rng.lognormvariate(math.log(median), sigma)) * delay_scale
    return outcome, max(1, int(delay_s * 1000))


def answer_record(trigger: dict[str, Any], outcome: str) -> Record:
    """The outcome record (cx.events.outcomes) answering a trigger; the engine stamps its event time."""
    return records.outcome(trigger["trigger_id"], trigger["customer_id"], outcome)


def plan_outcome(rng: random.Random, world: World, mint: Mint, t: int) -> Record:
    """A synthetic outcome (simulated clock): a made-up trigger id for a customer active lately."""
    idx = world.recent_customer(rng, t)
    outcome = rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]
    return records.outcome(mint.short("trg"), world.customers[idx].id, outcome)
