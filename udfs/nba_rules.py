"""The next-best-action rule engine: load rules/nba.yaml, keep a customer's context, decide.

Pure Python with no Flink import, so every decision can be unit-tested on its own and the Flink
stage (udfs/decisions_stage.py) stays a thin shell around it: the stage feeds events into a
CustomerContext kept in keyed state and asks `decide` for at most one trigger per moment.

Everything is in event time (milliseconds): the context's windows, cool-downs and caps are measured
against the event that is being decided on, never against the wall clock, so a replay decides the
same way as the live run did.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MOMENTS = ("interaction", "message", "context", "cart_idle")
# Moments a timer decides, not an event (udfs/decisions_stage.py on_timer): the trigger's event time is the
# timer's due time, and it can be emitted only once the watermark passes that. Every trigger's evidence
# names its moment, so sql/alerts.sql (e2e_latency) and cxstream/bench.py measure these from due time +
# watermark delay. The bench reads this tuple; the SQL names cart_idle itself (tests/test_alert_rules.py
# checks that the two agree).
TIMER_MOMENTS = ("cart_idle",)
ROUTES = ("bot", "human", "specialist_ai")
OUTCOMES = ("accepted", "dismissed", "ignored", "converted")
OPS = ("==", "!=", "<=", ">=", "<", ">", "not_in", "in")
# Features the context computes; `context.TYPE[.ATTRIBUTE]` names are checked against the context types.
PLAIN_FEATURES = frozenset({
    "cart_value", "cart_items", "checkout_started", "cart_idle_s", "rage_clicks_recent", "errors_recent",
    "latest_sentiment", "consecutive_negative_turns", "open_conversation", "segment",
})
DEFAULT_CONTEXT_TYPES = ("flight_delay", "order_delayed", "stock_low", "price_change", "outage")
CART_EVENTS = ("add_to_cart", "remove_from_cart", "checkout_start")
MAX_TURNS = 50  # customer turns kept per customer: enough for any streak the rules can ask about
TURN_HISTORY_MS = 3_600_000

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


class RulesError(ValueError):
    """The rules file is wrong; the message says where and what."""


# --- the rules file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    feature: str
    op: str
    value: Any
    text: str

    def holds(self, features: dict[str, Any]) -> bool:
        actual = features.get(self.feature)
        if self.op == "==":
            return _equal(actual, self.value)
        if self.op == "!=":
            return not _equal(actual, self.value)
        if actual is None:
            return False
        if self.op in ("in", "not_in"):
            found = any(_equal(actual, v) for v in self.value)
            return found if self.op == "in" else not found
        a, b = _number(actual), _number(self.value)
        if a is None or b is None:
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[self.op]


@dataclass(frozen=True)
class Boost:
    condition: Condition
    add: float


@dataclass(frozen=True)
class Rule:
    action: str
    description: str
    on: frozenset[str]
    when: tuple[Condition, ...]
    priority: int
    value: float
    confidence: float
    simple: bool
    cooldown_ms: int
    cap: int
    cap_window_ms: int
    reason_codes: tuple[str, ...]
    evidence: tuple[str, ...]
    boosts: tuple[Boost, ...] = ()
    order: int = 0  # position in the file: the last tie-breaker


@dataclass(frozen=True)
class Routing:
    human_sentiment_at_or_below: float | None
    human_value_at_least: float | None
    human_confidence_below: float | None
    bot_simple: bool
    bot_value_at_most: float
    bot_confidence_at_least: float

    def route(self, rule: Rule, confidence: float, sentiment: float | None) -> tuple[str, str]:
        """(route, why): human if any human test passes, else bot if every bot test passes, else AI."""
        if self.human_sentiment_at_or_below is not None and sentiment is not None \
                and sentiment <= self.human_sentiment_at_or_below:
            return "human", f"sentiment {sentiment:.3f} <= {self.human_sentiment_at_or_below}"
        if self.human_value_at_least is not None and rule.value >= self.human_value_at_least:
            return "human", f"value {rule.value:g} >= {self.human_value_at_least:g}"
        if self.human_confidence_below is not None and confidence < self.human_confidence_below:
            return "human", f"confidence {confidence:.2f} < {self.human_confidence_below}"
        if (rule.simple or not self.bot_simple) and rule.value <= self.bot_value_at_most \
                and confidence >= self.bot_confidence_at_least:
            return "bot", "simple, confident and low-value"
        return "specialist_ai", "ambiguous: neither a human's nor a bot's case"


@dataclass(frozen=True)
class FeatureSettings:
    cart_idle_ms: int
    friction_window_ms: int
    conversation_timeout_ms: int
    negative_at: float
    context_ttl_ms: int
    state_ttl_ms: int


@dataclass(frozen=True)
class Feedback:
    cooldown_factor: dict[str, float]
    reset_on: frozenset[str]
    max_factor: float


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    routing: Routing
    features: FeatureSettings
    feedback: Feedback
    source: str = "<rules>"

    def rule(self, action: str) -> Rule:
        for r in self.rules:
            if r.action == action:
                return r
        raise KeyError(action)


def load_rules(path: str | Path, context_types: tuple[str, ...] = DEFAULT_CONTEXT_TYPES) -> RuleSet:
    """Read and validate a rules file; a RulesError names the file, the rule and the problem."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RulesError(f"{path}: no such rules file") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from None
    return parse_rules(data, str(path), context_types)


def parse_rules(data: Any, source: str = "<rules>",
                context_types: tuple[str, ...] = DEFAULT_CONTEXT_TYPES) -> RuleSet:
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping at the top level")
    _only(data, {"version", "features", "routing", "feedback", "defaults", "rules"}, source)
    if data.get("version") != 1:
        raise RulesError(f"{source}: version must be 1, not {data.get('version')!r}")
    feats = _mapping(data, "features", source)
    _only(feats, {"cart_idle", "friction_window", "conversation_timeout", "negative_at", "context_ttl",
                  "state_ttl"}, f"{source}: features")
    features = FeatureSettings(
        cart_idle_ms=_duration(feats, "cart_idle", f"{source}: features"),
        friction_window_ms=_duration(feats, "friction_window", f"{source}: features"),
        conversation_timeout_ms=_duration(feats, "conversation_timeout", f"{source}: features"),
        negative_at=_num(feats, "negative_at", f"{source}: features", lo=-1, hi=1),
        context_ttl_ms=_duration(feats, "context_ttl", f"{source}: features"),
        state_ttl_ms=_duration(feats, "state_ttl", f"{source}: features"),
    )
    routing = _parse_routing(_mapping(data, "routing", source), f"{source}: routing")
    feedback = _parse_feedback(_mapping(data, "feedback", source), f"{source}: feedback")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise RulesError(f"{source}: defaults must be a mapping")
    _only(defaults, {"cooldown", "cap", "cap_window"}, f"{source}: defaults")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RulesError(f"{source}: rules must be a non-empty list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        rule = _parse_rule(raw, i, defaults, source, context_types)
        if rule.action in seen:
            raise RulesError(f"{source}: rule {i + 1}: action {rule.action!r} is defined twice")
        seen.add(rule.action)
        rules.append(rule)
    return RuleSet(tuple(rules), routing, features, feedback, source)


def _parse_rule(raw: Any, i: int, defaults: dict[str, Any], source: str, context_types: tuple[str, ...]) -> Rule:
    where = f"{source}: rule {i + 1}"
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: expected a mapping")
    action = raw.get("action")
    if not isinstance(action, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", action):
        raise RulesError(f"{where}: action must be a snake_case name, not {action!r}")
    where = f"{source}: rule {action!r}"
    _only(raw, {"action", "description", "moments", "when", "priority", "value", "confidence", "simple", "cooldown",
                "cap", "cap_window", "reason_codes", "evidence", "boosts"}, where)
    on = raw.get("moments")
    if not isinstance(on, list) or not on or any(m not in MOMENTS for m in on):
        raise RulesError(f"{where}: moments must list moments from {', '.join(MOMENTS)}, not {on!r}")
    when = raw.get("when")
    if not isinstance(when, list) or not when:
        raise RulesError(f"{where}: when must be a non-empty list of conditions")
    conditions = tuple(parse_condition(c, where, context_types) for c in when)
    reasons = raw.get("reason_codes")
    if not isinstance(reasons, list) or not reasons or not all(isinstance(r, str) for r in reasons):
        raise RulesError(f"{where}: reason_codes must be a non-empty list of strings")
    evidence = raw.get("evidence", [])
    if not isinstance(evidence, list):
        raise RulesError(f"{where}: evidence must be a list of feature names")
    for name in evidence:
        _check_feature(name, where, context_types)
    boosts = []
    for b in raw.get("boosts", []) or []:
        if not isinstance(b, dict) or set(b) != {"when", "add"}:
            raise RulesError(f"{where}: each boost is {{when: CONDITION, add: NUMBER}}, not {b!r}")
        boosts.append(Boost(parse_condition(b["when"], where, context_types), _num(b, "add", where, lo=-1, hi=1)))
    merged = {**defaults, **raw}
    cap = merged.get("cap")
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
        raise RulesError(f"{where}: cap must be an integer >= 1, not {cap!r}")
    priority = raw.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise RulesError(f"{where}: priority must be an integer, not {priority!r}")
    simple = raw.get("simple", False)
    if not isinstance(simple, bool):
        raise RulesError(f"{where}: simple must be true or false")
    return Rule(
        action=action,
        description=str(raw.get("description") or ""),
        on=frozenset(on),
        when=conditions,
        priority=priority,
        value=_num(raw, "value", where, lo=0),
        confidence=_num(raw, "confidence", where, lo=0, hi=1),
        simple=simple,
        cooldown_ms=_duration(merged, "cooldown", where),
        cap=cap,
        cap_window_ms=_duration(merged, "cap_window", where),
        reason_codes=tuple(reasons),
        evidence=tuple(evidence),
        boosts=tuple(boosts),
        order=i,
    )


_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s+(==|!=|<=|>=|<|>|not_in|in)\s+(.+?)\s*$")


def parse_condition(text: Any, where: str, context_types: tuple[str, ...] = DEFAULT_CONTEXT_TYPES) -> Condition:
    """'FEATURE OP VALUE' → Condition; VALUE is a YAML literal."""
    import yaml

    if not isinstance(text, str):
        raise RulesError(f"{where}: a condition is a string 'FEATURE OP VALUE', not {text!r}")
    m = _CONDITION.match(text)
    if not m:
        raise RulesError(f"{where}: cannot read condition {text!r}; expected 'FEATURE OP VALUE' "
                         f"with OP one of {' '.join(OPS)}")
    feature, op, literal = m.groups()
    _check_feature(feature, where, context_types)
    try:
        value = yaml.safe_load(literal)
    except yaml.YAMLError:
        raise RulesError(f"{where}: condition {text!r}: {literal!r} is not a YAML value") from None
    if op in ("in", "not_in") and not isinstance(value, list):
        raise RulesError(f"{where}: condition {text!r}: {op} needs a list, e.g. [high, critical]")
    if op in ("<", "<=", ">", ">=") and _number(value) is None:
        raise RulesError(f"{where}: condition {text!r}: {op} needs a number")
    return Condition(feature, op, value, text.strip())


def _check_feature(name: Any, where: str, context_types: tuple[str, ...]) -> None:
    if not isinstance(name, str):
        raise RulesError(f"{where}: feature names are strings, not {name!r}")
    if name in PLAIN_FEATURES:
        return
    parts = name.split(".")
    if parts[0] == "context" and len(parts) in (2, 3) and parts[1] in context_types and all(parts):
        return
    raise RulesError(f"{where}: unknown feature {name!r} (known: {', '.join(sorted(PLAIN_FEATURES))}, "
                     f"context.TYPE[.ATTRIBUTE] with TYPE in {', '.join(context_types)})")


def _parse_routing(raw: dict[str, Any], where: str) -> Routing:
    _only(raw, {"human", "bot"}, where)
    human, bot = raw.get("human") or {}, raw.get("bot") or {}
    if not isinstance(human, dict) or not isinstance(bot, dict):
        raise RulesError(f"{where}: human and bot are mappings of thresholds")
    _only(human, {"sentiment_at_or_below", "value_at_least", "confidence_below"}, f"{where}.human")
    _only(bot, {"simple", "value_at_most", "confidence_at_least"}, f"{where}.bot")
    opt = {k: _num(human, k, f"{where}.human") if k in human else None
           for k in ("sentiment_at_or_below", "value_at_least", "confidence_below")}
    simple = bot.get("simple", True)
    if not isinstance(simple, bool):
        raise RulesError(f"{where}.bot: simple must be true or false")
    return Routing(
        human_sentiment_at_or_below=opt["sentiment_at_or_below"],
        human_value_at_least=opt["value_at_least"],
        human_confidence_below=opt["confidence_below"],
        bot_simple=simple,
        bot_value_at_most=_num(bot, "value_at_most", f"{where}.bot", lo=0),
        bot_confidence_at_least=_num(bot, "confidence_at_least", f"{where}.bot", lo=0, hi=1),
    )


def _parse_feedback(raw: dict[str, Any], where: str) -> Feedback:
    _only(raw, {"cooldown_factor", "reset_on", "max_factor"}, where)
    factors = raw.get("cooldown_factor") or {}
    if not isinstance(factors, dict) or any(k not in OUTCOMES for k in factors):
        raise RulesError(f"{where}: cooldown_factor maps outcomes ({', '.join(OUTCOMES)}) to factors")
    reset = raw.get("reset_on") or []
    if not isinstance(reset, list) or any(k not in OUTCOMES for k in reset):
        raise RulesError(f"{where}: reset_on lists outcomes from {', '.join(OUTCOMES)}")
    return Feedback({k: _num(factors, k, f"{where}.cooldown_factor", lo=1) for k in factors}, frozenset(reset),
                    _num(raw, "max_factor", where, lo=1))


def _mapping(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise RulesError(f"{where}: {key} must be a mapping")
    return value


def _only(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RulesError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _num(data: dict[str, Any], key: str, where: str, lo: float | None = None, hi: float | None = None) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RulesError(f"{where}: {key} must be a number, not {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise RulesError(f"{where}: {key} = {value} is outside [{lo}, {hi}]")
    return float(value)


def parse_duration_ms(text: Any) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*", str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r} (examples: 500ms, 10s, 10m, 2h, 1d)")
    return round(float(m.group(1)) * _UNITS_MS[m.group(2)])


def _duration(data: dict[str, Any], key: str, where: str) -> int:
    if key not in data:
        raise RulesError(f"{where}: {key} is missing")
    try:
        return parse_duration_ms(data[key])
    except ValueError as exc:
        raise RulesError(f"{where}: {key}: {exc}") from None


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _equal(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected or str(actual).lower() == str(expected).lower()
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return a == b
    return str(actual) == str(expected)


# --- a customer's context -----------------------------------------------------------------------


@dataclass
class Event:
    """One normalised input event (the decisions_inputs view of sql/decisions_inputs.sql)."""

    kind: str  # interaction, message, context, outcome
    customer_id: str
    event_id: str
    event_ms: int
    event_type: str | None = None
    amount: float | None = None
    segment: str | None = None
    conversation_id: str | None = None
    compound: float | None = None
    context_type: str | None = None
    severity: str | None = None
    attributes: dict[str, str] | None = None
    outcome: str | None = None
    trigger_id: str | None = None


@dataclass
class IssuedTrigger:
    trigger_id: str
    action: str
    event_ms: int


@dataclass
class CustomerContext:
    """Running per-customer features plus the customer's decision history (kept in keyed state)."""

    cart_value: float = 0.0
    cart_items: int = 0
    checkout_started: bool = False
    last_cart_ms: int | None = None
    last_cart_event_id: str | None = None
    rage_clicks: deque = field(default_factory=deque)
    errors: deque = field(default_factory=deque)
    # Customer turns as (event ms, conversation id, compound), in event-time order. Messages come
    # from another topic than interactions, so they may arrive ahead of or behind the interactions
    # around them; the conversation features are computed as of the moment's event time from these.
    turns: list[tuple[int, str | None, float | None]] = field(default_factory=list)
    segment: str | None = None
    contexts: dict[str, tuple[int, str | None, dict[str, str]]] = field(default_factory=dict)  # type→(ms, sev, attrs)
    triggers: list[IssuedTrigger] = field(default_factory=list)
    cooldown_factor: dict[str, float] = field(default_factory=dict)  # action → feedback factor
    last_event_ms: int = 0
    # Context events already applied (context id → event ms), for context_ttl: a route- or item-keyed
    # context reaches a customer once per membership row (two bookings of the route, an at-least-once
    # copy), and a context event is one moment, not several.
    contexts_seen: dict[str, int] = field(default_factory=dict)

    def apply(self, ev: Event, settings: FeatureSettings) -> bool:
        """Fold one interaction, customer turn or context event into the context.

        Returns False, changing nothing, for a context event this customer already has (same
        context id): the caller then has no new moment to decide on.
        """
        if ev.kind == "context" and ev.context_type and not self._first_sight(ev, settings):
            return False
        self.last_event_ms = max(self.last_event_ms, ev.event_ms)
        if ev.kind == "interaction":
            self._interaction(ev, settings)
        elif ev.kind == "message":
            bisect.insort(self.turns, (ev.event_ms, ev.conversation_id, ev.compound), key=lambda t: t[0])
            # Kept for an hour past the newest turn: a moment from another topic may be decided
            # later with an earlier event time, and needs the turns as they were then.
            horizon = self.turns[-1][0] - settings.conversation_timeout_ms - TURN_HISTORY_MS
            while len(self.turns) > MAX_TURNS or (self.turns and self.turns[0][0] < horizon):
                self.turns.pop(0)
        elif ev.kind == "context" and ev.context_type:
            known = self.contexts.get(ev.context_type)
            if known is None or known[0] <= ev.event_ms:  # the latest of a type, by event time
                self.contexts[ev.context_type] = (ev.event_ms, ev.severity, dict(ev.attributes or {}))
            seg = (ev.attributes or {}).get("customer_segment")
            if seg and self.segment is None:
                self.segment = seg
        return True

    def _first_sight(self, ev: Event, settings: FeatureSettings) -> bool:
        # setdefault: a context restored from state written before this field existed lacks it.
        seen: dict[str, int] = self.__dict__.setdefault("contexts_seen", {})
        if ev.event_id in seen:
            return False
        horizon = max(self.last_event_ms, ev.event_ms) - settings.context_ttl_ms
        for context_id in [k for k, ms in seen.items() if ms < horizon]:
            del seen[context_id]
        seen[ev.event_id] = ev.event_ms
        return True

    def _interaction(self, ev: Event, settings: FeatureSettings) -> None:
        if ev.segment:
            self.segment = ev.segment
        # Pruned against this customer's own interactions (one topic, keyed by customer: in order), not
        # against a moment from another topic, which may be read ahead of the interactions.
        horizon = ev.event_ms - settings.friction_window_ms
        for q in (self.rage_clicks, self.errors):
            while q and q[0] < horizon:
                q.popleft()
        t = ev.event_type
        if t == "rage_click":
            self.rage_clicks.append(ev.event_ms)
        elif t == "error":
            self.errors.append(ev.event_ms)
        if t == "add_to_cart":
            self.cart_value += ev.amount or 0.0
            self.cart_items += 1
        elif t == "remove_from_cart":
            self.cart_value = max(0.0, self.cart_value - (ev.amount or 0.0))
            self.cart_items = max(0, self.cart_items - 1)
        elif t == "checkout_start":
            self.checkout_started = True
            if ev.amount is not None:  # the checkout's total is the cart's value
                self.cart_value = ev.amount
        elif t == "purchase":
            self.cart_value, self.cart_items, self.checkout_started = 0.0, 0, False
            self.last_cart_ms = self.last_cart_event_id = None
        if t in CART_EVENTS:
            self.last_cart_ms, self.last_cart_event_id = ev.event_ms, ev.event_id

    def features(self, now_ms: int, settings: FeatureSettings) -> dict[str, Any]:
        """The feature values at event time now_ms (old window entries are dropped first)."""
        horizon = now_ms - settings.friction_window_ms
        sentiment, streak, open_conv = self._conversation(now_ms, settings)
        out: dict[str, Any] = {
            "cart_value": round(self.cart_value, 2),
            "cart_items": self.cart_items,
            "checkout_started": self.checkout_started,
            "cart_idle_s": (now_ms - self.last_cart_ms) / 1000 if self.last_cart_ms is not None else None,
            "rage_clicks_recent": sum(1 for t in self.rage_clicks if horizon <= t <= now_ms),
            "errors_recent": sum(1 for t in self.errors if horizon <= t <= now_ms),
            "latest_sentiment": sentiment,
            "consecutive_negative_turns": streak,
            "open_conversation": open_conv,
            "segment": self.segment,
        }
        for ctype, (ms, severity, attrs) in list(self.contexts.items()):
            if now_ms - ms > settings.context_ttl_ms:
                del self.contexts[ctype]
                continue
            if ms > now_ms:  # arrived ahead of this moment: not known yet at its event time
                continue
            out[f"context.{ctype}"] = True
            out[f"context.{ctype}.severity"] = severity
            for k, v in attrs.items():
                out[f"context.{ctype}.{k}"] = v
        return out

    def _conversation(self, now_ms: int, settings: FeatureSettings) -> tuple[float | None, int, bool]:
        """(latest compound, negative turns in a row in its conversation, conversation open) at now_ms."""
        upto = [t for t in self.turns if t[0] <= now_ms]
        if not upto:
            return None, 0, False
        last_ms, conversation, compound = upto[-1]
        if now_ms - last_ms > settings.conversation_timeout_ms:
            return compound, 0, False
        streak = 0
        for _, conv, score in reversed(upto):
            if conv != conversation or score is None or score > settings.negative_at:
                break
            streak += 1
        return compound, streak, True

    def record_outcome(self, trigger_id: str, outcome: str, feedback: Feedback) -> str | None:
        """Apply an outcome of one of this customer's triggers; returns the action, or None if unknown."""
        action = next((t.action for t in self.triggers if t.trigger_id == trigger_id), None)
        if action is None:
            return None
        if outcome in feedback.reset_on:
            self.cooldown_factor.pop(action, None)
        elif outcome in feedback.cooldown_factor:
            factor = self.cooldown_factor.get(action, 1.0) * feedback.cooldown_factor[outcome]
            self.cooldown_factor[action] = min(factor, feedback.max_factor)
        return action

    def forget_before(self, ms: int) -> None:
        """Drop decision history older than ms (nothing in the rules looks further back)."""
        self.triggers = [t for t in self.triggers if t.event_ms >= ms]


# --- deciding -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    trigger_id: str
    customer_id: str
    action: str
    route: str
    priority: int
    confidence: float
    reason_codes: tuple[str, ...]
    evidence: dict[str, str]
    event_ms: int
    segment: str | None
    value: float


def trigger_id(customer_id: str, action: str, event_id: str) -> str:
    """Deterministic from the triggering event: a replay after a restart rewrites the same key."""
    digest = hashlib.sha256(f"{customer_id}\x1f{action}\x1f{event_id}".encode()).hexdigest()
    return f"trg-{digest[:24]}"


def blocked(rule: Rule, ctx: CustomerContext, now_ms: int) -> str | None:
    """Why the rule may not fire for this customer now (cool-down or cap), or None."""
    mine = [t for t in ctx.triggers if t.action == rule.action]
    if mine:
        factor = ctx.cooldown_factor.get(rule.action, 1.0)
        last = max(t.event_ms for t in mine)
        if now_ms < last + rule.cooldown_ms * factor:
            return "cooldown"
    if sum(1 for t in mine if now_ms - t.event_ms < rule.cap_window_ms) >= rule.cap:
        return "cap"
    return None


def decide(rules: RuleSet, ctx: CustomerContext, customer_id: str, moment: str, event_id: str,
           now_ms: int) -> Trigger | None:
    """At most one trigger for this customer at this moment; records it in ctx's history."""
    features = ctx.features(now_ms, rules.features)
    eligible = [r for r in rules.rules if moment in r.on and all(c.holds(features) for c in r.when)
                and blocked(r, ctx, now_ms) is None]
    if not eligible:
        return None
    rule = min(eligible, key=lambda r: (-r.priority, -r.value, r.order))
    confidence = rule.confidence + sum(b.add for b in rule.boosts if b.condition.holds(features))
    confidence = round(min(1.0, max(0.0, confidence)), 4)
    route, why = rules.routing.route(rule, confidence, features.get("latest_sentiment"))
    evidence = {name: _text(features.get(name)) for name in rule.evidence}
    evidence.update(moment=moment, event_id=event_id, conditions=" AND ".join(c.text for c in rule.when),
                    route_reason=why)
    if len(eligible) > 1:
        evidence["outranked"] = ",".join(r.action for r in eligible if r is not rule)
    trig = Trigger(trigger_id(customer_id, rule.action, event_id), customer_id, rule.action, route, rule.priority,
                   confidence, rule.reason_codes, evidence, now_ms, features.get("segment"), rule.value)
    ctx.triggers.append(IssuedTrigger(trig.trigger_id, rule.action, now_ms))
    longest = max(max(r.cooldown_ms * rules.feedback.max_factor, r.cap_window_ms) for r in rules.rules)
    ctx.forget_before(now_ms - int(longest))
    return trig


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.4g}" if not v.is_integer() else str(int(v))
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    return str(v)
