"""Read topics from Python (tail, the live view, tests, benchmarks).

Uses assign() + seek rather than consumer-group subscribe(): it works the same against the local
broker (whose group coordination is slow to settle with kafka-python) and a real cluster, and a
reader that only watches must not steal partitions from anyone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cxstream import contracts
from cxstream.codec import Codec


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    received_ms: int
    record: dict[str, Any] | None = None  # decoded value, when a contract is known
    error: str | None = None  # why decoding failed


class TopicReader:
    """Reads every partition of some topics from the beginning or the end, decoding by contract."""

    def __init__(self, bootstrap_servers: str, topics: list[str], from_beginning: bool = True,
                 value_format: str = "avro", topic_prefix: str = "", group_id: str | None = None) -> None:
        """With group_id, each partition starts at the group's committed offset where it has one
        (from_beginning decides the others) and commit() records progress. The partitions are still
        assigned, not subscribed: with the local broker, kafka-python's subscribe() delivered its
        first record only after ~23 s (the group join), while committed() and commit() for assigned
        partitions answer at once."""
        from kafka import KafkaConsumer, TopicPartition

        from cxstream.kafka_clients import python_client_kwargs

        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=group_id,
            consumer_timeout_ms=0, fetch_max_wait_ms=20, max_partition_fetch_bytes=8 << 20,
            **python_client_kwargs(),
        )
        self.group_id = group_id
        self._codecs: dict[str, Codec] = {}
        partitions = []
        for topic in topics:
            try:
                contract = contracts.by_topic(topic.removeprefix(topic_prefix))
                self._codecs[topic] = Codec(contract, value_format)
            except KeyError:
                pass
            found = None
            deadline = time.monotonic() + 10
            while not found and time.monotonic() < deadline:
                found = self._consumer.partitions_for_topic(topic)
                if not found:
                    time.sleep(0.2)
            if not found:
                raise RuntimeError(f"topic {topic!r} does not exist on {bootstrap_servers}")
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        self._consumer.assign(partitions)
        if from_beginning:
            self._consumer.seek_to_beginning(*partitions)
        else:
            self._consumer.seek_to_end(*partitions)
        if group_id:
            for tp in partitions:
                committed = self._consumer.committed(tp)
                if committed is not None:
                    self._consumer.seek(tp, committed)
        self.partitions = partitions

    def poll(self, timeout_ms: int = 200) -> list[Message]:
        out: list[Message] = []
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=50_000)
        now = int(time.time() * 1000)
        for tp, records in batches.items():
            codec = self._codecs.get(tp.topic)
            for r in records:
                msg = Message(tp.topic, tp.partition, r.offset, r.timestamp, r.key, r.value, now)
                if codec is not None and r.value is not None:
                    try:
                        msg.record = codec.decode(r.value)
                    except Exception as exc:  # noqa: BLE001 - reported to the reader, not raised
                        msg.error = f"{type(exc).__name__}: {exc}"
                out.append(msg)
        return out

    def commit(self, msg: Message) -> None:
        """Record for the group that everything up to and including msg has been handled."""
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        if not self.group_id:
            raise RuntimeError("commit() needs a reader with a group_id")
        self._consumer.commit({TopicPartition(msg.topic, msg.partition): OffsetAndMetadata(msg.offset + 1, "", -1)})

    def read_to_end(self, timeout_s: float) -> list[Message]:
        """Everything the partitions hold now (from where the reader stands): for a finished writer.

        Read until each partition's position reaches the high watermark its latest fetch response
        carried, not the end offsets ListOffsets reports: the local broker (Tansu 0.6, measured)
        answers that with the last batch's base offset + 1 (batches of 1 and 4 records: 2, not 5), so
        a read up to it could stop before the last batch whenever one poll happened to end there.
        The connector's bounded reads end the same way (PartitionEnumerator.endOffsets).
        """
        got: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while True:
            got += self.poll(200)
            behind = {}  # partition -> (position, high watermark), for those not yet at their end
            for tp in self.partitions:
                position, hw = self._consumer.position(tp), self._consumer.highwater(tp)
                if hw is None or position < hw:
                    behind[f"{tp.topic}[{tp.partition}]"] = (position, hw)
            if not behind:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f"not read to the end within {timeout_s} s; (position, high watermark) "
                                   f"of the partitions behind: {behind}")

    def read_until(self, predicate, timeout_s: float) -> list[Message]:
        """Poll until predicate(all messages so far) is true or the timeout passes."""
        got: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got += self.poll()
            if predicate(got):
                break
        return got

    def iter_forever(self) -> Iterator[Message]:
        while True:
            yield from self.poll(timeout_ms=500)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProducedCounter:
    """How many records some topics have received since it was made, from their partitions' end offsets.

    For a view that only counts a topic: one ListOffsets request per call, where reading the topic
    would fetch every record. That matters with the local broker, whose fetches that return records
    cost time in proportion to the batches the partition holds (bench/broker_batch_cost.py). Its end
    offset is the last batch's base offset + 1 (see TopicReader.read_to_end), so a count may trail
    by up to the latest batch of each partition until the next batch arrives; a real Kafka's is exact.
    """

    def __init__(self, bootstrap_servers: str, topics: list[str]) -> None:
        from kafka import KafkaConsumer

        from cxstream.kafka_clients import python_client_kwargs

        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False,
                                       **python_client_kwargs())
        self._topics = list(topics)
        self._start: dict = {}  # partition -> its end offset when first seen: what was there is not counted
        self._last: dict = {}
        self._ask(timeout_ms=10_000)

    def counts(self, timeout_ms: int = 2000) -> dict[str, int]:
        """Per topic, the records produced to it since this counter was made. While the broker does
        not answer within timeout_ms, the last counts it gave: a live view goes on through a blip."""
        self._ask(timeout_ms)
        out = dict.fromkeys(self._topics, 0)
        for tp, end in self._last.items():
            out[tp.topic] += end - self._start[tp]
        return out

    def _ask(self, timeout_ms: int) -> None:
        """The end offsets of every partition, looking up those of topics not yet seen with any."""
        from kafka import TopicPartition
        from kafka.errors import KafkaError

        try:
            seen = {tp.topic for tp in self._start}
            partitions = list(self._start) + [TopicPartition(t, p) for t in self._topics if t not in seen
                                              for p in sorted(self._consumer.partitions_for_topic(t))]
            self._last = self._consumer.end_offsets(partitions, timeout_ms=timeout_ms)
        except KafkaError:
            return
        for tp, end in self._last.items():
            self._start.setdefault(tp, end)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> ProducedCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
