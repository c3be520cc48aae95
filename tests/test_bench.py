"""`cxstream bench` runs end to end and writes what it prints (small sizes: a smoke test, not a timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cxstream import bench
from cxstream.paths import REPO_ROOT
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow


def test_bench_writes_throughput_and_latency_json(bootstrap: str, tmp_path) -> None:
    """Both phases of one entry, end to end. --warmup 2 instead of the default 20 s, a fixed sleep:
    the warm-up keeps a job's start-up out of a real measurement, and this smoke test needs samples
    and a report, not a steady state."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cxstream.cli", "bench", "jobs", "--only", "passthrough", "--events", "3000",
         "--rate", "300", "--seconds", "8", "--warmup", "2", "--bootstrap-servers", bootstrap, "--out", str(out)],
        capture_output=True, text=True, env=subprocess_env(), timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    report = json.loads(out.read_text())
    (entry,) = report["results"]
    assert report["simulator_linger_ms"] == 30 and report["jvm_args"] == os.environ.get("JVM_ARGS")
    assert entry["name"] == "passthrough" and entry["input_events"] > 2000 and entry["events_per_s"] > 0
    latency = entry["latency_ms"]["cx.bench.passthrough"]
    assert latency["samples"] > 500 and 0 <= latency["p50"] <= latency["p99"]
    assert entry["achieved_rate"] > 100
    # Who held the cores while latency was sampled: the job at work, the simulator sending, and
    # together no more than the machine has.
    cores = entry["cores_used"]
    assert cores["flink job"] > 0.05 and cores["simulator"] > 0.01, cores
    assert sum(cores.values()) <= (os.cpu_count() or 1) * 1.1 and 0 < entry["cpu_busy"] <= 1, entry
    assert "CPU while sampling latency" in proc.stdout
    assert "cx.bench.passthrough" in proc.stdout  # the printed table
    # Where the throughput phase's time went, from Flink's task metrics: the source task is there,
    # and each task's busy + back-pressured + idle time is (about) the whole second.
    tasks = {t["task"]: t for t in entry["task_time"]}
    assert any(name.startswith("Source:") for name in tasks), tasks
    for t in tasks.values():
        assert 900 <= t["busy_ms_per_s"] + t["backpressured_ms_per_s"] + t["idle_ms_per_s"] <= 1100, t
    assert "task time in the throughput phase" in proc.stdout


def test_a_timer_trigger_is_timed_from_its_due_time_plus_the_watermark_delay() -> None:
    """A cart-idle trigger's event time is its timer's due time; the timer fires once the watermark
    passes it, the watermark delay later at the earliest. The bench times it from there, as it times
    a window from window end + delay and as sql/alerts.sql's e2e_latency does; other triggers from
    their event."""
    sys.path.insert(0, str(REPO_ROOT / "udfs"))
    import nba_rules

    timer = {"event_time": 100_000, "evidence": {"moment": "cart_idle", "event_id": "e1/cart_idle"}}
    assert bench._latency_of(timer, 5000, received_ms=105_900) == 900
    assert bench._latency_of({**timer, "evidence": {"moment": "interaction"}}, 5000, received_ms=105_900) == 5900
    assert bench._latency_of({"event_time": 100_000}, 5000, received_ms=100_250) == 250
    assert bench._latency_of({"window_end": 100_000}, 5000, received_ms=105_400) == 400
    # The bench's timer moments are the rules' own.
    assert bench.TIMER_MOMENTS == set(nba_rules.TIMER_MOMENTS)


def test_triggers_decided_by_a_timer_are_reported_apart_from_those_decided_at_their_event() -> None:
    moment = next(iter(bench.TIMER_MOMENTS))
    timer = {"event_time": 100_000, "evidence": {"moment": moment}}
    assert bench._sample_key("cx.nba.triggers", timer) == "cx.nba.triggers (timers)"
    assert bench._sample_key("cx.nba.triggers", {**timer, "evidence": {"moment": "interaction"}}) == "cx.nba.triggers"
    assert bench._sample_key("cx.signals", {"window_end": 100_000}) == "cx.signals"


def test_a_trigger_is_also_timed_to_its_emit_time_to_separate_the_job_from_the_delivery() -> None:
    trigger = {"event_time": 100_000, "emit_time": 100_080, "evidence": {"moment": "interaction"}}
    assert bench._samples_of("cx.nba.triggers", trigger, 5000, received_ms=100_250) == [
        ("cx.nba.triggers", 250), ("cx.nba.triggers (emitted)", 80)]
    timer = {**trigger, "emit_time": 105_900, "evidence": {"moment": next(iter(bench.TIMER_MOMENTS))}}
    assert bench._samples_of("cx.nba.triggers", timer, 5000, received_ms=106_000) == [
        ("cx.nba.triggers (timers)", 1000), ("cx.nba.triggers (timers) (emitted)", 900)]
    assert bench._samples_of("cx.signals", {"window_end": 100_000}, 5000, received_ms=105_400) == [
        ("cx.signals", 400)]


def test_only_narrows_the_suite_to_the_jobs_that_run_together_and_refuses_unknown_names() -> None:
    """`bench suite --only` was silently ignored: the whole suite ran whatever it named."""
    baseline, suite = bench._entries("suite", "decisions,sentiment")
    assert baseline.jobs == ["passthrough"]
    assert suite.name == "suite" and suite.jobs == ["sentiment", "decisions"]  # in pipeline order
    assert [e.jobs for e in bench._entries("jobs", "signals")] == [["passthrough"], ["signals"]]
    assert [e.jobs for e in bench._entries("jobs", "passthrough")] == [["passthrough"]]
    with pytest.raises(SystemExit, match="no such job here: decision"):
        bench._entries("suite", "decision")
