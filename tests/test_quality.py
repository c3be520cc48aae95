"""Data quality: the suite against GE directly, and the job end to end on a stream that violates each
expectation exactly once, in its own window, between clean windows."""

from __future__ import annotations

import sys
import time

import pandas as pd
import pytest

from cxstream.paths import REPO_ROOT
from cxstream.sample_data import interactions
from tests.conftest import make_test_profile
from tests.kafka_io import produce_records, read_settled, run_bounded

sys.path.insert(0, str(REPO_ROOT / "udfs"))
import quality  # noqa: E402

SUITE = quality.load_suite("interaction")
COLUMNS = SUITE["meta"]["columns"]
MINUTE = 60_000


def _clean_minute(t0: int, seed: int) -> list[dict]:
    return interactions(120, t0, step_ms=500, seed=seed, customers=40)


def _violations(t0: int) -> dict[str, list[dict]]:
    """One batch per expectation that breaks it (and only it)."""
    null_purchase = _clean_minute(t0, 1)
    purchase = next(r for r in null_purchase if r["event_type"] == "purchase")
    purchase["amount"] = None
    huge = _clean_minute(t0, 2)
    next(r for r in huge if r["amount"] is not None)["amount"] = 50_000.0
    pricey = [{**r, "amount": 5_000.0 if r["amount"] is not None else None} for r in _clean_minute(t0, 3)]
    sparse = _clean_minute(t0, 4)[:10]
    one_customer = [{**r, "customer_id": "c1"} for r in _clean_minute(t0, 5)]
    return {"expect_column_values_to_not_be_null": null_purchase, "expect_column_values_to_be_between": huge,
            "expect_column_mean_to_be_between": pricey, "expect_table_row_count_to_be_between": sparse,
            "expect_column_unique_value_count_to_be_between": one_customer}


def test_each_expectation_passes_on_clean_traffic_and_fails_on_its_violation() -> None:
    assert {e["type"] for e in SUITE["expectations"]} == set(_violations(0))
    assert quality.evaluate(SUITE, _clean_minute(0, 9)) == []
    for expectation, rows in _violations(0).items():
        failed = quality.evaluate(SUITE, [{c: r[c] for c in COLUMNS} for r in rows])
        assert [f["expectation"] for f in failed] == [expectation]


def _observed(expectation: str, rows: list[dict]) -> float:
    """What each expectation measures, computed with pandas (the oracle)."""
    df = pd.DataFrame(rows)
    if expectation == "expect_column_values_to_not_be_null":
        purchases = df[df["event_type"] == "purchase"]
        return 100.0 * purchases["amount"].isna().sum() / len(purchases)
    if expectation == "expect_column_values_to_be_between":
        amounts = df["amount"].dropna()
        return 100.0 * ((amounts < 0) | (amounts > 10_000)).sum() / len(amounts)
    if expectation == "expect_column_mean_to_be_between":
        return float(df["amount"].dropna().mean())
    if expectation == "expect_table_row_count_to_be_between":
        return float(len(df))
    return float(df["customer_id"].nunique())


@pytest.mark.slow
def test_the_job_raises_one_alert_per_violation_and_none_for_clean_windows(bootstrap: str, prefix: str) -> None:
    profile = make_test_profile(bootstrap, prefix, "avro")
    start = (int(time.time() * 1000) // MINUTE - 30) * MINUTE
    records: list[dict] = []
    expected: dict[tuple[str, int], float] = {}
    minute = 0
    for i, (expectation, rows) in enumerate(_violations(0).items()):
        records += _clean_minute(start + minute * MINUTE, 100 + i)  # a clean window between violations
        minute += 1
        t0 = start + minute * MINUTE
        shifted = [{**r, "event_id": f"v{i}-{r['event_id']}", "event_time": r["event_time"] + t0} for r in rows]
        records += shifted
        expected[(expectation, t0)] = _observed(expectation, shifted)
        minute += 1
    records += _clean_minute(start + minute * MINUTE, 99)
    for j, r in enumerate(records):
        r["event_id"] = f"{j}-{r['event_id']}"
    produce_records(bootstrap, profile, "interaction", records, [r["event_time"] for r in records])

    run_bounded("quality", profile)

    alerts = [m.record for m in read_settled(bootstrap, profile, "cx.alerts")]
    got = {}
    for a in alerts:
        assert a["kind"] == "data_quality" and a["state"] == "open" and a["count"] == 1
        expectation = a["subject"].split(".")[1].split(" @ ")[0]
        got[(expectation, a["window_start"])] = a
    assert set(got) == set(expected), (sorted(got), sorted(expected))
    for key, observed in expected.items():
        assert got[key]["observed"] == pytest.approx(observed), key
        assert got[key]["window_end"] == key[1] + MINUTE
        assert key[0] in got[key]["detail"]
