"""What the generator yields and what a run reports.

`SimulationStats` doubles as the test oracle's input: with `collect=True` it keeps every good record
(and every duplicate) as produced, with the Kafka timestamp and, once acknowledged, the partition and
offset the broker assigned.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]


@dataclass(slots=True)
class SimEvent:
    contract: str  # contract name, e.g. "interaction"
    topic: str  # with the run's topic prefix
    key: bytes | None
    value: bytes
    timestamp_ms: int  # the Kafka record timestamp to set explicitly
    record: Record | None  # the record; for a bad one as decoded, None when it does not decode
    bad_kind: str | None = None
    bad_reason: str | None = None  # why the project's rules reject it ("decode: …" or "invalid: …")
    duplicate: bool = False  # a re-send of an earlier good record (same key and value bytes)
    late: bool = False  # event_time set back by the configured lateness
    scenario: str | None = None  # the scripted scenario it belongs to

    @property
    def good(self) -> bool:
        return self.bad_kind is None


@dataclass(slots=True)
class ProducedRecord:
    record: Record
    timestamp_ms: int
    key: bytes | None
    duplicate: bool = False
    late: bool = False
    scenario: str | None = None
    partition: int | None = None  # filled in when the broker acknowledges it
    offset: int | None = None


@dataclass
class TopicStats:
    good: int = 0  # first sends of valid records
    bad: int = 0
    duplicates: int = 0
    late: int = 0
    acked: int = 0
    failed: int = 0

    @property
    def sent(self) -> int:
        return self.good + self.bad + self.duplicates


def short_topic(topic: str) -> str:
    """'t1.cx.events.interactions' → 'interactions' (for compact progress lines)."""
    return topic.rsplit(".", 1)[-1]


@dataclass
class SimulationStats:
    topics: dict[str, TopicStats] = field(default_factory=dict)
    bad_by_kind: Counter[str] = field(default_factory=Counter)
    scenario_events: Counter[str] = field(default_factory=Counter)
    first_event_time_ms: int | None = None  # over good records
    last_event_time_ms: int | None = None
    first_timestamp_ms: int | None = None  # Kafka timestamps, over everything sent
    last_timestamp_ms: int | None = None
    acked: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # the first few delivery errors, verbatim
    interrupted: bool = False
    elapsed_s: float = 0.0
    records: dict[str, list[ProducedRecord]] | None = None
    notes: list[str] = field(default_factory=list)  # further lines for the summary

    @property
    def sent(self) -> int:
        return sum(t.sent for t in self.topics.values())

    @property
    def good(self) -> int:
        return sum(t.good for t in self.topics.values())

    @property
    def bad(self) -> int:
        return sum(t.bad for t in self.topics.values())

    @property
    def duplicates(self) -> int:
        return sum(t.duplicates for t in self.topics.values())

    def add(self, ev: SimEvent, collect: bool = False) -> ProducedRecord | None:
        ts = self.topics.get(ev.topic)
        if ts is None:
            ts = self.topics[ev.topic] = TopicStats()
        if self.first_timestamp_ms is None:
            self.first_timestamp_ms = ev.timestamp_ms
        self.last_timestamp_ms = ev.timestamp_ms
        if ev.bad_kind is not None:
            ts.bad += 1
            self.bad_by_kind[ev.bad_kind] += 1
            return None
        if ev.duplicate:
            ts.duplicates += 1
        else:
            ts.good += 1
            if ev.late:
                ts.late += 1
            if ev.scenario:
                self.scenario_events[ev.scenario] += 1
            assert ev.record is not None
            et = ev.record["event_time"]
            if self.first_event_time_ms is None or et < self.first_event_time_ms:
                self.first_event_time_ms = et
            if self.last_event_time_ms is None or et > self.last_event_time_ms:
                self.last_event_time_ms = et
        if not collect:
            return None
        assert ev.record is not None
        if self.records is None:
            self.records = {}
        produced = ProducedRecord(ev.record, ev.timestamp_ms, ev.key, ev.duplicate, ev.late, ev.scenario)
        self.records.setdefault(ev.topic, []).append(produced)
        return produced

    def summary(self) -> str:
        parts = [f"sent {self.sent:,} (good {self.good:,}, bad {self.bad:,}, duplicates {self.duplicates:,}),"
                 f" acked {self.acked:,}, failed {self.failed:,} in {self.elapsed_s:.1f}s"]
        for topic, t in sorted(self.topics.items()):
            parts.append(f"  {topic}: good {t.good:,} bad {t.bad:,} dup {t.duplicates:,} late {t.late:,} "
                         f"acked {t.acked:,}")
        if self.bad_by_kind:
            parts.append("  bad kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(self.bad_by_kind.items())))
        if self.scenario_events:
            done = sorted(self.scenario_events.items())
            parts.append("  scenario events: " + ", ".join(f"{k} {n}" for k, n in done))
        if self.errors:
            parts.append("  first delivery errors: " + "; ".join(self.errors))
        parts.extend(f"  {note}" for note in self.notes)
        if self.interrupted:
            parts.append("  interrupted: everything handed to the producer was flushed before exit")
        return "\n".join(parts)
