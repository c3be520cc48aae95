"""Where Flink's Python workers spend their time: py-spy samples, summarised per function.

Used by `cxstream bench --py-spy`. On the embedded MiniCluster PyFlink runs the Python workers in
loopback mode, as threads of the process that submitted the job (the bench itself), so that process
is the one sampled; its profile then also holds the bench's own threads (the latency reader). In
process mode (on a cluster, or with _python_worker_execution_mode=process) each Python operator chain
runs in a worker process that the TaskManager's JVM starts (pyflink.fn_execution.beam.*), and the
workers are found among the bench's descendants. (Until this was noticed the bench sampled, in
loopback mode, a boot process that only waits on gRPC.) py-spy samples from outside (no code change
in the job, ~1 % overhead at 100 samples/s) and writes collapsed stacks ("frame;frame;frame count"),
which this module reduces to the two numbers that point at a bottleneck: self time (where the CPU
actually is) and inclusive time of the project's own functions (which of our stages costs what).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

WORKER_MARKERS = ("pyflink.fn_execution", "beam_boot", "pyflink/fn_execution")
OWN_CODE_MARKERS = ("/udfs/", "/cxstream/")  # matched in full paths: py-spy runs with --full-filenames


@dataclass
class Profile:
    """One worker's samples: total, and the top functions by self and by inclusive samples."""

    pid: int
    samples: int
    top_self: list[tuple[str, int]]
    top_own_inclusive: list[tuple[str, int]]
    raw_path: str


def python_workers(root_pid: int, in_this_process: bool = False) -> list[int]:
    """The processes the job's Python workers run in: root_pid itself when they are its threads
    (in_this_process, PyFlink's loopback mode), else its descendants that are PyFlink workers."""
    if in_this_process:
        return [root_pid]
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            try:
                cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if any(m in cmdline for m in WORKER_MARKERS) and "java" not in cmdline.split(" ", 1)[0]:
                found.append(child)
    return found


def start(pids: list[int], seconds: float, out_dir: Path) -> list[tuple[int, Path, subprocess.Popen[bytes]]]:
    """One `py-spy record` per worker, in the background; collect() waits for them."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    running = []
    for pid in pids:
        raw = out_dir / f"pyspy-{pid}.txt"
        cmd = [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "100",
               "--format", "raw", "--nonblocking", "--full-filenames", "--output", str(raw)]
        running.append((pid, raw, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    return running


def collect(running: list[tuple[int, Path, subprocess.Popen[bytes]]], top: int = 12) -> list[Profile]:
    profiles = []
    for pid, raw, proc in running:
        _, err = proc.communicate()
        if proc.returncode != 0 or not raw.exists():
            print(f"[py-spy] worker {pid}: no profile ({err.decode(errors='replace').strip()[-200:]})")
            continue
        profiles.append(summarise(pid, raw, top))
    return profiles


def summarise(pid: int, raw: Path, top: int = 12) -> Profile:
    """Self samples per leaf frame; inclusive samples per frame of the project's own code."""
    self_samples: Counter[str] = Counter()
    own_inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        self_samples[_short(frames[-1])] += count
        for frame in dict.fromkeys(frames):  # a recursive frame counts once per sample
            if any(m in frame for m in OWN_CODE_MARKERS):
                own_inclusive[_short(frame)] += count
    return Profile(pid, total, self_samples.most_common(top), own_inclusive.most_common(top), str(raw))


def _short(frame: str) -> str:
    """'decide (/x/udfs/nba_rules.py:301)' → 'decide (nba_rules.py:301)'."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1]}" if where else name


def print_profiles(profiles: list[Profile]) -> None:
    for p in profiles:
        print(f"\npy-spy, Python worker {p.pid}: {p.samples:,} samples (100/s); raw stacks in {p.raw_path}")
        print(f"  {'self %':>6}  function")
        for name, n in p.top_self:
            print(f"  {100 * n / max(p.samples, 1):>6.1f}  {name}")
        print(f"  {'incl %':>6}  project function (inclusive)")
        for name, n in p.top_own_inclusive:
            print(f"  {100 * n / max(p.samples, 1):>6.1f}  {name}")
