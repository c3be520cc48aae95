"""`cxstream bench`: throughput and end-to-end latency of the jobs, measured in one run.

Suites:

- ``passthrough``: the pass-through job and the signals job side by side (the spine's baseline).
- ``jobs``: every analytics job on its own (pass-through, signals, sentiment, drift, quality, and
  whichever of those exist), so each job's cost can be read as a ratio to the pass-through.
- ``suite``: every suite job together in one Flink job, as `cxstream run` runs them.

Two phases per entry, over the same broker, connector, format and simulated traffic:

- throughput: the simulator's traffic (all four input topics, simulated clock) is produced first,
  then the job reads its inputs from the earliest offset to the end (bounded); events/s = input
  records read / the job's net runtime as Flink reports it. Every job pays the same start-up inside
  that runtime, so the ratio between jobs is fair even though the absolute figure understates the
  steady rate.
- latency: the job runs live while the simulator (a separate process) produces at a fixed rate with
  wall-clock event times. Nothing is sampled until the job's first output appears and --warmup
  seconds more have passed: the job's first records wait for its Python workers to start and
  then come out as a backlog, which says nothing about the steady state. For a
  record without a window (pass-through copies, NBA triggers):
  latency = time it is read from its topic - its event time (the triggering event's time). For a
  windowed record (signals, sentiment, drift, data-quality alerts): latency = time it is read -
  (window end + the watermark delay), the earliest moment the window could close: what the job
  adds on top of the out-of-orderness it is configured to wait for. A trigger decided by a timer
  (evidence moment cart_idle: its event time is the timer's due time) is measured the same way,
  from due time + the watermark delay, as sql/alerts.sql's e2e_latency measures it. A latency phase
  of the default length samples none: the simulator sends no cart event from before the load
  starts, so a cart-idle timer is due 2 minutes after it at the earliest and fires 5 s later still
  (the watermark delay), while sampling ends --warmup + --seconds + 8 s after the first output
  (103 s by default). A longer phase samples them, and reports them apart, on the row
  `cx.nba.triggers (timers)`: the `cx.nba.triggers` row is always the triggers decided at an event.
  Each trigger row has a twin, `… (emitted)`: the same triggers timed to their emit time, which the
  decisions stage stamps as it decides; the difference is the sink, the broker and the reader.

Results are printed as a table and written as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import IO

import numpy as np

from cxstream import broker, contracts, cpu_usage
from cxstream.consume import TopicReader
from cxstream.paths import BENCH_RESULTS_DIR, JOBS_DIR
from cxstream.profiles import Profile, make_profile
from cxstream.runtime import import_udf_module
from cxstream.simulator.config import DEFAULT_LINGER_MS
from cxstream.topics import ensure_topics, suite_topics

# Outputs with no moment to measure latency from: dead letters, and the feedback rates, which are
# running counts updated as each outcome arrives (their window_end lies up to 15 minutes ahead).
NO_LATENCY = frozenset({"dlq_record", "action_feedback"})
ANALYTICS_JOBS = ("passthrough", "signals", "sentiment", "drift", "quality", "decisions", "alerts")


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", choices=("passthrough", "jobs", "suite"),
                   help="passthrough: pass-through and signals side by side; jobs: every analytics job on its "
                        "own; suite: all suite jobs together, as `cxstream run` runs them")
    p.add_argument("--events", type=int, default=100_000, help="simulated events for the throughput phase")
    p.add_argument("--rate", type=int, default=2_000, help="offered events/s in the latency phase")
    p.add_argument("--seconds", type=float, default=75,
                   help="length of the latency phase per entry (per-minute windows need > 60 s)")
    p.add_argument("--warmup", type=float, default=20,
                   help="seconds between the job's first output under load and the latency clock's start; "
                        "their samples are dropped (the first records wait for the Python workers to start, "
                        "then the JIT warms up)")
    p.add_argument("--format", choices=("avro", "json"), default="avro")
    p.add_argument("--only", default=None,
                   help="comma-separated subset of the jobs: with `jobs`, which to run each on its own; with "
                        "`suite`, which run together as the one job (e.g. leave one out to see its cost)")
    p.add_argument("--out", default=None, help="JSON output path (default: bench/results/<suite>-<time>.json)")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                   help="a Flink configuration override for every benchmarked job (repeatable), e.g. "
                        "--conf execution.buffer-timeout.interval=10ms; recorded in the JSON")
    p.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                   help="run the pass-through job first as the baseline the ratios are taken against")
    p.add_argument("--phases", default="throughput,latency",
                   help="which phases to run: throughput, latency or both (default)")
    p.add_argument("--py-spy", action="store_true",
                   help="sample the Flink Python workers with py-spy during each latency phase and print "
                        "where their time goes (the flame graph's raw stacks go beside the JSON)")


@dataclass
class Entry:
    """One benchmarked job (or group of jobs run as one Flink job)."""

    name: str
    jobs: list[str]
    input_events: int = 0
    net_runtime_s: float = 0.0
    events_per_s: float = 0.0
    offered_rate: float = 0.0
    achieved_rate: float = 0.0
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # output topic -> percentiles
    python_profile: list[dict] = field(default_factory=list)  # py-spy summaries of the Python workers
    task_time: list[dict] = field(default_factory=list)  # throughput phase: ms/s busy, back-pressured, idle per task
    # The same while the latency phase samples, with each task's back-pressured seconds and longest
    # back-pressured stretch: a task that stalls (a Python window firing) holds back every task
    # upstream of it, whose records then wait, and a stall that reaches a shared source delays all jobs.
    latency_task_time: list[dict] = field(default_factory=list)
    # Latency phase, while sampling: the machine's busy share, and cores used by the broker, the
    # Flink job (this process's tree: JVM, Python workers), the latency reader and the simulator.
    cpu_busy: float = 0.0
    cores_used: dict[str, float] = field(default_factory=dict)


def _log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def _fresh_profile(bootstrap: str, fmt: str) -> Profile:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    profile = make_profile("local", bootstrap, fmt, prefix)
    ensure_topics(bootstrap, suite_topics(prefix, profile.partitions))
    return profile


def _input_topics(job_names: list[str]) -> set[str]:
    from cxstream.runtime import load_spec

    return {contracts.load(c).topic for j in job_names for c in load_spec(j).inputs}


def _output_topics(job_names: list[str]) -> list[str]:
    from cxstream.runtime import load_spec

    out: list[str] = []
    for j in job_names:
        spec = load_spec(j)
        out += [contracts.load(c).topic for c in spec.outputs if c not in NO_LATENCY]
        out += [topic for _, _, topic in spec.copy_sinks]
    return list(dict.fromkeys(out))


def _produce_backlog(bootstrap: str, profile: Profile, n: int) -> dict[str, int]:
    """The simulator's traffic for n events, an hour of event time ending now; records per topic."""
    from kafka import KafkaProducer

    from cxstream.kafka_clients import python_client_kwargs
    from cxstream.simulator import SimulatorConfig, generate

    start = int(time.time() * 1000) - 3_600_000
    config = SimulatorConfig(seed=11, fmt=profile.value_format, clock="simulated", start_ms=start, rate=0,
                             event_rate=max(n / 3600, 1), count=n, topic_prefix=profile.topic_prefix)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024,
                             **python_client_kwargs())
    per_topic: dict[str, int] = defaultdict(int)
    for e in generate(config):
        producer.send(e.topic, key=e.key, value=e.value, timestamp_ms=e.timestamp_ms)
        per_topic[e.topic.removeprefix(profile.topic_prefix)] += 1
    producer.flush()
    producer.close()
    return dict(per_topic)


def _parse_conf(pairs: list[str]) -> dict[str, str]:
    conf = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"cxstream bench: --conf wants KEY=VALUE, got {pair!r}")
        conf[key.strip()] = value.strip()
    return conf


def _throughput(entry: Entry, bootstrap: str, fmt: str, n: int, conf: dict[str, str]) -> None:
    from cxstream.runtime import RunOptions, build, load_spec

    profile = _fresh_profile(bootstrap, fmt)
    per_topic = _produce_backlog(bootstrap, profile, n)
    entry.input_events = sum(per_topic.get(t, 0) for t in _input_topics(entry.jobs))
    opts = RunOptions(bounded=True, checkpoint_interval=None, extra_config=conf)
    pipeline = build([load_spec(j) for j in entry.jobs], profile, opts, job_name=f"bench-{entry.name}")
    client = pipeline.execute().get_job_client()
    sampler = _TaskTimeSampler(pipeline, str(client.get_job_id()))
    sampler.start()
    try:
        result = client.get_job_execution_result().result()
    finally:
        entry.task_time = sampler.stop()
    entry.net_runtime_s = result.get_net_runtime() / 1000
    entry.events_per_s = entry.input_events / entry.net_runtime_s


class _TaskTimeSampler(threading.Thread):
    """Scrapes each task's busy / back-pressured / idle time while a job runs.

    Flink's own account of where a phase's time went: in the throughput phase, the busiest task
    downstream of back-pressured ones is what limits the job; in the latency phase, a task that was
    back-pressured held up the records of every task upstream of it. Samples taken while a task
    reports no time at all (before it starts, after it finishes) are left out of its mean.
    """

    def __init__(self, pipeline, job_id: str, every_s: float = 1.0) -> None:  # noqa: ANN001 - a runtime.Pipeline
        from cxstream import metrics

        super().__init__(daemon=True)
        self.ports = metrics.port_range(pipeline.t_env.get_config().get_configuration().to_dict())
        self.job_id = job_id
        self.every_s = every_s
        self.readings: dict[str, list[dict[str, float]]] = defaultdict(list)
        self._stop_event = threading.Event()

    def run(self) -> None:
        from cxstream import metrics

        url = None
        while self.ports and not self._stop_event.wait(self.every_s):
            try:
                url = url or metrics.find_endpoint(self.ports, self.job_id, timeout_s=0)
                samples = metrics.scrape(url) if url else []
            except metrics.NOT_THE_REPORTER:
                continue
            for task, times in metrics.task_time(samples, self.job_id).items():
                if times.get("busy", 0) + times.get("backpressured", 0) + times.get("idle", 0) > 0:
                    self.readings[task].append(times)

    def stop(self) -> list[dict]:
        """Per task, the mean of each time over the run (Flink's per-second gauges are themselves
        averages over a minute), the seconds it was back-pressured between the first and the last
        scrape (from the counter), and its longest single back-pressured stretch; busiest first."""
        self._stop_event.set()
        self.join(10)
        rows = []
        for task, readings in self.readings.items():
            mean = {k: float(np.mean([r.get(k, 0.0) for r in readings])) for k in ("busy", "backpressured", "idle")}
            total = [r["backpressured_total_ms"] for r in readings if "backpressured_total_ms" in r]
            longest = [max(r.get("longest_soft_backpressure_ms", 0.0), r.get("longest_hard_backpressure_ms", 0.0))
                       for r in readings]
            rows.append({"task": task, **{f"{k}_ms_per_s": v for k, v in mean.items()},
                         "backpressured_s": (total[-1] - total[0]) / 1000 if total else 0.0,
                         "longest_backpressure_ms": max(longest, default=0.0), "samples": len(readings)})
        return sorted(rows, key=lambda r: -r["busy_ms_per_s"])


# How long a latency phase waits for the job's first output under load before sampling anyway.
FIRST_OUTPUT_TIMEOUT_S = 180


# Trigger moments decided by an event-time timer (a trigger's evidence names its moment): the
# trigger's event time is the timer's due time. The rules' own list, not a copy of it.
TIMER_MOMENTS = frozenset(import_udf_module("nba_rules").TIMER_MOMENTS)


TIMER_SAMPLES = " (timers)"  # appended to a topic's name for its records decided by a timer


def _decided_by_timer(record: dict) -> bool:
    return (record.get("evidence") or {}).get("moment") in TIMER_MOMENTS


def _sample_key(topic: str, record: dict) -> str:
    """The row a record's latency is reported under: a trigger decided by an event-time timer gets
    a row of its own. They come in waves (carts that went idle together, 2 minutes after the load
    began, all fire as one watermark passes) and wait for the watermark, so mixed with the triggers
    decided at their event they made a latency phase's trigger p99 depend on whether the phase was
    long enough to reach the wave."""
    return topic + TIMER_SAMPLES if _decided_by_timer(record) else topic


# Appended to a row's name for the same records timed to their emit time (a trigger's emit_time,
# stamped by the decisions stage): the job's part alone, without the sink, the broker and the reader.
EMITTED_SAMPLES = " (emitted)"


def _samples_of(topic: str, record: dict, delay_ms: int, received_ms: int) -> list[tuple[str, float]]:
    """The (row, latency) samples one record read gives: to the moment it was read and, for a
    record that says when it was emitted, to that moment too."""
    key, out = _sample_key(topic, record), []
    if (read := _latency_of(record, delay_ms, received_ms)) is not None:
        out.append((key, read))
    if record.get("emit_time") is not None and (emitted := _latency_of(record, delay_ms, record["emit_time"])) \
            is not None:
        out.append((key + EMITTED_SAMPLES, emitted))
    return out


def _latency_of(record: dict, delay_ms: int, received_ms: int) -> float | None:
    """How long after the earliest moment it could exist the record was read (module docstring)."""
    if record.get("window_end") is not None:
        return received_ms - (record["window_end"] + delay_ms)
    if record.get("event_time") is not None:
        if _decided_by_timer(record):
            return received_ms - (record["event_time"] + delay_ms)
        return received_ms - record["event_time"]
    return None


class LatencySampler:
    """Reads output topics as a consumer would and keeps each record's latency (_latency_of).

    Records read before start_clock() are warm-up and are not kept. The reading happens in a
    process of its own, as a real consumer's would: its reading time is the end of every latency it
    measures, and on the embedded MiniCluster the jobs' Python functions run as threads of the
    bench's process (runtime.python_workers_run_here). A reading thread there waited for their GIL:
    in one run the triggers' Kafka timestamps said p99 353 ms after their event and the reading
    thread measured 622 ms.
    """

    def __init__(self, bootstrap: str, profile: Profile, outputs: list[str]) -> None:
        import multiprocessing

        # spawn, not fork: this process holds a JVM gateway and threads a fork would copy mid-call.
        ctx = multiprocessing.get_context("spawn")
        self._clock_start_ms = ctx.Value("q", 2**62)
        self._stop_event = ctx.Event()
        self.first_output = ctx.Event()  # set by the first record read from any output
        self._results = ctx.Queue()
        self._process = ctx.Process(
            target=_read_latencies, name="bench-latency-reader", daemon=True,
            args=(bootstrap, profile, outputs, self._clock_start_ms, self._stop_event, self.first_output,
                  self._results))

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self) -> None:
        self._process.start()

    def start_clock(self) -> None:
        self._clock_start_ms.value = int(time.time() * 1000)

    def wait_for_first_output(self, timeout_s: float) -> bool:
        """Whether a record appeared on an output within timeout_s; raises if the reader died."""
        deadline = time.monotonic() + timeout_s
        while not self.first_output.wait(1):
            self._check_alive()
            if time.monotonic() > deadline:
                return False
        return True

    def _check_alive(self) -> None:
        if not self._process.is_alive():
            raise RuntimeError(f"the latency reader (pid {self.pid}) ended with exit code "
                               f"{self._process.exitcode}; its error is printed above")

    def close(self) -> None:
        """Ends the reading process if stop() did not (an error in the phase)."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)

    def stop(self) -> dict[str, dict[str, float]]:
        """Per output topic: p50, p95, p99, max and the number of samples."""
        self._stop_event.set()
        deadline = time.monotonic() + 60
        while True:
            try:
                samples: dict[str, list[float]] = self._results.get(timeout=1)
                break
            except queue.Empty:
                if time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"the latency reader (pid {self.pid}) did not report in 60 s") from None
                self._check_alive()
        self._process.join(10)
        out = {}
        for topic, values in samples.items():
            arr = np.array(values)
            out[topic] = {"p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95)),
                          "p99": float(np.percentile(arr, 99)), "max": float(arr.max()), "samples": float(len(arr))}
        return out


def _read_latencies(bootstrap: str, profile: Profile, outputs: list[str], clock_start_ms,  # noqa: ANN001
                    stop_event, first_output, results) -> None:  # noqa: ANN001 - multiprocessing types
    """LatencySampler's reading process: polls until stopped, then sends every kept sample back."""
    import multiprocessing

    prefix, delay_ms = profile.topic_prefix, profile.watermark_delay_s * 1000
    samples: dict[str, list[float]] = defaultdict(list)
    parent = multiprocessing.parent_process()  # a bench killed outright cannot stop us: we stop with it
    with TopicReader(bootstrap, [profile.topic(t) for t in outputs], value_format=profile.value_format,
                     topic_prefix=prefix) as reader:
        while not stop_event.is_set() and (parent is None or parent.is_alive()):
            msgs = reader.poll(100)
            if msgs and not first_output.is_set():
                first_output.set()
            for m in msgs:
                if m.record is not None and m.received_ms >= clock_start_ms.value:
                    for key, lat in _samples_of(m.topic.removeprefix(prefix), m.record, delay_ms, m.received_ms):
                        samples[key].append(lat)
    if stop_event.is_set():
        results.put(dict(samples))
    else:  # the bench is gone: nobody will read the queue, so do not wait at exit to flush it
        results.cancel_join_thread()


@dataclass
class SimulatorRun:
    """The simulator as a child in a session of its own. Its output goes to an unnamed file: a
    pipe that nobody reads while the load runs would fill on a long run and stop it."""

    proc: subprocess.Popen[bytes]
    output: IO[bytes]


def start_simulator(bootstrap: str, profile: Profile, rate: int, seconds: float) -> SimulatorRun:
    cmd = [sys.executable, "-m", "cxstream.cli", "simulate", "--bootstrap-servers", bootstrap, "--rate", str(rate),
           "--duration", str(seconds), "--topic-prefix", profile.topic_prefix, "--format", profile.value_format]
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish_simulator
    return SimulatorRun(subprocess.Popen(cmd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True), output)


def finish_simulator(sim: SimulatorRun, timeout_s: float) -> float:
    """Waits for the simulator (SIGINT after timeout_s) and returns the rate it reports having sent."""
    try:
        sim.proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(sim.proc.pid, signal.SIGINT)
        sim.proc.wait(timeout=20)
    sim.output.seek(0)
    text = sim.output.read().decode(errors="replace")
    sim.output.close()
    return _simulator_rate(text)


def _latency(entry: Entry, bootstrap: str, fmt: str, rate: int, seconds: float, warmup: float,
             conf: dict[str, str], py_spy: bool) -> None:
    from cxstream.runtime import RunOptions, build, load_spec, python_workers_run_here

    profile = _fresh_profile(bootstrap, fmt)
    pipeline = build([load_spec(j) for j in entry.jobs], profile,
                     RunOptions(startup_mode="earliest-offset", extra_config=conf),
                     job_name=f"bench-{entry.name}-latency")
    client = pipeline.execute().get_job_client()
    sampler = LatencySampler(bootstrap, profile, _output_topics(entry.jobs))
    sim = None
    try:
        sampler.start()
        time.sleep(5)  # let the job's sources come up before the load starts
        # The simulator runs until it is stopped below: how long the job takes to start is not known.
        sim = start_simulator(bootstrap, profile, rate, FIRST_OUTPUT_TIMEOUT_S + warmup + seconds)
        load_started = time.monotonic()
        if sampler.wait_for_first_output(FIRST_OUTPUT_TIMEOUT_S):
            _log(f"{entry.name}: first output {time.monotonic() - load_started:.0f}s into the load; "
                 f"sampling starts {warmup:.0f}s later")
        else:
            _log(f"{entry.name}: no output within {FIRST_OUTPUT_TIMEOUT_S}s of load; sampling anyway")
        time.sleep(warmup)
        sampler.start_clock()
        task_time = _TaskTimeSampler(pipeline, str(client.get_job_id()))
        task_time.start()
        sampling = []
        if py_spy:
            from cxstream import pyspy

            workers = pyspy.python_workers(os.getpid(), in_this_process=python_workers_run_here(pipeline.t_env))
            _log(f"py-spy: sampling {len(workers)} Python worker(s) for {seconds / 2:.0f}s")
            sampling = pyspy.start(workers, seconds / 2, BENCH_RESULTS_DIR / f"pyspy-{entry.name}-{os.getpid()}")
        cpu_before = cpu_usage.snapshot()
        time.sleep(max(seconds - 2, 1))  # the CPU is read while the simulator still runs
        _record_cpu(entry, cpu_before, sim.proc, sampler.pid, [spy.pid for _, _, spy in sampling])
        entry.offered_rate = rate
        entry.achieved_rate = finish_simulator(sim, min(seconds, 2))  # then it is stopped
        entry.latency_task_time = task_time.stop()  # under load only
        if sampling:
            from cxstream import pyspy

            profiles = pyspy.collect(sampling)
            pyspy.print_profiles(profiles)
            entry.python_profile = [asdict(p) for p in profiles]
        time.sleep(8)  # the last windows close 5 s after the last event
        entry.latency_ms = sampler.stop()
    finally:  # also on an error or Ctrl-C: nothing of the phase keeps running
        _end_phase(sampler, sim, client)


def _end_phase(sampler: LatencySampler, sim: SimulatorRun | None, client) -> None:  # noqa: ANN001 - a JobClient
    """Stops what a latency phase started, each step on its own: one that fails (a job that has
    already failed cannot be cancelled) is logged, and neither stops the others nor hides the error
    that ended the phase."""
    steps = [("latency reader", sampler.close), ("job", lambda: client.cancel().result())]
    if sim is not None and sim.proc.poll() is None:
        steps.insert(0, ("simulator", lambda: (os.killpg(sim.proc.pid, signal.SIGKILL), sim.proc.wait(10))))
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - reported, and the rest still runs
            _log(f"stopping the {what}: {type(exc).__name__}: {exc}")
    if sim is not None and not sim.output.closed:
        sim.output.close()


def _record_cpu(entry: Entry, before: cpu_usage.CpuSnapshot, sim: subprocess.Popen[bytes],
                reader: int | None, others: list[int]) -> None:
    """Who held the cores since `before`. The Flink job is this process's tree without the
    simulator, the local broker (our child when we started it), the latency reader and `others`
    (py-spy samplers)."""
    after = cpu_usage.snapshot()
    entry.cpu_busy = cpu_usage.busy_share(before, after)
    state = broker.status()  # the local broker; another Kafka is not ours to measure
    apart = [sim.pid, *others] + ([state.pid] if state else []) + ([reader] if reader else [])
    entry.cores_used = {"flink job": cpu_usage.tree_cores(before, after, os.getpid(), exclude=tuple(apart))}
    if reader:
        entry.cores_used["latency reader"] = cpu_usage.tree_cores(before, after, reader)
    if sim.poll() is None:  # one that already ended has no ticks left to read
        entry.cores_used["simulator"] = cpu_usage.tree_cores(before, after, sim.pid)
    if state:
        entry.cores_used["broker"] = cpu_usage.tree_cores(before, after, state.pid)


def _simulator_rate(output: str) -> float:
    """Records per second the simulator reports (its summary: "sent N (...) ... in Xs"), or 0."""
    match = re.search(r"^sent ([\d,]+) .* in ([\d.]+)s$", output, re.M)
    if not match:
        return 0.0
    return int(match.group(1).replace(",", "")) / max(float(match.group(2)), 1e-9)


def _entries(suite: str, only: str | None, baseline: bool = True) -> list[Entry]:
    entries = _all_entries(suite, only)
    return entries if baseline else [e for e in entries if e.name != "passthrough"]


def _all_entries(suite: str, only: str | None) -> list[Entry]:
    from cxstream.runtime import suite_job_names

    if suite == "passthrough":
        names = ["passthrough", "signals"]
    elif suite == "jobs":
        names = [j for j in ANALYTICS_JOBS if (JOBS_DIR / f"{j}.py").exists()]
    else:
        # --only picks which suite jobs run together as the one Flink job: leaving one out shows
        # what sharing the machine with it costs the others (their latency, above all).
        return [Entry("passthrough", ["passthrough"]), Entry("suite", _only(suite_job_names(), only))]
    return [Entry(n, [n]) for n in ["passthrough", *_only([n for n in names if n != "passthrough"], only)]]


def _only(names: list[str], only: str | None) -> list[str]:
    """`names` narrowed to --only's, in their own order; a name --only gives that is not among them is an error."""
    if not only:
        return names
    wanted = {n.strip() for n in only.split(",") if n.strip()}
    if unknown := sorted(wanted - set(names) - {"passthrough"}):  # the baseline runs anyway
        raise SystemExit(f"cxstream bench: --only names no such job here: {', '.join(unknown)} "
                         f"(choose from {', '.join(names)})")
    return [n for n in names if n in wanted]


def _print_task_time(entries: list[Entry], width: int = 90, busiest: int = 5) -> None:
    """Where each phase's time went, by Flink's task metrics: in the throughput phase every task
    (the bottleneck is near the top); in the latency phase the busiest few and every task that was
    back-pressured for a second or more in all, or for 200 ms at a stretch (what held records up)."""
    for e in entries:
        phases = [("throughput", e.task_time),
                  ("latency", [row for i, row in enumerate(e.latency_task_time)
                               if i < busiest or row.get("backpressured_s", 0) >= 1
                               or row.get("longest_backpressure_ms", 0) >= 200])]
        for phase, rows in phases:
            if not rows:
                continue
            print(f"\n{e.name}: task time in the {phase} phase (mean ms per second; bp s: seconds "
                  f"back-pressured in all, longest: its longest back-pressured stretch)")
            print(f"  {'busy':>6} {'backpr.':>7} {'idle':>6} {'bp s':>6} {'longest':>8}  task")
            for row in rows:
                task = row["task"] if len(row["task"]) <= width else row["task"][:width - 1] + "…"
                print(f"  {row['busy_ms_per_s']:>6.0f} {row['backpressured_ms_per_s']:>7.0f} "
                      f"{row['idle_ms_per_s']:>6.0f} {row.get('backpressured_s', 0):>6.1f} "
                      f"{row.get('longest_backpressure_ms', 0):>6.0f}ms  {task}")


def _print_table(entries: list[Entry]) -> None:
    base = next((e.events_per_s for e in entries if e.name == "passthrough"), 0.0) or float("nan")
    header = (f"{'job':<12} {'in events':>10} {'events/s':>9} {'vs pass':>8} {'offered/s':>9}  "
              f"{'output topic':<32} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'samples':>8}")
    print(header)
    print("-" * len(header))
    for e in entries:
        first = f"{e.name:<12} {e.input_events:>10,} {e.events_per_s:>9,.0f} {e.events_per_s / base:>8.2f} " \
                f"{e.achieved_rate:>9,.0f}  "
        rows = sorted(e.latency_ms.items()) or [("(no output in the latency phase)", {})]
        for i, (topic, lat) in enumerate(rows):
            lead = first if i == 0 else " " * len(first)
            print(f"{lead}{topic:<32} {lat.get('p50', float('nan')):>8.1f} {lat.get('p95', float('nan')):>8.1f} "
                  f"{lat.get('p99', float('nan')):>8.1f} {int(lat.get('samples', 0)):>8,}")
    for e in entries:
        if e.cores_used:
            cores = ", ".join(f"{name} {used:.2f}" for name, used in e.cores_used.items())
            print(f"{e.name}: CPU while sampling latency: {e.cpu_busy:.0%} of {os.cpu_count()} cores busy; "
                  f"cores used: {cores}")


def run_bench(args: argparse.Namespace) -> int:
    bootstrap = broker.resolve_bootstrap(args.bootstrap_servers)
    entries = _entries(args.suite, args.only, args.baseline)
    conf = _parse_conf(args.conf)
    phases = {p.strip() for p in args.phases.split(",")}
    if not phases <= {"throughput", "latency"} or not phases:
        raise SystemExit(f"cxstream bench: --phases takes throughput, latency or both, got {args.phases!r}")
    for e in entries:
        if "throughput" in phases:
            _log(f"{e.name}: throughput over {args.events:,} simulated events …")
            _throughput(e, bootstrap, args.format, args.events, conf)
            _log(f"{e.name}: {e.events_per_s:,.0f} input events/s")
        if "latency" in phases:
            _log(f"{e.name}: latency at {args.rate:,} events/s for {args.seconds:.0f}s after {args.warmup:.0f}s "
                 f"of warm-up …")
            _latency(e, bootstrap, args.format, args.rate, args.seconds, args.warmup, conf, args.py_spy)
    _print_table(entries)
    _print_task_time(entries)
    report = {
        "suite": args.suite, "format": args.format, "cores": os.cpu_count(), "machine": platform.machine(),
        "python": platform.python_version(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_at_end": os.getloadavg(),
        "flink_config_overrides": conf,
        # What else shapes a latency phase and is not in the Flink configuration.
        "simulator_linger_ms": DEFAULT_LINGER_MS, "jvm_args": os.environ.get("JVM_ARGS"),
        # PyFlink's switch between Python workers as threads of this process (unset: loopback on
        # the embedded MiniCluster) and as processes of their own ("process").
        "python_worker_execution_mode": os.environ.get("_python_worker_execution_mode"),
        "definitions": (__doc__ or "").split("Two phases per entry", 1)[-1].strip(),
        "results": [asdict(e) for e in entries],
    }
    BENCH_RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = args.out or str(BENCH_RESULTS_DIR / f"{args.suite}-{time.strftime('%Y%m%dT%H%M%S')}.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    _log(f"wrote {out}")
    return 0
