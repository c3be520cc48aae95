"""Where the CPU went during a measurement: the machine's busy share and each process tree's cores.

On a 2-core machine a latency tail is mostly waiting for a core, so the benchmarks say who held
the cores (the broker, the Flink JVM and its Python workers, the simulator) beside each figure.
Linux only: it reads /proc.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CpuSnapshot:
    at: float  # time.monotonic()
    machine_total: int  # jiffies of all cores, from /proc/stat
    machine_idle: int  # idle + iowait jiffies
    processes: dict[int, tuple[int, int]]  # pid -> (parent pid, user + system clock ticks)


def snapshot() -> CpuSnapshot:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    processes = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended while we looked
                continue
            processes[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return CpuSnapshot(time.monotonic(), sum(values), values[3] + values[4], processes)


def busy_share(before: CpuSnapshot, after: CpuSnapshot) -> float:
    """Share of all cores' time that was busy between the two snapshots (0..1)."""
    total = after.machine_total - before.machine_total
    return 1 - (after.machine_idle - before.machine_idle) / max(total, 1)


def _tree_ticks(snap: CpuSnapshot, root: int, exclude: frozenset[int]) -> int:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in snap.processes.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in exclude:
            continue
        total += snap.processes.get(pid, (0, 0))[1]
        todo += children.get(pid, [])
    return total


def tree_cores(before: CpuSnapshot, after: CpuSnapshot, root: int, exclude: tuple[int, ...] = ()) -> float:
    """Cores used by `root` and its descendants (minus the trees of `exclude`) between the snapshots.

    Both snapshots must be taken while the processes live: a process that ended in between is not
    counted at all.
    """
    skip = frozenset(exclude)
    ticks = _tree_ticks(after, root, skip) - _tree_ticks(before, root, skip)
    return ticks / os.sysconf("SC_CLK_TCK") / max(after.at - before.at, 1e-9)
