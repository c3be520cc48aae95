"""Test helpers that talk to the real broker: produce records, read topics back, run jobs bounded."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cxstream import contracts
from cxstream.codec import Codec, key_bytes
from cxstream.consume import Message, TopicReader
from cxstream.kafka_clients import python_client_kwargs
from cxstream.profiles import Profile
from cxstream.runtime import RunOptions, build, load_spec


@dataclass
class Sent:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    record: dict | None


def produce(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes, int]]) -> list[Sent]:
    """Send (key, value, timestamp_ms) tuples in order; return where each landed."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                             max_in_flight_requests_per_connection=1, **python_client_kwargs())
    futures = [producer.send(topic, key=k, value=v, timestamp_ms=ts) for k, v, ts in items]
    producer.flush()
    out = []
    for (k, v, ts), fut in zip(items, futures, strict=True):
        md = fut.get(timeout=30)
        out.append(Sent(topic, md.partition, md.offset, ts, k, v, None))
    producer.close()
    return out


def produce_records(bootstrap: str, profile: Profile, contract_name: str, records: list[dict],
                    timestamps: list[int]) -> list[Sent]:
    c = contracts.load(contract_name)
    codec = Codec(c, profile.value_format)
    items = [(key_bytes(c, r), codec.encode(r), ts) for r, ts in zip(records, timestamps, strict=True)]
    sent = produce(bootstrap, profile.topic(c.topic), items)
    for s, r in zip(sent, records, strict=True):
        s.record = r
    return sent


def read_all(bootstrap: str, profile: Profile, topic: str, expect: int, timeout_s: float = 60) -> list[Message]:
    """Read a topic from the beginning until `expect` records arrived (or the timeout)."""
    with TopicReader(bootstrap, [profile.topic(topic)], value_format=profile.value_format,
                     topic_prefix=profile.topic_prefix) as reader:
        return reader.read_until(lambda got: len(got) >= expect, timeout_s)


def read_settled(bootstrap: str, profile: Profile, topic: str, quiet_s: float = 5.0, at_least: int = 0,
                 timeout_s: float = 180) -> list[Message]:
    """Read a topic from the beginning until nothing new arrives for quiet_s seconds.

    With at_least, a quiet spell ends the read only once that many records arrived (or timeout_s
    passed): on a loaded machine the reader itself can stall for seconds, which would otherwise cut a
    read short and look like lost records. The quiet spell after the count still catches extras.
    """
    deadline = time.monotonic() + timeout_s
    with TopicReader(bootstrap, [profile.topic(topic)], value_format=profile.value_format,
                     topic_prefix=profile.topic_prefix) as reader:
        got: list[Message] = []
        last = time.monotonic()
        while time.monotonic() - last < quiet_s or (len(got) < at_least and time.monotonic() < deadline):
            batch = reader.poll(200)
            if batch:
                got += batch
                last = time.monotonic()
        return got


def read_written(bootstrap: str, profile: Profile, topic: str, timeout_s: float = 180) -> list[Message]:
    """Read a topic from the beginning up to its high watermarks: everything already written.

    For the output of a writer that has finished (a job after run_bounded or execute().wait(), a
    producer that has exited): it had its records acknowledged before it finished, so all of them
    lie below the high watermarks (TopicReader.read_to_end), and read_settled's quiet spell would
    only wait. Whatever is still writing is read_settled's case.
    """
    with TopicReader(bootstrap, [profile.topic(topic)], value_format=profile.value_format,
                     topic_prefix=profile.topic_prefix) as reader:
        return reader.read_to_end(timeout_s)


def run_bounded(job: str, profile: Profile, **opts) -> None:
    """Run a job over what is in its input topics now, to the end, and wait for it to finish."""
    pipeline = build([load_spec(job)], profile, RunOptions(bounded=True, checkpoint_interval=None, **opts),
                     job_name=f"test-{job}")
    pipeline.execute().wait()
