"""The record contracts in schemas/, loaded once and exposed as typed objects.

Every other module derives what it needs from these: Flink column types for DDL, Avro encoders for
producers, topic names, keys, event-time fields and the allowed values that validation checks.
Nothing here restates a field list by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from cxstream.paths import SCHEMAS_DIR


@dataclass(frozen=True)
class Field:
    name: str
    avro_type: Any
    nullable: bool
    allowed: tuple[str, ...] | None
    doc: str | None

    @property
    def base_type(self) -> Any:
        """The Avro type without its null branch."""
        if isinstance(self.avro_type, list):
            (non_null,) = [t for t in self.avro_type if t != "null"]
            return non_null
        return self.avro_type

    @property
    def is_timestamp(self) -> bool:
        t = self.base_type
        return isinstance(t, dict) and t.get("logicalType") == "timestamp-millis"


@dataclass(frozen=True)
class Contract:
    """One record type: its schema file, topic, key fields and event-time field."""

    name: str  # file stem, e.g. "interaction"
    schema: dict[str, Any] = field(repr=False)
    table: str  # the logical table name that sql/ uses, e.g. "interactions"
    topic: str
    key: tuple[str, ...]
    event_time: str | None
    read_back_time: str | None  # cx.read_back_time: an output's event time when read back (see as_input)
    fixed_format: str | None  # a contract may pin its wire format (the DLQ is always JSON)
    fields: tuple[Field, ...] = field(repr=False)

    @property
    def schema_json(self) -> str:
        return json.dumps(self.schema, separators=(",", ":"))

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


def _to_field(raw: dict[str, Any]) -> Field:
    avro_type = raw["type"]
    nullable = isinstance(avro_type, list) and "null" in avro_type
    allowed = raw.get("cx.allowed")
    return Field(raw["name"], avro_type, nullable, tuple(allowed) if allowed else None, raw.get("doc"))


@cache
def load(name: str) -> Contract:
    """Load schemas/<name>.avsc."""
    path = SCHEMAS_DIR / f"{name}.avsc"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in SCHEMAS_DIR.glob("*.avsc")))
        raise KeyError(f"no contract {name!r} in {SCHEMAS_DIR} (known: {known})")
    schema = json.loads(path.read_text())
    contract = Contract(
        name=name,
        schema=schema,
        table=schema["cx.table"],
        topic=schema["cx.topic"],
        key=tuple(schema.get("cx.key", [])),
        event_time=schema.get("cx.event_time"),
        read_back_time=schema.get("cx.read_back_time"),
        fixed_format=schema.get("cx.format"),
        fields=tuple(_to_field(f) for f in schema["fields"]),
    )
    for time_field in (contract.event_time, contract.read_back_time):
        if time_field and not contract.field(time_field).is_timestamp:
            raise ValueError(f"{path}: the time field {time_field!r} is not a timestamp-millis field")
    return contract


def as_input(contract: Contract) -> Contract:
    """The contract as a job that consumes its topic reads it.

    An output's cx.event_time says what its records are about (a trigger: the event that caused
    it), which is what its writer's metrics and the analysts' tables go by. That field need not be
    in order on the topic, though, and a job reading the topic back derives its watermark, its
    lateness check and its windows from its event time: an output whose event time is out of order
    by more than the watermark's bound names, in cx.read_back_time, a field that is in order
    there, and a job reading it back takes that one (schemas/nba_trigger.avsc says why for triggers).
    """
    if contract.name in OUTPUTS and contract.read_back_time:
        return replace(contract, event_time=contract.read_back_time)
    return contract


def all_contracts() -> list[Contract]:
    return [load(p.stem) for p in sorted(SCHEMAS_DIR.glob("*.avsc"))]


# Topics that carry an existing contract's records but belong to no contract of their own: the
# pass-through job's copies of every input (the benchmark's baseline and the fuzz test's witness).
COPY_TOPICS = {
    "cx.bench.passthrough": "interaction",
    "cx.bench.passthrough.messages": "message",
    "cx.bench.passthrough.context": "context",
    "cx.bench.passthrough.outcomes": "outcome",
}


def by_topic(topic: str) -> Contract:
    for c in all_contracts():
        if c.topic == topic:
            return c
    if topic in COPY_TOPICS:
        return load(COPY_TOPICS[topic])
    raise KeyError(f"no contract for topic {topic!r}")


INPUTS = ("interaction", "message", "context", "outcome")
OUTPUTS = ("signal", "sentiment_aggregate", "drift_stat", "nba_trigger", "action_feedback", "alert", "dlq_record")
