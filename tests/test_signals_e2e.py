"""The signals job end to end: simulator → cx.events.interactions → Flink → cx.signals and cx.dlq.

The expected windows are computed by pandas (tests/oracles.py) from the records the simulator says
it produced, so the job's output is checked against an independent batch computation.
"""

from __future__ import annotations

import time
from collections import Counter

import pandas as pd
import pytest

from cxstream import contracts
from cxstream.simulator import SimulatorConfig, run
from tests.conftest import make_test_profile
from tests.kafka_io import read_settled, run_bounded
from tests.oracles import hop_signals

pytestmark = pytest.mark.slow


def _latest_per_key(messages, key_fields: list[str]) -> pd.DataFrame:
    """Upsert semantics: for each key, the last record written wins."""
    latest: dict[tuple, dict] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        latest[tuple(m.record[k] for k in key_fields)] = m.record
    return pd.DataFrame(list(latest.values()))


def test_signals_equal_a_pandas_computation_and_bad_records_reach_the_dlq(bootstrap: str, prefix: str) -> None:
    profile = make_test_profile(bootstrap, prefix, "avro")
    start = (int(time.time() * 1000) // 60_000 - 60) * 60_000  # an hour ago, on a minute boundary
    config = SimulatorConfig(seed=11, clock="simulated", start_ms=start, rate=0, event_rate=40,
                             duration_s=20 * 60, customers=60, topic_prefix=prefix, bad_share=0.03,
                             collect=True)
    stats = run(config, bootstrap, progress=False)
    interactions_topic = profile.topic("cx.events.interactions")
    assert stats.failed == 0 and stats.records is not None
    produced = [p.record for p in stats.records[interactions_topic] if not p.duplicate]
    bad_sent = stats.topics[interactions_topic].bad
    assert len(produced) > 1000 and bad_sent > 10

    run_bounded("signals", profile)

    signal = contracts.load("signal")
    got = _latest_per_key(read_settled(bootstrap, profile, "cx.signals"), list(signal.key))
    expected = hop_signals(produced)
    assert len(got) == len(expected)
    key = ["customer_id", "window_start", "window_end"]
    merged = expected.merge(got, on=key, how="outer", suffixes=("_want", "_got"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    for column in expected.columns:
        if column in key:
            continue
        want, have = merged[f"{column}_want"], merged[f"{column}_got"]
        if column in ("cart_value", "purchase_value"):
            assert ((want - have).abs() < 1e-6).all(), column
        else:
            assert (want == have).all(), column

    dlq = [m.record for m in read_settled(bootstrap, profile, "cx.dlq")]
    from_interactions = [r for r in dlq if r["source_topic"] == interactions_topic]
    assert len(from_interactions) == bad_sent
    stages = Counter(r["stage"] for r in from_interactions)
    assert set(stages) <= {"decode", "validate"} and all(r["reason"] for r in from_interactions)
