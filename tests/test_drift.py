"""Drift statistics: the functions against scipy/numpy, the job against a batch computation.

The e2e test streams the simulator's traffic with its injected drift (from minute 10 on: amounts
tripled, 60 % of interactions moved to kiosks) and checks that drift is reported only after the drift
point, and that every row equals the same statistics computed with numpy from the produced records.
Customers' sentiment is monitored too; the injected drift leaves the conversations alone, so it must
stay quiet.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from cxstream.paths import REPO_ROOT
from cxstream.simulator import SimulatorConfig, generate
from tests.conftest import make_test_profile, subprocess_env
from tests.kafka_io import produce_records, read_written, run_bounded

sys.path.insert(0, str(REPO_ROOT / "udfs"))
import drift  # noqa: E402


def _numpy_bins(feature: dict, values: list) -> np.ndarray:
    """Counts per reference bin, computed with numpy (an independent binning of the same definition)."""
    if feature["kind"] == "numeric":
        idx = np.searchsorted(np.array(feature["edges"]), np.array(values, dtype=float), side="right")
    else:
        cats = feature["categories"]
        idx = np.array([cats.index(v) if v in cats else len(cats) for v in values], dtype=int)
    return np.bincount(idx, minlength=len(feature["shares"])).astype(float)


def _numpy_psi(counts: np.ndarray, shares: list[float]) -> float:
    p = np.maximum(counts / counts.sum(), drift.EPSILON)
    q = np.maximum(np.array(shares), drift.EPSILON)
    return float(np.sum((p - q) * np.log(p / q)))


def test_statistics_agree_with_scipy_and_numpy() -> None:
    rng = np.random.default_rng(7)
    reference = rng.lognormal(3.5, 0.8, 20_000)
    feature = drift.build_feature("numeric", reference.tolist())
    for sample in (rng.lognormal(3.5, 0.8, 3_000), rng.lognormal(4.0, 0.9, 3_000)):
        counts = _numpy_bins(feature, sample.tolist())
        got = drift.statistics(feature, counts.tolist(), len(sample), 0, float(sample.sum()),
                               float((sample ** 2).sum()))
        assert got["psi"] == pytest.approx(_numpy_psi(counts, feature["shares"]), abs=1e-12)
        assert got["js_distance"] == pytest.approx(
            jensenshannon(counts / counts.sum(), feature["shares"], base=2), abs=1e-9)
        exact_ks = sps.ks_2samp(sample, reference).statistic
        largest_bin = max(max(feature["shares"]), float((counts / counts.sum()).max()))
        assert got["ks_statistic"] <= exact_ks + 1e-9
        assert exact_ks - got["ks_statistic"] <= largest_bin  # the error binning can introduce
        assert got["mean_shift_sd"] == pytest.approx((sample.mean() - reference.mean()) / reference.std(ddof=1))
        assert got["std_ratio"] == pytest.approx(sample.std(ddof=1) / reference.std(ddof=1))
    same = drift.statistics(feature, [s * 1000 for s in feature["shares"]], 1000, 0, 0.0, 0.0)
    assert same["psi"] == pytest.approx(0.0, abs=1e-3) and same["js_distance"] == pytest.approx(0.0, abs=1e-6)


def _expected(records: list[dict], reference: dict, feature_name: str, window_ms: int = 60_000) -> pd.DataFrame:
    feature = reference["features"][feature_name]
    rows = []
    df = pd.DataFrame(records)
    if feature_name == "amount":
        df = df[df["event_type"].isin(["add_to_cart", "remove_from_cart", "purchase"])]
    if feature_name == "sentiment_compound":  # records are the customers' messages, already scored
        df = df.rename(columns={"compound": feature_name})
    df = df.assign(window_start=df["event_time"] - df["event_time"] % window_ms)
    for start, g in df.groupby("window_start"):
        values = g[feature_name].tolist()
        present = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
        counts = _numpy_bins(feature, present)
        arr = np.array(present, dtype=float) if feature["kind"] == "numeric" else None
        row = {"feature": feature_name, "window_start": start, "sample_size": len(present),
               "null_rate": (len(values) - len(present)) / len(values),
               "psi": _numpy_psi(counts, feature["shares"]) if present else None,
               "js_distance": float(jensenshannon(counts / counts.sum(), feature["shares"], base=2))
               if present else None}
        if arr is not None and len(arr) > 1:
            row["mean_shift_sd"] = (arr.mean() - feature["mean"]) / feature["std"]
            row["std_ratio"] = arr.std(ddof=1) / feature["std"]
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_drift_is_reported_after_the_drift_point_only_and_equals_numpy(bootstrap: str, prefix: str, tmp_path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from cxstream.reference import _with_compound, build_profile, contract_of

    profile = make_test_profile(bootstrap, prefix, "avro")
    start = (int(time.time() * 1000) // 60_000 - 120) * 60_000
    settled = start + 30 * 60_000  # the simulator's world settles in its first half hour of event time
    drift_at = settled + 10 * 60_000

    def simulated(seed: int, drift_after_s: float | None) -> list[dict]:
        config = SimulatorConfig(seed=seed, world_seed=3, clock="simulated", start_ms=start, rate=0, event_rate=100,
                                 duration_s=50 * 60, customers=3000, drift_after_s=drift_after_s)
        return [e.record for e in generate(config) if e.good and e.contract in ("interaction", "message")
                and not e.duplicate and e.record["event_time"] >= settled]

    # The same world twice: one stretch of traffic is the reference, another (with the simulator's
    # injected drift from minute 40 on) is the stream.
    reference_records = simulated(4, None)
    stream = simulated(5, (drift_at - start) / 1000)
    records = [r for r in stream if contract_of(r) == "interaction"]
    messages = [r for r in stream if contract_of(r) == "message"]
    scored_turns = [m for m in _with_compound(messages) if m["sender"] == "customer"]
    reference = build_profile(reference_records, "test-reference", "the test's last 20 minutes")
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(reference))
    monkeypatch.setenv("CXSTREAM_DRIFT_REFERENCE", str(path))
    produce_records(bootstrap, profile, "interaction", records, [r["event_time"] for r in records])
    produce_records(bootstrap, profile, "message", messages, [r["event_time"] for r in messages])

    run_bounded("drift", profile)

    got = pd.DataFrame([m.record for m in read_written(bootstrap, profile, "cx.drift")])
    assert set(got["reference"]) == {"test-reference"}
    for name in ("amount", "channel", "event_type", "sentiment_compound"):
        want = _expected(scored_turns if name == "sentiment_compound" else records, reference, name)
        have = got[got["feature"] == name].sort_values("window_start")
        assert len(have) == len(want) == 20, name
        merged = want.merge(have, on=["feature", "window_start"], suffixes=("_want", "_got"))
        for column in ("sample_size", "null_rate", "psi", "js_distance", "mean_shift_sd", "std_ratio"):
            if f"{column}_want" in merged:
                diff = (merged[f"{column}_want"].astype(float) - merged[f"{column}_got"].astype(float)).abs()
                assert (diff.fillna(0) < 1e-9).all(), (name, column)
        before, after = have[have["window_start"] < drift_at], have[have["window_start"] >= drift_at]
        if name in ("amount", "channel"):
            assert (before["psi"] < 0.25).all(), (name, before["psi"].max())
            assert (after["psi"] > 0.25).all(), (name, after["psi"].min())
        else:  # event types and conversations were not touched
            assert (have["psi"] < 0.25).all(), (name, have["psi"].max())
    amount_after = got[(got["feature"] == "amount") & (got["window_start"] >= drift_at)]
    assert (amount_after["mean_shift_sd"] > 0.5).all()  # amounts tripled: the mean moves by most of an SD


def test_reference_build_from_a_file_and_from_a_topic(bootstrap: str, prefix: str, tmp_path) -> None:
    import subprocess

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    config = SimulatorConfig(seed=4, clock="simulated", start_ms=1_700_000_000_000, rate=0, event_rate=50, count=4000)
    records = [e.record for e in generate(config) if e.good and not e.duplicate and e.contract == "interaction"]
    messages = [e.record for e in generate(config) if e.good and not e.duplicate and e.contract == "message"]
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records + messages))
    cli = [sys.executable, "-m", "cxstream.cli", "reference", "build"]
    built = subprocess.run(cli + ["--from-file", str(jsonl), "--out", str(tmp_path / "f.json")],
                           capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert built.returncode == 0, built.stderr
    from_file = json.loads((tmp_path / "f.json").read_text())
    amounts = [r["amount"] for r in records if r["event_type"] in ("add_to_cart", "remove_from_cart", "purchase")]
    assert from_file["features"]["amount"]["sample_size"] == len(amounts)
    assert from_file["features"]["amount"]["mean"] == pytest.approx(np.mean(amounts))
    channel = from_file["features"]["channel"]
    assert channel["shares"][:-1] == pytest.approx(
        [sum(r["channel"] == c for r in records) / len(records) for c in channel["categories"]])
    vader = SentimentIntensityAnalyzer()
    turns = [vader.polarity_scores(m["text"])["compound"] for m in messages if m["sender"] == "customer"]
    sentiment = from_file["features"]["sentiment_compound"]
    assert sentiment["sample_size"] == len(turns) > 50
    assert sentiment["mean"] == pytest.approx(np.mean(turns))
    assert sentiment["std"] == pytest.approx(np.std(turns, ddof=1))

    # Interactions alone cannot make a reference for the sentiment feature: one clear line, no trace.
    only_interactions = tmp_path / "interactions.jsonl"
    only_interactions.write_text("\n".join(json.dumps(r) for r in records))
    refused = subprocess.run(cli + ["--from-file", str(only_interactions), "--out", str(tmp_path / "x.json")],
                             capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert refused.returncode != 0 and "no values for sentiment_compound" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "x.json").exists()

    profile = make_test_profile(bootstrap, prefix, "avro")
    produce_records(bootstrap, profile, "interaction", records, [r["event_time"] for r in records])
    produce_records(bootstrap, profile, "message", messages, [r["event_time"] for r in messages])
    half = records[len(records) // 2]["event_time"]
    built = subprocess.run(cli + ["--from-topic", profile.topic("cx.events.interactions"),
                                  "--from-topic", profile.topic("cx.events.messages"), "--topic-prefix", prefix,
                                  "--start", str(half), "--bootstrap-servers", bootstrap,
                                  "--out", str(tmp_path / "t.json")],
                           capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert built.returncode == 0, built.stderr
    from_topic = json.loads((tmp_path / "t.json").read_text())
    assert from_topic["records"] == sum(r["event_time"] >= half for r in records + messages)
