"""Monitoring alerts end to end: a crafted stream on real topics that breaches every alert kind, the
alerts job on real Flink, and cx.alerts checked against a pandas oracle that computes the same
per-window statistic and the same open / count / resolve history. Then `cxstream tail` on the
result: its filters and consumer-group resume, as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from cxstream import alert_rules, contracts
from cxstream.codec import Codec, key_bytes
from cxstream.consume import TopicReader
from cxstream.runtime import RunOptions, build, load_spec
from cxstream.sample_data import interactions
from tests.conftest import make_test_profile, subprocess_env
from tests.kafka_io import produce_records, read_settled, read_written, run_bounded

MINUTE = 60_000
RULES = alert_rules.load()
FAIR_WINDOW = RULES["fairness"]["window_minutes"] * MINUTE
SEGMENTS = ("new", "regular", "vip")


# -- the crafted stream ------------------------------------------------------------------------
def _interactions(start: int) -> list[dict]:
    """Twenty minutes of 120 records a minute, except: minutes 5-7 reach Kafka 60 s late (event_lag,
    one alert counted three times), minute 8 has 30 records (throughput_drop). Every customer has a
    fixed segment so that fairness has active customers per segment."""
    out = []
    for m in range(20):
        rows = interactions(30 if m == 8 else 120, start + m * MINUTE, step_ms=500 if m != 8 else 2000,
                            seed=m, customers=60)
        for r in rows:
            r["event_id"] = f"m{m}-{r['event_id']}"
            r["segment"] = SEGMENTS[int(r["customer_id"][1:]) % 3]
            r["_kafka_ts"] = r["event_time"] + (60_000 if m in (5, 6, 7) else 0)
        out += rows
    return out


def _dead_letters(start: int, topic: str) -> list[dict]:
    """Minute 3: 15 dead letters of interactions (one written twice, as two jobs would): rate 15/135.
    Minute 4: 2 (clean). Plus one from another topic, which dlq_rate leaves out."""
    def letter(m: int, offset: int, source: str = topic) -> dict:
        t = start + m * MINUTE + 1000 + offset * 100
        return {"source_topic": source, "source_partition": 0, "source_offset": offset, "source_timestamp": t,
                "reason": "invalid: unknown channel", "stage": "validate", "job": "test", "payload": "{}",
                "detected_at": t + 500}
    letters = [letter(3, i) for i in range(15)] + [letter(3, 7)] + [letter(4, 100 + i) for i in range(2)]
    letters.append(letter(4, 500, source=topic.replace("interactions", "messages")))
    return letters


def _trigger(trigger_id: str, action: str, customer: str, segment: str | None, event_time: int,
             latency_ms: int, moment: str = "interaction") -> dict:
    """A trigger as the decisions job writes it: decided latency_ms after its triggering event (for the
    cart_idle moment, a timer: event_time is the timer's due time), its moment named in its evidence."""
    return {"trigger_id": trigger_id, "customer_id": customer, "action": action, "route": "bot", "priority": 1,
            "confidence": 0.9, "reason_codes": ["test"], "evidence": {"moment": moment}, "event_time": event_time,
            "emit_time": event_time + latency_ms, "segment": segment, "value": 1.0}


def _triggers(start: int, delay_ms: int) -> list[dict]:
    """e2e_latency: 10 `callback` triggers a minute in minutes 2-4, 8 s late for three of minute 3's.
    Then 10 `cart_recovery` triggers a minute in minutes 5-7 decided by the cart-idle timer, which
    fires once the watermark passes its due time (the trigger's event time), so delay_ms (the
    watermark delay) after it at the earliest: emitted 0.9 s after that, 5.9 s after their event
    time (on time: no breach, though 5.9 s > 5 s), except three of minute 6's, 8 s after it (late).
    fairness: in the first ten-minute window `discount` reaches new and regular customers far more
    often than vip ones (breach), `survey` reaches them evenly; in the second window both are even."""
    out = []

    def trigger(action: str, customer: str, segment: str | None, event_time: int, latency_ms: int,
                moment: str = "interaction") -> None:
        out.append(_trigger(f"t{len(out)}", action, customer, segment, event_time, latency_ms, moment))

    for m in (2, 3, 4):
        for i in range(10):
            trigger("callback", f"c{i}", None, start + m * MINUTE + i * 3000, 8000 if m == 3 and i < 3 else 900)
    for m in (5, 6, 7):
        for i in range(10):
            latency = delay_ms + (8000 if m == 6 and i < 3 else 900)
            trigger("cart_recovery", f"c{i}", None, start + m * MINUTE + 10_000 + i * 3000 - latency, latency,
                    "cart_idle")
    for w, per_segment in ((0, {"discount": (8, 8, 2), "survey": (4, 4, 4)}),
                           (1, {"discount": (5, 5, 5), "survey": (4, 4, 4)})):
        for action, counts in per_segment.items():
            for s, (segment, n) in enumerate(zip(SEGMENTS, counts, strict=True)):
                for i in range(n):
                    customer = f"c{3 * i + s}"  # c{k} has segment SEGMENTS[k % 3], as in _interactions
                    trigger(action, customer, segment, start + w * FAIR_WINDOW + (i + 1) * 20_000 + s * 1000, 700)
    return sorted(out, key=lambda t: t["emit_time"])


def _disordered_triggers(start: int) -> list[dict]:
    """`cart_recovery` triggers in the order the decisions job emits them: emit times in order, event
    times not. Every `new` customer's trigger is a cart-idle timer that fires 40 s after its
    triggering moment, so its event time is ~19 s behind that of the trigger emitted 20 s before it
    (decided within a second of its event): far past the 5 s out-of-orderness an event-time watermark
    allows. Window 0: new 8, regular 8, vip 2 (ratio 0.25 with the timers counted, 0 without them);
    window 1: 4 each (resolves)."""
    out = []
    for w, counts in ((0, {"new": 8, "regular": 8, "vip": 2}), (1, {"new": 4, "regular": 4, "vip": 4})):
        emitted = 0
        for i in range(max(counts.values())):
            for segment in ("regular", "new", "vip"):
                if i >= counts[segment]:
                    continue
                emit = start + w * FAIR_WINDOW + 30_000 + emitted * 20_000
                latency = 40_000 if segment == "new" and w == 0 else 700
                customer = f"c{3 * i + SEGMENTS.index(segment)}"  # segment as in _interactions
                out.append(_trigger(f"d{w}-{segment}-{i}", "cart_recovery", customer, segment, emit - latency,
                                    latency))
                emitted += 1
    return out


def _drift(start: int) -> list[dict]:
    """amount's PSI breaches in minutes 1-2 (one alert, count 2), its JS distance never does."""
    psi = [0.1, 0.3, 0.4, 0.1, 0.1]
    return [{"feature": "amount", "window_start": start + m * MINUTE, "window_end": start + (m + 1) * MINUTE,
             "reference": "default", "sample_size": 100, "null_rate": 0.0, "psi": p, "ks_statistic": 0.1,
             "js_distance": 0.05, "mean_shift_sd": 0.1, "std_ratio": 1.0} for m, p in enumerate(psi)]


def _sentiment(start: int) -> list[dict]:
    """agent a1: negative share above the bound in one window; channel chat: very negative but too few
    turns; a customer scope: not monitored."""
    out = []
    for m in range(5):
        base = {"customer_id": None, "window_start": start + (m - 4) * MINUTE, "window_end": start + (m + 1) * MINUTE,
                "min_compound": -0.9, "trend_slope": None, "escalation": None}
        out.append({**base, "scope": "agent", "scope_id": "a1", "message_count": 10,
                    "negative_share": 0.7 if m == 2 else 0.2, "mean_compound": 0.1})
        out.append({**base, "scope": "channel", "scope_id": "chat", "message_count": 3,
                    "negative_share": 0.9, "mean_compound": -0.8})
        out.append({**base, "scope": "customer", "scope_id": "c1", "message_count": 10,
                    "negative_share": 0.9, "mean_compound": -0.8})
    return out


# -- the oracle --------------------------------------------------------------------------------
def _evaluation(kind: str, subject: str, ws: int, we: int, observed: float, breached: bool) -> dict:
    return {"kind": kind, "subject": subject, "window_start": int(ws), "window_end": int(we),
            "observed": float(observed), "breached": bool(breached)}


def _evaluations(start: int, rows: list[dict], letters: list[dict], triggers: list[dict], drift: list[dict],
                 sentiment: list[dict], interactions_topic: str, delay_ms: int) -> list[dict]:
    """Per (kind, subject, window): the statistic and whether it breaches, computed in pandas."""
    out: list[dict] = []

    def add(kind: str, subject: str, ws: int, we: int, observed: float, breached: bool) -> None:
        out.append(_evaluation(kind, subject, ws, we, observed, breached))

    df = pd.DataFrame(rows)
    df["minute"] = df["event_time"] // MINUTE * MINUTE
    lag = RULES["event_lag"]
    for minute, g in df.groupby("minute"):
        p99 = float(np.percentile((g["_kafka_ts"] - g["event_time"]) / 1000.0, 99))
        if len(g) >= lag["min_records"]:
            add("event_lag", "cx.events.interactions", minute, minute + MINUTE, p99, p99 > lag["max_p99_seconds"])

    tp = RULES["throughput_drop"]
    counts = df.groupby("minute").size().sort_index()
    for k, (minute, n) in enumerate(counts.items()):
        previous = counts.iloc[max(0, k - tp["baseline_minutes"]):k]
        if len(previous) >= tp["min_baseline_minutes"] and previous.mean() >= tp["min_baseline_records"]:
            add("throughput_drop", "cx.events.interactions", minute, minute + MINUTE, n,
                n < tp["min_ratio"] * previous.mean())

    dl = pd.DataFrame(letters)
    dl = dl[dl["source_topic"] == interactions_topic]
    dl["minute"] = dl["detected_at"] // MINUTE * MINUTE
    dead = dl.drop_duplicates(["source_partition", "source_offset"]).groupby("minute").size()
    for minute, n in counts.items():
        d = int(dead.get(minute, 0))
        if d + n >= RULES["dlq_rate"]["min_records"]:
            add("dlq_rate", "cx.events.interactions", minute, minute + MINUTE, d / (d + n),
                d / (d + n) > RULES["dlq_rate"]["max_rate"])

    tr = pd.DataFrame(triggers)
    tr["minute"] = tr["emit_time"] // MINUTE * MINUTE  # the alerts job's event time for triggers
    # From the event, or for a cart-idle timer from its due time + the watermark delay: the earliest
    # moment the timer can fire.
    timer = tr["evidence"].map(lambda e: e.get("moment") == "cart_idle")
    tr["latency_ms"] = tr["emit_time"] - tr["event_time"] - timer * delay_ms
    e2e = RULES["e2e_latency"]
    for minute, g in tr.groupby("minute"):
        if len(g) >= e2e["min_triggers"]:
            p99 = float(np.percentile(g["latency_ms"] / 1000.0, 99))
            add("e2e_latency", "cx.nba.triggers", minute, minute + MINUTE, p99, p99 > e2e["max_p99_seconds"])

    dr = RULES["drift"]
    for d in drift:
        if d["sample_size"] >= dr["min_sample_size"]:
            add("drift", "amount.psi", d["window_start"], d["window_end"], d["psi"], d["psi"] > dr["max_psi"])
            add("drift", "amount.js_distance", d["window_start"], d["window_end"], d["js_distance"],
                d["js_distance"] > dr["max_js_distance"])

    ss = RULES["sentiment_spike"]
    for s in sentiment:
        if s["scope"] in ("agent", "channel") and s["message_count"] >= ss["min_messages"]:
            subject = f"{s['scope']}:{s['scope_id']}"
            add("sentiment_spike", subject + ".negative_share", s["window_start"], s["window_end"],
                s["negative_share"], s["negative_share"] > ss["max_negative_share"])
            add("sentiment_spike", subject + ".mean_compound", s["window_start"], s["window_end"],
                s["mean_compound"], s["mean_compound"] < ss["min_mean_compound"])

    return out + _fairness_evaluations(rows, triggers)


def _fairness_evaluations(rows: list[dict], triggers: list[dict]) -> list[dict]:
    """Per action and fairness window: triggers per active customer of each segment, lowest over
    highest. Triggers count in the window of their emit time (the alerts job's event time for
    cx.nba.triggers, see schemas/nba_trigger.avsc), active customers in that of their interactions."""
    fr = RULES["fairness"]
    out = []
    df, tr = pd.DataFrame(rows), pd.DataFrame(triggers)
    df["fwin"] = df["event_time"] // FAIR_WINDOW * FAIR_WINDOW
    tr["fwin"] = tr["emit_time"] // FAIR_WINDOW * FAIR_WINDOW
    active = df.groupby(["fwin", "segment"])["customer_id"].nunique()
    for (fwin, action), g in tr.groupby(["fwin", "action"]):
        rates = {}
        for segment in SEGMENTS:
            n_active = int(active.get((fwin, segment), 0))
            if n_active >= fr["min_active_customers"]:
                rates[segment] = (g["segment"] == segment).sum() / n_active
        if len(rates) >= 2 and len(g) >= fr["min_triggers"] and max(rates.values()) > 0:
            ratio = min(rates.values()) / max(rates.values())
            out.append(_evaluation("fairness", action, fwin, fwin + FAIR_WINDOW, ratio, ratio < fr["min_ratio"]))
    return out


def _expected_alerts(evaluations: list[dict]) -> dict[tuple[str, str], list[tuple]]:
    """The records cx.alerts should carry per key: open at the first breach, the count growing while
    breaches continue, resolved at the first clean window (resolve_after = 1 in rules/alerts.yaml)."""
    assert RULES["resolve_after"] == 1
    by_key: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for e in evaluations:
        by_key[(e["kind"], e["subject"])].append(e)
    expected = {}
    for key, evs in by_key.items():
        records, count, first = [], 0, None
        for e in sorted(evs, key=lambda e: e["window_end"]):
            if e["breached"]:
                if count == 0:
                    first = e["window_end"]
                count += 1
                records.append(("open", count, first, e["window_end"], e["window_start"], e["observed"]))
            elif count:
                records.append(("resolved", count, first, records[-1][3], e["window_start"], e["observed"]))
                count = 0
        if records:
            expected[key] = records
    return expected


# -- the test ----------------------------------------------------------------------------------
def _produce_in_one_partition(bootstrap: str, profile, contract_name: str, records: list[dict],
                              timestamps: list[int]) -> None:
    """Output rows, in the order given, all into partition 0.

    The drift and sentiment jobs key their topics by window, so a window's rows land on every
    partition. Live, each window's rows arrive together; a five-row backlog replayed from the
    beginning, though, may be read one partition at a time, and the rows of the partition read
    last would be behind the watermark (late, so dead-lettered). One partition keeps this test
    about alerting; the README's known limits say what a replay of these topics risks. Triggers go
    to one partition where their order on the topic is what a test is about.
    """
    from kafka import KafkaProducer

    c = contracts.load(contract_name)
    codec = Codec(c, profile.value_format)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for r, ts in zip(records, timestamps, strict=True):
        producer.send(profile.topic(c.topic), key=key_bytes(c, r), value=codec.encode(r), partition=0,
                      timestamp_ms=ts)
    producer.flush()
    producer.close()


def _produce_interactions(bootstrap: str, profile, rows: list[dict]) -> None:
    """_interactions' rows, each stamped with its own Kafka timestamp."""
    produce_records(bootstrap, profile, "interaction", [{k: v for k, v in r.items() if k != "_kafka_ts"} for r in rows],
                    [r["_kafka_ts"] for r in rows])


def _alerts_by_key(messages) -> dict[tuple[str, str], list[dict]]:
    """cx.alerts' records per (kind, subject): one key's records share a partition and keep their order."""
    got: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for m in messages:
        got[(m.record["kind"], m.record["subject"])].append(m.record)
    return got


def _assert_history(key: tuple[str, str], history: list[dict], records: list[tuple]) -> None:
    """One key's alert records against _expected_alerts' for it, observed values included."""
    assert [(a["state"], a["count"], a["first_seen"], a["last_seen"], a["window_start"]) for a in history] == \
        [r[:5] for r in records], key
    for a, r in zip(history, records, strict=True):
        assert a["observed"] == pytest.approx(r[5], rel=1e-9), (key, a)
        assert a["severity"] == RULES[key[0]]["severity"]
        if a["state"] == "open":
            assert a["observed"] != pytest.approx(a["threshold"])


def _tail(bootstrap: str, prefix: str, *args: str, max_records: int) -> list[dict]:
    cmd = [sys.executable, "-m", "cxstream.cli", "tail", f"{prefix}cx.alerts", "--bootstrap-servers", bootstrap,
           "--topic-prefix", prefix, "--json", "--max", str(max_records), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.slow
def test_every_alert_kind_opens_counts_and_resolves_as_the_oracle_says(bootstrap: str, prefix: str) -> None:
    profile = make_test_profile(bootstrap, prefix, "avro")
    start = (int(time.time() * 1000) // FAIR_WINDOW - 6) * FAIR_WINDOW
    rows = _interactions(start)
    letters = _dead_letters(start, profile.topic("cx.events.interactions"))
    delay_ms = profile.watermark_delay_s * 1000
    triggers, drift, sentiment = _triggers(start, delay_ms), _drift(start), _sentiment(start)
    _produce_interactions(bootstrap, profile, rows)
    produce_records(bootstrap, profile, "dlq_record", letters, [r["detected_at"] for r in letters])
    produce_records(bootstrap, profile, "nba_trigger", triggers, [t["emit_time"] for t in triggers])
    _produce_in_one_partition(bootstrap, profile, "drift_stat", drift, [r["window_end"] + 2000 for r in drift])
    _produce_in_one_partition(bootstrap, profile, "sentiment_aggregate", sentiment,
                              [r["window_end"] + 2000 for r in sentiment])

    run_bounded("alerts", profile)

    expected = _expected_alerts(_evaluations(start, rows, letters, triggers, drift, sentiment,
                                             profile.topic("cx.events.interactions"), delay_ms))
    # The job has finished, so what it wrote lies below the topic's end offsets: read up to them, with
    # no quiet spell that a reader stalled on a loaded machine could cut short (seen before: whole
    # alert kinds missing).
    messages = read_written(bootstrap, profile, "cx.alerts")
    got = _alerts_by_key(messages)

    # Every kind is exercised, and the stream was built to breach each exactly as described above.
    assert {k for k, _ in expected} == {"event_lag", "e2e_latency", "throughput_drop", "dlq_rate", "drift",
                                        "sentiment_spike", "fairness"}
    assert [r[:2] for r in expected[("event_lag", "cx.events.interactions")]] == \
        [("open", 1), ("open", 2), ("open", 3), ("resolved", 3)]
    # e2e_latency: minute 3's late triggers, then minute 6's late timers; minute 5's timers, prompt
    # but more than 5 s after their due time, are clean (measured from due time + watermark delay).
    assert [(r[0], r[1], (r[4] - start) // MINUTE) for r in expected[("e2e_latency", "cx.nba.triggers")]] == \
        [("open", 1, 3), ("resolved", 1, 4), ("open", 1, 6), ("resolved", 1, 7)]
    assert set(expected) == {("event_lag", "cx.events.interactions"), ("e2e_latency", "cx.nba.triggers"),
                             ("throughput_drop", "cx.events.interactions"), ("dlq_rate", "cx.events.interactions"),
                             ("drift", "amount.psi"), ("sentiment_spike", "agent:a1.negative_share"),
                             ("fairness", "discount")}

    assert set(got) == set(expected), (sorted(got), sorted(expected))
    for key, records in expected.items():
        _assert_history(key, got[key], records)

    # tail: the minimum-severity and kind filters, then a consumer group resuming where it stopped.
    total = len(messages)
    critical = [m.record for m in messages if m.record["severity"] == "critical"]
    assert critical and len(critical) < total
    shown = _tail(bootstrap, prefix, "--from-beginning", "--severity", "critical", max_records=len(critical))
    assert sorted((r["value"]["kind"], r["value"]["count"], r["value"]["state"]) for r in shown) == \
        sorted((a["kind"], a["count"], a["state"]) for a in critical)
    fairness = _tail(bootstrap, prefix, "--from-beginning", "--kind", "fairness",
                     max_records=len(got[("fairness", "discount")]))
    assert [r["value"]["state"] for r in fairness] == [a["state"] for a in got[("fairness", "discount")]]

    first = _tail(bootstrap, prefix, "--from-beginning", "--group", f"{prefix}oncall", max_records=5)
    rest = _tail(bootstrap, prefix, "--from-beginning", "--group", f"{prefix}oncall", max_records=total - 5)
    seen = [(r["partition"], r["offset"]) for r in first + rest]
    assert len(first) == 5 and len(set(seen)) == len(seen) == total
    assert set(seen) == {(m.partition, m.offset) for m in messages}



def _split_before_disorder(triggers: list[dict]) -> list[list[dict]]:
    """The triggers in order, cut before each one whose event time is behind an earlier one's."""
    batches: list[list[dict]] = []
    latest = None
    for t in triggers:
        if not batches or (latest is not None and t["event_time"] < latest):
            batches.append([])
        batches[-1].append(t)
        latest = t["event_time"] if latest is None else max(latest, t["event_time"])
    return batches


def _wait_until_read(bootstrap: str, group: str, topic: str, offset: int, timeout_s: float = 180) -> None:
    """Until the job's checkpoints have committed `offset` on partition 0 of `topic` for its group:
    it has read everything before it (a fixed pause says nothing on a loaded machine)."""
    from kafka import KafkaConsumer, TopicPartition

    watcher = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout_s
        while (watcher.committed(TopicPartition(topic, 0)) or 0) < offset:
            assert time.monotonic() < deadline, f"the job did not read {topic} up to offset {offset}"
            time.sleep(0.3)
    finally:
        watcher.close()


@pytest.mark.slow
def test_triggers_out_of_order_in_event_time_count_for_fairness_and_none_is_late(bootstrap: str, prefix: str) -> None:
    """The decisions job writes triggers as it decides them, from four inputs and from cart-idle
    timers, so their event times are out of order on cx.nba.triggers while their emit times are not.
    The alerts job must count every one of them (none dead-lettered as late).

    Live, not bounded: a backlog is read faster than the source's periodic watermark moves, so it
    would hide the disorder. The triggers arrive as they would from a running decisions job, each
    batch read (and the watermark moved past it) before the next, which starts with a trigger
    behind the previous batch's event times."""
    profile = make_test_profile(bootstrap, prefix, "avro", partitions=1)  # one partition: order is the topic's
    start = (int(time.time() * 1000) // FAIR_WINDOW - 6) * FAIR_WINDOW
    rows, triggers = _interactions(start), _disordered_triggers(start)
    emit = [t["emit_time"] for t in triggers]
    batches = _split_before_disorder(triggers)
    assert emit == sorted(emit) and len(batches) > 5  # in order of emit time, not of event time
    _produce_interactions(bootstrap, profile, rows)
    group, topic = f"{prefix}alerts", profile.topic("cx.nba.triggers")
    pipeline = build([load_spec("alerts")], profile, RunOptions(checkpoint_interval="1 s", group_id=group),
                     job_name="test-alerts-disordered-triggers")
    client = pipeline.execute().get_job_client()
    key = ("fairness", "cart_recovery")
    try:
        for batch in batches:
            sent = produce_records(bootstrap, profile, "nba_trigger", batch, [t["emit_time"] for t in batch])
            _wait_until_read(bootstrap, group, topic, sent[-1].offset + 1)
            time.sleep(0.5)  # and the source's periodic watermark (every 200 ms) has moved past it
        # Close every window: an interaction and a trigger of now (no window of theirs has enough to evaluate).
        now = int(time.time() * 1000)
        _produce_interactions(bootstrap, profile, [{**rows[-1], "event_id": "flush", "event_time": now,
                                                    "_kafka_ts": now}])
        flush = _trigger("flush", "flush", "c0", "new", now - 700, 700)
        produce_records(bootstrap, profile, "nba_trigger", [flush], [flush["emit_time"]])
        with TopicReader(bootstrap, [profile.topic("cx.alerts")], topic_prefix=prefix) as reader:
            alerts = reader.read_until(lambda got: len(_alerts_by_key(got)[key]) >= 2, 240)
        letters = [m.record for m in read_settled(bootstrap, profile, "cx.dlq")]
    finally:
        client.cancel().result()

    assert [r for r in letters if r["stage"] == "late" or r["source_topic"].endswith("cx.nba.triggers")] == []
    expected = _expected_alerts(_fairness_evaluations(rows, triggers))
    assert [(r[0], r[5]) for r in expected[key]] == [("open", pytest.approx(0.25)), ("resolved", 1.0)]  # timers count
    _assert_history(key, _alerts_by_key(alerts)[key], expected[key])
