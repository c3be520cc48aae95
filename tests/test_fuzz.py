"""Hostile input at volume: the jobs stay up, every bad record is in cx.dlq with the right reason,
and every good record interleaved with them comes out.

The simulator's hostile generator produces truncated and random bytes, wrong schemas, wrong types,
missing fields, huge strings, NaN/Inf, absurd timestamps, blank ids, unknown enum values and
invalid UTF-8 across the four input topics, and says for each why the project's rules must reject
it; the pass-through job (which reads all four inputs through the same source, format and contract
checks as every job) is the witness.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest

from cxstream import contracts
from cxstream.simulator import SimulatorConfig, generate
from tests.conftest import make_test_profile
from tests.kafka_io import produce, read_written, run_bounded

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("fmt", "count"), [("avro", 14_000), ("json", 8_000)])
def test_hostile_records_all_reach_the_dlq_and_good_ones_all_pass(bootstrap: str, prefix: str, fmt: str,
                                                                  count: int) -> None:
    profile = make_test_profile(bootstrap, prefix, fmt)
    config = SimulatorConfig(seed=5, fmt=fmt, clock="simulated", rate=0, count=count, customers=500,
                             topic_prefix=prefix, bad_share=0.5, huge_bytes=200_000)
    events = list(generate(config))
    bad = [e for e in events if not e.good]
    assert len(bad) > count * 0.4 and len({e.bad_kind for e in bad}) >= 9

    by_topic: dict[str, list] = defaultdict(list)
    for e in events:
        by_topic[e.topic].append(e)
    expected: dict[tuple[str, int, int], object] = {}
    for topic, topic_events in by_topic.items():
        sent = produce(bootstrap, topic, [(e.key, e.value, e.timestamp_ms) for e in topic_events])
        for s, e in zip(sent, topic_events, strict=True):
            expected[(topic, s.partition, s.offset)] = e

    run_bounded("passthrough", profile)

    dlq = [m.record for m in read_written(bootstrap, profile, "cx.dlq")]
    assert len(dlq) == len(bad), Counter(r["stage"] for r in dlq)
    for letter in dlq:
        e = expected[(letter["source_topic"], letter["source_partition"], letter["source_offset"])]
        assert not e.good, letter
        if e.bad_reason.startswith("invalid: "):
            assert (letter["stage"], letter["reason"]) == ("validate", e.bad_reason), (e.bad_kind, letter)
        else:
            assert letter["stage"] == "decode", (e.bad_kind, letter)
            assert letter["reason"].startswith("undecodable: ")

    for copy_topic, contract_name in contracts.COPY_TOPICS.items():
        source = profile.topic(contracts.load(contract_name).topic)
        good = [e for e in by_topic[source] if e.good]
        out = read_written(bootstrap, profile, copy_topic)
        id_field = contracts.load(contract_name).fields[0].name
        assert sorted(m.record[id_field] for m in out) == sorted(e.record[id_field] for e in good), copy_topic
        for m in out:  # field for field, as decoded on both sides
            assert m.record is not None
    counts = Counter(e.bad_kind for e in bad)
    print(json.dumps({"format": fmt, "hostile": len(bad), "good": len(events) - len(bad), "by_kind": counts}))
