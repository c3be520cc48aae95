"""The spine, end to end: Python producer → real broker → Flink (cx-kafka connector) → broker → Python.

Every test here runs real Flink jobs on the embedded MiniCluster against the session's real broker.
"""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict

import pytest

from cxstream import contracts, validation
from cxstream.codec import Codec, key_bytes
from cxstream.runtime import RunOptions, build, load_spec, stop_with_savepoint
from cxstream.sample_data import interactions
from tests.conftest import make_test_profile
from tests.kafka_io import produce, produce_records, read_all, read_settled, run_bounded

pytestmark = pytest.mark.slow
T0 = int(time.time() * 1000) - 3_600_000


@pytest.mark.parametrize("fmt", ["avro", "json"])
def test_n_in_n_out_field_for_field_with_per_partition_order(bootstrap: str, prefix: str, fmt: str) -> None:
    profile = make_test_profile(bootstrap, prefix, fmt)
    # The optional segment both absent and present, so the nullable field round-trips both ways.
    records = [{**r, "segment": (None, "new", "regular", "vip")[i % 4]} for i, r in enumerate(interactions(3000, T0))]
    sent = produce_records(bootstrap, profile, "interaction", records, [r["event_time"] for r in records])

    run_bounded("passthrough", profile)

    out = read_all(bootstrap, profile, "cx.bench.passthrough", expect=len(records))
    assert len(out) == len(records)
    decoded = [m.record for m in out]
    assert sorted(decoded, key=lambda r: r["event_id"]) == sorted(records, key=lambda r: r["event_id"])
    # Order per input partition and key is kept: the copy is keyed like the source.
    sent_order: dict[tuple[int, bytes | None], list[str]] = defaultdict(list)
    for s in sent:
        sent_order[(s.partition, s.key)].append(s.record["event_id"])
    out_order: dict[bytes | None, list[str]] = defaultdict(list)
    for m in sorted(out, key=lambda m: (m.partition, m.offset)):
        out_order[key_bytes(contracts.load("interaction"), m.record)].append(m.record["event_id"])
    for (_, key), ids in sent_order.items():
        assert out_order[key] == ids


def test_bad_records_reach_the_dlq_with_reasons_and_good_ones_pass(bootstrap: str, prefix: str) -> None:
    profile = make_test_profile(bootstrap, prefix, "avro")
    c = contracts.load("interaction")
    codec = Codec(c, "avro")
    good = interactions(400, T0, seed=3)
    now = int(time.time() * 1000)
    bad_records = {
        "unknown channel": {**good[0], "event_id": "b1", "channel": "fax"},
        "empty customer_id": {**good[1], "event_id": "b2", "customer_id": ""},
        "absurd event_time": {**good[2], "event_id": "b3", "event_time": 253402300799000},  # year 9999
        "non-finite amount": {**good[3], "event_id": "b4", "amount": float("nan")},
    }
    items: list[tuple[bytes | None, bytes, int]] = []
    expected_reasons: list[str] = []
    for i, r in enumerate(good):
        items.append((key_bytes(c, r), codec.encode(r), r["event_time"]))
        if i % 100 == 50:  # interleave the hostile ones with good traffic
            items.append((b"x", b"\x00\xff garbage", now))
            expected_reasons.append("undecodable")
            items.append((b"x", codec.encode(good[5])[:7], now))  # truncated
            expected_reasons.append("undecodable")
    for reason, r in bad_records.items():
        items.append((key_bytes(c, r), codec.encode(r), now))
        assert validation.python_reason(c, r, now) == f"invalid: {reason}"
        expected_reasons.append(f"invalid: {reason}")
    sent = produce(bootstrap, profile.topic(c.topic), items)

    run_bounded("passthrough", profile)

    out = read_all(bootstrap, profile, "cx.bench.passthrough", expect=len(good))
    assert sorted(m.record["event_id"] for m in out) == sorted(r["event_id"] for r in good)
    dlq = read_all(bootstrap, profile, "cx.dlq", expect=len(expected_reasons))
    assert len(dlq) == len(expected_reasons)
    got = [m.record for m in dlq]
    assert sorted(r["reason"].split(":")[0] if r["stage"] == "decode" else r["reason"] for r in got) == \
        sorted(expected_reasons)
    by_offset = {(s.partition, s.offset): s for s in sent}
    for r in got:
        assert r["source_topic"] == profile.topic(c.topic)
        src = by_offset[(r["source_partition"], r["source_offset"])]
        if r["stage"] == "decode":
            assert base64.b64decode(r["payload"]) == src.value
        else:
            assert json.loads(r["payload"])["event_id"] in {v["event_id"] for v in bad_records.values()}
        assert r["job"] == "test-passthrough"


def test_stop_with_savepoint_and_resume_loses_nothing(bootstrap: str, prefix: str, tmp_path) -> None:
    profile = make_test_profile(bootstrap, prefix, "avro")
    first, second = interactions(1500, T0, seed=1), interactions(1500, T0 + 10_000_000, seed=2)
    for r in second:
        r["event_id"] = "late-" + r["event_id"]
    produce_records(bootstrap, profile, "interaction", first, [r["event_time"] for r in first])
    spec = [load_spec("passthrough")]
    pipeline = build(spec, profile, RunOptions(checkpoint_interval="2 s"), job_name="test-savepoint")
    client = pipeline.execute().get_job_client()
    assert len(read_all(bootstrap, profile, "cx.bench.passthrough", expect=len(first), timeout_s=90)) == len(first)
    savepoint = stop_with_savepoint(client, (tmp_path / "sp").as_uri())
    produce_records(bootstrap, profile, "interaction", second, [r["event_time"] for r in second])

    resumed = build(spec, profile, RunOptions(checkpoint_interval="2 s", restore_from=savepoint),
                    job_name="test-savepoint")
    client2 = resumed.execute().get_job_client()
    try:
        total = len(first) + len(second)
        read_all(bootstrap, profile, "cx.bench.passthrough", expect=total, timeout_s=90)
        out = read_settled(bootstrap, profile, "cx.bench.passthrough", quiet_s=3)
    finally:
        client2.cancel().result()
    ids = [m.record["event_id"] for m in out]
    assert len(ids) == len(set(ids)), "duplicates after resuming from the savepoint"
    assert set(ids) == {r["event_id"] for r in first + second}
