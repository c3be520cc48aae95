"""What the local broker (Tansu 0.6, memory storage) costs as its topics fill up, in one run.

The whole suite's trigger tail is CPU contention on 2 cores, and the broker is one of the
contenders. This produces the simulator's traffic to fresh topics and reads the broker's CPU every
15 s, first with nobody reading, then with one reader per input topic that fetches as the Flink
sources do (up to 20 ms wait). Prints a table and writes bench/results/broker_fetch_cost.json.
Needs the local broker (`cxstream broker start`): another Kafka's CPU is not ours to read.

    .venv/bin/python bench/broker_fetch_cost.py [--rate 300] [--produce-only-s 60] [--with-readers-s 180]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cxstream import bench, broker, contracts, cpu_usage  # noqa: E402
from cxstream.kafka_clients import python_client_kwargs  # noqa: E402

STEP_S = 15


def _readers(bootstrap: str, topics: list[str], stop: threading.Event, counted: list[int]) -> list[threading.Thread]:
    from kafka import KafkaConsumer

    def read(topic: str) -> None:
        consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, fetch_max_wait_ms=20,
                                 auto_offset_reset="earliest", **python_client_kwargs())
        while not stop.is_set():
            for records in consumer.poll(200).values():
                counted[0] += len(records)
        consumer.close()

    return [threading.Thread(target=read, args=(t,), daemon=True) for t in topics]


def phase(name: str, bootstrap: str, broker_pid: int, rate: int, seconds: float, readers: bool) -> list[dict]:
    """Fresh topics, the simulator at `rate`, the broker's cores per STEP_S; readers if asked."""
    profile = bench._fresh_profile(bootstrap, "avro")
    sim = bench.start_simulator(bootstrap, profile, rate, seconds + 5)
    stop, counted = threading.Event(), [0]
    if readers:
        for t in _readers(bootstrap, [profile.topic(contracts.load(n).topic) for n in contracts.INPUTS], stop, counted):
            t.start()
    rows, start = [], time.monotonic()
    try:
        before = cpu_usage.snapshot()
        while time.monotonic() - start < seconds:
            time.sleep(STEP_S)
            after = cpu_usage.snapshot()
            rows.append({"phase": name, "at_s": round(time.monotonic() - start),
                         "broker_cores": round(cpu_usage.tree_cores(before, after, broker_pid), 3),
                         "records_read": counted[0]})
            print(f"[bench] {name}: {rows[-1]['at_s']:>4} s  broker {rows[-1]['broker_cores']:.2f} cores  "
                  f"read {counted[0]:,}", flush=True)
            before = after
    finally:
        stop.set()
        bench.finish_simulator(sim, 30)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=300, help="simulated events/s (default 300)")
    parser.add_argument("--produce-only-s", type=float, default=60)
    parser.add_argument("--with-readers-s", type=float, default=180)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "broker_fetch_cost.json"))
    args = parser.parse_args()
    state = broker.status()
    if state is None:
        raise SystemExit("bench/broker_fetch_cost.py measures the local broker: start it with `./cx broker start`")
    rows = phase("produce only", state.bootstrap_servers, state.pid, args.rate, args.produce_only_s, readers=False)
    rows += phase("produce + 4 readers", state.bootstrap_servers, state.pid, args.rate, args.with_readers_s,
                  readers=True)
    print(f"{'phase':<22} {'at s':>5} {'broker cores':>13} {'records read':>13}")
    for r in rows:
        print(f"{r['phase']:<22} {r['at_s']:>5} {r['broker_cores']:>13.2f} {r['records_read']:>13,}")
    Path(args.out).write_text(json.dumps({"cores": os.cpu_count(), "rate": args.rate, "step_s": STEP_S,
                                          "rows": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
