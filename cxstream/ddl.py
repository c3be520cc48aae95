"""Render Flink SQL table definitions from a contract and a profile.

Queries in sql/ read and write logical table names only (``interactions``, ``signals``, ``dlq``);
this module is the one place that knows which connector, topic, format and options stand behind
them. Source tables get the Kafka metadata columns the jobs need (topic, partition, offset and the
record's own timestamp) and an event-time watermark; output contracts with key fields become
upsert tables keyed by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cxstream.contracts import Contract, Field
from cxstream.kafka_clients import REDACTED, java_client_properties
from cxstream.kafka_clients import SENSITIVE as _SENSITIVE
from cxstream.profiles import Profile

# Metadata columns every source table carries; keys as in Flink's official Kafka connector.
SOURCE_METADATA = (
    ("kafka_topic", "STRING", "topic"),
    ("kafka_partition", "INT", "partition"),
    ("kafka_offset", "BIGINT", "offset"),
    ("kafka_timestamp", "TIMESTAMP_LTZ(3)", "timestamp"),
)

STARTUP_MODES = ("earliest-offset", "latest-offset", "group-offsets", "timestamp")


def flink_type(f: Field, not_null: bool) -> str:
    t = _base_flink_type(f.base_type)
    return f"{t} NOT NULL" if not_null and not f.nullable else t


def _base_flink_type(avro: Any) -> str:
    if isinstance(avro, str):
        simple = {"string": "STRING", "long": "BIGINT", "int": "INT", "double": "DOUBLE",
                  "float": "FLOAT", "boolean": "BOOLEAN", "bytes": "BYTES"}
        if avro in simple:
            return simple[avro]
    elif isinstance(avro, dict):
        if avro.get("logicalType") == "timestamp-millis":
            return "TIMESTAMP_LTZ(3)"
        if avro.get("type") == "map":
            return f"MAP<STRING, {_base_flink_type(avro['values'])}>"
        if avro.get("type") == "array":
            return f"ARRAY<{_base_flink_type(avro['items'])}>"
        if avro.get("type") in ("string", "long", "int", "double", "boolean", "bytes"):
            return _base_flink_type(avro["type"])
    raise ValueError(f"no Flink type for Avro type {avro!r}")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _with_clause(options: dict[str, str], redact: bool) -> str:
    lines = []
    for key, value in options.items():
        shown = REDACTED if redact and _SENSITIVE.search(key) else value
        lines.append(f"  {_quote(key)} = {_quote(shown)}")
    return "WITH (\n" + ",\n".join(lines) + "\n)"


@dataclass(frozen=True)
class SourceOptions:
    job_name: str
    group_id: str
    startup_mode: str = "earliest-offset"
    startup_timestamp_ms: int | None = None
    bounded: bool = False  # stop at the end offsets seen at start (tests and replays; local only)
    dlq_topic: str = "cx.dlq"  # where undecodable records go (local profile), before the topic prefix
    # How long a fetch may wait for data (fetch.max.wait.ms) unless the profile's client properties
    # say; None leaves the connector's own (20 ms on the local profile, latency first).
    fetch_max_wait_ms: int | None = None


class TableRenderer:
    """Renders CREATE TABLE statements for one profile."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    # -- formats -------------------------------------------------------------------------------
    def _value_format_options(self, contract: Contract, prefix: str) -> dict[str, str]:
        """Format options for a 'format' or 'value.format' key; format options share its prefix."""
        fmt = contract.fixed_format or self.profile.value_format
        c = self.profile.connectors
        p = prefix.removesuffix("format")  # '' or 'value.'
        if fmt == "json":
            return {
                prefix: "json",
                f"{p}json.timestamp-format.standard": "ISO-8601",
                f"{p}json.fail-on-missing-field": "false",
                f"{p}json.ignore-parse-errors": "false",
                f"{p}json.encode.ignore-null-fields": "false",
            }
        opts = {prefix: c.avro_format}
        if c.avro_schema_option:
            opts[p + c.avro_schema_option] = contract.schema_json
        return opts

    def _not_null(self, contract: Contract) -> bool:
        # Avro's wire layout differs for ["null", T] and T, and Flink's own avro format derives the
        # writer schema from column nullability: required fields must be NOT NULL in Avro mode.
        # In JSON mode they stay nullable so the contract checks can see (and route) a missing field.
        return (contract.fixed_format or self.profile.value_format) == "avro"

    def _properties(self, extra: dict[str, str]) -> dict[str, str]:
        props = {"properties.bootstrap.servers": self.profile.bootstrap_servers}
        for key, value in java_client_properties(self.profile.client_properties).items():
            props[f"properties.{key}"] = value
        props.update(extra)
        return props

    def _columns(self, contract: Contract) -> list[str]:
        nn = self._not_null(contract)
        return [f"  `{f.name}` {flink_type(f, nn)}" for f in contract.fields]

    def _metrics_option(self, contract: Contract, options: dict[str, str]) -> None:
        """Per-topic latency metrics: the connector needs to know which column is the event time."""
        if self.profile.connectors.topic_metrics and contract.event_time:
            options["metrics.event-time-field"] = contract.event_time

    # -- tables --------------------------------------------------------------------------------
    def source(self, contract: Contract, table: str, opts: SourceOptions, redact: bool = False) -> str:
        if opts.startup_mode not in STARTUP_MODES:
            raise ValueError(f"unknown startup mode {opts.startup_mode!r}; one of {', '.join(STARTUP_MODES)}")
        cols = self._columns(contract)
        cols += [f"  `{name}` {typ} METADATA FROM '{key}' VIRTUAL" for name, typ, key in SOURCE_METADATA]
        if contract.event_time:
            # A record's event time moves the event-time clock only as far as its Kafka timestamp
            # vouches for: one record stamped in the year 9999 (a bad device clock; the job routes it
            # to the DLQ) must not push the watermark past every good record still to come.
            et = f"`{contract.event_time}`"
            cols.append(f"  WATERMARK FOR {et} AS LEAST({et}, `kafka_timestamp`) - "
                        f"INTERVAL '{self.profile.watermark_delay_s}' SECOND")
        c = self.profile.connectors
        options = {"connector": c.append, "topic": self.profile.topic(contract.topic)}
        options.update(self._properties({"properties.group.id": opts.group_id}))
        if opts.fetch_max_wait_ms is not None:
            options.setdefault("properties.fetch.max.wait.ms", str(opts.fetch_max_wait_ms))
        options["scan.startup.mode"] = opts.startup_mode
        if opts.startup_mode == "timestamp":
            if opts.startup_timestamp_ms is None:
                raise ValueError("startup mode 'timestamp' needs a timestamp")
            options["scan.startup.timestamp-millis"] = str(opts.startup_timestamp_ms)
        options["scan.topic-partition-discovery.interval"] = "30 s"
        if opts.bounded:
            options["scan.bounded.mode"] = "latest-offset"
        options.update(self._value_format_options(contract, "value.format"))
        if c.supports_dlq:
            options["dlq.topic"] = self.profile.topic(opts.dlq_topic)
            options["dlq.job-name"] = opts.job_name
        self._metrics_option(contract, options)
        return f"CREATE TABLE `{table}` (\n" + ",\n".join(cols) + "\n) " + _with_clause(options, redact)

    def sink(self, contract: Contract, table: str, redact: bool = False, topic: str | None = None,
             upsert: bool | None = None) -> str:
        """A sink table; upsert (keyed by the contract's key) unless the contract has no key.

        ``topic`` and ``upsert`` override the contract for tables that reuse its shape elsewhere
        (the benchmark's pass-through copy of interactions, say).
        """
        cols = self._columns(contract)
        c = self.profile.connectors
        topic = self.profile.topic(topic or contract.topic)
        options: dict[str, str]
        if upsert is None:
            upsert = bool(contract.key)
        if upsert:
            keys = ", ".join(f"`{k}`" for k in contract.key)
            cols.append(f"  PRIMARY KEY ({keys}) NOT ENFORCED")
            options = {"connector": c.upsert, "topic": topic}
            options.update(self._properties({}))
            # Keys are JSON in every profile: readable on the console and stable for partitioning.
            options["key.format"] = "json"
            options["key.json.timestamp-format.standard"] = "ISO-8601"
            options.update(self._value_format_options(contract, "value.format"))
        else:
            options = {"connector": c.append, "topic": topic}
            options.update(self._properties({}))
            if contract.key:
                # Keyed like the source topic, so per-key order survives the copy.
                options["key.format"] = "json"
                options["key.fields"] = ";".join(contract.key)
                options["value.fields-include"] = "ALL"
            options.update(self._value_format_options(contract, "value.format"))
            options["sink.delivery-guarantee"] = "at-least-once"
        self._metrics_option(contract, options)
        return f"CREATE TABLE `{table}` (\n" + ",\n".join(cols) + "\n) " + _with_clause(options, redact)

    def json_sink_with(self, topic: str, upsert: bool) -> str:
        """The WITH clause of an ad-hoc JSON sink (``cxstream sql --into``), for a CREATE TABLE AS.

        JSON rather than Avro: the query decides the columns, and no contract in schemas/ describes
        them, so the records carry their field names.
        """
        c = self.profile.connectors
        options = {"connector": c.upsert if upsert else c.append, "topic": self.profile.topic(topic)}
        options.update(self._properties({}))
        if upsert:
            options["key.format"] = "json"
            options["key.json.timestamp-format.standard"] = "ISO-8601"
        options.update({"value.format": "json", "value.json.timestamp-format.standard": "ISO-8601",
                        "value.json.encode.ignore-null-fields": "false"})
        if not upsert:
            options["sink.delivery-guarantee"] = "at-least-once"
        return _with_clause(options, redact=False)
