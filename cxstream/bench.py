"""`cxstream bench`: throughput and end-to-end latency of the jobs, measured in one run.

Two phases per job, over the same broker, connector and formats:

- throughput: N interactions are produced first, then the job reads them from the earliest offset
  to the end (bounded); events/s = N / the job's net runtime as Flink reports it. Every job pays the
  same start-up inside that runtime, so the ratio between jobs is fair even though the absolute
  figure understates the steady rate.
- latency: the job runs live while interactions are produced at a fixed rate with wall-clock event
  times. Pass-through latency = time the copy is read from the sink topic − time the original was
  handed to the producer. Signals latency = time a window's row is read − the earliest moment the
  window could close (window end + the watermark delay): what the job adds on top of the
  out-of-orderness it is configured to wait for.

Results are printed as a table and written as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field

import numpy as np

from cxstream import broker, contracts
from cxstream.codec import Codec, key_bytes
from cxstream.consume import TopicReader
from cxstream.paths import BENCH_RESULTS_DIR
from cxstream.profiles import Profile, make_profile
from cxstream.sample_data import interactions
from cxstream.topics import ensure_topics, suite_topics

JOBS = {"passthrough": "cx.bench.passthrough", "signals": "cx.signals"}


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", choices=("passthrough",), help="which benchmark: passthrough = the pass-through "
                   "job and the signals job side by side")
    p.add_argument("--events", type=int, default=200_000, help="events for the throughput phase")
    p.add_argument("--rate", type=int, default=2_000, help="offered events/s in the latency phase")
    p.add_argument("--seconds", type=float, default=75,
                   help="length of the latency phase per job (the signals windows slide every minute)")
    p.add_argument("--format", choices=("avro", "json"), default="avro")
    p.add_argument("--out", default=None, help="JSON output path (default: bench/results/<suite>-<time>.json)")


@dataclass
class JobResult:
    job: str
    events: int
    net_runtime_s: float
    events_per_s: float
    latency_samples: int = 0
    offered_rate: float = 0.0
    achieved_rate: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)


def _log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def _produce_all(bootstrap: str, profile: Profile, records: list[dict]) -> None:
    from kafka import KafkaProducer

    c = contracts.load("interaction")
    codec = Codec(c, profile.value_format)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024)
    for r in records:
        producer.send(profile.topic(c.topic), key=key_bytes(c, r), value=codec.encode(r),
                      timestamp_ms=r["event_time"])
    producer.flush()
    producer.close()


def _throughput(job: str, bootstrap: str, fmt: str, n: int) -> JobResult:
    from cxstream.runtime import RunOptions, build, load_spec

    profile = _fresh_profile(bootstrap, fmt)
    t0 = int(time.time() * 1000) - 3 * 3_600_000
    _produce_all(bootstrap, profile, interactions(n, t0, step_ms=2 * 3_600_000 / n, seed=11))
    pipeline = build([load_spec(job)], profile, RunOptions(bounded=True, checkpoint_interval=None),
                     job_name=f"bench-{job}")
    result = pipeline.execute()
    exec_result = result.get_job_client().get_job_execution_result().result()
    runtime_s = exec_result.get_net_runtime() / 1000
    return JobResult(job, n, runtime_s, n / runtime_s)


def _fresh_profile(bootstrap: str, fmt: str) -> Profile:
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    profile = make_profile("local", bootstrap, fmt, prefix)
    ensure_topics(bootstrap, suite_topics(prefix, profile.partitions))
    return profile


def _latency(job: str, bootstrap: str, fmt: str, rate: int, seconds: float, res: JobResult) -> None:
    from kafka import KafkaProducer

    from cxstream.runtime import RunOptions, build, load_spec

    profile = _fresh_profile(bootstrap, fmt)
    pipeline = build([load_spec(job)], profile, RunOptions(startup_mode="earliest-offset"),
                     job_name=f"bench-{job}-latency")
    client = pipeline.execute().get_job_client()
    sent_at: dict[str, int] = {}
    latencies: list[float] = []
    stop = threading.Event()
    delay_ms = profile.watermark_delay_s * 1000

    def consume() -> None:
        with TopicReader(bootstrap, [profile.topic(JOBS[job])], value_format=fmt,
                         topic_prefix=profile.topic_prefix) as reader:
            while not stop.is_set():
                for m in reader.poll(100):
                    if m.record is None:
                        continue
                    if job == "passthrough":
                        sent = sent_at.get(m.record["event_id"])
                        if sent is not None:
                            latencies.append(m.received_ms - sent)
                    else:
                        latencies.append(m.received_ms - (m.record["window_end"] + delay_ms))

    reader_thread = threading.Thread(target=consume, daemon=True)
    reader_thread.start()
    c = contracts.load("interaction")
    codec = Codec(c, fmt)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0)
    template = interactions(50_000, 0, step_ms=0, seed=5, customers=2000)
    time.sleep(5)  # let the job's sources come up before the clock starts
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            r = dict(template[sent % len(template)])
            now = int(time.time() * 1000)
            r["event_id"] = f"b{sent}"
            r["event_time"] = now
            sent_at[r["event_id"]] = now
            producer.send(profile.topic(c.topic), key=key_bytes(c, r), value=codec.encode(r), timestamp_ms=now)
            sent += 1
        time.sleep(0.001)
    producer.flush()
    res.offered_rate = rate
    res.achieved_rate = sent / (time.monotonic() - start)
    time.sleep(8 if job == "signals" else 3)
    stop.set()
    reader_thread.join(5)
    producer.close()
    client.cancel().result()
    if latencies:
        arr = np.array(latencies)
        res.latency_samples = len(arr)
        res.latency_ms = {q: float(np.percentile(arr, p)) for q, p in (("p50", 50), ("p95", 95), ("p99", 99))}
        res.latency_ms["max"] = float(arr.max())


def run_bench(args: argparse.Namespace) -> int:
    bootstrap = broker.resolve_bootstrap(args.bootstrap_servers)
    results: list[JobResult] = []
    for job in JOBS:
        _log(f"{job}: throughput over {args.events:,} events …")
        res = _throughput(job, bootstrap, args.format, args.events)
        _log(f"{job}: latency at {args.rate:,} events/s for {args.seconds:.0f}s …")
        _latency(job, bootstrap, args.format, args.rate, args.seconds, res)
        results.append(res)
    base = results[0].events_per_s
    header = f"{'job':<12} {'events':>9} {'events/s':>10} {'vs pass':>8} {'offered/s':>10} " \
             f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'samples':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        lat = r.latency_ms
        print(f"{r.job:<12} {r.events:>9,} {r.events_per_s:>10,.0f} {r.events_per_s / base:>8.2f} "
              f"{r.achieved_rate:>10,.0f} {lat.get('p50', float('nan')):>8.1f} {lat.get('p95', float('nan')):>8.1f} "
              f"{lat.get('p99', float('nan')):>8.1f} {r.latency_samples:>8,}")
    report = {
        "suite": args.suite, "format": args.format, "cores": os.cpu_count(), "machine": platform.machine(),
        "python": platform.python_version(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "latency_definition": __doc__.split("- latency:")[1].strip() if __doc__ else "",
        "results": [asdict(r) for r in results],
    }
    BENCH_RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = args.out or str(BENCH_RESULTS_DIR / f"{args.suite}-{time.strftime('%Y%m%dT%H%M%S')}.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    _log(f"wrote {out}")
    return 0
