"""`cxstream run`: the whole suite on Flink's embedded MiniCluster, fed by the simulator.

It prepares what is missing (broker, topics, jars), starts the simulator as a child process,
submits every suite job as one Flink pipeline and shows a live view of what arrives on the output
topics until Ctrl-C (or --duration), then stops the job, the simulator and the broker it started.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, deque

from cxstream import broker, contracts
from cxstream.consume import Message, ProducedCounter, TopicReader
from cxstream.paths import sub_dir
from cxstream.profiles import make_profile
from cxstream.topics import ensure_topics, suite_topics


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap-servers", help="use this Kafka instead of starting the local broker")
    p.add_argument("--rate", type=int, default=300, help="simulated events per second (default: 300)")
    p.add_argument("--bad-share", type=float, default=0.01, help="share of hostile records (default: 0.01)")
    p.add_argument("--format", choices=("avro", "json"), default="avro")
    p.add_argument("--duration", type=float, default=0, help="stop after N seconds (default: until Ctrl-C)")
    p.add_argument("--no-simulator", action="store_true", help="only run the jobs (feed the topics yourself)")
    p.add_argument("--keep-broker", action="store_true", help="leave the local broker running on exit")
    p.add_argument("--parallelism", type=int, default=1)


def _say(msg: str) -> None:
    print(f"[cxstream] {msg}", file=sys.stderr, flush=True)


def _start_simulator(args: argparse.Namespace, bootstrap: str) -> subprocess.Popen[bytes]:
    """The simulator as a child in this process's own process group (not a session of its own), so
    that whatever stops the whole group (a terminal's Ctrl-C, a supervisor, a test's killpg) stops
    it too: in a session of its own it outlived a `cxstream run` that was killed.

    A `kill -9` of this process alone reaches neither the group nor our clean-up, so the simulator
    is also told our pid (--stop-with-parent): on Linux it then gets SIGINT when we die, and stops
    the ordinary way (flush, report). Call this from the main thread: the kernel ties that signal
    to the thread that started the child, not to the process."""
    log = open(sub_dir("logs") / "simulator.log", "ab")  # noqa: SIM115 - owned by the child
    cmd = [sys.executable, "-m", "cxstream.cli", "simulate", "--bootstrap-servers", bootstrap,
           "--rate", str(args.rate), "--bad-share", str(args.bad_share), "--format", args.format,
           "--stop-with-parent", str(os.getpid())]
    return subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)


def _stop_simulator(sim: subprocess.Popen[bytes]) -> None:
    """SIGINT, on which the simulator stops sending, flushes and reports; killed if it takes over 10 s.

    A Ctrl-C at the terminal has reached it already (same process group), and a second SIGINT would
    make it skip its flush, so it first gets a moment to finish on its own.
    """
    try:
        sim.wait(0.5)
        return
    except subprocess.TimeoutExpired:
        pass
    sim.send_signal(signal.SIGINT)
    try:
        sim.wait(10)
    except subprocess.TimeoutExpired:
        sim.kill()
        sim.wait()


def _interrupt(signum: int, frame: object) -> None:
    """SIGINT, SIGTERM and SIGHUP all stop `cxstream run` through its clean-up.

    Python's default for SIGTERM and SIGHUP ends the process at once, leaving the simulator and the
    job running. SIGINT is set explicitly too: a process started in the background by a non-interactive
    shell (`cxstream run &` in a script, CI) inherits SIGINT as ignored, and Python then leaves it
    ignored, so `kill -INT` would do nothing."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _reason_kind(reason: str) -> str:
    """A DLQ reason without its details (numbers, exception text), so like reasons count together."""
    head, _, rest = reason.partition(": ")
    if head == "undecodable":
        return "undecodable " + rest.split(":")[0].split(" ")[0]
    return re.sub(r"\d+", "N", reason)[:48]


class LiveView:
    """Counts what reaches the input topics and samples what arrives on the output topics; prints a
    compact block periodically."""

    def __init__(self, topics: list[str]) -> None:
        self.topics = topics
        self.totals: Counter[str] = Counter()
        self.window: deque[tuple[float, str]] = deque()  # (when, topic) of each record read
        self.counted: dict[str, deque[tuple[float, int]]] = {}  # topic -> (when, total) of each count
        self.samples: dict[str, Message] = {}
        self.dlq_reasons: Counter[str] = Counter()
        self.alerts: dict[tuple[str, str], dict] = {}  # latest record per (kind, subject)
        self.started = time.monotonic()

    def count(self, totals: dict[str, int]) -> None:
        """Totals of topics that are counted, not read (the inputs: see consume.ProducedCounter).
        Their rate is the growth between the counts of about the last 5 s, over the time between."""
        now = time.monotonic()
        for topic, total in totals.items():
            self.totals[topic] = total
            samples = self.counted.setdefault(topic, deque())
            samples.append((now, total))
            while len(samples) > 2 and samples[1][0] <= now - 5:
                samples.popleft()

    def add(self, msgs: list[Message]) -> None:
        now = time.monotonic()
        for m in msgs:
            self.totals[m.topic] += 1
            self.window.append((now, m.topic))
            if m.record is not None:
                # Show the busiest customer of the latest signals rather than whichever came last.
                current = self.samples.get(m.topic)
                if (m.topic != "cx.signals" or current is None or current.record is None
                        or time.time() - current.received_ms / 1000 > 10
                        or m.record["event_count"] >= current.record["event_count"]):
                    self.samples[m.topic] = m
                if m.topic.endswith("cx.dlq"):
                    self.dlq_reasons[_reason_kind(str(m.record.get("reason", "?")))] += 1
                if m.topic.endswith("cx.alerts"):
                    self.alerts[(m.record["kind"], m.record["subject"])] = m.record
        while self.window and self.window[0][0] < now - 5:
            self.window.popleft()

    def rate(self, topic: str) -> float:
        """Records per second over about the last 5 s."""
        samples = self.counted.get(topic)
        if samples is None:
            return sum(1 for _, t in self.window if t == topic) / 5
        (first, first_total), (last, last_total) = samples[0], samples[-1]
        return (last_total - first_total) / (last - first) if last > first else 0.0

    def render(self, job_state: str) -> str:
        lines = [f"── cxstream · {time.monotonic() - self.started:6.0f}s · job {job_state} ──"]
        for t in self.topics:
            direction = "in " if ".events." in t else "out"
            lines.append(f"  {direction} {t:<22} {self.totals[t]:>9,} records  {self.rate(t):>8.1f}/s")
        sample = self.samples.get("cx.signals")
        if sample and sample.record:
            r = sample.record
            lines.append(f"  busiest recent signal: {r['customer_id']} [{r['window_kind']}] "
                         f"events={r['event_count']} carts={r['add_to_carts']} purchases={r['purchases']} "
                         f"rage={r['rage_clicks']} cart_value={r['cart_value']:.2f} "
                         f"channel_switches={r['channel_switches']}")
        sample = self.samples.get("cx.sentiment")
        if sample and sample.record:
            r = sample.record
            lines.append(f"  latest sentiment: {r['scope']} {r['scope_id']} mean={r['mean_compound']:+.2f} "
                         f"min={r['min_compound']:+.2f} turns={r['message_count']}"
                         + (f" ESCALATE: {r['escalation']}" if r.get("escalation") else ""))
        sample = self.samples.get("cx.drift")
        if sample and sample.record:
            r = sample.record
            psi = r.get("psi")
            lines.append(f"  latest drift: {r['feature']} psi={psi if psi is None else round(psi, 3)} "
                         f"n={r['sample_size']} vs {r['reference']}")
        sample = self.samples.get("cx.nba.triggers")
        if sample and sample.record:
            r = sample.record
            lines.append(f"  latest trigger: {r['action']} → {r['route']} for {r['customer_id']} "
                         f"({', '.join(r['reason_codes'])}; confidence {r['confidence']:.2f})")
        open_alerts = [a for a in self.alerts.values() if a.get("state") == "open"]
        if open_alerts:
            rank = {"critical": 0, "warning": 1, "info": 2}
            open_alerts.sort(key=lambda a: (rank.get(a["severity"], 3), -a["count"]))
            lines.append(f"  open alerts: {len(open_alerts)} (./cx tail cx.alerts --from-beginning for all)")
            for a in open_alerts[:5]:
                observed = a.get("observed")
                lines.append(f"    {a['severity']:<8} {a['kind']} {a['subject']} ×{a['count']} "
                             f"observed={observed if observed is None else round(observed, 3)}")
        if self.dlq_reasons:
            top = ", ".join(f"{k} ×{v}" for k, v in self.dlq_reasons.most_common(3))
            lines.append(f"  dlq reasons: {top}")
        return "\n".join(lines)


class _MetricsWatch:
    """Finds the job's Prometheus endpoint, says where it is, and keeps a snapshot every 10 s."""

    def __init__(self, pipeline, job_id: str) -> None:  # noqa: ANN001 - a runtime.Pipeline
        from cxstream import metrics

        conf = pipeline.t_env.get_config().get_configuration().to_dict()
        self.ports = metrics.port_range(conf)
        self.job_id = job_id
        self.topics = [pipeline.profile.topic(contracts.load(n).topic)
                       for n in contracts.INPUTS + contracts.OUTPUTS]
        self.writer: metrics.SnapshotWriter | None = None
        self._last = 0.0

    def tick(self) -> None:
        from cxstream import metrics

        if self.ports and self.writer is None:
            url = metrics.find_endpoint(self.ports, self.job_id, timeout_s=0)
            if url:
                path = sub_dir("runs") / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) / "metrics.jsonl"
                self.writer = metrics.SnapshotWriter(url, path, self.job_id, self.topics)
                _say(f"metrics (Prometheus): {url}")
        if self.writer and time.monotonic() - self._last >= 10:
            self.writer.write()
            self._last = time.monotonic()


def run_suite(args: argparse.Namespace) -> int:
    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, _interrupt) for sig in stop_signals}
    try:
        return _run_suite(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_suite(args: argparse.Namespace) -> int:
    from cxstream.runtime import RunOptions, build, load_spec, suite_job_names

    started_broker = False
    if not (args.bootstrap_servers or os.environ.get(broker.ENV_BOOTSTRAP)) and broker.status() is None:
        state = broker.start()
        started_broker = True
        _say(f"started the local broker on {state.bootstrap_servers} (log: {state.log})")
    bootstrap = broker.resolve_bootstrap(args.bootstrap_servers)
    profile = make_profile("local", bootstrap, args.format)
    created = ensure_topics(bootstrap, suite_topics(profile.topic_prefix, profile.partitions))
    if created:
        _say(f"created {len(created)} topics")
    names = suite_job_names()
    _say(f"building the suite: {', '.join(names)} (Flink MiniCluster, parallelism {args.parallelism})")
    # Read what is produced from now on: older records on a shared broker are not this run's.
    opts = RunOptions(parallelism=args.parallelism, startup_mode="timestamp",
                      startup_timestamp_ms=int(time.time() * 1000) - 1000)
    pipeline = build([load_spec(n) for n in names], profile, opts,
                     job_name="cxstream-suite")
    result = pipeline.execute()
    client = result.get_job_client()
    _say(f"Flink job {client.get_job_id()} submitted")
    metrics_watch = _MetricsWatch(pipeline, str(client.get_job_id()))
    in_topics = [contracts.load(n).topic for n in contracts.INPUTS]
    out_topics = [contracts.load(n).topic for n in contracts.OUTPUTS]
    view = LiveView(in_topics + out_topics)
    sim = None
    try:  # from the simulator's start on: whatever ends the run, the clean-up below stops it
        sim = None if args.no_simulator else _start_simulator(args, bootstrap)
        if sim:
            _say(f"simulator producing ~{args.rate} events/s (log: {sub_dir('logs') / 'simulator.log'})")
        _say("windows close once event time passes their end plus 5 s: the first signals appear within ~1 min")
        deadline = time.monotonic() + args.duration if args.duration else float("inf")
        last_print = 0.0
        # The inputs are counted, not read: reading them would double the broker's fetches of
        # the records the jobs read (see consume.ProducedCounter).
        with ProducedCounter(bootstrap, in_topics) as inputs, \
                TopicReader(bootstrap, out_topics, from_beginning=False, value_format=args.format) as reader:
            while time.monotonic() < deadline:
                view.add(reader.poll(timeout_ms=500))
                if time.monotonic() - last_print >= 2:
                    view.count(inputs.counts())
                    metrics_watch.tick()
                    state = str(client.get_job_status().result())
                    print(view.render(state), flush=True)
                    last_print = time.monotonic()
                    if state.rsplit(".", 1)[-1] in ("FAILED", "CANCELED", "FINISHED"):  # "JobStatus.FAILED"
                        _say(f"the Flink job is {state}; see the log under {sub_dir('logs')}")
                        try:
                            client.get_job_execution_result().result()
                        except Exception as exc:  # noqa: BLE001 - the job's failure, reported
                            _say(f"cause: {str(exc)[-3000:]}")
                        return 1
                if sim and sim.poll() is not None:
                    _say(f"the simulator exited with code {sim.returncode}; see {sub_dir('logs') / 'simulator.log'}")
                    sim = None
    except KeyboardInterrupt:
        pass
    finally:
        _say("stopping…")
        if sim:
            _stop_simulator(sim)
        try:
            client.cancel().result()
        except Exception as exc:  # noqa: BLE001 - already stopped is fine at shutdown
            _say(f"job cancel: {exc}".splitlines()[0])
        if started_broker and not args.keep_broker:
            broker.stop()
            _say("local broker stopped")
    totals = ", ".join(f"{t}={view.totals[t]:,}" for t in out_topics if view.totals[t])
    _say(f"done. output records seen: {totals or 'none'}")
    if metrics_watch.writer:
        _say(f"metrics snapshots: {metrics_watch.writer.path}; draw them with `cxstream report`")
    return 0
