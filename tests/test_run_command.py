"""The README's first command, as a user runs it: `cxstream run` with the simulator, until --duration."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow


def test_run_shows_live_output_and_produces_signals_then_stops_cleanly(bootstrap: str) -> None:
    # 100 s: the first 5-minute HOP window that a 1-minute slide closes needs up to 65 s of event time.
    proc = subprocess.run(
        [sys.executable, "-m", "cxstream.cli", "run", "--bootstrap-servers", bootstrap, "--duration", "100",
         "--rate", "200"],
        capture_output=True, text=True, env=subprocess_env(), timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "submitted" in proc.stderr
    assert "── cxstream ·" in proc.stdout  # the live view was printed
    assert re.search(r"metrics \(Prometheus\): http://127\.0\.0\.1:\d+/metrics", proc.stderr), proc.stderr[-2000:]
    done = re.search(r"done\. output records seen: (.*)", proc.stderr)
    assert done, proc.stderr[-2000:]
    seen = dict(item.split("=") for item in done.group(1).split(", ") if "=" in item)
    for topic in ("cx.signals", "cx.sentiment", "cx.drift"):  # every suite job produced something
        assert int(seen.get(topic, "0").replace(",", "")) > 0, (topic, done.group(0))
    assert int(seen.get("cx.dlq", "0").replace(",", "")) > 0, "the simulator's 1% bad records reach the DLQ"
