"""What one tail reader costs the local broker (Tansu 0.6, memory storage): by stored batches or by records?

bench/broker_fetch_cost.py found the broker's fetches get dearer as a partition fills. This tells
which count they follow, which decides the remedy. For each partition shape it fills a fresh
one-partition topic, then trickles small batches (5 records, ~70 a second) while one reader
tails it as the Flink sources do (up to 20 ms fetch wait), and reads the broker's cores from /proc.
The shapes hold the same records in many small batches or in few large ones, and an empty one
is the floor. Prints a table and writes bench/results/broker_batch_cost.json. Needs the local
broker (`cxstream broker start`): another Kafka's CPU is not ours to read.

    .venv/bin/python bench/broker_batch_cost.py [--records 40000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cxstream import broker, cpu_usage  # noqa: E402
from cxstream.kafka_clients import python_client_kwargs  # noqa: E402
from cxstream.topics import TopicSpec, ensure_topics  # noqa: E402

RECORD = b"x" * 200  # about one simulator interaction in Avro
TRICKLE_BATCH = 5


def _fill(producer, topic: str, batches: int, per_batch: int) -> None:  # noqa: ANN001 - kafka-python's
    """`batches` batches of `per_batch` records: a flush after each closes its batch."""
    for _ in range(batches):
        for _ in range(per_batch):
            producer.send(topic, RECORD)
        producer.flush()


def tail_cost(bootstrap: str, broker_pid: int, topic: str, producer, seconds: float) -> dict:  # noqa: ANN001
    """The broker's cores while one reader tails `topic` and small batches keep arriving."""
    from kafka import KafkaConsumer, TopicPartition

    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            _fill(producer, topic, 1, TRICKLE_BATCH)
            time.sleep(0.01)

    tp = TopicPartition(topic, 0)
    reader = KafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=20, enable_auto_commit=False,
                           **python_client_kwargs())
    reader.assign([tp])
    reader.seek_to_end(tp)
    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    read, before = 0, cpu_usage.snapshot()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            read += sum(len(records) for records in reader.poll(200).values())
        after = cpu_usage.snapshot()
    finally:
        stop.set()
        trickler.join(10)
        reader.close()
    return {"broker_cores": round(cpu_usage.tree_cores(before, after, broker_pid), 3), "records_read": read}


def main() -> int:
    from kafka import KafkaProducer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=40_000, help="records stored before the reader tails")
    parser.add_argument("--seconds", type=float, default=8, help="how long the reader tails each topic")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "broker_batch_cost.json"))
    args = parser.parse_args()
    state = broker.status()
    if state is None:
        raise SystemExit("bench/broker_batch_cost.py measures the local broker: start it with `./cx broker start`")
    shapes = [("empty", 0, 0), ("small batches", args.records // 5, 5), ("large batches", args.records // 100, 100)]
    producer = KafkaProducer(bootstrap_servers=state.bootstrap_servers, linger_ms=0, **python_client_kwargs())
    rows = []
    for name, batches, per_batch in shapes:
        topic = f"bench-batch-cost-{uuid.uuid4().hex[:8]}"
        ensure_topics(state.bootstrap_servers, [TopicSpec(topic, 1)])
        _fill(producer, topic, batches, per_batch)
        row = {"shape": name, "stored_batches": batches, "stored_records": batches * per_batch,
               **tail_cost(state.bootstrap_servers, state.pid, topic, producer, args.seconds)}
        rows.append(row)
        print(f"[bench] {name}: {row['broker_cores']:.2f} broker cores", flush=True)
    producer.close()
    print(f"{'stored':<14} {'batches':>8} {'records':>8} {'broker cores':>13} {'read':>7}")
    for r in rows:
        print(f"{r['shape']:<14} {r['stored_batches']:>8,} {r['stored_records']:>8,} {r['broker_cores']:>13.2f} "
              f"{r['records_read']:>7,}")
    Path(args.out).write_text(json.dumps({"cores": os.cpu_count(), "seconds": args.seconds,
                                          "trickle_batch": TRICKLE_BATCH, "rows": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
