"""The README's first command, as a user runs it: `cxstream run` with the simulator, until it is told to
stop. Each run is started in a process group of its own and the whole group is killed when the test
ends, however it ends, so neither the simulator nor Flink's JVM outlives a test.

Every case pays for a full start of the suite on Flink, so each stop path is run once: SIGINT (Python's
own handler) once the live view shows every job's output, SIGTERM (cxstream's handler) as soon as the
simulator runs. Both raise KeyboardInterrupt into the same clean-up, which --duration's end reaches
without one."""

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

# An output of every suite job that the live view counts; cx.dlq: the simulator's 1% bad records.
OUTPUTS = ("cx.signals", "cx.sentiment", "cx.drift", "cx.dlq")


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
    comes (both pipes drained, so a long live view cannot block it).

    With `sigint_ignored` it starts the way a non-interactive shell starts `cxstream run &`: with SIGINT
    ignored, which Python would otherwise keep."""

    def __init__(self, bootstrap: str, *args: str, sigint_ignored: bool = False) -> None:
        def ignore_sigint() -> None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cxstream.cli", "run", "--bootstrap-servers", bootstrap, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(), start_new_session=True,
            preexec_fn=ignore_sigint if sigint_ignored else None,
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

    def wait_for_output(self, topics: tuple[str, ...], timeout_s: float) -> None:
        """Until the latest live-view block on stdout counts records on every one of `topics`."""
        deadline = time.monotonic() + timeout_s
        counts: dict[str, int] = {}
        while not all(counts.get(t, 0) > 0 for t in topics):
            assert self.proc.poll() is None, f"run ended before output on {topics}: {self.err[-3000:]}"
            assert time.monotonic() < deadline, f"no output on all of {topics} within {timeout_s} s: {counts}"
            time.sleep(0.5)
            for line in list(self.stdout):  # the latest block's count wins
                m = re.match(r"\s+(?:in |out) (\S+)\s+([\d,]+) records", line)
                if m:
                    counts[m.group(1)] = int(m.group(2).replace(",", ""))

    def simulator(self) -> int:
        """The pid of the simulator the command started (a child of it); killed at the end too."""
        simulators = [pid for pid, parent, _, cmd in _processes()
                      if parent == self.proc.pid and "cxstream.cli simulate" in cmd]
        self.strays += simulators
        assert len(simulators) == 1, _processes()
        return simulators[0]

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


def test_run_shows_live_output_and_produces_signals_then_stops_cleanly_on_sigint(bootstrap: str) -> None:
    """Until every job has shown output in the live view, then `kill -INT` to the command alone (not
    its group, which a terminal's Ctrl-C would reach): the command itself must stop its simulator.
    Started with SIGINT ignored, as from a script's `cxstream run &`: the command must still obey it."""
    # The first 5-minute HOP window that a 1-minute slide closes needs up to 65 s of event time;
    # --duration is only a backstop here.
    with _Run(bootstrap, "--duration", "600", "--rate", "200", sigint_ignored=True) as run:
        run.wait_for_output(OUTPUTS, 420)
        run.simulator()
        os.kill(run.proc.pid, signal.SIGINT)
        assert run.wait(120) == 0, run.err[-3000:]
        stdout, stderr = "".join(run.stdout), run.err
        assert run.left_behind(30) == []  # the simulator, Flink's JVM and its workers ended with it
    assert "submitted" in stderr
    assert "── cxstream ·" in stdout  # the live view was printed
    assert re.search(r"metrics \(Prometheus\): http://127\.0\.0\.1:\d+/metrics", stderr), stderr[-2000:]
    done = re.search(r"done\. output records seen: (.*)", stderr)
    assert done, stderr[-2000:]
    seen = dict(item.split("=") for item in done.group(1).split(", ") if "=" in item)
    for topic in OUTPUTS:  # every suite job produced something, and the simulator's 1% bad records reach the DLQ
        assert int(seen.get(topic, "0").replace(",", "")) > 0, (topic, done.group(0))


def test_run_stops_its_simulator_on_sigterm(bootstrap: str) -> None:
    """SIGTERM goes to the command alone (as `kill PID` or a supervisor sends it), not to its group:
    the command itself must stop the simulator it started, wherever that runs. Python's default for
    SIGTERM ends the process at once; cxstream run turns it into the clean-up Ctrl-C gets."""
    with _Run(bootstrap, "--duration", "600", "--rate", "50") as run:
        run.wait_for("simulator producing", 300)
        run.simulator()
        os.kill(run.proc.pid, signal.SIGTERM)
        assert run.wait(120) == 0, run.err[-3000:]
        assert "done. output records seen" in run.err
        assert run.left_behind(30) == []


# A stand-in for `cxstream run`: starts the simulator with the same helper, says its pid, then waits.
_PARENT = """
import argparse, sys, time
from cxstream.suite import _start_simulator
sim = _start_simulator(argparse.Namespace(rate=50, bad_share=0.0, format="avro"), sys.argv[1])
print(sim.pid, flush=True)
time.sleep(600)
"""


def test_a_simulator_stops_and_flushes_when_its_parent_is_killed(bootstrap: str, tmp_path: Path) -> None:
    """`kill -9` of `cxstream run` gives it no chance to stop its simulator, which went on producing,
    adopted by init. The mechanism is tested without the ~100 s start of a whole run: a small parent
    starts the simulator through the same helper and is SIGKILLed alone (not its group); the simulator
    must notice, take its SIGINT path (stop, flush, report) and exit within seconds."""
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, bootstrap], stdout=subprocess.PIPE, text=True,
                              env=subprocess_env(CXSTREAM_HOME=str(tmp_path)), start_new_session=True)
    log = tmp_path / "logs" / "simulator.log"
    try:
        sim = int(parent.stdout.readline())  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while "acked" not in (log.read_text() if log.exists() else ""):  # its progress line: producing
            assert parent.poll() is None and time.monotonic() < deadline, log.read_text() if log.exists() else ""
            time.sleep(0.2)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 15
        while any(pid == sim for pid, *_ in _processes()):
            assert time.monotonic() < deadline, f"the simulator outlived its parent by 15 s: {log.read_text()[-2000:]}"
            time.sleep(0.2)
    finally:
        try:
            os.killpg(parent.pid, signal.SIGKILL)  # the simulator is in the parent's group
        except ProcessLookupError:
            pass
        parent.wait(10)
    assert "interrupted: everything handed to the producer was flushed before exit" in log.read_text()


def test_a_simulator_whose_parent_died_before_it_watched_stops_at_once(bootstrap: str, tmp_path: Path) -> None:
    """The simulator arms its parent-death signal only once it runs; a parent that died before that
    sends none. Then getppid() no longer names the parent given (here a pid that never was its parent),
    and it must stop the ordinary way at once instead of producing forever."""
    started = time.monotonic()
    sim = subprocess.run([sys.executable, "-m", "cxstream.cli", "simulate", "--bootstrap-servers", bootstrap,
                          "--rate", "50", "--stop-with-parent", "1"], capture_output=True, text=True,
                         env=subprocess_env(CXSTREAM_HOME=str(tmp_path)), timeout=60)
    assert sim.returncode == 0, sim.stderr[-2000:]
    assert "parent process 1 is gone; stopping" in sim.stderr
    assert "interrupted: everything handed to the producer was flushed before exit" in sim.stderr
    assert time.monotonic() - started < 30
