"""Data quality: the suite against GE directly, and the job end to end on a stream that violates each
expectation exactly once, in its own window, between clean windows."""

from __future__ import annotations

import sys
import time

import pandas as pd
import pytest

from cxstream.paths import REPO_ROOT
from cxstream.sample_data import interactions
from tests.conftest import make_test_profile, subprocess_env
from tests.kafka_io import produce_records, read_written, run_bounded

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
def test_the_job_opens_counts_and_resolves_one_alert_per_expectation(bootstrap: str, prefix: str) -> None:
    """Each violation in its own window between clean windows: open (count 1), then resolved by the
    next clean window. The row-count violation comes back later for two windows in a row: a second
    episode of the same alert, counted to 2 in place, then resolved."""
    profile = make_test_profile(bootstrap, prefix, "avro")
    start = (int(time.time() * 1000) // MINUTE - 30) * MINUTE
    records: list[dict] = []
    # (expectation, breached window start, observed by the oracle) in order
    breaches: list[tuple[str, int, float]] = []
    minute = 0

    def add_violation(i: int, expectation: str, rows: list[dict]) -> None:
        t0 = start + minute * MINUTE
        shifted = [{**r, "event_id": f"v{i}-{r['event_id']}", "event_time": r["event_time"] + t0} for r in rows]
        records.extend(shifted)
        breaches.append((expectation, t0, _observed(expectation, shifted)))

    violations = _violations(0)
    for i, (expectation, rows) in enumerate(violations.items()):
        records.extend(_clean_minute(start + minute * MINUTE, 100 + i))  # a clean window between violations
        minute += 1
        add_violation(i, expectation, rows)
        minute += 1
    records.extend(_clean_minute(start + minute * MINUTE, 98))
    minute += 1
    sparse = "expect_table_row_count_to_be_between"
    for i in (10, 11):  # the same failure in two consecutive windows
        add_violation(i, sparse, violations[sparse])
        minute += 1
    records.extend(_clean_minute(start + minute * MINUTE, 99))
    for j, r in enumerate(records):
        r["event_id"] = f"{j}-{r['event_id']}"
    produce_records(bootstrap, profile, "interaction", records, [r["event_time"] for r in records])

    run_bounded("quality", profile)

    alerts = [m.record for m in read_written(bootstrap, profile, "cx.alerts")]
    by_subject: dict[str, list[dict]] = {}
    for a in alerts:  # one key per subject: its records are in one partition, in order
        assert a["kind"] == "data_quality"
        by_subject.setdefault(a["subject"].split(".")[1], []).append(a)
    assert set(by_subject) == set(violations)

    # The expected history per expectation, from the breach list: consecutive windows form one episode.
    for expectation, history in by_subject.items():
        mine = [(t0, obs) for e, t0, obs in breaches if e == expectation]
        expected: list[tuple[str, int, int, int, int, float | None]] = []  # state, count, first, last, window, obs
        first = None
        for k, (t0, obs) in enumerate(mine):
            if first is None or mine[k - 1][0] != t0 - MINUTE:
                first = t0
                count = 0
            count += 1
            expected.append(("open", count, first + MINUTE, t0 + MINUTE, t0, obs))
            if k + 1 == len(mine) or mine[k + 1][0] != t0 + MINUTE:  # the next window is clean
                expected.append(("resolved", count, first + MINUTE, t0 + MINUTE, t0 + MINUTE, None))
        assert [(a["state"], a["count"], a["first_seen"], a["last_seen"], a["window_start"]) for a in history] == \
            [e[:5] for e in expected], expectation
        for a, e in zip(history, expected, strict=True):
            if a["state"] == "open":
                assert a["observed"] == pytest.approx(e[5]), (expectation, a)
                assert expectation in a["detail"]
            assert a["window_end"] == a["window_start"] + MINUTE
    assert len(by_subject[sparse]) == 5  # open, resolved, open, open (count 2), resolved


_WARM_UP_PROBE = """
import sys
from cxstream.profiles import make_profile
from cxstream.runtime import RunOptions, build, load_spec
assert "great_expectations" not in sys.modules
profile = make_profile("local", "127.0.0.1:1", "avro", "warm.")
pipeline = build([load_spec("quality")], profile, RunOptions(checkpoint_interval=None))
print("after build", "great_expectations" in sys.modules)
# Submitting is not what this checks (there is no broker at 127.0.0.1:1): only what execute() does
# before it submits.
pipeline.statements = type("NotSubmitted", (), {"execute": lambda self: None})()
pipeline.execute()
print("warm" if sys.modules["quality"]._batch_definition.cache_info().currsize else "cold",
      "great_expectations" in sys.modules)
"""


@pytest.mark.parametrize(("mode", "expected"), [(None, "warm True"), ("process", "cold False")])
def test_great_expectations_is_ready_before_the_first_window_when_the_workers_run_in_this_process(
        mode: str | None, expected: str) -> None:
    """On the embedded MiniCluster PyFlink runs the UDFs as threads of the client (loopback mode), and
    GE's import took 25 s there under the suite's load, holding the quality window, and through the
    shared interactions source every job's input, at its first firing. Submitting the job imports it
    first; with separate worker processes ('process' mode) the client has no use for it."""
    import subprocess

    env = {k: v for k, v in subprocess_env().items() if k != "_python_worker_execution_mode"}
    if mode:
        env["_python_worker_execution_mode"] = mode
    done = subprocess.run([sys.executable, "-c", _WARM_UP_PROBE], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == expected, done.stdout[-2000:]
    assert lines[-2] == "after build False", done.stdout[-2000:]  # a job only built or explained does not pay it
