"""Does the trigger tail shrink if the decisions job gets a JVM of its own and the CPU first? In one run.

On 2 cores the whole suite at 300 events/s keeps the CPU busy, and the event → trigger p99 grows
with everything that shares it (README, "Benchmarks"). This compares, over the same broker and the
same simulated load, alternating configurations in rounds:

- together: the six suite jobs as one Flink job in one process, as `cxstream run` runs them;
- apart: decisions as one Flink job in its own process (its own MiniCluster JVM and Python), the
  five analytics jobs as another at a lower CPU priority (nice +10, inherited by their JVM and
  Python workers), so that the scheduler serves triggers first.

Every group runs in a child process of this script, and this script reads the outputs at normal
priority, so both configurations are measured the same way (latency as `cxstream bench` defines it).
The CPU each process tree used while sampling is read from /proc. Prints a table and writes
bench/results/suite_isolation.json.

    .venv/bin/python bench/suite_isolation.py [--rounds 2] [--rate 300] [--seconds 45]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cxstream import bench, broker, cpu_usage  # noqa: E402
from cxstream.profiles import make_profile  # noqa: E402
from cxstream.runtime import RunOptions, build, load_spec, suite_job_names  # noqa: E402

LOW_PRIORITY = 10  # nice value of the analytics group in the "apart" configuration


def configurations() -> dict[str, list[tuple[int, list[str]]]]:
    """Per configuration, its process groups: (nice value, jobs run together as one Flink job)."""
    jobs = suite_job_names()
    analytics = [j for j in jobs if j != "decisions"]
    return {"together": [(0, jobs)], "apart": [(0, ["decisions"]), (LOW_PRIORITY, analytics)]}


def run_group(jobs: list[str], prefix: str, bootstrap: str, nice: int) -> int:
    """A child: the jobs as one Flink job, from the earliest offsets, until SIGTERM or SIGINT."""
    os.nice(nice)  # before the Flink JVM and Python workers start: they inherit it
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    profile = make_profile("local", bootstrap, "avro", prefix)
    pipeline = build([load_spec(j) for j in jobs], profile, RunOptions(startup_mode="earliest-offset"),
                     job_name="isolation-" + "-".join(jobs))
    client = pipeline.execute().get_job_client()
    print(f"submitted {client.get_job_id()}", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        client.cancel().result()
    return 0


def _wait_submitted(logs: list[Path], procs: list[subprocess.Popen], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while not all("submitted" in log.read_text(errors="replace") for log in logs):
        dead = [log for log, p in zip(logs, procs, strict=True) if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            raise SystemExit(f"a job group did not start; see {', '.join(map(str, dead or logs))}")
        time.sleep(1)


def measure(name: str, groups: list[tuple[int, list[str]]], bootstrap: str, args: argparse.Namespace) -> dict:
    """One configuration once: the groups start, the simulator offers the load, the outputs are timed."""
    profile = bench._fresh_profile(bootstrap, "avro")
    logs, procs, sim = [], [], None
    for i, (nice, jobs) in enumerate(groups):
        logs.append(Path(f"/tmp/suite-isolation-{os.getpid()}-{name}-{i}.log"))
        with logs[-1].open("w") as log:  # the child holds its own copy
            procs.append(subprocess.Popen(
                [sys.executable, __file__, "--group", ",".join(jobs), "--prefix", profile.topic_prefix,
                 "--bootstrap-servers", bootstrap, "--nice", str(nice)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    sampler = bench.LatencySampler(bootstrap, profile, bench._output_topics([j for _, js in groups for j in js]))
    try:
        _wait_submitted(logs, procs)
        sampler.start()
        time.sleep(5)  # the sources come up before the load starts
        sim = bench.start_simulator(bootstrap, profile, args.rate, args.warmup + args.seconds)
        time.sleep(args.warmup)
        sampler.start_clock()
        cpu0 = cpu_usage.snapshot()
        time.sleep(args.seconds - 2)  # measured while the simulator still runs
        cpu1 = cpu_usage.snapshot()
        achieved = bench.finish_simulator(sim, 120)
        time.sleep(8)  # the last windows close 5 s after the last event
        latency = sampler.stop()
    finally:
        if sim is not None and sim.proc.poll() is None:
            os.killpg(sim.proc.pid, signal.SIGKILL)
        # SIGTERM to the child alone, which cancels its job through its JVM: signalling the group
        # would stop that JVM (PyFlink's gateway ignores only SIGINT) while the cancel goes through it.
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)  # whatever of the group is left (the JVM, Python workers)
    cores = {"+".join(jobs) if len(jobs) < 3 else f"{len(jobs)} jobs": cpu_usage.tree_cores(cpu0, cpu1, p.pid)
             for (_, jobs), p in zip(groups, procs, strict=True)}
    state = broker.status()
    if state:
        cores["broker"] = cpu_usage.tree_cores(cpu0, cpu1, state.pid)
    busy = cpu_usage.busy_share(cpu0, cpu1)
    return {"configuration": name, "groups": [{"nice": n, "jobs": js} for n, js in groups],
            "achieved_events_per_s": achieved, "cpu_busy": busy, "cores_used": cores, "latency_ms": latency}


def _print_table(runs: list[dict]) -> None:
    header = (f"{'configuration':<14} {'ev/s':>5} {'busy':>5}  {'trigger p50/p95/p99 ms':>24} {'n':>4}  "
              f"{'signal p50':>10} {'sentiment p50':>13}  cores used")
    print(header)
    print("-" * len(header))
    for r in runs:
        lat = r["latency_ms"]
        t = lat.get("cx.nba.triggers", {})
        trig = "/".join(f"{t.get(q, float('nan')):.0f}" for q in ("p50", "p95", "p99"))
        cores = ", ".join(f"{k} {v:.2f}" for k, v in r["cores_used"].items())
        print(f"{r['configuration']:<14} {r['achieved_events_per_s']:>5.0f} {r['cpu_busy']:>5.0%}  {trig:>24} "
              f"{int(t.get('samples', 0)):>4}  {lat.get('cx.signals', {}).get('p50', float('nan')):>10.0f} "
              f"{lat.get('cx.sentiment', {}).get('p50', float('nan')):>13.0f}  {cores}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the alternating configurations")
    parser.add_argument("--rate", type=int, default=300, help="offered events/s")
    parser.add_argument("--seconds", type=float, default=45, help="sampled seconds per run")
    parser.add_argument("--warmup", type=float, default=20, help="seconds of load before sampling starts")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "suite_isolation.json"))
    parser.add_argument("--group", help=argparse.SUPPRESS)  # child mode: comma-separated jobs
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--nice", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap-servers", help="Kafka to use (default: the local broker, started if needed)")
    args = parser.parse_args()
    bootstrap = broker.resolve_bootstrap(args.bootstrap_servers)
    if args.group:
        return run_group(args.group.split(","), args.prefix, bootstrap, args.nice)
    runs = []
    for round_no in range(1, args.rounds + 1):
        for name, groups in configurations().items():
            print(f"[bench] round {round_no}: {name} ({args.rate}/s, {args.warmup:.0f}+{args.seconds:.0f} s) …",
                  flush=True)
            runs.append({"round": round_no, **measure(name, groups, bootstrap, args)})
    _print_table(runs)
    Path(args.out).write_text(json.dumps({"cores": os.cpu_count(), "rate": args.rate, "seconds": args.seconds,
                                          "warmup": args.warmup, "load_average_at_end": os.getloadavg(),
                                          "runs": runs}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
