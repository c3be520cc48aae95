"""The next-best-action rule engine (udfs/nba_rules.py) without Flink: the rules file, arbitration,
cool-downs, caps, feedback, routing and the as-of-event-time context."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml

from cxstream import contracts
from cxstream.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "udfs"))
import nba_rules  # noqa: E402
from nba_rules import CustomerContext, Event, RulesError, decide, parse_rules  # noqa: E402

RULES_FILE = REPO_ROOT / "rules" / "nba.yaml"
T0 = 1_795_000_000_000
S, M = 1000, 60_000


def base() -> dict:
    return yaml.safe_load(RULES_FILE.read_text())


def two_rules(**overrides) -> dict:
    """A small rules set: two actions that can both fire on a rage click, one more valuable."""
    data = base()
    rule = {"moments": ["interaction"], "when": ["rage_clicks_recent >= 1"], "priority": 10, "value": 20,
            "confidence": 0.9, "simple": True, "cooldown": "10m", "cap": 2, "cap_window": "1h",
            "reason_codes": ["r"], "evidence": ["rage_clicks_recent"]}
    data["rules"] = [{**rule, "action": "low"}, {**rule, "action": "high", "value": 40, **overrides}]
    return data


def rage(ctx: CustomerContext, rules, at: int, n: int = 1):
    out = None
    for k in range(n):
        ev = Event("interaction", "c1", f"e{at}-{k}", at, event_type="rage_click")
        ctx.apply(ev, rules.features)
        out = decide(rules, ctx, "c1", "interaction", ev.event_id, at)
    return out


def test_the_shipped_rules_file_loads_and_names_only_known_context_types() -> None:
    allowed = contracts.load("context").field("context_type").allowed
    rules = nba_rules.load_rules(RULES_FILE, context_types=allowed)
    assert {r.action for r in rules.rules} >= {"cart_recovery", "offer_checkout_help", "escalate_to_agent",
                                                "proactive_rebooking"}
    assert rules.features.cart_idle_ms == 2 * M


def test_arbitration_picks_one_action_by_priority_then_value_then_file_order() -> None:
    rules = parse_rules(two_rules())
    trig = rage(CustomerContext(), rules, T0)
    assert trig is not None and trig.action == "high"  # same priority, higher value
    assert trig.evidence["outranked"] == "low"
    rules = parse_rules(two_rules(priority=5))
    assert rage(CustomerContext(), rules, T0).action == "low"  # priority beats value
    rules = parse_rules(two_rules(value=20))
    assert rage(CustomerContext(), rules, T0).action == "low"  # a full tie: the earlier rule


def test_cool_down_blocks_the_same_action_and_lets_the_next_one_through() -> None:
    rules = parse_rules(two_rules())
    ctx = CustomerContext()
    assert rage(ctx, rules, T0).action == "high"
    # 'high' cools down for 10 minutes; at this moment 'low' is the only eligible action.
    assert rage(ctx, rules, T0 + 1 * S).action == "low"
    assert rage(ctx, rules, T0 + 2 * S) is None  # both cooling down: nothing
    assert rage(ctx, rules, T0 + 10 * M).action == "high"  # cool-down over


def test_frequency_cap_counts_triggers_per_customer_and_action_over_the_cap_window() -> None:
    rules = parse_rules(two_rules(cooldown="1s"))
    ctx = CustomerContext()
    fired = [rage(ctx, rules, T0 + k * 10 * M) for k in range(4)]
    assert [t.action if t else None for t in fired] == ["high", "high", "low", "low"]
    assert nba_rules.blocked(rules.rule("high"), ctx, T0 + 35 * M) == "cap"
    assert rage(ctx, rules, T0 + 61 * M).action == "high"  # the first one left the 1 h window


def test_dismissal_lengthens_the_cool_down_by_the_files_factor_and_acceptance_resets_it() -> None:
    data = two_rules()
    data["rules"] = data["rules"][1:]  # only 'high': 10 min cool-down
    rules = parse_rules(data)
    ctx = CustomerContext()
    first = rage(ctx, rules, T0)
    assert ctx.record_outcome(first.trigger_id, "dismissed", rules.feedback) == "high"
    assert rules.feedback.cooldown_factor["dismissed"] == 3.0
    assert rage(ctx, rules, T0 + 29 * M) is None  # 10 min x 3
    second = rage(ctx, rules, T0 + 30 * M)
    assert second is not None
    ctx.record_outcome(second.trigger_id, "dismissed", rules.feedback)  # x 9: 90 minutes
    assert rage(ctx, rules, T0 + 30 * M + 89 * M) is None
    third = rage(ctx, rules, T0 + 30 * M + 90 * M)
    assert third is not None
    ctx.record_outcome(third.trigger_id, "accepted", rules.feedback)  # back to 10 minutes
    assert rage(ctx, rules, T0 + 120 * M + 10 * M) is not None
    assert ctx.record_outcome("trg-not-ours", "dismissed", rules.feedback) is None


def test_dismissal_factor_is_capped() -> None:
    rules = parse_rules(two_rules())
    ctx = CustomerContext()
    trig = rage(ctx, rules, T0)
    for _ in range(10):
        ctx.record_outcome(trig.trigger_id, "dismissed", rules.feedback)
    assert ctx.cooldown_factor["high"] == rules.feedback.max_factor


def test_routing_cascades_human_then_bot_then_specialist_ai() -> None:
    rules = parse_rules(base())
    r = rules.routing
    cheap = rules.rule("offer_checkout_help")  # simple, value 25, confidence 0.8
    assert r.route(cheap, 0.8, None)[0] == "bot"
    assert r.route(cheap, 0.8, 0.4)[0] == "bot"
    assert r.route(cheap, 0.8, -0.05)[0] == "human"  # negative sentiment wins over everything
    assert r.route(cheap, 0.7, None)[0] == "specialist_ai"  # not confident enough for a bot
    assert r.route(cheap, 0.4, None)[0] == "human"  # too unsure for anything but a person
    pricey = rules.rule("proactive_rebooking")  # value 400
    assert r.route(pricey, 0.9, None) == ("human", "value 400 >= 300")
    middle = rules.rule("delivery_delay_update")  # value 60, not simple
    assert r.route(middle, 0.9, None)[0] == "specialist_ai"


def test_trigger_ids_are_deterministic_from_customer_action_and_event() -> None:
    a = nba_rules.trigger_id("c1", "cart_recovery", "e1")
    assert a == nba_rules.trigger_id("c1", "cart_recovery", "e1") and a.startswith("trg-")
    assert len({a, nba_rules.trigger_id("c2", "cart_recovery", "e1"), nba_rules.trigger_id("c1", "x", "e1"),
                nba_rules.trigger_id("c1", "cart_recovery", "e2")}) == 4


def test_context_features_are_as_of_the_moment_even_when_messages_arrive_ahead() -> None:
    rules = parse_rules(base())
    ctx = CustomerContext()
    # Turns of a later chat arrive first (another topic, read ahead), then an earlier cart decision.
    for k, score in enumerate((-0.6, -0.4)):
        ctx.apply(Event("message", "c1", f"m{k}", T0 + 5 * M + k * S, conversation_id="conv", compound=score),
                  rules.features)
    early = ctx.features(T0 + 2 * M, rules.features)
    assert early["latest_sentiment"] is None and early["consecutive_negative_turns"] == 0
    late = ctx.features(T0 + 5 * M + 1 * S, rules.features)
    assert late["latest_sentiment"] == -0.4 and late["consecutive_negative_turns"] == 2
    assert late["open_conversation"]
    assert ctx.features(T0 + 40 * M, rules.features)["open_conversation"] is False


def test_friction_counts_survive_a_later_moment_from_another_topic() -> None:
    rules = parse_rules(base())
    ctx = CustomerContext()
    ctx.apply(Event("interaction", "c1", "e0", T0, event_type="rage_click"), rules.features)
    # A turn ten minutes later is decided first (the messages topic was read ahead) ...
    ctx.apply(Event("message", "c1", "m0", T0 + 10 * M, conversation_id="a", compound=0.2), rules.features)
    ctx.features(T0 + 10 * M, rules.features)
    # ... then the interactions that came right after the first rage click still see it.
    ctx.apply(Event("interaction", "c1", "e1", T0 + 1 * S, event_type="rage_click"), rules.features)
    assert ctx.features(T0 + 1 * S, rules.features)["rage_clicks_recent"] == 2


def test_negative_streak_resets_on_a_positive_turn_and_on_a_new_conversation() -> None:
    rules = parse_rules(base())
    ctx = CustomerContext()
    for k, (conv, score) in enumerate([("a", -0.5), ("a", 0.3), ("a", -0.5), ("b", -0.5)]):
        ctx.apply(Event("message", "c1", f"m{k}", T0 + k * S, conversation_id=conv, compound=score), rules.features)
    assert ctx.features(T0 + 2 * S, rules.features)["consecutive_negative_turns"] == 1
    assert ctx.features(T0 + 3 * S, rules.features)["consecutive_negative_turns"] == 1


def test_cart_and_friction_features_follow_the_interactions() -> None:
    rules = parse_rules(base())
    ctx = CustomerContext()
    steps = [("add_to_cart", 30.0), ("add_to_cart", 20.0), ("remove_from_cart", 20.0), ("checkout_start", 30.0),
             ("error", None), ("rage_click", None), ("rage_click", None)]
    for k, (etype, amount) in enumerate(steps):
        ctx.apply(Event("interaction", "c1", f"e{k}", T0 + k * S, event_type=etype, amount=amount, segment="vip"),
                  rules.features)
    f = ctx.features(T0 + 6 * S, rules.features)
    assert (f["cart_value"], f["cart_items"], f["checkout_started"]) == (30.0, 1, True)
    assert (f["rage_clicks_recent"], f["errors_recent"], f["segment"]) == (2, 1, "vip")
    assert ctx.last_cart_event_id == "e3"
    assert ctx.features(T0 + 3 * M, rules.features)["rage_clicks_recent"] == 0  # out of the 2 min window
    ctx.apply(Event("interaction", "c1", "buy", T0 + 4 * M, event_type="purchase", amount=30.0), rules.features)
    assert ctx.features(T0 + 4 * M, rules.features)["cart_value"] == 0 and ctx.last_cart_event_id is None


def test_context_events_are_active_for_their_ttl_and_expose_their_attributes() -> None:
    rules = parse_rules(base())
    ctx = CustomerContext()
    ctx.apply(Event("context", "c1", "x1", T0, context_type="flight_delay", severity="critical",
                    attributes={"delay_minutes": "180", "customer_segment": "vip"}), rules.features)
    f = ctx.features(T0, rules.features)
    assert f["context.flight_delay"] is True and f["context.flight_delay.delay_minutes"] == "180"
    assert f["segment"] == "vip"
    trig = decide(rules, ctx, "c1", "context", "x1", T0)
    assert (trig.action, trig.route, trig.segment) == ("proactive_rebooking", "human", "vip")
    assert trig.evidence["context.flight_delay.delay_minutes"] == "180"
    assert "context.flight_delay" not in ctx.features(T0 + 7 * 3_600_000, rules.features)


def test_a_fanned_out_context_event_is_applied_once_per_customer() -> None:
    """A route-keyed delay reaches a customer once per booking row (two bookings, an at-least-once
    copy): the second sight of the same context id is not a new moment and changes nothing."""
    rules = parse_rules(base())
    ctx = CustomerContext()
    delay = Event("context", "c1", "ctx-route", T0, context_type="flight_delay", severity="high",
                  attributes={"route": "LHR-JFK", "delay_minutes": "150", "flight": "BA117"})
    assert ctx.apply(delay, rules.features) is True
    assert decide(rules, ctx, "c1", "context", delay.event_id, T0).action == "proactive_rebooking"
    later = Event("context", "c1", "ctx-route", T0 + 5 * S, context_type="flight_delay", severity="low",
                  attributes={"delay_minutes": "20"})
    assert ctx.apply(later, rules.features) is False  # the same context id: not applied again
    assert ctx.features(T0 + 5 * S, rules.features)["context.flight_delay.severity"] == "high"
    other = Event("context", "c1", "ctx-other", T0 + 6 * S, context_type="flight_delay", severity="low",
                  attributes={"delay_minutes": "20"})
    assert ctx.apply(other, rules.features) is True
    # Remembered for the context TTL only: the set does not grow with the customer's history.
    far = Event("context", "c1", "ctx-far", T0 + 7 * 3_600_000, context_type="stock_low", severity="low")
    assert ctx.apply(far, rules.features) is True
    assert set(ctx.contexts_seen) == {"ctx-far"}


def _broken(path: str, value) -> dict:  # noqa: ANN001
    data = copy.deepcopy(base())
    node = data
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    last = keys[-1]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(("path", "value", "message"), [
    ("rules.0.when.0", "cart_valu > 0", "unknown feature 'cart_valu'"),
    ("rules.0.when.0", "context.flight_dealy == true", "unknown feature 'context.flight_dealy'"),
    ("rules.0.when.0", "cart_value >> 3", "cannot read condition"),
    ("rules.0.when.0", "cart_value > lots", "needs a number"),
    ("rules.0.when.0", "segment in vip", "needs a list"),
    ("rules.0.moments", ["whenever"], "moments must list moments"),
    ("rules.0.confidence", 1.5, "confidence = 1.5 is outside"),
    ("rules.0.cooldown", "soon", "not a duration: 'soon'"),
    ("rules.0.cap", 0, "cap must be an integer >= 1"),
    ("rules.0.priority", "high", "priority must be an integer"),
    ("rules.0.reason_codes", [], "reason_codes must be a non-empty list"),
    ("rules.0.colour", "red", "unknown key 'colour'"),
    ("rules.1.action", "proactive_rebooking", "defined twice"),
    ("routing.bot.value_at_most", KeyError, "value_at_most must be a number"),
    ("feedback.cooldown_factor.dismissed", 0.5, "dismissed = 0.5 is outside"),
    ("features.cart_idle", KeyError, "cart_idle is missing"),
    ("version", 2, "version must be 1"),
])
def test_a_bad_rules_file_fails_with_a_clear_error(path: str, value, message: str) -> None:  # noqa: ANN001
    with pytest.raises(RulesError) as err:
        parse_rules(_broken(path, value), "nba.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("nba.yaml")


def test_unreadable_rules_files_say_which_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no such rules file"):
        nba_rules.load_rules(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed\n")
    with pytest.raises(RulesError, match="bad.yaml: not valid YAML"):
        nba_rules.load_rules(bad)
    bad.write_text(RULES_FILE.read_text().replace("moments:", "on:", 1))  # YAML 1.1 reads 'on' as true
    with pytest.raises(RulesError, match="rule 'proactive_rebooking': unknown key True"):
        nba_rules.load_rules(bad)
