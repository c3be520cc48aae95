"""The README's first command, as a user runs it: `cxstream run` with the simulator, until --duration or
until it is told to stop. Each run is started in a process group of its own and the whole group is
killed when the test ends, however it ends, so neither the simulator nor Flink's JVM outlives a test."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow


def _processes() -> list[tuple[int, int, int, str]]:
    """(pid, parent pid, process group, command line) of every live process (zombies left out)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # the command name before it may hold spaces
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended meanwhile
            continue
        if fields[0] != "Z":
            out.append((int(stat.parent.name), int(fields[1]), int(fields[2]), cmdline.strip()))
    return out


class _Run:
    """`cxstream run` in a process group of its own (start_new_session), its output collected as it
    comes (both pipes drained, so a long live view cannot block it)."""

    def __init__(self, bootstrap: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cxstream.cli", "run", "--bootstrap-servers", bootstrap, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(), start_new_session=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [threading.Thread(target=lambda s=s, lines=lines: lines.extend(s), daemon=True)
                         for s, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()
        self.strays: list[int] = []  # processes it started outside its group, to kill at the end too

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    @property
    def err(self) -> str:
        return "".join(self.stderr)

    def wait_for(self, text: str, timeout_s: float) -> None:
        """Until `text` appears on stderr; fails if the command ends first."""
        deadline = time.monotonic() + timeout_s
        while text not in self.err:
            assert self.proc.poll() is None, f"run ended before {text!r}: {self.err[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout_s} s: {self.err[-3000:]}"
            time.sleep(0.5)

    def wait(self, timeout_s: float) -> int:
        """The command's exit code; on timeout, the whole group is killed and the test fails."""
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"run did not end within {timeout_s} s: {self.err[-3000:]}")
        for reader in self._readers:
            reader.join(10)
        return code

    def left_behind(self, grace_s: float) -> list[str]:
        """What is still running of the group, and of the strays, grace_s after the command ended."""
        deadline = time.monotonic() + grace_s
        while True:
            left = [f"{pid} {cmd[:160]}" for pid, _, group, cmd in _processes()
                    if group == self.proc.pid or pid in self.strays]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.5)

    def kill(self) -> None:
        """SIGKILL to the whole group (the command, its simulator, Flink's JVM and its Python workers)."""
        for kill, target in [(os.killpg, self.proc.pid)] + [(os.kill, pid) for pid in self.strays]:
            try:
                kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(30)


def test_run_shows_live_output_and_produces_signals_then_stops_cleanly(bootstrap: str) -> None:
    # 100 s: the first 5-minute HOP window that a 1-minute slide closes needs up to 65 s of event time.
    with _Run(bootstrap, "--duration", "100", "--rate", "200") as run:
        assert run.wait(600) == 0, run.err[-3000:]
        stdout, stderr = "".join(run.stdout), run.err
        assert run.left_behind(30) == []  # the simulator, Flink's JVM and its workers ended with it
    assert "submitted" in stderr
    assert "── cxstream ·" in stdout  # the live view was printed
    assert re.search(r"metrics \(Prometheus\): http://127\.0\.0\.1:\d+/metrics", stderr), stderr[-2000:]
    done = re.search(r"done\. output records seen: (.*)", stderr)
    assert done, stderr[-2000:]
    seen = dict(item.split("=") for item in done.group(1).split(", ") if "=" in item)
    for topic in ("cx.signals", "cx.sentiment", "cx.drift"):  # every suite job produced something
        assert int(seen.get(topic, "0").replace(",", "")) > 0, (topic, done.group(0))
    assert int(seen.get("cx.dlq", "0").replace(",", "")) > 0, "the simulator's 1% bad records reach the DLQ"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_stops_its_simulator_when_it_is_told_to_stop(bootstrap: str, stop: signal.Signals) -> None:
    """The signal goes to the command alone (as `kill PID` or a supervisor sends it), not to its group:
    the command itself must stop the simulator it started, wherever that runs."""
    with _Run(bootstrap, "--duration", "600", "--rate", "50") as run:
        run.wait_for("simulator producing", 300)
        simulators = [pid for pid, parent, _, cmd in _processes()
                      if parent == run.proc.pid and "cxstream.cli simulate" in cmd]
        run.strays += simulators
        assert len(simulators) == 1, _processes()
        os.kill(run.proc.pid, stop)
        assert run.wait(120) == 0, run.err[-3000:]
        assert "done. output records seen" in run.err
        assert run.left_behind(30) == []
