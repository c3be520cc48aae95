"""End-to-end smoke test of the cx-kafka connector and cx-avro format against a real broker.

    /tmp/probe-venv/bin/python connector/smoke_test.py --bootstrap 127.0.0.1:19192 \
        --jar /tmp/cx.jar --libdir .cxstream/jars/lib [--only json,avro,dlq,upsert,window,start]

Each check is a plain function taking a ``Ctx`` (broker address and jar URLs), so a test suite can
import and call them. Every check uses fresh topic names, so they can run against a shared broker.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import re
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import fastavro
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

REPO = Path(__file__).resolve().parent.parent
INTERACTION_AVSC = REPO / "schemas" / "interaction.avsc"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@dataclass
class Ctx:
    bootstrap: str
    pipeline_jars: str  # ';'-separated file:// URLs
    parallelism: int = 2


def make_ctx(bootstrap: str, jar: str, libdir: str, parallelism: int = 2) -> Ctx:
    jars = [Path(jar).resolve()] + sorted(Path(libdir).resolve().glob("*.jar"))
    return Ctx(bootstrap, ";".join(p.as_uri() for p in jars), parallelism)


# ---- Kafka helpers -----------------------------------------------------------------------------

def new_topic(ctx: Ctx, name: str, partitions: int = 3) -> str:
    topic = f"smoke.{name}.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=ctx.bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
    return topic


def produce(ctx: Ctx, topic: str, items: list[tuple[bytes | None, bytes | None, int | None]],
            partition: int | None = None) -> list[tuple[int, int]]:
    """Send (key, value, timestamp_ms) in order; return (partition, offset) of each."""
    producer = KafkaProducer(bootstrap_servers=ctx.bootstrap, acks="all", max_in_flight_requests_per_connection=1,
                             linger_ms=5)
    futures = [producer.send(topic, key=k, value=v, timestamp_ms=ts, partition=partition) for k, v, ts in items]
    producer.flush()
    out = [(md.partition, md.offset) for md in (f.get(timeout=30) for f in futures)]
    producer.close()
    return out


def produce_to_partitions(ctx: Ctx, topic: str, items: list[tuple[int, tuple]]) -> None:
    """Send (partition, (key, value, timestamp_ms)) in order with one producer."""
    producer = KafkaProducer(bootstrap_servers=ctx.bootstrap, acks="all", linger_ms=5)
    for p, (k, v, ts) in items:
        producer.send(topic, key=k, value=v, timestamp_ms=ts, partition=p)
    producer.flush()
    producer.close()


def read_topic(ctx: Ctx, topic: str, expect: int | None = None, timeout_s: float = 60.0) -> list:
    """All records of a topic, from the beginning to its current end (or until `expect` arrived)."""
    consumer = KafkaConsumer(bootstrap_servers=ctx.bootstrap, enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=1000)
    try:
        deadline = time.time() + timeout_s
        while True:
            parts = consumer.partitions_for_topic(topic)
            if parts or time.time() > deadline:
                break
            time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(parts or [])]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records = []
        while time.time() < deadline:
            end = consumer.end_offsets(tps)
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
            caught_up = all(consumer.position(tp) >= end[tp] for tp in tps)
            if caught_up and (expect is None or len(records) >= expect):
                break
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


# ---- Flink helpers -----------------------------------------------------------------------------

def table_env(ctx: Ctx, checkpoint_ms: int | None = None, idle_timeout: str | None = None):
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("pipeline.jars", ctx.pipeline_jars)
    conf.set("parallelism.default", str(ctx.parallelism))
    if checkpoint_ms:
        conf.set("execution.checkpointing.interval", f"{checkpoint_ms} ms")
    if idle_timeout:
        conf.set("table.exec.source.idle-timeout", idle_timeout)
    return t_env


def with_clause(options: dict[str, str]) -> str:
    def q(s: str) -> str:
        return "'" + s.replace("'", "''") + "'"
    return "WITH (\n" + ",\n".join(f"  {q(k)} = {q(v)}" for k, v in options.items()) + "\n)"


def kafka_options(ctx: Ctx, topic: str) -> dict[str, str]:
    return {"connector": "cx-kafka", "topic": topic, "properties.bootstrap.servers": ctx.bootstrap}


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ms_of(value) -> int:
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    return int(value)


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


# ---- (a) JSON round trip -----------------------------------------------------------------------

def check_json_roundtrip(ctx: Ctx, n: int = 5000) -> str:
    src, dst = new_topic(ctx, "json-in"), new_topic(ctx, "json-out")
    t0 = int(time.time() * 1000) - 3_600_000
    items = []
    for i in range(n):
        k = f"k{i % 97}"
        items.append((k.encode(), json.dumps({"id": i, "k": k, "seq": i // 97, "ts": iso_ms(t0 + i)}).encode(), t0 + i))
    sent = produce(ctx, src, items)
    check(len({p for p, _ in sent}) == 3, "test data should span 3 partitions")

    t_env = table_env(ctx)
    cols = "id BIGINT, k STRING, seq INT, ts TIMESTAMP_LTZ(3)"
    t_env.execute_sql(f"CREATE TABLE src ({cols}) " + with_clause({
        **kafka_options(ctx, src), "format": "json", "json.timestamp-format.standard": "ISO-8601",
        "scan.bounded.mode": "latest-offset", "properties.group.id": "smoke-json"}))
    t_env.execute_sql(f"CREATE TABLE dst ({cols}) " + with_clause({
        **kafka_options(ctx, dst), "key.format": "json", "key.fields": "k", "value.format": "json",
        "value.json.timestamp-format.standard": "ISO-8601"}))
    t_env.execute_sql("INSERT INTO dst SELECT * FROM src").wait()

    out = read_topic(ctx, dst, expect=n)
    check(len(out) == n, f"expected {n} records out, got {len(out)}")
    rows = [json.loads(r.value) for r in out]
    check(sorted(r["id"] for r in rows) == list(range(n)), "ids differ")
    by_key: dict[str, list[int]] = defaultdict(list)
    for r, rec in zip(rows, out, strict=False):
        check(json.loads(rec.key) == {"k": r["k"]}, f"key {rec.key!r} does not match row {r}")
        by_key[r["k"]].append(r["seq"])
    check(all(seqs == sorted(seqs) for seqs in by_key.values()), "per-key order not preserved")
    # Flink's json format drops trailing zeros of the fraction (".530Z" → ".53Z"): compare instants.
    check(all(ms_of(datetime.fromisoformat(r["ts"])) == t0 + r["id"] for r in rows), "timestamps changed")
    return f"{n} in, {len(out)} out over {len({r.partition for r in out})} partitions, per-key order kept"


# ---- (b) Avro round trip -----------------------------------------------------------------------

INTERACTION_COLUMNS = """
  event_id STRING NOT NULL, customer_id STRING NOT NULL, session_id STRING NOT NULL,
  channel STRING NOT NULL, event_type STRING NOT NULL, item_id STRING, amount DOUBLE, currency STRING,
  event_time TIMESTAMP_LTZ(3) NOT NULL, segment STRING"""


def interactions(n: int, t0: int) -> list[dict]:
    out = []
    for i in range(n):
        out.append({
            "event_id": f"e{i}", "customer_id": f"c{i % 41}", "session_id": f"s{i % 300}",
            "channel": ["web", "app", "kiosk", "store", "call"][i % 5],
            "event_type": ["page_view", "purchase", "search"][i % 3],
            "item_id": None if i % 4 == 0 else f"item-{i % 17}-ü",
            "amount": None if i % 3 else round(i * 1.25, 2),
            "currency": None if i % 3 else "EUR",
            "event_time": t0 + i * 10,
            "segment": None if i % 5 == 0 else ["new", "regular", "vip"][i % 3],
        })
    return out


def avro_bytes(parsed, record: dict) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record)
    return buf.getvalue()


def check_avro_roundtrip(ctx: Ctx, n: int = 1000) -> str:
    schema_text = INTERACTION_AVSC.read_text()
    parsed = fastavro.parse_schema(json.loads(schema_text))
    src, dst = new_topic(ctx, "avro-in"), new_topic(ctx, "avro-out")
    t0 = int(time.time() * 1000) - 3_600_000
    records = interactions(n, t0)
    produce(ctx, src, [(r["customer_id"].encode(), avro_bytes(parsed, r), r["event_time"]) for r in records])

    t_env = table_env(ctx)
    avro = {"value.format": "cx-avro", "value.cx-avro.schema": schema_text}
    t_env.execute_sql(f"CREATE TABLE src ({INTERACTION_COLUMNS}) " + with_clause(
        {**kafka_options(ctx, src), "scan.bounded.mode": "latest-offset", **avro}))
    t_env.execute_sql(f"CREATE TABLE dst ({INTERACTION_COLUMNS}) " + with_clause(
        {**kafka_options(ctx, dst), "key.format": "json", "key.fields": "customer_id", **avro}))
    t_env.execute_sql("INSERT INTO dst SELECT * FROM src").wait()

    out = read_topic(ctx, dst, expect=n)
    decoded = []
    for rec in out:
        r = fastavro.schemaless_reader(io.BytesIO(rec.value), parsed, parsed)
        r["event_time"] = ms_of(r["event_time"])
        decoded.append(r)
    check(len(decoded) == n, f"expected {n} Avro records out, got {len(decoded)}")
    check(sorted(decoded, key=lambda r: r["event_id"]) == sorted(records, key=lambda r: r["event_id"]),
          "Avro records differ after the round trip")
    return f"{n} Avro records round-tripped field for field (nulls, non-ASCII and timestamp-millis included)"


# ---- (c) dead-letter routing -------------------------------------------------------------------

def check_dlq(ctx: Ctx, n_good: int = 600) -> str:
    schema_text = INTERACTION_AVSC.read_text()
    parsed = fastavro.parse_schema(json.loads(schema_text))
    src, dst, dlq = new_topic(ctx, "dlq-in"), new_topic(ctx, "dlq-out"), new_topic(ctx, "dlq", partitions=1)
    t0 = int(time.time() * 1000) - 3_600_000
    good = interactions(n_good, t0)
    bad_values = [b"\x00\xff garbage", avro_bytes(parsed, good[5])[:7], b"", b"\x02x" * 3, None,
                  avro_bytes(parsed, good[6]) + b"\x00"]
    items: list[tuple[bytes | None, bytes | None, int]] = []
    bad_expected = 0
    for i, r in enumerate(good):
        items.append((r["customer_id"].encode(), avro_bytes(parsed, r), r["event_time"]))
        if i % 100 == 50:
            for b in bad_values:
                items.append((b"bad", b, t0 + i))
                bad_expected += 1
    sent = produce(ctx, src, items)
    sent_by_pos = {pos: item for pos, item in zip(sent, items, strict=False)}

    t_env = table_env(ctx)
    avro = {"value.format": "cx-avro", "value.cx-avro.schema": schema_text}
    t_env.execute_sql(f"CREATE TABLE src ({INTERACTION_COLUMNS}) " + with_clause(
        {**kafka_options(ctx, src), "scan.bounded.mode": "latest-offset", "dlq.topic": dlq,
         "dlq.job-name": "smoke-dlq", **avro}))
    t_env.execute_sql(f"CREATE TABLE dst ({INTERACTION_COLUMNS}) " + with_clause({**kafka_options(ctx, dst), **avro}))
    t_env.execute_sql("INSERT INTO dst SELECT * FROM src").wait()

    out = read_topic(ctx, dst, expect=n_good)
    ids = sorted(fastavro.schemaless_reader(io.BytesIO(r.value), parsed, parsed)["event_id"] for r in out)
    check(ids == sorted(r["event_id"] for r in good), f"good records: expected {n_good}, got {len(ids)}")
    letters = read_topic(ctx, dlq, expect=bad_expected)
    check(len(letters) == bad_expected, f"expected {bad_expected} dead letters, got {len(letters)}")
    fields = {"source_topic", "source_partition", "source_offset", "source_timestamp", "reason", "stage", "job",
              "payload", "detected_at"}
    reasons = defaultdict(int)
    for rec in letters:
        check(rec.key is None, "dead letters have no key")
        d = json.loads(rec.value)
        check(set(d) == fields, f"dead-letter fields {sorted(d)}")
        check(d["source_topic"] == src and d["stage"] == "decode" and d["job"] == "smoke-dlq", f"bad letter {d}")
        key, value, ts = sent_by_pos[(d["source_partition"], d["source_offset"])]
        check(key == b"bad", f"a good record was dead-lettered: {d}")
        check((base64.b64decode(d["payload"]) if d["payload"] is not None else None) == value, "payload differs")
        check(d["source_timestamp"] == iso_ms(ts), f"source_timestamp {d['source_timestamp']} != {iso_ms(ts)}")
        check(bool(ISO_Z.match(d["detected_at"])), f"detected_at {d['detected_at']}")
        check(d["reason"].startswith("undecodable: ") and len(d["reason"]) <= 600, f"reason {d['reason']}")
        reasons[d["reason"][:60]] += 1
    summary = "; ".join(f"{k}… ×{v}" for k, v in sorted(reasons.items()))
    return f"{n_good} good passed, {len(letters)} bad dead-lettered: {summary}"


def check_dlq_absent_fails(ctx: Ctx) -> str:
    """Without dlq.topic an undecodable record fails the job with a clear message."""
    src, dst = new_topic(ctx, "nodlq-in"), new_topic(ctx, "nodlq-out")
    produce(ctx, src, [(None, b'{"a": 1}', None), (None, b"not json", None)], partition=0)
    t_env = table_env(ctx)
    t_env.execute_sql("CREATE TABLE src (a INT) " + with_clause(
        {**kafka_options(ctx, src), "format": "json", "scan.bounded.mode": "latest-offset"}))
    t_env.execute_sql("CREATE TABLE dst (a INT) " + with_clause({**kafka_options(ctx, dst), "format": "json"}))
    try:
        t_env.execute_sql("INSERT INTO dst SELECT * FROM src").wait()
    except Exception as e:  # noqa: BLE001 - py4j wraps the Java exception
        text = str(e)
        check("set 'dlq.topic'" in text, "the failure should say how to route bad records")
        return "job failed as expected: " + re.search(r"cx-kafka: cannot decode[^\n(]*", text).group(0)
    raise AssertionError("a bad record without dlq.topic should fail the job")


# ---- (d) upsert sink ---------------------------------------------------------------------------

def check_upsert(ctx: Ctx) -> str:
    src, dst = new_topic(ctx, "ups-in"), new_topic(ctx, "ups-out")
    # Key kN gets N+1 events; the view keeps keys seen fewer than 3 times, so keys whose count
    # reaches 3 are deleted from it: k0 and k1 stay, k2..k4 end as tombstones.
    items = []
    for n in range(5):
        for j in range(n + 1):
            items.append((f"k{n}".encode(), json.dumps({"k": f"k{n}", "v": j}).encode(), None))
    produce(ctx, src, items)
    t_env = table_env(ctx)
    t_env.execute_sql("CREATE TABLE src (k STRING, v INT) " + with_clause(
        {**kafka_options(ctx, src), "format": "json", "scan.bounded.mode": "latest-offset"}))
    t_env.execute_sql("CREATE TABLE dst (k STRING, cnt BIGINT, top INT, PRIMARY KEY (k) NOT ENFORCED) " + with_clause({
        "connector": "cx-upsert-kafka", "topic": dst, "properties.bootstrap.servers": ctx.bootstrap,
        "key.format": "json", "value.format": "json"}))
    t_env.execute_sql("INSERT INTO dst SELECT k, cnt, top FROM "
                      "(SELECT k, COUNT(*) AS cnt, MAX(v) AS top FROM src GROUP BY k) WHERE cnt < 3").wait()
    out = read_topic(ctx, dst)
    final: dict[str, dict | None] = {}
    tombstones = 0
    for rec in out:  # one partition per key, so this is each key's last state
        key = json.loads(rec.key)["k"]
        final[key] = None if rec.value is None else json.loads(rec.value)
        tombstones += rec.value is None
    check(final.get("k0") == {"k": "k0", "cnt": 1, "top": 0}, f"k0: {final.get('k0')}")
    check(final.get("k1") == {"k": "k1", "cnt": 2, "top": 1}, f"k1: {final.get('k1')}")
    for k in ("k2", "k3", "k4"):
        check(k in final and final[k] is None, f"{k} should end as a tombstone, got {final.get(k)}")
    return f"{len(out)} records; final state {final}; {tombstones} tombstones"


# ---- (e) unbounded source, watermarks, windows -------------------------------------------------

def check_window(ctx: Ctx, timeout_s: float = 120.0) -> str:
    src, dst = new_topic(ctx, "win-in"), new_topic(ctx, "win-out")
    t0 = (int(time.time() * 1000) // 60_000) * 60_000 - 3_600_000   # a minute boundary an hour ago
    # Partitions 0 and 1 carry 3 full 10-second windows, present before the job starts so that
    # both are busy from the first fetch; partition 2 stays empty and must be marked idle, or it
    # would hold the watermark back. (Data arriving on a partition that was already idle while
    # another one advanced the watermark is late by definition of idleness.)
    items: list[tuple[int, tuple]] = []
    for i in range(300):
        ts = t0 + i * 100   # 30 s of events, 10 per second per partition
        for p in (0, 1):
            items.append((p, (None, json.dumps({"p": p, "ts": iso_ms(ts)}).encode(), ts)))
    # One event far later per partition closes the windows. It is sent only once the rest has
    # been read: a source subtask that was idle (no data yet) and wakes up later than the other
    # would otherwise find the watermark already past its records, which is what idleness means.
    closing = [(p, (None, json.dumps({"p": p, "ts": iso_ms(t0 + 60_000)}).encode(), t0 + 60_000)) for p in (0, 1)]
    produce_to_partitions(ctx, src, items)
    # The idle timeout must exceed how long a source subtask may take to get going (client start-up,
    # first fetch): a subtask idle for longer is skipped by the watermark, and its first records are
    # then late. 5 s is comfortable on a loaded 2-core machine.
    t_env = table_env(ctx, checkpoint_ms=1000, idle_timeout="5 s")
    t_env.execute_sql("CREATE TABLE src (p INT, ts TIMESTAMP_LTZ(3), part INT METADATA FROM 'partition' VIRTUAL, "
                      "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) " + with_clause(
                          {**kafka_options(ctx, src), "format": "json", "json.timestamp-format.standard": "ISO-8601",
                           "scan.topic-partition-discovery.interval": "2 s", "properties.group.id": f"{src}-g"}))
    t_env.execute_sql("CREATE TABLE dst (window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT) " +
                      with_clause({**kafka_options(ctx, dst), "format": "json"}))
    result = t_env.execute_sql(
        "INSERT INTO dst SELECT window_start, window_end, COUNT(*) FROM "
        "TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end")
    client = result.get_job_client()
    try:
        # Wait until the job has read the windows' data (its checkpoints commit the offsets to the
        # group), then past the idle timeout so that partition 2 has gone idle: a fixed pause is
        # not enough on a loaded machine, where the job may not have started reading yet.
        watcher = KafkaConsumer(bootstrap_servers=ctx.bootstrap, group_id=f"{src}-g", enable_auto_commit=False)
        try:
            deadline = time.time() + timeout_s
            while any((watcher.committed(TopicPartition(src, p)) or 0) < 300 for p in (0, 1)):
                check(time.time() < deadline, "the job did not read the windows' data in time")
                time.sleep(0.5)
        finally:
            watcher.close()
        time.sleep(6)
        produce_to_partitions(ctx, src, closing)
        deadline = time.time() + timeout_s
        windows: list[dict] = []
        while time.time() < deadline:
            windows = [json.loads(r.value) for r in read_topic(ctx, dst, timeout_s=5)]
            if len(windows) >= 3:
                break
            time.sleep(1)
        check(len(windows) == 3, f"expected 3 closed windows, got {windows}")
        check(sorted(w["n"] for w in windows) == [200, 200, 200], f"window counts {windows}")
        return f"3 tumbling windows of 200 events each closed with partition 2 idle: {[w['n'] for w in windows]}"
    finally:
        client.cancel().result()


# ---- (f) start modes ---------------------------------------------------------------------------

def check_start_modes(ctx: Ctx) -> str:
    src = new_topic(ctx, "start", partitions=2)
    t0 = int(time.time() * 1000) - 3_600_000
    produce(ctx, src, [(None, json.dumps({"i": i}).encode(), t0 + i * 1000) for i in range(10)], partition=0)
    produce(ctx, src, [(None, json.dumps({"i": 100 + i}).encode(), t0 + i * 1000) for i in range(10)], partition=1)
    results = {}

    def run(name: str, **opts: str) -> list[int]:
        dst = new_topic(ctx, f"start-{name}")
        t_env = table_env(ctx)
        t_env.execute_sql("CREATE TABLE src (i INT) " + with_clause(
            {**kafka_options(ctx, src), "format": "json", "scan.bounded.mode": "latest-offset", **opts}))
        t_env.execute_sql("CREATE TABLE dst (i INT) " + with_clause({**kafka_options(ctx, dst), "format": "json"}))
        t_env.execute_sql("INSERT INTO dst SELECT * FROM src").wait()
        got = sorted(json.loads(r.value)["i"] for r in read_topic(ctx, dst))
        results[name] = len(got)
        return got

    got = run("earliest")
    check(len(got) == 20, f"earliest-offset: {got}")
    got = run("latest", **{"scan.startup.mode": "latest-offset"})
    check(got == [], f"latest-offset: {got}")
    got = run("timestamp", **{"scan.startup.mode": "timestamp", "scan.startup.timestamp-millis": str(t0 + 7000)})
    check(got == [7, 8, 9, 107, 108, 109], f"timestamp: {got}")
    got = run("specific", **{"scan.startup.mode": "specific-offsets",
                             "scan.startup.specific-offsets": "partition:0,offset:8;partition:1,offset:5"})
    check(got == [8, 9] + list(range(105, 110)), f"specific-offsets: {got}")
    # group-offsets: no committed offsets yet → falls back to earliest.
    check(len(run("group", **{"scan.startup.mode": "group-offsets", "properties.group.id": "g-" + src})) == 20,
          "group-offsets fallback")
    return f"records read per start mode: {results}"


# ---- (g) partition discovery and offset commits on checkpoints --------------------------------

def check_discovery_and_commits(ctx: Ctx, timeout_s: float = 90.0) -> str:
    """A topic created while the job runs is discovered; offsets reach the group on checkpoints.

    (The local broker cannot add partitions to a topic, so discovery is shown with a second
    topic of a 'topic' list, which goes through the same path: new partitions, read from their
    beginning.)
    """
    src, dst = new_topic(ctx, "disc-in", partitions=2), new_topic(ctx, "disc-out")
    later = src + ".later"
    group = "smoke-commit-" + src
    produce(ctx, src, [(None, json.dumps({"i": i}).encode(), None) for i in range(10)], partition=0)
    produce(ctx, src, [(None, json.dumps({"i": 100 + i}).encode(), None) for i in range(10)], partition=1)
    t_env = table_env(ctx, checkpoint_ms=500)
    t_env.execute_sql("CREATE TABLE src (i INT) " + with_clause(
        {**kafka_options(ctx, f"{src};{later}"), "format": "json", "properties.group.id": group,
         "scan.topic-partition-discovery.interval": "1 s"}))
    t_env.execute_sql("CREATE TABLE dst (i INT) " + with_clause({**kafka_options(ctx, dst), "format": "json"}))
    client = t_env.execute_sql("INSERT INTO dst SELECT * FROM src").get_job_client()
    try:
        check(len(read_topic(ctx, dst, expect=20, timeout_s=timeout_s)) == 20, "the first 20 records")
        admin = KafkaAdminClient(bootstrap_servers=ctx.bootstrap)
        try:
            admin.create_topics([NewTopic(later, num_partitions=1, replication_factor=1)])
        finally:
            admin.close()
        produce(ctx, later, [(None, json.dumps({"i": 200 + i}).encode(), None) for i in range(5)], partition=0)
        got = sorted(json.loads(r.value)["i"] for r in read_topic(ctx, dst, expect=25, timeout_s=timeout_s))
        check(got == list(range(10)) + list(range(100, 110)) + list(range(200, 205)),
              f"records after adding a topic: {got}")
        tps = [TopicPartition(src, 0), TopicPartition(src, 1), TopicPartition(later, 0)]
        want = {tps[0]: 10, tps[1]: 10, tps[2]: 5}
        consumer = KafkaConsumer(bootstrap_servers=ctx.bootstrap, group_id=group, enable_auto_commit=False)
        try:
            deadline = time.time() + 30
            committed = {}
            while time.time() < deadline:
                committed = {tp: consumer.committed(tp) for tp in tps}
                if committed == want:
                    break
                time.sleep(0.5)
        finally:
            consumer.close()
        check(committed == want, f"committed offsets {committed}")
        return f"topic created mid-run discovered and read; group offsets committed: {list(committed.values())}"
    finally:
        client.cancel().result()


# ---- (h) what is refused, and how -------------------------------------------------------------

def check_refusals(ctx: Ctx) -> str:
    """exactly-once, upsert tables without a key and updates into an append-only table fail at planning."""
    src, dst = new_topic(ctx, "ref-in"), new_topic(ctx, "ref-out")
    t_env = table_env(ctx)
    t_env.execute_sql("CREATE TABLE src (k STRING, v INT) " + with_clause(
        {**kafka_options(ctx, src), "format": "json", "scan.bounded.mode": "latest-offset"}))
    cases = {
        "exactly-once": ("CREATE TABLE eo (k STRING, v INT) " + with_clause(
            {**kafka_options(ctx, dst), "format": "json", "sink.delivery-guarantee": "exactly-once"}),
            "INSERT INTO eo SELECT * FROM src", "is not supported"),
        "upsert without key": ("CREATE TABLE nokey (k STRING, v INT) " + with_clause(
            {"connector": "cx-upsert-kafka", "topic": dst, "properties.bootstrap.servers": ctx.bootstrap,
             "key.format": "json", "value.format": "json"}),
            "INSERT INTO nokey SELECT * FROM src", "PRIMARY KEY"),
        "updates into append-only": ("CREATE TABLE app (k STRING, n BIGINT) " + with_clause(
            {**kafka_options(ctx, dst), "format": "json"}),
            "INSERT INTO app SELECT k, COUNT(*) FROM src GROUP BY k", "update"),
    }
    seen = []
    for name, (ddl, insert, needle) in cases.items():
        t_env.execute_sql(ddl)
        try:
            t_env.execute_sql(insert).wait()
        except Exception as e:  # noqa: BLE001
            check(needle.lower() in str(e).lower(), f"{name}: unexpected error {str(e)[:500]}")
            seen.append(name)
            continue
        raise AssertionError(f"{name} should have been refused")
    return "refused at planning: " + ", ".join(seen)


CHECKS = {
    "json": check_json_roundtrip,
    "avro": check_avro_roundtrip,
    "dlq": check_dlq,
    "nodlq": check_dlq_absent_fails,
    "upsert": check_upsert,
    "window": check_window,
    "start": check_start_modes,
    "discovery": check_discovery_and_commits,
    "refusals": check_refusals,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--jar", required=True, help="the built cxstream connector jar")
    ap.add_argument("--libdir", required=True, help="directory of the third-party jars")
    ap.add_argument("--only", default=",".join(CHECKS), help="comma-separated subset of " + ",".join(CHECKS))
    ap.add_argument("--parallelism", type=int, default=2)
    args = ap.parse_args(argv)
    ctx = make_ctx(args.bootstrap, args.jar, args.libdir, args.parallelism)
    passed = failed = 0
    for name in args.only.split(","):
        start = time.time()
        try:
            detail = CHECKS[name](ctx)
            passed += 1
            print(f"PASS {name} ({time.time() - start:.1f}s): {detail}", flush=True)
        except Exception as e:  # noqa: BLE001 - report every check, then fail
            failed += 1
            lines = str(e).splitlines()
            # py4j errors are long Java traces: show the first line and the causes.
            shown = [ln for i, ln in enumerate(lines) if i < 2 or ln.startswith("Caused by")]
            print(f"FAIL {name} ({time.time() - start:.1f}s): " + "\n    ".join(shown)[:4000], flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
