"""`cxstream report`: the page shows the numbers of the JSON and metrics it was given."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cxstream.report import load_bench, load_run, render


def _bench_file(tmp_path: Path) -> Path:
    data = {"suite": "jobs", "started": "2026-11-23T05:09:18Z", "results": [
        {"name": "signals", "input_events": 43048, "events_per_s": 1985.7004, "offered_rate": 1000,
         "achieved_rate": 970.83,
         "latency_ms": {"cx.signals": {"p50": 1234.0, "p95": 2345.6, "p99": 3456.7, "max": 4000, "samples": 812}}},
        {"name": "sentiment", "input_events": 9000, "events_per_s": 4321.0, "latency_ms": {
            "cx.sentiment": {"p50": 987.0, "p95": 1999.0, "p99": 2999.0, "max": 3100, "samples": 77}}},
    ]}
    path = tmp_path / "jobs-test.json"
    path.write_text(json.dumps(data))
    return path


def _run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    snaps = [
        {"time": 1000.0, "topics": {
            "cx.events.interactions": {"records_in": 0, "records_out": 0, "to_dlq": 0, "lag_ms": None},
            "cx.signals": {"records_in": 0, "records_out": 0, "to_dlq": 0, "lag_ms": None}}},
        {"time": 1010.0, "topics": {
            "cx.events.interactions": {"records_in": 3000, "records_out": 0, "to_dlq": 4, "lag_ms": None},
            "cx.signals": {"records_in": 0, "records_out": 500, "to_dlq": 0,
                           "lag_ms": {"0.5": 1500.0, "0.95": 2600.0, "0.99": 2900.0}}}},
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(s) + "\n" for s in snaps))
    return run


def test_report_shows_the_numbers_it_was_given(tmp_path: Path) -> None:
    bench = load_bench([_bench_file(tmp_path), tmp_path / "missing.json"])
    snaps = load_run(_run_dir(tmp_path))
    alerts = [{"kind": "dlq_rate", "subject": "cx.events.interactions", "window_end": 1_763_870_400_000,
               "detail": "DLQ share 4% > 1%"},
              {"kind": "drift", "subject": "amount", "window_end": 1_763_870_460_000, "detail": "psi 0.4"}]
    html = render(bench, snaps, alerts, ["test"])
    text = re.sub(r"<[^>]+>", " ", html)
    # Throughput, and latency percentiles per output topic, from the bench JSON.
    for number in ("1,986", "4,321", "43,048", "1,234", "2,346", "3,457", "987", "1,999", "2,999"):
        assert f" {number} " in text, number
    assert "cx.signals" in text and "cx.sentiment" in text
    # Run metrics: the rate between the snapshots (3000 records in 10 s) and the last lag quantiles.
    assert "<polyline" in html
    assert " 3,000 " in text and " 500 " in text and " 2,900 " in text
    # Alerts over time: one mark per alert, and a count per kind.
    assert html.count("<circle") == 2 and "dlq_rate" in text and "drift" in text
    assert html.count("<svg") == 5


def test_report_without_inputs_says_so() -> None:
    html = render([], [], None, [])
    assert "No benchmark results" in html and "No run metrics" in html and "cx.alerts was not read" in html
