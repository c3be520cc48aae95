"""The sentiment UDF and job: the UDF against VADER itself, the job against a pandas computation."""

from __future__ import annotations

import math
import sys
import time

import pandas as pd
import pytest

from cxstream import contracts
from cxstream.paths import REPO_ROOT
from cxstream.simulator import SimulatorConfig, run
from tests import oracles
from tests.conftest import make_test_profile
from tests.kafka_io import read_written, run_bounded

sys.path.insert(0, str(REPO_ROOT / "udfs"))
import sentiment as sentiment_udf  # noqa: E402


def test_udf_scores_like_vader_and_tolerates_empty_text() -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts = pd.Series(["This is great, thank you so much!",
                       "This is terrible and useless, I am furious. Awful service!", "", None,
                       "The parcel arrived on Tuesday."])
    got = sentiment_udf.compound_scores(texts)
    vader = SentimentIntensityAnalyzer()
    assert got[0] == vader.polarity_scores(texts[0])["compound"] > 0.5
    assert got[1] == vader.polarity_scores(texts[1])["compound"] < -0.5
    assert got[2] == got[3] == 0.0
    assert abs(got[4]) < 0.05
    assert list(got) == [sentiment_udf.compound_score(t) for t in texts]  # one text at a time: the same


def test_the_decisions_stage_scores_customer_turns_as_the_sentiment_job_does() -> None:
    """The decisions job scores each customer turn in its stream stage (udfs/decisions_stage.py),
    not with the sentiment job's vectorised UDF: the same score, and none for other kinds of row."""
    import decisions_stage

    text = "This is terrible and useless, I am furious. Awful service!"
    row = dict.fromkeys(("customer_id", "event_id", "event_type", "amount", "segment", "conversation_id",
                         "context_type", "severity", "attributes", "outcome", "trigger_id"))
    turn = decisions_stage.to_event({**row, "kind": "message", "text": text}, 1_000)
    assert turn.compound == sentiment_udf.compound_scores(pd.Series([text]))[0] < -0.5
    assert decisions_stage.to_event({**row, "kind": "interaction", "text": None}, 1_000).compound is None


@pytest.mark.slow
def test_sentiment_aggregates_equal_a_pandas_computation(bootstrap: str, prefix: str) -> None:
    profile = make_test_profile(bootstrap, prefix, "avro")
    start = (int(time.time() * 1000) // 60_000 - 60) * 60_000
    config = SimulatorConfig(seed=21, clock="simulated", start_ms=start, rate=0, event_rate=30,
                             duration_s=15 * 60, customers=200, topic_prefix=prefix, collect=True,
                             scenarios=("cart_abandon_negative_chat",))
    stats = run(config, bootstrap, progress=False)
    messages = [p.record for p in stats.records[profile.topic("cx.events.messages")] if not p.duplicate]
    assert len(messages) > 200

    run_bounded("sentiment", profile)

    key = list(contracts.load("sentiment_aggregate").key)
    latest: dict[tuple, dict] = {}
    for m in sorted(read_written(bootstrap, profile, "cx.sentiment"), key=lambda m: (m.partition, m.offset)):
        latest[tuple(m.record[k] for k in key)] = m.record
    got = pd.DataFrame(list(latest.values()))
    expected = oracles.sentiment(messages)
    assert len(got) == len(expected)
    assert set(got["scope"]) == {"conversation", "customer", "agent", "channel"}
    merged = expected.merge(got, on=key, how="outer", suffixes=("_want", "_got"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][key].head()
    for column in ("customer_id", "message_count", "escalation"):
        want, have = merged[f"{column}_want"], merged[f"{column}_got"]
        bad = ~((want == have) | (want.isna() & have.isna()))
        assert not bad.any(), merged.loc[bad, key + [f"{column}_want", f"{column}_got"]].head()
    for column in ("mean_compound", "min_compound", "negative_share", "trend_slope"):
        for want, have in zip(merged[f"{column}_want"], merged[f"{column}_got"], strict=True):
            if want is None or (isinstance(want, float) and math.isnan(want)):
                assert have is None or (isinstance(have, float) and math.isnan(have)), column
            else:
                assert abs(want - have) < 1e-9, (column, want, have)
    assert expected["escalation"].notna().any(), "the negative-chat scenario escalates"
